import pytest

from inrcodec.errors import CorruptFile
from inrcodec.formats.binary import Reader, svarint, unzigzag, uvarint, zigzag


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63 - 1])
def test_uvarint_round_trip(value):
    r = Reader(uvarint(value))
    assert r.uvarint() == value
    r.expect_end()


@pytest.mark.parametrize("value", [0, -1, 1, -64, 64, -(2**40), 2**40])
def test_svarint_round_trip(value):
    assert Reader(svarint(value)).svarint() == value
    assert unzigzag(zigzag(value)) == value


def test_uvarint_encoding_is_leb128():
    assert uvarint(300) == bytes([0xAC, 0x02])


def test_truncated_varint_raises():
    with pytest.raises(CorruptFile, match="truncated"):
        Reader(bytes([0x80, 0x80])).uvarint()


def test_overlong_varint_raises():
    with pytest.raises(CorruptFile, match="overlong"):
        Reader(bytes([0xFF] * 12)).uvarint()


def test_take_past_end_raises():
    with pytest.raises(CorruptFile):
        Reader(b"abc").take(4)
