"""Graph passes: every rewrite of a :class:`~render3d.graph.Trace`, as functions ``Trace -> Trace``.

Like ``torch.fx`` passes, each takes a graph and returns a new one (never mutating its input) and
they compose in a visible pipeline (:data:`render3d.passes.pipeline.SCENE_PASSES`, run by
``build_scene``). Pure numpy / Python: the scene room imports this package, so it never loads torch.

- :mod:`.contract`: the primitive they share (group nodes into blocks, re-point edges);
- :mod:`.collapse`: :func:`collapse`, one block per module call below a depth;
- :mod:`.repeats`: :func:`fold_repeats` (``×N``), :func:`unfold_first`, :func:`expand_runs`;
- :mod:`.callsites`: :func:`group_call_sites` and :func:`fit_call_sites` (ops grouped by the
  function or loop that ran them);
- :mod:`.cache`: :func:`fold_cache_outputs` (key/value caches as one badge);
- :mod:`.pipeline`: the order ``build_scene`` runs them in, and the notes they leave.

A new pass is a function here with its own tests (tests/test_passes.py) and, when the scene should
run it, an entry in ``SCENE_PASSES``.
"""

from render3d.passes.cache import fold_cache_outputs
from render3d.passes.callsites import fit_call_sites, group_call_sites
from render3d.passes.collapse import collapse
from render3d.passes.pipeline import SCENE_PASSES, PassContext, run_passes
from render3d.passes.repeats import expand_runs, fold_repeats, original_members, unfold_first

__all__ = [
    "SCENE_PASSES",
    "PassContext",
    "collapse",
    "expand_runs",
    "fit_call_sites",
    "fold_cache_outputs",
    "fold_repeats",
    "group_call_sites",
    "original_members",
    "run_passes",
    "unfold_first",
]
