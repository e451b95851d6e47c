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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkCamera, vtkCellPicker

from render3d.errors import RenderUnavailableError
from render3d.rendering.actors import SceneActors, add_scene, build_plotter
from render3d.rendering.glcheck import INSTALL_HINT, ensure_gl
from render3d.rendering.labels import TEXT_COLOR, font_file, rgb01
from render3d.rendering.side_panel import PANEL_WIDTH, SidePanel, text_box
from render3d.scene.model import Scene

if TYPE_CHECKING:
    from render3d.rendering.explain_player import ExplainPlayer
    from render3d.scene.explain import ExplainerScene

__all__ = [
    "BlockTooltip",
    "EpochSlider",
    "Explain",
    "KeyMap",
    "Rebuild",
    "SceneWindow",
    "bind_key",
    "check_display",
    "fit_window_size",
    "install_interaction",
    "key_map",
    "save_screenshot",
    "scene_window",
    "screen_size",
    "show_scene",
    "text_box",
    "window_size",
]

#: the caption of a scene window: its main keys (``e`` only where a model can be explained)
HELP = ("click a block: details", "e: explain it", "a: activations", "l: labels", "r: reset view", "h: all keys")
MOUSE_HELP = (
    ("left drag", "rotate"),
    ("shift + left drag, middle drag", "pan"),
    ("right drag, wheel", "zoom"),
    ("ctrl + left drag", "roll"),
    ("hover a block", "its details"),
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
        changed = block != self.current
        self.current = block
        if block is None:
            self.text.SetVisibility(False)
            return changed
        if changed:
            self.text.SetInput(self.actors.block_info(block))
            self.text.SetVisibility(True)
        self.place(x, y)
        return True

    def place(self, x: float, y: float) -> None:
        """Put the box beside the cursor, wholly inside the window: right of and below the cursor,
        flipped left on the right side and moved up where it would run off the bottom."""
        width, height = self.plotter.window_size
        left = x > width * 0.6
        self.text.prop.justification_horizontal = "right" if left else "left"
        self.text.SetPosition(x - 16 if left else x + 16, y - 12)
        x0, x1, y0, y1 = text_box(self.text, self.plotter.renderer)
        edge = 4
        dx = max(edge - x0, 0) - max(x1 - (width - edge), 0)
        dy = max(edge - y0, 0) - max(y1 - (height - edge), 0)
        px, py = self.text.GetPosition()
        self.text.SetPosition(px + dx, py + dy)

    def set_actors(self, actors: SceneActors) -> None:
        """Pick from another scene's blocks (a window that swapped its scene)."""
        self.actors = actors
        self.picker.InitializePickList()
        for actor in actors.block_actors.values():
            self.picker.AddPickList(actor)
        self.current = None
        self.text.SetVisibility(False)


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
        self.place_notice()
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
            plotter = self._plotter  # weak: the plotter holds this callback

            def run() -> None:
                action()
                live = plotter()
                if live is not None:
                    live.render()

            self.plotter.add_key_event(key, run)

    def help_text(self) -> str:
        """Every mouse action and key of this window, one per line."""
        return "\n".join(f"{k}: {d}" for k, d in (*self.mouse, *self.descriptions.items(), *PYVISTA_KEYS))

    def toggle_help(self) -> None:
        """Show the help overlay over the top left corner, or hide it."""
        height = self.plotter.window_size[1]
        self.help_actor.SetPosition(8 * height / 360, height - 8 * height / 360)
        self.help_actor.SetVisibility(not self.help_actor.GetVisibility())

    def place_notice(self, top_left: tuple[float, float] | None = None) -> None:
        """Hang the notice line from display pixel ``top_left``, or (None) put it back in the bottom
        left corner."""
        if top_left is None:
            margin = 8 * self.plotter.window_size[1] / 360
            self.notice_actor.prop.justification_vertical = "bottom"
            self.notice_actor.SetPosition(margin, margin)
        else:
            self.notice_actor.prop.justification_vertical = "top"
            self.notice_actor.SetPosition(*top_left)

    def notify(self, text: str) -> None:
        """Show a one-line notice (bottom left, unless :meth:`place_notice` moved it) until the next one."""
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


#: ``rebuild(mode, expanded, size)``: the window's scene built again, in ``mode`` ("architecture" or
#: "activations"), with the ``×N`` blocks named in ``expanded`` drawn as their repeats, laid out for
#: ``size``; raises (any exception, its message one line) when it cannot, e.g. no model to run
Rebuild = Callable[[str, frozenset[str], tuple[int, int]], Scene]
#: ``explain(node_id)``: the operation explainer of block ``node_id`` (of its first layer the explainer
#: draws, for a folded block) and a line saying which layer that is; raises (any exception, its message
#: one line naming what the explainer supports) when it has none
Explain = Callable[[str], "tuple[ExplainerScene, str]"]
CLICK_SLOP_PX = 4  # a press and release this close together is a click, not a drag


class SceneWindow:
    """What a scene window does beyond drawing: tooltips, the side panel, ``×N`` expansion, the keys.

    ``rebuild`` (:data:`Rebuild`, optional) lets it swap in another scene without closing: ``a``
    captures activations in an architecture window, a click on a ``×N`` block expands it. Without one
    (a Scene given, a recording) those say in a notice why they cannot. With ``explain``
    (:data:`Explain`, optional: a window that knows the model) ``e`` plays the selected block's
    operation explainer in place of the scene, ``e`` or ``Esc`` come back to it as it was.
    ``describe(node_id)`` (optional) gives the sentence the side panel shows under the block's numbers.
    """

    def __init__(
        self,
        plotter: pv.Plotter,
        actors: SceneActors,
        *,
        rebuild: Rebuild | None = None,
        explain: Explain | None = None,
        describe: Callable[[str], str | None] | None = None,
    ) -> None:
        self.plotter = plotter
        self.actors = actors
        self.rebuild = rebuild
        self.explain = explain
        self.describe = describe
        self.explaining: ExplainPlayer | None = None  # the explainer shown instead of the scene
        self.mode = actors.scene.mode
        self.expanded: dict[str, tuple[str, ...]] = {}  # ×N block id -> the calls it now shows
        self.tooltip = BlockTooltip(plotter, actors)
        self.panel = SidePanel(plotter)
        self.keys = key_map(plotter)
        self.initial = vtkCamera()
        self.initial.DeepCopy(plotter.camera)
        self._press: tuple[int, int] | None = None
        self._beside = False  # the camera is fitted beside the open side panel
        self.keys.mouse += [
            ("click a block", "side panel: its channels, numbers and what it does"),
            ("click a ×N block", "expand it into its N repeats"),
            ("click an expanded repeat twice", "fold the repeats again"),
            ("click empty space", "close the side panel"),
        ]
        self._bind_scene_keys()
        if explain is None:
            bind_key(plotter, "Escape", self.close_panel, "close the side panel")
        else:
            self._bind_explainer_keys()
        self._observe()
        self.help_line = "   ".join(h for h in HELP if explain is not None or not h.startswith("e:"))
        actors.set_caption(self.help_line)

    def _bind_scene_keys(self) -> None:
        """The keys that act on the scene: activations, labels, the first view, a screenshot, folding."""
        plotter = self.plotter
        bind_key(
            plotter,
            "a",
            self._on_scene(self.toggle_activations),
            "activations on/off"
            if self.actors.scene.feature_maps or self.rebuild is None
            else "capture activations (runs the model once), then on/off",
        )
        bind_key(
            plotter,
            "l",
            self._on_scene(lambda: self.actors.set_labels_visible(not self.actors.labels_visible)),
            "labels on/off",
        )
        bind_key(plotter, "r", self._on_scene(self.restore_camera), "back to the first view")
        bind_key(plotter, "s", lambda: save_screenshot(plotter), "save a screenshot (render3d-<time>.png here)")
        bind_key(plotter, "x", self._on_scene(self.collapse), "fold the expanded repeats again")

    def _bind_explainer_keys(self) -> None:
        """The keys of a window that can explain: ``e`` in and out, ``Esc`` back, play and step."""
        plotter = self.plotter
        bind_key(
            plotter, "e", self.toggle_explainer, "explain the selected block's operation in this window (e again: back)"
        )
        bind_key(plotter, "Escape", self.escape, "back from the explainer, else close the side panel")
        bind_key(plotter, "space", self._on_explainer(lambda e: e.toggle_play()), "play / pause the explainer")
        bind_key(plotter, "Left", self._on_explainer(lambda e: e.step(-1)), "the explainer's previous frame (pauses)")
        bind_key(plotter, "Right", self._on_explainer(lambda e: e.step(1)), "the explainer's next frame (pauses)")

    def _observe(self) -> None:
        """Follow the mouse (hover, click) and, before each render, keep the side panel's grid in step
        with the feature maps (a recording window recolours them per epoch)."""
        self.plotter.renderer.AddObserver("StartEvent", lambda *_: self.panel.refresh(self.actors))
        iren = self.plotter.iren
        if iren is not None and iren.interactor is not None:
            iren.add_observer("MouseMoveEvent", self._on_move)
            iren.add_observer("LeftButtonPressEvent", self._on_press)
            iren.add_observer("LeftButtonReleaseEvent", self._on_release)

    # -- mouse ---------------------------------------------------------------------------------------
    def _event_position(self) -> tuple[int, int]:
        """Where the mouse event happened (read from the interactor: pyvista passes the interactor
        style, not the interactor, to observers of button releases)."""
        return self.plotter.iren.interactor.GetEventPosition()

    def _on_scene(self, action: Callable[[], Any]) -> Callable[[], Any]:
        """``action``, run only while the scene is shown (the explainer has hidden it otherwise)."""

        def run() -> Any:
            if self.explaining is not None:
                self.keys.notify("the explainer is shown: e or Esc goes back to the scene first")
                return None
            return action()

        return run

    def _on_explainer(self, action: Callable[[ExplainPlayer], None]) -> Callable[[], None]:
        """``action`` on the explainer while one is shown; nothing otherwise."""

        def run() -> None:
            if self.explaining is not None:
                action(self.explaining)

        return run

    def _on_move(self, *_: Any) -> None:
        if self.explaining is not None:
            return
        x, y = self._event_position()
        if self.panel.contains(x, y):
            changed = self.tooltip.current is not None
            self.tooltip.hover(-1, -1)
        else:
            changed = self.tooltip.hover(x, y)
        if changed:
            self.plotter.render()

    def _on_press(self, *_: Any) -> None:
        self._press = self._event_position()

    def _on_release(self, *_: Any) -> None:
        x, y = self._event_position()
        press, self._press = self._press, None
        if (
            self.explaining is None
            and press is not None
            and abs(x - press[0]) <= CLICK_SLOP_PX
            and abs(y - press[1]) <= CLICK_SLOP_PX
        ):
            self.click(x, y)
            self.plotter.render()

    def click(self, x: float, y: float) -> None:
        """A click at display pixel (x, y): a ×N block expands, a block opens the side panel, a second
        click on an expanded repeat folds its run again, empty space closes the panel."""
        if self.panel.contains(x, y):
            return
        block = self.tooltip.pick(x, y)
        if block is None:
            self.close_panel()
            return
        blocks = self.actors.scene.blocks
        node_id = blocks.node_ids[block]
        if blocks.repeats is not None and blocks.repeats[block] > 1:
            if self.rebuild is not None:
                self.expand(node_id)
                return
            self.keys.notify(
                f"{blocks.repeats[block]} repeats folded here; expanding them needs the model "
                "(a window on a recording or a Scene cannot rebuild its layout)"
            )
        elif self.panel.node_id == node_id and self.run_of(node_id) is not None:
            self.collapse(self.run_of(node_id))
            return
        self.select(block)

    # -- the side panel ------------------------------------------------------------------------------
    def select(self, block: int) -> None:
        """Open the side panel on block ``block`` (an index into ``scene.blocks``) and outline it."""
        node_id = self.actors.scene.blocks.node_ids[block]
        hint = (
            "no activations yet: press a to capture them"
            if self.rebuild is not None and self.mode == "architecture"
            else ""
        )
        self.panel.open(self.actors, block, explanation=self.describe(node_id) if self.describe else None, hint=hint)
        self._beside_panel(True)

    def close_panel(self) -> None:
        self.panel.close()
        self._beside_panel(False)

    def _beside_panel(self, beside: bool) -> None:
        """Fit the view into the part of the window the side panel leaves free (or the whole window
        again): zoomed out to that width and its centre moved there, so no block hides behind the panel."""
        if beside == self._beside:
            return
        self._beside = beside
        keep = 1 - PANEL_WIDTH
        camera = self.plotter.camera
        camera.Zoom(keep if beside else 1 / keep)
        camera.SetWindowCenter(PANEL_WIDTH if beside else 0.0, 0.0)
        self.plotter.renderer.ResetCameraClippingRange()

    # -- the explainer ------------------------------------------------------------------------------
    def toggle_explainer(self) -> None:
        """Play the selected block's operation explainer in place of the scene, or go back to the scene."""
        if self.explaining is not None:
            self.close_explainer()
            return
        node_id = self.panel.node_id
        if node_id is None:
            self.keys.notify("click a block first, then e")
            return
        from render3d.rendering.explain_player import ExplainPlayer

        assert self.explain is not None
        self.keys.notify(f"explaining {node_id} (runs the model once)…")
        self.plotter.render()
        try:
            scene, which = self.explain(node_id)
        except Exception as exc:  # noqa: BLE001 - the window stays open and says why
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.keys.notify(f"cannot explain {node_id}: {message}")
            return
        self.tooltip.hover(-1, -1)
        self.explaining = ExplainPlayer(self.plotter, scene, keep=(self.keys.help_actor, self.keys.notice_actor))
        self._to_front(self.keys.notice_actor, self.keys.help_actor)  # over the explainer's texts
        self.explaining.play()
        x0, _, y0, _ = text_box(self.explaining.view.title_actor, self.plotter.renderer)
        self.keys.place_notice((x0, y0 - 0.5 * self.keys.notice_actor.prop.font_size))  # the caption has the bottom
        self.keys.notify(f"{which} · space: pause · Left/Right: step · e/Esc: back")

    def close_explainer(self) -> None:
        """Back to the scene exactly as it was before ``e``: camera, side panel, selection."""
        if self.explaining is None:
            return
        self.explaining.close()
        self.explaining = None
        self.keys.place_notice()
        self.keys.notice_actor.SetVisibility(False)

    def escape(self) -> None:
        """``Esc``: leave the explainer, else close the side panel."""
        if self.explaining is not None:
            self.close_explainer()
        else:
            self.close_panel()

    # -- scenes --------------------------------------------------------------------------------------
    def run_of(self, node_id: str) -> str | None:
        """The expanded ×N block that ``node_id`` is one repeat of, or None."""
        return next((head for head, calls in self.expanded.items() if node_id in calls), None)

    def expand(self, node_id: str) -> None:
        """Draw ×N block ``node_id`` as its N repeats (the scene is built again around them)."""
        blocks = self.actors.scene.blocks
        calls = blocks.folded[blocks.index(node_id)]
        expanded = {**self.expanded, node_id: tuple(calls)}
        if self._swap(self.mode, expanded):
            self.keys.notify(f"expanded {len(calls)} repeats: click one for its details, twice (or x) to fold them")

    def collapse(self, head: str | None = None) -> None:
        """Fold the repeats of ×N block ``head`` again (default: the selected block's, else the last expanded)."""
        if head is None:
            head = self.run_of(self.panel.node_id or "") or next(reversed(self.expanded), None)
        if head is None:
            self.keys.notify("nothing expanded: click a ×N block to expand it")
            return
        n = len(self.expanded[head])
        if self._swap(self.mode, {k: v for k, v in self.expanded.items() if k != head}):
            self.keys.notify(f"folded {n} repeats into one ×{n} block again")

    def toggle_activations(self) -> None:
        """Show/hide the feature maps; in an architecture window first capture them (runs the model)."""
        if self.actors.scene.feature_maps:
            self.actors.set_activations_visible(not self.actors.activations_visible)
            return
        if self.rebuild is None or self.mode == "activations":
            self.keys.notify(
                "no activations to show: this window was given a scene without them "
                "(render3d.show(model, x) or 'render3d show MODEL' can capture them)"
            )
            return
        self.keys.notify("capturing activations…")
        self.plotter.render()
        start = time.perf_counter()
        if not self._swap("activations", self.expanded):
            return
        self.mode = "activations"
        if self.actors.scene.feature_maps:
            self.keys.notify(
                f"captured activations in {time.perf_counter() - start:.1f} s: "
                f"{len(self.actors.scene.feature_maps)} feature maps (a hides them)"
            )
        else:  # a Trace given without them, or a model on the meta device
            self.keys.notify("no activations came back: show the model itself, on a real device, to see them")

    def _swap(self, mode: str, expanded: dict[str, tuple[str, ...]]) -> bool:
        """Build the scene again and draw it in place of the current one; False (and a notice) when
        the rebuild failed, which leaves the window as it was."""
        assert self.rebuild is not None
        size = tuple(self.plotter.window_size)
        try:
            scene = self.rebuild(mode, frozenset(expanded), size)
        except Exception as exc:  # noqa: BLE001 - the window stays open and says why
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"render3d: {message}", file=sys.stderr)
            self.keys.notify(f"could not rebuild the scene: {message}")
            return False
        self.show(scene)
        self.expanded = dict(expanded)
        return True

    def show(self, scene: Scene) -> None:
        """Draw ``scene`` in place of the current one: its camera becomes the one ``r`` restores, the
        side panel stays on the same block when that block is still there."""
        from render3d.scene.fit import fit_to_size

        selected = self.panel.node_id
        labels = self.actors.labels_visible or self.actors.label_actor is None
        self.panel.close()
        self.actors.remove()
        self.actors = add_scene(self.plotter, fit_to_size(scene, tuple(self.plotter.window_size)))
        self.actors.set_labels_visible(labels)
        self.actors.set_caption(self.help_line)
        self.tooltip.set_actors(self.actors)
        # overlays back on top of the new scene's title, legend and colour bar
        self._to_front(*self.panel.actors_2d(), self.tooltip.text, self.keys.help_actor, self.keys.notice_actor)
        self.initial.DeepCopy(self.plotter.camera)
        self._beside = False
        if selected in self.actors.scene.blocks.node_ids:
            self.select(self.actors.scene.blocks.index(selected))
        self.plotter.render()

    def _to_front(self, *actors: Any) -> None:
        """Draw ``actors`` over everything else, the last one topmost."""
        for actor in actors:
            self.plotter.renderer.RemoveActor(actor)
            self.plotter.renderer.AddActor(actor)

    def restore_camera(self) -> None:
        """Back to the camera the scene came with (beside the side panel while it is open)."""
        self.plotter.camera.DeepCopy(self.initial)
        self.plotter.renderer.ResetCameraClippingRange()
        self._beside = False
        self._beside_panel(self.panel.visible)


