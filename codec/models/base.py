"""Representation: the interface every method implements, and the quantized-parameter plumbing."""

import dataclasses

import torch
from torch import nn

from inrcodec.config import FitConfig
from inrcodec.quantize import dequantize, quantize, step_from_index
from inrcodec.ratecontrol import BITS_PER_PARAM
from inrcodec.signal import SignalSpec, axis_coords

# trim_to_fit moves at most this fraction of the entries; a larger overshoot takes a coarser step instead.
# Whole kodim05 at 0.5 bpp (D'OH, QAT lr 1e-3) was 11 bytes over 24,576; a coarser table entry for z and
# the slack re-spent gave 23.86 dB, trimming 24.11. On kodim19's 256×256 centre: 26.97 against 27.21 dB.
# 10 % since 0.5.2 (2 % before). The entries trimmed first sit nearest a rounding boundary: one at distance d
# from it goes from 0.5 - d to 0.5 + d steps of error, a small change while d is small. A coarser step
# re-rounds every entry and undoes QAT's fit to the grid. Whole kodim23 / kodim05 at 0.5 bpp with D'OH and 600 QAT steps overshot by more than 2 %
# took: 33.56 / 23.75 dB through the coarser step, and 33.79 / 24.11 trimmed within 10 % (33.81 / 24.14
# before either).
TRIM_MAX_FRACTION = 0.1


