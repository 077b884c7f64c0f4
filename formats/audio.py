"""Audio through soundfile (libsndfile): WAV (also RF64, W64), FLAC, Ogg Vorbis/Opus, AIFF, MP3.

Samples are kept as signed PCM stored offset-binary (stored = signed + 2**(bit_depth-1)), shape
(N, channels). The bit depth follows the file's subtype:
- 8 bits: PCM_S8, PCM_U8; 16 bits: PCM_16 and the codecs that decode to 16 bits (u-law, ADPCM, ...);
- 24 bits: PCM_24, and PCM_32 of which only the top 24 bits are kept (the codec is lossy anyway);
- float and lossy subtypes (FLOAT, DOUBLE, VORBIS, OPUS, MPEG layers, anything unknown) are quantised
  to 24 bits: signed = clip(round(x * 2**23), -2**23, 2**23 - 1).
Integer subtypes are read as left-aligned int32 and shifted down, so no bit is lost, and written
back the same way, so a 16- or 24-bit file re-read after `write` gives the same samples.
SignalSpec.fmt is "container:subtype" ("wav:PCM_16", "ogg:OPUS"), at most 16 ASCII characters.
"""
import os
from fractions import Fraction
from numbers import Real

import numpy as np
import soundfile as sf

from inrcodec.errors import UnsupportedInput
from inrcodec.signal import Signal, SignalSpec

MAX_CHANNELS = 16
MAX_FMT = 16  # SignalSpec.fmt goes in the header as at most 16 ASCII characters

# Read dispatch: extension -> container (RF64 and W64 are read as WAV and written back as WAV).
EXTENSIONS = {".wav": "wav", ".wave": "wav", ".rf64": "wav", ".w64": "wav", ".flac": "flac",
              ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg", ".aif": "aiff", ".aiff": "aiff",
              ".aifc": "aiff", ".mp3": "mp3"}
# Write targets: ".opus" asks for Opus in Ogg, ".ogg" keeps Opus if the input was Opus, else Vorbis.
OUTPUT_EXTENSIONS = {".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".oga": "ogg", ".opus": "opus",
                     ".aif": "aiff", ".aiff": "aiff", ".aifc": "aiff", ".mp3": "mp3"}
SF_FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aiff": "AIFF", "mp3": "MP3"}
_CONTAINERS = {"WAVEX": "wav", "RF64": "wav", "W64": "wav"}  # soundfile format -> our container

_INT_DEPTHS = {
    "PCM_S8": 8, "PCM_U8": 8, "DPCM_8": 8,
    "PCM_16": 16, "DPCM_16": 16, "DWVW_12": 16, "DWVW_16": 16, "ULAW": 16, "ALAW": 16,
    "IMA_ADPCM": 16, "MS_ADPCM": 16, "GSM610": 16, "VOX_ADPCM": 16, "G721_32": 16, "G723_24": 16,
    "G723_40": 16, "NMS_ADPCM_16": 16, "NMS_ADPCM_24": 16, "NMS_ADPCM_32": 16, "ALAC_16": 16,
    "PCM_24": 24, "PCM_32": 24, "DWVW_24": 24, "DWVW_N": 24, "ALAC_20": 24, "ALAC_24": 24, "ALAC_32": 24,
}
FLOAT_DEPTH = 24
# Short names so that "wav:MPEG_LAYER_III" fits the 16 characters of SignalSpec.fmt.
_ALIASES = {"MPEG_LAYER_I": "MP1", "MPEG_LAYER_II": "MP2", "MPEG_LAYER_III": "MP3"}
_UNALIASES = {short: name for name, short in _ALIASES.items()}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the only rates libsndfile's Opus encoder takes
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_MAX_CHANNELS_IN = {"flac": 8, "mp3": 2}  # libsndfile fails these with an empty message


