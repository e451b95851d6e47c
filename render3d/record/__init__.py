"""Activations over training: record a probe each epoch, store it compactly, animate it.

    Recorder(model, probe, out_dir).snapshot(epoch, **metrics)   render3d.record.recorder  (torch)
    load_recording(dir) -> Recording                              render3d.record.recording (numpy)
    animate_recording(rec, "out.mp4", ...) / show_recording(dir)  render3d.record.animate   (pyvista)
    record_checkpoints(model, probe, checkpoints, out_dir)        render3d.record.animate

Names are imported lazily, so reading a recording costs neither torch nor VTK.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Recorder": "render3d.record.recorder",
    "GraphChangedWarning": "render3d.record.recorder",
    "RECORDER_CAPTURE": "render3d.record.recorder",
    "Recording": "render3d.record.recording",
    "load_recording": "render3d.record.recording",
    "is_recording": "render3d.record.store",
    "animate_recording": "render3d.record.animate",
    "record_checkpoints": "render3d.record.animate",
    "show_recording": "render3d.record.animate",
    "iter_frames": "render3d.record.animate",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'render3d.record' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
