"""The interactive window: hover a block for its details, keys for the rest (``h`` lists them all).

Every key is bound through :func:`bind_key`, which also writes the help overlay's line for it and keeps
VTK's own key handler from acting on the same key too (its ``r`` would reset the camera to a fitted view
of the current rotation after ours restored the initial one, its ``s`` would re-style every actor).
"""

from __future__ import annotations

import os
import sys
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Sequence

import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkCamera, vtkCellPicker

from render3d.errors import RenderUnavailableError
from render3d.rendering.actors import SceneActors, build_plotter
from render3d.rendering.labels import TEXT_COLOR, font_file, rgb01
from render3d.rendering.glcheck import INSTALL_HINT, ensure_gl
from render3d.scene.model import Scene

__all__ = ["BlockTooltip", "EpochSlider", "KeyMap", "bind_key", "check_display", "install_interaction",
           "key_map", "save_screenshot", "show_scene", "text_box"]

HELP = "hover/click a block: details   a: activations   l: labels   r: reset view   h: all keys"
MOUSE_HELP = (
    ("left drag", "rotate"),
    ("shift + left drag, middle drag", "pan"),
    ("right drag, wheel", "zoom"),
    ("ctrl + left drag", "roll"),
    ("hover / click a block", "its details"),
)
#: pyvista's own keys that stay useful in a scene window (they are not rebound here)
PYVISTA_KEYS = (("v", "isometric view"), ("Up / Down", "zoom in / out"), ("q", "close the window"))
PLAY_INTERVAL_MS = 700  # one epoch per step while playing: slow enough to read the caption


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
        self.text = _boxed_text(plotter, "tooltip", 20)

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


def _boxed_text(plotter: pv.Plotter, name: str, font_1080p: float) -> pv.Text:
    """A hidden text box (dark on light, framed) like a tooltip, its font scaled from 1080p."""
    text = pv.Text(text="", position=(0, 0))
    prop = text.prop
    prop.color = rgb01(TEXT_COLOR)
    prop.font_size = max(9, round(font_1080p * plotter.window_size[1] / 1080))
    font = font_file()
    if font:
        prop.set_font_file(font)
    prop.background_color = (1.0, 1.0, 0.94)
    prop.background_opacity = 0.92
    prop.frame = True
    prop.frame_color = (0.55, 0.55, 0.55)
    prop.justification_vertical = "top"
    text.SetVisibility(False)
    plotter.add_actor(text, reset_camera=False, name=name, pickable=False, render=False)
    return text


class KeyMap:
    """The keys of one window: their actions, the help overlay that lists them, and the notice line.

    VTK's interactor style acts on some letters by itself after pyvista's key callbacks ran (``r``
    re-fits the camera, ``s``/``w`` re-style every actor, ``e`` closes); an observer on the style's
    ``CharEvent`` replaces that handler and passes on only the keys bound nowhere here.

    It holds its plotter weakly: it lives in a dictionary keyed by that plotter.
    """

    def __init__(self, plotter: pv.Plotter) -> None:
        self._plotter = weakref.ref(plotter)
        self.descriptions: dict[str, str] = {}
        self.mouse: list[tuple[str, str]] = list(MOUSE_HELP)  # widgets add theirs
        self.help_actor = _boxed_text(plotter, "help", 22)
        self.notice_actor = _boxed_text(plotter, "notice", 20)
        self.notice_actor.prop.justification_vertical = "bottom"
        margin = 8 * plotter.window_size[1] / 360
        self.notice_actor.SetPosition(margin, margin)
        style = plotter.iren.style if plotter.iren is not None else None
        if style is not None:
            ours, interactor = self.descriptions, plotter.iren.interactor
            style.AddObserver("CharEvent", lambda *_: interactor.GetKeySym() in ours or style.OnChar())

    @property
    def plotter(self) -> pv.Plotter:
        plotter = self._plotter()
        assert plotter is not None, "KeyMap used after its plotter was freed"
        return plotter

    def bind(self, key: str, action: Callable[[], Any], description: str) -> None:
        """``key`` (a VTK key symbol: ``"r"``, ``"space"``) runs ``action`` and redraws."""
        self.descriptions[key] = description
        self.help_actor.SetInput(self.help_text())
        if self.plotter.iren is not None:
            plotter = self._plotter
            self.plotter.add_key_event(key, lambda: (action(), plotter().render()))

    def help_text(self) -> str:
        """Every mouse action and key of this window, one per line."""
        return "\n".join(f"{k}: {d}" for k, d in (*self.mouse, *self.descriptions.items(), *PYVISTA_KEYS))

    def toggle_help(self) -> None:
        """Show the help overlay over the top left corner, or hide it."""
        height = self.plotter.window_size[1]
        self.help_actor.SetPosition(8 * height / 360, height - 8 * height / 360)
        self.help_actor.SetVisibility(not self.help_actor.GetVisibility())

    def notify(self, text: str) -> None:
        """Show a one-line notice in the bottom left corner (until the next notice)."""
        self.notice_actor.SetInput(text)
        self.notice_actor.SetVisibility(True)


_KEY_MAPS: weakref.WeakKeyDictionary[pv.Plotter, KeyMap] = weakref.WeakKeyDictionary()


def key_map(plotter: pv.Plotter) -> KeyMap:
    """The :class:`KeyMap` of ``plotter`` (made, with ``h`` bound to the help overlay, on first use)."""
    keys = _KEY_MAPS.get(plotter)
    if keys is None:
        keys = _KEY_MAPS[plotter] = KeyMap(plotter)
        keys.bind("h", keys.toggle_help, "this help on/off")
    return keys


def bind_key(plotter: pv.Plotter, key: str, action: Callable[[], Any], description: str) -> None:
    """Run ``action`` and redraw when ``key`` is pressed; ``description`` is its line in the help overlay."""
    key_map(plotter).bind(key, action, description)


