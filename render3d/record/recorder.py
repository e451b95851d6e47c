"""``Recorder``: trace a fixed probe input once per epoch and append it to an on-disk recording.

Use it inside any training loop::

    rec = render3d.Recorder(model, "digit:3", "runs/recording")
    for epoch in range(1, epochs + 1):
        train_one_epoch(model)
        rec.snapshot(epoch, loss=loss, acc=acc)

Each snapshot runs :func:`render3d.trace` (eval mode, no grad; the model's training flags, BatchNorm
statistics and weights are left exactly as they were), quantises the reduced activations to uint8
(see :mod:`render3d.record.store`) and writes one file, then rewrites the small manifest. Nothing is
kept in memory between snapshots, so memory stays flat however many epochs are recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from render3d.errors import RecordingError
from render3d.atomic import atomic_path, atomic_write_text
from render3d.record import store
from render3d.tracing.capture import CaptureConfig

__all__ = ["RECORDER_CAPTURE", "GraphChangedWarning", "Recorder", "probe_hash"]

#: the caps a Recorder traces with: the tracer's defaults, so a frame shows what the static scene
#: shows; uint8 + deflate keeps ResNet-50 at 224×224 near 4 MB a snapshot (see store.py)
RECORDER_CAPTURE = CaptureConfig(mode="reduced", max_channels=64, max_spatial=32)


class GraphChangedWarning(UserWarning):
    """A snapshot's graph differs from the recording's first graph (it is stored and flagged)."""


def probe_hash(probe: torch.Tensor) -> str:
    """sha256 of the probe's dtype, shape and bytes (first 16 hex digits)."""
    t = probe.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


class Recorder:
    """Append the activations of ``probe`` through ``model`` to the recording in ``out_dir``.

    Parameters
    ----------
    model
        The live model being trained; it is traced as it is at each :meth:`snapshot`.
    probe
        The fixed input (a tensor with batch size 1), or a probe name such as ``"digit:3"``
        (see :mod:`render3d.probe`) sized to the model's ``example_input_shape``.
    out_dir
        The recording folder. An existing recording there is continued when its probe is the same
        (a resumed run) and refused otherwise, unless ``overwrite=True`` starts it afresh.
    capture
        Caps for the stored activations (default :data:`RECORDER_CAPTURE`).
    depth
        Collapse modules below this depth, as in :func:`render3d.trace`.
    """

    def __init__(
        self,
        model: nn.Module,
        probe: torch.Tensor | str,
        out_dir: str | os.PathLike[str],
        *,
        capture: CaptureConfig | None = None,
        depth: int | None = None,
        overwrite: bool = False,
    ) -> None:
        self.model = model
        self.probe = _resolve_probe(model, probe)
        self.out_dir = Path(out_dir)
        self.capture = capture or RECORDER_CAPTURE
        if self.capture.mode == "none":
            raise ValueError("Recorder capture mode must be 'reduced' or 'full', not 'none'")
        self.depth = depth
        self.probe_hash = probe_hash(self.probe)
        self._manifest: dict[str, Any] | None = None
        if store.is_recording(self.out_dir):
            if overwrite:
                _clear(self.out_dir)
            else:
                self._manifest = self._resume()

    # --- public ----------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.out_dir

    def __len__(self) -> int:
        return len(self._manifest["snapshots"]) if self._manifest else 0

    def snapshot(self, epoch: int | float, **metrics: Any) -> Path:
        """Trace the probe now and append it as ``epoch`` with ``metrics``; returns the snapshot file.

        Metrics must be numbers (Python, numpy or one-element torch scalars) and are stored exactly.
        If the traced graph differs from the first snapshot's (a data-dependent branch, a changed
        architecture), the snapshot is still stored, with its own graph file, flagged in the
        manifest, and a :class:`GraphChangedWarning` is issued.
        """
        from render3d.tracing.tracer import trace

        epoch = store.epoch_value(epoch)
        values = {name: store.plain_number(name, v) for name, v in metrics.items()}
        probe = self.probe.to(_device_of(self.model))
        traced = trace(self.model, probe, depth=self.depth, capture=self.capture)
        signature = traced.signature()
        manifest = self._manifest or self._start(traced)
        index = len(manifest["snapshots"])
        name = store.snapshot_name(index)
        size = store.write_snapshot(self.out_dir / name, traced)
        entry: dict[str, Any] = {"index": index, "epoch": epoch, "file": name, "metrics": values,
                                 "signature": signature, "graph_changed": False, "bytes": size,
                                 "time": round(time.time(), 3)}
        if signature != manifest["signature"]:
            graph_file = store.graph_name(index)
            atomic_write_text(self.out_dir / graph_file, json.dumps(store.graph_to_json(traced)) + "\n")
            entry.update(graph_changed=True, graph_file=graph_file)
            manifest["graph_changed"] = True
            msg = (f"snapshot {index} (epoch {epoch}) traced a different graph than the first snapshot "
                   f"(signature {signature} != {manifest['signature']}); stored with its own graph "
                   f"({graph_file}) and flagged in the manifest")
            warnings.warn(msg, GraphChangedWarning, stacklevel=2)
        manifest["snapshots"].append(entry)
        store.write_manifest(self.out_dir, manifest)
        self._manifest = manifest
        return self.out_dir / name

    # --- internals --------------------------------------------------------------------------------
    def _start(self, traced: Any) -> dict[str, Any]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        probe_np = self.probe.detach().cpu().float().numpy()
        with atomic_path(self.out_dir / store.PROBE_FILE, suffix=".npy") as tmp:  # np.save adds .npy
            np.save(tmp, probe_np)
        return {
            "format": store.FORMAT,
            "version": store.VERSION,
            "model": traced.model,
            "signature": traced.signature(),
            "graph_changed": False,
            "probe": {"sha256": self.probe_hash, "shape": list(self.probe.shape),
                      "dtype": str(self.probe.dtype).removeprefix("torch."), "file": store.PROBE_FILE},
            "capture": asdict(self.capture),
            "quantization": "uint8 per node and snapshot: value = offset + step * code",
            "graph": store.graph_to_json(traced),
            "snapshots": [],
        }

    def _resume(self) -> dict[str, Any]:
        manifest = store.read_manifest(self.out_dir)
        if manifest["probe"]["sha256"] != self.probe_hash:
            msg = (f"{self.out_dir} already holds a recording of a different probe "
                   f"({manifest['probe']['sha256']} != {self.probe_hash}); pass overwrite=True to start "
                   "afresh or record into another folder")
            raise RecordingError(msg)
        return manifest


def _resolve_probe(model: nn.Module, probe: torch.Tensor | str) -> torch.Tensor:
    if isinstance(probe, torch.Tensor):
        return probe.detach()
    if isinstance(probe, np.ndarray):
        return torch.from_numpy(probe)
    from render3d.modelspec import default_input_shape
    from render3d.probe import make_probe

    return make_probe(str(probe), default_input_shape(type(model).__name__, model))


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _clear(folder: Path) -> None:
    """Remove what a previous recording left (only its own files)."""
    for p in folder.iterdir():
        if p.name == store.MANIFEST or p.name == store.PROBE_FILE or (
            p.suffix in (".npz", ".json") and p.name.startswith(("snapshot_", "graph_"))
        ):
            p.unlink()
