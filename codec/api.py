"""The one orchestration path (DESIGN.md §1): encode, decode, info."""
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from inrcodec import chunks, formats, metrics, ratecontrol
from inrcodec import lossless as lossless_codec
from inrcodec.chunks import TAG_CHUNK, TAG_CHUNKING, Chunking
from inrcodec.config import FitConfig
from inrcodec.errors import CodecError, CorruptFile, RateError, UnsupportedInput
from inrcodec.fit import fit_float, fit_quantized, fit_stalled, resolve_device
from inrcodec.formats import container
from inrcodec.models import finr, siren  # noqa: F401  (registers the methods)
from inrcodec.progress import Progress
from inrcodec.registry import MODELS
from inrcodec.signal import Signal, from_array, from_values, to_array
from inrcodec.stepalloc import measured_step_scales
from inrcodec.weights import TAG_WEIGHTS, assign_steps, decode_weights, encode_weights

# SIREN for audio: one 16,384-sample speech chunk at 32 kbit/s gave SNR 14.7 dB (500 steps, 17 s)
# against F-INR's 10.5 dB (1000 steps, 5 s) and D'OH's 12.2 dB (300 steps, 65 s). F-INR for video,
# as the product asks: it is the method built for it (bench/results/media_video.md compares them).
DEFAULT_METHODS = {"image": "siren", "audio": "siren", "video": "finr"}

LOSSLESS_METHOD = "bitplane"

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
    quality: dict = field(default_factory=dict)  # every measure of the decoded signal (metrics.quality)
    chunks: int = 1
    kbps: float = 0.0  # audio and video: whole-file kbit/s


def resolve_method(kind: str, method: str | None, lossless: bool) -> str:
    """The method an encode uses: the lossless one when asked for, else the given or default one."""
    if lossless and method not in (None, LOSSLESS_METHOD):
        raise UnsupportedInput(f"lossless coding uses method {LOSSLESS_METHOD}, not {method}")
    return LOSSLESS_METHOD if lossless else method or DEFAULT_METHODS[kind]


def config_fields(method: str) -> set:
    """The model config fields (options) a method takes."""
    return {f.name for f in dataclasses.fields(MODELS.get(method).config_class)}


def _load(source, rate=None, fps=None) -> Signal:
    if rate is not None and fps is not None:
        raise UnsupportedInput("give rate= (audio) or fps= (video), not both")
    if isinstance(source, (str, os.PathLike)):
        return formats.read(source, fps=fps)
    if isinstance(source, np.ndarray):
        if rate is not None:
            return formats.audio.from_array(source, rate)
        if fps is not None:
            return formats.video.from_array(source, fps)
        return from_array(source)
    if isinstance(source, Signal):
        return source
    raise UnsupportedInput(f"cannot encode a {type(source).__name__}; pass a path or a numpy array")


def _sized_config(cls, spec, budget: int | None, overrides: dict):
    """The model config: explicit options win; otherwise the size knob is sized from the byte budget."""
    config = cls.default_config(spec, **overrides)
    if budget is None or cls.knob(config)[0] in overrides:
        return config
    return cls.sized_config(config, spec, budget * 8 / cls.bits_per_param(spec.kind), frozenset(overrides))


def _pack(model, spec, indices: dict) -> bytes:
    header = container.Header(spec, model.wire_id, model.config.to_bytes())
    return container.pack(header, [(TAG_WEIGHTS, encode_weights(model, indices))])


def _chunk_packer(part: Signal):
    def pack(model, indices: dict) -> bytes:
        weights = encode_weights(model, indices)
        return chunks.pack_chunk(part.value_range, model.config.to_bytes(), weights)
    return pack


