"""Fused SIREN: every layer of sin(ω (W h + b)), the positional encoding and the linear output in one
kernel per tile of points, forward and backward. Twin of kernels/reference.py's siren_mlp.

Forward: one program per BLOCK_M points; the features are built in registers (from the coordinates, or
from the linear index on a regular grid), each layer's weights are read from L2, and only the output
is written. Backward: a persistent grid; each program re-runs the forward for its tile, parking the
pre-activations ω z in a per-program scratch that stays in L2 (a few MB, never O(points × layers)),
then walks the layers back. Weight gradients accumulate in a per-program slot, and the sum over
programs is a fixed-order torch reduction, so a fit is repeatable run to run.

Precision: the forward's matrix products use tf32x3 (TF32's error, amplified by sin(30·x), measured
9.6e-2 max on a 4-layer forward against 2.5e-6 for tf32x3; DESIGN.md §6). The backward uses TF32 and
the fast sine: gradients within 1.3e-2 of float64 on an H100, and 2,000 steps reached eager torch's
PSNR within 0.01 dB (bench/results/kernels_gpu.md).
"""
import math

import torch
import triton
import triton.language as tl

from inrcodec.kernels._launch import interpreting, next_pow2

# Launch settings (bench/kernels.py times the alternatives on a GPU; it overrides these to compare).
DECODE_PRECISION = "tf32x3"  # forward outside autograd: decoding and every PSNR the encoder reports
TRAIN_PRECISION = "tf32x3"   # forward under autograd, while fitting
BACKWARD_PRECISION = "tf32"
FAST_SIN_TRAINING = True     # sin.approx/cos.approx while fitting (never when decoding)
FORWARD_BLOCK_M = 128        # points per forward program (halved at width 128)
BACKWARD_BLOCK_M = 64        # points per backward tile (halved at width 128)
PROGRAMS_PER_SM = 4          # backward programs; the per-program gradient slots grow with it
FORWARD_WARPS = 0            # 0: by tile size (_warps)
# 64×5 fit step, 512×512, H100 (bench/results/kernels_gpu.md): 1.77 ms at 64 rows, 4 warps, 4 programs
# per SM; 1.79-2.01 ms for other 4-warp shapes. 8 warps timed faster (1.33 ms) but gave wrong gradients
# at width 64 (relative error 33 against float64; cause not found yet), so the backward stays at 4.
BACKWARD_WARPS = 4
ATOMIC_GRADIENTS = False     # see _accumulate; not yet timed on a GPU
MAX_DIMS = 3


@triton.jit
def _grid_coord(index, scale, offset):
    """Coordinate of position `index` along an axis: pos * 2/(n-1) - 1, as axis_coords; an axis of one
    sample has scale = offset = 0. (Floats, not the size n: Triton specialises an int argument equal to
    1 into a constant, which would change the code between shapes.)"""
    return index.to(tl.float32) * scale + offset


