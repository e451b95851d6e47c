"""Scene → PNG file, offscreen, never leaving a half-written file behind."""

from __future__ import annotations

import os
from pathlib import Path

from render3d.atomic import atomic_path
from render3d.rendering.actors import build_plotter
from render3d.scene.model import Scene

__all__ = ["render_png"]


def render_png(
    scene: Scene,
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] = (1920, 1080),
    anti_aliasing: bool = False,
    show_labels: bool = True,
) -> Path:
    """Render ``scene`` offscreen to the PNG ``path`` and return it.

    The image goes to a temporary file in the same folder that is renamed over ``path`` only once
    it is complete; if rendering fails nothing is left behind.

    Raises
    ------
    RenderUnavailableError
        No OpenGL context can be created on this machine.
    """
    path = Path(path)
    plotter, _ = build_plotter(
        scene, size=size, off_screen=True, anti_aliasing=anti_aliasing, show_labels=show_labels
    )
    try:
        with atomic_path(path, suffix=".png") as tmp:  # created by the writer: umask mode, not 0600
            plotter.render()  # screenshot() alone does not re-render (pyvista#3698)
            plotter.screenshot(str(tmp), transparent_background=False)
    finally:
        plotter.close()
    return path
