"""Every error render3d raises on purpose.

Each class also inherits the built-in it refines, so callers may catch either::

    Render3DError
    ├── TraceError (RuntimeError)          forward() raised; carries the partial graph
    ├── ModelSpecError (ValueError)        "torchvision:nope", "x.py:Missing", bad --input-shape
    ├── CheckpointError (ValueError)       unreadable / untrusted / mismatched checkpoint
    ├── SceneFileError (ValueError)        a scenes/*.toml that does not parse or has unknown keys
    ├── RecordingError (ValueError)        a recording folder that is missing or inconsistent
    ├── OutputError (OSError)              an output file that cannot be written (folder, disk, FIFO)
    ├── OutputSpecError (ValueError)       an output extension, image size or frame rate out of bounds
    ├── UsageError (ValueError)            a command-line argument that is not valid
    ├── GalleryError (RuntimeError)        some scene files of a gallery failed (each reported)
    └── RenderUnavailableError (RuntimeError)  no OpenGL context can be made on this machine

The CLI prints any failure as one line ``ErrorName: message`` (exit 2 for usage errors, 1 otherwise);
``RENDER3D_DEBUG=1`` adds the traceback.
"""

from __future__ import annotations

from typing import Any


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (``"(no message)"`` when it has none): what a one-line error
    keeps of an exception it wraps."""
    text = str(exc).strip().splitlines()
    return text[0] if text else "(no message)"


class Render3DError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class TraceError(Render3DError, RuntimeError):
    """``forward`` raised while tracing; ``partial`` holds the graph recorded up to that point."""

    def __init__(self, message: str, *, module_path: str = "", partial: Any = None) -> None:
        super().__init__(message)
        self.module_path = module_path
        self.partial = partial


class ModelSpecError(Render3DError, ValueError):
    """A MODEL argument or input shape that cannot be resolved."""


class CheckpointError(Render3DError, ValueError):
    """A checkpoint that cannot be loaded safely or does not fit the model."""


class SceneFileError(Render3DError, ValueError):
    """A scene file that cannot be parsed or names unknown keys."""


class RecordingError(Render3DError, ValueError):
    """A recording folder that is missing, empty or inconsistent."""


class OutputError(Render3DError, OSError):
    """An output path that cannot be written: a folder, a FIFO, a read-only or full disk."""


class OutputSpecError(Render3DError, ValueError):
    """An output render3d cannot produce: unknown extension, image size or frame rate out of bounds."""


class UsageError(Render3DError, ValueError):
    """A command-line argument that is missing, malformed or out of range."""


class GalleryError(Render3DError, RuntimeError):
    """Some scene files of ``render3d gallery`` failed; each was reported, the others were rendered."""


class RenderUnavailableError(Render3DError, RuntimeError):
    """No OpenGL context can be created (no display, no EGL, no OSMesa)."""


def one_line(exc: BaseException | Warning | str) -> str:
    """The first non-blank line of an error's (or warning's) message: what the CLI prints after
    ``ErrorName:`` and what a gallery reports per failed scene file."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"
