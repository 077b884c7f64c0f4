"""Uniform scalar quantization with steps from a fixed table of quarter powers of two.

Only the table index goes on the wire; `step_from_index` is exact on every machine (ldexp of a
hard-coded mantissa), so encoder and decoder dequantize with bit-identical steps.
"""
import math

import torch

# 2 ** (k / 4) for k = 0..3, written out so no libm call is involved.
_MANTISSA = (1.0, 1.189207115002721, 1.4142135623730951, 1.681792830507429)
STEP_INDEX_MIN = -96  # 2**-24
STEP_INDEX_MAX = 32   # 2**8


def step_from_index(index: int) -> float:
    if not STEP_INDEX_MIN <= index <= STEP_INDEX_MAX:
        raise ValueError(f"step index {index} outside [{STEP_INDEX_MIN}, {STEP_INDEX_MAX}]")
    return math.ldexp(_MANTISSA[index & 3], index >> 2)


def index_for_step(step: float) -> int:
    """The table index whose step is nearest to `step` in log scale."""
    index = round(4.0 * math.log2(step))
    return min(max(index, STEP_INDEX_MIN), STEP_INDEX_MAX)


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def quantize(t: torch.Tensor, step: float, mode: str = "ste", generator=None) -> torch.Tensor:
    """One function for the training proxy and the real thing.

    "noise":   t + U(-step/2, step/2), the differentiable proxy of rounding
    "ste":     round(t / step) * step with a straight-through gradient
    "symbols": the integers round(t / step), int64
    """
    if mode == "noise":
        noise = torch.rand(t.shape, generator=generator, device=t.device, dtype=t.dtype) - 0.5
        return t + noise * step
    if mode == "ste":
        return _RoundSTE.apply(t / step) * step
    if mode == "symbols":
        return torch.round(t.detach() / step).to(torch.int64)
    raise ValueError(f"unknown quantization mode {mode!r}")


def dequantize(symbols: torch.Tensor, step: float) -> torch.Tensor:
    return symbols.to(torch.float32) * step
