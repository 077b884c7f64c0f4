"""Per-tile widths: a tile's net uses its first units only, and the file holds only those."""
import dataclasses

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.api import encode_report
from inrcodec.errors import CodecError
from inrcodec.formats import container
from inrcodec.kernels.reference import siren_mlp
from inrcodec.models.siren import Siren, SirenConfig, detail_widths, siren_params
from inrcodec.models.tiling import Tiling, tile_detail, tiled_sine_mlp
from inrcodec.signal import SignalSpec, from_array, grid_coords
from tests.conftest import FAST_FIT, smooth_image

SPEC = SignalSpec("image", (11, 14), 3, 8)


def test_each_tile_is_its_own_siren_of_its_own_width_and_unused_units_stay_zero():
    config = SirenConfig(width=8, layers=3, pe_freqs=2, tiles=2, tile_widths=(3, 8, 5, 6))
    model = Siren(config, SPEC, generator=torch.Generator().manual_seed(0))
    model(grid_coords(SPEC.shape)).square().sum().backward()
    for name, p in model.transmitted():
        held = model.transmitted_mask(name)
        if held is not None:
            assert torch.all(p.detach()[~held] == 0) and torch.all(p.grad[~held] == 0), name
    with torch.no_grad():
        out = model.render()
    tile, local = Tiling(SPEC.shape, 2).entries(grid_coords(SPEC.shape))[1:3]
    for t, w in enumerate(config.tile_widths):
        p = {name: getattr(model, name)[t] for name in model.transmitted_names()}
        wanted = siren_mlp(local[tile == t], p["w0"][:w], p["b0"][:w], torch.stack([p["w1"][:w, :w], p["w2"][:w, :w]]),
                           torch.stack([p["b1"][:w], p["b2"][:w]]), p["w_out"][:, :w], p["b_out"], 30.0, 30.0, 2)
        assert torch.allclose(out[tile == t], wanted, atol=1e-5)
    assert model.num_transmitted() == siren_params(config, SPEC) < siren_params(dataclasses.replace(config, tile_widths=()), SPEC)



def test_unequal_tiles_run_at_their_own_width_as_the_padded_product_does():
    widths, width, layers, freqs = (3, 8, 5, 6), 8, 2, 2
    g = torch.Generator().manual_seed(3)
    units = torch.arange(width) < torch.tensor(widths)[:, None]  # (tiles, width): each tile's first units
    w0 = torch.randn(4, width, 2 + 4 * freqs, generator=g) * units[:, :, None] * 0.3
    b0 = torch.randn(4, width, generator=g) * units
    wh = torch.randn(4, layers, width, width, generator=g) * (units[:, :, None] & units[:, None, :])[:, None] * 0.3
    bh = torch.randn(4, layers, width, generator=g) * units[:, None]
    wo = torch.randn(4, 3, width, generator=g) * units[:, None, :]
    bo = torch.randn(4, 3, generator=g)
    coords = grid_coords((21, 17))
    for overlap in (0, 2):
        tiling = Tiling((21, 17), 2, overlap)
        padded = tiled_sine_mlp(tiling, coords, w0, b0, wh, bh, wo, bo, 30.0, 30.0, freqs)
        own = tiled_sine_mlp(tiling, coords, w0, b0, wh, bh, wo, bo, 30.0, 30.0, freqs, widths)
        assert torch.allclose(own, padded, atol=1e-5), overlap
        assert not torch.allclose(own, tiled_sine_mlp(tiling, coords, w0, b0, wh, bh, wo, bo, 30.0, 30.0, freqs,
                                                      (3, 8, 4, 6)), atol=1e-3)

def test_canonical_order_sorts_only_the_units_a_tile_uses():
    config = SirenConfig(width=8, layers=2, pe_freqs=2, tiles=2, tile_widths=(3, 8, 5, 6), sorted_units=1)
    model = Siren(config, SPEC, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model.b0.uniform_(-1, 1)
        model.b0.mul_(model.transmitted_mask("b0"))
        before = model.render()
    model.canonicalize()
    assert torch.allclose(model.render(), before, atol=2e-5)
    for t, w in enumerate(config.tile_widths):
        b = model.b0.detach()[t]
        assert torch.all(b[1:w] >= b[:w - 1]) and torch.all(b[w:] == 0)


def test_a_tiled_image_gives_busier_tiles_wider_nets_and_decodes_as_encoded():
    image = smooth_image(64, 64, 3, 8, seed=4)
    rng = np.random.default_rng(0)
    image[32:, 32:] = rng.integers(0, 256, (32, 32, 3))  # one busy tile
    fit = dataclasses.replace(FAST_FIT, steps=60, qat_steps=5)
    report = encode_report(image, fit=fit, bpp=4.0, tiles=2)
    config = inrcodec.info(report.data)["config"]
    widths = config["tile_widths"]
    assert len(widths) == 4 and widths[3] == max(widths) == config["width"] and min(widths) < max(widths)
    assert abs(report.psnr - inrcodec.metrics.psnr(image, inrcodec.decode(report.data), 255.0)) < 1e-9
    detail = tile_detail(from_array(image), 2)
    assert detail[3] == max(detail)
    # The same widths, set by hand, are the same file; equal tiles are another.
    assert inrcodec.encode(image, fit=fit, bpp=4.0, tiles=2, tile_widths=tuple(widths)) == report.data
    assert inrcodec.info(inrcodec.encode(image, fit=fit, bpp=4.0, tiles=2, tile_widths=()))["config"]["tile_widths"] == ()


def test_detail_widths_share_the_equal_tiles_parameters_by_detail():
    spec = SignalSpec("image", (512, 768), 3, 8)
    config = SirenConfig(width=46, layers=4, pe_freqs=7, tiles=2, overlap=8, sorted_units=1)
    widths = detail_widths(config, spec, [1.0, 1.0, 1.0, 1.0])
    assert len(set(widths)) == 1 and abs(widths[0] - 46) <= 1
    widths = detail_widths(config, spec, [0.5, 1.0, 1.5, 0.01])
    assert widths[2] > widths[1] > widths[0] > widths[3] >= 8  # the flat tile keeps a floor
    assert siren_params(dataclasses.replace(config, width=max(widths), tile_widths=widths), spec) \
        <= siren_params(config, spec) * 1.02
    shrunk = Siren.resized(dataclasses.replace(config, width=max(widths), tile_widths=widths), 2 / 3)
    assert shrunk.width == max(shrunk.tile_widths) and all(a <= b for a, b in zip(shrunk.tile_widths, widths))


def test_a_header_with_wrong_tile_widths_is_refused():
    image = smooth_image(40, 48, 3, 8, seed=3)
    data = inrcodec.encode(image, fit=FAST_FIT, tiles=2, width=8)
    parsed = container.unpack(data)
    for widths in ((4, 4, 4), (4, 4, 4, 9), (0, 4, 4, 4)):
        config = SirenConfig(width=8, tiles=2, tile_widths=widths)
        header = container.Header(parsed.header.spec, parsed.header.method_id, config.to_bytes())
        with pytest.raises(CodecError):
            inrcodec.decode(container.pack(header, parsed.sections))
