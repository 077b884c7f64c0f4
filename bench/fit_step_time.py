"""Time of SIREN fitting steps at two batch sizes, paired on one image: what the 8k-point schedule of
image nets up to SMALL_BATCH_MAX_WIDTH (models/siren.py) costs against 16k points for half the steps.

    python bench/fit_step_time.py                                   # kodim05, 0.25 / 0.5 / 1 bpp
    python bench/fit_step_time.py --image my.png --bpp 0.5 --batches 16384 4096

Each round times `--steps` float steps (forward, backward, Adam) at every batch in turn, on the net the
encoder sizes for that bpp (tiled as it would be); the median round is reported. Writes fit_step_time.json
/ .md to --out.
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
from inrcodec.models.siren import Siren
from inrcodec.signal import axis_coords

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from rd import DEFAULT_IMAGES, machine_info  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGES / "kodim05.png")
    p.add_argument("--bpp", nargs="+", type=float, default=[0.25, 0.5, 1.0], help="sizes the net as the encoder would")
    p.add_argument("--batches", nargs="+", type=int, default=[16384, 8192], help="points per step; the first is the baseline")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the bench's encodes use one each)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    return p.parse_args(argv)


def step_times(signal, config, batches, steps, rounds) -> dict:
    """{batch: median seconds per step} over `rounds` rounds that alternate the batches."""
    model = Siren(config, signal.spec, torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    generator = torch.Generator().manual_seed(1)
    values = signal.values()

    def step(batch):
        index = torch.randint(signal.spec.num_points, (batch,), generator=generator)
        loss = torch.mean((model(axis_coords(signal.spec.shape, index)) - values[index]) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for batch in batches:  # warm-up: allocator and caches
        step(batch)
    times = {batch: [] for batch in batches}
    for _ in range(rounds):
        for batch in batches:
            start = time.perf_counter()
            for _ in range(steps):
                step(batch)
            times[batch].append((time.perf_counter() - start) / steps)
    return {batch: statistics.median(t) for batch, t in times.items()}


def main(argv=None):
    args = parse_args(argv)
    if not args.image.is_file():
        sys.exit(f"fit_step_time.py: error: image not found: {args.image}")
    torch.set_num_threads(args.threads)
    signal = api._load(str(args.image))
    base = args.batches[0]
    rows = []
    for bpp in args.bpp:
        config = api._sized_config(Siren, signal.spec, int(bpp * signal.spec.num_points / 8), {})
        times = step_times(signal, config, args.batches, args.steps, args.rounds)
        # Same arithmetic: a batch of b points takes base / b times the steps.
        row = {"bpp": bpp, "width": config.width, "tiles": config.tiles,
               "ms_per_step": {b: round(t * 1e3, 2) for b, t in times.items()},
               "same_arithmetic_time": {b: round(times[b] * base / b / times[base], 3) for b in args.batches}}
        rows.append(row)
        print(f"{bpp:g} bpp (width {config.width}): " + ", ".join(
            f"{b} points {times[b] * 1e3:.1f} ms/step ({row['same_arithmetic_time'][b]:.2f}× at equal arithmetic)"
            for b in args.batches), file=sys.stderr, flush=True)
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
              "image": args.image.name, "threads": args.threads, "steps": args.steps, "rounds": args.rounds, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fit_step_time.json").write_text(json.dumps(report, indent=1))
    lines = [f"# SIREN fit step time by batch ({report['date']})", "",
             f"{args.image.name}, {args.threads} torch thread(s), median of {args.rounds} rounds of {args.steps} steps. "
             f"Machine: {report['machine'].get('processor')}, torch {report['machine'].get('torch')}.",
             f"Equal arithmetic: a batch of b points runs {base}/b times the steps; the column is that time over "
             f"the {base}-point schedule's.", "",
             "| bpp | width | tiles | " + " | ".join(f"{b} ms/step | {b} at equal arithmetic" for b in args.batches) + " |",
             "|---:|---:|---:|" + "---:|---:|" * len(args.batches)]
    for r in rows:
        lines.append(f"| {r['bpp']:g} | {r['width']} | {r['tiles']} | " + " | ".join(
            f"{r['ms_per_step'][b]:.1f} | {r['same_arithmetic_time'][b]:.2f}×" for b in args.batches) + " |")
    (args.out / "fit_step_time.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'fit_step_time.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
