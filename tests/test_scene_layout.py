"""Layout from the graph: connectors per edge, skip arcs that clear boxes, lanes, the U shape."""

from __future__ import annotations

import numpy as np
import pytest
import scene_fixtures as fx

from render3d.scene.builder import build_scene

EPS = 1e-6


def segment_hits_box(p0: np.ndarray, p1: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Does segment p0→p1 pass through the open interior of the box [lo, hi] (slab test)?"""
    lo, hi = lo + EPS, hi - EPS
    d = p1 - p0
    t0, t1 = 0.0, 1.0
    for a in range(3):
        if abs(d[a]) < 1e-12:
            if p0[a] <= lo[a] or p0[a] >= hi[a]:
                return False
            continue
        ta, tb = (lo[a] - p0[a]) / d[a], (hi[a] - p0[a]) / d[a]
        t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
        if t0 >= t1:
            return False
    return True


def connector_hits(scene, connector) -> list[str]:
    blocks = scene.blocks
    hits = []
    for i, bid in enumerate(blocks.node_ids):
        if bid in (connector.src, connector.dst):
            continue
        pts = connector.points
        if any(segment_hits_box(pts[k], pts[k + 1], blocks.lower[i], blocks.upper[i]) for k in range(len(pts) - 1)):
            hits.append(bid)
    return hits


def block_edges(scene, trace):
    owner = {m: bid for bid, members in zip(scene.blocks.node_ids, scene.blocks.members) for m in members}
    return {(owner[a], owner[b]) for a, b in trace.edges if owner[a] != owner[b]}


def test_segment_box_helper():
    lo, hi = np.zeros(3), np.ones(3)
    assert segment_hits_box(np.array([-1, 0.5, 0.5]), np.array([2, 0.5, 0.5]), lo, hi)
    assert not segment_hits_box(np.array([-1, 1.5, 0.5]), np.array([2, 1.5, 0.5]), lo, hi)
    assert not segment_hits_box(np.array([-1, 1.0, 0.5]), np.array([2, 1.0, 0.5]), lo, hi)  # grazing a face


@pytest.mark.parametrize("make", [fx.chain, fx.diamond, fx.residual, fx.unet_like])
def test_every_synthetic_edge_has_exactly_one_connector(make):
    trace = make()
    scene = build_scene(trace, fold=False)
    pairs = [(c.src, c.dst) for c in scene.connectors]
    assert sorted(pairs) == sorted(set(trace.edges))


@pytest.mark.parametrize("fold", [False, True])
def test_every_resnet18_edge_has_exactly_one_connector(fold):
    trace = fx.resnet18_trace()
    scene = build_scene(trace, fold=fold, fold_repeats=False)
    pairs = [(c.src, c.dst) for c in scene.connectors]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == block_edges(scene, trace)
    if not fold:
        assert set(pairs) == set(trace.edges)


def test_every_googlenet_edge_has_exactly_one_connector():
    trace = fx.googlenet_trace()
    scene = build_scene(trace, fold=False)
    assert sorted((c.src, c.dst) for c in scene.connectors) == sorted(set(trace.edges))


def test_folding_merges_conv_bn_relu_into_one_block():
    scene = build_scene(fx.resnet18_trace(), fold_repeats=False)
    i = scene.blocks.index("layer1.0.conv1#1")
    assert scene.blocks.members[i] == ("layer1.0.conv1#1", "layer1.0.bn1#1", "layer1.0.relu#1")
    assert "layer1.0.bn1#1" not in scene.blocks.node_ids


@pytest.mark.parametrize("fold", [False, True])
def test_resnet18_residual_skips_are_arcs_that_clear_every_box(fold):
    scene = build_scene(fx.resnet18_trace(), fold=fold, fold_repeats=False)
    adds = [b for b in scene.blocks.node_ids if ".add#" in b]
    assert len(adds) == 8
    skips = [c for c in scene.connectors if c.kind == "skip"]
    assert sorted(c.dst for c in skips) == sorted(adds)
    for c in skips:
        assert connector_hits(scene, c) == [], c.src
        src_top = scene.blocks.upper[scene.blocks.index(c.src), 1]
        assert c.points[:, 1].max() > src_top


def test_skip_arc_flies_above_every_block_it_spans():
    scene = build_scene(fx.residual(blocks=1), fold=False)
    (skip,) = [c for c in scene.connectors if c.kind == "skip"]
    x0, x1 = skip.points[0, 0], skip.points[-1, 0]
    spanned = (scene.blocks.upper[:, 0] > x0) & (scene.blocks.lower[:, 0] < x1)
    assert skip.points[:, 1].max() > scene.blocks.upper[spanned, 1].max()


def test_flow_connectors_of_googlenet_clear_every_box():
    scene = build_scene(fx.googlenet_trace())
    for c in scene.connectors:
        assert connector_hits(scene, c) == [], (c.src, c.dst, c.kind)


def test_inception_branches_sit_in_distinct_z_lanes():
    scene = build_scene(fx.googlenet_trace())
    ids = scene.blocks.node_ids
    for block in ("inception3a", "inception4c", "inception5b"):
        firsts = [
            f"{block}.branch1.conv#1",
            f"{block}.branch2.0.conv#1",
            f"{block}.branch3.0.conv#1",
            f"{block}.branch4.0#1",
        ]
        z = [scene.blocks.centers[ids.index(b), 2] for b in firsts]
        assert len(set(np.round(z, 6))) == 4, (block, z)
        lower = [scene.blocks.lower[ids.index(b), 2] for b in firsts]
        upper = [scene.blocks.upper[ids.index(b), 2] for b in firsts]
        order = np.argsort(z)
        assert all(upper[order[k]] < lower[order[k + 1]] for k in range(3))


def test_diamond_branches_are_parallel_in_x_and_apart_in_z():
    scene = build_scene(fx.diamond(), fold=False)
    b = scene.blocks
    b1, c1 = b.index("b1#1"), b.index("c1#1")
    assert b.centers[b1, 0] == b.centers[c1, 0]
    assert b.centers[b1, 2] != b.centers[c1, 2]


def test_blocks_never_overlap():
    for trace in (fx.googlenet_trace(), fx.unet_trace(), fx.resnet18_trace()):
        scene = build_scene(trace)
        lo, hi = scene.blocks.lower, scene.blocks.upper
        overlap = np.all((lo[:, None] < hi[None] - EPS) & (lo[None] < hi[:, None] - EPS), axis=2)
        np.fill_diagonal(overlap, False)
        assert not overlap.any(), trace.model


def test_unet_is_drawn_as_a_u():
    scene = build_scene(fx.unet_trace())
    assert any("U" in note for note in scene.notes)
    b = scene.blocks
    enc = ["inc.0#1", "down.0.0#1", "down.1.0#1", "down.2.0#1"]
    dec = ["dec.2.3#1", "dec.1.3#1", "dec.0.3#1"]  # 64², 32², 16² (decoder runs coarse to fine)
    y_enc = [b.centers[b.index(i), 1] for i in enc]
    assert all(np.diff(y_enc) < 0)  # encoder descends as resolution drops
    y_dec = [b.centers[b.index(i), 1] for i in dec[::-1]]
    assert all(np.diff(y_dec) > 0)  # decoder climbs back up
    for e, d in zip(enc[:3], dec):
        assert b.centers[b.index(e), 1] == b.centers[b.index(d), 1]  # same resolution, same band
        assert b.centers[b.index(e), 0] < b.centers[b.index(d), 0]


def test_unet_bridges_clear_every_box():
    scene = build_scene(fx.unet_trace())
    bridges = [c for c in scene.connectors if c.kind == "skip"]
    assert len(bridges) == 3
    for c in bridges:
        assert connector_hits(scene, c) == []


def test_synthetic_unet_detected_but_resnet_is_not():
    assert build_scene(fx.unet_like(), fold=False).notes
    resnet = build_scene(fx.resnet18_trace())
    assert np.all(resnet.blocks.centers[:, 1] == 0)


def test_layout_line_disables_the_u():
    scene = build_scene(fx.unet_trace(), layout="line")
    assert np.all(scene.blocks.centers[:, 1] == 0)


def test_densenet_collapses_and_keeps_concat_edges():
    trace = fx.densenet_trace()
    scene = build_scene(trace)
    assert scene.notes[0] == "collapsed to depth 3: 433 blocks > 400"
    # members are the given trace's nodes, so every cross-block edge of the full trace has a connector
    assert sorted((c.src, c.dst) for c in scene.connectors) == sorted(block_edges(scene, trace))
    assert sum(c.kind == "skip" for c in scene.connectors) > 50
