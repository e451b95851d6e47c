"""Can this process make an OpenGL context? Find out in a subprocess before VTK can segfault.

VTK's PyPI wheel chooses X, EGL or OSMesa at run time and *segfaults* when none of them works
(no ``libEGL``, no ``libOSMesa``, an empty ``VTK_DEFAULT_OPENGL_WINDOW``). ``ensure_gl()`` renders a
1×1 offscreen window in a child process once per process and turns a failure into a one-line
:class:`~render3d.errors.RenderUnavailableError`. The same child reports the context's largest
renderbuffer/viewport side (:func:`gl_max_size`): beyond it VTK renders an all-black image.

This module imports neither VTK nor pyvista, so :func:`configure_environment` can run before them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys

from render3d.errors import RenderUnavailableError

__all__ = ["INSTALL_HINT", "configure_environment", "ensure_gl", "gl_max_size", "preload_triton", "start_probe"]

INSTALL_HINT = "apt-get install -y libegl1 libgl1-mesa-dri"

#: Seconds the probe may take (a cold import of VTK on a busy CI box can take several).
PROBE_TIMEOUT_S = 60.0

# Imports only the VTK modules it needs (``import vtk`` alone costs ~0.7 s).
_PROBE_SCRIPT = """
import vtkmodules.vtkRenderingOpenGL2  # registers the OpenGL render window factory
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkRenderer
win = vtkRenderWindow()
win.SetOffScreenRendering(1)
win.SetSize(1, 1)
win.AddRenderer(vtkRenderer())
win.Render()
print("render3d-gl-ok", win.GetClassName())
try:
    import array
    state, sides = win.GetState(), []
    for pname in (0x84E8, 0x0D3A):  # GL_MAX_RENDERBUFFER_SIZE, GL_MAX_VIEWPORT_DIMS
        values = array.array("i", [0, 0])
        state.vtkglGetIntegerv(pname, values)
        sides += [v for v in values if v > 0]
    print("render3d-gl-max", min(sides))
except Exception:  # the limit is optional: without its line gl_max_size() gives FALLBACK_MAX_SIDE
    pass
win.Finalize()
"""

_cached: str | RenderUnavailableError | None = None
_max_side: int | None = None
_pending: subprocess.Popen | OSError | None = None


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def preload_triton() -> None:
    """Load Triton's native library before VTK brings in Mesa, when Triton is installed.

    Triton bundles its own LLVM; Mesa's llvmpipe (the CPU rasteriser behind EGL/OSMesa) loads the
    system LLVM. Loaded in the other order, ``import triton`` segfaults, and torch imports Triton
    behind the user's back (the first optimizer, ``torch.compile``). So: render, then train, would
    crash. Loading Triton first costs ~0.2 s and only happens where Triton exists.
    """
    if importlib.util.find_spec("triton") is None:
        return
    try:
        importlib.import_module("triton._C.libtriton")
    except Exception:  # noqa: BLE001 - a broken Triton must not stop rendering
        pass


def configure_environment() -> None:
    """Set render defaults in ``os.environ`` for a machine without a display.

    With no ``DISPLAY`` on Linux, ask VTK for EGL directly (it would otherwise try X first and warn
    "bad X server connection"); an EGL failure still falls back to OSMesa. A value the user already
    set is kept; the variable is never set to an empty string (VTK segfaults on that).
    """
    if _headless() and not os.environ.get("VTK_DEFAULT_OPENGL_WINDOW"):
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"


def start_probe() -> None:
    """Start the GL probe in the background (returns at once); :func:`ensure_gl` collects it.

    Commands call this first, so the ~1 s probe overlaps with importing torch and tracing.
    """
    global _pending
    if _cached is None and _pending is None:
        configure_environment()
        try:
            _pending = subprocess.Popen(
                [sys.executable, "-c", _PROBE_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        except OSError as exc:
            _pending = exc


def _probe() -> str | RenderUnavailableError:
    global _pending, _max_side
    start_probe()
    proc, _pending = _pending, None
    if isinstance(proc, OSError):
        reason = f"the probe could not start ({proc})"
    else:
        assert proc is not None  # start_probe() above left a process or its OSError
        try:
            stdout, _ = proc.communicate(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            reason = f"the probe render did not finish in {PROBE_TIMEOUT_S:.0f} s"
        else:
            found = dict(line.split(maxsplit=1) for line in stdout.splitlines() if line.startswith("render3d-gl-"))
            if "render3d-gl-ok" in found:
                _max_side = int(found["render3d-gl-max"]) if "render3d-gl-max" in found else None
                return found["render3d-gl-ok"]
            if proc.returncode < 0:
                reason = f"the probe render was killed by signal {-proc.returncode}"
            else:
                reason = f"the probe render exited with status {proc.returncode}"
    window = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    tried = f" with VTK_DEFAULT_OPENGL_WINDOW={window}" if window else ""
    msg = (
        f"No OpenGL context could be created ({reason}{tried}); "
        f"install EGL + Mesa (`{INSTALL_HINT}`) or run with a display."
    )
    return RenderUnavailableError(msg)


def ensure_gl(*, refresh: bool = False) -> str:
    """Return the name of the working VTK render window class, or raise.

    The first call probes in a subprocess (about 1 s); later calls return the cached answer, failure
    included. ``refresh=True`` probes again.

    Raises
    ------
    RenderUnavailableError
        No OpenGL context can be made (no EGL/OSMesa libraries and no display).
    """
    global _cached
    if _cached is None or refresh:
        _cached = _probe()
    if isinstance(_cached, RenderUnavailableError):
        raise RenderUnavailableError(str(_cached))
    return _cached


def gl_max_size() -> int:
    """The largest image side this machine's GL context renders (probed once with :func:`ensure_gl`);
    :data:`~render3d.limits.FALLBACK_MAX_SIDE` when the driver did not say.

    Raises
    ------
    RenderUnavailableError
        No OpenGL context can be made.
    """
    from render3d.limits import FALLBACK_MAX_SIDE

    ensure_gl()
    return _max_side or FALLBACK_MAX_SIDE
