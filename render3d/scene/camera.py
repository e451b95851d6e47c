"""The default camera (a 3/4 view that frames the whole model) and a numpy pinhole projection.

:func:`project` reproduces VTK's perspective camera (``view_angle`` is the vertical field of view,
pixel rows grow downwards), so tests can measure framing and label overlap without OpenGL.
"""

from __future__ import annotations

import math

import numpy as np

from render3d.scene.model import Camera, Scene


def camera_basis(camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pos = np.asarray(camera.position, dtype=float)
    fwd = np.asarray(camera.focal_point, dtype=float) - pos
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.asarray(camera.view_up, dtype=float))
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return pos, right, up, fwd


def project_points(camera: Camera, points: np.ndarray, size: tuple[int, int] = (1920, 1080)) -> np.ndarray:
    """(N, 2) pixel coordinates (x right, y down) of world ``points``; NaN for points behind the camera."""
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    width, height = size
    pos, right, up, fwd = camera_basis(camera)
    rel = pts - pos
    xc, yc, depth = rel @ right, rel @ up, rel @ fwd
    if camera.parallel_scale:
        scale = (height / 2) / camera.parallel_scale
        u, v = xc * scale, yc * scale
    else:
        focal = (height / 2) / math.tan(math.radians(camera.view_angle) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(depth > 1e-9, xc / depth * focal, np.nan)
            v = np.where(depth > 1e-9, yc / depth * focal, np.nan)
    return np.column_stack([width / 2 + u, height / 2 - v])


def project(scene: Scene, points: np.ndarray, size: tuple[int, int] = (1920, 1080)) -> np.ndarray:
    """Pixel coordinates of ``points`` seen through ``scene.camera`` at image ``size`` (pinhole model)."""
    return project_points(scene.camera, points, size)


def box_corners(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(8·N, 3) corners of N axis-aligned boxes."""
    lower = np.atleast_2d(lower)
    upper = np.atleast_2d(upper)
    corners = []
    for mask in range(8):
        pick = [(mask >> a) & 1 for a in range(3)]
        corners.append(np.where(pick, upper, lower))
    return np.concatenate(corners, axis=0)


def frame_camera(
    points: np.ndarray,
    *,
    size: tuple[int, int] = (1920, 1080),
    view_angle: float = 30.0,
    azimuth: float = -12.0,
    elevation: float = 24.0,
    margin: float = 0.06,
) -> Camera:
    """A perspective camera looking from front (+z), above (+y) and the side that frames ``points``.

    The distance is the smallest that keeps every point inside the image with ``margin`` (fraction of
    the image) to spare; the focal point is then shifted so the projected extent is centred.
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        pts = np.zeros((1, 3))
    az, el = math.radians(azimuth), math.radians(elevation)
    direction = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    focal = (lo + hi) / 2
    width, height = size
    tan_half = math.tan(math.radians(view_angle) / 2)
    tan_v = tan_half * (1 - 2 * margin)
    tan_h = tan_half * width / height * (1 - 2 * margin)
    up0 = np.array([0.0, 1.0, 0.0])
    right = np.cross(-direction, up0)
    right /= np.linalg.norm(right)
    up = np.cross(right, -direction)
    extent = float(np.linalg.norm(hi - lo)) or 1.0
    dist = extent
    for _ in range(3):
        rel = pts - focal
        along = rel @ direction  # towards the camera
        need = np.maximum(np.abs(rel @ right) / tan_h, np.abs(rel @ up) / tan_v) + along
        dist = max(float(need.max()), 1e-3 * extent)
        # recentre: shift the focal point so that the projected extent is symmetric
        depth = dist - along
        u = (rel @ right) / depth
        v = (rel @ up) / depth
        du = (u.max() + u.min()) / 2
        dv = (v.max() + v.min()) / 2
        if abs(du) < 1e-6 and abs(dv) < 1e-6:
            break
        focal = focal + right * du * dist + up * dv * dist
    rel = pts - focal
    need = np.maximum(np.abs(rel @ right) / tan_h, np.abs(rel @ up) / tan_v) + rel @ direction
    dist = max(float(need.max()), 1e-3 * extent)
    position = focal + direction * dist
    return Camera(
        position=tuple(float(v) for v in position),
        focal_point=tuple(float(v) for v in focal),
        view_up=(0.0, 1.0, 0.0),
        view_angle=float(view_angle),
    )
