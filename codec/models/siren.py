"""SIREN (Sitzmann et al. 2020) as a codec model, wire id 1.

sin(ω0 (W x + b)) layers, a linear output, optional positional encoding of the input
(Strümpler et al. 2022). Every weight and bias is transmitted.
"""
import dataclasses
import math
from dataclasses import dataclass, field

import torch

from inrcodec import kernels
from inrcodec.config import TAIL, ModelConfig
from inrcodec.models.base import LayoutTensors, Representation
from inrcodec.models.canonical import canonicalize_sine_mlp
from inrcodec.models.tiling import (MAX_TILES, Tiling, detail_weights, largest_tile, tile_count, tile_detail,
                                    tiled_sine_mlp)
from inrcodec.registry import MODELS
from inrcodec.signal import axis_coords

MAX_WIDTH = 1024
MAX_LAYERS = 16
MAX_PE_FREQS = 16
MIN_SIZED_WIDTH = 8     # rate control never sizes a network narrower than this
MAX_SIZED_WIDTH = 512
MAX_PARAMS = 1 << 24    # a header asking for more (wide, deep and tiled) is refused before allocating
# Images are tiled (tiling.py) while every tile keeps at least this many parameters, at most 2×2.
# Whole kodim05 float fits at equal time: 2×2 won at the 0.25 and 0.5 bpp budgets (16 k / 32 k parameters:
# 22.25 -> 22.50 dB, 24.16 -> 24.36), 4×4 lost there (22.10, 24.22; 1 k and 2 k per tile). 4×4 won the float
# fit at 1 bpp (26.85 -> 27.76) but lost once quantized: 8 Kodak files at 1 bpp, 4×4 against 2×2 lost on 7 of 8
# (kodim05 26.89 against 27.16 dB, kodim23 36.39 against 37.64; won kodim15, 34.26 against 34.09;
# bench/results/rd_image_cpu_tiles.md and rd_image_tiles4_1bpp.md). 3×3 lost to 2×2 on kodim05 and kodim19 at
# 0.5 and 1 bpp (by 0.08-0.26 dB; rd_image_tiles3.md).
MIN_TILE_PARAMS = 3500
MAX_AUTO_TILES = 2      # per axis, when the encoder chooses; --tiles may ask for up to MAX_TILES
MIN_TILE_SIDE = 32      # samples along each axis of a tile
MAX_OVERLAP = 64
# The encoder's overlap for tiled nets (samples each side of a border; see Tiling). Whole kodim05 / kodim23
# at 0.25 bpp, 2×2 tiles: the decoded step across the borders was 20.3 / 8.4 levels edge to edge (the
# original's 13.3 / 5.2), 6.8 / 3.4 with overlap 4 and 7.1 / 3.5 with 8, at 22.20 / 32.02, 22.10 / 32.11 and
# 22.17 / 32.06 dB. Over the 8 Kodak images overlap 8 left PSNR where it was (26.38 / 28.48 / 30.99 dB at
# 0.25 / 0.5 / 1 bpp against 26.37 / 28.49 / 30.99), for about 10 s more per encode (6-11 %: finding each
# point's tiles and blending costs every step).
TILE_OVERLAP = 8
# Image nets up to SMALL_BATCH_MAX_WIDTH fit on 8,192-point batches for twice the steps (Siren.schedule): the
# same arithmetic as 16,384-point batches, and the fit gains from the steps, not from the points per step.
# Whole kodim05 / kodim23 at 0.5 bpp (width 46, 2×2 tiles, one thread each, two at a time, 2026-12-07): 16k ×
# 4,000 steps 24.41 / 35.03 dB; 8k × 8,000 24.66 / 35.49 in 274 s; 16k × 8,000 24.59 / 35.41 in 520-1,008 s;
# 4k × 16,000 23.96 / 35.52 in 320 s.
SMALL_BATCH = 8192
# Nets wider than SMALL_BATCH_FULL_LR_WIDTH take SMALL_BATCH_WIDE_LR times the learning rate on them: at 1 bpp
# (width 66) the full rate stalled kodim13 at 20 dB for over 2,000 steps (23.51 dB in the end against 25.23
# with 16k; seeds 1 and 2: 23.09, 22.54), as larger rates stall wide nets. At 0.7 × 1e-3 the 8 Kodak images
# at 1 bpp gave 28.76 / 36.96 / 27.27 / 26.60 / 25.24 / 34.29 / 31.99 / 38.00 dB (kodim01 / 03 / 05 / 08 / 13 /
# 15 / 19 / 23; mean 31.14; bench/results/rd_image_cpu_wide8k_1.md) against 16k's 28.73 / 36.51 / 27.09 /
# 26.53 / 25.23 / 34.18 / 31.95 / 37.69 (30.99); 5e-4 gave kodim13 25.13. Narrow nets keep the full rate: 0.7 ×
# cost width 46 at 0.5 bpp 0.22 / 0.30 dB (kodim05 / kodim23: 24.44 / 35.19). Nets wider than
# SMALL_BATCH_MAX_WIDTH keep 16k batches. It was 66 (a Kodak image at 1 bpp) until 0.5.9, whose sizing makes
# that 68 (sorted biases count less; tiled widths step by 1); the widths compared are typical_width's, so
# tiles by detail 60-80 wide at 1 bpp count as 68. Nothing wider than 66 was measured on its own.
SMALL_BATCH_MAX_WIDTH = 70
SMALL_BATCH_FULL_LR_WIDTH = 48
SMALL_BATCH_WIDE_LR = 0.7
# Tiles of an image get parameters in proportion to their detail (tiling.tile_detail) ** DETAIL_POWER, each
# counted as at least DETAIL_FLOOR times the mean, as D'OH's latent slices are (doh.py). Single encodes on
# the 2-core CPU (one thread each, two at a time; equal tiles with sorted biases against detail widths):
# whole kodim19 at 0.25 bpp 27.57 dB (width 31) -> 28.28 with power 1 (widths 18 / 22 / 39 / 38), 27.93
# with power 0.5; kodim23 at 0.5 bpp 35.46 (width 46) -> 35.30 with power 1 (46 / 48 / 46 / 42), 35.43
# with 0.5 (kodim23 varies by about 0.15 dB from one encode to another).
DETAIL_POWER = 1.0
DETAIL_FLOOR = 0.25
# What a sorted sine bias costs against another parameter, for sizing: whole kodim05 at 0.5 bpp coded its
# 736 biases in about 2.5 bits each where the weights took about 6 (canonical.py).
SORTED_BIAS_COST = 0.45


