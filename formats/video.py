"""Video in and out: Y4M (no dependencies), folders of numbered PNG frames, MP4/MKV/... through PyAV.

Samples are (T, H, W, C) uint8 with C = 1 (gray) or 3. Y4M keeps its Y'CbCr planes (chroma
repeated up to full size, so 4:2:0 survives a round trip exactly) and fmt "y4m:<colourspace>";
every other source is RGB. Colour conversions use full-range BT.601 (JPEG) coefficients, for Y4M
files too: the codec never looks at the range, only metrics and RGB outputs do.

Y4M output writes "W H F Ip C": frames are coded as whole pictures, and the source's pixel
aspect (A) is not kept, so it is left out (unknown) rather than guessed.
PyAV is optional and imported inside the functions that need it.
"""
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.errors import UnsupportedInput
from inrcodec.signal import Signal, SignalSpec

EXTENSIONS = {".y4m": "y4m", ".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".mkv": "mkv",
              ".webm": "webm", ".avi": "avi"}
OUTPUT_FORMATS = {".y4m": "y4m", ".mp4": "mp4", ".mkv": "mkv"}
DEFAULT_FPS = Fraction(25)

Y4M_MAGIC = b"YUV4MPEG2 "
Y4M_420 = ("420jpeg", "420mpeg2", "420paldv", "420")
_MAX_HEADER = 65536  # a Y4M stream or FRAME header longer than this is not a Y4M file
_CHUNK = 16  # frames converted at a time, to bound float temporaries

# ISO-BMFF brands of still images and audio: an ftyp box alone does not make a video.
_NOT_VIDEO_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"crx ",
                     b"M4A ", b"M4B ", b"M4P ")

# Full-range BT.601 (JPEG): Y'CbCr = M @ RGB + (0, 128, 128).
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114],
                        [-0.168735892, -0.331264108, 0.5],
                        [0.5, -0.418687589, -0.081312411]])
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC)
_CHROMA_OFFSET = np.array([0.0, 128.0, 128.0])


def sniff(head: bytes) -> str | None:
    """"y4m", "mp4" (ISO-BMFF ftyp box) or "mkv" (EBML, WebM included) from a file's first bytes."""
    if head.startswith(Y4M_MAGIC):
        return "y4m"
    if head[4:8] == b"ftyp" and head[8:12] not in _NOT_VIDEO_BRANDS:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv"
    return None


# --- reading -------------------------------------------------------------------------------------

def read(path, fps=None) -> Signal:
    """A .y4m file, a folder of numbered PNG frames, or a file PyAV can decode; `fps` overrides the rate."""
    path = Path(path)
    rate = None if fps is None else _rate(fps)
    if path.is_dir():
        return _read_png_dir(path, rate or DEFAULT_FPS)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise UnsupportedInput(f"cannot read {path}: {exc.strerror}") from None
    kind = sniff(head)
    if kind == "y4m":
        signal = _read_y4m(path)
    elif path.suffix.lower() in EXTENSIONS and path.suffix.lower() != ".y4m":
        signal = _read_av(path, EXTENSIONS[path.suffix.lower()])
    elif kind is not None:
        signal = _read_av(path, kind)
    elif path.suffix.lower() == ".y4m":
        raise UnsupportedInput(f"{path}: not a Y4M file (it does not start with 'YUV4MPEG2 ')")
    else:
        raise UnsupportedInput(f"{path}: not a supported video (Y4M, a folder of PNG frames, "
                               "or MP4/MKV/WebM/MOV/AVI through PyAV)")
    if rate is not None:
        signal = Signal(signal.samples, _with_rate(signal.spec, rate))
    return signal


def _with_rate(spec: SignalSpec, rate: Fraction) -> SignalSpec:
    return SignalSpec(spec.kind, spec.shape, spec.channels, spec.bit_depth, rate, spec.fmt)


def _rate(fps) -> Fraction:
    """A positive frame rate as a Fraction; floats like 29.97 become small ratios (2997/100)."""
    try:
        rate = Fraction(fps)
        if isinstance(fps, float):
            rate = rate.limit_denominator(1001)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        raise UnsupportedInput(f"bad frame rate {fps!r}") from None
    if rate <= 0:
        raise UnsupportedInput(f"the frame rate must be positive, got {fps!r}")
    return rate


