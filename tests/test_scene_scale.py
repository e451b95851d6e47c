"""Big models: folded repeats (×N), collapse keeping every cross-block edge, residual spine,
attention-head planes, level of detail by screen size, 5000-block speed."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import scene_fixtures as fx

from render3d.graph import Activation
from render3d.scene.builder import build_scene
from render3d.scene.model import feature_map_bounds, repeat_shadows


def block_edges(scene, trace):
    owner = {m: bid for bid, members in zip(scene.blocks.node_ids, scene.blocks.members) for m in members}
    return {(owner[a], owner[b]) for a, b in trace.edges if owner[a] != owner[b]}


@cache
def resnet152_trace():
    import torch
    import torchvision

    import render3d

    return render3d.trace(torchvision.models.resnet152(), torch.randn(1, 3, 224, 224), capture="none", device="meta")


@cache
def vit_trace():
    """A small torchvision ViT (2 layers, 4 heads) with captured activations and attention maps."""
    import torch
    from torchvision.models.vision_transformer import VisionTransformer

    import render3d

    torch.manual_seed(0)
    model = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64, num_classes=10
    ).eval()
    with torch.no_grad():
        return render3d.trace(model, torch.randn(1, 3, 32, 32), capture="reduced")


# --- folding and collapsing keep every edge --------------------------------------------------------


@pytest.mark.parametrize("make", [fx.big_residual, resnet152_trace, fx.densenet_trace])
def test_every_cross_block_edge_has_a_connector_after_folding(make):
    trace = make() if make is not fx.big_residual else fx.big_residual(300)
    scene = build_scene(trace, labels="none")
    pairs = {(c.src, c.dst) for c in scene.connectors}
    assert pairs == block_edges(scene, trace)
    assert sum(len(m) for m in scene.blocks.members) == len(trace)  # every node drawn, once


def test_resnet152_folds_into_badged_blocks():
    scene = build_scene(resnet152_trace())
    b = scene.blocks
    reps = dict(zip(b.node_ids, b.repeats.tolist()))
    assert reps["layer3.1#1"] == 35 and reps["layer2.1#1"] == 7
    assert len(b) < 60
    i = b.index("layer3.1#1")
    assert b.folded[i] == tuple(f"layer3.{k}#1" for k in range(1, 36))
    assert "×35" in b.info[i] and "layer3.35#1" in b.info[i]
    assert any(t.startswith("layer3.1 ×35") for t in scene.labels.texts)  # the badge's label is kept
    assert scene.notes[0] == "folded 4 runs of repeated blocks (×2..×35)"
    lo, hi, owner = repeat_shadows(b)
    assert np.bincount(owner, minlength=len(b))[i] == 3  # a deck of at most three copies
    assert (lo[owner == i][:, 2] < b.lower[i, 2]).all()  # stacked behind


def test_fold_repeats_off_draws_every_block():
    scene = build_scene(resnet152_trace(), fold_repeats=False, labels="none")
    assert (scene.blocks.repeats == 1).all()
    assert scene.notes[0].startswith("collapsed to depth")  # 517 nodes > 400


def test_collapse_happens_only_when_folding_is_not_enough():
    trace = fx.big_residual(300)  # 902 nodes, all blocks identical
    scene = build_scene(trace, max_blocks=400, labels="none")
    assert not any("collapsed" in n for n in scene.notes)
    assert len(scene.blocks) < 10
    scene = build_scene(trace, max_blocks=400, labels="none", fold_repeats=False)
    assert scene.notes[0] == "collapsed to depth 2: 902 blocks > 400"


def test_unfold_first_draws_one_layer_in_full():
    scene = build_scene(vit_trace(), labels="none")
    ids = scene.blocks.node_ids
    assert "encoder.layers.encoder_layer_0.self_attention#1" in ids
    i = ids.index("encoder.layers.encoder_layer_1#1")
    assert scene.blocks.repeats[i] == 1  # 2 layers: the first in full, then one
    never = build_scene(vit_trace(), labels="none", unfold_first="never")
    assert never.blocks.repeats[never.blocks.index("encoder.layers.encoder_layer_0#1")] == 2


# --- transformers: residual spine, side-cars, attention heads ----------------------------------------


def test_vit_spine_adds_on_the_main_lane_and_branches_beside_it():
    scene = build_scene(vit_trace(), unfold_first="never", fold_repeats=False)
    b = scene.blocks
    z = dict(zip(b.node_ids, b.centers[:, 2]))
    for layer in (0, 1):
        p = f"encoder.layers.encoder_layer_{layer}"
        adds = [nid for nid in b.node_ids if nid.startswith(f"{p}.add#")]
        assert len(adds) == 2
        assert all(z[a] == pytest.approx(0.0) for a in adds)
        assert z[f"{p}.self_attention#1"] < -1.0  # attention behind the spine
        mlp = [nid for nid in b.node_ids if nid.startswith(f"{p}.mlp.") and "Linear" in b.info[b.index(nid)]]
        assert mlp and all(z[m] > 1.0 for m in mlp)  # MLP in front
        assert z[f"{p}.ln_1#1"] < -1.0 and z[f"{p}.ln_2#1"] > 1.0
    # residual edges are straight segments along the spine
    spine = [c for c in scene.connectors if c.kind == "skip" and ".add#" in c.dst]
    assert len(spine) == 4
    assert all(len(c.points) == 2 and np.allclose(c.points[:, 1:], c.points[0, 1:]) for c in spine)


def test_resnet_residuals_stay_arcs():
    scene = build_scene(fx.resnet18_trace(), fold_repeats=False)
    assert not any("spine" in n for n in scene.notes)
    assert np.allclose(
        scene.blocks.centers[[i for i, nid in enumerate(scene.blocks.node_ids) if ".add#" in nid], 2], 0.0
    )


def test_attention_head_planes_beside_the_attention_block():
    trace = vit_trace()
    node = trace.nodes["encoder.layers.encoder_layer_0.self_attention#1"]
    heads = node.activation.attention.shape
    scene = build_scene(trace, "activations")
    att = [fm for fm in scene.feature_maps if fm.node_id.endswith(":attention")]
    assert att, "no attention planes"
    fm = next(f for f in att if f.block_id == "encoder.layers.encoder_layer_0.self_attention#1")
    assert fm.values.shape == heads and heads[0] == 4 and fm.style == "planes"
    assert fm.offsets.shape == (4, 3)
    b = scene.blocks
    i = b.index(fm.block_id)
    lo, hi = feature_map_bounds(fm)
    assert lo[1] > b.upper[i, 1]  # standing on the block, not inside another one
    assert lo[0] >= b.lower[i, 0] - 1e-6 and hi[0] <= b.upper[i, 0] + 1e-6
    assert fm.clim[0] == 0.0 and fm.clim[1] > 0
    off = build_scene(trace, "activations", attention=False)
    assert not any(f.node_id.endswith(":attention") for f in off.feature_maps)


# --- level of detail by screen size ----------------------------------------------------------------


def _maps_trace(n: int, hw: int = 32):
    trace = fx.chain(n, shape=(1, 64, hw, hw))
    rng = np.random.default_rng(0)
    for nid in list(trace.nodes)[1:-1]:
        data = rng.standard_normal((64, hw, hw)).astype(np.float32)
        trace.nodes[nid].activation = Activation(data=data.astype(np.float16), layout="map", full_shape=data.shape)
    return trace


def test_lod_auto_depends_on_projected_size():
    few = build_scene(_maps_trace(2), "activations", labels="none")
    many = build_scene(_maps_trace(60), "activations", labels="none")
    small = build_scene(_maps_trace(2), "activations", labels="none", image_size=(160, 90))
    k_few = max(fm.values.shape[0] for fm in few.feature_maps)
    k_many = max(fm.values.shape[0] for fm in many.feature_maps)
    assert k_few > 6  # two big blocks on screen: many channels
    assert k_many < k_few
    assert all(fm.style == "slab" for fm in small.feature_maps)  # tiny image: slabs only
    fixed = build_scene(_maps_trace(2), "activations", labels="none", lod="topk", topk=3)
    assert {fm.values.shape[0] for fm in fixed.feature_maps} == {3}


# --- scale -----------------------------------------------------------------------------------------


def test_5000_block_scene_folds_its_repeats():
    # how fast: benchmarks/scene_build.py
    scene = build_scene(fx.big_residual(1666))
    assert len(scene.blocks) < 10 and scene.blocks.repeats.max() >= 1665