@dataclass(frozen=True)
class SineNetConfig(ModelConfig):
    """The sine net's shape, shared by SIREN and D'OH's target net."""

    width: int = 96            # neurons per layer (rate control sizes it from the budget)
    layers: int = 4            # sine layers (the first takes the coordinates); a linear output follows
    omega0: float = 30.0       # sine frequency of the hidden layers (SIREN's ω0)
    omega0_first: float = 30.0  # sine frequency of the first layer: it sets the highest frequency the net starts with
    pe_freqs: int = 8          # positional encoding: sin/cos(2^k π x), k < pe_freqs, appended to x;
                               # 8 measured +1.5 dB on kodim08 and +0.8 dB on kodim23 at 0.5 bpp vs 0.
                               # The encoder lowers it for small signals (Siren.default_config).

    def validate(self):
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"width {self.width} outside 1..{MAX_WIDTH}")
        if not 1 <= self.layers <= MAX_LAYERS:
            raise ValueError(f"layers {self.layers} outside 1..{MAX_LAYERS}")
        if not 0 <= self.pe_freqs <= MAX_PE_FREQS:
            raise ValueError(f"pe_freqs {self.pe_freqs} outside 0..{MAX_PE_FREQS}")
        for name in ("omega0", "omega0_first"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1000):
                raise ValueError(f"{name} {value} outside (0, 1000]")


