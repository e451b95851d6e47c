"""An operation explainer played inside a scene window, in place of the scene (the window's ``e``).

The scene is not rebuilt or removed: its actors (and the side panel's, the tooltip's) are only hidden,
the camera is copied aside, and the explainer is drawn into the same plotter with
:class:`~render3d.rendering.explainer.ExplainerView`. :meth:`ExplainPlayer.close` removes what the
view added and puts back each hidden actor and the camera exactly as they were, so the window returns
to the same view, side panel and selection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from time import perf_counter
from typing import Any

import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkCamera

from render3d.rendering.explainer import ExplainerView
from render3d.scene.explain import ExplainerScene

__all__ = ["ExplainPlayer"]


class ExplainPlayer:
    """The frames of ``scene`` in ``plotter`` (which has an interactor) at the scene's fps: a repeating
    timer steps them while playing (:meth:`tick` per timer event), on time by the clock (a window that
    draws slower than the fps skips frames rather than slowing the explainer's pacing down), the last
    frame holds, :meth:`step` moves by hand.

    ``keep`` are actors left as they are (the window's help overlay and notice line)."""

    def __init__(self, plotter: pv.Plotter, scene: ExplainerScene, *, keep: Iterable[Any] = ()) -> None:
        self.plotter = plotter
        self.camera = vtkCamera()
        self.camera.DeepCopy(plotter.camera)
        kept = {id(a) for a in keep}
        props = plotter.renderer.GetViewProps()
        props.InitTraversal()
        shown = (props.GetNextProp() for _ in range(props.GetNumberOfItems()))
        self.hidden = [p for p in shown if p.GetVisibility() and id(p) not in kept]
        for prop in self.hidden:
            prop.SetVisibility(False)
        plotter.camera.DeepCopy(vtkCamera())  # the view sets position and angle, not a window centre or zoom
        self.view = ExplainerView(scene, plotter=plotter)
        self.view.show(0)
        self.interactor = plotter.iren.interactor
        self.timer: int | None = None
        self._started = (0.0, 0)  # (clock, frame) when play last started
        # every timer event ticks: a window on a model runs no other timer (the interactor's event id
        # is not the one CreateRepeatingTimer returned on X11)
        self._observer = plotter.iren.add_observer("TimerEvent", lambda *_: self.tick())

    @property
    def interval_ms(self) -> int:
        """The timer's period: one frame at the explainer's fps."""
        return max(1, round(1000 / self.view.scene.fps))

    @property
    def playing(self) -> bool:
        return self.timer is not None

    @property
    def at_end(self) -> bool:
        return self.view.position == len(self.view) - 1

    def play(self) -> None:
        """Start the timer (from the first frame when the last one is shown)."""
        if self.timer is not None:
            return
        if self.at_end:
            self.view.show(0)
        self._started = (perf_counter(), self.view.position)
        self.timer = self.interactor.CreateRepeatingTimer(self.interval_ms)

    def pause(self) -> None:
        if self.timer is not None:
            self.interactor.DestroyTimer(self.timer)
            self.timer = None

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def tick(self) -> None:
        """One timer event while playing: the frame the clock has reached (at least the next one), and
        a stop on the last one."""
        if self.timer is None:
            return
        start, frame = self._started
        due = frame + math.floor((perf_counter() - start) * self.view.scene.fps)
        self.view.show(min(max(self.view.position + 1, due), len(self.view) - 1))
        if self.at_end:
            self.pause()
        self.plotter.render()

    def step(self, delta: int) -> None:
        """Pause and move ``delta`` frames (clipped to the first and last)."""
        self.pause()
        self.view.show(min(max(self.view.position + delta, 0), len(self.view) - 1))

    def close(self) -> None:
        """Stop, remove the explainer and show the scene again as it was (actors, camera)."""
        self.pause()
        self.plotter.iren.remove_observer(self._observer)
        self.view.close()
        for prop in self.hidden:
            prop.SetVisibility(True)
        self.plotter.camera.DeepCopy(self.camera)
