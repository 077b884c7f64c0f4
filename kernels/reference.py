"""Pure-torch reference ops: the specification of every kernel and the CPU path. Never imports triton.

siren_mlp: the SIREN forward, sin(ω (W h + b)) layers after a positional encoding, a linear output.
hash_uniform: a counter-based integer hash of (seed, layer, row, column) -> float32 in (-1, 1).
It is the only source of decoder-side randomness (D'OH's projections, DESIGN.md §5): integer
arithmetic and one exact float conversion, so every machine and backend regenerates the same bits.
fwht, hadamard_project: D'OH's Hadamard projections, ±1 entries with hash_uniform's signs on the diagonal.
"""
import math

import torch

from inrcodec.signal import axis_coords

MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2**32 for int64 tensors holding uint32 values, with no int64 overflow."""
    lo = x & 0xFFFF
    hi = x >> 16
    return (lo * c + (((hi * c) & 0xFFFF) << 16)) & MASK32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The 'lowbias32' integer finaliser (C. Wellons): a bijection on uint32 with full avalanche."""
    x = x ^ (x >> 16)
    x = mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _key(seed: int, layer: int) -> int:
    start = torch.tensor([(seed * _GOLDEN) & MASK32], dtype=torch.int64)
    key = mix32(mix32(start) ^ (layer & MASK32))
    return int(key.item())


def hash_uniform(seed: int, layer: int, row0: int, rows: int, cols: int, device="cpu") -> torch.Tensor:
    """The (rows, cols) float32 tile starting at row `row0` of projection `layer`: entries in (-1, 1).

    u = (2 * (h >> 9) + 1) * 2**-23 - 1 has 24 significant bits, so the float is exact.
    """
    key = _key(seed, layer)
    r = torch.arange(row0, row0 + rows, dtype=torch.int64, device=device)
    c = torch.arange(cols, dtype=torch.int64, device=device)
    row_keys = mix32((r + key) & MASK32)
    col_keys = mul32(c, _GOLDEN)
    h = mix32(row_keys[:, None] ^ col_keys[None, :])
    return ((h >> 9) * 2 + 1).to(torch.float32) * (2.0 ** -23) - 1.0


