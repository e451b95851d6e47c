"""build_scene as a whole: imports, option validation, legend, tooltips, block budget, speed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scene_fixtures as fx

import render3d
from render3d.scene.builder import SceneStyle, build_scene
from render3d.scene.style import CATEGORIES, PALETTES


def test_scene_builder_imports_neither_torch_nor_vtk_nor_pyvista():
    code = (
        "import sys, render3d.scene.builder, render3d.scene.camera\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'vtk', 'vtkmodules', 'pyvista'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_build_scene_is_exported_lazily():
    assert render3d.build_scene is build_scene


def test_unknown_mode_names_the_parameter_and_choices():
    with pytest.raises(ValueError, match=r"^mode must be one of 'architecture', 'activations'; got 'x'$"):
        build_scene(fx.chain(1), "x")


@pytest.mark.parametrize("option", ["lod", "layout", "labels", "palette", "sizing"])
def test_bad_style_value_names_the_option(option):
    with pytest.raises(ValueError, match=rf"^{option} must be one of .*; got 'nope'$"):
        build_scene(fx.chain(1), **{option: "nope"})


def test_unknown_style_option_is_a_type_error():
    with pytest.raises(TypeError, match="unknown style option 'lodd'"):
        build_scene(fx.chain(1), lodd="slab")


def test_style_object_and_overrides_combine():
    scene = build_scene(fx.chain(3), style=SceneStyle(fold=False, labels="none"), labels="all")
    assert len(scene.labels) == 5 and len(scene.blocks) == 5


def test_palettes_are_complete_and_distinct():
    for palette in PALETTES.values():
        assert set(palette) == set(CATEGORIES)
        assert len(set(palette.values())) == len(CATEGORIES)


def test_legend_lists_present_categories_in_order():
    scene = build_scene(fx.seed_trace())
    assert scene.legend == [
        (c, PALETTES["okabe-ito"][c]) for c in ("Input/Output", "Conv", "Linear", "Pool", "Reshape/other")
    ]
    i = scene.blocks.index("conv1#1")
    assert scene.blocks.categories[i] == "Conv"
    assert tuple(scene.blocks.colors[i]) == PALETTES["okabe-ito"]["Conv"]


def test_tol_palette_recolours_blocks():
    scene = build_scene(fx.seed_trace(), palette="tol")
    assert tuple(scene.blocks.colors[scene.blocks.index("conv1#1")]) == PALETTES["tol"]["Conv"]


def test_resnet_categories():
    scene = build_scene(fx.resnet18_trace(), fold=False, fold_repeats=False)
    cat = dict(zip(scene.blocks.node_ids, scene.blocks.categories))
    assert cat["bn1#1"] == "Norm" and cat["relu#1"] == "Activation" and cat["maxpool#1"] == "Pool"
    assert cat["layer1.0.add#1"] == "Merge" and cat["fc#1"] == "Linear" and cat["flatten#1"] == "Reshape/other"


def test_info_has_name_type_shape_params_and_stats():
    scene = build_scene(fx.seed_trace())
    info = scene.blocks.info[scene.blocks.index("fc1#1")]
    lines = info.split("\n")
    assert lines[0] == "fc1#1 … relu#5"
    assert lines[1] == "type: Linear + relu"
    assert "shape: 512" in lines and "params: 1,049,088" in lines
    assert any(line.startswith("p1 / p99: ") for line in lines)
    assert any(line.startswith("zero fraction: ") for line in lines)


def test_fold_false_keeps_every_node_as_a_block():
    trace = fx.seed_trace()
    scene = build_scene(trace, fold=False)
    assert scene.blocks.node_ids == list(trace.nodes)
    assert np.all(scene.blocks.repeats == 1)


def test_glyph_ops_are_small_cubes_when_folding():
    scene = build_scene(fx.seed_trace())
    size = scene.blocks.sizes[scene.blocks.index("view#1")]
    assert np.all(size == size[0]) and size[0] < 1.0


def test_max_blocks_collapses_to_the_deepest_depth_that_fits():
    trace = fx.big_residual(200)  # 602 nodes
    scene = build_scene(trace, max_blocks=400, fold=False, fold_repeats=False)
    assert scene.notes[0] == "collapsed to depth 2: 602 blocks > 400"
    assert scene.title == "BigResidual (depth 2)"
    assert len(scene.blocks) == 202  # input, 200 residual blocks, output
    scene = build_scene(trace, max_blocks=100, fold_repeats=False)
    assert scene.notes[0] == "collapsed to depth 1: 602 blocks > 100"
    assert len(scene.blocks) == 3


def test_max_blocks_uses_depth_2_when_it_fits():
    trace = fx.resnet18_trace()  # 71 nodes
    scene = build_scene(trace, max_blocks=60, fold=False, fold_repeats=False)
    assert scene.notes[0] == "collapsed to depth 2: 71 blocks > 60"
    assert "layer1.0#1" in scene.blocks.node_ids


def test_5000_block_scene_draws_every_node_and_edge():
    # how fast: benchmarks/scene_build.py (timings do not belong in unit tests on a shared machine)
    trace = fx.big_residual(1666)
    assert len(trace) == 5000
    scene = build_scene(trace, max_blocks=10_000, fold=False, fold_repeats=False)
    assert len(scene.blocks) == 5000 and len(scene.connectors) == len(trace.edges)


def test_bounds_cover_blocks_and_connectors():
    scene = build_scene(fx.residual())
    lo, hi = scene.bounds
    assert np.all(lo <= scene.blocks.lower.min(axis=0)) and np.all(hi >= scene.blocks.upper.max(axis=0))
    assert hi[1] >= max(c.points[:, 1].max() for c in scene.connectors)
