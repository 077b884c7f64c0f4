"""Ops with a Triton kernel and a pure-torch twin (reference.py). Each public op here dispatches:
Triton when the tensor is on CUDA and triton imports, the reference otherwise; INRCODEC_TRITON=0|1
overrides (_launch.py). siren_mlp also checks the net's width and, when fitting, the points per step
(fused_siren_applies). Kernel modules are imported on first use, so `import inrcodec` never imports triton.
"""
import math

import torch

from inrcodec.kernels import reference
from inrcodec.kernels._launch import forced, next_pow2, use_triton

# The fused SIREN keeps a layer's weights on chip. Compiled for sm_90 (triton.compile on a CPU), padded
# width 128 needs 192 KB of shared memory in the forward and 96 KB in the backward; width 256 needs
# 640 KB and 288 KB, over the 227 KB a block gets on an H100 or H200 (an H200 encode at 1 bpp stopped
# with OutOfResources). Wider nets take the reference.
SINE_MLP_MAX_WIDTH = 128
# Fitting steps go through the kernels only from this many points (unless INRCODEC_TRITON=1). Measured
# on GPUs: a full 512×512 step (262,144 points) took 1.77 ms fused against 3.16 eager (H100), but the
# default-quality encode of kodim23 in 16,384-point steps took 25.9 s through the kernels against 8.2 s
# through eager torch (H200; the kernels' figure includes about 10 s of Triton compiling).
SINE_MLP_MIN_TRAINING_POINTS = 1 << 18


def fused_siren_applies(width: int, points: int, training: bool) -> bool:
    """Whether a SIREN forward that use_triton() sends to Triton really runs the fused kernel."""
    if next_pow2(width) > SINE_MLP_MAX_WIDTH:
        return False
    return not training or forced() or points >= SINE_MLP_MIN_TRAINING_POINTS


def siren_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape=None, start=0, count=None):
    """The SIREN forward (differentiable in the weights); arguments as reference.siren_mlp."""
    if use_triton(w0) and fused_siren_applies(
            w0.shape[0], _points(coords, grid_shape, start, count),
            torch.is_grad_enabled() and any(w.requires_grad for w in (w0, b0, wh, bh, wo, bo))):
        from inrcodec.kernels.sine_mlp import sine_mlp
        return sine_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count)
    return reference.siren_mlp(coords, w0, b0, wh, bh, wo, bo, omega_first, omega, freqs, grid_shape, start, count)


def project(z, seed: int, layer: int, rows: int):
    """P z for D'OH's hashed projection P (rows × len(z)), differentiable in z, in bounded memory."""
    if use_triton(z):
        from inrcodec.kernels.hashrand import project as fused_project
        return fused_project(z, seed, layer, rows)
    return reference.project(z, seed, layer, rows)


def _points(coords, grid_shape, start, count) -> int:
    if coords is not None:
        return coords.shape[0]
    return count if count is not None else math.prod(grid_shape) - start
