"""render3d: a live PyTorch ``nn.Module`` as a 3D scene, a PNG, a window or an MP4.

The rooms are imported lazily so that ``import render3d.scene`` costs neither torch nor VTK::

    trace(model, x)            -> Trace     render3d.tracing   (torch)
    build_scene(trace)         -> Scene     render3d.scene     (numpy)
    render(scene, path=...)    -> Path      render3d.rendering (pyvista)
"""

from __future__ import annotations

from render3d._lazy import lazy_exports
from render3d.notebook import register_display as _register_display

__version__ = "0.1.0"

_LAZY = {
    "trace": "render3d.tracing.tracer",
    "Trace": "render3d.graph",
    "Node": "render3d.graph",
    "build_scene": "render3d.scene.builder",
    "Scene": "render3d.scene.model",
    "render": "render3d.api",
    "show": "render3d.api",
    "plotter": "render3d.api",
    "Recorder": "render3d.record.recorder",
    "animate": "render3d.record.animate",
    "tour": "render3d.flythrough",
    "explain": "render3d.explainer",
    "load_checkpoint": "render3d.checkpoints",
    "export": "render3d.share",
}

__getattr__, __dir__, _names = lazy_exports(__name__, _LAZY)

# in a Jupyter kernel a Scene or Trace displays as the interactive page (a no-op elsewhere; imports nothing)
_register_display()
__all__ = sorted([*_names, "__version__"])
