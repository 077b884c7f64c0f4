"""Speed of the fused SIREN kernels against torch eager and torch.compile on one CUDA GPU, in one run.

Times a full-batch fitting step (forward, MSE, backward, Adam) and a full-grid decode forward for
512×512 and 768×512 images at widths 32/64/128 (5 sine layers, no positional encoding: REFERENCE.md's
64×5 net), checks the kernels against a float64 reference on the GPU, compares the PSNR trajectory of
2,000 steps through the kernels with the torch reference, times D'OH's projection, and times a whole
`inrcodec.encode` of a Kodak image. Writes kernels_<tag>.json / .md to --out.

    python bench/kernels.py --image ../shared/corpus/image/skimage_astronaut.png \
        --encode ../shared/corpus/image/kodim23.png
"""
import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inrcodec import fit, kernels
from inrcodec.api import encode_report
from inrcodec.kernels import reference
from inrcodec.signal import grid_coords

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "image"
OMEGA = 30.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["512x512", "768x512"], help="HEIGHTxWIDTH grids to time")
    p.add_argument("--widths", nargs="+", type=int, default=[32, 64, 128])
    p.add_argument("--layers", type=int, default=5, help="sine layers (the first one included)")
    p.add_argument("--image", type=Path, default=CORPUS / "skimage_astronaut.png", help="image for the PSNR trajectory")
    p.add_argument("--trajectory-steps", type=int, default=2000)
    p.add_argument("--encode", type=Path, nargs="*", default=[CORPUS / "kodim23.png"],
                   help="images to encode end to end at the default quality")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["check", "tune", "step", "decode", "trajectory", "doh", "encode"])
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--tag", default="gpu")
    return p.parse_args(argv)


def siren_net(width, layers, channels, device, seed=0):
    """SIREN's initialisation (codec/models/siren.py), as leaf tensors (w0, b0, wh, bh, wo, bo)."""
    g = torch.Generator().manual_seed(seed)

    def u(*shape, bound):
        return ((torch.rand(*shape, generator=g) * 2 - 1) * bound).to(device).requires_grad_()

    hidden = layers - 1
    return [u(width, 2, bound=0.5), u(width, bound=1 / math.sqrt(2)),
            u(hidden, width, width, bound=math.sqrt(6 / width) / OMEGA), u(hidden, width, bound=1 / math.sqrt(width)),
            u(channels, width, bound=math.sqrt(6 / width) / OMEGA), u(channels, bound=1 / math.sqrt(width))]


def forward_fn(variant, shape, coords):
    """A function net -> output for one variant: torch eager, torch.compile, or the fused kernels."""
    if variant == "kernels":
        from inrcodec.kernels.sine_mlp import sine_mlp
        return lambda net: sine_mlp(None, *net, OMEGA, OMEGA, 0, shape)
    eager = lambda net: reference.siren_mlp(coords, *net, OMEGA, OMEGA, 0)  # noqa: E731
    return torch.compile(eager) if variant == "compile" else eager


def variants_for(width, variants):
    """torch.compile only at width 64 (REFERENCE.md's point): each compile costs tens of seconds of a
    short GPU lease."""
    return [v for v in variants if v != "compile" or width == 64]


def tf32(enabled: bool):
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def median_ms(fn, warmup=25, rep=200):
    from triton.testing import do_bench
    return float(do_bench(fn, warmup=warmup, rep=rep, return_mode="median"))


def time_steps(args, device, rows):
    for size in args.sizes:
        h, w = (int(v) for v in size.split("x"))
        coords = grid_coords((h, w), device)
        target = torch.rand(h * w, 3, device=device) * 2 - 1
        for width in args.widths:
            for variant in variants_for(width, ("eager", "compile", "kernels", "kernels+graph")):
                tf32(variant == "compile")  # REFERENCE.md's columns: eager fp32, torch.compile + TF32
                net = siren_net(width, args.layers, 3, device)
                try:
                    ms = time_one_step(variant, net, (h, w), coords, target)
                except Exception as exc:  # noqa: BLE001  (a variant that fails is reported, not fatal)
                    ms, note = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                else:
                    note = ""
                rows.append({"op": "fit step", "size": size, "width": width, "variant": variant, "ms": ms, "note": note})
                print(f"fit step {size} w{width} {variant}: {ms} {note}", flush=True)
    tf32(False)


