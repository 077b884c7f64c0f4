"""Media files <-> Signal: read(path) sniffs magic bytes first, then trusts the extension."""
from pathlib import Path

from inrcodec.errors import UnsupportedInput
from inrcodec.formats import image
from inrcodec.signal import Signal, SignalSpec


def sniff(path) -> str | None:
    """The media family of a file from its first bytes ("image"), or None."""
    with open(path, "rb") as f:
        head = f.read(16)
    if image.sniff(head):
        return "image"
    return None


def read(path) -> Signal:
    path = Path(path)
    if not path.is_file():
        raise UnsupportedInput(f"no such file: {path}")
    try:
        family = sniff(path)
    except OSError as exc:
        raise UnsupportedInput(f"cannot read {path}: {exc.strerror}") from None
    if family is None and path.suffix.lower() in image.EXTENSIONS:
        family = "image"
    if family == "image":
        return image.read(path)
    raise UnsupportedInput(f"{path}: not a supported image file (PNG, JPEG, TIFF, BMP, WebP)")


def output_format(spec: SignalSpec, path) -> str:
    """The format to write: named by the output extension, else PNG for images."""
    suffix = Path(path).suffix.lower()
    if spec.kind == "image":
        if suffix in image.EXTENSIONS:
            return image.EXTENSIONS[suffix]
        if suffix:
            raise UnsupportedInput(f"cannot write an image as {suffix}; use .png, .tif, .bmp, .webp or .jpg")
        return "png"
    raise UnsupportedInput(f"writing {spec.kind} is not supported yet")


def default_extension(spec: SignalSpec) -> str:
    return ".png"


def write(samples, spec: SignalSpec, path, fmt: str | None = None) -> None:
    image.write(samples, spec, path, fmt or output_format(spec, path))
