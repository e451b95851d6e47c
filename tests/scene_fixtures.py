"""Traces for the scene tests: hand-built synthetic graphs (no torch) and cached real-model traces.

Synthetic traces are made with the dataclasses of :mod:`render3d.graph` only, so most scene tests
run without torch. Real traces (``seed_trace()`` ...) import torch lazily and are cached per session.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from render3d.graph import Activation, ModuleCall, Node, Stats, Trace

Spec = tuple[str, str, str, tuple[int, ...] | None, tuple[str, ...]]  # id, kind, type, shape, parents


def make_trace(specs: list[Spec], name: str = "Synthetic", *, params: int = 10) -> Trace:
    """A trace from ``(id, kind, type, shape, parents)`` rows in execution order."""
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    for nid, kind, typ, shape, parents in specs:
        base, _, call = nid.partition("#")
        scope = base if kind == "module" else base.rpartition(".")[0]
        nodes[nid] = Node(
            id=nid,
            kind=kind,
            type=typ,
            scope=scope,
            call=int(call or 1),
            shape=shape,
            params=params if kind == "module" and typ in ("Conv2d", "Linear") else 0,
            shapes=(shape,) if shape else (),
        )
        edges.extend((p, nid) for p in parents)
    first = specs[0]
    return Trace(
        model=name,
        inputs=[{"id": first[0], "shape": list(first[3] or ())}],
        nodes=nodes,
        edges=edges,
        outputs=[{"path": "", "node": specs[-1][4][0] if specs[-1][4] else specs[-1][0]}],
    )


def chain(n: int = 6, shape: tuple[int, ...] = (1, 16, 32, 32)) -> Trace:
    specs: list[Spec] = [("input.0", "input", "Input", shape, ())]
    prev = "input.0"
    for i in range(n):
        nid = f"conv{i}#1"
        specs.append((nid, "module", "Conv2d", shape, (prev,)))
        prev = nid
    specs.append(("output", "output", "Output", shape, (prev,)))
    return make_trace(specs, "Chain")


def diamond() -> Trace:
    """input → a → (b1 → b2 | c1) → cat → out: two parallel branches of different lengths."""
    s = (1, 8, 16, 16)
    return make_trace(
        [
            ("input.0", "input", "Input", s, ()),
            ("a#1", "module", "Conv2d", s, ("input.0",)),
            ("b1#1", "module", "Conv2d", s, ("a#1",)),
            ("b2#1", "module", "Conv2d", s, ("b1#1",)),
            ("c1#1", "module", "Conv2d", s, ("a#1",)),
            ("cat#1", "function", "cat", (1, 16, 16, 16), ("b2#1", "c1#1")),
            ("output", "output", "Output", (1, 16, 16, 16), ("cat#1",)),
        ],
        "Diamond",
    )


def residual(blocks: int = 2) -> Trace:
    """Chains of conv → conv → add(input of the block): one skip per block."""
    s = (1, 32, 16, 16)
    specs: list[Spec] = [("input.0", "input", "Input", s, ())]
    prev = "input.0"
    for b in range(blocks):
        specs += [
            (f"b{b}.conv1#1", "module", "Conv2d", s, (prev,)),
            (f"b{b}.conv2#1", "module", "Conv2d", s, (f"b{b}.conv1#1",)),
            (f"b{b}.add#1", "function", "add_", s, (f"b{b}.conv2#1", prev)),
        ]
        prev = f"b{b}.add#1"
    specs.append(("output", "output", "Output", s, (prev,)))
    return make_trace(specs, "Residual")


def unet_like() -> Trace:
    """enc 32² → pool → enc 16² → pool → mid 8² → up 16² → cat(enc16) → up 32² → cat(enc32)."""
    return make_trace(
        [
            ("input.0", "input", "Input", (1, 3, 32, 32), ()),
            ("e1#1", "module", "Conv2d", (1, 8, 32, 32), ("input.0",)),
            ("p1#1", "module", "MaxPool2d", (1, 8, 16, 16), ("e1#1",)),
            ("e2#1", "module", "Conv2d", (1, 16, 16, 16), ("p1#1",)),
            ("p2#1", "module", "MaxPool2d", (1, 16, 8, 8), ("e2#1",)),
            ("mid#1", "module", "Conv2d", (1, 32, 8, 8), ("p2#1",)),
            ("up1#1", "module", "ConvTranspose2d", (1, 16, 16, 16), ("mid#1",)),
            ("cat#1", "function", "cat", (1, 32, 16, 16), ("e2#1", "up1#1")),
            ("d1#1", "module", "Conv2d", (1, 16, 16, 16), ("cat#1",)),
            ("up2#1", "module", "ConvTranspose2d", (1, 8, 32, 32), ("d1#1",)),
            ("cat#2", "function", "cat", (1, 16, 32, 32), ("e1#1", "up2#1")),
            ("d2#1", "module", "Conv2d", (1, 8, 32, 32), ("cat#2",)),
            ("output", "output", "Output", (1, 8, 32, 32), ("d2#1",)),
        ],
        "UNetLike",
    )


def big_residual(n_blocks: int = 1666) -> Trace:
    """About 5000 nodes: residual blocks of three nodes each, with module calls for collapse."""
    s = (1, 64, 8, 8)
    nodes: dict[str, Node] = {"input.0": Node("input.0", "input", "Input", "", 1, s)}
    edges: list[tuple[str, str]] = []
    modules: dict[str, ModuleCall] = {}
    prev = "input.0"
    for b in range(n_blocks):
        block = f"blocks.{b}#1"
        stack = ("blocks#1", block)
        c1, c2, add = f"blocks.{b}.conv1#1", f"blocks.{b}.conv2#1", f"blocks.{b}.add#1"
        nodes[c1] = Node(c1, "module", "Conv2d", f"blocks.{b}.conv1", 1, s, params=100, stack=stack)
        nodes[c2] = Node(c2, "module", "Conv2d", f"blocks.{b}.conv2", 1, s, params=100, stack=stack)
        nodes[add] = Node(add, "function", "add_", f"blocks.{b}", 1, s, stack=stack)
        edges += [(prev, c1), (c1, c2), (c2, add), (prev, add)]
        modules[block] = ModuleCall(block, f"blocks.{b}", "Block", 1, 200, (add,), ("blocks#1",))
        modules[c1] = ModuleCall(c1, f"blocks.{b}.conv1", "Conv2d", 1, 100, (c1,), stack)
        modules[c2] = ModuleCall(c2, f"blocks.{b}.conv2", "Conv2d", 1, 100, (c2,), stack)
        prev = add
    modules["blocks#1"] = ModuleCall("blocks#1", "blocks", "Sequential", 1, 200 * n_blocks, (prev,))
    nodes["output"] = Node("output", "output", "Output", "", 1, s)
    edges.append((prev, "output"))
    return Trace(
        "BigResidual", [{"id": "input.0", "shape": list(s)}], nodes, edges, [{"path": "", "node": prev}], modules
    )


def with_activation(trace: Trace, node_id: str, data: np.ndarray, layout: str, stats: Stats | None) -> Trace:
    node = trace.nodes[node_id]
    node.activation = Activation(data=data.astype(np.float16), layout=layout, full_shape=tuple(data.shape))
    node.stats = stats
    return trace


# --- real models (torch imported lazily) ---------------------------------------------------------


def _trace(model, *inputs, **kw) -> Trace:
    import torch

    import render3d

    torch.manual_seed(0)
    with torch.no_grad():
        return render3d.trace(model.eval(), *inputs, **kw)


@cache
def seed_trace() -> Trace:
    import torch

    from render3d.models import SeedCNN

    torch.manual_seed(0)
    return _trace(SeedCNN(), torch.randn(1, 3, 64, 64))


@cache
def resnet18_trace() -> Trace:
    import torch
    import torchvision

    torch.manual_seed(0)
    return _trace(torchvision.models.resnet18(), torch.randn(1, 3, 64, 64), capture="none")


@cache
def googlenet_trace() -> Trace:
    import torch
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.googlenet(init_weights=False, aux_logits=False)
    return _trace(model, torch.randn(1, 3, 64, 64), capture="none")


@cache
def unet_trace() -> Trace:
    import torch

    from render3d.models import UNet

    torch.manual_seed(0)
    return _trace(UNet(), torch.randn(1, 3, 64, 64), capture="none")


@cache
def densenet_trace() -> Trace:
    import torch
    import torchvision

    torch.manual_seed(0)
    return _trace(torchvision.models.densenet121(), torch.randn(1, 3, 32, 32), capture="none")


@cache
def densenet201_trace() -> Trace:
    """DenseNet-201 at 224² traced on the meta device (shapes only, fast): ~700 blocks at depth 3."""
    import torch
    import torchvision

    import render3d

    return render3d.trace(torchvision.models.densenet201(), torch.randn(1, 3, 224, 224), capture="none", device="meta")