class Representation(nn.Module):
    """A network from coordinates (points, dims) in [-1, 1] to values (points, channels) in [-1, 1].

    Subclasses set `config_class`, build their parameters in __init__(config, spec), implement
    `forward_with(params, coords)` and `transmitted_names()`, and may override `step_scales()`.
    """

    config_class = None
    name = "?"
    wire_id = 0
    fit_defaults = {}  # FitConfig fields this method fits better with (the encoder's defaults only)
    fit_defaults_by_kind = {}  # {"audio": {...}}: further FitConfig fields for one kind of signal
    # Tensors that FitConfig.weight_decay pulls toward zero (none unless a method says so).
    decayed_names = ()
    # What the encoder's sizing assumes each transmitted parameter costs, per kind of signal, where a
    # method differs from ratecontrol.BITS_PER_PARAM.
    bits_per_param_by_kind = {}
    measured_steps = True  # the encoder may measure per-tensor steps (stepalloc) instead of step_scales()

    def __init__(self, config, spec: SignalSpec):
        super().__init__()
        self.config = config
        self.spec = spec
        self.step_indices = None  # {name: step table index} once quantization is on
        self.quant_mode = None    # None (float), "ste", "noise"
        self.tuned_scales = None  # {name: relative step} measured by the encoder (stepalloc), else step_scales()

    @classmethod
    def fit_config(cls, kind: str, **fields):
        """The FitConfig this method starts from for a kind of signal; `fields` override it."""
        return FitConfig(**{**cls.fit_defaults, **cls.fit_defaults_by_kind.get(kind, {}), **fields})

    @classmethod
    def schedule_factor(cls, config, spec: SignalSpec) -> float:
        """How many times the default steps this config's fit takes (a net that is cheaper per step
        gets more of them); 1 unless a method says why."""
        return 1.0

    @classmethod
    def schedule(cls, fit_cfg: FitConfig, config, spec: SignalSpec, device_type: str) -> FitConfig:
        """The default fit for this sized config on a device ("cpu", "cuda"): the steps times
        schedule_factor; a method may also change the batch."""
        factor = cls.schedule_factor(config, spec)
        return fit_cfg if factor == 1.0 else dataclasses.replace(fit_cfg, steps=round(fit_cfg.steps * factor))

    @classmethod
    def bits_per_param(cls, kind: str) -> float:
        """Bits per transmitted parameter that sizing aims at for this kind of signal."""
        return cls.bits_per_param_by_kind.get(kind, BITS_PER_PARAM)

    # -- what subclasses provide ------------------------------------------------------------
    @classmethod
    def default_config(cls, spec: SignalSpec, **overrides):
        """The config for this signal when the user sets only `overrides` (the rest may depend on spec)."""
        return cls.config_class(**overrides)

    @classmethod
    def sized_config(cls, config, spec: SignalSpec, target_params: float, fixed=frozenset()):
        """`config` with its size knob set so the transmitted parameters are about target_params;
        fields named in `fixed` were set by the user and must not move."""
        raise NotImplementedError

    @classmethod
    def content_config(cls, config, signal, fixed=frozenset()):
        """The sized `config` adjusted to what the signal holds (fields in `fixed` stay); by default as is."""
        return config

    @classmethod
    def resized(cls, config, factor: float):
        """`config` with its size knob scaled by `factor`, or None when it cannot move further."""
        raise NotImplementedError

    @classmethod
    def knob(cls, config) -> tuple:
        """(name, value) of the size knob, for logs and rate-control reports."""
        raise NotImplementedError

    def transmitted_names(self) -> list:
        raise NotImplementedError

    def forward_with(self, params: dict, coords: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_grid_with(self, params: dict, start: int, count: int) -> torch.Tensor:
        """The values at flat grid indices start .. start+count-1; models whose kernel makes the
        coordinates itself override this."""
        index = torch.arange(start, start + count, device=next(self.parameters()).device)
        return self.forward_with(params, axis_coords(self.spec.shape, index))

    def step_scales(self) -> dict:
        """Relative sensitivity: a tensor's step is base_step * scale (smaller = finer)."""
        return {name: 1.0 for name in self.transmitted_names()}

    def network_params(self, transmitted: dict) -> dict:
        """The tensors forward_with takes, made from the transmitted ones (the same here)."""
        return transmitted

    def spend_slack(self, steps: dict, fits) -> None:
        """Use bytes that the step table's 2**(1/4) spacing left under a cap, without changing the
        network the parameters describe. `fits(steps) -> bool` packs at these per-tensor steps and
        compares with the cap. Methods with a free scale override it; by default nothing moves."""

    def trim_to_fit(self, steps: dict, fits, max_fraction: float = TRIM_MAX_FRACTION) -> bool:
        """Round the fewest entries one step toward zero so that the file fits, keeping every step.

        After quantization-aware fitting the weights sit where the net expects them on the step grid,
        and the entries nearest a rounding boundary are the ones rounding flipped back and forth.
        Moving those toward zero (a smaller symbol) leaves the grid alone; a coarser step or a rescale
        would move every entry. True when at most `max_fraction` of the entries had to move for the
        file to fit; otherwise nothing changes."""
        tensors, candidates = [], []  # candidates: (margin, tensor number, flat index) per entry
        # A delta-coded entry one step nearer zero makes one step a symbol larger and the next smaller: no saving.
        delta_coded = self.delta_coded_names()
        trimmable = [(name, p) for name, p in self.transmitted() if name not in delta_coded]
        for number, (name, p) in enumerate(trimmable):
            step = step_from_index(steps[name])
            flat = p.detach().cpu().reshape(-1).clone()
            symbol = quantize(flat, step, "symbols")  # the packer's own rounding
            ratio = flat / step
            index = torch.nonzero(symbol.abs() > ratio.abs()).reshape(-1)  # rounded away from zero
            margin = 0.5 - (ratio[index] - symbol[index]).abs()  # distance from the rounding boundary, in steps
            tensors.append((p, step, symbol, flat))
            candidates.append((margin, torch.full_like(index, number), index))
        margin, tensor, index = (torch.cat(parts) for parts in zip(*candidates))
        order = torch.argsort(margin, stable=True)
        tensor, index = tensor[order], index[order]
        limit = min(len(order), int(max_fraction * self.num_transmitted()))

        def apply(count: int) -> None:
            """The original weights with the first `count` candidates one step nearer zero."""
            with torch.no_grad():
                for number, (p, step, symbol, original) in enumerate(tensors):
                    values = original.clone()
                    chosen = index[:count][tensor[:count] == number]
                    values[chosen] = dequantize(symbol[chosen] - torch.sign(symbol[chosen]), step)
                    p.copy_(values.view_as(p))

        low, high = 0, limit  # low: known not to fit (0 entries moved, the caller checked)
        apply(high)
        if not fits(steps):
            apply(0)
            return False
        while high - low > 1:
            mid = (low + high) // 2
            apply(mid)
            if fits(steps):
                high = mid
            else:
                low = mid
        apply(high)
        return True

    # -- shared machinery -------------------------------------------------------------------
    def transmitted_mask(self, name: str):
        """A bool tensor of the entries of tensor `name` that the file holds (the rest are zero and
        stay so), or None for every entry."""
        return None

    def delta_coded_names(self) -> tuple:
        """Tensors whose symbols the file holds as steps along their last axis (weights.py); none
        unless a method keeps them sorted (canonicalize)."""
        return ()

    def canonicalize(self, wrap: bool = True) -> None:
        """Move to an equivalent network that codes in fewer bits (a no-op unless a method knows one).
        `wrap` False: only moves that keep quantized weights on their grid (after QAT)."""

    def transmitted(self) -> list:
        return [(name, getattr(self, name)) for name in self.transmitted_names()]

    def num_transmitted(self) -> int:
        masks = [self.transmitted_mask(name) for name in self.transmitted_names()]
        return sum(p.numel() if mask is None else int(mask.sum()) for (_, p), mask in zip(self.transmitted(), masks))

    def steps(self) -> dict:
        return {name: step_from_index(i) for name, i in self.step_indices.items()}

    def effective_params(self) -> dict:
        params = dict(self.transmitted())
        if self.quant_mode is not None and self.step_indices is not None:
            steps = self.steps()
            params = {name: quantize(p, steps[name], self.quant_mode) for name, p in params.items()}
        return self.network_params(params)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.forward_with(self.effective_params(), coords)

    def grid_values(self) -> torch.Tensor:
        """Values on the whole grid, (points, channels), differentiable: the full-batch fitting path."""
        return self.forward_grid_with(self.effective_params(), 0, self.spec.num_points)

    @torch.no_grad()
    def render(self, chunk_points: int = 1 << 16) -> torch.Tensor:
        """Values on the whole grid, (points, channels), evaluated in chunks to bound memory."""
        device = next(self.parameters()).device
        params = self.effective_params()
        total = self.spec.num_points
        out = torch.empty(total, self.spec.channels, device=device)
        for start in range(0, total, chunk_points):
            count = min(chunk_points, total - start)
            out[start:start + count] = self.forward_grid_with(params, start, count)
        return out

    def load_symbols(self, symbols: dict, step_indices: dict) -> None:
        """Fill the parameters from decoded integers (the decoder's path)."""
        with torch.no_grad():
            for name, p in self.transmitted():
                step = step_from_index(step_indices[name])
                p.copy_(torch.as_tensor(symbols[name], dtype=torch.float32).reshape(p.shape) * step)
        self.step_indices = dict(step_indices)
        self.quant_mode = None


class LayoutTensors:
    """For methods that transmit every tensor of a layout [(name, shape, init bound, sensitivity)]."""

    def _init_layout(self, layout: list, generator) -> None:
        self._layout = layout
        for name, shape, bound, _ in layout:
            p = torch.nn.Parameter(torch.empty(shape))
            uniform_(p, bound, generator)  # a bound of 0 starts the tensor at zero
            self.register_parameter(name, p)

    def transmitted_names(self):
        return [name for name, _, _, _ in self._layout]

    def step_scales(self):
        return {name: scale for name, _, _, scale in self._layout}


def uniform_(t: torch.Tensor, bound: float, generator) -> torch.Tensor:
    with torch.no_grad():
        return t.uniform_(-bound, bound, generator=generator)