@dataclass(frozen=True)
class SirenConfig(SineNetConfig):
    # Tiles per axis, one net each (tiling.py); 1 = one net for the whole grid (and every file before 0.5).
    tiles: int = field(default=1, metadata={TAIL: True})
    # Samples each tile's net reaches past its block, blended across the border (tiling.Tiling);
    # 0 = tiles meet edge to edge (every file before 0.5.1).
    overlap: int = field(default=0, metadata={TAIL: True})
    # 1: each sine layer's units are in canonical order (canonical.py) and its biases are coded as steps
    # from the one before; 0: biases coded as they are (every file before 0.5.9).
    sorted_units: int = field(default=0, metadata={TAIL: True})
    # Units each tile uses, in tile order, each at most `width` (the tensors' size); empty = every tile
    # uses `width` (every file before 0.5.9). The encoder gives busier tiles more (detail_widths).
    tile_widths: tuple = field(default=(), metadata={TAIL: True})

    def validate(self):
        super().validate()
        validate_tiling(self)
        if self.sorted_units not in (0, 1):
            raise ValueError(f"sorted_units {self.sorted_units} is not 0 or 1")
        if self.tile_widths and (len(self.tile_widths) > MAX_TILES ** 3
                                 or not all(1 <= w <= self.width for w in self.tile_widths)):
            raise ValueError(f"tile widths {self.tile_widths[:8]}... must lie in 1..{self.width}")


def validate_tiling(config) -> None:
    """The tile fields' bounds, shared by SIREN's config and D'OH's (a hostile header asks for more)."""
    if not 1 <= config.tiles <= MAX_TILES:
        raise ValueError(f"tiles {config.tiles} outside 1..{MAX_TILES}")
    if not 0 <= config.overlap <= MAX_OVERLAP:
        raise ValueError(f"overlap {config.overlap} outside 0..{MAX_OVERLAP}")


def default_overlap(tiles: int) -> int:
    """The encoder's overlap for a net of `tiles` per axis (one net has no borders)."""
    return TILE_OVERLAP if tiles > 1 else 0


def retiled(config, spec, tiles: int, fixed=frozenset()):
    """`config` with `tiles` per axis, and the fields that follow from the tile count (pe_freqs, overlap)
    at the encoder's defaults for it, except those in `fixed` (set by the user)."""
    derived = {"pe_freqs": default_pe_freqs(spec, tiles), "overlap": default_overlap(tiles)}
    return dataclasses.replace(config, tiles=tiles, **{k: v for k, v in derived.items() if k not in fixed})


def tiles_of(config, spec) -> int:
    """How many nets the config has on this grid (configs without tiles have one)."""
    return tile_count(spec.shape, getattr(config, "tiles", 1))


def layer_omega(config: SirenConfig, layer: int) -> float:
    return config.omega0_first if layer == 0 else config.omega0


def siren_layout(config: SirenConfig, spec) -> list:
    """[(name, shape, init bound, sensitivity)] of every tensor, in wire order.

    Bounds are SIREN's init: first layer U(-1/n, 1/n), later layers U(-sqrt(6/n)/ω0, ...), biases
    U(-1/sqrt(n), ...). Sensitivity: sine layers see ω0·W and ω0·b, so an error there is ω0 times
    larger than in the linear output. A tiled config's tensors have a leading axis of one entry per tile.
    """
    in_features = len(spec.shape) * (1 + 2 * config.pe_freqs)
    w = config.width
    sizes = [in_features] + [w] * config.layers
    tiles = tiles_of(config, spec)
    lead = (tiles,) if tiles > 1 else ()
    layout = []
    for i in range(config.layers):
        fan_in, omega = sizes[i], layer_omega(config, i)
        bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / omega
        layout.append((f"w{i}", lead + (w, fan_in), bound, 1.0 / omega))
        layout.append((f"b{i}", lead + (w,), 1.0 / math.sqrt(fan_in), 1.0 / omega))
    layout.append(("w_out", lead + (spec.channels, w), math.sqrt(6.0 / w) / config.omega0, 1.0))
    layout.append(("b_out", lead + (spec.channels,), 1.0 / math.sqrt(w), 1.0))
    return layout


