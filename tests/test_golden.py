"""Golden .inrc files written by released versions must keep decoding to the same pixels.

Regenerate only on a deliberate format change: INRCODEC_WRITE_GOLDEN=1 python -m pytest tests/test_golden.py
"""
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inrcodec
from inrcodec.config import FitConfig
from tests.conftest import smooth_image

DATA = Path(__file__).parent / "data"
GOLDEN = {  # name: (image, encode options)
    "golden_v1_rgb8": (lambda: smooth_image(24, 19, 3, 8, seed=5), {"width": 16, "layers": 3}),
    "golden_v1_gray16": (lambda: smooth_image(17, 23, 1, 16, seed=6), {"width": 12, "layers": 3, "pe_freqs": 2}),
}
FIT = FitConfig(steps=200, lr=2e-3, batch_points=0, qat_steps=20)


def _write_golden(name):
    make, options = GOLDEN[name]
    data = inrcodec.encode(make(), fit=FIT, **options)
    (DATA / f"{name}.inrc").write_bytes(data)
    Image.fromarray(inrcodec.decode(data)).save(DATA / f"{name}.png")


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_file_decodes_to_the_stored_pixels(name):
    if os.environ.get("INRCODEC_WRITE_GOLDEN"):
        _write_golden(name)
    expected = np.asarray(Image.open(DATA / f"{name}.png"))
    decoded = inrcodec.decode(DATA / f"{name}.inrc")
    assert decoded.shape == expected.shape and decoded.dtype == expected.dtype
    # Lossy decode may differ across machines by float rounding only (DESIGN.md §5): a rounding
    # boundary can move a sample by one code value, never more, and almost never.
    diff = np.abs(decoded.astype(np.int64) - expected.astype(np.int64))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_golden_files_match_their_source_images():
    """The stored pixels are a fair reconstruction of the pattern (guards a bad regeneration)."""
    for name, (make, _) in GOLDEN.items():
        expected = np.asarray(Image.open(DATA / f"{name}.png"))
        original = make()
        peak = 255 if original.dtype == np.uint8 else 65535
        assert inrcodec.metrics.psnr(expected, original, peak) > 25
