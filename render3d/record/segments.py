"""One video drawn by several processes (``animate --workers N``) or Ray tasks (``--ray``): the frames cut
into contiguous segments, each encoded with the same settings from one :class:`SegmentJob` computed
once, joined without re-encoding (see :mod:`render3d.parallel`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render3d.atomic import atomic_path
from render3d.record.plan import FramePlan, render_frames, scene_size
from render3d.record.player import Player
from render3d.record.video import verify_video

__all__ = ["SegmentJob", "render_segment", "render_spread", "segment_count"]


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


def render_spread(
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
