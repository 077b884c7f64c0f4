"""The lossless coder's decoding order and context for images: interlaced, coarse to fine.

Pixels are decoded in interlaced passes, so every pass is one vectorised step rather than a loop
over pixels, and every pixel has already-decoded neighbours on all sides: a lattice of stride 2**L
first; then per level a "diagonal" pass (centres of the lattice's squares, from their corners) and
two "axial" passes (edge midpoints, from their axial neighbours), 12 neighbours each.
Channels are decoded one after another within a pass (images: G, then R, then B), so a channel's
context includes the residuals of the channels before it at the same position.

Everything here is integer arithmetic on int64 tensors: the decoder rebuilds the same features
bit for bit (DESIGN.md §5). Features are FRAC fixed point, and sample differences are measured
relative to the local activity (see activity()).
"""
from dataclasses import dataclass

import torch

from inrcodec import fixedpoint as fp
from inrcodec.fixedpoint import FRAC, ONE

BLOCK = 1 << 18  # targets per block: bounds the coder's memory on long signals (part of the bitstream)
IMAGE_NEIGHBOURS = 12  # 4 at distance h, then 8 further out
COORD_FEATURES = 4
# Another channel's residual beyond 32 activities says little more, and unbounded it made the rounded
# weights' error swing the output (24-bit speech: 12.9 bits per sample in float, 16.6 rounded).
CHANNEL_LIMIT = 32 * ONE
DIAGONAL, AXIAL_H, AXIAL_V, COARSE = 0, 1, 2, 3


@dataclass
class Block:
    """Up to BLOCK samples decoded together, with where their neighbours are."""

    targets: torch.Tensor     # (M,) flat grid indices
    neighbours: torch.Tensor  # (M, K) flat grid indices (0 where not valid)
    valid: torch.Tensor       # (M, K) bool: in bounds and already decoded
    coords: torch.Tensor      # (M, COORD_FEATURES) FRAC triangle waves of the position
    level: int                # 0 = finest
    levels: int
    pass_type: int            # # Another channel's residual beyond 32 activities says little more, and unbounded it made the rounded
# weights' error swing the output (24-bit speech: 12.9 bits per sample in float, 16.6 rounded).
CHANNEL_LIMIT = 32 * ONE
DIAGONAL, AXIAL_H, AXIAL_V or COARSE


# neighbour differences, log2 activity / 4, two channel residuals, three channel flags, position,
# level, pass type, coarse flag
NUM_FEATURES = IMAGE_NEIGHBOURS + 1 + 2 + 3 + COORD_FEATURES + 3


def channel_order(spec) -> list:
    """Decoding order of the channels: green first in RGB (it carries most of the luma)."""
    return [1, 0, 2] if spec.kind == "image" and spec.channels == 3 else list(range(spec.channels))


def _triangle(index: torch.Tensor, extent: int, freq: int) -> torch.Tensor:
    """A triangle wave of the position, freq periods over the extent, in [-ONE, ONE] (exact integers)."""
    phase = ((index * freq) << 16) // max(extent, 1) & 0xFFFF
    return (torch.abs(2 * phase - (1 << 16)) - (1 << 15)) >> (15 - FRAC)


def _blocks(targets, neighbours, valid, coords, level, levels, pass_type):
    for start in range(0, len(targets), BLOCK):
        part = slice(start, start + BLOCK)
        yield Block(targets[part], neighbours[part], valid[part], coords[part], level, levels, pass_type)


def _levels(extent: int, coarse: int) -> int:
    levels = 0
    while (extent - 1) >> levels > coarse:
        levels += 1
    return levels


