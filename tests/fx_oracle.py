"""torch.fx as an independent oracle for the tracer's module-to-module dataflow edges.

fx records exact def-use edges symbolically. Both graphs are reduced to edges between module calls (and
input/output), seeing through functional ops; fx's shape reads (``x.shape`` feeding a ``view``) are not
dataflow and are cut. Modules that fx cannot know are no-ops at trace time
(``nn.Identity``, eval ``Dropout``, timm's ``DropPath``) are found by *running* fx's graph: a call that
returns one of its inputs unchanged (same object, same version counter) is transparent, as in ours.
"""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.utils._pytree import tree_leaves

from render3d.graph import Trace


class LeafTracer(fx.Tracer):
    """Childless modules are single calls, as in render3d (fx's default only stops at torch.nn ones)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return not any(True for _ in m.children()) or super().is_leaf_module(m, qualname)


class _PassThroughFinder(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.transparent: set[fx.Node] = set()

    def run_node(self, n: fx.Node):
        if n.op != "call_module":
            return super().run_node(n)
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        ins = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
        versions = [a._version for a in ins]
        out = super().run_node(n)
        if any(out is a and a._version == v for a, v in zip(ins, versions)):
            self.transparent.add(n)
        return out


def fx_module_graph(model: nn.Module, *inputs: torch.Tensor, leaf_childless: bool = False) -> set[tuple[str, str]]:
    """Edges between module calls (and input/output) in fx's graph, seen through functional ops and
    through modules that returned their input unchanged when fx's graph ran on ``inputs``."""
    tracer = LeafTracer() if leaf_childless else fx.Tracer()
    gm = fx.GraphModule(model, tracer.trace(model))
    finder = _PassThroughFinder(gm)
    with torch.no_grad():
        finder.run(*inputs)
    counts: dict[str, int] = {}
    label: dict[fx.Node, str] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            counts[node.target] = counts.get(node.target, 0) + 1
            if node not in finder.transparent:
                label[node] = f"{node.target}#{counts[node.target]}"
        elif node.op == "placeholder":
            label[node] = "input.0"
        elif node.op == "output":
            label[node] = "output"
    return _contract({n: [] if _reads_metadata(n) else list(n.all_input_nodes) for n in gm.graph.nodes}, label)


def _reads_metadata(n: fx.Node) -> bool:
    """``x.shape`` / ``x.size()`` / ``x.dim()``: fx records an edge, but no data flows (render3d has none)."""
    if n.op == "call_method":
        return n.target in ("size", "dim")
    return n.op == "call_function" and n.target is getattr and n.args[1] in ("shape", "ndim", "dtype", "device")


def our_module_graph(t: Trace) -> set[tuple[str, str]]:
    parents = t.parent_map()
    label = {nid: nid for nid, n in t.nodes.items() if n.kind in ("module", "input", "output")}
    return _contract(parents, label)


def _contract(parents: dict, label: dict) -> set[tuple[str, str]]:
    """Edges between labelled nodes, following unlabelled ones (functional ops, sources) transparently."""
    memo: dict = {}

    def sources(node) -> set[str]:
        if node not in memo:
            found: set[str] = set()
            for p in parents[node]:
                found |= {label[p]} if p in label else sources(p)
            memo[node] = found
        return memo[node]

    return {(s, label[n]) for n in parents if n in label for s in sources(n)}
