"""D'OH (Gordon et al., ACCV 2024) as a codec model, wire id 2: a decoder-only random hypernetwork.

A latent z of length m is mapped to every weight and bias of a target SIREN by fixed random
projections, θ_l = s_l · P_l z. Only z is transmitted; P_l comes from the counter-based hash in
kernels/reference.py (seed, tensor index, row, column), so the decoder regenerates it exactly.
Two kinds of P_l (DohConfig.projection):
- DENSE: entries U(-1, 1) (variance 1/3) straight from the hash; z is used as sqrt(3/m)·z̃.
- HADAMARD (what the encoder writes): row i is Hadamard row i mod M (M = m rounded up to a power of 2)
  times a ±1 diagonal whose signs are the hash's; z is used as sqrt(1/m)·z̃. The same RD as DENSE
  (8 Kodak centres at 0.25 bpp: 24.69 dB both), but P z is a fast Walsh-Hadamard transform,
  O(rows log M) instead of O(rows × m): a whole Kodak image's decode regenerates its net in
  milliseconds instead of 24-48 s (bench/doh_projection.py).
z̃ ~ N(0, 1) at the start (z̃ is what is trained and transmitted), so P_l z starts with unit
variance; with s_l = SIREN's init bound / sqrt(3) the generated weights start with SIREN's initial
variance. m is the rate knob: the footprint moves continuously while the target net stays fixed.
"""
import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import torch

from inrcodec import kernels
from inrcodec.config import TAIL
from inrcodec.kernels.reference import hadamard_project, hadamard_signs, hash_uniform
from inrcodec.models.base import Representation
from inrcodec.models.siren import (MAX_PARAMS, MAX_SIZED_WIDTH, MIN_TILE_SIDE, SineNetConfig, held_entries,
                                   retiled, siren_forward, siren_layout, siren_params, tiles_of, validate_tiling)
from inrcodec.models.tiling import MAX_TILES, detail_weights, tile_count, tile_detail
from inrcodec.registry import MODELS

