"""The one orchestration path (DESIGN.md §1): encode, decode, info."""
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from inrcodec import formats, metrics, ratecontrol
from inrcodec.config import FitConfig
from inrcodec.errors import CodecError, RateError, UnsupportedInput
from inrcodec.fit import fit_float, fit_quantized, resolve_device
from inrcodec.formats import container
from inrcodec.models import siren  # noqa: F401  (registers the methods)
from inrcodec.progress import Progress
from inrcodec.registry import MODELS
from inrcodec.signal import Signal, from_array, from_values, to_array
from inrcodec.weights import TAG_WEIGHTS, assign_steps, decode_weights, encode_weights

DEFAULT_BASE_INDEX = -28  # base step 2**-7 when no rate is asked for (see README: default quality)


@dataclass
class EncodeResult:
    data: bytes
    psnr: float
    bpp: float
    seconds: float
    method: str
    config: dict
    base_index: int
    knob: tuple = ()  # (name, value) of the method's size knob, e.g. ("width", 96)
    tried: list = field(default_factory=list)  # rate-control probes: {knob name: value, base_index, bytes}


def _load(source) -> Signal:
    if isinstance(source, (str, os.PathLike)):
        return formats.read(source)
    if isinstance(source, np.ndarray):
        return from_array(source)
    if isinstance(source, Signal):
        return source
    raise UnsupportedInput(f"cannot encode a {type(source).__name__}; pass a path or a numpy array")


def _sized_config(cls, spec, budget: int | None, overrides: dict):
    """The model config: explicit options win; otherwise the size knob is sized from the byte budget."""
    config = cls.default_config(spec, **overrides)
    if budget is None or cls.knob(config)[0] in overrides:
        return config
    return cls.sized_config(config, spec, budget * 8 / ratecontrol.BITS_PER_PARAM, frozenset(overrides))


def _pack(model, spec, base_index: int) -> bytes:
    header = container.Header(spec, model.wire_id, model.config.to_bytes())
    return container.pack(header, [(TAG_WEIGHTS, encode_weights(model, assign_steps(model, base_index)))])


def _decoded_psnr(model, signal: Signal, base_index: int) -> float:
    model.step_indices = assign_steps(model, base_index)
    model.quant_mode = "ste"
    try:
        samples = from_values(model.render(), signal.spec)
    finally:
        model.quant_mode = None
    return metrics.psnr(samples, signal.samples, signal.spec.max_value)


def encode_report(source, *, method: str = "siren", bpp: float | None = None, size: int | None = None,
                  psnr: float | None = None, steps: int | None = None, seed: int = 0, device: str = "auto",
                  quiet: bool = True, verbose: bool = False, fit: FitConfig | None = None,
                  **model_options) -> EncodeResult:
    """Encode and say how it went (the CLI's summary line comes from here)."""
    start = time.monotonic()
    signal = _load(source)
    cls = MODELS.get(method)
    fit_cfg = dataclasses.replace(fit or FitConfig(**cls.fit_defaults), seed=seed, device=device,
                                  **({"steps": steps} if steps is not None else {}))
    if fit_cfg.steps < 0:
        raise UnsupportedInput(f"steps must be >= 0, got {fit_cfg.steps}")
    unknown = set(model_options) - {f.name for f in dataclasses.fields(cls.config_class)}
    if unknown:
        raise UnsupportedInput(f"unknown option(s) for {method}: {', '.join(sorted(unknown))}")
    overrides = {k: v for k, v in model_options.items() if v is not None}
    budget = ratecontrol.budget_bytes(bpp, size, signal.spec.num_points)
    if psnr is not None and budget is not None:
        raise RateError("give either a size cap (bpp/size) or a PSNR target, not both")
    if psnr is not None and not (psnr > 0 and math.isfinite(psnr)):
        raise RateError(f"the PSNR target must be a positive number of dB, got {psnr}")
    job = _Job(signal, cls, fit_cfg, overrides, quiet, Progress(1, "", quiet=not verbose))
    sizing_budget = budget if psnr is None else int(ratecontrol.PSNR_START_BPP * signal.spec.num_points / 8)
    config = _sized_config(cls, signal.spec, sizing_budget, overrides)
    try:
        config.validate()
    except ValueError as exc:
        raise UnsupportedInput(str(exc)) from None

    if psnr is not None:
        model, base = job.fit_for_quality(config, psnr)
    else:
        model, base = job.fit_for_budget(config, budget)
    job.fine_tune(model, base)
    data = job.probe(model, base)
    while budget is not None and len(data) > budget:
        # QAT moved the weights a little; coarsen until the cap holds again.
        base += 1
        if base > ratecontrol.COARSEST_BASE_INDEX:
            raise RateError(f"no {method} file fits in {budget} bytes after quantization-aware fitting")
        data = job.probe(model, base)
    quality = _decoded_psnr(model, signal, base)
    while psnr is not None and quality < psnr:
        # The step was picked assuming QAT wins back QAT_ALLOWANCE_DB; where it won less, refine.
        base -= 1
        if base < ratecontrol.FINEST_BASE_INDEX:
            raise RateError(f"{psnr:.2f} dB is out of reach after quantization-aware fitting")
        data, quality = job.probe(model, base), _decoded_psnr(model, signal, base)
    return EncodeResult(data, quality, metrics.bits_per_sample(len(data), signal.spec.num_points),
                        time.monotonic() - start, method, dataclasses.asdict(model.config), base,
                        cls.knob(model.config), job.tried)


