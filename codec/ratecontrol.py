"""Rate control: size the network, fit once, then bisect the quantization step.

A size cap (bpp, size) takes the finest step whose whole file fits; a PSNR target takes the
coarsest step whose decoded PSNR still reaches it. File size falls and PSNR falls (up to noise) as
the step grows, so each bisection costs about log2(table) packings or renders, with no refit.
"""
from inrcodec.errors import RateError
from inrcodec.quantize import STEP_INDEX_MAX, STEP_INDEX_MIN

# The size knob is set so the weights would cost this many bits each; the bisection then finds the step.
# Kodak at 0.5 bpp, 1000 steps, CPU, one fixed step per tensor type: 6 gave +0.3 dB on kodim23 and
# +0.04 dB on kodim08 over 7; 5 lost 0.3 dB on kodim08. With measured per-tensor steps, 5 won at
# 1,000 steps (+0.15/+0.30 dB at 0.5 bpp, +0.30/-0.03 at 1 bpp) but not at the default 2,000: on
# kodim01/03/05/08 it gave -0.08 to +0.26 dB at 0.25-0.5 bpp, and -0.08 to -0.31 at 1 bpp on
# kodim01/03/05; its wider nets took 25 % longer to fit. Audio lost 1.2-3.0 dB with 5. So 6 stays.
BITS_PER_PARAM = 6.0
COARSEST_BASE_INDEX = 0      # base step 1.0: beyond this, the network is noise
FINEST_BASE_INDEX = -60      # base step 2**-15
# A PSNR target starts from a small net and widens by PSNR_GROWTH until the float fit clears the
# target by a margin: the first net that can reach it gives a near-smallest file (a wider one needs
# more bits). kodim23 at 30 dB: growth 1.5 jumped from width 60 (29.8 dB) to 90 and gave 0.389 bpp.
PSNR_START_BPP = 0.1
PSNR_GROWTH = 1.25
MAX_WIDENINGS = 8
PSNR_MARGIN_DB = 0.5         # quantization then has this much to spend, so the step can stay coarse
# The step is chosen before the quantization-aware steps, which win back part of the loss (kodim23:
# 30.63 -> 31.36 dB at 0.5 bpp): pick it for target - this, then refine after QAT if it falls short.
QAT_ALLOWANCE_DB = 0.75


def budget_bytes(bpp: float | None, size: int | None, num_points: int, kbps: float | None = None,
                 seconds: float = 0.0) -> int | None:
    """The whole file's byte cap from --bpp, --size or --kbps (audio and video), or None."""
    if sum(x is not None for x in (bpp, size, kbps)) > 1:
        raise RateError("give one of bpp, size or kbps, not several")
    if kbps is not None:
        if not seconds:
            raise RateError("kbps applies to audio and video only; use bpp or size for images")
        if not kbps > 0:
            raise RateError(f"kbps must be positive, got {kbps}")
        return int(kbps * 1000 * seconds // 8)
    if bpp is not None:
        if not bpp > 0:
            raise RateError(f"bpp must be positive, got {bpp}")
        return int(bpp * num_points // 8)
    if size is not None:
        if size <= 0:
            raise RateError(f"size must be positive, got {size}")
        return int(size)
    return None


def finest_fitting_index(pack_at, cap: int) -> int | None:
    """Smallest base step index whose packed file is <= cap bytes, or None if even the coarsest is too big.

    `pack_at(index) -> bytes` is called about log2(table size) times.
    """
    def size_at(index):
        try:
            return len(pack_at(index))
        except ValueError:  # a step so fine the symbols leave the coder's alphabet
            return float("inf")

    lo, hi = FINEST_BASE_INDEX - 1, COARSEST_BASE_INDEX
    if size_at(hi) > cap:
        return None
    while hi - lo > 1:  # invariant: lo too big (or the sentinel below the table), hi fits
        mid = (lo + hi) // 2
        if size_at(mid) <= cap:
            hi = mid
        else:
            lo = mid
    return hi


def coarsest_reaching_index(psnr_at, target: float) -> int:
    """Largest base step index whose decoded PSNR is >= target (FINEST_BASE_INDEX must reach it)."""
    lo, hi = FINEST_BASE_INDEX, COARSEST_BASE_INDEX + 1
    if psnr_at(COARSEST_BASE_INDEX) >= target:
        return COARSEST_BASE_INDEX
    while hi - lo > 1:  # invariant: lo reaches the target, hi does not (or is past the table)
        mid = (lo + hi) // 2
        if psnr_at(mid) >= target:
            lo = mid
        else:
            hi = mid
    return lo


def fill_budget(steps: dict, fits, order: list) -> dict:
    """Refine tensors one table entry each, in `order`, while the file still fits.

    The base step moves every tensor at once, by 2**(1/4): about 0.25 bit per weight, 4 % of a file
    at 6 bits per weight. The cap usually falls between two base steps; this spends the slack.
    `fits(steps) -> bool` packs and compares with the cap.
    """
    steps = dict(steps)
    for name in order:
        if steps[name] > STEP_INDEX_MIN:
            trial = {**steps, name: steps[name] - 1}
            if fits(trial):
                steps = trial
    return steps


def shrink_to_budget(steps: dict, fits, order: list) -> dict | None:
    """The per-tensor steps nearest `steps` whose file fits: the smallest tensor (in `order`, largest
    first) that suffices alone goes one entry coarser; when none does, all do and it tries again.
    None when the table's coarsest steps are reached without fitting."""
    steps = dict(steps)
    for _ in range(COARSEST_BASE_INDEX - FINEST_BASE_INDEX + 1):
        for name in reversed(order):
            if steps[name] < STEP_INDEX_MAX:
                trial = {**steps, name: steps[name] + 1}
                if fits(trial):
                    return trial
        if all(index >= STEP_INDEX_MAX for index in steps.values()):
            return None
        steps = {name: min(index + 1, STEP_INDEX_MAX) for name, index in steps.items()}
        if fits(steps):
            return steps
    return None
