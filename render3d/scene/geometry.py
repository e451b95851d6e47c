"""Box sizes from tensor shapes (vectorised), and the short shape text of labels.

The convention (also in :mod:`render3d.scene.model`): a box's x-size comes from the tensor's width
W, its y-size from its height H and its z-size from its channels C, so the H×W face of every box
faces the default camera and feature-map planes fill the box front to back, one plane per channel:

=========================  =============  =============  ===================
output (batch dim dropped)  x (forward)    y (up)         z (depth)
=========================  =============  =============  ===================
(C, H, W) image            W              H              C
(C, T, H, W) video         W              H              C·T
(T, D) tokens              D              T              thin
(F,) vector                thin           F              thin
scalar / unknown           small cube
=========================  =============  =============  ===================

Sizes are log2-scaled and clamped (``"log"``) or linear and clamped (``"linear"``); both are
monotone non-decreasing in every dimension, so 2048 channels never dwarf 3.
"""

from __future__ import annotations

import numpy as np

#: spatial edge (H, W, T, D, F): min, gain per doubling, max
SPATIAL_LOG = (0.6, 0.9, 8.0)
#: channel depth (C): min, gain per doubling, max
CHANNEL_LOG = (0.12, 0.45, 5.5)
#: linear sizing: units per element, clamps
SPATIAL_LINEAR = (0.6, 8.0 / 256.0, 8.0)
CHANNEL_LINEAR = (0.12, 5.5 / 1024.0, 5.5)
THIN = 0.35  # z-thickness of vectors/tokens, x-thickness of vectors
GLYPH = 0.55  # edge of the cube drawn for tiny functional ops


def _clamped(
    n: np.ndarray | float, sizing: str, linear: tuple[float, float, float], log: tuple[float, float, float]
) -> np.ndarray:
    """``lo + gain·log2(n)`` (or ``gain·n`` for linear sizing), clamped to ``[lo, hi]``: monotone in n."""
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    lo, gain, hi = linear if sizing == "linear" else log
    return np.clip(n * gain if sizing == "linear" else lo + gain * np.log2(n), lo, hi)


def spatial_size(n: np.ndarray | float, sizing: str = "log") -> np.ndarray:
    """Edge length for a spatial extent ``n`` (elements), monotone and clamped."""
    return _clamped(n, sizing, SPATIAL_LINEAR, SPATIAL_LOG)


def channel_size(c: np.ndarray | float, sizing: str = "log") -> np.ndarray:
    """Depth for ``c`` channels, monotone and clamped."""
    return _clamped(c, sizing, CHANNEL_LINEAR, CHANNEL_LOG)


# shape classes
POINT, VECTOR, TOKENS, MAP = 0, 1, 2, 3


def shape_dims(shapes: list[tuple[int, ...] | None]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) array of the (x, y, z) element counts per shape and (N,) shape class."""
    dims = np.ones((len(shapes), 3), dtype=float)
    cls = np.zeros(len(shapes), dtype=np.int8)
    for i, shape in enumerate(shapes):
        if not shape:
            continue
        s = shape[1:] if len(shape) >= 2 else shape
        if len(s) == 1:
            dims[i] = (1, s[0], 1)
            cls[i] = VECTOR
        elif len(s) == 2:
            dims[i] = (s[1], s[0], 1)
            cls[i] = TOKENS
        elif len(s) >= 3:
            depth = float(np.prod(s[:-2], dtype=float))
            dims[i] = (s[-1], s[-2], depth)
            cls[i] = MAP
    return dims, cls


def box_sizes(shapes: list[tuple[int, ...] | None], glyph: np.ndarray | None = None, sizing: str = "log") -> np.ndarray:
    """(N, 3) full edge lengths of the boxes for ``shapes`` (see the module docstring)."""
    dims, cls = shape_dims(shapes)
    sx = spatial_size(dims[:, 0], sizing)
    sy = spatial_size(dims[:, 1], sizing)
    sz = channel_size(dims[:, 2], sizing)
    sizes = np.stack([sx, sy, sz], axis=1)
    sizes[cls == VECTOR, 0] = THIN
    sizes[cls == VECTOR, 2] = THIN
    sizes[cls == TOKENS, 2] = THIN
    sizes[cls == POINT] = GLYPH
    if glyph is not None:
        sizes[np.asarray(glyph, dtype=bool)] = GLYPH
    return sizes


def shape_text(shape: tuple[int, ...] | None) -> str:
    """``(1, 64, 32, 32)`` → ``"64×32×32"`` (batch dimension dropped); ``None`` → ``"?"``."""
    if shape is None:
        return "?"
    s = shape[1:] if len(shape) >= 2 else shape
    return "×".join(str(d) for d in s) if s else "scalar"
