"""SIREN (Sitzmann et al. 2020) as a codec model, wire id 1.

sin(ω0 (W x + b)) layers, a linear output, optional positional encoding of the input
(Strümpler et al. 2022). Every weight and bias is transmitted.
"""
import dataclasses
import math
from dataclasses import dataclass

import torch

from inrcodec import kernels
from inrcodec.config import ModelConfig
from inrcodec.models.base import LayoutTensors, Representation
from inrcodec.registry import MODELS

MAX_WIDTH = 1024
MAX_LAYERS = 16
MAX_PE_FREQS = 16
MIN_SIZED_WIDTH = 8     # rate control never sizes a network narrower than this
MAX_SIZED_WIDTH = 512


@dataclass(frozen=True)
class SirenConfig(ModelConfig):
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


def layer_omega(config: SirenConfig, layer: int) -> float:
    return config.omega0_first if layer == 0 else config.omega0


def siren_layout(config: SirenConfig, spec) -> list:
    """[(name, shape, init bound, sensitivity)] of every tensor, in wire order.

    Bounds are SIREN's init: first layer U(-1/n, 1/n), later layers U(-sqrt(6/n)/ω0, ...), biases
    U(-1/sqrt(n), ...). Sensitivity: sine layers see ω0·W and ω0·b, so an error there is ω0 times
    larger than in the linear output.
    """
    in_features = len(spec.shape) * (1 + 2 * config.pe_freqs)
    w = config.width
    sizes = [in_features] + [w] * config.layers
    layout = []
    for i in range(config.layers):
        fan_in, omega = sizes[i], layer_omega(config, i)
        bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / omega
        layout.append((f"w{i}", (w, fan_in), bound, 1.0 / omega))
        layout.append((f"b{i}", (w,), 1.0 / math.sqrt(fan_in), 1.0 / omega))
    layout.append(("w_out", (spec.channels, w), math.sqrt(6.0 / w) / config.omega0, 1.0))
    layout.append(("b_out", (spec.channels,), 1.0 / math.sqrt(w), 1.0))
    return layout


def siren_forward(config: SirenConfig, params: dict, coords=None, grid=None) -> torch.Tensor:
    """The SIREN on `coords` (points, dims), or on the flat grid points grid = (shape, start, count):
    the fused kernel on CUDA (kernels/sine_mlp.py), the torch reference elsewhere."""
    hidden = range(1, config.layers)
    w0 = params["w0"]
    wh = torch.stack([params[f"w{i}"] for i in hidden]) if config.layers > 1 else w0.new_empty(0, *w0.shape)
    bh = torch.stack([params[f"b{i}"] for i in hidden]) if config.layers > 1 else w0.new_empty(0, w0.shape[0])
    shape, start, count = grid if grid is not None else (None, 0, None)
    return kernels.siren_mlp(coords, w0, params["b0"], wh, bh, params["w_out"], params["b_out"],
                             config.omega0_first, config.omega0, config.pe_freqs, shape, start, count)


def siren_params(config: SirenConfig, spec) -> int:
    return sum(math.prod(shape) for _, shape, _, _ in siren_layout(config, spec))


def default_pe_freqs(spec) -> int:
    """Frequencies above the grid's Nyquist rate (period under 2 samples) only fit noise:
    a 768-wide image takes all 8 default frequencies, a 31-wide one 3."""
    nyquist = max(0, int(math.log2(max(spec.shape))) - 1)
    return min(SirenConfig.pe_freqs, nyquist)


@MODELS.register("siren", 1)
class Siren(LayoutTensors, Representation):
    """Every weight and bias is transmitted; the width is the size knob."""

    config_class = SirenConfig

    def __init__(self, config: SirenConfig, spec, generator=None):
        super().__init__(config, spec)
        config.validate()
        self._init_layout(siren_layout(config, spec), generator)

    @classmethod
    def default_config(cls, spec, **overrides):
        overrides.setdefault("pe_freqs", default_pe_freqs(spec))
        return SirenConfig(**overrides)

    @classmethod
    def sized_config(cls, config, spec, target_params: float, fixed=frozenset()):
        width = MIN_SIZED_WIDTH
        for w in range(MIN_SIZED_WIDTH, MAX_SIZED_WIDTH + 1, 2):
            if siren_params(dataclasses.replace(config, width=w), spec) > target_params:
                break
            width = w
        return dataclasses.replace(config, width=width)

    @classmethod
    def resized(cls, config, factor: float):
        width = max(MIN_SIZED_WIDTH, min(MAX_SIZED_WIDTH, int(config.width * factor)))
        return None if width == config.width else dataclasses.replace(config, width=width)

    @classmethod
    def knob(cls, config) -> tuple:
        return ("width", config.width)

    def forward_with(self, params, coords):
        return siren_forward(self.config, params, coords)

    def forward_grid_with(self, params, start, count):
        return siren_forward(self.config, params, grid=(self.spec.shape, start, count))
