"""An operation explainer as geometry and a script of frames, from one layer's real operands (numpy only).

:func:`explainer_scene` turns :class:`~render3d.tracing.operands.Operands` into an
:class:`ExplainerScene`: planes of real values (cells coloured on one scale), and per frame the
highlight boxes (the kernel prism, the lit output cell, bars), the planes' reveal counts, a caption
holding the formula with the real numbers of that position and a monospaced card with the operands.

* conv (groups respected), max/avg pool and BatchNorm are *window ops*: a window slides over the input
  planes in raster order (the first positions one by one, then faster), the output plane fills in
  cell by cell, and the receptive field of the current output is traced back as rectangles on the
  earlier layers' planes (:func:`field_rects`);
* Linear: one output = one weight row · the input vector, the largest products as bars;
* LayerNorm: one row normalised, input and output as bars;
* attention: one query row over the keys: scores, then softmax weights as bars.

Numbers are printed by :func:`num`; every result printed is computed here in float64 from the operands,
and tests check it equals the layer's real output to the printed precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from render3d.scene.camera import point3

if TYPE_CHECKING:
    from render3d.tracing.operands import Operands

__all__ = [
    "Box",
    "ExplainerScene",
    "Frame",
    "Plane",
    "attention_weights",
    "conv_terms",
    "explainer_scene",
    "field_rects",
    "frame_values",
    "num",
    "pool_window",
    "window_script",
]

MAX_PLANES = 8  # input channels drawn in a stack; the rest are named "+N more"
MAX_BARS = 48  # bars drawn for a vector op; the rest are summed in the caption
SHOWN_TERMS = 3  # terms of a sum written out in a caption before "…"
PLANE_SIZE = 10.0  # world units of the larger side of the layer's input plane
SLOW_STEPS = 4  # first positions shown one by one, each held SLOW_HOLD seconds
SLOW_HOLD = 0.7
INTRO_HOLD = 1.0
ROW_SECONDS = 2.0  # the rest of the first row
FILL_SECONDS = 3.0  # all other rows
FINAL_HOLD = 2.5  # the strongest output, held at the end

KERNEL_RGB = (240, 170, 0)  # the window / kernel prism (Okabe-Ito orange)
LIT_RGB = (230, 30, 30)  # the output cell being computed
FIELD_RGB = (0, 114, 178)  # receptive-field rectangles (Okabe-Ito blue)
WIN_RGB = (0, 158, 115)  # the max-pool winner (Okabe-Ito green)
POS_RGB = (213, 94, 0)
NEG_RGB = (0, 114, 178)
HIDDEN = float("nan")  # a plane cell not revealed yet (drawn light grey by the renderer)


def num(v: float, digits: int = 2) -> str:
    """``v`` with ``digits`` decimals, or 2 significant digits below 0.1 (0.0046, not 0.00); a true minus."""
    v = float(v)
    if v == 0:
        text = "0"
    elif not math.isfinite(v):
        text = "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    elif 0.1 <= abs(v) < 1e5:
        text = f"{v:.{digits}f}"
    else:
        text = f"{v:.2g}"
    return text.replace("-", "\u2212")


def _paren(v: float) -> str:
    s = num(v)
    return f"({s})" if s.startswith("\u2212") else s


Label = tuple[tuple[float, float, float], str]  # an anchor (the text's bottom centre) and the text


# --- scene data ------------------------------------------------------------------------------------
@dataclass
class Plane:
    """A grid of values drawn as coloured cells; ``origin`` is its bottom-left corner in world units,
    ``size`` its (width, height); row 0 of ``values`` is drawn at the top."""

    key: str
    values: np.ndarray
    origin: tuple[float, float, float]
    size: tuple[float, float]
    label: str = ""
    grid_lines: bool = False
    clim: tuple[float, float] | None = None  # its own colour limits (not the colour bar's), e.g. weights

    def cell_box(
        self, rows: tuple[int, int], cols: tuple[int, int], z: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """World (lower, upper) corners of cells ``rows[0]..rows[1]`` × ``cols[0]..cols[1]`` (inclusive)."""
        h, w = self.values.shape
        cx, cy = self.size[0] / w, self.size[1] / h
        ox, oy, oz = self.origin
        lower = np.array([ox + cols[0] * cx, oy + (h - rows[1] - 1) * cy, oz + z[0]])
        upper = np.array([ox + (cols[1] + 1) * cx, oy + (h - rows[0]) * cy, oz + z[1]])
        return lower, upper


@dataclass
class Box:
    """A box drawn in one frame: filled (``opacity``) or as an outline (``outline``)."""

    lower: np.ndarray
    upper: np.ndarray
    rgb: tuple[int, int, int]
    opacity: float = 1.0
    outline: bool = False


@dataclass
class Frame:
    """What changes from frame to frame."""

    caption: str
    card: str = ""
    boxes: list[Box] = field(default_factory=list)
    lines: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    reveal: dict[str, int] = field(default_factory=dict)  # plane key → cells shown, raster order
    values: dict[str, np.ndarray] = field(default_factory=dict)  # plane key → new values this frame


@dataclass
class ExplainerScene:
    """The explainer: fixed planes and labels, a camera, one colour scale and the frames."""

    title: str
    planes: list[Plane]
    frames: list[Frame]
    camera: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
    clim: tuple[float, float]
    cmap: str = "RdBu_r"
    colorbar_title: str = "value"
    labels: list[Label] = field(default_factory=list)
    fps: float = 30.0

    def plane(self, key: str) -> Plane:
        return next(p for p in self.planes if p.key == key)


# --- the maths, exactly as torch does it -------------------------------------------------------------
def _input_rows(ops: Operands, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
    """Input row and column indices of the window of output (y, x) (may fall in the padding)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = ops.kernel, ops.stride, ops.padding, ops.dilation
    return y * sh - ph + dh * np.arange(kh), x * sw - pw + dw * np.arange(kw)


def _window_inside(ops: Operands, y: int, x: int) -> np.ndarray:
    """(kh, kw) bool: which cells of output (y, x)'s window lie on the input, not on its padding."""
    rows, cols = _input_rows(ops, y, x)
    _, h, w = ops.input.shape
    return (rows[:, None] >= 0) & (rows[:, None] < h) & (cols[None] >= 0) & (cols[None] < w)


