"""No two drawn boxes intersect, wrapped rows use the frame's width, one layout in both modes."""

from __future__ import annotations

import layout_fixtures as lf
import numpy as np
import pytest

from render3d.scene.builder import build_scene
from render3d.scene.camera import box_corners, project
from render3d.scene.model import repeat_shadows
from render3d.scene.overlap import intersecting_pairs, overlapping_blocks

SIZE = (1280, 720)


def test_intersecting_pairs_counts_overlap_but_not_touching_or_own_parts():
    lower = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [1, 0, 0], [0.2, 0.2, 0.2]], dtype=float)
    upper = np.array([[1, 1, 1], [1.5, 1.5, 1.5], [2, 1, 1], [0.9, 0.9, 0.9]], dtype=float)
    owner = np.array([0, 1, 2, 0])  # box 3 is a part of block 0 (a ×N copy): never a pair with it
    pairs = intersecting_pairs(lower, upper, owner)
    # 0∩1 and 1∩2 overlap in volume; 0 and 2 only share the face x = 1
    assert pairs.tolist() == [[0, 1], [1, 2]]


MODELS = [
    "smp.DeepLabV3Plus",
    "smp.FPN",
    "smp.PSPNet",
    "smp.UnetPlusPlus",
    "tv.deeplabv3_mobilenet_v3_large",
    "tv.fasterrcnn_mobilenet_v3_large_fpn",
    "tv.regnet_y_400mf",
    "hf.CLIPVision",
    "hf.T5",
]


@pytest.mark.parametrize("name", MODELS)
def test_no_two_blocks_of_a_real_model_intersect(name):
    scene = build_scene(lf.trace_of(name), image_size=SIZE)
    assert overlapping_blocks(scene) == []


def test_parallel_blocks_of_one_attention_side_car_get_their_own_lanes():
    scene = build_scene(lf.trace_of("hf.CLIPVision"), image_size=SIZE)
    b = scene.blocks
    qkv = [b.index(f"encoder.layers.0.self_attn.{p}_proj#1") for p in "qkv"]
    assert len({round(float(b.centers[i, 2]), 6) for i in qkv}) == 3
    assert overlapping_blocks(scene) == []


def _width_share(scene, size) -> float:
    s_lo, s_hi, _ = repeat_shadows(scene.blocks)
    corners = np.concatenate([box_corners(scene.blocks.lower, scene.blocks.upper), box_corners(s_lo, s_hi)])
    px = project(scene, corners, size)
    return float((np.nanmax(px[:, 0]) - np.nanmin(px[:, 0])) / size[0])


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_wrapped_swin_spans_most_of_the_frame_width(size):
    scene = build_scene(lf.swin_t_trace(), image_size=size)
    assert "wrapped into 3 rows, read top to bottom" in scene.notes
    assert _width_share(scene, size) >= 0.85  # 0.91 measured at both sizes
    assert overlapping_blocks(scene) == []


def _rows_and_order(scene) -> tuple[np.ndarray, np.ndarray]:
    """Row of every block (0 = top, from the rows' centre lines) and its rank along x."""
    y = scene.blocks.centers[:, 1]
    levels = np.unique(y)[::-1]
    return np.searchsorted(-levels, -y), np.argsort(np.argsort(scene.blocks.centers[:, 0], kind="stable"))


def test_swin_has_the_same_rows_and_order_in_both_modes():
    trace = lf.swin_t_trace()
    arch = build_scene(trace, "architecture", image_size=SIZE)
    acts = build_scene(trace, "activations", image_size=SIZE)
    assert acts.feature_maps and arch.blocks.node_ids == acts.blocks.node_ids
    rows_a, order_a = _rows_and_order(arch)
    rows_b, order_b = _rows_and_order(acts)
    assert rows_a.max() == 2
    assert np.array_equal(rows_a, rows_b) and np.array_equal(order_a, order_b)
    assert overlapping_blocks(acts) == []


def test_rows_are_cut_between_residual_blocks():
    scene = build_scene(lf.trace_of("tv.regnet_y_400mf"), image_size=SIZE, fold_repeats=False)
    rows, _ = _rows_and_order(scene)
    row = dict(zip(scene.blocks.node_ids, rows.tolist()))
    sources = {c.src for c in scene.connectors if row[c.src] != row[c.dst]}
    assert rows.max() >= 1 and len(sources) == rows.max()  # one tensor crosses each cut
    assert overlapping_blocks(scene) == []