@dataclass
class _Job:
    """One encode's state: the signal, the fitting recipe, and a log of what rate control tried."""

    signal: Signal
    cls: type
    fit_cfg: FitConfig
    overrides: dict
    quiet: bool
    log: Progress
    tried: list = field(default_factory=list)
    batch_gen: torch.Generator = None

    def probe(self, model, base: int) -> bytes:
        data = _pack(model, self.signal.spec, base)
        knob, value = self.cls.knob(model.config)
        self.tried.append({knob: value, "base_index": base, "bytes": len(data)})
        self.log.message(f"rate control: {knob} {value}, base step index {base}: {len(data)} bytes")
        return data

    def pinned(self, config) -> bool:
        """True when the user fixed the size knob, so rate control may not move it."""
        return self.cls.knob(config)[0] in self.overrides

    def fitted(self, config):
        seed = self.fit_cfg.seed
        torch.manual_seed(seed)  # for any op we do not hand a generator
        dev = resolve_device(self.fit_cfg.device)
        model = self.cls(config, self.signal.spec, generator=torch.Generator().manual_seed(seed)).to(dev)
        self.batch_gen = torch.Generator().manual_seed(seed + 1)
        fit_float(model, self.signal, self.fit_cfg, self.quiet, self.batch_gen)
        return model.cpu()

    def fine_tune(self, model, base: int) -> None:
        model.to(resolve_device(self.fit_cfg.device))
        model.step_indices = assign_steps(model, base)
        fit_quantized(model, self.signal, self.fit_cfg, self.quiet, self.batch_gen)
        model.cpu()

    def fit_for_budget(self, config, budget: int | None):
        """Fit, then take the finest step that fits the budget; refit narrower if nothing fits."""
        while True:
            model = self.fitted(config)
            if budget is None:
                return model, DEFAULT_BASE_INDEX
            base = ratecontrol.finest_fitting_index(lambda i: self.probe(model, i), budget)
            if base is not None:
                return model, base
            smaller = None if self.pinned(config) else self.cls.resized(config, 2 / 3)
            if smaller is None:
                smallest = len(_pack(model, self.signal.spec, ratecontrol.COARSEST_BASE_INDEX))
                raise RateError(f"no {self.cls.name} file fits in {budget} bytes; the smallest one is {smallest} "
                                f"bytes ({smallest * 8 / self.signal.spec.num_points:.3f} bpp)")
            config = smaller
            self.log.message("rate control: nothing fits, refitting with %s %s" % self.cls.knob(config))

    def fit_for_quality(self, config, target: float):
        """Fit, widening until the float fit reaches the target; then the coarsest step that keeps it."""
        for attempt in range(ratecontrol.MAX_WIDENINGS + 1):
            model = self.fitted(config)
            best = _decoded_psnr(model, self.signal, ratecontrol.FINEST_BASE_INDEX)
            knob, value = self.cls.knob(config)
            self.log.message(f"rate control: {knob} {value} reaches {best:.2f} dB before quantization")
            if best >= target + ratecontrol.PSNR_MARGIN_DB:
                break
            larger = None if self.pinned(config) else self.cls.resized(config, ratecontrol.PSNR_GROWTH)
            if larger is None or attempt == ratecontrol.MAX_WIDENINGS:
                raise RateError(f"{target:.2f} dB is out of reach: the best fit gave {best:.2f} dB at {knob} "
                                f"{value}; allow more --steps or a larger --{knob}")
            config = larger
        base = ratecontrol.coarsest_reaching_index(lambda i: _decoded_psnr(model, self.signal, i),
                                                   target - ratecontrol.QAT_ALLOWANCE_DB)
        return model, base


