"""Quality and rate measures."""
import math

import numpy as np


_BLOCK = 1 << 22  # samples per block: an hour of stereo audio is never converted to float64 at once


def mse(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1), b.reshape(-1)
    total = 0.0
    for start in range(0, len(a), _BLOCK):
        diff = a[start:start + _BLOCK].astype(np.float64) - b[start:start + _BLOCK].astype(np.float64)
        total += float(np.dot(diff, diff))
    return total / max(1, len(a))


def psnr(a: np.ndarray, b: np.ndarray, max_value: float) -> float:
    """PSNR in dB over all samples (every channel); inf when identical."""
    err = mse(a, b)
    return math.inf if err == 0 else 10.0 * math.log10(max_value ** 2 / err)


def snr(decoded: np.ndarray, reference: np.ndarray, offset: float = 0.0) -> float:
    """Waveform SNR in dB: signal power over error power (offset: the zero level of unsigned samples)."""
    err = mse(decoded, reference)
    if err == 0:
        return math.inf
    ref = reference.reshape(-1)
    power = sum(float(np.sum((ref[i:i + _BLOCK].astype(np.float64) - offset) ** 2))
                for i in range(0, len(ref), _BLOCK)) / max(1, len(ref))
    return 10.0 * math.log10(max(power, 1e-300) / err)


def quality(decoded: np.ndarray, reference: np.ndarray, spec) -> dict:
    """Every measure that applies to the signal: psnr (all channels) always; audio adds snr;
    video adds psnr_y and psnr_rgb (Y'CbCr sources converted to RGB for the latter)."""
    out = {"psnr": psnr(decoded, reference, spec.max_value)}
    if spec.kind == "audio":
        out["snr"] = snr(decoded, reference, float(1 << (spec.bit_depth - 1)))
    if spec.kind == "video":
        from inrcodec.formats import video
        out["psnr_y"] = psnr(video.luma(decoded, spec), video.luma(reference, spec), 255)
        out["psnr_rgb"] = psnr(video.rgb(decoded, spec), video.rgb(reference, spec), 255)
    return out


def bits_per_sample(num_bytes: int, num_points: int) -> float:
    """Whole-file rate: bytes × 8 / points (bits per pixel for images)."""
    return num_bytes * 8.0 / num_points


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch–Carlson monotone slopes (the 'piecewise cubic' of modern BD-rate tools)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    d = np.zeros_like(y)
    if len(x) == 2:
        return np.full_like(y, delta[0])
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    d[0] = _end_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _end_slope(h0, h1, m0, m1):
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3 * m0):
        return 3 * m0
    return d


def _pchip_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, samples: int = 4096) -> float:
    d = _pchip_slopes(x, y)
    t = np.linspace(lo, hi, samples)
    k = np.clip(np.searchsorted(x, t) - 1, 0, len(x) - 2)
    h = x[k + 1] - x[k]
    s = (t - x[k]) / h
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    values = h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]
    return float(np.sum((values[1:] + values[:-1]) * np.diff(t)) / 2)


def bd_rate(rate_ref, psnr_ref, rate_test, psnr_test) -> float:
    """Bjøntegaard delta rate in percent: the average rate change of `test` against `ref` at equal
    PSNR, over the PSNR range both curves cover (log-rate vs PSNR, piecewise cubic). Negative = saves bits."""
    curves = []
    for rate, quality in ((rate_ref, psnr_ref), (rate_test, psnr_test)):
        order = np.argsort(quality)
        q = np.asarray(quality, dtype=np.float64)[order]
        r = np.log(np.asarray(rate, dtype=np.float64)[order])
        if len(q) < 2 or np.any(np.diff(q) <= 0):
            raise ValueError("each curve needs at least two points with distinct PSNR")
        curves.append((q, r))
    lo = max(curves[0][0][0], curves[1][0][0])
    hi = min(curves[0][0][-1], curves[1][0][-1])
    if not hi > lo:
        raise ValueError("the two curves do not overlap in PSNR")
    ref, test = (_pchip_integral(q, r, lo, hi) for q, r in curves)
    return float((np.exp((test - ref) / (hi - lo)) - 1.0) * 100.0)
