"""Share a scene (``render3d.export``): one self-contained HTML page (an epoch slider for a recording), or glTF
for 3D tools.

The format follows the extension of ``path``: ``.html`` (:mod:`render3d.rendering.webpage`: opens from
``file://`` with no network), ``.glb`` or ``.gltf`` (:mod:`render3d.rendering.gltf`: blocks, labels and
feature maps as textured planes; a ``.gltf`` holds its buffer inline, so both are one file). The
scene is built from the model, trace, Scene or MODEL string exactly as :func:`render3d.render` builds
it; a recording (its folder or a :class:`~render3d.record.Recording`) gives the page of its epochs,
with the per-layer colour limits fixed over all of them (the same as ``render3d animate``), and for
glTF its last epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from render3d.atomic import atomic_write_bytes, atomic_write_text, check_output
from render3d.scene.model import Scene

__all__ = ["EXPORT_EXTENSIONS", "export", "given_recording", "recording_scene", "write_scene"]

EXPORT_EXTENSIONS = (".html", ".glb", ".gltf")


def given_recording(obj: Any) -> bool:
    """Whether ``obj`` is a recording (a :class:`~render3d.record.Recording` or a recording's folder)."""
    from render3d.record.recording import Recording
    from render3d.record.store import is_recording

    return isinstance(obj, Recording) or (isinstance(obj, (str, os.PathLike)) and is_recording(obj))


def recording_scene(
    recording: Any,
    *,
    size: tuple[int, int] | None = None,
    scale: str = "layer",
) -> tuple[Scene, list, str]:
    """A recording's scene, one :class:`~render3d.rendering.webpage.Frame` per animated snapshot
    (colour limits per layer over all of them, as the video and window use: a
    :class:`~render3d.record.animate.Player`) and a note on which epoch the blocks' statistics are of."""
    from render3d.record.animate import Player
    from render3d.record.frames import caption
    from render3d.rendering.webpage import Frame

    player = Player(recording, size=size, scale=scale)
    try:
        rec = player.recording
        frames = []
        for k, index in enumerate(player.indices):
            snap = rec.snapshots[index]
            frames.append(Frame(caption(snap.epoch, player.last_epoch, snap.metrics), player.shown_values(k)))
        first = rec.snapshots[player.indices[0]].epoch
        return player.scene, frames, f"statistics of epoch {first:g}; the slider changes the maps"
    finally:
        player.close()


def write_scene(scene: Scene, path: str | os.PathLike[str], frames: list | tuple = (), *, info_note: str = "") -> Path:
    """Write ``scene`` as ``path``'s format (see the module docstring), atomically; returns ``path``.
    ``frames`` give a page its epoch slider (glTF shows the last); ``info_note`` ends a page's block details."""
    path = Path(path)
    check_output(path, extensions=EXPORT_EXTENSIONS)
    suffix = path.suffix.lower()
    if suffix == ".html":
        from render3d.rendering.webpage import scene_html

        atomic_write_text(path, scene_html(scene, frames, info_note=info_note))
        return path
    from render3d.rendering.gltf import scene_gltf

    values = frames[-1].values if frames else None
    gltf = scene_gltf(scene, values=values)
    if suffix == ".glb":
        atomic_write_bytes(path, gltf.glb())
    else:
        atomic_write_text(path, gltf.gltf())
    return path


# keyword options mirror render3d export's flags and render()'s, hence 9 parameters
def export(
    obj: Any,
    *inputs: Any,
    path: str | os.PathLike[str] = "out.html",
    mode: str = "architecture",
    depth: int | None = None,
    size: tuple[int, int] | None = None,
    style: Any = None,
    model_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Write a model, trace, Scene, MODEL string, scene file or recording as HTML, GLB or glTF (by the
    extension of ``path``) and return ``path``.

    Arguments as for :func:`render3d.render` (``size`` is the image the scene is laid out for; the
    page fits any window). For a recording only ``size`` and ``scale`` apply.

    Example::

        >>> render3d.export(torchvision.models.resnet18(), path="resnet18.html")
        >>> render3d.export("runs/rec", path="training.html")     # a Recorder's folder: epoch slider
        >>> render3d.export(model, x, mode="activations", path="model.glb")
    """
    check_output(path, extensions=EXPORT_EXTENSIONS)  # before any work
    if given_recording(obj):
        if (
            inputs
            or model_kwargs
            or depth is not None
            or mode != "architecture"
            or style is not None
            or set(options) - {"scale"}
        ):
            raise TypeError("export: a recording is drawn as recorded; only size= and scale= apply to it")
        scene, frames, note = recording_scene(obj, size=size, **options)
        return write_scene(scene, path, frames, info_note=note)
    from render3d.api import to_scene

    scene = to_scene(obj, *inputs, mode=mode, depth=depth, size=size, style=style, model_kwargs=model_kwargs, **options)
    return write_scene(scene, path)
