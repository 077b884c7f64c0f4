import math

import numpy as np
import pytest
import torch

from inrcodec import entropy
from inrcodec.errors import CorruptFile
from inrcodec.quantize import dequantize, index_for_step, quantize, step_from_index


def test_step_table_is_exact_powers_of_two():
    assert step_from_index(0) == 1.0
    assert step_from_index(-8) == 0.25
    assert step_from_index(4) == 2.0
    for k in range(-40, 8):
        assert math.isclose(step_from_index(k), 2.0 ** (k / 4), rel_tol=1e-15)
        assert index_for_step(step_from_index(k)) == k


def test_quantize_modes_agree():
    t = torch.linspace(-1, 1, 101)
    step = step_from_index(-10)
    symbols = quantize(t, step, "symbols")
    assert symbols.dtype == torch.int64
    assert torch.equal(quantize(t, step, "ste"), dequantize(symbols, step))
    assert (quantize(t, step, "noise") - t).abs().max() <= step / 2


def test_ste_passes_gradient_through():
    t = torch.linspace(-1, 1, 11, requires_grad=True)
    quantize(t, 0.3, "ste").sum().backward()
    assert torch.equal(t.grad, torch.ones(11))


@pytest.mark.parametrize("draw", [
    lambda rng: rng.laplace(0, 20, 3000),
    lambda rng: rng.normal(0, 40, 20000),
    lambda rng: rng.uniform(-9, 9, 500),
    lambda rng: np.full(40, 3.0),
])
def test_tensors_round_trip_near_entropy(draw):
    rng = np.random.default_rng(1)
    a = np.round(draw(rng)).astype(np.int64)
    b = np.round(rng.normal(0, 3, 77)).astype(np.int64)
    data = entropy.encode_tensors([a, b])
    back = entropy.decode_tensors(data, [len(a), len(b)])
    assert np.array_equal(back[0], a) and np.array_equal(back[1], b)
    # The fitted parametric model should be within a few percent of the empirical entropy.
    _, counts = np.unique(a, return_counts=True)
    p = counts / counts.sum()
    entropy_bits = float(-(counts * np.log2(p)).sum())
    assert len(entropy.encode_tensors([a])) * 8 <= 1.08 * entropy_bits + 100


def test_frequencies_are_exact_integers_at_least_one():
    model = entropy.SymbolModel(entropy.GAUSSIAN, int(0.999 * entropy.Q_ONE), -300, 300)
    f = model.frequencies()
    assert f.min() >= 1 and f[300] == 2**40 and np.array_equal(f, f[::-1])


def test_pinned_compressed_bytes():
    """Encoder output is part of the format: these exact bytes must not change."""
    symbols = np.array([0, 1, -1, 2, 0, 0, -3, 5, 1, 0], dtype=np.int64)
    data = entropy.encode_tensors([symbols])
    assert data.hex() == PINNED_HEX
    assert np.array_equal(entropy.decode_tensors(data, [10])[0], symbols)


PINNED_HEX = "010a050801e2a5aad308014fb83a8a"


def test_wrong_counts_are_refused():
    data = entropy.encode_tensors([np.arange(5)])
    with pytest.raises(CorruptFile):
        entropy.decode_tensors(data, [6])
    with pytest.raises(CorruptFile):
        entropy.decode_tensors(data, [5, 5])


def test_symbols_beyond_the_alphabet_are_refused():
    with pytest.raises(ValueError, match="coarser step"):
        entropy.encode_tensors([np.array([0, entropy.MAX_RANGE])])