def _tile_rows(cols: int, budget_bytes: int) -> int:
    return max(1, budget_bytes // (4 * max(cols, 1) * 3))  # the hash needs about 3 int64-sized temporaries


class _Project(torch.autograd.Function):
    """out = P z and grad_z = Pᵀ g with P regenerated tile by tile: memory O(tile), never O(rows × cols)."""

    @staticmethod
    def forward(ctx, z, seed, layer, rows, tile_bytes):
        ctx.params = (seed, layer, rows, z.numel(), tile_bytes)
        out = torch.empty(rows, dtype=z.dtype, device=z.device)
        step = _tile_rows(z.numel(), tile_bytes)
        for r0 in range(0, rows, step):
            n = min(step, rows - r0)
            out[r0:r0 + n] = hash_uniform(seed, layer, r0, n, z.numel(), z.device) @ z
        return out

    @staticmethod
    def backward(ctx, grad):
        seed, layer, rows, cols, tile_bytes = ctx.params
        grad_z = torch.zeros(cols, dtype=grad.dtype, device=grad.device)
        step = _tile_rows(cols, tile_bytes)
        for r0 in range(0, rows, step):
            n = min(step, rows - r0)
            grad_z += grad[r0:r0 + n] @ hash_uniform(seed, layer, r0, n, cols, grad.device)
        return grad_z, None, None, None, None


def project(z: torch.Tensor, seed: int, layer: int, rows: int, tile_bytes: int = 64 << 20) -> torch.Tensor:
    """P z for the hashed projection P (rows × len(z)), differentiable in z, in bounded memory."""
    return _Project.apply(z, seed, layer, rows, tile_bytes)


def fwht(x: torch.Tensor) -> torch.Tensor:
    """The unnormalised Walsh-Hadamard transform along the last axis (a power of 2):
    out[..., j] = sum_c (-1)^popcount(j & c) x[..., c]. Differentiable: H is symmetric, so the gradient
    is the transform of the incoming one: autograd through the butterflies' slices allocates a zero-filled
    gradient per slice (hadamard_project below gives the figures)."""
    return _Fwht.apply(x)


class _Fwht(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return _butterflies(x)

    @staticmethod
    def backward(ctx, grad):
        return _butterflies(grad)


def _butterflies(x: torch.Tensor) -> torch.Tensor:
    """fwht's radix-2 stages, lowest index bit first: (a, b) -> (a + b, a - b)."""
    shape, size = x.shape, x.shape[-1]
    half = 1
    while half < size:
        x = x.reshape(-1, size // (2 * half), 2, half)
        out = torch.empty_like(x)
        torch.add(x[:, :, 0], x[:, :, 1], out=out[:, :, 0])
        torch.sub(x[:, :, 0], x[:, :, 1], out=out[:, :, 1])
        x = out
        half *= 2
    return x.reshape(shape)


def hadamard_size(cols: int) -> int:
    """M, the Hadamard order of a projection with `cols` columns: cols rounded up to a power of 2."""
    return 1 << max(0, (cols - 1).bit_length())


def hadamard_signs(seed: int, layer: int, rows: int, cols: int, device="cpu") -> torch.Tensor:
    """The ±1 diagonals D_b (one row per block b of M rows) of the Hadamard projection `layer`:
    the signs of hash_uniform's rows 0..blocks-1 (never 0: its entries are odd multiples of 2**-23)."""
    blocks = -(-rows // hadamard_size(cols))
    return torch.sign(hash_uniform(seed, layer, 0, blocks, cols, device))


def hadamard_project(z: torch.Tensor, signs: torch.Tensor, rows: list) -> list:
    """[P_l z] for Hadamard projections with rows[l] rows, whose diagonals (hadamard_signs) are stacked
    in `signs`, tensor after tensor: row i of P_l is H[i mod M] · D_{l, i div M}, so every entry is ±1
    and the rows of a block are orthogonal. O(rows log M) instead of O(rows × len(z)); differentiable
    (linear torch ops).

    A tensor's last block needs only its first r outputs, and for j < M' (a power of 2 ≥ r) the M-point
    transform is the M'-point one of the input folded to M' entries (summed over the index's high bits,
    which j & c never sees). Most blocks are such tails: a 2×2-tiled Kodak image at 1 bpp has M = 32,768
    and no tensor over 6,084 rows. Whole kodim05 at 1 bpp, one thread on the 2-core EPYC: the projection's
    forward and backward took 166 ms transforming whole blocks, 43 folded (36 with fwht's own backward);
    a 16k-point fit step 434 -> 329 ms (at 0.5 bpp 271 -> 193).
    """
    m = z.numel()
    size = hadamard_size(m)
    signed = signs.to(z.dtype) * z  # each block's input, less the zeros that pad it to M
    needed = []  # outputs each block contributes: all M but in a tensor's last, partial block
    for n in rows:
        full, rest = divmod(n, size)
        needed += [size] * full + ([rest] if rest else [])
    orders = [hadamard_size(k) for k in needed]
    outputs = [None] * len(needed)
    for order in sorted(set(orders)):
        chosen = [b for b, o in enumerate(orders) if o == order]
        folds = -(-m // order)
        padded = torch.nn.functional.pad(signed[chosen], (0, folds * order - m))
        transformed = fwht(padded.reshape(len(chosen), folds, order).sum(dim=1))
        for row, b in enumerate(chosen):
            outputs[b] = transformed[row, :needed[b]]
    return list(torch.cat(outputs).split(rows))


def positional_encoding(coords: torch.Tensor, freqs: int) -> torch.Tensor:
    """[x, sin(π 2^f x_d), cos(π 2^f x_d)] with the angles ordered d-major (Strümpler et al. 2022)."""
    if freqs == 0:
        return coords
    scales = math.pi * (2.0 ** torch.arange(freqs, device=coords.device, dtype=coords.dtype))
    angles = (coords[:, :, None] * scales).flatten(1)
    return torch.cat([coords, torch.sin(angles), torch.cos(angles)], dim=1)


def siren_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first: float, omega: float, freqs: int,
              grid_shape=None, start: int = 0, count=None) -> torch.Tensor:
    """Output (points, channels) of the SIREN with first layer (w0, b0), hidden layers stacked in
    wh (L, W, W) and bh (L, W), and linear output (wo, bo). The points are `coords` (points, dims), or,
    when coords is None, the flat indices start .. start+count-1 of the row-major grid `grid_shape`."""
    if coords is None:
        total = math.prod(grid_shape)
        count = total - start if count is None else count
        coords = axis_coords(grid_shape, torch.arange(start, start + count, device=w0.device))
    h = torch.sin(omega_first * torch.addmm(b0, positional_encoding(coords, freqs), w0.t()))
    for layer in range(wh.shape[0]):
        h = torch.sin(omega * torch.addmm(bh[layer], h, wh[layer].t()))
    return torch.addmm(bo, h, wo.t())
