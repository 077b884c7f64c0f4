"""Audio and video are cut along time into chunks, each fitted as its own small signal.

Chunk i's core is [i·length, (i+1)·length); a remainder under half a chunk joins the last one.
Its network is fitted on a window that reaches
`overlap` samples past the core on each side, and the decoder crossfades linearly between the
two networks over those 2·overlap samples, so a join has no step (a click in audio). Memory and
fitting time grow linearly with duration: one chunk's model is alive at a time.

Each window's network spans only the window's own sample range (lo..hi): a quiet passage gets a
finer output scale, so its quantization noise stays below the signal.

Wire: section TAG_CHUNKING = length uvarint, overlap uvarint; then one TAG_CHUNK section per chunk,
in order: lo uvarint, hi uvarint, model config (uvarint length + bytes), then the weight payload
(weights.py).
"""
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from inrcodec.errors import CorruptFile
from inrcodec.formats.binary import Reader, uvarint
from inrcodec.signal import Signal, SignalSpec, from_values, to_full_range

TAG_CHUNKING = 2
TAG_CHUNK = 3

# 16,384 samples: 0.37 s at 44.1 kHz, 1 s at 16 kHz; one chunk is one full-batch fitting step.
AUDIO_CHUNK = 16384
# 128 samples each side (2.9 ms at 44.1 kHz) of crossfade; see the README for the measured joins.
AUDIO_OVERLAP = 128
# Frames per group: long enough for the time axis to pay, short enough for a CPU fit (carphone: 4 groups).
VIDEO_CHUNK = 16


@dataclass(frozen=True)
class Window:
    core_start: int
    core_end: int
    start: int
    end: int


@dataclass(frozen=True)
class Chunking:
    length: int   # samples (audio) or frames (video) per chunk core
    overlap: int  # samples each window reaches past its core, on each side

    def validate(self) -> None:
        if self.length < 1 or not 0 <= 2 * self.overlap <= self.length:
            raise ValueError(f"bad chunking: length {self.length}, overlap {self.overlap} "
                             "(the overlap may be at most half the length)")

    def count(self, total: int) -> int:
        full, rest = divmod(total, self.length)
        # A remainder under half a chunk joins the last chunk: a tiny network costs more than it buys,
        # and a tiny budget share may fit no network at all.
        return max(1, full + (1 if rest * 2 >= self.length else 0))

    def windows(self, total: int) -> list:
        out = []
        count = self.count(total)
        for i in range(count):
            core_start = i * self.length
            core_end = total if i == count - 1 else (i + 1) * self.length
            out.append(Window(core_start, core_end, max(0, core_start - self.overlap),
                              min(total, core_end + self.overlap)))
        return out

    def to_bytes(self) -> bytes:
        return uvarint(self.length) + uvarint(self.overlap)

    @classmethod
    def from_bytes(cls, payload: bytes) -> "Chunking":
        r = Reader(payload, "chunking section")
        chunking = cls(r.uvarint(), r.uvarint())
        r.expect_end()
        try:
            chunking.validate()
        except ValueError as exc:
            raise CorruptFile(str(exc)) from None
        return chunking


def default_chunking(spec: SignalSpec, length: int | None = None) -> Chunking:
    if spec.kind == "audio":
        length = length or AUDIO_CHUNK
        return Chunking(length, min(AUDIO_OVERLAP, length // 8))
    return Chunking(length or VIDEO_CHUNK, 0)


def window_spec(spec: SignalSpec, window: Window) -> SignalSpec:
    return dataclasses.replace(spec, shape=(window.end - window.start,) + tuple(spec.shape[1:]))


def window_signal(signal: Signal, window: Window) -> Signal:
    samples = signal.samples[window.start:window.end]
    value_range = (int(samples.min()), int(samples.max()))
    return Signal(samples, window_spec(signal.spec, window), value_range)


def pack_chunk(value_range: tuple, config_bytes: bytes, weights: bytes) -> bytes:
    return uvarint(value_range[0]) + uvarint(value_range[1]) + uvarint(len(config_bytes)) + config_bytes + weights


def unpack_chunk(payload: bytes, spec: SignalSpec) -> tuple:
    """(value range, config bytes, weight payload) of a TAG_CHUNK section."""
    r = Reader(payload, "chunk section")
    lo, hi = r.uvarint(), r.uvarint()
    if not lo <= hi <= spec.max_value:
        raise CorruptFile(f"bad chunk value range {lo}..{hi} for {spec.bit_depth}-bit samples")
    config = r.take(r.uvarint())
    return (lo, hi), config, payload[r.pos:]


class Assembler:
    """Joins rendered windows (float values in [-1, 1]) into integer samples, crossfading overlaps.

    Only the pending overlap of the previous window is kept, so joining streams.
    """

    def __init__(self, spec: SignalSpec, chunking: Chunking):
        self.spec = spec
        self.chunking = chunking
        self.samples = np.empty(tuple(spec.shape) + (spec.channels,), dtype=spec.dtype)
        self._tail = None  # values of the previous window over the next join's crossfade region

    def add(self, window: Window, values: torch.Tensor, value_range: tuple) -> None:
        shape = (window.end - window.start,) + tuple(self.spec.shape[1:]) + (self.spec.channels,)
        values = to_full_range(values.float(), self.spec, value_range).reshape(shape)
        pos = window.start
        if self._tail is not None:
            fade = len(self._tail)
            weight = ((torch.arange(fade, dtype=torch.float32) + 0.5) / fade).reshape((-1,) + (1,) * (values.dim() - 1))
            values = values.clone()
            values[:fade] = self._tail * (1.0 - weight) + values[:fade] * weight
        last = window.core_end >= self.spec.shape[0]
        keep_end = window.end if last else window.core_end - self.chunking.overlap
        self._tail = None if last or self.chunking.overlap == 0 else values[keep_end - window.start:]
        self._put(pos, values[:keep_end - pos])

    def _put(self, start: int, values: torch.Tensor) -> None:
        piece_spec = dataclasses.replace(self.spec, shape=(values.shape[0],) + tuple(self.spec.shape[1:]))
        flat = values.reshape(-1, self.spec.channels)
        self.samples[start:start + values.shape[0]] = from_values(flat, piece_spec)
