"""The overfitting loop: a full-precision phase, then a quantization-aware phase.

Mini-batches of random coordinates keep CPU encodes in minutes: a full-batch step on a
768×512 image costs about 1.5 s on 2 cores (DESIGN.md §6), a 32k-point step about 1/12 of it.
"""
import math

import torch

from inrcodec.config import FitConfig
from inrcodec.errors import UnsupportedInput
from inrcodec.progress import Progress
from inrcodec.signal import Signal, axis_coords

_WARMUP_FRACTION = 0.02
_FINAL_LR_FRACTION = 0.05
# Reading a loss back stalls the CPU until the GPU has caught up: the progress line reads them in
# groups, which lets the CPU queue the next steps meanwhile.
_READ_EVERY = 25
# Batch indices are drawn on the CPU generator (the same batches on every device) this many steps at a
# time: moving them to a GPU is a blocking copy, and one per step would drain the GPU's queue every step.
_INDEX_BLOCK = 64
# A fit whose final loss is above this fraction of a flat prediction's learned almost nothing; the encoder
# then fits once more at half the learning rate and keeps the better of the two (api._Job.fitted).
STALL_FRACTION = 0.9
FLAT_EPSILON = 1e-12  # a flat MSE under this (about 126 dB on [-1, 1]) means a constant signal


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UnsupportedInput("--device cuda was asked for, but torch sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise UnsupportedInput(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def lr_at(step: int, total: int, peak: float) -> float:
    """Linear warm-up, then cosine decay to a small fraction of the peak."""
    warmup = max(1, int(total * _WARMUP_FRACTION))
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    low = peak * _FINAL_LR_FRACTION
    return low + 0.5 * (peak - low) * (1.0 + math.cos(math.pi * t))


def value_psnr(loss: float) -> float:
    """PSNR of an MSE measured on values in [-1, 1] (peak-to-peak 2)."""
    return 10.0 * math.log10(4.0 / max(loss, 1e-12))


def adam_steps(parameters, steps: int, lr: float, label: str, quiet: bool, step_loss, fields) -> float:
    """Adam with lr_at's schedule for `steps` calls of step_loss() (a scalar tensor); progress shows
    fields(mean of the last 20 losses). Returns that mean (0.0 after no steps). `parameters` may be
    torch param groups; a group's weight_decay is decoupled (AdamW: p *= 1 - lr * decay each step)."""
    optimizer = torch.optim.Adam(parameters, lr=lr, decoupled_weight_decay=True)
    progress = Progress(steps, label, quiet)
    recent = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        loss = step_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        recent = (recent + [loss.detach()])[-20:]
        if (step + 1) % _READ_EVERY == 0 or step + 1 == steps:
            progress.update(step + 1, **fields(_mean(recent)))
    return _mean(recent)


def _mean(losses) -> float:
    return sum(loss.item() for loss in losses) / max(len(losses), 1)


def batch_indices(total: int, batch: int, steps: int, generator: torch.Generator, device):
    """Each step's `batch` random indices below `total`, on `device`: exactly the draws of one
    torch.randint(total, (batch,)) per step, made _INDEX_BLOCK steps at a time."""
    for first in range(0, steps, _INDEX_BLOCK):
        count = min(_INDEX_BLOCK, steps - first)
        yield from torch.randint(total, (count * batch,), generator=generator).to(device).split(batch)


def param_groups(model, weight_decay: float):
    """The model's parameters for Adam: its decayed_names in a group of their own when weight_decay is set."""
    if not weight_decay or not model.decayed_names:
        return list(model.parameters())
    decayed = [p for name, p in model.named_parameters() if name in model.decayed_names]
    rest = [p for name, p in model.named_parameters() if name not in model.decayed_names]
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": rest}]


def run_phase(model, signal: Signal, steps: int, lr: float, cfg: FitConfig, label: str,
              quiet: bool, generator: torch.Generator, weight_decay: float = 0.0) -> float:
    """Adam on mini-batches (or the full grid); returns the mean loss of the last steps."""
    if steps <= 0:
        return float("nan")
    device = next(model.parameters()).device
    target = signal.values().to(device)
    total = signal.spec.num_points
    full = cfg.batch_points <= 0 or cfg.batch_points >= total
    indices = None if full else batch_indices(total, cfg.batch_points, steps, generator, device)

    def step_loss():
        if full:
            predicted, wanted = model.grid_values(), target
        else:
            index = next(indices)
            predicted, wanted = model(axis_coords(signal.spec.shape, index)), target[index]
        return torch.mean((predicted - wanted) ** 2)

    return adam_steps(param_groups(model, weight_decay), steps, lr, label, quiet, step_loss,
                      lambda mean: {"loss": mean, "psnr": value_psnr(mean)})


def flat_loss(signal: Signal) -> float:
    """The MSE of the best constant prediction (each channel's mean): what a fit that learned nothing gets."""
    values = signal.values().double()
    return float(torch.mean((values - values.mean(dim=0)) ** 2))


def fit_stalled(loss: float, signal: Signal) -> bool:
    """True when a fit's final loss is no better than STALL_FRACTION of a flat prediction's (or not a number).
    A D'OH fit that never leaves its start ends there: the 256×256 centre of kodim15 at 0.25 bpp with a
    7-layer target gave a loss of 0.1304 against a flat 0.1297 (14.87 dB; 27.57 with 6 layers)."""
    baseline = flat_loss(signal)
    # A constant signal's baseline is 0 up to rounding: any loss would count as stalled, and nothing is to learn.
    return baseline > FLAT_EPSILON and not loss < STALL_FRACTION * baseline


def fit_float(model, signal: Signal, cfg: FitConfig, quiet: bool, generator: torch.Generator,
              prefix: str = "") -> float:
    model.quant_mode = None
    return run_phase(model, signal, cfg.steps, cfg.lr, cfg, prefix + "fit", quiet, generator, cfg.weight_decay)


def fit_quantized(model, signal: Signal, cfg: FitConfig, quiet: bool, generator: torch.Generator,
                  prefix: str = "") -> float:
    """Fine-tune through straight-through rounding at the model's chosen steps."""
    model.quant_mode = "ste"
    try:
        return run_phase(model, signal, cfg.quantized_steps, cfg.qat_lr, cfg, prefix + "qat", quiet, generator)
    finally:
        model.quant_mode = None
