"""Measurable promises of a picture, checked on any model: the zoo survey and the zoo tests use them.

A scene can look plausible and still lie or be unreadable. These checks turn issue 8's complaints into
numbers: a module that ran but is drawn nowhere (:func:`missing_modules`), two labels with the same
text (:func:`duplicate_labels`) and a model drawn as a hairline in a mostly empty frame
(:func:`drawn_share`). Boxes passing through each other are the layout's own check,
:func:`render3d.scene.overlap.overlapping_blocks`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from torch import nn

from render3d.graph import Trace
from render3d.scene.camera import box_corners, project
from render3d.scene.model import Scene, feature_map_bounds


@contextmanager
def called_parameterised_modules(model: nn.Module) -> Iterator[set[str]]:
    """Collect the paths of modules with parameters of their own that run inside the ``with`` body.

    Plain forward hooks, independent of the tracer, so the tracer can be checked against them. The
    root is left out: it is the whole picture.
    """
    called: set[str] = set()
    handles = []
    for path, module in model.named_modules():  # a shared module: once, under its first path, as in the trace
        if not path or not any(True for _ in module.parameters(recurse=False)):
            continue
        handles.append(module.register_forward_hook(lambda m, i, o, path=path: called.add(path)))
    try:
        yield called
    finally:
        for h in handles:
            h.remove()


def drawn_module_paths(scene: Scene, trace: Trace) -> set[str]:
    """Module paths drawn in ``scene``: as their own block or inside a (collapsed, folded) block.

    ``trace`` is the trace the scene was built from; block members name its nodes.
    """
    paths: set[str] = set()
    for members in scene.blocks.members:
        for node_id in members:
            node = trace.nodes.get(node_id)
            if node is None:
                continue
            if node.kind == "module":
                paths.add(node_id.rsplit("#", 1)[0])
            for call_id in node.stack:
                call = trace.modules.get(call_id)
                paths.add(call.path if call is not None else call_id.rsplit("#", 1)[0])
    return paths


def missing_modules(called: set[str], scene: Scene, trace: Trace) -> list[str]:
    """Parameterised modules that ran but are neither a block nor inside one, sorted."""
    return sorted(called - drawn_module_paths(scene, trace))


def duplicate_labels(scene: Scene) -> list[str]:
    """Label first lines (the names) that appear more than once among the visible labels."""
    counts = Counter(text.split("\n", 1)[0] for text in scene.labels.texts)
    return sorted(name for name, n in counts.items() if n > 1)


@dataclass(frozen=True)
class Coverage:
    """How much of the frame the model occupies in a rendered PNG."""

    #: non-background pixels inside the model's projected bounding box, as a fraction of the frame
    pixels: float
    #: the model's projected bounding box width (clipped to the frame) as a fraction of the frame width
    width: float


def model_pixel_box(scene: Scene, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: the pixel box of everything the scene draws for the model, clipped."""
    points = [box_corners(scene.blocks.lower, scene.blocks.upper)]
    points += [c.points for c in scene.connectors]
    points += [box_corners(*feature_map_bounds(fm)) for fm in scene.feature_maps]
    pix = project(scene, np.concatenate(points), size)
    pix = pix[np.all(np.isfinite(pix), axis=1)]
    width, height = size
    x0, y0 = np.clip(np.floor(pix.min(axis=0)), 0, [width, height]).astype(int)
    x1, y1 = np.clip(np.ceil(pix.max(axis=0)), 0, [width, height]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def drawn_share(scene: Scene, png: str | os.PathLike[str]) -> Coverage:
    """Measure a PNG rendered from ``scene`` at its own size: is the model a picture or a hairline?"""
    import imageio.v3 as iio

    image = np.asarray(iio.imread(os.fspath(png)))[..., :3].astype(np.int16)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = model_pixel_box(scene, (width, height))
    drawn = np.any(np.abs(image[y0:y1, x0:x1] - np.asarray(scene.background)) > 8, axis=2)
    return Coverage(pixels=float(drawn.sum()) / (width * height), width=(x1 - x0) / width)