def _parse_y4m_header(line: bytes, path) -> tuple:
    """(width, height, rate, colourspace tag) from the stream header line (without its newline)."""
    params = {}
    for token in line[len(Y4M_MAGIC):].split():
        params.setdefault(chr(token[0]), token[1:].decode("ascii", "replace"))  # I, A, X: ignored
    if not all(re.fullmatch(r"\d+", params.get(key, "")) for key in "WH"):
        raise UnsupportedInput(f"{path}: the Y4M header has no valid W and H")
    width, height = int(params["W"]), int(params["H"])
    if width < 1 or height < 1:
        raise UnsupportedInput(f"{path}: Y4M frame size {width}×{height} is empty")
    rate = DEFAULT_FPS  # missing or "F0:0" (unknown): the same default as for PNG folders
    if "F" in params:
        match = re.fullmatch(r"(\d+):(\d+)", params["F"])
        if not match:
            raise UnsupportedInput(f"{path}: bad Y4M frame rate F{params['F']}")
        num, den = int(match[1]), int(match[2])
        if num and den:
            rate = Fraction(num, den)
    return width, height, rate, _colourspace(params.get("C", "420jpeg"), path)


def _colourspace(tag: str, path) -> str:
    """The supported Y4M colourspace tag, or a message saying what to convert to."""
    if tag in Y4M_420 or tag in ("444", "mono"):
        return tag
    if re.fullmatch(r"(4\d\d|mono)p?\d+", tag):
        raise UnsupportedInput(f"{path}: high bit depth Y4M (C{tag}) is not supported; only 8-bit "
                               "(convert with ffmpeg -pix_fmt yuv420p)")
    if tag.startswith(("422", "411", "440")):
        raise UnsupportedInput(f"{path}: Y4M chroma {tag[0]}:{tag[1]}:{tag[2]} (C{tag}) is not supported; "
                               "use 4:2:0, 4:4:4 or mono (ffmpeg -pix_fmt yuv420p)")
    if "alpha" in tag:
        raise UnsupportedInput(f"{path}: Y4M with alpha (C{tag}) is not supported")
    raise UnsupportedInput(f"{path}: unknown Y4M colourspace C{tag}")


