"""Activations over training: record a probe each epoch, store it compactly, animate it.

    Recorder(model, probe, out_dir).snapshot(epoch, **metrics)   render3d.record.recorder  (torch)
        (resume=True continues a recording; one Recorder per folder, see render3d.record.lock)
    load_recording(dir) -> Recording                              render3d.record.recording (numpy)
    animate_recording(rec, "out.mp4", ...) / show_recording(dir)  render3d.record.animate   (pyvista)
    record_checkpoints(model, probe, checkpoints, out_dir)        render3d.record.animate

Names are imported lazily, so reading a recording costs neither torch nor VTK.
"""

from __future__ import annotations

from render3d._lazy import lazy_exports

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

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
