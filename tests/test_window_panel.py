"""The window's side panel, tooltips and size (issue 11 item 4), driven offscreen through the interactor."""

from __future__ import annotations

import numpy as np
import pytest
import torchvision
from window_fixtures import (
    SIZE,
    block_pixel,
    click,
    click_block,
    display_point,
    model_scenes,
    open_window,
    press,
    screenshot,
)

from render3d.api import WindowScenes
from render3d.models import SeedCNN
from render3d.rendering import window as window_module
from render3d.rendering.meshes import colormap_lut, values_rgb
from render3d.rendering.side_panel import GAP_PX, PANEL_RGB, channel_grid_image
from render3d.rendering.window import fit_window_size, text_box, window_size
from render3d.scene.style import WINDOW_SIZE


@pytest.fixture(scope="module")
def scenes():
    return model_scenes(torchvision.models.resnet18)


@pytest.fixture
def window(scenes):
    win = open_window(scenes("activations", frozenset(), SIZE), rebuild=scenes, describe=scenes.describe)
    yield win
    win.plotter.close()


def test_clicking_a_block_opens_the_side_panel_on_it(window):
    click_block(window, "conv1#1")
    panel = window.panel
    assert panel.node_id == "conv1#1"
    assert panel.title.GetInput() == "conv1#1 … relu#1"
    lines = panel.body.GetInput().splitlines()
    assert lines[0] == "Conv 7×7, 64 filters, stride 2:"  # what it computes (the tour's sentence), wrapped
    at = lines.index("type: Conv2d + BatchNorm2d + ReLU")
    assert lines[at - 1] == "" and lines[at + 1 : at + 3] == ["category: Conv", "shape: 64×32×32"]
    assert panel.background.GetVisibility() and panel.grid_actor.GetVisibility()
    assert "panel:highlight" in window.plotter.renderer.actors


def test_the_panel_shows_the_block_channels_enlarged_in_the_scene_colours(window):
    click_block(window, "conv1#1")
    fm = next(f for f in window.actors.scene.feature_maps if f.node_id == "conv1#1")
    k, h, w = fm.values.shape
    width, height, _ = window.panel.grid_image.dimensions
    assert width > 2 * w and height > 2 * h  # enlarged: a 32x32 channel becomes a tile of many pixels
    shown = {tuple(c) for c in window.panel.grid_image.point_data["rgb"]}
    assert shown == {tuple(c) for c in values_rgb(fm.values.reshape(-1), fm.clim, window.actors.lut)} | {PANEL_RGB}


def test_channel_grid_enlarges_each_channel_with_a_gap_between():
    lut = colormap_lut("viridis")
    values = np.array([[[0.0, 1.0], [2.0, 3.0]], [[3.0, 3.0], [3.0, 3.0]]])
    image = channel_grid_image(values, (0.0, 3.0), lut, (20, 10))
    colour = {v: tuple(values_rgb(np.array([v]), (0.0, 3.0), lut)[0]) for v in (0.0, 1.0, 2.0, 3.0)}
    assert image.shape == (9, 9 + GAP_PX + 9, 3)  # 2x2 tiles enlarged 4.5x (9 px), side by side
    assert tuple(image[0, 0]) == colour[0.0] and tuple(image[0, 8]) == colour[1.0]
    assert tuple(image[8, 0]) == colour[2.0] and tuple(image[8, 8]) == colour[3.0]
    assert (image[:, 9 : 9 + GAP_PX] == PANEL_RGB).all()
    assert (image[:, 9 + GAP_PX :] == colour[3.0]).all()


