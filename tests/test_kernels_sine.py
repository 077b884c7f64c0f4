"""The fused SIREN kernels against their torch reference, on CPU through Triton's interpreter."""
import os

os.environ["TRITON_INTERPRET"] = "1"  # must precede the first import of a kernel module

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("triton")

import inrcodec  # noqa: E402
from inrcodec import kernels  # noqa: E402
from inrcodec.kernels import reference  # noqa: E402
from inrcodec.kernels.sine_mlp import sine_mlp  # noqa: E402
from tests.conftest import smooth_image  # noqa: E402


def _net(width, hidden, dims, freqs, channels, seed=0):
    g = torch.Generator().manual_seed(seed)
    k0 = dims * (1 + 2 * freqs)

    def u(*shape, bound):
        return ((torch.rand(*shape, generator=g) * 2 - 1) * bound).requires_grad_()

    return [u(width, k0, bound=1.0 / k0), u(width, bound=0.5), u(hidden, width, width, bound=(6 / width) ** 0.5 / 30),
            u(hidden, width, bound=0.3), u(channels, width, bound=(6 / width) ** 0.5 / 30), u(channels, bound=0.3)]


def _compare(coords, net, omegas, freqs, grid=None, start=0, count=None):
    """Outputs and every weight gradient of the kernel against the reference."""
    out_k = sine_mlp(coords, *net, *omegas, freqs, grid, start, count)
    grad = torch.randn_like(out_k)
    got = torch.autograd.grad(out_k, net, grad)
    out_r = reference.siren_mlp(coords, *net, *omegas, freqs, grid, start, count)
    want = torch.autograd.grad(out_r, net, grad, allow_unused=True)  # no hidden layer: wh, bh unused
    torch.testing.assert_close(out_k, out_r, atol=2e-5, rtol=1e-4)
    for name, a, b in zip(("w0", "b0", "wh", "bh", "wo", "bo"), got, want):
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-3, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("width,hidden,points", [(16, 1, 37), (24, 2, 70), (64, 1, 129), (128, 1, 33)])
def test_forward_and_gradients_match_the_reference(width, hidden, points):
    """Odd point counts (not multiples of the tile), widths that are and are not powers of two."""
    coords = torch.rand(points, 2) * 2 - 1
    _compare(coords, _net(width, hidden, 2, 2, 3), (30.0, 30.0), 2)


def test_atomic_gradient_accumulation_matches_too(monkeypatch):
    """The red.global.add variant of the per-program gradient slots (a tuning option)."""
    from inrcodec.kernels import sine_mlp as fused
    monkeypatch.setattr(fused, "ATOMIC_GRADIENTS", True)
    _compare(torch.rand(300, 2) * 2 - 1, _net(32, 2, 2, 1, 3), (30.0, 30.0), 1)


@pytest.mark.parametrize("dims,freqs,channels", [(1, 0, 1), (1, 3, 2), (3, 1, 3)])
def test_other_dimensions_encodings_and_channels(dims, freqs, channels):
    coords = torch.rand(41, dims) * 2 - 1
    _compare(coords, _net(16, 1, dims, freqs, channels, seed=dims), (20.0, 30.0), freqs)


def test_no_hidden_layer():
    coords = torch.rand(20, 2) * 2 - 1
    _compare(coords, _net(16, 0, 2, 1, 3), (30.0, 30.0), 1)


@pytest.mark.parametrize("shape,start,count", [((9, 7), 0, None), ((5, 4, 3), 11, 30), ((50,), 3, 40), ((1, 6), 0, None)])
def test_grid_mode_makes_the_coordinates_itself(shape, start, count):
    """Coordinates generated from the flat index match axis_coords (including a 1-sample axis)."""
    _compare(None, _net(16, 1, len(shape), 2, 3), (30.0, 30.0), 2, shape, start, count)


def test_every_output_is_written():
    """The output buffer is fresh memory: poison-free comparison of a count not a multiple of the tile."""
    net = _net(16, 1, 2, 0, 3)
    out = sine_mlp(None, *net, 30.0, 30.0, 0, (13, 11), 0, None)
    assert out.shape == (143, 3) and torch.isfinite(out).all()
    torch.testing.assert_close(out, reference.siren_mlp(None, *net, 30.0, 30.0, 0, (13, 11)), atol=2e-5, rtol=1e-4)


def test_dispatch_follows_the_override(monkeypatch):
    net = _net(16, 1, 2, 0, 3)
    coords = torch.rand(10, 2) * 2 - 1
    monkeypatch.setenv("INRCODEC_TRITON", "0")
    assert not kernels.use_triton(coords)
    monkeypatch.setenv("INRCODEC_TRITON", "1")
    assert kernels.use_triton(coords)
    monkeypatch.setenv("INRCODEC_TRITON", "yes")
    with pytest.raises(inrcodec.CodecError, match="0 or 1"):
        kernels.siren_mlp(coords, *net, 30.0, 30.0, 0)
    monkeypatch.delenv("INRCODEC_TRITON")
    assert not kernels.use_triton(coords)  # CPU tensors take the reference unless forced
    monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setenv("INRCODEC_TRITON", "1")
    assert not kernels.use_triton(coords)  # outside the interpreter a CPU tensor cannot run Triton


@pytest.mark.parametrize("method,options", [("siren", {"width": 16}), ("doh", {"width": 16, "latent": 64})])
def test_whole_codec_decodes_the_same_through_the_kernels(monkeypatch, method, options):
    """A file decoded with INRCODEC_TRITON=1 (interpreted kernels) matches the reference decode."""
    image = smooth_image(12, 10)
    data = inrcodec.encode(image, method=method, steps=30, quiet=True, **options)
    monkeypatch.setenv("INRCODEC_TRITON", "0")
    want = inrcodec.decode(data)
    monkeypatch.setenv("INRCODEC_TRITON", "1")
    got = inrcodec.decode(data)
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_fused_siren_takes_only_what_it_holds_and_was_measured_faster_on(monkeypatch):
    monkeypatch.delenv("INRCODEC_TRITON", raising=False)
    assert kernels.fused_siren_applies(128, 10, training=False)
    assert not kernels.fused_siren_applies(129, 10, training=False)  # padded to 256: over the shared memory
    assert not kernels.fused_siren_applies(64, 16384, training=True)  # a codec fitting step: eager was faster
    assert kernels.fused_siren_applies(64, 512 * 512, training=True)
    monkeypatch.setenv("INRCODEC_TRITON", "1")
    assert kernels.fused_siren_applies(64, 16384, training=True)
    assert not kernels.fused_siren_applies(130, 512 * 512, training=True)


def test_a_net_too_wide_for_the_kernel_runs_the_reference_even_when_forced(monkeypatch):
    """Width 130 pads to 256, which the fused kernel cannot hold on chip: the exact reference answers."""
    monkeypatch.setenv("INRCODEC_TRITON", "1")
    net = _net(130, 1, 2, 0, 3)
    coords = torch.rand(7, 2) * 2 - 1
    got = kernels.siren_mlp(coords, *net, 30.0, 30.0, 0)
    assert torch.equal(got, reference.siren_mlp(coords, *net, 30.0, 30.0, 0))
