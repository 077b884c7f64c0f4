"""A model's transmitted tensors <-> the weight section: step indices, then entropy-coded integers."""
import math

import numpy as np
import torch

from inrcodec import entropy
from inrcodec.errors import CorruptFile
from inrcodec.formats.binary import Reader, svarint
from inrcodec.quantize import STEP_INDEX_MAX, STEP_INDEX_MIN, quantize, step_from_index

TAG_WEIGHTS = 1


def assign_steps(model, base_index: int) -> dict:
    """Per-tensor step indices: the base step scaled by each tensor's sensitivity (the encoder's
    measured scales when it has them, else the model's step_scales table)."""
    indices = {}
    scales = model.tuned_scales or model.step_scales()
    for name, scale in scales.items():
        index = base_index + round(4.0 * math.log2(scale))
        indices[name] = min(max(index, STEP_INDEX_MIN), STEP_INDEX_MAX)
    return indices


def encode_weights(model, step_indices: dict) -> bytes:
    out = bytearray()
    symbols = []
    delta_coded = set(model.delta_coded_names())
    for name, p in model.transmitted():
        index = step_indices[name]
        out += svarint(index)
        tensor = quantize(p.detach().cpu(), step_from_index(index), "symbols").numpy()
        if name in delta_coded:
            tensor = np.diff(tensor, axis=-1, prepend=np.zeros_like(tensor[..., :1]))
        mask = model.transmitted_mask(name)
        symbols.append(tensor.reshape(-1) if mask is None else tensor[mask.cpu().numpy()])
    return bytes(out) + entropy.encode_tensors(symbols)


def decode_weights(model, payload: bytes) -> None:
    """Fill an empty model from a weight section (validates everything it reads)."""
    names = model.transmitted_names()
    r = Reader(payload, "weight section")
    indices = {}
    for name in names:
        index = r.svarint()
        if not STEP_INDEX_MIN <= index <= STEP_INDEX_MAX:
            raise CorruptFile(f"step index {index} out of range")
        indices[name] = index
    shapes = [tuple(p.shape) for _, p in model.transmitted()]
    masks = [model.transmitted_mask(name) for name in names]
    masks = [None if mask is None else mask.cpu().numpy() for mask in masks]
    counts = [math.prod(shape) if mask is None else int(mask.sum()) for shape, mask in zip(shapes, masks)]
    tensors = entropy.decode_tensors(payload[r.pos:], counts)
    delta_coded = set(model.delta_coded_names())
    full = {}
    for name, shape, mask, t in zip(names, shapes, masks, tensors):
        if mask is not None:
            t, held = np.zeros(shape, dtype=np.int64), t
            t[mask] = held
        t = t.reshape(shape)
        if name in delta_coded:
            t = np.cumsum(t, axis=-1) * (1 if mask is None else mask)  # the running sum stops at the held entries
        full[name] = torch.from_numpy(np.ascontiguousarray(t))
    model.load_symbols(full, indices)