def siren_forward(config: SirenConfig, params: dict, coords=None, grid=None, shape=None) -> torch.Tensor:
    """The SIREN on `coords` (points, dims) of a grid of `shape`, or on the flat grid points grid =
    (shape, start, count): the fused kernel on CUDA (kernels/sine_mlp.py), the torch reference
    elsewhere; a tiled config through tiling.tiled_sine_mlp (batched torch matmuls on every device)."""
    hidden = range(1, config.layers)
    w0 = params["w0"]
    lead = tuple(w0.shape[:-2])  # (tiles,) for a tiled config
    wh = torch.stack([params[f"w{i}"] for i in hidden], dim=len(lead)) if config.layers > 1 else \
        w0.new_empty(*lead, 0, *w0.shape[-2:])
    bh = torch.stack([params[f"b{i}"] for i in hidden], dim=len(lead)) if config.layers > 1 else \
        w0.new_empty(*lead, 0, w0.shape[-2])
    if lead:
        shape, start, count = grid if grid is not None else (shape, 0, None)
        if coords is None:
            coords = axis_coords(shape, torch.arange(start, start + count, device=w0.device))
        tiling = Tiling(shape, config.tiles, config.overlap)
        return tiled_sine_mlp(tiling, coords, w0, params["b0"], wh, bh, params["w_out"], params["b_out"],
                              config.omega0_first, config.omega0, config.pe_freqs,
                              getattr(config, "tile_widths", ()))
    shape, start, count = grid if grid is not None else (None, 0, None)
    return kernels.siren_mlp(coords, w0, params["b0"], wh, bh, params["w_out"], params["b_out"],
                             config.omega0_first, config.omega0, config.pe_freqs, shape, start, count)


def siren_params(config: SirenConfig, spec) -> int:
    """Parameters the file holds (a tile using fewer units than the tensors have holds fewer)."""
    widths = getattr(config, "tile_widths", ())
    if widths:
        return sum(siren_params(dataclasses.replace(config, width=w, tiles=1, tile_widths=()), spec) for w in widths)
    return sum(math.prod(shape) for _, shape, _, _ in siren_layout(config, spec))


def sizing_params(config: SirenConfig, spec) -> float:
    """Parameters as sizing counts them: a sorted, delta-coded sine bias (canonical.py) costs about
    SORTED_BIAS_COST of what another parameter does."""
    params = siren_params(config, spec)
    if not config.sorted_units:
        return params
    widths = config.tile_widths or [config.width] * tiles_of(config, spec)
    return params - (1.0 - SORTED_BIAS_COST) * config.layers * sum(widths)


def detail_widths(config: SirenConfig, spec, detail: list) -> tuple:
    """Per-tile widths holding about the parameters of `config`'s equal tiles, shared in proportion to
    detail ** DETAIL_POWER (a tile's detail counted as at least DETAIL_FLOOR times the mean)."""
    one = dataclasses.replace(config, tiles=1, tile_widths=())
    total = sizing_params(dataclasses.replace(config, tile_widths=()), spec)
    weights = detail_weights(detail, DETAIL_POWER, DETAIL_FLOOR)
    widths = []
    for weight in weights:
        share = total * weight / sum(weights)
        width = MIN_SIZED_WIDTH
        while width < MAX_SIZED_WIDTH and sizing_params(dataclasses.replace(one, width=width + 1), spec) <= share:
            width += 1
        widths.append(width)
    return tuple(widths)


def held_entries(config, layout) -> dict:
    """{name: bool mask of the tensor's shape} of the entries a tiled net's file holds where tiles use fewer
    units than the tensors have (config.tile_widths; empty: every entry). A tile's units are the first of
    each layer; b_out has no mask (every tile has every output)."""
    if not config.tile_widths:
        return {}
    units = torch.arange(config.width) < torch.tensor(config.tile_widths)[:, None]  # (tiles, width)
    held = {}
    for name, shape, _, _ in layout:
        if name == "b_out":
            continue
        if name.startswith("b"):
            held[name] = units
        elif name == "w0":
            held[name] = units[:, :, None].expand(shape)  # rows: the tile's units
        elif name == "w_out":
            held[name] = units[:, None, :].expand(shape)  # columns: the tile's units
        else:
            held[name] = units[:, :, None] & units[:, None, :]
    return {name: mask.contiguous() for name, mask in held.items()}


