"""The default camera (a 3/4 view fitted tightly to the model) and a numpy pinhole projection.

:func:`project` reproduces VTK's perspective camera (``view_angle`` is the vertical field of view,
pixel rows grow downwards), so tests can measure framing and label overlap without OpenGL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from render3d.scene.model import Camera, Scene

NEAR_FAR = 2.5  # near/far pixel-scale ratio beyond which choose_camera penalises a view


def camera_basis(camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pos = np.asarray(camera.position, dtype=float)
    fwd = np.asarray(camera.focal_point, dtype=float) - pos
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.asarray(camera.view_up, dtype=float))
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return pos, right, up, fwd


def point3(v: np.ndarray) -> tuple[float, float, float]:
    """A world point as the plain float triple a :class:`Camera` holds."""
    return float(v[0]), float(v[1]), float(v[2])


def focal_px(view_angle: float, height: float) -> float:
    """The perspective focal length in pixels: a point at depth d and lateral offset x lands x / d · this
    many pixels from the image centre."""
    return (height / 2) / math.tan(math.radians(view_angle) / 2)


def world_per_px(camera: Camera, points: np.ndarray, height: float) -> np.ndarray:
    """(N,) world length one screen pixel spans at each point's depth (to size text and badges in 3D)."""
    pos, _, _, fwd = camera_basis(camera)
    return ((np.asarray(points, dtype=float) - pos) @ fwd) / focal_px(camera.view_angle, height)


