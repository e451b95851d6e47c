"""Frame timeline, captions and the feature-value mapping (pure numpy, no GL)."""

from __future__ import annotations

import numpy as np
import pytest
from record_fixtures import make_recording

from render3d.record import load_recording
from render3d.record.frames import Timeline, caption, feature_values, format_metric, segment, source_node
from render3d.scene.builder import build_scene


def test_timeline_counts_and_positions():
    t = Timeline(10, 15)
    assert len(t) == 9 * 15 + 1
    assert t.position(0) == 0.0 and t.position(15) == 1.0 and t.position(len(t) - 1) == 9.0
    assert t.position(7) == pytest.approx(7 / 15)
    assert len(Timeline(1, 4)) == 4 and Timeline(1, 4).position(3) == 0.0
    assert segment(2.25, 4) == (2, 0.25) and segment(3.0, 4) == (2, 1.0) and segment(0.0, 1) == (0, 0.0)
    with pytest.raises(ValueError, match="frames_per_epoch"):
        Timeline(3, 0)


def test_caption_format():
    assert caption(3, 10, {"loss": 0.41234, "acc": 0.912}) == "epoch 3/10 · loss 0.412 · acc 91.2%"
    assert caption(2.5, 10, {}) == "epoch 2.5/10"
    assert format_metric("test_acc", 0.5) == "test_acc 50.0%"
    assert format_metric("loss", 12.3456) == "loss 12.35"
    assert format_metric("acc", 93.1) == "acc 93.1"  # already a percentage: left alone
    assert format_metric("step", 1200) == "step 1,200"


def test_feature_values_use_the_scenes_own_reduction(tmp_path):
    rec = load_recording(make_recording(tmp_path / "rec", 2))
    for style in ({}, {"lod": "slab"}, {"lod": "topk", "topk": 3}, {"volume": True}, {"max_bar_cells": 4}):
        trace = rec.trace(1)
        scene = build_scene(trace, "activations", **style)
        assert scene.feature_maps
        for fm in scene.feature_maps:
            node = trace[source_node(scene, fm.node_id)]
            np.testing.assert_allclose(feature_values(fm, node, scene_style(style)), fm.values, rtol=0, atol=1e-6)


def test_feature_values_keep_the_first_snapshots_channels(tmp_path):
    rec = load_recording(make_recording(tmp_path / "rec", 2))
    scene = build_scene(rec.trace(0), "activations", lod="topk", topk=2)
    fm = next(f for f in scene.feature_maps if f.style == "planes" and f.channels is not None and len(f.channels) == 2)
    later = rec.trace(1)[source_node(scene, fm.node_id)]
    values = feature_values(fm, later, scene_style({"lod": "topk", "topk": 2}))
    data = later.activation.data.astype(np.float32)
    np.testing.assert_allclose(values, data[fm.channels])


def scene_style(overrides):
    from render3d.scene.style import SceneStyle

    return SceneStyle().with_overrides(**overrides)


def test_reading_a_recording_needs_neither_torch_nor_vtk():
    import subprocess
    import sys

    code = (
        "import sys, render3d.record.recording, render3d.record.frames; "
        "print([m for m in ('torch', 'vtk', 'pyvista') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
