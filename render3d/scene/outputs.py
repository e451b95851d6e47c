"""The output a reader looks for: the model's primary output.

:func:`primary_output` names the output the main path should end at (``logits`` /
``last_hidden_state``), so a secondary output such as BERT's ``pooler_output`` does not pull the main
path away from it. Key/value caches are folded into one badge by a graph pass
(:func:`render3d.passes.cache.fold_cache_outputs`) and never count as primary.
"""

from __future__ import annotations

from render3d.graph import Trace
from render3d.passes.cache import is_cache_path, output_node


def primary_output(trace: Trace) -> str | None:
    """Id of the output node the main path should end at, ``None`` when the model has none.

    Named outputs (a dict or ``ModelOutput``) put the primary one first (``logits``,
    ``last_hidden_state``); a tuple or list of outputs (RAFT's flow per iteration) ends with the
    final one, so the deepest of them wins."""
    candidates = [o for o in trace.outputs if not is_cache_path(o["path"])]
    ids = [output_node(o["path"]) for o in candidates]
    ids = [i for i in ids if i in trace.nodes and trace.nodes[i].kind == "output"]
    if not ids:
        return None
    named = any(o["path"] and not o["path"].split(".")[0].isdigit() for o in candidates)
    return ids[0] if named else ids[-1]
