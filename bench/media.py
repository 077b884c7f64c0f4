"""Audio and video benchmark: inrcodec (each method) against FLAC and Opus, and x264/x265, in one run.

Every point is a real file on disk: rate = file bytes × 8 / duration (kbit/s) or / pixels (bpp).
Audio: waveform SNR and PSNR on excerpts of the corpus files (FLAC lossless size for reference,
Opus through soundfile at 48 kHz, resampled by FFT for 44.1 kHz sources). Video: PSNR on Y and
on RGB (full-range BT.601 from the Y4M planes), x264 and x265 through PyAV in 4:2:0.
Also times F-INR against SIREN at the same parameter count on one group of frames.
Writes media_{audio,video,speed}[_TAG].json / .md and RD plots to bench/results/.

    python bench/media.py audio --seconds 1 --steps 500
    python bench/media.py video --frames 16 --steps 500
    python bench/media.py speed --steps 500
"""
import argparse
import dataclasses
import datetime
import io
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import inrcodec
from inrcodec import chunks, metrics
from inrcodec.config import FitConfig
from inrcodec.fit import fit_float
from inrcodec.formats import audio, video
from inrcodec.registry import MODELS
from inrcodec.signal import Signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rd import json_safe, machine_info, model_option  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
OPUS_LEVELS = (1.0, 0.95, 0.9, 0.8, 0.6)   # soundfile compression_level: 1.0 is the lowest bitrate
X26X_CRF = (18, 23, 28, 33, 38, 45)
# D'OH's latent grows with the clip, and its hashed projections (latent × target weights) take hours
# per group on CPU above this many pixels (bikes: 2.8 M); the tests cover doh on video.
DOH_MAX_POINTS = 1_000_000
PUBLISHED_AUDIO = "COIN++ 42.9 dB PSNR at 27.5 kbit/s on LibriSpeech; MP3 43.5 dB at 20 kbit/s (REFERENCE.md)"


