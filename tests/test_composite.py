"""Composed video frames (feature maps recoloured in numpy over the last render) against real renders
of the same position: the demo's recording (planes, a slab, bar columns with edges) at 640×360."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from render3d.record.animate import FramePlan, Player, render_frames
from render3d.rendering.composite import TOLERANCE, FeatureComposer
from render3d.rendering.png import read_rgb

DIGITS = Path(__file__).resolve().parent.parent / "scenes" / "recordings" / "digits"
SIZE = (640, 360)


@pytest.fixture(scope="module")
def player():
    player = Player(DIGITS, size=SIZE)
    yield player
    player.close()


def _rendered(player: Player, position: float) -> np.ndarray:
    player.set_position(position)
    return read_rgb(player.plotter)


def test_a_composed_frame_is_the_rendered_frame_within_the_tolerance(player):
    background = _rendered(player, 3.0)
    composer = FeatureComposer.capture(player.plotter, player.actors.feature_actors)
    assert composer is not None
    truth = _rendered(player, 3.4)  # the same caption (epoch 3): only the feature maps' colours change
    diff = np.abs(composer.compose(background).astype(int) - truth)
    assert (np.abs(truth.astype(int) - background) > 0).any(axis=2).sum() > 5000  # the frames do differ
    assert diff.max() <= TOLERANCE
    # measured: 1-level differences in 134 pixels at the bars' edges (of 61,377 composed), mean 0.00024 levels
    assert diff.mean() <= 0.001
    assert (diff > 0).any(axis=2).sum() <= 0.01 * composer.pixels


def test_composing_into_a_wider_frame_fills_its_left_part_only(player):
    background = _rendered(player, 5.0)
    composer = FeatureComposer.capture(player.plotter, player.actors.feature_actors)
    assert composer is not None
    player.set_position(5.3)
    alone = composer.compose(background)
    wide = np.full((SIZE[1], SIZE[0] + 48, 3), 7, dtype=np.uint8)
    assert composer.compose(background, wide) is wide
    np.testing.assert_array_equal(wide[:, : SIZE[0]], alone)
    assert (wide[:, SIZE[0] :] == 7).all()


def test_capture_puts_the_colours_back(player):
    player.set_position(6.5)
    before = read_rgb(player.plotter)
    FeatureComposer.capture(player.plotter, player.actors.feature_actors)
    np.testing.assert_array_equal(read_rgb(player.plotter), before)


def test_a_video_composes_between_captions_and_renders_at_each_change(monkeypatch):
    import render3d.rendering.png as png

    player = Player(DIGITS, size=SIZE)
    try:
        positions = (2.0, 2.1, 2.2, 2.3, 2.6, 2.7)  # the caption turns to epoch 3 at 2.5
        truth = [_rendered(player, p) for p in positions]
        renders = []
        real = png.read_rgb
        monkeypatch.setattr(png, "read_rgb", lambda plotter: (renders.append(1), real(plotter))[1])
        frames = list(render_frames(player, FramePlan(positions)))
    finally:
        player.close()
    assert len(renders) == 2  # the first frame and the caption change; the rest are composed
    for frame, expected in zip(frames, truth, strict=True):
        assert np.abs(frame.astype(int) - expected).max() <= TOLERANCE


def test_an_orbit_renders_every_frame(monkeypatch):
    player = Player(DIGITS, size=SIZE)
    captures = []
    monkeypatch.setattr(FeatureComposer, "capture", classmethod(lambda cls, *a: captures.append(1)))
    try:
        frames = list(render_frames(player, FramePlan((2.0, 2.1, 2.2), angles=(0.0, 5.0, 10.0))))
    finally:
        player.close()
    assert captures == [] and len(frames) == 3


def test_volumes_are_not_composed():
    player = Player(DIGITS, size=SIZE, volume=True)
    try:
        assert {fm.style for fm in player.scene.feature_maps} >= {"volume"}
        player.set_position(1.0)
        assert FeatureComposer.capture(player.plotter, player.actors.feature_actors) is None
    finally:
        player.close()
