"""A sine MLP's canonical form: the same function, in fewer bits once its biases are delta-coded.

A unit of a sine layer, sin(ω (w·x + b)), has symmetries that leave the net's function unchanged:
- b → b + π/ω with the unit's outgoing weights negated (sin(a + π) = -sin a);
- (w, b) → (-w, -b) with the outgoing weights negated (sine is odd);
- any order of a layer's units, with the next layer's columns in the same order.
The first two bring every bias into [0, π/(2ω)]; sorting the units by bias then lets the file hold
each bias as its step from the one before (weights.py), a few bits where a free bias took 7-9: the
order of n units is log2(n!) bits the file no longer pays. On whole kodim05 at 0.5 bpp (width 46,
2×2 tiles) the weight section went from 24,448 to 23,840 bytes at the same steps (-2.5 %), and the
decoded PSNR from 24.611 to 24.607 dB (wrapped biases round afresh).
"""
import math

import torch


@torch.no_grad()
def canonicalize_sine_mlp(weights: list, biases: list, omegas: list, wrap: bool = True, held=None) -> None:
    """In place: each sine layer's biases into [0, π/(2ω)] (when `wrap`), then its units sorted by bias.

    weights[i] (..., out, in) and biases[i] (..., out) are sine layer i's, for i < len(biases);
    weights[len(biases)] is the linear output's. A leading tile axis (...) is handled per tile.
    Without `wrap` only the moves that keep quantized weights on their grid are made (sign flips
    and the order; rounding is symmetric): for use after quantization-aware fitting.
    `held` (..., units) bool, when some tiles use fewer units than the tensors have: those units
    (all zero) stay after the used ones, which alone are sorted.
    """
    for i, (w, b, omega) in enumerate(zip(weights, biases, omegas)):
        following = weights[i + 1]
        if wrap:
            half_turns = torch.round(b * (omega / math.pi))
            b -= half_turns * (math.pi / omega)
            following *= (1.0 - 2.0 * half_turns.remainder(2.0)).unsqueeze(-2)
        flip = torch.where(b < 0, -1.0, 1.0)
        b *= flip
        w *= flip.unsqueeze(-1)
        following *= flip.unsqueeze(-2)
        order = torch.argsort(b if held is None else torch.where(held, b, math.inf), dim=-1, stable=True)
        b.copy_(torch.gather(b, -1, order))
        w.copy_(torch.gather(w, -2, order.unsqueeze(-1).expand_as(w)))
        following.copy_(torch.gather(following, -1, order.unsqueeze(-2).expand_as(following)))
