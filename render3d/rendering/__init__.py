"""The render room: a :class:`~render3d.scene.model.Scene` → pyvista actors → PNG or window.

Imports pyvista and VTK, never torch. Importing this package first sets the headless defaults
(``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` when there is no display) so they apply before
VTK makes its first window.

    ensure_gl()                          -> str           probe GL once per process, or raise
    build_plotter(scene, size=None)      -> (Plotter, SceneActors)  size: default scene.size
    render_png(scene, path, size=None)   -> Path
    show_scene(scene)                    -> None          interactive window
"""

from __future__ import annotations

from render3d.rendering.glcheck import configure_environment, ensure_gl, preload_triton

configure_environment()
preload_triton()

from render3d.rendering.actors import SceneActors, build_plotter  # noqa: E402
from render3d.rendering.png import render_png  # noqa: E402
from render3d.rendering.window import show_scene  # noqa: E402

__all__ = ["SceneActors", "build_plotter", "ensure_gl", "render_png", "show_scene"]
