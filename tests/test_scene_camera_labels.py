"""Camera framing and screen-space label overlap, measured with the numpy pinhole projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scene_fixtures as fx

from render3d.scene.builder import SceneStyle, build_scene, project
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
    assert scene.camera.view_angle == SceneStyle().view_angle


@pytest.mark.parametrize("make", [fx.seed_trace, fx.resnet18_trace, fx.unet_trace])
def test_camera_frames_tightly_in_both_directions(make):
    """The model (blocks and labels) fills the image: no thin strip with blank bands above and below."""
    scene = build_scene(make())
    px = project(scene, box_corners(scene.blocks.lower, scene.blocks.upper), SIZE)
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    x0, x1 = min(px[:, 0].min(), boxes[:, 0].min()), max(px[:, 0].max(), boxes[:, 2].max())
    y0, y1 = min(px[:, 1].min(), boxes[:, 1].min()), max(px[:, 1].max(), boxes[:, 3].max())
    assert x1 - x0 > 0.9 * SIZE[0]
    assert y1 - y0 > 0.7 * SIZE[1]


def test_long_chains_get_an_oblique_view():
    scene = build_scene(fx.resnet18_trace())
    view = np.subtract(scene.camera.position, scene.camera.focal_point)
    azimuth = math.degrees(math.atan2(-view[0], view[2]))
    assert azimuth > 25  # swung towards the input end, so the chain recedes diagonally


def test_fixed_azimuth_and_elevation_are_respected():
    scene = build_scene(fx.seed_trace(), azimuth=-10.0, elevation=20.0)
    view = np.subtract(scene.camera.position, scene.camera.focal_point)
    view /= np.linalg.norm(view)
    assert math.degrees(math.asin(view[1])) == pytest.approx(20.0)
    assert math.degrees(math.atan2(view[0], view[2])) == pytest.approx(-10.0)


@pytest.mark.parametrize("make", [fx.seed_trace, fx.resnet18_trace, fx.googlenet_trace])
def test_model_and_labels_stay_clear_of_the_overlays(make):
    from render3d.scene.camera import overlay_layout

    scene = build_scene(make())
    lay = overlay_layout(
        SIZE,
        title=scene.title,
        n_notes=len(scene.notes),
        legend=[n for n, _ in scene.legend],
        colorbar=bool(scene.feature_maps),
    )
    px = project(scene, box_corners(scene.blocks.lower, scene.blocks.upper), SIZE)
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    for x0, y0, x1, y1 in lay.keepouts():
        inside = (px[:, 0] > x0) & (px[:, 0] < x1) & (px[:, 1] > y0) & (px[:, 1] < y1)
        assert not inside.any()
        assert not ((boxes[:, 0] < x1) & (boxes[:, 2] > x0) & (boxes[:, 1] < y1) & (boxes[:, 3] > y0)).any()


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


def test_seed_cnn_labels_most_blocks_with_short_names():
    scene = build_scene(fx.seed_trace())
    assert len(scene.labels) >= 0.6 * len(scene.blocks)
    assert scene.labels.texts[scene.labels.node_ids.index("conv1#1")] == "conv1\n+ReLU\n64×64×64"


def test_labels_stay_off_other_blocks():
    scene = build_scene(fx.resnet18_trace())
    b = scene.blocks
    n = len(b)
    px = project(scene, box_corners(b.lower, b.upper), SIZE).reshape(8, n, 2)
    rects = np.column_stack([px[..., 0].min(0), px[..., 1].min(0), px[..., 0].max(0), px[..., 1].max(0)])
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    for nid, (x0, y0, x1, y1) in zip(scene.labels.node_ids, boxes):
        hit = (rects[:, 0] < x1) & (rects[:, 2] > x0) & (rects[:, 1] < y1) & (rects[:, 3] > y0)
        hit[b.index(nid)] = False
        assert not hit.any(), nid


def test_resnet18_labels_whole_main_path_when_only_main_is_asked():
    scene = build_scene(fx.resnet18_trace(), labels="main")
    assert "downsample" not in " ".join(scene.labels.node_ids)
    assert len(scene.labels) > 0


def test_labels_sit_above_or_below_their_blocks():
    scene = build_scene(fx.seed_trace())
    b = scene.blocks
    for nid, pos in zip(scene.labels.node_ids, scene.labels.positions):
        i = b.index(nid)
        assert pos[1] > b.upper[i, 1] or pos[1] < b.lower[i, 1]


def test_crowded_labels_are_thinned_not_overlapped():
    scene = build_scene(fx.chain(200), fold=False)
    assert 0 < len(scene.labels) < 200
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    assert overlaps(boxes) == []


def test_labels_all_keeps_every_label_and_none_drops_them():
    assert len(build_scene(fx.chain(200), fold=False, labels="all").labels) == 202
    assert len(build_scene(fx.chain(5), labels="none").labels) == 0
