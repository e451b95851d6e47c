"""Fitting big models: fold repeated blocks (``×N``), collapse by depth only when still too many.

Order (:func:`fit_trace`):

1. fold runs of identical chained sibling module calls at full depth
   (:meth:`render3d.graph.Trace.fold_repeats`): ResNet-152's ``layer3.1 … layer3.35`` become one
   block ``×35``; every edge into or out of the run, skips included, stays on the folded block;
2. if that is still over ``max_blocks``, collapse by module depth (deepest that fits) and fold again;
3. with ``unfold_first`` (``"auto"``: when folding left a small scene, e.g. a ViT folds to a dozen
   blocks) the first call of each run is drawn in full and the rest stay one block ``×(N-1)``, so
   the picture shows what one transformer layer looks like inside and how many follow;
4. ``expand`` names ``×N`` blocks to draw as their N calls side by side, one block each (the
   window's click on a ``×N`` block: :func:`expand_runs`).

Every step says what it did in ``notes`` (shown under the title).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from render3d.graph import Node, Trace
from render3d.scene.callsites import CALL, fit_call_sites

#: ``unfold_first="auto"`` unfolds when folding left at most this many blocks
UNFOLD_AUTO_MAX = 40
#: ... and the unfolded scene has at most this many
UNFOLD_AUTO_LIMIT = 160


def _fold_note(trace: Trace, unfolded: bool) -> str | None:
    reps = sorted(n.repeats for n in trace.nodes.values() if n.repeats > 1 and n.kind in ("module", CALL))
    if not reps:
        return None
    runs = f"{len(reps)} run{'s' if len(reps) != 1 else ''}"
    counts = f"×{reps[0]}" if reps[0] == reps[-1] else f"×{reps[0]}..×{reps[-1]}"
    tail = (", the first drawn in full" if len(reps) == 1 else ", the first of each drawn in full") if unfolded else ""
    return f"folded {runs} of repeated blocks ({counts}{tail})"


def unfold_first(pre: Trace, folded: Trace) -> Trace:
    """``folded`` (from ``pre.fold_repeats()``) with the first call of every run drawn in full.

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
            node, id=head, scope=call.path, call=call.call,
            params=sum(pre.modules[c].params for c in rest if c in pre.modules),
            repeats=len(rest), folded=tuple(rest) if len(rest) > 1 else (),
        )
        block_of.update({c: head for c in rest})
    owner = pre.owners(block_of)
    nodes: dict[str, Node] = {}
    for node in pre.nodes.values():
        key = owner[node.id]
        if key not in nodes:
            nodes[key] = run_nodes[key] if key in run_nodes else node
    return pre.contract(nodes, owner)


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
            nodes[call] = pre._block_node(call, first)
    return pre.contract(nodes, owner)


def fit_trace(trace: Trace, *, max_blocks: int, fold_repeats: bool = True, unfold: str = "auto",
              notes: list[str], expand: Collection[str] = ()) -> tuple[Trace, str]:
    """The trace to draw and its title: folded, collapsed, unfolded and expanded as described above."""
    title = trace.model if trace.depth is None else f"{trace.model} (depth {trace.depth})"
    fold = fold_repeats and bool(trace.modules)
    trace = fit_call_sites(trace, fold=fold)  # ops grouped by the function/loop that ran them
    folded = trace.fold_repeats() if fold else trace
    pre, collapsed_to = trace, None
    if len(folded) > max_blocks:
        if not trace.modules:
            notes.append(f"{len(trace)} blocks > max_blocks={max_blocks}, but the trace has no module calls "
                         "to collapse")
            return trace, title
        deepest = max(m.depth for m in trace.modules.values())
        start = deepest if trace.depth is None else min(deepest, trace.depth - 1)
        depth = start
        for depth in range(start, 0, -1):
            pre = trace.collapse(depth)
            folded = pre.fold_repeats() if fold else pre
            if len(folded) <= max_blocks:
                break
        before = len(trace.fold_repeats()) if fold else len(trace)
        notes.append(f"collapsed to depth {depth}: {before} blocks > {max_blocks}")
        if len(folded) > max_blocks:
            notes.append(f"still {len(folded)} blocks at depth 1")
        collapsed_to = depth
        title = f"{trace.model} (depth {depth})"
    counted, unfolded = folded, False
    if fold and unfold != "never" and folded is not pre:
        candidate = unfold_first(pre, folded)
        auto_ok = (collapsed_to is None and len(folded) <= UNFOLD_AUTO_MAX
                   and len(candidate) <= min(UNFOLD_AUTO_LIMIT, max_blocks))
        if unfold == "always" and len(candidate) <= max_blocks or unfold == "auto" and auto_ok:
            folded, unfolded = candidate, True
    if fold:
        note = _fold_note(counted, unfolded)
        if note:
            notes.append(note)
    if expand:
        expanded = expand_runs(pre, folded, expand)
        runs = sum(1 for nid in expand if nid in folded.nodes and len(folded.nodes[nid].folded) > 1)
        if runs:
            notes.append(f"expanded {runs} ×N block{'s' if runs != 1 else ''}: "
                         f"{len(expanded) - len(folded) + runs} blocks drawn in their place")
        folded = expanded
    return folded, title
