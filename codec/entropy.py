"""Entropy coding of integer tensors with constriction.

Each tensor's symbols are coded under a symmetric, zero-centred distribution over [lo, hi] whose
integer frequencies are computed in exact integer arithmetic from three header integers:
family (uniform, Laplace, Gaussian), a 32-bit fixed-point decay q, and the range. The float
probabilities handed to constriction are f / sum(f), a correctly rounded IEEE division, so encoder
and decoder build identical models on every machine (DESIGN.md §5). All tensors of a model share
one range-coder stream, so there is a single word-alignment overhead per section.
"""
import math
from dataclasses import dataclass

import constriction
import numpy as np

from inrcodec.errors import CorruptFile
from inrcodec.formats.binary import Reader, svarint, uvarint

UNIFORM, LAPLACE, GAUSSIAN = 0, 1, 2
FAMILIES = (UNIFORM, LAPLACE, GAUSSIAN)
Q_ONE = 1 << 32
MAX_RANGE = 1 << 16  # bound on |symbol|; larger means a useless step choice (and bounds decoder work)
_F0 = 1 << 40


@dataclass(frozen=True)
class SymbolModel:
    family: int
    q: int  # decay per unit, fixed point with 32 fractional bits, 0 < q < 2**32
    lo: int
    hi: int

    def frequencies(self) -> np.ndarray:
        """Exact integer frequencies (>= 1) of lo..hi."""
        n = self.hi - self.lo + 1
        if self.family == UNIFORM:
            return np.ones(n, dtype=np.float64)
        reach = max(abs(self.lo), abs(self.hi))
        half = [0] * (reach + 1)  # frequency of |k|
        f = _F0
        ratio = self.q  # Gaussian: q ** (2k + 1), also fixed point
        q2 = (self.q * self.q) >> 32
        for k in range(reach + 1):
            half[k] = max(f, 1)
            if self.family == LAPLACE:
                f = (f * self.q) >> 32
            else:
                f = (f * ratio) >> 32
                ratio = (ratio * q2) >> 32
        return np.array([half[abs(k)] for k in range(self.lo, self.hi + 1)], dtype=np.float64)

    def probabilities(self) -> np.ndarray:
        f = self.frequencies()
        return f / f.sum()

    def cost_bits(self, symbols: np.ndarray) -> float:
        p = self.probabilities()
        counts = np.bincount(symbols - self.lo, minlength=len(p))
        return float(-(counts * np.log2(p)).sum())


def _approx_cost_bits(family: int, q: int, lo: int, counts: np.ndarray) -> float:
    """Code length under a float twin of SymbolModel(family, q): close enough to rank candidates,
    and vectorised (the exact integer recurrence is a Python loop, run once per tensor)."""
    k = np.abs(np.arange(lo, lo + len(counts), dtype=np.float64))
    decay = -math.log(q / Q_ONE)
    log_f = -decay * k if family == LAPLACE else -decay * k * k
    log_f = np.maximum(log_f, math.log(1.0 / _F0))  # the exact model floors frequencies at 1
    log_p = log_f - np.logaddexp.reduce(log_f)
    return float(-(counts * log_p).sum() / math.log(2.0))


def fit_symbol_model(symbols: np.ndarray) -> SymbolModel:
    """The family and decay that code `symbols` in the fewest bits (an encoder-side search)."""
    lo, hi = int(symbols.min()), int(symbols.max())
    if max(-lo, hi) >= MAX_RANGE:
        raise ValueError(f"symbols reach {max(-lo, hi)}, above {MAX_RANGE - 1}; use a coarser step")
    counts = np.bincount(symbols - lo, minlength=hi - lo + 1).astype(np.float64)
    best = SymbolModel(UNIFORM, 0, lo, hi)
    best_cost = len(symbols) * math.log2(hi - lo + 1)
    mean_abs = float(np.abs(symbols).mean()) + 1e-3
    mean_sq = float((symbols.astype(np.float64) ** 2).mean()) + 1e-3
    for family, base in ((LAPLACE, 1.0 / mean_abs), (GAUSSIAN, 1.0 / (2.0 * mean_sq))):
        for factor in (0.5, 0.63, 0.8, 0.9, 1.0, 1.1, 1.25, 1.6, 2.0):
            q = int(round(Q_ONE * math.exp(-base * factor)))
            q = min(max(q, 1), Q_ONE - 1)
            cost = _approx_cost_bits(family, q, lo, counts)
            if cost < best_cost:
                best, best_cost = SymbolModel(family, q, lo, hi), cost
    return best


def _constriction_model(model: SymbolModel):
    return constriction.stream.model.Categorical(model.probabilities(), perfect=False)


def encode_tensors(tensors) -> bytes:
    """Code a list of 1-D int64 arrays: per tensor count, range, family, q; then one word stream."""
    out = bytearray(uvarint(len(tensors)))
    encoder = constriction.stream.queue.RangeEncoder()
    for symbols in tensors:
        symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
        out += uvarint(len(symbols))
        if len(symbols) == 0:
            continue
        model = fit_symbol_model(symbols)
        out += svarint(model.lo) + uvarint(model.hi - model.lo) + bytes([model.family]) + uvarint(model.q)
        if model.hi > model.lo:
            encoder.encode((symbols - model.lo).astype(np.int32), _constriction_model(model))
    words = encoder.get_compressed().astype("<u4")
    out += uvarint(len(words)) + words.tobytes()
    return bytes(out)


def _decode_or_raise(decoder, model, count: int) -> np.ndarray:
    """constriction asserts on words that its model cannot have produced; that is a corrupt file.
    (Its Rust panics derive from BaseException, so a plain `except Exception` would miss them.)"""
    try:
        return decoder.decode(model, count)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        raise CorruptFile(f"entropy-coded data is invalid ({exc})") from None


def decode_tensors(data: bytes, expected_counts) -> list:
    """Inverse of encode_tensors; `expected_counts` comes from the model's architecture."""
    r = Reader(data, "weight section")
    n = r.uvarint()
    if n != len(expected_counts):
        raise CorruptFile(f"weight section holds {n} tensors, the model has {len(expected_counts)}")
    models = []
    for expected in expected_counts:
        count = r.uvarint()
        if count != expected:
            raise CorruptFile(f"tensor of {count} values where the model needs {expected}")
        if count == 0:
            models.append(None)
            continue
        lo = r.svarint()
        span = r.uvarint()
        family = r.u8()
        q = r.uvarint()
        if max(-lo, lo + span) >= MAX_RANGE or family not in FAMILIES or (family != UNIFORM and not 0 < q < Q_ONE):
            raise CorruptFile("bad entropy model parameters")
        models.append(SymbolModel(family, q, lo, lo + span))
    num_words = r.uvarint()
    words = np.frombuffer(r.take(4 * num_words), dtype="<u4").astype(np.uint32)
    r.expect_end()
    decoder = constriction.stream.queue.RangeDecoder(words)
    tensors = []
    for count, model in zip(expected_counts, models):
        if model is None:
            tensors.append(np.zeros(0, dtype=np.int64))
        elif model.hi == model.lo:
            tensors.append(np.full(count, model.lo, dtype=np.int64))
        else:
            symbols = _decode_or_raise(decoder, _constriction_model(model), count)
            tensors.append(symbols.astype(np.int64) + model.lo)
    return tensors
