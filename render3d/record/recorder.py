"""``Recorder``: trace a fixed probe input once per epoch and append it to an on-disk recording.

Use it inside any training loop::

    rec = render3d.Recorder(model, "digit:3", "runs/recording")
    for epoch in range(1, epochs + 1):
        train_one_epoch(model)
        rec.snapshot(epoch, loss=loss, acc=acc)

Each snapshot runs :func:`render3d.trace` (eval mode, no grad; the model's training flags, BatchNorm
statistics and weights are left exactly as they were), quantises the reduced activations to uint8
(see :mod:`render3d.record.store`) and writes one file, then rewrites the small manifest.

It also stores, per module owning parameters, ‖w‖, ‖Δw‖ since the previous snapshot and ‖grad‖
(see :mod:`render3d.record.metrics`): call ``snapshot`` after ``backward()`` and before
``zero_grad()`` to get gradients. For ‖Δw‖ the previous snapshot's weights are kept as one CPU
copy of each parameter in its own dtype (the model's size in host memory, never on the GPU);
``layer_norms=False`` keeps nothing between snapshots, so memory stays flat however many epochs
are recorded.

Under ``torch.distributed`` (DDP, FSDP, ``torchrun``) every process runs the same loop, and only
global rank 0 writes: on the other ranks a Recorder takes no folder and ``snapshot`` returns
``None`` (``rank=`` says which rank this process is, when the default, read from the process group
or ``RANK``, is not it). A DDP model is traced through its wrapped module on rank 0 alone: the
traced forward runs no collective. An FSDP model's forward is a collective and no rank holds its
weights, so ``snapshot`` must then be called on every rank: it gathers the full state dict on CPU
and rank 0 traces ``template``, an unsharded copy of the architecture, holding it (see
:mod:`render3d.record.distributed`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from render3d.atomic import atomic_path, atomic_write_text, sweep_stale_temps
from render3d.errors import OutputError, RecordingError, Render3DError
from render3d.graph import Trace
from render3d.record import store
from render3d.record.folder import owned_names, read_checked, refuse_foreign, remove_owned
from render3d.record.lock import LOCK, RecordingLock, new_run_id, release
from render3d.tracing.capture import CaptureConfig

__all__ = ["MAX_LOGITS", "RECORDER_CAPTURE", "GraphChangedWarning", "Recorder", "probe_hash"]

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
        The recording folder: new, empty, or (with ``resume``/``overwrite``) an existing recording.
        A folder holding files render3d did not write is refused.
    capture
        Caps for the stored activations (default :data:`RECORDER_CAPTURE`).
    depth
        Collapse modules below this depth, as in :func:`render3d.trace`.
    resume
        Continue the recording already in ``out_dir`` (same model and probe, later epochs). Without
        it an existing recording is refused, so a second training run never appends to a finished one.
    overwrite
        Replace the recording already in ``out_dir`` (only the files its manifest lists are deleted).
    layer_norms
        Store ‖w‖, ‖Δw‖ and ‖grad‖ per module with each snapshot (default). A resumed recording's first
        new snapshot has no ‖Δw‖: the weights before it were in another process.
    probe_name, label
        What the probe shows (``"digit 3"``, ``"cat.png"``) and its class index, for the video's title
        and prediction panel; by default taken from a probe spec string (``"digit:45"`` → ``"digit 3"``,
        class 3; a file → its name), none for a tensor.
    classes
        Class names of a classifier's outputs (``["0", ..., "9"]``), stored in the manifest so the
        prediction panel can label its bars.
    rank
        This process's global rank under ``torch.distributed``; only rank 0 writes (default: the
        process group's rank, else ``RANK``, else 0).
    template
        For an FSDP-sharded ``model``, on rank 0: an unsharded instance of the same architecture
        that each snapshot loads the gathered weights into and traces.
    grads
        Store ‖grad‖ with the layer norms (default); ``False`` stores ‖w‖ and ‖Δw‖ only.

    A model whose output is one ``(1, K)`` tensor (K <= :data:`MAX_LOGITS`) also has its logits
    stored exactly with each snapshot (the prediction panel's softmax needs every class).

    The Recorder holds a lock on the folder until :meth:`close` (or the end of a ``with`` block, or
    garbage collection): a second Recorder on the same folder is refused, a lock left by a process
    that died is taken over.
    """

    def __init__(
        self,
        model: nn.Module,
        probe: torch.Tensor | str,
        out_dir: str | os.PathLike[str],
        *,
        capture: CaptureConfig | None = None,
        depth: int | None = None,
        resume: bool = False,
        overwrite: bool = False,
        layer_norms: bool = True,
        probe_name: str | None = None,
        label: int | None = None,
        classes: Sequence[str] | None = None,
        rank: int | None = None,
        template: nn.Module | None = None,
        grads: bool = True,
    ) -> None:
        # 14 parameters: the public render3d.Recorder; all but the first three are keywords, each documented above
        from render3d.record.distributed import global_rank, is_sharded

        if resume and overwrite:
            raise ValueError("Recorder: pass resume=True or overwrite=True, not both")
        self.model = model
        self.rank = global_rank() if rank is None else int(rank)
        self.sharded = is_sharded(model)
        if self.sharded and self.writes and template is None:
            raise ValueError(
                f"Recorder: {type(model).__name__} is sharded by FSDP, so no rank holds its weights; "
                "pass template= an unsharded instance of the same architecture (e.g. a copy made "
                "before sharding) for rank 0 to trace"
            )
        self.template = template
        # the module each snapshot traces (a sharded rank that does not write traces nothing)
        self._traced = template if self.sharded and template is not None else model
        self._set_probe(probe, probe_name, label, classes)
        self.out_dir = Path(out_dir)
        self.capture = capture or RECORDER_CAPTURE
        if self.capture.mode == "none":
            raise ValueError("Recorder capture mode must be 'reduced' or 'full', not 'none'")
        self.depth = depth
        self._weights = WeightHistory(grads=grads) if layer_norms else None
        self.run = new_run_id()
        self._manifest: dict[str, Any] | None = None
        self._finalizer: weakref.finalize[..., Recorder]  # _nothing on a rank that does not write, else _release
        if not self.writes:  # another rank writes the recording: this one takes no folder, no lock
            self._finalizer = weakref.finalize(self, _nothing)
            return
        self._take_folder(resume=resume, overwrite=overwrite)

    def _set_probe(
        self, probe: torch.Tensor | str, name: str | None, label: int | None, classes: Sequence[str] | None
    ) -> None:
        """The probe tensor, what it shows and its class (given, else read from a probe spec string),
        and the class names."""
        from render3d.probe import describe_probe

        self.probe = _resolve_probe(self._traced, probe)
        self.probe_hash = probe_hash(self.probe)
        named, known = describe_probe(probe) if isinstance(probe, str) else (None, None)
        self.probe_name = name if name is not None else named
        self.label = int(label) if label is not None else known
        self.classes = None if classes is None else [str(c) for c in classes]

    def _take_folder(self, *, resume: bool, overwrite: bool) -> None:
        """Create or open the recording folder under this Recorder's lock (released on close or
        garbage collection) and read the manifest to continue, if any."""
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise RecordingError(f"{self.out_dir} exists and is not a folder; choose a folder for the recording")
        created = not self.out_dir.exists()
        self._lock = RecordingLock(self.out_dir, self.run)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except OSError as exc:  # read-only, permissions, disk full
            raise OutputError(f"cannot record into {self.out_dir}: {exc}") from None
        self._finalizer = weakref.finalize(self, _release, self.out_dir, self.run, created)
        try:
            self._manifest = self._open(resume=resume, overwrite=overwrite)
        except BaseException:
            self.close()
            raise
        self._resumed = self._manifest is not None

    # --- public ----------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.out_dir

    @property
    def writes(self) -> bool:
        """Whether this process writes the recording (global rank 0); other ranks' snapshots do nothing."""
        return self.rank == 0

    def __len__(self) -> int:
        return len(self._manifest["snapshots"]) if self._manifest else 0

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the folder's lock (the recording stays); further snapshots are refused."""
        self._finalizer()

    def hold_gradients(self) -> None:
        """Measure each layer's ‖grad‖ now, for the next snapshot: for loops that zero the gradients
        right after each step (the Hugging Face Trainer) and snapshot later. Gradients present at
        the snapshot itself take precedence; a sharded model's are not read (they live on shards)."""
        if self.writes and self._weights is not None and self._weights.grads and not self.sharded:
            self._weights.hold_gradients(self.model)

    def snapshot(self, epoch: int | float, **metrics: Any) -> Path | None:
        """Trace the probe now and append it as ``epoch`` with ``metrics``; returns the snapshot file
        (``None`` on a rank that does not write; an FSDP model's snapshot is a collective: call it on
        every rank).

        Epochs are finite numbers >= 0 and strictly increase over the whole recording. Metrics must
        be numbers (Python, numpy or one-element torch scalars) and are stored exactly. If the traced
        graph differs from the first snapshot's (a data-dependent branch, a changed architecture),
        the snapshot is still stored, with its own graph file, flagged in the manifest, and a
        :class:`GraphChangedWarning` is issued. The snapshot counts only once the manifest is
        written: a failed write leaves the recording (on disk and in memory) as it was.
        """
        from render3d.tracing.tracer import trace

        if not self._finalizer.alive:
            raise RecordingError(f"this Recorder on {self.out_dir} is closed; open a new one with resume=True")
        if self.sharded:
            from render3d.record.distributed import full_state_dict, load_unsharded

            state = full_state_dict(self.model)  # every rank takes part
            if self.writes:  # _traced is the template here
                load_unsharded(self._traced, state)
        if not self.writes:
            return None
        model = self._traced
        epoch = store.epoch_value(epoch)
        self._check_epoch(epoch)
        values = {name: store.plain_number(name, v) for name, v in metrics.items()}
        layers = self._weights.measure(model) if self._weights is not None else None
        probe = self.probe.to(_device_of(model))
        with _output_logits(model) as output:
            traced = trace(model, probe, depth=self.depth, capture=self.capture)
        manifest = self._manifest or self._start(traced)
        if self._resumed:
            self._check_resumed_graph(manifest, traced.signature())
        entry = self._entry(manifest, epoch, values, traced.signature())
        self._manifest = self._write(manifest, entry, traced, layers, _logits(output.get("value")))
        if self._weights is not None:
            self._weights.accept(model)
        if entry["graph_changed"]:
            msg = (
                f"snapshot {entry['index']} (epoch {epoch}) traced a different graph than the first snapshot "
                f"(signature {entry['signature']} != {manifest['signature']}); stored with its own graph "
                f"({entry['graph_file']}) and flagged in the manifest"
            )
            warnings.warn(msg, GraphChangedWarning, stacklevel=2)
        return self.out_dir / entry["file"]

    def _entry(self, manifest: dict[str, Any], epoch: float, metrics: dict[str, Any], signature: str) -> dict[str, Any]:
        """The manifest entry of the next snapshot (a graph unlike the first one's gets its own file)."""
        index = len(manifest["snapshots"])
        entry: dict[str, Any] = {
            "index": index,
            "epoch": epoch,
            "file": store.snapshot_name(index),
            "metrics": metrics,
            "signature": signature,
            "graph_changed": False,
            "run": self.run,
            "time": round(time.time(), 3),
        }
        if signature != manifest["signature"]:
            entry.update(graph_changed=True, graph_file=store.graph_name(index))
        return entry

    def _write(
        self,
        manifest: dict[str, Any],
        entry: dict[str, Any],
        traced: Trace,
        layers: store.LayerNorms | None,
        logits: np.ndarray | None,
    ) -> dict[str, Any]:
        """Write ``entry``'s files, then the manifest listing it (returned); on any failure the
        files this call created are removed and the recording is as it was."""
        changed = entry["graph_changed"]
        new_files = [entry["file"]] + ([entry["graph_file"]] if changed else [])
        new_files += [] if self._manifest else [store.PROBE_FILE]
        for f in new_files:
            if (self.out_dir / f).exists():
                raise RecordingError(
                    f"{self.out_dir / f} exists but is not listed in the recording's manifest; "
                    "move it away to continue this recording"
                )
        self._lock.set_pending(new_files)
        try:
            if not self._manifest:
                self._write_probe()
            entry["bytes"] = store.write_snapshot(self.out_dir / entry["file"], traced, layers, logits=logits)
            if changed:
                atomic_write_text(self.out_dir / entry["graph_file"], json.dumps(store.graph_to_json(traced)) + "\n")
            updated = dict(
                manifest, snapshots=[*manifest["snapshots"], entry], graph_changed=manifest["graph_changed"] or changed
            )
            store.write_manifest(self.out_dir, updated)
        except BaseException as exc:
            for f in new_files:  # created by this call: never listed, so nobody else's
                (self.out_dir / f).unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, Render3DError):  # disk full, read-only, ...
                raise OutputError(
                    f"{self.out_dir}: the snapshot of epoch {entry['epoch']} could not be written ({exc}); "
                    "the recording is unchanged"
                ) from exc
            raise
        return updated

    # --- internals --------------------------------------------------------------------------------
    def _open(self, *, resume: bool, overwrite: bool) -> dict[str, Any] | None:
        """The manifest to continue (``None``: a new recording), after refusing what must not be touched."""
        from render3d.tracing.tracer import unwrap

        sweep_stale_temps(self.out_dir)  # half-written files of killed processes
        manifest = read_checked(self.out_dir)
        owned = owned_names(manifest, {"pending": self._lock.orphans})
        remove_owned(self.out_dir, set(self._lock.orphans) - owned_names(manifest))  # a dead run's half-writes
        refuse_foreign(self.out_dir, owned, recording=manifest is not None)
        if manifest is None:
            return None
        if overwrite:
            remove_owned(self.out_dir, owned_names(manifest) - {LOCK})
            return None
        if not resume:
            epochs = [s["epoch"] for s in manifest["snapshots"]]
            span = f"epochs {epochs[0]}-{epochs[-1]}" if epochs else "no snapshots yet"
            raise RecordingError(
                f"{self.out_dir} already holds a recording ({len(epochs)} snapshots, {span}); "
                "pass resume=True to continue it, overwrite=True to replace it, or choose another "
                "folder"
            )
        if manifest["probe"]["sha256"] != self.probe_hash:
            raise RecordingError(
                f"{self.out_dir} holds a recording of a different probe "
                f"({manifest['probe']['sha256']} != {self.probe_hash}); resume only with the same "
                "probe, or record into another folder"
            )
        model = type(unwrap(self._traced)).__name__
        if manifest["model"] != model:
            raise RecordingError(
                f"{self.out_dir} holds a recording of {manifest['model']}, not {model}; resume "
                "only with the same model, or record into another folder"
            )
        return manifest

    def _check_epoch(self, epoch: int | float) -> None:
        if isinstance(epoch, bool) or not math.isfinite(epoch) or epoch < 0:
            raise RecordingError(f"epoch must be a finite number >= 0, got {epoch!r}")
        done = self._manifest["snapshots"] if self._manifest else []
        if done and not epoch > done[-1]["epoch"]:
            raise RecordingError(
                f"epoch {epoch} does not come after the last recorded epoch {done[-1]['epoch']} "
                f"in {self.out_dir}; epochs must strictly increase (overwrite=True starts afresh)"
            )

    def _check_resumed_graph(self, manifest: dict[str, Any], signature: str) -> None:
        known = {manifest["signature"], *(s["signature"] for s in manifest["snapshots"])}
        if signature not in known:
            raise RecordingError(
                f"this model's graph (signature {signature}) is not the one recorded in "
                f"{self.out_dir} ({manifest['signature']}); resume only with the same "
                "model, or record into another folder"
            )
        self._resumed = False  # checked once per run

    def _write_probe(self) -> None:
        probe_np = self.probe.detach().cpu().float().numpy()
        with atomic_path(self.out_dir / store.PROBE_FILE, suffix=".npy") as tmp:  # np.save adds .npy
            np.save(tmp, probe_np)

    def _start(self, traced: Any) -> dict[str, Any]:
        probe: dict[str, Any] = {
            "sha256": self.probe_hash,
            "shape": list(self.probe.shape),
            "dtype": str(self.probe.dtype).removeprefix("torch."),
            "file": store.PROBE_FILE,
        }
        if self.probe_name is not None:
            probe["name"] = self.probe_name
        if self.label is not None:
            probe["label"] = self.label
        return {
            "format": store.FORMAT,
            "version": store.VERSION,
            "model": traced.model,
            "signature": traced.signature(),
            "graph_changed": False,
            "probe": probe,
            **({"classes": self.classes} if self.classes is not None else {}),
            "capture": asdict(self.capture),
            "quantization": "uint8 per node and snapshot: value = offset + step * code",
            "graph": store.graph_to_json(traced),
            "snapshots": [],
        }


