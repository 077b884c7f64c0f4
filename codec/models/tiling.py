"""Tiles: a grid cut into near-equal blocks, each with a small sine net of its own.

At one parameter budget, K tiles of width w/√K cost about 1/K of one net's arithmetic per point, so a
CPU fit takes several times the steps in less time, and large nets gain most. Whole kodim05, float fits
of one thread at equal parameters (about 64 k, the 1 bpp budget): one net of width 140, 2,000 steps,
26.85 dB in 215 s; 2×2 tiles of width 68, 5,000 steps, 27.60 dB in 203 s; 4×4 tiles of width 32,
10,000 steps, 27.76 dB in 155 s (kodim23: 36.13 against 37.87 dB). At the 0.25 bpp budget (16 k)
4×4 tiles of width 13 lost (22.10 dB against 22.25 for one net), 2×2 gained (22.50); hence a
minimum size per tile (siren.MIN_TILE_PARAMS). The 4×4 float gain at 1 bpp did not survive
quantization (8 Kodak files at 1 bpp, 7 better with 2×2), so the encoder stops at 2×2
(siren.MAX_AUTO_TILES).

Tile j of an axis of n samples cut in t covers samples [j·n//t, (j+1)·n//t), and its own
coordinates run from -1 at its first sample to 1 at its last, so every tile's net sees the same
input range as an untiled one.
"""
import itertools
import math

import numpy as np
import torch

from inrcodec.kernels.reference import positional_encoding

MAX_TILES = 16  # per axis: bounds the nets a (hostile) header can ask for


def axis_tiles(shape, tiles: int) -> tuple:
    """Tiles along each axis: `tiles`, or fewer on an axis shorter than that."""
    return tuple(min(tiles, n) for n in shape)


def tile_count(shape, tiles: int) -> int:
    return math.prod(axis_tiles(shape, tiles))


