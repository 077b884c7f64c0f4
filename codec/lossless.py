"""Lossless encode and decode with the bit-plane method (DESIGN.md §1's path for `--lossless`).

The file is the header, the network's integer weights (entropy-coded like every method's), and one
range-coded stream of every sample's bit planes under the network's probabilities. The encoder
fits the network to the signal's own context features (its loss is the code length in bits), tries
each candidate width, keeps the smallest whole file, and decodes it again before handing it out.
"""
import dataclasses
import math

import numpy as np
import torch

from inrcodec import bitcoder, entropy, orders
from inrcodec.config import FitConfig
from inrcodec.errors import CodecError, CorruptFile, UnsupportedInput
from inrcodec.fit import adam_steps, batch_indices
from inrcodec.formats import container
from inrcodec.formats.binary import Reader, uvarint
from inrcodec.models.bitplane import Bitplane, BitplaneConfig
from inrcodec.progress import Progress
from inrcodec.signal import Signal, SignalSpec
from inrcodec.weights import TAG_WEIGHTS

TAG_BITS = 4
# Candidate widths when the user pins none; one is tried only if its weights are small beside the
# signal (parameters <= samples / 64), so a tiny image does not pay for a large network.
# kodim01 (3,000 steps): width 32 gave 3.409 bits per subpixel, width 64 3.418 (its weights cost more).
WIDTHS = (8, 16, 32)
SAMPLES_PER_PARAMETER = 64
MAX_TRAIN_ROWS = 1 << 21  # training sees at most this many samples (a uniform subset beyond it)
_LN2 = math.log(2.0)


def _training_rows(signal: Signal, order, generator: torch.Generator) -> tuple:
    """(float features, residual, prediction, activity) of every sample, or of a uniform subset."""
    spec = signal.spec
    keep = min(1.0, MAX_TRAIN_ROWS / (spec.num_points * spec.channels))
    rows = order.rows(_as_columns(signal), keep, generator)
    return tuple(torch.cat(parts) for parts in zip(*rows))


def _as_columns(signal: Signal) -> torch.Tensor:
    return torch.from_numpy(signal.samples.reshape(-1, signal.spec.channels).astype(np.int64))


