"""Graph passes (render3d.passes): each rewrite on its own, and the pipeline build_scene runs."""

from __future__ import annotations

import pytest
import scene_fixtures as fx
import torch
from torch import nn

import render3d
from render3d.graph import Trace
from render3d.passes import (
    SCENE_PASSES,
    PassContext,
    collapse,
    expand_runs,
    fit_call_sites,
    fold_cache_outputs,
    fold_repeats,
    group_call_sites,
    original_members,
    run_passes,
    unfold_first,
)
from render3d.passes.contract import contract, owners


class Stack(nn.Module):
    """stem → three identical chained (Linear, Tanh) blocks → head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.blocks = nn.Sequential(*(nn.Sequential(nn.Linear(4, 4), nn.Tanh()) for _ in range(3)))
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class Looped(nn.Module):
    """One layer called by three loop iterations, each feeding the next."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(3):
            x = self.fc(x).tanh()
        return x


@pytest.fixture(scope="module")
def stack() -> Trace:
    torch.manual_seed(0)
    return render3d.trace(Stack(), torch.randn(1, 4), capture="none")


def _ids(trace: Trace) -> list[str]:
    return [n.id for n in trace]


BLOCKS = ("blocks.0#1", "blocks.1#1", "blocks.2#1")


def test_owners_puts_a_node_in_its_outermost_named_call(stack):
    owner = owners(stack, {"blocks#1": "blocks#1", "blocks.1#1": "blocks.1#1"})
    assert [owner[n] for n in ("stem#1", "blocks.0.1#1", "blocks.1.0#1", "head#1")] == [
        "stem#1",
        "blocks#1",
        "blocks#1",
        "head#1",
    ]


def test_contract_drops_edges_inside_a_block_and_keeps_the_others_once(stack):
    owner = owners(stack, {"blocks#1": "blocks.0.0#1"})
    nodes = {nid: stack[nid] for nid in dict.fromkeys(owner.values())}
    out = contract(stack, nodes, owner)
    assert out.edges == [
        ("input.0", "stem#1"),
        ("stem#1", "blocks.0.0#1"),
        ("blocks.0.0#1", "head#1"),
        ("head#1", "output"),
    ]


def test_collapse_makes_one_block_per_call_at_the_depth(stack):
    out = collapse(stack, 1)
    assert _ids(out) == ["input.0", "stem#1", "blocks#1", "head#1", "output"]
    assert out.edges == [("input.0", "stem#1"), ("stem#1", "blocks#1"), ("blocks#1", "head#1"), ("head#1", "output")]
    assert (out.depth, out["blocks#1"].params, out["blocks#1"].shape) == (1, 60, (1, 4))


def test_collapse_to_no_depth_is_the_trace_itself(stack):
    assert collapse(stack, None) is stack


def test_collapse_below_one_is_refused(stack):
    with pytest.raises(ValueError, match=r"depth must be >= 1 \(1 = the model's direct children\) or None, got 0"):
        collapse(stack, 0)


def test_trace_methods_delegate_to_the_passes(stack):
    assert stack.collapse(1).to_dict() == collapse(stack, 1).to_dict()
    assert stack.fold_repeats().to_dict() == fold_repeats(stack).to_dict()


def test_fold_repeats_makes_one_block_of_a_chained_run(stack):
    out = fold_repeats(stack)
    assert _ids(out) == ["input.0", "stem#1", "blocks.0#1", "head#1", "output"]
    run = out["blocks.0#1"]
    assert (run.repeats, run.folded, run.params, run.type) == (3, BLOCKS, 60, "Sequential")


def test_fold_repeats_leaves_its_input_unchanged(stack):
    before = stack.to_dict()
    fold_repeats(stack)
    assert stack.to_dict() == before and len(stack) == 10


def test_fold_repeats_needs_min_repeats(stack):
    assert fold_repeats(stack, min_repeats=4) is stack


def test_unfold_first_draws_the_first_call_in_full(stack):
    out = unfold_first(stack, fold_repeats(stack))
    assert _ids(out) == ["input.0", "stem#1", "blocks.0.0#1", "blocks.0.1#1", "blocks.1#1", "head#1", "output"]
    assert (out["blocks.1#1"].repeats, out["blocks.1#1"].folded) == (2, BLOCKS[1:])


def test_expand_runs_draws_a_named_block_as_its_calls(stack):
    out = expand_runs(stack, fold_repeats(stack), {"blocks.0#1"})
    assert _ids(out) == ["input.0", "stem#1", *BLOCKS, "head#1", "output"]
    assert out.edges[1:4] == [("stem#1", "blocks.0#1"), ("blocks.0#1", "blocks.1#1"), ("blocks.1#1", "blocks.2#1")]


