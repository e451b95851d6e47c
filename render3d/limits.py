"""Bounds on what render3d is asked to produce, checked before anything is allocated.

Out of bounds, VTK does not fail politely: ``size=(100000, 100000)`` allocates ~30 GB and aborts,
a negative size aborts, ``(0, 0)`` divides by zero, and a side over the OpenGL maximum (16384 on
Mesa's llvmpipe) renders an all-black image with no error. So the CLI (at parse time) and the
renderer (with the GL context's real maximum, see :func:`render3d.rendering.glcheck.gl_max_size`)
both call :func:`check_size`; the answer is one line naming the limit.

Pure Python: the CLI parser imports this without numpy, torch or VTK.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from render3d.errors import OutputSpecError

__all__ = ["FALLBACK_MAX_SIDE", "MAX_FPS", "available_memory", "check_fps", "check_size", "render_bytes"]

#: Used when the GL context's maximum is unknown: Mesa llvmpipe's and most GPUs' limit.
FALLBACK_MAX_SIDE = 16384

#: Highest frame rate accepted: beyond what any display shows (GIF players cap at 100 frames per second).
MAX_FPS = 240.0

# Measured peak RSS of an offscreen render (EGL + llvmpipe, small scene, 1024² to 4096²): ~200 MB
# fixed, then ~40 bytes per pixel (colour, depth and pick buffers, the read-back, the encoder's
# copies); MSAA adds ~25 bytes per pixel.
_FIXED_BYTES = 256 * 2**20
_BYTES_PER_PIXEL = 64


def render_bytes(width: int, height: int) -> int:
    """Estimated peak memory of rendering and saving one ``width`` × ``height`` image."""
    return _FIXED_BYTES + _BYTES_PER_PIXEL * width * height


def available_memory() -> int | None:
    """Bytes of RAM available to a new allocation (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_size(size: Sequence[object], *, max_side: int | None = None, what: str = "size") -> tuple[int, int]:
    """``size`` as ``(width, height)`` ints, or :class:`OutputSpecError` naming the bound it breaks.

    Each side must be a positive integer no larger than ``max_side`` (the GL context's maximum;
    default :data:`FALLBACK_MAX_SIDE`), and the render's estimated memory must fit in the RAM
    available now.
    """
    limit = FALLBACK_MAX_SIDE if max_side is None else int(max_side)
    try:
        width, height = size
    except (TypeError, ValueError):
        raise OutputSpecError(f"{what} {size!r} is not valid: give (width, height), e.g. (1920, 1080)") from None
    sides = []
    for v in (width, height):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
            raise OutputSpecError(
                f"{what} {width!r}x{height!r} is not valid: width and height must be whole "
                "numbers of pixels, e.g. 1920x1080"
            )
        sides.append(int(v))
    w, h = sides
    if w < 1 or h < 1:
        raise OutputSpecError(f"{what} {w}x{h} is not valid: width and height must be at least 1 pixel")
    if w > limit or h > limit:
        raise OutputSpecError(f"{what} {w}x{h} is too large: the OpenGL limit here is {limit} pixels per side")
    need, free = render_bytes(w, h), available_memory()
    if free is not None and need > free:
        raise OutputSpecError(
            f"{what} {w}x{h} needs about {need / 2**30:.1f} GiB to render, only "
            f"{free / 2**30:.1f} GiB of memory is available; use a smaller size"
        )
    return w, h


def check_fps(fps: object) -> float:
    """``fps`` as a float in (0, :data:`MAX_FPS`], or :class:`OutputSpecError` saying why not."""
    try:
        value = float(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fps, bool) or not (0 < value <= MAX_FPS):
        raise OutputSpecError(f"fps {fps!r} is not valid: give a frame rate above 0 and at most {MAX_FPS:g}")
    return value
