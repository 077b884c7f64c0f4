"""Lossless benchmark: inrcodec's bitplane method against PNG, WebP-lossless and JPEG-XL (images) and
FLAC -8 (audio), in one run on the corpus.

Every number is a real file: bits per subpixel (images) or bits per sample (audio) = file bytes × 8
over the sample count, header and weights included. Every round trip is checked exact, ours and
theirs. Encode and decode times are wall-clock seconds on this machine.
Writes bench/results/lossless.json and lossless.md.

    python bench/lossless.py                      # all corpus images and audio
    python bench/lossless.py --images kodim01 --seconds 5 --steps 1000
"""
import argparse
import datetime
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

import inrcodec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rd import machine_info  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
RESULTS = REPO / "bench" / "results"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", nargs="*", help="image stems (default: every corpus image)")
    p.add_argument("--audio", nargs="*", help="audio stems (default: every corpus clip)")
    p.add_argument("--seconds", type=float, default=0.0, help="audio: code only the first N seconds (0 = all)")
    p.add_argument("--steps", type=int, help="fitting steps (default: the method's, 2000)")
    p.add_argument("--out", default=str(RESULTS / "lossless"), help="output path without extension")
    return p.parse_args(argv)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def ours(array, **options):
    result, encode_s = timed(lambda: inrcodec.api.encode_report(array, lossless=True, quiet=True, **options))
    decoded, decode_s = timed(lambda: inrcodec.decode(result.data))
    return {"bytes": len(result.data), "encode_s": encode_s, "decode_s": decode_s,
            "exact": bool(np.array_equal(decoded, array)), "width": result.config["width"]}


def pillow(array, fmt, **params):
    buf = io.BytesIO()
    (_, encode_s) = timed(lambda: Image.fromarray(array).save(buf, fmt, **params))
    data = buf.getvalue()
    # WebP stores gray as RGB: compare in the source's mode.
    mode = Image.fromarray(array).mode
    decoded, decode_s = timed(lambda: np.asarray(Image.open(io.BytesIO(data)).convert(mode)))
    return {"bytes": len(data), "encode_s": encode_s, "decode_s": decode_s,
            "exact": bool(np.array_equal(decoded, array))}


def jpegxl(array):
    import imagecodecs
    data, encode_s = timed(lambda: imagecodecs.jpegxl_encode(array, lossless=True, effort=7))
    decoded, decode_s = timed(lambda: imagecodecs.jpegxl_decode(data))
    return {"bytes": len(data), "encode_s": encode_s, "decode_s": decode_s,
            "exact": bool(np.array_equal(decoded.reshape(array.shape), array))}


def bench_image(path: Path, steps) -> dict:
    array = np.asarray(Image.open(path))
    if array.dtype == np.int32 or array.dtype == np.uint32:  # Pillow's 16-bit gray ("I;16" -> I)
        array = array.astype(np.uint16)
    subpixels = array.size
    codecs = {"inrcodec bitplane": ours(array, **({"steps": steps} if steps else {}))}
    codecs["PNG (Pillow optimize)"] = pillow(array, "PNG", optimize=True)
    if array.dtype == np.uint8:  # WebP holds 8-bit samples only
        codecs["WebP lossless (Pillow method 6)"] = pillow(array, "WEBP", lossless=True, quality=100, method=6)
    try:
        codecs["JPEG-XL lossless (imagecodecs effort 7)"] = jpegxl(array)
    except ImportError:
        pass
    for c in codecs.values():
        c["bits_per_subpixel"] = c["bytes"] * 8 / subpixels
    return {"file": path.name, "shape": list(array.shape), "dtype": str(array.dtype), "codecs": codecs}


def flac8(array, rate, subtype) -> dict:
    """FLAC -8 with the reference encoder when it is installed, else libsndfile at its highest level."""
    with tempfile.TemporaryDirectory() as tmp:
        wav, out = Path(tmp) / "in.wav", Path(tmp) / "out.flac"
        sf.write(wav, array, rate, subtype=subtype)
        if shutil.which("flac"):
            _, encode_s = timed(lambda: subprocess.run(["flac", "-8", "-f", "-s", "-o", str(out), str(wav)],
                                                       check=True))
            tool = "flac -8"
        else:
            _, encode_s = timed(lambda: sf.write(out, array, rate, subtype=subtype, compression_level=1.0))
            tool = "libsndfile FLAC level 1.0"
        decoded, decode_s = timed(lambda: sf.read(out, dtype=array.dtype.name)[0])
        return {"bytes": out.stat().st_size, "encode_s": encode_s, "decode_s": decode_s, "tool": tool,
                "exact": bool(np.array_equal(decoded, array))}


