"""Rate-distortion benchmark on images: inrcodec's methods against JPEG, WebP and AVIF (Pillow) in one run.

Every point is a real file on disk; its rate is the whole file (bytes * 8 / pixels) and its PSNR
is over all subpixels against the original PNG. Writes rd_image[_TAG].json / .md / .png.

    python bench/rd.py --only kodim23.png --bpp 0.5 --steps 50
"""
import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import inrcodec
from inrcodec import metrics

REPO = Path(__file__).resolve().parent.parent
DEFAULT_IMAGES = REPO.parent / "shared" / "corpus" / "image"
CLASSICAL = {  # Pillow codec: (quality sweep, save options besides quality)
    # q=2 is JPEG's floor in practice; it stretches the sweep low enough to match 0.25 bpp on most images.
    "jpeg": ((2, 5, 10, 20, 30, 50, 70, 80, 90), {}),
    "webp": ((0, 5, 15, 30, 50, 70, 80, 90), {"method": 4}),
    "avif": ((5, 10, 25, 40, 55, 70, 80, 90), {"speed": 6}),
}
METHODS = ("siren", "doh")
CODECS = (*METHODS, *CLASSICAL)
PUBLISHED = {  # (bpp, PSNR) on all 24 Kodak images
    "COIN": [(0.160, 24.64), (0.307, 26.41), (0.611, 28.41), (1.209, 30.64)],
    "Strümpler et al.": [(0.083, 25.56), (0.155, 27.02), (0.249, 28.28), (0.784, 32.14)],
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of PNG images")
    p.add_argument("--only", nargs="+", metavar="NAME", help="image file names to use (default: kodim*.png)")
    p.add_argument("--bpp", nargs="+", type=float, default=[0.25, 0.5, 1.0], help="inrcodec target bpp caps")
    p.add_argument("--steps", type=int, default=None, help="inrcodec fitting steps (default: the codec's)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", type=model_option,
                   help="an inrcodec model option for every encode, e.g. tiles=2 (numbers as numbers)")
    p.add_argument("--codecs", nargs="+", choices=CODECS, default=list(CODECS))
    p.add_argument("--doh-max-bpp", type=float, default=0.5,
                   help="run doh only at targets up to this (its claim is about low rates; it is ~4x slower)")
    p.add_argument("--crop", type=int, default=None, metavar="N",
                   help="benchmark the N×N centre of each image (quick CPU comparisons; the crops are PNGs in the work folder)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--tag", default="", help="suffix for the output file names")
    p.add_argument("--jobs", type=int, default=1,
                   help="inrcodec encodes run side by side (they share one GPU; the entropy coding runs on CPU cores)")
    p.add_argument("--from-json", type=Path, nargs="+",
                   help="rewrite the tables and plot of an earlier run's JSON; several runs (e.g. the classical "
                        "codecs on one machine, inrcodec on a GPU) are merged into rd_image_TAG")
    return p.parse_args(argv)


def model_option(text):
    """KEY=VALUE -> (key, int or float or str value)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


def fail(message):
    print(f"rd.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def find_images(folder, only):
    """The image paths to benchmark: kodim*.png, or exactly the names in `only`."""
    if not folder.is_dir():
        fail(f"image folder not found: {folder}")
    if not only:
        paths = sorted(folder.glob("kodim*.png"))
    else:
        paths = [folder / name for name in only]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            fail(f"not in {folder}: {' '.join(missing)}")
    if not paths:
        fail(f"no kodim*.png images in {folder}")
    return paths


def centre_crops(paths, size, folder):
    """Each image's size×size centre, saved losslessly as PNG in `folder` under the same name."""
    crops = []
    for path in paths:
        with Image.open(path) as im:
            if min(im.size) < size:
                fail(f"{path.name} is {im.size[0]}x{im.size[1]}, smaller than --crop {size}")
            left, top = (im.size[0] - size) // 2, (im.size[1] - size) // 2
            crop = folder / path.name
            im.crop((left, top, left + size, top + size)).save(crop)
        crops.append(crop)
    return crops


def load_pixels(path):
    """The original samples: HxW (gray) or HxWx3, uint8 or uint16."""
    with Image.open(path) as im:
        if im.mode not in ("L", "RGB", "I;16"):
            im = im.convert("RGB")
        return np.asarray(im)


def psnr(original, decoded):
    """PSNR in dB over all subpixels, peak = the dtype's maximum."""
    if decoded.shape != original.shape:
        raise ValueError(f"decoded shape {decoded.shape} != original {original.shape}")
    return metrics.psnr(original, decoded, float(np.iinfo(original.dtype).max))


def point(image, codec, setting, file, pixels, psnr_db, enc_s, dec_s, error=None):
    size = os.path.getsize(file) if file else None
    return {"image": image, "codec": codec, "setting": setting, "bytes": size,
            "bpp": size * 8 / pixels if size else None, "psnr": psnr_db,
            "enc_s": enc_s, "dec_s": dec_s, "error": error}


def run_pillow(codec, quality, path, original, workdir):
    """Save with Pillow at one quality, reopen from disk, and measure."""
    file = workdir / f"{path.stem}.{codec}.q{quality}"
    options = {"quality": quality, **CLASSICAL[codec][1]}
    im = Image.fromarray(original)
    t0 = time.perf_counter()
    im.save(file, format=codec.upper(), **options)
    t1 = time.perf_counter()
    with Image.open(file) as reopened:
        # Pillow writes gray WebP as RGB; compare in the original's mode.
        decoded = np.asarray(reopened.convert(im.mode))
    t2 = time.perf_counter()
    return point(path.name, codec, f"q={quality}", file, original.shape[0] * original.shape[1],
                 psnr(original, decoded), t1 - t0, t2 - t1)


def run_job(job):
    """run_inrcodec on (method, target, steps, path, workdir, options), loading the image itself (a worker process)."""
    method, target, steps, path, workdir, options = job
    return run_inrcodec(method, target, steps, path, load_pixels(path), workdir, options)


def run_inrcodec(method, target, steps, path, original, workdir, options=None):
    """Encode with a bpp cap (and any model options), write the file, decode from the file path, and measure."""
    setting = f"bpp={target:g}"
    file = workdir / f"{path.stem}.{method}.bpp{target:g}.inrc"
    try:
        t0 = time.perf_counter()
        data = inrcodec.encode(str(path), method=method, bpp=target, steps=steps, **(options or {}))
        t1 = time.perf_counter()
        file.write_bytes(data)
        decoded = inrcodec.decode(str(file))
        t2 = time.perf_counter()
    except inrcodec.CodecError as exc:
        return point(path.name, method, setting, None, 0, None, None, None, error=str(exc))
    return point(path.name, method, setting, file, original.shape[0] * original.shape[1],
                 psnr(original, decoded), t1 - t0, t2 - t1)


def log_point(p, extra=""):
    if p["error"]:
        line = f"{p['image']:<14} {p['codec']:<8} {p['setting']:<9} FAILED: {p['error']}"
    else:
        line = (f"{p['image']:<14} {p['codec']:<8} {p['setting']:<9} {p['bpp']:7.4f} bpp "
                f"{p['psnr']:6.2f} dB  enc {p['enc_s']:7.2f}s  dec {p['dec_s']:6.2f}s")
    print(line + extra, file=sys.stderr, flush=True)


def interp_psnr(points, bpp):
    """PSNR of a codec's sweep at `bpp`, linear in log-bpp; None outside the sweep."""
    pts = sorted((p["bpp"], p["psnr"]) for p in points if p["psnr"] is not None and math.isfinite(p["psnr"]))
    if not pts or not pts[0][0] <= bpp <= pts[-1][0]:
        return None
    xs, ys = zip(*pts)
    return float(np.interp(math.log(bpp), np.log(xs), ys))


def mean(values):
    values = [v for v in values if v is not None]
    return (sum(values) / len(values), len(values)) if values else (None, 0)


def matched_rows(points, targets, method):
    """Per target: the method's mean bpp and PSNR, and every other codec's PSNR interpolated at each
    image's bpp (the other inrcodec method's too: that is the equal-size comparison)."""
    rows = []
    others = [*CLASSICAL, *(m for m in METHODS if m != method)]
    for target in targets:
        own = [p for p in points if p["codec"] == method and p["setting"] == f"bpp={target:g}"]
        if not own:
            continue
        ok = [p for p in own if p["psnr"] is not None]
        row = {"target": target, "images": len(own), "failed": len(own) - len(ok),
               "bpp": mean([p["bpp"] for p in ok]), "psnr": mean([p["psnr"] for p in ok])}
        for codec in others:
            row[codec] = mean([interp_psnr([q for q in points if q["codec"] == codec and q["image"] == p["image"]],
                                           p["bpp"]) for p in ok])
        rows.append(row)
    return rows


def bd_rates(points, method):
    """Per image: the method's BD-rate (%) against each classical codec over the PSNR range both cover."""
    rows = {}
    for image in dict.fromkeys(p["image"] for p in points if p["codec"] == method):
        ours = [p for p in points if p["codec"] == method and p["image"] == image and p["psnr"] is not None]
        row = {}
        for codec in CLASSICAL:
            ref = [p for p in points if p["codec"] == codec and p["image"] == image and p["psnr"] is not None]
            try:
                row[codec] = metrics.bd_rate([p["bpp"] for p in ref], [p["psnr"] for p in ref],
                                             [p["bpp"] for p in ours], [p["psnr"] for p in ours])
            except ValueError:  # fewer than two points, or no PSNR overlap
                row[codec] = None
        rows[image] = row
    return rows


def sweep_means(points, codec):
    """[(setting, mean bpp, mean PSNR, n)] over images, in sweep order."""
    settings = dict.fromkeys(p["setting"] for p in points if p["codec"] == codec and p["psnr"] is not None)
    rows = []
    for s in settings:
        sel = [p for p in points if p["codec"] == codec and p["setting"] == s and p["psnr"] is not None]
        rows.append((s, mean([p["bpp"] for p in sel])[0], mean([p["psnr"] for p in sel])[0], len(sel)))
    return rows


def machine_info():
    """Where the numbers came from."""
    info = {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    except ImportError:
        info["torch"] = None
    return info


def fmt(value, n=None, total=None, digits=2):
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return f"{text} (n={n})" if n is not None and n != total else text


NAMES = {"jpeg": "JPEG", "webp": "WebP", "avif": "AVIF"}


def pct(value):
    return "–" if value is None else f"{value:+.1f} %"


def write_markdown(file, report):
    points, m = report["points"], report["machine"]
    steps = report["steps"] if report["steps"] is not None else "codec default"
    present = [c for c in CLASSICAL if any(p["codec"] == c for p in points)]
    methods = [x for x in METHODS if report["matched"].get(x)]
    lines = [f"# Image rate-distortion ({report['date']})", "",
             f"Images: {', '.join(report['images'])}"
             + (f", their {report['crop']}×{report['crop']} centres" if report.get("crop") else "")
             + f". inrcodec steps: {steps}."
             + (f" Model options: {', '.join(f'{k}={v}' for k, v in report['options'].items())}."
                if report.get("options") else ""),
             f"Machine: {m['processor']}, {m['cpu_count']} CPUs, torch {m.get('torch')} "
             f"({m.get('torch_threads')} threads), CUDA: {m.get('cuda') or 'none'}.",
             *(f"Merged from another run ({o['date']}): {', '.join(o['codecs'])} on {o['machine']['processor']}, "
               f"{o['machine']['cpu_count']} CPUs, CUDA: {o['machine'].get('cuda') or 'none'}."
               + (f" Note: {o['note']}" if o.get("note") else "") for o in report.get("merged", [])),
             *([f"Note: {report['note']}"] if report.get("note") else []), "",
             "Rate is the whole file (bytes × 8 / pixels); PSNR over all subpixels. Other codecs' PSNR is "
             "interpolated (linear in log-bpp) at each image's bpp for the method, then averaged; "
             "(n=…) marks a mean over fewer images.", ""]
    for method in methods:
        others = [c for c in (*present, *METHODS) if c != method and any(p["codec"] == c for p in points)]
        lines += [f"## {method}: matched rates (mean over images)", "",
                  "| " + " | ".join(["target bpp", f"{method} bpp", f"{method} PSNR",
                                     *(f"{NAMES.get(c, c)} PSNR" for c in others), "failed"]) + " |",
                  "|---:|---:|---:|" + "---:|" * len(others) + "---:|"]
        for r in report["matched"][method]:
            n = r["psnr"][1]
            cells = [f"{r['target']:g}", fmt(r['bpp'][0], digits=4), fmt(*r['psnr'], n),
                     *(fmt(*r[c], n) for c in others), str(r['failed'])]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"## {method} per image", "",
                  "| image | target bpp | bytes | bpp | PSNR | encode s | decode s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for p in points:
            if p["codec"] == method:
                if p["error"]:
                    lines.append(f"| {p['image']} | {p['setting'][4:]} | failed: {p['error']} | | | | |")
                else:
                    lines.append(f"| {p['image']} | {p['setting'][4:]} | {p['bytes']} | {p['bpp']:.4f} | "
                                 f"{p['psnr']:.2f} | {p['enc_s']:.1f} | {p['dec_s']:.2f} |")
        table = report.get("bd_rate", {}).get(method)
        if table and present:  # a run without other codecs has nothing to measure against
            lines += ["", f"## BD-rate of {method} (log-rate vs PSNR, piecewise cubic; negative = fewer bits)", "",
                      "| image | " + " | ".join(f"vs {NAMES[c]}" for c in present) + " |",
                      "|---|" + "---:|" * len(present)]
            for image, row in table.items():
                lines.append(f"| {image} | " + " | ".join(pct(row.get(c)) for c in present) + " |")
            means = {c: mean([r.get(c) for r in table.values()])[0] for c in present}
            report.setdefault("bd_rate_mean", {})[method] = means
            lines.append("| mean | " + " | ".join(pct(means[c]) for c in present) + " |")
        lines.append("")
    if len(methods) == 2:
        lines += same_cap_lines(points, report["targets_bpp"], *methods)
    for codec in present:
        rows = sweep_means(points, codec)
        lines += ["", f"## {NAMES[codec]} sweep (mean over images)", "", "| setting | bpp | PSNR |", "|---|---:|---:|"]
        total = len(report["images"])
        lines += [f"| {s} | {b:.4f} | {fmt(v, n, total)} |" for s, b, v, n in rows]
    file.write_text("\n".join(lines) + "\n")


def same_cap_lines(points, targets, first, second):
    """Markdown: the two methods at the same byte cap, image by image (no interpolation: a method whose
    files land a little under the cap is compared as it is)."""
    lines = ["", f"## {second} against {first} at the same cap", "",
             f"| target bpp | images | {first} bpp | {first} PSNR | {second} bpp | {second} PSNR | "
             f"{second} − {first} dB | {second} better on |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for target in targets:
        setting = f"bpp={target:g}"
        pairs = []
        for image in dict.fromkeys(p["image"] for p in points):
            pair = [next((p for p in points if p["codec"] == m and p["image"] == image and p["setting"] == setting
                          and p["psnr"] is not None), None) for m in (first, second)]
            if None not in pair:
                pairs.append(pair)
        if not pairs:
            continue
        a_bpp, b_bpp = (mean([pair[i]["bpp"] for pair in pairs])[0] for i in (0, 1))
        a_db, b_db = (mean([pair[i]["psnr"] for pair in pairs])[0] for i in (0, 1))
        wins = sum(b["psnr"] > a["psnr"] for a, b in pairs)
        lines.append(f"| {target:g} | {len(pairs)} | {a_bpp:.4f} | {a_db:.2f} | {b_bpp:.4f} | {b_db:.2f} | "
                     f"{b_db - a_db:+.2f} | {wins} of {len(pairs)} |")
    return lines


def write_plot(file, report):
    """Mean bpp vs mean PSNR per codec, with the published Kodak curves dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    curves, ours = {}, []
    for method, rows in report["matched"].items():
        pts = [(r["bpp"][0], r["psnr"][0]) for r in rows if r["bpp"][0] is not None]
        if pts:
            curves[f"inrcodec {method}"] = pts
            ours += pts
    for codec in CLASSICAL:
        rows = sweep_means(report["points"], codec)
        if rows:
            curves[NAMES[codec]] = sorted((b, v) for _, b, v, _ in rows)
    for label, pts in curves.items():
        ax.plot(*zip(*pts), marker="o", label=f"{label} (this run)")
    for label, pts in PUBLISHED.items():
        ax.plot(*zip(*pts), linestyle="--", marker="x", label=f"{label} (published, full Kodak)")
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR (dB)")
    ax.set_xlim(0, max([1.5] + [1.2 * b for b, _ in ours]))
    ax.set_title(f"Rate-distortion, {len(report['images'])} images")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(file, dpi=120)
    plt.close(fig)


def json_safe(value):
    """JSON has no Infinity: a lossless point's PSNR is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def rewrite(json_files, out, tag):
    """Recompute the derived tables (matched rates, BD-rate) and the plot from saved runs; several are
    merged (points, images and machines), written under the first one's name unless a tag is given."""
    reports = [json.loads(f.read_text()) for f in json_files]
    report = reports[0]
    for other in reports[1:]:
        report["points"] += other["points"]
        report["images"] = list(dict.fromkeys(report["images"] + other["images"]))
        report["codecs"] = list(dict.fromkeys(report["codecs"] + other["codecs"]))
        report["targets_bpp"] = sorted(set(report["targets_bpp"]) | set(other["targets_bpp"]))
        report.setdefault("merged", []).append({k: other.get(k) for k in ("date", "machine", "steps", "codecs", "note")})
    json_file = json_files[0] if len(json_files) == 1 and not tag else out / f"rd_image_{tag or 'merged'}.json"
    for p in report["points"]:  # runs before doh was benchmarked labelled siren "inrcodec"
        p["codec"] = "siren" if p["codec"] == "inrcodec" else p["codec"]
    methods = [x for x in METHODS if any(p["codec"] == x for p in report["points"])]
    report["matched"] = {x: matched_rows(report["points"], report["targets_bpp"], x) for x in methods}
    report["bd_rate"] = {x: bd_rates(report["points"], x) for x in methods}
    stem = json_file.with_suffix("")
    write_markdown(Path(f"{stem}.md"), report)
    Path(f"{stem}.json").write_text(json.dumps(json_safe(report), indent=1))
    write_plot(Path(f"{stem}.png"), report)
    print(f"rewrote {stem}.md, .json, .png", file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        return rewrite(args.from_json, args.out, args.tag)
    paths = find_images(args.images, args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / ("rd_image" + (f"_{args.tag}" if args.tag else ""))
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
              "steps": args.steps, "options": dict(args.set), "crop": args.crop, "targets_bpp": args.bpp, "codecs": args.codecs,
              "images": [p.name for p in paths], "points": [], "matched": {}}
    with tempfile.TemporaryDirectory(prefix="rd_image_") as tmp:
        workdir = Path(tmp)
        if args.crop:
            (workdir / "crops").mkdir()
            paths = centre_crops(paths, args.crop, workdir / "crops")
        originals = {p: load_pixels(p) for p in paths}
        # Classical sweeps first: they take seconds, and the matched-rate table needs them.
        for codec, (qualities, _) in CLASSICAL.items():
            if codec not in args.codecs:
                continue
            for path, original in originals.items():
                if original.dtype != np.uint8:
                    print(f"{path.name}: {codec} skipped (not 8-bit)", file=sys.stderr)
                    continue
                for q in qualities:
                    report["points"].append(run_pillow(codec, q, path, original, workdir))
                    log_point(report["points"][-1])

        # Image by image, so an interrupted run has every method's curve on its first images; doh's targets
        # above its lowest come after all images, since they take longest (its hashed projections grow with
        # the rate) and the doh-vs-siren claim is about low rates.
        runs = [(m, t, args.steps, path, workdir, dict(args.set)) for path in paths for m in METHODS if m in args.codecs
                for t in args.bpp if m != "doh" or t <= args.doh_max_bpp]
        doh_low = min((t for m, t, *_ in runs if m == "doh"), default=None)
        runs.sort(key=lambda run: run[0] == "doh" and run[1] != doh_low)  # stable: image order kept
        start = time.monotonic()
        if args.jobs > 1:
            # spawn: CUDA cannot be forked. Each worker takes its share of the cores: two 2-thread workers on
            # 2 cores oversubscribe them.
            threads = max(1, (os.cpu_count() or 1) // args.jobs)
            pool = multiprocessing.get_context("spawn").Pool(args.jobs, torch.set_num_threads, (threads,))
            # Unordered: a slow point must not hold back the saving of points finished after it.
            results = pool.imap_unordered(run_job, runs)
        else:
            pool, results = None, map(run_job, runs)
        for done, result in enumerate(results, start=1):
            report["points"].append(result)
            eta = (time.monotonic() - start) / done * (len(runs) - done)
            log_point(report["points"][-1], f"  [{done}/{len(runs)}, eta {eta / 60:.1f} min]")
            # Saved after every point, so an interrupted long run keeps what it measured.
            Path(f"{stem}.json").write_text(json.dumps(json_safe(report), indent=1))
        if pool:
            pool.close()
        methods = [m for m in METHODS if m in args.codecs]
        report["matched"] = {m: matched_rows(report["points"], args.bpp, m) for m in methods}
        report["bd_rate"] = {m: bd_rates(report["points"], m) for m in methods}

    write_markdown(Path(f"{stem}.md"), report)
    Path(f"{stem}.json").write_text(json.dumps(json_safe(report), indent=1))
    write_plot(Path(f"{stem}.png"), report)
    print(f"wrote {stem}.json, .md, .png", file=sys.stderr)


if __name__ == "__main__":
    main()