def _patch(ops: Operands, channels: np.ndarray, y: int, x: int, pad: float = 0.0) -> np.ndarray:
    """(len(channels), kh, kw) input values under the window of output (y, x); padding reads ``pad``."""
    rows, cols = _input_rows(ops, y, x)
    _, h, w = ops.input.shape
    ok = _window_inside(ops, y, x)
    vals = ops.input[np.ix_(channels, np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1))].astype(np.float64)
    return np.where(ok[None], vals, pad)


def _group_channels(ops: Operands, oc: int) -> np.ndarray:
    c_out = ops.output.shape[0]
    per_group_in = ops.input.shape[0] // ops.groups
    g = oc // (c_out // ops.groups)
    return np.arange(g * per_group_in, (g + 1) * per_group_in)


def conv_terms(ops: Operands, oc: int, y: int, x: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(weights, inputs, bias, result) of conv output (oc, y, x): the flat dot product, in the order
    channel, kernel row, kernel column, padding as zeros; result in float64."""
    assert ops.weight is not None  # capture_operands always reads a conv's weight
    xs = _patch(ops, _group_channels(ops, oc), y, x).reshape(-1)
    ws = ops.weight[oc].astype(np.float64).reshape(-1)
    b = float(ops.bias[oc]) if ops.bias is not None else 0.0
    return ws, xs, b, float(ws @ xs + b)


def pool_window(ops: Operands, c: int, y: int, x: int) -> tuple[np.ndarray, int | None, float]:
    """(window values (kh, kw), flat index of the max-pool winner in the input plane or None, result)."""
    if ops.kind == "maxpool":
        patch = _patch(ops, np.array([c]), y, x, pad=-np.inf)[0]
        k = int(np.argmax(patch))
        rows, cols = _input_rows(ops, y, x)
        winner = int(rows[k // patch.shape[1]] * ops.input.shape[2] + cols[k % patch.shape[1]])
        return patch, winner, float(patch.max())
    patch = _patch(ops, np.array([c]), y, x)[0]
    if ops.divisor:
        divisor = ops.divisor
    elif ops.count_include_pad:  # padding counts, the part of the window beyond it does not (ceil_mode)
        rows, cols = _input_rows(ops, y, x)
        _, h, w = ops.input.shape
        ph, pw = ops.padding
        divisor = int(((rows >= -ph) & (rows < h + ph)).sum() * ((cols >= -pw) & (cols < w + pw)).sum())
    else:
        rows, cols = _input_rows(ops, y, x)
        _, h, w = ops.input.shape
        divisor = int(((rows >= 0) & (rows < h)).sum() * ((cols >= 0) & (cols < w)).sum())
    return patch, None, float(patch.sum() / divisor)


def _norm_result(ops: Operands, c: int, v: float) -> float:
    assert ops.mean is not None and ops.var is not None and ops.weight is not None and ops.bias is not None
    return (float(v) - float(ops.mean[c])) / math.sqrt(float(ops.var[c]) + ops.eps) * float(ops.weight[c]) + float(
        ops.bias[c]
    )


def _span(i0: int, i1: int, k: int, stride: int, pad: int, dilation: int, size: int) -> tuple[int, int]:
    """First and last input index that outputs ``i0..i1`` read (taps on the padding left out; with a
    dilation the first real tap may lie past the padding)."""
    taps = (np.arange(i0, i1 + 1)[:, None] * stride - pad + dilation * np.arange(k)[None]).ravel()
    taps = taps[(taps >= 0) & (taps < size)]
    return int(taps.min()), int(taps.max())


def field_rects(ops: Operands, y: int, x: int) -> list[tuple[int, int, int, int]]:
    """Receptive field of output (y, x): ``(row0, row1, col0, col1)`` inclusive on each plane of
    ``ops.planes`` (earliest first; the last is the layer's input): the bounding box of the input
    cells the output depends on."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = ops.kernel, ops.stride, ops.padding, ops.dilation
    _, h, w = ops.input.shape
    out = [(*_span(y, y, kh, sh, ph, dh, h), *_span(x, x, kw, sw, pw, dw, w))]
    for i, step in reversed(list(enumerate(ops.chain))):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = step.kernel, step.stride, step.padding, step.dilation
        h, w = ops.planes[i].shape
        r0, r1, c0, c1 = out[0]
        out.insert(0, (*_span(r0, r1, kh, sh, ph, dh, h), *_span(c0, c1, kw, sw, pw, dw, w)))
    return out


# --- the script --------------------------------------------------------------------------------------
def _hold(seconds: float, fps: float) -> int:
    """Frames that show one state for ``seconds`` (at least one)."""
    return max(1, round(seconds * fps))


def window_script(h: int, w: int, fps: float, final: tuple[int, int]) -> list[tuple[int, int, int]]:
    """(y, x, revealed) per frame for an h×w output: a hold on the first cell, the first SLOW_STEPS
    positions one by one, the rest of the first row, the other rows filling in, and a hold on ``final``."""
    n = h * w
    frames: list[tuple[int, int, int]] = []

    def hold(k: int, seconds: float, revealed: int) -> None:
        frames.extend([(k // w, k % w, revealed)] * _hold(seconds, fps))

    hold(0, INTRO_HOLD, 1)
    for k in range(1, min(SLOW_STEPS, n)):
        hold(k, SLOW_HOLD, k + 1)
    rest_row = list(range(min(SLOW_STEPS, w), w))
    if rest_row:
        steps = _hold(ROW_SECONDS, fps)
        for k in _spread(rest_row, steps):
            frames.append((0, k, k + 1))
    if n > w:
        steps = _hold(FILL_SECONDS, fps)
        for k in _spread(list(range(w, n)), steps):
            frames.append((k // w, k % w, k + 1))
    fy, fx = final
    frames.extend([(fy, fx, n)] * _hold(FINAL_HOLD, fps))
    return frames


def _spread(items: list[int], steps: int) -> list[int]:
    """At most ``steps`` items, evenly spaced, always ending with the last."""
    if len(items) <= steps:
        return items
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, steps)).astype(int))
    return [items[i] for i in idx]


# --- layout helpers ----------------------------------------------------------------------------------
#: the part of the image the 3-D content is fitted into (fractions, x0, x1, y0, y1 from bottom left): the
#: operands card takes the right column, the title the top, the caption the bottom
VIEW_REGION = (0.03, 0.62, 0.1, 0.88)


def _fit_camera(
    points: np.ndarray,
    direction: tuple[float, float, float],
    view_angle: float = 30.0,
    aspect: float = 16 / 9,
    region: tuple[float, float, float, float] = VIEW_REGION,
) -> tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]:
    """A perspective camera looking along ``-direction`` that shows every point inside ``region`` of
    the image (see :data:`VIEW_REGION`)."""
    d = np.asarray(direction, float)
    d /= np.linalg.norm(d)
    right = np.cross(np.array([0.0, 1.0, 0.0]), d)
    right /= np.linalg.norm(right)
    up = np.cross(d, right)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    v = points - centre
    tan_v = math.tan(math.radians(view_angle) / 2)
    tan_h = tan_v * aspect
    x0, x1, y0, y1 = region
    # a point at depth z (towards the camera) and offset u sits at u / (dist - z) of the half view
    z = v @ d
    dist = float(np.max(np.maximum(np.abs(v @ right) / (tan_h * (x1 - x0)), np.abs(v @ up) / (tan_v * (y1 - y0))) + z))
    # move the focal point so that the content's centre lands on the region's centre
    off_x, off_y = (x0 + x1 - 1) * dist * tan_h, (y0 + y1 - 1) * dist * tan_v
    focal = centre - right * off_x - up * off_y
    pos = focal + d * dist
    return point3(pos), point3(focal), point3(up)


def _label_points(labels: list[Label]) -> np.ndarray:
    """Label anchors, each with a point a little above it (the text's height), for the camera fit."""
    anchors = np.array([pos for pos, _ in labels], dtype=float).reshape(-1, 3)
    return np.concatenate([anchors, anchors + [0.0, 0.04 * PLANE_SIZE, 0.0]])


def _plane_corners(p: Plane) -> np.ndarray:
    ox, oy, oz = p.origin
    sx, sy = p.size
    return np.array([[ox, oy, oz], [ox + sx, oy, oz], [ox, oy + sy, oz], [ox + sx, oy + sy, oz]])


def _symmetric_limit(*arrays: np.ndarray) -> float:
    vals = np.concatenate([np.abs(np.asarray(a, np.float64)).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    a = float(np.percentile(vals, 99)) if vals.size else 1.0
    return a if a > 0 else 1.0


def _robust_limits(values: np.ndarray) -> tuple[float, float]:
    """p1 and p99 of ``values`` (a plane drawn on its own scale)."""
    lo, hi = (float(v) for v in np.percentile(values[np.isfinite(values)], [1, 99]))
    return (lo, hi) if hi > lo else (lo - 1.0, lo + 1.0)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "\u00d7".join(str(int(v)) for v in shape)


def _plane_text(h: int, w: int) -> str:
    """A plane's size for a label: H×W, or L for a 1-D map (height 1)."""
    return f"length {w}" if h == 1 else _shape_text((h, w))


@dataclass
class _Stage:
    """What every explainer fixes before its frames: the planes and labels, the points its camera must
    show besides the labels, the direction it looks from and the colour scale. Each kind lays out its
    own; :func:`_finish` frames them all the same way."""

    planes: list[Plane]
    labels: list[Label]
    points: np.ndarray
    view: tuple[float, float, float]
    clim: tuple[float, float]
    colorbar_title: str
    cmap: str = "RdBu_r"

    def plane(self, key: str) -> Plane:
        return next(p for p in self.planes if p.key == key)


def _finish(stage: _Stage, title: str, frames: list[Frame], fps: float) -> ExplainerScene:
    """The explainer of ``stage`` and ``frames``, its camera fitted to the stage's points and labels."""
    camera = _fit_camera(np.concatenate([stage.points, _label_points(stage.labels)]), stage.view)
    return ExplainerScene(
        title,
        stage.planes,
        frames,
        camera,
        stage.clim,
        cmap=stage.cmap,
        labels=stage.labels,
        fps=fps,
        colorbar_title=stage.colorbar_title,
    )


def _title(ops: Operands, what: str, probe: str) -> str:
    """``layer: what``, naming the probe input when there is one."""
    return f"{ops.layer}: {what}" + (f"  \u00b7  input {probe}" if probe else "")


def _label_above(p: Plane, text: str, gap: float) -> Label:
    """``text`` centred over plane ``p``, ``gap`` (a fraction of PLANE_SIZE) above its top edge."""
    ox, oy, oz = p.origin
    return (ox + p.size[0] / 2, oy + p.size[1] + gap * PLANE_SIZE, oz), text


def _lit_cell(p: Plane, r: int, c: int, *, glass: bool) -> list[Box]:
    """The output cell (r, c) being computed: a red outline, over a red glass fill if ``glass``."""
    lo, hi = p.cell_box((r, r), (c, c), (0.0, 0.04 * PLANE_SIZE))
    return [Box(lo, hi, LIT_RGB, outline=True)] + ([Box(lo, hi, LIT_RGB, opacity=0.35)] if glass else [])


# --- window ops: conv, pool, batchnorm -------------------------------------------------------------------
def _pick_channel(output: np.ndarray) -> int:
    """The output channel with the most structure (largest spread), so the plane is worth looking at."""
    spread = output.reshape(output.shape[0], -1).std(axis=1)
    return int(np.argmax(np.nan_to_num(spread)))


def _hyper_text(ops: Operands) -> str:
    (kh, kw), (sh, sw), (ph, pw) = ops.kernel, ops.stride, ops.padding
    one_d = ops.input.shape[1] == 1 and kh == 1
    k = f"{kw}" if one_d else f"{kh}\u00d7{kw}"
    s = f"{sw}" if one_d or sh == sw else f"{sh}\u00d7{sw}"
    p = f"{pw}" if one_d or ph == pw else f"{ph}\u00d7{pw}"
    text = f"kernel {k}, stride {s}, padding {p}"
    if ops.dilation != (1, 1):
        text += f", dilation {ops.dilation[1] if one_d else ops.dilation}"
    if ops.kind == "conv" and ops.groups > 1:
        text += f", groups {ops.groups}"
    return text


def _window_caption(ops: Operands, c: int, y: int, x: int) -> tuple[str, str, int | None]:
    """(caption formula, card text, winner flat index) of output (c, y, x)."""
    where = f"out[c={c}, x={x}]" if ops.output.shape[1] == 1 else f"out[c={c}, y={y}, x={x}]"
    if ops.kind == "conv":
        ws, xs, b, value = conv_terms(ops, c, y, x)
        inside = _window_inside(ops, y, x)  # terms on the padding are 0: the first real ones are shown
        first = np.flatnonzero(np.tile(inside.reshape(-1), len(ws) // inside.size))[:SHOWN_TERMS]
        terms = [f"{_paren(ws[i])}\u00d7{_paren(xs[i])}" for i in first]
        on_pad = len(ws) - len(ws) // inside.size * int(inside.sum())
        count = f"{len(ws)} terms" + (f", {on_pad} on padding" if on_pad else "")
        more = f" + \u2026 ({count})" if len(ws) > len(first) else ""
        bias = f" + bias {_paren(b)}" if ops.bias is not None else ""
        caption = f"{where} = {' + '.join(terms)}{more}{bias} = {num(value)}"
        return caption, _conv_card(ops, c, y, x), None
    if ops.kind == "batchnorm":
        assert ops.mean is not None and ops.var is not None and ops.weight is not None and ops.bias is not None
        v = float(ops.input[c, y, x])
        value = _norm_result(ops, c, v)
        caption = (
            f"{where} = (x \u2212 \u03bc)/\u221a(\u03c3\u00b2 + \u03b5)\u00b7\u03b3 + \u03b2 = "
            f"({num(v)} \u2212 {_paren(ops.mean[c])})/\u221a({num(ops.var[c])} + {ops.eps:g})"
            f"\u00b7{_paren(ops.weight[c])} + {_paren(ops.bias[c])} = {num(value)}"
        )
        card = (
            f"channel {c} (running statistics)\n  \u03bc  = {num(ops.mean[c], 4)}\n  \u03c3\u00b2 = "
            f"{num(ops.var[c], 4)}\n  \u03b3  = {num(ops.weight[c], 4)}\n  \u03b2  = {num(ops.bias[c], 4)}"
        )
        return caption, card, None
    patch, winner, value = pool_window(ops, c, y, x)
    flat = patch.reshape(-1)
    shown = ", ".join(_paren(v) if np.isfinite(v) else "pad" for v in flat[:4])
    more = ", \u2026" if flat.size > 4 else ""
    if ops.kind == "maxpool":
        caption = f"{where} = max({shown}{more}) = {num(value)}"
    else:
        caption = f"{where} = mean({shown}{more}) = {num(value)}"
    card = f"window on input channel {c}\n" + _grid_text(patch)
    return caption, card, winner


def _grid_text(a: np.ndarray, width: int = 7) -> str:
    lines = []
    for row in a:
        lines.append(" ".join((num(v) if np.isfinite(v) else "pad").rjust(width) for v in row))
    return "\n".join(lines)


def _conv_card(ops: Operands, oc: int, y: int, x: int) -> str:
    """The input patch next to the kernel, channel by channel (up to 3 channels, up to 5×5 shown)."""
    channels = _group_channels(ops, oc)
    patch = _patch(ops, channels, y, x, pad=np.nan)  # printed "pad": zeros that are not the input's
    kh, kw = ops.kernel
    if kh > 5 or kw > 5:
        return f"{len(channels)} input channels \u00d7 {kh}\u00d7{kw} kernel: {len(channels) * kh * kw} products"
    lines = []
    assert ops.weight is not None  # capture_operands always reads a conv's weight
    for j, c in enumerate(channels[:3]):
        left = _grid_text(patch[j]).split("\n")
        right = _grid_text(ops.weight[oc, j].astype(np.float64)).split("\n")
        col = max(len(s) for s in left)
        lines.append(f"in[c={c}]".ljust(col) + "      " + f"w[{oc}, {j}]")
        for r, (patch_line, kernel_line) in enumerate(zip(left, right)):
            mid = "  \u00d7   " if r == len(left) // 2 else "      "
            lines.append(patch_line.ljust(col) + mid + kernel_line)
    if len(channels) > 3:
        lines.append(f"\u2026 and {len(channels) - 3} more channels")
    ws, xs, bias, value = conv_terms(ops, oc, y, x)
    if ops.bias is not None:
        lines.append(f"sum of {len(ws)} products {num(float(ws @ xs))} + bias {_paren(bias)} = {num(value)}")
    else:
        lines.append(f"sum of {len(ws)} products = {num(value)}")
    return "\n".join(lines)


def _output_channel(ops: Operands, channel: int | None) -> int:
    """The output channel to explain: the one asked for (checked), else the one with the most structure."""
    c_out = ops.output.shape[0]
    oc = _pick_channel(ops.output) if channel is None else int(channel)
    if not 0 <= oc < c_out:
        raise ValueError(f"channel {oc} is not an output channel of {ops.layer} (0..{c_out - 1})")
    return oc


def _input_channels(ops: Operands, oc: int) -> np.ndarray:
    """The input channels drawn as a stack: a conv's group, else ``oc`` first, then its neighbours."""
    if ops.kind == "conv":
        return _group_channels(ops, oc)
    return np.array([oc] + [c for c in range(ops.input.shape[0]) if c != oc])


@dataclass
class _WindowStage:
    """A window op's fixed part and what its frames draw on: the front input plane (the window's), the
    output plane, the receptive-field planes with their index in ``ops.planes``, the prism's depth."""

    stage: _Stage
    front: Plane
    out: Plane
    context: list[tuple[Plane, int]]
    prism_z: tuple[float, float]


def _window_stage(ops: Operands, oc: int) -> _WindowStage:
    """The input stack on the left, output channel ``oc`` on its right, the receptive-field row above."""
    c_in, h, w = ops.input.shape
    c_out, ho, wo = ops.output.shape
    channels = _input_channels(ops, oc)
    shown = channels[:MAX_PLANES]
    cell = PLANE_SIZE / max(h, w)
    size_in = (w * cell, h * cell)
    gap = (0.5 * PLANE_SIZE / max(len(shown), 3)) if h > 1 else 1.5 * cell
    inputs = [
        Plane(f"in{j}", ops.input[c], (0.0, 0.0, -j * gap), size_in, grid_lines=max(h, w) <= 32)
        for j, c in enumerate(shown)
    ]
    out_x = size_in[0] + 0.45 * PLANE_SIZE
    out_y = (size_in[1] - ho * cell) / 2 if ho * cell < size_in[1] else 0.0
    out = Plane("out", ops.output[oc], (out_x, out_y, 0.0), (wo * cell, ho * cell), grid_lines=max(ho, wo) <= 32)
    first = (
        f"input channels {shown[0]}-{shown[-1]} of {c_in}"
        if ops.kind == "conv" and len(shown) > 1
        else f"input channel {shown[0]} of {c_in}"
    )
    labels = [_label_above(inputs[-1], f"{first}, {_plane_text(h, w)}", 0.05)]
    if len(channels) > len(shown):
        group = " in this group" if ops.kind == "conv" and ops.groups > 1 else ""
        more = f"+{len(channels) - len(shown)} more input channels{group} behind"
        labels.append(((size_in[0] / 2, -0.15 * PLANE_SIZE, 0.0), more))
    labels.append(_label_above(out, f"output channel {oc} of {c_out}, {_plane_text(ho, wo)}", 0.05))
    context, context_labels = _context_row(ops, out_x + wo * cell, size_in[1])
    planes = [*inputs, out, *[p for p, _ in context]]
    lim = _symmetric_limit(ops.input[shown], ops.output[oc])
    stage = _Stage(
        planes,
        labels + context_labels,
        np.concatenate([_plane_corners(p) for p in planes]),
        view=(0.55, 0.3, 1.0),
        clim=(-lim, lim),
        colorbar_title="value (input and output)",
    )
    # a conv's window reads every plane of the stack, a per-channel op's only the front one
    depth = (len(shown) - 1) * gap if ops.kind == "conv" else 0.0
    prism_z = (-depth - 0.02 * PLANE_SIZE, 0.02 * PLANE_SIZE)
    return _WindowStage(stage, inputs[0], out, context, prism_z)


def _context_row(ops: Operands, width: float, top: float) -> tuple[list[tuple[Plane, int]], list[Label]]:
    """The earlier layers the receptive field is traced back on: a row of small planes ``width`` wide
    above ``top`` (the input planes' top edge), earliest on the left (the first and last three of a
    longer chain), each with the index of its map in ``ops.planes``; and their labels."""
    if not ops.chain:
        return [], []
    names = ["model input" if ops.chain_start == "input" else ops.chain_start, *[st.name for st in ops.chain]]
    context = list(range(len(ops.planes)))
    if len(context) > 4:
        context = [context[0], *context[-3:]]
    slot = width / len(context)
    side = min(0.6 * slot, 0.42 * PLANE_SIZE)
    row: list[tuple[Plane, int]] = []
    labels: list[Label] = []
    for i, k in enumerate(context):
        values = ops.planes[k]
        ph, pw = values.shape
        sx, sy = (side, side * ph / pw) if pw >= ph else (side * pw / ph, side)
        origin = (i * slot + (slot - sx) / 2, top + 0.3 * PLANE_SIZE, 0.0)
        p = Plane(f"ctx{i}", values, origin, (sx, sy), clim=_robust_limits(values))
        row.append((p, k))
        labels.append(_label_above(p, f"{names[k]} {_shape_text(values.shape)}", 0.04))
    labels.append(
        (
            (slot * len(context) / 2, top + 0.48 * PLANE_SIZE + side, 0.0),
            "receptive field of the lit output on earlier layers (channel means, own colours)",
        )
    )
    return row, labels


def _window_frame(
    ops: Operands, ws: _WindowStage, y: int, x: int, revealed: int, text: tuple[str, str, int | None]
) -> Frame:
    """Output (y, x) computed, ``revealed`` output cells shown: the kernel prism over its window, the
    max-pool winner, the lit output cell and the receptive field on the earlier layers; ``text`` is
    :func:`_window_caption`'s (caption, card, winner)."""
    caption, card, winner = text
    rects = field_rects(ops, y, x)
    lo, hi = ws.front.cell_box(rects[-1][:2], rects[-1][2:], ws.prism_z)
    boxes = [Box(lo, hi, KERNEL_RGB, opacity=0.35), Box(lo, hi, KERNEL_RGB, outline=True)]
    if winner is not None:
        wy, wx = divmod(winner, ops.input.shape[2])
        wlo, whi = ws.front.cell_box((wy, wy), (wx, wx), (0.0, 0.03 * PLANE_SIZE))
        boxes.append(Box(wlo, whi, WIN_RGB, opacity=0.9))
    lit = _lit_cell(ws.out, y, x, glass=True)
    boxes += lit
    for p, k in ws.context:
        rr0, rr1, cc0, cc1 = rects[k]
        flo, fhi = p.cell_box((rr0, rr1), (cc0, cc1), (0.0, 0.01 * PLANE_SIZE))
        boxes.append(Box(flo, fhi, FIELD_RGB, outline=True))
    tip = (lit[0].lower + lit[0].upper) / 2
    tip[2] = 0.0
    lines = [(np.array([px, py, hi[2]]), tip) for px in (lo[0], hi[0]) for py in (lo[1], hi[1])]
    return Frame(caption, card, boxes, lines, {"out": revealed})


def _window_scene(ops: Operands, fps: float, channel: int | None, probe: str) -> ExplainerScene:
    oc = _output_channel(ops, channel)
    ws = _window_stage(ops, oc)
    _, ho, wo = ops.output.shape
    fy, fx = np.unravel_index(int(np.argmax(ops.output[oc])), (ho, wo))
    frames = []
    texts: dict[tuple[int, int], tuple[str, str, int | None]] = {}  # a held position is computed once
    for y, x, revealed in window_script(ho, wo, fps, (int(fy), int(fx))):
        if (y, x) not in texts:
            texts[(y, x)] = _window_caption(ops, oc, y, x)
        frames.append(_window_frame(ops, ws, y, x, revealed, texts[(y, x)]))
    kind_text = (
        f"{ops.type_name} {ops.input.shape[0]}\u2192{ops.output.shape[0]}" if ops.kind == "conv" else ops.type_name
    )
    hyper = "" if ops.kind == "batchnorm" else f", {_hyper_text(ops)}"
    return _finish(ws.stage, _title(ops, kind_text + hyper, probe), frames, fps)


# --- vector ops: linear, layernorm, attention --------------------------------------------------------------
def _bars(values: np.ndarray, origin: tuple[float, float, float], width: float, height: float) -> list[Box]:
    """Vertical bars for ``values`` along x from ``origin`` (the zero line), scaled so the largest
    |value| is ``height``; positive up in vermillion, negative down in blue."""
    n = len(values)
    top = float(np.max(np.abs(values[np.isfinite(values)]))) if np.isfinite(values).any() else 1.0
    top = top or 1.0
    step = width / max(n, 1)
    out = []
    for i, v in enumerate(values):
        if not np.isfinite(v) or v == 0:
            continue
        hgt = float(v) / top * height
        x0 = origin[0] + i * step + 0.12 * step
        lo = np.array([x0, origin[1] + min(0.0, hgt), origin[2]])
        hi = np.array([x0 + 0.76 * step, origin[1] + max(0.0, hgt), origin[2] + 0.5 * step])
        out.append(Box(lo, hi, POS_RGB if v > 0 else NEG_RGB))
    return out


def _vector_grid(v: np.ndarray, cols: int = 64) -> np.ndarray:
    """A vector wrapped into rows of ``cols`` (the tail padded with NaN, drawn blank)."""
    n = len(v)
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    out = np.full(rows * cols, np.nan, np.float32)
    out[:n] = v
    return out.reshape(rows, cols)


def _steps(n: int, fps: float) -> list[tuple[int, int]]:
    """(index, revealed) per frame over n outputs: first SLOW_STEPS held, the rest filled quickly."""
    frames: list[tuple[int, int]] = []
    for k in range(min(SLOW_STEPS, n)):
        frames.extend([(k, k + 1)] * _hold(INTRO_HOLD if k == 0 else SLOW_HOLD, fps))
    for k in _spread(list(range(SLOW_STEPS, n)), _hold(ROW_SECONDS, fps)):
        frames.append((k, k + 1))
    return frames


@dataclass(frozen=True)
class _BarRow:
    """Where a row of bars stands: the left end of its zero line, its width and the height of its
    largest bar (see :func:`_bars`)."""

    origin: tuple[float, float, float]
    width: float
    height: float

    def boxes(self, values: np.ndarray) -> list[Box]:
        return _bars(values, self.origin, self.width, self.height)


def _with_final_hold(steps: list[tuple[int, int]], final: int, revealed: int, fps: float) -> list[tuple[int, int]]:
    """``steps`` (index, revealed), then output ``final`` held for FINAL_HOLD with ``revealed`` shown."""
    return steps + [(final, revealed)] * _hold(FINAL_HOLD, fps)


def _linear_stage(ops: Operands) -> tuple[_Stage, _BarRow]:
    """Input x on top, the weight row under it, the output on the right, the products' bars at the bottom."""
    assert ops.weight is not None  # capture_operands always reads a Linear's weight
    n_in, n_out = ops.input.shape[1], ops.output.shape[1]
    grid_x = _vector_grid(ops.input[0].astype(np.float64))
    gw = PLANE_SIZE
    gh = min(gw * grid_x.shape[0] / grid_x.shape[1], 0.3 * PLANE_SIZE)
    gap = 0.12 * PLANE_SIZE
    wlim = _symmetric_limit(ops.weight)
    in_plane = Plane("x", grid_x, (0.0, 0.0, 0.0), (gw, gh), grid_lines=n_in <= 64)
    w_plane = Plane(
        "w", _vector_grid(ops.weight[0]), (0.0, -gh - gap, 0.0), (gw, gh), grid_lines=n_in <= 64, clim=(-wlim, wlim)
    )
    grid_o = _vector_grid(ops.output[0], 32)
    ow = 0.4 * PLANE_SIZE
    oh = min(ow * grid_o.shape[0] / grid_o.shape[1], 0.5 * PLANE_SIZE)
    out_plane = Plane("out", grid_o, (gw + 0.2 * PLANE_SIZE, -gap / 2 - oh / 2, 0.0), (ow, oh), grid_lines=n_out <= 64)
    bar_height = 0.2 * PLANE_SIZE
    bars_y = w_plane.origin[1] - gap - bar_height
    bar_text = (
        f"w[j, i]\u00d7x[i]: all {n_in} products"
        if n_in <= MAX_BARS
        else f"w[j, i]\u00d7x[i]: the {MAX_BARS} largest of {n_in} products, in order of i"
    )
    labels = [
        _label_above(in_plane, f"input x ({n_in} values)", 0.03),
        _label_above(w_plane, f"weight row w[j] (own colours, \u00b1{num(wlim)})", 0.03),
        _label_above(out_plane, f"output ({n_out} values)", 0.03),
        ((gw / 2, bars_y + bar_height + 0.03 * PLANE_SIZE, 0.0), bar_text),
    ]
    planes = [in_plane, w_plane, out_plane]
    points = np.concatenate([*[_plane_corners(p) for p in planes], np.array([[0.0, bars_y, 0.0]])])
    lim = _symmetric_limit(ops.input[0].astype(np.float64), ops.output[0])
    stage = _Stage(planes, labels, points, (0.12, 0.1, 1.0), (-lim, lim), "value (x and output)")
    return stage, _BarRow((0.0, bars_y + bar_height / 2, 0.0), gw, bar_height / 2)


def _linear_frame(ops: Operands, out_plane: Plane, bars: _BarRow, j: int, revealed: int) -> Frame:
    """Output ``j`` as weight row j · x: the first terms and the sum in the caption, the largest
    products on the card, the products as bars, the weight row plane showing row j."""
    assert ops.weight is not None  # capture_operands always reads a Linear's weight
    x = ops.input[0].astype(np.float64)
    n_in = len(x)
    wj = ops.weight[j].astype(np.float64)
    prod = wj * x
    b = float(ops.bias[j]) if ops.bias is not None else 0.0
    value = float(prod.sum() + b)
    terms = " + ".join(f"{_paren(a)}\u00d7{_paren(c)}" for a, c in zip(wj[:SHOWN_TERMS], x[:SHOWN_TERMS]))
    more = f" + \u2026 ({n_in} terms)" if n_in > SHOWN_TERMS else ""
    bias = f" + bias {_paren(b)}" if ops.bias is not None else ""
    caption = f"out[{j}] = {terms}{more}{bias} = {num(value)}"
    keep = np.arange(n_in) if n_in <= MAX_BARS else np.sort(np.argsort(-np.abs(prod))[:MAX_BARS])
    top = np.argsort(-np.abs(prod))[:5]
    card = (
        f"out[{j}] = w[{j}]\u00b7x"
        + (" + b" if ops.bias is not None else "")
        + "\nlargest products\n"
        + "\n".join(f"  w[{j},{i}]\u00d7x[{i}] = {_paren(wj[i])}\u00d7{_paren(x[i])} = {num(prod[i])}" for i in top)
    )
    card += f"\nsum of positives {num(prod[prod > 0].sum())}\nsum of negatives {num(prod[prod < 0].sum())}"
    if ops.bias is not None:
        card += f"\nbias {num(b)}"
    boxes = bars.boxes(prod[keep]) + _lit_cell(out_plane, *divmod(j, out_plane.values.shape[1]), glass=True)
    return Frame(caption, card, boxes, [], {"out": revealed}, {"w": _vector_grid(wj)})


def _linear_scene(ops: Operands, fps: float, probe: str) -> ExplainerScene:
    stage, bars = _linear_stage(ops)
    out = ops.output[0]
    script = _with_final_hold(_steps(len(out), fps), int(np.argmax(out)), len(out), fps)
    frames = [_linear_frame(ops, stage.plane("out"), bars, j, revealed) for j, revealed in script]
    title = _title(ops, f"Linear {ops.input.shape[1]}\u2192{len(out)}", probe)
    if ops.input.shape[0] > 1:
        title += f"  \u00b7  row 0 of {ops.input.shape[0]}"
    return _finish(stage, title, frames, fps)


def _layernorm_stage(ops: Operands) -> tuple[_Stage, tuple[_BarRow, _BarRow]]:
    """Input row 0 as bars on top, the output as bars under it, the output row as a plane at the bottom."""
    y = ops.output[0]
    d = len(y)
    width = PLANE_SIZE
    grid_y = _vector_grid(y)
    out_plane = Plane(
        "out",
        grid_y,
        (0.0, -0.55 * PLANE_SIZE, 0.0),
        (width, width * grid_y.shape[0] / grid_y.shape[1]),
        grid_lines=d <= 64,
    )
    shown = "" if d <= MAX_BARS else f", first {MAX_BARS} shown"
    labels = [
        ((width / 2, 0.62 * PLANE_SIZE, 0.0), f"input row 0: x ({d} values{shown})"),
        ((width / 2, 0.06 * PLANE_SIZE, 0.0), "output y = (x \u2212 mean)/std \u00b7 gamma + beta"),
        _label_above(out_plane, "output row 0", 0.03),
    ]
    points = np.array([[0.0, 0.65 * PLANE_SIZE, 0.0], [width, out_plane.origin[1], 0.0]])
    lim = _symmetric_limit(y)
    stage = _Stage([out_plane], labels, points, (0.1, 0.1, 1.0), (-lim, lim), "output value")
    in_bars = _BarRow((0.0, 0.35 * PLANE_SIZE, 0.0), width, 0.22 * PLANE_SIZE)
    return stage, (in_bars, _BarRow((0.0, -0.15 * PLANE_SIZE, 0.0), width, 0.18 * PLANE_SIZE))


def _layernorm_frame(ops: Operands, stage: _Stage, bars: tuple[_BarRow, _BarRow], i: int, revealed: int) -> Frame:
    """Value ``i`` of row 0 normalised: the formula with its numbers, the row's statistics on the card,
    the input bars with bar i outlined, the first ``revealed`` outputs as bars, output i lit."""
    assert ops.mean is not None and ops.var is not None  # capture_operands computes a LayerNorm's row statistics
    x, y = ops.input[0].astype(np.float64), ops.output[0]
    d = len(x)
    mu, var = float(ops.mean[0]), float(ops.var[0])
    g = np.ones(d) if ops.weight is None else ops.weight.astype(np.float64)
    b = np.zeros(d) if ops.bias is None else ops.bias.astype(np.float64)
    keep = np.arange(min(d, MAX_BARS))
    value = (x[i] - mu) / math.sqrt(var + ops.eps) * g[i] + b[i]
    caption = (
        f"out[0, {i}] = (x \u2212 \u03bc)/\u221a(\u03c3\u00b2 + \u03b5)\u00b7\u03b3 + \u03b2 = "
        f"({num(x[i])} \u2212 {_paren(mu)})/\u221a({num(var)} + {ops.eps:g})"
        f"\u00b7{_paren(g[i])} + {_paren(b[i])} = {num(value)}"
    )
    card = (
        f"row 0 over {d} values\n  \u03bc  = mean(x) = {num(mu, 4)}\n"
        f"  \u03c3\u00b2 = var(x)  = {num(var, 4)}\n"
        f"  \u03b3[{i}] = {num(g[i], 4)}\n  \u03b2[{i}] = {num(b[i], 4)}"
    )
    shown_y = np.where(np.arange(len(keep)) < revealed, y[keep], 0.0)
    boxes = bars[0].boxes(x[keep]) + bars[1].boxes(shown_y)
    step = bars[0].width / len(keep)
    x0 = i * step
    boxes.append(
        Box(
            np.array([x0, 0.35 * PLANE_SIZE - 0.24 * PLANE_SIZE, -0.01]),
            np.array([x0 + step, 0.35 * PLANE_SIZE + 0.24 * PLANE_SIZE, 0.6 * step]),
            KERNEL_RGB,
            outline=True,
        )
    )
    out_plane = stage.planes[0]
    boxes += _lit_cell(out_plane, *divmod(i, out_plane.values.shape[1]), glass=False)
    return Frame(caption, card, boxes, [], {"out": revealed})


def _layernorm_scene(ops: Operands, fps: float, probe: str) -> ExplainerScene:
    stage, bars = _layernorm_stage(ops)
    y = ops.output[0]
    keep = min(len(y), MAX_BARS)
    script = _with_final_hold(_steps(keep, fps), int(np.argmax(y[:keep])), len(y), fps)
    frames = [_layernorm_frame(ops, stage, bars, i, revealed) for i, revealed in script]
    return _finish(stage, _title(ops, f"LayerNorm over {len(y)} values", probe), frames, fps)


def attention_weights(ops: Operands) -> tuple[np.ndarray, np.ndarray]:
    """(scores, softmax weights), each (heads, T, S), in float64: softmax(q·kᵀ·scale + mask)."""
    assert ops.query is not None and ops.key is not None  # capture_operands sets both for attention
    q, k = ops.query.astype(np.float64), ops.key.astype(np.float64)
    scores = q @ np.swapaxes(k, -1, -2) * ops.scale
    if ops.mask is not None:
        scores = scores + ops.mask.astype(np.float64)
    m = np.max(np.where(np.isfinite(scores), scores, -np.inf), axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(m), m, 0.0))
    return scores, e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class _Head:
    """The attention head explained: its index, its scores and softmax weights ((T, S) each, float64)."""

    index: int
    scores: np.ndarray
    weights: np.ndarray


def _attention_stage(head: _Head, n_heads: int) -> tuple[_Stage, tuple[_BarRow, _BarRow]]:
    """The head's weights as a plane on the left; on its right, bars for the current query's scores
    (above) and softmax weights (below)."""
    t, s = head.weights.shape
    side = PLANE_SIZE * 0.55
    wp = Plane(
        "attn",
        head.weights.astype(np.float32),
        (0.0, 0.0, 0.0),
        (side * min(1.0, s / t), side * min(1.0, t / s)),
        grid_lines=max(t, s) <= 32,
    )
    bars_x = wp.size[0] + 0.15 * PLANE_SIZE
    width = PLANE_SIZE * 0.8
    labels = [
        _label_above(wp, f"weights of head {head.index} of {n_heads}: {t} queries \u00d7 {s} keys", 0.04),
        ((bars_x + width / 2, wp.size[1] + 0.04 * PLANE_SIZE, 0.0), "scores q\u00b7k\u00b7scale"),
        ((bars_x + width / 2, 0.42 * wp.size[1], 0.0), "softmax weights"),
    ]
    points = np.array([[0.0, 0.0, 0.0], [bars_x + width, wp.size[1], 0.0]])
    stage = _Stage([wp], labels, points, (0.1, 0.1, 1.0), (0.0, 1.0), "attention weight", cmap="viridis")
    score_bars = _BarRow((bars_x, 0.75 * wp.size[1], 0.0), width, 0.22 * wp.size[1])
    return stage, (score_bars, _BarRow((bars_x, 0.0, 0.0), width, 0.36 * wp.size[1]))


def _attention_frame(
    ops: Operands, stage: _Stage, bars: tuple[_BarRow, _BarRow], head: _Head, qi: int, revealed: int
) -> Frame:
    """Query ``qi``: its softmax row in the caption, its largest weights on the card, its scores and
    weights as ``bars``, its row outlined, the first ``revealed`` rows of the weights shown."""
    sc, wt = head.scores[qi], head.weights[qi]
    s = len(wt)
    best = int(np.argmax(wt))
    shown = ", ".join(num(v) for v in wt[:4]) + (", \u2026" if s > 4 else "")
    caption = (
        f"head {head.index}, query {qi}: softmax(q\u00b7k\u1d40 \u00d7 {num(ops.scale, 3)}) = [{shown}]  "
        f"\u00b7  key {best} gets {num(wt[best])}"
    )
    top = np.argsort(-wt)[:5]
    card = "largest weights\n" + "\n".join(f"  key {j}: score {num(sc[j])} \u2192 {num(wt[j], 3)}" for j in top)
    card += f"\nsum of weights = {num(wt.sum(), 3)}"
    keep = np.arange(min(s, MAX_BARS))
    boxes = bars[0].boxes(np.where(np.isfinite(sc[keep]), sc[keep], 0.0)) + bars[1].boxes(wt[keep])
    lo, hi = stage.planes[0].cell_box((qi, qi), (0, s - 1), (0.0, 0.02 * PLANE_SIZE))
    boxes.append(Box(lo, hi, LIT_RGB, outline=True))
    values = head.weights.astype(np.float32).copy()
    return Frame(caption, card, boxes, [], {"attn": revealed * s}, {"attn": values})


def _attention_scene(ops: Operands, fps: float, probe: str, head: int = 0) -> ExplainerScene:
    scores, weights = attention_weights(ops)
    n_heads, t, s = weights.shape
    index = min(head, n_heads - 1)
    one = _Head(index, scores[index], weights[index])
    stage, bars = _attention_stage(one, n_heads)
    rows = _steps(t, fps)
    script = _with_final_hold(rows, rows[-1][0] if rows else 0, t, fps)
    frames = [_attention_frame(ops, stage, bars, one, qi, revealed) for qi, revealed in script]
    return _finish(stage, _title(ops, f"{ops.type_name} attention, one query row over {s} keys", probe), frames, fps)


def explainer_scene(
    ops: Operands,
    *,
    fps: float = 30.0,
    channel: int | None = None,
    probe: str = "",
) -> ExplainerScene:
    """The explainer of ``ops``'s layer; ``channel`` picks the output channel of a window op (default:
    the one with the largest spread), ``probe`` names the input in the title."""
    if ops.kind in ("conv", "maxpool", "avgpool", "batchnorm"):
        return _window_scene(ops, fps, channel, probe)
    if ops.kind == "linear":
        return _linear_scene(ops, fps, probe)
    if ops.kind == "layernorm":
        return _layernorm_scene(ops, fps, probe)
    if ops.kind == "attention":
        return _attention_scene(ops, fps, probe, head=channel or 0)
    raise ValueError(f"{ops.layer}: no explainer for kind {ops.kind!r}")


def frame_values(plane: Plane, frame: Frame) -> np.ndarray:
    """The values ``plane`` shows in ``frame``: its own (or the frame's new ones), cells past the
    frame's reveal count hidden (NaN: the renderer draws NaN cells of an explainer blank)."""
    values = frame.values.get(plane.key, plane.values)
    n = frame.reveal.get(plane.key)
    if n is None:
        return values
    flat = np.array(values, dtype=np.float32).reshape(-1)
    flat[n:] = HIDDEN
    return flat.reshape(values.shape)
