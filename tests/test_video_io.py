"""Video files in and out: Y4M, folders of PNG frames, PyAV containers, colour helpers, arrays."""
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from inrcodec.errors import UnsupportedInput
from inrcodec.formats import video
from inrcodec.signal import SignalSpec


def y4m_bytes(width=17, height=10, frames=3, tag="420jpeg", rate="25:1", frame_header=b"FRAME\n", seed=0):
    """A Y4M file with random planes; tag None writes no C parameter."""
    rng = np.random.default_rng(seed)
    luma = width * height
    chroma = {"444": luma, "mono": 0}.get(tag, ((width + 1) // 2) * ((height + 1) // 2))
    head = f"YUV4MPEG2 W{width} H{height} F{rate} It A1:1" + (f" C{tag}" if tag else "") + " XYSCSS=FOO\n"
    body = b"".join(frame_header + rng.integers(0, 256, luma + 2 * chroma, dtype=np.uint8).tobytes()
                    for _ in range(frames))
    return head.encode() + body


def frame_data(data: bytes) -> bytes:
    """Everything after the stream header, FRAME headers normalised to plain 'FRAME\\n'."""
    body = data[data.index(b"\n") + 1:]
    return body.replace(b"FRAME Ip XA=1\n", b"FRAME\n")


def read_bytes(tmp_path, data, name="in.y4m"):
    path = tmp_path / name
    path.write_bytes(data)
    return video.read(path)


@pytest.mark.parametrize("tag, fmt", [("420jpeg", "y4m:420jpeg"), ("420mpeg2", "y4m:420mpeg2"),
                                      ("420paldv", "y4m:420paldv"), ("420", "y4m:420"), (None, "y4m:420jpeg")])
def test_y4m_420_round_trip_is_exact_at_odd_sizes(tmp_path, tag, fmt):
    data = y4m_bytes(17, 11, 3, tag)
    signal = read_bytes(tmp_path, data)
    assert signal.spec == SignalSpec("video", (3, 11, 17), 3, 8, Fraction(25), fmt)
    assert signal.samples.shape == (3, 11, 17, 3) and signal.samples.dtype == np.uint8
    out = tmp_path / "out.y4m"
    video.write(signal.samples, signal.spec, out, "y4m")
    written = out.read_bytes()
    assert written.startswith(f"YUV4MPEG2 W17 H11 F25:1 Ip C{fmt[4:]}\n".encode())
    assert frame_data(written) == frame_data(data)
    again = video.read(out)
    assert again.spec == signal.spec and np.array_equal(again.samples, signal.samples)


def test_chroma_is_repeated_and_averaged_over_present_pixels():
    plane = np.array([[[10, 20, 30], [40, 50, 61], [7, 8, 9]]], np.uint8)  # 3×3: odd both ways
    down = video._downsample(plane)
    assert down.tolist() == [[[30, 46], [8, 9]]]  # (10+20+40+50)/4, (30+61)/2 rounded up, (7+8)/2, 9
    assert np.array_equal(video._downsample(video._upsample(down, 3, 3)), down)


@pytest.mark.parametrize("tag, channels", [("444", 3), ("mono", 1)])
def test_y4m_444_and_mono_round_trip(tmp_path, tag, channels):
    data = y4m_bytes(9, 7, 2, tag)
    signal = read_bytes(tmp_path, data)
    assert signal.spec.channels == channels and signal.spec.fmt == "y4m:" + tag
    out = tmp_path / "out.y4m"
    video.write(signal.samples, signal.spec, out, "y4m")
    assert f" C{tag}\n".encode() in out.read_bytes()[:60]
    assert frame_data(out.read_bytes()) == frame_data(data)
    assert video.to_array(signal.samples, signal.spec).shape == ((2, 7, 9) if channels == 1 else (2, 7, 9, 3))


def test_frame_parameters_are_skipped_and_fps_ratio_is_kept(tmp_path):
    data = y4m_bytes(6, 4, 2, "420mpeg2", rate="30000:1001", frame_header=b"FRAME Ip XA=1\n")
    signal = read_bytes(tmp_path, data)
    assert signal.spec.shape == (2, 4, 6) and signal.spec.rate == Fraction(30000, 1001)
    out = tmp_path / "out.y4m"
    video.write(signal.samples, signal.spec, out, "y4m")
    assert b" F30000:1001 " in out.read_bytes()[:60]
    assert frame_data(out.read_bytes()) == frame_data(data)


@pytest.mark.parametrize("data, match", [
    (y4m_bytes(17, 10, 3)[:-5], "frame 2 is truncated"),
    (b"YUV4MPEG2 W100000 H100000 F25:1\nFRAME\n" + bytes(100), "declares 100000×100000"),
    (y4m_bytes(4, 4, 0), "no frames"),
    (y4m_bytes(4, 4, 1) + b"junk", "expected a FRAME header"),
    (y4m_bytes(4, 4, 1, "422"), "4:2:2"),
    (y4m_bytes(4, 4, 1, "420p10"), "high bit depth"),
    (y4m_bytes(4, 4, 1, "444alpha"), "alpha"),
    (b"YUV4MPEG2 H4 F25:1\nFRAME\n" + bytes(24), "no valid W and H"),
])
def test_bad_y4m_is_refused_with_a_message(tmp_path, data, match):
    with pytest.raises(UnsupportedInput, match=match):
        read_bytes(tmp_path, data)


def test_y4m_suffix_without_magic_is_refused(tmp_path):
    with pytest.raises(UnsupportedInput, match="not a Y4M file"):
        read_bytes(tmp_path, b"hello world")


def save_frames(folder, frames, names):
    folder.mkdir()
    for frame, name in zip(frames, names):
        Image.fromarray(frame).save(folder / name)


@pytest.mark.parametrize("shape", [(3, 10, 17), (3, 10, 17, 3)])
def test_png_folder_round_trip_in_numeric_order(tmp_path, shape):
    frames = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    # Written out of order, and with names that sort wrongly as text (frame10 < frame2).
    save_frames(tmp_path / "in", frames, ["frame2.png", "frame10.png", "frame1x100.png"])
    (tmp_path / "in" / "notes.txt").write_text("not a frame")
    signal = video.read(tmp_path / "in")
    assert signal.spec.shape == (3, 10, 17) and signal.spec.rate == 25
    assert signal.spec.channels == (1 if len(shape) == 3 else 3)
    assert np.array_equal(video.to_array(signal.samples, signal.spec), frames)
    out = tmp_path / "out"
    video.write(signal.samples, signal.spec, out, "pngdir")
    assert sorted(p.name for p in out.iterdir()) == [f"frame_00000{t}.png" for t in range(3)]
    again = video.read(out, fps=Fraction(24000, 1001))
    assert again.spec.rate == Fraction(24000, 1001) and np.array_equal(again.samples, signal.samples)
    with pytest.raises(UnsupportedInput, match="already exists"):
        video.write(signal.samples, signal.spec, out, "pngdir")


def test_png_folder_problems_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnsupportedInput, match="no PNG frames"):
        video.read(tmp_path / "empty")
    rgba = np.zeros((2, 4, 4, 4), np.uint8)
    save_frames(tmp_path / "rgba", rgba, ["a1.png", "a2.png"])
    with pytest.raises(UnsupportedInput, match="alpha"):
        video.read(tmp_path / "rgba")
    gray4, gray5, rgb4 = np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), np.zeros((4, 4, 3), np.uint8)
    save_frames(tmp_path / "sizes", [gray4, gray5], ["1.png", "2.png"])
    with pytest.raises(UnsupportedInput, match="same size and mode"):
        video.read(tmp_path / "sizes")
    save_frames(tmp_path / "modes", [gray4, rgb4], ["1.png", "2.png"])
    with pytest.raises(UnsupportedInput, match="same size and mode"):
        video.read(tmp_path / "modes")
    save_frames(tmp_path / "twice", [gray4, gray4], ["f1.png", "f01.png"])
    with pytest.raises(UnsupportedInput, match="same frame number"):
        video.read(tmp_path / "twice")


