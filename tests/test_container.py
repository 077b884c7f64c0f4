"""The .inrc container: round trip, and refusal of every kind of damaged or hostile input."""
import zlib

import numpy as np
import pytest

import inrcodec
from inrcodec.config import FitConfig
from inrcodec.errors import CodecError, CorruptFile, LimitExceeded
from inrcodec.formats import container
from inrcodec.models.siren import SirenConfig
from inrcodec.signal import SignalSpec
from tests.conftest import smooth_image


@pytest.fixture(scope="module")
def small_file():
    fit = FitConfig(steps=20, batch_points=0, qat_steps=2)
    return inrcodec.encode(smooth_image(9, 7, 3), width=4, layers=2, fit=fit)


def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def test_pack_unpack_round_trip():
    spec = SignalSpec("image", (31, 17), 3, 16, fmt="png")
    header = container.Header(spec, 1, SirenConfig(width=20).to_bytes())
    data = container.pack(header, [(1, b"abc"), (99, b"")])
    parsed = container.unpack(data)
    assert parsed.header.spec == spec
    assert parsed.header.method_id == 1
    assert SirenConfig.from_bytes(parsed.header.model_config) == SirenConfig(width=20)
    assert parsed.sections == [(1, b"abc"), (99, b"")]
    assert data[:4] == b"INRC" and data[4:6] == bytes([1, 0])


def test_empty_input():
    with pytest.raises(CorruptFile, match="empty"):
        inrcodec.decode(b"")


def test_wrong_magic():
    with pytest.raises(CorruptFile, match="magic"):
        inrcodec.decode(b"\x89PNG\r\n\x1a\n" + bytes(40))


def test_every_truncation_is_refused(small_file):
    for n in range(len(small_file)):
        with pytest.raises(CodecError):
            inrcodec.decode(small_file[:n])


def test_every_single_bit_flip_is_refused(small_file):
    for i in range(len(small_file)):
        for bit in range(8):
            damaged = bytearray(small_file)
            damaged[i] ^= 1 << bit
            with pytest.raises(CodecError):
                inrcodec.decode(bytes(damaged))


def test_huge_declared_size_is_refused_before_allocating():
    spec = SignalSpec("image", (100000, 100000), 3, 8)
    data = container.pack(container.Header(spec, 1, SirenConfig().to_bytes()), [(1, b"")])
    assert len(data) < 60
    with pytest.raises(LimitExceeded, match="limit"):
        inrcodec.decode(data)
    with pytest.raises(LimitExceeded):
        inrcodec.info(data)


def test_the_limit_can_be_raised_for_trusted_files(small_file):
    with pytest.raises(LimitExceeded):
        inrcodec.decode(small_file, max_samples=10)
    assert inrcodec.decode(small_file, max_samples=9 * 7 * 3).shape == (9, 7, 3)


def test_newer_major_version_is_refused_with_a_clear_message(small_file):
    body = bytearray(small_file[:-4])
    body[4] = container.VERSION_MAJOR + 1
    with pytest.raises(CorruptFile, match="newer"):
        inrcodec.decode(_with_crc(bytes(body)))


def test_newer_minor_version_with_unknown_section_still_decodes(small_file):
    expected = inrcodec.decode(small_file)
    body = bytearray(small_file[:-4])
    body[5] = container.VERSION_MINOR + 1
    body += bytes([77, 3]) + b"new"  # a section this version does not know
    assert np.array_equal(inrcodec.decode(_with_crc(bytes(body))), expected)


def test_valid_crc_over_garbage_is_still_refused(small_file):
    body = bytearray(small_file[:-4])
    for i in range(6, len(body)):
        damaged = bytearray(body)
        damaged[i] ^= 0xFF
        try:
            inrcodec.decode(_with_crc(bytes(damaged)))
        except CodecError:
            pass  # refused cleanly; decoding to some other image is also acceptable
