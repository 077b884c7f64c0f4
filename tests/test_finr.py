"""F-INR: the fast whole-grid contraction equals the per-point evaluation, sizing, and limits."""
import dataclasses

import pytest
import torch

from inrcodec.models.finr import MAX_CORE, Finr, FinrConfig
from inrcodec.signal import SignalSpec, grid_coords

SHAPES = {"audio": (37,), "image": (13, 9), "video": (5, 7, 6)}


@pytest.mark.parametrize("kind", SHAPES)
@pytest.mark.parametrize("decomp", [0, 1, 2])
def test_grid_contraction_equals_pointwise_evaluation(kind, decomp):
    spec = SignalSpec(kind, SHAPES[kind], 3, 8)
    config = Finr.default_config(spec, decomp=decomp, rank=5, width=16)
    model = Finr(config, spec, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        grid = model.grid_values()
        points = model(grid_coords(spec.shape))
    assert grid.shape == (spec.num_points, 3)
    torch.testing.assert_close(grid, points, atol=1e-4, rtol=1e-4)
    assert 0.1 < float(grid.std()) < 3.0  # factors start near unit scale for every decomposition


def test_audio_is_folded_into_about_square_rows():
    spec = SignalSpec("audio", (16384 + 256,), 1, 16)
    config = Finr.default_config(spec)
    assert config.fold == 128
    with pytest.raises(ValueError, match="audio only"):
        Finr(dataclasses.replace(config, fold=8), SignalSpec("image", (4, 4), 1, 8))


def test_sizing_tracks_the_budget_and_ties_width_to_rank():
    spec = SignalSpec("video", (16, 144, 176), 3, 8)
    base = Finr.default_config(spec, decomp=1)
    sizes = []
    for target in (5_000, 20_000, 80_000):
        config = Finr.sized_config(base, spec, target)
        params = Finr(config, spec).num_transmitted()
        assert params <= target
        sizes.append((config.rank, params))
        assert config.width == max(16, config.rank)
    assert sizes == sorted(sizes)
    fixed = Finr.sized_config(dataclasses.replace(base, width=40), spec, 20_000, frozenset({"width"}))
    assert fixed.width == 40


def test_a_hostile_tucker_core_is_refused_before_allocation():
    spec = SignalSpec("video", (4, 4, 4), 3, 8)
    config = FinrConfig(decomp=1, rank=512)
    assert 512 ** 3 * 3 > MAX_CORE
    with pytest.raises(ValueError, match="Tucker core"):
        Finr(config, spec)