def smooth_rgb_video(frames=3, height=10, width=17):
    t, y, x = np.mgrid[0:frames, 0:height, 0:width].astype(np.float64)
    planes = [128 + 100 * np.sin(x / 3 + t), 128 + 100 * np.cos(y / 2 - t), 40 + 10 * x + 5 * y]
    return np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)


def test_rgb_written_as_y4m_444_comes_back_within_two_levels(tmp_path):
    noise = np.random.default_rng(2).integers(0, 256, (2, 10, 17, 3), np.uint8)
    array = np.concatenate([smooth_rgb_video(), noise])
    signal = video.from_array(array, 25)
    out = tmp_path / "rgb.y4m"
    video.write(signal.samples, signal.spec, out, "y4m")
    assert out.read_bytes().startswith(b"YUV4MPEG2 W17 H10 F25:1 Ip C444\n")
    back = video.read(out)
    assert back.spec.fmt == "y4m:444"
    rgb = video.rgb(back.samples, back.spec)
    assert np.abs(rgb.astype(int) - array).max() <= 2
    assert np.abs(video.luma(back.samples, back.spec) - video.luma(array, signal.spec)).max() <= 0.5


def test_gray_array_writes_mono_y4m(tmp_path):
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    signal = video.from_array(array, 30)
    out = tmp_path / "g.y4m"
    video.write(signal.samples, signal.spec, out, "y4m")
    back = video.read(out)
    assert back.spec.fmt == "y4m:mono" and np.array_equal(video.to_array(back.samples, back.spec), array)


