"""The side column of a training video: the probe at a readable size with its name, the prediction as
labelled probability bars, and the metric curves drawn up to "now".

Drawn with Pillow into an RGB numpy image beside the 3-D scene's frame (never over it), so nothing
here depends on VTK's text layout; the data comes ready to draw (see
:class:`render3d.record.story.StoryFrame`). Sizes scale with the video's height: at 720 p the body
text is 19 px, the probe about 190 px.

A video redraws the column for every frame with the same words at the same places: what does not
change (the probe, the words, the tracks and axes) is drawn once into a cached base, and glyph masks
and text widths are cached (:func:`_draw_text`, :func:`_text_w`), so a frame costs the bars' and
curves' pixels and their percentages (~2 ms a 720p column; 5 ms with everything redrawn, 11 ms with
FreeType rasterising every word).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from render3d.rendering.labels import TEXT_COLOR, font_file

__all__ = ["PANEL_SHARE", "compose", "panel_width", "story_panels"]

#: the share of a video's width the panel column takes (the scene is laid out for the rest)
PANEL_SHARE = 0.3
BACKGROUND = (255, 255, 255)
RULE = (215, 215, 215)
BAR = (0, 114, 178)  # Okabe-Ito blue
TRUE_BAR = (230, 159, 0)  # Okabe-Ito orange: the true class
TRACK = (236, 236, 236)
LINES = ((0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167))  # Okabe-Ito, colour-blind safe
MUTED = (110, 110, 110)


def panel_width(width: int) -> int:
    """Width of the panel column in a ``width``-pixel frame: PANEL_SHARE of it in multiples of 16, so
    the scene's part keeps a width H.264 can encode."""
    return int(round(width * PANEL_SHARE / 16)) * 16


@lru_cache(maxsize=16)
def _font(px: int) -> Any:
    from PIL import ImageFont

    path = font_file()
    return ImageFont.truetype(path, px) if path else ImageFont.load_default(px)


@lru_cache(maxsize=4096)
def _length(font: Any, text: str) -> float:
    return float(font.getlength(text, "L"))


def _text_w(draw: Any, text: str, font: Any) -> float:
    return _length(font, text)


@lru_cache(maxsize=4096)
def _mask(font: Any, text: str, start: tuple[float, float]) -> tuple[Any, tuple[int, int]]:
    """FreeType's coverage mask of ``text`` at sub-pixel offset ``start``, and its offset (what
    ``ImageDraw.text`` computes every call)."""
    return font.getmask2(text, "L", None, None, None, 0, None, 0, start, stroke_filled=True)


def _draw_text(draw: Any, xy: tuple[float, float], text: str, font: Any, fill: tuple[int, int, int]) -> None:
    """``draw.text(xy, text, font=font, fill=fill)`` for one line, pixel for pixel, from cached masks."""
    x, y = xy
    mask, (dx, dy) = _mask(font, text, (math.modf(x)[0], math.modf(y)[0]))
    draw.draw.draw_bitmap((int(x) + dx, int(y) + dy), mask, draw._getink(fill)[0])


def _fit(draw: Any, text: str, font: Any, width: float) -> str:
    """``text`` cut at the end with '…' to fit ``width`` pixels."""
    if _text_w(draw, text, font) <= width:
        return text
    while text and _text_w(draw, text + "…", font) > width:
        text = text[:-1]
    return text + "…"


def _input(
    draw: Any, canvas: Any, box: tuple[int, int, int, int], image: np.ndarray | None, name: str | None, font: Any
) -> None:
    from PIL import Image

    x0, y0, x1, y1 = box
    line = round(font.size * 1.35)
    side = max(8, min(x1 - x0, y1 - y0 - line))
    if image is not None:
        h, w = image.shape[:2]
        scale = side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        method = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
        picture = Image.fromarray(np.ascontiguousarray(image)).resize(size, method)
        left = x0 + (x1 - x0 - size[0]) // 2
        canvas.paste(picture, (left, y0))
        draw.rectangle([left - 1, y0 - 1, left + size[0], y0 + size[1]], outline=RULE)
        y_text = y0 + size[1] + round(font.size * 0.3)
    else:
        y_text = y0
    text = _fit(draw, f"input: {name}" if name else "input", font, x1 - x0)
    _draw_text(draw, ((x0 + x1 - _text_w(draw, text, font)) / 2, y_text), text, font, TEXT_COLOR)