def _decoded_psnr(model, signal: Signal, indices: dict, device: torch.device) -> float:
    """PSNR of the decode at these per-tensor steps, rendered on `device` (where the fit ran: a D'OH
    render on the CPU regenerates every projection entry in torch, tens of seconds for a Kodak image)."""
    model.step_indices = dict(indices)
    model.quant_mode = "ste"
    try:
        samples = from_values(_render_on(model, device), signal.spec, signal.value_range)
    finally:
        model.quant_mode = None
    return metrics.psnr(samples, signal.samples, signal.spec.max_value)


def _render_on(model, device: torch.device) -> torch.Tensor:
    """model.render() on `device`, leaving the model on the CPU, where packing reads it."""
    try:
        return model.to(device).render().cpu()
    finally:
        model.cpu()


def encode_report(source, *, method: str | None = None, bpp: float | None = None, size: int | None = None,
                  kbps: float | None = None, psnr: float | None = None, steps: int | None = None, seed: int = 0,
                  device: str = "auto", quiet: bool = True, verbose: bool = False, fit: FitConfig | None = None,
                  chunk: int | None = None, rate=None, fps=None, lossless: bool = False, verify: bool = True,
                  **model_options) -> EncodeResult:
    """Encode and say how it went (the CLI's summary line comes from here)."""
    start = time.monotonic()
    signal = _load(source, rate, fps)
    spec = signal.spec
    method = resolve_method(spec.kind, method, lossless)
    cls = MODELS.get(method)
    fit_cfg = fit or cls.fit_config(spec.kind)
    if fit is None and steps is None:
        fit_cfg = fit_cfg.for_device(resolve_device(device).type)
    fit_cfg = dataclasses.replace(fit_cfg, seed=seed, device=device, **({"steps": steps} if steps is not None else {}))
    if fit_cfg.steps < 0:
        raise UnsupportedInput(f"steps must be >= 0, got {fit_cfg.steps}")
    unknown = set(model_options) - config_fields(method)
    if unknown:
        raise UnsupportedInput(f"unknown option(s) for {method}: {', '.join(sorted(unknown))}")
    overrides = {k: v for k, v in model_options.items() if v is not None}
    if getattr(cls, "lossless", False):
        rate_options = {"bpp": bpp, "size": size, "kbps": kbps, "psnr": psnr, "chunk": chunk}
        asked = [name for name, value in rate_options.items() if value is not None]
        if asked:
            raise UnsupportedInput(f"{cls.name} is lossless, so a rate or chunk option ({', '.join(asked)}) cannot apply")
        _check_exact_source(source, spec)
        return _encode_lossless(signal, cls, fit_cfg, overrides, start, quiet, verbose, verify)
    budget = ratecontrol.budget_bytes(bpp, size, spec.num_points, kbps, spec.seconds)
    if psnr is not None and budget is not None:
        raise RateError("give either a size cap (bpp/size/kbps) or a PSNR target, not both")
    if psnr is not None and not (psnr > 0 and math.isfinite(psnr)):
        raise RateError(f"the PSNR target must be a positive number of dB, got {psnr}")
    if chunk is not None and spec.kind == "image":
        raise UnsupportedInput("chunking applies to audio and video only")
    log = Progress(1, "", quiet=not verbose)
    tried = []

    def job_for(part: Signal, pack, prefix: str = "") -> "_Job":
        return _Job(part, cls, fit_cfg, overrides, quiet, log, pack, tried, prefix,
                    scale_schedule=fit is None and steps is None)

    if spec.kind == "image":
        model, base, data = job_for(signal, lambda m, steps: _pack(m, spec, steps)).encode(budget, psnr)
        config, count = model.config, 1
    else:
        data, config, base, count = _encode_chunks(signal, cls, job_for, budget, psnr, chunk, log)
    decoded, _ = decode_signal(data, max_samples=max(container.MAX_SAMPLES, spec.num_points * spec.channels))
    quality = metrics.quality(decoded, signal.samples, spec)
    kbps = len(data) * 8 / 1000 / spec.seconds if spec.seconds else 0.0
    return EncodeResult(data, quality["psnr"], metrics.bits_per_sample(len(data), spec.num_points),
                        time.monotonic() - start, method, dataclasses.asdict(config), base,
                        cls.knob(config), tried, quality, count, kbps)


