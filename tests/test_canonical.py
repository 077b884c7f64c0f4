"""SIREN's canonical form: the same function with wrapped, sorted biases, and their delta coding."""
import dataclasses
import math

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.formats import container
from inrcodec.models.siren import Siren, SirenConfig, layer_omega
from inrcodec.quantize import quantize
from inrcodec.signal import SignalSpec
from inrcodec.weights import TAG_WEIGHTS, decode_weights, encode_weights
from tests.conftest import FAST_FIT, smooth_image

SPEC = SignalSpec("image", (40, 48), 3, 8)


def random_siren(tiles: int, seed: int = 0, bias_spread: float = 1.0) -> Siren:
    """A SIREN whose biases range over several periods of its sines (as a long fit leaves them)."""
    config = SirenConfig(width=12, layers=3, pe_freqs=3, tiles=tiles, overlap=4 if tiles > 1 else 0, sorted_units=1)
    model = Siren(config, SPEC, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for i in range(config.layers):
            getattr(model, f"b{i}").uniform_(-bias_spread, bias_spread, generator=torch.Generator().manual_seed(seed + i))
    return model


@pytest.mark.parametrize("tiles", [1, 2])
def test_canonical_net_is_the_same_function_with_each_layers_biases_sorted_in_a_quarter_turn(tiles):
    model = random_siren(tiles)
    before = model.render()
    model.canonicalize()
    after = model.render()
    assert torch.allclose(after, before, atol=2e-5)
    for i in range(model.config.layers):
        b = getattr(model, f"b{i}").detach()
        assert b.min() >= 0 and b.max() <= math.pi / (2 * layer_omega(model.config, i)) + 1e-6
        assert torch.all(b[..., 1:] >= b[..., :-1])  # per tile
    assert before.abs().max() > 0.05  # the net is not trivially flat


def test_canonicalizing_after_qat_keeps_every_quantized_weight_on_its_grid():
    model = random_siren(2, seed=3, bias_spread=0.04)  # inside a quarter turn already, some negative
    steps = {name: 1e-3 for name in model.transmitted_names()}
    symbols = {n: quantize(p.detach(), steps[n], "symbols") for n, p in model.transmitted()}
    model.canonicalize(wrap=False)
    for name, p in model.transmitted():
        after = quantize(p.detach(), steps[name], "symbols")
        # Flips and reordering only: the same multiset of magnitudes in every tile's layer.
        assert torch.equal(after.abs().flatten(-2 if after.dim() > 2 else -1).sort(-1).values,
                           symbols[name].abs().flatten(-2 if after.dim() > 2 else -1).sort(-1).values)
    b0 = model.b0.detach()
    assert b0.min() >= 0 and torch.all(b0[..., 1:] >= b0[..., :-1])


def test_sorted_biases_are_delta_coded_smaller_and_decode_to_the_same_net():
    model = random_siren(2, seed=7)
    model.canonicalize()
    indices = {name: -20 for name in model.transmitted_names()}
    delta = encode_weights(model, indices)
    plain = dataclasses.replace(model.config, sorted_units=0)
    plain_model = Siren(plain, SPEC)
    plain_model.load_state_dict(model.state_dict())
    assert len(delta) < len(encode_weights(plain_model, indices))
    for config, payload in ((model.config, delta), (plain, encode_weights(plain_model, indices))):
        decoded = Siren(config, SPEC)
        decode_weights(decoded, payload)
        model.step_indices, model.quant_mode = indices, "ste"
        expected = dict(model.effective_params())
        model.quant_mode = None
        for name, p in decoded.transmitted():
            assert torch.equal(p.detach(), expected[name].detach()), name


def test_the_encoder_writes_sorted_units_and_older_headers_decode_unsorted():
    image = smooth_image(40, 48, 3, 8, seed=2)
    data = inrcodec.encode(image, fit=FAST_FIT, width=10)
    config = inrcodec.info(data)["config"]
    assert config["sorted_units"] == 1
    parsed = container.unpack(data, None)
    model = Siren(SirenConfig.from_bytes(parsed.header.model_config), SPEC)
    decode_weights(model, parsed.section(TAG_WEIGHTS))
    for i in range(model.config.layers):
        b = getattr(model, f"b{i}").detach()
        assert torch.all(b[1:] >= b[:-1])
    # A header without the field (every file before 0.5.9) reads as unsorted, plainly coded biases.
    config = SirenConfig.from_bytes(parsed.header.model_config)
    assert SirenConfig.from_bytes(dataclasses.replace(config, sorted_units=0).to_bytes()).sorted_units == 0
    unsorted = inrcodec.encode(image, fit=FAST_FIT, width=10, sorted_units=0)
    assert inrcodec.info(unsorted)["config"]["sorted_units"] == 0
    assert np.abs(inrcodec.decode(unsorted).astype(int) - image).mean() < 40