def time_one_step(variant, net, shape, coords, target):
    forward = forward_fn("kernels" if variant.startswith("kernels") else variant, shape, coords)
    if variant != "kernels+graph":
        optimizer = torch.optim.Adam(net, lr=1e-4)

        def step():
            loss = torch.mean((forward(net) - target) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return median_ms(step)
    # One CUDA graph for the whole step: the launches (about 20 small ones) cost CPU time, not GPU time.
    optimizer = torch.optim.Adam(net, lr=torch.tensor(1e-4, device=target.device), capturable=True)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            torch.mean((forward(net) - target) ** 2).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        torch.mean((forward(net) - target) ** 2).backward()
        optimizer.step()
    return median_ms(graph.replay)


def time_decode(args, device, rows):
    from inrcodec.kernels import sine_mlp as fused
    for size in args.sizes:
        h, w = (int(v) for v in size.split("x"))
        coords = grid_coords((h, w), device)
        for width in args.widths:
            net = [t.detach() for t in siren_net(width, args.layers, 3, device)]
            exact = reference.siren_mlp(coords.double(), *[t.double() for t in net], OMEGA, OMEGA, 0)
            for variant in variants_for(width, ("eager", "compile", "kernels")):
                tf32(variant == "compile")
                fused.DECODE_PRECISION = "tf32" if variant == "kernels tf32" else "tf32x3"
                forward = forward_fn("kernels" if variant.startswith("kernels") else variant, (h, w), coords)
                with torch.no_grad():
                    out = forward(net)
                    err = float((out.double() - exact).abs().max())
                    ms = median_ms(lambda: forward(net))
                rows.append({"op": "decode", "size": size, "width": width, "variant": variant, "ms": ms,
                             "max_abs_err": err})
                print(f"decode {size} w{width} {variant}: {ms:.4f} ms, max err {err:.2e}", flush=True)
            fused.DECODE_PRECISION = "tf32x3"
    tf32(False)


BACKWARD_CONFIGS = [  # (tile rows, warps, programs per SM, atomic gradient adds)
    (64, 4, 4, False), (64, 4, 2, False), (64, 8, 2, False), (32, 4, 4, False), (128, 8, 2, False),
    # red.global.add instead of reading the slots back: spills 544 -> 252 bytes at 4 warps, 8 at 8 (ptxas)
    (64, 4, 4, True), (64, 8, 2, True), (128, 8, 1, True)]
FORWARD_CONFIGS = [(128, 8), (128, 4), (64, 4), (64, 8), (32, 4), (256, 8)]  # (tile rows, warps)


def tune(args, device, rows):
    """Times the kernels' launch settings on the 64×5 net at 512×512 (one fit step; one decode
    forward), keeps the fastest of each for the stages after, and records them."""
    from inrcodec.kernels import sine_mlp as fused
    target = torch.rand(512 * 512, 3, device=device) * 2 - 1
    tf32(False)

    def step_ms(**settings):
        """The step time under these settings, or None when they fail or give wrong gradients (an
        8-warp backward once timed fastest with gradients 33× off)."""
        for name, value in settings.items():
            setattr(fused, name, value)
        try:
            error = gradient_error(64, device)
            if error > MAX_GRADIENT_ERROR:
                print(f"tune {settings}: gradient relative error {error:.2e}, rejected", flush=True)
                return None
            return time_one_step("kernels", siren_net(64, args.layers, 3, device), (512, 512), None, target)
        except Exception as exc:  # noqa: BLE001
            print(f"tune {settings}: {type(exc).__name__}: {str(exc)[:100]}", flush=True)
            return None

    def keep(op, results):
        for settings, ms in results:
            rows.append({"op": op, **settings, "ms": ms})
            print(f"{op} {settings}: {ms}", flush=True)
        best = min((r for r in results if r[1] is not None), key=lambda r: r[1], default=None)
        if best:
            for name, value in best[0].items():
                setattr(fused, name, value)
        return best

    results = []
    for bm, warps, per_sm, atomic in BACKWARD_CONFIGS:
        settings = {"BACKWARD_BLOCK_M": bm, "BACKWARD_WARPS": warps, "PROGRAMS_PER_SM": per_sm,
                    "ATOMIC_GRADIENTS": atomic}
        results.append((settings, step_ms(**settings)))
    keep("tune backward", results)
    results = [({"TRAIN_PRECISION": p, "FAST_SIN_TRAINING": f}, None) for p, f in
               (("tf32x3", True), ("tf32", True), ("tf32x3", False))]
    results = [(settings, step_ms(**settings)) for settings, _ in results]
    keep("tune training forward", results)
    net = [t.detach() for t in siren_net(64, args.layers, 3, device)]
    results = []
    for bm, warps in FORWARD_CONFIGS:
        fused.FORWARD_BLOCK_M, fused.FORWARD_WARPS = bm, warps
        try:
            ms = median_ms(lambda: fused.sine_mlp(None, *net, OMEGA, OMEGA, 0, (768, 512)))
        except Exception as exc:  # noqa: BLE001
            print(f"tune forward {bm} {warps}: {type(exc).__name__}: {str(exc)[:100]}", flush=True)
            ms = None
        results.append(({"FORWARD_BLOCK_M": bm, "FORWARD_WARPS": warps}, ms))
    keep("tune decode forward 768x512", results)
    chosen = {name: getattr(fused, name) for name in
              ("BACKWARD_BLOCK_M", "BACKWARD_WARPS", "PROGRAMS_PER_SM", "ATOMIC_GRADIENTS", "TRAIN_PRECISION",
               "FAST_SIN_TRAINING",
               "FORWARD_BLOCK_M", "FORWARD_WARPS")}
    rows.append({"op": "chosen settings", **chosen})
    print(f"chosen settings: {chosen}", flush=True)


MAX_GRADIENT_ERROR = 5e-2  # TF32 backward: 1.2e-2 to 1.3e-2 measured on an H100


def kernel_errors(width, device):
    """(output, worst gradient) relative errors of the kernels against float64, fresh random inputs."""
    from inrcodec.kernels.sine_mlp import sine_mlp
    net = siren_net(width, 4, 3, device, seed=int(torch.randint(1 << 30, ())))
    coords = torch.rand(10_007, 2, device=device) * 2 - 1
    out = sine_mlp(coords, *net, OMEGA, OMEGA, 0)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, net, grad)
    net64 = [t.detach().double().requires_grad_() for t in net]
    ref = reference.siren_mlp(coords.double(), *net64, OMEGA, OMEGA, 0)
    want = torch.autograd.grad(ref, net64, grad.double())

    def rel(a, b):
        return float((a.detach().double() - b.detach()).norm() / b.detach().norm().clamp_min(1e-30))
    return rel(out, ref), max(rel(a, b) for a, b in zip(got, want))


