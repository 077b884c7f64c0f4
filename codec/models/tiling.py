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
import math

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
    """Where each point of a grid falls: its tile's number (row-major over the tiles) and its
    coordinates inside that tile."""

    def __init__(self, shape, tiles: int):
        self.shape = tuple(shape)
        self.counts = axis_tiles(shape, tiles)
        self.count = math.prod(self.counts)

    def locate(self, coords: torch.Tensor) -> tuple:
        """(tile number (points,), local coordinates (points, dims)) of grid coordinates in [-1, 1]."""
        tile = torch.zeros(coords.shape[0], dtype=torch.int64, device=coords.device)
        local = []
        for axis, (n, t) in enumerate(zip(self.shape, self.counts)):
            position = (coords[:, axis] + 1.0) * ((n - 1) / 2.0)  # in samples
            starts = torch.tensor([j * n // t for j in range(t + 1)], device=coords.device)
            sample = torch.round(position).clamp(0, n - 1).to(torch.int64)
            j = torch.searchsorted(starts, sample, right=True) - 1
            first, length = starts[j], starts[j + 1] - starts[j]
            span = (length - 1).clamp(min=1).to(coords.dtype)
            inside = (position - first.to(coords.dtype)) * (2.0 / span) - 1.0
            local.append(torch.where(length > 1, inside, torch.zeros_like(inside)))
            tile = tile * t + j
        return tile, torch.stack(local, dim=-1)


def tiled_sine_mlp(tiling: Tiling, coords, w0, b0, wh, bh, wo, bo, omega_first: float, omega: float,
                   freqs: int) -> torch.Tensor:
    """Each point through its own tile's SIREN. Weights carry a leading tile axis: w0 (K, W, in),
    b0 (K, W), wh (K, L, W, W), bh (K, L, W), wo (K, C, W), bo (K, C). Points are grouped by tile
    and padded to the fullest tile present, so one batched matmul per layer serves every tile."""
    tile, local = tiling.locate(coords)
    features = positional_encoding(local, freqs)
    present, group, sizes = torch.unique(tile, return_inverse=True, return_counts=True)
    order = torch.argsort(group, stable=True)
    grouped = group[order]
    slot = torch.arange(len(order), device=coords.device) - (torch.cumsum(sizes, 0) - sizes)[grouped]
    x = features.new_zeros(len(present), int(sizes.max()), features.shape[1])
    x = x.index_put((grouped, slot), features[order])
    h = torch.sin(omega_first * torch.baddbmm(b0[present, None], x, w0[present].transpose(1, 2)))
    for layer in range(wh.shape[1]):
        h = torch.sin(omega * torch.baddbmm(bh[present, layer, None], h, wh[present, layer].transpose(1, 2)))
    out = torch.baddbmm(bo[present, None], h, wo[present].transpose(1, 2))[grouped, slot]
    return out[torch.argsort(order)]
