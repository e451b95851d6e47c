"""The recording window: a :class:`~render3d.record.player.Player` on screen with an epoch slider."""

from __future__ import annotations

import os

from render3d.record.player import Player
from render3d.record.recording import Recording, load_recording

__all__ = ["recording_window", "show_recording"]


def recording_window(
    recording: Recording | str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    off_screen: bool = False,
    scale: str = "layer",
) -> Player:
    """A :class:`Player` with the window's tooltips/keys and an epoch slider (``player.slider``, an
    :class:`~render3d.rendering.window.EpochSlider`: whole epochs, ``space`` plays them); ``m`` steps
    through the views: the activations, then each training-health metric."""
    from render3d.rendering.window import EpochSlider, bind_key, install_interaction, key_map

    player = Player(recording, size=size, off_screen=off_screen, scale=scale)
    install_interaction(player.plotter, player.actors)
    bind_key(player.plotter, "m", player.next_view, "next view: activations, then each training metric")
    player.set_position(len(player) - 1)
    epochs = [player.recording.snapshots[i].epoch for i in player.indices]
    player.slider = EpochSlider(
        player.plotter, [f"epoch {e:g}" for e in epochs], player.set_position, title=player.actors.title_actor
    )
    key_map(player.plotter).notify("h: all keys and mouse actions")  # the caption shows the epoch here
    return player


def show_recording(
    recording: Recording | str | os.PathLike[str], *, size: tuple[int, int] | None = None, scale: str = "layer"
) -> None:
    """Open a window on a recording with an epoch slider; returns when it is closed. ``size``: default
    fitted to the screen (:func:`~render3d.rendering.window.window_size`). ``scale``: the
    activations' colour scale, ``"layer"`` or ``"global"`` (:class:`~render3d.scene.style.SceneStyle`).

    Returns at once when ``pyvista.OFF_SCREEN`` is set (tests, CI), like :func:`render3d.show`.
    """
    import pyvista as pv

    from render3d.rendering.window import check_display, window_size

    rec = load_recording(recording)
    if pv.OFF_SCREEN:
        return
    check_display("write an MP4 with 'render3d animate' instead")
    player = recording_window(rec, size=window_size() if size is None else size, off_screen=False, scale=scale)
    try:
        player.plotter.show(title=f"render3d: {rec.model} ({len(rec)} snapshots)", auto_close=False)
    finally:
        player.close()
