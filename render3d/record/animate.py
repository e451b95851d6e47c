"""Recordings as videos: ``animate_recording`` (an MP4 or GIF), raw frames (``iter_frames``), stills.

A :class:`~render3d.record.player.Player` (playback) shows each frame's position; the video goes
through :mod:`render3d.record.video` (ffmpeg, exit status checked, the result decoded) into a temp
file beside the target that replaces it only then: an error, a full disk, Ctrl-C or SIGTERM leaves
``path`` as it was. The window is :mod:`render3d.record.window`, checkpoint folders
:mod:`render3d.record.ingest`; their names are re-exported here, where callers found them first.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from render3d.atomic import VIDEO_EXTENSIONS, atomic_path, check_output
from render3d.limits import check_fps, check_size
from render3d.record.frames import Timeline, story_positions
from render3d.record.ingest import record_checkpoints
from render3d.record.player import Player
from render3d.record.recording import Recording, load_recording
from render3d.record.video import FrameWriter, open_writer, verify_video, video_bytes, write_video
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
ORBIT_DEGREES = 15.0  # the orbit swings the camera this far either side of the scene's own view


def video_size(size: Sequence[int]) -> tuple[int, int]:
    """``size`` rounded to multiples of 16 (H.264 macro blocks; imageio would otherwise resize)."""
    w, h = (max(16, int(round(int(v) / 16)) * 16) for v in size)
    return w, h


def summary_line(path: str | os.PathLike[str], frames: int, size: Sequence[int], fps: float) -> str:
    """``wrote PATH: N frames, WxH, T s (F fps)`` (T is the video's duration)."""
    return f"wrote {path}: {frames} frames, {size[0]}x{size[1]}, {frames / fps:.1f} s ({fps:g} fps)"


def frame_positions(
    player: Player,
    fps: float = 30,
    *,
    frames_per_epoch: int | None = None,
    duration: float | None = None,
    hold: float | None = None,
    story: Story | None = None,
) -> np.ndarray:
    """Each frame's position on the snapshot axis. By default the story timing
    (:func:`~render3d.record.frames.story_positions`): the first and last snapshot held ``hold``
    seconds, the time between warped by how much the activations (and the ``story``'s prediction)
    change in each epoch. ``frames_per_epoch`` asks for the old uniform timing instead (held
    ``hold`` seconds, default none, at both ends); it sets the length, so ``duration`` cannot join it."""
    from render3d.record.story import blend_changes

    if frames_per_epoch is not None:
        if duration is not None:
            raise ValueError("frames_per_epoch and duration both set the video's length; pass one")
        uniform = Timeline(len(player), int(frames_per_epoch)).positions()
        held = np.zeros(int(round((hold or 0.0) * fps)))
        return np.concatenate([held, uniform, held + uniform[-1]])
    if len(player) < 2:
        return story_positions(np.zeros(0), fps, duration=duration, hold=hold)
    change = blend_changes(player.segment_changes(), story.prediction_change() if story is not None else None)
    return story_positions(change, fps, duration=duration, hold=hold)


@dataclass(frozen=True)
class FramePlan:
    """What a video's frames show, decided once: each frame's ``positions`` on the snapshot axis, the
    camera ``angles`` of an orbit (degrees, one per frame; ``None`` keeps the scene's own camera), the
    ``story`` whose panel column goes right of the scene, and ``size``, the whole frame's (the scene
    takes :func:`scene_size` of it)."""

    positions: tuple[float, ...]
    angles: tuple[float, ...] | None = None
    story: Story | None = None
    size: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.positions)

    def part(self, start: int, stop: int) -> FramePlan:
        """Frames ``start`` .. ``stop - 1`` of the plan (a worker's segment)."""
        angles = None if self.angles is None else self.angles[start:stop]
        return FramePlan(self.positions[start:stop], angles, self.story, self.size)


def render_frames(player: Player, plan: FramePlan) -> Iterator[np.ndarray]:
    """The ``plan``'s frames as (H, W, 3) uint8 arrays, drawn by ``player`` (its scene laid out for
    the plan's :func:`scene_size`). A frame that repeats the one before (a held epoch) is drawn once;
    frames that differ only in the feature maps' colours are composed from the last render
    (:meth:`Player.image`)."""
    width, height = player.plotter.window_size
    panel = (int(plan.size[0]) - width, height) if plan.story is not None and plan.size is not None else None
    image: np.ndarray | None = None
    for j, position in enumerate(plan.positions):
        if image is not None and plan.angles is None and position == plan.positions[j - 1]:
            yield image  # a held frame (the story's first and last epochs): the same picture, drawn once
            continue
        player.set_position(float(position))
        if plan.angles is not None:
            player.set_orbit(float(plan.angles[j]))
        if plan.story is not None and panel is not None:  # the scene and the column drawn into one frame
            image = player.image(out=np.empty((height, width + panel[0], 3), dtype=np.uint8))
            image[:, width:] = _panels(plan.story, float(position), panel)
        else:
            image = player.image()
        yield image


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


def orbit_angles(frames: int) -> np.ndarray:
    """The orbit's camera angle (degrees) at each of a video's ``frames``: one slow swing each way."""
    return ORBIT_DEGREES * np.sin(2 * np.pi * np.arange(frames) / max(frames, 1))


