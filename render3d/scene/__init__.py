"""The scene room: a :class:`~render3d.graph.Trace` becomes a :class:`~render3d.scene.model.Scene`.

Pure numpy; never imports torch, VTK or PyVista. Public names (loaded lazily)::

    build_scene(trace, mode="architecture", *, style=None, **overrides) -> Scene
    SceneStyle                       frozen dataclass of every style option
    project(scene, points, size)     pinhole projection of world points to pixels (no GL)
"""

from __future__ import annotations

from render3d._lazy import lazy_exports

_LAZY = {
    "build_scene": "render3d.scene.builder",
    "SceneStyle": "render3d.scene.style",
    "project": "render3d.scene.camera",
    "Scene": "render3d.scene.model",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
