"""Packaging: the built wheel holds every subpackage under the inrcodec name."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_wheel_contains_every_subpackage(tmp_path):
    pytest.importorskip("setuptools")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "-q", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("inrcodec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("inrcodec/__init__.py", "inrcodec/cli.py", "inrcodec/models/siren.py",
                   "inrcodec/kernels/__init__.py", "inrcodec/formats/container.py", "inrcodec/formats/image.py"):
        assert module in names, module
    assert not any(n.startswith(("tests/", "bench/", "codec/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "inrcodec = inrcodec.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_import_does_not_pull_in_triton():
    code = "import sys, inrcodec; print('triton' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False"