def _check_exact_source(source, spec) -> None:
    """Lossless coding promises the input back bit for bit; refuse inputs the reader already rounded."""
    reason = formats.audio.inexact_reason(spec) if spec.kind == "audio" else None
    if isinstance(source, np.ndarray) and source.dtype == np.int32 and (source & 0xFF).any():
        reason = "its int32 samples carry data below their top 24 bits"
    if reason:
        raise UnsupportedInput(f"cannot code this audio losslessly: {reason}")


def _encode_lossless(signal: Signal, cls, fit_cfg: FitConfig, overrides: dict, start: float, quiet: bool,
                     verbose: bool, verify: bool) -> EncodeResult:
    spec, tried = signal.spec, []
    log = Progress(1, "", quiet=not verbose)
    data, model = lossless_codec.encode(signal, fit_cfg, overrides, quiet, log, tried, verify)
    quality = {"psnr": math.inf, "exact": True, "verified": bool(verify)}
    kbps = len(data) * 8 / 1000 / spec.seconds if spec.seconds else 0.0
    return EncodeResult(data, math.inf, metrics.bits_per_sample(len(data), spec.num_points),
                        time.monotonic() - start, cls.name, dataclasses.asdict(model.config), 0,
                        cls.knob(model.config), tried, quality, 1, kbps)


def _encode_chunks(signal: Signal, cls, job_for, budget: int | None, psnr: float | None, length: int | None, log):
    """Fit every chunk in turn (one model alive at a time); the budget is shared by chunk length."""
    spec = signal.spec
    chunking = chunks.default_chunking(spec, length)
    try:
        chunking.validate()
    except ValueError as exc:
        raise UnsupportedInput(str(exc)) from None
    windows = chunking.windows(spec.shape[0])
    sections, first_config, bases = [], None, []
    # Whole-file overheads first (header, CRC, the chunking section, each section's tag and length);
    # then each chunk gets its share of what is left by core length, so bytes a chunk did not use
    # carry over to the chunks after it.
    left = None if budget is None else budget - (64 + 16 + 8 * len(windows))
    left_samples = spec.shape[0]
    for i, window in enumerate(windows):
        part = chunks.window_signal(signal, window)
        core = window.core_end - window.core_start
        chunk_budget = None
        if budget is not None:
            chunk_budget = left * core // left_samples
            if chunk_budget <= 0:
                raise RateError(f"{budget} bytes cannot hold {len(windows)} chunks; use a larger budget or --chunk")
        log.message(f"chunk {i + 1}/{len(windows)}: samples {window.core_start}..{window.core_end}")
        prefix = f"chunk {i + 1}/{len(windows)} "
        model, base, payload = job_for(part, _chunk_packer(part), prefix).encode(chunk_budget, psnr)
        sections.append((TAG_CHUNK, payload))
        if left is not None:
            left, left_samples = left - len(payload), left_samples - core
        bases.append(base)
        first_config = first_config or model.config
        del model  # one chunk's model alive at a time
    header = container.Header(spec, cls.wire_id, first_config.to_bytes())
    data = container.pack(header, [(TAG_CHUNKING, chunking.to_bytes())] + sections)
    if budget is not None and len(data) > budget:
        raise RateError(f"the chunks came to {len(data)} bytes, over the cap of {budget}")
    return data, first_config, max(bases), len(windows)


def _by_size(model) -> list:
    """Tensor names, largest first: the order budget filling tries them in."""
    return [name for name, p in sorted(model.transmitted(), key=lambda item: -item[1].numel())]


