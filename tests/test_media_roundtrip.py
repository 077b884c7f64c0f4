"""Audio and video end to end through the library: chunking, joins, rate caps, every method."""
import dataclasses

import numpy as np
import pytest

import inrcodec
from inrcodec.errors import CorruptFile, RateError, UnsupportedInput
from inrcodec.formats import container
from inrcodec.metrics import psnr, snr
from tests.conftest import FAST_FIT, moving_clip, tone


def test_mono_16bit_audio_round_trip_odd_length_over_several_chunks():
    audio = np.round(tone(3001)[:, 0] * 32767).astype(np.int16)
    result = inrcodec.api.encode_report(audio, rate=16000, width=24, chunk=1024, fit=FAST_FIT)
    out = inrcodec.decode(result.data)
    assert out.shape == audio.shape and out.dtype == np.int16
    assert result.chunks == 3 and inrcodec.info(result.data)["chunks"] == 3
    assert snr(out, audio) > 15.0
    assert result.quality["snr"] == pytest.approx(snr(out, audio), abs=0.01)


def test_stereo_24bit_audio_keeps_the_low_bits_range():
    audio = (np.round(tone(700, 2, seed=3) * (1 << 23)).astype(np.int64) << 8).astype(np.int32)
    out = inrcodec.decode(inrcodec.encode(audio, rate=44100, width=24, fit=FAST_FIT))
    assert out.shape == (700, 2) and out.dtype == np.int32
    assert np.all(out & 0xFF == 0)  # left-aligned 24-bit samples, like soundfile's int32
    assert snr(out >> 8, audio >> 8) > 15.0


def test_float_audio_comes_back_as_float():
    audio = tone(500)[:, 0].astype(np.float32)
    out = inrcodec.decode(inrcodec.encode(audio, rate=8000, width=24, fit=FAST_FIT))
    assert out.dtype == np.float32 and out.shape == (500,)
    assert snr(out, audio) > 15.0


def test_chunk_joins_do_not_click():
    """The error right at a join is no worse than the error elsewhere (the crossfade hides the seam)."""
    audio = np.round(tone(4096, seed=5)[:, 0] * 32767).astype(np.int16)
    out = inrcodec.decode(inrcodec.encode(audio, rate=16000, width=24, chunk=1024, fit=FAST_FIT))
    err = out.astype(np.float64) - audio
    joins = np.concatenate([np.arange(b - 8, b + 8) for b in (1024, 2048, 3072)])
    at_joins = np.sqrt(np.mean(err[joins] ** 2))
    overall = np.sqrt(np.mean(err ** 2))
    assert at_joins < 2.0 * overall


def test_kbps_is_a_hard_cap_for_audio():
    audio = np.round(tone(4000)[:, 0] * 32767).astype(np.int16)
    seconds = 4000 / 8000
    data = inrcodec.encode(audio, rate=8000, kbps=96.0, chunk=2000, fit=FAST_FIT)
    assert len(data) * 8 / 1000 / seconds <= 96.0
    assert inrcodec.info(data)["kbps"] <= 96.0


def test_kbps_needs_a_duration():
    with pytest.raises(RateError, match="kbps applies to audio and video"):
        inrcodec.encode(np.zeros((4, 4), np.uint8), kbps=10.0)


@pytest.mark.parametrize("method,options", [("finr", {"decomp": 0}), ("finr", {"decomp": 1, "rank": 6}),
                                            ("finr", {"decomp": 2, "rank": 8}), ("siren", {"width": 24}),
                                            ("doh", {"width": 16, "latent": 256})])
def test_video_round_trip_every_method(method, options):
    clip = moving_clip(5, 12, 17)
    fit = dataclasses.replace(FAST_FIT, lr=0.05) if method == "doh" else FAST_FIT  # doh trains z at unit scale
    result = inrcodec.api.encode_report(clip, fps=25, method=method, chunk=3, fit=fit, **options)
    out = inrcodec.decode(result.data)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert result.chunks == 2
    assert psnr(out, clip, 255) > 22.0
    assert {"psnr", "psnr_y", "psnr_rgb"} <= set(result.quality)
    described = inrcodec.info(result.data)
    assert described["frames"] == 5 and described["rate"] == 25.0 and described["method"] == method


def test_video_defaults_to_finr_and_gray_video_stays_gray():
    clip = moving_clip(4, 9, 11, channels=1)
    result = inrcodec.api.encode_report(clip, fps=12, fit=FAST_FIT)
    assert result.method == "finr"
    out = inrcodec.decode(result.data)
    assert out.shape == clip.shape and psnr(out, clip, 255) > 22.0


def test_finr_fits_audio_folded_into_rows():
    audio = np.round(tone(2500)[:, 0] * 32767).astype(np.int16)
    result = inrcodec.api.encode_report(audio, rate=16000, method="finr", rank=16, fit=FAST_FIT)
    assert result.config["fold"] > 1
    assert snr(inrcodec.decode(result.data), audio) > 10.0


def test_a_missing_chunk_is_refused():
    audio = np.round(tone(900)[:, 0] * 32767).astype(np.int16)
    data = inrcodec.encode(audio, rate=8000, width=12, chunk=300, fit=FAST_FIT)
    parsed = container.unpack(data)
    damaged = container.pack(parsed.header, parsed.sections[:-1])
    with pytest.raises(CorruptFile, match="holds 2 chunks"):
        inrcodec.decode(damaged)


@pytest.mark.parametrize("options,match", [({"rate": 8000, "fps": 25}, "not both"),
                                           ({"chunk": 4}, "audio and video only")])
def test_bad_media_options_are_refused(options, match):
    with pytest.raises(UnsupportedInput, match=match):
        inrcodec.encode(np.zeros((4, 4), np.uint8), fit=FAST_FIT, **options)


def test_psnr_target_holds_for_every_chunk_and_the_whole_clip():
    audio = np.round(tone(1500, seed=2)[:, 0] * 32767).astype(np.int16)
    result = inrcodec.api.encode_report(audio, rate=8000, psnr=45.0, chunk=750, fit=FAST_FIT)
    decoded = inrcodec.decode(result.data)
    assert psnr(decoded, audio, 65535) >= 45.0 and result.chunks == 2


def test_a_short_remainder_joins_the_last_chunk():
    from inrcodec.chunks import Chunking
    assert [(w.core_start, w.core_end) for w in Chunking(1000, 0).windows(2400)] == [(0, 1000), (1000, 2400)]
    assert Chunking(1000, 0).count(2500) == 3 and Chunking(1000, 0).count(300) == 1


def test_a_tight_cap_with_a_short_last_chunk_still_fits():
    audio = np.round(tone(2150, seed=4)[:, 0] * 32767).astype(np.int16)
    data = inrcodec.encode(audio, rate=8000, kbps=40.0, chunk=1000, width=8, fit=FAST_FIT)
    assert len(data) * 8 / 1000 / (2150 / 8000) <= 40.0
    assert inrcodec.info(data)["chunks"] == 2