class WeightHistory:
    """‖w‖, ‖Δw‖ and ‖grad‖ per module owning parameters, Δw against the weights of the last accepted
    snapshot, kept as CPU copies in each parameter's own dtype: one copy of the model, the one the
    difference needs (ResNet-50: 98 MB, peak +173 MB; about 0.5 s a snapshot on one CPU core)."""

    def __init__(self, *, grads: bool = True) -> None:
        self.grads = grads
        self._previous: dict[tuple[str, str], torch.Tensor] = {}
        self._held: dict[str, float] = {}  # Σg² per module path, measured by hold_gradients

    def hold_gradients(self, model: nn.Module) -> None:
        """Keep Σ‖grad‖² per module now, used by :meth:`measure` where a parameter has no gradient then."""
        held: dict[str, float] = {}
        for path, _, p in _own_parameters(model):
            if p.grad is not None:
                held[path] = held.get(path, 0.0) + _norm(p.grad.detach()) ** 2
        self._held = held

    def measure(self, model: nn.Module) -> store.LayerNorms:
        """The norms now. The reference for Δw moves only on :meth:`accept`, so a snapshot that failed
        to write leaves it where it was."""
        paths: list[str] = []
        rows: list[list[Any]] = []
        for path, name, p in _own_parameters(model):
            if not paths or paths[-1] != path:
                paths.append(path)
                rows.append([0.0, 0.0, 0.0, True, False])  # Σw², Σ(Δw)², Σg², have Δw, have grad
            row = rows[-1]
            now = p.detach().to("cpu")  # no copy for a CPU model
            row[0] += _norm(now) ** 2
            before = self._previous.get((path, name))
            if before is None or before.shape != now.shape:
                row[3] = False
            else:
                row[1] += _norm(now.double() - before.double()) ** 2
            if p.grad is not None and self.grads:
                row[4] = True
                row[2] += _norm(p.grad.detach()) ** 2
        for path, row in zip(paths, rows):
            if not row[4] and path in self._held:
                row[2], row[4] = self._held[path], True
        norms = [
            (math.sqrt(w2), math.sqrt(d2) if du else math.nan, math.sqrt(g2) if dg else math.nan)
            for w2, d2, g2, du, dg in rows
        ]
        return store.LayerNorms(tuple(paths), np.array(norms, dtype=np.float64).reshape(-1, 3))

    def accept(self, model: nn.Module) -> None:
        """``model``'s weights (unchanged since :meth:`measure`: tracing does not touch them) are the
        reference for the next ‖Δw‖; each old copy is dropped as its new one is made."""
        kept = {}
        self._held = {}
        for path, name, p in _own_parameters(model):
            self._previous.pop((path, name), None)
            kept[(path, name)] = p.detach().to("cpu", copy=True)
        self._previous = kept


