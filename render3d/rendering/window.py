"""The interactive window: hover a block for its details, ``a`` for activations, ``l`` for labels."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkCellPicker

from render3d.errors import RenderUnavailableError
from render3d.rendering.actors import SceneActors, build_plotter
from render3d.rendering.labels import TEXT_COLOR, font_file, rgb01
from render3d.rendering.glcheck import INSTALL_HINT, ensure_gl
from render3d.scene.model import Scene

__all__ = ["BlockTooltip", "bind_key", "check_display", "install_interaction", "show_scene"]

HELP = "hover/click a block: details   a: activations on/off   l: labels on/off   r: reset view"


class BlockTooltip:
    """Picks the block under a pixel (cell picking on ``block_id``) and shows its info text.

    Works offscreen too (``pick``/``hover`` take display coordinates), which is how it is tested.
    """

    def __init__(self, plotter: pv.Plotter, actors: SceneActors) -> None:
        self.plotter = plotter
        self.actors = actors
        self.picker = vtkCellPicker()
        self.picker.SetTolerance(0.0005)
        self.picker.PickFromListOn()
        for actor in actors.block_actors.values():
            self.picker.AddPickList(actor)
        self.current: int | None = None
        height = plotter.window_size[1]
        scale = height / 1080
        self.text = pv.Text(text="", position=(0, 0))
        prop = self.text.prop
        prop.color = rgb01(TEXT_COLOR)
        prop.font_size = max(9, round(20 * scale))
        font = font_file()
        if font:
            prop.set_font_file(font)
        prop.background_color = (1.0, 1.0, 0.94)
        prop.background_opacity = 0.92
        prop.frame = True
        prop.frame_color = (0.55, 0.55, 0.55)
        prop.justification_vertical = "top"
        self.text.SetVisibility(False)
        plotter.add_actor(self.text, reset_camera=False, name="tooltip", pickable=False, render=False)

    def pick(self, x: float, y: float) -> int | None:
        """Index into ``scene.blocks`` of the nearest block under display pixel (x, y), or None."""
        if not self.actors.block_actors:
            return None
        if not self.picker.Pick(x, y, 0, self.plotter.renderer):
            return None
        data = self.picker.GetDataSet()
        cell = self.picker.GetCellId()
        ids = data.GetCellData().GetArray("block_id") if data is not None else None
        if ids is None or cell < 0:
            return None
        return int(ids.GetValue(cell))

    def hover(self, x: float, y: float) -> bool:
        """Show (or hide) the tooltip for pixel (x, y); returns True when the view changed."""
        block = self.pick(x, y)
        width, height = self.plotter.window_size
        if block is not None:
            # Keep the box inside the window: flip to the left of the cursor on the right half.
            self.text.prop.justification_horizontal = "right" if x > width * 0.6 else "left"
            dx = -16 if x > width * 0.6 else 16
            self.text.SetPosition(x + dx, min(y - 12, height - 8))
        if block == self.current:
            return block is not None  # moved along the same block: position changed
        self.current = block
        if block is None:
            self.text.SetVisibility(False)
        else:
            self.text.SetInput(self.actors.block_info(block))
            self.text.SetVisibility(True)
        return True

    def _on_mouse(self, iren: Any, _event: str) -> None:
        x, y = iren.GetEventPosition()
        if self.hover(x, y):
            self.plotter.render()


def install_interaction(plotter: pv.Plotter, actors: SceneActors) -> BlockTooltip:
    """Tooltip on hover/click, ``a``/``l`` toggles, and a help line; safe on an offscreen plotter."""
    tooltip = BlockTooltip(plotter, actors)

    def toggle_activations() -> None:
        actors.set_activations_visible(not actors.activations_visible)
        plotter.render()

    def toggle_labels() -> None:
        actors.set_labels_visible(not actors.labels_visible)
        plotter.render()

    iren = plotter.iren
    if iren is not None and iren.interactor is not None:
        plotter.add_key_event("a", toggle_activations)
        plotter.add_key_event("l", toggle_labels)
        iren.add_observer("MouseMoveEvent", tooltip._on_mouse)
        iren.add_observer("LeftButtonPressEvent", tooltip._on_mouse)
    actors.set_caption(HELP)
    return tooltip


def bind_key(plotter: pv.Plotter, key: str, action: Callable[[], Any]) -> None:
    """Run ``action`` and redraw when ``key`` is pressed (an offscreen plotter has no keys: nothing)."""
    if plotter.iren is not None and plotter.iren.interactor is not None:
        plotter.add_key_event(key, lambda: (action(), plotter.render()))


def check_display(instead: str) -> None:
    """Raise :class:`RenderUnavailableError` (one line, suggesting ``instead``) when no window can open:
    no ``DISPLAY`` on Linux, or a ``DISPLAY`` no X server answers on (VTK would only warn, then return at
    once as if the window had been closed)."""
    if not sys.platform.startswith("linux") or os.environ.get("WAYLAND_DISPLAY"):
        return
    display = os.environ.get("DISPLAY")
    if not display:
        reason = "DISPLAY is not set"
    elif not _x_server_answers(display):
        reason = f"no X server answers on DISPLAY={display}"
    else:
        return
    raise RenderUnavailableError(f"No display to open a window on ({reason}); {instead}, or run under "
                                 f"X/Wayland (headless GL: {INSTALL_HINT}).")


def _x_server_answers(display: str) -> bool:
    """Whether something accepts connections where ``DISPLAY`` (``[host]:N[.S]``) points."""
    import socket

    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        targets = [(socket.AF_UNIX, "\0" + path), (socket.AF_UNIX, path)]  # abstract socket, then the file
    else:
        targets = [(socket.AF_INET6 if ":" in host else socket.AF_INET, (host.strip("[]"), 6000 + int(number)))]
    for family, address in targets:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as conn:
                conn.settimeout(2.0)
                conn.connect(address)
                return True
        except OSError:
            continue
    return False


def show_scene(
    scene: Scene,
    *,
    size: tuple[int, int] | None = None,
    anti_aliasing: bool = True,
    show_labels: bool = True,
) -> None:
    """Open an interactive window on ``scene`` (``size`` default ``scene.size``); returns when the
    window is closed.

    Returns immediately when ``pyvista.OFF_SCREEN`` is set (``PYVISTA_OFF_SCREEN=true``: tests, CI).

    Raises
    ------
    RenderUnavailableError
        No display to open a window on, or no OpenGL context at all.
    """
    if pv.OFF_SCREEN:
        return
    check_display("render a PNG instead")
    ensure_gl()
    plotter, actors = build_plotter(
        scene, size=size, off_screen=False, anti_aliasing=anti_aliasing, show_labels=show_labels
    )
    try:
        install_interaction(plotter, actors)
        plotter.show(title=f"render3d: {scene.title}", auto_close=False)
    finally:
        plotter.close()
