"""``render3d.tour``: a narrated forward-pass flythrough of a model, as an MP4 (or GIF).

(The module is not called ``tour`` so that ``render3d.tour`` stays the function once the module is
imported: importing a submodule sets the package attribute of its name.)

Glue across the rooms: the model is traced with its activations (torch), the scene and the tour's
stops, captions and camera path are planned (numpy: :mod:`render3d.scene.tour`), each frame is drawn
(:mod:`render3d.rendering.tour`) and the video goes through the same writer as ``render3d.animate``
(:mod:`render3d.record.video`: ffmpeg's exit status checked, the file decoded and counted) into a temp
file that replaces ``path`` only when it is complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from render3d.atomic import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, check_output
from render3d.errors import UsageError
from render3d.graph import Trace
from render3d.limits import check_fps, check_size
from render3d.scene.style import VIDEO_SIZE

__all__ = ["check_timing", "tour"]

log = logging.getLogger("render3d")


# keyword options mirror render3d tour's flags (and a gallery still's): a public API, hence 13 parameters and a
# docstring that makes it 77 lines
def tour(
    model: Any,
    *inputs: Any,
    path: str | os.PathLike[str] = "tour.mp4",
    size: tuple[int, int] | None = None,
    fps: float = 30.0,
    seconds_per_stop: float | None = None,
    duration: float | None = None,
    depth: int | None = None,
    title: str | None = None,
    input_name: str = "",
    progress: bool = True,
    model_kwargs: dict[str, Any] | None = None,
    at: float = 0.5,
) -> Path:
    """Write a flythrough of one forward pass of ``model`` to ``path`` and return the path: an MP4/GIF,
    or for a PNG/JPEG ``path`` the one frame at fraction ``at`` (0 … 1) of the tour, for a slide or a
    gallery still.

    ``model`` is an ``nn.Module`` (run on ``inputs``, or on its own example input when none are given)
    or a :class:`~render3d.Trace` captured with activations. The camera starts on the whole model,
    visits each block in data-path order (``×N`` runs once) with its real activations, a caption saying
    what the layer computes with its hyper-parameters and shapes (and where the path splits and joins),
    and its channels enlarged in a corner, then returns to the whole model.

    ``size`` (default 1280×720, rounded to multiples of 16) and ``fps`` set the video; each stop is held
    for its caption's reading time unless ``seconds_per_stop`` fixes it, and ``duration`` (seconds)
    stretches or squeezes the whole tour to that length. ``title`` replaces the video's title and
    ``input_name`` ("digit 3") says in the input's caption what the input shows. A video logs
    ``wrote PATH: N frames, ...`` (INFO, logger ``render3d``); ``progress`` shows a bar while it encodes.

    Example::

        >>> render3d.tour(torchvision.models.resnet18(), torch.randn(1, 3, 224, 224), path="r18_tour.mp4")
    """
    from render3d.record.animate import summary_line, video_size
    from render3d.record.video import video_bytes, write_video
    from render3d.rendering.glcheck import gl_max_size
    from render3d.rendering.tour import TourView
    from render3d.scene.builder import build_scene
    from render3d.scene.tour import plan_tour

    fps = check_fps(fps)
    check_timing(seconds_per_stop, duration)
    path = Path(path)
    still = path.suffix.lower() in IMAGE_EXTENSIONS
    if not 0.0 <= at <= 1.0:
        raise UsageError(f"render3d tour: at={at!r} is not a fraction of the tour from 0 to 1")
    check_output(path, extensions=(*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS))  # before the model runs
    width, height = check_size(VIDEO_SIZE if size is None else size, max_side=gl_max_size())
    if not still:
        width, height = video_size((width, height))
    trace = _traced(model, inputs, depth, model_kwargs or {})
    scene = build_scene(trace, "activations", image_size=(width, height))
    scene = replace(scene, title=title or f"{trace.model}: one forward pass")
    plan = plan_tour(
        trace,
        scene,
        fps=fps,
        seconds_per_stop=seconds_per_stop,
        duration=duration,
        title=trace.model,
        input_name=input_name,
    )
    if not still:
        check_output(path, extensions=VIDEO_EXTENSIONS, estimate=video_bytes(path, len(plan.frames), (width, height)))
    view = TourView(scene, plan)
    try:
        if still:
            from render3d.rendering.png import write_image

            return write_image(path, view.draw(round(at * (len(plan.frames) - 1))))
        frames = write_video(path, _frames(view), fps, total=len(plan.frames), progress=progress, desc="tour")
    finally:
        view.close()
    log.info(summary_line(path, frames, (width, height), fps))
    return path


def check_timing(seconds_per_stop: float | None, duration: float | None) -> None:
    """Refuse (:class:`~render3d.errors.UsageError`, one line) a hold or duration that is not a positive
    number of seconds, or both at once."""
    for name, value in (("seconds_per_stop", seconds_per_stop), ("duration", duration)):
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < float("inf")):
            raise UsageError(f"render3d tour: {name}={value!r} is not a positive number of seconds")
    if seconds_per_stop is not None and duration is not None:
        raise UsageError("render3d tour: give seconds_per_stop or duration, not both (duration sets every hold)")


def _traced(model: Any, inputs: tuple, depth: int | None, kwargs: dict[str, Any]) -> Trace:
    """The trace to tour: ``model`` itself when it is one (it must hold activations), else one pass."""
    if isinstance(model, Trace):
        if inputs or kwargs:
            raise UsageError("render3d.tour: a Trace was given, so inputs are not used; pass the model instead")
        if not any(n.activation is not None for n in model):
            raise UsageError(
                f"render3d.tour: the trace of {model.model} holds no activations; trace it with "
                "capture='reduced' (the default) or pass the model"
            )
        return model.collapse(depth) if depth is not None and model.depth is None else model
    from render3d.modelspec import call_inputs, example_input
    from render3d.tracing.tracer import trace

    if not inputs and not kwargs:
        inputs, kwargs = call_inputs(example_input(type(model).__name__, model))
    return trace(model, *inputs, depth=depth, capture="reduced", **kwargs)


def _frames(view: Any) -> Iterator[np.ndarray]:
    """Every frame of the view's tour; a held frame (same camera, caption and highlight) is drawn once."""
    last_key: tuple | None = None
    image: np.ndarray | None = None
    for j, frame in enumerate(view.tour.frames):
        key = (id(frame.camera), frame.stop, frame.blend)
        if key != last_key or image is None:
            image = view.draw(j)
            last_key = key
        yield image
