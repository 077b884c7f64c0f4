"""Per-tensor quantization steps by measured rate-distortion cost.

A tensor of n weights quantized with step Δ adds distortion D ≈ a·Δ² and costs R ≈ n·(c − log2 Δ) bits
(the high-rate model). Minimising ΣD + λΣR over the steps gives Δ_t ∝ sqrt(n_t / a_t): every tensor then
pays the same distortion per bit saved. a_t is measured by quantizing one tensor at a time and
evaluating the network on a fixed subsample of the grid, so the choice needs no refit and costs
(tensors + 1) small forward passes. The result replaces the model's fixed sensitivity table
(step_scales); only the per-tensor step indices go on the wire, so decoders are unaffected.
"""
import math

import torch

from inrcodec.quantize import quantize, step_from_index
from inrcodec.signal import Signal, axis_coords
from inrcodec.weights import assign_steps

SAMPLE_POINTS = 1 << 16  # grid points the distortion is measured on: enough to rank tensors, quick on CPU
# Probe a little coarser than the step in use, so second-order (a·Δ²) terms dominate the measured change.
PROBE_COARSER = 4        # step-table entries, 4 = 2×
# A measured step stays within this factor of the step_scales() one. Before QAT, kodim23 at 0.5 bpp
# (width 96, 300 steps) gave 28.76 dB with the table, and 28.76 / 29.76 / 29.83 / 29.83 dB with
# bounds of 8 / 16 / 64 / 256: the output layer wants steps ~20 entries finer than the table's.
MAX_DEVIATION = 64.0


def _sample_index(total: int, device) -> torch.Tensor:
    """A fixed pseudo-random subsample (a stride would alias with the image width)."""
    if total <= SAMPLE_POINTS:
        return torch.arange(total, device=device)
    return torch.randint(total, (SAMPLE_POINTS,), generator=torch.Generator().manual_seed(0)).to(device)


@torch.no_grad()
def measured_step_scales(model, signal: Signal, base_index: int) -> dict:
    """{name: relative step} for model.transmitted(), from each tensor's measured distortion."""
    device = next(model.parameters()).device
    index = _sample_index(signal.spec.num_points, device)
    coords = axis_coords(signal.spec.shape, index)
    target = signal.values().to(device)[index]
    floats = dict(model.transmitted())

    def mse(params):
        predicted = model.forward_with(model.network_params(params), coords)
        return torch.mean((predicted - target) ** 2).item()

    reference = mse(floats)
    model.tuned_scales = None  # the probes sit at the fixed table's steps
    heuristic = model.step_scales()
    probes = assign_steps(model, base_index + PROBE_COARSER)
    raw = {}
    for name, tensor in floats.items():
        step = step_from_index(probes[name])
        error = quantize(tensor, step, "ste") - tensor
        # Antithetic pair: the mean of L(w + e) and L(w - e) cancels the first-order term g·e, which
        # a fit that has not quite converged makes as large as the curvature term we want (kodim23:
        # one-sided probes sent a whole tensor 2**12 coarser and the file lost 7 dB).
        growth = 0.5 * (mse({**floats, name: tensor + error}) + mse({**floats, name: tensor - error})) - reference
        mask = model.transmitted_mask(name)
        raw[name] = (max(growth, 0.0) / step ** 2, tensor.numel() if mask is None else int(mask.sum()))
    scales = {}
    for name, (a, n) in raw.items():
        ideal = math.sqrt(n / a) if a > 0 else float("inf")
        # The high-rate model holds near the probe, not orders of magnitude away: stay within
        # MAX_DEVIATION of the sensitivity table.
        scales[name] = min(max(ideal, heuristic[name] / MAX_DEVIATION), heuristic[name] * MAX_DEVIATION)
    return _normalised(scales, heuristic, raw)


def _normalised(scales: dict, heuristic: dict, raw: dict) -> dict:
    """Scale so the weight-count-weighted log-mean step matches the heuristic table's, keeping the
    rate controller's base index meaning about the same."""
    total = sum(n for _, n in raw.values())
    log_new = sum(n * math.log2(scales[k]) for k, (_, n) in raw.items()) / total
    log_old = sum(n * math.log2(heuristic[k]) for k, (_, n) in raw.items()) / total
    shift = 2.0 ** (log_old - log_new)
    return {k: v * shift for k, v in scales.items()}