def typical_width(config) -> float:
    """The width of equal tiles with the same parameters, about (what the schedule's width bands mean)."""
    widths = config.tile_widths
    return math.sqrt(sum(w * w for w in widths) / len(widths)) if widths else config.width


def default_pe_freqs(spec, tiles: int = 1) -> int:
    """Frequencies above the grid's Nyquist rate (period under 2 samples) only fit noise:
    a 768-wide image takes all 8 default frequencies, a 31-wide one 3. A tile counts as its own
    grid (its coordinates span [-1, 1]): a 192-wide tile takes 6, the same finest period in samples."""
    nyquist = max(0, int(math.log2(max(largest_tile(spec.shape, tiles)))) - 1)
    return min(SineNetConfig.pe_freqs, nyquist)


def image_tiles(spec, target_params: float) -> int:
    """Tiles per axis for an image net of about target_params: doubled up to MAX_AUTO_TILES while
    every tile keeps MIN_TILE_PARAMS parameters and MIN_TILE_SIDE samples a side. Audio and video
    stay untiled (their bench has not measured tiles)."""
    tiles = 1
    while (spec.kind == "image" and tiles * 2 <= MAX_AUTO_TILES and min(spec.shape) // (tiles * 2) >= MIN_TILE_SIDE
           and target_params / tile_count(spec.shape, tiles * 2) >= MIN_TILE_PARAMS):
        tiles *= 2
    return tiles


