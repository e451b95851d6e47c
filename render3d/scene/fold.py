"""From trace nodes to scene blocks: folding conv→norm→activation chains and marking glyph ops.

A :class:`BlockGraph` is the trace seen as blocks: one entry per visible block (its id is the id of
the chain's first node, its shape/activation those of the last), plus the block-to-block edges with
duplicates and in-block edges removed. Everything downstream (layout, labels, feature maps) works
on this, never on the raw trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render3d.graph import Node, Trace
from render3d.scene.style import categorize

#: the categories each foldable category may be folded into (as "+BN", "+GELU"): an activation into
#: anything that computes; a norm only into a layer with weights, so the LayerNorm after a residual
#: add stays a Norm block of its own instead of hiding inside the add's Merge cube
FOLD_INTO = {
    "Norm": frozenset({"Conv", "Linear", "Embedding"}),
    "Activation": frozenset({"Conv", "Linear", "Embedding", "Norm", "Merge", "Attention/RNN"}),
}
#: categories of tiny parameter-free ops drawn as glyph cubes when folding
GLYPH_CATEGORIES = frozenset({"Activation", "Merge", "Reshape/other"})


@dataclass
class BlockGraph:
    ids: list[str]
    members: list[tuple[str, ...]]
    types: list[tuple[str, ...]]  # node type of every member
    head: list[Node]  # first node of each block (name, type, params of the head)
    last: list[Node]  # last node: shape, stats, activation of the block
    categories: list[str]
    glyph: np.ndarray  # (N,) bool
    params: np.ndarray  # (N,) int64, summed over members
    src: np.ndarray  # (E,) int64 block indices
    dst: np.ndarray  # (E,) int64
    owner: dict[str, str]  # trace node id -> block id

    def __len__(self) -> int:
        return len(self.ids)


def _ndim(node: Node) -> int:
    return len(node.shape) if node.shape else 0


def node_category(node: Node) -> str:
    return categorize(node.type, node.kind, params=node.params, ndim=_ndim(node))


def build_block_graph(trace: Trace, *, fold: bool) -> BlockGraph:
    """The trace as blocks: with ``fold``, conv→norm→activation runs as one block each and small
    parameter-free ops as glyphs; constants always glyphs."""
    cats = {n.id: node_category(n) for n in trace.nodes.values()}
    owner, groups = _fold_runs(trace, cats) if fold else _one_block_each(trace)
    ids = list(groups)
    index = {bid: i for i, bid in enumerate(ids)}
    head = [trace.nodes[b] for b in ids]
    categories = [cats[b] for b in ids]
    params = np.array([sum(trace.nodes[m].params for m in groups[b]) for b in ids], dtype=np.int64)
    src, dst = _block_edges(trace, {nid: index[bid] for nid, bid in owner.items()})
    return BlockGraph(
        ids=ids,
        members=[tuple(groups[b]) for b in ids],
        types=[tuple(trace.nodes[m].type for m in groups[b]) for b in ids],
        head=head,
        last=[trace.nodes[groups[b][-1]] for b in ids],
        categories=categories,
        glyph=_glyphs(head, params, categories, fold=fold),
        params=params,
        src=src,
        dst=dst,
        owner=owner,
    )


def _one_block_each(trace: Trace) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every node its own block (no folding): (node → block id, block id → members)."""
    return {nid: nid for nid in trace.nodes}, {nid: [nid] for nid in trace.nodes}


def _fold_runs(trace: Trace, cats: dict[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(node → block id, block id → members in order): a node joins its parent's block when it is a
    module or function of a category that folds into that block's (:data:`FOLD_INTO`), its only parent
    is the block's last member, it is that parent's only child and keeps its shape, and the block is
    not a ×N run (its badge stays on the run alone)."""
    parents = trace.parent_map()
    children = trace.child_map()
    owner: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for node in trace.nodes.values():
        nid = node.id
        block = nid
        ps = set(parents.get(nid, ()))
        if len(ps) == 1 and cats[nid] in FOLD_INTO and node.kind in ("module", "function"):
            (p,) = ps
            lead = owner.get(p)  # the block p belongs to, which node joins if the run goes on
            if (
                lead is not None
                and set(children.get(p, ())) == {nid}
                and cats[lead] in FOLD_INTO[cats[nid]]
                and groups[lead][-1] == p
                and trace.nodes[p].shape == node.shape
                and trace.nodes[lead].repeats == 1
            ):
                block = lead
        owner[nid] = block
        groups.setdefault(block, []).append(nid)
    return owner, groups


def _glyphs(head: list[Node], params: np.ndarray, categories: list[str], *, fold: bool) -> np.ndarray:
    """(N,) bool: the blocks drawn as small glyph cubes. Folded, a function call or a parameter-free
    module of a glyph category; always a constant (buffers, parameters and factory constants feed a
    layer but are not layers)."""
    glyph = np.zeros(len(head), dtype=bool)
    if fold:
        glyph = np.array(
            [
                h.kind == "function" or (h.kind == "module" and p == 0 and c in GLYPH_CATEGORIES)
                for h, p, c in zip(head, params, categories)
            ],
            dtype=bool,
        ) & np.array([c in GLYPH_CATEGORIES for c in categories], dtype=bool)
    return glyph | np.array([h.kind == "constant" for h in head], dtype=bool)


def _block_edges(trace: Trace, block_of: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) block indices of the trace's edges between blocks (``block_of``: node id → block
    index), each pair once, in-block edges left out."""
    seen: set[tuple[int, int]] = set()
    src: list[int] = []
    dst: list[int] = []
    for a, b in trace.edges:
        pair = (block_of[a], block_of[b])
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            src.append(pair[0])
            dst.append(pair[1])
    return np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
