"""Bit planes under the network's distribution, through constriction's range coder.

One function walks the planes of a batch of samples from the most significant bit down, for the
encoder and the decoder alike, so both compute the very same integer probabilities: the bit of
plane b splits the interval the higher bits left open, [lo, lo + 2**(b+1)), at t = lo + 2**b, and
P(bit = 1) is the distribution's mass on [t, hi) over its mass on [lo, hi).
"""
import constriction
import numpy as np
import torch

from inrcodec import fixedpoint as fp
from inrcodec.errors import CorruptFile
from inrcodec.fixedpoint import FRAC, ONE, PROB_BITS

_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)
LOG_SCALE_LIMIT = 16
MIN_SCALE = ONE >> 4  # a sixteenth of a sample: sharper than any bin needs


def distribution(out: torch.Tensor, pred: torch.Tensor, scale: torch.Tensor, bit_depth: int) -> tuple:
    """(mean, scale) in FRAC fixed point sample units, from the network's integer outputs, which are
    relative to the local activity `scale` (samples): a mean correction and a log2 scale."""
    mean = (pred << FRAC) + out[:, 0] * scale
    mean = mean.clamp(-(1 << (bit_depth + FRAC)), 1 << (bit_depth + FRAC + 1))
    spread = fp.exp2_scale(clamp_log_scale(out[:, 1]), scale)
    return mean, spread.clamp(MIN_SCALE, 1 << (bit_depth + 2 + FRAC))


def clamp_log_scale(log_scale):
    """The network's log2 scale (relative to the activity) kept within ±LOG_SCALE_LIMIT; works on
    float (training, plain log2) and int64 (coding, FRAC) tensors."""
    if log_scale.dtype.is_floating_point:
        return log_scale.clamp(-LOG_SCALE_LIMIT, LOG_SCALE_LIMIT)
    return log_scale.clamp(-LOG_SCALE_LIMIT * ONE, LOG_SCALE_LIMIT * ONE)


def walk_planes(mean: torch.Tensor, scale: torch.Tensor, bit_depth: int, next_bits) -> torch.Tensor:
    """Code or decode one batch of samples plane by plane; returns their values.

    next_bits(probabilities) gets each plane's P(bit = 1) (an int64 numpy array, PROB_BITS) and
    returns that plane's bits (the encoder: the real ones, after coding them; the decoder: what it
    decoded)."""
    mean, scale = mean.numpy(), scale.numpy()
    lo = np.zeros_like(mean)
    c_lo = fp.logistic_cdf(lo, mean, scale)
    c_hi = fp.logistic_cdf(np.full_like(mean, 1 << bit_depth), mean, scale)
    for plane in reversed(range(bit_depth)):
        t = lo + (1 << plane)
        c_t = fp.logistic_cdf(t, mean, scale)
        bits = np.asarray(next_bits(fp.bit_probability(c_lo, c_t, c_hi))).astype(bool)
        lo = np.where(bits, t, lo)
        c_lo = np.where(bits, c_t, c_lo)
        c_hi = np.where(bits, c_hi, c_t)
    return torch.from_numpy(lo)


def plane_probabilities(mean, scale, values: torch.Tensor, bit_depth: int) -> tuple:
    """(bits, probabilities), each (bit_depth, len(values)) from the most significant plane down:
    what the encoder codes for these samples, for orders that interleave samples across planes."""
    values = values.numpy()
    bits, probabilities = [], []

    def next_bits(p):
        plane = bit_depth - 1 - len(bits)
        bits.append((values >> plane) & 1)
        probabilities.append(p)
        return bits[-1]

    walk_planes(mean, scale, bit_depth, next_bits)
    return torch.from_numpy(np.stack(bits)), torch.from_numpy(np.stack(probabilities))


def _as_float(probabilities) -> np.ndarray:
    # p / 2**16 with p < 2**16 is exact in float32: constriction quantizes the same number everywhere.
    return np.asarray(probabilities).astype(np.float32) / np.float32(1 << PROB_BITS)


class PlaneEncoder:
    def __init__(self):
        self.coder = constriction.stream.queue.RangeEncoder()

    def code(self, mean, scale, values: torch.Tensor, bit_depth: int) -> None:
        def next_bits(probabilities):
            bits = (array >> plane_of[0]) & 1
            self.coder.encode(bits.astype(np.int32), _BERNOULLI, _as_float(probabilities))
            plane_of[0] -= 1
            return bits

        array = values.numpy()
        plane_of = [bit_depth - 1]
        walk_planes(mean, scale, bit_depth, next_bits)

    def code_bits(self, bits: torch.Tensor, probabilities: torch.Tensor) -> None:
        """Code bits already laid out in decoding order, under their probabilities (PROB_BITS)."""
        self.coder.encode(bits.to(torch.int32).numpy(), _BERNOULLI, _as_float(probabilities))

    def finish(self) -> np.ndarray:
        return self.coder.get_compressed().astype("<u4")


class PlaneDecoder:
    def __init__(self, words: np.ndarray):
        self.coder = constriction.stream.queue.RangeDecoder(words.astype(np.uint32))

    def code(self, mean, scale, bit_depth: int) -> torch.Tensor:
        def next_bits(probabilities):
            try:
                bits = self.coder.decode(_BERNOULLI, _as_float(probabilities))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # constriction's Rust panics are BaseExceptions
                raise CorruptFile(f"coded bit planes are invalid ({exc})") from None
            return bits

        return walk_planes(mean, scale, bit_depth, next_bits)