def gradient_error(width, device):
    return kernel_errors(width, device)[1]


def check(args, device, rows):
    """Kernel vs a float64 reference on the GPU, fresh random inputs, odd sizes."""
    for width in (16, 48, 64, 128):
        out_rel, grad_rel = kernel_errors(width, device)
        row = {"op": "check", "width": width, "out_rel": out_rel, "grad_rel_max": grad_rel}
        rows.append(row)
        print(f"check w{width}: output rel err {row['out_rel']:.2e}, worst gradient rel err {row['grad_rel_max']:.2e}",
              flush=True)


def load_target(path, device):
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    h, w, _ = pixels.shape
    return (h, w), torch.from_numpy(pixels.reshape(-1, 3) / 255.0 * 2 - 1).to(device)


def trajectory(args, device, rows):
    """The same 2,000 full-batch Adam steps (the codec's schedule, lr 1e-3) through the reference and the kernels."""
    shape, target = load_target(args.image, device)
    coords = grid_coords(shape, device)
    for variant in ("eager", "kernels"):
        tf32(False)
        net = siren_net(64, args.layers, 3, device)
        forward = forward_fn(variant, shape, coords)
        optimizer = torch.optim.Adam(net, lr=1e-3)
        marks = {}
        torch.cuda.synchronize()
        start = time.perf_counter()
        for step in range(args.trajectory_steps):
            for group in optimizer.param_groups:
                group["lr"] = fit.lr_at(step, args.trajectory_steps, 1e-3)
            loss = torch.mean((forward(net) - target) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if (step + 1) % 500 == 0:
                with torch.no_grad():
                    final = torch.mean((forward(net).clamp(-1, 1) - target) ** 2)
                marks[step + 1] = round(fit.value_psnr(float(final)), 3)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rows.append({"op": "trajectory", "image": args.image.name, "variant": variant, "psnr": marks,
                     "seconds": seconds})
        print(f"trajectory {variant}: {marks} in {seconds:.1f} s", flush=True)


def time_doh(device, rows):
    """P z and Pᵀ g for one 50k × 16k projection: the kernel regenerating P against a cached matvec."""
    z = torch.randn(16384, device=device, requires_grad=True)
    rows_p = 50_000
    for variant in ("cached matvec", "kernel"):
        if variant == "kernel":
            fn = lambda: kernels.project(z, 7, 0, rows_p)  # noqa: E731
        else:
            dense = reference.hash_uniform(7, 0, 0, rows_p, z.numel(), device)
            fn = lambda: dense @ z  # noqa: E731
        g = torch.randn(rows_p, device=device)
        ms = median_ms(lambda: torch.autograd.grad(fn(), z, g))
        rows.append({"op": "doh projection fwd+bwd", "shape": "50000x16384", "variant": variant, "ms": ms})
        print(f"doh projection {variant}: {ms:.3f} ms", flush=True)


ENCODE_VARIANTS = {"kernels": "1", "torch": "0", "auto": None}  # variant: INRCODEC_TRITON (None: unset)


def time_encode(args, rows):
    """Default-quality encodes: every kernel forced on, none, and the default dispatch. A short encode
    first compiles the kernels (Triton caches them on disk, so only a machine's first encode pays that)."""
    for path in args.encode:
        for variant, flag in ENCODE_VARIANTS.items():
            os.environ.pop("INRCODEC_TRITON", None)
            if flag is not None:
                os.environ["INRCODEC_TRITON"] = flag
            encode_report(str(path), device="cuda", quiet=True, steps=20)
            start = time.perf_counter()
            result = encode_report(str(path), device="cuda", quiet=True)
            seconds = time.perf_counter() - start
            rows.append({"op": "encode", "image": path.name, "variant": variant, "seconds": seconds,
                         "bpp": result.bpp, "psnr": result.psnr, "knob": list(result.knob)})
            print(f"encode {path.name} {variant}: {seconds:.1f} s, {result.bpp:.3f} bpp, {result.psnr:.2f} dB",
                  flush=True)
        os.environ.pop("INRCODEC_TRITON", None)


def write(args, rows, machine):
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"kernels_{args.tag}"
    stem.with_suffix(".json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = [f"# Fused SIREN kernels ({machine['gpu']}, {machine['date']})", "",
             f"torch {machine['torch']}, triton {machine['triton']}. Command: `python bench/kernels.py`", ""]
    timed = [r for r in rows if r["op"] in ("fit step", "decode") and "variant" in r]
    for op in ("fit step", "decode"):
        variants = list(dict.fromkeys(r["variant"] for r in timed if r["op"] == op))
        if not variants:
            continue
        lines += [f"## {op} (median ms)", "", "| grid | width | " + " | ".join(variants) + " |",
                  "|---|---:|" + "---:|" * len(variants)]
        for key in dict.fromkeys((r["size"], r["width"]) for r in timed if r["op"] == op):
            cells = [next((r for r in timed if r["op"] == op and (r["size"], r["width"]) == key and r["variant"] == v),
                          None) for v in variants]
            lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(
                "–" if c is None else "fail" if c["ms"] is None else f"{c['ms']:.3f}" for c in cells) + " |")
        lines.append("")
    for r in rows:
        if r not in timed:
            lines.append("- " + ", ".join(f"{k} {v}" for k, v in r.items()))
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.json/.md")


def main(argv=None):
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print("kernels.py: error: this benchmark needs a CUDA GPU", file=sys.stderr)
        return 2
    import triton
    device = torch.device("cuda")
    machine = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
               "python": platform.python_version(), "date": datetime.date.today().isoformat()}
    rows = []
    stages = [("check", lambda: check(args, device, rows)), ("tune", lambda: tune(args, device, rows)),
              ("step", lambda: time_steps(args, device, rows)), ("decode", lambda: time_decode(args, device, rows)),
              ("trajectory", lambda: trajectory(args, device, rows)), ("encode", lambda: time_encode(args, rows)),
              ("doh", lambda: time_doh(device, rows))]
    for name, stage in stages:
        if name in args.skip:
            continue
        try:
            stage()
        except Exception as exc:  # noqa: BLE001  (keep what the other stages measured)
            print(f"stage {name} failed: {type(exc).__name__}: {exc}", flush=True)
            rows.append({"op": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
        write(args, rows, machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