def method_steps(text: str) -> tuple:
    method, _, steps = text.partition("=")
    if method not in MODELS.names() or not steps.isdigit():
        raise argparse.ArgumentTypeError(f"expected METHOD=STEPS, got {text!r}")
    return method, int(steps)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("audio", "video", "speed"))
    p.add_argument("--steps", nargs="+", default=["finr=2000", "siren=500", "doh=300"], type=method_steps,
                   help="fitting steps per chunk for each method, as METHOD=N (F-INR's steps are ~15x cheaper)")
    p.add_argument("--seconds", type=float, default=1.0, help="audio: excerpt length from each file's start")
    p.add_argument("--frames", type=int, default=16, help="video: frames from each clip's start")
    p.add_argument("--kbps", nargs="+", type=float, default=[48.0, 128.0], help="audio: inrcodec kbit/s caps")
    p.add_argument("--bpp", nargs="+", type=float, default=[0.1, 0.3], help="video: inrcodec bpp caps")
    p.add_argument("--methods", nargs="+", default=["finr", "siren", "doh"])
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", type=model_option,
                   help="an inrcodec model option for every encode, e.g. sorted_units=0 (numbers as numbers)")
    p.add_argument("--tag", default="", help="suffix for the output file names (media_KIND_TAG)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    return p.parse_args(argv)


def fitted(method: str, kind: str, steps: int) -> FitConfig:
    return MODELS.get(method).fit_config(kind, steps=steps)


def excerpt(signal: Signal, length: int) -> Signal:
    length = min(length, signal.spec.shape[0])
    return Signal(signal.samples[:length], dataclasses.replace(signal.spec, shape=(length,) + signal.spec.shape[1:]))


def inr_point(signal, method, steps, workdir, options=None, **rate):
    """Encode to a real file (with model `options`), decode it, measure."""
    start = time.monotonic()
    try:
        result = inrcodec.api.encode_report(signal, method=method, fit=fitted(method, signal.spec.kind, steps),
                                            **(options or {}), **rate)
    except inrcodec.CodecError as exc:
        return {"codec": f"inrcodec-{method}", "setting": rate, "error": str(exc)}
    path = workdir / "x.inrc"
    path.write_bytes(result.data)
    decoded, _ = inrcodec.api.decode_signal(path)
    point = {"codec": f"inrcodec-{method}", "setting": rate, "bytes": path.stat().st_size,
             "quality": metrics.quality(decoded, signal.samples, signal.spec), "enc_s": time.monotonic() - start,
             "knob": list(result.knob), "chunks": result.chunks}
    if signal.spec.kind == "audio" and result.chunks > 1:
        point["join_error_ratio"] = join_error_ratio(decoded, signal)
    return point


def join_error_ratio(decoded: np.ndarray, signal: Signal, reach: int = 16) -> float:
    """RMS error within `reach` samples of each chunk join over the RMS error everywhere (1 = no seam)."""
    err = decoded.astype(np.float64) - signal.samples.astype(np.float64)
    length = chunks.default_chunking(signal.spec).length
    joins = np.concatenate([np.arange(b - reach, b + reach) for b in range(length, len(err), length)])
    return float(np.sqrt(np.mean(err[joins] ** 2)) / np.sqrt(np.mean(err ** 2)))


# -- audio ----------------------------------------------------------------------------------------
def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by zero-padding or truncating the spectrum (fine for short excerpts)."""
    n_out = round(len(x) * rate_out / rate_in)
    spectrum = np.fft.rfft(x, axis=0)
    bins = n_out // 2 + 1
    if bins > spectrum.shape[0]:
        spectrum = np.concatenate([spectrum, np.zeros((bins - spectrum.shape[0],) + spectrum.shape[1:])], axis=0)
    return np.fft.irfft(spectrum[:bins], n=n_out, axis=0) * (n_out / len(x))


def audio_points(path: Path, args, workdir: Path) -> list:
    full = audio.read(path)
    rate = int(full.spec.rate)
    signal = excerpt(full, int(args.seconds * rate))
    seconds = signal.spec.shape[0] / rate
    floats = audio.signed(signal.samples, signal.spec) / float(1 << (signal.spec.bit_depth - 1))
    points = []

    def add(point):
        point.update(file=path.name, seconds=seconds)
        if "bytes" in point:
            point["kbps"] = point["bytes"] * 8 / 1000 / seconds
        points.append(point)
        print(json.dumps(json_safe(point)), flush=True)

    flac = workdir / "x.flac"
    sf.write(flac, floats, rate, subtype="PCM_24" if signal.spec.bit_depth > 16 else "PCM_16", format="FLAC")
    add({"codec": "flac", "setting": "level 5", "bytes": flac.stat().st_size, "quality": {"snr": math.inf}})
    opus_rate = 48000 if rate not in (8000, 12000, 16000, 24000, 48000) else rate
    coded_input = resample(floats, rate, opus_rate) if opus_rate != rate else floats
    for level in OPUS_LEVELS:
        ogg = workdir / "x.opus"
        sf.write(ogg, np.clip(coded_input, -1, 1), opus_rate, format="OGG", subtype="OPUS", compression_level=level)
        back, _ = sf.read(ogg, dtype="float64", always_2d=True)
        back = resample(back, opus_rate, rate) if opus_rate != rate else back
        back = back[:len(floats)]
        add({"codec": "opus", "setting": f"compression_level {level}", "bytes": ogg.stat().st_size,
             "quality": float_quality(back, floats.reshape(len(floats), -1))})
    for method in args.methods:
        for kbps in args.kbps if method != "doh" else args.kbps[:1]:
            add(inr_point(signal, method, args.steps[method], workdir, dict(args.set), kbps=kbps))
    return points


def float_quality(decoded: np.ndarray, reference: np.ndarray) -> dict:
    """SNR and PSNR (peak-to-peak 2, like inrcodec's integer PSNR) of float waveforms in [-1, 1]."""
    err = np.mean((decoded - reference) ** 2)
    return {"snr": metrics.snr(decoded, reference), "psnr": 10 * math.log10(4.0 / max(err, 1e-20))}


# -- video ----------------------------------------------------------------------------------------
def x26x_point(codec: str, crf: int, signal: Signal, workdir: Path) -> dict:
    """x264/x265 on the clip's own 4:2:0 planes (no colour conversion), measured like inrcodec."""
    import av
    t, h, w = signal.spec.shape
    planes = signal.samples
    path = workdir / "x.mp4"
    start = time.monotonic()
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=signal.spec.rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        if codec == "libx265":
            stream.options["x265-params"] = "log-level=error"
        for frame in planes:
            # The Signal holds chroma repeated 2×2; the even samples are the original 4:2:0 planes.
            packed = np.concatenate([frame[:, :, 0], frame[::2, ::2, 1].reshape(h // 4, w),
                                     frame[::2, ::2, 2].reshape(h // 4, w)])
            for packet in stream.encode(av.VideoFrame.from_ndarray(packed, format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    enc_s = time.monotonic() - start
    decoded = np.empty_like(planes)
    with av.open(str(path)) as src:
        for i, frame in enumerate(src.decode(video=0)):
            yuv = frame.to_ndarray(format="yuv420p")
            decoded[i, :, :, 0] = yuv[:h]
            for c, rows in ((1, yuv[h:h + h // 4]), (2, yuv[h + h // 4:])):
                decoded[i, :, :, c] = rows.reshape(h // 2, w // 2).repeat(2, 0).repeat(2, 1)
    return {"codec": codec.removeprefix("lib"), "setting": f"crf {crf}", "bytes": path.stat().st_size,
            "quality": metrics.quality(decoded, planes, signal.spec), "enc_s": enc_s}


def video_points(path: Path, args, workdir: Path) -> list:
    signal = excerpt(video.read(path), args.frames)
    t, h, w = signal.spec.shape
    points = []

    def add(point):
        point.update(file=path.name, frames=t)
        if "bytes" in point:
            point["bpp"] = point["bytes"] * 8 / (t * h * w)
            point["kbps"] = point["bytes"] * 8 / 1000 / signal.spec.seconds
        points.append(point)
        print(json.dumps(json_safe(point)), flush=True)

    for codec in ("libx264", "libx265"):
        for crf in X26X_CRF:
            add(x26x_point(codec, crf, signal, workdir))
    for method in args.methods:
        if method == "doh" and signal.spec.num_points > DOH_MAX_POINTS:
            add({"codec": "inrcodec-doh", "setting": "-", "error": f"skipped: over {DOH_MAX_POINTS} pixels"})
            continue
        for bpp in args.bpp if method != "doh" else args.bpp[:1]:
            add(inr_point(signal, method, args.steps[method], workdir, dict(args.set), bpp=bpp))
    return points


# -- F-INR vs SIREN speed -------------------------------------------------------------------------
def full_grid_step_seconds(method: str, config, signal: Signal, steps: int = 5) -> float:
    """Seconds per Adam step on the whole grid (every sample of the group, the F-INR paper's measure)."""
    model = MODELS.get(method)(config, signal.spec, generator=torch.Generator().manual_seed(0))
    cfg = FitConfig(steps=steps + 1, batch_points=0, qat_steps=0)
    fit_float(model, signal, dataclasses.replace(cfg, steps=1), True, torch.Generator())  # warm-up
    start = time.monotonic()
    fit_float(model, signal, dataclasses.replace(cfg, steps=steps), True, torch.Generator())
    return (time.monotonic() - start) / steps


def speed_points(args) -> list:
    """One group of frames, both methods at about the same parameter count: the time of one
    whole-grid step, and a whole encode with each method's own schedule."""
    signal = excerpt(video.read(CORPUS / "video" / "carphone_qcif_64f.y4m"), args.frames)
    finr_cfg = MODELS.get("finr").default_config(signal.spec, rank=24)
    target = MODELS.get("finr")(finr_cfg, signal.spec).num_transmitted()
    siren_cls = MODELS.get("siren")
    siren_cfg = siren_cls.sized_config(siren_cls.default_config(signal.spec), signal.spec, target)
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        # SIREN also with short schedules: how long it takes to reach F-INR's quality.
        runs = [("finr", finr_cfg, args.steps["finr"]), ("siren", siren_cfg, args.steps["siren"]),
                *(("siren", siren_cfg, n) for n in (100, 200))]
        step_times = {}
        for method, config, steps in runs:
            options = dataclasses.asdict(config)
            if method not in step_times:
                step_times[method] = full_grid_step_seconds(method, config, signal)
            step_s = step_times[method]
            start = time.monotonic()
            result = inrcodec.api.encode_report(signal, method=method, fit=fitted(method, signal.spec.kind, steps),
                                                chunk=args.frames, **options)
            seconds = time.monotonic() - start
            path = Path(tmp) / "x.inrc"
            path.write_bytes(result.data)
            params = MODELS.get(method)(config, signal.spec).num_transmitted()
            point = {"codec": f"inrcodec-{method}", "params": params, "config": options, "steps": steps,
                     "full_grid_step_s": step_s, "seconds": seconds, "bytes": path.stat().st_size,
                     "bpp": path.stat().st_size * 8 / signal.spec.num_points, "quality": result.quality}
            points.append(point)
            print(json.dumps(json_safe(point)), flush=True)
    return points


# -- reports --------------------------------------------------------------------------------------
def write_report(kind: str, points: list, args, out: Path) -> None:
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
              "args": {k: str(v) for k, v in vars(args).items()}, "points": points}
    out.mkdir(parents=True, exist_ok=True)
    stem = f"media_{kind}" + (f"_{args.tag}" if args.tag else "")
    (out / f"{stem}.json").write_text(json.dumps(json_safe(report), indent=1))
    joins = [p["join_error_ratio"] for p in points if "join_error_ratio" in p]
    lines = [f"# {kind} benchmark", "", f"{report['date']}, {report['machine'].get('processor')}, "
             f"torch {report['machine'].get('torch')} ({report['machine'].get('torch_threads')} threads), "
             f"CUDA: {report['machine'].get('cuda')}. Command: `python bench/media.py {kind} --steps "
             + " ".join(f"{m}={n}" for m, n in args.steps.items())
             + (f" --seconds {args.seconds}" if kind == "audio" else f" --frames {args.frames}")
             + (f" --kbps {' '.join(f'{k:g}' for k in args.kbps)}" if kind == "audio" else "")
             + f" --methods {' '.join(args.methods)}"
             + (f" --set {' '.join(f'{k}={v}' for k, v in args.set)}" if args.set else "")
             + (f" --tag {args.tag}" if args.tag else "") + "`", ""]
    if kind == "audio":
        if joins:
            lines += [f"Chunk joins: RMS error within 16 samples of a join / RMS error overall: median "
                      f"{np.median(joins):.2f}, max {max(joins):.2f} over {len(joins)} encodes (1.0 = no seam).", ""]
        lines += [f"Published: {PUBLISHED_AUDIO}.", "",
                  "| file | codec | setting | kbit/s | SNR dB | PSNR dB | encode s |", "|---|---|---|---:|---:|---:|---:|"]
        for p in points:
            q = p.get("quality", {})
            lines.append(f"| {p['file']} | {p['codec']} | {p.get('knob') or p['setting']} | "
                         f"{p.get('kbps', math.nan):.1f} | {q.get('snr', math.nan):.2f} | "
                         f"{q.get('psnr', math.nan):.2f} | {p.get('enc_s', math.nan):.1f} |"
                         + (f" {p['error']}" if "error" in p else ""))
    elif kind == "video":
        lines += ["| clip | codec | setting | bpp | kbit/s | PSNR Y dB | PSNR RGB dB | encode s |",
                  "|---|---|---|---:|---:|---:|---:|---:|"]
        for p in points:
            q = p.get("quality", {})
            lines.append(f"| {p['file']} | {p['codec']} | {p.get('knob') or p['setting']} | {p.get('bpp', math.nan):.3f} | "
                         f"{p.get('kbps', math.nan):.0f} | {q.get('psnr_y', math.nan):.2f} | "
                         f"{q.get('psnr_rgb', math.nan):.2f} | {p.get('enc_s', math.nan):.1f} |"
                         + (f" {p['error']}" if "error" in p else ""))
    else:
        lines += ["| method | parameters | whole-grid step s | encode steps | encode s | bytes | bpp | "
                  "PSNR Y dB | PSNR RGB dB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for p in points:
            q = p["quality"]
            lines.append(f"| {p['codec']} | {p['params']} | {p['full_grid_step_s']:.3f} | {p['steps']} | "
                         f"{p['seconds']:.1f} | {p['bytes']} | {p['bpp']:.3f} | {q['psnr_y']:.2f} | {q['psnr_rgb']:.2f} |")
        if len(points) >= 2:
            ratio = points[1]["full_grid_step_s"] / points[0]["full_grid_step_s"]
            lines += ["", f"A whole-grid step of F-INR is {ratio:.1f}x faster than SIREN's at the same parameter count. "
                      "The encodes use each method's own schedule: F-INR full-grid steps, SIREN mini-batches of "
                      "16,384 samples; the short SIREN runs show how soon it reaches F-INR's quality."]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    if kind != "speed":
        write_plot(kind, points, out / f"{stem}.png")


def write_plot(kind: str, points: list, file: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = sorted({p["file"] for p in points})
    fig, axes = plt.subplots(1, len(files), figsize=(4.5 * len(files), 4), squeeze=False)
    x_key, y_key = ("kbps", "snr") if kind == "audio" else ("bpp", "psnr_y")
    for ax, name in zip(axes[0], files):
        for codec in sorted({p["codec"] for p in points if p["file"] == name}):
            pts = sorted((p[x_key], p["quality"][y_key]) for p in points
                         if p["file"] == name and p["codec"] == codec and "bytes" in p
                         and math.isfinite(p["quality"].get(y_key, math.nan)))
            if pts:
                ax.plot(*zip(*pts), "o-", label=codec, ms=4)
        ax.set_xscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("kbit/s" if kind == "audio" else "bits per pixel")
        ax.set_ylabel("SNR (dB)" if kind == "audio" else "PSNR Y (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(file, dpi=110)


def main(argv=None):
    args = parse_args(argv)
    args.steps = dict(method_steps(x) if isinstance(x, str) else x for x in args.steps)
    if not CORPUS.is_dir():
        sys.exit(f"media.py: error: no corpus at {CORPUS}")
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.what == "audio":
            for path in sorted((CORPUS / "audio").iterdir()):
                points += audio_points(path, args, Path(tmp))
        elif args.what == "video":
            for path in sorted((CORPUS / "video").glob("*.y4m")):
                points += video_points(path, args, Path(tmp))
        else:
            points = speed_points(args)
    write_report(args.what, points, args, args.out)


if __name__ == "__main__":
    main()
