"""D'OH's projections, dense against Hadamard, side by side: the cost of θ = P z (and Pᵀ g) for the
target net the encoder sizes for a Kodak-sized image (768×512) at each bpp.

    python bench/doh_projection.py                     # 0.1 and 0.25 bpp, one thread
    python bench/doh_projection.py --bpp 0.5 --threads 2
    python bench/doh_projection.py --device cuda --bpp 0.25 0.5 1   # dense through the Triton kernel

"fit step" is one generation of every target tensor plus its backward to z, as in a fitting step
(the dense one from the cache when it fits in doh.CACHE_BYTES, else regenerated from the hash: then
it is timed once: at 0.5 bpp, 2 × 2.2 G hashes, minutes per step). "decode" is one generation without
gradients, as the decoder does it.
Writes doh_projection.json / .md to --out.
"""
import argparse
import dataclasses
import datetime
import json
import math
import time
from pathlib import Path

import torch

from inrcodec.models.doh import CACHE_BYTES, DENSE, HADAMARD, PROJECTIONS, Doh
from inrcodec.signal import SignalSpec
from rd import machine_info  # bench/ is on sys.path when this runs as a script

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bpp", nargs="+", type=float, default=[0.1, 0.25])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="timed fit steps per setting (after one warm-up)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="on cuda, dense projections run through the Triton kernel (kernels/hashrand.py)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    return p.parse_args(argv)


def _fit_step(model):
    params = model.generated(model.z, model.gain)
    sum((tensor ** 2).sum() for tensor in params.values()).backward()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _seconds(fn, repeats: int, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def measure(spec, bpp: float, kind: int, repeats: int, device: str) -> dict:
    latent = int(bpp * spec.num_points / 6)  # ratecontrol's 6 bits per latent entry
    config = Doh.sized_config(Doh.default_config(spec), spec, latent)
    config = dataclasses.replace(config, projection=kind)
    model = Doh(config, spec).to(device)
    entries = sum(math.prod(shape) for _, shape, _, _ in model._layout) * latent
    cached = kind == DENSE and device == "cpu" and entries * 4 <= CACHE_BYTES  # the kernel never caches
    model.train()
    timed = repeats if kind == HADAMARD or cached or device == "cuda" else 1
    if timed > 1:
        _fit_step(model)  # warm-up (builds the cache or the sign diagonals)
    fit = _seconds(lambda: _fit_step(model), timed, device)
    model.eval()
    with torch.no_grad():
        if device == "cuda":
            model.generated(model.z, model.gain)  # compile the kernels first
        decode = _seconds(lambda: model.generated(model.z, model.gain), 1, device)
    return {"bpp": bpp, "projection": PROJECTIONS[kind], "latent": latent, "width": config.width,
            "target_weights": entries // latent, "entries": entries, "dense_cached": cached,
            "fit_step_ms": fit * 1e3, "decode_ms": decode * 1e3}


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = SignalSpec("image", (512, 768), 3, 8)
    rows = [measure(spec, bpp, kind, args.repeats, args.device) for bpp in args.bpp for kind in (DENSE, HADAMARD)]
    for row in rows:
        print(json.dumps(row))
    info = machine_info()
    machine = f"{info['processor']}, {info['cpu_count']} CPUs, torch {info['torch']}, {args.threads} thread(s)"
    if args.device == "cuda":
        machine = f"{info['cuda']}, torch {info['torch']}"
    suffix = "" if args.device == "cpu" else "_gpu"
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"doh_projection{suffix}.json").write_text(json.dumps({"date": stamp, "machine": machine, "rows": rows},
                                                             indent=1))
    lines = [f"# D'OH projections: dense against Hadamard ({stamp})", "",
             f"Machine: {machine}. Target nets sized by the encoder for a 768×512 RGB image; "
             f"`python bench/doh_projection.py --device {args.device}`.", "",
             "| bpp | latent m | target weights | projection | fit step (P z and Pᵀ g) | decode (P z) |",
             "|---:|---:|---:|---|---:|---:|"]
    for row in rows:
        regenerated = " (Triton, regenerated)" if args.device == "cuda" else " (regenerated)"
        note = " (cached P)" if row["dense_cached"] else (regenerated if row["projection"] == "dense" else "")
        lines.append(f"| {row['bpp']} | {row['latent']} | {row['target_weights']} | {row['projection']} | "
                     f"{row['fit_step_ms']:.1f} ms{note} | {row['decode_ms']:.1f} ms |")
    (args.out / f"doh_projection{suffix}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
