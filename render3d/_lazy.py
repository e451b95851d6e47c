"""Public names that load on first use, so importing a room never drags in the others' heavy deps."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose ``names`` map to modules.

    Usage in a package's ``__init__``::

        __getattr__, __dir__, __all__ = lazy_exports(__name__, {"build_scene": "render3d.scene.builder"})
    """
    exported = sorted(names)

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return exported

    return __getattr__, __dir__, exported
