"""Tile seams: how much worse a tiled image (SIREN or D'OH) is at its tile borders than elsewhere.

For each image, encodes at each --bpp to a real .inrc file, decodes it, and reports the mean squared
error on the two pixel rows/columns either side of every tile border against the whole image's, and
the mean step between neighbouring pixels across the borders, decoded against original (a seam shows
as a decoded step larger than the original's). Writes seams[_TAG].json / .md.

    python bench/seams.py --only kodim05.png kodim23.png --bpp 0.25
    python bench/seams.py --method doh --set overlap=0 --only kodim05.png --bpp 0.25 --tag doh_edge
"""
import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import inrcodec
from rd import DEFAULT_IMAGES, find_images, load_pixels, machine_info, model_option

REPO = Path(__file__).resolve().parent.parent


def borders(n: int, tiles: int) -> list:
    """First sample of every tile after the first along an axis of n samples (tiling.py's rule)."""
    t = min(tiles, n)
    return [j * n // t for j in range(1, t)]


def seam_figures(original: np.ndarray, decoded: np.ndarray, tiles: int) -> dict:
    """Border against whole-image error, and the step across borders (decoded, original)."""
    squared = ((original - decoded) ** 2).mean(axis=2)
    rows, cols = borders(original.shape[0], tiles), borders(original.shape[1], tiles)
    band = np.zeros(squared.shape, bool)
    for r in rows:
        band[r - 1:r + 1] = True
    for c in cols:
        band[:, c - 1:c + 1] = True

    def step(image):
        across = [np.abs(image[r] - image[r - 1]).mean() for r in rows]
        across += [np.abs(image[:, c] - image[:, c - 1]).mean() for c in cols]
        return float(np.mean(across)) if across else None

    return {"tiles": tiles, "mse": float(squared.mean()),
            "border_mse": float(squared[band].mean()) if band.any() else None,
            "border_fraction": float(band.mean()), "step_decoded": step(decoded), "step_original": step(original),
            "step_decoded_everywhere": float(np.abs(np.diff(decoded, axis=0)).mean()),
            "step_original_everywhere": float(np.abs(np.diff(original, axis=0)).mean())}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    p.add_argument("--only", nargs="+", metavar="NAME")
    p.add_argument("--bpp", type=float, nargs="+", default=[0.25])
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--method", default="siren", choices=("siren", "doh"))
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", type=model_option,
                   help="an inrcodec model option for every encode, e.g. overlap=0")
    p.add_argument("--tag", default="")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for path in find_images(args.images, args.only):
            original = load_pixels(path).astype(np.float64)
            for bpp in args.bpp:
                file = Path(workdir) / f"{path.stem}_{bpp}.inrc"
                options = {"method": args.method, **dict(args.set), **({"steps": args.steps} if args.steps else {})}
                start = time.time()
                file.write_bytes(inrcodec.encode(path, bpp=bpp, quiet=True, **options))
                decoded = inrcodec.decode(file.read_bytes()).astype(np.float64)
                config = inrcodec.info(file.read_bytes())["config"]
                tiles = config.get("tiles", 1)
                row = {"image": path.name, "method": args.method, "bpp": file.stat().st_size * 8 / original[..., 0].size,
                       "overlap": config.get("overlap", 0), "seconds": time.time() - start,
                       **seam_figures(original, decoded, tiles)}
                row["psnr"] = inrcodec.metrics.psnr(original, decoded, 255)  # the corpus images are 8-bit
                rows.append(row)
                print(f"{path.name} {args.method} {row['bpp']:.4f} bpp  PSNR {row['psnr']:.2f}  tiles {tiles}  overlap {row['overlap']}  MSE {row['mse']:.1f}  border "
                      f"{row['border_mse']}  step across {row['step_decoded']} (original {row['step_original']})",
                      flush=True)
    name = "seams" + (f"_{args.tag}" if args.tag else "")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(), "rows": rows}
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=1))
    lines = [f"# Tile seams ({report['date']})", "", f"Machine: {report['machine']}", "",
             "Border: the two pixel rows/columns either side of each tile border. Step: mean |difference| "
             "between neighbouring pixels across the borders (a seam makes the decoded step larger than the "
             "original's); 'everywhere' is the same over all vertical neighbours.", "",
             "| image | method | bpp | PSNR | tiles | overlap | MSE | border MSE | ratio | border share | step decoded | step original "
             "| step decoded everywhere | step original everywhere |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = r["border_mse"] / r["mse"] if r["border_mse"] is not None else None
        fmt = lambda v, d=2: "–" if v is None else f"{v:.{d}f}"
        lines.append(f"| {r['image']} | {r.get('method', 'siren')} | {r['bpp']:.4f} | {fmt(r.get('psnr'))} | {r['tiles']} | {r.get('overlap', 0)} | {fmt(r['mse'], 1)} | {fmt(r['border_mse'], 1)} "
                     f"| {fmt(ratio)} | {100 * r['border_fraction']:.2f} % | {fmt(r['step_decoded'])} "
                     f"| {fmt(r['step_original'])} | {fmt(r['step_decoded_everywhere'])} | {fmt(r['step_original_everywhere'])} |")
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / name}.json, .md")


if __name__ == "__main__":
    main()
