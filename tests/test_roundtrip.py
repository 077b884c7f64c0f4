"""End to end through the library API on tiny synthetic images."""
import dataclasses

import numpy as np
import pytest
import torch

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


def test_rate_control_reports_its_probes(rgb8):
    result = inrcodec.api.encode_report(rgb8, bpp=8.0, fit=FAST_FIT)
    assert result.tried and all(set(t) == {"width", "base_index", "bytes"} for t in result.tried)
    fitting = [t for t in result.tried if t["bytes"] <= 8.0 * 31 * 17 / 8]
    assert fitting and len(result.data) <= 8.0 * 31 * 17 / 8
    assert result.base_index >= min(t["base_index"] for t in fitting)


@pytest.mark.parametrize("target", [30.0, 36.0])
def test_psnr_target_is_reached_by_the_decoded_image(rgb8, target):
    result = inrcodec.api.encode_report(rgb8, psnr=target, width=24, fit=FAST_FIT)
    decoded = inrcodec.decode(result.data)
    assert psnr(decoded, rgb8, 255) >= target
    assert result.psnr == pytest.approx(psnr(decoded, rgb8, 255), abs=1e-6)


def test_a_lower_psnr_target_gives_a_smaller_file(rgb8):
    low = inrcodec.encode(rgb8, psnr=28.0, width=24, fit=FAST_FIT)
    high = inrcodec.encode(rgb8, psnr=38.0, width=24, fit=FAST_FIT)
    assert len(low) < len(high)


def test_unreachable_psnr_says_so(rgb8):
    with pytest.raises(inrcodec.RateError, match="out of reach"):
        inrcodec.encode(rgb8, psnr=80.0, width=8, fit=FitConfig(steps=20, batch_points=0, qat_steps=0))


def test_psnr_and_size_cap_are_exclusive(rgb8):
    with pytest.raises(inrcodec.RateError, match="either"):
        inrcodec.encode(rgb8, psnr=30.0, bpp=1.0)


def test_psnr_target_grows_a_small_net_and_beats_a_wide_one(rgb8):
    grown = inrcodec.api.encode_report(rgb8, psnr=32.0, fit=FAST_FIT)
    wide = inrcodec.encode(rgb8, psnr=32.0, width=64, fit=FAST_FIT)
    assert psnr(inrcodec.decode(grown.data), rgb8, 255) >= 32.0
    assert grown.knob[1] < 64 and len(grown.data) < len(wide)


def test_the_default_schedule_is_longer_only_on_a_gpu():
    from inrcodec.config import CUDA_STEPS_FACTOR, FitConfig
    cfg = FitConfig(steps=2000, lr=5e-3)
    assert cfg.for_device("cpu") == cfg
    gpu = cfg.for_device("cuda")
    assert gpu.steps == round(2000 * CUDA_STEPS_FACTOR) > 2000
    assert gpu.lr == cfg.lr and gpu.quantized_steps > cfg.quantized_steps


def test_siren_image_nets_up_to_a_width_fit_smaller_batches_longer_on_the_cpu_only():
    """SIREN image nets up to SMALL_BATCH_MAX_WIDTH take SMALL_BATCH points for proportionally more steps on a
    CPU (the same arithmetic), and the same steps on a GPU, where a step costs the same at either batch; those
    past SMALL_BATCH_FULL_LR_WIDTH at a lower learning rate; wider nets, other signals and other methods keep
    the default fit."""
    from inrcodec.config import FitConfig
    from inrcodec.models.siren import (SMALL_BATCH, SMALL_BATCH_FULL_LR_WIDTH, SMALL_BATCH_MAX_WIDTH,
                                       SMALL_BATCH_WIDE_LR, Siren, SirenConfig)
    from inrcodec.models.doh import Doh
    from inrcodec.signal import SignalSpec
    image, audio = SignalSpec("image", (256, 192), 3, 8), SignalSpec("audio", (65536,), 1, 16)
    fit = FitConfig(steps=2000)
    narrow, wide = SirenConfig(width=SMALL_BATCH_FULL_LR_WIDTH), SirenConfig(width=SMALL_BATCH_MAX_WIDTH)
    cpu = Siren.schedule(fit, narrow, image, "cpu")
    assert cpu.batch_points == SMALL_BATCH < fit.batch_points and cpu.lr == fit.lr
    assert cpu.steps * cpu.batch_points == fit.steps * fit.batch_points
    gpu = Siren.schedule(fit, narrow, image, "cuda")
    assert (gpu.batch_points, gpu.steps) == (SMALL_BATCH, fit.steps)
    assert Siren.schedule(fit, wide, image, "cpu") == dataclasses.replace(cpu, lr=fit.lr * SMALL_BATCH_WIDE_LR)
    assert Siren.schedule(fit, wide, image, "cuda").lr == fit.lr * SMALL_BATCH_WIDE_LR < fit.lr
    assert Siren.schedule(fit, SirenConfig(width=SMALL_BATCH_MAX_WIDTH + 2), image, "cpu") == fit
    assert Siren.schedule(fit, narrow, audio, "cpu") == fit
    assert Siren.schedule(FitConfig(steps=2000, batch_points=0), narrow, image, "cpu").batch_points == 0
    small = SignalSpec("image", (96, 128), 3, 8)  # 12,288 points: a 16k batch was the whole grid
    assert Siren.schedule(fit, narrow, small, "cpu").steps * SMALL_BATCH == fit.steps * small.num_points
    assert Siren.schedule(fit, narrow, SignalSpec("image", (64, 64), 3, 8), "cpu") == fit  # under 8k points
    tiled = Siren.schedule(fit, SirenConfig(width=32, tiles=2), SignalSpec("image", (256, 256), 3, 8), "cpu")
    assert tiled.steps == 2 * 2 * fit.steps  # √4 for the tiles, 2 for the batch
    assert Doh.schedule(fit, Doh.default_config(image), image, "cpu").batch_points == fit.batch_points


def test_batches_drawn_in_blocks_are_the_per_step_draws():
    """Fitting draws its random batches several steps at a time; they must be the draws one
    torch.randint per step would make, so files do not depend on the block size."""
    from inrcodec.fit import _INDEX_BLOCK, batch_indices
    steps = 2 * _INDEX_BLOCK + 5
    blocked = list(batch_indices(1000, 37, steps, torch.Generator().manual_seed(3), "cpu"))
    generator = torch.Generator().manual_seed(3)
    assert len(blocked) == steps
    for got in blocked:
        assert torch.equal(got, torch.randint(1000, (37,), generator=generator))