#: the plotter attribute holding its SceneWindow: a plain reference cycle the garbage collector frees
#: with the plotter (a WeakKeyDictionary value would keep its key alive: the window holds the plotter)
_WINDOW_ATTR = "_render3d_scene_window"


def scene_window(plotter: pv.Plotter) -> SceneWindow:
    """The :class:`SceneWindow` that :func:`install_interaction` set up on ``plotter``."""
    return getattr(plotter, _WINDOW_ATTR)


def install_interaction(
    plotter: pv.Plotter,
    actors: SceneActors,
    *,
    rebuild: Rebuild | None = None,
    explain: Explain | None = None,
    describe: Callable[[str], str | None] | None = None,
) -> BlockTooltip:
    """Make ``plotter`` a :class:`SceneWindow` (tooltips, side panel, ``×N`` expansion, keys, help
    line); returns its tooltip (:func:`scene_window` gives the rest). Safe on an offscreen plotter."""
    window = SceneWindow(plotter, actors, rebuild=rebuild, explain=explain, describe=describe)
    setattr(plotter, _WINDOW_ATTR, window)
    return window.tooltip


class EpochSlider:
    """A slider over snapshots ``0 .. len(labels) - 1`` that stops on whole snapshots only, titled with
    the shown one's label (``"epoch 3"``: the recorded epoch, never a blend like 2.2), placed to the
    right of ``title`` so the two never overlap; ``space`` plays/pauses through the snapshots.

    ``on_change(k)`` shows snapshot ``k``; it runs once per snapshot reached, not per mouse move.
    """

    def __init__(
        self,
        plotter: pv.Plotter,
        labels: Sequence[str],
        on_change: Callable[[int], Any],
        *,
        title: pv.Text,
        start: int = -1,
    ) -> None:
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


