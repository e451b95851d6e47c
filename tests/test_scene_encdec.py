"""Transformer geometry: seq2seq models as two stacks, U-Nets as a U, primary output and cache badge."""

from __future__ import annotations

import layout_fixtures as lf
import pytest
import scene_fixtures as fx

from render3d.passes.cache import fold_cache_outputs, is_cache_path
from render3d.scene.builder import build_scene
from render3d.scene.outputs import primary_output
from render3d.scene.overlap import overlapping_blocks

SIZE = (1280, 720)
U_NOTE = "encoder–decoder detected from shapes: drawn as a U"
STACKS_NOTE = "encoder–decoder: encoder row above, decoder row below, cross-attention bridges between"


@pytest.mark.parametrize("name", ["hf.T5", "hf.BART"])
def test_seq2seq_encoder_row_lies_above_the_decoder_row(name):
    scene = build_scene(lf.trace_of(name), image_size=SIZE)
    ids, y = scene.blocks.node_ids, scene.blocks.centers[:, 1]
    enc = y[[i.startswith("encoder.") for i in ids]]
    dec = y[[i.startswith("decoder.") for i in ids]]
    assert enc.min() > dec.max()
    assert STACKS_NOTE in scene.notes and U_NOTE not in scene.notes
    assert overlapping_blocks(scene) == []


def test_t5_cross_attention_bridges_run_from_the_encoder_output_to_every_decoder_layer():
    scene = build_scene(lf.trace_of("hf.T5"), image_size=SIZE)
    y = dict(zip(scene.blocks.node_ids, scene.blocks.centers[:, 1]))
    (encoder_out,) = [c.src for c in scene.connectors if c.dst == "output.encoder_last_hidden_state"]
    bridges = sorted((c.src, c.dst) for c in scene.connectors if y[c.src] != y[c.dst])
    assert bridges == [(encoder_out, f"decoder.block.{k}.layer.1.EncDecAttention.{p}#1") for k in (0, 1) for p in "kv"]
    # each bridge lands where its layer is, not at the start of the decoder row
    x = dict(zip(scene.blocks.node_ids, scene.blocks.centers[:, 0]))
    assert x["decoder.block.1.layer.1.EncDecAttention.k#1"] > x["decoder.block.0.layer.2.DenseReluDense.wo#1"]
    assert overlapping_blocks(scene) == []


@pytest.mark.parametrize("name", ["render3d.UNet", "smp.Unet", "monai.UNet"])
def test_real_u_nets_keep_the_u(name):
    scene = build_scene(lf.trace_of(name), image_size=SIZE)
    assert U_NOTE in scene.notes and STACKS_NOTE not in scene.notes
    assert overlapping_blocks(scene) == []


def test_raft_refinement_loop_is_not_drawn_as_a_u():
    scene = build_scene(lf.trace_of("tv.raft_small"), image_size=SIZE)
    assert U_NOTE not in scene.notes and STACKS_NOTE not in scene.notes
    assert overlapping_blocks(scene) == []


def test_gpt2_cache_outputs_become_one_badge_beside_the_logits():
    trace = lf.trace_of("hf.GPT2")
    assert sum(is_cache_path(o["path"]) for o in trace.outputs) == 4
    scene = build_scene(trace, image_size=SIZE)
    b = scene.blocks
    outputs = [i for i, c in zip(b.node_ids, b.categories) if c == "Input/Output" and i.startswith("output")]
    assert outputs == ["output.logits", "output.cache"]
    logits, cache = b.index("output.logits"), b.index("output.cache")
    assert b.repeats[cache] == 4 and len(b.members[cache]) == 4
    assert not [c for c in scene.connectors if "output.cache" in (c.src, c.dst)]
    # the logits end the main lane; the badge stands in the same layer, in a lane of its own
    assert b.centers[logits, 2] == 0.0 and b.centers[logits, 0] == b.centers[:, 0].max()
    assert b.centers[cache, 0] == b.centers[logits, 0] and b.centers[cache, 2] != 0.0
    assert overlapping_blocks(scene) == []


@pytest.mark.parametrize("name", ["hf.BERT", "hf.CLIPVision"])
def test_last_hidden_state_ends_the_main_lane_after_the_stack(name):
    scene = build_scene(lf.trace_of(name), image_size=SIZE)
    b = scene.blocks
    out, pooler = b.index("output.last_hidden_state"), b.index("output.pooler_output")
    assert b.centers[out, 2] == 0.0 and b.centers[pooler, 2] != 0.0
    stack = [i for i, nid in enumerate(b.node_ids) if nid.startswith("encoder.")]
    assert b.centers[out, 0] > b.upper[stack, 0].max()
    assert overlapping_blocks(scene) == []


def _two_outputs(first: str, second: str):
    trace = fx.make_trace(
        [
            ("input.0", "input", "Input", (1, 4), ()),
            ("fc#1", "module", "Linear", (1, 4), ("input.0",)),
            (f"output.{first}", "output", "Output", (1, 4), ("fc#1",)),
            (f"output.{second}", "output", "Output", (1, 4), ("fc#1",)),
        ]
    )
    trace.outputs = [{"path": first, "node": "fc#1"}, {"path": second, "node": "fc#1"}]
    return trace


def test_primary_output_is_the_first_named_one():
    assert primary_output(_two_outputs("logits", "pooler_output")) == "output.logits"


def test_primary_output_of_a_tuple_is_its_last_element():
    assert primary_output(_two_outputs("0", "1")) == "output.1"


def test_a_model_without_cache_outputs_is_left_as_is():
    trace = _two_outputs("logits", "hidden_states.0")
    assert fold_cache_outputs(trace) is trace
    assert [
        is_cache_path(p) for p in ("past_key_values.0.1", "cache.cross_attention_cache.layers.0.keys", "0.boxes")
    ] == [True, True, False]