def sniff(head: bytes) -> str | None:
    """The container of an audio file from its first 16 bytes, or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"):  # W64's RIFF GUID
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    # MP3: an ID3 tag, or a bare MPEG-1/2 layer III frame header (11 sync bits, layer bits 01).
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "mp3"
    return None


def read(path) -> Signal:
    """Read an audio file into (N, channels) offset-binary samples (see the module docstring)."""
    try:
        if os.path.getsize(path) == 0:
            raise UnsupportedInput(f"{path}: empty file")
        with sf.SoundFile(path) as f:
            container = _CONTAINERS.get(f.format, f.format.lower())
            subtype, channels, rate = f.subtype, f.channels, f.samplerate
            _check_channels(channels, path)
            depth = _INT_DEPTHS.get(subtype)
            if depth is None:
                values = _float_to_signed(f.read(dtype="float64", always_2d=True))
                depth = FLOAT_DEPTH
            else:
                # int32 reads are left-aligned: an arithmetic shift recovers the samples exactly
                # (PCM_32 keeps its top 24 bits).
                values = f.read(dtype="int32", always_2d=True) >> (32 - depth)
    except UnsupportedInput:
        raise
    except (sf.SoundFileError, OSError, ValueError, TypeError) as exc:
        raise UnsupportedInput(f"cannot read audio {path}: {_reason(exc, path)}") from None
    if values.shape[0] == 0:
        raise UnsupportedInput(f"{path}: the audio file contains no samples")
    spec = SignalSpec("audio", (int(values.shape[0]),), int(channels), depth, Fraction(int(rate)),
                      _fmt(container, subtype))
    return Signal(_to_stored(values, spec), spec)


def write(samples: np.ndarray, spec: SignalSpec, path, fmt: str) -> None:
    """Write (N, channels) samples to `path` as container `fmt` ("wav", "flac", "ogg", "opus", "aiff", "mp3").

    The subtype is the input's when `fmt` can hold it, else one for the bit depth (see _subtype).
    """
    container, subtype = _output(spec, fmt)
    rate = _integer_rate(spec.rate)
    limit = _MAX_CHANNELS_IN.get(container)
    if limit and spec.channels > limit:
        raise UnsupportedInput(f"{container.upper()} holds at most {limit} channels, not {spec.channels}; "
                               "write .wav instead")
    if container == "mp3" and rate not in MP3_RATES:
        raise UnsupportedInput(f"MP3 cannot store {rate} Hz audio; write .wav or .flac instead")
    values = signed(samples, spec).reshape(-1, spec.channels)
    if subtype in _INT_DEPTHS:
        # Left-aligned int32: libsndfile shifts it down to the subtype's width, exactly.
        data = (values << (32 - spec.bit_depth)).astype(np.int32)
    else:
        data = values / float(1 << (spec.bit_depth - 1))  # exact in float32 for depths up to 24
    try:
        with sf.SoundFile(path, "w", rate, spec.channels, subtype, format=SF_FORMATS[container]) as f:
            f.write(data)
    except (sf.SoundFileError, OSError, ValueError, TypeError) as exc:
        raise UnsupportedInput(f"cannot write {spec.channels}-channel {rate} Hz audio as "
                               f"{container}:{subtype}: {_reason(exc, path)}") from None


def output_format(spec: SignalSpec, suffix: str) -> str:
    """The container to write for an output suffix (".flac"); "" keeps the input's, else WAV."""
    suffix = str(suffix).lower()
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    if not suffix:
        container = _split(spec.fmt)[0]
        return container if container in SF_FORMATS else "wav"
    if suffix not in OUTPUT_EXTENSIONS:
        choices = ", ".join(sorted(OUTPUT_EXTENSIONS))
        raise UnsupportedInput(f"cannot write audio as {suffix}; use one of {choices}")
    return OUTPUT_EXTENSIONS[suffix]


def default_extension(spec: SignalSpec) -> str:
    """The file extension of the input's container (".wav" when unknown)."""
    container = _split(spec.fmt)[0]
    return "." + container if container in SF_FORMATS else ".wav"


