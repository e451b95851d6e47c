"""Call sites: ops grouped by the Python function or loop iteration that ran them.

The tracer records each op's site (render3d.tracing.sites); the scene groups, contracts and folds
sites (render3d.passes.callsites). Detection and flow models are the reason: their post-processing
runs outside any submodule.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import detection, optical_flow, resnet18

import render3d
from render3d.graph import Trace
from render3d.passes.callsites import group_call_sites

READABLE = 120  # blocks a readable 1280x720 picture holds


def _scale(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    return torch.relu(y) + 1


class LoopNet(nn.Module):
    """A helper function, a loop that calls a layer (each iteration feeds the next) and a comprehension
    that calls the helper on slices of different widths (iterations side by side)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _scale(self.fc(x))
        for _ in range(3):
            x = self.fc(x).tanh() + x
        parts = [_scale(x[:, a:b]) for a, b in ((0, 3), (3, 8))]
        return self.out(torch.cat(parts, 1))


class Split(nn.Module):
    """timm's shape: ``forward`` = ``forward_head(forward_features(x))``, both calling layers."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class Doubler(nn.Module):
    """A loop whose every iteration runs the same single instruction."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(3):
            x = x * 2
        return x


def _double(x: torch.Tensor) -> torch.Tensor:
    return x * 2 + 1


def _halve(x: torch.Tensor) -> torch.Tensor:
    return x / 2 - 1


