"""Block names a reader can use: the shortest part of each module path that tells it apart in the scene.

A name is always a contiguous suffix of the real path (``layer2.0.downsample.0`` may become
``downsample.0`` but never ``layer2.downsample.0``, which names nothing), starting at a named part
rather than a bare index. The suffix is the shortest that no other block's path in the same scene
ends with, so six Linears of a BERT layer read ``query``, ``key``, ... ``attention.output.dense``
instead of six times ``encoder.layer``. Uniqueness is per scene, so names are made for all blocks at
once (:func:`block_names`).

Other rules, in order:

* a trailing generic container (``layers``, ``blocks``, ...) is dropped when the shorter path still
  names nothing else in the scene (MONAI's ``denselayer1.layers`` → ``denselayer1``);
* functional ops (and constants a factory made in ``forward``) carry their scope, shortest-unique
  among the ops of the same name: ``layer1.0 · add``, ``p4 · interpolate``; an op at the model's top
  level is just ``add``;
* a second call of the same module (or op in the same scope) gets ``#2``;
* a name over :data:`MAX_NAME` characters loses characters at the front to an ellipsis, only as
  many as leave a tail that ends no other path (``…dule.1.submodule.0.conv``): a shorter part-aligned
  tail would be the end of another block's path and read as that block too;
* names that still coincide (a module called ``add`` next to a top-level ``add`` op) get ``#2``, ``#3``.

So no two blocks of a scene ever get the same name.
"""

from __future__ import annotations

from collections import Counter

from render3d.graph import Node

#: container names that say nothing about a block; dropped from the end of a path when that stays unique
GENERIC_SCOPES = frozenset({"features", "layers", "blocks", "model", "module", "net", "body", "backbone",
                            "trunk", "stages", "encoder_layers"})
MAX_NAME = 28  # characters of the path part of a name before its front gives way to an ellipsis
OP_SEPARATOR = " · "
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
            op = base[len(node.scope) + 1:] if base.startswith(f"{node.scope}.") else base.rsplit(".", 1)[-1]
            ops.setdefault(op, {})[i] = tuple(node.scope.split(".")) if node.scope else ()
        else:
            modules[i] = tuple(node.id.partition("#")[0].split("."))
    for op, paths in [("", modules), *ops.items()]:
        for i, name in _unique_suffixes(paths).items():
            name = f"{name}{OP_SEPARATOR}{op}" if name and op else (name or op)
            names[i] = f"{name} #{nodes[i].call}" if nodes[i].call > 1 else name
    return _dedupe(names)


def _io_name(node: Node, nodes: list[Node]) -> str:
    """``input`` / ``output`` when the model has one; otherwise the id (``input.1``, ``output.logits``)."""
    alone = sum(n.kind == node.kind for n in nodes) == 1
    return node.kind if alone or node.id == node.kind else node.id.partition("#")[0]


def _unique_suffixes(paths: dict[int, Path]) -> dict[int, str]:
    """For each path, its shortest suffix (starting at a named part) that no other distinct path ends
    with, the whole path when every suffix is shared; cut at the front if long (:func:`_cut_front`)."""
    shown = _drop_generic_tails(paths)
    distinct = set(shown.values())
    ends = Counter(p[-k:] for p in distinct for k in range(1, len(p) + 1))
    texts = [".".join(p) for p in distinct]
    long_ends = Counter(t[-n:] for t in texts for n in range(MAX_NAME - len(ELLIPSIS), len(t) + 1))
    out: dict[int, str] = {}
    for i, path in shown.items():
        k = next((k for k in range(1, len(path)) if not path[-k].isdigit() and ends[path[-k:]] == 1), len(path))
        out[i] = _cut_front(".".join(path[-k:]), long_ends)
    return out


def _cut_front(text: str, ends: Counter[str]) -> str:
    """``text`` cut to :data:`MAX_NAME` characters behind an ellipsis, keeping as many more as it takes
    for the kept tail to end one path only (``ends`` counts the long string tails of all paths), so it
    still points at one block."""
    if len(text) <= MAX_NAME:
        return text
    for n in range(MAX_NAME - len(ELLIPSIS), len(text)):
        tail = text[-n:]
        if not tail.startswith(".") and ends[tail] == 1:
            return ELLIPSIS + tail
    return text


def _drop_generic_tails(paths: dict[int, Path]) -> dict[int, Path]:
    """Paths with trailing generic containers removed, wherever that maps no two distinct paths together."""
    shown = {}
    for i, path in paths.items():
        k = len(path)
        while k > 1 and path[k - 1].lower() in GENERIC_SCOPES:
            k -= 1
        shown[i] = path[:k]
    while True:
        owners: dict[Path, set[Path]] = {}
        for i, p in shown.items():
            owners.setdefault(p, set()).add(paths[i])
        clash = [i for i, p in shown.items() if len(owners[p]) > 1 and p != paths[i]]
        if not clash:
            return shown
        for i in clash:
            shown[i] = paths[i]


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