def save_screenshot(plotter: pv.Plotter, folder: str | os.PathLike[str] = ".") -> Path:
    """Write what the window shows (without the help overlay or a notice) to
    ``render3d-<date>-<time>.png`` in ``folder``, never over an existing file; says where on stdout
    and in the window."""
    from render3d.rendering.png import write_image

    keys = key_map(plotter)
    shown = [a for a in (keys.help_actor, keys.notice_actor) if a.GetVisibility()]
    for actor in shown:
        actor.SetVisibility(False)
    plotter.render()
    image = plotter.screenshot(None, return_img=True)
    for actor in shown:
        actor.SetVisibility(True)
    stem = Path(folder) / f"render3d-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = stem.with_suffix(".png"), 1
    while path.exists():
        n += 1
        path = stem.with_name(f"{stem.name}-{n}.png")
    write_image(path, image)
    print(f"saved screenshot {path.resolve()}")
    keys.notify(f"saved {path.name}")
    return path


def install_interaction(plotter: pv.Plotter, actors: SceneActors) -> BlockTooltip:
    """Tooltip on hover/click, the keys (``a``/``l`` toggles, ``r`` restores the camera as it is now,
    ``s`` saves a screenshot, ``h`` the help overlay) and a help line; safe on an offscreen plotter."""
    tooltip = BlockTooltip(plotter, actors)
    initial = vtkCamera()
    initial.DeepCopy(plotter.camera)

    def restore_camera() -> None:
        plotter.camera.DeepCopy(initial)
        plotter.renderer.ResetCameraClippingRange()

    bind_key(plotter, "a", lambda: actors.set_activations_visible(not actors.activations_visible),
             "activations on/off")
    bind_key(plotter, "l", lambda: actors.set_labels_visible(not actors.labels_visible), "labels on/off")
    bind_key(plotter, "r", restore_camera, "back to the first view")
    bind_key(plotter, "s", lambda: save_screenshot(plotter), "save a screenshot (render3d-<time>.png here)")
    iren = plotter.iren
    if iren is not None and iren.interactor is not None:
        iren.add_observer("MouseMoveEvent", tooltip._on_mouse)
        iren.add_observer("LeftButtonPressEvent", tooltip._on_mouse)
    actors.set_caption(HELP)
    return tooltip


def text_box(text: pv.Text, renderer: Any) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) display pixels (y up) that ``text`` covers: VTK gives its box relative to the
    actor's position, justification applied."""
    box = [0.0] * 4
    text.GetBoundingBox(renderer, box)
    x, y = text.GetPosition()
    return box[0] + x, box[1] + x, box[2] + y, box[3] + y


class EpochSlider:
    """A slider over snapshots ``0 .. len(labels) - 1`` that stops on whole snapshots only, titled with
    the shown one's label (``"epoch 3"``: the recorded epoch, never a blend like 2.2), placed to the
    right of ``title`` so the two never overlap; ``space`` plays/pauses through the snapshots.

    ``on_change(k)`` shows snapshot ``k``; it runs once per snapshot reached, not per mouse move.
    """

    def __init__(self, plotter: pv.Plotter, labels: Sequence[str], on_change: Callable[[int], Any], *,
                 title: pv.Text, start: int = -1) -> None:
        self.plotter = plotter
        self.labels = list(labels)
        self.on_change = on_change
        self.index = range(len(self.labels))[start]
        self.timer: int | None = None
        width, height = plotter.window_size
        margin = 16 * height / 360
        x0 = min(text_box(title, plotter.renderer)[1] + 2 * margin, width * 0.6)
        y = 1 - margin / height  # the slider's own title hangs below the bar
        self.widget = plotter.add_slider_widget(
            lambda value, widget: self.show(round(value), widget.GetRepresentation()),
            rng=[0, max(len(self.labels) - 1, 1e-6)],
            value=self.index,
            title=self.labels[self.index],
            pointa=(x0 / width, y),
            pointb=(1 - margin / width, y),
            style="modern",
            title_height=0.025,
            tube_width=0.006,
            slider_width=0.015,
            interaction_event="always",
            pass_widget=True,
        )
        self.representation = self.widget.GetRepresentation()
        self.representation.ShowSliderLabelOff()
        key_map(plotter).mouse.append(("drag the slider", "another epoch"))
        bind_key(plotter, "space", self.toggle_play, "play / pause the epochs")
        if plotter.iren is not None:
            plotter.iren.add_observer("TimerEvent", lambda *_: self.step())

    def show(self, k: int, representation: Any = None) -> None:
        """Move to snapshot ``k`` (clipped to the range): the knob snaps there, the title says which."""
        k = min(max(int(k), 0), len(self.labels) - 1)
        representation = representation or self.representation
        representation.SetValue(k)
        representation.SetTitleText(self.labels[k])
        if k != self.index:
            self.index = k
            self.on_change(k)

    @property
    def playing(self) -> bool:
        return self.timer is not None

    def toggle_play(self) -> None:
        """Start stepping one snapshot every :data:`PLAY_INTERVAL_MS` (from the first when at the last), or stop."""
        interactor = self.plotter.iren.interactor
        if self.timer is not None:
            interactor.DestroyTimer(self.timer)
            self.timer = None
            return
        if self.index == len(self.labels) - 1:
            self.show(0)
        self.timer = interactor.CreateRepeatingTimer(PLAY_INTERVAL_MS)

    def step(self) -> None:
        """One tick of playing: the next snapshot, and a stop at the last one."""
        if self.timer is None:
            return
        self.show(self.index + 1)
        if self.index == len(self.labels) - 1:
            self.toggle_play()
        self.plotter.render()


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
