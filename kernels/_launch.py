"""Whether an op runs its Triton kernel or its torch reference, and the launch helpers kernels share.

INRCODEC_TRITON=0 forces the reference everywhere; INRCODEC_TRITON=1 forces Triton wherever it can run
(CUDA tensors, and CPU tensors under TRITON_INTERPRET=1, the test mode), failing loudly if triton is
missing; unset, Triton runs when the tensor is on CUDA and triton imports, except where an op's own
rule (kernels/__init__.py) sends shapes the kernel cannot hold, or was measured slower on, to the
reference. Under INRCODEC_TRITON=1 only the "cannot hold" part of those rules stays. CPU tensors outside the
interpreter always take the reference, whatever the flag: a GPU encode still packs, and may render,
its model on the CPU. This module never imports triton itself: `import inrcodec` must not pull it in.
"""
import functools
import importlib.util
import os

from inrcodec.errors import UnsupportedInput


@functools.lru_cache(maxsize=1)
def triton_importable() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def _flag() -> str:
    return os.environ.get("INRCODEC_TRITON", "").strip()


def forced() -> bool:
    """INRCODEC_TRITON=1: run the kernels wherever they can run, even where the reference is faster."""
    return _flag() == "1"


def use_triton(tensor) -> bool:
    """True when the op on `tensor` should run its Triton kernel."""
    flag = _flag()
    if flag == "0":
        return False
    if flag == "1":
        if not triton_importable():
            raise UnsupportedInput("INRCODEC_TRITON=1, but triton is not installed (pip install 'inrcodec[triton]')")
        return tensor.is_cuda or interpreting()
    if flag:
        raise UnsupportedInput(f"INRCODEC_TRITON must be 0 or 1, not {flag!r}")
    return tensor.is_cuda and triton_importable()


def next_pow2(n: int, floor: int = 16) -> int:
    """The padded size of a tl.arange / tl.dot dimension: a power of two, at least `floor` (tl.dot needs 16)."""
    size = floor
    while size < n:
        size *= 2
    return size
