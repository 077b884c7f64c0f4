"""Command line: inrcodec encode | decode | info. Printing and exit codes only; the work is in api."""
import argparse
import json
import math
import os
import sys
from pathlib import Path

from inrcodec import __version__, api, formats
from inrcodec.errors import CodecError
from inrcodec.files import atomic_write, check_output
from inrcodec.models.doh import PROJECTIONS
from inrcodec.models.finr import DECOMPOSITIONS
from inrcodec.registry import MODELS

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _positive_float(text):
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inrcodec", description="Neural (INR) signal codec.")
    parser.add_argument("--version", action="version", version=f"inrcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    enc = sub.add_parser("encode", help="compress an image, audio file or video into an .inrc file")
    enc.add_argument("input")
    enc.add_argument("-o", "--output", help="output path (default: input with the suffix .inrc)")
    enc.add_argument("--method", choices=MODELS.names(), help="default: finr for video, siren otherwise "
                     "(bitplane: lossless)")
    enc.add_argument("--lossless", action="store_true",
                     help="bit-exact coding (method bitplane; images and audio)")
    enc.add_argument("--no-verify", dest="verify", action="store_false",
                     help="lossless: skip the check decode after encoding (on by default)")
    rate = enc.add_mutually_exclusive_group()
    rate.add_argument("--bpp", type=_positive_float, help="hard cap on bits per pixel (whole file)")
    rate.add_argument("--size", type=_positive_int, help="hard cap on the file size in bytes")
    rate.add_argument("--kbps", type=_positive_float, help="audio/video: hard cap on kbit/s (whole file)")
    rate.add_argument("--psnr", type=_positive_float, help="smallest file whose decoded PSNR reaches this (dB)")
    enc.add_argument("--steps", type=_non_negative_int, help="fitting steps (default 2000, or 5000 on a GPU; more for tiled nets and for image nets up to 66 wide)")
    enc.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    enc.add_argument("--seed", type=int, default=0)
    enc.add_argument("--width", type=_positive_int, help="neurons per layer (default: sized from the rate)")
    enc.add_argument("--layers", type=_positive_int, help="sine layers (default 4; doh's target net 6)")
    enc.add_argument("--omega0", type=_positive_float, help="SIREN frequency of the hidden layers (default 30)")
    enc.add_argument("--omega0-first", type=_positive_float, help="SIREN frequency of the first layer (default 30)")
    enc.add_argument("--pe-freqs", type=_non_negative_int,
                     help="positional-encoding frequencies (default 8, capped at the grid's Nyquist rate)")
    enc.add_argument("--tiles", type=_positive_int,
                     help="siren, doh: tiles per axis, a net each (default: from the rate; images only)")
    enc.add_argument("--overlap", type=_non_negative_int,
                     help="siren, doh: samples each tile's net reaches past its block, blended across the border "
                          "(default 8 when tiled; 0: tiles meet edge to edge)")
    enc.add_argument("--latent", type=_positive_int, help="doh: latent length (default: sized from the rate)")
    enc.add_argument("--proj-seed", type=_non_negative_int, help="doh: seed of the random projections (default 0)")
    enc.add_argument("--projection", choices=PROJECTIONS,
                     help="doh: hadamard (±1 Hadamard rows, fast; the default for one net), per-tile (hadamard, each "
                          "tile from a slice of the latent of its own; the default when tiled) or dense (hashed "
                          "entries, as before 0.4)")
    enc.add_argument("--decomp", choices=DECOMPOSITIONS, help="finr: tensor decomposition (default cp)")
    enc.add_argument("--rank", type=_positive_int, help="finr: decomposition rank (default: sized from the rate)")
    enc.add_argument("--chunk", type=_positive_int,
                     help="audio: samples per chunk (default 16384); video: frames per group (default 16)")
    enc.add_argument("--fps", type=_positive_float, help="frame rate of a folder of PNG frames (default 25)")
    enc.add_argument("--force", action="store_true", help="overwrite an existing output")
    enc.add_argument("--quiet", action="store_true", help="no progress and no summary")
    enc.add_argument("--verbose", action="store_true", help="also report what rate control tried")

    dec = sub.add_parser("decode", help="decompress an .inrc file")
    dec.add_argument("input")
    dec.add_argument("-o", "--output", help="output path; its extension picks the format (default: the input's "
                     "format: .png, .wav/.flac/.ogg, .y4m; a video path without extension writes PNG frames)")
    dec.add_argument("--force", action="store_true", help="overwrite an existing output")
    dec.add_argument("--max-samples", type=_positive_int, help="raise the size limit for a trusted file")
    dec.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                     help="where the network runs (default: CUDA when torch sees a GPU; lossless files use the CPU)")
    dec.add_argument("--quiet", action="store_true")

    inf = sub.add_parser("info", help="describe an .inrc file without decoding it")
    inf.add_argument("input")
    inf.add_argument("--json", action="store_true", help="machine-readable output")
    inf.add_argument("--max-samples", type=_positive_int, help="raise the size limit for a trusted file")
    return parser


# Options given by name whose config field stores the name's index.
NAMED_CHOICES = {"decomp": DECOMPOSITIONS, "projection": PROJECTIONS}
# CLI option -> the model config field it sets (each method takes the fields its config has).
MODEL_OPTIONS = {"width": "width", "layers": "layers", "omega0": "omega0", "omega0_first": "omega0-first",
                 "pe_freqs": "pe-freqs", "tiles": "tiles", "overlap": "overlap", "latent": "latent", "proj_seed": "proj-seed", "projection": "projection",
                 "decomp": "decomp", "rank": "rank"}