def project_points(camera: Camera, points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
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
        focal = focal_px(camera.view_angle, height)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(depth > 1e-9, xc / depth * focal, np.nan)
            v = np.where(depth > 1e-9, yc / depth * focal, np.nan)
    return np.column_stack([width / 2 + u, height / 2 - v])


def project(scene: Scene, points: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Pixel coordinates of ``points`` seen through ``scene.camera`` at image ``size`` (pinhole model;
    default the size the scene was laid out for)."""
    return project_points(scene.camera, points, scene.size if size is None else size)


def box_corners(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(8·N, 3) corners of N axis-aligned boxes."""
    lower = np.atleast_2d(lower)
    upper = np.atleast_2d(upper)
    corners = []
    for mask in range(8):
        pick = [(mask >> a) & 1 for a in range(3)]
        corners.append(np.where(pick, upper, lower))
    return np.concatenate(corners, axis=0)


def view_direction(azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector from the focal point towards the camera: ``azimuth`` swings it from the front (+z)
    towards -x (negative angles) or +x, ``elevation`` lifts it above the horizontal (degrees)."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])


def _basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    right = np.cross(-direction, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    up = np.cross(right, -direction)
    return right, up


def fit_view(
    points: np.ndarray,
    direction: np.ndarray,
    *,
    size: tuple[int, int],
    view_angle: float = 30.0,
    rect: tuple[float, float, float, float] | None = None,
) -> Camera:
    """The closest perspective camera looking along ``-direction`` whose image of ``points`` fits the
    pixel rectangle ``rect`` = (x0, y0, x1, y1) (rows grow downwards), centred in it.

    Exact, not iterative: with the view direction fixed, a point's screen coordinate is
    ``(x - shift) / (distance - z)``, so "inside the rectangle" is linear in (shift, distance) and the
    smallest distance has a closed form per axis.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    if len(pts) == 0:
        pts = np.zeros((1, 3))
    width, height = size
    if rect is None:
        rect = (0.0, 0.0, float(width), float(height))
    x0, y0, x1, y1 = rect
    focal = focal_px(view_angle, height)
    # screen tangents of the rectangle's sides (v up)
    a0, a1 = (x0 - width / 2) / focal, (x1 - width / 2) / focal
    b0, b1 = (height / 2 - y1) / focal, (height / 2 - y0) / focal
    direction = np.asarray(direction, dtype=float)
    direction = direction / np.linalg.norm(direction)
    right, up = _basis(direction)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    rel = pts - centre
    x, y, z = rel @ right, rel @ up, rel @ direction
    extent = float(np.linalg.norm(hi - lo)) or 1.0

    def axis(s: np.ndarray, t0: float, t1: float) -> tuple[float, float, float, float]:
        hi_ = float(np.max(s + t1 * z))
        lo_ = float(np.min(s + t0 * z))
        return (hi_ - lo_) / max(t1 - t0, 1e-9), hi_, lo_, 0.0

    dx, hx, lx, _ = axis(x, a0, a1)
    dy, hy, ly, _ = axis(y, b0, b1)
    dist = max(dx, dy, float(z.max()) + 1e-3 * extent, 1e-3 * extent)
    # shift range for this distance: [hi - t1·D, lo - t0·D]; take its middle (centred in the rect)
    alpha = ((hx - a1 * dist) + (lx - a0 * dist)) / 2
    beta = ((hy - b1 * dist) + (ly - b0 * dist)) / 2
    focal_point = centre + right * alpha + up * beta
    position = focal_point + direction * dist
    return Camera(
        position=point3(position),
        focal_point=point3(focal_point),
        view_up=(0.0, 1.0, 0.0),
        view_angle=float(view_angle),
    )


# --- 2-D overlays: where the renderer puts them, so the framing can keep the model clear of them ---


@dataclass(frozen=True)
class Overlays:
    """Pixel rectangles (x0, y0, x1, y1; rows grow downwards) of the 2-D overlays at one image size.

    The renderer places title, notes, caption, legend and colour bar exactly here, and the default
    camera frames the model so that nothing of it falls inside them. Sizes are given at 1080 p and
    scale with the image height.
    """

    scale: float
    margin: float
    title_font: float
    note_font: float
    caption_font: float
    legend_row: float
    title: tuple[float, float, float, float]
    notes: tuple[float, float, float, float]
    caption: tuple[float, float, float, float]
    legend: tuple[float, float, float, float]
    colorbar: tuple[float, float, float, float]  # bar and its tick labels and title

    def keepouts(self) -> list[tuple[float, float, float, float]]:
        return [r for r in (self.title, self.notes, self.caption, self.legend, self.colorbar) if r[2] > r[0]]


def overlay_layout(
    size: tuple[int, int],
    *,
    title: str = "",
    n_notes: int = 0,
    legend: list[str] | tuple[str, ...] = (),
    colorbar: bool = False,
) -> Overlays:
    """Title, notes, a caption line and the legend stacked top left; the colour bar bottom right."""
    width, height = size
    s = height / 1080
    m = 24 * s
    title_font, note_font, caption_font, row = 34 * s, 18 * s, 24 * s, 30 * s
    empty = (0.0, 0.0, 0.0, 0.0)
    title_w = max(len(title), 24) * 0.62 * title_font
    y = m + 1.25 * title_font
    title_rect = (0.0, 0.0, min(m + title_w, 0.6 * width), y)
    notes_rect = empty
    if n_notes:
        notes_rect = (0.0, y, 0.45 * width, y + n_notes * 1.3 * note_font)
        y = notes_rect[3]
    caption_rect = (0.0, y, 0.3 * width, y + 1.4 * caption_font)
    y = caption_rect[3] + 0.3 * m
    legend_rect = empty
    if legend:
        longest = max(len(str(name)) for name in legend)
        legend_w = m + row * 1.6 + longest * row * 0.52
        legend_rect = (0.0, y, legend_w, y + len(legend) * row)
    colorbar_rect = empty
    if colorbar:
        bar_w = min(0.4 * width, 420 * s)
        colorbar_rect = (width - m - bar_w - 8 * s, height - m - 135 * s, float(width), float(height))
    return Overlays(
        s, m, title_font, note_font, caption_font, row, title_rect, notes_rect, caption_rect, legend_rect, colorbar_rect
    )


def _inside(px: np.ndarray, rects: list[tuple[float, float, float, float]]) -> int:
    hits = 0
    for x0, y0, x1, y1 in rects:
        hits += int(np.count_nonzero((px[:, 0] > x0) & (px[:, 0] < x1) & (px[:, 1] > y0) & (px[:, 1] < y1)))
    return hits


def view_directions(azimuths: Sequence[float], elevations: Sequence[float]) -> list[np.ndarray]:
    """Every ``azimuth`` × ``elevation`` view (:func:`view_direction`), azimuth-major."""
    return [view_direction(az, el) for az in azimuths for el in elevations]


def choose_camera(
    points: np.ndarray,
    probes: np.ndarray,
    *,
    size: tuple[int, int],
    view_angle: float,
    directions: Sequence[np.ndarray],
    margin: float,
    keepouts: Sequence[tuple[float, float, float, float]] = (),
) -> Camera:
    """The view (one of ``directions``, see :func:`view_directions`) and framing rectangle that draws
    the model largest.

    Every candidate is fitted tightly (:func:`fit_view`) into the image less ``margin`` pixels, and
    also into that rectangle with each keep-out's side cut away (:func:`framing_rects`); candidates
    that put any of ``points`` inside a keep-out are dropped. The score (:func:`_view_score`) favours
    views whose far blocks (at the ``probes``, block centres) stay readable too.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    sample = pts
    if len(pts) > 6000:  # choose on a sample (plus the extremes), fit the winner on everything
        step = len(pts) // 3000
        sample = np.concatenate([pts[::step], pts[np.argmin(pts, axis=0)], pts[np.argmax(pts, axis=0)]])
    rects = framing_rects(size, margin, keepouts)
    probes = np.asarray(probes, dtype=float).reshape(-1, 3)
    best: tuple[float, float, Camera] | None = None
    for direction in directions:
        direction = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
        for rect in rects:
            cam = fit_view(sample, direction, size=size, view_angle=view_angle, rect=rect)
            bad = _inside(project_points(cam, sample, size), list(keepouts)) if keepouts else 0
            key = (-bad, _view_score(cam, direction, probes, focal_px(view_angle, size[1])))
            if best is None or key > best[:2]:
                best = (*key, cam)
    assert best is not None
    cam = best[2]
    if sample is not pts:
        direction = np.asarray(cam.position) - np.asarray(cam.focal_point)
        # refit on every point with the chosen view, inside the same rectangle the sample used
        px = project_points(cam, sample, size)
        rect = (float(px[:, 0].min()), float(px[:, 1].min()), float(px[:, 0].max()), float(px[:, 1].max()))
        cam = fit_view(pts, direction, size=size, view_angle=view_angle, rect=rect)
    return cam


def _view_score(cam: Camera, direction: np.ndarray, probes: np.ndarray, focal: float) -> float:
    """The 25th percentile of the pixel scale (pixels per world unit) at the ``probes``, so far blocks
    must stay readable too, damped when the 95th percentile is more than ``NEAR_FAR`` times that: a
    steep perspective makes the near (input) end huge and the far end tiny."""
    pos = np.asarray(cam.position)
    depth = (probes - pos) @ (-direction) if len(probes) else np.ones(1)
    scale = focal / np.maximum(depth, 1e-9)
    p25, p95 = np.percentile(scale, [25, 95]) if len(scale) > 1 else (scale[0], scale[0])
    return float(p25 * min(1.0, NEAR_FAR * p25 / max(p95, 1e-12)) ** 0.5)


def framing_rects(
    size: tuple[int, int], margin: float, keepouts: Sequence[tuple[float, float, float, float]]
) -> list[tuple[float, float, float, float]]:
    """Pixel rectangles a view may be fitted into: the image less ``margin``, then that with each
    keep-out's side cut away, below the top-left stack of overlays, and with both corners cut at once."""
    width, height = size
    full = (margin, margin, width - margin, height - margin)
    rects = [full]
    for x0, y0, x1, y1 in keepouts:
        if x1 <= x0:
            continue
        cuts = []
        if x0 <= 1:  # touches the left edge: start right of it
            cuts.append((x1 + margin / 2, full[1], full[2], full[3]))
        if x1 >= width - 1:
            cuts.append((full[0], full[1], x0 - margin / 2, full[3]))
        if y0 <= 1:
            cuts.append((full[0], y1 + margin / 2, full[2], full[3]))
        if y1 >= height - 1:
            cuts.append((full[0], full[1], full[2], y0 - margin / 2))
        rects.extend(c for c in cuts if c[2] - c[0] > 0.3 * width and c[3] - c[1] > 0.3 * height)
    # below the whole top-left stack (title, notes, legend), full width: wide, flat models
    stack = [r for r in keepouts if r[2] > r[0] and r[0] <= 1 and r[3] < 0.6 * height]
    if stack:
        below = (full[0], max(r[3] for r in stack) + margin / 2, full[2], full[3])
        if below[3] - below[1] > 0.3 * height and below not in rects:
            rects.append(below)
            # full width with the top edge part-way down the stack: a model whose top-left corner is
            # empty (wrapped rows rising to the right) reaches up beside the legend (``bad`` checks it)
            rects.extend((full[0], full[1] + t * (below[1] - full[1]), full[2], full[3]) for t in (0.25, 0.5, 0.75))
    # both the top-left stack and the bottom-right colour bar cut away at once
    if len(rects) > 2:
        lefts = [r for r in rects[1:] if r[0] > full[0]]
        bottoms = [r for r in rects[1:] if r[3] < full[3]]
        tops = [r for r in rects[1:] if r[1] > full[1]]
        rights = [r for r in rects[1:] if r[2] < full[2]]
        for a in lefts + tops:
            for b in bottoms + rights:
                r = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
                if r[2] - r[0] > 0.3 * width and r[3] - r[1] > 0.3 * height:
                    rects.append(r)
    return rects
