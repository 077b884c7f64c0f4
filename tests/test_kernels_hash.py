"""kernels.hashrand (Triton) against kernels.reference, run on CPU by the Triton interpreter.

The hash must match bit for bit (a decoder anywhere regenerates the same P); the projections match
to fp32 rounding. Shapes stay small: the interpreter costs about 0.5 ms per program instance.
"""
import os

os.environ["TRITON_INTERPRET"] = "1"  # must be set before triton compiles anything: before the import

import pytest  # noqa: E402

pytest.importorskip("triton")

import torch  # noqa: E402

from inrcodec.kernels import hashrand, reference  # noqa: E402

SEEDS = [0, 1, 11, 2**31 + 5, 0xFFFFFFFF]
# (layer, row0, rows, cols): odd sizes that are not multiples of the 32 x 128 block, far rows, and the
# last rows below 2**32 (where row0 + key wraps around).
TILES = [(0, 0, 1, 1), (0, 1, 5, 3), (3, 1_000_000, 37, 130), (7, 2**31, 33, 257), (2, 2**32 - 40, 40, 5)]


@pytest.mark.parametrize("seed", SEEDS)
def test_hash_tile_is_bit_identical_to_the_reference(seed):
    for layer, row0, rows, cols in TILES:
        got = hashrand.hash_tile(seed, layer, row0, rows, cols, device="cpu")
        want = reference.hash_uniform(seed, layer, row0, rows, cols)
        assert got.dtype == torch.float32 and torch.equal(got, want), (seed, layer, row0, rows, cols)


def test_the_cases_cover_keys_above_2_31_and_the_value_one():
    """The kernel argument `base` must work for every uint32: check the tables really reach them."""
    bases = {(row0 + reference._key(seed, layer)) & reference.MASK32
             for seed in SEEDS for layer, row0, _, _ in TILES}
    assert 1 in bases and any(b >= 2**31 for b in bases) and any(0 < b < 2**31 for b in bases)


def test_pinned_golden_entries():
    tile = hashrand.hash_tile(1, 0, 0, 2, 3, device="cpu").double().tolist()
    assert [[v.hex() for v in row] for row in tile] == [
        ["-0x1.f063080000000p-2", "-0x1.8360b40000000p-1", "0x1.a9083c0000000p-1"],
        ["0x1.fbeef00000000p-3", "-0x1.0456480000000p-2", "0x1.bc67b80000000p-2"]]


@pytest.mark.parametrize("rows,cols", [(1, 1), (97, 33), (300, 130), (1, 130), (300, 1)])
def test_projection_and_gradient_match_the_reference(rows, cols):
    torch.manual_seed(rows * 1000 + cols)
    z = torch.randn(cols, requires_grad=True)
    z_ref = z.detach().clone().requires_grad_(True)
    out = hashrand.project(z, 2**31 + 5, 3, rows)
    want = reference.project(z_ref, 2**31 + 5, 3, rows)
    assert out.shape == (rows,) and out.dtype == torch.float32
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    grad = torch.randn(rows)
    out.backward(grad)
    want.backward(grad)
    torch.testing.assert_close(z.grad, z_ref.grad, rtol=1e-5, atol=1e-5)


def test_backward_over_several_row_splits_is_deterministic():
    rows, cols = 2 * hashrand.ROWS_PER_SPLIT + 77, 33  # three splits, the last one partial
    g = torch.randn(rows, generator=torch.Generator().manual_seed(0))
    got = hashrand.project_bwd(g, 7, 1, cols)
    want = g @ reference.hash_uniform(7, 1, 0, rows, cols)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    assert torch.equal(hashrand.project_bwd(g, 7, 1, cols), got)


def test_empty_shapes_and_bad_rows():
    assert hashrand.hash_tile(1, 0, 5, 0, 4, device="cpu").shape == (0, 4)
    assert hashrand.project_fwd(torch.ones(0), 1, 0, 3).tolist() == [0.0, 0.0, 0.0]
    assert hashrand.project_fwd(torch.ones(4), 1, 0, 0).shape == (0,)
    assert hashrand.project_bwd(torch.ones(0), 1, 0, 2).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        hashrand.hash_tile(1, 0, 2**32 - 1, 2, 1, device="cpu")
    with pytest.raises(ValueError):
        hashrand.project_fwd(torch.ones(2, 2), 1, 0, 3)
