"""The lossless coder's decoding order and context for audio: causal, segment-parallel.

Audio is far more predictable from its past than from an interlaced lattice (a stride-4 lattice of
band-limited speech aliases: bench/results/lossless.md), so audio samples are decoded in time order,
with a linear predictor (LPC) of the previous ORDER samples. To keep the decoder vectorised, the clip
is cut into segments of SEGMENT samples that are decoded side by side: step i decodes sample i of
every segment. Each segment has its own predictor, as FLAC has per frame: speech changes faster
than one predictor for the whole clip can follow (5 s of the JFK clip: 17.8 bits per sample with
one order-32 predictor, against FLAC's 8.5). A segment's first ORDER samples use fixed low-order predictors instead (the warm-up).
Channels are decoded one after another at each step; channel j > 0's predictor also sees channel 0
at the same instant and the ORDER before it (CROSS taps), which covers mid/side-like redundancy and
more: on the JFK clip's right channel the mean residual is 378 with 2 cross taps and 8.9 with 17.

Integer arithmetic only, so encoder and decoder agree bit for bit (DESIGN.md §5). The LPC
coefficients are fitted by least squares at the encoder and sent as integers, with a number of
fractional bits per channel and segment (high-order predictors of band-limited audio have
coefficients far above 1: with a fixed 12 bits, 45 % of the JFK clip's clipped).
"""
import numpy as np
import torch

from inrcodec import fixedpoint as fp
from inrcodec.context import CHANNEL_LIMIT, COORD_FEATURES, relative, _triangle
from inrcodec.fixedpoint import ONE

SEGMENT = 4096  # samples per segment: decode time grows with it, warm-up cost shrinks (part of the bitstream)
ORDER = 16
CROSS = ORDER + 1
MAX_Q = 15  # most fractional bits of a coefficient; each segment uses as many as its largest one allows
MAX_COEFF = (1 << 16) - 1  # the weight entropy coder's bound
RIDGE = 1e-12  # relative ridge, for numerical safety only: 1e-7 made JFK's residual 3.7x larger (2,166 vs 592)
HISTORY = 16  # past residuals averaged into the activity
RECENT = 4  # past residuals given to the network
NUM_FEATURES = RECENT + 1 + 1 + 1 + 1 + 3 + COORD_FEATURES