def test_expand_runs_ignores_ids_that_are_not_runs(stack):
    folded = fold_repeats(stack)
    assert expand_runs(stack, folded, {"stem#1", "nothing#1"}) is folded


def test_original_members_lists_what_each_drawn_block_stands_for(stack):
    members = original_members(stack, fold_repeats(stack))
    assert members["blocks.0#1"] == tuple(f"blocks.{i}.{j}#1" for i in range(3) for j in range(2))
    assert members["stem#1"] == ("stem#1",)


def test_call_sites_fold_loop_iterations():
    torch.manual_seed(0)
    grouped = group_call_sites(render3d.trace(Looped(), torch.randn(1, 4), capture="none"))
    assert sorted(m.id for m in grouped.modules.values() if m.type == "loop") == [
        "forward·loop#1",
        "forward·loop#2",
        "forward·loop#3",
    ]
    drawn = fit_call_sites(grouped)
    assert _ids(drawn) == ["input.0", "forward·loop#1", "output"]
    assert (drawn["forward·loop#1"].kind, drawn["forward·loop#1"].repeats) == ("call", 3)


def _with_cache() -> Trace:
    trace = fx.make_trace(
        [
            ("input.0", "input", "Input", (1, 4), ()),
            ("fc#1", "module", "Linear", (1, 4), ("input.0",)),
            ("output.logits", "output", "Output", (1, 4), ("fc#1",)),
            ("output.past_key_values.0", "output", "Output", (1, 2, 4), ("fc#1",)),
            ("output.past_key_values.1", "output", "Output", (1, 2, 4), ("fc#1",)),
        ]
    )
    trace.outputs = [{"path": p, "node": "fc#1"} for p in ("logits", "past_key_values.0", "past_key_values.1")]
    return trace


def test_fold_cache_outputs_makes_one_badge_without_edges():
    out = fold_cache_outputs(_with_cache())
    assert _ids(out) == ["input.0", "fc#1", "output.logits", "output.cache"]
    badge = out["output.cache"]
    assert (badge.repeats, badge.shape, badge.folded) == (
        2,
        (1, 2, 4),
        ("output.past_key_values.0", "output.past_key_values.1"),
    )
    assert out.edges == [("input.0", "fc#1"), ("fc#1", "output.logits")]
    assert out.outputs == [{"path": "logits", "node": "fc#1"}, {"path": "cache", "node": "output.cache"}]


def test_scene_pipeline_order():
    assert [p.__name__ for p in SCENE_PASSES] == [
        "cache_outputs",
        "call_sites",
        "fit_blocks",
        "unfold_runs",
        "expand_blocks",
    ]


def test_pipeline_folds_and_unfolds_a_small_model(stack):
    context = PassContext.for_trace(stack, max_blocks=100)
    out = run_passes(stack, context)
    assert _ids(out) == ["input.0", "stem#1", "blocks.0.0#1", "blocks.0.1#1", "blocks.1#1", "head#1", "output"]
    assert (context.notes, context.title) == (
        ["folded 1 run of repeated blocks (×3, the first drawn in full)"],
        "Stack",
    )


def test_pipeline_collapses_when_over_max_blocks(stack):
    context = PassContext.for_trace(stack, max_blocks=4)
    out = run_passes(stack, context)
    assert _ids(out) == ["input.0", "stem#1", "blocks#1", "head#1", "output"]
    assert (context.notes, context.title, context.collapsed_to) == (
        ["collapsed to depth 1: 5 blocks > 4", "still 5 blocks at depth 1"],
        "Stack (depth 1)",
        1,
    )


def test_pipeline_expands_a_named_run(stack):
    context = PassContext.for_trace(stack, max_blocks=100, unfold="never", expand={"blocks.0#1"})
    out = run_passes(stack, context)
    assert _ids(out) == ["input.0", "stem#1", *BLOCKS, "head#1", "output"]
    assert context.notes == [
        "folded 1 run of repeated blocks (×3)",
        "expanded 1 ×N block: 3 blocks drawn in their place",
    ]


def test_pipeline_without_module_calls_says_it_cannot_collapse():
    trace = fx.chain(6)  # input, 6 layers, output
    context = PassContext.for_trace(trace, max_blocks=3, expand={"n1"})
    assert run_passes(trace, context) is trace
    assert context.notes == ["8 blocks > max_blocks=3, but the trace has no module calls to collapse"]
