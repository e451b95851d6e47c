"""One sentence per layer for a lecture caption, with the layer's real hyper-parameters and shapes.

``describe(node)`` reads what the tracer recorded (``Node.attrs``: kernel size, stride, features ...;
``Node.stats``: the share of zeros after a ReLU) and the shapes, and says what the layer computes:

    Conv 3×3, 64 filters, stride 1: 3×32×32 → 64×32×32; each output value is a weighted sum over a 3×3×3 patch

Shapes drop the batch dimension, as the scene's labels do (:func:`render3d.scene.geometry.shape_text`).
The input shape is not on the node itself: pass the producers' shapes as ``inputs`` (the tour does,
from the trace's edges), or the sentence shows only the output shape. A folded ``×N`` block is named
once with its count ("BasicBlock ×2"). Layers this module has no sentence for get their type and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from render3d.graph import Node
from render3d.scene.geometry import shape_text
from render3d.scene.style import base_type, short_type

__all__ = ["describe", "dims", "follow_up", "layer_name"]

Shape = tuple[int, ...]
#: what a rule returns: the caption's head (``"Conv 3×3, 64 filters, stride 1"``), what the layer does,
#: and whether the head is followed by ``in → out`` shapes
Said = tuple[str, str, bool]


def dims(values: Any) -> str:
    """``[3, 3]`` → ``"3×3"``; ``2`` → ``"2"``; a square window given as one number stays one number."""
    if isinstance(values, (list, tuple)):
        return "×".join(str(v) for v in values)
    return str(values)


def _one(values: Any) -> str:
    """A stride or dilation: ``[2, 2]`` → ``"2"`` (equal along every axis), ``[2, 1]`` → ``"2×1"``."""
    if isinstance(values, (list, tuple)) and values and all(v == values[0] for v in values):
        return str(values[0])
    return dims(values)


def _window(values: Any, ndim: int) -> str:
    """A pooling window as ``k×k`` (a single ``2`` means 2×2 on a 2-d map)."""
    if isinstance(values, (list, tuple)):
        return dims(values)
    return "×".join([str(values)] * max(1, ndim))


def _spatial(shape: Shape | None) -> int:
    """Number of spatial axes of a (N, C, ...) map: 2 for (1, 64, 32, 32)."""
    return max(1, len(shape) - 2) if shape else 2


def _percent(fraction: float) -> str:
    return f"{round(100 * fraction):d} %"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# --- rules, one per kind of layer --------------------------------------------------------------------


def _conv(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    k, out, groups = a["kernel_size"], a["out_channels"], a.get("groups", 1)
    transposed = "Transpose" in node.type
    name = "Transposed conv" if transposed else "Conv"
    head = f"{name} {dims(k)}, {_count(out, 'filter')}, stride {_one(a['stride'])}"
    if a.get("dilation") and _one(a["dilation"]) != "1":
        head += f", dilation {_one(a['dilation'])}"
    if transposed:
        return head, f"each input value spreads over a {dims(k)} window of the output", True
    per_filter = a["in_channels"] // max(1, groups)
    if groups > 1 and per_filter == 1:
        return head, f"depthwise: each filter slides over one channel's {dims(k)} window", True
    patch = "×".join([str(per_filter), *(str(v) for v in (k if isinstance(k, list) else [k]))])
    return head, f"each output value is a weighted sum over a {patch} patch", True


def _linear(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    n_in, n_out = a["in_features"], a["out_features"]
    head = f"Linear {n_in} → {n_out}"
    shape = node.shape or ()
    if len(shape) >= 3:  # (N, T, D): the same weights for every token
        head += f", on each of {shape[-2]} tokens"
    return head, f"each output is a weighted sum of all {n_in} inputs", False


def _max_pool(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    win = _window(a["kernel_size"], _spatial(node.shape))
    return f"Max pool {win}, stride {_one(a['stride'])}", f"keeps the largest value of each {win} window", True


def _avg_pool(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    win = _window(a["kernel_size"], _spatial(node.shape))
    return f"Average pool {win}, stride {_one(a['stride'])}", f"replaces each {win} window by its mean", True


def _adaptive_pool(node: Node, inputs: Sequence[Shape]) -> Said:
    how = "largest value" if "max" in base_type(node.type) else "mean"
    size = _window(node.attrs["output_size"], _spatial(node.shape))
    source = inputs[0] if inputs else None
    if all(s == "1" for s in size.split("×")) and source is not None and len(source) >= 3:
        area = "×".join(str(d) for d in source[2:])
        return (
            f"Global {'max' if how != 'mean' else 'average'} pool",
            f"each channel's {area} map becomes its {how}",
            True,
        )
    return f"Adaptive {'max' if how != 'mean' else 'average'} pool to {size}", f"takes the {how} of each region", True


def _batch_norm(node: Node, inputs: Sequence[Shape]) -> Said:
    c = node.attrs.get("num_features")
    head = f"BatchNorm, {c} channels" if c else "BatchNorm"
    return head, "each channel is normalised by its running mean and variance, then scaled and shifted", True


def _layer_norm(node: Node, inputs: Sequence[Shape]) -> Said:
    shape = node.attrs.get("normalized_shape") or (list(node.shape[-1:]) if node.shape else [])
    n = 1
    for d in shape:
        n *= int(d)
    what = "token's" if node.shape and len(node.shape) >= 3 else "row's"
    return (
        f"LayerNorm over {n}",
        f"each {what} {n} values are set to mean 0, variance 1, then scaled and shifted",
        True,
    )


def _group_norm(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    return (
        f"GroupNorm, {a['num_groups']} groups of {a['num_channels'] // max(1, a['num_groups'])} channels",
        "each group is set to mean 0, variance 1, then scaled and shifted",
        True,
    )


def _relu(node: Node, inputs: Sequence[Shape]) -> Said:
    zeros = node.stats.zero_fraction if node.stats is not None else None
    here = f" ({_percent(zeros)} of values here)" if zeros is not None else ""
    return "ReLU", f"negatives become 0{here}", False


_SQUASH = {
    "sigmoid": ("Sigmoid", "squashes every value into (0, 1)"),
    "tanh": ("Tanh", "squashes every value into (−1, 1)"),
    "gelu": ("GELU", "a smooth ReLU: large negatives become 0, small ones are damped"),
    "silu": ("SiLU", "x·sigmoid(x): a smooth ReLU that lets small negatives through"),
    "hardswish": ("Hard swish", "a cheap smooth ReLU: x·relu6(x + 3)/6"),
    "relu6": ("ReLU6", "negatives become 0 and values above 6 become 6"),
}


def _squash(node: Node, inputs: Sequence[Shape]) -> Said:
    name, what = _SQUASH[base_type(node.type)]
    return name, what, False


def _leaky(node: Node, inputs: Sequence[Shape]) -> Said:
    slope = node.attrs.get("negative_slope", 0.01)
    return "Leaky ReLU", f"negatives are multiplied by {slope:g}", False


def _softmax(node: Node, inputs: Sequence[Shape]) -> Said:
    n = node.shape[-1] if node.shape else None
    rows = f"each row of {n} values" if n else "each row"
    return "Softmax", f"{rows} becomes probabilities that sum to 1", True


def _add(node: Node, inputs: Sequence[Shape]) -> Said:
    if len(inputs) >= 2:
        return "Add (residual join)", "the skip path is added to the block's output, value by value", True
    return "Add", "adds a constant or a parameter to every value", True


def _mul(node: Node, inputs: Sequence[Shape]) -> Said:
    return "Multiply", "two tensors are multiplied value by value (a gate or a scale)", True


def _cat(node: Node, inputs: Sequence[Shape]) -> Said:
    dim = node.attrs.get("dim", 1)
    shape = node.shape or ()
    axis = "channels" if shape and dim in (1, 1 - len(shape)) and len(shape) >= 3 else f"axis {dim}"
    parts = " + ".join(shape_text(s) for s in inputs) if len(inputs) >= 2 else ""
    what = f"the inputs are stacked along {axis}" + (f": {parts}" if parts else "")
    return f"Concatenate {len(inputs) or 'the'} inputs", what, True


def _flatten(node: Node, inputs: Sequence[Shape]) -> Said:
    name = "Flatten" if "flatten" in base_type(node.type) else "Reshape"
    return name, "the same values laid out in a new shape; nothing is computed", True


def _attention(node: Node, inputs: Sequence[Shape]) -> Said:
    heads, width = node.attrs.get("num_heads"), node.attrs.get("embed_dim")
    shape = node.shape or ()
    tokens = shape[-2] if len(shape) >= 2 else None
    head = f"Self-attention, {heads} heads" if heads else "Attention"
    if heads and width:
        head += f" of {width // heads}"
    if tokens:
        what = f"each of the {tokens} tokens takes a weighted mix of all tokens, weighted by query·key similarity"
    else:
        what = "each token takes a weighted mix of all tokens, weighted by query·key similarity"
    return head, what, True


def _embedding(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    return (
        f"Embedding {a['num_embeddings']:,} × {a['embedding_dim']}",
        f"each token id picks its own learned vector of {a['embedding_dim']} numbers",
        True,
    )


def _upsample(node: Node, inputs: Sequence[Shape]) -> Said:
    a = node.attrs
    factor = a.get("scale_factor")
    mode = a.get("mode", "nearest")
    head = f"Upsample ×{factor:g} ({mode})" if isinstance(factor, (int, float)) else f"Upsample ({mode})"
    what = (
        "each value is repeated over a block of pixels"
        if mode == "nearest"
        else "new pixels are interpolated between their neighbours"
    )
    return head, what, True


def _dropout(node: Node, inputs: Sequence[Shape]) -> Said:
    p = node.attrs.get("p")
    head = f"Dropout p={p:g}" if isinstance(p, (int, float)) else "Dropout"
    return head, "in training it zeroes values at random; here, at inference, it passes them through", True


def _matmul(node: Node, inputs: Sequence[Shape]) -> Said:
    return "Matrix product", "each output is a dot product of a row of one input and a column of the other", True


def _mean(node: Node, inputs: Sequence[Shape]) -> Said:
    return "Mean", "averages the values along an axis", True


_RULES: dict[str, Callable[[Node, Sequence[Shape]], Said]] = {
    "add": _add,
    "iadd": _add,
    "mul": _mul,
    "cat": _cat,
    "concat": _cat,
    "concatenate": _cat,
    "flatten": _flatten,
    "view": _flatten,
    "reshape": _flatten,
    "softmax": _softmax,
    "log_softmax": _softmax,
    "logsoftmax": _softmax,
    "relu": _relu,
    "leakyrelu": _leaky,
    "leaky_relu": _leaky,
    **{k: _squash for k in _SQUASH},
    "maxpool1d": _max_pool,
    "maxpool2d": _max_pool,
    "maxpool3d": _max_pool,
    "avgpool1d": _avg_pool,
    "avgpool2d": _avg_pool,
    "avgpool3d": _avg_pool,
    "adaptiveavgpool1d": _adaptive_pool,
    "adaptiveavgpool2d": _adaptive_pool,
    "adaptiveavgpool3d": _adaptive_pool,
    "adaptivemaxpool1d": _adaptive_pool,
    "adaptivemaxpool2d": _adaptive_pool,
    "adaptivemaxpool3d": _adaptive_pool,
    "batchnorm1d": _batch_norm,
    "batchnorm2d": _batch_norm,
    "batchnorm3d": _batch_norm,
    "syncbatchnorm": _batch_norm,
    "layernorm": _layer_norm,
    "layer_norm": _layer_norm,
    "groupnorm": _group_norm,
    "multiheadattention": _attention,
    "scaled_dot_product_attention": _attention,
    "embedding": _embedding,
    "upsample": _upsample,
    "interpolate": _upsample,
    "dropout": _dropout,
    "dropout1d": _dropout,
    "dropout2d": _dropout,
    "dropout3d": _dropout,
    "matmul": _matmul,
    "bmm": _matmul,
    "mean": _mean,
}
#: rules that need an attribute the tracer reads from the module (a functional op has none)
_NEEDS: dict[Callable[[Node, Sequence[Shape]], Said], str] = {
    _conv: "kernel_size",
    _linear: "in_features",
    _max_pool: "kernel_size",
    _avg_pool: "kernel_size",
    _adaptive_pool: "output_size",
    _group_norm: "num_groups",
    _embedding: "embedding_dim",
}


def _rule(node: Node) -> Callable[[Node, Sequence[Shape]], Said] | None:
    rule = _RULES.get(base_type(node.type))
    if rule is None and {"kernel_size", "out_channels"} <= node.attrs.keys():
        rule = _conv
    elif rule is None and "in_features" in node.attrs:
        rule = _linear
    needed = _NEEDS.get(rule) if rule is not None else None
    return None if needed is not None and needed not in node.attrs else rule


def describe(node: Node, inputs: Sequence[Shape | None] = ()) -> str:
    """One sentence saying what ``node`` computes, with its hyper-parameters and shapes.

    ``inputs`` are the shapes of what feeds it (with the batch dimension), in edge order.

    Example::

        >>> describe(trace["pool#1"], [trace["relu#1"].shape])  # doctest: +SKIP
        'Max pool 2×2, stride 2: 16×16×16 → 16×8×8; keeps the largest value of each 2×2 window'
    """
    shapes = [tuple(s) for s in inputs if s is not None]
    times = f" ×{node.repeats}" if node.repeats > 1 else ""
    if node.kind == "input":
        return f"Input: {shape_text(node.shape)}, the probe the model is run on"
    if node.kind == "output":
        return f"Output: {shape_text(node.shape)}"
    rule = _rule(node)
    if rule is None:
        params = f" ({_count(node.params, 'parameter')})" if node.params else ""
        return f"{node.type}{times}{params}: {_flow(shapes, node.shape)}"
    head, what, with_shapes = rule(node, shapes)
    return f"{head}{times}: {_flow(shapes, node.shape) + '; ' if with_shapes else ''}{what}"


def _flow(inputs: Sequence[Shape], output: Shape | None) -> str:
    """``3×32×32 → 64×32×32`` (several inputs of one shape are named once)."""
    sources = list(dict.fromkeys(shape_text(s) for s in inputs))
    return f"{' + '.join(sources)} → {shape_text(output)}" if sources else shape_text(output)


def layer_name(node: Node) -> str:
    """A layer in a few words for a chain of steps: ``Conv 3×3``, ``Conv 1×1 stride 2``, ``BN``, ``ReLU``."""
    a = node.attrs
    if "kernel_size" in a and "out_channels" in a:
        stride = _one(a.get("stride", 1))
        return f"Conv {dims(a['kernel_size'])}" + (f" stride {stride}" if stride != "1" else "")
    if "in_features" in a:
        return f"Linear {a['in_features']}→{a['out_features']}"  # unspaced: it sits in a chain of " → "
    name = base_type(node.type)
    if name in ("add", "iadd") and node.kind == "function":
        return "add"
    return short_type(node.type)


def follow_up(node: Node) -> str:
    """What a layer folded in after another does, in a clause: ``ReLU sets negatives to 0 (37 % here)``."""
    name = base_type(node.type)
    if name == "relu":
        zeros = f" ({_percent(node.stats.zero_fraction)} of values here)" if node.stats is not None else ""
        return f"ReLU sets negatives to 0{zeros}"
    rule = _rule(node)
    if rule in (_batch_norm, _group_norm):
        return f"{rule(node, ())[0].split(',')[0]} normalises each channel"
    if rule is _layer_norm:
        return "LayerNorm normalises each token"
    if rule is not None:
        head, what, _ = rule(node, ())
        return f"{head}: {what}"
    return node.type
