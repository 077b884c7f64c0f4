"""Media files <-> Signal: read(path) sniffs magic bytes first, then trusts the extension."""
from pathlib import Path

from inrcodec.errors import UnsupportedInput
from inrcodec.formats import audio, image, video
from inrcodec.signal import Signal, SignalSpec
from inrcodec.signal import to_array as image_array

FAMILIES = {"image": image, "audio": audio, "video": video}


def sniff(path) -> str | None:
    """The media family of a file from its first bytes ("image", "audio", "video"), or None."""
    with open(path, "rb") as f:
        head = f.read(16)
    for family, module in FAMILIES.items():
        if module.sniff(head):
            return family
    return None


def _by_extension(path: Path) -> str | None:
    for family, module in FAMILIES.items():
        if path.suffix.lower() in module.EXTENSIONS:
            return family
    return None


def family(path) -> str:
    """"image", "audio" or "video" for an input path (a folder is PNG frames), without decoding it."""
    path = Path(path)
    if path.is_dir():
        return "video"
    try:
        found = sniff(path) if path.is_file() else None
    except OSError:
        found = None
    return found or _by_extension(path) or "image"


def read(path, fps=None) -> Signal:
    """Read an image, audio or video file (or a folder of numbered PNG frames) as a Signal."""
    path = Path(path)
    if path.is_dir():
        return video.read(path, fps=fps)
    if not path.is_file():
        raise UnsupportedInput(f"no such file: {path}")
    try:
        family = sniff(path) or _by_extension(path)
    except OSError as exc:
        raise UnsupportedInput(f"cannot read {path}: {exc.strerror}") from None
    if family == "video":
        return video.read(path, fps=fps)
    if fps is not None:
        raise UnsupportedInput("fps applies to video input only")
    if family == "image":
        return image.read(path)
    if family == "audio":
        return audio.read(path)
    raise UnsupportedInput(f"{path}: not a supported file (images: PNG, JPEG, TIFF, BMP, WebP; "
                           "audio: WAV, FLAC, OGG; video: Y4M, MP4, MKV, WebM, a folder of PNG frames)")


def output_format(spec: SignalSpec, path) -> str:
    """The format to write: named by the output extension, else the input's own (PNG for images)."""
    suffix = Path(path).suffix.lower()
    if spec.kind == "audio":
        return audio.output_format(spec, suffix)
    if spec.kind == "video":
        return video.output_format(spec, path)
    if suffix in image.EXTENSIONS:
        return image.EXTENSIONS[suffix]
    if suffix:
        raise UnsupportedInput(f"cannot write an image as {suffix}; use .png, .tif, .bmp, .webp or .jpg")
    return "png"


def default_extension(spec: SignalSpec) -> str:
    return FAMILIES[spec.kind].default_extension(spec) if spec.kind != "image" else ".png"


def write(samples, spec: SignalSpec, path, fmt: str | None = None) -> None:
    FAMILIES[spec.kind].write(samples, spec, path, fmt or output_format(spec, path))


def to_array(samples, spec: SignalSpec):
    """The array a library user gets back for this kind of signal."""
    if spec.kind == "image":
        return image_array(samples, spec)
    return FAMILIES[spec.kind].to_array(samples, spec)