def encode(source, **options) -> bytes:
    """Compress an image (a path or a uint8/uint16 array, H×W or H×W×3) into .inrc bytes.

    Options: method="siren", bpp= or size= (hard caps on the whole file), steps=, seed=, device=,
    psnr= (a decoded-PSNR target), quiet=, verbose=, and the method's config fields (siren: width,
    layers, omega0, omega0_first, pe_freqs; doh: the same for its target net, plus latent, proj_seed).
    """
    return encode_report(source, **options).data


def _read_bytes(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise UnsupportedInput(f"cannot read {source}: {exc.strerror}") from None
    raise UnsupportedInput(f"cannot decode a {type(source).__name__}; pass bytes or a path")


def read_spec(source, *, max_samples: int | None = None):
    """The SignalSpec in an .inrc file's header (validated; nothing is decoded)."""
    return container.unpack(_read_bytes(source), max_samples).header.spec


def decode_signal(source, *, max_samples: int | None = None) -> tuple:
    """(samples H×W×C, SignalSpec) of an .inrc file or bytes."""
    parsed = container.unpack(_read_bytes(source), max_samples)
    cls = MODELS.by_id(parsed.header.method_id)
    config = cls.config_class.from_bytes(parsed.header.model_config)
    spec = parsed.header.spec
    if spec.kind != "image":
        raise UnsupportedInput(f"this version decodes images only, the file holds {spec.kind}")
    try:
        model = cls(config, spec)
    except (ValueError, RuntimeError) as exc:
        raise CodecError(f"cannot build the {cls.name} model the file describes: {exc}") from None
    decode_weights(model, parsed.section(TAG_WEIGHTS))
    return from_values(model.render(), spec), spec


def decode(source, *, max_samples: int | None = None) -> np.ndarray:
    """Decompress .inrc bytes or a path into the image array (same shape and dtype as encoded)."""
    samples, spec = decode_signal(source, max_samples=max_samples)
    return to_array(samples, spec)


def info(source, *, max_samples: int | None = None) -> dict:
    """What an .inrc file holds, read from its header alone (nothing is fitted or rendered)."""
    data = _read_bytes(source)
    parsed = container.unpack(data, max_samples)
    h = parsed.header
    cls = MODELS.by_id(h.method_id)
    config = cls.config_class.from_bytes(h.model_config)
    spec = h.spec
    return {
        "kind": spec.kind,
        "shape": list(spec.shape),
        "channels": spec.channels,
        "bit_depth": spec.bit_depth,
        "method": cls.name,
        "method_id": h.method_id,
        "config": dataclasses.asdict(config),
        "parameters": cls(config, spec).num_transmitted(),
        "bytes": len(data),
        "bpp": metrics.bits_per_sample(len(data), spec.num_points),
        "version": f"{h.version[0]}.{h.version[1]}",
        "format": spec.fmt,
        "sections": [{"tag": t, "bytes": len(p)} for t, p in parsed.sections],
    }
