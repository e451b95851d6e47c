"""Block names a reader can use: the shortest part of each module path that tells it apart in the scene.

A name is always a contiguous suffix of the real path (``layer2.0.downsample.0`` may become
``downsample.0`` but never ``layer2.downsample.0``, which names nothing), starting at a named part
rather than a bare index. The suffix is the shortest that no other block's path in the same scene
ends with, so six Linears of a BERT layer read ``query``, ``key``, ... ``attention.output.dense``
instead of six times ``encoder.layer``. Uniqueness is per scene, so names are made for all blocks at
once (:func:`block_names`).

Other rules, in order:

* a trailing generic container (``layers``, ``blocks``, ...) is dropped from that suffix when no
  block's path ends with what is left (MONAI's ``denseblock1.denselayer1.layers`` →
  ``denseblock1.denselayer1``, unless ``denselayer1`` is itself a block of the scene);
* functional ops (and constants a factory made in ``forward``) carry their scope, shortest-unique
  among the ops of the same name: ``layer1.0 · add``, ``p4 · interpolate``, ``attn · SDPA``; an op at
  the model's top level is just ``add``;
* a second call of the same module (or op in the same scope) gets ``#2``;
* a name over :data:`MAX_NAME` characters is cut at the front to an ellipsis and its longest tail
  of whole parts that fits and that no other path ends with: ``stages.0.blocks.0.conv.pre_norm`` →
  ``…0.blocks.0.conv.pre_norm`` (such a tail starts at an index, or it would have been the shortest
  suffix); with no such tail the name stays whole, since a tail another block's path also ends with
  would read as that block too;
* names that still coincide (a module called ``add`` next to a top-level ``add`` op) get ``#2``, ``#3``.

So no two blocks of a scene ever get the same name.
"""

from __future__ import annotations

from collections import Counter

from render3d.graph import Node

#: container names that say nothing about a block; dropped from the end of a path when that stays unique
GENERIC_SCOPES = frozenset(
    {"features", "layers", "blocks", "model", "module", "net", "body", "backbone", "trunk", "stages", "encoder_layers"}
)
MAX_NAME = 28  # characters of the path part of a name before its front gives way to an ellipsis
OP_SEPARATOR = " · "
#: ops whose full name would make every label of theirs the widest in the scene
OP_ABBREVIATIONS = {"scaled_dot_product_attention": "SDPA"}
ELLIPSIS = "…"

Path = tuple[str, ...]


def block_names(nodes: list[Node]) -> list[str]:
    """One name per block (head node), distinct within ``nodes``; see the module docstring for the rules."""
    names = [""] * len(nodes)
    modules: dict[int, Path] = {}
    ops: dict[str, dict[int, Path]] = {}
    for i, node in enumerate(nodes):
        if node.kind in ("input", "output"):
            names[i] = _io_name(node, nodes)
        elif node.kind == "function" or node.type == "Constant":
            base = node.id.partition("#")[0]
            op = base[len(node.scope) + 1 :] if base.startswith(f"{node.scope}.") else base.rsplit(".", 1)[-1]
            ops.setdefault(OP_ABBREVIATIONS.get(op, op), {})[i] = tuple(node.scope.split(".")) if node.scope else ()
        else:
            modules[i] = tuple(node.id.partition("#")[0].split("."))
    # a module named "output" (or "add") must not read as the model's output (or a top-level add op)
    taken = {tuple(name.split(".")) for name in names if name} | {
        (op,) for op, paths in ops.items() if () in paths.values()
    }
    for op, paths, reserved in [("", modules, taken), *((op, paths, set()) for op, paths in ops.items())]:
        for i, name in _unique_suffixes(paths, reserved).items():
            name = f"{name}{OP_SEPARATOR}{op}" if name and op else (name or op)
            names[i] = f"{name} #{nodes[i].call}" if nodes[i].call > 1 else name
    return _dedupe(names)


def _io_name(node: Node, nodes: list[Node]) -> str:
    """``input`` / ``output`` when the model has one; otherwise the id (``input.1``, ``output.logits``)."""
    alone = sum(n.kind == node.kind for n in nodes) == 1
    return node.kind if alone or node.id == node.kind else node.id.partition("#")[0]


def _unique_suffixes(paths: dict[int, Path], reserved: set[Path]) -> dict[int, str]:
    """For each path, its shortest suffix (starting at a named part) that no other distinct path (nor a
    ``reserved`` name) ends with, the whole path when every suffix is shared; then a trailing generic
    container dropped when no path ends with what is left, or a long name cut at the front."""
    ends = Counter(p[-k:] for p in set(paths.values()) | reserved for k in range(1, len(p) + 1))
    out: dict[int, str] = {}
    for i, path in paths.items():
        k = next((k for k in range(1, len(path)) if not path[-k].isdigit() and ends[path[-k:]] == 1), len(path))
        kept = k
        while kept > 1 and path[-k:][kept - 1].lower() in GENERIC_SCOPES:
            kept -= 1
        if kept < k and not ends[path[-k:][:kept]]:
            out[i] = ".".join(path[-k:][:kept])
        else:
            out[i] = _cut_front(path[-k:], ends)
    return out


def _cut_front(name: Path, ends: Counter[Path]) -> str:
    """A name over :data:`MAX_NAME` characters as an ellipsis and its longest tail of whole parts that
    fits and that no other path ends with (so it still points at one block); else the whole name."""
    text = ".".join(name)
    if len(text) <= MAX_NAME:
        return text
    for k in range(len(name) - 1, 0, -1):
        tail = ".".join(name[-k:])
        if len(ELLIPSIS) + len(tail) <= MAX_NAME and ends[name[-k:]] == 1:
            return ELLIPSIS + tail
    return text


def _dedupe(texts: list[str]) -> list[str]:
    """Number the later copies of any name that still repeats (``add``, ``add #2``)."""
    taken = set(texts)
    seen: set[str] = set()
    out = []
    for text in texts:
        if text in seen:
            k = 2
            while f"{text} #{k}" in taken:
                k += 1
            text = f"{text} #{k}"
            taken.add(text)
        seen.add(text)
        out.append(text)
    return out
