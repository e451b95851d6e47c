"""The traced dataflow graph as plain data (numpy only).

This is the hand-off between the rooms: ``render3d.trace`` (torch) produces a :class:`Trace`, the
scene room (numpy) and the recorder read it. Keeping it free of torch means a scene can be built from a
saved trace JSON, and ``render3d.scene`` never pulls torch in.

Node ids are ``<module path>#<call>`` for module calls and ``<scope>.<op>#<n>`` for functional ops, so
they depend only on the model's structure, never on Python object ids or global counters.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from render3d.atomic import atomic_write_text


@dataclass(frozen=True)
class Stats:
    """Robust statistics of one captured tensor (exact min/max/NaN/Inf, percentiles on a sample)."""

    min: float
    max: float
    mean: float
    std: float
    p1: float
    p99: float
    zero_fraction: float
    nan_count: int
    inf_count: int
    numel: int
    #: fractions of the sample with |x| >= 0.99 and with |x| <= 0.01: how much of a tanh or sigmoid
    #: output sits at its limits (render3d.health's ``saturated``); NaN in stats saved before them
    near_one_fraction: float = float("nan")
    near_zero_fraction: float = float("nan")

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Activation:
    """A bounded copy of one output tensor (batch item 0), stored as float16.

    ``layout`` says how to read ``data``: ``"map"`` is (C, H, W), ``"volume"`` is (C, T, H, W),
    ``"tokens"`` is (T, D), ``"vector"`` is (F,). ``full_shape`` is the shape before reduction and
    ``channel_mean`` the mean of every channel (all of them, not only the kept ones) for maps/volumes.
    Values beyond float16's range are stored divided by ``scale``; :meth:`values` undoes it.
    """

    data: np.ndarray
    layout: str
    full_shape: tuple[int, ...]
    channel_mean: np.ndarray | None = None
    scale: float = 1.0
    #: (heads, T, S) attention weights of batch item 0, for attention modules that expose them
    attention: np.ndarray | None = None

    def values(self) -> np.ndarray:
        """The stored values as float32 in the tensor's own units."""
        out = self.data.astype(np.float32)
        return out * self.scale if self.scale != 1.0 else out


@dataclass
class Node:
    """One output tensor in the graph: a module call, a functional op, a model input or output.

    ``kind`` is ``"module"``, ``"function"``, ``"input"``, ``"output"`` or ``"constant"``: a *source*
    the forward read but no node made (``type`` ``"Buffer"``, ``"Parameter"`` or ``"Constant"`` for a
    tensor made by a factory such as ``torch.arange`` inside ``forward``); sources are roots, like inputs.
    """

    id: str
    kind: str
    type: str
    scope: str
    call: int
    shape: tuple[int, ...] | None
    dtype: str = ""
    params: int = 0
    shapes: tuple[tuple[int, ...], ...] = ()
    #: enclosing module-call ids, outermost first (``("layer1#1", "layer1.0#1")``); excludes itself
    stack: tuple[str, ...] = ()
    stats: Stats | None = None
    activation: Activation | None = None
    #: how many identical consecutive blocks this node stands for (see :meth:`Trace.fold_repeats`)
    repeats: int = 1
    #: ids of the module calls folded into this node, first to last (empty when not folded)
    folded: tuple[str, ...] = ()
    #: where the op ran inside its innermost container's forward, outermost first: function invocations
    #: (``"postprocess()#1"``) and loop iterations (``"forward·loop#3"``); see render3d.passes.callsites
    site: tuple[str, ...] = ()
    #: the layer's hyper-parameters as JSON values (``{"kernel_size": [3, 3], "stride": [1, 1], ...}``;
    #: see render3d.tracing.attrs), ``{}`` for containers, inputs and most functional ops
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """Module depth of the node's own path: ``conv1`` is 1, ``layer1.0.conv1`` is 3."""
        return 0 if not self.scope else self.scope.count(".") + 1

    def to_dict(self) -> dict[str, Any]:
        """The schema's node; ``"attrs"`` only when the node has some, so plain nodes read as before."""
        out = {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "scope": self.scope,
            "call": self.call,
            "shape": list(self.shape) if self.shape is not None else None,
            "params": self.params,
        }
        if self.attrs:
            out["attrs"] = dict(self.attrs)
        return out


