"""Quality and rate measures."""
import math

import numpy as np


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, max_value: float) -> float:
    """PSNR in dB over all samples (every channel); inf when identical."""
    err = mse(a, b)
    return math.inf if err == 0 else 10.0 * math.log10(max_value ** 2 / err)


def bits_per_sample(num_bytes: int, num_points: int) -> float:
    """Whole-file rate: bytes × 8 / points (bits per pixel for images)."""
    return num_bytes * 8.0 / num_points
