"""Fitting a built scene's camera to an image size: after its labels are placed, and for another size.

A scene is laid out for one image (:attr:`~render3d.scene.model.Scene.size`): the camera frames the
model clear of the overlays at that size and the labels are kept apart for it. Drawing it at another
size of the same aspect is the same picture scaled (the vertical view angle, the overlays and the
label font all scale with the height). At another aspect the camera is fitted again from the same
direction, so nothing falls outside the image or under an overlay; the labels keep their places and a
renderer drops any that now overlap (build the scene again at that size for labels placed for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from render3d.scene.camera import box_corners, camera_basis, choose_camera, world_per_px
from render3d.scene.labels import label_pixel_boxes
from render3d.scene.model import Camera, Drawn, Labels, Scene, feature_map_bounds, repeat_shadows

__all__ = ["MARGIN", "fit_to_size", "fit_with_labels", "framing_points", "refit_camera"]

#: free border around the model, as a fraction of the image height
MARGIN = 0.025


def framing_points(drawn: Drawn, anchors: np.ndarray) -> np.ndarray:
    """World points the camera must keep in the image: every block (with the copies behind ``×N``
    blocks), connector and feature map of ``drawn`` (a scene), and the label ``anchors``."""
    s_lo, s_hi, _ = repeat_shadows(drawn.blocks)
    pts = [box_corners(drawn.blocks.lower, drawn.blocks.upper), box_corners(s_lo, s_hi), anchors]
    if drawn.connectors:
        pts.append(np.concatenate([c.points for c in drawn.connectors]))
    for fm in drawn.feature_maps:
        lo, hi = feature_map_bounds(fm)
        pts.append(box_corners(lo, hi))
    return np.concatenate(pts)


def refit_camera(scene: Scene) -> Camera:
    """The view of ``scene.camera`` fitted again, at ``scene.size``, to the model and to the text
    boxes of the labels as placed (their world extent does not depend on the image size)."""
    return fit_with_labels(scene, scene.labels, scene.camera, scene.size, scene.overlays.keepouts())


def fit_with_labels(
    drawn: Drawn,
    labels: Labels,
    camera: Camera,
    size: tuple[int, int],
    keepouts: Sequence[tuple[float, float, float, float]],
) -> Camera:
    """The view of ``camera`` fitted again at ``size`` to what is ``drawn`` and to the text boxes of
    ``labels`` placed for ``camera``, clear of the ``keepouts``: the builder's last framing step, before
    its Scene exists."""
    pts = [framing_points(drawn, np.zeros((0, 3)))]
    if len(labels):
        boxes = label_pixel_boxes(labels, camera, size, labels.font_px)
        _, right, up, _ = camera_basis(camera)
        wpp = world_per_px(camera, labels.positions, size[1])
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            pts.append(labels.positions + right * (dx * w * wpp)[:, None] + up * (dy * h * wpp)[:, None])
    direction = np.subtract(camera.position, camera.focal_point)
    return choose_camera(
        np.concatenate(pts),
        drawn.blocks.centers,
        size=size,
        view_angle=camera.view_angle,
        directions=[direction],
        margin=MARGIN * size[1],
        keepouts=keepouts,
    )


def fit_to_size(scene: Scene, size: tuple[int, int]) -> Scene:
    """``scene`` for an image of ``size`` (width, height): itself when that is its own size, a copy
    with its ``size`` set when only the scale differs, and a copy whose camera is fitted again when
    the aspect differs. ``scene`` itself is never changed."""
    width, height = (int(v) for v in size)
    if (width, height) == tuple(scene.size):
        return scene
    resized = replace(scene, size=(width, height))
    if width * scene.size[1] != height * scene.size[0]:
        return replace(resized, camera=refit_camera(resized))
    return resized