def _bars(
    draw: Any,
    box: tuple[int, int, int, int],
    bars: Sequence[tuple[str, float, bool]],
    font: Any,
    small: Any,
    layer: str,
) -> None:
    """The prediction bars: their titles, names and tracks (``layer="base"``) or the bars and their
    percentages (``layer="values"``)."""
    x0, y0, x1, y1 = box
    title = "prediction (softmax)"
    base = layer == "base"
    if base:
        _draw_text(draw, (x0, y0), title, font, TEXT_COLOR)
    y = y0 + round(font.size * 1.4)
    if base and any(true for _, _, true in bars):
        key = "true class"
        kx = x0 + _text_w(draw, title, font) + font.size
        s = round(small.size * 0.8)
        top = y0 + (font.size - s) // 2 + 2
        draw.rectangle([kx, top, kx + s, top + s], fill=TRUE_BAR)
        _draw_text(draw, (kx + s + 5, y0 + (font.size - small.size) // 2), key, small, MUTED)
    row = min(round(font.size * 1.45), (y1 - y) // max(1, len(bars)))
    label_w = min((x1 - x0) * 0.4, max((_text_w(draw, name, font) for name, _, _ in bars), default=0) + 8)
    value_w = _text_w(draw, "100%", small) + 6
    track0, track1 = x0 + label_w, x1 - value_w
    bar_h = max(3, round(row * 0.62))
    for name, p, true in bars:
        top = y + (row - bar_h) / 2
        if base:
            text = _fit(draw, name, font, label_w - 8)
            at = (track0 - 8 - _text_w(draw, text, font), y + (row - font.size) / 2 - 2)
            _draw_text(draw, at, text, font, TEXT_COLOR)
            draw.rectangle([track0, top, track1, top + bar_h], fill=TRACK)
        else:
            p = float(min(max(p, 0.0), 1.0))
            if p > 0:
                right = track0 + (track1 - track0) * p
                draw.rectangle([track0, top, right, top + bar_h], fill=TRUE_BAR if true else BAR)
            _draw_text(draw, (track1 + 6, y + (row - small.size) / 2 - 1), f"{p:.0%}", small, MUTED)
        y += row


def _tick(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}"
    return f"{value:.2g}" if value != 0 else "0"


def _chart(
    draw: Any,
    box: tuple[int, int, int, int],
    title: str,
    lines: Mapping[str, tuple[np.ndarray, np.ndarray]],
    limits: tuple[float, float, bool],
    epochs: tuple[float, float],
    fonts: tuple[Any, Any],
    layer: str,
) -> None:
    """One metric chart: its title, legend and axes (``layer="base"``) or its curves so far (``"values"``)."""
    font, small = fonts
    x0, y0, x1, y1 = box
    lo, hi, percent = limits
    legend_y = y0 + round(font.size * 1.3)
    named = list(lines) if len(lines) > 1 else []  # one line: the title names it
    top = legend_y + len(named) * round(small.size * 1.2) + round(small.size * 0.6)
    axis_w = max(_text_w(draw, _tick(v, percent), small) for v in (lo, hi)) + 5
    left, right, bottom = x0 + axis_w, x1 - 6, y1 - round(small.size * 2.5)
    if layer == "base":
        _draw_text(draw, (x0, y0), title, font, TEXT_COLOR)
        for k, name in enumerate(named):
            colour = LINES[k % len(LINES)]
            ly = legend_y + k * round(small.size * 1.2)
            draw.line([x0, ly + small.size * 0.6, x0 + 14, ly + small.size * 0.6], fill=colour, width=3)
            _draw_text(draw, (x0 + 19, ly), _fit(draw, name, small, x1 - x0 - 19), small, MUTED)
    if bottom - top < 12:
        return
    if layer == "base":
        _axes(draw, (left, top, right, bottom), limits, epochs, small)
        return
    e0, e1 = epochs
    span_e = (e1 - e0) or 1.0
    span_v = (hi - lo) or 1.0
    for k, (xs, ys) in enumerate(lines.values()):
        colour = LINES[k % len(LINES)]
        ok = np.isfinite(xs) & np.isfinite(ys)
        px = left + (np.asarray(xs)[ok] - e0) / span_e * (right - left)
        py = bottom - (np.clip(np.asarray(ys)[ok], lo, hi) - lo) / span_v * (bottom - top)
        points = list(zip(px.tolist(), py.tolist()))
        if len(points) > 1:
            draw.line(points, fill=colour, width=3, joint="curve")
        if points and ok[-1]:
            r = 4.5
            cx, cy = points[-1]
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=BACKGROUND)


def _axes(
    draw: Any,
    plot: tuple[float, float, float, float],
    limits: tuple[float, float, bool],
    epochs: tuple[float, float],
    small: Any,
) -> None:
    """A chart's axes with the value range on the left and the epoch range below."""
    left, top, right, bottom = plot
    lo, hi, percent = limits
    draw.line([left, top, left, bottom, right, bottom], fill=MUTED, width=1)
    for value, y in ((hi, top), (lo, bottom)):
        text = _tick(value, percent)
        _draw_text(draw, (left - 4 - _text_w(draw, text, small), y - small.size / 2 - 1), text, small, MUTED)
    e0, e1 = epochs
    for value, anchor in ((e0, left), (e1, right)):
        text = f"{value:g}"
        _draw_text(draw, (anchor - _text_w(draw, text, small) / 2, bottom + 2), text, small, MUTED)
    label = "epoch"
    _draw_text(draw, ((left + right - _text_w(draw, label, small)) / 2, bottom + 2), label, small, MUTED)


def story_panels(
    size: tuple[int, int],
    *,
    image: np.ndarray | None,
    name: str | None,
    bars: Sequence[tuple[str, float, bool]],
    charts: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
    chart_limits: Mapping[str, tuple[float, float, bool]],
    epoch_range: tuple[float, float],
) -> np.ndarray:
    """The panel column, ``size`` = (width, height), as an (H, W, 3) uint8 image: the input on top, the
    prediction bars (name, probability, true class?) below, the ``charts`` (title → metric → the
    epochs and values so far) at the bottom, side by side. Empty parts give their room to the others.

    What stays the same from frame to frame (the probe, every word, the tracks and axes) is drawn once
    per video into a cached base (:func:`_base`); a frame draws the bars and curves over a copy of it."""
    from PIL import ImageDraw

    column = _Column(
        (int(size[0]), int(size[1])),
        None if image is None else (np.shape(image), np.ascontiguousarray(image).tobytes()),
        name,
        tuple((label, bool(true)) for label, _, true in bars),
        tuple((title, tuple(lines)) for title, lines in charts.items()),
        tuple((title, _hashable(*chart_limits[title])) for title in charts),
        (float(epoch_range[0]), float(epoch_range[1])),
    )
    canvas = _base(column).copy()
    column.draw(ImageDraw.Draw(canvas), canvas, bars, charts, "values")
    return np.asarray(canvas, dtype=np.uint8)


def _hashable(lo: float, hi: float, percent: bool) -> tuple[float, float, bool]:
    return float(lo), float(hi), bool(percent)


@dataclass(frozen=True)
class _Column:
    """What a panel column's base shows (hashable: it keys the :func:`_base` cache) and where it all goes."""

    size: tuple[int, int]
    image: tuple[tuple[int, ...], bytes] | None  # the probe's shape and pixels
    name: str | None
    bars: tuple[tuple[str, bool], ...]  # class name, true class?
    charts: tuple[tuple[str, tuple[str, ...]], ...]  # title, its metrics
    chart_limits: tuple[tuple[str, tuple[float, float, bool]], ...]
    epoch_range: tuple[float, float]

    def draw(
        self,
        draw: Any,
        canvas: Any,
        bars: Sequence[tuple[str, float, bool]],
        charts: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
        layer: str,
    ) -> None:
        """Draw ``layer`` ("base": the probe, words, tracks and axes; "values": the bars and curves)."""
        width, height = self.size
        font, small = _font(max(10, round(height * 0.026))), _font(max(9, round(height * 0.022)))
        m = max(6, round(height * 0.025))
        x0, x1 = m, width - m
        y = m
        side = min(round(height * 0.26), x1 - x0)
        input_h = side + round(font.size * 1.5)
        if layer == "base":
            draw.line([0, m, 0, height - m], fill=RULE, width=1)
            probe = None if self.image is None else np.frombuffer(self.image[1], np.uint8).reshape(self.image[0])
            _input(draw, canvas, (x0, y, x1, y + input_h), probe, self.name, font)
        y += input_h + m
        chart_h = round(height * 0.25) if charts else 0
        if bars:
            _bars(draw, (x0, y, x1, height - m - chart_h - (m if charts else 0)), bars, font, small, layer)
        if charts:
            gap = m
            w = (x1 - x0 - gap * (len(charts) - 1)) / len(charts)
            top = height - m - chart_h if bars else y
            limits = dict(self.chart_limits)
            for k, (title, lines) in enumerate(charts.items()):
                cx = round(x0 + k * (w + gap))
                box = (cx, top, round(cx + w), height - m)
                _chart(draw, box, title, lines, limits[title], self.epoch_range, (font, small), layer)


@lru_cache(maxsize=4)
def _base(column: _Column) -> Any:
    """The column's unchanging layer as a Pillow image, drawn once per video (``layer="base"`` reads only
    the bars' names and the charts' metric names, so they get no values here)."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", column.size, BACKGROUND)
    bars = [(label, 0.0, true) for label, true in column.bars]
    charts = {title: dict.fromkeys(names, (np.zeros(0), np.zeros(0))) for title, names in column.charts}
    column.draw(ImageDraw.Draw(canvas), canvas, bars, charts, "base")
    return canvas


def compose(scene: np.ndarray, panels: np.ndarray) -> np.ndarray:
    """The video frame: the scene's image with the panel column on its right."""
    return np.concatenate([scene, panels], axis=1)
