"""F-INR (Vemuri, Büchner, Denzler, WACV 2026) as a codec model, wire id 4.

One small sine network per axis maps that axis' coordinate to a factor vector; a tensor
decomposition combines the factors into the signal:
- CP:     v[i, j, k, c] = Σ_r a_r(i) b_r(j) c_r(k) M[c, r]
- Tucker: v[i, j, k, c] = Σ_pqs G[p, q, s, c] a_p(i) b_q(j) c_s(k)
- TT:     v[i, j, k, c] = A(i)[1×R] · B(j)[R×R] · C(k)[R×channels]
Evaluating the whole grid costs one network per axis on that axis' n points plus a contraction,
so a full-grid training step is cheap, which is what makes the method fast for video. Audio is
folded into a (rows × fold) grid first so it has two axes.
"""
import dataclasses
import math
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from inrcodec.config import ModelConfig
from inrcodec.models.base import LayoutTensors, Representation
from inrcodec.models.siren import (MAX_PE_FREQS, SirenConfig, siren_forward, siren_layout)
from inrcodec.registry import MODELS

DECOMPOSITIONS = ("cp", "tucker", "tt")
MAX_RANK = 512
MAX_WIDTH = 512
MAX_LAYERS = 8
MAX_FOLD = 1 << 16
MAX_CORE = 1 << 22   # Tucker's core has rank**axes * channels entries: bound it for untrusted headers
MIN_SIZED_RANK = 4


