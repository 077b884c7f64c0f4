"""Audio files in and out through soundfile, and the array API (formats/audio.py)."""
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from inrcodec.errors import UnsupportedInput
from inrcodec.formats import audio
from inrcodec.signal import SignalSpec


def noise(n: int, channels: int, depth: int, seed: int = 0) -> np.ndarray:
    """Full-range signed integers of `depth` bits, shape (n, channels), int64."""
    rng = np.random.default_rng(seed)
    half = 1 << (depth - 1)
    return rng.integers(-half, half, size=(n, channels), dtype=np.int64)


def sine(n: int, rate: int = 48000, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


def write_int(path, values: np.ndarray, depth: int, rate: int, fmt: str, subtype: str) -> None:
    """Write signed `depth`-bit values exactly, left-aligned in int32."""
    sf.write(path, (values << (32 - depth)).astype(np.int32), rate, format=fmt, subtype=subtype)


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - got) ** 2), 1e-20))


def round_trip(signal, tmp_path, fmt: str):
    out = tmp_path / f"out.{fmt}"
    audio.write(signal.samples, signal.spec, out, fmt)
    return audio.read(out)


def test_wav16_mono_round_trip_is_bit_exact(tmp_path):
    values = noise(1001, 1, 16)
    path = tmp_path / "a.wav"
    write_int(path, values, 16, 22050, "WAV", "PCM_16")
    signal = audio.read(path)
    spec = signal.spec
    assert spec == SignalSpec("audio", (1001,), 1, 16, Fraction(22050), "wav:PCM_16")
    assert signal.samples.dtype == np.uint16 and signal.samples.shape == (1001, 1)
    assert np.array_equal(audio.signed(signal.samples, spec), values)
    again = round_trip(signal, tmp_path, "wav")
    assert again.spec == spec and np.array_equal(again.samples, signal.samples)


def test_flac24_stereo_round_trip_is_bit_exact(tmp_path):
    values = noise(777, 2, 24)
    path = tmp_path / "a.flac"
    write_int(path, values, 24, 96000, "FLAC", "PCM_24")
    signal = audio.read(path)
    assert signal.spec.fmt == "flac:PCM_24" and signal.spec.bit_depth == 24
    assert signal.samples.dtype == np.uint32
    assert np.array_equal(audio.signed(signal.samples, signal.spec), values)
    for fmt in ("flac", "wav"):
        again = round_trip(signal, tmp_path, fmt)
        assert again.spec.fmt == f"{fmt}:PCM_24"
        assert np.array_equal(again.samples, signal.samples)


def test_wav_u8(tmp_path):
    values = noise(300, 2, 8)
    path = tmp_path / "a.wav"
    write_int(path, values, 8, 8000, "WAV", "PCM_U8")
    signal = audio.read(path)
    assert signal.spec.fmt == "wav:PCM_U8" and signal.spec.bit_depth == 8
    assert signal.samples.dtype == np.uint8
    # Offset-binary 8-bit is exactly what PCM_U8 stores.
    with open(path, "rb") as f:
        raw = f.read()
    assert raw.endswith(signal.samples.tobytes())
    assert np.array_equal(round_trip(signal, tmp_path, "wav").samples, signal.samples)
    flac = round_trip(signal, tmp_path, "flac")  # FLAC has no unsigned 8-bit: signed, same values
    assert flac.spec.fmt == "flac:PCM_S8" and np.array_equal(flac.samples, signal.samples)


