"""Tiled SIREN: the grid cut into blocks with a net each (codec/models/tiling.py)."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

import inrcodec
from inrcodec.errors import CodecError
from inrcodec.formats import container
from inrcodec.kernels.reference import siren_mlp
from inrcodec.models.siren import (MIN_TILE_PARAMS, TILE_OVERLAP, Siren, SirenConfig, image_tiles, siren_params)
from inrcodec.models.tiling import Tiling
from inrcodec.signal import SignalSpec, axis_coords, grid_coords
from tests.conftest import FAST_FIT, smooth_image


def test_every_grid_point_falls_in_one_tile_whose_corners_are_minus_one_and_one():
    shape = (13, 10)  # 13 rows in 3 tiles of 4/4/5, 10 columns in 3 of 3/3/4
    tiling = Tiling(shape, 3)
    tile, local = tiling.entries(grid_coords(shape))[1:3]
    rows, cols = np.divmod(np.arange(13 * 10), 10)
    row_tile = np.searchsorted([0, 4, 8, 13], rows, side="right") - 1
    col_tile = np.searchsorted([0, 3, 6, 10], cols, side="right") - 1
    assert tile.tolist() == (row_tile * 3 + col_tile).tolist()
    for t in range(9):
        inside = local[tile == t]
        assert torch.allclose(inside.min(dim=0).values, torch.tensor([-1.0, -1.0]), atol=1e-6)
        assert torch.allclose(inside.max(dim=0).values, torch.tensor([1.0, 1.0]), atol=1e-6)


def test_an_axis_shorter_than_the_tiles_keeps_one_tile_per_sample():
    tiling = Tiling((2, 40), 4)
    assert tiling.counts == (2, 4) and tiling.count == 8
    tile, local = tiling.entries(grid_coords((2, 40)))[1:3]
    assert torch.all(local[:, 0] == 0)  # a one-sample tile sits at its centre
    assert sorted(set(tile.tolist())) == list(range(8))


def test_the_tiled_net_is_each_tile_run_through_its_own_siren():
    spec = SignalSpec("image", (11, 14), 3, 8)
    config = SirenConfig(width=8, layers=3, pe_freqs=2, tiles=2)
    model = Siren(config, spec, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.render()
    tile, local = Tiling(spec.shape, 2).entries(grid_coords(spec.shape))[1:3]
    for t in range(4):
        p = {name: getattr(model, name)[t] for name in model.transmitted_names()}
        wanted = siren_mlp(local[tile == t], p["w0"], p["b0"], torch.stack([p["w1"], p["w2"]]),
                           torch.stack([p["b1"], p["b2"]]), p["w_out"], p["b_out"], 30.0, 30.0, 2)
        assert torch.allclose(out[tile == t], wanted, atol=1e-5)



def test_points_from_some_tiles_only_run_those_nets_and_leave_the_rest_untouched():
    spec = SignalSpec("image", (12, 16), 3, 8)
    model = Siren(SirenConfig(width=8, layers=3, pe_freqs=2, tiles=2, overlap=2), spec,
                  generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        whole = model.render()
    corner = torch.tensor([r * 16 + c for r in range(3) for c in range(4)])  # the first tile's corner only
    out = model(axis_coords(spec.shape, corner))
    assert torch.allclose(out, whole[corner], atol=1e-6)
    out.square().sum().backward()
    assert model.w0.grad[0].abs().sum() > 0 and all(model.w0.grad[t].abs().sum() == 0 for t in (1, 2, 3))

def test_gradients_reach_every_tile_from_a_random_batch():
    spec = SignalSpec("image", (20, 24), 1, 8)
    model = Siren(SirenConfig(width=8, layers=2, pe_freqs=1, tiles=2), spec, generator=torch.Generator().manual_seed(1))
    index = torch.randperm(20 * 24, generator=torch.Generator().manual_seed(2))[:50]
    model(axis_coords(spec.shape, index)).square().sum().backward()
    assert all(model.w0.grad[t].abs().sum() > 0 for t in range(4))


def test_rate_control_tiles_large_budgets_and_keeps_small_ones_whole():
    spec = SignalSpec("image", (512, 768), 3, 8)
    start = Siren.default_config(spec)
    assert Siren.sized_config(start, spec, 3 * MIN_TILE_PARAMS).tiles == 1
    small, large = (Siren.sized_config(start, spec, n) for n in (16_000, 64_000))
    assert (small.tiles, large.tiles) == (2, 2)  # never past MAX_AUTO_TILES, however large the budget
    assert siren_params(large, spec) <= 64_000 < siren_params(dataclasses.replace(large, width=large.width + 2), spec)
    assert large.pe_freqs == small.pe_freqs < SirenConfig.pe_freqs  # a smaller tile, fewer frequencies
    assert Siren.sized_config(start, spec, 64_000, frozenset({"tiles"})).tiles == start.tiles
    assert image_tiles(SignalSpec("audio", (1 << 20,), 1, 16), 1e6) == 1


def test_tiled_file_round_trips_and_says_its_tiles():
    image = smooth_image(40, 48, 3, 8, seed=3)
    data = inrcodec.encode(image, fit=FAST_FIT, tiles=2, width=12)
    info = inrcodec.info(data)
    assert info["config"]["tiles"] == 2
    assert info["parameters"] == 4 * siren_params(SirenConfig(width=12, pe_freqs=info["config"]["pe_freqs"]),
                                                  SignalSpec("image", (40, 48), 3, 8))
    decoded = inrcodec.decode(data)
    assert decoded.shape == image.shape
    mse = np.mean((decoded.astype(float) - image) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 25
    assert inrcodec.encode(image, fit=FAST_FIT, tiles=2, width=12) == data  # deterministic


def test_a_header_asking_for_a_huge_tiled_net_is_refused_before_allocating():
    image = smooth_image(40, 48, 3, 8, seed=3)
    data = inrcodec.encode(image, fit=FAST_FIT, tiles=2, width=8)
    parsed = container.unpack(data)
    for config in (SirenConfig(width=1024, layers=16, tiles=16), SirenConfig(width=8, tiles=17),
                   SirenConfig(width=8, tiles=2, overlap=65)):
        header = container.Header(parsed.header.spec, parsed.header.method_id, config.to_bytes())
        hostile = container.pack(header, parsed.sections)
        with pytest.raises(CodecError):
            inrcodec.decode(hostile)


def test_cli_takes_tiles_for_sine_nets_only(tmp_path):
    path = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray(smooth_image(40, 48, 3, 8, seed=3)).save(path)
    run = [sys.executable, "-m", "inrcodec", "encode", str(path), "--steps", "40", "--width", "8", "--quiet"]
    ok = subprocess.run(run + ["--tiles", "2", "-o", str(tmp_path / "a.inrc")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert inrcodec.info(tmp_path / "a.inrc")["config"]["tiles"] == 2
    assert inrcodec.info(tmp_path / "a.inrc")["config"]["overlap"] == TILE_OVERLAP
    ok = subprocess.run(run + ["--tiles", "2", "--overlap", "3", "-o", str(tmp_path / "c.inrc")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert inrcodec.info(tmp_path / "c.inrc")["config"]["overlap"] == 3
    bad = subprocess.run(run + ["--overlap", "2", "--method", "finr", "-o", str(tmp_path / "d.inrc")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--overlap does not apply to --method finr" in bad.stderr
    bad = subprocess.run(run + ["--tiles", "2", "--method", "finr", "-o", str(tmp_path / "b.inrc")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--tiles does not apply to --method finr" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_doh_target_nets_take_tiles_and_older_doh_files_have_one():
    from inrcodec.models.doh import Doh, DohConfig
    image = smooth_image(40, 48, 3, 8, seed=3)
    data = inrcodec.encode(image, method="doh", fit=FAST_FIT, tiles=2, width=10, latent=600)
    assert inrcodec.info(data)["config"]["tiles"] == 2
    assert inrcodec.decode(data).shape == image.shape
    before = DohConfig(width=10, latent=600, projection=1)
    old_bytes = dataclasses.replace(before, tiles=2).to_bytes()[:-1]  # a 0.4 file ends before the tiles
    assert DohConfig.from_bytes(old_bytes) == before and before.to_bytes() == old_bytes
    spec = SignalSpec("image", (512, 768), 3, 8)
    asked = Doh.sized_config(Doh.default_config(spec, tiles=2), spec, 20_000, frozenset({"tiles"}))
    assert asked.tiles == 2 and asked.pe_freqs == 7 and asked.overlap == TILE_OVERLAP


def test_doh_tiles_overlap_as_sirens_do_and_older_headers_meet_edge_to_edge():
    from inrcodec.metrics import psnr
    from inrcodec.models.doh import MIN_TILE_LATENT, PER_TILE, Doh, DohConfig
    spec = SignalSpec("image", (512, 768), 3, 8)
    tiled = Doh.sized_config(Doh.default_config(spec), spec, 4 * MIN_TILE_LATENT)
    assert (tiled.tiles, tiled.overlap) == (2, TILE_OVERLAP)
    assert Doh.sized_config(Doh.default_config(spec), spec, 4 * MIN_TILE_LATENT - 4).overlap == 0  # one net
    mine = Doh.sized_config(Doh.default_config(spec, overlap=3), spec, 4 * MIN_TILE_LATENT, frozenset({"overlap"}))
    assert mine.overlap == 3
    # A 0.5.4 header ends after the slices: its tiles meet edge to edge.
    sliced = DohConfig(width=8, latent=100, tiles=2, projection=PER_TILE, slices=(10, 20, 30, 40))
    assert DohConfig.from_bytes(dataclasses.replace(sliced, overlap=5).to_bytes()).overlap == 5
    assert DohConfig.from_bytes(sliced.to_bytes()) == sliced and sliced.overlap == 0
    hostile = dataclasses.replace(sliced, overlap=65)
    data = container.pack(container.Header(SignalSpec("image", (32, 32), 3, 8), 2, hostile.to_bytes()), [(1, b"")])
    with pytest.raises(inrcodec.CodecError, match="overlap 65"):
        inrcodec.decode(data)
    # The encoder blends a tiled D'OH image across its borders, and the decode is what it measured.
    image = smooth_image(40, 48, 3, 8, seed=3)
    result = inrcodec.api.encode_report(image, method="doh", fit=FAST_FIT, tiles=2, width=10, latent=600)
    assert inrcodec.info(result.data)["config"]["overlap"] == TILE_OVERLAP
    assert result.psnr == pytest.approx(psnr(inrcodec.decode(result.data), image, 255), abs=1e-9)


def test_doh_tiles_large_image_latents_per_tile_and_never_against_the_user():
    from inrcodec.models.doh import HADAMARD, MIN_TILE_LATENT, PER_TILE, Doh
    spec = SignalSpec("image", (512, 768), 3, 8)
    large = Doh.sized_config(Doh.default_config(spec), spec, 4 * MIN_TILE_LATENT)
    assert (large.tiles, large.projection, large.pe_freqs) == (2, PER_TILE, 7)
    small = Doh.sized_config(Doh.default_config(spec), spec, 4 * MIN_TILE_LATENT - 4)
    assert (small.tiles, small.projection, small.pe_freqs) == (1, HADAMARD, 8)
    fixed = frozenset({"tiles"})
    assert Doh.sized_config(Doh.default_config(spec, tiles=1), spec, 40_000, fixed).tiles == 1
    shared = Doh.sized_config(Doh.default_config(spec, projection=HADAMARD), spec, 40_000, frozenset({"projection"}))
    assert (shared.tiles, shared.projection) == (2, HADAMARD)
    narrow = SignalSpec("image", (40, 4000), 3, 8)  # a 20-row tile is under MIN_TILE_SIDE
    assert Doh.sized_config(Doh.default_config(narrow), narrow, 40_000).tiles == 1
    audio = SignalSpec("audio", (400_000,), 1, 16)
    assert Doh.sized_config(Doh.default_config(audio), audio, 40_000).tiles == 1


def test_overlapping_tiles_blend_across_each_border_with_weights_summing_to_one():
    shape = (40, 30)  # 2×2 tiles: rows 0-19 / 20-39, columns 0-14 / 15-29
    tiling = Tiling(shape, 2, overlap=4)
    point, tile, local, weight, runs = tiling.entries(grid_coords(shape))
    assert runs[0] == 40 * 30 and point[:runs[0]].tolist() == list(range(40 * 30))
    assert torch.allclose(torch.zeros(40 * 30, dtype=weight.dtype).index_add(0, point, weight), torch.ones(1))
    rows = point // 30
    blended_rows = sorted(set(rows[(tile // 2 == 1) & (rows < 20)].tolist()))
    assert blended_rows == list(range(16, 20))  # the lower tile reaches 4 rows up, and no further
    top = (tile // 2 == 0) & (point % 30 == 0)  # the top-left tile's first column: rows 0-23, local -1..1
    assert rows[top].max() == 23
    assert local[top][:, 0].min() == -1 and torch.isclose(local[top][:, 0].max(), torch.tensor(1.0))
    lower_share = {r: weight[(rows == r) & (tile // 2 == 1) & (point % 30 == 0)].item() for r in (16, 19, 20, 23)}
    assert lower_share == pytest.approx({16: 1 / 16, 19: 7 / 16, 20: 9 / 16, 23: 15 / 16})


def test_an_overlapping_net_is_the_weighted_sum_of_its_tiles_nets():
    spec = SignalSpec("image", (36, 34), 2, 8)
    model = Siren(SirenConfig(width=8, layers=2, pe_freqs=2, tiles=2, overlap=3), spec,
                  generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = model.render()
    point, tile, local, weight, _ = Tiling(spec.shape, 2, 3).entries(grid_coords(spec.shape))
    wanted = torch.zeros_like(out)
    for t in range(4):
        p = {name: getattr(model, name)[t] for name in model.transmitted_names()}
        mine = tile == t
        y = siren_mlp(local[mine], p["w0"], p["b0"], p["w1"][None], p["b1"][None], p["w_out"], p["b_out"], 30.0, 30.0, 2)
        wanted.index_add_(0, point[mine], y * weight[mine, None].to(y.dtype))
    assert torch.allclose(out, wanted, atol=1e-5)
    assert len(point) > 36 * 34  # some points are seen by two or four nets


def test_the_encoder_overlaps_its_tiles_and_the_header_keeps_it():
    spec = SignalSpec("image", (512, 768), 3, 8)
    tiled = Siren.sized_config(Siren.default_config(spec), spec, 32_000)
    assert (tiled.tiles, tiled.overlap) == (2, TILE_OVERLAP)
    assert Siren.sized_config(Siren.default_config(spec), spec, 3 * MIN_TILE_PARAMS).overlap == 0
    assert Siren.default_config(spec, tiles=2).overlap == TILE_OVERLAP
    assert Siren.default_config(spec, tiles=2, overlap=0).overlap == 0
    old = dataclasses.replace(tiled, sorted_units=0)  # a 0.5.1-0.5.8 header ends at the overlap
    assert SirenConfig.from_bytes(old.to_bytes()[:-1]) == dataclasses.replace(old, overlap=0)  # a 0.5.0 header
    image = smooth_image(40, 48, 3, 8, seed=5)
    data = inrcodec.encode(image, fit=FAST_FIT, tiles=2, width=10)
    assert inrcodec.info(data)["config"]["overlap"] == TILE_OVERLAP
    assert inrcodec.decode(data).shape == image.shape


def test_siren_configs_leave_out_tail_fields_at_their_defaults_so_older_decoders_read_untiled_files():
    one_net, tiled, blended = SirenConfig(width=20), SirenConfig(width=20, tiles=2), SirenConfig(width=20, tiles=2, overlap=8)
    assert len(tiled.to_bytes()) == len(one_net.to_bytes()) + 1  # a 0.4-length config: no tiles, no overlap
    assert len(blended.to_bytes()) == len(tiled.to_bytes()) + 1
    assert blended.to_bytes().startswith(tiled.to_bytes()) and tiled.to_bytes().startswith(one_net.to_bytes())
    for config in (one_net, tiled, blended, SirenConfig(width=20, overlap=8)):
        assert SirenConfig.from_bytes(config.to_bytes()) == config
