"""The lossless method's network, wire id 3: an MLP that predicts every bit plane of every sample.

For each sample the network maps its context (position and the decoded neighbourhood, see
context.py) to a logistic distribution: a correction μ to the neighbours' prediction and a log
scale. The probability of each bit plane, from the most significant down, is that distribution's
mass on the upper half of the interval the higher bits leave open; the arithmetic coder codes the
real bits under it (bitcoder.py). Training minimises the exact code length in bits, which is the sum
of the planes' binary cross-entropies.

It is fitted in float and transmitted as integers (weights and biases with FRAC fractional bits);
the decoder, and the encoder when it codes, evaluate it in integer arithmetic only (fixedpoint.py),
so probabilities are identical on every machine.
"""
from dataclasses import dataclass

import torch
from torch import nn

from inrcodec import orders
from inrcodec import fixedpoint as fp
from inrcodec.config import FitConfig, ModelConfig
from inrcodec.fixedpoint import FRAC, ONE
from inrcodec.registry import MODELS

MAX_WIDTH = 256
MAX_LAYERS = 4
MAX_SYMBOL = (1 << 16) - 1  # the weight entropy coder's bound
HIDDEN_FRAC = 12  # fractional bits of hidden activations (values up to VALUE_LIMIT / 2**12 = 256)
OUTPUTS = 2  # μ correction and log2 scale, both relative to the local activity


def _rounded(t: torch.Tensor) -> torch.Tensor:
    """t rounded to FRAC fractional bits in the forward pass, unchanged in the backward pass."""
    return t + (torch.round(t * ONE) / ONE - t).detach()


@dataclass(frozen=True)
class BitplaneConfig(ModelConfig):
    width: int = 32        # neurons per hidden layer
    layers: int = 2        # hidden ReLU layers
    shift: int = 0         # low bits that are zero in every sample, not coded

    def validate(self):
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"width {self.width} outside 1..{MAX_WIDTH}")
        if not 1 <= self.layers <= MAX_LAYERS:
            raise ValueError(f"layers {self.layers} outside 1..{MAX_LAYERS}")
        if not 0 <= self.shift < 24:
            raise ValueError(f"shift {self.shift} outside 0..23")


@MODELS.register("bitplane", 3)
class Bitplane(nn.Module):
    config_class = BitplaneConfig
    lossless = True
    # kodim01, width 32: 1,200 steps at lr 3e-3 gave 3.516 bits per subpixel, at 1e-2 3.498; 3,000 steps
    # at 1e-2 3.409 (19 s of fitting on 2 cores). 2,000 steps keeps a Kodak encode near half a minute.
    fit_defaults = {"steps": 2000, "lr": 1e-2, "batch_points": 16384}

    def __init__(self, config: BitplaneConfig, spec, generator=None):
        super().__init__()
        if spec.kind not in ("image", "audio"):
            raise ValueError(f"bitplane codes images and audio, not {spec.kind}")
        self.config, self.spec = config, spec
        inputs = orders.num_features(spec.kind)
        sizes = [inputs] + [config.width] * config.layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(config.width, OUTPUTS)
        self.skip = nn.Linear(inputs, OUTPUTS, bias=False)  # a linear predictor the MLP corrects
        with torch.no_grad():
            for layer in self.hidden:
                bound = (6.0 / layer.in_features) ** 0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.zero_()
            self.out.weight.uniform_(-1e-2, 1e-2, generator=generator)
            self.out.bias.copy_(torch.tensor([0.0, 0.0]))
            self.skip.weight.zero_()
        self._ints = None
        self.rounded = False

    @classmethod
    def fit_config(cls, kind: str, **fields) -> FitConfig:
        return FitConfig(**{**cls.fit_defaults, **fields})

    @classmethod
    def default_config(cls, spec, **overrides):
        return cls.config_class(**overrides)

    @classmethod
    def knob(cls, config) -> tuple:
        return ("width", config.width)

    def tensors(self) -> list:
        """Every transmitted tensor, in wire order."""
        out = []
        for layer in self.hidden:
            out += [layer.weight, layer.bias]
        return out + [self.out.weight, self.out.bias, self.skip.weight]

    def num_transmitted(self) -> int:
        return sum(t.numel() for t in self.tensors())

    # -- float path (training) --------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(points, features) float features -> (points, 2): μ correction and log2 scale, relative to
        the local activity. With `rounded` set, weights pass through straight-through rounding to
        their transmitted precision (quantization-aware training)."""
        w = [_rounded(t) if self.rounded else t for t in self.tensors()]
        h = x
        for i in range(self.config.layers):
            h = torch.relu(nn.functional.linear(h, w[2 * i], w[2 * i + 1]))
        return nn.functional.linear(h, w[-3], w[-2]) + nn.functional.linear(x, w[-1])

    # -- integer path (coding) --------------------------------------------------------------
    def integer_tensors(self) -> list:
        """The transmitted integers: every tensor rounded to FRAC fractional bits."""
        return [torch.round(torch.nan_to_num(t.detach().cpu().double()) * ONE).clamp(-MAX_SYMBOL, MAX_SYMBOL).to(torch.int64)
                for t in self.tensors()]

    def load_integers(self, tensors: list) -> None:
        """Set the model from transmitted integers (the float parameters follow, for training)."""
        self._ints = [t.reshape(p.shape).to(torch.int64) for t, p in zip(tensors, self.tensors())]
        with torch.no_grad():
            for t, p in zip(self._ints, self.tensors()):
                p.copy_(t.to(p.dtype) / ONE)

    def freeze(self) -> None:
        """Take the float parameters as they are now as the transmitted integers."""
        self.load_integers(self.integer_tensors())

    def forward_int(self, x: torch.Tensor, backend: str = "float64") -> torch.Tensor:
        """(points, features) FRAC int64 -> (points, 2) FRAC int64, bit-exact on every machine.

        Hidden activations keep HIDDEN_FRAC fractional bits and every shift rounds to nearest, so the
        integer network stays within rounding of the float one it was trained as (on 5 s of guitar the
        coded file is 0.08 bits per sample above the float loss, weights included)."""
        ints = self._ints
        h, frac = x, FRAC
        for i in range(self.config.layers):
            w, b = ints[2 * i], ints[2 * i + 1]
            acc = fp.linear(h, w, backend) + (b << frac)  # FRAC + frac fractional bits
            h = fp.round_shift(acc.clamp(min=0), FRAC + frac - HIDDEN_FRAC).clamp(max=fp.VALUE_LIMIT)
            frac = HIDDEN_FRAC
        w_out, b_out, w_skip = ints[-3:]
        acc = (fp.linear(h, w_out, backend) + (fp.linear(x, w_skip, backend) << (HIDDEN_FRAC - FRAC))
               + (b_out << HIDDEN_FRAC))
        return fp.round_shift(acc, HIDDEN_FRAC).clamp(-fp.VALUE_LIMIT, fp.VALUE_LIMIT)
