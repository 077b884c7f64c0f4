"""Typed configuration. ModelConfig subclasses go on the wire in field order; FitConfig never does.

Every field has a documented default. Wire serialisation is generic over the dataclass fields:
int -> zigzag varint, float -> float32, bool -> one byte, tuple (of ints) -> a varint count and then
the ints as zigzag varints. Floats must be float32-representable so
that encoder and decoder build the same network (checked in __post_init__). A field added after files
were written goes last with metadata {TAIL: True} and a default that means the old behaviour: files
that end before it decode with that default.
"""
import dataclasses
import struct
from dataclasses import dataclass

from inrcodec.errors import CorruptFile
from inrcodec.formats.binary import Reader, f32, svarint, uvarint

TAIL = "wire_tail"  # field metadata key: may be absent from older files (see the module docstring)


def _as_f32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


@dataclass(frozen=True)
class ModelConfig:
    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in (float, "float") and _as_f32(value) != value:
                object.__setattr__(self, f.name, _as_f32(value))

    def to_bytes(self) -> bytes:
        """The fields in order, less any trailing TAIL fields that hold their defaults: such a config
        reads back the same, and decoders from before those fields were added can read it too."""
        fields = list(dataclasses.fields(self))
        while fields and fields[-1].metadata.get(TAIL) and getattr(self, fields[-1].name) == fields[-1].default:
            fields.pop()
        out = bytearray()
        for f in fields:
            value = getattr(self, f.name)
            if f.type in (bool, "bool"):
                out.append(int(value))
            elif f.type in (int, "int"):
                out += svarint(value)
            elif f.type in (float, "float"):
                out += f32(value)
            elif f.type in (tuple, "tuple"):
                out += uvarint(len(value)) + b"".join(svarint(v) for v in value)
            else:
                raise TypeError(f"field {f.name} has unsupported wire type {f.type}")
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes):
        r = Reader(data, "model config")
        values = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get(TAIL) and not r.remaining():
                break  # an older file: this field and the rest keep their defaults
            if f.type in (bool, "bool"):
                values[f.name] = bool(r.u8())
            elif f.type in (int, "int"):
                values[f.name] = r.svarint()
            elif f.type in (tuple, "tuple"):
                count = r.uvarint()
                if count > r.remaining():  # every int takes a byte at least: no allocation a header did not pay for
                    raise CorruptFile(f"model config field {f.name} claims {count} values in {r.remaining()} bytes")
                values[f.name] = tuple(r.svarint() for _ in range(count))
            else:
                values[f.name] = r.f32()
        r.expect_end()
        try:
            config = cls(**values)
            config.validate()
        except ValueError as exc:
            raise CorruptFile(f"bad model config: {exc}") from exc
        return config

    def validate(self) -> None:
        """Raise ValueError when a value is out of range (decoders call this on untrusted input)."""


# A GPU fits so much faster that the encoder's default schedule is longer there. The default-quality
# kodim23 encode took 8.2 s for 2,000 + 300 steps on an H200 (bench/results/kernels_h200.md), so 2.5×
# the steps is about 20 s; on the 8 Kodak images, 8,000 GPU steps gave 0.6-1.2 dB more than 2,000
# (README, Rate-distortion).
CUDA_STEPS_FACTOR = 2.5


@dataclass(frozen=True)
class FitConfig:
    """How the encoder fits (never stored in the file)."""

    steps: int = 2000           # full-precision Adam steps
    lr: float = 1e-3            # peak learning rate (cosine decay to lr/20 after a short warm-up).
                                # SIREN, 1,000 steps, 0.5 bpp: 2e-3 gave kodim23 32.20 -> 32.96 dB (1 bpp:
                                # 34.67 -> 35.55) and kodim05/01/08/13 +0.13/+0.08/+0.01/+0.02, but it
                                # diverged on kodim05 at 1 bpp (width 140: 19.11 dB), and 3e-3 on kodim05 and
                                # kodim01 at 0.5. A longer warm-up tames it: kodim05 at 1 bpp went 25.43 (1e-3)
                                # -> 25.76 / 25.85 dB with 2e-3 and 5 % / 10 % warm-up; kodim23 at 1 bpp,
                                # 34.67 -> 34.79 (10 %). At 2,000 steps kodim23 0.5 bpp gained 33.25 -> 34.11
                                # (2e-3, 2 % warm-up). With 5 % warm-up at 0.5 bpp (width 96) it gained on all 8
                                # Kodak images (+0.03..+0.38, mean +0.21 dB), but at 1 bpp (width 140) kodim08
                                # fell 25.26 -> 23.34 (23.88 with 10 %), and 24.96 at 1.5e-3. Its loss does not
                                # jump: the fit stalls near 19 dB for hundreds of steps early on, so a guard
                                # that backs off on a jump would not see it. So 1e-3 stays. 2×2 tiles (0.5.1) do
                                # no better: at 1 bpp (width 66), 2e-3 with 5 % warm-up gave kodim05 25.51 dB
                                # (27.09 at 1e-3) and kodim08 19.77 (26.53).
    batch_points: int = 16384   # coordinates per step; 0 = the whole grid (full batch); SIREN image nets up to
                                # 66 wide take 8k on every device (Siren.schedule). Not the whole grid on a GPU:
                                # full-grid steps (2,000, H100) gave kodim01 23.67/24.98/26.57 dB at
                                # 0.25/0.5/1 bpp against 23.95/25.35/27.04 for 1,000 16k-point steps on CPU
    qat_steps: int = -1         # quantization-aware steps (straight-through rounding) after the float
                                # phase; -1 = 15 % of `steps`
    qat_lr: float = 1e-4        # tiled SIREN at 1e-3 (D'OH's for images): whole kodim05 / kodim23 at 0.5 bpp
                                # 24.41 / 35.03 -> 24.11 / 34.56 dB
    weight_decay: float = 0.0   # decoupled (AdamW) decay of the model's decayed_names in the float phase,
                                # per step lr × this (the methods that set it say why)
    seed: int = 0
    device: str = "auto"        # auto | cpu | cuda
    tune_steps: bool = True     # per-tensor quantization steps by measured RD cost (stepalloc.py)

    def for_device(self, device_type: str) -> "FitConfig":
        """The default schedule for where the fit runs: CUDA_STEPS_FACTOR times the steps on a GPU."""
        if device_type != "cuda":
            return self
        return dataclasses.replace(self, steps=round(self.steps * CUDA_STEPS_FACTOR))

    @property
    def quantized_steps(self) -> int:
        return self.qat_steps if self.qat_steps >= 0 else round(0.15 * self.steps)