def _own_parameters(model: nn.Module) -> Iterator[tuple[str, str, torch.Tensor]]:
    """(module path, name, parameter) of every parameter, grouped by the module that owns it."""
    from render3d.tracing.tracer import unwrap

    for path, module in unwrap(model).named_modules():
        for name, p in module.named_parameters(recurse=False):
            yield path, name, p


def _norm(t: torch.Tensor) -> float:
    """‖t‖₂ accumulated in float64 on the CPU, float32 on an accelerator (MPS has no float64)."""
    if t.device.type == "cpu":
        return float(torch.linalg.vector_norm(t, dtype=torch.float64))
    return float(torch.linalg.vector_norm(t.float()))


def _nothing() -> None:
    """The finaliser of a Recorder on a rank that does not write: it holds nothing to release."""


def _release(folder: Path, run: str, created: bool) -> None:
    """Drop the lock; remove the folder again if this Recorder created it and never wrote to it."""
    release(folder / LOCK, run)
    if created:
        try:
            folder.rmdir()
        except OSError:  # it holds a recording (or anything else): it stays
            pass


def _resolve_probe(model: nn.Module, probe: torch.Tensor | str) -> torch.Tensor:
    if isinstance(probe, torch.Tensor):
        return probe.detach()
    if isinstance(probe, np.ndarray):
        return torch.from_numpy(probe)
    from render3d.modelspec import default_input_shape
    from render3d.probe import make_probe
    from render3d.tracing.tracer import unwrap

    model = unwrap(model)  # a DDP wrapper does not say what input its module takes
    return make_probe(str(probe), default_input_shape(type(model).__name__, model))


#: the most classes whose logits a snapshot stores exactly (ImageNet-21k has 21,843)
MAX_LOGITS = 100_000


@contextmanager
def _output_logits(model: nn.Module) -> Iterator[dict[str, Any]]:
    """While open, a forward hook on ``model`` keeps its output in the yielded dict under ``"value"``.

    The hook only keeps a reference: it runs inside the trace, where any tensor operation (even
    ``detach``) would be recorded as a node of the graph.
    """
    from render3d.tracing.tracer import unwrap

    found: dict[str, Any] = {}

    def keep(module: nn.Module, args: Any, output: Any) -> None:
        found["value"] = output

    handle = unwrap(model).register_forward_hook(keep)
    try:
        yield found
    finally:
        handle.remove()


def _logits(output: Any) -> np.ndarray | None:
    """``output`` as K float32 logits when it is one floating ``(1, K)`` tensor with K <= MAX_LOGITS."""
    if not (
        isinstance(output, torch.Tensor)
        and output.ndim == 2
        and output.shape[0] == 1
        and 0 < output.shape[1] <= MAX_LOGITS
        and output.is_floating_point()
    ):
        return None
    return output.detach().float().cpu().numpy().reshape(-1).copy()


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
