"""mode="activations": which blocks get feature maps, their shapes, level of detail, colour limits."""

from __future__ import annotations

import numpy as np
import pytest
import scene_fixtures as fx

from render3d.graph import Stats
from render3d.scene.builder import build_scene
from render3d.scene.model import feature_map_bounds


def stats(lo: float, hi: float, p1: float, p99: float) -> Stats:
    return Stats(
        min=lo, max=hi, mean=0.0, std=1.0, p1=p1, p99=p99, zero_fraction=0.0, nan_count=0, inf_count=0, numel=1
    )


@pytest.fixture(scope="module")
def seed_scene():
    return build_scene(fx.seed_trace(), "activations")


def test_seed_cnn_maps_for_every_non_glyph_block(seed_scene):
    ids = [fm.node_id for fm in seed_scene.feature_maps]
    assert ids == [
        "input.0",
        "conv1#1",
        "pool#1",
        "conv2#1",
        "pool#2",
        "conv3#1",
        "pool#3",
        "conv4#1",
        "pool#4",
        "fc1#1",
        "fc2#1",
    ]


def test_seed_cnn_map_shapes_follow_the_captured_activation(seed_scene):
    trace = fx.seed_trace()
    fms = {fm.node_id: fm for fm in seed_scene.feature_maps}
    conv1 = fms["conv1#1"]  # folded conv1+relu: shows the relu output
    data = trace.nodes["relu#1"].activation.data
    assert conv1.style in ("planes", "slab")
    assert conv1.values.shape[1:] == data.shape[1:]
    assert fms["input.0"].values.shape == (3, 32, 32)
    assert fms["fc1#1"].style == "bars" and fms["fc1#1"].values.shape == (1, 1, 256)
    assert fms["fc2#1"].values.shape == (1, 1, 2)


def test_seed_cnn_clim_is_the_layers_p1_p99(seed_scene):
    trace = fx.seed_trace()
    fms = {fm.node_id: fm for fm in seed_scene.feature_maps}
    for block, last in [("conv1#1", "relu#1"), ("pool#2", "pool#2"), ("fc2#1", "fc2#1")]:
        st = trace.nodes[last].stats
        lo, hi = (st.p1, st.p99) if st.p99 > st.p1 else (st.min, st.max)
        assert fms[block].clim == (lo, hi)
        assert fms[block].clim[1] > fms[block].clim[0]


def test_seed_cnn_scene_colour_settings(seed_scene):
    assert seed_scene.cmap == "viridis"
    assert seed_scene.colorbar_title == "activation (per-layer p1–p99)"
    assert build_scene(fx.seed_trace()).feature_maps == []


def test_feature_maps_stay_inside_their_blocks(seed_scene):
    b = seed_scene.blocks
    for fm in seed_scene.feature_maps:
        lo, hi = feature_map_bounds(fm)
        i = b.index(fm.node_id)
        assert np.all(lo >= b.lower[i] - 1e-9) and np.all(hi <= b.upper[i] + 1e-9), fm.node_id


@pytest.mark.parametrize(("lod", "style", "k"), [("slab", "slab", 1), ("topk", "planes", 8), ("all", "planes", 32)])
def test_lod_picks_slab_topk_or_all(lod, style, k):
    scene = build_scene(fx.seed_trace(), "activations", lod=lod)
    fm = next(f for f in scene.feature_maps if f.node_id == "conv2#1")
    assert fm.style == style and fm.values.shape[0] == k


def test_topk_keeps_the_strongest_channels():
    trace = fx.chain(1, shape=(1, 4, 2, 2))
    data = np.zeros((4, 2, 2))
    data[1], data[3] = 5.0, -7.0
    fx.with_activation(trace, "conv0#1", data, "map", stats(-7, 5, -7, 5))
    fm = build_scene(trace, "activations", lod="topk", topk=2).feature_maps[0]
    assert fm.channels.tolist() == [1, 3]
    assert fm.values[:, 0, 0].tolist() == [5.0, -7.0]


def test_constant_activation_never_gets_a_zero_width_range():
    trace = fx.chain(1, shape=(1, 2, 2, 2))
    fx.with_activation(trace, "conv0#1", np.zeros((2, 2, 2)), "map", stats(0, 0, 0, 0))
    lo, hi = build_scene(trace, "activations").feature_maps[0].clim
    assert hi > lo


