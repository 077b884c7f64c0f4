"""Safe output files: never overwrite an input, never clobber without force, never leave a partial file."""
import os
import shutil
from pathlib import Path

from inrcodec.errors import CodecError


def check_output(output, inputs, force: bool) -> Path:
    """Refuse an output that is an input, or that exists when force is off."""
    output = Path(output)
    for given in inputs:
        if output.exists() and Path(given).exists() and os.path.samefile(output, given):
            raise CodecError(f"refusing to overwrite the input file {given}")
        if output.resolve() == Path(given).resolve():
            raise CodecError(f"refusing to overwrite the input file {given}")
    if output.exists() and not force:
        raise CodecError(f"{output} exists; use --force to overwrite it")
    if output.is_dir():
        raise CodecError(f"{output} is a directory; remove it first (--force never deletes folders)")
    return output


def atomic_write(output, write) -> None:
    """Call write(temp_path) on a hidden temporary name beside `output`, then rename it into place
    (the writer may create a file or, for PNG frames, a folder)."""
    output = Path(output)
    temp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        os.replace(temp, output)
    except OSError as exc:
        raise CodecError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if temp.is_dir():
            shutil.rmtree(temp)
        elif temp.exists():
            temp.unlink()
