"""D'OH's per-tile target widths: each tile's net is sized to its slice of the latent."""
import dataclasses

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.config import FitConfig
from inrcodec.formats import container
from inrcodec.metrics import psnr
from inrcodec.models.doh import HADAMARD, PER_TILE, TILE_OVER_LATENT, Doh, DohConfig, slice_widths
from inrcodec.models.siren import siren_params
from inrcodec.signal import SignalSpec
from tests.conftest import smooth_image

FIT = FitConfig(steps=60, lr=0.1, batch_points=0, qat_steps=6)
SPEC = SignalSpec("image", (32, 32), 3, 8)


def _busy_corner_image(rows=48, cols=48):
    image = smooth_image(rows, cols, 3, 8, seed=5)
    image[rows // 2:, cols // 2:] = np.random.default_rng(1).integers(0, 256, (rows // 2, cols // 2, 3))
    return image


def test_a_tile_with_a_longer_slice_gets_a_wider_net_and_decodes_as_encoded():
    image = _busy_corner_image()
    result = inrcodec.api.encode_report(image, method="doh", tiles=2, latent=4000, fit=FIT)
    config = DohConfig(**inrcodec.info(result.data)["config"])
    assert config.slices[3] == max(config.slices) and len(config.tile_widths) == 4
    assert config.tile_widths[3] == config.width == max(config.tile_widths) > min(config.tile_widths)
    assert result.psnr == pytest.approx(psnr(inrcodec.decode(result.data), image, 255), abs=1e-9)
    # The user's width keeps every tile at it.
    fixed = inrcodec.api.encode_report(image, method="doh", tiles=2, latent=4000, width=12, fit=FIT)
    assert inrcodec.info(fixed.data)["config"]["tile_widths"] == ()
    # The user's own widths are kept, the tensors as wide as the widest; a wrong count is refused.
    mine = inrcodec.api.encode_report(image, method="doh", tiles=2, latent=4000, tile_widths=(8, 8, 8, 20), fit=FIT)
    assert inrcodec.info(mine.data)["config"]["tile_widths"] == (8, 8, 8, 20)
    assert inrcodec.info(mine.data)["config"]["width"] == 20
    with pytest.raises(inrcodec.CodecError, match="3 tile widths for 4"):
        inrcodec.encode(image, method="doh", tiles=2, latent=4000, tile_widths=(8, 8, 8), fit=FIT)


def test_slice_widths_hold_about_the_target_ratio_of_weights_per_latent_entry():
    spec = SignalSpec("image", (256, 256), 3, 8)
    config = DohConfig(width=40, layers=6, latent=20000, tiles=2, projection=PER_TILE, slices=(2000, 3000, 7000, 8000))
    widths = slice_widths(config, spec)
    assert list(widths) == sorted(widths) and widths[0] < widths[3]
    for width, length in zip(widths, config.slices):
        one = dataclasses.replace(config, tiles=1, slices=(), projection=HADAMARD)
        assert siren_params(dataclasses.replace(one, width=width), spec) >= TILE_OVER_LATENT * length
        assert siren_params(dataclasses.replace(one, width=width - 1), spec) < TILE_OVER_LATENT * length


def test_units_a_tile_does_not_use_stay_zero_and_take_no_latent():
    config = DohConfig(width=8, layers=3, latent=400, tiles=2, projection=PER_TILE, tile_widths=(3, 5, 8, 8))
    model = Doh(config, SPEC, generator=torch.Generator().manual_seed(0))
    params = model.network_params(dict(model.transmitted()))
    for t, width in enumerate(config.tile_widths):
        assert torch.all(params["w1"][t, width:] == 0) and torch.all(params["w1"][t, :, width:] == 0)
        assert torch.all(params["b2"][t, width:] == 0) and torch.all(params["w_out"][t, :, width:] == 0)
        assert torch.all(params["w1"][t, :width, :width] != 0)
    assert model._tile_rows(0)[2] == 3 * 3 and model._tile_rows(3)[2] == 8 * 8  # w1: only the used entries
    # Gradients reach z from the used entries only: the fit never pays latent capacity for the rest.
    coords = torch.rand(64, 2) * 2 - 1
    model.forward_with(model.network_params(dict(model.transmitted())), coords).pow(2).sum().backward()
    assert torch.isfinite(model.z.grad).all() and model.z.grad.abs().sum() > 0


def test_tile_widths_travel_in_the_header_and_bad_ones_are_refused():
    config = DohConfig(width=8, latent=100, tiles=2, projection=PER_TILE, tile_widths=(4, 8, 6, 8))
    assert DohConfig.from_bytes(config.to_bytes()) == config
    bad = [dataclasses.replace(config, tile_widths=(4, 8, 6)),  # three widths for four tiles
           dataclasses.replace(config, tile_widths=(4, 8, 6, 9)),  # wider than the tensors
           dataclasses.replace(config, tile_widths=(0, 8, 6, 8)),
           dataclasses.replace(config, projection=HADAMARD)]  # widths without per-tile nets
    for wrong in bad:
        data = container.pack(container.Header(SPEC, 2, wrong.to_bytes()), [(1, b"")])
        with pytest.raises(inrcodec.CodecError):
            inrcodec.decode(data)