MAX_LATENT = 1 << 20
MIN_LATENT = 16
# When sized, the target net gets about this many weights per latent entry. kodim23 at 0.1 bpp
# (m = 6,553, 1,000 steps): ratio ~2 (width 60) 25.24 dB, width 64 25.16 dB, width 96 (ratio 4.8) 24.93 dB.
# With 6 layers and Hadamard projections, whole kodim05 at 0.25 bpp (2,000 steps): 3.5 gave 21.98 dB, 2 21.96.
# Whole kodim23 / kodim05 at 0.5 bpp (7 layers, 2,000 CPU steps; 2 gives width 112 and 33.80 / 24.16 dB): 1
# fitted kodim23 to 31.85 dB in float (2: 33.00) and stalled on kodim05 (14.4 dB); 3 gave 34.07 / 24.07 in
# 1,035-1,040 s against 626-641 s. Mixed, for 1.6 times the encode, so 2 stays.
TARGET_OVER_LATENT = 2.0
# A tiled image's per-tile nets (slice_widths) get more: each tile's slice of z is a few thousand entries,
# and since 0.5.11 a tile runs at its own width, so a wider tile costs its own arithmetic only. Whole
# kodim05 / kodim23 at 0.25 bpp (single encodes, 4,000 CPU steps): 2 gave 22.22 / 31.70 dB in about 290 s,
# 3 22.35 / 31.86 in 350-360 s, 4 22.39 / 31.78 in 390 s. The 8 Kodak images with 3 (bench/results/
# rd_image_cpu0511_doh_tile3.md): 26.60 -> 26.72 dB at 0.25 bpp, 28.65 -> 28.86 at 0.5, all 16 points up or level.
TILE_OVER_LATENT = 3.0
MIN_TARGET_WIDTH = 16
# Images are cut in 2×2 tiles (PER_TILE projections) where every tile's slice of z keeps this many entries.
# Whole kodim23 / kodim05, 2×2 tiles against one net (2,000 CPU steps one net, 4,000 tiled, single encodes):
# at 0.5 bpp (9,830 entries a tile) 34.46 / 24.33 dB against 33.80 / 24.16; at 0.25 bpp (4,915 a tile)
# 31.75 / 22.23 against 31.28 / 22.36 (a prototype with other hash seeds per tile). The 8 Kodak images at
# 0.25 bpp with 2×2 tiles (bench/results/rd_image_cpu_doh_pertile_025.md): see the README; 4,096 is the round
# number just under the 4,915 entries a tile has there (a Kodak image from about 0.21 bpp).
MIN_TILE_LATENT = 4096
# Tiles get slices of z in proportion to detail ** DETAIL_POWER (tile_detail: the mean step between
# neighbouring samples), where equal slices left a busy tile short and a flat one with entries to spare.
# Whole kodim19 / kodim03 at 0.25 bpp (detail 0.42-1.56 / 0.50-1.45 times the mean across their 4 tiles;
# single encodes, 4,000 CPU steps): equal slices 27.25 / 31.87 dB; power 0.5 27.62 / 31.91; power 1
# 27.70 / 31.97; power 1.5 27.52 / 31.70. The 8 Kodak images at 0.25 / 0.5 bpp: 26.45 / 28.49 dB with
# equal slices, 26.54 / 28.61 with power 1 (bench/results/rd_image_cpu_detail.md).
DETAIL_POWER = 1.0
DETAIL_FLOOR = 0.25
# D'OH's target net is deeper than SIREN's default 4 sine layers: depth is nearly free when z, not the
# target's weights, is what the file pays for. The 8 Kodak 256×256 centres, 2,000 CPU steps: 6 layers
# gained +0.10 dB at 0.25 bpp and +0.25 dB at 0.5 bpp over 4 (kodim13 at 0.25 lost 0.69). On kodim23/05
# at 0.25 bpp, 5/6/7 layers gave 28.48/28.60/28.73 and 19.97/20.13/20.06 dB, and 8 diverged (13.3 dB;
# 27.97 at lr 0.1). SIREN gains little from 6 layers there (+0.05 dB at 0.25 bpp, -0.09 at 0.5), so it keeps 4.
TARGET_LAYERS = 6
# Large image latents take one layer more. The 8 whole Kodak images at 2,000 CPU steps (latents of 16 k and
# 33 k) went 25.84 -> 25.95 dB at 0.25 bpp and 27.69 -> 27.81 at 0.5 with 7 layers instead of 6
# (rd_image_doh_hadamard.md against rd_image_doh_layers7.md), better on 14 of the 16 points (kodim01 at 0.25
# lost 0.13). But on the 256×256 centres (latents of 2.7 k and 5.5 k) 7 layers diverged on kodim15 at 0.25 bpp
# (14.84 dB against 27.57; rd_image_doh_layers7_crop256.md), so smaller latents keep 6. With 8 layers
# (lr 0.15), whole kodim19/kodim05 at 0.25 bpp gave 26.87/21.84 dB against 27.10/22.02 with 7.
# Audio and video keep 6: their media bench measured 6 (bench/results/media_*.md), 7 is unmeasured there.
DEEP_TARGET_LAYERS = 7
DEEP_MIN_LATENT = 8192
# Fitting on CPU keeps the generated dense projections in memory up to this size; beyond it every step regenerates
# them tile by tile (hashing 16 M entries costs about 2 s on 2 CPU cores, a cached matmul far less).
# A Kodak image at 0.25 bpp needs 2.1 GB (latent 16 k × 33 k target weights): under 2 GiB it did
# not finish one image in 7 minutes; 4 GiB holds it on a 24 GB machine.
CACHE_BYTES = 4 << 30
# spend_slack bisects z's scale to 1/256 of a step-table entry, about 0.02 % of the file.
SLACK_BISECTIONS = 8
# Decoding regenerates every projection entry once: bound that work for untrusted headers.
MAX_PROJECTION_ENTRIES = 1 << 36
# Projection kinds (DohConfig.projection).
DENSE = 0     # entries U(-1, 1) straight from the hash: O(rows × m) per product
HADAMARD = 1  # ±1 entries, Hadamard rows times hashed sign diagonals: O(rows log m)
PER_TILE = 2  # HADAMARD, but each tile's net generated from a slice of z of its own (one tile: HADAMARD)
PROJECTIONS = ("dense", "hadamard", "per-tile")  # the kinds' names, by value (the CLI's --projection)


