"""Recordings as videos: ``animate_recording`` (an MP4 or GIF), raw frames (``iter_frames``), stills.

A :class:`~render3d.record.player.Player` (playback) shows each frame's position, planned and drawn by
:mod:`render3d.record.plan` (spread over workers by :mod:`render3d.record.segments`); the video goes
through :mod:`render3d.record.video` (ffmpeg, exit status checked, the result decoded) into a temp
file beside the target that replaces it only then: an error, a full disk, Ctrl-C or SIGTERM leaves
``path`` as it was. The window is :mod:`render3d.record.window`, checkpoint folders
:mod:`render3d.record.ingest`; their names (and the plan's) are re-exported here, where callers found
them first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from render3d.atomic import VIDEO_EXTENSIONS, check_output
from render3d.limits import check_fps, check_size
from render3d.record.frames import Timeline, story_positions
from render3d.record.ingest import record_checkpoints
from render3d.record.plan import FramePlan, frame_positions, orbit_angles, render_frames, scene_size
from render3d.record.player import Player
from render3d.record.recording import Recording, load_recording
from render3d.record.segments import SegmentJob, render_segment, render_spread
from render3d.record.video import FrameWriter, open_writer, video_bytes, write_video
from render3d.record.window import recording_window, show_recording
from render3d.scene.style import DEFAULT_SIZE, VIDEO_SIZE

if TYPE_CHECKING:
    from render3d.record.story import Story

#: the library reports (``wrote PATH: ...``) here; the CLI prints its INFO records
log = logging.getLogger("render3d")

__all__ = [
    "FramePlan",
    "FrameWriter",
    "Player",
    "SegmentJob",
    "animate_recording",
    "frame_positions",
    "iter_frames",
    "open_writer",
    "orbit_angles",
    "record_checkpoints",
    "recording_window",
    "render_frame",
    "render_frames",
    "render_segment",
    "scene_size",
    "show_recording",
    "summary_line",
    "video_size",
]

DEFAULT_FRAMES_PER_EPOCH = 15


def video_size(size: Sequence[int]) -> tuple[int, int]:
    """``size`` rounded to multiples of 16 (H.264 macro blocks; imageio would otherwise resize)."""
    w, h = (max(16, int(round(int(v) / 16)) * 16) for v in size)
    return w, h


def summary_line(path: str | os.PathLike[str], frames: int, size: Sequence[int], fps: float) -> str:
    """``wrote PATH: N frames, WxH, T s (F fps)`` (T is the video's duration)."""
    return f"wrote {path}: {frames} frames, {size[0]}x{size[1]}, {frames / fps:.1f} s ({fps:g} fps)"


def iter_frames(
    recording: Recording | str | os.PathLike[str],
    *,
    frames_per_epoch: int | None = DEFAULT_FRAMES_PER_EPOCH,
    size: tuple[int, int] | None = None,
    diff: bool = False,
    orbit: bool = False,
    metric: str | None = None,
    story: Story | None = None,
) -> Iterator[np.ndarray]:
    """The animation's frames as (H, W, 3) uint8 arrays, one scene built once for all of them:
    ``frames_per_epoch`` uniform frames per epoch, or the story timing when that is ``None`` (see
    :func:`frame_positions`). With a ``story`` each frame gets the panel column
    (:func:`render3d.rendering.panels.story_panels`) on its right, :func:`~render3d.rendering.panels.panel_width`
    of the whole: ``size`` (default VIDEO_SIZE) is then the whole frame. A caller with its own
    :class:`Player` and positions uses :func:`render_frames`."""
    if story is not None and size is None:
        size = VIDEO_SIZE
    player = Player(recording, size=scene_size(size, story is not None), diff=diff, metric=metric)
    try:
        positions = frame_positions(player, frames_per_epoch=frames_per_epoch, story=story)
        angles = tuple(orbit_angles(len(positions)).tolist()) if orbit else None
        yield from render_frames(player, FramePlan(tuple(positions.tolist()), angles, story, size))
    finally:
        player.close()


def render_frame(
    recording: Recording | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    position: float | None = None,
    size: tuple[int, int] | None = None,
    diff: bool = False,
    metric: str | None = None,
    panels: bool = True,
    classes: Sequence[str] | None = None,
) -> Path:
    """One frame of the animation as a PNG or JPEG (default: the last snapshot), e.g. a still for a
    README; with the video's panel column (``panels``, see :func:`animate_recording`)."""
    from render3d.rendering.png import check_image_output, write_image

    size = check_image_output(path, DEFAULT_SIZE if size is None else size)
    recording = load_recording(recording)
    story = _story(recording, panels, size, classes)
    player = Player(recording, size=scene_size(size, story is not None), diff=diff, metric=metric)
    try:
        position = len(player) - 1 if position is None else position
        frame = next(render_frames(player, FramePlan((float(position),), story=story, size=size)))
    finally:
        player.close()
    return write_image(path, frame)


#: frames narrower than this get no panel column (it would be too small to read)
MIN_PANEL_FRAME_WIDTH = 480


def _story(
    recording: Recording,
    panels: bool,
    size: Sequence[int],
    classes: Sequence[str] | None,
    classes_source: str = "classes",
) -> Story | None:
    from render3d.record.story import load_story

    if not panels or int(size[0]) < MIN_PANEL_FRAME_WIDTH:
        return None
    return load_story(recording, recording.consistent(), classes=classes, classes_source=classes_source)


def animate_recording(
    recording: Recording | str | os.PathLike[str],
    path: str | os.PathLike[str] = "out.mp4",
    *,
    fps: float = 30,
    frames_per_epoch: int | None = None,
    duration: float | None = None,
    hold: float | None = None,
    size: tuple[int, int] | None = None,
    diff: bool = False,
    orbit: bool = False,
    progress: bool = True,
    scale: str = "layer",
    metric: str | None = None,
    panels: bool = True,
    classes: Sequence[str] | None = None,
    classes_source: str = "classes",
    workers: int | None = None,
    ray: str | None = None,
) -> Path:
    # 17 options, a long docstring: the public ``render3d.animate``, whose keywords mirror the CLI's ``animate`` flags
    """Write a recording (a :class:`~render3d.record.Recording` or its folder) as an MP4 (or a GIF).

    One scene, colour limits fixed per layer over all snapshots, caption ``epoch 3/10 · loss 0.412 ·
    acc 91.2%``. Timing: the first and last snapshot held ``hold`` seconds (default 1.5), the epochs
    between in ``duration`` seconds in all (default: 0.8 s an epoch, at least 4 s, plus the holds),
    each epoch given a floor share of the time plus a share by how much changed in it, so the big
    early change is slowed down and the late epochs still show (:func:`frame_positions`);
    ``frames_per_epoch`` instead gives the uniform timing of that many frames per epoch.

    ``panels`` (frames at least 480 px wide) puts a column on the right, 30 % of the width (the scene
    is laid out for the rest): the probe at a readable size with its name, the prediction as the
    softmax of the output logits over the top classes (all up to 10) with the true class marked,
    and the metric curves drawn up to the current epoch. Class names: ``classes``, else the
    recording's own (see :class:`~render3d.record.recorder.Recorder`), else the class indices; a
    count that does not match the outputs is an error naming ``classes_source``.

    ``diff=True`` colours the change against the previous snapshot, ``orbit=True`` swings the camera,
    ``scale="global"`` draws every layer on one log-magnitude scale (an exploding layer stands out),
    ``metric="update_ratio"`` (or ``grad_norm``, ``weight_norm``, ``zero_frac``, ``act_std``; see
    :mod:`render3d.record.metrics`) colours each block by that training-health metric on one log
    colour bar for all frames, exact zeros and missing values in their own neutral greys.
    Logs ``wrote PATH: N frames, WxH, T s (F fps)`` (INFO, logger ``render3d``; the CLI prints it).
    ``path``, ``size`` and ``fps`` are checked before any frame is drawn; ``path`` is replaced only by
    a video that ffmpeg finished (exit status 0) and that decodes to every frame, else
    :class:`~render3d.errors.OutputError` and the old file stays as it was. Public as ``render3d.animate``.

    ``workers`` (MP4 only) splits the frames into that many contiguous ranges: this process renders
    the first, local processes (or, with ``ray``, Ray tasks: ``"local"``, ``"auto"`` or a cluster
    address; ``workers`` then defaults to the cluster's CPUs) the others, each from the colour limits,
    timing and camera path computed here once, each encoded with the same settings; the segments are
    joined without re-encoding, so the video has exactly the frames one process writes (see
    :mod:`render3d.parallel`).

    Example::

        >>> rec = render3d.Recorder(model, "digit:3", "runs/rec")   # then rec.snapshot(epoch, loss=...)
        >>> render3d.animate("runs/rec", "training.mp4")
    """
    from render3d.rendering.glcheck import gl_max_size

    fps = check_fps(fps)
    path = Path(path)
    spread = _check_request(path, frames_per_epoch, duration, workers, ray)
    width, height = video_size(check_size(VIDEO_SIZE if size is None else size, max_side=gl_max_size()))
    recording = load_recording(recording)
    n = _frame_count(len(recording.consistent()), fps, frames_per_epoch, duration, hold)  # checks the timing
    check_output(path, extensions=VIDEO_EXTENSIONS, estimate=video_bytes(path, n, (width, height)))
    story = _story(recording, panels, (width, height), classes, classes_source)
    player = Player(
        recording, size=scene_size((width, height), story is not None), diff=diff, scale=scale, metric=metric
    )
    try:
        positions = frame_positions(
            player, fps, frames_per_epoch=frames_per_epoch, duration=duration, hold=hold, story=story
        )
        angles = tuple(orbit_angles(len(positions)).tolist()) if orbit else None
        plan = FramePlan(tuple(positions.tolist()), angles, story, (width, height))
        if spread:
            job = SegmentJob.of(player, plan, fps)
            frames = render_spread(job, player, path, workers, ray, progress)
        else:
            frames = write_video(
                path, render_frames(player, plan), fps, total=len(plan), progress=progress, desc="animate"
            )
    finally:
        player.close()
    log.info(summary_line(path, frames, (width, height), fps))
    return path


def _check_request(
    path: Path, frames_per_epoch: int | None, duration: float | None, workers: int | None, ray: str | None
) -> bool:
    """Refuse option clashes before any work; returns whether the frames are spread over workers."""
    if frames_per_epoch is not None and duration is not None:
        raise ValueError("animate: frames_per_epoch and duration both set the video's length; pass one")
    spread = ray is not None or (workers or 1) > 1
    if spread and path.suffix.lower() != ".mp4":
        raise ValueError(
            f"animate: {path}: workers write MP4 segments joined without re-encoding; a GIF's "
            "one palette needs every frame: write an .mp4, or render with one worker"
        )
    return spread


def _frame_count(
    snapshots: int, fps: float, frames_per_epoch: int | None, duration: float | None, hold: float | None
) -> int:
    """How many frames the video will have (for the free-space check), its timing options checked."""
    if frames_per_epoch is not None:
        return len(Timeline(snapshots, int(frames_per_epoch))) + 2 * int(round((hold or 0.0) * fps))
    return len(story_positions(np.zeros(snapshots - 1), fps, duration=duration, hold=hold))


#: the public name, ``render3d.animate``
animate = animate_recording