@dataclass(frozen=True)
class ModuleCall:
    """One call of one module (leaf or container), kept so depth collapse needs no re-trace."""

    id: str
    path: str
    type: str
    call: int
    params: int
    #: node ids that produced the module's output tensors, in output order
    outputs: tuple[str, ...] = ()
    #: enclosing container calls, outermost first (as :attr:`Node.stack`)
    stack: tuple[str, ...] = ()
    #: where the call was made inside its container's forward (as :attr:`Node.site`)
    site: tuple[str, ...] = ()

    @property
    def depth(self) -> int:
        return 0 if not self.path else self.path.count(".") + 1


@dataclass
class Trace:
    """A traced model: nodes in execution order, dataflow edges, and the module calls around them."""

    model: str
    inputs: list[dict[str, Any]]
    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    outputs: list[dict[str, str]]
    modules: dict[str, ModuleCall] = field(default_factory=dict)
    depth: int | None = None
    total_params: int = 0

    # --- queries -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __getitem__(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            near = ", ".join(sorted(self.nodes)[:8])
            raise KeyError(f"no node {node_id!r} in trace of {self.model}; ids look like: {near}") from None

    def parents(self, node_id: str) -> list[str]:
        return [src for src, dst in self.edges if dst == node_id]

    def children(self, node_id: str) -> list[str]:
        return [dst for src, dst in self.edges if src == node_id]

    def parent_map(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for src, dst in self.edges:
            result[dst].append(src)
        return result

    def child_map(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for src, dst in self.edges:
            result[src].append(dst)
        return result

    def flags(self) -> dict[str, tuple[str, ...]]:
        """Health flags of every node (``"dead"``, ``"nan"``, ...; ``()`` when healthy or without
        statistics): :func:`render3d.health.layer_flags`, whose docstring gives the rules."""
        from render3d.health import layer_flags

        return layer_flags(self)

    def signature(self) -> str:
        """Hash of ids, kinds, types, shapes and edges: equal for equal graphs, whatever the weights."""
        h = hashlib.sha256()
        for node in self.nodes.values():
            h.update(f"{node.id}|{node.kind}|{node.type}|{node.shape}\n".encode())
        for src, dst in self.edges:
            h.update(f"{src}>{dst}\n".encode())
        return h.hexdigest()[:16]

    # --- graph passes (render3d.passes imports this module, hence the imports inside) -------
    def collapse(self, depth: int | None) -> Trace:
        """Contract everything below module depth ``depth`` into one block per module call:
        :func:`render3d.passes.collapse.collapse`."""
        from render3d.passes.collapse import collapse

        return collapse(self, depth)

    def fold_repeats(self, min_repeats: int = 2) -> Trace:
        """Fold runs of identical, chained sibling module calls into one block with ``repeats=N``:
        :func:`render3d.passes.repeats.fold_repeats`."""
        from render3d.passes.repeats import fold_repeats

        return fold_repeats(self, min_repeats)

    # --- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The stable JSON schema of ``DESIGN.md`` (activations are not included)."""
        return {
            "model": self.model,
            "inputs": [dict(i) for i in self.inputs],
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [[s, d] for s, d in self.edges],
            "outputs": [dict(o) for o in self.outputs],
        }

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` atomically (temp name, then rename)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1)
        atomic_write_text(path, text + "\n")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """Rebuild the graph (without activations or module calls) from :meth:`to_dict` output."""
        nodes = {}
        for n in data["nodes"]:
            shape = tuple(n["shape"]) if n.get("shape") is not None else None
            nodes[n["id"]] = Node(
                id=n["id"],
                kind=n["kind"],
                type=n["type"],
                scope=n["scope"],
                call=n["call"],
                shape=shape,
                params=n.get("params", 0),
                shapes=(shape,) if shape else (),
                attrs=dict(n.get("attrs") or {}),
            )
        edges = [(s, d) for s, d in data["edges"]]
        return cls(model=data["model"], inputs=data["inputs"], nodes=nodes, edges=edges, outputs=data["outputs"])

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Trace:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __repr__(self) -> str:
        from render3d.table import format_trace

        return format_trace(self)