def test_a_long_vector_is_wrapped_into_rows_without_padding_colours():
    lut = colormap_lut("viridis")
    image = channel_grid_image(np.arange(100.0).reshape(1, 1, 100), (0.0, 99.0), lut, (100, 100))
    assert image.shape == (100, 100, 3)  # 10 x 10 cells of 10 px
    assert tuple(image[95, 95]) == tuple(values_rgb(np.array([99.0]), (0.0, 99.0), lut)[0])
    image = channel_grid_image(np.arange(65.0).reshape(1, 1, 65), (0.0, 64.0), lut, (90, 90))
    assert image.shape == (80, 90, 3)  # 9 columns, 8 rows of 10 px: the last row holds 2 values
    assert (image[-1, 2 * 10 :] == PANEL_RGB).all()


def test_escape_closes_the_panel(window):
    click_block(window, "conv1#1")
    press(window, "Escape")
    assert window.panel.node_id is None and not window.panel.background.GetVisibility()
    assert "panel:highlight" not in window.plotter.renderer.actors


def test_a_click_on_empty_space_closes_the_panel(window):
    click_block(window, "conv1#1")
    click(window, 3, 3)
    assert window.panel.node_id is None


def test_the_view_makes_room_for_the_panel_and_gives_it_back(window):
    before = window.plotter.camera_position.to_list(), window.plotter.camera.view_angle
    click_block(window, "fc#1")
    xs = [display_point(window, c)[0] for c in window.actors.scene.blocks.centers]
    assert 0 < min(xs) and max(xs) < window.panel.x0
    press(window, "Escape")
    after = window.plotter.camera_position.to_list(), window.plotter.camera.view_angle
    assert after[0] == before[0] and after[1] == pytest.approx(before[1], rel=1e-12)
    assert window.plotter.camera.GetWindowCenter() == (0.0, 0.0)


def test_the_highlight_outlines_the_clicked_block(window):
    x, y = block_pixel(window, "layer2.0.conv1#1")
    plain = screenshot(window)
    window.select(window.actors.scene.blocks.index("layer2.0.conv1#1"))
    window._beside_panel(False)  # same view, so only the outline differs
    outlined = screenshot(window)
    changed = np.any(outlined[:, : window.panel.x0] != plain[:, : window.panel.x0], axis=2)
    rows, cols = np.nonzero(changed)
    assert (outlined[rows, cols] == 0).all(axis=1).mean() > 0.5  # the outline is black
    assert cols.min() < x < cols.max() and rows.min() < SIZE[1] - y < rows.max()


@pytest.mark.parametrize("corner", [(1, 1), (SIZE[0] - 1, 1), (1, SIZE[1] - 1), (SIZE[0] - 1, SIZE[1] - 1)])
def test_tooltips_stay_inside_the_window_at_its_corners(window, corner):
    tooltip = window.tooltip
    tooltip.text.SetInput(window.actors.block_info(1))  # a tall box: nine lines
    tooltip.text.SetVisibility(True)
    tooltip.place(*corner)
    x0, x1, y0, y1 = text_box(tooltip.text, window.plotter.renderer)
    assert x1 - x0 > 100 and y1 - y0 > 60
    assert 0 <= x0 and x1 <= SIZE[0] and 0 <= y0 and y1 <= SIZE[1]


def test_default_window_size_is_90_percent_of_the_screen_at_16_9(monkeypatch):
    monkeypatch.setattr(window_module, "screen_size", lambda: (1366, 768))
    assert window_size() == (1228, 690)
    monkeypatch.setattr(window_module, "screen_size", lambda: None)
    assert window_size() == WINDOW_SIZE
    assert fit_window_size((3840, 1080)) == (1728, 972)  # two screens side by side: the height limits


def test_show_lays_the_scene_out_for_the_screen(monkeypatch):
    import render3d.rendering

    shown = {}
    monkeypatch.setattr(window_module, "screen_size", lambda: (1366, 768))
    monkeypatch.setattr(render3d.rendering, "show_scene", lambda scene, **kw: shown.update(scene=scene, **kw))
    render3d.show(SeedCNN())
    assert shown["scene"].size == (1228, 690) and shown["scene"].mode == "architecture"
    assert isinstance(shown["rebuild"], WindowScenes)
