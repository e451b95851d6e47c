"""Label placement on its own: which of a label's places it takes, given what is already on screen."""

from __future__ import annotations

import numpy as np

from render3d.scene.camera import project_points
from render3d.scene.labels import PAD_PX, label_box_px, place_labels
from render3d.scene.model import Camera

SIZE = (640, 360)
FONT_PX = 19.0
CAMERA = Camera(position=(0.0, 0.0, 10.0), focal_point=(0.0, 0.0, 0.0))
TOP, BOTTOM = np.array([[0.0, 0.5, 0.0]]), np.array([[0.0, -0.5, 0.0]])


def _place(obstacles: list[list[float]], owner: list[int] | None = None):
    labels = place_labels(
        ["conv1"],
        ["conv1"],
        TOP,
        np.zeros(1),
        CAMERA,
        size=SIZE,
        font_px=FONT_PX,
        thin=True,
        below=BOTTOM,
        obstacles=np.array(obstacles, dtype=float),
        owner=None if owner is None else np.array(owner),
    )
    return labels, project_points(CAMERA, labels.positions, SIZE)


def test_label_blocked_above_its_block_goes_below_it():
    (u_top, v_top), (_, v_bottom) = project_points(CAMERA, np.vstack([TOP, BOTTOM]), SIZE)
    labels, px = _place([[0.0, v_top - 60.0, 640.0, v_top - 1.0]])  # a band over the block, not its own
    w, h = label_box_px(["conv1"], FONT_PX)[0]
    assert labels.texts == ["conv1"]
    np.testing.assert_allclose(px[0], [u_top - w / 2, v_bottom + PAD_PX + h], atol=1e-6)


def test_own_block_box_is_cleared_not_avoided():
    rect = [280.0, 120.0, 360.0, 240.0]  # the label's own block as drawn, larger than its anchors
    labels, px = _place([rect], owner=[0])
    w, _ = label_box_px(["conv1"], FONT_PX)[0]
    assert labels.texts == ["conv1"]
    np.testing.assert_allclose(px[0], [320.0 - w / 2, 120.0 - PAD_PX], atol=1e-6)


def test_label_with_no_free_place_is_dropped():
    labels, _ = _place([[-10.0, -10.0, 650.0, 370.0]])  # a keep-out over the whole image
    assert (labels.texts, labels.positions.shape) == ([], (0, 3))