def num_segments(length: int) -> int:
    return -(-length // SEGMENT)


def num_coefficients(channels: int, length: int) -> tuple:
    """Sizes of the predictor's two tensors: coefficients, and fractional bits per channel and segment."""
    return (channels * num_segments(length) * (ORDER + CROSS), channels * num_segments(length))


def _lags(t: torch.Tensor, offset: torch.Tensor, count: int, first_lag: int = 1) -> tuple:
    """Indices t - first_lag .. t - first_lag - count + 1 (clamped to 0) and whether each lies in the
    same segment (offset = t's position within its segment)."""
    lags = torch.arange(first_lag, first_lag + count)
    idx = t[:, None] - lags
    return idx.clamp(min=0), lags[None, :] <= offset[:, None]


def _quantized_solution(gram: np.ndarray, target: np.ndarray) -> tuple:
    """Integer coefficients and their fractional bits minimising the squared prediction error.

    Rounding all coefficients at once lets errors add up along near-singular directions (the JFK
    clip's residual doubled); instead each coefficient is rounded in turn and the ones after it are
    solved again given it (the error-feedback order of GPTQ)."""
    size = len(target)
    real = np.linalg.solve(gram, target)
    bits = int(np.clip(np.floor(np.log2(MAX_COEFF / max(np.abs(real).max(), 1e-9))) - 1, 0, MAX_Q))
    scale = 2.0 ** bits
    coeffs = np.zeros(size)
    for k in range(size):
        coeffs[k] = np.clip(np.round(real[k] * scale), -MAX_COEFF, MAX_COEFF)
        if k + 1 < size:
            rest = slice(k + 1, size)
            rhs = target[rest] - gram[rest, : k + 1] @ (coeffs[: k + 1] / scale)
            real[rest] = np.linalg.solve(gram[rest, rest], rhs)
    return coeffs, bits


def fit_lpc(samples: np.ndarray, bit_depth: int) -> tuple:
    """Least-squares predictor per channel and segment, fitted on the samples it will predict:
    (coefficients (channels, segments, ORDER + CROSS), fractional bits (channels, segments)), int64.
    Channel 0 gets no cross taps; a segment too short to fit repeats its previous sample."""
    x = samples.astype(np.float64) - (1 << (bit_depth - 1))
    n, channels = x.shape
    coeffs = np.zeros((channels, num_segments(n), ORDER + CROSS), dtype=np.int64)
    bits = np.zeros((channels, num_segments(n)), dtype=np.int64)
    coeffs[:, :, 0] = 1
    for seg in range(num_segments(n)):
        rows = np.arange(seg * SEGMENT + ORDER, min((seg + 1) * SEGMENT, n))
        if len(rows) < 4 * (ORDER + CROSS):
            continue
        for c in range(channels):
            columns = [x[rows - k, c] for k in range(1, ORDER + 1)]
            if c > 0:
                columns += [x[rows - k, 0] for k in range(CROSS)]
            design = np.stack(columns, axis=1)
            gram = design.T @ design
            if not np.trace(gram) > 0:
                continue
            gram += np.eye(len(gram)) * RIDGE * np.trace(gram) / len(gram)
            solution, bits[c, seg] = _quantized_solution(gram, design.T @ x[rows, c])
            coeffs[c, seg, :] = 0
            coeffs[c, seg, : len(solution)] = solution
    return torch.from_numpy(coeffs), torch.from_numpy(bits)


def predict(signed: torch.Tensor, t: torch.Tensor, offset: torch.Tensor, channel: int, predictor: tuple,
            bit_depth: int) -> torch.Tensor:
    """Prediction (signed samples) of channel `channel` at times t. signed: (N, C) int64, decoded so far;
    predictor: fit_lpc's (coefficients, fractional bits)."""
    coeffs, frac_bits = predictor
    idx, ok = _lags(t, offset, ORDER)
    segment = t // SEGMENT
    taps = coeffs[channel][segment]  # (M, ORDER + CROSS)
    acc = (signed[idx, channel] * ok * taps[:, :ORDER]).sum(dim=1)  # exact: |terms| < 2**40
    if channel > 0:  # channel 0 at t, t-1, ... (decoded earlier in this step)
        cross_idx, cross_ok = _lags(t, offset, CROSS, first_lag=0)
        acc = acc + (signed[cross_idx, 0] * cross_ok * taps[:, ORDER:]).sum(dim=1)
    q = frac_bits[channel][segment]
    lpc = (acc + ((1 << q) >> 1)) >> q  # rounded to nearest
    # Warm-up: the first ORDER samples of a segment, where the LPC would read across its start.
    prev1 = signed[idx[:, 0], channel] * ok[:, 0]
    prev2 = signed[idx[:, 1], channel] * ok[:, 1]
    warm = torch.where(offset >= 2, 2 * prev1 - prev2, prev1)
    if channel > 0:
        warm = torch.where(offset == 0, signed[t, 0], warm)
    half = 1 << (bit_depth - 1)
    return torch.where(offset >= ORDER, lpc, warm).clamp(-half, half - 1)


def activity(residuals: torch.Tensor, t: torch.Tensor, offset: torch.Tensor, channel: int,
             bit_depth: int) -> torch.Tensor:
    """Mean |residual| over the last HISTORY samples of the segment, plus one (nominal 2**(n-4) at a
    segment's first sample)."""
    idx, ok = _lags(t, offset, HISTORY)
    count = ok.sum(dim=1)
    total = (residuals[idx, channel].abs() * ok).sum(dim=1)
    return torch.where(count > 0, total // count.clamp(min=1) + 1, torch.full_like(t, 1 << max(bit_depth - 4, 0)))


def position_features(length: int) -> torch.Tensor:
    """(length, COORD_FEATURES) triangle waves of every sample's time: the network's view of where it is."""
    t = torch.arange(length)
    return torch.stack([_triangle(t, length, f) for f in (1, 2, 4, 8)], dim=1)


def features(signed: torch.Tensor, residuals: torch.Tensor, t: torch.Tensor, offset: torch.Tensor, channel: int,
             position: int, pred: torch.Tensor, scale: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """The network's input (M, NUM_FEATURES), relative to the activity `scale` where it is a size;
    coords: position_features() of the clip."""
    m = len(t)
    idx, ok = _lags(t, offset, RECENT)
    recent = relative(residuals[idx, channel] * ok, scale[:, None]).clamp(-CHANNEL_LIMIT, CHANNEL_LIMIT)
    cross = residuals[t, 0] if position > 0 else torch.zeros_like(t)
    step = pred - signed[idx[:, 0], channel] * ok[:, 0]
    flags = torch.zeros(m, 3, dtype=torch.int64)
    flags[:, min(position, 2)] = ONE
    warm = torch.where(offset < ORDER, ONE, 0)
    return torch.cat([recent, (fp.log2_fixed(scale - 1) >> 2)[:, None],
                      relative(cross, scale).clamp(-CHANNEL_LIMIT, CHANNEL_LIMIT)[:, None],
                      relative(step, scale).clamp(-CHANNEL_LIMIT, CHANNEL_LIMIT)[:, None],
                      warm[:, None], flags, coords[t]], dim=1)
