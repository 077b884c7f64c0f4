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

    enc = sub.add_parser("encode", help="compress an image into an .inrc file")
    enc.add_argument("input")
    enc.add_argument("-o", "--output", help="output path (default: input with the suffix .inrc)")
    enc.add_argument("--method", default="siren", choices=MODELS.names())
    rate = enc.add_mutually_exclusive_group()
    rate.add_argument("--bpp", type=_positive_float, help="hard cap on bits per pixel (whole file)")
    rate.add_argument("--size", type=_positive_int, help="hard cap on the file size in bytes")
    rate.add_argument("--psnr", type=_positive_float, help="smallest file whose decoded PSNR reaches this (dB)")
    enc.add_argument("--steps", type=_non_negative_int, help="fitting steps (default 2000)")
    enc.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    enc.add_argument("--seed", type=int, default=0)
    enc.add_argument("--width", type=_positive_int, help="neurons per layer (default: sized from the rate)")
    enc.add_argument("--layers", type=_positive_int, help="sine layers (default 4)")
    enc.add_argument("--omega0", type=_positive_float, help="SIREN frequency of the hidden layers (default 30)")
    enc.add_argument("--omega0-first", type=_positive_float, help="SIREN frequency of the first layer (default 30)")
    enc.add_argument("--pe-freqs", type=_non_negative_int, help="positional-encoding frequencies (default 0)")
    enc.add_argument("--latent", type=_positive_int, help="doh: latent length (default: sized from the rate)")
    enc.add_argument("--proj-seed", type=_non_negative_int, help="doh: seed of the random projections (default 0)")
    enc.add_argument("--force", action="store_true", help="overwrite an existing output")
    enc.add_argument("--quiet", action="store_true", help="no progress and no summary")
    enc.add_argument("--verbose", action="store_true", help="also report what rate control tried")

    dec = sub.add_parser("decode", help="decompress an .inrc file")
    dec.add_argument("input")
    dec.add_argument("-o", "--output", help="output path (default: input with the suffix .png)")
    dec.add_argument("--force", action="store_true", help="overwrite an existing output")
    dec.add_argument("--max-samples", type=_positive_int, help="raise the size limit for a trusted file")
    dec.add_argument("--quiet", action="store_true")

    inf = sub.add_parser("info", help="describe an .inrc file without decoding it")
    inf.add_argument("input")
    inf.add_argument("--json", action="store_true", help="machine-readable output")
    inf.add_argument("--max-samples", type=_positive_int, help="raise the size limit for a trusted file")
    return parser


def _encode(args) -> None:
    output = Path(args.output) if args.output else Path(args.input).with_suffix(".inrc")
    check_output(output, [args.input], args.force)
    options = dict(width=args.width, layers=args.layers, omega0=args.omega0, omega0_first=args.omega0_first,
                   pe_freqs=args.pe_freqs)
    if args.method == "doh":
        options.update(latent=args.latent, proj_seed=args.proj_seed)
    elif args.latent is not None or args.proj_seed is not None:
        raise CodecError("--latent and --proj-seed apply to --method doh only")
    result = api.encode_report(
        args.input, method=args.method, bpp=args.bpp, size=args.size, psnr=args.psnr, steps=args.steps,
        seed=args.seed, device=args.device, quiet=args.quiet, verbose=args.verbose and not args.quiet,
        **options)
    check_output(output, [args.input], args.force)  # it may have appeared during a long encode
    atomic_write(output, lambda temp: temp.write_bytes(result.data))
    if not args.quiet:
        print(f"{output}: {len(result.data)} bytes, {result.bpp:.4f} bpp, PSNR {result.psnr:.2f} dB, "
              f"{result.seconds:.1f} s ({result.method}, {result.knob[0]} {result.knob[1]})", file=sys.stderr)


def _decode(args) -> None:
    # Settle the output from the header alone, so a refusal costs nothing.
    spec = api.read_spec(args.input, max_samples=args.max_samples)
    output = Path(args.output) if args.output else Path(args.input).with_suffix(formats.default_extension(spec))
    check_output(output, [args.input], args.force)
    fmt = formats.output_format(spec, output)
    samples, spec = api.decode_signal(args.input, max_samples=args.max_samples)
    atomic_write(output, lambda temp: formats.write(samples, spec, temp, fmt))
    if not args.quiet:
        print(f"{output}: {'x'.join(map(str, spec.shape))}, {spec.channels} channel(s), "
              f"{spec.bit_depth}-bit", file=sys.stderr)


def _info(args) -> None:
    summary = api.info(args.input, max_samples=args.max_samples)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    config = ", ".join(f"{k}={v}" for k, v in summary["config"].items())
    print(f"{args.input}: .inrc {summary['version']}, {summary['kind']} "
          f"{'x'.join(map(str, summary['shape']))}, {summary['channels']} channel(s), "
          f"{summary['bit_depth']}-bit")
    print(f"  method {summary['method']} ({config}), {summary['parameters']} parameters")
    print(f"  {summary['bytes']} bytes, {summary['bpp']:.4f} bpp")


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
