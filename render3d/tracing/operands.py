"""What one layer computed on one input, as numpy: the operands an explainer shows with real numbers.

:func:`capture_operands` runs the model once (eval mode, no grad, restored afterwards) with forward
hooks and returns an :class:`Operands` for one module: its input and output (batch item 0), weight,
bias, hyper-parameters and, for the receptive field, the chain of earlier spatial layers (convs and
pools) on its input path, found in the traced graph (:func:`render3d.trace`). At a join (a residual
add) the chain follows the parent with the most spatial layers: a skip's field lies inside it. An op
that changes the spatial size and is not a conv or pool (interpolate, flatten) ends the chain; its
output is then the earliest plane the field is traced to.

1-D convs and pools are stored as 2-D with height 1, so the scene room draws one kind of plane.
Nothing here leaves torch in the result.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import torch
from torch import nn

from render3d.errors import ModelSpecError
from render3d.tracing.attention import mha_query_key

__all__ = ["KINDS", "Operands", "SpatialStep", "capture_operands", "find_module", "split_layer"]

#: module type → the explainer that draws it
KINDS = {
    "Conv1d": "conv",
    "Conv2d": "conv",
    "MaxPool1d": "maxpool",
    "MaxPool2d": "maxpool",
    "AvgPool1d": "avgpool",
    "AvgPool2d": "avgpool",
    "Linear": "linear",
    "BatchNorm1d": "batchnorm",
    "BatchNorm2d": "batchnorm",
    "LayerNorm": "layernorm",
    "MultiheadAttention": "attention",
}
_SPATIAL = ("Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d")
SUPPORTED_TEXT = (
    "Conv1d/Conv2d, MaxPool/AvgPool 1d/2d, Linear, BatchNorm1d/2d, LayerNorm, MultiheadAttention "
    "or a module calling F.scaled_dot_product_attention"
)


@dataclass(frozen=True)
class SpatialStep:
    """One conv or pool on the input path: how its output cells map back onto its input."""

    name: str  # graph node id, e.g. ``pool#2``
    type_name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_shape: tuple[int, int, int]  # (C, H, W)


@dataclass
class Operands:
    """Everything one layer's explainer needs, in numpy float32 (batch item 0 throughout).

    ``kind`` is a value of :data:`KINDS` (or ``"attention"`` for an SDPA call). Conv/pool: ``input``
    (C_in, H, W), ``output`` (C_out, H', W'), ``weight`` (C_out, C_in/groups, kh, kw). Linear:
    ``input`` (rows, F), ``output`` (rows, out). BatchNorm: (C, H, W) maps, ``mean``/``var``/``weight``/
    ``bias`` per channel. LayerNorm: ``input``/``output`` (rows, D) with D the normalised size,
    ``mean``/``var`` per row.
    Attention: ``query`` (heads, T, d), ``key`` (heads, S, d), ``mask`` additive (heads, T, S) or None,
    ``scale``; ``output`` the softmax weights torch would give are recomputed by the scene room.
    ``chain`` holds the earlier spatial layers, earliest first; ``planes`` the channel mean of the
    earliest plane (``chain_start``'s output, usually the model input) and of each step's output.
    """

    layer: str
    call: int
    type_name: str
    kind: str
    input: np.ndarray
    output: np.ndarray
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    count_include_pad: bool = True  # avg pool: padding cells count in the divisor
    divisor: int | None = None  # avg pool: divisor_override
    eps: float = 0.0
    mean: np.ndarray | None = None
    var: np.ndarray | None = None
    query: np.ndarray | None = None
    key: np.ndarray | None = None
    mask: np.ndarray | None = None
    scale: float = 1.0
    chain: tuple[SpatialStep, ...] = ()
    chain_start: str = "input"
    planes: list[np.ndarray] = field(default_factory=list)


def split_layer(name: str) -> tuple[str, int]:
    """``"pool#2"`` → ``("pool", 2)``; a bare name is its first call."""
    path, sep, call = name.partition("#")
    if sep and call.isdigit() and int(call) >= 1:
        return path, int(call)
    if sep:
        raise ModelSpecError(f"layer {name!r}: the call after '#' must be a number from 1, e.g. pool#2")
    return path, 1


def find_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule at path ``name``, or one line naming the closest existing paths."""
    modules = dict(model.named_modules())
    if name and name in modules:
        return modules[name]
    names = [n for n in modules if n]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    if not close:
        close = [n for n, m in modules.items() if n and not any(m.children())][:5]
    raise ModelSpecError(
        f"layer {name!r} is not a module of {type(model).__name__}; closest: "
        f"{', '.join(close) or '(no submodules)'} (use a path from named_modules(), e.g. "
        f"layer1.0.conv1)"
    )


def _pair(v: Any, one_d: bool, fill: int) -> tuple[int, int]:
    t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    t = tuple(int(x) for x in t)
    if one_d:
        return (fill, t[0])
    return (t[0], t[-1]) if len(t) >= 2 else (t[0], t[0])


def _window(module: nn.Module) -> dict[str, Any]:
    """kernel/stride/padding/dilation as (h, w) pairs (a 1-D layer: height 1, no padding in h)."""
    one_d = type(module).__name__.endswith("1d")
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):  # Conv 'same'/'valid': torch resolved it to numbers internally
        k = _pair(module.kernel_size, one_d, 1)
        d = _pair(module.dilation, one_d, 1)
        padding = (0, 0) if padding == "valid" else tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))
        padding = padding[1:] if one_d else padding
    stride = module.stride if getattr(module, "stride", None) is not None else module.kernel_size
    return dict(
        kernel=_pair(module.kernel_size, one_d, 1),
        stride=_pair(stride, one_d, 1),
        padding=_pair(padding, one_d, 0),
        dilation=_pair(getattr(module, "dilation", 1), one_d, 1),
    )


