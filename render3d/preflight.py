"""Checks made before a model runs, so an impossible request fails in one line instead of mid-allocation.

A device that does not exist here, an input shape no tensor can have, or a forward whose activations
cannot fit in memory (``--input-shape 1,3,60000,60000``: a 43 GB input, a 230 GB first activation)
would otherwise surface as a torch traceback, an abort or the kernel's OOM killer. The memory estimate
comes from the meta-device pass, which costs no memory and knows every activation's shape.

Pure Python at import time (the CLI parser and scene files use it); torch is imported only to ask about
GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from render3d.errors import ModelSpecError

__all__ = ["check_device", "check_forward_memory", "check_shape", "forward_bytes", "needs_values"]

#: no tensor may hold more elements than this (torch sizes are int64; leave room for byte counts)
MAX_ELEMENTS = 2**48

_DEVICES = "cpu, cuda, cuda:N, mps or meta"
_ITEMSIZE = {
    "float64": 8,
    "double": 8,
    "int64": 8,
    "long": 8,
    "complex64": 8,
    "complex128": 16,
    "float32": 4,
    "float": 4,
    "int32": 4,
    "int": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "int16": 2,
    "uint8": 1,
    "int8": 1,
    "bool": 1,
}


def check_device(text: str, mode: str | None = None) -> str:
    """``text`` if it names a device this machine has (and that can draw ``mode``), else ModelSpecError."""
    name = text.strip().lower()
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda", "mps", "meta") or (index and (kind != "cuda" or not index.isdigit())):
        raise ModelSpecError(f"device {text!r} is not known: use {_DEVICES}")
    if kind == "meta" and mode == "activations":
        raise ModelSpecError(
            "device 'meta' cannot draw activations: meta tensors have no values; "
            "use --mode architecture, or --device cpu"
        )
    if kind == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ModelSpecError(f"device {text!r} is not available: torch sees no CUDA GPU here; use cpu")
        if index and int(index) >= count:
            raise ModelSpecError(
                f"device {text!r} is not available: torch sees {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            )
    if kind == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise ModelSpecError(f"device {text!r} is not available: no Apple GPU (MPS) here; use cpu")
    return name


def check_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` if a tensor can have it: positive sizes, at most :data:`MAX_ELEMENTS` elements."""
    if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise ModelSpecError(f"input shape {shape} is not valid: give positive integers, e.g. 1,3,224,224")
    if math.prod(shape) > MAX_ELEMENTS:
        raise ModelSpecError(
            f"input shape {_shape_text(shape)} has {math.prod(shape):.3g} elements, more than "
            f"any tensor can hold ({MAX_ELEMENTS:.3g}); use a smaller input shape"
        )
    return shape


def needs_values(exc: BaseException) -> bool:
    """Whether a failed meta-device pass failed only because meta tensors hold no values (``.item()``,
    data-dependent branches, ops without a meta kernel), so that a real pass may still succeed."""
    cause = exc.__cause__ or exc
    return isinstance(cause, NotImplementedError) or "meta" in str(cause).lower()


def forward_bytes(shapes: Iterable[tuple[tuple[int, ...], str]]) -> tuple[int, tuple[int, ...]]:
    """The bytes and shape of the largest tensor among ``(shape, dtype)`` pairs: a lower bound of the
    peak memory of the forward pass that creates them."""
    return max(((math.prod(s) * _ITEMSIZE.get(dtype, 4), tuple(s)) for s, dtype in shapes), default=(0, ()))


def check_forward_memory(shapes: Iterable[tuple[tuple[int, ...], str]], device: str | None) -> None:
    """ModelSpecError when the activations of a forward pass cannot fit in the device's free memory."""
    need, largest = forward_bytes(shapes)
    free = _free_bytes(device)
    if free is not None and need > free:
        raise ModelSpecError(
            f"this input needs at least {need / 2**30:.1f} GiB for its activations (largest: "
            f"{_shape_text(largest)}), only {free / 2**30:.1f} GiB of {device or 'cpu'} memory is free; "
            "use a smaller input shape, or --mode architecture (shapes only, no memory)"
        )


def _free_bytes(device: str | None) -> int | None:
    if device is not None and device.startswith("cuda"):
        import torch

        return torch.cuda.mem_get_info(torch.device(device))[0]
    if device == "meta":
        return None
    from render3d.limits import available_memory

    return available_memory()


def _shape_text(shape: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in shape)