def test_colour_helpers():
    ycc_spec = SignalSpec("video", (1, 1, 3), 3, 8, Fraction(25), "y4m:420jpeg")
    ycc = np.array([[[[0, 128, 128], [255, 128, 128], [76, 85, 255]]]], np.uint8)  # black, white, red
    assert video.rgb(ycc, ycc_spec).tolist() == [[[[0, 0, 0], [255, 255, 255], [254, 0, 0]]]]
    assert video.luma(ycc, ycc_spec).tolist() == [[[0.0, 255.0, 76.0]]]
    gray = video.from_array(np.full((1, 2, 2), 9, np.uint8), 25)
    assert video.rgb(gray.samples, gray.spec).shape == (1, 2, 2, 3)
    assert video.luma(gray.samples, gray.spec).dtype == np.float64
    rgb = video.from_array(np.full((1, 1, 1, 3), [255, 0, 0], np.uint8), 25)
    assert video.rgb(rgb.samples, rgb.spec) is rgb.samples
    assert video.luma(rgb.samples, rgb.spec)[0, 0, 0] == pytest.approx(0.299 * 255)


def test_y4m_written_as_png_folder_is_rgb(tmp_path):
    signal = read_bytes(tmp_path, y4m_bytes(5, 3, 2, "420mpeg2"))
    video.write(signal.samples, signal.spec, tmp_path / "frames", "pngdir")
    back = video.read(tmp_path / "frames")
    assert back.spec.channels == 3 and back.spec.fmt == "pngdir"
    assert np.array_equal(back.samples, video.rgb(signal.samples, signal.spec))


def test_sniff_and_output_formats():
    assert video.sniff(b"YUV4MPEG2 W4 H4") == "y4m"
    assert video.sniff(b"\x00\x00\x00\x20ftypisom\x00\x00") == "mp4"
    assert video.sniff(b"\x00\x00\x00\x20ftypheic\x00\x00") is None  # a HEIF still image
    assert video.sniff(b"\x1a\x45\xdf\xa3\x01\x00") == "mkv"
    assert video.sniff(b"\x89PNG\r\n\x1a\n") is None and video.sniff(b"") is None
    assert video.EXTENSIONS[".mov"] == "mp4" and video.EXTENSIONS[".webm"] == "webm"
    spec = SignalSpec("video", (1, 2, 2), 3, 8, Fraction(25), "")
    names = ("a.y4m", "frames", "a.MP4", "a.mkv")
    assert [video.output_format(spec, p) for p in names] == ["y4m", "pngdir", "mp4", "mkv"]
    with pytest.raises(UnsupportedInput, match=".y4m, .mp4, .mkv"):
        video.output_format(spec, "a.gif")
    assert video.default_extension(spec) == ".y4m"
    with pytest.raises(UnsupportedInput, match="cannot write video as"):
        video.write(np.zeros((1, 2, 2, 3), np.uint8), spec, "x", "gif")