def screen_size() -> tuple[int, int] | None:
    """The screen's (width, height) in pixels, read without opening a window; None when unknown."""
    if sys.platform.startswith("linux"):
        return _x_screen_size()
    from vtkmodules.vtkRenderingCore import vtkRenderWindow

    window = vtkRenderWindow()  # the platform's own class (pyvista loaded the OpenGL factory)
    width, height = window.GetScreenSize()
    window.Finalize()
    return (width, height) if width > 0 and height > 0 else None


def _x_screen_size() -> tuple[int, int] | None:
    """The default X screen's size through Xlib (a connection, no window), or None without one."""
    import ctypes
    import ctypes.util

    if not os.environ.get("DISPLAY"):
        return None
    try:
        xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return None
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    for name in ("XDefaultScreen", "XCloseDisplay"):
        getattr(xlib, name).argtypes = [ctypes.c_void_p]
    for name in ("XDisplayWidth", "XDisplayHeight"):
        getattr(xlib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
    display = xlib.XOpenDisplay(None)
    if not display:
        return None
    try:
        screen = xlib.XDefaultScreen(display)
        return xlib.XDisplayWidth(display, screen), xlib.XDisplayHeight(display, screen)
    finally:
        xlib.XCloseDisplay(display)


#: a default window takes this share of the screen's height (or width, if that is what limits it)
SCREEN_SHARE = 0.9
WINDOW_ASPECT = 16 / 9


def fit_window_size(screen: tuple[int, int]) -> tuple[int, int]:
    """The 16:9 window that takes :data:`SCREEN_SHARE` of ``screen`` where it is tighter (even sizes):
    1600×900 → 1440×810, a 5:4 1280×1024 → 1152×648, two 1920×1080 side by side → 1728×972."""
    width, height = screen
    h = min(SCREEN_SHARE * height, SCREEN_SHARE * width / WINDOW_ASPECT)
    return int(h * WINDOW_ASPECT) // 2 * 2, int(h) // 2 * 2


def window_size() -> tuple[int, int]:
    """The default window size: :func:`fit_window_size` of this screen, else ``WINDOW_SIZE`` (1600×900)."""
    from render3d.scene.style import WINDOW_SIZE

    screen = screen_size()
    return WINDOW_SIZE if screen is None else fit_window_size(screen)


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
    raise RenderUnavailableError(
        f"No display to open a window on ({reason}); {instead}, or run under X/Wayland (headless GL: {INSTALL_HINT})."
    )


def _x_server_answers(display: str) -> bool:
    """Whether something accepts connections where ``DISPLAY`` (``[host]:N[.S]``) points."""
    import socket

    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        targets: list[tuple[socket.AddressFamily, str | tuple[str, int]]] = [
            (socket.AF_UNIX, "\0" + path),
            (socket.AF_UNIX, path),
        ]  # abstract socket, then the file
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
    rebuild: Rebuild | None = None,
    explain: Explain | None = None,
    describe: Callable[[str], str | None] | None = None,
) -> None:
    """Open an interactive window on ``scene`` (``size`` default ``scene.size``); returns when the
    window is closed. ``rebuild``, ``explain`` and ``describe``: see :class:`SceneWindow`.

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
        install_interaction(plotter, actors, rebuild=rebuild, explain=explain, describe=describe)
        plotter.show(title=f"render3d: {scene.title}", auto_close=False)
    finally:
        plotter.close()