def image_schedule(height: int, width: int):
    """Blocks of an H×W image in decoding order."""
    levels = _levels(max(height, width), 16)

    def coords_of(ys, xs):
        return torch.stack([_triangle(ys, height, 1), _triangle(ys, height, 2),
                            _triangle(xs, width, 1), _triangle(xs, width, 2)], dim=1)

    def lattice(y0, x0, step):
        ys, xs = torch.meshgrid(torch.arange(y0, height, step), torch.arange(x0, width, step), indexing="ij")
        return ys.reshape(-1), xs.reshape(-1)

    def gather(ys, xs, offsets):
        ny = ys[:, None] + torch.tensor([o[0] for o in offsets])
        nx = xs[:, None] + torch.tensor([o[1] for o in offsets])
        ok = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        return torch.where(ok, ny * width + nx, 0), ok

    stride = 1 << levels
    ys, xs = lattice(0, 0, stride)
    none = torch.zeros(len(ys), IMAGE_NEIGHBOURS, dtype=torch.int64)
    yield from _blocks(ys * width + xs, none, none.bool(), coords_of(ys, xs), levels, levels, COARSE)
    for level in range(levels, 0, -1):
        s, h = 1 << level, 1 << (level - 1)
        ys, xs = lattice(h, h, s)
        t = 3 * h
        idx, ok = gather(ys, xs, [(-h, -h), (-h, h), (h, -h), (h, h), (-t, -h), (-t, h), (t, -h), (t, h),
                                  (-h, -t), (h, -t), (-h, t), (h, t)])
        yield from _blocks(ys * width + xs, idx, ok, coords_of(ys, xs), level - 1, levels, DIAGONAL)
        # Edge midpoints: first their two lattice neighbours, then their two diagonal-pass ones.
        # The vertical pass lists the transposes of the horizontal pass's offsets.
        horizontal = [(0, -h), (0, h), (-h, 0), (h, 0), (-s, -h), (-s, h), (s, -h), (s, h),
                      (-h, -s), (-h, s), (h, -s), (h, s)]
        vertical = [(x, y) for y, x in horizontal]
        for pass_type, (y0, x0), offsets in ((AXIAL_H, (0, h), horizontal), (AXIAL_V, (h, 0), vertical)):
            ys, xs = lattice(y0, x0, s)
            idx, ok = gather(ys, xs, offsets)
            yield from _blocks(ys * width + xs, idx, ok, coords_of(ys, xs), level - 1, levels, pass_type)


def schedule(spec):
    return image_schedule(*spec.shape)


def predict(block: Block, values: torch.Tensor, bit_depth: int) -> torch.Tensor:
    """An integer prediction of each target: the rounded mean of its valid nearest four neighbours."""
    if block.pass_type == COARSE:
        return torch.full((len(block.targets),), 1 << (bit_depth - 1), dtype=torch.int64)
    near = block.valid[:, :4]
    count = near.sum(dim=1)
    return ((values[:, :4] * near).sum(dim=1) + count // 2) // count.clamp(min=1)


def activity(block: Block, values: torch.Tensor, pred: torch.Tensor, bit_depth: int) -> torch.Tensor:
    """The local scale A >= 1 (samples): the neighbours' mean absolute deviation from the prediction,
    plus one. Features and the network's outputs are measured in A, so quiet and loud passages, coarse
    and fine levels, 8- and 24-bit signals reach the network at the same scale. The first lattice has
    no neighbours; it gets a nominal 2**(bit_depth - 4)."""
    if block.pass_type == COARSE:
        return torch.full_like(pred, 1 << max(bit_depth - 4, 0))
    count = block.valid.sum(dim=1).clamp(min=1)
    return ((values - pred[:, None]).abs() * block.valid).sum(dim=1) // count + 1


def relative(diff: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """diff / scale in FRAC fixed point (floor), clamped to ±VALUE_LIMIT."""
    return torch.div(diff << FRAC, scale, rounding_mode="floor").clamp(-fp.VALUE_LIMIT, fp.VALUE_LIMIT)


def features(block: Block, values: torch.Tensor, pred: torch.Tensor, scale: torch.Tensor, first: torch.Tensor,
             previous: torch.Tensor, position: int) -> torch.Tensor:
    """The network's input (M, num_features) for the channel decoded `position`-th in this pass.

    values: neighbours' decoded values (M, K); scale: activity(); first/previous: the residuals
    (value - prediction) of the first and the previous channel at the same targets (zeros for the
    first channel). Everything but the flags and the position is relative to `scale`."""
    m = len(block.targets)
    diffs = relative((values - pred[:, None]) * block.valid, scale[:, None])
    flags = torch.zeros(m, 3, dtype=torch.int64)
    flags[:, min(position, 2)] = ONE
    level = torch.full((m,), (block.level * ONE) // max(block.levels, 1), dtype=torch.int64)
    pass_type = torch.full((m,), block.pass_type * ONE // 2, dtype=torch.int64)
    coarse = torch.full((m,), ONE if block.pass_type == COARSE else 0, dtype=torch.int64)
    channels = [relative(r, scale).clamp(-CHANNEL_LIMIT, CHANNEL_LIMIT)[:, None] for r in (first, previous)]
    return torch.cat([diffs, (fp.log2_fixed(scale - 1) >> 2)[:, None], *channels, flags, block.coords,
                      level[:, None], pass_type[:, None], coarse[:, None]], dim=1)
