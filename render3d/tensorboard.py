"""Renders and animations into TensorBoard, without depending on it.

``writer`` is a ``torch.utils.tensorboard.SummaryWriter`` (tensorboardX's works too); render3d never
imports tensorboard at import time, so a test can pass a fake writer that records its calls::

    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter("runs/exp1")
    log_render(writer, "model/activations", model, x, step=epoch, mode="activations")
    log_animation(writer, "model/training", "runs/recording", step=epoch)

An animation is encoded here as an animated GIF and logged as an image summary (TensorBoard's
Images tab plays it), the way ``add_video`` logs one: ``add_video`` needs ``moviepy < 2`` and, without
it, only prints a message and logs nothing.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from render3d.errors import OutputSpecError
from render3d.limits import check_fps, check_size
from render3d.scene.style import DEFAULT_SIZE

__all__ = ["encode_gif", "log_animation", "log_render", "render_array"]

#: a TensorBoard animation's default frame is the default image with each side divided by this
VIDEO_SHRINK = 3
#: GIF delays are whole 1/100 s and browsers play delays under 2/100 s at 1/10 s
MAX_GIF_FPS = 50.0


def render_array(
    scene_or_model: Any,
    *inputs: Any,
    size: tuple[int, int] | None = None,
    mode: str = "architecture",
    **style_overrides: Any,
) -> np.ndarray:
    """An offscreen render of a Scene, Trace, ``nn.Module`` (+ inputs) or MODEL string as (H, W, 3) uint8,
    ``size`` (width, height) as for :func:`render3d.render`: the layout's, default the scene's own."""
    from render3d.api import to_scene
    from render3d.rendering import build_plotter

    scene = to_scene(scene_or_model, *inputs, mode=mode, size=size, **style_overrides)
    plotter, _ = build_plotter(scene, off_screen=True)
    try:
        plotter.render()
        return np.ascontiguousarray(plotter.screenshot(None, return_img=True)[..., :3])
    finally:
        plotter.close()


def log_render(
    writer: Any,
    tag: str,
    scene_or_model: Any,
    *inputs: Any,
    step: int | None = None,
    size: tuple[int, int] | None = None,
    mode: str = "architecture",
    **style_overrides: Any,
) -> np.ndarray:
    """Render and ``writer.add_image(tag, image, step, dataformats="HWC")``; returns the image."""
    image = render_array(scene_or_model, *inputs, size=size, mode=mode, **style_overrides)
    writer.add_image(tag, image, global_step=step, dataformats="HWC")
    return image


def log_animation(
    writer: Any,
    tag: str,
    recording: Any,
    step: int | None = None,
    fps: float = 10,
    *,
    frames_per_epoch: int = 3,
    size: tuple[int, int] | None = None,
    diff: bool = False,
) -> bytes:
    """Animate a recording (or its folder) into an animated GIF logged as the image summary ``tag``;
    returns the GIF's bytes.

    The GIF is kept small (a TensorBoard event file holds it whole): a third of the default image's
    side (640×360) and 3 frames per epoch by default. Raises :class:`TypeError` for a writer that
    cannot log an image summary and :class:`ImportError` when tensorboard's protobuf classes are
    missing, so nothing is ever dropped silently.
    """
    from render3d.record.animate import iter_frames

    fps = _check_gif_fps(fps)
    file_writer = _summary_file_writer(writer)
    summary_class = _summary_class(file_writer)
    if isinstance(recording, (str, os.PathLike)):
        from render3d.record.recording import load_recording

        recording = load_recording(recording)
    width, height = DEFAULT_SIZE
    size = (width // VIDEO_SHRINK, height // VIDEO_SHRINK) if size is None else check_size(size)
    frames = np.stack(list(iter_frames(recording, frames_per_epoch=frames_per_epoch, size=size, diff=diff)))
    gif = encode_gif(frames, fps)
    height, width = frames.shape[1:3]
    image = summary_class.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
    file_writer.add_summary(summary_class(value=[summary_class.Value(tag=tag, image=image)]), step)
    return gif


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """(T, H, W, 3) uint8 frames as a looping animated GIF; identical neighbours merge into one
    longer frame (Pillow's encoder), so the playback time stays T / fps."""
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", frames, extension=".gif", duration=1000 / fps, loop=0)


def _check_gif_fps(fps: object) -> float:
    """``fps`` as a float a GIF can play: its delays are whole hundredths of a second, and browsers
    slow delays under 2/100 s down to 1/10 s."""
    value = check_fps(fps)
    if value > MAX_GIF_FPS:
        raise OutputSpecError(f"fps {fps!r} is too high for an animated GIF: give at most {MAX_GIF_FPS:g}")
    return value


def _summary_file_writer(writer: Any) -> Any:
    """The object that takes ``add_summary(summary, global_step)``: a SummaryWriter's file writer,
    or the writer itself when it is a FileWriter."""
    if callable(getattr(writer, "_get_file_writer", None)):
        return writer._get_file_writer()
    if callable(getattr(writer, "add_summary", None)):
        return writer
    raise TypeError(
        f"log_animation: writer {type(writer).__name__} has neither _get_file_writer() nor "
        "add_summary(); pass a torch.utils.tensorboard.SummaryWriter"
    )


def _summary_class(file_writer: Any) -> Any:
    """The ``Summary`` protobuf class of the package that made ``file_writer`` (a tensorboardX writer
    only accepts tensorboardX's own classes)."""
    import importlib

    if type(file_writer).__module__.startswith("tensorboardX"):
        package, module = "tensorboardX", "tensorboardX.proto.summary_pb2"
    else:
        package, module = "tensorboard", "tensorboard.compat.proto.summary_pb2"
    try:
        return importlib.import_module(module).Summary
    except ImportError:
        raise ImportError(
            f"log_animation: {module} cannot be imported, so the GIF cannot be logged; pip install {package}"
        ) from None