def _plane_sizes(width: int, height: int, tag: str) -> tuple:
    """Bytes of the luma plane and of each chroma plane (0 for mono) in one Y4M frame."""
    luma = width * height
    if tag == "mono":
        return luma, 0
    if tag == "444":
        return luma, luma
    return luma, ((width + 1) // 2) * ((height + 1) // 2)


def _frame_offsets(data: bytes, start: int, frame_bytes: int, path) -> list:
    """Where each frame's payload starts; every FRAME header and payload is checked against the data."""
    offsets = []
    pos = start
    while pos < len(data):
        if not (data.startswith(b"FRAME", pos) and data[pos + 5:pos + 6] in (b" ", b"\n")):
            raise UnsupportedInput(f"{path}: expected a FRAME header at byte {pos} (frame {len(offsets)})")
        newline = data.find(b"\n", pos, pos + _MAX_HEADER)
        if newline < 0:
            raise UnsupportedInput(f"{path}: FRAME header of frame {len(offsets)} does not end")
        pos = newline + 1  # FRAME parameters, if any, are skipped
        present = len(data) - pos
        if present < frame_bytes:
            raise UnsupportedInput(f"{path}: frame {len(offsets)} is truncated "
                                   f"({present} of {frame_bytes} bytes)")
        offsets.append(pos)
        pos += frame_bytes
    return offsets


def _read_y4m(path) -> Signal:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UnsupportedInput(f"cannot read {path}: {exc.strerror}") from None
    end = data.find(b"\n", 0, _MAX_HEADER)
    if end < 0:
        raise UnsupportedInput(f"{path}: the Y4M header does not end")
    width, height, rate, tag = _parse_y4m_header(data[:end], path)
    if not data[end + 1:].strip():
        raise UnsupportedInput(f"{path}: the Y4M file has no frames")
    luma, chroma = _plane_sizes(width, height, tag)
    frame_bytes = luma + 2 * chroma
    # Checked before anything is allocated: a corrupt W or H must not ask for gigabytes.
    available = len(data) - end - 1 - len(b"FRAME\n")
    if frame_bytes > available:
        raise UnsupportedInput(f"{path}: Y4M declares {width}×{height} frames of {frame_bytes} bytes "
                               f"but holds only {max(available, 0)} bytes of frame data")
    offsets = _frame_offsets(data, end + 1, frame_bytes, path)
    channels = 1 if tag == "mono" else 3
    samples = np.empty((len(offsets), height, width, channels), np.uint8)
    buffer = np.frombuffer(data, np.uint8)
    cw, ch = (width, height) if tag == "444" else ((width + 1) // 2, (height + 1) // 2)
    for t, pos in enumerate(offsets):
        samples[t, :, :, 0] = buffer[pos:pos + luma].reshape(height, width)
        for c in range(1, channels):
            at = pos + luma + (c - 1) * chroma
            samples[t, :, :, c] = _upsample(buffer[at:at + chroma].reshape(ch, cw), height, width)
    spec = SignalSpec("video", (len(offsets), height, width), channels, 8, rate, "y4m:" + tag)
    return Signal(samples, spec)


def _upsample(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Repeat each chroma sample over its 2×2 block, cropped to the picture (odd sizes)."""
    if plane.shape[-2:] == (height, width):
        return plane
    return np.repeat(np.repeat(plane, 2, axis=-2), 2, axis=-1)[..., :height, :width]


def _frame_number(path: Path) -> int | None:
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else None


def _png_frames(folder: Path) -> list:
    """The folder's PNG files in frame order (the last number in each name)."""
    # Names starting with "." are hidden files or macOS "._" resource forks, never frames.
    files = [p for p in folder.iterdir()
             if p.suffix.lower() == ".png" and not p.name.startswith(".") and p.is_file()]
    if not files:
        raise UnsupportedInput(f"{folder}: the folder holds no PNG frames")
    numbered = {}
    for p in files:
        number = _frame_number(p)
        if number is None:
            raise UnsupportedInput(f"{folder}: frame file {p.name} has no frame number in its name")
        if number in numbered:
            raise UnsupportedInput(f"{folder}: {numbered[number].name} and {p.name} have the same "
                                   f"frame number {number}")
        numbered[number] = p
    return [numbered[n] for n in sorted(numbered)]


def _png_frame(path: Path) -> np.ndarray:
    """One frame as (H, W, 1) gray or (H, W, 3) RGB uint8."""
    try:
        with Image.open(path) as im:
            im.load()
            if "A" in im.mode or (im.mode == "P" and "transparency" in im.info):
                raise UnsupportedInput(f"{path}: frames with alpha ({im.mode}) are not supported; "
                                       "flatten the alpha channel first")
            if im.mode in ("1", "L"):
                return np.asarray(im.convert("L"), np.uint8)[:, :, None]
            if im.mode in ("RGB", "P"):
                return np.asarray(im.convert("RGB"), np.uint8)
            if im.mode.startswith("I"):
                raise UnsupportedInput(f"{path}: 16-bit frames are not supported (video is 8-bit)")
            raise UnsupportedInput(f"{path}: frame mode {im.mode} is not supported")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedInput(f"cannot read frame {path}: {exc}") from None


def _read_png_dir(folder: Path, rate: Fraction) -> Signal:
    files = _png_frames(folder)
    first = _png_frame(files[0])
    samples = np.empty((len(files),) + first.shape, np.uint8)
    samples[0] = first
    for t, p in enumerate(files[1:], 1):
        frame = _png_frame(p)
        if frame.shape != first.shape:
            raise UnsupportedInput(f"{p}: frame is {_describe(frame)} but {files[0].name} is "
                                   f"{_describe(first)}; all frames must have the same size and mode")
        samples[t] = frame
    spec = SignalSpec("video", samples.shape[:3], samples.shape[3], 8, rate, "pngdir")
    return Signal(samples, spec)


def _describe(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}×{frame.shape[0]} {'gray' if frame.shape[2] == 1 else 'RGB'}"


def _import_av(action: str):
    try:
        import av
    except ImportError:
        raise UnsupportedInput(f"{action} needs PyAV: pip install av") from None
    return av


def _read_av(path: Path, fmt: str) -> Signal:
    """The first video stream, decoded to rgb24; fps from the stream's average rate."""
    av = _import_av(f"reading {path.suffix.lower() or '.' + fmt}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnsupportedInput(f"{path}: the file has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    except av.FFmpegError as exc:
        raise UnsupportedInput(f"cannot read video {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not frames:
        raise UnsupportedInput(f"{path}: the video has no frames")
    if any(f.shape != frames[0].shape for f in frames):
        raise UnsupportedInput(f"{path}: the frame size changes within the video")
    rate = Fraction(rate) if rate and rate > 0 else DEFAULT_FPS
    samples = np.stack(frames)
    return Signal(samples, SignalSpec("video", samples.shape[:3], 3, 8, rate, fmt))


# --- colour ----------------------------------------------------------------------------------------

def _is_ycc(spec: SignalSpec) -> bool:
    return spec.channels == 3 and spec.fmt.startswith("y4m:")


def _by_chunks(samples: np.ndarray, convert) -> np.ndarray:
    """Apply `convert` (uint8 frames -> uint8 frames, 3 channels) a few frames at a time."""
    out = np.empty(samples.shape[:3] + (3,), np.uint8)
    for t in range(0, samples.shape[0], _CHUNK):
        out[t:t + _CHUNK] = convert(samples[t:t + _CHUNK])
    return out


def _ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    rgb = (ycc.astype(np.float64) - _CHROMA_OFFSET) @ _YCC_TO_RGB.T
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _rgb_to_ycc(rgb: np.ndarray) -> np.ndarray:
    ycc = rgb.astype(np.float64) @ _RGB_TO_YCC.T + _CHROMA_OFFSET
    return np.clip(np.rint(ycc), 0, 255).astype(np.uint8)


def rgb(samples: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB: Y'CbCr converted (full-range BT.601), RGB as is, gray repeated."""
    if spec.channels == 1:
        return np.repeat(samples[..., :1], 3, axis=-1)
    if _is_ycc(spec):
        return _by_chunks(samples, _ycc_to_rgb)
    return samples


def luma(samples: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """(T, H, W) float64: the Y plane of Y4M, BT.601 luma of RGB, or the gray plane itself."""
    if spec.channels == 1 or _is_ycc(spec):
        return samples[..., 0].astype(np.float64)
    return samples.astype(np.float64) @ _RGB_TO_YCC[0]


# --- writing ---------------------------------------------------------------------------------------

def output_format(spec: SignalSpec, path) -> str:
    """"y4m", "mp4" or "mkv" by the output's extension; no extension means a folder of PNG frames."""
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "pngdir"
    if suffix in OUTPUT_FORMATS:
        return OUTPUT_FORMATS[suffix]
    raise UnsupportedInput(f"cannot write a video as {suffix}; use .y4m, .mp4, .mkv, "
                           "or a name without extension for a folder of PNG frames")


def default_extension(spec: SignalSpec) -> str:
    return ".y4m"


def write(samples: np.ndarray, spec: SignalSpec, path, fmt: str) -> None:
    """Write (T, H, W, C) samples as fmt: "y4m", "pngdir" (a new folder), "mp4" or "mkv" (PyAV)."""
    samples = np.asarray(samples, np.uint8)
    if fmt == "y4m":
        _write_y4m(samples, spec, path)
    elif fmt == "pngdir":
        _write_png_dir(samples, spec, Path(path))
    elif fmt in ("mp4", "mkv"):
        _write_av(samples, spec, path, fmt)
    else:
        raise UnsupportedInput(f"cannot write video as {fmt!r}; use y4m, pngdir, mp4 or mkv")


def _downsample(plane: np.ndarray) -> np.ndarray:
    """(T, H, W) -> (T, ⌈H/2⌉, ⌈W/2⌉): the rounded mean of each 2×2 block.

    Edge padding repeats each pixel of a cut block equally often, so odd edges average only the
    pixels present, and a plane that _upsample made comes back exactly.
    """
    t, h, w = plane.shape
    padded = np.pad(plane, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge").astype(np.uint16)
    sums = padded.reshape(t, (h + 1) // 2, 2, (w + 1) // 2, 2).sum(axis=(2, 4))
    return ((sums + 2) // 4).astype(np.uint8)


def _y4m_planes(samples: np.ndarray, spec: SignalSpec) -> tuple:
    """(colourspace tag, list of (T, h, w) planes) to write."""
    if spec.channels == 1:
        return "mono", [samples[..., 0]]
    if _is_ycc(spec) and spec.fmt[4:] in Y4M_420:
        return spec.fmt[4:], [samples[..., 0], _downsample(samples[..., 1]), _downsample(samples[..., 2])]
    ycc = samples if _is_ycc(spec) else _by_chunks(samples, _rgb_to_ycc)
    return "444", [ycc[..., c] for c in range(3)]


def _write_y4m(samples: np.ndarray, spec: SignalSpec, path) -> None:
    frames, height, width = samples.shape[:3]
    rate = _rate(spec.rate)
    tag, planes = _y4m_planes(samples, spec)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip C{tag}\n".encode())
        for t in range(frames):
            f.write(b"FRAME\n")
            for plane in planes:
                f.write(np.ascontiguousarray(plane[t]).tobytes())


def _write_png_dir(samples: np.ndarray, spec: SignalSpec, folder: Path) -> None:
    """frame_000000.png, ... in a new folder (it must not exist: the caller renames it into place)."""
    try:
        folder.mkdir()
    except FileExistsError:
        raise UnsupportedInput(f"{folder} already exists; PNG frames are written to a new folder") from None
    except OSError as exc:
        raise UnsupportedInput(f"cannot create {folder}: {exc.strerror}") from None
    frames = samples[..., 0] if spec.channels == 1 else rgb(samples, spec)
    for t, frame in enumerate(frames):
        Image.fromarray(frame, "L" if spec.channels == 1 else "RGB").save(folder / f"frame_{t:06d}.png")


def _write_av(samples: np.ndarray, spec: SignalSpec, path, fmt: str) -> None:
    """MKV: FFV1, lossless RGB or gray. MP4: H.264 4:4:4 at QP 0 (only the RGB -> Y'CbCr step rounds)."""
    av = _import_av(f"writing .{fmt}")
    gray = spec.channels == 1 and fmt == "mkv"
    if fmt == "mkv":
        codec, pix_fmt, options, container_format = "ffv1", "gray" if gray else "bgr0", {}, "matroska"
    else:
        codec, pix_fmt, options, container_format = "libx264", "yuv444p", {"qp": "0"}, "mp4"
    frames = samples[..., 0] if gray else rgb(samples, spec)
    try:
        # The format is named because the caller may write to a temporary name without the suffix.
        with av.open(str(path), "w", format=container_format) as container:
            stream = container.add_stream(codec, rate=_rate(spec.rate), options=options)
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
            for frame in frames:
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), "gray" if gray else "rgb24")
                container.mux(stream.encode(picture))
            container.mux(stream.encode())
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UnsupportedInput(f"cannot write {fmt} to {path}: {reason}") from None


# --- arrays ----------------------------------------------------------------------------------------

def from_array(array: np.ndarray, fps) -> Signal:
    """Wrap a uint8 array, (T, H, W) gray or (T, H, W, 3) RGB, as a video Signal."""
    if not isinstance(array, np.ndarray):
        raise UnsupportedInput(f"expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise UnsupportedInput(f"video arrays must be uint8, got {array.dtype}")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[3] not in (1, 3):
        raise UnsupportedInput(f"video arrays must be T×H×W (gray) or T×H×W×3 (RGB), got {array.shape}")
    if min(array.shape[:3]) < 1:
        raise UnsupportedInput(f"empty video of shape {array.shape}")
    spec = SignalSpec("video", tuple(int(n) for n in array.shape[:3]), int(array.shape[3]), 8, _rate(fps), "")
    return Signal(np.ascontiguousarray(array), spec)


def to_array(samples: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """(T, H, W) for one channel, else (T, H, W, 3) as stored (Y'CbCr for Y4M: see rgb())."""
    return samples[..., 0] if spec.channels == 1 else samples
