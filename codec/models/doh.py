"""D'OH (Gordon et al., ACCV 2024) as a codec model, wire id 2: a decoder-only random hypernetwork.

A latent z of length m is mapped to every weight and bias of a target SIREN by fixed random
projections, θ_l = s_l · P_l z. Only z is transmitted; P_l comes from the counter-based hash in
kernels/reference.py (seed, tensor index, row, column), so the decoder regenerates it exactly.
P_l has entries U(-1, 1) (variance 1/3) and z starts at N(0, 3/m), so P_l z starts with unit
variance; with s_l = SIREN's init bound / sqrt(3) the generated weights start with SIREN's initial
variance. m is the rate knob: the footprint moves continuously while the target net stays fixed.
"""
import dataclasses
import math
from dataclasses import dataclass

import torch

from inrcodec.kernels.reference import hash_uniform, project
from inrcodec.models.base import Representation
from inrcodec.models.siren import (MAX_SIZED_WIDTH, SirenConfig, default_pe_freqs, siren_forward,
                                   siren_layout, siren_params)
from inrcodec.registry import MODELS

MAX_LATENT = 1 << 20
MIN_LATENT = 16
TARGET_OVER_LATENT = 2.0  # the target net gets about this many weights per latent entry when sized
# Fitting keeps the generated projections in memory up to this size; beyond it every step regenerates
# them tile by tile (hashing 16 M entries costs about 2 s on 2 CPU cores, a cached matmul far less).
CACHE_BYTES = 2 << 30
# Decoding regenerates every projection entry once: bound that work for untrusted headers.
MAX_PROJECTION_ENTRIES = 1 << 36


@dataclass(frozen=True)
class DohConfig(SirenConfig):
    latent: int = 4096         # length of the transmitted latent z (the rate knob)
    proj_seed: int = 0         # seed of the hashed projections

    def validate(self):
        super().validate()
        if not MIN_LATENT <= self.latent <= MAX_LATENT:
            raise ValueError(f"latent {self.latent} outside {MIN_LATENT}..{MAX_LATENT}")
        if not 0 <= self.proj_seed < 1 << 32:
            raise ValueError(f"proj_seed {self.proj_seed} outside 0..2**32-1")


@MODELS.register("doh", 2)
class Doh(Representation):
    config_class = DohConfig
    # Adam on z needs a larger step than on SIREN weights: 1e-2 beat 3e-3 (+0.4 dB) and 3e-2 diverged
    # on a 31×17 test image (latent 512, 600 steps); REFERENCE.md saw the same on Kodak.
    fit_defaults = {"lr": 1e-2}

    def __init__(self, config: DohConfig, spec, generator=None):
        super().__init__(config, spec)
        config.validate()
        self._layout = siren_layout(config, spec)
        entries = sum(math.prod(shape) for _, shape, _, _ in self._layout) * config.latent
        if entries > MAX_PROJECTION_ENTRIES:
            raise ValueError(f"projections of {entries} entries exceed the limit of {MAX_PROJECTION_ENTRIES}")
        z = torch.randn(config.latent, generator=generator) * math.sqrt(3.0 / config.latent)
        self.z = torch.nn.Parameter(z)
        self._cache = None  # projections kept for fitting when they fit in CACHE_BYTES

    @classmethod
    def default_config(cls, spec, **overrides):
        overrides.setdefault("pe_freqs", default_pe_freqs(spec))
        return DohConfig(**overrides)

    @classmethod
    def sized_config(cls, config, spec, target_params: float):
        latent = int(min(MAX_LATENT, max(MIN_LATENT, target_params)))
        return cls._with_latent(config, spec, latent)

    @classmethod
    def _with_latent(cls, config, spec, latent: int):
        """Set m, and widen the target net until it has TARGET_OVER_LATENT weights per latent entry."""
        width = config.width
        while width < MAX_SIZED_WIDTH and siren_params(dataclasses.replace(config, width=width), spec) \
                < TARGET_OVER_LATENT * latent:
            width += 2
        return dataclasses.replace(config, latent=latent, width=width)

    @classmethod
    def resized(cls, config, factor: float):
        latent = int(min(MAX_LATENT, max(MIN_LATENT, config.latent * factor)))
        return None if latent == config.latent else dataclasses.replace(config, latent=latent)

    @classmethod
    def knob(cls, config) -> tuple:
        return ("latent", config.latent)

    def transmitted_names(self):
        return ["z"]

    def step_scales(self):
        # Match SIREN's relative precision: a hidden sine weight's step is base/ω0 against an init
        # bound of sqrt(6/width)/ω0; z's init scale is sqrt(3/m).
        return {"z": math.sqrt(3.0 / self.config.latent) / math.sqrt(6.0 / self.config.width)}

    def generated(self, z: torch.Tensor) -> dict:
        """The target SIREN's tensors, θ_l = s_l · P_l z."""
        params = {}
        scales = [bound / math.sqrt(3.0) for _, _, bound, _ in self._layout]
        cache = self._projections() if self.training and torch.is_grad_enabled() else None
        for index, (name, shape, _, _) in enumerate(self._layout):
            rows = math.prod(shape)
            flat = cache[index] @ z if cache is not None else project(z, self.config.proj_seed, index, rows)
            params[name] = (scales[index] * flat).reshape(shape)
        return params

    def _projections(self):
        if self._cache is None:
            m = self.config.latent
            total = sum(math.prod(shape) for _, shape, _, _ in self._layout) * m * 4
            if total > CACHE_BYTES:
                return None
            self._cache = [hash_uniform(self.config.proj_seed, i, 0, math.prod(shape), m, self.z.device)
                           for i, (_, shape, _, _) in enumerate(self._layout)]
        return self._cache

    def effective_params(self) -> dict:
        # The target net's tensors are generated once per forward/render, not per chunk.
        return self.generated(super().effective_params()["z"])

    def forward_with(self, params, coords):
        return siren_forward(self.config, params, coords)
