"""A video's frames decided once and drawn: each frame's position on the snapshot axis and camera angle
(:class:`FramePlan`, :func:`frame_positions`), the scene's share of the frame beside the story's panel
column (:func:`scene_size`), and the frames themselves (:func:`render_frames`), held frames drawn once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from render3d.record.frames import Timeline, story_positions

if TYPE_CHECKING:
    from render3d.record.player import Player
    from render3d.record.story import Story

__all__ = ["FramePlan", "frame_positions", "orbit_angles", "render_frames", "scene_size"]

ORBIT_DEGREES = 15.0  # the orbit swings the camera this far either side of the scene's own view


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
