"""Shared fixtures: tiny synthetic images made in code, and a fast fitting schedule."""
import numpy as np
import pytest

from inrcodec.config import FitConfig

# Small enough that a whole encode takes about a second on a CI core.
FAST_FIT = FitConfig(steps=150, lr=2e-3, batch_points=0, qat_steps=20)


def smooth_image(height: int, width: int, channels: int = 3, depth: int = 8, seed: int = 0) -> np.ndarray:
    """A smooth, seeded test pattern (gradients and low-frequency waves) as uint8/uint16."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for _ in range(channels):
        fy, fx, phase = rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0, 6.28)
        plane = 0.5 + 0.35 * np.sin(fy * 6.28 * y / height + phase) * np.cos(fx * 6.28 * x / width)
        planes.append(plane + 0.1 * (x / width - 0.5))
    values = np.clip(np.stack(planes, axis=-1), 0.0, 1.0)
    peak = (1 << depth) - 1
    array = np.round(values * peak).astype(np.uint8 if depth == 8 else np.uint16)
    return array[:, :, 0] if channels == 1 else array


@pytest.fixture
def rgb8():
    return smooth_image(31, 17, 3, 8)


@pytest.fixture
def fast_fit():
    return FAST_FIT


def tone(samples: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A seeded sum of slow sines in [-0.6, 0.6], shape (samples, channels) float64."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples)[:, None]
    periods = rng.uniform(40, 400, size=(3, channels))
    phases = rng.uniform(0, 6.28, size=(3, channels))
    return sum(0.2 * np.sin(2 * np.pi * t / periods[k] + phases[k]) for k in range(3))


def moving_clip(frames: int, height: int, width: int, channels: int = 3) -> np.ndarray:
    """A smooth pattern drifting over time, (T, H, W, C) uint8 (C = 1 gives (T, H, W))."""
    t, y, x = np.mgrid[0:frames, 0:height, 0:width].astype(np.float64)
    planes = [128 + 60 * np.sin(x / 4 + t / 3 + c) * np.cos(y / 5 - c) for c in range(channels)]
    clip = np.clip(np.stack(planes, axis=-1), 0, 255).round().astype(np.uint8)
    return clip[..., 0] if channels == 1 else clip
