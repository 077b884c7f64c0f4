"""Ops with a Triton kernel and a pure-torch twin (reference.py). Each public op here dispatches:
Triton when the tensor is on CUDA and triton imports, the reference otherwise; INRCODEC_TRITON=0|1
overrides (_launch.py). Kernel modules are imported on first use, so `import inrcodec` never imports triton.
"""
from inrcodec.kernels import reference
from inrcodec.kernels._launch import use_triton


def siren_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape=None, start=0, count=None):
    """The SIREN forward (differentiable in the weights); arguments as reference.siren_mlp."""
    if use_triton(w0):
        from inrcodec.kernels.sine_mlp import sine_mlp
        return sine_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count)
    return reference.siren_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count)


def project(z, seed: int, layer: int, rows: int):
    """P z for D'OH's hashed projection P (rows × len(z)), differentiable in z, in bounded memory."""
    if use_triton(z):
        from inrcodec.kernels.hashrand import project as fused_project
        return fused_project(z, seed, layer, rows)
    return reference.project(z, seed, layer, rows)
