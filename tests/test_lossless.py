"""Lossless mode (method bitplane): bit-exact round trips, backends, verification, hostile files.

Golden lossless files decode to their source signal exactly; regenerate them only on a deliberate
format change: INRCODEC_WRITE_GOLDEN=golden_v1_lossless_rgb8,golden_v1_lossless_audio24 python -m pytest ...
"""
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import inrcodec
from inrcodec import cli, fixedpoint, lossless
from inrcodec.config import FitConfig
from inrcodec.formats import container
from inrcodec.models.bitplane import BitplaneConfig
from inrcodec.signal import from_array
from tests.conftest import smooth_image, tone

DATA = Path(__file__).parent / "data"
FIT = FitConfig(steps=40, lr=1e-2, batch_points=4096, qat_steps=10)


def noisy_image(height, width, channels, depth, seed=0):
    """A smooth pattern plus noise in the low bits, so every plane carries information."""
    base = smooth_image(height, width, channels, depth, seed).astype(np.int64)
    noise = np.random.default_rng(seed).integers(-3, 4, size=base.shape) << max(depth - 8, 0)
    return np.clip(base + noise, 0, (1 << depth) - 1).astype(np.uint8 if depth == 8 else np.uint16)


def pcm(samples, channels, depth, seed=0):
    """Audio as soundfile gives it: int16 for 16-bit, int32 left-aligned for 24-bit."""
    wave = tone(samples, channels, seed) + np.random.default_rng(seed).normal(0, 1e-3, (samples, channels))
    if depth == 16:
        out = np.round(wave * 32767).astype(np.int16)
    else:
        out = (np.round(wave * (1 << 23)).astype(np.int64) << 8).astype(np.int32)
    return out[:, 0] if channels == 1 else out


# -- fixed point ------------------------------------------------------------------------------

def test_tables_hold_fixed_values():
    """The tables that drive the decoder, pinned: any change breaks every lossless file."""
    sig = fixedpoint.sigmoid_table()
    zero = fixedpoint.Z_MAX << 8  # entries step by 1/256
    assert len(sig) == 2 * zero + 2
    assert int(sig[zero]) == 1 << (fixedpoint.CDF_BITS - 1)
    assert [int(v) for v in sig[[0, 1000, zero + 1, zero + 256, -1]]] == [
        42, 2063, 550829554347, 803807407789, 1099511627734]  # σ(1) = 0.7310585786
    assert torch.equal(sig[:zero] + sig[zero + 1:-1].flip(0), torch.full((zero,), 1 << fixedpoint.CDF_BITS))
    exp2 = fixedpoint.exp2_table()
    assert [int(v) for v in exp2[[0, 1, 128, 255]]] == [65536, 65714, 92682, 130718]


def test_log2_is_exact_at_powers_of_two_and_monotone():
    a = torch.arange(0, 5000, dtype=torch.int64)
    values = fixedpoint.log2_fixed(a)
    assert torch.all(values[1:] >= values[:-1])
    for k in range(0, 40, 7):
        assert int(fixedpoint.log2_fixed(torch.tensor([(1 << k) - 1]))) == k << fixedpoint.FRAC


def test_float64_and_int64_matmuls_agree_exactly():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-fixedpoint.VALUE_LIMIT, fixedpoint.VALUE_LIMIT + 1, (257, 37), generator=g)
    w = torch.randint(-(1 << 16) + 1, 1 << 16, (33, 37), generator=g)
    assert torch.equal(fixedpoint.linear(x, w, "float64"), fixedpoint.linear(x, w, "int64"))


def test_bit_probabilities_stay_inside_the_coder_range():
    low = np.array([0, 5, 10, 0])
    mid = np.array([0, 5, 10, 7])
    high = np.array([0, 5, 11, 1 << 40])
    p = fixedpoint.bit_probability(low, mid, high)
    assert p.tolist()[:2] == [1 << 15, 1 << 15]  # no mass: even odds
    assert 1 <= int(p.min()) and int(p.max()) <= (1 << 16) - 1


# -- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("channels,depth", [(1, 8), (3, 8), (1, 16), (3, 16)])
def test_images_round_trip_bit_exactly(channels, depth):
    image = noisy_image(19, 23, channels, depth, seed=channels + depth)
    data = inrcodec.encode(image, lossless=True, fit=FIT)
    decoded = inrcodec.decode(data)
    assert decoded.dtype == image.dtype and np.array_equal(decoded, image)
    assert inrcodec.info(data)["method"] == "bitplane"


