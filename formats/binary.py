"""Little-endian primitives of the .inrc bitstream: unsigned varints, zigzag, floats.

Readers raise CorruptFile on truncation or overlong varints, never IndexError.
"""
import struct

from inrcodec.errors import CorruptFile

_MAX_VARINT_BYTES = 10  # 64-bit values


def uvarint(value: int) -> bytes:
    """LEB128 encoding of a non-negative integer."""
    if value < 0:
        raise ValueError(f"uvarint needs a non-negative value, got {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) if value >= 0 else ((-value << 1) - 1)


def unzigzag(value: int) -> int:
    return (value >> 1) if not value & 1 else -((value + 1) >> 1)


def svarint(value: int) -> bytes:
    return uvarint(zigzag(value))


def f32(value: float) -> bytes:
    return struct.pack("<f", value)


class Reader:
    """Cursor over a bytes object; every read checks the bounds."""

    def __init__(self, data: bytes, what: str = "data"):
        self.data = memoryview(data)
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining():
            raise CorruptFile(f"truncated {self.what}: needs {n} bytes at offset {self.pos}, "
                              f"{self.remaining()} left")
        chunk = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def f32(self) -> float:
        return struct.unpack("<f", self.take(4))[0]

    def uvarint(self) -> int:
        result = shift = 0
        for _ in range(_MAX_VARINT_BYTES):
            byte = self.u8()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
        raise CorruptFile(f"overlong varint in {self.what} at offset {self.pos}")

    def svarint(self) -> int:
        return unzigzag(self.uvarint())

    def expect_end(self) -> None:
        if self.remaining():
            raise CorruptFile(f"{self.remaining()} unexpected trailing bytes in {self.what}")
