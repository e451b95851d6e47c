"""Key/value caches as one badge.

Hugging Face models return their key/value caches next to the logits (a two-layer GPT-2: 4 cache
tensors, a two-layer T5 or Whisper: 8); drawn as they come, every cache tensor is a black output slab
in the middle of the diagram. :func:`fold_cache_outputs` replaces them with one ``cache ×N`` badge,
drawn beside the primary output (:func:`render3d.scene.outputs.primary_output`).

Pure numpy / Python; deterministic (output order of the model's return value).
"""

from __future__ import annotations

from dataclasses import replace

from render3d.graph import Node, Trace

#: output path parts that mark a key/value cache entry
CACHE_PARTS = frozenset({"cache", "past_key_values", "past_key_value", "present", "presents", "mems"})
CACHE_ID = "output.cache"


def output_node(path: str) -> str:
    """Id of the output node for output path ``path`` (``""`` is the model's single output)."""
    return f"output.{path}" if path else "output"


def is_cache_path(path: str) -> bool:
    """True for an output path inside a key/value cache (``cache.layers.0.keys``, ``past_key_values.1.0``)."""
    return any(part in CACHE_PARTS or part.endswith("_cache") for part in path.split("."))


def fold_cache_outputs(trace: Trace) -> Trace:
    """``trace`` with all cache output nodes replaced by one ``output.cache`` badge (``repeats`` = how
    many tensors it stands for, the shape of one of them); unchanged when the model returns no cache.

    The badge has no edges: a dozen arcs from every layer's keys and values to one box would bury
    the diagram; which tensors it stands for is in its ``folded`` ids (the block's tooltip)."""
    cache = [output_node(o["path"]) for o in trace.outputs if is_cache_path(o["path"])]
    cache = [c for c in cache if c in trace.nodes and trace.nodes[c].kind == "output"]
    if not cache:
        return trace
    first = trace.nodes[cache[0]]
    badge = Node(
        id=CACHE_ID,
        kind="output",
        type="Cache",
        scope="",
        call=1,
        shape=first.shape,
        dtype=first.dtype,
        shapes=first.shapes,
        repeats=len(cache),
        folded=tuple(cache),
    )
    gone = set(cache)
    nodes: dict[str, Node] = {}
    for nid, node in trace.nodes.items():
        if nid in gone:
            nodes.setdefault(CACHE_ID, badge)
        else:
            nodes[nid] = node
    edges = [(a, b) for a, b in trace.edges if b not in gone and a not in gone]
    kept = [o for o in trace.outputs if not is_cache_path(o["path"])]
    return replace(trace, nodes=nodes, edges=edges, outputs=kept + [{"path": "cache", "node": CACHE_ID}])
