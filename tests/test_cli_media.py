"""Audio and video through the command line: outputs match the input's format, length, rate and size."""
import json

import numpy as np
import pytest
import soundfile as sf

from inrcodec.formats import video
from inrcodec.signal import SignalSpec
from tests.conftest import moving_clip, tone
from tests.test_cli import assert_clean_error, run

FAST = ["--steps", "60", "--quiet"]


@pytest.mark.parametrize("name,subtype,channels,rate", [("speech.wav", "PCM_16", 1, 16000),
                                                         ("music.flac", "PCM_24", 2, 44100)])
def test_audio_round_trip_keeps_container_subtype_rate_and_length(tmp_path, name, subtype, channels, rate):
    source = tmp_path / name
    sf.write(source, tone(1999, channels, seed=1), rate, subtype=subtype)
    encoded = tmp_path / "a.inrc"
    assert run("encode", source, "-o", encoded, "--width", "16", "--chunk", "1000", *FAST).returncode == 0
    decoded = tmp_path / ("out" + source.suffix)
    assert run("decode", encoded, "-o", decoded, "--quiet").returncode == 0
    got, want = sf.info(decoded), sf.info(source)
    assert (got.format, got.subtype, got.samplerate, got.channels, got.frames) == \
        (want.format, want.subtype, want.samplerate, want.channels, want.frames)
    described = json.loads(run("info", encoded, "--json").stdout)
    assert described["kind"] == "audio" and described["chunks"] == 2
    assert described["seconds"] == pytest.approx(1999 / rate)


def test_default_audio_output_name_keeps_the_container(tmp_path):
    source = tmp_path / "clip.flac"
    sf.write(source, tone(500), 8000, subtype="PCM_16")
    assert run("encode", source, "--width", "12", *FAST).returncode == 0
    assert run("decode", tmp_path / "clip.inrc", "-o", tmp_path / "back.wav", "--quiet").returncode == 0
    assert sf.info(tmp_path / "back.wav").format == "WAV"
    result = run("decode", tmp_path / "clip.inrc")
    assert result.returncode == 1 and "exists" in result.stderr  # clip.flac is the input: never overwritten


def test_y4m_round_trip_keeps_frames_size_rate_and_chroma(tmp_path):
    clip = moving_clip(5, 13, 19)
    source = tmp_path / "clip.y4m"
    spec = SignalSpec("video", (5, 13, 19), 3, 8, video.DEFAULT_FPS, "y4m:420jpeg")
    video.write(clip, spec, source, "y4m")
    encoded = tmp_path / "clip.inrc"
    result = run("encode", source, "--steps", "60", "--chunk", "3")
    assert result.returncode == 0 and "finr" in result.stderr and "Y " in result.stderr
    assert run("decode", encoded, "-o", tmp_path / "out.y4m", "--quiet").returncode == 0
    back = video.read(tmp_path / "out.y4m")
    original = video.read(source)
    assert back.spec == original.spec
    info = run("info", encoded).stdout
    assert "5 frames of 19x13" in info and "fps" in info


def test_video_decodes_to_png_frames(tmp_path):
    source = tmp_path / "clip.y4m"
    video.write(moving_clip(3, 8, 10), SignalSpec("video", (3, 8, 10), 3, 8, video.DEFAULT_FPS, "y4m:444"),
                source, "y4m")
    assert run("encode", source, "-o", tmp_path / "c.inrc", *FAST).returncode == 0
    assert run("decode", tmp_path / "c.inrc", "-o", tmp_path / "frames", "--quiet").returncode == 0
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f"frame_{i:06d}.png" for i in range(3)]
    assert_clean_error(run("decode", tmp_path / "c.inrc", "-o", tmp_path / "frames", "--force"), match="directory")


def test_media_option_errors_are_one_line(tmp_path):
    source = tmp_path / "a.wav"
    sf.write(source, tone(300), 8000, subtype="PCM_16")
    assert_clean_error(run("encode", source, "--rank", "4", *FAST), match="--rank does not apply to --method siren")
    assert_clean_error(run("encode", source, "--chunk", "100", "--method", "finr", "--kbps", "0.001", *FAST),
                       match="bytes")
    bad = tmp_path / "b.y4m"
    bad.write_bytes(b"YUV4MPEG2 W4 H4 F25:1 C422\nFRAME\n" + bytes(32))
    assert_clean_error(run("encode", bad, *FAST), match="4:2:2")
