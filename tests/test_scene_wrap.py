"""Row wrapping of long models: rows at stage boundaries, cross-row connectors clear of boxes, the camera
framing every row, labels still apart."""

from __future__ import annotations

import numpy as np
import pytest
import scene_fixtures as fx
from test_scene_layout import block_edges, connector_hits

from render3d.scene.builder import SceneStyle, build_scene, project
from render3d.scene.camera import box_corners
from render3d.scene.labels import label_pixel_boxes

SIZE = (1920, 1080)


def rows_of(scene) -> np.ndarray:
    """Row index of every block from its y (rows are stacked downwards, one y per row here)."""
    ys = np.unique(np.round(scene.blocks.centers[:, 1], 6))[::-1]
    return np.searchsorted(-ys, -np.round(scene.blocks.centers[:, 1], 6))


def chain200():
    return build_scene(fx.chain(200), labels="auto")


def densenet201():
    return build_scene(fx.densenet201_trace())


CASES = {"chain200": chain200, "densenet201": densenet201}


@pytest.mark.parametrize("name", sorted(CASES))
def test_long_models_wrap_into_rows_with_auto(name):
    scene = CASES[name]()
    assert len(rows_of(scene).tolist()) and rows_of(scene).max() >= 1
    assert any(n.startswith("wrapped into") for n in scene.notes)


def test_never_keeps_one_row():
    scene = build_scene(fx.chain(200), wrap="never", labels="none")
    assert np.all(scene.blocks.centers[:, 1] == 0)
    assert not any("wrapped" in n for n in scene.notes)
    assert np.all(np.diff(scene.blocks.centers[:, 0]) > 0)


def test_short_models_do_not_wrap():
    for trace in (fx.chain(20), fx.resnet18_trace(), fx.googlenet_trace()):
        scene = build_scene(trace, labels="none")
        assert not any("wrapped" in n for n in scene.notes), trace.model


def test_integer_wrap_caps_blocks_per_row():
    scene = build_scene(fx.chain(50), wrap=12, labels="none")
    rows = rows_of(scene)
    assert rows.max() + 1 == 5  # 52 blocks (input, 50 convs, output), at most 12 per row
    assert np.bincount(rows).max() <= 12
    # every row reads left to right and starts at the left
    for r in range(rows.max() + 1):
        x = scene.blocks.centers[rows == r, 0]
        assert np.all(np.diff(x) > 0)
    starts = [scene.blocks.lower[rows == r, 0].min() for r in range(rows.max() + 1)]
    assert np.allclose(starts, starts[0])


def test_wrap_option_is_checked():
    for bad in ("sometimes", 1, 0, True):
        with pytest.raises(ValueError, match="wrap"):
            SceneStyle(wrap=bad)


def test_rows_are_stacked_downwards_without_overlap():
    scene = chain200()
    rows = rows_of(scene)
    lo, hi = scene.blocks.lower, scene.blocks.upper
    for r in range(rows.max()):
        assert lo[rows == r, 1].min() > hi[rows == r + 1, 1].max()


def test_densenet201_rows_are_stages():
    """Rows break where the resolution changes (at transition layers), so each row holds one resolution
    of dense layers (the stem may share the first row)."""
    scene = densenet201()
    rows = rows_of(scene)
    assert rows.max() + 1 >= 2
    ids = scene.blocks.node_ids
    firsts = [
        ids[int(np.flatnonzero(rows == r)[np.argmin(scene.blocks.centers[rows == r, 0])])]
        for r in range(1, rows.max() + 1)
    ]
    assert all(f.startswith("features.transition") for f in firsts), firsts
    for r in range(rows.max() + 1):
        dense = [i for i in np.flatnonzero(rows == r) if ".denselayer" in ids[i]]
        shapes = {scene.blocks.info[i].split("shape: ")[1].split("\n")[0].split("×")[-1] for i in dense}
        assert len(shapes) <= 2, (r, shapes)  # one stage per row (two when a row merges short stages)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_edge_has_exactly_one_connector_and_none_hits_a_box(name):
    scene = CASES[name]()
    trace = fx.chain(200) if name == "chain200" else fx.densenet201_trace()
    pairs = [(c.src, c.dst) for c in scene.connectors]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == block_edges(scene, trace)
    rows = dict(zip(scene.blocks.node_ids, rows_of(scene).tolist()))
    crossing = [c for c in scene.connectors if rows[c.src] != rows[c.dst]]
    assert crossing
    for c in crossing:  # the row-to-row connectors
        assert connector_hits(scene, c) == [], (c.src, c.dst)
    if name == "densenet201":  # skip arcs within a row still clear their boxes
        skips = [c for c in scene.connectors if c.kind == "skip" and rows[c.src] == rows[c.dst]]
        assert len(skips) > 100
        for c in skips[::7]:
            assert connector_hits(scene, c) == [], (c.src, c.dst)


@pytest.mark.parametrize("name", sorted(CASES))
def test_camera_frames_every_row(name):
    scene = CASES[name]()
    px = project(scene, box_corners(scene.blocks.lower, scene.blocks.upper), SIZE)
    assert np.isfinite(px).all()
    assert px[:, 0].min() >= 0 and px[:, 0].max() <= SIZE[0]
    assert px[:, 1].min() >= 0 and px[:, 1].max() <= SIZE[1]
    # tightly: the model spans most of the image both ways
    assert px[:, 0].max() - px[:, 0].min() > 0.75 * SIZE[0]
    assert px[:, 1].max() - px[:, 1].min() > 0.45 * SIZE[1]  # wide rows: width-bound
    for c in scene.connectors:
        q = project(scene, c.points, SIZE)
        assert (q[:, 0] >= 0).all() and (q[:, 0] <= SIZE[0]).all() and (q[:, 1] >= 0).all()
        assert (q[:, 1] <= SIZE[1]).all()


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrapping_draws_blocks_larger(name):
    wrapped = CASES[name]()
    trace = fx.chain(200) if name == "chain200" else fx.densenet201_trace()
    line = build_scene(trace, wrap="never", labels="none")

    def small_px(scene):  # diagonal of each block's front face on screen
        lo, hi = scene.blocks.lower, scene.blocks.upper
        a = project(scene, np.column_stack([lo[:, 0], lo[:, 1], hi[:, 2]]), SIZE)
        b = project(scene, hi, SIZE)
        return np.percentile(np.linalg.norm(b - a, axis=1), 10)  # the small, far blocks limit legibility

    assert small_px(wrapped) > 1.5 * small_px(line)


@pytest.mark.parametrize("name", sorted(CASES))
def test_labels_do_not_overlap_and_cover_several_rows(name):
    scene = CASES[name]()
    boxes = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px)
    assert len(boxes) >= 8
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (i, j)
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= SIZE[0]).all()
    rows = dict(zip(scene.blocks.node_ids, rows_of(scene).tolist()))
    assert len({rows[n] for n in scene.labels.node_ids}) >= 2