def _as_map(t: torch.Tensor) -> np.ndarray:
    """Batch item 0 of an (N, C, H, W) or (N, C, L) tensor as (C, H, W) float32 (L → height 1)."""
    a = t[0].detach().float().cpu().numpy().copy()
    return a.reshape(a.shape[0], 1, -1) if a.ndim <= 2 else a.reshape(a.shape[0], a.shape[1], -1)


def _rows(t: torch.Tensor, width: int) -> np.ndarray:
    """Batch item 0 as (rows, width) float32."""
    return t[0].detach().float().cpu().numpy().reshape(-1, width).copy()


@overload
def _np(t: torch.Tensor) -> np.ndarray: ...
@overload
def _np(t: None) -> None: ...
def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().float().cpu().numpy().copy()


def _spatial_chain(model: nn.Module, inputs: tuple, kwargs: dict, node_id: str) -> tuple[list[Any], str]:
    """The graph nodes of the spatial layers on the input path of ``node_id`` (earliest first) and the
    node the chain starts from (an input, or an op that resized the planes without being a conv/pool)."""
    from render3d.tracing.tracer import trace

    graph = trace(model, *inputs, capture="none", **kwargs)
    parents: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        parents.setdefault(dst, []).append(src)
    best: dict[str, tuple[tuple[str, ...], str]] = {}  # node → (spatial node ids, start node)
    for node in graph:
        own = [
            p
            for p in parents.get(node.id, [])
            if graph.nodes[p].kind not in ("constant",) and graph.nodes[p].shape is not None
        ]
        if node.kind == "input" or not own:
            best[node.id] = ((), node.id)
            continue
        chain, start = max((best[p] for p in own if p in best), key=lambda b: len(b[0]), default=((), node.id))
        parent = graph.nodes[own[0]]
        spatial = node.kind == "module" and node.type in _SPATIAL
        if spatial:
            chain = (*chain, node.id)
        elif (
            node.shape is None
            or parent.shape is None
            or tuple(node.shape[2:]) != tuple(parent.shape[2:])
            or len(node.shape) != len(parent.shape)
        ):
            chain, start = (), node.id  # resized by something that is not a window op: the field ends here
        best[node.id] = (chain, start)
        if node.id == node_id:
            break
    target_parents = [p for p in parents.get(node_id, []) if graph.nodes[p].kind != "constant"]
    if not target_parents:
        return [], "input"
    chain, start = max((best[p] for p in target_parents), key=lambda b: len(b[0]))
    return [graph.nodes[n] for n in chain], start if graph.nodes[start].kind != "input" else "input"


