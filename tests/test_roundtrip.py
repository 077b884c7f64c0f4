"""End to end through the library API on tiny synthetic images."""
import numpy as np
import pytest

import inrcodec
from inrcodec.config import FitConfig
from inrcodec.metrics import psnr
from tests.conftest import FAST_FIT, smooth_image


@pytest.mark.parametrize("channels,depth", [(1, 8), (3, 8), (1, 16), (3, 16)])
def test_round_trip_keeps_shape_dtype_and_quality(channels, depth):
    image = smooth_image(31, 17, channels, depth)
    data = inrcodec.encode(image, width=24, fit=FAST_FIT)
    out = inrcodec.decode(data)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert psnr(out, image, (1 << depth) - 1) > 28.0


def test_decode_from_path_equals_decode_from_bytes(tmp_path, rgb8):
    data = inrcodec.encode(rgb8, width=16, fit=FAST_FIT)
    path = tmp_path / "x.inrc"
    path.write_bytes(data)
    assert np.array_equal(inrcodec.decode(path), inrcodec.decode(data))


def test_longer_fit_gives_higher_psnr(rgb8):
    short = inrcodec.decode(inrcodec.encode(rgb8, width=24, fit=FitConfig(steps=15, batch_points=0, qat_steps=0)))
    long = inrcodec.decode(inrcodec.encode(rgb8, width=24, fit=FitConfig(steps=300, batch_points=0, qat_steps=0)))
    assert psnr(long, rgb8, 255) > psnr(short, rgb8, 255) + 3.0


@pytest.mark.parametrize("bpp", [6.0, 12.0])
def test_bpp_is_a_hard_cap(rgb8, bpp):
    data = inrcodec.encode(rgb8, bpp=bpp, fit=FAST_FIT)
    assert len(data) * 8 / (31 * 17) <= bpp
    assert inrcodec.decode(data).shape == rgb8.shape


def test_size_is_a_hard_cap_and_more_bytes_buy_quality(rgb8):
    small = inrcodec.encode(rgb8, size=300, fit=FAST_FIT)
    large = inrcodec.encode(rgb8, size=1200, fit=FAST_FIT)
    assert len(small) <= 300 and len(large) <= 1200
    assert psnr(inrcodec.decode(large), rgb8, 255) > psnr(inrcodec.decode(small), rgb8, 255)


def test_impossible_budget_raises_rate_error(rgb8):
    with pytest.raises(inrcodec.RateError, match="smallest"):
        inrcodec.encode(rgb8, size=20, fit=FitConfig(steps=5, batch_points=0, qat_steps=0))


def test_same_seed_same_bytes_other_seed_other_bytes(rgb8):
    a = inrcodec.encode(rgb8, width=12, seed=3, fit=FAST_FIT)
    b = inrcodec.encode(rgb8, width=12, seed=3, fit=FAST_FIT)
    c = inrcodec.encode(rgb8, width=12, seed=4, fit=FAST_FIT)
    assert a == b and a != c


def test_mini_batch_fitting_works(rgb8):
    fit = FitConfig(steps=150, lr=2e-3, batch_points=128, qat_steps=10)
    out = inrcodec.decode(inrcodec.encode(rgb8, width=24, fit=fit))
    assert psnr(out, rgb8, 255) > 25.0


def test_info_reads_the_header_only(rgb8):
    data = inrcodec.encode(rgb8, width=16, layers=3, fit=FAST_FIT)
    summary = inrcodec.info(data)
    assert summary["kind"] == "image" and summary["shape"] == [31, 17] and summary["channels"] == 3
    assert summary["bit_depth"] == 8 and summary["method"] == "siren" and summary["bytes"] == len(data)
    assert summary["config"]["width"] == 16 and summary["config"]["layers"] == 3
    assert summary["bpp"] == pytest.approx(len(data) * 8 / (31 * 17))


@pytest.mark.parametrize("bad,match", [
    (np.zeros((4, 4), dtype=np.float32), "uint8 or uint16"),
    (np.zeros((4, 4, 2), dtype=np.uint8), "H×W"),
    ("no/such/file.png", "no such file"),
    (b"bytes", "cannot encode"),
])
def test_bad_inputs_raise_codec_errors(bad, match):
    with pytest.raises(inrcodec.CodecError, match=match):
        inrcodec.encode(bad, fit=FAST_FIT)


def test_unknown_options_are_refused(rgb8):
    with pytest.raises(inrcodec.CodecError, match="unknown option"):
        inrcodec.encode(rgb8, widht=3)
    with pytest.raises(inrcodec.CodecError, match="unknown method"):
        inrcodec.encode(rgb8, method="nope")