def from_array(array, rate) -> Signal:
    """Wrap a numpy array, (N,) mono or (N, C), as a Signal.

    int16 -> 16 bits; int32 -> its top 24 bits (like soundfile's int32 reads); float32/float64 in
    [-1, 1] -> 24 bits (values outside are clipped, as when a float file is read).
    """
    if not isinstance(array, np.ndarray):
        raise UnsupportedInput(f"expected a numpy array, got {type(array).__name__}")
    rate = _array_rate(rate)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise UnsupportedInput(f"audio arrays must be (samples,) or (samples, channels), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UnsupportedInput(f"empty audio array of shape {array.shape}")
    if array.shape[1] > MAX_CHANNELS:
        raise UnsupportedInput(f"audio arrays may have at most {MAX_CHANNELS} channels, got {array.shape[1]}; "
                               "arrays are (samples, channels): transpose a channels-first array")
    if array.dtype == np.int16:
        depth, subtype, values = 16, "PCM_16", array.astype(np.int64)
    elif array.dtype == np.int32:
        depth, subtype, values = 24, "PCM_24", array.astype(np.int64) >> 8
    elif array.dtype in (np.float32, np.float64):
        if not np.isfinite(array).all():
            raise UnsupportedInput("audio array contains NaN or infinite values")
        depth, subtype, values = FLOAT_DEPTH, "FLOAT", _float_to_signed(array)
    else:
        raise UnsupportedInput(f"audio arrays must be int16, int32, float32 or float64, got {array.dtype}")
    spec = SignalSpec("audio", (int(array.shape[0]),), int(array.shape[1]), depth, rate, f"wav:{subtype}")
    return Signal(_to_stored(values, spec), spec)


def to_array(samples: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """The array a user gets back, like soundfile.read: (N,) for mono, else (N, C).

    Float and lossy inputs give float32 in [-1, 1); up to 16 bits give left-aligned int16, more
    give left-aligned int32.
    """
    values = signed(samples, spec).reshape(-1, spec.channels)
    depth = spec.bit_depth
    if _is_float(_split(spec.fmt)[1]):
        out = (values / float(1 << (depth - 1))).astype(np.float32)
    elif depth <= 16:
        out = (values << (16 - depth)).astype(np.int16)
    else:
        out = (values << (32 - depth)).astype(np.int32)
    return out[:, 0] if spec.channels == 1 else out


def signed(samples: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """Samples with the offset-binary offset removed, as int64."""
    return samples.astype(np.int64) - (1 << (spec.bit_depth - 1))


# --- helpers ---

def _to_stored(values: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """Signed samples -> offset-binary in spec.dtype."""
    offset = 1 << (spec.bit_depth - 1)
    return np.ascontiguousarray((values.astype(np.int64) + offset).astype(spec.dtype))


def _float_to_signed(x: np.ndarray) -> np.ndarray:
    scale = 1 << (FLOAT_DEPTH - 1)
    return np.clip(np.round(x.astype(np.float64) * scale), -scale, scale - 1).astype(np.int64)


# Integer subtypes of more than 24 bits: only their top 24 bits are kept.
_TRUNCATED = {"PCM_32", "ALAC_32"}


def inexact_reason(spec) -> str | None:
    """Why the stored samples are not exactly the source's (so lossless coding cannot promise a
    bit-exact file), or None when they are."""
    subtype = _split(spec.fmt)[1]
    if _is_float(subtype):
        return f"its samples are {subtype} (float or lossy), and they are kept as 24-bit integers"
    if subtype in _TRUNCATED:
        return f"its {subtype} samples keep only their top 24 bits"
    return None


def _is_float(subtype: str) -> bool:
    """Float-like means decoded from float or a lossy codec; an unrecorded subtype counts as integer."""
    return bool(subtype) and subtype not in _INT_DEPTHS


def _split(fmt: str) -> tuple[str, str]:
    container, _, subtype = (fmt or "").partition(":")
    return container, _UNALIASES.get(subtype, subtype)


def _fmt(container: str, subtype: str) -> str:
    fmt = f"{container}:{_ALIASES.get(subtype, subtype)}"
    # Unknown long names: drop the subtype rather than overflow the header; writing then picks
    # the default for the depth.
    return fmt if len(fmt) <= MAX_FMT else container[:MAX_FMT]


def _output(spec: SignalSpec, fmt: str) -> tuple[str, str]:
    """(container, soundfile subtype) to write."""
    if fmt == "opus":
        if spec.rate not in OPUS_RATES:
            raise UnsupportedInput(f"Opus takes only {', '.join(str(r) for r in OPUS_RATES)} Hz, "
                                   f"not {spec.rate}; write .ogg (Vorbis) or .flac instead")
        return "ogg", "OPUS"
    if fmt not in SF_FORMATS:
        raise UnsupportedInput(f"cannot write audio as {fmt!r}; use one of {', '.join(SF_FORMATS)}, opus")
    return fmt, _subtype(spec, fmt)


def _subtype(spec: SignalSpec, container: str) -> str:
    """The input's subtype if `container` holds it without dropping bits, else a default for the depth."""
    sf_format = SF_FORMATS[container]
    original = _split(spec.fmt)[1]
    keep = original and sf.check_format(sf_format, original)
    if original in _INT_DEPTHS and _INT_DEPTHS[original] < spec.bit_depth:
        keep = False  # a header that disagrees with the depth must not cost bits
    if original.startswith("MPEG") and container != "mp3":
        keep = False  # check_format accepts MPEG in WAV, but libsndfile cannot open it for writing
    if original == "OPUS" and spec.rate not in OPUS_RATES:
        keep = False  # asked for .ogg, not for Opus: Vorbis takes any rate, so fall back to it
    if keep:
        return original
    if container == "ogg":
        return "VORBIS"
    if container == "mp3":
        return "MPEG_LAYER_III"
    if spec.bit_depth <= 8:
        # Keep 8-bit audio 8-bit (WAV stores it unsigned, FLAC and AIFF signed).
        for candidate in ("PCM_U8", "PCM_S8"):
            if sf.check_format(sf_format, candidate):
                return candidate
    return "PCM_16" if spec.bit_depth <= 16 else "PCM_24"


def _check_channels(channels: int, path) -> None:
    if channels < 1:
        raise UnsupportedInput(f"{path}: the audio file has no channels")
    if channels > MAX_CHANNELS:
        raise UnsupportedInput(f"{path}: {channels} channels; at most {MAX_CHANNELS} are supported")


def _integer_rate(rate) -> int:
    rate = Fraction(rate)
    if rate <= 0 or rate.denominator != 1:
        raise UnsupportedInput(f"cannot write audio at a sample rate of {rate} Hz (needs a positive whole number)")
    return int(rate)


def _array_rate(rate) -> Fraction:
    if isinstance(rate, bool) or not isinstance(rate, (Real, np.number)):
        raise UnsupportedInput(f"the sample rate must be a number, got {type(rate).__name__}")
    try:
        value = Fraction(rate)
    except (ValueError, OverflowError, TypeError):
        raise UnsupportedInput(f"the sample rate must be finite, got {rate}") from None
    if value <= 0 or value.denominator != 1:
        raise UnsupportedInput(f"the sample rate must be a positive whole number of Hz, got {rate}")
    return value


def _reason(exc: Exception, path) -> str:
    """A one-line cause: libsndfile's own words, without soundfile's "Error opening '...'" prefix."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = getattr(exc, "error_string", "") or str(exc)
    text = text.replace(f"Error opening {str(path)!r}: ", "").strip().rstrip(".")
    return " ".join(text.split()) or "libsndfile gave no reason"