@dataclass(frozen=True)
class FinrConfig(ModelConfig):
    decomp: int = 0            # index into DECOMPOSITIONS: 0 cp, 1 tucker, 2 tt
    rank: int = 32             # factors per axis (the size knob, with width following it)
    width: int = 64            # neurons of each per-axis network
    layers: int = 2            # sine layers of each per-axis network
    omega0: float = 30.0
    pe_freqs: int = 6          # positional encoding of each axis' coordinate (capped per signal)
    fold: int = 0              # audio only: samples per row of the folded grid (0 for images/video)

    def validate(self):
        if not 0 <= self.decomp < len(DECOMPOSITIONS):
            raise ValueError(f"decomposition {self.decomp} unknown (0 cp, 1 tucker, 2 tt)")
        if not 1 <= self.rank <= MAX_RANK:
            raise ValueError(f"rank {self.rank} outside 1..{MAX_RANK}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"width {self.width} outside 1..{MAX_WIDTH}")
        if not 1 <= self.layers <= MAX_LAYERS:
            raise ValueError(f"layers {self.layers} outside 1..{MAX_LAYERS}")
        if not 0 <= self.pe_freqs <= MAX_PE_FREQS:
            raise ValueError(f"pe_freqs {self.pe_freqs} outside 0..{MAX_PE_FREQS}")
        if not 0 <= self.fold <= MAX_FOLD:
            raise ValueError(f"fold {self.fold} outside 0..{MAX_FOLD}")
        if not (math.isfinite(self.omega0) and 0 < self.omega0 <= 1000):
            raise ValueError(f"omega0 {self.omega0} outside (0, 1000]")

    @property
    def decomposition(self) -> str:
        return DECOMPOSITIONS[self.decomp]


def grid_shape(config: FinrConfig, spec) -> tuple:
    """The axes the factor networks run along: the signal's grid, or audio folded into rows."""
    if config.fold:
        return (-(-spec.shape[0] // config.fold), config.fold)
    return tuple(spec.shape)


def factor_sizes(config: FinrConfig, axes: int, channels: int) -> list:
    """Outputs of each axis network."""
    r = config.rank
    if config.decomposition == "tt":
        ranks = [1] + [r] * (axes - 1) + [channels]
        return [ranks[k] * ranks[k + 1] for k in range(axes)]
    return [r] * axes


def finr_layout(config: FinrConfig, spec) -> list:
    """[(name, shape, init bound, sensitivity)] in wire order: each axis network, then the mixing tensor."""
    axes = len(grid_shape(config, spec))
    net = SirenConfig(width=config.width, layers=config.layers, omega0=config.omega0,
                      omega0_first=config.omega0, pe_freqs=config.pe_freqs)
    layout = []
    for k, outputs in enumerate(factor_sizes(config, axes, spec.channels)):
        axis_spec = SimpleNamespace(shape=(1,), channels=outputs)
        # Factors start near unit scale so products over axes neither vanish nor explode; a
        # tensor-train core after the first sums over `rank` terms, so it starts 1/sqrt(rank) smaller.
        out_bound = math.sqrt(6.0 / config.width)
        if config.decomposition == "tt" and k > 0:
            out_bound /= math.sqrt(config.rank)
        for name, shape, bound, scale in siren_layout(net, axis_spec):
            layout.append((f"a{k}_{name}", shape, out_bound if name == "w_out" else bound, scale))
    r, c = config.rank, spec.channels
    if config.decomposition == "cp":
        layout.append(("mix", (c, r), math.sqrt(3.0 / r), 1.0))
    elif config.decomposition == "tucker":
        layout.append(("core", (r,) * axes + (c,), math.sqrt(3.0 / r ** axes), 1.0))
    layout.append(("bias", (c,), 0.0, 1.0))
    return layout


def core_entries(config: FinrConfig, spec) -> int:
    return sum(math.prod(shape) for _, shape, _, _ in finr_layout(config, spec))


@MODELS.register("finr", 4)
class Finr(LayoutTensors, Representation):
    """Per-axis sine networks combined by CP, Tucker or tensor-train; rank (and width) is the knob."""

    config_class = FinrConfig
    # The whole grid is one cheap step, so fit full-batch. Video (carphone, 16 frames, Tucker rank 24,
    # 1000 steps): lr 1e-3 gave Y 27.2 dB at 0.59 bpp, 3e-3 28.2 dB at 0.63, 1e-2 28.4 dB at 0.72 (the
    # same RD curve). Speech (one 16,384-sample chunk, CP rank 32): 3e-3 gave SNR 7.6 dB at 106 kbit/s,
    # 1e-2 12.2 dB at 114 kbit/s.
    fit_defaults = {"batch_points": 0, "lr": 3e-3}
    fit_defaults_by_kind = {"audio": {"lr": 1e-2}}
    # Measured per-tensor steps (stepalloc) gave carphone (16 frames, 0.3 bpp, 2000 steps) 27.19 dB
    # against 27.18 with step_scales(), and its point-wise probes took the encode from 42 s to 70 s.
    measured_steps = False

    def __init__(self, config: FinrConfig, spec, generator=None):
        super().__init__(config, spec)
        config.validate()
        if config.fold and spec.kind != "audio":
            raise ValueError("fold applies to audio only")
        if config.decomposition == "tucker" and config.rank ** len(grid_shape(config, spec)) * spec.channels \
                > MAX_CORE:
            raise ValueError(f"a Tucker core of rank {config.rank} exceeds {MAX_CORE} entries")
        self._init_layout(finr_layout(config, spec), generator)
        self._net = SirenConfig(width=config.width, layers=config.layers, omega0=config.omega0,
                                omega0_first=config.omega0, pe_freqs=config.pe_freqs)

    # -- configuration ------------------------------------------------------------------------
    @classmethod
    def default_config(cls, spec, **overrides):
        if spec.kind == "video":
            # carphone, 16 frames, 1000 steps: Tucker rank 24 gave Y 28.2 dB at 0.63 bpp, CP rank 64
            # 26.5 dB at 0.51 bpp, TT rank 24 25.7 dB at 0.75 bpp (lr 1e-3; it diverges at 3e-3).
            overrides.setdefault("decomp", DECOMPOSITIONS.index("tucker"))
        if spec.kind == "audio":
            # About square: a 16,384-sample chunk folds into 128 rows of 128.
            overrides.setdefault("fold", min(MAX_FOLD, 1 << max(1, round(math.log2(max(2, spec.shape[0])) / 2))))
        config = FinrConfig(**overrides)
        if "pe_freqs" not in overrides:
            # Per axis: frequencies above the longest axis' Nyquist rate only fit noise.
            longest = max(grid_shape(config, spec))
            config = dataclasses.replace(config, pe_freqs=min(config.pe_freqs, max(0, int(math.log2(longest)) - 1)))
        return config

    @classmethod
    def sized_config(cls, config, spec, target_params: float, fixed=frozenset()):
        best = dataclasses.replace(config, rank=MIN_SIZED_RANK, **cls._tied_width(MIN_SIZED_RANK, fixed))
        for rank in range(MIN_SIZED_RANK, MAX_RANK + 1, 2):
            candidate = dataclasses.replace(config, rank=rank, **cls._tied_width(rank, fixed))
            try:
                if core_entries(candidate, spec) > target_params or \
                        (candidate.decomposition == "tucker" and
                         rank ** len(grid_shape(candidate, spec)) * spec.channels > MAX_CORE):
                    break
            except ValueError:
                break
            best = candidate
        return best

    @staticmethod
    def _tied_width(rank: int, fixed) -> dict:
        # A factor matrix from a width-w network has rank <= w, so the width follows the rank.
        return {} if "width" in fixed else {"width": max(16, min(MAX_WIDTH, rank))}

    @classmethod
    def resized(cls, config, factor: float):
        rank = max(MIN_SIZED_RANK, min(MAX_RANK, int(config.rank * factor)))
        if rank == config.rank:
            return None
        width = config.width if config.width != max(16, config.rank) else max(16, min(MAX_WIDTH, rank))
        return dataclasses.replace(config, rank=rank, width=width)

    @classmethod
    def knob(cls, config) -> tuple:
        return ("rank", config.rank)

    # -- evaluation -----------------------------------------------------------------------------
    def _factors(self, params: dict, coords_per_axis: list) -> list:
        factors = []
        for k, coords in enumerate(coords_per_axis):
            prefix = f"a{k}_"
            net = {name[len(prefix):]: p for name, p in params.items() if name.startswith(prefix)}
            factors.append(siren_forward(self._net, net, coords[:, None]))
        return factors

    def _axis_grids(self, device) -> list:
        return [torch.linspace(-1.0, 1.0, n, device=device) if n > 1 else torch.zeros(1, device=device)
                for n in grid_shape(self.config, self.spec)]

    def grid_values(self) -> torch.Tensor:
        return self.grid_forward(self.effective_params())

    def grid_forward(self, params: dict) -> torch.Tensor:
        """Values on the whole grid, (points, channels), in the signal's row-major order."""
        factors = self._factors(params, self._axis_grids(params["bias"].device))
        values = self._contract_grid(params, factors)
        c = self.spec.channels
        return values.reshape(-1, c)[:self.spec.num_points] + params["bias"]

    def _contract_grid(self, params, factors) -> torch.Tensor:
        r, c = self.config.rank, self.spec.channels
        kind = self.config.decomposition
        if kind == "cp":
            # Khatri-Rao product of all axes but the last, then one matmul with (last ⊙ mix):
            # out[..., x, c] = Σ_r P[..., r] F_last[x, r] M[c, r].
            prefix = factors[0]
            for f in factors[1:-1]:
                prefix = (prefix[:, None, :] * f[None, :, :]).reshape(-1, r)
            if len(factors) == 1:
                return prefix @ params["mix"].t()
            last = (factors[-1][:, None, :] * params["mix"][None, :, :]).reshape(-1, r)  # (x·c, r)
            return prefix @ last.t()
        if kind == "tucker":
            out = params["core"]  # (r, ..., r, c): contract one axis at a time, leading mode first
            for f in factors:
                out = torch.tensordot(f, out, dims=([1], [0]))  # (n, r, ..., c) -> rotate n to the end
                out = out.movedim(0, -1)
            # now (c, n_0, ..., n_k): move the channels last
            return out.movedim(0, -1)
        # tensor train: carry (points so far, r) and multiply by each axis' (n, r, r') cores
        ranks = [1] + [r] * (len(factors) - 1) + [c]
        carry = factors[0].reshape(-1, ranks[1])
        for k, f in enumerate(factors[1:], start=1):
            cores = f.reshape(-1, ranks[k], ranks[k + 1])                       # (n, r, r')
            carry = torch.einsum("pa,nab->pnb", carry, cores).reshape(-1, ranks[k + 1])
        return carry

    def forward_with(self, params, coords):
        """Values at arbitrary points (for mini-batch fitting); the grid path is the fast one."""
        per_axis = self._point_axis_coords(coords)
        factors = self._factors(params, per_axis)
        kind = self.config.decomposition
        r, c = self.config.rank, self.spec.channels
        if kind == "cp":
            prod = factors[0]
            for f in factors[1:]:
                prod = prod * f
            out = prod @ params["mix"].t()
        elif kind == "tucker":
            out = params["core"].reshape(-1, c)                                 # (r^axes, c)
            outer = factors[0]
            for f in factors[1:]:
                outer = (outer[:, :, None] * f[:, None, :]).flatten(1)
            out = outer @ out
        else:
            ranks = [1] + [r] * (len(factors) - 1) + [c]
            carry = factors[0].reshape(-1, 1, ranks[1])
            for k, f in enumerate(factors[1:], start=1):
                carry = torch.bmm(carry, f.reshape(-1, ranks[k], ranks[k + 1]))
            out = carry.reshape(-1, c)
        return out + params["bias"]

    def _point_axis_coords(self, coords) -> list:
        if not self.config.fold:
            return [coords[:, k] for k in range(coords.shape[1])]
        # Audio: back from the 1-D coordinate to (row, column) of the folded grid.
        n = self.spec.shape[0]
        index = torch.round((coords[:, 0] + 1.0) * (0.5 * (n - 1))).long() if n > 1 else \
            torch.zeros(len(coords), dtype=torch.long, device=coords.device)
        rows, cols = grid_shape(self.config, self.spec)
        return [_to_unit(index // cols, rows), _to_unit(index % cols, cols)]

    @torch.no_grad()
    def render(self, chunk_points: int = 1 << 16) -> torch.Tensor:
        return self.grid_forward(self.effective_params())


def _to_unit(index: torch.Tensor, n: int) -> torch.Tensor:
    return index.float() * (2.0 / (n - 1)) - 1.0 if n > 1 else torch.zeros_like(index, dtype=torch.float32)
