"""SIREN (Sitzmann et al. 2020) as a codec model, wire id 1.

sin(ω0 (W x + b)) layers, a linear output, optional positional encoding of the input
(Strümpler et al. 2022). Every weight and bias is transmitted.
"""
import math
from dataclasses import dataclass

import torch

from inrcodec.config import ModelConfig
from inrcodec.models.base import Representation, uniform_
from inrcodec.registry import MODELS

MAX_WIDTH = 1024
MAX_LAYERS = 16
MAX_PE_FREQS = 16


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


def positional_encoding(coords: torch.Tensor, freqs: int) -> torch.Tensor:
    if freqs == 0:
        return coords
    scales = math.pi * (2.0 ** torch.arange(freqs, device=coords.device, dtype=coords.dtype))
    angles = (coords[:, :, None] * scales).flatten(1)
    return torch.cat([coords, torch.sin(angles), torch.cos(angles)], dim=1)


@MODELS.register("siren", 1)
class Siren(Representation):
    config_class = SirenConfig

    def __init__(self, config: SirenConfig, spec, generator=None):
        super().__init__(config, spec)
        config.validate()
        dims = len(spec.shape)
        in_features = dims * (1 + 2 * config.pe_freqs)
        w = config.width
        sizes = [in_features] + [w] * config.layers
        self._names = []
        for i in range(config.layers):
            fan_in = sizes[i]
            # SIREN init: first layer U(-1/n, 1/n), later layers U(-sqrt(6/n)/ω0, ...)
            bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / self.omega(i)
            self._add(f"w{i}", (w, fan_in), bound, generator)
            self._add(f"b{i}", (w,), 1.0 / math.sqrt(fan_in), generator)
        self._add("w_out", (spec.channels, w), math.sqrt(6.0 / w) / config.omega0, generator)
        self._add("b_out", (spec.channels,), 1.0 / math.sqrt(w), generator)

    @classmethod
    def default_config(cls, spec, **overrides):
        if "pe_freqs" not in overrides:
            # Frequencies above the grid's Nyquist rate (period under 2 samples) only fit noise:
            # a 768-wide image takes all 8, a 31-wide one 3.
            nyquist = max(0, int(math.log2(max(spec.shape))) - 1)
            overrides["pe_freqs"] = min(SirenConfig.pe_freqs, nyquist)
        return SirenConfig(**overrides)

    def _add(self, name, shape, bound, generator):
        p = torch.nn.Parameter(torch.empty(shape))
        uniform_(p, bound, generator)
        self.register_parameter(name, p)
        self._names.append(name)

    def transmitted_names(self):
        return list(self._names)

    def omega(self, layer: int) -> float:
        return self.config.omega0_first if layer == 0 else self.config.omega0

    def step_scales(self):
        # Sine layers see ω0·W and ω0·b, so an error there is ω0 times larger than in the linear output.
        scales = {}
        for name in self._names:
            scales[name] = 1.0 if name.endswith("_out") else 1.0 / self.omega(int(name[1:]))
        return scales

    def forward_with(self, params, coords):
        h = positional_encoding(coords, self.config.pe_freqs)
        for i in range(self.config.layers):
            h = torch.sin(self.omega(i) * torch.addmm(params[f"b{i}"], h, params[f"w{i}"].t()))
        return torch.addmm(params["b_out"], h, params["w_out"].t())
