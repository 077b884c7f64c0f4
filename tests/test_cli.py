"""The command line through a real subprocess: exit codes, messages, and file safety."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import smooth_image

FAST = ["--steps", "60", "--width", "12", "--quiet"]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "inrcodec", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def assert_clean_error(result, code=1, match=None):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error:")
    if match:
        assert match in lines[0]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    image = folder / "in.png"
    Image.fromarray(smooth_image(20, 13)).save(image)
    result = run("encode", image, "--steps", "60", "--width", "12")
    return folder, image, result


def test_encode_writes_the_default_output_and_a_summary(encoded):
    folder, image, result = encoded
    assert result.returncode == 0, result.stderr
    assert (folder / "in.inrc").is_file()
    summary = result.stderr.strip().splitlines()[-1]
    assert "bytes" in summary and "bpp" in summary and "PSNR" in summary and " s " in summary


def test_decode_restores_size_and_mode(encoded):
    folder, _, _ = encoded
    result = run("decode", folder / "in.inrc", "-o", folder / "out.png")
    assert result.returncode == 0, result.stderr
    with Image.open(folder / "out.png") as im:
        assert im.size == (13, 20) and im.mode == "RGB"


def test_info_json_has_the_documented_keys(encoded):
    folder, _, _ = encoded
    result = run("info", folder / "in.inrc", "--json")
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    for key in ("kind", "shape", "channels", "bit_depth", "method", "bytes", "bpp"):
        assert key in summary
    assert summary["shape"] == [20, 13] and summary["bytes"] == (folder / "in.inrc").stat().st_size


def test_existing_output_needs_force_and_input_is_never_overwritten(encoded):
    folder, image, _ = encoded
    before = (folder / "in.inrc").read_bytes()
    assert_clean_error(run("encode", image, *FAST), match="--force")
    assert (folder / "in.inrc").read_bytes() == before
    assert_clean_error(run("decode", folder / "in.inrc", "-o", folder / "in.inrc", "--force"),
                       match="input")
    assert (folder / "in.inrc").read_bytes() == before


def test_failures_leave_no_file_behind(encoded, tmp_path):
    _, image, _ = encoded
    assert_clean_error(run("encode", image, "-o", tmp_path / "tiny.inrc", "--size", "16", *FAST), match="fits")
    damaged = tmp_path / "bad.inrc"
    damaged.write_bytes(b"INRC\x01\x00" + bytes(30))
    assert_clean_error(run("decode", damaged, "-o", tmp_path / "bad.png"))
    assert_clean_error(run("encode", tmp_path / "missing.png"), match="no such file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.inrc"]


def test_usage_errors_exit_2(encoded):
    _, image, _ = encoded
    for args in (["encode", image, "--bpp", "-1"], ["encode", image, "--bpp", "1", "--size", "9"], ["frobnicate"]):
        result = run(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr


def test_gray16_round_trip_through_files(tmp_path):
    array = smooth_image(9, 11, 1, 16)
    Image.fromarray(array).save(tmp_path / "g.png")
    assert run("encode", tmp_path / "g.png", *FAST).returncode == 0
    assert_clean_error(run("decode", tmp_path / "g.inrc"), match="exists")  # g.png is the input
    assert run("decode", tmp_path / "g.inrc", "-o", tmp_path / "back.png").returncode == 0
    with Image.open(tmp_path / "back.png") as im:
        decoded = np.asarray(im)
    assert decoded.dtype == np.uint16 and decoded.shape == (9, 11)


def test_doh_through_the_cli(encoded, tmp_path):
    _, image, _ = encoded
    out = tmp_path / "d.inrc"
    result = run("encode", image, "-o", out, "--method", "doh", "--latent", "200", "--width", "16",
                 "--steps", "40")
    assert result.returncode == 0, result.stderr
    assert "latent 200" in result.stderr.strip().splitlines()[-1]
    summary = json.loads(run("info", out, "--json").stdout)
    assert summary["method"] == "doh" and summary["config"]["projection"] == 1  # Hadamard by default
    assert run("decode", out, "-o", tmp_path / "d.png").returncode == 0
    dense = tmp_path / "dense.inrc"
    assert run("encode", image, "-o", dense, "--method", "doh", "--latent", "200", "--width", "16",
               "--steps", "40", "--projection", "dense").returncode == 0
    assert json.loads(run("info", dense, "--json").stdout)["config"]["projection"] == 0
    assert run("decode", dense, "-o", tmp_path / "dense.png").returncode == 0
    assert_clean_error(run("encode", image, "-o", tmp_path / "s.inrc", "--latent", "9", *FAST),
                       match="--latent does not apply to --method siren")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_decode_on_a_device_torch_does_not_see_is_a_clean_error(encoded, tmp_path):
    folder, _, _ = encoded
    assert_clean_error(run("decode", folder / "in.inrc", "-o", tmp_path / "x.png", "--device", "cuda"), match="CUDA")
    assert not (tmp_path / "x.png").exists()
    for name, extra in (("cpu.png", ["--device", "cpu"]), ("auto.png", [])):
        result = run("decode", folder / "in.inrc", "-o", tmp_path / name, *extra)
        assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "cpu.png") as a, Image.open(tmp_path / "auto.png") as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))  # auto is the CPU here
