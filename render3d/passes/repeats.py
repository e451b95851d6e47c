"""Repeated blocks: fold runs of identical module calls into one ``×N`` block, and undo it in part.

:func:`fold_repeats` makes ResNet-152's ``layer3.1 … layer3.35`` one block ``×35``;
:func:`unfold_first` draws the first call of every run in full (how one transformer layer looks
inside, and how many follow); :func:`expand_runs` draws named ``×N`` blocks as their N calls (a
window's click). :func:`original_members` says which nodes of the traced graph each drawn block
stands for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from render3d.graph import Node, Trace
from render3d.passes.contract import block_node, contract, owners


def fold_repeats(trace: Trace, min_repeats: int = 2) -> Trace:
    """Fold runs of identical, chained sibling module calls into one block with ``repeats=N``.

    ResNet's ``layer3.1 … layer3.5`` or a ViT's twelve encoder layers become one block each run
    (``×N``); the first call of a run keeps its id, the block's output is the last call's. Edges
    into or out of any member, including skips that cross the run, are kept on the folded block.
    Only containers whose *structure* (node types, shapes and internal edges) is identical and
    where each call feeds the next are folded, so the picture never hides a real difference.
    """
    if not trace.modules:
        return trace
    members_of = _module_members(trace)
    parents = trace.parent_map()
    signature = {cid: _call_signature(trace, cid, members_of[cid], parents) for cid in members_of}
    children: dict[tuple[str, ...], list[str]] = {}
    for cid, call in trace.modules.items():
        if cid in members_of and members_of[cid]:
            children.setdefault(call.stack, []).append(cid)
    block_of: dict[str, str] = {}  # member module call -> the run's first call
    runs: dict[str, list[str]] = {}
    for siblings in children.values():
        run: list[str] = []
        for cid in siblings + [""]:
            if (
                run
                and cid
                and signature[cid] == signature[run[-1]]
                and _feeds(trace, run[-1], members_of[cid], parents)
            ):
                run.append(cid)
                continue
            if len(run) >= min_repeats and not any(r in block_of for r in run):
                runs[run[0]] = run
                block_of.update({r: run[0] for r in run})
            run = [cid] if cid else []
    if not runs:
        return trace
    owner = owners(trace, block_of)
    nodes: dict[str, Node] = {}
    for node in trace.nodes.values():
        key = owner[node.id]
        if key == node.id and key not in runs:
            nodes[key] = node
        elif key not in nodes:
            run = runs[key]
            head = block_node(trace, key, node)
            last = block_node(trace, run[-1], trace.nodes.get(run[-1], node))
            nodes[key] = replace(
                head,
                shape=last.shape,
                shapes=last.shapes,
                stats=last.stats,
                activation=last.activation,
                params=sum(trace.modules[r].params for r in run),
                repeats=len(run),
                folded=tuple(run),
            )
    return contract(trace, nodes, owner)


def _module_members(trace: Trace) -> dict[str, list[str]]:
    """Node ids inside each module call (a leaf call's only member is its own node)."""
    members: dict[str, list[str]] = {cid: [] for cid in trace.modules}
    for node in trace.nodes.values():
        for cid in node.stack:
            if cid in members:
                members[cid].append(node.id)
        if node.id in members:
            members[node.id].append(node.id)
    return members


def _call_signature(trace: Trace, call_id: str, members: list[str], parents: dict[str, list[str]]) -> tuple:
    """What must match for two calls to count as repeats: type, member types/shapes, wiring."""
    index = {m: i for i, m in enumerate(members)}
    inner = tuple((trace.nodes[m].type, trace.nodes[m].shape) for m in members)
    wiring = tuple(
        sorted(
            (index.get(p, -1), index[m], None if p in index else trace.nodes[p].shape)  # input shapes too
            for m in members
            for p in parents[m]
        )
    )
    return (trace.modules[call_id].type, trace.modules[call_id].params, inner, wiring)


def _feeds(trace: Trace, first: str, second_members: list[str], parents: dict[str, list[str]]) -> bool:
    """True when an output of call ``first`` is an input of the call made of ``second_members``."""
    outs = {first, *trace.modules[first].outputs}  # after collapse() the block itself is the output
    return any(p in outs for m in second_members for p in parents[m])


def unfold_first(pre: Trace, folded: Trace) -> Trace:
    """``folded`` (from ``fold_repeats(pre)``) with the first call of every run drawn in full.

    A run of N calls becomes the first call's own nodes (as in ``pre``) followed by one block for
    calls 2..N (``repeats = N - 1``). Edges are re-derived from ``pre``, so none is lost.
    """
    runs = [n for n in folded.nodes.values() if n.repeats > 1 and n.folded and n.kind == "module"]
    if not runs:
        return folded
    block_of: dict[str, str] = {}
    run_nodes: dict[str, Node] = {}
    for node in runs:
        rest = node.folded[1:]
        head = rest[0]
        call = pre.modules[head]
        run_nodes[head] = replace(
            node,
            id=head,
            scope=call.path,
            call=call.call,
            params=sum(pre.modules[c].params for c in rest if c in pre.modules),
            repeats=len(rest),
            folded=tuple(rest) if len(rest) > 1 else (),
        )
        block_of.update({c: head for c in rest})
    owner = owners(pre, block_of)
    nodes: dict[str, Node] = {}
    for node in pre.nodes.values():
        key = owner[node.id]
        if key not in nodes:
            nodes[key] = run_nodes[key] if key in run_nodes else node
    return contract(pre, nodes, owner)


def original_members(original: Trace, drawn: Trace) -> dict[str, tuple[str, ...]]:
    """For every node of ``drawn`` (folded/collapsed from ``original``), the ``original`` node ids it
    stands for, in execution order; the last is the node whose activation it shows."""
    if drawn is original:
        return {}
    alias = {nid: nid for nid in drawn.nodes}
    for nid, node in drawn.nodes.items():
        alias.update({c: nid for c in node.folded})  # every call of a ×N run
    out: dict[str, list[str]] = {}
    for node in original.nodes.values():
        owner = next((alias[c] for c in node.stack if c in alias), None)
        if owner is None:
            owner = alias.get(node.id)
        if owner is not None:
            out.setdefault(owner, []).append(node.id)
    return {k: tuple(v) for k, v in out.items()}


def expand_runs(pre: Trace, drawn: Trace, expand: Collection[str]) -> Trace:
    """``drawn`` (folded from ``pre``) with each ``×N`` block named in ``expand`` replaced, where it
    stood, by one block per module call it folded (``layer3.1#1 ×5`` → ``layer3.1#1 … layer3.5#1``).

    Ids in ``expand`` that are not ``×N`` blocks of ``drawn`` are ignored: a window keeps its set of
    expanded blocks while it switches to a scene built another way."""
    runs = {nid: node.folded for nid, node in drawn.nodes.items() if nid in expand and len(node.folded) > 1}
    if not runs:
        return drawn
    owner = {m: k for k, ms in original_members(pre, drawn).items() for m in ms}
    for nid, calls in runs.items():
        for m, block in owner.items():
            if block == nid:
                owner[m] = next((c for c in (*pre.nodes[m].stack, m) if c in calls), nid)
    nodes: dict[str, Node] = {}
    for nid, node in drawn.nodes.items():
        if nid not in runs:
            nodes[nid] = node
            continue
        for call in runs[nid]:
            first = next(pre.nodes[m] for m, block in owner.items() if block == call)
            nodes[call] = block_node(pre, call, first)
    return contract(pre, nodes, owner)
