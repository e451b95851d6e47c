"""Scene → one self-contained HTML page: orbit, zoom and pan, labels, legend, colour bar, click a block
for its details and, for a recording, an epoch slider and play button.

The page is a small viewer of render3d's own (``render3d/web/viewer.js``) on three.js (vendored,
minified, ``render3d/web/vendor``), chosen over a vtk.js export because the scene is already plain
arrays: the geometry goes in as the scene's GLB (:mod:`render3d.rendering.gltf`, base64), each
recorded epoch as one PNG atlas per feature map (the renderer's colours, per-layer limits fixed over
all epochs), and the overlays as HTML, so text stays sharp at any zoom and labels that would overlap
are hidden each frame. Everything is inline: the page opens from ``file://`` with no network.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from string import Template

import numpy as np

from render3d.rendering.gltf import feature_map_pngs, scene_gltf
from render3d.rendering.meshes import colormap_lut
from render3d.scene.model import Scene

__all__ = ["Frame", "scene_html"]

#: colour stops of the colour bar's CSS gradient
COLORBAR_STOPS = 17


@dataclass(frozen=True)
class Frame:
    """One position of a page's epoch slider: its caption and the feature-map values it shows (by
    feature-map id, the shapes of the scene's own maps)."""

    caption: str
    values: Mapping[str, np.ndarray]


def _web_file(name: str) -> str:
    # one name per joinpath: Python 3.10's Traversable.joinpath takes a single argument
    return resources.files("render3d").joinpath("web").joinpath(name).read_text(encoding="utf-8")


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in rgb))


def _colorbar(scene: Scene) -> dict | None:
    """Gradient stops, tick texts and title, as the PNG's colour bar: true numbers when every layer
    shares one scale, else each layer's p1 and p99."""
    if not scene.feature_maps:
        return None
    own = [fm for fm in scene.feature_maps if not fm.block] or scene.feature_maps  # attention keeps its own
    clims = {tuple(float(v) for v in fm.clim) for fm in own}
    if len(clims) == 1:
        ((lo, hi),) = clims
        ticks = [f"{v:.3g}" for v in (lo, (lo + hi) / 2, hi)]
    else:
        ticks = ["p1", "p99"]
    lut = colormap_lut(scene.cmap)
    stops = [_hex(lut[i]) for i in np.linspace(0, len(lut) - 1, COLORBAR_STOPS).round().astype(int)]
    return {"stops": stops, "ticks": ticks, "title": scene.colorbar_title or "activation"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def page_data(scene: Scene, frames: Sequence[Frame] = (), *, info_note: str = "") -> dict:
    """What the viewer reads: the GLB (showing the last frame), overlays, blocks for picking, labels,
    each frame's caption and feature-map PNGs, and ``info_note`` under every block's details."""
    blocks = scene.blocks
    shown = frames[-1].values if frames else None
    lay = scene.overlays
    return {
        "title": scene.title,
        "notes": list(scene.notes),
        "background": _hex(scene.background),
        "size": list(scene.size),
        "overlays": {
            "margin": lay.margin / lay.scale,
            "title_font": lay.title_font / lay.scale,
            "note_font": lay.note_font / lay.scale,
            "caption_font": lay.caption_font / lay.scale,
            "legend_row": lay.legend_row / lay.scale,
        },
        "camera": {
            "position": list(scene.camera.position),
            "focal_point": list(scene.camera.focal_point),
            "view_up": list(scene.camera.view_up),
            "view_angle": float(scene.camera.view_angle),
        },
        "bounds": np.asarray(scene.bounds, dtype=float).tolist(),
        "legend": [[str(name), _hex(rgb)] for name, rgb in scene.legend],
        "labels": {
            "font_px": float(scene.labels.font_px or 19.0),
            "items": [
                [text, *map(float, pos)]
                for text, pos in zip(scene.labels.texts, np.asarray(scene.labels.positions, dtype=float).reshape(-1, 3))
                if text.strip()
            ],
        },
        "blocks": {
            "ids": list(blocks.node_ids),
            "lower": np.round(blocks.lower, 6).tolist(),
            "upper": np.round(blocks.upper, 6).tolist(),
            "info": [blocks.info[i] if i < len(blocks.info) else "" for i in range(len(blocks))],
            "flags": [list(blocks.flags[i]) if i < len(blocks.flags) else [] for i in range(len(blocks))],
        },
        "info_note": info_note,
        "colorbar": _colorbar(scene),
        "frames": [
            {"caption": f.caption, "textures": {k: _b64(v) for k, v in feature_map_pngs(scene, f.values).items()}}
            for f in frames
        ],
        "glb": _b64(scene_gltf(scene, labels=False, camera=False, values=shown).glb()),
    }


def _script_json(obj: object) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can end it early)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def scene_html(scene: Scene, frames: Sequence[Frame] = (), *, info_note: str = "") -> str:
    """The page for ``scene``; with ``frames`` (a recording's epochs) it has an epoch slider and play
    button and opens at the last frame. ``info_note`` ends every block's details."""
    from html import escape

    import render3d

    three = _web_file("vendor/three.bundle.min.js")
    revision = re.search(r'revision:"(\d+)"', three)
    return Template(_web_file("viewer.html")).substitute(
        generator=f"render3d {render3d.__version__}",
        title=escape(scene.title or "render3d"),
        background=_hex(scene.background),
        css=_web_file("viewer.css"),
        data=_script_json(page_data(scene, frames, info_note=info_note)),
        three_revision=revision[1] if revision else "?",
        three=three,
        viewer=_web_file("viewer.js"),
    )
