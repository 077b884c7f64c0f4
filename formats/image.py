"""Images through Pillow: PNG, JPEG, TIFF, BMP, WebP in; 8/16-bit gray and 8-bit RGB.

Alpha is refused with a message (the codec has no alpha channel yet); palette and other 8-bit modes
are converted to RGB or L. Pillow reads 16-bit RGB PNGs as 8-bit RGB, silently dropping the low
bits, so such files are refused instead; 16-bit RGB arrays given to the API are coded, and
written back by the small PNG writer at the end of this file.
"""
import struct
import zlib
from fractions import Fraction

import numpy as np
from PIL import Image

from inrcodec.errors import UnsupportedInput
from inrcodec.signal import Signal, SignalSpec

EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff",
              ".bmp": "bmp", ".webp": "webp"}
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP"}
MAGICS = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"II*\x00", "tiff"),
          (b"MM\x00*", "tiff"), (b"BM", "bmp"))


def sniff(head: bytes) -> str | None:
    for magic, name in MAGICS:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _refuse_png_rgb16(path) -> None:
    with open(path, "rb") as f:
        head = f.read(26)
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) == 26 and head[24] == 16 and head[25] in (2, 6):
        raise UnsupportedInput(f"{path}: 16-bit RGB PNG files are not supported (Pillow reads them as 8-bit); "
                               "pass the pixels as a uint16 array to inrcodec.encode instead")


def read(path) -> Signal:
    try:
        _refuse_png_rgb16(path)
        with Image.open(path) as im:
            im.load()
            fmt = (im.format or "").lower()
            array = _to_array(im, path)
    except UnsupportedInput:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedInput(f"cannot read image {path}: {exc}") from None
    depth = 16 if array.dtype == np.uint16 else 8
    if array.ndim == 2:
        array = array[:, :, None]
    spec = SignalSpec("image", array.shape[:2], array.shape[2], depth, Fraction(0), fmt)
    return Signal(np.ascontiguousarray(array), spec)


def _to_array(im: Image.Image, path) -> np.ndarray:
    if "A" in im.mode or (im.mode == "P" and "transparency" in im.info):
        raise UnsupportedInput(f"{path}: images with alpha ({im.mode}) are not supported; "
                               "flatten the alpha channel first")
    if im.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im, dtype=np.uint16)
    if im.mode == "I":
        array = np.asarray(im)
        if array.min() < 0 or array.max() > 65535:
            raise UnsupportedInput(f"{path}: 32-bit integer samples outside 0..65535 are not supported")
        return array.astype(np.uint16)
    if im.mode == "F":
        raise UnsupportedInput(f"{path}: floating-point images are not supported")
    if im.mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if im.mode in ("RGB",):
        return np.asarray(im, dtype=np.uint8)
    if im.mode in ("P", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    raise UnsupportedInput(f"{path}: image mode {im.mode} is not supported")


def write(samples: np.ndarray, spec: SignalSpec, path, fmt: str) -> None:
    """Write H×W×C samples as `fmt` (png, tiff, ... ); 16-bit needs PNG or TIFF."""
    if fmt not in PIL_FORMATS:
        raise UnsupportedInput(f"cannot write images as {fmt!r}; use one of {', '.join(PIL_FORMATS)}")
    gray = spec.channels == 1
    if spec.bit_depth > 8:
        if fmt not in ("png", "tiff"):
            raise UnsupportedInput(f"a {spec.bit_depth}-bit image needs PNG or TIFF output, not {fmt}")
        if gray:
            Image.fromarray(samples[:, :, 0].astype(np.uint16)).save(path, format=PIL_FORMATS[fmt])
        elif fmt == "png":
            _write_png16_rgb(samples.astype(np.uint16), path)
        else:
            raise UnsupportedInput("16-bit RGB output is written as PNG only")
        return
    image = Image.fromarray(samples[:, :, 0] if gray else samples, "L" if gray else "RGB")
    options = {"quality": 95} if fmt in ("jpeg", "webp") else {}
    if fmt == "webp":
        options = {"lossless": True}
    image.save(path, format=PIL_FORMATS[fmt], **options)


def _write_png16_rgb(samples: np.ndarray, path) -> None:
    """Pillow has no 16-bit RGB mode; write the PNG chunks directly (filter 0 rows, zlib)."""
    h, w, _ = samples.shape
    rows = samples.astype(">u2").reshape(h, w * 3)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6))
                + chunk(b"IEND", b""))
