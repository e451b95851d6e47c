"""Truthful colour in pictures (issue 10 item 2): NaN/±Inf pixels in their own colours with legend
entries and a count, a constant layer's exact colour, the colour bars of the per-layer, diff and
global scales, and ``--scale`` on the command line."""

from __future__ import annotations

from dataclasses import replace

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from record_fixtures import make_recording
from test_scene_colour import INPUT, Constants, Specials, _maps, _scene

from render3d.cli import build_parser
from render3d.record.animate import Player, recording_window
from render3d.rendering import build_plotter, render_png
from render3d.rendering.meshes import colormap_lut, values_rgb
from render3d.scene.colour import NAN_RGB, NEG_INF_RGB, POS_INF_RGB, log_magnitude

SIZE = (640, 360)
PLANE_PIXELS = 500  # more than a legend swatch (~50 pixels at 360 p): the colour is on a feature map


@pytest.fixture(scope="module")
def specials():
    _, scene = _scene(Specials())
    return replace(scene, background=(128, 128, 128))  # so that white (+Inf) cannot be the background


@pytest.mark.parametrize("rgb", [NAN_RGB, POS_INF_RGB, NEG_INF_RGB], ids=["nan", "+inf", "-inf"])
def test_special_values_are_drawn_in_their_own_colour(specials, tmp_path, rgb):
    image = imageio.imread(render_png(specials, tmp_path / "specials.png"))[..., :3]
    assert image.shape == (360, 640, 3)
    assert np.all(image == rgb, axis=-1).sum() > PLANE_PIXELS


def test_legend_and_note_name_and_count_the_special_values(specials):
    plotter, actors = build_plotter(specials, size=SIZE)
    try:
        legend = actors.legend_actor
        names = [legend.GetEntryString(i) for i in range(legend.GetNumberOfEntries())]
        assert names[-3:] == ["NaN", "+Inf", "−Inf"]
        notes = actors.notes_actor.GetInput().splitlines()
        assert "NaN: 64 values in 1 layer" in notes and "±Inf: 128 values in 1 layer" in notes
    finally:
        plotter.close()


def test_constant_layers_get_the_colour_of_their_value():
    _, scene = _scene(Constants())
    lut = colormap_lut(scene.cmap)
    zero, three = _maps(scene)["zero#1"], _maps(scene)["three#1"]
    lo, hi = zero.clim
    assert np.all(values_rgb(zero.values, zero.clim, lut) == lut[int((0.0 - lo) * 255 / (hi - lo))])
    assert np.all(values_rgb(three.values, three.clim, lut) == lut[255])  # the largest value shown


def test_per_layer_colour_bar_reads_p1_to_p99_not_numbers():
    _, scene = _scene(Constants())
    plotter, actors = build_plotter(scene, size=SIZE)
    try:
        bar = actors.scalar_bar_actor
        assert bar.GetLookupTable().GetRange() == (1.0, 99.0)
        assert (bar.GetNumberOfLabels(), bar.GetLabelFormat()) == (2, "p%.0f")
        assert actors.colorbar_title_actor.GetInput() == "activation (per-layer p1–p99)"
    finally:
        plotter.close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_recording(tmp_path_factory.mktemp("colour") / "rec", 3)


def _changes(player: Player) -> np.ndarray:
    return np.concatenate([np.abs(v).ravel() for k in range(1, len(player)) for v in player.shown_values(k).values()])


def test_diff_uses_one_signed_scale_at_the_p99_of_the_changes(recording):
    player = Player(recording, size=(320, 192), diff=True)
    try:
        changes = _changes(player)
        a = float(np.percentile(changes[changes > 0], 99))
        assert {tuple(fm.clim) for fm in player.scene.feature_maps} == {(-a, a)}
        bar = player.actors.scalar_bar_actor
        assert bar.GetLookupTable().GetRange() == pytest.approx((-a, a))
        assert (bar.GetNumberOfLabels(), bar.GetLabelFormat()) == (3, "%.3g")  # -a, 0, +a
        assert player.actors.colorbar_title_actor.GetInput() == "change vs previous epoch (all layers)"
    finally:
        player.close()


