"""The .inrc bitstream.

    "INRC" | major u8 | minor u8 | header_len uvarint | header | sections | crc32 u32 (LE)
    header   = kind u8, ndim uvarint, dims uvarint*, channels uvarint, bit_depth u8,
               rate (numerator uvarint, denominator uvarint), fmt (uvarint length + ASCII),
               method id uvarint, model config (uvarint length + bytes)
    section  = tag uvarint, length uvarint, payload

A reader checks the magic, then the major version (a newer one is refused with a message that says
so), then the CRC, then every declared size against the bytes present and against MAX_SAMPLES, all
before anything is allocated from a declared size. Unknown section tags are kept but ignored by
decoders, so a minor version may add sections.
"""
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

from inrcodec.errors import CorruptFile, LimitExceeded
from inrcodec.formats.binary import Reader, uvarint
from inrcodec.signal import KINDS, SignalSpec

MAGIC = b"INRC"
VERSION_MAJOR = 1
VERSION_MINOR = 0
# Like Pillow's MAX_IMAGE_PIXELS: a declared size above this is refused before decoding. Raise it
# (inrcodec.formats.container.MAX_SAMPLES = ..., or decode(..., max_samples=...)) for trusted files.
MAX_SAMPLES = 1 << 28
_MAX_DIMS = 4
_MAX_CHANNELS = 16
_MAX_FMT = 16
_MIN_FILE = len(MAGIC) + 2 + 1 + 4


@dataclass
class Header:
    spec: SignalSpec
    method_id: int
    model_config: bytes
    version: tuple = (VERSION_MAJOR, VERSION_MINOR)


@dataclass
class Container:
    header: Header
    sections: list = field(default_factory=list)  # [(tag, payload bytes)] in file order

    def section(self, tag: int) -> bytes:
        for t, payload in self.sections:
            if t == tag:
                return payload
        raise CorruptFile(f"missing section {tag}")


def _encode_header(h: Header) -> bytes:
    s = h.spec
    rate = Fraction(s.rate)
    fmt = s.fmt.encode("ascii")
    if len(fmt) > _MAX_FMT:
        raise ValueError(f"format hint too long: {s.fmt!r}")
    out = bytearray([KINDS.index(s.kind) + 1])
    out += uvarint(len(s.shape))
    for n in s.shape:
        out += uvarint(n)
    out += uvarint(s.channels)
    out.append(s.bit_depth)
    out += uvarint(rate.numerator) + uvarint(rate.denominator)
    out += uvarint(len(fmt)) + fmt
    out += uvarint(h.method_id)
    out += uvarint(len(h.model_config)) + h.model_config
    return bytes(out)


def pack(header: Header, sections) -> bytes:
    """Serialise a header and [(tag, payload)] sections into .inrc bytes."""
    body = bytearray(MAGIC)
    body += bytes([VERSION_MAJOR, VERSION_MINOR])
    encoded = _encode_header(header)
    body += uvarint(len(encoded)) + encoded
    for tag, payload in sections:
        body += uvarint(tag) + uvarint(len(payload)) + payload
    body += zlib.crc32(body).to_bytes(4, "little")
    return bytes(body)


def _decode_header(r: Reader, max_samples: int) -> tuple:
    kind_code = r.u8()
    if not 1 <= kind_code <= len(KINDS):
        raise CorruptFile(f"unknown signal kind {kind_code}")
    ndim = r.uvarint()
    if not 1 <= ndim <= _MAX_DIMS:
        raise CorruptFile(f"bad number of dimensions {ndim}")
    shape = tuple(r.uvarint() for _ in range(ndim))
    channels = r.uvarint()
    if min(shape) < 1 or not 1 <= channels <= _MAX_CHANNELS:
        raise CorruptFile(f"bad signal shape {shape} with {channels} channels")
    total = channels
    for n in shape:
        total *= n
    if total > max_samples:
        raise LimitExceeded(f"file declares {total} samples ({'x'.join(map(str, shape))}x{channels}), "
                            f"above the limit of {max_samples}; pass max_samples= to decode a trusted file")
    bit_depth = r.u8()
    if not 1 <= bit_depth <= 32:
        raise CorruptFile(f"bad bit depth {bit_depth}")
    num, den = r.uvarint(), r.uvarint()
    if den == 0:
        raise CorruptFile("bad rate denominator 0")
    fmt_len = r.uvarint()
    if fmt_len > _MAX_FMT:
        raise CorruptFile(f"format hint of {fmt_len} bytes")
    try:
        fmt = r.take(fmt_len).decode("ascii")
    except UnicodeDecodeError as exc:
        raise CorruptFile("format hint is not ASCII") from exc
    method_id = r.uvarint()
    config = r.take(r.uvarint())
    spec = SignalSpec(KINDS[kind_code - 1], shape, channels, bit_depth, Fraction(num, den), fmt)
    return spec, method_id, config


def unpack(data: bytes, max_samples: int | None = None) -> Container:
    """Parse and validate .inrc bytes; raises CorruptFile / LimitExceeded, never anything else."""
    limit = MAX_SAMPLES if max_samples is None else max_samples
    data = bytes(data)
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise CorruptFile("not an .inrc file (bad magic)" if data else "empty input, not an .inrc file")
    if len(data) < _MIN_FILE:
        raise CorruptFile(f"truncated .inrc file ({len(data)} bytes)")
    major, minor = data[4], data[5]
    if major > VERSION_MAJOR:
        raise CorruptFile(f"file is .inrc version {major}.{minor}, newer than this decoder "
                          f"(reads up to {VERSION_MAJOR}.x); upgrade inrcodec")
    if major < 1:
        raise CorruptFile(f"bad .inrc version {major}.{minor}")
    stored_crc = int.from_bytes(data[-4:], "little")
    if zlib.crc32(data[:-4]) != stored_crc:
        raise CorruptFile("checksum mismatch: the file is truncated or damaged")
    r = Reader(data[:-4], "header")
    r.take(6)
    header_bytes = r.take(r.uvarint())
    hr = Reader(header_bytes, "header")
    spec, method_id, config = _decode_header(hr, limit)
    hr.expect_end()
    sections = []
    r.what = "section"
    while r.remaining():
        tag = r.uvarint()
        sections.append((tag, r.take(r.uvarint())))
    return Container(Header(spec, method_id, config, (major, minor)), sections)