@dataclass(frozen=True)
class DohConfig(SineNetConfig):
    latent: int = 4096         # length of the transmitted latent z (the rate knob)
    proj_seed: int = 0         # seed of the hashed projections
    # DENSE, HADAMARD or PER_TILE. Files written before this field existed are DENSE; the encoder writes
    # HADAMARD for one net and PER_TILE for tiled ones (0.5.3; tiled files of 0.5-0.5.2 are HADAMARD).
    projection: int = field(default=DENSE, metadata={TAIL: True})
    # The target net's tiles per axis (tiling.py), as SIREN's; files before 0.5 end before it (one net).
    # Since 0.5.3 D'OH's images are tiled where every tile keeps MIN_TILE_LATENT entries of z (image_tiles
    # below), with PER_TILE projections. Every tile generated from all of z (HADAMARD) was not worth it:
    # whole kodim01 at 0.25 bpp: one net 24.64 dB (2,000 steps); 2×2 tiles at SIREN's rule (width 38,
    # 4,000 steps) 24.63; 2×2 tiles of width 50 (3.5 target weights per latent entry) 24.72, as tiled
    # SIREN. Not a gain worth the longer encode (404-530 s against 444 s, beside other encodes).
    # Whole kodim23 / kodim05 at 0.5 bpp, 2×2 tiles at the default sizing (width 56, 4,000 steps, cosine):
    # 34.06 / 24.26 dB against one net's 33.69 / 24.11 (2,000 steps) and 34.11 / 24.07 (4,000 steps),
    # still short of tiled SIREN's 35.03 / 24.41, in 764-778 s.
    tiles: int = field(default=1, metadata={TAIL: True})
    # PER_TILE only: each tile's share of z, in tile order (they sum to latent); empty = near-equal slices
    # (every file before 0.5.4). The encoder gives busier tiles more (detail_slices below).
    slices: tuple = field(default=(), metadata={TAIL: True})
    # Samples each tile's net reaches past its block, blended across the border, as SIREN's (tiling.Tiling);
    # 0 = tiles meet edge to edge (every file before 0.5.5). The encoder uses siren.TILE_OVERLAP when tiled:
    # whole kodim05 / kodim23 at 0.25 bpp, the decoded step across borders went 19.8 / 9.1 -> 6.0 / 3.2 levels
    # (the original's 13.3 / 5.2) and PSNR 22.27 / 31.70 -> 22.30 / 31.88 dB (bench/results/seams_doh_*_025.md).
    overlap: int = field(default=0, metadata={TAIL: True})
    # PER_TILE only: units each tile's target net uses, in tile order, each at most `width` (the tensors'
    # size); empty = every tile uses `width` (every file before 0.5.10). The encoder sizes each tile's net
    # to its slice of z (slice_widths).
    tile_widths: tuple = field(default=(), metadata={TAIL: True})

    def validate(self):
        super().validate()
        validate_tiling(self)
        if self.tile_widths:
            if self.projection != PER_TILE:
                raise ValueError("tile widths apply to per-tile projections only")
            if len(self.tile_widths) > MAX_TILES ** 3 or not all(1 <= w <= self.width for w in self.tile_widths):
                raise ValueError(f"tile widths {self.tile_widths[:8]}... must lie in 1..{self.width}")
        if self.slices:
            if self.projection != PER_TILE:
                raise ValueError("slices apply to per-tile projections only")
            if len(self.slices) > MAX_TILES ** 3 or min(self.slices) < 1 or sum(self.slices) != self.latent:
                raise ValueError(f"slices {self.slices[:8]}... must be positive and sum to the latent {self.latent}")
        if self.projection not in (DENSE, HADAMARD, PER_TILE):
            raise ValueError(f"unknown projection kind {self.projection}")
        if not MIN_LATENT <= self.latent <= MAX_LATENT:
            raise ValueError(f"latent {self.latent} outside {MIN_LATENT}..{MAX_LATENT}")
        if not 0 <= self.proj_seed < 1 << 32:
            raise ValueError(f"proj_seed {self.proj_seed} outside 0..2**32-1")