@MODELS.register("siren", 1)
class Siren(LayoutTensors, Representation):
    """Every weight and bias is transmitted; the width is the size knob."""

    config_class = SirenConfig

    def __init__(self, config: SirenConfig, spec, generator=None):
        super().__init__(config, spec)
        config.validate()
        layout = siren_layout(config, spec)
        if sum(math.prod(shape) for _, shape, _, _ in layout) > MAX_PARAMS:
            raise ValueError(f"a net over the limit of {MAX_PARAMS} parameters")
        if config.tile_widths and len(config.tile_widths) != tiles_of(config, spec):
            raise ValueError(f"{len(config.tile_widths)} tile widths for {tiles_of(config, spec)} tiles")
        self._init_layout(layout, generator)
        # Where some tiles use fewer units: each tensor's entries that the file holds, as a buffer "_held_<name>".
        self._held_names = ()
        for name, held in held_entries(config, layout).items():
            self.register_buffer(f"_held_{name}", held, persistent=False)
            self._held_names += (name,)
            with torch.no_grad():
                getattr(self, name).mul_(held)

    @classmethod
    def default_config(cls, spec, **overrides):
        overrides = {"sorted_units": 1, **overrides}
        if spec.kind == "image" and not {"width", "tiles"} & overrides.keys():
            # The default width's parameters, spent on tiles where the image is large enough.
            untiled = SirenConfig(**{"pe_freqs": default_pe_freqs(spec), **overrides})
            return cls.sized_config(untiled, spec, siren_params(untiled, spec), frozenset(overrides))
        return retiled(SirenConfig(**overrides), spec, overrides.get("tiles", 1), frozenset(overrides))

    @classmethod
    def schedule_factor(cls, config, spec) -> float:
        """K tiles cost about 1/K of one net's arithmetic per step (tiling.py); the default schedule
        takes √K times the steps, still less time than one net (kodim05 float fit at 1 bpp: 5,000 steps
        of 2×2 tiles in 203 s against 2,000 of one net in 215 s)."""
        return math.sqrt(tiles_of(config, spec))

    @classmethod
    def schedule(cls, fit_cfg, config, spec, device_type):
        """Image nets up to SMALL_BATCH_MAX_WIDTH fit on SMALL_BATCH points: on a CPU for as many more steps
        (the same arithmetic), on a GPU, where a step costs about the same at either batch, for the same
        steps; those wider than SMALL_BATCH_FULL_LR_WIDTH at SMALL_BATCH_WIDE_LR of the learning rate."""
        fit_cfg = super().schedule(fit_cfg, config, spec, device_type)
        points = min(fit_cfg.batch_points, spec.num_points)  # a batch past the grid's size is the whole grid
        width = typical_width(config)
        if spec.kind != "image" or width > SMALL_BATCH_MAX_WIDTH or not 0 < SMALL_BATCH < points:
            return fit_cfg
        more = points / SMALL_BATCH if device_type == "cpu" else 1.0
        lr = fit_cfg.lr * (SMALL_BATCH_WIDE_LR if width > SMALL_BATCH_FULL_LR_WIDTH else 1.0)
        return dataclasses.replace(fit_cfg, batch_points=SMALL_BATCH, steps=round(fit_cfg.steps * more), lr=lr)

    @classmethod
    def sized_config(cls, config, spec, target_params: float, fixed=frozenset()):
        config = retiled(config, spec, config.tiles if "tiles" in fixed else image_tiles(spec, target_params), fixed)
        if config.tile_widths:  # the user's: the tensors are as wide as the widest
            return dataclasses.replace(config, width=max(config.tile_widths))
        width = MIN_SIZED_WIDTH
        for w in range(MIN_SIZED_WIDTH, MAX_SIZED_WIDTH + 1, 1 if config.tiles > 1 else 2):
            if sizing_params(dataclasses.replace(config, width=w), spec) > target_params:
                break
            width = w
        return dataclasses.replace(config, width=width)

    @classmethod
    def content_config(cls, config, signal, fixed=frozenset()):
        """An image's tiles get widths by their detail (detail_widths), unless the user set a width."""
        if config.tile_widths and len(config.tile_widths) != tiles_of(config, signal.spec):
            raise ValueError(f"{len(config.tile_widths)} tile widths for {tiles_of(config, signal.spec)} tiles")
        if signal.spec.kind != "image" or tiles_of(config, signal.spec) == 1 or {"width", "tile_widths"} & fixed:
            return config
        widths = detail_widths(config, signal.spec, tile_detail(signal, config.tiles))
        return dataclasses.replace(config, width=max(widths), tile_widths=widths)

    @classmethod
    def resized(cls, config, factor: float):
        def scaled(w):
            return max(MIN_SIZED_WIDTH, min(MAX_SIZED_WIDTH, int(w * factor)))
        width = scaled(config.width)
        if width == config.width:
            return None
        widths = tuple(min(width, scaled(w)) for w in config.tile_widths)
        return dataclasses.replace(config, width=width, tile_widths=widths)

    @classmethod
    def knob(cls, config) -> tuple:
        return ("width", config.width)

    def transmitted_mask(self, name):
        return getattr(self, f"_held_{name}") if name in self._held_names else None

    def network_params(self, transmitted):
        # Units a tile does not use stay zero (their gradients too), whatever the optimizer or rounding does.
        return {name: p if name not in self._held_names else p * self.transmitted_mask(name)
                for name, p in transmitted.items()} if self._held_names else transmitted

    def delta_coded_names(self):
        return tuple(f"b{i}" for i in range(self.config.layers)) if self.config.sorted_units else ()

    def canonicalize(self, wrap: bool = True) -> None:
        """Biases wrapped and units sorted (canonical.py), when the config says the file keeps them so."""
        if not self.config.sorted_units:
            return
        layers = range(self.config.layers)
        canonicalize_sine_mlp([getattr(self, f"w{i}") for i in layers] + [self.w_out],
                              [getattr(self, f"b{i}") for i in layers],
                              [layer_omega(self.config, i) for i in layers], wrap,
                              self.transmitted_mask("b0"))

    def forward_with(self, params, coords):
        return siren_forward(self.config, params, coords, shape=self.spec.shape)

    def forward_grid_with(self, params, start, count):
        return siren_forward(self.config, params, grid=(self.spec.shape, start, count))