def _log_mass(center: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """log(σ(center + half) - σ(center - half)), stable in both tails and for bins far narrower than
    the float spacing at `center`)."""
    softplus = torch.nn.functional.softplus
    return center + half + torch.log(-torch.expm1(-2.0 * half)) - softplus(center - half) - softplus(center + half)


def code_length_bits(out: torch.Tensor, residual: torch.Tensor, pred: torch.Tensor, scale: torch.Tensor,
                     bit_depth: int) -> torch.Tensor:
    """Bits to code each sample under the network's float outputs: -log2 of the logistic's mass on
    the sample's bin, renormalised to [0, 2**n). This is the sum of the planes' binary cross-entropies.
    Outputs are relative to the activity `scale`, as in bitcoder.distribution."""
    unit = scale.double()
    mu = out[:, 0].double()
    inv_scale = torch.exp2(-bitcoder.clamp_log_scale(out[:, 1]).double())
    sample = (residual.double() / unit - mu) * inv_scale
    # The whole range [-1/2, 2**n - 1/2) relative to the prediction, as centre and half-width.
    middle = (((1 << bit_depth) - 1) / 2.0 - pred.double()) / unit
    whole = (middle - mu) * inv_scale
    bits = (_log_mass(whole, (1 << (bit_depth - 1)) / unit * inv_scale) - _log_mass(sample, 0.5 / unit * inv_scale))
    return (bits / _LN2).float()


def fit(model: Bitplane, rows: tuple, cfg: FitConfig, bit_depth: int, quiet: bool, label: str) -> float:
    """Adam on mini-batches of samples, then quantization-aware steps through the transmitted
    rounding; returns the mean bits per sample of the last steps. The rounded phase matters: on
    24-bit speech rounding the weights cost 1.9 bits per sample without it."""
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    torch.manual_seed(cfg.seed)
    _run(model, rows, cfg.steps, cfg.lr, cfg.batch_points, bit_depth, generator, quiet, label)
    model.rounded = True
    try:
        return _run(model, rows, cfg.quantized_steps, cfg.lr / 10, cfg.batch_points, bit_depth, generator, quiet,
                    label + " (rounded)")
    finally:
        model.rounded = False


def _run(model: Bitplane, rows: tuple, steps: int, lr: float, batch: int, bit_depth: int,
         generator: torch.Generator, quiet: bool, label: str) -> float:
    feats, residual, pred, scale = rows
    size = min(batch or len(feats), len(feats))
    indices = batch_indices(len(feats), size, steps, generator, feats.device)

    def step_loss():
        index = next(indices)
        return code_length_bits(model(feats[index]), residual[index], pred[index], scale[index], bit_depth).mean()

    return adam_steps(model.parameters(), steps, lr, label, quiet, step_loss, lambda mean: {"bits": mean})


def pack(signal: Signal, model: Bitplane, order, backend: str = "float64", header_spec=None) -> bytes:
    """The whole file; header_spec is the input's spec when `signal` had its wasted bits removed."""
    header = container.Header(header_spec or signal.spec, Bitplane.wire_id, model.config.to_bytes())
    weights = entropy.encode_tensors([t.reshape(-1).numpy() for t in model.integer_tensors()]
                                     + [t.numpy() for t in order.predictor_tensors()])
    encoder = bitcoder.PlaneEncoder()
    order.encode(_as_columns(signal), model, encoder, backend)
    words = encoder.finish()
    return container.pack(header, [(TAG_WEIGHTS, weights), (TAG_BITS, uvarint(len(words)) + words.tobytes())])


def wasted_bits(samples: np.ndarray, bit_depth: int) -> int:
    """Low bits that are zero in every sample, as FLAC's "wasted bits" (the corpus band mix is 15-bit
    audio in a 16-bit file: coding that bit cost 0.9 bits per sample)."""
    combined = int(np.bitwise_or.reduce(samples.reshape(-1).astype(np.int64))) if samples.size else 0
    if combined == 0:
        return bit_depth - 1
    return min((combined & -combined).bit_length() - 1, bit_depth - 1)


def _shifted(signal: Signal, shift: int) -> Signal:
    spec = dataclasses.replace(signal.spec, bit_depth=signal.spec.bit_depth - shift)
    return Signal(signal.samples >> shift, spec)


def _candidate_widths(spec: SignalSpec, overrides: dict) -> list:
    budget = spec.num_points * spec.channels / SAMPLES_PER_PARAMETER
    fits = [w for w in WIDTHS
            if Bitplane(BitplaneConfig(**{**overrides, "width": w}), spec).num_transmitted() <= budget]
    return fits or [WIDTHS[0]]


def encode(signal: Signal, cfg: FitConfig, overrides: dict, quiet: bool = True, log=None, tried=None,
           verify: bool = True, backend: str = "float64") -> tuple:
    """(file bytes, model): the smallest file over the candidate widths (or the one asked for)."""
    if signal.spec.kind not in ("image", "audio"):
        raise UnsupportedInput(f"lossless coding supports images and audio, not {signal.spec.kind}")
    original = signal
    shift = wasted_bits(signal.samples, signal.spec.bit_depth)
    signal = _shifted(signal, shift)
    spec = signal.spec
    widths = [overrides["width"]] if "width" in overrides else _candidate_widths(spec, overrides)
    generator = torch.Generator().manual_seed(cfg.seed)
    order = orders.for_spec(spec)
    order.prepare(_as_columns(signal))
    rows = _training_rows(signal, order, generator)
    status = Progress(1, "", quiet)  # the fits show their own progress; coding and checking get a line each
    best = None
    for width in widths:
        config = BitplaneConfig(**{**overrides, "width": width, "shift": shift})
        try:
            config.validate()
        except ValueError as exc:
            raise UnsupportedInput(str(exc)) from None
        model = Bitplane(config, spec, generator=torch.Generator().manual_seed(cfg.seed))
        fit(model, rows, cfg, spec.bit_depth, quiet, f"fit width {width}")
        model.freeze()
        status.message(f"coding the bit planes under width {width}")
        data = pack(signal, model, order, backend, original.spec)
        if tried is not None:
            tried.append({"width": width, "bytes": len(data)})
        if log is not None:
            log.message(f"lossless: width {width}: {len(data)} bytes "
                        f"({len(data) * 8 / (spec.num_points * spec.channels):.4f} bits per sample)")
        if best is None or len(data) < len(best[0]):
            best = (data, model)
    data, model = best
    if verify:
        status.message("verifying: decoding the file and comparing it with the input")
        decoded = decode(container.unpack(data, max(container.MAX_SAMPLES, spec.num_points * spec.channels)))
        if not np.array_equal(decoded, original.samples):
            raise CodecError("verification failed: the lossless file does not decode to the input; nothing written")
    return data, model


def decode(parsed: container.Container, backend: str = "float64") -> np.ndarray:
    """Samples (grid + (channels,)) of a parsed bit-plane file."""
    header_spec = parsed.header.spec
    try:
        config = BitplaneConfig.from_bytes(parsed.header.model_config)
        if config.shift >= header_spec.bit_depth:
            raise ValueError(f"shift {config.shift} leaves no bits of a {header_spec.bit_depth}-bit signal")
        spec = dataclasses.replace(header_spec, bit_depth=header_spec.bit_depth - config.shift)
        model = Bitplane(config, spec)
    except ValueError as exc:
        raise CorruptFile(f"cannot build the bitplane model the file describes: {exc}") from None
    order = orders.for_spec(spec)
    counts = [t.numel() for t in model.tensors()]
    tensors = entropy.decode_tensors(parsed.section(TAG_WEIGHTS), counts + list(order.predictor_counts))
    model.load_integers([torch.from_numpy(t) for t in tensors[: len(counts)]])
    order.load_predictor([torch.from_numpy(t) for t in tensors[len(counts):]])
    r = Reader(parsed.section(TAG_BITS), "bit-plane section")
    words = np.frombuffer(r.take(4 * r.uvarint()), dtype="<u4")
    r.expect_end()
    with torch.no_grad():
        samples = order.decode(model, bitcoder.PlaneDecoder(words), backend) << config.shift
    return samples.numpy().astype(header_spec.dtype).reshape(tuple(spec.shape) + (spec.channels,))
