"""Camera framing and screen-space label overlap, measured with the numpy pinhole projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scene_fixtures as fx

from render3d.scene.builder import build_scene, project
from render3d.scene.camera import box_corners
from render3d.scene.labels import label_pixel_boxes
from render3d.scene.model import Camera

SIZE = (1920, 1080)


def test_project_matches_the_pinhole_model():
    cam = Camera(position=(0.0, 0.0, 10.0), focal_point=(0.0, 0.0, 0.0), view_angle=90.0)
    px = project_stub(cam, np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0, 0, 20.0]]))
    focal = 540 / math.tan(math.radians(45))
    assert px[0].tolist() == [960.0, 540.0]
    assert px[1].tolist() == pytest.approx([960 + focal, 540.0])
    assert px[2].tolist() == pytest.approx([960.0, 540 - focal / 2])
    assert np.isnan(px[3]).all()  # behind the camera


def project_stub(camera, points):
    from render3d.scene.camera import project_points

    return project_points(camera, points, SIZE)


@pytest.mark.parametrize("make", [fx.seed_trace, fx.resnet18_trace, fx.googlenet_trace, fx.unet_trace])
def test_camera_frames_every_block_corner(make):
    scene = build_scene(make())
    px = project(scene, box_corners(scene.blocks.lower, scene.blocks.upper), SIZE)
    assert np.isfinite(px).all()
    assert px[:, 0].min() >= 0 and px[:, 0].max() <= SIZE[0]
    assert px[:, 1].min() >= 0 and px[:, 1].max() <= SIZE[1]


def test_camera_fills_the_width_for_a_long_model():
    scene = build_scene(fx.resnet18_trace())
    px = project(scene, box_corners(scene.blocks.lower, scene.blocks.upper), SIZE)
    assert px[:, 0].max() - px[:, 0].min() > 0.7 * SIZE[0]


def test_camera_is_a_three_quarter_view_from_front_above_side():
    scene = build_scene(fx.seed_trace())
    view = np.subtract(scene.camera.position, scene.camera.focal_point)
    assert view[1] > 0 and view[2] > 0 and view[0] < 0
    assert scene.camera.view_angle == 30.0


def overlaps(boxes: np.ndarray) -> list[tuple[int, int]]:
    x0, y0, x1, y1 = boxes.T
    hit = (x0[:, None] < x1[None]) & (x0[None] < x1[:, None]) & (y0[:, None] < y1[None]) & (y0[None] < y1[:, None])
    np.fill_diagonal(hit, False)
    return [tuple(p) for p in np.argwhere(np.triu(hit))]


@pytest.mark.parametrize("make", [fx.seed_trace, fx.resnet18_trace, fx.googlenet_trace])
def test_labels_do_not_overlap_for_the_default_camera(make):
    scene = build_scene(make())
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    assert overlaps(boxes) == []
    assert boxes[:, [0, 1]].min() >= 0 and boxes[:, 2].max() <= SIZE[0] and boxes[:, 3].max() <= SIZE[1]


def test_seed_cnn_labels_every_block():
    scene = build_scene(fx.seed_trace())
    assert scene.labels.node_ids == scene.blocks.node_ids
    assert scene.labels.texts[1] == "conv1\n+ReLU\n64×64×64"


def test_resnet18_labels_whole_main_path_when_only_main_is_asked():
    scene = build_scene(fx.resnet18_trace(), labels="main")
    assert "downsample" not in " ".join(scene.labels.node_ids)
    assert len(scene.labels) > 0


def test_labels_sit_above_their_blocks():
    scene = build_scene(fx.seed_trace())
    b = scene.blocks
    for nid, pos in zip(scene.labels.node_ids, scene.labels.positions):
        assert pos[1] > b.upper[b.index(nid), 1]


def test_crowded_labels_are_thinned_not_overlapped():
    scene = build_scene(fx.chain(200), fold=False)
    assert 0 < len(scene.labels) < 200
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    assert overlaps(boxes) == []


def test_labels_all_keeps_every_label_and_none_drops_them():
    assert len(build_scene(fx.chain(200), fold=False, labels="all").labels) == 202
    assert len(build_scene(fx.chain(5), labels="none").labels) == 0