def _model_options(args, method: str) -> dict:
    fields = api.config_fields(method)
    options = {}
    for field, flag in MODEL_OPTIONS.items():
        value = getattr(args, field)
        if value is None:
            continue
        if field not in fields:
            raise CodecError(f"--{flag} does not apply to --method {method}")
        options[field] = NAMED_CHOICES[field].index(value) if field in NAMED_CHOICES else value
    return options


def _summary(result) -> str:
    q = result.quality
    if q.get("exact"):
        check = "verified" if q.get("verified") else "not verified"
        rate = f", {result.kbps:.1f} kbit/s" if result.kbps else ""
        quality = f"{result.bpp:.4f} bits per {'sample' if result.kbps else 'pixel'}{rate}, lossless ({check})"
    elif "snr" in q:
        seconds = len(result.data) * 8 / result.kbps / 1000 if result.kbps else 0
        quality = f"{result.kbps:.2f} kbit/s, SNR {q['snr']:.2f} dB, PSNR {q['psnr']:.2f} dB ({seconds:.2f} s)"
    elif "psnr_y" in q:
        quality = (f"{result.bpp:.4f} bpp, {result.kbps:.1f} kbit/s, PSNR {q['psnr']:.2f} dB "
                   f"(Y {q['psnr_y']:.2f} dB, RGB {q['psnr_rgb']:.2f} dB)")
    else:
        quality = f"{result.bpp:.4f} bpp, PSNR {result.psnr:.2f} dB"
    chunks = f", {result.chunks} chunks" if result.chunks > 1 else ""
    return (f"{len(result.data)} bytes, {quality}, {result.seconds:.1f} s "
            f"({result.method}, {result.knob[0]} {result.knob[1]}{chunks})")


def _encode(args) -> None:
    output = Path(args.output) if args.output else Path(args.input).with_suffix(".inrc")
    check_output(output, [args.input], args.force)
    method = api.resolve_method(formats.family(args.input), args.method, args.lossless)
    result = api.encode_report(
        args.input, method=method, bpp=args.bpp, size=args.size, kbps=args.kbps, psnr=args.psnr,
        steps=args.steps, seed=args.seed, device=args.device, quiet=args.quiet,
        verbose=args.verbose and not args.quiet, chunk=args.chunk, fps=args.fps, verify=args.verify,
        **_model_options(args, method))
    check_output(output, [args.input], args.force)  # it may have appeared during a long encode
    atomic_write(output, lambda temp: temp.write_bytes(result.data))
    if not args.quiet:
        print(f"{output}: {_summary(result)}", file=sys.stderr)


def _describe(spec) -> str:
    shape = "x".join(map(str, spec.shape))
    if spec.kind == "audio":
        return (f"{spec.shape[0]} samples ({spec.seconds:.2f} s at {float(spec.rate):g} Hz), "
                f"{spec.channels} channel(s), {spec.bit_depth}-bit")
    if spec.kind == "video":
        t, h, w = spec.shape
        return f"{t} frames of {w}x{h} at {float(spec.rate):g} fps ({spec.seconds:.2f} s), {spec.channels} channel(s)"
    return f"{shape}, {spec.channels} channel(s), {spec.bit_depth}-bit"


def _decode(args) -> None:
    # Settle the output from the header alone, so a refusal costs nothing.
    spec = api.read_spec(args.input, max_samples=args.max_samples)
    output = Path(args.output) if args.output else Path(args.input).with_suffix(formats.default_extension(spec))
    check_output(output, [args.input], args.force)
    fmt = formats.output_format(spec, output)
    samples, spec = api.decode_signal(args.input, max_samples=args.max_samples, device=args.device)
    atomic_write(output, lambda temp: formats.write(samples, spec, temp, fmt))
    if not args.quiet:
        print(f"{output}: {_describe(spec)}", file=sys.stderr)


def _info(args) -> None:
    summary = api.info(args.input, max_samples=args.max_samples)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    spec = api.read_spec(args.input, max_samples=args.max_samples)
    config = ", ".join(f"{k}={v}" for k, v in summary["config"].items())
    print(f"{args.input}: .inrc {summary['version']}, {summary['kind']}: {_describe(spec)}")
    chunks = f" in {summary['chunks']} chunks" if summary["chunks"] > 1 else ""
    print(f"  method {summary['method']} ({config}), {summary['parameters']} parameters{chunks}")
    rate = f", {summary['kbps']:.2f} kbit/s" if summary.get("kbps") else ""
    unit = "sample" if spec.kind == "audio" else "pixel"
    print(f"  {summary['bytes']} bytes, {summary['bpp']:.4f} bits per {unit}{rate}")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        {"encode": _encode, "decode": _decode, "info": _info}[args.command](args)
    except CodecError as exc:
        print(f"inrcodec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("inrcodec: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: still one line, unless INRCODEC_DEBUG asks for the traceback
        if os.environ.get("INRCODEC_DEBUG"):
            raise
        print(f"inrcodec: internal error: {type(exc).__name__}: {exc} (set INRCODEC_DEBUG=1 for details)",
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