@triton.jit
def _features(coords_ptr, rows, row_ok, start, n1, n2, s0, s1, s2, o0, o1, o2,
              D: tl.constexpr, FREQS: tl.constexpr, K0P: tl.constexpr, GRID: tl.constexpr):
    """The (BLOCK_M, K0P) input features: [coords, sin(π 2^f x_d), cos(π 2^f x_d)] ordered d-major
    like positional_encoding, zero in the padding columns."""
    col = tl.arange(0, K0P)
    k0 = D * (1 + 2 * FREQS)
    if FREQS > 0:
        angle_col = tl.maximum(col - D, 0) % (D * FREQS)
        dim = tl.where(col < D, col, angle_col // FREQS)
        freq = angle_col % FREQS
    else:
        dim = col
        freq = col * 0
    if GRID:
        # Row-major grid of shape (n0, n1, n2)[:D]: recover each axis position from the flat index.
        flat = (start + rows).to(tl.int64)
        if D == 1:
            c0 = _grid_coord(flat, s0, o0)
            x = c0[:, None] + tl.zeros([1, K0P], tl.float32)
        elif D == 2:
            c1 = _grid_coord(flat % n1, s1, o1)
            c0 = _grid_coord(flat // n1, s0, o0)
            x = tl.where(dim[None, :] == 0, c0[:, None], c1[:, None])
        else:
            c2 = _grid_coord(flat % n2, s2, o2)
            c1 = _grid_coord((flat // n2) % n1, s1, o1)
            c0 = _grid_coord(flat // (n1 * n2), s0, o0)
            x = tl.where(dim[None, :] == 0, c0[:, None], tl.where(dim[None, :] == 1, c1[:, None], c2[:, None]))
    else:
        x = tl.load(coords_ptr + rows[:, None] * D + dim[None, :],
                    mask=row_ok[:, None] & (col < k0)[None, :], other=0.0)
    # float32(π) · 2^f is exact, as torch's float32 `math.pi * 2.0 ** arange(f)`.
    angle = x * (3.141592653589793 * (1 << freq).to(tl.float32))[None, :]
    kind = tl.where(col < D, 0, tl.where(col < D + D * FREQS, 1, 2))[None, :]
    feats = tl.where(kind == 0, x, tl.where(kind == 1, tl.sin(angle), tl.cos(angle)))
    return tl.where((col < k0)[None, :], feats, 0.0)


@triton.jit
def _load_t(ptr, rows: tl.constexpr, cols: tl.constexpr, n_rows, n_cols):
    """W (n_rows × n_cols, row-major) as the transposed (cols, rows) tile, zero-padded. Loaded row-major
    and transposed on chip: the first version read W column-wise, one 32-byte sector per float, and
    its 64×5 forward took 0.62 ms on 768×512 points (H100)."""
    return tl.trans(_load(ptr, rows, cols, n_rows, n_cols))


@triton.jit
def _load(ptr, rows: tl.constexpr, cols: tl.constexpr, n_rows, n_cols):
    r = tl.arange(0, rows)
    c = tl.arange(0, cols)
    return tl.load(ptr + r[:, None] * n_cols + c[None, :], mask=(r < n_rows)[:, None] & (c < n_cols)[None, :], other=0.0)


@triton.jit
def _sin(x, FAST: tl.constexpr):
    """sin; FAST uses the SFU's sin.approx.f32 (one instruction instead of libdevice's range reduction)."""
    if FAST:
        return tl.inline_asm_elementwise("sin.approx.f32 $0, $1;", "=f,f", [x], dtype=tl.float32, is_pure=True, pack=1)
    else:
        return tl.sin(x)


@triton.jit
def _cos(x, FAST: tl.constexpr):
    if FAST:
        return tl.inline_asm_elementwise("cos.approx.f32 $0, $1;", "=f,f", [x], dtype=tl.float32, is_pure=True, pack=1)
    else:
        return tl.cos(x)


@triton.jit
def _vec(ptr, size: tl.constexpr, n):
    i = tl.arange(0, size)
    return tl.load(ptr + i, mask=i < n, other=0.0)


@triton.jit
def _sine_mlp_fwd_kernel(coords_ptr, out_ptr, w0_ptr, b0_ptr, wh_ptr, bh_ptr, wo_ptr, bo_ptr,
                         n_points, start, n1, n2, s0, s1, s2, o0, o1, o2, omega_first, omega,
                         width, channels, hidden_layers,
                         D: tl.constexpr, FREQS: tl.constexpr, K0P: tl.constexpr, WP: tl.constexpr,
                         CP: tl.constexpr, BLOCK_M: tl.constexpr, GRID: tl.constexpr, PRECISION: tl.constexpr,
                         FAST_SIN: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < n_points
    k0 = D * (1 + 2 * FREQS)
    x = _features(coords_ptr, rows, row_ok, start, n1, n2, s0, s1, s2, o0, o1, o2, D, FREQS, K0P, GRID)
    z = tl.dot(x, _load_t(w0_ptr, WP, K0P, width, k0), input_precision=PRECISION)
    h = _sin(omega_first * (z + _vec(b0_ptr, WP, width)[None, :]), FAST_SIN)
    for layer in range(hidden_layers):
        w = _load_t(wh_ptr + layer * width * width, WP, WP, width, width)
        z = tl.dot(h, w, input_precision=PRECISION) + _vec(bh_ptr + layer * width, WP, width)[None, :]
        h = _sin(omega * z, FAST_SIN)
    y = tl.dot(h, _load_t(wo_ptr, CP, WP, channels, width), input_precision=PRECISION)
    y += _vec(bo_ptr, CP, channels)[None, :]
    c = tl.arange(0, CP)
    tl.store(out_ptr + rows[:, None] * channels + c[None, :], y, mask=row_ok[:, None] & (c < channels)[None, :])


@triton.jit
def _accumulate(ptr, tile, rows: tl.constexpr, cols: tl.constexpr, ATOMIC: tl.constexpr):
    """slot += tile for a padded (rows, cols) slot owned by this program alone. ATOMIC sends the adds
    to L2 (red.global.add) instead of reading the slot back into registers; still repeatable, as
    each slot entry gets one add per tile from the same thread, in tile order."""
    r = tl.arange(0, rows)
    c = tl.arange(0, cols)
    p = ptr + r[:, None] * cols + c[None, :]
    if ATOMIC:
        tl.atomic_add(p, tile, sem="relaxed")
    else:
        tl.store(p, tl.load(p) + tile)


@triton.jit
def _accumulate_vec(ptr, vec, size: tl.constexpr, ATOMIC: tl.constexpr):
    i = tl.arange(0, size)
    if ATOMIC:
        tl.atomic_add(ptr + i, vec, sem="relaxed")
    else:
        tl.store(ptr + i, tl.load(ptr + i) + vec)


@triton.jit
def _sine_mlp_bwd_kernel(coords_ptr, grad_ptr, w0_ptr, b0_ptr, wh_ptr, bh_ptr, wo_ptr, bo_ptr,
                         scratch_ptr, gw0_ptr, gb0_ptr, gwh_ptr, gbh_ptr, gwo_ptr, gbo_ptr,
                         n_points, start, n1, n2, s0, s1, s2, o0, o1, o2, omega_first, omega,
                         width, channels, hidden_layers, num_tiles,
                         D: tl.constexpr, FREQS: tl.constexpr, K0P: tl.constexpr, WP: tl.constexpr,
                         CP: tl.constexpr, BLOCK_M: tl.constexpr, GRID: tl.constexpr, PRECISION: tl.constexpr,
                         FAST_SIN: tl.constexpr, ATOMIC: tl.constexpr):
    pid = tl.program_id(0)
    programs = tl.num_programs(0)
    k0 = D * (1 + 2 * FREQS)
    m = tl.arange(0, BLOCK_M)
    n = tl.arange(0, WP)
    c = tl.arange(0, CP)
    tile_elems = BLOCK_M * WP
    # This program's slots: scratch (layers, BLOCK_M, WP); gradients padded to (WP, K0P), (WP,),
    # (hidden, WP, WP), (hidden, WP), (CP, WP), (CP,).
    scratch = scratch_ptr + pid.to(tl.int64) * (hidden_layers + 1) * tile_elems
    park = m[:, None] * WP + n[None, :]
    gw0 = gw0_ptr + pid * WP * K0P
    gb0 = gb0_ptr + pid * WP
    gwh = gwh_ptr + pid.to(tl.int64) * hidden_layers * WP * WP
    gbh = gbh_ptr + pid * hidden_layers * WP
    gwo = gwo_ptr + pid * CP * WP
    gbo = gbo_ptr + pid * CP
    for tile in range(pid, num_tiles, programs):
        rows = tile * BLOCK_M + m
        row_ok = rows < n_points
        # Forward again, parking ω z of every layer.
        x = _features(coords_ptr, rows, row_ok, start, n1, n2, s0, s1, s2, o0, o1, o2, D, FREQS, K0P, GRID)
        s = omega_first * (tl.dot(x, _load_t(w0_ptr, WP, K0P, width, k0), input_precision=PRECISION)
                           + _vec(b0_ptr, WP, width)[None, :])
        tl.store(scratch + park, s)
        h = _sin(s, FAST_SIN)
        for layer in range(hidden_layers):
            w = _load_t(wh_ptr + layer * width * width, WP, WP, width, width)
            s = omega * (tl.dot(h, w, input_precision=PRECISION) + _vec(bh_ptr + layer * width, WP, width)[None, :])
            tl.store(scratch + (layer + 1) * tile_elems + park, s)
            h = _sin(s, FAST_SIN)
        tl.debug_barrier()  # the parked tiles are read back below by other threads of the program
        # Output layer: rows past the end carry a zero gradient, so they add nothing below.
        g = tl.load(grad_ptr + rows[:, None] * channels + c[None, :],
                    mask=row_ok[:, None] & (c < channels)[None, :], other=0.0)
        _accumulate(gwo, tl.dot(tl.trans(g), h, input_precision=PRECISION), CP, WP, ATOMIC)
        _accumulate_vec(gbo, tl.sum(g, axis=0), CP, ATOMIC)
        a = tl.dot(g, _load(wo_ptr, CP, WP, channels, width), input_precision=PRECISION)  # dL/dh
        for back in range(hidden_layers):
            layer = hidden_layers - 1 - back
            s = tl.load(scratch + (layer + 1) * tile_elems + park)
            dz = a * (omega * _cos(s, FAST_SIN))
            h_in = _sin(tl.load(scratch + layer * tile_elems + park), FAST_SIN)
            _accumulate(gwh + layer * WP * WP, tl.dot(tl.trans(dz), h_in, input_precision=PRECISION), WP, WP, ATOMIC)
            _accumulate_vec(gbh + layer * WP, tl.sum(dz, axis=0), WP, ATOMIC)
            a = tl.dot(dz, _load(wh_ptr + layer * width * width, WP, WP, width, width), input_precision=PRECISION)
        dz = a * (omega_first * _cos(tl.load(scratch + park), FAST_SIN))
        # The features again rather than held since the top: fewer live registers through the layers.
        x = _features(coords_ptr, rows, row_ok, start, n1, n2, s0, s1, s2, o0, o1, o2, D, FREQS, K0P, GRID)
        _accumulate(gw0, tl.dot(tl.trans(dz), x, input_precision=PRECISION), WP, K0P, ATOMIC)
        _accumulate_vec(gb0, tl.sum(dz, axis=0), WP, ATOMIC)
        tl.debug_barrier()  # the next tile overwrites the scratch and re-reads the slots


def _block_m(wp: int, rows: int) -> int:
    # Width 128 holds (BLOCK_M × 128) activations and a 128×128 weight tile per program: half the
    # rows keep that in registers.
    return max(16, rows // 2) if wp >= 128 else rows


def _warps(block_m: int, wp: int, override: int = 0) -> int:
    return override or (8 if block_m * wp >= 128 * 64 else 4)


class _Layout:
    """Shapes and launch constants shared by the forward and backward launchers: the points are
    `coords`, or (coords None) the flat indices of the grid `grid_shape`."""

    def __init__(self, coords, w0, wh, wo, grid_shape):
        self.dims = len(grid_shape) if coords is None else coords.shape[1]
        self.grid = coords is None
        grid_shape = grid_shape if self.grid else None
        self.width, self.k0 = w0.shape
        self.hidden = wh.shape[0]
        self.channels = wo.shape[0]
        self.wp = next_pow2(self.width)
        self.k0p = next_pow2(self.k0)
        self.cp = next_pow2(self.channels)
        shape = list(grid_shape or (1,) * self.dims) + [1] * (MAX_DIMS - self.dims)
        self.sizes = shape
        self.scales = [2.0 / (n - 1) if n > 1 else 0.0 for n in shape]
        self.offsets = [-1.0 if n > 1 else 0.0 for n in shape]


def _check(w0, dims, freqs):
    if w0.shape[1] != dims * (1 + 2 * freqs):
        raise ValueError(f"first layer takes {w0.shape[1]} features, not {dims} dims with {freqs} frequencies")
    if not 1 <= dims <= MAX_DIMS:
        raise ValueError(f"{dims} input dims; the kernel handles 1..{MAX_DIMS}")


def sine_mlp_fwd(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape=None, start=0, count=None,
                 training=False):
    """Output (points, channels). `coords` (points, dims), or None with grid_shape: then the points
    are the flat grid indices start .. start+count-1 and their coordinates are made in the kernel.
    training: the fitting settings (TRAIN_PRECISION, fast sine) instead of the decoding ones."""
    lay = _Layout(coords, w0, wh, wo, grid_shape)
    dims = lay.dims
    _check(w0, dims, freqs)
    points = count if coords is None else coords.shape[0]
    out = torch.empty(points, lay.channels, device=w0.device, dtype=torch.float32)
    if points == 0:
        return out
    coords_arg = coords.contiguous() if coords is not None else out
    block_m = _block_m(lay.wp, FORWARD_BLOCK_M)
    _sine_mlp_fwd_kernel[(triton.cdiv(points, block_m),)](
        coords_arg, out, w0.contiguous(), b0.contiguous(), _nonempty(wh, w0), _nonempty(bh, b0), wo.contiguous(),
        bo.contiguous(), points, start, *lay.sizes[1:], *lay.scales, *lay.offsets, float(omega_first), float(omega),
        lay.width, lay.channels, lay.hidden,
        D=dims, FREQS=freqs, K0P=lay.k0p, WP=lay.wp, CP=lay.cp, BLOCK_M=block_m, GRID=lay.grid,
        PRECISION=TRAIN_PRECISION if training else DECODE_PRECISION, FAST_SIN=training and _fast_sin(),
        num_warps=_warps(block_m, lay.wp, FORWARD_WARPS), num_stages=1)  # width 128 overflows shared memory at 3
    return out


def _fast_sin() -> bool:
    return FAST_SIN_TRAINING and not interpreting()  # the interpreter cannot run inline PTX


def _programs(device, tiles: int) -> int:
    if device.type == "cuda":
        return min(tiles, PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count)
    return min(tiles, 4)  # the interpreter runs programs one after another


def sine_mlp_bwd(grad, coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape=None, start=0):
    """Gradients (w0, b0, wh, bh, wo, bo) of sum(grad * output)."""
    lay = _Layout(coords, w0, wh, wo, grid_shape)
    dims = lay.dims
    points = grad.shape[0]
    block_m = _block_m(lay.wp, BACKWARD_BLOCK_M)
    tiles = triton.cdiv(points, block_m)
    programs = max(1, _programs(w0.device, tiles))
    wp, k0p, cp, hidden = lay.wp, lay.k0p, lay.cp, lay.hidden
    sizes = [wp * k0p, wp, hidden * wp * wp, hidden * wp, cp * wp, cp]
    # One zeroed buffer, part-major: part k holds every program's slot of sizes[k] floats.
    slots = torch.zeros(programs * sum(sizes), device=w0.device, dtype=torch.float32)
    parts = [part.view(programs, size) for part, size in
             zip(torch.split(slots, [programs * size for size in sizes]), sizes)]
    scratch = torch.empty(programs * (hidden + 1) * block_m * wp, device=w0.device, dtype=torch.float32)
    coords_arg = coords.contiguous() if coords is not None else grad
    _sine_mlp_bwd_kernel[(programs,)](
        coords_arg, grad.contiguous(), w0.contiguous(), b0.contiguous(), _nonempty(wh, w0), _nonempty(bh, b0),
        wo.contiguous(), bo.contiguous(), scratch, *parts,
        points, start, *lay.sizes[1:], *lay.scales, *lay.offsets, float(omega_first), float(omega),
        lay.width, lay.channels, hidden, tiles,
        D=dims, FREQS=freqs, K0P=k0p, WP=wp, CP=cp, BLOCK_M=block_m, GRID=lay.grid,
        PRECISION=BACKWARD_PRECISION, FAST_SIN=_fast_sin(), ATOMIC=ATOMIC_GRADIENTS,
        num_warps=_warps(block_m, wp, BACKWARD_WARPS),
        num_stages=1)  # nothing to pipeline: the loops' loads depend on the stores before them
    gw0, gb0, gwh, gbh, gwo, gbo = [part.sum(0) for part in parts]
    width, k0, channels = lay.width, lay.k0, lay.channels
    return (gw0.view(wp, k0p)[:width, :k0], gb0[:width], gwh.view(hidden, wp, wp)[:, :width, :width],
            gbh.view(hidden, wp)[:, :width], gwo.view(cp, wp)[:channels, :width], gbo[:channels])


def _nonempty(tensor, stand_in):
    """A net with no hidden layer passes empty stacks; the kernel never reads them, but needs a pointer."""
    return tensor.contiguous() if tensor.numel() else stand_in


class SineMLPFunction(torch.autograd.Function):
    """Autograd through the fused kernels; gradients flow to the weights and biases, not the coordinates."""

    @staticmethod
    def forward(ctx, coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count):
        ctx.save_for_backward(coords, w0, b0, wh, bh, wo, bo)
        ctx.constants = (omega_first, omega, freqs, grid_shape, start)
        return sine_mlp_fwd(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count,
                            training=True)

    @staticmethod
    def backward(ctx, grad):
        coords, w0, b0, wh, bh, wo, bo = ctx.saved_tensors
        grads = sine_mlp_bwd(grad.float(), coords, w0, b0, wh, bh, wo, bo, *ctx.constants)
        return (None, *grads, None, None, None, None, None, None)


def sine_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape=None, start=0, count=None):
    """The fused SIREN (see the module docstring); same arguments as reference.siren_mlp."""
    if coords is None:
        grid_shape = tuple(int(n) for n in grid_shape)
        count = math.prod(grid_shape) - start if count is None else count
    weights = (w0, b0, wh, bh, wo, bo)
    if not (torch.is_grad_enabled() and any(w.requires_grad for w in weights)):
        return sine_mlp_fwd(coords, *weights, omega_first, omega, freqs, grid_shape, start, count)
    return SineMLPFunction.apply(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count)
