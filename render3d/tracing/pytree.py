"""Finding the tensors inside whatever a model takes or returns.

Tuples, lists, dicts (``OrderedDict``, Hugging Face ``ModelOutput``), namedtuples and dataclasses are
walked; ints, strings, ``None`` and other leaves are skipped. Paths name where a tensor sat
(``"0"``, ``"logits"``, ``"1.hidden"``) so inputs and outputs get stable, readable ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import torch


def iter_tensors(obj: Any, path: str = "", _depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(path, tensor)`` for every tensor leaf, depth first, in container order.

    Plain objects that carry tensors as attributes (torchvision's ``ImageList``) are looked into a few
    levels deep, so a model that passes such a holder between modules keeps its edges.
    """
    if _depth > _MAX_DEPTH:
        return
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from iter_tensors(value, _join(path, key), _depth + 1)
    elif isinstance(obj, (list, tuple)):
        fields = getattr(obj, "_fields", None)  # namedtuple: use field names
        for i, value in enumerate(obj):
            yield from iter_tensors(value, _join(path, fields[i] if fields else i), _depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from iter_tensors(getattr(obj, f.name), _join(path, f.name), _depth + 1)
    elif _is_plain_holder(obj):
        for key, value in vars(obj).items():
            if not key.startswith("_"):
                yield from iter_tensors(value, _join(path, key), _depth + 1)


_MAX_DEPTH = 8


def _is_plain_holder(obj: Any) -> bool:
    """An instance of a user class (not a module, type, function or builtin) with attributes."""
    return (
        hasattr(obj, "__dict__")
        and not isinstance(obj, (torch.nn.Module, type))
        and not callable(obj)
        and type(obj).__module__ not in ("builtins",)
    )


def tensors(obj: Any) -> list[torch.Tensor]:
    """Just the tensors, with fast paths for the common cases: one tensor, a plain tuple of tensors (the
    positional arguments a module hook sees), an empty dict (its keyword arguments)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if type(obj) is tuple and all(isinstance(v, torch.Tensor) for v in obj):
        return list(obj)
    if type(obj) is dict and not obj:
        return []
    return [t for _, t in iter_tensors(obj)]


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