@pytest.mark.parametrize("channels,depth", [(1, 16), (2, 24)])
def test_audio_round_trips_bit_exactly(channels, depth, monkeypatch):
    monkeypatch.setattr("inrcodec.sequential.SEGMENT", 256)  # several segments, a short decode loop
    audio = pcm(700, channels, depth, seed=depth)
    data = inrcodec.encode(audio, rate=16000, lossless=True, fit=FIT)
    decoded = inrcodec.decode(data)
    assert decoded.dtype == audio.dtype and np.array_equal(decoded, audio)


def test_wasted_low_bits_are_not_coded():
    """A 10-bit image in a 16-bit file, and audio whose samples are all even (FLAC's wasted bits)."""
    image = (noisy_image(16, 15, 3, 16, seed=1) >> 6) << 6
    data = inrcodec.encode(image, lossless=True, fit=FIT)
    assert inrcodec.info(data)["config"]["shift"] == 6 and np.array_equal(inrcodec.decode(data), image)
    audio = pcm(400, 1, 16, seed=2) & ~1
    data = inrcodec.encode(audio, rate=8000, lossless=True, fit=FIT)
    assert inrcodec.info(data)["config"]["shift"] == 1 and np.array_equal(inrcodec.decode(data), audio)
    flat = np.full((5, 6), 77, np.uint8)
    assert np.array_equal(inrcodec.decode(inrcodec.encode(flat, lossless=True, fit=FIT)), flat)


def test_a_smooth_signal_codes_below_its_raw_size():
    image = smooth_image(40, 48, 3, 8, seed=2)
    data = inrcodec.encode(image, lossless=True, fit=FitConfig(steps=150, lr=1e-2, batch_points=4096))
    assert len(data) * 8 / image.size < 4.0  # bits per subpixel, header and weights included


def test_encoding_is_deterministic():
    image = noisy_image(12, 17, 3, 8)
    assert inrcodec.encode(image, lossless=True, fit=FIT) == inrcodec.encode(image, lossless=True, fit=FIT)


def test_decoding_with_another_backend_and_thread_count_is_identical():
    """Encode with the int64 reference on one thread, decode through BLAS float64 on two."""
    signal = from_array(noisy_image(21, 18, 3, 8, seed=9))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        data, _ = lossless.encode(signal, FIT, {"width": 16}, verify=False, backend="int64")
        torch.set_num_threads(2)
        decoded = lossless.decode(container.unpack(data), backend="float64")
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(decoded, signal.samples)


def test_signals_longer_than_a_block_round_trip(monkeypatch):
    """BLOCK and SEGMENT are part of the bitstream (they order the planes); shrink them to exercise
    many blocks, many segments and a last segment shorter than the others."""
    monkeypatch.setattr("inrcodec.context.BLOCK", 64)
    monkeypatch.setattr("inrcodec.sequential.SEGMENT", 48)
    audio = pcm(1000, 2, 16, seed=3)
    assert np.array_equal(inrcodec.decode(inrcodec.encode(audio, rate=8000, lossless=True, fit=FIT)), audio)
    image = noisy_image(24, 21, 3, 8)
    assert np.array_equal(inrcodec.decode(inrcodec.encode(image, lossless=True, fit=FIT)), image)


def test_the_width_the_user_pins_is_kept_and_others_are_searched():
    image = noisy_image(144, 144, 3, 8)  # large enough for widths 8 and 16 (parameters <= samples / 64)
    fit = FitConfig(steps=10, lr=1e-2, batch_points=4096, qat_steps=2)
    result = inrcodec.api.encode_report(image, lossless=True, fit=fit, width=12, verify=False)
    assert result.config["width"] == 12 and [t["width"] for t in result.tried] == [12]
    result = inrcodec.api.encode_report(image, lossless=True, fit=fit, verify=False)
    assert len(result.tried) >= 2 and len(result.data) == min(t["bytes"] for t in result.tried)


# -- refusals and verification ----------------------------------------------------------------

@pytest.mark.parametrize("options", [{"bpp": 2.0}, {"psnr": 30.0}, {"size": 1000}])
def test_rate_targets_are_refused(options):
    with pytest.raises(inrcodec.UnsupportedInput, match="lossless"):
        inrcodec.encode(smooth_image(8, 8), lossless=True, **options)


def test_lossless_with_a_lossy_method_is_refused():
    with pytest.raises(inrcodec.UnsupportedInput, match="bitplane"):
        inrcodec.encode(smooth_image(8, 8), lossless=True, method="siren")