def test_from_array_and_to_array():
    array = np.zeros((2, 3, 4, 3), np.uint8)
    signal = video.from_array(array, Fraction(30000, 1001))
    assert signal.spec == SignalSpec("video", (2, 3, 4), 3, 8, Fraction(30000, 1001), "")
    assert video.to_array(signal.samples, signal.spec).shape == (2, 3, 4, 3)
    assert video.from_array(array, 29.97).spec.rate == Fraction(2997, 100)
    gray = video.from_array(np.zeros((2, 3, 4), np.uint8), 25)
    assert gray.spec.channels == 1 and video.to_array(gray.samples, gray.spec).shape == (2, 3, 4)
    bad_inputs = [(array.astype(np.uint16), 25, "uint8"), (np.zeros((2, 3, 4, 4), np.uint8), 25, "T×H×W"),
                  (np.zeros((2, 3), np.uint8), 25, "T×H×W"), (np.zeros((0, 3, 4), np.uint8), 25, "empty"),
                  (array, 0, "positive"), (array, -1, "positive"), (array, float("nan"), "frame rate"),
                  ([[1]], 25, "numpy array")]
    for bad, fps, match in bad_inputs:
        with pytest.raises(UnsupportedInput, match=match):
            video.from_array(bad, fps)


def test_pyav_mp4_is_read_as_rgb(tmp_path):
    av = pytest.importorskip("av")
    array = smooth_rgb_video(3, 10, 17)
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30000, 1001), options={"qp": "0"})
        stream.width, stream.height, stream.pix_fmt = 17, 10, "yuv444p"
        for frame in array:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, "rgb24")))
        container.mux(stream.encode())
    signal = video.read(path)
    assert signal.spec == SignalSpec("video", (3, 10, 17), 3, 8, Fraction(30000, 1001), "mp4")
    assert np.abs(signal.samples.astype(int) - array).max() <= 3
    assert video.read(path, fps=12).spec.rate == 12


@pytest.mark.parametrize("channels", [1, 3])
def test_pyav_write_mkv_is_lossless_and_mp4_is_close(tmp_path, channels):
    pytest.importorskip("av")
    array = smooth_rgb_video(2, 11, 9)
    signal = video.from_array(array[..., 0] if channels == 1 else array, 25)
    video.write(signal.samples, signal.spec, tmp_path / "out.tmp", "mkv")  # the format, not the name, decides
    back = video.read(tmp_path / "out.tmp")
    assert back.spec.shape == (2, 11, 9) and back.spec.rate == 25 and back.spec.fmt == "mkv"
    assert np.array_equal(back.samples, video.rgb(signal.samples, signal.spec))
    video.write(signal.samples, signal.spec, tmp_path / "out.mp4", "mp4")
    back = video.read(tmp_path / "out.mp4")
    assert np.abs(back.samples.astype(int) - video.rgb(signal.samples, signal.spec)).max() <= 3


def test_y4m_output_is_read_by_ffmpeg(tmp_path):
    av = pytest.importorskip("av")
    signal = read_bytes(tmp_path, y4m_bytes(6, 4, 2, "420jpeg"))
    out = tmp_path / "out.y4m"
    video.write(signal.samples, signal.spec, out, "y4m")
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 2 and frames[0].width == 6 and frames[0].height == 4
    for frame, samples in zip(frames, signal.samples):
        plane = frame.planes[0]
        luma = np.frombuffer(bytes(plane), np.uint8).reshape(4, plane.line_size)[:, :6]
        assert np.array_equal(luma, samples[..., 0])  # the Y plane as ffmpeg sees it


def test_missing_pyav_is_reported(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("no av")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(20))
    with pytest.raises(UnsupportedInput, match=r"reading \.mp4 needs PyAV: pip install av"):
        video.read(path)
