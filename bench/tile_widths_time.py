"""Time of fitting steps for tiles of unequal widths: each tile at its own width (tiling.per_tile_mlp)
against the padded batched product, every tile at the widest tile's width (0.5.9-0.5.10).

    python bench/tile_widths_time.py                       # kodim19 and kodim05, SIREN and D'OH, 0.25 / 0.5 bpp
    python bench/tile_widths_time.py --images my.png --methods siren --bpp 1.0

The net is the one the encoder builds (sized for the bpp, tile widths by the image's detail). Each round
times `--steps` float steps (forward, backward, Adam) of the same model with either product, in turn;
the median round is reported. Both products give the same output (tests/test_tile_widths.py).
Writes tile_widths_time.json / .md to --out.
"""
import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from inrcodec import api
from inrcodec.models import siren, tiling
from inrcodec.registry import MODELS
from inrcodec.signal import axis_coords

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from rd import DEFAULT_IMAGES, machine_info  # noqa: E402

BATCH = {"siren": 8192, "doh": 16384}  # the CPU schedules' points per step for these nets


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", nargs="+", type=Path,
                   default=[DEFAULT_IMAGES / "kodim19.png", DEFAULT_IMAGES / "kodim05.png"])
    p.add_argument("--methods", nargs="+", default=["siren", "doh"], choices=sorted(BATCH))
    p.add_argument("--bpp", nargs="+", type=float, default=[0.25, 0.5], help="sizes the net as the encoder would")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the bench's encodes use one each)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    return p.parse_args(argv)


def padded_product(*args, **kwargs):
    """tiled_sine_mlp without its widths: every tile through the batched product at the full width."""
    return tiling.tiled_sine_mlp(*args[:11])


def step_times(model, signal, batch, steps, rounds) -> dict:
    """{"own": s, "padded": s}: median seconds per step over rounds that alternate the two products."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)
    generator = torch.Generator().manual_seed(1)
    values = signal.values()

    def step():
        index = torch.randint(signal.spec.num_points, (batch,), generator=generator)
        loss = torch.mean((model(axis_coords(signal.spec.shape, index)) - values[index]) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    products = {"own": tiling.tiled_sine_mlp, "padded": padded_product}
    times = {name: [] for name in products}
    try:
        for name, product in products.items():  # warm-up: allocator and caches
            siren.tiled_sine_mlp = product
            step()
        for _ in range(rounds):
            for name, product in products.items():
                siren.tiled_sine_mlp = product
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                times[name].append((time.perf_counter() - start) / steps)
    finally:
        siren.tiled_sine_mlp = tiling.tiled_sine_mlp
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    args = parse_args(argv)
    for image in args.images:
        if not image.is_file():
            sys.exit(f"tile_widths_time.py: error: image not found: {image}")
    torch.set_num_threads(args.threads)
    rows = []
    for image in args.images:
        signal = api._load(str(image))
        for method in args.methods:
            cls = MODELS.get(method)
            for bpp in args.bpp:
                config = api._sized_config(cls, signal.spec, int(bpp * signal.spec.num_points / 8), {})
                config = cls.content_config(config, signal)
                model = cls(config, signal.spec, torch.Generator().manual_seed(0))
                t = step_times(model, signal, BATCH[method], args.steps, args.rounds)
                row = {"image": image.name, "method": method, "bpp": bpp, "width": config.width,
                       "tile_widths": list(config.tile_widths), "batch": BATCH[method],
                       "ms_own": round(t["own"] * 1e3, 2), "ms_padded": round(t["padded"] * 1e3, 2),
                       "ratio": round(t["own"] / t["padded"], 3)}
                rows.append(row)
                print(f"{image.name} {method} {bpp:g} bpp widths {config.tile_widths}: own {row['ms_own']} ms/step, "
                      f"padded {row['ms_padded']} ({row['ratio']:.2f}×)", file=sys.stderr, flush=True)
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
              "threads": args.threads, "steps": args.steps, "rounds": args.rounds, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tile_widths_time.json").write_text(json.dumps(report, indent=1))
    lines = [f"# Fit step time, tiles at their own widths against padded ({report['date']})", "",
             f"{args.threads} torch thread(s), median of {args.rounds} rounds of {args.steps} float steps (forward, "
             f"backward, Adam). Machine: {report['machine'].get('processor')}, torch {report['machine'].get('torch')}.",
             "own: each tile at its own width (per_tile_mlp); padded: every tile at the widest (0.5.9-0.5.10).", "",
             "| image | method | bpp | tile widths | points | own ms/step | padded ms/step | own / padded |",
             "|---|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        widths = " / ".join(map(str, r["tile_widths"])) or r["width"]
        lines.append(f"| {r['image']} | {r['method']} | {r['bpp']:g} | {widths} | {r['batch']} | {r['ms_own']:.1f} "
                     f"| {r['ms_padded']:.1f} | {r['ratio']:.2f}× |")
    (args.out / "tile_widths_time.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'tile_widths_time.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