class _SdpaSpy(torch.overrides.TorchFunctionMode):
    """Records the first F.scaled_dot_product_attention call made while ``active`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.active = False
        self.call: tuple[tuple, dict] | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.active and self.call is None and getattr(func, "__name__", "") == "scaled_dot_product_attention":
            self.call = (args, kwargs)
        return func(*args, **kwargs)


def capture_operands(model: nn.Module, *inputs: Any, layer: str, **kwargs: Any) -> Operands:
    """Run ``model(*inputs, **kwargs)`` once and return the :class:`Operands` of module ``layer``
    (a path from ``named_modules()``, optionally ``#N`` for its N-th call). Unknown names and
    unsupported kinds are one-line :class:`~render3d.errors.ModelSpecError`."""
    path, call = split_layer(layer)
    module = find_module(model, path)
    type_name = type(module).__name__
    kind = KINDS.get(type_name)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _capture(model, module, path, call, type_name, kind, inputs, kwargs)
    finally:
        model.train(was_training)


# ``module`` is Any: its kind was matched by type name (KINDS), so its attributes (weight, groups, eps, ...) are
# read as that class's, which nn.Module's own typing (every attribute ``Tensor | Module``) cannot say
def _capture(
    model: nn.Module, module: Any, path: str, call: int, type_name: str, kind: str | None, inputs: tuple, kwargs: dict
) -> Operands:
    spatial_kind = kind in ("conv", "maxpool", "avgpool")
    chain_nodes, start = _spatial_chain(model, inputs, kwargs, f"{path}#{call}") if spatial_kind else ([], "input")
    got, sdpa = _run_hooked(model, module, path, call, chain_nodes, start, inputs, kwargs)
    if kind is None and sdpa is not None:
        kind = "attention"
    if kind is None:
        raise ModelSpecError(f"layer {path!r} is a {type_name}; explain draws {SUPPORTED_TEXT}")
    args, kw, out = got["target"]
    x = args[0] if args else kw.get("input", kw.get("query"))
    ops = Operands(layer=path, call=call, type_name=type_name, kind=kind, input=np.empty(0), output=np.empty(0))
    if kind in ("conv", "maxpool", "avgpool"):
        _fill_window(ops, model, module, x, out, chain_nodes, start, got, inputs)
    elif kind == "linear":
        ops.input, ops.output = _rows(x, module.in_features), _rows(out, module.out_features)
        ops.weight, ops.bias = _np(module.weight), _np(module.bias)
    elif kind == "batchnorm":
        _fill_batchnorm(ops, module, x, out)
    elif kind == "layernorm":
        _fill_layernorm(ops, module, x, out)
    else:
        _attention(ops, module, args, kw, out, sdpa)
    return ops


def _run_hooked(
    model: nn.Module,
    module: nn.Module,
    path: str,
    call: int,
    chain_nodes: list[Any],
    start: str,
    inputs: tuple,
    kwargs: dict,
) -> tuple[dict[str, Any], tuple[tuple, dict] | None]:
    """Run the model once with hooks: the target call's cloned ``(args, kwargs, output)`` under ``"target"``,
    the channel-mean plane of each chain step and of the chain's start, and the target's first SDPA call."""
    seen: dict[str, int] = {}
    got: dict[str, Any] = {}
    chain_ids = {n.id for n in chain_nodes}
    spy = _SdpaSpy()

    def on_target_pre(_m: nn.Module, args: tuple, kw: dict) -> None:
        if seen.get(path, 0) + 1 == call:
            spy.active = True

    def on_module(name: str):
        def hook(_m: nn.Module, args: tuple, kw: dict, out: Any) -> None:
            seen[name] = seen.get(name, 0) + 1
            if name == path and seen[name] == call:
                spy.active = False
                got["target"] = _cloned((args, kw, out))  # a later in-place op (ReLU) must not change them
            if f"{name}#{seen[name]}" in chain_ids:
                got[f"{name}#{seen[name]}"] = _as_map(out).mean(axis=0)
            if start != "input" and f"{name}#{seen[name]}" == start and isinstance(out, torch.Tensor):
                got[start] = _as_map(out).mean(axis=0)

        return hook

    handles = [module.register_forward_pre_hook(on_target_pre, with_kwargs=True)]
    for name in {path, *(n.scope for n in chain_nodes), *([start.partition("#")[0]] if start != "input" else [])}:
        handles.append(dict(model.named_modules())[name].register_forward_hook(on_module(name), with_kwargs=True))
    try:
        with spy:
            model(*inputs, **kwargs)
    finally:
        for h in handles:
            h.remove()
    if "target" not in got:
        ran = seen.get(path, 0)
        raise ModelSpecError(
            f"layer {path!r} ran {ran} time(s) in forward, so call #{call} does not exist"
            if ran
            else f"layer {path!r} never ran in forward on this input; pick a layer the forward pass uses"
        )
    return got, spy.call


# nine parameters: the layer's tensors plus the receptive-field chain _run_hooked found for it
def _fill_window(
    ops: Operands,
    model: nn.Module,
    module: Any,
    x: torch.Tensor,
    out: torch.Tensor,
    chain_nodes: list[Any],
    start: str,
    got: dict[str, Any],
    inputs: tuple,
) -> None:
    """Conv and pool operands: the maps, the window, the weights, and the receptive-field chain's planes."""
    ops.input, ops.output = _as_map(x), _as_map(out)
    ops.__dict__.update(_window(module))
    if ops.kind == "avgpool":
        ops.count_include_pad = bool(module.count_include_pad)
        ops.divisor = getattr(module, "divisor_override", None)
    if ops.kind == "conv":
        w = _np(module.weight)
        ops.weight = w[:, :, None, :] if w.ndim == 3 else w
        ops.bias = _np(module.bias)
        ops.groups = int(module.groups)
    planes = [_as_map(inputs[0]).mean(axis=0)] if start == "input" else [got.get(start)]
    ops.chain = tuple(_step(model, n) for n in chain_nodes)
    ops.chain_start = start
    ops.planes = planes + [got[n.id] for n in chain_nodes]


def _fill_batchnorm(ops: Operands, module: Any, x: torch.Tensor, out: torch.Tensor) -> None:
    """A per-channel 1×1 window op on (C, H, W) planes (1-D: height 1)."""
    ops.input, ops.output = _as_map(x), _as_map(out)
    if module.running_mean is not None:
        ops.mean, ops.var = _np(module.running_mean), _np(module.running_var)
    else:  # no running statistics: eval normalises with the batch's own
        dims = [0] + list(range(2, x.dim()))
        ops.mean, ops.var = _np(x.float().mean(dims)), _np(x.float().var(dims, unbiased=False))
    c = module.num_features
    ops.weight = np.ones(c, np.float32) if module.weight is None else _np(module.weight)
    ops.bias = np.zeros(c, np.float32) if module.bias is None else _np(module.bias)
    ops.eps = float(module.eps)


def _fill_layernorm(ops: Operands, module: Any, x: torch.Tensor, out: torch.Tensor) -> None:
    """Rows of the normalised size, with each row's mean and variance."""
    d = math.prod(module.normalized_shape)
    ops.input, ops.output = _rows(x, d), _rows(out, d)
    ops.mean = ops.input.astype(np.float64).mean(axis=1).astype(np.float32)
    ops.var = ops.input.astype(np.float64).var(axis=1).astype(np.float32)
    ops.weight = None if module.weight is None else _np(module.weight).reshape(-1)
    ops.bias = None if module.bias is None else _np(module.bias).reshape(-1)
    ops.eps = float(module.eps)


def _cloned(obj: Any) -> Any:
    """``obj`` with every tensor in it (tuples, lists, dicts) cloned."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, (tuple, list)):
        return type(obj)(_cloned(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _cloned(v) for k, v in obj.items()}
    return obj


def _step(model: nn.Module, node: Any) -> SpatialStep:
    sub = model.get_submodule(node.scope)
    shape = tuple(node.shape[1:])
    c, h, w = (int(v) for v in ((shape[0], 1, shape[1]) if len(shape) == 2 else shape))
    return SpatialStep(name=node.id, type_name=node.type, out_shape=(c, h, w), **_window(sub))


def _attention(ops: Operands, module: nn.Module, args: tuple, kw: dict, out: Any, sdpa: tuple | None) -> None:
    """Query/key per head of batch item 0, the additive mask and the scale (MHA or an SDPA call)."""
    if isinstance(module, nn.MultiheadAttention):
        query = args[0] if args else kw["query"]
        key = args[1] if len(args) > 1 else kw["key"]
        q, k = mha_query_key(module, query, key)
        h, d = q.shape[0], q.shape[-1]
        if query.dim() == 3:  # batch item 0, as mha_query_key took it (ops.input below)
            query = query[0] if module.batch_first else query[:, 0]
        mask = torch.zeros(h, q.shape[1], k.shape[1])
        attn_mask = args[5] if len(args) > 5 else kw.get("attn_mask")
        if attn_mask is not None:
            m = attn_mask if attn_mask.dim() == 2 else attn_mask.view(-1, h, *attn_mask.shape[-2:])[0]
            mask = mask.masked_fill(m, -math.inf) if m.dtype == torch.bool else mask + m.float()  # True: blocked
        kpm = args[3] if len(args) > 3 else kw.get("key_padding_mask")
        if kpm is not None:
            row = kpm[0]
            mask = (
                mask.masked_fill(row.bool()[None, None, :], -math.inf)
                if row.dtype == torch.bool
                else mask + row.float()[None, None, :]
            )
        if kw.get("is_causal") and attn_mask is None:
            mask = mask.masked_fill(torch.ones_like(mask[0], dtype=torch.bool).triu(1), -math.inf)
        ops.query, ops.key, ops.mask, ops.scale = _np(q), _np(k), _np(mask), 1 / math.sqrt(d)
        ops.input = _np(query)
        ops.output = _np(out[0] if isinstance(out, tuple) else out)
        ops.output = ops.output[0] if ops.output.ndim == 3 and module.batch_first else ops.output
        return
    assert sdpa is not None
    a, kw2 = sdpa
    q, k = a[0], a[1] if len(a) > 1 else kw2["key"]
    q, k = (q[0], k[0]) if q.dim() == 4 else (q, k)
    if q.dim() == 2:
        q, k = q[None], k[None]
    m = a[3] if len(a) > 3 else kw2.get("attn_mask")
    mask = torch.zeros(q.shape[0], q.shape[1], k.shape[1])
    if m is not None:
        m = m[0] if m.dim() == 4 else m
        mask = mask.masked_fill(~m, -math.inf) if m.dtype == torch.bool else mask + m.float()
    if a[5] if len(a) > 5 else kw2.get("is_causal", False):
        mask = mask.masked_fill(torch.ones_like(mask[0], dtype=torch.bool).triu(1), -math.inf)
    scale = kw2.get("scale") or 1 / math.sqrt(q.shape[-1])
    ops.query, ops.key, ops.mask, ops.scale = _np(q), _np(k), _np(mask), float(scale)
    ops.input = _np(q)
    ops.output = _np(out if isinstance(out, torch.Tensor) else out[0])
