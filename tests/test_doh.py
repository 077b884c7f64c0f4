"""D'OH: the hashed projections are exact and reproducible, and the method round-trips."""
import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.api import _sized_config
from inrcodec.config import FitConfig
from inrcodec.fit import fit_float, flat_loss, param_groups
from inrcodec.kernels.reference import (fwht, hadamard_project, hadamard_signs, hadamard_size, hash_uniform, mix32,
                                        project)
from inrcodec.metrics import psnr
from inrcodec.models.doh import DEEP_MIN_LATENT, DEEP_TARGET_LAYERS, DENSE, HADAMARD, TARGET_LAYERS, Doh, DohConfig
from inrcodec.ratecontrol import BITS_PER_PARAM
from inrcodec.signal import SignalSpec, from_array
from tests.conftest import smooth_image

DOH_FIT = FitConfig(steps=200, lr=0.1, batch_points=0, qat_steps=20)


def _mix32_python(x: int) -> int:
    """An independent plain-integer lowbias32, to check the int64-emulated tensor version."""
    m = 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & m
    x ^= x >> 15
    x = (x * 0x846CA68B) & m
    return x ^ (x >> 16)


def test_mix32_matches_plain_integer_arithmetic():
    values = [0, 1, 2, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
    values += np.random.default_rng(0).integers(0, 2**32, 200).tolist()
    got = mix32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [_mix32_python(v) for v in values]


def test_projection_entries_are_pinned():
    """Golden outputs: a decoder anywhere must regenerate exactly these floats (atol 0)."""
    tile = hash_uniform(1, 0, 0, 2, 3).double().tolist()
    assert [[v.hex() for v in row] for row in tile] == [
        ["-0x1.f063080000000p-2", "-0x1.8360b40000000p-1", "0x1.a9083c0000000p-1"],
        ["0x1.fbeef00000000p-3", "-0x1.0456480000000p-2", "0x1.bc67b80000000p-2"]]
    row = hash_uniform(2**31 + 5, 7, 1000000, 1, 4).double().tolist()[0]
    assert [v.hex() for v in row] == ["-0x1.2df9f00000000p-3", "0x1.a196940000000p-1",
                                      "-0x1.a79d5c0000000p-1", "-0x1.9a3e7c0000000p-1"]
    assert hash_uniform(0, 0, 0, 256, 256).double().sum().item().hex() == "0x1.a9b6689800000p+8"


def test_tiles_agree_with_the_whole_matrix_and_look_uniform():
    whole = hash_uniform(3, 2, 0, 300, 257)
    assert torch.equal(hash_uniform(3, 2, 100, 37, 257), whole[100:137])
    assert whole.abs().max() < 1 and abs(whole.mean()) < 0.01 and abs(whole.var() - 1 / 3) < 0.01
    assert not torch.equal(hash_uniform(3, 3, 0, 300, 257), whole)  # layers differ
    assert not torch.equal(hash_uniform(4, 2, 0, 300, 257), whole)  # seeds differ


@pytest.mark.parametrize("rows,cols,tile_rows", [(1, 1, 1), (97, 33, 7), (64, 200, 64)])
def test_tiled_projection_and_its_gradient_match_the_dense_matrix(rows, cols, tile_rows):
    z = torch.randn(cols, requires_grad=True)
    out = project(z, 11, 1, rows, tile_bytes=4 * cols * 3 * tile_rows)
    dense = hash_uniform(11, 1, 0, rows, cols)
    torch.testing.assert_close(out, dense @ z.detach(), atol=1e-5, rtol=1e-5)
    grad = torch.randn(rows)
    out.backward(grad)
    torch.testing.assert_close(z.grad, dense.t() @ grad, atol=1e-4, rtol=1e-5)


def test_hadamard_transform_matches_the_matrix():
    size = 16
    matrix = torch.tensor([[(-1) ** bin(j & c).count("1") for c in range(size)] for j in range(size)],
                          dtype=torch.float64)
    x = torch.randn(3, size, dtype=torch.float64)
    torch.testing.assert_close(fwht(x), x @ matrix.t(), rtol=0, atol=1e-12)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(fwht, (x,))  # fwht's own backward


def test_hadamard_signs_are_pinned_and_are_the_dense_entries_signs():
    signs = hadamard_signs(1, 0, 20, 5)  # M = 8: three blocks of 8 rows
    assert signs.tolist() == torch.sign(hash_uniform(1, 0, 0, 3, 5)).tolist()
    assert signs.tolist() == [[-1, -1, 1, -1, -1], [1, -1, 1, -1, -1], [-1, 1, -1, -1, 1]]
    assert hadamard_signs(0, 3, 4096, 1000).sum().item() == 54  # 4 blocks of M = 1024 rows


def _hadamard_matrix(signs, rows, cols):
    size = hadamard_size(cols)
    rows_of_h = torch.tensor([[(-1) ** bin(j & c).count("1") for c in range(cols)] for j in range(size)],
                             dtype=torch.float32)
    return torch.cat([rows_of_h * block for block in signs])[:rows]


# (300, 100): two whole blocks of M = 128 and a tail of 44 rows, folded to 64; the 3-row tensor folds 100 to 4.
@pytest.mark.parametrize("rows,cols", [(1, 1), (20, 5), (97, 33), (40, 64), (300, 100)])
def test_hadamard_projection_and_its_gradient_match_the_matrix(rows, cols):
    signs = [hadamard_signs(7, 2, rows, cols), hadamard_signs(7, 3, 3, cols)]
    dense = [_hadamard_matrix(signs[0], rows, cols), _hadamard_matrix(signs[1], 3, cols)]
    z = torch.randn(cols, requires_grad=True)
    out = hadamard_project(z, torch.cat(signs), [rows, 3])
    for got, matrix in zip(out, dense):
        torch.testing.assert_close(got, matrix @ z.detach(), atol=1e-5, rtol=1e-5)
    grads = [torch.randn(rows), torch.randn(3)]
    torch.autograd.backward(out, grads)
    torch.testing.assert_close(z.grad, dense[0].t() @ grads[0] + dense[1].t() @ grads[1], atol=1e-4, rtol=1e-5)
    if rows <= hadamard_size(cols):  # one block: its rows are orthogonal
        gram = dense[0] @ dense[0].t()
        torch.testing.assert_close(gram, torch.diag(torch.diagonal(gram)), rtol=0, atol=0)


def test_doh_files_from_before_the_projection_field_decode_with_dense_projections():
    new = DohConfig(width=24, latent=512, projection=HADAMARD)
    old_bytes = DohConfig(width=24, latent=512, projection=HADAMARD, tiles=2).to_bytes()[:-2]  # before it and tiles
    assert DohConfig(width=24, latent=512, projection=DENSE).to_bytes() == old_bytes  # defaults at the end are left out
    assert DohConfig.from_bytes(old_bytes) == DohConfig(width=24, latent=512, projection=DENSE)
    assert DohConfig.from_bytes(new.to_bytes()) == new
    with pytest.raises(inrcodec.CodecError, match="projection"):
        DohConfig.from_bytes(DohConfig(width=24, latent=512, projection=7).to_bytes())


def test_dense_doh_still_round_trips():
    image = smooth_image(31, 17)
    result = inrcodec.api.encode_report(image, method="doh", latent=512, width=24, projection=0, fit=DOH_FIT)
    assert inrcodec.info(result.data)["config"]["projection"] == 0
    assert result.psnr == pytest.approx(psnr(inrcodec.decode(result.data), image, 255), abs=1e-9)
    assert result.psnr > 18  # noise would give about 10 dB; proj_seed 0-3 gave 20.0-27.3 dB


def test_doh_round_trip_stores_only_the_latent_and_one_gain_per_tensor():
    image = smooth_image(31, 17)
    result = inrcodec.api.encode_report(image, method="doh", latent=512, width=24, fit=DOH_FIT)
    decoded = inrcodec.decode(result.data)
    assert decoded.shape == image.shape and decoded.dtype == image.dtype
    assert result.psnr == pytest.approx(psnr(decoded, image, 255), abs=1e-9)
    assert result.psnr > 18  # noise would give about 10 dB; proj_seed 0-3 gave 21-26 dB
    summary = inrcodec.info(result.data)
    assert summary["method"] == "doh" and summary["method_id"] == 2
    assert summary["parameters"] == 512 + 2 * (TARGET_LAYERS + 1)  # the latent, a gain per weight and bias
    assert summary["config"]["latent"] == 512 and summary["config"]["projection"] == HADAMARD


def test_doh_encodes_are_deterministic():
    image = smooth_image(31, 17)
    fit = dataclasses.replace(DOH_FIT, steps=60, qat_steps=10)
    first, second = (inrcodec.encode(image, method="doh", latent=256, width=16, fit=fit) for _ in range(2))
    assert first == second


def test_doh_latent_is_the_rate_knob():
    image = smooth_image(31, 17)
    sizes = [len(inrcodec.encode(image, method="doh", latent=m, width=24, fit=DOH_FIT)) for m in (128, 1024)]
    assert sizes[0] < sizes[1]


def test_doh_respects_a_size_cap():
    image = smooth_image(31, 17)
    data = inrcodec.encode(image, method="doh", size=600, width=24, fit=DOH_FIT)
    assert len(data) <= 600
    assert inrcodec.info(data)["method"] == "doh"


def test_oversized_projection_headers_are_refused():
    from inrcodec.formats import container
    spec = SignalSpec("image", (8, 8), 3, 8)
    config = DohConfig(width=1024, layers=16, latent=1 << 20)
    data = container.pack(container.Header(spec, 2, config.to_bytes()), [(1, b"")])
    with pytest.raises(inrcodec.CodecError, match="limit"):
        inrcodec.decode(data)


def test_sizing_sets_the_latent_and_keeps_a_width_the_user_fixed():
    from inrcodec.models.siren import siren_params
    spec = SignalSpec("image", (512, 768), 3, 8)
    sized = Doh.sized_config(DohConfig(pe_freqs=8), spec, 6553)
    assert sized.latent == 6553 and 2 * 6553 <= siren_params(sized, spec) < 2.5 * 6553
    fixed = Doh.sized_config(DohConfig(pe_freqs=8, width=48), spec, 6553, frozenset({"width"}))
    assert fixed.latent == 6553 and fixed.width == 48


def test_every_generated_tensor_reaches_the_latent_with_a_unit_rms_gradient():
    model = Doh(DohConfig(width=16, latent=64, pe_freqs=2), SignalSpec("image", (8, 8), 3, 8),
                generator=torch.Generator().manual_seed(0))
    params = model.generated(model.z, model.gain)
    arriving = {}
    for name, tensor in params.items():  # registered after generated()'s own hook: sees what it passes on
        tensor.register_hook(lambda grad, name=name: arriving.__setitem__(name, grad))
    # Gradients six orders of magnitude apart: unbalanced, the last tensors alone would steer z.
    loss = sum(10.0 ** i * (tensor ** 2).sum() for i, tensor in enumerate(params.values()))
    loss.backward()
    assert sorted(arriving) == sorted(params)
    for grad in arriving.values():
        assert grad.pow(2).mean().sqrt().item() == pytest.approx(1.0, rel=1e-5)
    assert torch.isfinite(model.z.grad).all() and model.z.grad.abs().sum() > 0


def test_spent_slack_fills_the_cap_and_keeps_the_network():
    from inrcodec.api import _pack
    from inrcodec.weights import assign_steps
    spec = SignalSpec("image", (8, 8), 3, 8)
    model = Doh(DohConfig(width=16, latent=2000, pe_freqs=2), spec, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model.gain.copy_(torch.linspace(-0.5, 0.5, len(model.gain)))
    steps = assign_steps(model, -16)
    before = len(_pack(model, spec, steps))
    cap = before + before // 50  # 2 % of slack: less than one step-table entry of z would take
    network = {k: v.detach() for k, v in model.generated(model.z, model.gain).items()}
    model.spend_slack(steps, lambda s: len(_pack(model, spec, s)) <= cap)
    after = len(_pack(model, spec, steps))
    assert before < after <= cap
    assert after > cap - before // 200  # within 0.5 % of the cap
    for name, tensor in model.generated(model.z, model.gain).items():
        torch.testing.assert_close(tensor.detach(), network[name], rtol=1e-5, atol=1e-7)


def test_spent_slack_leaves_a_file_that_does_not_fit_alone():
    model = Doh(DohConfig(width=16, latent=64, pe_freqs=2), SignalSpec("image", (8, 8), 3, 8))
    z = model.z.detach().clone()
    model.spend_slack({}, lambda s: False)
    assert torch.equal(model.z.detach(), z)


def test_doh_deepens_the_target_only_for_large_image_latents_and_never_against_the_user():
    image = SignalSpec("image", (512, 768), 3, 8)
    audio = SignalSpec("audio", (400000,), 1, 16, Fraction(16000))
    assert DEEP_TARGET_LAYERS != TARGET_LAYERS

    def sized(spec, latent, **overrides):
        return Doh.sized_config(Doh.default_config(spec, **overrides), spec, latent, frozenset(overrides))

    assert sized(image, DEEP_MIN_LATENT).layers == DEEP_TARGET_LAYERS
    assert sized(image, DEEP_MIN_LATENT - 1).layers == TARGET_LAYERS
    assert sized(audio, 4 * DEEP_MIN_LATENT).layers == TARGET_LAYERS
    assert sized(image, 4 * DEEP_MIN_LATENT, layers=3).layers == 3


def test_image_latents_are_sized_at_five_bits_and_only_z_decays():
    """D'OH's image defaults: the latent sized for 5 bits per entry (audio keeps 6), decay on z alone."""
    image = SignalSpec("image", (64, 96), 3, 8)
    audio = SignalSpec("audio", (50000,), 1, 16, Fraction(16000))
    budget = 10_000  # bytes
    assert _sized_config(Doh, image, budget, {}).latent == budget * 8 // 5
    assert _sized_config(Doh, audio, budget, {}).latent == int(budget * 8 / BITS_PER_PARAM)
    assert Doh.fit_config("image").weight_decay > 0
    assert Doh.fit_config("audio").weight_decay == 0
    model = Doh(Doh.default_config(image, latent=64, width=8), image)
    decayed, rest = param_groups(model, 0.03)
    assert decayed["params"] == [model.z] and decayed["weight_decay"] == 0.03
    assert len(rest["params"]) == 1 and rest["params"][0] is model.gain
    assert param_groups(model, 0.0) == list(model.parameters())


def test_weight_decay_holds_z_smaller_and_the_fit_still_learns():
    signal = from_array(smooth_image(24, 32))
    stds = {}
    for decay in (0.0, 0.05):
        model = Doh(Doh.default_config(signal.spec, latent=256, width=16), signal.spec,
                    generator=torch.Generator().manual_seed(0))
        loss = fit_float(model, signal, dataclasses.replace(DOH_FIT, weight_decay=decay), True,
                         torch.Generator().manual_seed(1))
        stds[decay] = float(model.z.detach().std())
        assert loss < 0.3 * flat_loss(signal)
    assert stds[0.05] < 0.85 * stds[0.0], stds


def test_per_tile_projection_generates_each_tile_from_its_own_slice_of_the_latent():
    from inrcodec.models.doh import PER_TILE, latent_slices
    spec = SignalSpec("image", (16, 12), 3, 8)
    config = DohConfig(width=8, layers=2, pe_freqs=1, latent=101, tiles=2, projection=PER_TILE)
    model = Doh(config, spec, generator=torch.Generator().manual_seed(2))
    assert model.gain.numel() == 4 * 6  # a gain per tile and tensor
    slices = latent_slices(101, 4)
    assert slices == [(0, 25), (25, 50), (50, 75), (75, 101)]
    with torch.no_grad():
        model.gain.copy_(torch.linspace(-0.5, 0.5, 24))
    params = model.generated(model.z, model.gain)
    # The wire's definition, spelled out: tile t's tensor l is s_l 2^gain[t, l] H D_{t·L+l} z_t / sqrt(m_t).
    for t, (start, end) in enumerate(slices):
        for index, (name, shape, bound, _) in enumerate(model._layout):
            rows = int(np.prod(shape[1:]))
            signs = hadamard_signs(0, t * 6 + index, rows, end - start)
            expected = hadamard_project(model.z.detach()[start:end] / np.sqrt(end - start), signs, [rows])[0]
            expected = expected * (bound / np.sqrt(3.0)) * 2.0 ** model.gain.detach()[t * 6 + index]
            assert torch.allclose(params[name][t].detach().reshape(-1), expected, rtol=1e-5, atol=1e-7)
    # Tile 1's net reaches z only through its own slice.
    loss = sum((tensor[1] ** 2).sum() for tensor in params.values())
    loss.backward()
    reached = model.z.grad.abs() > 0
    assert reached[25:50].all() and not reached[:25].any() and not reached[50:].any()


def test_one_tile_per_tile_projection_is_the_hadamard_one():
    from inrcodec.models.doh import PER_TILE
    spec = SignalSpec("image", (8, 8), 3, 8)
    made = [Doh(DohConfig(width=8, latent=64, pe_freqs=2, projection=kind), spec,
                generator=torch.Generator().manual_seed(4)) for kind in (HADAMARD, PER_TILE)]
    first, second = (model.generated(model.z, model.gain) for model in made)
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_tiled_doh_encodes_with_per_tile_latents_unless_asked_otherwise():
    from inrcodec.models.doh import PER_TILE
    image = smooth_image(40, 48, 3, 8, seed=3)
    fit = dataclasses.replace(DOH_FIT, steps=80, qat_steps=10)
    result = inrcodec.api.encode_report(image, method="doh", tiles=2, width=10, latent=600, fit=fit)
    summary = inrcodec.info(result.data)
    assert summary["config"]["projection"] == PER_TILE and summary["config"]["tiles"] == 2
    assert summary["parameters"] == 600 + 4 * 2 * (TARGET_LAYERS + 1)
    assert result.psnr == pytest.approx(psnr(inrcodec.decode(result.data), image, 255), abs=1e-9)
    shared = inrcodec.encode(image, method="doh", tiles=2, width=10, latent=600, projection=HADAMARD, fit=fit)
    assert inrcodec.info(shared)["config"]["projection"] == HADAMARD
    assert inrcodec.decode(shared).shape == image.shape


def test_a_per_tile_header_with_fewer_latent_entries_than_tiles_is_refused():
    from inrcodec.formats import container
    from inrcodec.models.doh import PER_TILE
    spec = SignalSpec("image", (64, 64), 3, 8)
    config = DohConfig(width=8, latent=16, tiles=8, projection=PER_TILE)  # 64 tiles, 16 entries
    data = container.pack(container.Header(spec, 2, config.to_bytes()), [(1, b"")])
    with pytest.raises(inrcodec.CodecError, match="slice"):
        inrcodec.decode(data)


def test_busier_tiles_get_longer_slices_of_the_latent_and_the_file_says_which():
    from inrcodec.models.doh import PER_TILE, latent_slices
    rows, cols = 40, 48
    image = smooth_image(rows, cols, 3, 8, seed=5)
    noise = np.random.default_rng(1).integers(0, 256, (rows // 2, cols // 2, 3))
    image[rows // 2:, cols // 2:] = noise  # the bottom-right tile is far busier than the others
    fit = dataclasses.replace(DOH_FIT, steps=60, qat_steps=6)
    result = inrcodec.api.encode_report(image, method="doh", tiles=2, width=10, latent=600, fit=fit)
    config = DohConfig(**inrcodec.info(result.data)["config"])
    assert config.projection == PER_TILE and sum(config.slices) == 600 and len(config.slices) == 4
    assert config.slices[3] == max(config.slices) and config.slices[3] > 1.5 * min(config.slices)
    model = Doh(config, SignalSpec("image", (rows, cols), 3, 8))
    assert model._slices == latent_slices(600, 4, config.slices)
    assert result.psnr == pytest.approx(psnr(inrcodec.decode(result.data), image, 255), abs=1e-9)
    # The user's own slices are kept, and a rate search rescales them in proportion.
    mine = inrcodec.api.encode_report(image, method="doh", tiles=2, width=10, latent=600, slices=(150,) * 4, fit=fit)
    assert inrcodec.info(mine.data)["config"]["slices"] == (150,) * 4
    with pytest.raises(inrcodec.CodecError, match="3 latent slices for 4 tiles"):
        inrcodec.encode(image, method="doh", tiles=2, width=10, latent=600, slices=(200,) * 3, fit=fit)
    smaller = Doh.resized(config, 0.5)
    assert sum(smaller.slices) == 300 and smaller.slices[3] == max(smaller.slices)


def test_detail_slices_follow_the_detail_and_keep_a_floor_for_flat_tiles():
    from inrcodec.models.doh import DETAIL_FLOOR, DETAIL_POWER, detail_slices, shared_out
    lengths = detail_slices(1000, [1.0, 2.0, 4.0, 0.0])
    assert sum(lengths) == 1000 and lengths[0] < lengths[1] < lengths[2]
    mean = 7.0 / 4
    assert lengths[3] == pytest.approx(lengths[0] * (DETAIL_FLOOR * mean) ** DETAIL_POWER, abs=2)
    even = detail_slices(1001, [3.0] * 4)
    assert sum(even) == 1001 and max(even) - min(even) == 1
    assert shared_out(4, [0.0, 0.0, 0.0, 9.0]) == (1, 1, 1, 1)  # every tile keeps an entry


def test_per_tile_slices_travel_in_the_header_and_bad_ones_are_refused():
    from inrcodec.formats import container
    from inrcodec.models.doh import PER_TILE
    config = DohConfig(width=8, latent=100, tiles=2, projection=PER_TILE, slices=(10, 20, 30, 40))
    assert DohConfig.from_bytes(config.to_bytes()) == config
    assert DohConfig.from_bytes(dataclasses.replace(config, slices=()).to_bytes()).slices == ()
    spec = SignalSpec("image", (32, 32), 3, 8)
    bad = [dataclasses.replace(config, slices=(10, 20, 30)),  # three slices for four tiles
           dataclasses.replace(config, slices=(10, 20, 30, 41)),  # not the latent's length
           dataclasses.replace(config, projection=HADAMARD)]  # slices without per-tile projections
    for wrong in bad:
        data = container.pack(container.Header(spec, 2, wrong.to_bytes()), [(1, b"")])
        with pytest.raises(inrcodec.CodecError):
            inrcodec.decode(data)
    # A count of slices that the header's bytes cannot hold is refused before anything is allocated.
    head = dataclasses.replace(config, slices=()).to_bytes()
    with pytest.raises(inrcodec.CodecError, match="claims"):
        DohConfig.from_bytes(head + bytes([0xff, 0xff, 0xff, 0xff, 0x0f]))