def latent_slices(latent: int, tiles: int, lengths: tuple = ()) -> list:
    """[(start, end)] of each tile's slice of z for PER_TILE, contiguous in tile order: of the given
    lengths, or near-equal when there are none."""
    if not lengths:
        return [(t * latent // tiles, (t + 1) * latent // tiles) for t in range(tiles)]
    if len(lengths) != tiles:
        raise ValueError(f"{len(lengths)} latent slices for {tiles} tiles")
    ends = list(itertools.accumulate(lengths))
    return list(zip([0] + ends[:-1], ends))


def shared_out(latent: int, weights) -> tuple:
    """`latent` entries cut in proportion to `weights` (each slice at least one entry), summing exactly."""
    total = float(sum(weights))
    ends = [round(latent * c / total) for c in itertools.accumulate(weights)]
    ends[-1] = latent
    lengths, start = [], 0
    for i, end in enumerate(ends):
        end = min(max(end, start + 1), latent - (len(ends) - 1 - i))
        lengths.append(end - start)
        start = end
    return tuple(lengths)


def detail_slices(latent: int, detail: list) -> tuple:
    """Slice lengths for tiles of this detail: in proportion to detail ** DETAIL_POWER, where a tile's
    detail counts as at least DETAIL_FLOOR times the mean (a flat tile still needs its net)."""
    return shared_out(latent, detail_weights(detail, DETAIL_POWER, DETAIL_FLOOR))


def slice_widths(config: DohConfig, spec) -> tuple:
    """Per-tile target widths holding about TILE_OVER_LATENT weights per entry of each tile's slice of z
    (a tile with a short slice gets a small net, a busy one with a long slice a large one), where equal
    widths gave a busy tile's long slice too few weights (kodim19 at 0.25 bpp: 1.2 per entry, its flattest
    tile 4.6). The 8 Kodak images at 0.25 bpp (bench/results/rd_image_cpu0510_doh025.md against
    rd_image_cpu059_doh025.md): 26.52 -> 26.60 dB, kodim19 27.60 -> 28.06, kodim03 31.85 -> 32.09, the rest
    within -0.07..+0.06. Encodes took about 1.6 times as long while every tile ran at the widest tile's width;
    since 0.5.11 each runs at its own (tiling.per_tile_mlp)."""
    one = dataclasses.replace(config, tiles=1, tile_widths=(), slices=(), projection=HADAMARD)
    lengths = [end - start for start, end in latent_slices(config.latent, tiles_of(config, spec), config.slices)]
    return tuple(target_width(one, spec, length, 1, TILE_OVER_LATENT) for length in lengths)


def target_width(config: DohConfig, spec, latent: int, step: int, ratio: float = TARGET_OVER_LATENT) -> int:
    """The narrowest width (from MIN_TARGET_WIDTH, by `step`) whose target net has `ratio` weights per
    entry of a latent this long."""
    width = MIN_TARGET_WIDTH
    while width < MAX_SIZED_WIDTH and siren_params(dataclasses.replace(config, width=width), spec) \
            < ratio * latent:
        width += step
    return width


def _unit_rms(grad: torch.Tensor) -> torch.Tensor:
    """A generated tensor's gradient scaled to unit RMS before it reaches z.

    Adam gives every SIREN tensor a step of its own size, whatever its gradient's scale; on z, whose
    every entry feeds every tensor through P, the tensor with the largest gradient would steer alone.
    Balancing them preconditions the fit (the wire format is untouched). 256×256 centre of kodim23,
    0.25 bpp, 2,000 steps: 27.02 -> 27.85 dB at lr 0.1 (28.23 at lr 0.2). Normalising per entry (an
    Adam second moment in weight space) gave 26.82, to unit norm per tensor 26.16, and before the
    init scale s_l 26.64.
    """
    return grad / (grad.pow(2).mean().sqrt() + 1e-30)


def default_projection(tiles: int) -> int:
    """The encoder's projection kind for a target net of `tiles` per axis."""
    return PER_TILE if tiles > 1 else HADAMARD


def doh_retiled(config, spec, tiles: int, fixed=frozenset()):
    """siren.retiled, and the projection kind for that tile count (unless fixed). Tiles, each from a slice of
    z of its own: whole kodim23 / kodim05 at 0.5 bpp (2×2 tiles of width 56, 4,000 CPU steps) gave
    34.46 / 24.33 dB, against 34.06 / 24.26 with every tile generated from all of z."""
    config = retiled(config, spec, tiles, fixed)
    return config if "projection" in fixed else dataclasses.replace(config, projection=default_projection(tiles))


def image_tiles(spec, latent: int) -> int:
    """Tiles per axis for a D'OH image net with this latent: 2 where every tile's slice keeps MIN_TILE_LATENT
    entries and MIN_TILE_SIDE samples a side, else 1. Audio and video stay untiled (unmeasured)."""
    two = spec.kind == "image" and min(spec.shape) // 2 >= MIN_TILE_SIDE \
        and latent / tile_count(spec.shape, 2) >= MIN_TILE_LATENT
    return 2 if two else 1


@MODELS.register("doh", 2)
class Doh(Representation):
    config_class = DohConfig
    # z is trained at unit scale, so one learning rate serves every m. On a 31×17 image (400 steps)
    # 0.1 beat 0.03 by 0.5 dB (m=512) and 3.5 dB (m=2048), and 0.2 diverged at m=2048; on kodim23 at
    # 0.1 bpp (1000 steps) 0.1 beat 0.05 by 0.8 dB.
    # With balanced gradients (generated() below) the best rate moved up: on the 256×256 centre of kodim23
    # at 0.25 bpp (2,000 steps) lr 0.05/0.1/0.2/0.4 gave 27.35/27.85/28.23/28.26 dB.
    # Over the 8 Kodak 256×256 centres at 0.25 bpp (2,000 steps), lr 0.3 and 0.2 tied on the mean with
    # dense projections (24.68/24.69 dB), but 0.3 cost kodim13 0.75 dB, and with Hadamard projections
    # 0.3 diverged on kodim03 and kodim15 (14.69/14.89 dB against 29.53/27.57 at 0.2). So 0.2
    # (bench/results/doh_projection_crop256.md).
    fit_defaults = {"lr": 0.2}
    # Images: decoupled weight decay on z, and the latent sized at 5 bits per entry instead of 6. Adam moves
    # every entry of z about lr per step, useful or not, so z random-walks (std 2.2-2.8 after 2,000 steps
    # from 1 at the start); decay holds it near 0.65. Whole kodim19 / kodim05 at 0.25 bpp (2,000 CPU steps,
    # 7 layers): 27.10 / 22.02 dB before; decay 0.03 at 6 bits 27.05 / 22.11; at 5 bits (m 20 % larger)
    # 27.34 / 22.31, at 4.5 bits 27.43 / 22.15; decay 0.05 at 5 bits 26.92 / 21.81 (SIREN: 27.43 / 22.15).
    # On the 256×256 centres of kodim23 / kodim05 at 0.25 bpp: 28.62 / 20.00 dB before, decay 0.01 / 0.03 /
    # 0.1 at 6 bits 28.97 / 20.35, 29.25 / 20.42, 28.50 / 20.11; 0.03 at 5 bits 28.84 / 20.32.
    # Decaying toward the initial z instead (and coding z - z0) gave 28.52 / 17.51 there.
    # The 8 whole Kodak images (bench/results/rd_image_doh_decay.md): 25.95 -> 26.24 dB at 0.25 bpp, 27.81 -> 27.87 at 0.5.
    # Audio and video keep their measured defaults (no decay, 6 bits).
    # Images also take QAT at lr 1e-3 instead of 1e-4: the rounded latent keeps learning, and trim_to_fit
    # (base.py) absorbs the few bytes that the moved latent then overshoots the cap by. Whole kodim05 /
    # kodim19 at 0.5 bpp (2,000 CPU steps): 23.88 / 29.22 dB at 1e-4; 24.11 / 29.49 at 1e-3 with trim
    # (SIREN 24.14 / 29.57); 1e-3 without trim 23.86 / 29.38, since the coarser table entry lost the gain.
    # The 8 whole Kodak images (bench/results/rd_image_cpu2000_doh_trim.md): 26.24 -> 26.34 dB at 0.25 bpp,
    # 27.87 -> 28.13 at 0.5 (SIREN 26.05 / 27.98).
    # Tried and not kept: an exponential decay of the float phase's rate, 0.2 -> 0.002, instead of the cosine to
    # 0.01 (the fit gains mostly as the rate falls: whole kodim23 at 0.5 bpp was at 27.6 dB at step 1,000 of
    # 2,000 and 29.4 at 1,400). The 8 whole Kodak images (bench/results/rd_image_doh_expdecay.md, 2,000 CPU
    # steps): 26.34 -> 26.28 dB at 0.25 bpp (5 of 8 lower) but 28.14 -> 28.26 at 0.5 (7 of 8 higher, kodim23
    # +0.36). A rule by latent size would fit one run; SIREN lost with it (kodim23 at 0.5 bpp 35.03 -> 34.40).
    # Also tried on whole kodim23 / kodim05 at 0.5 bpp (2,000 CPU steps; 33.80 / 24.16 dB as shipped), not kept.
    # QAT is where a D'OH fit finishes: kodim23 is at 33.00 dB in float, 32.46 once rounded, 33.8 after QAT.
    # - An average of z over the float phase's last 40 % (EMA, decay 0.995): the float fit gained 0.29 / 0.13 dB,
    #   but QAT from there ended at 33.47 / 23.96.
    # - 600 QAT steps instead of 300: 33.81 / 24.14 after QAT, no better, and z then outgrew the cap by more
    #   than trim_to_fit takes, so the coarser step left 33.56 / 23.75.
    # - Adam's beta1 0.95 instead of 0.9: 33.61 / 24.13.
    # - A first-layer omega0 of 60 (the per-pixel frequency of a 2×2 tile's net) fitted kodim23 to 31.43 dB in
    #   float and stalled on kodim05; 20 gave 33.82 / 24.19 (+0.02 / +0.03).
    fit_defaults_by_kind = {"image": {"weight_decay": 0.03, "qat_lr": 1e-3}}
    bits_per_param_by_kind = {"image": 5.0}
    decayed_names = ("z",)
    # Two tensors (z and a handful of gains), and every probe regenerates the projections: not worth it.
    measured_steps = False

    def __init__(self, config: DohConfig, spec, generator=None):
        super().__init__(config, spec)
        config.validate()
        self._layout = siren_layout(config, spec)
        if sum(math.prod(shape) for _, shape, _, _ in self._layout) > MAX_PARAMS:
            raise ValueError(f"a target net over the limit of {MAX_PARAMS} parameters")
        entries = sum(math.prod(shape) for _, shape, _, _ in self._layout) * config.latent
        if entries > MAX_PROJECTION_ENTRIES:
            raise ValueError(f"projections of {entries} entries exceed the limit of {MAX_PROJECTION_ENTRIES}")
        # z is stored and trained at unit scale; generated() applies sqrt(3/m). That keeps Adam's
        # step (absolute, per coordinate) meaning the same relative change whatever m is.
        self.z = torch.nn.Parameter(torch.randn(config.latent, generator=generator))
        # PER_TILE generates each tile's net from a slice of z of its own; other kinds, every tile from all of z.
        self._slices = latent_slices(config.latent, tiles_of(config, spec) if config.projection == PER_TILE else 1,
                                     config.slices)
        if any(end == start for start, end in self._slices):
            raise ValueError(f"a latent of {config.latent} cannot give each of {len(self._slices)} tiles a slice")
        tiles = len(self._slices)
        if config.tile_widths and (tiles == 1 or len(config.tile_widths) != tiles):
            raise ValueError(f"{len(config.tile_widths)} tile widths for {tiles} per-tile nets")
        # Where a tile's net uses fewer units than the tensors have: per tile, per tensor, the flat indices of
        # the entries it uses (None: all); only those are generated from its slice of z, the rest stay zero.
        held = held_entries(config, self._layout)
        self._tile_entries = [[held[name][t].flatten().nonzero().squeeze(1) if name in held else None
                               for name, _, _, _ in self._layout] for t in range(tiles)]
        # A learned log2 gain per target tensor (and tile, for PER_TILE): the fitted net's layers drift from
        # their init scales, which a single z can only follow by spending latent capacity on it.
        self.gain = torch.nn.Parameter(torch.zeros(tiles * len(self._layout)))
        # Gains start at 0 for narrower tiles too (their nets start at the full width's scale, as SIREN's
        # narrower tiles do). Starting them at SIREN's init for their own width (2^gain = sqrt(width / w_t)
        # past the first layer) stalled whole kodim05 at 0.5 bpp near 19 dB for 3,000 steps (23.18 dB in
        # the end, widths 56 / 52 / 51 / 59); gains at 0 gave 24.41 (equal tiles 24.40).
        self._cache = None  # dense projections kept for fitting when they fit in CACHE_BYTES
        self._signs_cache = None  # the Hadamard projections' sign diagonals (rows/M × m entries)

    @classmethod
    def default_config(cls, spec, **overrides):
        overrides.setdefault("layers", TARGET_LAYERS)
        return doh_retiled(DohConfig(**overrides), spec, overrides.get("tiles", 1), frozenset(overrides))

    @classmethod
    def sized_config(cls, config, spec, target_params: float, fixed=frozenset()):
        """Set m, deepen the target net for large image latents, and (unless the user fixed the width)
        size it to have about TARGET_OVER_LATENT weights per latent entry."""
        latent = int(min(MAX_LATENT, max(MIN_LATENT, target_params)))
        if "layers" not in fixed and spec.kind == "image" and latent >= DEEP_MIN_LATENT:
            config = dataclasses.replace(config, layers=DEEP_TARGET_LAYERS)
        config = doh_retiled(config, spec, config.tiles if "tiles" in fixed else image_tiles(spec, latent), fixed)
        if "width" in fixed:
            return dataclasses.replace(config, latent=latent)
        return dataclasses.replace(config, latent=latent, width=target_width(config, spec, latent, 2))

    @classmethod
    def content_config(cls, config, signal, fixed=frozenset()):
        """Per-tile slices of z in proportion to each tile's detail (detail_slices), and each tile's target net
        sized to its slice (slice_widths) unless the user set a width."""
        tiles = tiles_of(config, signal.spec) if config.projection == PER_TILE else 1
        if config.slices and len(config.slices) != tiles:
            raise ValueError(f"{len(config.slices)} latent slices for {tiles} tiles")
        if config.tile_widths and len(config.tile_widths) != tiles:
            raise ValueError(f"{len(config.tile_widths)} tile widths for {tiles} per-tile nets")
        if tiles == 1:
            return config
        if "slices" not in fixed:
            config = dataclasses.replace(config, slices=detail_slices(config.latent, tile_detail(signal, config.tiles)))
        if "width" in fixed:
            return config
        widths = config.tile_widths if "tile_widths" in fixed else slice_widths(config, signal.spec)
        if not widths:  # the user's equal tiles
            return config
        return dataclasses.replace(config, width=max(widths), tile_widths=widths)

    @classmethod
    def schedule_factor(cls, config, spec) -> float:
        """As SIREN's: tiles are cheaper per step."""
        return math.sqrt(tiles_of(config, spec))

    @classmethod
    def resized(cls, config, factor: float):
        latent = int(min(MAX_LATENT, max(MIN_LATENT, config.latent * factor)))
        if latent == config.latent or (config.slices and latent < len(config.slices)):
            return None
        slices = shared_out(latent, config.slices) if config.slices else ()
        return dataclasses.replace(config, latent=latent, slices=slices)

    @classmethod
    def knob(cls, config) -> tuple:
        return ("latent", config.latent)

    def transmitted_names(self):
        return ["z", "gain"]

    def step_scales(self):
        # Match SIREN's relative precision: a hidden sine weight's step is base/ω0 against an init
        # bound of sqrt(6/width)/ω0; z's scale is 1. A gain error scales a whole tensor: keep it 64× finer.
        z_scale = 1.0 / math.sqrt(6.0 / self.config.width)
        return {"z": z_scale, "gain": z_scale / 64}

    def generated(self, z: torch.Tensor, gain: torch.Tensor) -> dict:
        """The target SIREN's tensors, θ_l = s_l · 2^gain_l · P_l z."""
        if self.config.projection == PER_TILE:
            return self._generated_per_tile(z, gain)
        params = {}
        m, seed = self.config.latent, self.config.proj_seed
        # Unit-variance P z: dense entries have variance 1/3, Hadamard ones are ±1.
        z = z * math.sqrt((3.0 if self.config.projection == DENSE else 1.0) / m)
        gains = torch.exp2(gain)
        scales = [bound / math.sqrt(3.0) for _, _, bound, _ in self._layout]
        rows = [math.prod(shape) for _, shape, _, _ in self._layout]
        if self.config.projection == HADAMARD:
            flats = hadamard_project(z, self._signs(), rows)
        else:
            cache = self._projections() if self.training and torch.is_grad_enabled() else None
            flats = [cache[i] @ z if cache is not None else kernels.project(z, seed, i, n) for i, n in enumerate(rows)]
        for index, (name, shape, _, _) in enumerate(self._layout):
            flat = flats[index]
            params[name] = (scales[index] * gains[index] * flat).reshape(shape)
            if params[name].requires_grad:
                params[name].register_hook(_unit_rms)
        return params

    def _generated_per_tile(self, z: torch.Tensor, gain: torch.Tensor) -> dict:
        """PER_TILE's tensors: tile t's are s_l · 2^gain_{t,l} · P_{t,l} z_t, z_t its slice of z."""
        tiles, count = len(self._slices), len(self._layout)
        gains = torch.exp2(gain).reshape(tiles, count)
        scales = [bound / math.sqrt(3.0) for _, _, bound, _ in self._layout]
        pieces = [[] for _ in self._layout]
        for t, ((start, end), signs) in enumerate(zip(self._slices, self._signs())):
            flats = hadamard_project(z[start:end] * math.sqrt(1.0 / (end - start)), signs, self._tile_rows(t))
            for index, (_, shape, _, _) in enumerate(self._layout):
                piece = scales[index] * gains[t, index] * flats[index]
                if piece.requires_grad:
                    piece.register_hook(_unit_rms)  # per tile: each tile's tensors are balanced on their own slice
                entries = self._tile_entries[t][index]
                if entries is not None:  # the units this tile does not use stay zero
                    if entries.device != piece.device:
                        entries = self._tile_entries[t][index] = entries.to(piece.device)
                    piece = piece.new_zeros(math.prod(shape[1:])).index_copy(0, entries, piece)
                pieces[index].append(piece.reshape(shape[1:] if tiles > 1 else shape))
        return {name: torch.stack(pieces[index]) if tiles > 1 else pieces[index][0]
                for index, (name, _, _, _) in enumerate(self._layout)}

    def _signs(self):
        """Every tensor's sign diagonals, stacked once (hadamard_project's layout), not every step; for
        PER_TILE a list of them, one per tile (tile t's tensor l takes the hash's projection t·L + l)."""
        if self._signs_cache is None or self._signs_cache[0].device != self.z.device:
            count, seed = len(self._layout), self.config.proj_seed
            per_tile = [torch.cat([hadamard_signs(seed, t * count + i, n, end - start, self.z.device)
                                   for i, n in enumerate(self._tile_rows(t))])
                        for t, (start, end) in enumerate(self._slices)]
            self._signs_cache = per_tile
        return self._signs_cache if self.config.projection == PER_TILE else self._signs_cache[0]

    def _tile_rows(self, t: int) -> list:
        """Entries tile t's net generates for each tensor (each tile's share of it, or fewer: tile_widths)."""
        return [math.prod(shape) // len(self._slices) if entries is None else len(entries)
                for (_, shape, _, _), entries in zip(self._layout, self._tile_entries[t])]

    def _projections(self):
        if kernels.use_triton(self.z):
            return None  # the kernel regenerates P faster than a cached P streams from memory (kernels/hashrand.py)
        if self._cache is None:
            m = self.config.latent
            total = sum(math.prod(shape) for _, shape, _, _ in self._layout) * m * 4
            if total > CACHE_BYTES:
                return None
            self._cache = [hash_uniform(self.config.proj_seed, i, 0, math.prod(shape), m, self.z.device)
                           for i, (_, shape, _, _) in enumerate(self._layout)]
        return self._cache

    def spend_slack(self, steps: dict, fits) -> None:
        """Scale z up by 2**t and the gains down by t: the same network, with z's fixed step now finer
        relative to it. z is one tensor, so fill_budget can only refine it a whole table entry (4 % of
        the file); this bisects t in [0, 1/4) for the largest scale whose file still fits. The 8 Kodak
        centres at 0.25/0.5 bpp landed 1.8 %/2.1 % under the cap without it."""
        if not fits(steps):
            return
        z, gain = self.z.detach().clone(), self.gain.detach().clone()
        lo, hi = 0.0, 0.25
        for _ in range(SLACK_BISECTIONS):
            mid = (lo + hi) / 2
            self._rescaled(z, gain, mid)
            if fits(steps):
                lo = mid
            else:
                hi = mid
        self._rescaled(z, gain, lo)

    @torch.no_grad()
    def _rescaled(self, z, gain, t: float) -> None:
        self.z.copy_(z * 2.0 ** t)
        self.gain.copy_(gain - t)

    def network_params(self, transmitted: dict) -> dict:
        # The target net's tensors are generated once per forward/render, not per chunk.
        return self.generated(transmitted["z"], transmitted["gain"])

    def forward_with(self, params, coords):
        return siren_forward(self.config, params, coords, shape=self.spec.shape)

    def forward_grid_with(self, params, start, count):
        return siren_forward(self.config, params, grid=(self.spec.shape, start, count))