def test_pcm32_keeps_top_24_bits(tmp_path):
    values = noise(50, 1, 32)
    path = tmp_path / "a.wav"
    sf.write(path, values.astype(np.int32), 44100, format="WAV", subtype="PCM_32")
    signal = audio.read(path)
    assert signal.spec.bit_depth == 24 and signal.spec.fmt == "wav:PCM_32"
    assert np.array_equal(audio.signed(signal.samples, signal.spec), values >> 8)


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_float_wav(tmp_path, subtype):
    x = np.stack([sine(513), -sine(513, freq=1000.0) * 1.5], axis=1)  # channel 1 clips
    path = tmp_path / "a.wav"
    sf.write(path, x, 48000, format="WAV", subtype=subtype)
    signal = audio.read(path)
    assert signal.spec.bit_depth == 24 and signal.spec.fmt == f"wav:{subtype}"
    got = audio.to_array(signal.samples, signal.spec)
    assert got.dtype == np.float32 and got.shape == x.shape
    stored = np.clip(x.astype(np.float32), -1, 1)
    assert np.max(np.abs(got - stored)) <= 2.0 ** -23
    again = round_trip(signal, tmp_path, "wav")
    assert again.spec.fmt == f"wav:{subtype}" and np.array_equal(again.samples, signal.samples)
    flac = round_trip(signal, tmp_path, "flac")  # no float in FLAC: 24-bit integers, still exact
    assert flac.spec.fmt == "flac:PCM_24" and np.array_equal(flac.samples, signal.samples)


@pytest.mark.parametrize("n", [1, 3, 1001])
def test_odd_lengths(tmp_path, n):
    values = noise(n, 3, 16, seed=n)
    path = tmp_path / "a.flac"
    write_int(path, values, 16, 16000, "FLAC", "PCM_16")
    signal = audio.read(path)
    assert signal.spec.shape == (n,) and signal.samples.shape == (n, 3)
    assert np.array_equal(round_trip(signal, tmp_path, "wav").samples, signal.samples)


def test_many_channels(tmp_path):
    values = noise(200, 6, 24)
    path = tmp_path / "a.wav"
    write_int(path, values, 24, 48000, "WAV", "PCM_24")
    signal = audio.read(path)
    assert signal.spec.channels == 6
    assert np.array_equal(round_trip(signal, tmp_path, "flac").samples, signal.samples)
    array = audio.to_array(signal.samples, signal.spec)
    assert array.shape == (200, 6) and array.dtype == np.int32


def test_too_many_channels_for_flac(tmp_path):
    signal = audio.from_array(np.zeros((10, 9), np.int16), 8000)
    with pytest.raises(UnsupportedInput, match="at most 8 channels"):
        audio.write(signal.samples, signal.spec, tmp_path / "x", "flac")


def test_sniff_by_magic_when_extension_lies(tmp_path):
    path = tmp_path / "actually_flac.wav"
    write_int(path, noise(64, 1, 16), 16, 8000, "FLAC", "PCM_16")
    head = path.read_bytes()[:16]
    assert audio.sniff(head) == "flac"
    assert audio.read(path).spec.fmt == "flac:PCM_16"


@pytest.mark.parametrize("fmt, subtype, name", [("WAV", "PCM_16", "wav"), ("RF64", "PCM_16", "wav"),
                                                ("W64", "PCM_16", "wav"), ("FLAC", "PCM_16", "flac"),
                                                ("OGG", "VORBIS", "ogg"), ("AIFF", "PCM_16", "aiff"),
                                                ("MP3", "MPEG_LAYER_III", "mp3")])
def test_sniff(tmp_path, fmt, subtype, name):
    path = tmp_path / "x"
    sf.write(path, sine(1152, 44100), 44100, format=fmt, subtype=subtype)
    assert audio.sniff(path.read_bytes()[:16]) == name
    assert audio.read(path).spec.fmt.startswith(name + ":")


def test_sniff_rejects_other_bytes():
    for head in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"RIFF\0\0\0\0WEBPVP8 ", b"hello world!"):
        assert audio.sniff(head) is None


def test_garbage_and_empty_files_are_refused(tmp_path):
    garbage = tmp_path / "g.wav"
    garbage.write_bytes(b"this is not audio at all " * 8)
    with pytest.raises(UnsupportedInput, match="cannot read audio .*g.wav"):
        audio.read(garbage)
    empty = tmp_path / "e.flac"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedInput, match="empty file"):
        audio.read(empty)
    truncated = tmp_path / "t.wav"
    write_int(truncated, noise(10, 1, 16), 16, 8000, "WAV", "PCM_16")
    truncated.write_bytes(truncated.read_bytes()[:20])
    with pytest.raises(UnsupportedInput):
        audio.read(truncated)