def scene_size(size: Sequence[int] | None, panels: bool) -> tuple[int, int] | None:
    """The scene's part of a ``size`` frame: all of it, or what the panel column leaves."""
    from render3d.rendering.panels import panel_width

    if size is None or not panels:
        return None if size is None else (int(size[0]), int(size[1]))
    width, height = int(size[0]), int(size[1])
    return width - panel_width(width), height


def _panels(story: Story, position: float, size: tuple[int, int]) -> np.ndarray:
    from render3d.rendering.panels import story_panels

    frame = story.at(position)
    return story_panels(
        size,
        image=frame.image,
        name=frame.probe_name,
        bars=frame.bars,
        charts=frame.charts,
        chart_limits=frame.chart_limits,
        epoch_range=frame.epoch_range,
    )


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
            frames = _render_spread(job, player, path, workers, ray, progress)
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


@dataclass(frozen=True)
class SegmentJob:
    """What every worker of one video shares, computed once: the frame plan (positions, camera angles,
    story panels), the colour limits and the scene's settings (pickled to each worker). ``key``
    names the video: a worker keeps its Player for the next segment of the same one."""

    key: str
    recording: str
    scene_size: tuple[int, int] | None
    fps: float
    diff: bool
    scale: str
    metric: str | None
    clims: dict[str, tuple[float, float]]
    plan: FramePlan

    @classmethod
    def of(cls, player: Player, plan: FramePlan, fps: float) -> SegmentJob:
        """The job of drawing ``plan`` at ``fps`` with ``player``'s scene and colour limits."""
        return cls(
            secrets.token_hex(8),
            str(player.recording.path),
            scene_size(plan.size, plan.story is not None),
            fps,
            player.diff,
            player.style.scale,
            player.metric_view.name,
            {fm.node_id: fm.clim for fm in player.scene.feature_maps},
            plan,
        )

    def frames(self, player: Player, start: int, stop: int, count: Callable[[int], None]) -> Iterator[np.ndarray]:
        """Frames ``start`` .. ``stop - 1`` of the video, each ``count``-ed on the pool's progress bar."""
        for image in render_frames(player, self.plan.part(start, stop)):
            yield image
            count(1)


#: a worker's Player for the video it renders segments of (key, Player): built once per video, not per segment
_worker_player: tuple[str, Player] | None = None


def _player_for(job: SegmentJob) -> Player:
    global _worker_player
    if _worker_player is None or _worker_player[0] != job.key:
        if _worker_player is not None:
            _worker_player[1].close()
            _worker_player = None
        player = Player(
            job.recording, size=job.scene_size, diff=job.diff, scale=job.scale, metric=job.metric, clims=job.clims
        )
        _worker_player = (job.key, player)
    return _worker_player[1]


def render_segment(job: SegmentJob, start: int, stop: int) -> bytes:
    """A worker's segment of a video: frames ``start`` .. ``stop - 1`` encoded as one MP4 (its bytes:
    a Ray worker may run on another machine)."""
    from render3d.atomic import private_temp_dir
    from render3d.parallel import report
    from render3d.record.video import write_video

    player = _player_for(job)
    with private_temp_dir("segment") as folder:
        write_video(folder / "segment.mp4", job.frames(player, start, stop, report), job.fps)
        return (folder / "segment.mp4").read_bytes()


#: a segment holds at least this many frames: each costs an encoder start and a key frame (~140 KB at 1280×720)
MIN_SEGMENT_FRAMES = 60
#: segments per worker: the work is handed out in pieces, so a worker that started late takes fewer
SEGMENTS_PER_WORKER = 3


def segment_count(frames: int, workers: int) -> int:
    """How many segments ``frames`` frames are cut into for ``workers`` workers: one each at least,
    up to SEGMENTS_PER_WORKER each while a segment keeps MIN_SEGMENT_FRAMES frames."""
    return max(min(workers, frames), min(SEGMENTS_PER_WORKER * workers, frames // MIN_SEGMENT_FRAMES))


def _render_spread(
    job: SegmentJob, player: Player, path: Path, workers: int | None, ray: str | None, progress: bool
) -> int:
    """The video's frames cut into contiguous segments, encoded alike, joined into ``path``; returns
    the frame count. Workers take segments from the end while, locally, this process (whose Player
    is ready while theirs are still being built) takes them from the front until it meets a
    segment a worker has started; on Ray every segment is a task (default one per cluster CPU)."""
    from tqdm import tqdm

    from render3d.atomic import private_temp_dir
    from render3d.parallel import split_range, worker_pool
    from render3d.record.video import concat_videos, write_video

    total = len(job.plan)
    local = ray is None
    with (
        tqdm(total=total, desc="animate", unit="frame", disable=not progress, leave=False) as bar,
        worker_pool(int(workers or 0) - local, ray=ray, bar=bar) as pool,
        private_temp_dir("segments") as folder,
    ):
        ranges = split_range(total, segment_count(total, int(workers or pool.workers)))
        tasks = {k: pool.submit(render_segment, job, *ranges[k]) for k in reversed(range(len(ranges)))}
        segments = [folder / f"segment{k:04d}.mp4" for k in range(len(ranges))]
        for k in range(len(ranges)):
            if not pool.cancel(tasks[k]):
                break
            write_video(segments[k], job.frames(player, *ranges[k], pool.report), job.fps)
            del tasks[k]
        for k, handle in tasks.items():
            segments[k].write_bytes(pool.result(handle))
        with atomic_path(path, suffix=path.suffix) as tmp:
            concat_videos(segments, tmp)
            verify_video(tmp, total)
    return total


#: the public name, ``render3d.animate``
animate = animate_recording
