"""The window's keys and epoch slider (issue 11 item 4), driven offscreen: key presses go through the
interactor as a real window's would (KeyPressEvent for pyvista's callbacks, then CharEvent for VTK's)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from record_fixtures import make_recording

from render3d.record.animate import recording_window
from render3d.rendering.window import key_map, text_box

SIZE = (320, 180)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_recording(tmp_path_factory.mktemp("rec") / "run", snapshots=3)


@pytest.fixture
def window(recording):
    player = recording_window(recording, size=SIZE, off_screen=True)
    player.plotter.iren.interactor.Enable()  # an offscreen interactor ignores events until enabled
    yield player
    player.close()


def press(player, key: str) -> None:
    iren = player.plotter.iren.interactor
    iren.SetKeySym(key)
    iren.SetKeyCode(" " if key == "space" else key)
    iren.KeyPressEvent()
    iren.CharEvent()
    iren.KeyReleaseEvent()


def camera_state(plotter):
    cam = plotter.camera
    return (
        plotter.camera_position.to_list(),
        cam.view_angle,
        cam.parallel_projection,
        cam.parallel_scale,
        cam.GetViewUp(),
    )


def test_r_restores_the_initial_camera_exactly(window):
    before = camera_state(window.plotter)
    window.plotter.camera.azimuth += 40
    window.plotter.camera.elevation += 25
    window.plotter.camera.zoom(1.7)
    assert camera_state(window.plotter) != before
    press(window, "r")
    assert camera_state(window.plotter) == before


def test_h_toggles_a_help_overlay_listing_every_key_and_mouse_action(window):
    help_actor = key_map(window.plotter).help_actor
    assert not help_actor.GetVisibility()
    press(window, "h")
    assert help_actor.GetVisibility()
    keys = [line.split(":")[0].split()[0] for line in help_actor.GetInput().splitlines()]
    for key in ("a", "l", "r", "s", "h", "m", "space", "v", "q", "left", "right", "hover", "drag"):
        assert key in keys
    press(window, "h")
    assert not help_actor.GetVisibility()


def test_the_recording_window_says_which_key_shows_the_help(window):
    notice = key_map(window.plotter).notice_actor
    assert notice.GetVisibility() and notice.GetInput() == "h: all keys and mouse actions"


def test_s_saves_a_screenshot_here_and_says_where(window, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    press(window, "s")
    [path] = tmp_path.iterdir()
    assert re.fullmatch(r"render3d-\d{8}-\d{6}\.png", path.name)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(path).size == SIZE
    assert capsys.readouterr().out == f"saved screenshot {path}\n"
    assert key_map(window.plotter).notice_actor.GetInput() == f"saved {path.name}"


def test_slider_stops_on_whole_epochs_and_is_titled_with_the_epoch(window):
    slider = window.slider
    slider.representation.SetValue(1.4)  # the knob dragged between the 2nd and 3rd snapshot
    slider.widget.InvokeEvent("InteractionEvent")
    assert slider.representation.GetValue() == 1.0
    assert slider.representation.GetTitleText() == "epoch 2"
    assert window.position == 1.0
    assert window.actors.caption_actor.GetInput().startswith("epoch 2/3")


def _changed_box(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) in display pixels (y up) of the pixels that differ between two frames."""
    rows, cols = np.nonzero(np.any(a != b, axis=2))
    height = a.shape[0]
    return cols.min(), cols.max(), height - 1 - rows.max(), height - 1 - rows.min()


def test_slider_does_not_overlap_the_title(window):
    plotter = window.plotter
    plotter.render()
    with_slider = plotter.screenshot(None, return_img=True)
    window.slider.representation.SetVisibility(False)
    plotter.render()
    without = plotter.screenshot(None, return_img=True)
    x0, x1, y0, y1 = _changed_box(with_slider, without)
    tx0, tx1, ty0, ty1 = text_box(window.actors.title_actor, plotter.renderer)
    assert tx1 - tx0 > 100 and ty1 - ty0 > 5  # the title's box, in the window
    assert x1 - x0 > SIZE[0] // 4  # the slider is there, and wide enough to drag
    assert x0 > tx1 or y1 < ty0


def test_space_plays_through_the_epochs_and_pauses(window):
    slider = window.slider
    assert slider.index == 2 and not slider.playing
    press(window, "space")  # at the last epoch: starts again from the first
    assert slider.playing and slider.index == 0 and window.position == 0.0
    slider.step()  # one timer tick
    assert slider.index == 1 and slider.representation.GetTitleText() == "epoch 2"
    press(window, "space")
    assert not slider.playing
    slider.step()
    assert slider.index == 1


def test_the_side_panel_follows_the_epoch_shown(recording):
    from render3d.rendering.meshes import values_rgb
    from render3d.rendering.side_panel import PANEL_RGB
    from render3d.rendering.window import scene_window

    player = recording_window(recording, size=(640, 360), off_screen=True)
    try:
        scene = player.actors.scene
        fm = next(f for f in scene.feature_maps if f.style == "planes")
        panel = scene_window(player.plotter).panel
        scene_window(player.plotter).select(scene.blocks.index(fm.node_id))
        player.plotter.render()
        last = panel.grid_image.point_data["rgb"].copy()
        player.slider.show(0)  # the first epoch
        player.plotter.render()
        now = panel.grid_image.point_data["rgb"]
        colours = values_rgb(player.actors.feature_values(fm.node_id).reshape(-1), fm.clim, player.actors.lut)
        assert not np.array_equal(now, last)
        assert {tuple(c) for c in now} == {tuple(c) for c in colours} | {PANEL_RGB}
    finally:
        player.close()
