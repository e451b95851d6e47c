"""The eager tracer: one real forward pass under module hooks and a ``TorchFunctionMode``.

Why this design (measured in ``shared/notes/tracing.md``): hooks alone see module calls but no edges
between them and no functional ops (``torch.relu``, ``x.view``, ``out += identity``); torch.fx and
export fail on data-dependent control flow and unusual outputs. Running the real model and following
tensor *identity* (a weak identity map, never ``id()``, which is reused within microseconds) gives
the true dataflow of the path actually taken, including merges, for any input/output structure.

Leaf modules (no children, or opaque ones such as ``MultiheadAttention``) are single nodes: the ops
inside them are not recorded. Ops that run in a container's own ``forward`` (ResNet's residual add,
DenseNet's concat, a root-level ``torch.relu``) are function nodes scoped to that container.

Every module that runs is a node, whatever feeds it: a module or op that reads no activation (only a
buffer, a parameter read directly, a tensor made by ``torch.arange``/``zeros``/... inside ``forward``)
gets *source* nodes for those inputs (kind ``"constant"``, see :mod:`render3d.tracing.sources`).

Pass-through modules never take over a tensor: a leaf returning one of its inputs unchanged
(``nn.Identity``, timm's no-op ``drop_path``/``aa``/``drop_block``, eval-mode ``Dropout``) and an op
returning its input object (``.contiguous()``, ``.float()`` on a float) get no node, so the edge goes
from the real producer and the graph equals torch.fx's dataflow. An eval-mode ``Dropout`` subclass that
returns a *new* tensor is dropped too (in eval it is the identity by definition): its output is
attributed to the producer of its input. In-place modules (``ReLU(inplace=True)``) return their input
*changed* (its version counter moved) and stay nodes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch._C import DisableTorchFunction
from torch.nn.modules.dropout import _DropoutNd
from torch.overrides import TorchFunctionMode

from render3d.errors import ModelSpecError, TraceError, first_line
from render3d.graph import ModuleCall, Node, Trace
from render3d.tracing import lazy
from render3d.tracing.attention import ATTENTION_NAMES, attention_maps, function_maps, softmax_maps
from render3d.tracing.attrs import function_attrs, module_attrs
from render3d.tracing.capture import CaptureConfig, Captured, materialize
from render3d.tracing.capture import capture as capture_tensor
from render3d.tracing.identity import IdentityMap
from render3d.tracing.pytree import iter_tensors, tensors
from render3d.tracing.sites import SiteTracker
from render3d.tracing.sources import Origin, Sources, dtype_name, named_sources
from render3d.tracing.state import preserved_state, version_counter

#: modules drawn as one block even though they have children (their children never run as modules)
OPAQUE_MODULES: tuple[type[nn.Module], ...] = (nn.MultiheadAttention,)

#: ops that read only their input's shape, dtype and device, never its values: what they make is a
#: constant (Swin's attention mask built with ``x.new_zeros``), not a layer fed by ``x``
SHAPE_ONLY_OPS = frozenset(
    {
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty",
        "new_tensor",
        "zeros_like",
        "ones_like",
        "full_like",
        "empty_like",
        "rand_like",
        "randn_like",
        "randint_like",
    }
)
_MHA_FORWARD = nn.functional.multi_head_attention_forward
_INPLACE_DUNDER = {
    "iadd": "add",
    "isub": "sub",
    "imul": "mul",
    "itruediv": "div",
    "idiv": "div",
    "iand": "and",
    "ior": "or",
    "ixor": "xor",
    "ipow": "pow",
    "imatmul": "matmul",
}
_REFLECTED = {
    "radd": "add",
    "rsub": "sub",
    "rmul": "mul",
    "rtruediv": "div",
    "rdiv": "div",
    "rmatmul": "matmul",
    "rpow": "pow",
}


def op_name(func: Callable[..., Any]) -> tuple[str, str]:
    """``(base, type)``: the base names the node id (``add``), the type keeps the variant (``add_``)."""
    name = getattr(func, "__name__", None) or type(func).__name__
    if name == "__get__":  # property getters: Tensor.T, Tensor.mT, Tensor.data
        name = getattr(getattr(func, "__self__", None), "__name__", "get")
    if name.startswith("__") and name.endswith("__"):
        core = name[2:-2]
        if core in _INPLACE_DUNDER:
            return _INPLACE_DUNDER[core], _INPLACE_DUNDER[core] + "_"
        core = _REFLECTED.get(core, core)
        return core, core
    if name.endswith("_") and not name.startswith("_") and len(name) > 1:
        return name[:-1], name
    return name.strip("_") or name, name


@dataclass(slots=True)
class _Frame:
    call_id: str
    path: str
    module: nn.Module
    leaf: bool
    call: int = 0
    suppressed: bool = False
    parents: list[str] = field(default_factory=list)
    site: tuple[str, ...] = ()  # where the call was made in the enclosing container's forward
    #: a leaf's tensor inputs and their version counters when it was entered (pass-through check)
    inputs: list[torch.Tensor] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    attention: Any = None  # maps of an attention function run inside the leaf


class _CaptureMode(TorchFunctionMode):
    """Owns the graph under construction; is the TorchFunctionMode and the hook target."""

    def __init__(self, model: nn.Module, config: CaptureConfig, named: list[tuple[str, torch.Tensor, str]]) -> None:
        super().__init__()
        self.config = config
        self.capturing = config.mode != "none"
        self.sources = Sources(named)  # the parameters and buffers the forward will read
        self.producer: IdentityMap[str] = IdentityMap()
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []
        self.modules: dict[str, ModuleCall] = {}
        self.stack: list[_Frame] = []
        self.sites = SiteTracker()
        self.ids: tuple[str, ...] = ()  # call ids of the open container frames
        self.captures: list[tuple[Node, Captured]] = []  # filled in by materialize() after the forward
        self.attention: dict[str, Any] = {}
        self.failed_at: _Frame | None = None
        self.call_counts: dict[str, int] = {}
        self.op_counts: dict[tuple[str, str], int] = {}
        self.paths: dict[nn.Module, str] = {}
        self.leaves: set[nn.Module] = set()
        self.own_params: dict[nn.Module, int] = {}
        self.attrs: dict[nn.Module, dict[str, Any]] = {}  # read once per module, on its first call
        self.own_params = subtree_params(model)
        for path, module in model.named_modules():
            if module in self.paths:
                continue
            if isinstance(module, torch.jit.ScriptModule):  # runs in C++: no hook or mode sees its ops
                raise ModelSpecError(
                    f"{type(model).__name__} contains a TorchScript module at '{path}' ({type(module).__name__}); "
                    "render3d traces eager modules: render the model before that part is scripted"
                )
            self.paths[module] = path
            if not any(c is not None for c in module._modules.values()) or isinstance(module, OPAQUE_MODULES):
                self.leaves.add(module)
        if model in self.leaves:
            if type(model).__module__.startswith("torch.nn"):  # a bare layer: one node named after it
                self.paths[model] = type(model).__name__.lower()
            else:  # a childless model of the user's: trace the ops of its forward
                self.leaves.discard(model)

    # --- graph building -------------------------------------------------------------------
    def _add_node(self, node: Node, parents: list[str], outputs: list[torch.Tensor]) -> None:
        self.nodes[node.id] = node
        for p in dict.fromkeys(parents):
            self.edges.append((p, node.id))
        for t in outputs:
            self.producer[t] = node.id
        if outputs and self.capturing:
            captured = capture_tensor(outputs[0], self.config)
            if captured is not None:
                self.captures.append((node, captured))

    def materialize(self) -> None:
        """Fetch every pending capture to the host at once (one sync on a GPU, after the forward)."""
        results = materialize([c for _, c in self.captures])
        for (node, _), (stats, activation) in zip(self.captures, results):
            node.stats, node.activation = stats, activation
            maps = self.attention.get(node.id)
            activation.attention = None if maps is None else maps.cpu().numpy()
        self.captures.clear()

    def _parents(self, tensors_in: list[torch.Tensor]) -> list[str]:
        found = (self.producer.get(t) for t in tensors_in)
        return list(dict.fromkeys(p for p in found if p is not None))

    def _source_parents(self, tensors_in: list[torch.Tensor]) -> list[str]:
        """Source node ids for the inputs of a node that reads no activation, made on first use."""
        scope = self.stack[-1].path if self.stack else ""
        ids = []
        for t in tensors_in:
            origin = self.sources.of(t, scope, self.ids)
            ids.append(origin.node_id if origin.node_id is not None else self._add_source(origin, scope))
        return list(dict.fromkeys(ids))

    def _add_source(self, origin: Origin, scope: str) -> str:
        if origin.scope is None:  # a buffer or parameter sits with its first consumer
            origin.scope, origin.stack = scope, self.ids
        if origin.type == "Constant":
            key = (origin.scope, origin.name)
            call = self.op_counts[key] = self.op_counts.get(key, 0) + 1
            node_id = f"{origin.scope}.{origin.name}#{call}" if origin.scope else f"{origin.name}#{call}"
        else:
            node_id, call = origin.name, 1
        origin.node_id = node_id
        self.nodes[node_id] = Node(
            id=node_id,
            kind="constant",
            type=origin.type,
            scope=origin.scope,
            call=call,
            shape=origin.shape,
            dtype=origin.dtype,
            shapes=(origin.shape,),
            stack=origin.stack,
        )
        return node_id

    def _passes_through(self, frame: _Frame, outs: list[torch.Tensor]) -> bool:
        """True when a leaf's outputs are its inputs unchanged (eval ``Dropout``: equal), so it is no node."""
        module = frame.module
        if isinstance(module, _DropoutNd) and not module.training and len(frame.inputs) == 1:
            (source,) = frame.inputs
            if all(o.shape == source.shape for o in outs):
                for o in outs:
                    self._alias(o, source)
                return True
        return _unchanged_inputs(outs, frame.inputs, frame.versions)

    def _alias(self, new: torch.Tensor, old: torch.Tensor) -> None:
        """``new`` stands for the same value as ``old``: same producer, or same source."""
        if new is old:
            return
        producer = self.producer.get(old)
        if producer is not None:
            self.producer[new] = producer
        elif old in self.sources.origin:
            self.sources.origin[new] = self.sources.origin[old]

    def add_input(self, path: str, t: torch.Tensor) -> str:
        node_id = f"input.{path}" if path else "input"
        self._add_node(
            Node(
                id=node_id,
                kind="input",
                type="Input",
                scope="",
                call=1,
                shape=tuple(t.shape),
                dtype=dtype_name(t),
                shapes=(tuple(t.shape),),
            ),
            [],
            [t],
        )
        return node_id

    def add_output(self, path: str, t: torch.Tensor) -> str | None:
        parent = self.producer.get(t)
        if parent is None:
            return None
        node_id = f"output.{path}" if path else "output"
        node = Node(
            id=node_id,
            kind="output",
            type="Output",
            scope="",
            call=1,
            shape=tuple(t.shape),
            dtype=dtype_name(t),
            shapes=(tuple(t.shape),),
        )
        self.nodes[node_id] = node
        self.edges.append((parent, node_id))
        return parent

    # --- TorchFunctionMode ----------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.stack and self.stack[-1].leaf:
            if self.capturing and func is _MHA_FORWARD:
                return self._mha_with_maps(func, args, kwargs)
            out = func(*args, **kwargs)
            if self.capturing and getattr(func, "__name__", None) in ATTENTION_NAMES:
                self._leaf_attention(func, args, kwargs, out)
            return out
        ins = tensors(args) + (tensors(kwargs) if kwargs else [])
        versions = [version_counter(t) for t in ins]  # an input returned changed was written in place
        out = func(*args, **kwargs)
        base, kind = op_name(func)
        if base == "setitem":
            outs = [args[0]] if args and isinstance(args[0], torch.Tensor) else []
        else:
            outs = tensors(out)
        if not outs:
            return out
        parents = [] if base in SHAPE_ONLY_OPS else self._parents(ins)
        scope = self.stack[-1].path if self.stack else ""
        if not parents:  # read no activation (buffer, parameter, factory): the outputs stay with their source
            self.sources.derive(ins, outs, base, scope, self.ids)
            return out
        if _unchanged_inputs(outs, ins, versions):
            return out  # an input returned as is (.contiguous(), .float() on a float, eval dropout): no node
        key = (scope, base)
        n = self.op_counts[key] = self.op_counts.get(key, 0) + 1
        node_id = f"{scope}.{base}#{n}" if scope else f"{base}#{n}"
        shapes = tuple(tuple(t.shape) for t in outs)
        node = Node(
            id=node_id,
            kind="function",
            type=kind,
            scope=scope,
            call=n,
            shape=shapes[0],
            dtype=dtype_name(outs[0]),
            shapes=shapes,
            stack=self.ids,
            site=self.sites.op_site(),
            attrs=function_attrs(base, args, kwargs),
        )
        self._add_node(node, parents, outs)
        if self.capturing and base in ATTENTION_NAMES:
            maps = function_maps(func, args, kwargs, out, self.config.max_tokens)
            if maps is not None:
                self.attention[node_id] = maps
        return out

    def _module_attrs(self, module: nn.Module) -> dict[str, Any]:
        found = self.attrs.get(module)
        if found is None:
            found = self.attrs[module] = module_attrs(module)
        return found

    def _leaf_attention(self, func: Callable[..., Any], args: tuple, kwargs: dict, out: Any) -> None:
        """Attention maps of an SDPA/softmax call inside a leaf module, kept for the leaf's node."""
        frame = self.stack[-1]
        if frame.suppressed or isinstance(frame.module, nn.MultiheadAttention):  # MHA: attention_maps()
            return
        maps = function_maps(func, args, kwargs, out, self.config.max_tokens)  # the mode is off in here
        if maps is not None:
            frame.attention = maps

    def _mha_with_maps(self, func: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        """``nn.MultiheadAttention``'s functional call asked for its per-head weights, which its explicit
        path computes anyway: recomputing Q and K afterwards (:func:`attention_maps`) cost ViT-B/16 a sixth
        of its forward. The caller gets what it asked for: no weights, or the head mean torch would take."""
        frame = self.stack[-1]
        if frame.suppressed or not isinstance(frame.module, nn.MultiheadAttention) or kwargs.get("is_causal"):
            return func(*args, **kwargs)  # torch's explicit path has no is_causal: attention_maps() after
        out, weights = func(*args, **{**kwargs, "need_weights": True, "average_attn_weights": False})
        per_head = weights if weights.dim() == 4 else weights[None]  # (batch, heads, queries, keys)
        frame.attention = softmax_maps((), {"dim": -1}, per_head, self.config.max_tokens)
        if not kwargs.get("need_weights", True):
            return out, None
        return out, weights.mean(dim=weights.dim() - 3) if kwargs.get("average_attn_weights", True) else weights

    # --- module hooks ---------------------------------------------------------------------
    def pre_hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        with DisableTorchFunction():  # our own bookkeeping must not be traced (or slowed) by the mode
            self._enter(module, args, kwargs)

    def post_hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        with DisableTorchFunction():
            self._exit(module, args, kwargs, output)

    def _enter(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self.stack and self.stack[-1].leaf:  # a module run inside an opaque leaf
            self.stack.append(_Frame("", "", module, leaf=True, suppressed=True))
            return
        path = self.paths[module]
        n = self.call_counts[path] = self.call_counts.get(path, 0) + 1
        leaf = module in self.leaves
        frame = _Frame(f"{path}#{n}", path, module, leaf, n, site=self.sites.enter())
        if leaf:
            frame.inputs = tensors(args) + tensors(kwargs) if kwargs else tensors(args)
            frame.versions = [version_counter(t) for t in frame.inputs]
            frame.parents = self._parents(frame.inputs)
        self.stack.append(frame)
        if not leaf:
            self.ids = self.ids + (frame.call_id,)

    def _exit(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if not self.stack:
            return
        frame = self.stack.pop()
        if frame.suppressed:
            return
        self.sites.exit()
        if not frame.leaf:
            self.ids = self.ids[:-1]
        if output is None and sys.exc_info()[1] is not None:
            self.failed_at = self.failed_at or frame
            return
        outs = tensors(output)
        call = frame.call
        type_name = type(module).__name__
        if frame.leaf and outs:
            if self._passes_through(frame, outs):
                return  # no node and no call: the real producer keeps its tensors
            parents = frame.parents or self._source_parents(frame.inputs)
            shapes = tuple(tuple(t.shape) for t in outs)
            node = Node(
                id=frame.call_id,
                kind="module",
                type=type_name,
                scope=frame.path,
                call=call,
                shape=shapes[0],
                dtype=dtype_name(outs[0]),
                params=self.own_params[module],
                shapes=shapes,
                stack=self.ids,
                site=frame.site,
                attrs=self._module_attrs(module),
            )
            self._add_node(node, parents, outs)
            if frame.attention is not None:
                self.attention[node.id] = frame.attention
            elif self.capturing and isinstance(module, nn.MultiheadAttention):
                self.attention[node.id] = attention_maps(module, args, kwargs, self.config.max_tokens)
        producers = tuple(p for p in (self.producer.get(t) for t in outs) if p is not None)
        self.modules[frame.call_id] = ModuleCall(
            id=frame.call_id,
            path=frame.path,
            type=type_name,
            call=call,
            params=self.own_params[module],
            outputs=producers,
            stack=self.ids,
            site=frame.site,
        )


def subtree_params(model: nn.Module) -> dict[nn.Module, int]:
    """``sum(p.numel() for p in m.parameters())`` for every module ``m``, in one walk: asking each module
    walks its whole subtree again (ResNet-152: 22 ms a trace, against 1.5 ms for this walk). Shared
    parameters count once per subtree, as ``parameters()`` counts them."""
    found: dict[nn.Module, dict[int, int]] = {}

    def visit(module: nn.Module) -> dict[int, int]:
        sizes = found.get(module)
        if sizes is None:
            sizes = {id(p): p.numel() for p in module._parameters.values() if p is not None}
            for child in module._modules.values():
                if child is not None:
                    sizes.update(visit(child))
            found[module] = sizes
        return sizes

    visit(model)
    return {module: sum(sizes.values()) for module, sizes in found.items()}


def _unchanged_inputs(outs: list[torch.Tensor], ins: list[torch.Tensor], versions: list[int]) -> bool:
    """True when every output is one of the inputs, not written in place (same version as before)."""
    return all(any(o is t and version_counter(t) == v for t, v in zip(ins, versions)) for o in outs)


def unwrap(model: Any) -> nn.Module:
    """The eager module inside DataParallel/DDP and ``torch.compile`` wrappers."""
    if isinstance(model, torch.jit.ScriptModule):
        raise ModelSpecError(
            f"{type(model).__name__} is a TorchScript module; render3d traces eager modules: "
            "pass the nn.Module you gave to torch.jit.script/trace"
        )
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            break
    if not isinstance(model, nn.Module):
        raise ModelSpecError(f"render3d.trace needs a torch.nn.Module, got {type(model).__name__}")
    return model


def trace(
    model: nn.Module,
    *inputs: Any,
    depth: int | None = None,
    capture: str | CaptureConfig = "reduced",
    device: str | torch.device | None = None,
    **kwargs: Any,
) -> Trace:
    """Run ``model(*inputs, **kwargs)`` once and return its dataflow graph and activations.

    ``depth`` collapses modules deeper than that many levels into blocks after tracing (1 = the
    model's direct children). ``capture`` is ``"reduced"`` (bounded float16 copies + stats),
    ``"full"`` or ``"none"``. ``device="meta"`` runs a structure-only pass that allocates neither
    weights nor activations. The model is run in eval mode under ``no_grad`` and left exactly as it
    was: training flags, BatchNorm statistics and weights are restored. Lazy modules still waiting for
    their first call are given it first (:mod:`render3d.tracing.lazy`), as the user's own call would.

    Example::

        >>> from render3d.models import SeedCNN
        >>> t = trace(SeedCNN(), torch.randn(1, 3, 64, 64))
        >>> [n.shape for n in t if n.type == "MaxPool2d"][-1]
        (1, 128, 4, 4)
    """
    model = unwrap(model)
    config = capture if isinstance(capture, CaptureConfig) else CaptureConfig(mode=capture)
    target = torch.device(device) if device is not None else None
    meta = target is not None and target.type == "meta"
    if meta:
        config = CaptureConfig(mode="none")
    if waiting := lazy.uninitialised(model):
        lazy.initialise(model, waiting, inputs, kwargs, meta=meta)
    inputs, kwargs = _move((inputs, kwargs), target)
    moved = None if target is None else _params_on(model, target)
    rec = _CaptureMode(model, config, named_sources(model, moved))
    handles = _install_hooks(model, rec)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    for path, t in iter_tensors((inputs, kwargs) if kwargs else inputs):
        rec.add_input(_input_path(path, bool(kwargs)), t)
    output: Any = None
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        with preserved_state(model), torch.no_grad(), rec:
            if moved is None:  # no target device: the model runs where it is
                output = model(*inputs, **kwargs)
            else:
                output = torch.func.functional_call(model, moved, inputs, kwargs)
    except Exception as exc:
        raise _trace_error(model, rec, exc, target) from exc
    finally:
        for h in handles:
            h.remove()
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return _finish(model, rec, output).collapse(depth)


def _install_hooks(model: nn.Module, rec: _CaptureMode) -> list[Any]:
    """Pre- and post-hooks on every module (the root only when it is a leaf itself); their handles."""
    handles = []
    for module in rec.paths:
        if module is model and module not in rec.leaves:
            continue
        handles.append(module.register_forward_pre_hook(rec.pre_hook, with_kwargs=True))
        handles.append(module.register_forward_hook(rec.post_hook, with_kwargs=True, always_call=True))
    return handles


def _trace_error(model: nn.Module, rec: _CaptureMode, exc: Exception, target: torch.device | None) -> TraceError:
    """One line naming the module that failed, carrying the graph traced up to it."""
    partial = _finish(model, rec, None)
    where = rec.failed_at
    place = f"module '{where.path}' ({type(where.module).__name__})" if where else "its own forward()"
    hint = ""
    if target is not None and target.type == "meta" and "meta" in str(exc).lower():
        hint = " (meta tensors have no values: data-dependent code such as .item() needs device='cpu')"
    msg = f"{type(model).__name__} failed in {place}: {type(exc).__name__}: {first_line(exc)}{hint}"
    return TraceError(msg, module_path=where.path if where else "", partial=partial)


def _finish(model: nn.Module, rec: _CaptureMode, output: Any) -> Trace:
    rec.materialize()
    outputs = []
    for path, t in iter_tensors(output):
        parent = rec.add_output(path, t)
        if parent is not None:
            outputs.append({"path": path, "node": parent})
    inputs = [
        {"id": n.id, "shape": list(n.shape or ()), "dtype": n.dtype} for n in rec.nodes.values() if n.kind == "input"
    ]
    return Trace(
        model=type(model).__name__,
        inputs=inputs,
        nodes=rec.nodes,
        edges=rec.edges,
        outputs=outputs,
        modules=rec.modules,
        total_params=rec.own_params[model],
    )


def _input_path(path: str, has_kwargs: bool) -> str:
    if not has_kwargs:
        return path
    head, _, rest = path.partition(".")  # "0.<i>..." positional, "1.<name>..." keyword
    return rest


def _move(obj: Any, device: torch.device | None) -> Any:
    if device is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_move(o, device) for o in obj)
    if isinstance(obj, list):
        return [_move(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: _move(v, device) for k, v in obj.items()}
    return obj


def _params_on(model: nn.Module, device: torch.device) -> dict[str, torch.Tensor]:
    """Parameters and buffers for ``functional_call`` on ``device``, leaving the model untouched."""
    items = list(model.named_parameters(remove_duplicate=False)) + list(model.named_buffers(remove_duplicate=False))
    if device.type == "meta":
        return {name: torch.empty_like(t, device="meta") for name, t in items}
    with torch.no_grad():
        return {name: t.to(device) for name, t in items}
