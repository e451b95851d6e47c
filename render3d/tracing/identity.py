"""A map keyed by tensor identity that costs a dict lookup, for the tracer's per-op bookkeeping.

Why not ``torch.utils.weak.WeakIdKeyDictionary``: every ``get`` there builds a Python ``WeakIdRef`` object
and runs Python ``__hash__``/``__eq__``, about a tenth of the tracer's own time on ResNet-50. Here the key
is ``id(tensor)`` and the entry holds a plain weak reference checked on every read: a dead tensor's id can
be reused within microseconds, but its entry's reference then points at nothing (or at another object), so
the new tensor never inherits it. Dead entries are not purged; one map lives for one trace.
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class IdentityMap(Generic[V]):
    """``map[tensor] = value`` / ``map.get(tensor)`` by object identity, holding no tensor alive."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Any], V]] = {}

    def get(self, key: Any, default: V | None = None) -> V | None:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return default

    def __setitem__(self, key: Any, value: V) -> None:
        self._entries[id(key)] = (weakref.ref(key), value)

    def __getitem__(self, key: Any) -> V:
        entry = self._entries.get(id(key))
        if entry is None or entry[0]() is not key:
            raise KeyError(key)
        return entry[1]

    def __contains__(self, key: Any) -> bool:
        entry = self._entries.get(id(key))
        return entry is not None and entry[0]() is key
