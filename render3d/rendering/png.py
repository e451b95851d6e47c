"""Scene → PNG file, offscreen, never leaving a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from render3d.rendering.actors import build_plotter
from render3d.scene.model import Scene

__all__ = ["render_png"]


def _default_mode() -> int:
    """0o666 less the process umask: the mode ``open()`` would have given a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


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
    path.parent.mkdir(parents=True, exist_ok=True)
    plotter, _ = build_plotter(
        scene, size=size, off_screen=True, anti_aliasing=anti_aliasing, show_labels=show_labels
    )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        plotter.render()  # screenshot() alone does not re-render (pyvista#3698)
        plotter.screenshot(str(tmp), transparent_background=False)
        os.chmod(tmp, _default_mode())  # mkstemp makes 0600; a PNG is for sharing
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plotter.close()
    return path
