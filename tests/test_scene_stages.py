"""build_scene's stages one at a time: each returns a value the next reads (render3d.scene.builder,
detail, framing)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import scene_fixtures as fx

from render3d.scene.builder import build_scene, draw_geometry, layout_inputs, layout_notes, run_graph_passes
from render3d.scene.camera import box_corners, framing_rects, project_points
from render3d.scene.detail import activation_detail, draw_feature_maps
from render3d.scene.fold import build_block_graph
from render3d.scene.framing import Drawing, frame_and_label, label_candidates
from render3d.scene.labels import label_pixel_boxes
from render3d.scene.layout import LayoutParams, layout_graph
from render3d.scene.style import SceneStyle
from render3d.scene.wrap import LayerSlots, plan_rows

STYLE = SceneStyle()
SMALL = SceneStyle(image_size=(640, 360))


def _diamond_stages(style: SceneStyle = STYLE):
    passed = run_graph_passes(fx.diamond(), style, ())
    graph = build_block_graph(passed.trace, fold=style.fold)
    params = layout_inputs(graph, passed.primary, style)
    layout = layout_graph(params)
    return passed, graph, params, layout, draw_geometry(graph, passed, layout, params, style)


def _chain_with_map():
    """A 3-conv chain whose middle conv captured a 16×32×32 activation."""
    data = np.random.default_rng(0).standard_normal((16, 32, 32)).astype(np.float32)
    trace = fx.with_activation(fx.chain(3), "conv1#1", data, "map", None)
    graph = build_block_graph(trace, fold=STYLE.fold)
    return run_graph_passes(trace, STYLE, ()), graph, layout_inputs(graph, None, STYLE)


def test_graph_passes_fold_resnet18_repeats_and_keep_the_original_members():
    passed = run_graph_passes(fx.resnet18_trace(), STYLE, ())
    assert (passed.title, passed.notes, passed.primary) == (
        "ResNet",
        ["folded 1 run of repeated blocks (×2)"],
        "output",
    )
    assert (len(passed.original.nodes), len(passed.trace.nodes)) == (71, 58)
    assert passed.members["layer1.0#1"][:2] == ("layer1.0.conv1#1", "layer1.0.bn1#1")
    assert passed.members["layer1.0#1"][-1] == "layer1.1.relu#2"


def test_layout_inputs_gather_sizes_ends_and_options():
    passed = run_graph_passes(fx.diamond(), STYLE, ())
    graph = build_block_graph(passed.trace, fold=STYLE.fold)
    params = layout_inputs(graph, passed.primary, STYLE)
    conv, cat, out = [4.2, 4.2, 1.47], [0.55, 0.55, 0.55], [4.2, 4.2, 1.92]
    np.testing.assert_allclose(params.sizes, [conv] * 5 + [cat, out])
    assert params.is_input.tolist() == [True] + [False] * 6
    assert params.is_output.tolist() == [False] * 6 + [True]
    assert params.repeats.tolist() == [1] * 7 and params.rise.tolist() == [0.0] * 7
    assert (params.stacks, params.plan_sizes, params.image_size, params.wrap) == (None, None, (1920, 1080), "auto")
    assert params.residuals is not None and params.residuals.edges == []


def test_activation_detail_deepens_only_the_block_with_a_map_and_plans_rows_with_the_old_sizes():
    _, graph, params = _chain_with_map()
    deeper, lods = activation_detail(graph, params, STYLE, "activations")
    expected = np.tile([5.1, 5.1, 1.92], (5, 1))
    expected[2, 2] = 8.5
    np.testing.assert_allclose(deeper.sizes, expected)
    assert deeper.plan_sizes is params.sizes
    assert list(lods) == [2] and lods[2].lod == "all"
    assert activation_detail(graph, params, STYLE, "architecture") == (params, {})


def test_layout_graph_places_the_diamond_from_its_params():
    _, _, _, layout, _ = _diamond_stages()
    assert layout.layer.tolist() == [0, 1, 2, 3, 2, 4, 5]
    assert layout.lane.tolist() == [0, 0, 0, 0, -1, 0, 0]
    assert layout.main.tolist() == [True, True, True, True, False, True, True]
    np.testing.assert_allclose(layout.centers[:, 0], [2.1, 7.9, 13.7, 19.5, 13.7, 23.475, 27.45])
    np.testing.assert_allclose(layout.centers[:, 2], [0, 0, 0, 0, -4.295, 0, 0])
    assert layout.n_rows == 1


def test_layout_params_rise_is_how_far_the_copies_behind_a_folded_block_reach():
    params = LayoutParams(
        src=np.array([0]),
        dst=np.array([1]),
        sizes=np.array([[1.0, 2.0, 1.0], [4.0, 1.0, 1.0]]),
        dims=np.ones((2, 3)),
        cls=np.zeros(2, dtype=np.int64),
        is_input=np.array([True, False]),
        is_output=np.array([False, True]),
        repeats=np.array([1, 6]),
        image_size=(640, 360),
    )
    # three copies (at most) behind the ×6 block, each stepped by 8 % of its larger face (0.32)
    np.testing.assert_allclose(params.rise, [0.0, 0.96])
    # layer slots: 1 wide, a 1.6 gap, then 4 wide
    np.testing.assert_allclose(layout_graph(params).centers, [[0.5, 0, 0], [4.6, 0, 0]])


def test_plan_rows_cuts_layer_slots_into_rows_of_at_most_wrap_layers():
    slots = LayerSlots(
        layer=np.arange(6),
        src=np.arange(5),
        dst=np.arange(1, 6),
        left=np.arange(6) * 3.0,
        right=np.arange(6) * 3.0 + 2,
        stage_key=np.zeros((6, 3)),
    )
    rows = plan_rows(slots, wrap=2, block_px=2.0, row_pitch=4.0, size=(640, 360))
    assert rows.tolist() == [0, 0, 1, 1, 2, 2]
    assert plan_rows(slots, wrap="never", block_px=2.0, row_pitch=4.0, size=(640, 360)).tolist() == [0] * 6


def test_draw_geometry_colours_blocks_by_category_and_routes_every_edge():
    _, graph, _, _, geometry = _diamond_stages()
    grey, blue, orange = (68, 68, 68), (0, 114, 178), (213, 94, 0)
    assert geometry.legend == [("Input/Output", grey), ("Conv", blue), ("Merge", orange)]
    assert geometry.blocks.colors.tolist() == [list(grey)] + [list(blue)] * 4 + [list(orange), list(grey)]
    assert len(geometry.connectors) == len(graph.src) == 7
    assert geometry.flag_notes == []


def test_layout_notes_name_the_u_of_an_encoder_decoder():
    passed = run_graph_passes(fx.unet_like(), STYLE, ())
    graph = build_block_graph(passed.trace, fold=STYLE.fold)
    params = layout_inputs(graph, passed.primary, STYLE)
    assert layout_notes(layout_graph(params), params) == ["encoder–decoder detected from shapes: drawn as a U"]


def test_draw_feature_maps_shows_the_captured_map_and_nothing_in_architecture_mode():
    passed, graph, params = _chain_with_map()
    deeper, lods = activation_detail(graph, params, STYLE, "activations")
    layout = layout_graph(deeper)
    blocks = draw_geometry(graph, passed, layout, deeper, STYLE).blocks
    maps = draw_feature_maps(graph, blocks, STYLE, lods, "activations")
    assert [(fm.node_id, fm.style, fm.values.shape) for fm in maps.feature_maps] == [
        ("conv1#1", "planes", (16, 32, 32))
    ]
    assert (maps.notes, maps.legend) == ([], [])
    none = draw_feature_maps(graph, blocks, STYLE, lods, "architecture")
    assert (none.feature_maps, none.notes, none.legend) == ([], [], [])


def test_draw_feature_maps_says_when_nothing_was_captured():
    passed, graph, params, layout, geometry = _diamond_stages()
    maps = draw_feature_maps(graph, geometry.blocks, STYLE, {}, "activations")
    assert maps.notes == ["no activations captured: trace with capture='reduced' or 'full' to see them"]


def test_label_candidates_texts_and_priority_main_path_first():
    _, graph, _, layout, geometry = _diamond_stages()
    candidates = label_candidates(graph, layout, geometry.blocks, STYLE)
    assert candidates.texts[:2] == ["input\n8×16×16", "a\n8×16×16"]
    assert candidates.texts[5] == "cat\n16×16×16"
    assert candidates.keep.tolist() == list(range(7))
    # the branch c1 (off the main path) and the glyph cat come after every main-path block
    assert candidates.priority.tolist() == [0, 1, 2, 4, 11, 21, 6]
    main_only = label_candidates(graph, layout, geometry.blocks, SceneStyle(labels="main"))
    assert main_only.keep.tolist() == [0, 1, 2, 3, 5, 6]


def test_frame_and_label_keeps_every_block_and_label_inside_the_image():
    _, graph, _, layout, geometry = _diamond_stages(SMALL)
    candidates = label_candidates(graph, layout, geometry.blocks, SMALL)
    drawing = Drawing(geometry.blocks, geometry.connectors, [])
    camera, labels = frame_and_label(drawing, candidates, [], SMALL, wrapped=False)
    px = project_points(camera, box_corners(geometry.blocks.lower, geometry.blocks.upper), (640, 360))
    assert px.min() >= 0 and px[:, 0].max() <= 640 and px[:, 1].max() <= 360
    assert labels.node_ids == ["input.0", "a#1", "b1#1", "b2#1", "c1#1", "output"]
    boxes = label_pixel_boxes(labels, camera, (640, 360), labels.font_px)
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 640 and boxes[:, 3].max() <= 360


def test_framing_rects_add_the_image_below_a_top_left_overlay():
    assert framing_rects((640, 360), 9.0, []) == [(9.0, 9.0, 631.0, 351.0)]
    rects = framing_rects((640, 360), 9.0, [(0.0, 0.0, 200.0, 60.0)])
    assert rects == [(9.0, 9.0, 631.0, 351.0), (204.5, 9.0, 631.0, 351.0), (9.0, 64.5, 631.0, 351.0)]


def test_the_built_scene_parts_are_frozen():
    scene = build_scene(fx.chain(2), style=SMALL)
    with pytest.raises(FrozenInstanceError):
        scene.camera.view_angle = 10.0  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        scene.blocks.info = []  # type: ignore[misc]