def largest_tile(shape, tiles: int) -> tuple:
    """The shape of the largest tile (what sets a tile's positional-encoding frequencies)."""
    return tuple(-(-n // t) for n, t in zip(shape, axis_tiles(shape, tiles)))


class Tiling:
    """Where each point of a grid falls: the tiles (row-major number) whose nets see it, its coordinates
    inside each, and the weight each net's output gets.

    With `overlap` m, tile j's net also covers m samples either side of its block, and across each
    border the two nets are blended over the 2m samples nearest it (a linear ramp; the weights of a
    point always sum to 1), so the border has no step between independent fits. m is cut to half the
    shortest block of an axis, so a point is in at most two tiles per axis."""

    def __init__(self, shape, tiles: int, overlap: int = 0):
        self.shape = tuple(shape)
        self.counts = axis_tiles(shape, tiles)
        self.count = math.prod(self.counts)
        self.overlaps = tuple(min(overlap, (n // t) // 2) if t > 1 else 0 for n, t in zip(self.shape, self.counts))

    def _axis(self, coords, axis):
        """[(tile along the axis, local coordinate, weight)] for the point's own tile and its partner
        across the nearest border (weight 0 outside the blend zones)."""
        n, t, m = self.shape[axis], self.counts[axis], self.overlaps[axis]
        position = (coords[:, axis] + 1.0) * ((n - 1) / 2.0)  # in samples
        starts = torch.tensor([j * n // t for j in range(t + 1)], device=coords.device)
        sample = torch.round(position).clamp(0, n - 1).to(torch.int64)
        own = torch.searchsorted(starts, sample, right=True) - 1

        def local(j):
            first = (starts[j] - m).clamp(min=0)
            end = (starts[j + 1] + m).clamp(max=n)
            span = (end - first - 1).clamp(min=1).to(coords.dtype)
            inside = (position - first.to(coords.dtype)) * (2.0 / span) - 1.0
            return torch.where(end - first > 1, inside, torch.zeros_like(inside))

        if m == 0:
            return [(own, local(own), torch.ones_like(position))]
        low, high = starts[own], starts[own + 1]
        near_low = (own > 0) & (sample < low + m)
        near_high = (own < t - 1) & (sample >= high - m)
        partner = torch.where(near_low, own - 1, torch.where(near_high, own + 1, own))
        # The weight of the tile after a border rises from 1/(4m) to 1 - 1/(4m) over the 2m samples around it.
        after_low = (position - (low - m).to(coords.dtype) + 0.5) / (2 * m)
        after_high = (position - (high - m).to(coords.dtype) + 0.5) / (2 * m)
        weight = torch.where(near_low, 1.0 - after_low, torch.where(near_high, after_high, torch.zeros_like(position)))
        return [(own, local(own), 1.0 - weight), (partner, local(partner), weight)]

    def entries(self, coords: torch.Tensor) -> tuple:
        """(point index, tile number, local coordinates (entries, dims), weight, sizes) of every
        (point, tile) pair with a nonzero weight, for grid coordinates in [-1, 1]. Entries come in
        runs (sizes), each naming a point at most once; the first is every point's own tile, in order."""
        per_axis = [self._axis(coords, axis) for axis in range(len(self.shape))]
        points = torch.arange(coords.shape[0], device=coords.device)
        index, tiles, locals_, weights = [], [], [], []
        for choice in itertools.product(*per_axis):
            tile = torch.zeros_like(points)
            weight = torch.ones(coords.shape[0], dtype=coords.dtype, device=coords.device)
            for (j, _, w), t in zip(choice, self.counts):
                tile = tile * t + j
                weight = weight * w
            keep = weight > 0
            index.append(points[keep])
            tiles.append(tile[keep])
            locals_.append(torch.stack([c[1] for c in choice], dim=-1)[keep])
            weights.append(weight[keep])
        return (torch.cat(index), torch.cat(tiles), torch.cat(locals_), torch.cat(weights),
                [len(i) for i in index])


def tiled_sine_mlp(tiling: Tiling, coords, w0, b0, wh, bh, wo, bo, omega_first: float, omega: float,
                   freqs: int, widths: tuple = ()) -> torch.Tensor:
    """Each point through its tile's SIREN, blended across borders where the tiling overlaps. Weights
    carry a leading tile axis: w0 (K, W, in), b0 (K, W), wh (K, L, W, W), bh (K, L, W), wo (K, C, W),
    bo (K, C). Points are grouped by tile. Equal tiles are padded to the fullest tile present, so one
    batched matmul per layer serves every tile. On the CPU, tiles of unequal `widths` (each using its first
    units) run one after another at their own width (per_tile_mlp), where the arithmetic is the cost; a GPU
    keeps the one batched product, where a step is bound by kernel launches (per-tile loops unmeasured there)."""
    point, tile, local, weight, runs = tiling.entries(coords)
    features = positional_encoding(local, freqs)
    present, group, sizes = torch.unique(tile, return_inverse=True, return_counts=True)
    order = torch.argsort(group, stable=True)
    if widths and min(widths) < w0.shape[-2] and w0.device.type == "cpu":
        out = per_tile_mlp(features[order], present.tolist(), sizes.tolist(), widths, w0, b0, wh, bh, wo, bo,
                           omega_first, omega)
    else:
        grouped = group[order]
        slot = torch.arange(len(order), device=coords.device) - (torch.cumsum(sizes, 0) - sizes)[grouped]
        x = features.new_zeros(len(present), int(sizes.max()), features.shape[1])
        x = x.index_put((grouped, slot), features[order])
        h = torch.sin(omega_first * torch.baddbmm(b0[present, None], x, w0[present].transpose(1, 2)))
        for layer in range(wh.shape[1]):
            h = torch.sin(omega * torch.baddbmm(bh[present, layer, None], h, wh[present, layer].transpose(1, 2)))
        out = torch.baddbmm(bo[present, None], h, wo[present].transpose(1, 2))[grouped, slot]
    out = out[torch.argsort(order)]
    if len(runs) == 1:  # no blending: one entry per point, in order, weight 1
        return out
    # Run by run, so no point takes two additions at once: the same sums in the same order on every device.
    out = out * weight[:, None]
    blended, start = out[:runs[0]], runs[0]
    for size in runs[1:]:
        blended = blended.index_add(0, point[start:start + size], out[start:start + size])
        start += size
    return blended


def per_tile_mlp(x, present: list, sizes: list, widths: tuple, w0, b0, wh, bh, wo, bo, omega_first: float,
                 omega: float) -> torch.Tensor:
    """tiled_sine_mlp's product for tiles of unequal widths: the points `x`, grouped by tile (`sizes` of
    each tile in `present`), each run through its tile's first widths[t] units only. The padding units
    are zero and add nothing, so this is the padded product without its arithmetic. A float step (forward,
    backward, Adam; one thread) on kodim19, whose tiles differ most, took 0.79× / 0.64× the padded step's
    time for SIREN at 0.25 / 0.5 bpp (widths 18 / 22 / 39 / 38 and 27 / 34 / 58 / 56) and 0.66× / 0.64×
    for D'OH; on kodim05 (near-equal tiles) 0.94× / 0.88× and 0.75× / 0.78× (bench/tile_widths_time.py)."""
    outs, start = [], 0
    for t, size in zip(present, sizes):
        w = widths[t]
        rows = x[start:start + size]
        start += size
        h = torch.sin(omega_first * torch.addmm(b0[t, :w], rows, w0[t, :w].t()))
        for layer in range(wh.shape[1]):
            h = torch.sin(omega * torch.addmm(bh[t, layer, :w], h, wh[t, layer, :w, :w].t()))
        outs.append(torch.addmm(bo[t], h, wo[t, :, :w].t()))
    return torch.cat(outs)


def tile_detail(signal, tiles: int) -> list:
    """Each tile's mean absolute step between neighbouring samples (both axes, every channel), in tile
    order: how much the tile's net has to draw."""
    samples = signal.samples.astype(np.float32)
    steps = [np.abs(np.diff(samples, axis=axis)) for axis in range(len(signal.spec.shape))]
    bounds = [[j * n // t for j in range(t + 1)] for n, t in zip(signal.spec.shape, axis_tiles(signal.spec.shape, tiles))]
    detail = []
    for block in itertools.product(*[list(zip(b[:-1], b[1:])) for b in bounds]):
        total = count = 0.0
        for axis, step in enumerate(steps):
            index = tuple(slice(lo, min(hi, step.shape[a])) for a, (lo, hi) in enumerate(block))
            total, count = total + float(step[index].sum()), count + step[index].size
        detail.append(total / max(count, 1))
    return detail


def detail_weights(detail: list, power: float, floor: float) -> list:
    """Each tile's share weight, detail ** power, with a tile's detail counted as at least `floor` times
    the mean (a flat tile still needs its net): how D'OH's latent slices and SIREN's tile widths are cut."""
    least = floor * sum(detail) / len(detail)
    return [max(d, least, 1e-12) ** power for d in detail]