def test_zero_length_file_is_refused(tmp_path):
    path = tmp_path / "z.wav"
    sf.write(path, np.zeros((0, 2), np.int16), 8000, format="WAV", subtype="PCM_16")
    with pytest.raises(UnsupportedInput, match="no samples"):
        audio.read(path)


def test_24bit_as_wav_keeps_pcm24(tmp_path):
    signal = audio.from_array(noise(100, 2, 24).astype(np.int32) << 8, 44100)
    assert signal.spec.fmt == "wav:PCM_24"
    out = tmp_path / "o"
    audio.write(signal.samples, signal.spec, out, "wav")
    assert sf.info(out).subtype == "PCM_24" and sf.info(out).format == "WAV"
    assert np.array_equal(audio.read(out).samples, signal.samples)


def test_ogg_vorbis_write_read(tmp_path):
    x = np.stack([sine(4800), sine(4800, freq=660.0)], axis=1)
    signal = audio.from_array(x, 48000)
    again = round_trip(signal, tmp_path, "ogg")
    assert again.spec.fmt == "ogg:VORBIS"
    assert again.spec.shape == signal.spec.shape and again.spec.channels == 2
    assert again.spec.rate == 48000
    got = audio.to_array(again.samples, again.spec)
    assert snr_db(x, got) > 10


def test_opus(tmp_path):
    x = sine(4800, 48000)
    signal = audio.from_array(x, 48000)
    out = tmp_path / "o"
    audio.write(signal.samples, signal.spec, out, audio.output_format(signal.spec, ".opus"))
    opus = audio.read(out)
    assert opus.spec.fmt == "ogg:OPUS" and opus.spec.shape == (4800,) and opus.spec.rate == 48000
    assert snr_db(x, audio.to_array(opus.samples, opus.spec)) > 10
    # ".ogg" keeps Opus when the input was Opus ...
    assert round_trip(opus, tmp_path, "ogg").spec.fmt == "ogg:OPUS"
    # ... unless the rate does not suit Opus: then Vorbis; asking for Opus itself is refused.
    odd = SignalSpec("audio", opus.spec.shape, 1, 24, Fraction(44100), "ogg:OPUS")
    audio.write(opus.samples, odd, out, "ogg")
    assert sf.info(out).subtype == "VORBIS"
    with pytest.raises(UnsupportedInput, match="Opus takes only"):
        audio.write(opus.samples, odd, out, "opus")


def test_output_format_and_extension():
    spec = audio.from_array(np.zeros(4, np.int16), 8000).spec
    flac = SignalSpec("audio", (4,), 1, 16, Fraction(8000), "flac:PCM_16")
    assert audio.output_format(spec, "") == "wav" and audio.output_format(flac, "") == "flac"
    assert audio.output_format(spec, ".FLAC") == "flac" and audio.output_format(spec, ".oga") == "ogg"
    assert audio.output_format(spec, ".opus") == "opus"
    with pytest.raises(UnsupportedInput, match=r"cannot write audio as \.xyz; use one of .*\.flac"):
        audio.output_format(spec, ".xyz")
    assert audio.default_extension(spec) == ".wav" and audio.default_extension(flac) == ".flac"
    assert audio.default_extension(SignalSpec("audio", (4,), 1, 24, Fraction(48000), "ogg:OPUS")) == ".ogg"
    assert audio.default_extension(SignalSpec("audio", (4,), 1, 24, Fraction(48000), "")) == ".wav"


