"""The hyper-parameters a caption needs (kernel size, stride, features, heads ...), as plain JSON values.

Read from a leaf module once (the tracer caches them per module, so a module called 12 times costs one
read) and from the arguments of a few functional ops whose meaning hides in an argument (``cat``'s dim,
``softmax``'s dim). Only public attributes of ``torch.nn`` layers are read; anything else gives ``{}``.
Values are ints, floats, strings, bools, ``None`` and lists of those: tuples become lists, so what the
trace holds equals what its JSON round trip gives back.
"""

from __future__ import annotations

from typing import Any

from torch import nn

#: attribute names read from each kind of layer, in caption order
_FIELDS: tuple[tuple[tuple[type[nn.Module], ...], tuple[str, ...]], ...] = (
    (
        (nn.modules.conv._ConvNd,),
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"),
    ),
    ((nn.Linear,), ("in_features", "out_features")),
    ((nn.Bilinear,), ("in1_features", "in2_features", "out_features")),
    ((nn.modules.pooling._MaxPoolNd,), ("kernel_size", "stride", "padding", "dilation")),
    ((nn.modules.pooling._AvgPoolNd,), ("kernel_size", "stride", "padding")),
    ((nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd), ("output_size",)),
    ((nn.modules.batchnorm._NormBase,), ("num_features", "eps", "affine")),
    ((nn.LayerNorm,), ("normalized_shape", "eps", "elementwise_affine")),
    ((nn.GroupNorm,), ("num_groups", "num_channels", "eps", "affine")),
    ((nn.modules.dropout._DropoutNd,), ("p",)),
    ((nn.Embedding,), ("num_embeddings", "embedding_dim")),
    ((nn.MultiheadAttention,), ("embed_dim", "num_heads")),
    ((nn.Upsample,), ("scale_factor", "size", "mode")),
    ((nn.Flatten,), ("start_dim", "end_dim")),
    ((nn.Softmax, nn.LogSoftmax), ("dim",)),
    ((nn.LeakyReLU,), ("negative_slope",)),
    ((nn.ELU, nn.CELU), ("alpha",)),
    ((nn.GELU,), ("approximate",)),
    ((nn.Hardtanh,), ("min_val", "max_val")),
)

#: functional ops whose caption needs one argument: op base name -> (argument name, position, default)
_FUNCTION_ARGS: dict[str, tuple[str, int, Any]] = {
    "cat": ("dim", 1, 0),
    "concat": ("dim", 1, 0),
    "stack": ("dim", 1, 0),
    "softmax": ("dim", 1, None),
    "log_softmax": ("dim", 1, None),
    "flatten": ("start_dim", 1, 0),
}


def plain(value: Any) -> Any:
    """``value`` as JSON-able data: tuples and lists become lists, numbers stay numbers, others ``str``."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a 0-d tensor or numpy scalar
        return plain(value.item())
    return str(value)


def module_attrs(module: nn.Module) -> dict[str, Any]:
    """The caption-worthy hyper-parameters of ``module`` (``{}`` for a container or unknown layer)."""
    out: dict[str, Any] = {}
    for kinds, names in _FIELDS:
        if isinstance(module, kinds):
            for name in names:
                if hasattr(module, name):
                    out[name] = plain(getattr(module, name))
            break
    if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear, nn.Bilinear)):
        out["bias"] = getattr(module, "bias", None) is not None
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        out["output_padding"] = plain(module.output_padding)
    return out


def function_attrs(base: str, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The one argument a functional op's caption needs (``{"dim": 1}`` for ``torch.cat(xs, 1)``)."""
    spec = _FUNCTION_ARGS.get(base)
    if spec is None:
        return {}
    name, position, default = spec
    value = kwargs.get(name, args[position] if len(args) > position else default)
    return {} if value is None or not isinstance(value, int) else {name: int(value)}
