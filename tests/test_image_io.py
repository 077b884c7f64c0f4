"""Image files in and out through Pillow (and the 16-bit RGB PNG writer)."""
import zlib

import numpy as np
import pytest
from PIL import Image

from inrcodec import formats
from inrcodec.errors import UnsupportedInput
from inrcodec.formats import image
from inrcodec.signal import from_array
from tests.conftest import smooth_image


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp", ".webp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_formats_read_exactly(tmp_path, ext, channels):
    array = smooth_image(13, 9, channels)
    path = tmp_path / f"x{ext}"
    Image.fromarray(array).save(path, **({"lossless": True} if ext == ".webp" else {}))
    signal = formats.read(path)
    assert signal.spec.shape == (13, 9) and signal.spec.bit_depth == 8
    # WebP has no gray mode: a gray image comes back as RGB with three equal planes.
    got = signal.samples[:, :, 0] if channels == 1 else signal.samples
    assert np.array_equal(got, array)


def test_jpeg_reads_as_rgb(tmp_path):
    path = tmp_path / "x.jpg"
    Image.fromarray(smooth_image(16, 16)).save(path, quality=90)
    signal = formats.read(path)
    assert signal.spec.channels == 3 and signal.spec.fmt == "jpeg"


def test_gray16_png_round_trip(tmp_path):
    array = smooth_image(11, 7, 1, 16)
    path = tmp_path / "g.png"
    Image.fromarray(array).save(path)
    signal = formats.read(path)
    assert signal.spec.bit_depth == 16 and signal.spec.channels == 1
    assert np.array_equal(signal.samples[:, :, 0], array)
    out = tmp_path / "out.png"
    formats.write(signal.samples, signal.spec, out)
    assert np.array_equal(np.asarray(Image.open(out)), array)


def test_rgb16_is_written_as_a_real_16_bit_png(tmp_path):
    array = smooth_image(5, 4, 3, 16)
    signal = from_array(array)
    out = tmp_path / "rgb16.png"
    formats.write(signal.samples, signal.spec, out)
    data = out.read_bytes()
    assert data[24] == 16 and data[25] == 2  # IHDR: bit depth 16, colour type RGB
    idat_at = data.index(b"IDAT")
    length = int.from_bytes(data[idat_at - 4:idat_at], "big")
    rows = np.frombuffer(zlib.decompress(data[idat_at + 4:idat_at + 4 + length]), np.uint8).reshape(5, -1)
    assert (rows[:, 0] == 0).all()  # filter type 0 on every row
    assert np.array_equal(rows[:, 1:].copy().view(">u2").reshape(5, 4, 3), array)
    with pytest.raises(UnsupportedInput, match="16-bit RGB PNG"):
        formats.read(out)


def test_sniffing_beats_a_wrong_extension(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    Image.fromarray(smooth_image(5, 5)).save(path, format="PNG")
    assert formats.read(path).spec.fmt == "png"


def test_alpha_is_refused_with_a_message(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGBA", (4, 4)).save(path)
    with pytest.raises(UnsupportedInput, match="alpha"):
        formats.read(path)


@pytest.mark.parametrize("content", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n" + bytes(30)])
def test_non_images_are_refused(tmp_path, content):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(UnsupportedInput):
        formats.read(path)


def test_output_format_follows_the_extension(tmp_path):
    signal = formats.read(_save(tmp_path, smooth_image(6, 6)))
    assert formats.output_format(signal.spec, tmp_path / "o.tiff") == "tiff"
    assert formats.output_format(signal.spec, tmp_path / "o") == "png"
    with pytest.raises(UnsupportedInput, match="cannot write"):
        formats.output_format(signal.spec, tmp_path / "o.xyz")
    assert image.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"


def _save(tmp_path, array):
    path = tmp_path / "in.png"
    Image.fromarray(array).save(path)
    return path