def test_mp3_fmt_fits_header(tmp_path):
    x = sine(2304, 44100)
    path = tmp_path / "m.mp3"
    sf.write(path, x, 44100, format="MP3", subtype="MPEG_LAYER_III")
    signal = audio.read(path)
    assert signal.spec.fmt == "mp3:MP3" and signal.spec.bit_depth == 24  # "mp3:MPEG_LAYER_III" is too long
    out = tmp_path / "o"
    audio.write(signal.samples, signal.spec, out, "mp3")
    assert sf.info(out).subtype == "MPEG_LAYER_III"
    audio.write(signal.samples, signal.spec, out, "wav")
    assert sf.info(out).subtype == "PCM_24"
    stereo = audio.from_array(np.zeros((4, 3), np.int16), 44100)
    with pytest.raises(UnsupportedInput, match="at most 2 channels"):
        audio.write(stereo.samples, stereo.spec, out, "mp3")


# --- array API ---

@pytest.mark.parametrize("shape", [(1,), (1001,), (7, 1), (5, 2), (3, 16)])
def test_int16_array_round_trip(shape):
    array = noise(int(np.prod(shape)), 1, 16).astype(np.int16).reshape(shape)
    signal = audio.from_array(array, 44100)
    spec = signal.spec
    assert spec.bit_depth == 16 and spec.fmt == "wav:PCM_16" and spec.rate == 44100
    assert signal.samples.shape == (shape[0], 1 if len(shape) == 1 else shape[1])
    back = audio.to_array(signal.samples, spec)
    expect = array[:, 0] if array.ndim == 2 and array.shape[1] == 1 else array
    assert back.dtype == np.int16 and np.array_equal(back, expect)


def test_int32_array_round_trip():
    array = (noise(301, 2, 24) << 8).astype(np.int32)
    signal = audio.from_array(array, 48000)
    assert signal.spec.bit_depth == 24 and signal.samples.dtype == np.uint32
    back = audio.to_array(signal.samples, signal.spec)
    assert back.dtype == np.int32 and np.array_equal(back, array)
    # Low bits are dropped: the top 24 bits remain.
    low = audio.from_array(array + 0x7F, 48000)
    assert np.array_equal(low.samples, signal.samples)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_array_round_trip(dtype):
    x = np.stack([sine(333), np.linspace(-1.2, 1.2, 333)], axis=1).astype(dtype)
    signal = audio.from_array(x, 16000)
    assert signal.spec.bit_depth == 24 and signal.spec.fmt == "wav:FLOAT"
    back = audio.to_array(signal.samples, signal.spec)
    assert back.dtype == np.float32 and back.shape == x.shape
    assert np.max(np.abs(back - np.clip(x, -1, 1))) <= 2.0 ** -23
    assert audio.signed(signal.samples, signal.spec).max() == 2 ** 23 - 1  # clipped, not wrapped


def test_8bit_to_array_is_left_aligned_int16(tmp_path):
    values = noise(20, 1, 8)
    path = tmp_path / "a.wav"
    write_int(path, values, 8, 8000, "WAV", "PCM_U8")
    signal = audio.read(path)
    back = audio.to_array(signal.samples, signal.spec)
    assert back.dtype == np.int16 and np.array_equal(back, values[:, 0] << 8)


@pytest.mark.parametrize("array, rate, message", [
    (np.zeros(4, np.uint8), 8000, "int16, int32, float32 or float64"),
    (np.zeros(4, np.int64), 8000, "int16, int32, float32 or float64"),
    (np.zeros(0, np.int16), 8000, "empty"),
    (np.zeros((4, 0), np.int16), 8000, "empty"),
    (np.zeros((2, 100), np.int16), 8000, "at most 16 channels"),
    (np.zeros((2, 2, 2), np.int16), 8000, "shape"),
    (np.array([0.0, np.nan]), 8000, "NaN"),
    (np.zeros(4, np.int16), 0, "positive"),
    (np.zeros(4, np.int16), -8000, "positive"),
    (np.zeros(4, np.int16), 44100.5, "whole number"),
    (np.zeros(4, np.int16), float("nan"), "finite"),
    (np.zeros(4, np.int16), float("inf"), "finite"),
    (np.zeros(4, np.int16), "44100", "must be a number"),
    ([0, 1, 2], 8000, "numpy array"),
])
def test_from_array_refusals(array, rate, message):
    with pytest.raises(UnsupportedInput, match=message):
        audio.from_array(array, rate)