@dataclass
class _Job:
    """One signal's (or chunk's) fit: the recipe, how to pack it, and a log of what rate control tried."""

    signal: Signal
    cls: type
    fit_cfg: FitConfig
    overrides: dict
    quiet: bool
    log: Progress
    pack: object  # (model, {tensor: step index}) -> bytes that count against the budget
    tried: list = field(default_factory=list)
    prefix: str = ""  # progress label, e.g. "chunk 2/9 " for audio and video
    batch_gen: torch.Generator = None
    scale_schedule: bool = False  # the fit is the default one: each sized model may change it (Representation.schedule)
    default_fit: FitConfig = None  # that default, before any model changed it

    def encode(self, budget: int | None, psnr: float | None) -> tuple:
        """(model, base index, packed bytes) under a byte cap or a PSNR target (or the default step)."""
        spec = self.signal.spec
        sizing_budget = budget if psnr is None else int(ratecontrol.PSNR_START_BPP * spec.num_points / 8)
        config = _sized_config(self.cls, spec, sizing_budget, self.overrides)
        try:
            config.validate()
            config = self.cls.content_config(config, self.signal, frozenset(self.overrides))
        except ValueError as exc:
            raise UnsupportedInput(str(exc)) from None
        if psnr is not None:
            model, base = self.fit_for_quality(config, psnr)
        else:
            model, base = self.fit_for_budget(config, budget)
        steps = assign_steps(model, base)
        if budget is not None and psnr is None:
            steps = ratecontrol.fill_budget(steps, self.fits_in(model, budget), _by_size(model))
            model.spend_slack(steps, self.fits_in(model, budget))
        self.fine_tune(model, steps)
        data = self.probe(model, steps, base)
        if budget is not None and len(data) > budget and model.trim_to_fit(steps, self.fits_in(model, budget)):
            # QAT left the file a few bytes over: a few entries one step smaller keep the fitted grid.
            data = self.probe(model, steps, base)
        if budget is not None and len(data) > budget:
            # QAT moved the weights a little; coarsen tensors until the cap holds again.
            steps = ratecontrol.shrink_to_budget(steps, self.fits_in(model, budget), _by_size(model))
            if steps is None:
                raise RateError(f"no {self.cls.name} file fits in {budget} bytes after quantization-aware fitting")
            # A one-tensor model (D'OH's z) just went a whole table entry coarser, 4 % of the file: fill it
            # again. kodim15 at 0.5 bpp landed at 0.475 bpp without this (31.09 dB; 31.46 before 0.4.2).
            model.spend_slack(steps, self.fits_in(model, budget))
            data = self.probe(model, steps, base)
        quality = self.decoded_psnr(model, steps)
        while psnr is not None and quality < psnr:
            # The step was picked assuming QAT wins back QAT_ALLOWANCE_DB; where it won less, refine.
            base -= 1
            if base < ratecontrol.FINEST_BASE_INDEX:
                raise RateError(f"{psnr:.2f} dB is out of reach after quantization-aware fitting")
            steps = assign_steps(model, base)
            data, quality = self.probe(model, steps, base), self.decoded_psnr(model, steps)
        return model, base, data

    def decoded_psnr(self, model, steps) -> float:
        """PSNR of the decode at a base step index or at per-tensor step indices."""
        if isinstance(steps, int):
            steps = assign_steps(model, steps)
        return _decoded_psnr(model, self.signal, steps, resolve_device(self.fit_cfg.device))

    def probe(self, model, steps, base: int | None = None) -> bytes:
        """The packed bytes at a base step index, or at per-tensor indices (`base` names them in logs)."""
        if isinstance(steps, int):
            steps, base = assign_steps(model, steps), steps
        data = self.pack(model, steps)
        knob, value = self.cls.knob(model.config)
        self.tried.append({knob: value, "base_index": base, "bytes": len(data)})
        self.log.message(f"rate control: {knob} {value}, base step index {base}: {len(data)} bytes")
        return data

    def fits_in(self, model, budget: int):
        """steps -> whether the file packed at those per-tensor steps is within the cap."""
        def fits(steps: dict) -> bool:
            try:
                return len(self.pack(model, steps)) <= budget
            except ValueError:  # symbols outside the coder's alphabet
                return False
        return fits

    def pinned(self, config) -> bool:
        """True when the user fixed the size knob, so rate control may not move it."""
        return self.cls.knob(config)[0] in self.overrides

    def schedule(self, config) -> None:
        """Set fit_cfg to the default schedule of `config` (Representation.schedule), which rate control
        may widen or narrow between fits; a fit the caller gave is kept as it is."""
        if not self.scale_schedule:
            return
        if self.default_fit is None:
            self.default_fit = self.fit_cfg
        before, base = self.fit_cfg, self.default_fit
        self.fit_cfg = self.cls.schedule(base, config, self.signal.spec, resolve_device(base.device).type)
        if self.fit_cfg != before and self.fit_cfg != base:
            lr = f" at lr {self.fit_cfg.lr:g}" if self.fit_cfg.lr != base.lr else ""
            self.log.message(f"{self.prefix}fit: {self.fit_cfg.steps} steps of {self.fit_cfg.batch_points} points{lr} "
                             f"for this net ({base.steps} of {base.batch_points} by default)")

    def fitted(self, config):
        """A model of `config` fitted in float; a fit that stalled (fit_stalled) is redone once at half
        the learning rate, and the better of the two is kept."""
        self.schedule(config)
        model, loss, batch_gen = self._fit_once(config, self.fit_cfg)
        if self.fit_cfg.steps > 0 and fit_stalled(loss, self.signal):
            lr = self.fit_cfg.lr / 2
            self.log.message(f"{self.prefix}fit: loss {loss:.4g} is no better than a flat signal's; refitting at lr {lr:g}")
            retry, retry_loss, retry_gen = self._fit_once(config, dataclasses.replace(self.fit_cfg, lr=lr))
            if retry_loss < loss or math.isnan(loss):
                model, batch_gen = retry, retry_gen
        self.batch_gen = batch_gen  # quantization-aware steps carry on with the kept fit's batches
        model.canonicalize()
        return model

    def _fit_once(self, config, fit_cfg: FitConfig) -> tuple:
        seed = fit_cfg.seed
        torch.manual_seed(seed)  # for any op we do not hand a generator
        dev = resolve_device(fit_cfg.device)
        model = self.cls(config, self.signal.spec, generator=torch.Generator().manual_seed(seed)).to(dev)
        batch_gen = torch.Generator().manual_seed(seed + 1)
        loss = fit_float(model, self.signal, fit_cfg, self.quiet, batch_gen, self.prefix)
        return model.cpu(), loss, batch_gen

    def fine_tune(self, model, steps: dict) -> None:
        model.to(resolve_device(self.fit_cfg.device))
        model.step_indices = dict(steps)
        fit_quantized(model, self.signal, self.fit_cfg, self.quiet, self.batch_gen, self.prefix)
        model.cpu()
        model.canonicalize(wrap=False)  # QAT may have swapped neighbours; the order is exact on the grid

    def fit_for_budget(self, config, budget: int | None):
        """Fit, then take the finest step that fits the budget; refit narrower if nothing fits."""
        while True:
            model = self.fitted(config)
            if budget is None:
                base = self.finest_codable(model, DEFAULT_BASE_INDEX)
                if self.tune_steps(model, base):
                    base = self.finest_codable(model, DEFAULT_BASE_INDEX)
                return model, base
            base = ratecontrol.finest_fitting_index(lambda i: self.probe(model, i), budget)
            if base is not None and self.tune_steps(model, base):
                base = ratecontrol.finest_fitting_index(lambda i: self.probe(model, i), budget)
            if base is not None:
                return model, base
            smaller = None if self.pinned(config) else self.cls.resized(config, 2 / 3)
            if smaller is None:
                smallest = len(self.pack(model, assign_steps(model, ratecontrol.COARSEST_BASE_INDEX)))
                raise RateError(f"no {self.cls.name} file fits in {budget} bytes; the smallest one is {smallest} "
                                f"bytes ({smallest * 8 / self.signal.spec.num_points:.3f} bits per sample)")
            config = smaller
            self.log.message("rate control: nothing fits, refitting with %s %s" % self.cls.knob(config))

    def finest_codable(self, model, start: int) -> int:
        """The first base index from `start` whose symbols fit the entropy coder's alphabet (a high
        ω0 makes the default step too fine for the first layer)."""
        for base in range(start, ratecontrol.COARSEST_BASE_INDEX + 1):
            try:
                self.pack(model, assign_steps(model, base))
                return base
            except ValueError:
                continue
        raise RateError(f"the fitted {self.cls.name} weights are too large to code at any step")

    def fit_for_quality(self, config, target: float):
        """Fit, widening until the float fit reaches the target; then the coarsest step that keeps it."""
        for attempt in range(ratecontrol.MAX_WIDENINGS + 1):
            model = self.fitted(config)
            best = self.decoded_psnr(model, ratecontrol.FINEST_BASE_INDEX)
            knob, value = self.cls.knob(config)
            self.log.message(f"rate control: {knob} {value} reaches {best:.2f} dB before quantization")
            if best >= target + ratecontrol.PSNR_MARGIN_DB:
                break
            larger = None if self.pinned(config) else self.cls.resized(config, ratecontrol.PSNR_GROWTH)
            if larger is None or attempt == ratecontrol.MAX_WIDENINGS:
                raise RateError(f"{target:.2f} dB is out of reach: the best fit gave {best:.2f} dB at {knob} "
                                f"{value}; allow more --steps or a larger --{knob}")
            config = larger
        def reaching():
            return ratecontrol.coarsest_reaching_index(lambda i: self.decoded_psnr(model, i),
                                                       target - ratecontrol.QAT_ALLOWANCE_DB)
        base = reaching()
        if self.tune_steps(model, base):
            base = reaching()
        return model, base

    def tune_steps(self, model, base: int) -> bool:
        """Replace the model's fixed step table by measured per-tensor steps (stepalloc); True if done."""
        if not (self.fit_cfg.tune_steps and model.measured_steps):
            return False
        model.tuned_scales = measured_step_scales(model, self.signal, base)
        self.log.message("rate control: measured per-tensor step indices, relative to the base: " + ", ".join(
            f"{name} {index:+d}" for name, index in assign_steps(model, 0).items()))
        return True


