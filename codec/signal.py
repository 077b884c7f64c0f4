"""Signal and SignalSpec: integer samples on a regular grid, and the views a network needs of them.

A signal is a grid of unsigned integer samples with `channels` values each:
- image: shape (H, W); channels 1 (gray) or 3 (RGB).
- audio: shape (N,); any channel count; signed PCM stored offset-binary (value + 2**(bit_depth-1)),
  float input kept as 24-bit; fmt "container:subtype" ("wav:PCM_16", "flac:PCM_24", "ogg:VORBIS").
- video: shape (T, H, W); channels 1 or 3 (Y'CbCr with chroma at full size for Y4M, RGB otherwise).
The network sees coordinates in [-1, 1] per axis and values scaled to [-1, 1]; `from_values`
inverts that exactly up to rounding.
"""
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from inrcodec.errors import UnsupportedInput

KINDS = ("image", "audio", "video")
SUPPORTED_DEPTHS = (8, 16, 24)


@dataclass(frozen=True)
class SignalSpec:
    """What the decoder must know to rebuild the signal's array (all of it goes in the header)."""

    kind: str
    shape: tuple  # grid shape without channels: (H, W) for an image
    channels: int
    bit_depth: int
    rate: Fraction = Fraction(0)  # samples per second (audio) or frames per second (video); 0 for images
    fmt: str = ""  # the container the input came in ("png", ...), a hint for the decoder's output

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def dtype(self):
        return np.uint8 if self.bit_depth <= 8 else np.uint16 if self.bit_depth <= 16 else np.uint32

    @property
    def seconds(self) -> float:
        """Duration of audio or video (0 for images)."""
        return float(self.shape[0] / self.rate) if self.kind != "image" and self.rate else 0.0


@dataclass
class Signal:
    samples: np.ndarray  # shape spec.shape + (channels,), unsigned integers
    spec: SignalSpec
    # (lo, hi) of the sample values the network's [-1, 1] spans; None = the whole depth. A quiet
    # audio chunk gets its own range, so quantization noise scales with the signal, not full scale.
    value_range: tuple | None = None

    def values(self) -> torch.Tensor:
        """Samples as float32 in [-1, 1] over value_range, shape (points, channels)."""
        mid, half = range_affine(self.spec, self.value_range)
        flat = self.samples.reshape(-1, self.spec.channels).astype(np.float64)
        return torch.from_numpy(((flat - mid) / half).astype(np.float32))


def range_affine(spec: SignalSpec, value_range) -> tuple:
    """(mid, half): sample = mid + half * value, for a value in [-1, 1]."""
    lo, hi = value_range if value_range is not None else (0, spec.max_value)
    return (lo + hi) / 2.0, max((hi - lo) / 2.0, 0.5)


def grid_coords(shape, device="cpu") -> torch.Tensor:
    """Coordinates of every grid point, (points, len(shape)) in [-1, 1], row-major like the samples."""
    axes = [torch.linspace(-1.0, 1.0, n, device=device) if n > 1 else torch.zeros(1, device=device)
            for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)


def axis_coords(shape, index: torch.Tensor) -> torch.Tensor:
    """Coordinates of the flat grid indices `index` (a 1-D int64 tensor), same values as grid_coords."""
    coords = []
    for n in reversed(shape):
        pos = index % n
        index = index // n
        coords.append(pos.float() * (2.0 / (n - 1)) - 1.0 if n > 1 else torch.zeros_like(pos, dtype=torch.float32))
    return torch.stack(coords[::-1], dim=-1)


def from_values(values: torch.Tensor, spec: SignalSpec, value_range=None) -> np.ndarray:
    """Network outputs in [-1, 1] (over value_range), shape (points, channels) -> integer samples,
    shape grid + (channels,)."""
    mid, half = range_affine(spec, value_range)
    scaled = values.detach().cpu().double().clamp(-1.0, 1.0) * half + mid
    ints = torch.round(scaled).clamp(0, spec.max_value).to(torch.int64).numpy().astype(spec.dtype)
    return ints.reshape(tuple(spec.shape) + (spec.channels,))


def to_full_range(values: torch.Tensor, spec: SignalSpec, value_range) -> torch.Tensor:
    """Values over value_range -> the same samples as values over the whole depth (clamped to the range)."""
    mid, half = range_affine(spec, value_range)
    full_mid, full_half = range_affine(spec, None)
    return (values.clamp(-1.0, 1.0) * half + (mid - full_mid)) / full_half


def from_array(array: np.ndarray, kind: str = "image", bit_depth: int | None = None) -> Signal:
    """Wrap a numpy image array (H×W or H×W×C, uint8 or uint16) as a Signal."""
    if not isinstance(array, np.ndarray):
        raise UnsupportedInput(f"expected a numpy array or a path, got {type(array).__name__}")
    if kind != "image":
        raise UnsupportedInput(f"only images are supported so far, not {kind!r}")
    if array.dtype == np.uint8:
        depth = 8
    elif array.dtype == np.uint16:
        depth = 16
    else:
        raise UnsupportedInput(f"image arrays must be uint8 or uint16, got {array.dtype}")
    if bit_depth is not None:
        if bit_depth > depth or bit_depth < 1:
            raise UnsupportedInput(f"bit_depth {bit_depth} does not fit a {array.dtype} array")
        depth = bit_depth
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise UnsupportedInput(f"image arrays must be H×W (gray) or H×W×3 (RGB), got shape {array.shape}")
    if min(array.shape[:2]) < 1:
        raise UnsupportedInput(f"empty image of shape {array.shape}")
    if int(array.max(initial=0)) > (1 << depth) - 1:
        raise UnsupportedInput(f"sample values exceed {depth} bits")
    spec = SignalSpec("image", tuple(int(n) for n in array.shape[:2]), int(array.shape[2]), depth)
    return Signal(np.ascontiguousarray(array), spec)


def to_array(samples: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """The array a user gets back: gray images as H×W, others as H×W×C."""
    if spec.kind == "image" and spec.channels == 1:
        return samples[:, :, 0]
    return samples
