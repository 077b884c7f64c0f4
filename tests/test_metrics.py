import math

import numpy as np
import pytest

from inrcodec.metrics import bd_rate, bits_per_sample, psnr


def test_psnr_known_values():
    a = np.zeros((4, 4), dtype=np.uint8)
    b = a.copy()
    assert psnr(a, b, 255) == math.inf
    b[0, 0] = 16  # MSE = 16
    assert psnr(a, b, 255) == pytest.approx(10 * math.log10(255**2 / 16))


def test_bits_per_sample_counts_the_whole_file():
    assert bits_per_sample(100, 800) == 1.0


JPEG_LIKE = ([0.25, 0.38, 0.59, 0.76, 1.04], [23.1, 25.9, 28.4, 29.7, 31.4])


def test_bd_rate_of_a_curve_against_itself_is_zero():
    assert bd_rate(*JPEG_LIKE, *JPEG_LIKE) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("factor", [0.8, 0.5, 1.3])
def test_bd_rate_of_uniformly_scaled_rates_is_the_scale(factor):
    rates, quality = JPEG_LIKE
    assert bd_rate(rates, quality, [r * factor for r in rates], quality) == pytest.approx((factor - 1) * 100, abs=1e-6)


def test_bd_rate_known_example():
    """A test curve 1 dB better at every rate on a 6 dB-per-doubling line saves 1 - 2**(-1/6) of the rate."""
    rates = [0.1, 0.2, 0.4, 0.8]
    ref = [24.0, 30.0, 36.0, 42.0]
    test = [q + 1.0 for q in ref]
    assert bd_rate(rates, ref, rates, test) == pytest.approx((2 ** (-1 / 6) - 1) * 100, abs=1e-6)


def test_bd_rate_needs_overlap():
    with pytest.raises(ValueError, match="overlap"):
        bd_rate([0.1, 0.2], [20.0, 22.0], [0.1, 0.2], [30.0, 32.0])
