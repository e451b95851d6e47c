"""The pass pipeline ``build_scene`` runs: from the traced graph to the graph that is drawn.

:data:`SCENE_PASSES`, in order (each a function ``(trace, context) -> trace`` over the primitive
rewrites of this package):

1. :func:`cache_outputs`: key/value caches become one ``cache ×N`` badge;
2. :func:`call_sites`: each site grouped by :func:`~render3d.passes.callsites.group_call_sites`
   folds ``×N``, becomes one glue block or dissolves;
3. :func:`fit_blocks`: fold runs of identical chained sibling module calls at full depth
   (ResNet-152's ``layer3.1 … layer3.35`` become one block ``×35``); if that is still over
   ``max_blocks``, collapse by module depth (deepest that fits) and fold again;
4. :func:`unfold_runs`: with ``unfold`` (``"auto"``: when folding left a small scene, e.g. a ViT
   folds to a dozen blocks) the first call of each run is drawn in full and the rest stay one block
   ``×(N-1)``, so the picture shows what one transformer layer looks like inside and how many follow;
5. :func:`expand_blocks`: ``expand`` names ``×N`` blocks to draw as their N calls side by side (the
   window's click on a ``×N`` block).

Every step says what it did in ``context.notes`` (shown under the title). The drawn trace then goes
to :func:`render3d.scene.fold.build_block_graph`, which views it as blocks (conv→norm→activation
chains as one box) without rewriting it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from render3d.graph import Trace
from render3d.passes.cache import fold_cache_outputs
from render3d.passes.callsites import CALL, fit_call_sites
from render3d.passes.collapse import collapse
from render3d.passes.repeats import expand_runs, fold_repeats, unfold_first

#: ``unfold="auto"`` unfolds when folding left at most this many blocks
UNFOLD_AUTO_MAX = 40
#: ... and the unfolded scene has at most this many
UNFOLD_AUTO_LIMIT = 160


@dataclass
class PassContext:
    """What the passes read besides the trace (the options) and what they leave for the scene."""

    max_blocks: int
    #: fold ``×N`` runs (module calls and call sites); off for a trace without module calls
    fold: bool = True
    #: ``"auto"``, ``"always"`` or ``"never"``: draw the first call of each run in full
    unfold: str = "auto"
    #: ids of ``×N`` blocks to draw as their N calls
    expand: Collection[str] = frozenset()
    notes: list[str] = field(default_factory=list)
    title: str = ""
    #: the trace before folding, collapsed when it was (:func:`fit_blocks`): unfold and expand re-derive
    #: their blocks from it
    pre: Trace | None = None
    #: the depth :func:`fit_blocks` collapsed to, ``None`` when it did not
    collapsed_to: int | None = None

    @classmethod
    def for_trace(
        cls,
        trace: Trace,
        *,
        max_blocks: int,
        fold_repeats: bool = True,
        unfold: str = "auto",
        expand: Collection[str] = (),
        notes: list[str] | None = None,
    ) -> PassContext:
        """Options for ``trace``: folding needs module calls; the title names a depth given by the caller."""
        return cls(
            max_blocks=max_blocks,
            fold=fold_repeats and bool(trace.modules),
            unfold=unfold,
            expand=frozenset(expand),
            notes=[] if notes is None else notes,
            title=trace.model if trace.depth is None else f"{trace.model} (depth {trace.depth})",
        )


Pass = Callable[[Trace, PassContext], Trace]


def cache_outputs(trace: Trace, context: PassContext) -> Trace:
    return fold_cache_outputs(trace)


def call_sites(trace: Trace, context: PassContext) -> Trace:
    return fit_call_sites(trace, fold=context.fold)


def fit_blocks(trace: Trace, context: PassContext) -> Trace:
    """Fold repeats; when still over ``max_blocks``, collapse to the deepest module depth that fits."""
    folded = fold_repeats(trace) if context.fold else trace
    context.pre = trace
    if len(folded) <= context.max_blocks:
        return folded
    if not trace.modules:
        context.notes.append(
            f"{len(trace)} blocks > max_blocks={context.max_blocks}, but the trace has no module calls to collapse"
        )
        # nothing was folded or collapsed: no fold note, nothing to unfold or expand
        context.fold, context.expand = False, frozenset()
        return trace
    deepest = max(m.depth for m in trace.modules.values())
    start = deepest if trace.depth is None else min(deepest, trace.depth - 1)
    depth = start
    for depth in range(start, 0, -1):
        context.pre = collapse(trace, depth)
        folded = fold_repeats(context.pre) if context.fold else context.pre
        if len(folded) <= context.max_blocks:
            break
    before = len(fold_repeats(trace)) if context.fold else len(trace)
    context.notes.append(f"collapsed to depth {depth}: {before} blocks > {context.max_blocks}")
    if len(folded) > context.max_blocks:
        context.notes.append(f"still {len(folded)} blocks at depth 1")
    context.collapsed_to = depth
    context.title = f"{trace.model} (depth {depth})"
    return folded


def unfold_runs(trace: Trace, context: PassContext) -> Trace:
    """Draw the first call of each run in full when ``unfold`` asks for it, and note the folding."""
    if not context.fold:
        return trace
    drawn, unfolded = trace, False
    if context.unfold != "never" and context.pre is not None and trace is not context.pre:
        candidate = unfold_first(context.pre, trace)
        auto_ok = (
            context.collapsed_to is None
            and len(trace) <= UNFOLD_AUTO_MAX
            and len(candidate) <= min(UNFOLD_AUTO_LIMIT, context.max_blocks)
        )
        if context.unfold == "always" and len(candidate) <= context.max_blocks or context.unfold == "auto" and auto_ok:
            drawn, unfolded = candidate, True
    note = _fold_note(trace, unfolded)
    if note:
        context.notes.append(note)
    return drawn


def expand_blocks(trace: Trace, context: PassContext) -> Trace:
    """Draw the ``×N`` blocks named in ``context.expand`` as their N calls."""
    if not context.expand or context.pre is None:
        return trace
    expanded = expand_runs(context.pre, trace, context.expand)
    runs = sum(1 for nid in context.expand if nid in trace.nodes and len(trace.nodes[nid].folded) > 1)
    if runs:
        context.notes.append(
            f"expanded {runs} ×N block{'s' if runs != 1 else ''}: "
            f"{len(expanded) - len(trace) + runs} blocks drawn in their place"
        )
    return expanded


def _fold_note(trace: Trace, unfolded: bool) -> str | None:
    reps = sorted(n.repeats for n in trace.nodes.values() if n.repeats > 1 and n.kind in ("module", CALL))
    if not reps:
        return None
    runs = f"{len(reps)} run{'s' if len(reps) != 1 else ''}"
    counts = f"×{reps[0]}" if reps[0] == reps[-1] else f"×{reps[0]}..×{reps[-1]}"
    tail = (", the first drawn in full" if len(reps) == 1 else ", the first of each drawn in full") if unfolded else ""
    return f"folded {runs} of repeated blocks ({counts}{tail})"


#: what ``build_scene`` runs, in order, on the trace grouped by call site
SCENE_PASSES: tuple[Pass, ...] = (cache_outputs, call_sites, fit_blocks, unfold_runs, expand_blocks)


def run_passes(trace: Trace, context: PassContext, passes: Sequence[Pass] = SCENE_PASSES) -> Trace:
    """``trace`` through each of ``passes`` in turn."""
    for step in passes:
        trace = step(trace, context)
    return trace
