"""Renders and animations into TensorBoard, without depending on it.

``writer`` is anything with ``add_image`` / ``add_video`` in the signature of
``torch.utils.tensorboard.SummaryWriter`` (tensorboardX works too); render3d never imports
tensorboard itself, so a test can pass a fake writer that records its calls::

    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter("runs/exp1")
    log_render(writer, "model/activations", model, x, step=epoch, mode="activations")
    log_animation(writer, "model/training", "runs/recording", step=epoch)

(``add_video`` needs ``moviepy`` on the TensorBoard side.)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["log_animation", "log_render", "render_array"]

#: a TensorBoard video's default frame is the default image with each side divided by this
VIDEO_SHRINK = 3


def render_array(scene_or_model: Any, *inputs: Any, size: tuple[int, int] | None = None,
                 mode: str = "architecture", **style_overrides: Any) -> np.ndarray:
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


def log_render(writer: Any, tag: str, scene_or_model: Any, *inputs: Any, step: int | None = None,
               size: tuple[int, int] | None = None, mode: str = "architecture", **style_overrides: Any
               ) -> np.ndarray:
    """Render and ``writer.add_image(tag, image, step, dataformats="HWC")``; returns the image."""
    image = render_array(scene_or_model, *inputs, size=size, mode=mode, **style_overrides)
    writer.add_image(tag, image, global_step=step, dataformats="HWC")
    return image


def log_animation(writer: Any, tag: str, recording: Any, step: int | None = None, fps: float = 10,
                  *, frames_per_epoch: int = 3, size: tuple[int, int] | None = None, diff: bool = False
                  ) -> np.ndarray:
    """Animate a recording (or its folder) and ``writer.add_video(tag, video, step, fps)``.

    The video is (1, T, 3, H, W) uint8, the layout ``add_video`` expects; it is kept small (a
    TensorBoard event file holds it whole): a third of the default image's side (640×352 after
    rounding to the codec's 16-pixel blocks) and 3 frames per epoch by default.
    """
    from render3d.record.animate import iter_frames, video_size
    from render3d.scene.style import DEFAULT_SIZE

    if isinstance(recording, (str, os.PathLike)):
        from render3d.record.recording import load_recording

        recording = load_recording(recording)
    size = tuple(side // VIDEO_SHRINK for side in DEFAULT_SIZE) if size is None else size
    frames = list(iter_frames(recording, frames_per_epoch=frames_per_epoch, size=video_size(size), diff=diff))
    video = np.stack([f[..., :3] for f in frames]).transpose(0, 3, 1, 2)[None]
    writer.add_video(tag, video, global_step=step, fps=fps)
    return video