def test_diff_scale_shows_real_change(recording):
    player = Player(recording, size=(320, 192), diff=True)
    try:
        changes = _changes(player)
        changed = changes[changes > 0]
        a = player.scene.feature_maps[0].clim[1]
        # 46 % of the changed cells at over a quarter of the scale (with the maximum as the limit: 0.8 %)
        assert (changed > a / 4).mean() > 0.4
        assert (changed > changes.max() / 4).mean() < 0.01
    finally:
        player.close()


def test_global_scale_in_a_recording_shows_log_magnitudes(recording):
    raw = Player(recording, size=(320, 192))
    log = Player(recording, size=(320, 192), scale="global")
    try:
        (clim,) = {tuple(fm.clim) for fm in log.scene.feature_maps}
        key = log.scene.feature_maps[1].node_id
        expected = log_magnitude(raw.shown_values(2)[key], 10.0 ** clim[0])
        np.testing.assert_array_equal(log.shown_values(2)[key], expected)
    finally:
        raw.close()
        log.close()


@pytest.mark.parametrize("command", ["render", "show", "animate"])
def test_scale_option_on_the_command_line(command):
    extra = ["--checkpoints", "ckpts"] if command == "animate" else []
    args = build_parser().parse_args([command, "torchvision:resnet18", *extra, "--scale", "global"])
    assert args.scale == "global"
    assert build_parser().parse_args([command, "torchvision:resnet18", *extra]).scale == "layer"


def test_a_constant_layer_keeps_its_place_in_an_animation(tmp_path):
    from render3d.record import Recorder

    torch.manual_seed(1)
    with Recorder(Constants(), torch.randn(INPUT), tmp_path / "rec") as recorder:
        recorder.snapshot(1)
        recorder.snapshot(2)
    player = Player(tmp_path / "rec", size=(320, 192))
    try:
        maps = _maps(player.scene)
        lows, highs = zip(*(maps[k].clim for k in ("input.0", "conv#1")))  # limits over all epochs
        assert maps["zero#1"].clim == (min(lows), max(highs))
    finally:
        player.close()


def test_recording_window_takes_the_global_scale(recording):
    player = recording_window(recording, size=(320, 192), off_screen=True, scale="global")
    try:
        assert player.actors.colorbar_title_actor.GetInput() == "log10 magnitude (all layers)"
        assert len({tuple(fm.clim) for fm in player.scene.feature_maps}) == 1
    finally:
        player.close()


def test_animation_frames_paint_special_values_too(specials):
    plotter, actors = build_plotter(specials, size=SIZE)
    try:
        fm = _maps(specials)["conv#1"]
        values = np.array(fm.values)
        values[0, 0, 0], values[0, 0, 1] = np.nan, -np.inf  # a frame in which this layer goes bad
        actors.update_feature_map("conv#1", values)
        handle = actors._features["conv#1"]  # its atlas: a view into the texture page it shares
        assert np.shares_memory(handle.texels, handle.image.point_data["rgb"])
        atlas = handle.texels.reshape(-1, 3)
        assert (atlas == NAN_RGB).all(axis=1).sum() == 1 and (atlas == NEG_INF_RGB).all(axis=1).sum() == 1
    finally:
        plotter.close()


def test_the_white_inf_swatch_is_framed_and_the_others_are_not(specials):
    plotter, actors = build_plotter(specials, size=SIZE)
    try:
        legend = actors.legend_actor
        cells = {
            legend.GetEntryString(i): legend.GetEntrySymbol(i).GetNumberOfCells()
            for i in range(legend.GetNumberOfEntries())
        }
        assert cells["+Inf"] == 2  # a frame and the white square inside it
        assert cells["NaN"] == cells["−Inf"] == cells["Conv"] == 1
    finally:
        plotter.close()
