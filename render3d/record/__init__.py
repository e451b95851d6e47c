"""Activations over training: record a probe each epoch, store it compactly, animate it.

    Recorder(model, probe, out_dir).snapshot(epoch, **metrics)   render3d.record.recorder  (torch)
        (resume=True continues a recording; one Recorder per folder, see render3d.record.lock)
    load_recording(dir) -> Recording                              render3d.record.recording (numpy)
    Player(rec).set_position(2.5)                                  render3d.record.player    (pyvista)
    animate_recording(rec, "out.mp4", ...)                        render3d.record.animate   (pyvista)
    show_recording(dir)                                           render3d.record.window    (pyvista)
    record_checkpoints(model, probe, checkpoints, out_dir)        render3d.record.ingest    (torch)
    animate_checkpoints(spec, checkpoints, "out.mp4")             render3d.record.ingest

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
    "animate_checkpoints": "render3d.record.ingest",
    "record_checkpoints": "render3d.record.ingest",
    "show_recording": "render3d.record.window",
    "iter_frames": "render3d.record.animate",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
