"""Fixed-point arithmetic for the lossless (bit-plane) model: everything that drives its arithmetic decoder.

DESIGN.md §5: the probabilities the decoder uses must be bit-identical on every machine and backend.
So this module works on int64 tensors only; its two tables (the logistic function and 2**x) come from
Python's `decimal`, which rounds correctly by specification, never from the platform's libm.

The per-sample network and features use int64 torch tensors, the per-plane arithmetic int64 numpy
arrays. Fixed-point formats:
- activations, weights, network outputs: FRAC = 8 fractional bits;
- the mean μ and scale s of a sample's logistic distribution: sample units with FRAC fractional bits;
- the logistic's argument z: Z_FRAC = 16 fractional bits; its table has 2**-8 spacing and is
  linearly interpolated; cumulative probabilities are scaled to 2**CDF_BITS;
- one bit's probability of being 1: PROB_BITS = 16 bits, in [1, 2**16 - 1].
"""
import decimal
import functools

import numpy as np
import torch

FRAC = 8
ONE = 1 << FRAC
Z_FRAC = 16
_TABLE_FRAC = 8
Z_MAX = 24            # |z| at which the table's logistic stops moving (σ(-24) = 3.8e-11)
CDF_BITS = 40
PROB_BITS = 16
VALUE_LIMIT = 1 << 20  # activations and features are clamped to ±this, so every sum stays below 2**53


def _decimal_context():
    return decimal.Context(prec=24, rounding=decimal.ROUND_HALF_EVEN)


@functools.cache
def sigmoid_table() -> torch.Tensor:
    """round(σ(i / 2**8) * 2**CDF_BITS) for i in -Z_MAX*2**8 .. Z_MAX*2**8, plus one repeated end entry."""
    ctx = _decimal_context()
    scale = decimal.Decimal(1 << CDF_BITS)
    half = Z_MAX << _TABLE_FRAC
    upper = []
    for i in range(0, half + 1):
        z = ctx.divide(decimal.Decimal(i), decimal.Decimal(1 << _TABLE_FRAC))
        sig = ctx.divide(decimal.Decimal(1), ctx.add(decimal.Decimal(1), ctx.exp(-z)))
        upper.append(int(ctx.multiply(sig, scale).to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
    # σ(-z) = 1 - σ(z) holds exactly for the rounded table too.
    lower = [(1 << CDF_BITS) - v for v in reversed(upper[1:])]
    values = lower + upper
    return torch.tensor(values + [values[-1]], dtype=torch.int64)


@functools.cache
def exp2_table() -> torch.Tensor:
    """round(2**(f / 2**FRAC) * 2**16) for f in 0 .. 2**FRAC - 1."""
    ctx = _decimal_context()
    ln2 = ctx.ln(decimal.Decimal(2))
    out = []
    for f in range(ONE):
        value = ctx.multiply(ctx.exp(ctx.multiply(ln2, ctx.divide(decimal.Decimal(f), decimal.Decimal(ONE)))),
                             decimal.Decimal(1 << 16))
        out.append(int(value.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
    return torch.tensor(out, dtype=torch.int64)


def shift(x: torch.Tensor, bits) -> torch.Tensor:
    """x * 2**bits for int64 tensors, flooring where bits < 0 (bits: an int or an int64 tensor)."""
    if isinstance(bits, int):
        return x << bits if bits >= 0 else x >> -bits
    return torch.where(bits >= 0, x << bits.clamp(min=0), x >> (-bits).clamp(min=0))


def round_shift(x: torch.Tensor, bits: int) -> torch.Tensor:
    """x / 2**bits rounded to nearest (halves up), for int64 tensors and bits >= 1."""
    return (x + (1 << (bits - 1))) >> bits


def log2_fixed(a: torch.Tensor) -> torch.Tensor:
    """log2(1 + a) in FRAC fixed point for int64 a >= 0 (piecewise linear between powers of two).

    frexp of an integer below 2**53 is exact, so this is exact on every machine."""
    mantissa, exponent = torch.frexp((a + 1).to(torch.float64))
    fraction = torch.floor((mantissa * 2.0 - 1.0) * ONE).to(torch.int64)
    return ((exponent.to(torch.int64) - 1) << FRAC) + fraction


def exp2_scale(log2_value: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
    """multiplier · 2**(log2_value / 2**FRAC) in FRAC fixed point (int64), rounding down once at the end
    (so a small power of two times a large multiplier keeps its precision)."""
    whole = log2_value >> FRAC
    frac = log2_value & (ONE - 1)
    return shift(exp2_table()[frac] * multiplier, whole + (FRAC - 16))


def linear(x: torch.Tensor, weight: torch.Tensor, backend: str = "float64") -> torch.Tensor:
    """x @ weight.T for int64 tensors, exactly. "float64" runs it through BLAS: every product and
    partial sum is an integer below 2**53 (VALUE_LIMIT × 2**16 weights × ≤ 256 inputs), so the result
    is exact whatever the summation order; "int64" is the plain integer reference."""
    if backend == "int64":
        return x @ weight.T
    if backend != "float64":
        raise ValueError(f"unknown fixed-point backend {backend!r}")
    return (x.to(torch.float64) @ weight.T.to(torch.float64)).to(torch.int64)


@functools.cache
def _sigmoid_array() -> np.ndarray:
    return sigmoid_table().numpy()


# The per-plane arithmetic runs in numpy: audio decodes a few hundred samples per step, where a torch
# op's overhead (about 5 µs) is most of the cost; numpy's is about 1 µs.
def logistic_cdf(threshold: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """2**CDF_BITS · σ((threshold - 1/2 - μ) / s): the probability mass below the integer `threshold`.

    int64 arrays; mean and scale are FRAC fixed point (scale >= 1); threshold is in sample units."""
    numerator = (threshold << FRAC) - (ONE >> 1) - mean
    limit = Z_MAX << Z_FRAC
    z = np.minimum(np.maximum(np.floor_divide(numerator << Z_FRAC, scale), -limit), limit)  # np.clip is 3× slower
    step = Z_FRAC - _TABLE_FRAC
    index = (z >> step) + (Z_MAX << _TABLE_FRAC)
    frac = z & ((1 << step) - 1)
    table = _sigmoid_array()
    low = table[index]
    return low + (((table[index + 1] - low) * frac) >> step)


def bit_probability(c_low: np.ndarray, c_mid: np.ndarray, c_high: np.ndarray) -> np.ndarray:
    """P(bit = 1) in PROB_BITS: the mass of [mid, high) within [low, high), as an integer in [1, 2**16 - 1].
    Where the model puts no mass on [low, high) at all, both halves get 1/2."""
    den = c_high - c_low
    p = np.floor_divide((c_high - c_mid) << PROB_BITS, np.maximum(den, 1))
    p = np.where(den > 0, p, 1 << (PROB_BITS - 1))
    return np.minimum(np.maximum(p, 1), (1 << PROB_BITS) - 1)
