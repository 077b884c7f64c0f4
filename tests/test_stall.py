"""A fit that learned nothing is noticed and redone at half the learning rate."""
import math

import numpy as np

import inrcodec
from inrcodec.config import FitConfig
from inrcodec.fit import STALL_FRACTION, fit_stalled, flat_loss
from inrcodec.signal import from_array
from tests.conftest import smooth_image


def test_a_loss_near_a_flat_predictions_counts_as_stalled_and_a_real_fit_does_not():
    signal = from_array(smooth_image(31, 17))
    flat = flat_loss(signal)
    values = signal.values().numpy().astype(np.float64)
    assert math.isclose(flat, float(np.mean((values - values.mean(axis=0)) ** 2)), rel_tol=1e-9)
    assert fit_stalled(flat, signal)
    assert fit_stalled(STALL_FRACTION * flat * 1.01, signal)
    assert fit_stalled(float("nan"), signal)
    assert not fit_stalled(STALL_FRACTION * flat * 0.99, signal)
    assert not fit_stalled(flat / 100, signal)


def test_a_constant_signal_never_counts_as_stalled():
    signal = from_array(np.full((8, 9, 3), 77, dtype=np.uint8))
    assert flat_loss(signal) < 1e-12
    assert not fit_stalled(1.0, signal)


def test_a_stalled_fit_is_refitted_at_half_the_rate_and_the_encode_repeats_byte_for_byte(capsys):
    image = smooth_image(31, 17)
    fit = FitConfig(steps=60, lr=5.0, qat_steps=0)  # far too high: the first fit learns nothing
    first = inrcodec.api.encode_report(image, method="siren", width=16, fit=fit, verbose=True)
    assert "refitting at lr 2.5" in capsys.readouterr().err
    again = inrcodec.api.encode_report(image, method="siren", width=16, fit=fit)
    assert again.data == first.data
    assert inrcodec.decode(first.data).shape == image.shape
