"""``render3d.explain``: one layer's operation on the user's own model and input, as an MP4 or a still.

(This module is not called ``render3d/explain.py``: importing a submodule of that name would set the
package attribute ``render3d.explain`` to the module, hiding the function.)

The rooms in order: :func:`~render3d.tracing.operands.capture_operands` runs the model once and
takes the layer's real operands; :func:`~render3d.scene.explain.explainer_scene` lays them out and
writes the script (a kernel sliding over the input planes with the dot product of the current
position as a caption, the receptive field traced back, bars for vector ops); an
:class:`~render3d.rendering.explainer.ExplainerView` draws the frames, which go through the checked,
atomic video writer (:func:`render3d.record.video.write_video`).

For the interactive window, :func:`explainer_view` returns the view drawn into a given plotter;
``view.show(k)`` displays frame ``k`` of ``len(view)`` and ``view.close()`` removes what it added.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from render3d.atomic import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, check_output
from render3d.errors import UsageError
from render3d.limits import check_fps, check_size

if TYPE_CHECKING:
    import pyvista

    from render3d.rendering.explainer import ExplainerView
    from render3d.scene.explain import ExplainerScene

__all__ = ["explain", "explain_scene", "explainer_view"]

EXPLAIN_SIZE = (1280, 720)

log = logging.getLogger("render3d")


def explain_scene(
    model: Any,
    *inputs: Any,
    layer: str,
    fps: float = 30.0,
    probe: str | None = None,
    channel: int | None = None,
    **kwargs: Any,
) -> ExplainerScene:
    """The :class:`~render3d.scene.explain.ExplainerScene` of ``layer`` (a module path, ``pool#2`` for
    a later call) in ``model`` run on ``inputs``: an ``nn.Module`` (inputs default to ``probe``, else
    the model's example input), a MODEL string (``torchvision:resnet18``) or an
    :class:`~render3d.api.Spec`. ``channel``: the output channel (attention: the head) to explain."""
    from render3d.api import Spec, load_spec_model
    from render3d.modelspec import call_inputs, default_input_shape, example_input
    from render3d.scene.explain import explainer_scene
    from render3d.tracing.operands import capture_operands

    if isinstance(model, (str, Spec)):
        spec = model if isinstance(model, Spec) else Spec(model=model, probe=probe)
        if spec.device == "meta":
            raise ValueError("explain needs real values: --device meta has none; leave it out")
        model, example = load_spec_model(spec)
        probe = spec.probe
    elif inputs or kwargs:
        example = None
    elif probe is not None:
        from render3d.probe import make_probe

        example = make_probe(probe, default_input_shape(type(model).__name__, model))
    else:
        example = example_input(type(model).__name__, model)
    if example is not None:
        inputs, kwargs = call_inputs(example)
    operands = capture_operands(model, *inputs, layer=layer, **kwargs)
    from render3d.probe import describe_probe

    named = describe_probe(probe)[0] if probe else ""  # "digit 3", "cat.png": what the input shows
    return explainer_scene(operands, fps=fps, channel=channel, probe=named)


# keyword options mirror render3d explain's flags and the window's: a public API, hence 9 parameters
def explainer_view(
    model: Any,
    *inputs: Any,
    layer: str,
    plotter: pyvista.Plotter | None = None,
    size: tuple[int, int] = EXPLAIN_SIZE,
    fps: float = 30.0,
    probe: str | None = None,
    channel: int | None = None,
    **kwargs: Any,
) -> ExplainerView:
    """An :class:`~render3d.rendering.explainer.ExplainerView` of ``layer`` (see :func:`explain_scene`),
    drawn into ``plotter`` (a window's; the view then only adds actors, and its ``close`` removes them)
    or, without one, into an offscreen plotter of ``size``. Step it with ``view.show(k)``."""
    from render3d.rendering.explainer import ExplainerView

    scene = explain_scene(model, *inputs, layer=layer, fps=fps, probe=probe, channel=channel, **kwargs)
    return ExplainerView(scene, size=size, plotter=plotter)


# keyword options mirror render3d explain's flags (and a gallery still's ``at``): a public API, hence 11 parameters
def explain(
    model: Any,
    *inputs: Any,
    layer: str,
    path: str | os.PathLike[str] = "explain.mp4",
    size: tuple[int, int] = EXPLAIN_SIZE,
    fps: float = 30.0,
    probe: str | None = None,
    channel: int | None = None,
    progress: bool = True,
    at: float = 1.0,
    **kwargs: Any,
) -> Path:
    """Write the operation explainer of ``layer`` to ``path``: an MP4/GIF of the whole script, or a
    PNG/JPEG of the frame at fraction ``at`` of it (default 1: the last, the strongest output with
    everything computed).

    A conv's kernel slides over the real input planes and lights the output cell it computes, the
    caption holding the dot product with the real numbers; pools show their window (and the max's
    winner), BatchNorm/LayerNorm their formula, Linear one weight row times the input, attention one
    query row's softmax over the keys. ``model``, ``inputs``, ``probe`` and ``channel`` as for
    :func:`explain_scene`. ``path``, ``size`` and ``fps`` are checked before the model runs;
    ``path`` is replaced only by a complete file, then logged as ``wrote PATH: ...`` (INFO, logger
    ``render3d``); ``progress`` shows a bar while a video encodes.

    Example::

        >>> render3d.explain(SeedCNN(), layer="conv1", path="conv1.mp4", probe="digit:3")
    """
    from render3d.record.animate import summary_line, video_size
    from render3d.record.video import video_bytes, write_video
    from render3d.rendering.explainer import explain_frames
    from render3d.rendering.glcheck import gl_max_size
    from render3d.rendering.png import write_image

    path = Path(path)
    fps = check_fps(fps)
    still = path.suffix.lower() in IMAGE_EXTENSIONS
    if not 0.0 <= at <= 1.0:
        raise UsageError(f"render3d explain: at={at!r} is not a fraction of the explainer from 0 to 1")
    width, height = check_size(size, max_side=gl_max_size())
    if not still:
        width, height = video_size((width, height))
    check_output(
        path,
        extensions=(*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS),
        estimate=width * height // 8 if still else video_bytes(path, int(12 * fps), (width, height)),
    )
    view = explainer_view(
        model, *inputs, layer=layer, size=(width, height), fps=fps, probe=probe, channel=channel, **kwargs
    )
    try:
        if still:
            view.show(round(at * (len(view) - 1)))
            write_image(path, view.image())
            log.info("wrote %s: %dx%d, %s", path, width, height, view.scene.title)
            return path
        n = write_video(path, explain_frames(view), fps, total=len(view), progress=progress, desc="explain")
    finally:
        view.close()
    log.info(summary_line(path, n, (width, height), fps))
    return path