def encode(source, **options) -> bytes:
    """Compress an image, audio clip or video into .inrc bytes.

    source: a path, or a numpy array: an image (H×W or H×W×3, uint8/uint16), audio with rate=
    (N or N×C, int16/int32/float), or video with fps= (T×H×W or T×H×W×3, uint8).
    Options: method= ("siren", "doh", "finr", "bitplane"; default finr for video, siren otherwise),
    lossless=True (method bitplane: images and audio, decoded bit-exactly; verify=False skips the
    check decode), bpp=, size=
    or kbps= (hard caps on the whole file), psnr= (a decoded-PSNR target), steps=, seed=, device=,
    chunk= (samples or frames per chunk), quiet=, verbose=, and the method's config fields
    (siren: width, layers, omega0, omega0_first, pe_freqs, tiles (per axis; images), overlap (samples
    blended across tile borders); doh: those, plus latent, proj_seed, projection (0 dense,
    1 Hadamard, the default for one net, 2 per-tile Hadamard, the default when tiled), slices (per-tile
    latent lengths);
    finr: decomp (0 cp, 1 tucker, 2 tt), rank, width, layers, omega0, pe_freqs, fold).
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


def _build(cls, config_bytes: bytes, spec):
    config = cls.config_class.from_bytes(config_bytes)
    try:
        return cls(config, spec)
    except (ValueError, RuntimeError) as exc:
        raise CodecError(f"cannot build the {cls.name} model the file describes: {exc}") from None


def decode_signal(source, *, max_samples: int | None = None, device: str = "auto") -> tuple:
    """(samples, SignalSpec) of an .inrc file or bytes; samples have shape grid + (channels,).
    device: where the network runs (auto: CUDA when torch sees one); lossless decoding is integer
    arithmetic on the CPU whatever it says."""
    parsed = container.unpack(_read_bytes(source), max_samples)
    cls = MODELS.by_id(parsed.header.method_id)
    spec = parsed.header.spec
    if getattr(cls, "lossless", False):
        return lossless_codec.decode(parsed), spec
    dev = resolve_device(device)
    if spec.kind == "image":
        model = _build(cls, parsed.header.model_config, spec)
        decode_weights(model, parsed.section(TAG_WEIGHTS))
        return from_values(_render_on(model, dev), spec), spec
    chunking = Chunking.from_bytes(parsed.section(TAG_CHUNKING))
    windows = chunking.windows(spec.shape[0])
    payloads = [payload for tag, payload in parsed.sections if tag == TAG_CHUNK]
    if len(payloads) != len(windows):
        raise CorruptFile(f"file holds {len(payloads)} chunks, its header describes {len(windows)}")
    out = chunks.Assembler(spec, chunking)
    for window, payload in zip(windows, payloads):
        value_range, config_bytes, weights = chunks.unpack_chunk(payload, spec)
        model = _build(cls, config_bytes, chunks.window_spec(spec, window))
        decode_weights(model, weights)
        out.add(window, _render_on(model, dev), value_range)
    return out.samples, spec


def decode(source, *, max_samples: int | None = None, device: str = "auto") -> np.ndarray:
    """Decompress .inrc bytes or a path into an array shaped and typed like what was encoded
    (images H×W or H×W×3; audio N or N×C; video T×H×W or T×H×W×3). device: auto | cpu | cuda."""
    samples, spec = decode_signal(source, max_samples=max_samples, device=device)
    return formats.to_array(samples, spec)


def info(source, *, max_samples: int | None = None) -> dict:
    """What an .inrc file holds, read from its header alone (nothing is fitted or rendered)."""
    data = _read_bytes(source)
    parsed = container.unpack(data, max_samples)
    h = parsed.header
    cls = MODELS.by_id(h.method_id)
    config = cls.config_class.from_bytes(h.model_config)
    spec = h.spec
    chunk_sections = [p for t, p in parsed.sections if t == TAG_CHUNK]
    if chunk_sections:
        parameters = 0
        windows = Chunking.from_bytes(parsed.section(TAG_CHUNKING)).windows(spec.shape[0])
        for window, payload in zip(windows, chunk_sections):
            config_bytes = chunks.unpack_chunk(payload, spec)[1]
            parameters += _build(cls, config_bytes, chunks.window_spec(spec, window)).num_transmitted()
    else:
        parameters = _build(cls, h.model_config, spec).num_transmitted()
    summary = {
        "kind": spec.kind,
        "shape": list(spec.shape),
        "channels": spec.channels,
        "bit_depth": spec.bit_depth,
        "method": cls.name,
        "method_id": h.method_id,
        "config": dataclasses.asdict(config),
        "parameters": parameters,
        "bytes": len(data),
        "bpp": metrics.bits_per_sample(len(data), spec.num_points),
        "version": f"{h.version[0]}.{h.version[1]}",
        "format": spec.fmt,
        "chunks": max(1, len(chunk_sections)),
        "sections": [{"tag": t, "bytes": len(p)} for t, p in parsed.sections],
    }
    if spec.kind != "image":
        summary["rate"] = float(spec.rate)
        summary["seconds"] = spec.seconds
        summary["kbps"] = len(data) * 8 / 1000 / spec.seconds if spec.seconds else None
    if spec.kind == "video":
        summary["frames"] = spec.shape[0]
    return summary