def test_clim_falls_back_to_min_max_then_data():
    trace = fx.chain(2, shape=(1, 2, 2, 2))
    fx.with_activation(trace, "conv0#1", np.arange(8.0).reshape(2, 2, 2), "map", stats(-1, 3, 2, 2))
    fx.with_activation(trace, "conv1#1", np.arange(8.0).reshape(2, 2, 2), "map", None)
    clims = [fm.clim for fm in build_scene(trace, "activations").feature_maps]
    assert clims == [(-1.0, 3.0), (0.0, 7.0)]


def test_volume_option_gives_a_volume_inside_the_block():
    scene = build_scene(fx.seed_trace(), "activations", volume=True)
    fm = next(f for f in scene.feature_maps if f.node_id == "conv3#1")
    assert fm.style == "volume" and fm.values.ndim == 3
    lo, hi = feature_map_bounds(fm)
    i = scene.blocks.index("conv3#1")
    assert np.all(lo >= scene.blocks.lower[i] - 1e-9) and np.all(hi <= scene.blocks.upper[i] + 1e-9)


def test_tokens_become_one_plane():
    trace = fx.chain(1, shape=(1, 6, 10))
    fx.with_activation(trace, "conv0#1", np.ones((6, 10)), "tokens", None)
    fm = build_scene(trace, "activations").feature_maps[0]
    assert fm.style == "planes" and fm.values.shape == (1, 6, 10)


def test_video_volume_is_averaged_over_time():
    trace = fx.chain(1, shape=(1, 2, 3, 4, 4))
    fx.with_activation(trace, "conv0#1", np.ones((2, 3, 4, 4)), "volume", None)
    fm = build_scene(trace, "activations", lod="all").feature_maps[0]
    assert fm.values.shape == (2, 4, 4)


def test_long_vectors_are_capped_at_max_bar_cells():
    trace = fx.chain(1, shape=(1, 1000))
    fx.with_activation(trace, "conv0#1", np.arange(1000.0), "vector", None)
    fm = build_scene(trace, "activations").feature_maps[0]
    assert fm.values.shape == (1, 1, 250)
    assert fm.values[0, 0, 0] == pytest.approx(1.5)


def test_no_activations_adds_a_note():
    scene = build_scene(fx.chain(2), "activations")
    assert scene.feature_maps == []
    assert "no activations captured" in scene.notes[-1]


def test_plane_stacks_are_spread_with_readable_gaps_and_the_front_plane_on_the_front_face(seed_scene):
    from render3d.scene.activations import MAX_STACK, PLANE_GAP
    from render3d.scene.detail import AUTO_ALL_PLANES

    b = seed_scene.blocks
    stacks = [fm for fm in seed_scene.feature_maps if fm.style == "planes" and fm.values.shape[0] > 1]
    assert {fm.node_id for fm in stacks} >= {"input.0", "conv1#1", "conv2#1", "conv3#1"}
    for fm in stacks:
        i = b.index(fm.node_id)
        k = fm.values.shape[0]
        assert k <= AUTO_ALL_PLANES
        face = max(fm.plane_size)
        assert fm.spacing >= 0.9 * min(PLANE_GAP, MAX_STACK / (k - 1)) * face, fm.node_id
        lo, hi = feature_map_bounds(fm)
        assert hi[2] == pytest.approx(b.upper[i, 2], abs=0.05 * b.sizes[i, 2])  # front plane at the front


def test_architecture_boxes_keep_their_depth():
    arch = build_scene(fx.seed_trace())
    act = build_scene(fx.seed_trace(), "activations")
    i = arch.blocks.index("conv1#1")
    assert act.blocks.sizes[i, 2] > arch.blocks.sizes[i, 2]
    assert np.allclose(act.blocks.sizes[:, :2], arch.blocks.sizes[:, :2])


def test_even_attention_reads_mid_scale_and_focused_attention_reaches_the_top():
    from render3d.graph import Activation, Node
    from render3d.scene.activations import attention_map
    from render3d.scene.style import SceneStyle

    def head_planes(att: np.ndarray):
        act = Activation(data=np.zeros((4, 8), np.float16), layout="tokens", full_shape=(1, 4, 8), attention=att)
        node = Node(id="attn#1", kind="module", type="Attention", scope="attn", call=1, shape=(1, 4, 8), activation=act)
        return attention_map("attn#1", node, np.zeros(3), np.ones(3), SceneStyle())

    even = head_planes(np.full((2, 4, 4), 0.25, np.float16))
    assert even.clim == (0.0, 0.5)  # uniform weight 1/4 sits at the middle of the colour bar
    focused = np.zeros((2, 4, 4), np.float16)
    focused[:, :, 0] = 1.0
    assert head_planes(focused).clim == (0.0, 1.0)