def bench_audio(path: Path, seconds: float, steps) -> dict:
    info = sf.info(path)
    frames = int(seconds * info.samplerate) if seconds else -1
    dtype = "int16" if info.subtype == "PCM_16" else "int32"
    array, rate = sf.read(path, dtype=dtype, frames=frames)
    samples = array.size
    codecs = {"inrcodec bitplane": ours(array, rate=rate, **({"steps": steps} if steps else {})),
              "FLAC -8": flac8(array, rate, info.subtype)}
    for c in codecs.values():
        c["bits_per_sample"] = c["bytes"] * 8 / samples
    return {"file": path.name, "frames": len(array), "rate": rate, "channels": info.channels,
            "subtype": info.subtype, "codecs": codecs}


def markdown(run: dict) -> str:
    lines = [f"# Lossless ({run['date']})", "", f"Machine: {run['machine']}", "", f"Command: `{run['command']}`", ""]
    images = run["images"]
    if images:
        names = list(dict.fromkeys(n for im in images for n in im["codecs"]))
        lines += ["## Images: bits per subpixel (lower is better)", "",
                  "| image | " + " | ".join(names) + " | ours: encode s | ours: decode s |",
                  "|---|" + "---:|" * (len(names) + 2)]
        for im in images:
            cells = [f"{im['codecs'][n]['bits_per_subpixel']:.3f}" if n in im["codecs"] else "–" for n in names]
            o = im["codecs"]["inrcodec bitplane"]
            lines.append(f"| {im['file']} ({'x'.join(map(str, im['shape']))}, {im['dtype']}) | " + " | ".join(cells)
                         + f" | {o['encode_s']:.1f} | {o['decode_s']:.2f} |")
        kodak = [im for im in images if im["file"].startswith("kodim")]
        if kodak:
            means = [np.mean([im["codecs"][n]["bits_per_subpixel"] for im in kodak]) for n in names]
            lines.append(f"| **mean of {len(kodak)} Kodak** | " + " | ".join(f"**{m:.3f}**" for m in means) + " | | |")
        lines.append("")
    if run["audio"]:
        lines += ["## Audio: bits per sample (lower is better)", "",
                  "| clip | inrcodec bitplane | FLAC -8 | ours: encode s | ours: decode s |", "|---|---:|---:|---:|---:|"]
        for a in run["audio"]:
            o, f = a["codecs"]["inrcodec bitplane"], a["codecs"]["FLAC -8"]
            lines.append(f"| {a['file']} ({a['frames'] / a['rate']:.1f} s, {a['channels']} ch, {a['subtype']}) | "
                         f"{o['bits_per_sample']:.3f} | {f['bits_per_sample']:.3f} | {o['encode_s']:.1f} | "
                         f"{o['decode_s']:.2f} |")
        lines.append("")
    exact = all(c["exact"] for group in ("images", "audio") for item in run[group] for c in item["codecs"].values())
    lines.append(f"Every round trip exact: {exact}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    image_paths = sorted((CORPUS / "image").glob("*.png"))
    if args.images is not None:
        image_paths = [p for p in image_paths if p.stem in args.images]
    audio_paths = sorted(p for p in (CORPUS / "audio").iterdir() if p.suffix in (".wav", ".flac"))
    if args.audio is not None:
        audio_paths = [p for p in audio_paths if p.stem in args.audio]
    run = {"date": datetime.date.today().isoformat(), "machine": machine_info(),
           "command": "python bench/lossless.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "images": [], "audio": []}
    for path in image_paths:
        run["images"].append(bench_image(path, args.steps))
        c = run["images"][-1]["codecs"]
        print(path.name, {k: round(v["bits_per_subpixel"], 3) for k, v in c.items()}, flush=True)
    for path in audio_paths:
        run["audio"].append(bench_audio(path, args.seconds, args.steps))
        c = run["audio"][-1]["codecs"]
        print(path.name, {k: round(v["bits_per_sample"], 3) for k, v in c.items()}, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(run, indent=1))
    out.with_suffix(".md").write_text(markdown(run))
    print(markdown(run))


if __name__ == "__main__":
    main()
