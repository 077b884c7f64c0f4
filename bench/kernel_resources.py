"""Registers, spilled stack and shared memory of the fused SIREN kernels, compiled for a GPU architecture
on any machine: triton.compile needs no GPU, and cuobjdump ships with triton. Spills to local memory are
the first suspect when a kernel runs slower than its arithmetic, and this answers that without device time.

    python bench/kernel_resources.py                       # the shipped launch settings, widths 64 and 128
    python bench/kernel_resources.py --blocks 16 32 --warps 4 8 --widths 128

Writes kernel_resources.json / .md to --out.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from inrcodec.kernels import sine_mlp as fused
from inrcodec.kernels._launch import next_pow2

REPO = Path(__file__).resolve().parent.parent
INT_ARGS = {"n_points", "start", "n1", "n2", "width", "channels", "hidden_layers", "num_tiles"}
KERNELS = {"forward (training)": fused._sine_mlp_fwd_kernel, "forward (decode)": fused._sine_mlp_fwd_kernel,
           "backward": fused._sine_mlp_bwd_kernel}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", type=int, default=90, help="CUDA compute capability, e.g. 90 (H100/H200) or 80 (A100)")
    p.add_argument("--widths", nargs="+", type=int, default=[64, 128], help="net widths (padded to a power of two)")
    p.add_argument("--blocks", nargs="+", type=int, help="points per program (default: the shipped choice)")
    p.add_argument("--warps", nargs="+", type=int, help="warps per program (default: the shipped choice)")
    p.add_argument("--freqs", type=int, default=8, help="positional-encoding frequencies of the 2-D input")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    return p.parse_args(argv)


def constants(kind: str, wp: int, block_m: int, freqs: int) -> dict:
    """The constexpr arguments the launchers in sine_mlp.py pass for a 2-D RGB SIREN."""
    common = dict(D=2, FREQS=freqs, K0P=next_pow2(2 * (1 + 2 * freqs)), WP=wp, CP=next_pow2(3), BLOCK_M=block_m)
    if kind == "backward":
        return {**common, "GRID": False, "PRECISION": fused.BACKWARD_PRECISION, "FAST_SIN": True,
                "ATOMIC": fused.ATOMIC_GRADIENTS}
    if kind == "forward (training)":
        return {**common, "GRID": False, "PRECISION": fused.TRAIN_PRECISION, "FAST_SIN": fused.FAST_SIN_TRAINING}
    return {**common, "GRID": True, "PRECISION": fused.DECODE_PRECISION, "FAST_SIN": False}


def compile_for(kernel, consts: dict, arch: int, warps: int):
    names = list(kernel.arg_names)
    signature = {name: "constexpr" if name in consts else "*fp32" if name.endswith("_ptr")
                 else "i32" if name in INT_ARGS else "fp32" for name in names}
    source = ASTSource(kernel, signature, constexprs={(names.index(k),): v for k, v in consts.items()})
    return triton.compile(source, target=GPUTarget("cuda", arch, 32), options={"num_warps": warps, "num_stages": 1})


def resource_usage(compiled) -> dict:
    """REG / STACK (bytes per thread; spills live there) from cuobjdump, shared memory from triton."""
    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.TemporaryDirectory() as tmp:
        cubin = Path(tmp) / "kernel.cubin"
        cubin.write_bytes(compiled.asm["cubin"])
        text = subprocess.run([str(cuobjdump), "-res-usage", str(cubin)], capture_output=True, text=True,
                              check=True).stdout
    line = next(line for line in text.splitlines() if "REG:" in line)
    fields = dict(item.split(":", 1) for item in line.split() if ":" in item)
    return {"registers": int(fields["REG"]), "stack_bytes": int(fields["STACK"]),
            "shared_bytes": int(compiled.metadata.shared)}


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    rows = []
    for width in args.widths:
        wp = next_pow2(width)
        for kind, kernel in KERNELS.items():
            shipped = fused.BACKWARD_BLOCK_M if kind == "backward" else fused.FORWARD_BLOCK_M
            for block_m in args.blocks or [fused._block_m(wp, shipped)]:
                override = fused.BACKWARD_WARPS if kind == "backward" else fused.FORWARD_WARPS
                for warps in args.warps or [fused._warps(block_m, wp, override)]:
                    start = time.perf_counter()
                    try:
                        usage = resource_usage(compile_for(kernel, constants(kind, wp, block_m, args.freqs),
                                                           args.arch, warps))
                    except Exception as exc:  # noqa: BLE001  (one failing shape must not hide the rest)
                        usage = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                    row = {"kernel": kind, "width": wp, "block_m": block_m, "warps": warps, **usage,
                           "compile_s": round(time.perf_counter() - start, 1)}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    write(args, rows)


def write(args, rows):
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "kernel_resources"
    meta = {"date": datetime.date.today().isoformat(), "arch": f"sm_{args.arch}", "triton": triton.__version__,
            "freqs": args.freqs}
    stem.with_suffix(".json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
    lines = [f"# Fused SIREN kernels compiled for {meta['arch']} ({meta['date']}, triton {meta['triton']})", "",
             f"Command: `python {' '.join(['bench/kernel_resources.py', *sys.argv[1:]])}`. 2-D input with "
             f"{args.freqs} positional-encoding frequencies, 3 channels. Stack is bytes per thread in local "
             "memory, which is where register spills go; 255 registers is the ceiling.", "",
             "| kernel | padded width | points per program | warps | registers | stack B | shared KB | compile s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['kernel']} | {r['width']} | {r['block_m']} | {r['warps']} | {r['error']} | | | |")
        else:
            lines.append(f"| {r['kernel']} | {r['width']} | {r['block_m']} | {r['warps']} | {r['registers']} | "
                         f"{r['stack_bytes']} | {r['shared_bytes'] / 1024:.0f} | {r['compile_s']} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.json, .md", file=sys.stderr)


if __name__ == "__main__":
    main()