@pytest.mark.parametrize("array", [np.linspace(-0.5, 0.5, 300).astype(np.float32), np.arange(300, dtype=np.int32)])
def test_audio_that_was_already_rounded_is_refused(array):
    with pytest.raises(inrcodec.UnsupportedInput, match="losslessly"):
        inrcodec.encode(array, rate=8000, lossless=True, fit=FIT)


def test_a_float_wav_is_refused(tmp_path, capsys):
    sf.write(tmp_path / "in.wav", np.linspace(-0.5, 0.5, 300), 8000, subtype="FLOAT")
    assert cli.main(["encode", str(tmp_path / "in.wav"), "--lossless"]) == 1
    assert "FLOAT" in capsys.readouterr().err


def test_video_is_refused():
    clip = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(inrcodec.UnsupportedInput, match="images and audio"):
        inrcodec.encode(clip, fps=25, lossless=True, fit=FIT)


def test_a_failed_verification_writes_nothing(tmp_path, monkeypatch, capsys):
    Image.fromarray(noisy_image(9, 11, 3, 8)).save(tmp_path / "in.png")
    real = lossless.decode

    def off_by_one(parsed, backend="float64"):
        samples = real(parsed, backend)
        samples.flat[0] ^= 1
        return samples

    monkeypatch.setattr(lossless, "decode", off_by_one)
    assert cli.main(["encode", str(tmp_path / "in.png"), "--lossless", "--steps", "20", "--quiet"]) == 1
    assert "verification failed" in capsys.readouterr().err
    assert not (tmp_path / "in.inrc").exists()


def test_cli_round_trip_of_a_wav(tmp_path, capsys):
    audio = pcm(500, 2, 16, seed=4)
    sf.write(tmp_path / "in.wav", audio, 16000, subtype="PCM_16")
    assert cli.main(["encode", str(tmp_path / "in.wav"), "--lossless", "--steps", "30"]) == 0
    assert "lossless (verified)" in capsys.readouterr().err
    assert cli.main(["decode", str(tmp_path / "in.inrc"), "-o", str(tmp_path / "out.wav")]) == 0
    back, rate = sf.read(tmp_path / "out.wav", dtype="int16")
    assert rate == 16000 and np.array_equal(back, audio)


def test_cli_refuses_lossless_with_a_rate(tmp_path, capsys):
    Image.fromarray(smooth_image(8, 8)).save(tmp_path / "in.png")
    assert cli.main(["encode", str(tmp_path / "in.png"), "--lossless", "--bpp", "1"]) == 1
    assert "cannot apply" in capsys.readouterr().err


# -- hostile files ----------------------------------------------------------------------------

def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize("forged_config", [BitplaneConfig(width=1 << 20), BitplaneConfig(width=8, shift=8)])
def test_a_forged_model_config_is_refused_before_building_it(forged_config):
    data = inrcodec.encode(noisy_image(8, 9, 1, 8), lossless=True, fit=FIT)
    config = BitplaneConfig(width=8).to_bytes()
    body = data[:-4]
    index = body.index(config)
    forged = _with_crc(body[:index] + forged_config.to_bytes() + body[index + len(config):])
    with pytest.raises(inrcodec.CodecError):
        inrcodec.decode(forged)


def test_truncated_files_raise_codec_errors():
    data = inrcodec.encode(noisy_image(8, 9, 3, 8), lossless=True, fit=FIT)
    for cut in (len(data) - 9, len(data) // 2, 20):
        with pytest.raises(inrcodec.CodecError):
            inrcodec.decode(data[:cut])


def test_damaged_bit_planes_raise_or_decode_without_crashing():
    data = bytearray(inrcodec.encode(noisy_image(8, 9, 3, 8), lossless=True, fit=FIT))
    data[-12] ^= 0xFF
    body = bytes(data[:-4])
    try:
        decoded = inrcodec.decode(_with_crc(body))
    except inrcodec.CodecError:
        return
    assert decoded.shape == (8, 9, 3)


# -- golden files -----------------------------------------------------------------------------

GOLDEN = {
    "golden_v1_lossless_rgb8": (lambda: noisy_image(14, 19, 3, 8, seed=11), {}),
    "golden_v1_lossless_audio24": (lambda: pcm(400, 2, 24, seed=12), {"rate": 22050}),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_lossless_files_decode_to_their_source(name):
    make, options = GOLDEN[name]
    path = DATA / f"{name}.inrc"
    if name in os.environ.get("INRCODEC_WRITE_GOLDEN", "").split(","):
        path.write_bytes(inrcodec.encode(make(), lossless=True, fit=FIT, **options))
    decoded = inrcodec.decode(path)
    source = make()
    assert decoded.dtype == source.dtype and np.array_equal(decoded, source)