class TwoHelpers(nn.Module):
    """Two different helpers, chained, with the same op count and output shape."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(_halve(_double(self.fc(x))))


def _trace(model: nn.Module, *inputs: torch.Tensor, **kwargs) -> Trace:
    torch.manual_seed(0)
    return render3d.trace(model.eval(), *inputs, capture="none", **kwargs)


@pytest.fixture(scope="module")
def loop_trace() -> Trace:
    torch.manual_seed(0)
    return _trace(LoopNet(), torch.randn(1, 8))


@pytest.fixture(scope="module")
def maskrcnn_trace() -> Trace:
    torch.manual_seed(0)
    model = detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, min_size=128, max_size=128, box_detections_per_img=8
    )
    return _trace(model, torch.rand(1, 3, 128, 128))


def _ssdlite() -> Trace:
    torch.manual_seed(0)
    return _trace(
        detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None), torch.rand(1, 3, 128, 128)
    )


@pytest.fixture(scope="module")
def ssdlite_trace() -> Trace:
    return _ssdlite()


def _repeats(scene) -> dict[str, int]:
    return {i: int(r) for i, r in zip(scene.blocks.node_ids, scene.blocks.repeats)}


def test_ops_and_calls_record_the_function_and_loop_iteration_that_ran_them(loop_trace):
    sites = {n.id: n.site for n in loop_trace if n.site}
    assert sites == {
        "mul#1": ("_scale()#1",),
        "relu#1": ("_scale()#1",),
        "add#1": ("_scale()#1",),
        "fc#2": ("forward·loop#1",),
        "tanh#1": ("forward·loop#1",),
        "add#2": ("forward·loop#1",),
        "fc#3": ("forward·loop#2",),
        "tanh#2": ("forward·loop#2",),
        "add#3": ("forward·loop#2",),
        "fc#4": ("forward·loop#3",),
        "tanh#3": ("forward·loop#3",),
        "add#4": ("forward·loop#3",),
        "getitem#1": ("forward·loop2#1",),
        "mul#2": ("forward·loop2#1", "_scale()#1"),
        "relu#2": ("forward·loop2#1", "_scale()#1"),
        "add#5": ("forward·loop2#1", "_scale()#1"),
        "getitem#2": ("forward·loop2#2",),
        "mul#3": ("forward·loop2#2", "_scale()#1"),
        "relu#3": ("forward·loop2#2", "_scale()#1"),
        "add#6": ("forward·loop2#2", "_scale()#1"),
    }
    assert {m.id: m.site for m in loop_trace.modules.values() if m.site} == {
        "fc#2": ("forward·loop#1",),
        "fc#3": ("forward·loop#2",),
        "fc#4": ("forward·loop#3",),
    }


def test_an_instruction_run_again_starts_a_new_iteration():
    trace = _trace(Doubler(), torch.randn(2))
    assert {n.id: n.site for n in trace if n.site} == {
        "mul#1": ("forward·loop#1",),
        "mul#2": ("forward·loop#2",),
        "mul#3": ("forward·loop#3",),
    }


def test_a_loop_of_one_op_folds_and_unfolded_shows_the_ops():
    trace = _trace(Doubler(), torch.randn(2))
    assert _repeats(render3d.build_scene(trace)) == {"input.0": 1, "forward·loop#1": 3, "output": 1}
    assert render3d.build_scene(trace, fold_repeats=False).blocks.node_ids == [
        "input.0",
        "mul#1",
        "mul#2",
        "mul#3",
        "output",
    ]


def test_helper_and_loops_are_blocks_named_after_their_site(loop_trace):
    scene = render3d.build_scene(loop_trace)
    assert scene.blocks.node_ids == [
        "input.0",
        "fc#1",
        "_scale()#1",
        "forward·loop#1",
        "forward·loop2#1",
        "cat#1",
        "out#1",
        "output",
    ]
    assert [t.split("\n")[0] for t in scene.labels.texts] == [
        "input",
        "fc",
        "_scale()",
        "forward·loop ×3",
        "forward·loop2 ×2",
        "cat",
        "out",
        "output",
    ]


def test_loop_iterations_fold_chained_or_side_by_side_whatever_their_shapes(loop_trace):
    scene = render3d.build_scene(loop_trace)
    folded = dict(zip(scene.blocks.node_ids, scene.blocks.folded))
    assert folded["forward·loop#1"] == ("forward·loop#1", "forward·loop#2", "forward·loop#3")
    assert folded["forward·loop2#1"] == ("forward·loop2#1", "forward·loop2#2")  # widths 3 and 5
    assert scene.notes == ["folded 2 runs of repeated blocks (×2..×3)"]


def test_without_folding_loops_calling_layers_are_dissolved_and_glue_stays_one_block_each(loop_trace):
    scene = render3d.build_scene(loop_trace, fold_repeats=False)
    assert scene.blocks.node_ids == [
        "input.0",
        "fc#1",
        "_scale()#1",
        "fc#2",
        "add#2",
        "fc#3",
        "add#3",
        "fc#4",
        "add#4",
        "forward·loop2#1",
        "forward·loop2#2",
        "cat#1",
        "out#1",
        "output",
    ]


def test_a_site_block_lists_every_op_it_holds(loop_trace):
    scene = render3d.build_scene(loop_trace)
    members = dict(zip(scene.blocks.node_ids, scene.blocks.members))
    assert members["_scale()#1"] == ("mul#1", "relu#1", "add#1")
    assert members["forward·loop2#1"] == (
        "getitem#1",
        "mul#2",
        "relu#2",
        "add#5",
        "getitem#2",
        "mul#3",
        "relu#3",
        "add#6",
    )


def test_different_helpers_never_fold_together():
    scene = render3d.build_scene(_trace(TwoHelpers(), torch.randn(1, 8)))
    assert scene.blocks.node_ids == ["input.0", "fc#1", "_double()#1", "_halve()#1", "fc#2", "output"]
    assert scene.blocks.repeats.tolist() == [1] * 6


def test_helpers_that_call_layers_are_not_blocks():
    scene = render3d.build_scene(_trace(Split(), torch.randn(2, 3, 4)))
    assert scene.blocks.node_ids == ["input.0", "a#1", "b#1", "mean#1", "head#1", "output"]


def test_a_forward_that_delegates_is_not_one_block():
    trace = _trace(resnet18(num_classes=4), torch.randn(1, 3, 32, 32))
    assert not [m.id for m in group_call_sites(trace).modules.values() if m.type in ("function", "loop")]


def test_a_saved_trace_without_sites_draws_as_before(loop_trace):
    saved = Trace.from_dict(loop_trace.to_dict())
    assert group_call_sites(saved) is saved
    assert "mul#1" in render3d.build_scene(saved).blocks.node_ids


def test_maskrcnn_draws_heads_and_post_processing_as_named_blocks(maskrcnn_trace):
    scene = render3d.build_scene(maskrcnn_trace)
    sites = {i for i in scene.blocks.node_ids if "()" in i or "·loop" in i}
    assert sites == {
        "rpn.head.forward·loop#1",
        "rpn.forward·loop#1",
        "rpn.concat_box_prediction_layers()#1",
        "rpn.decode()#1",
        "rpn.filter_proposals()#1",
        "roi_heads.postprocess_detections()#1",
        "roi_heads.maskrcnn_inference()#1",
        "postprocess()#1",
    }
    repeats = _repeats(scene)  # one iteration per FPN level: the head's convs, then a shape read of each
    assert (repeats["rpn.head.forward·loop#1"], repeats["rpn.forward·loop#1"]) == (5, 5)
    assert len(scene.blocks.node_ids) <= READABLE


def test_maskrcnn_mask_pasting_is_inside_postprocess(maskrcnn_trace):
    scene = render3d.build_scene(maskrcnn_trace)
    members = dict(zip(scene.blocks.node_ids, scene.blocks.members))["postprocess()#1"]
    pasting = [n.id for n in maskrcnn_trace if any("paste_mask_in_image()" in s for s in n.site)]
    assert len(pasting) > 8 * 10  # ten-odd ops per detection, eight detections
    assert set(pasting) <= set(members)


def test_maskrcnn_at_depth_two_keeps_the_post_processing_blocks(maskrcnn_trace):
    ids = render3d.build_scene(maskrcnn_trace.collapse(2)).blocks.node_ids
    assert {"postprocess()#1", "roi_heads.postprocess_detections()#1", "rpn.filter_proposals()#1"} <= set(ids)


def test_ssdlite_post_processing_is_one_block(ssdlite_trace):
    scene = render3d.build_scene(ssdlite_trace)
    assert {"postprocess_detections()#1", "resize_boxes()#1"} <= set(scene.blocks.node_ids)
    assert len(scene.blocks.node_ids) <= READABLE


def test_same_model_traced_twice_gives_the_same_sites_and_blocks(ssdlite_trace):
    first, second = ssdlite_trace, _ssdlite()
    assert [(n.id, n.site) for n in first] == [(n.id, n.site) for n in second]
    assert render3d.build_scene(first).blocks.node_ids == render3d.build_scene(second).blocks.node_ids


def test_raft_refinement_loop_folds():
    torch.manual_seed(0)
    images = torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128)
    scene = render3d.build_scene(_trace(optical_flow.raft_small(weights=None), *images, num_flow_updates=4))
    folded = dict(zip(scene.blocks.node_ids, scene.blocks.folded))
    # the first update starts from coordinates made in forward (no ops recorded on them): drawn apart
    assert folded["forward·loop#2"] == ("forward·loop#2", "forward·loop#3", "forward·loop#4")
    assert {"build_pyramid()#1", "forward·loop.index_pyramid()#1", "forward·loop.upsample_flow()#1"} <= set(folded)
    assert len(scene.blocks.node_ids) <= READABLE


def test_glue_blocks_are_drawn_as_boxes_not_op_glyphs(loop_trace):
    scene = render3d.build_scene(loop_trace)
    sizes = dict(zip(scene.blocks.node_ids, scene.blocks.sizes.tolist()))
    assert sizes["_scale()#1"] == sizes["fc#1"] != sizes["cat#1"]  # all three output (1, 8); cat is a glyph
