"""Frames whose only change is feature-map colours, composed in numpy instead of rasterised again.

In a training video the camera stays put and a frame differs from the one before only in the colours
of the feature maps' texels and bars (and in the caption, at epoch changes). Which texel a pixel shows,
and how much of it, is then fixed: :meth:`FeatureComposer.capture` finds it out once with four
renders in made-up colours — every texel and bar cell painted its own index (edges off) and that
index's complement (the pair proves no other surface blends into the pixel), then everything black and
everything white with the edges on (the offset and weight the pixel gives the colour: 0 and 1 on a
plain texture, between at a bar's anti-aliased edge). A frame is the last real render with those
pixels recomputed from the current colours: ~1.5 ms for the demo's 900×720 scene, which llvmpipe
takes ~10 ms of CPU (25-45 ms on a busy 2-core machine) to rasterise. A composed pixel is the
rendered one exactly where a texel shows plainly and within :data:`TOLERANCE` levels at an edge;
``capture`` checks that against a real render before it hands out a composer, and gives ``None``
(render every frame) for anything it cannot compose: volumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from render3d.rendering.png import read_rgb

__all__ = ["TOLERANCE", "FeatureComposer"]

#: most a composed pixel may differ from the rendered one, per channel (levels of 255): rounding where a
#: bar's edge colour is blended in; a plainly shown texel is composed exactly
TOLERANCE = 2


def _distinct(feature_actors: Mapping[str, Any]) -> list[Any]:
    """Each actor once: the plane stacks of a texture page share one."""
    return list({id(a): a for a in feature_actors.values()}.values())


def _colour_arrays(feature_actors: Mapping[str, Any]) -> list[tuple[Any, np.ndarray]] | None:
    """Each feature map's live colour array and the VTK object to mark modified: a texture atlas's
    texels, a bar column's cells; ``None`` when one is neither (a volume)."""
    out = []
    for actor in _distinct(feature_actors):
        texture = getattr(actor, "texture", None)
        if texture is not None:
            image = texture.to_image()
            out.append((image, image.point_data["rgb"]))
            continue
        mesh = actor.mapper.dataset if hasattr(actor, "mapper") else None
        if mesh is None or "rgb" not in mesh.cell_data:
            return None
        out.append((mesh, mesh.cell_data["rgb"]))
    return out


def _channels(index: np.ndarray) -> np.ndarray:
    """Row indices of an (N, 3) array as indices of its flat view: 3i, 3i + 1, 3i + 2 for each i."""
    return (index[:, None] * 3 + np.arange(3)).reshape(-1)


def _index_colours(count: int) -> np.ndarray:
    """(count, 3) uint8: index ``i`` as 24-bit RGB."""
    i = np.arange(count, dtype=np.int64)
    return np.stack([(i >> 16) & 255, (i >> 8) & 255, i & 255], axis=1).astype(np.uint8)


class FeatureComposer:
    """Where each feature-map texel shows in a fixed view, and how: see the module's docstring."""

    def __init__(
        self,
        arrays: list[tuple[Any, np.ndarray]],
        width: int,
        pixels: np.ndarray,
        texels: np.ndarray,
        offset: np.ndarray,
        weight: np.ndarray,
    ) -> None:
        self._arrays = arrays
        self._width = width
        plain = (offset == 0).all(axis=1) & (weight == 255).all(axis=1)
        self._plain_pixels, self._plain_texels = pixels[plain], _channels(texels[plain])
        self._mixed_pixels, self._mixed_texels = pixels[~plain], _channels(texels[~plain])
        self._offset = offset[~plain].reshape(-1).astype(np.int32) * 255 + 127  # rounding folded in
        self._weight = weight[~plain].reshape(-1).astype(np.int32)
        self._targets: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _targets_in(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The plain and the mixed pixels as indices into a flat frame ``width`` pixels wide (the view
        at its left), one per channel: 4x faster to write than (N, 3) rows."""
        if width not in self._targets:
            rows = [(p // self._width) * width + p % self._width for p in (self._plain_pixels, self._mixed_pixels)]
            self._targets[width] = (_channels(rows[0]), _channels(rows[1]))
        return self._targets[width]

    @property
    def pixels(self) -> int:
        """How many pixels show a feature map (composed every frame)."""
        return len(self._plain_pixels) + len(self._mixed_pixels)

    @classmethod
    def capture(cls, plotter: Any, feature_actors: Mapping[str, Any]) -> FeatureComposer | None:
        """A composer for ``plotter``'s current view, or ``None`` where frames cannot be composed
        (a volume, a pixel blended from two texels, a GL whose output is not linear in the colours).
        The feature maps' colours are put back as they were; the plotter is left rendered as it was."""
        arrays = _colour_arrays(feature_actors)
        if not arrays:
            return None
        saved = [colours.copy() for _, colours in arrays]
        sizes = [len(colours) for _, colours in arrays]
        index = _index_colours(sum(sizes))
        edged = [a for a in _distinct(feature_actors) if a.prop.show_edges]

        def paint(parts: list[np.ndarray]) -> np.ndarray:
            for (owner, colours), part in zip(arrays, parts):
                colours[:] = part
                owner.Modified()
            return read_rgb(plotter)

        try:
            for actor in edged:
                actor.prop.show_edges = False
            ids = paint(np.split(index, np.cumsum(sizes)[:-1]))
            complement = paint(np.split(255 - index, np.cumsum(sizes)[:-1]))
            for actor in edged:
                actor.prop.show_edges = True
            black = paint([np.zeros_like(s) for s in saved])
            white = paint([np.full_like(s, 255) for s in saved])
        finally:
            for actor in edged:
                actor.prop.show_edges = True
            background = paint(saved)
        shown = (black != white).any(axis=2).reshape(-1)
        pixels = np.flatnonzero(shown)
        ids, complement = ids.reshape(-1, 3)[pixels].astype(np.int64), complement.reshape(-1, 3)[pixels]
        if not (ids + complement == 255).all():  # a texel blended with another surface or texel
            return None
        texels = (ids[:, 0] << 16) | (ids[:, 1] << 8) | ids[:, 2]
        if texels.size and texels.max() >= len(index):
            return None
        offset = black.reshape(-1, 3)[pixels]
        weight = white.reshape(-1, 3)[pixels].astype(np.int16) - offset
        composer = cls(arrays, background.shape[1], pixels, texels, offset, weight)
        check = composer.compose(background)
        if np.abs(check.astype(np.int16) - background).max(initial=0) > TOLERANCE:
            return None
        return composer

    def compose(self, background: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``background`` (a real render of this view) with every feature-map pixel in the current
        colours: a new image, or drawn into the left of ``out`` (a C-contiguous (H, W, 3) uint8 frame
        at least as wide, e.g. a video frame with a panel column on the right), which is returned."""
        height, width = background.shape[:2]
        if out is None:
            out = np.empty_like(background)
        out[:, :width] = background
        plain, mixed = self._targets_in(out.shape[1])
        colours = np.concatenate([c.reshape(-1) for _, c in self._arrays])
        flat = out.reshape(-1)  # a view: ``out`` is contiguous
        flat[plain] = colours[self._plain_texels]
        if len(mixed):
            blended = colours[self._mixed_texels].astype(np.int32) * self._weight + self._offset
            flat[mixed] = (blended // 255).astype(np.uint8)
        return out
