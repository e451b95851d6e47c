"""The scene room: a :class:`~render3d.graph.Trace` becomes a :class:`~render3d.scene.model.Scene`.

Pure numpy; never imports torch, VTK or PyVista. Public names (loaded lazily)::

    build_scene(trace, mode="architecture", *, style=None, **overrides) -> Scene
    SceneStyle                       frozen dataclass of every style option
    project(scene, points, size)     pinhole projection of world points to pixels (no GL)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "build_scene": "render3d.scene.builder",
    "SceneStyle": "render3d.scene.style",
    "project": "render3d.scene.camera",
    "Scene": "render3d.scene.model",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'render3d.scene' has no attribute {name!r}")
    return getattr(import_module(module), name)
