"""The on-disk recording: one ``.npz`` per snapshot plus a JSON manifest, written atomically.

Layout of a recording folder::

    manifest.json          format, model, graph (Trace.to_dict + what depth collapse needs),
                           graph signature, probe hash/shape (and, when known, its name and class),
                           class names (optional), capture caps, one entry per snapshot
                           (epoch, metrics, file, signature, graph_changed)
    probe.npy              the probe input every snapshot was traced on
    snapshot_0000.npz      activations of snapshot 0 ...
    graph_0003.json        the graph of a snapshot whose signature differs from the first one
    recorder.lock          while a Recorder writes here: its pid, host and run id (see lock.py)

A snapshot ``.npz`` holds ``index`` (a JSON string: one entry per node with id, layout, full shape,
offset, step and the node's stats) and, for entry ``k``, ``q{k}`` (uint8 codes, the reduced
activation) and optionally ``m{k}`` (float16 channel means). Snapshots a Recorder took with
``layer_norms`` also hold ``layer_paths`` (a JSON list of module paths) and ``layer_norms`` (float64,
one row ``‖w‖, ‖Δw‖, ‖grad‖`` per module owning parameters, NaN where there is no value; see
:mod:`render3d.record.metrics`) and ``logits`` (float32, the model's whole ``(1, K)`` output, exact:
the prediction panel's softmax needs every class unquantised); older snapshots simply lack them.
A value is ``offset + step * code`` with ``offset``/``step`` from that node's own min/max in that
snapshot, so the error is at most ``step / 2`` = (max - min) / 510 and zeros after a ReLU stay exact
(the minimum is a code).

Why uint8 + deflate: ResNet-50 at 224×224 with the default caps (64 channels, 32×32) keeps 4.9 M
values per snapshot; float16 would be 9.9 MB (50 snapshots ≈ 0.5 GB), uint8 is 4.9 MB and deflate
brings it to about 4 MB (≈ 0.2 GB for 50), inside the 300 MB budget with the same detail the
static scene shows.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from render3d.atomic import atomic_path, atomic_write_text
from render3d.errors import RecordingError
from render3d.graph import Activation, ModuleCall, Node, Stats, Trace

FORMAT = "render3d-recording"
VERSION = 1
MANIFEST = "manifest.json"
PROBE_FILE = "probe.npy"
LEVELS = 255


def snapshot_name(index: int) -> str:
    return f"snapshot_{index:04d}.npz"


def graph_name(index: int) -> str:
    return f"graph_{index:04d}.json"


def is_recording(path: str | os.PathLike[str]) -> bool:
    """True for a folder holding a recording manifest."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST).is_file()


# --- quantisation -----------------------------------------------------------------------------


def quantize(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """uint8 codes, offset and step with ``values ≈ offset + step * codes`` (|error| ≤ step / 2).

    NaN and ±Inf are stored as the nearest finite end of the range (the node's stats keep their counts).
    """
    x = np.asarray(values, dtype=np.float32)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.zeros(x.shape, dtype=np.uint8), 0.0, 0.0
    lo, hi = float(finite.min()), float(finite.max())
    step = (hi - lo) / LEVELS if hi > lo else 0.0
    if step == 0.0:
        return np.zeros(x.shape, dtype=np.uint8), lo, 0.0
    x = np.nan_to_num(x, nan=lo, posinf=hi, neginf=lo)
    codes = np.rint((x - lo) / step)
    return np.clip(codes, 0, LEVELS).astype(np.uint8), lo, step


def dequantize(codes: np.ndarray, offset: float, step: float) -> np.ndarray:
    return (np.float32(offset) + np.float32(step) * codes.astype(np.float32)).astype(np.float32)


# --- snapshots --------------------------------------------------------------------------------


@dataclass
class StoredNode:
    """One node's entry in a snapshot file (activation still quantised)."""

    id: str
    layout: str
    full_shape: tuple[int, ...]
    offset: float
    step: float
    stats: Stats | None
    codes: np.ndarray
    channel_mean: np.ndarray | None = None

    def values(self) -> np.ndarray:
        """The stored activation as float32 in the tensor's own units (within ``step / 2``)."""
        return dequantize(self.codes, self.offset, self.step)

    def activation(self) -> Activation:
        """An :class:`Activation` as the tracer would have made it (float16 data, scale 1)."""
        values = self.values()
        peak = float(np.abs(values).max()) if values.size else 0.0
        scale = peak / 65504.0 * 1.001 if peak > 65504.0 else 1.0
        data = (values / scale if scale != 1.0 else values).astype(np.float16)
        mean = self.channel_mean.astype(np.float32) if self.channel_mean is not None else None
        return Activation(data=data, layout=self.layout, full_shape=self.full_shape, channel_mean=mean, scale=scale)

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, counts) of the distinct stored values: exact, since there are at most 256."""
        counts = np.bincount(self.codes.reshape(-1), minlength=LEVELS + 1)
        used = np.flatnonzero(counts)
        return np.float32(self.offset) + np.float32(self.step) * used.astype(np.float32), counts[used]


def write_snapshot(
    path: Path, nodes: Iterable[Node], layers: LayerNorms | None = None, logits: np.ndarray | None = None
) -> int:
    """Quantise the activations of ``nodes`` (and store ``layers`` and the output ``logits`` exactly)
    into ``path`` (atomically); returns the file size."""
    index: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    if logits is not None:
        arrays["logits"] = np.asarray(logits, dtype=np.float32).reshape(-1)
    if layers is not None:
        arrays["layer_paths"] = np.array(json.dumps(list(layers.paths)))
        arrays["layer_norms"] = np.asarray(layers.norms, dtype=np.float64).reshape(-1, 3)
    for node in nodes:
        act = node.activation
        if act is None or act.data is None:
            continue
        k = len(index)
        codes, offset, step = quantize(act.values())
        arrays[f"q{k}"] = codes
        if act.channel_mean is not None:
            arrays[f"m{k}"] = np.asarray(act.channel_mean, dtype=np.float16)
        index.append(
            {
                "id": node.id,
                "layout": act.layout,
                "full_shape": list(act.full_shape),
                "offset": offset,
                "step": step,
                "stats": node.stats.to_dict() if node.stats is not None else None,
            }
        )
    arrays["index"] = np.array(json.dumps(index))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            # numpy's stub types **kwds as if a key could be its allow_pickle flag; ours are index/q{k}/m{k}/...
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        size = tmp.stat().st_size
    return size


def read_snapshot(path: Path, only: set[str] | None = None) -> dict[str, StoredNode]:
    """The nodes stored in one snapshot file (all, or only the ids in ``only``)."""
    with _open_snapshot(path) as data:
        index = json.loads(str(data["index"]))
        out: dict[str, StoredNode] = {}
        for k, entry in enumerate(index):
            if only is not None and entry["id"] not in only:
                continue
            stats = Stats(**entry["stats"]) if entry.get("stats") else None
            out[entry["id"]] = StoredNode(
                id=entry["id"],
                layout=entry["layout"],
                full_shape=tuple(entry["full_shape"]),
                offset=float(entry["offset"]),
                step=float(entry["step"]),
                stats=stats,
                codes=data[f"q{k}"],
                channel_mean=data[f"m{k}"] if f"m{k}" in data.files else None,
            )
        return out


@contextmanager
def _open_snapshot(path: Path) -> Iterator[Any]:
    """``np.load(path)``, with any failure to open or read it as one RecordingError naming ``path``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            yield data
    except FileNotFoundError:
        raise RecordingError(f"snapshot file {path} is missing") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise RecordingError(f"snapshot file {path} cannot be read (truncated or damaged?): {exc}") from None


def read_logits(path: Path) -> np.ndarray | None:
    """The model's output logits (float32, one per class) stored exactly with a snapshot, or ``None``
    (an older snapshot, or a model whose output is not one ``(1, K)`` tensor)."""
    with _open_snapshot(path) as data:
        return np.asarray(data["logits"], dtype=np.float32) if "logits" in data.files else None


@dataclass(frozen=True)
class LayerNorms:
    """Per module owning parameters (``paths``), one row of ``norms``: ‖w‖, ‖Δw‖ since the previous
    snapshot, ‖grad‖ (float64, NaN where there is no value: no previous snapshot, no ``.grad``)."""

    paths: tuple[str, ...]
    norms: np.ndarray


def read_snapshot_summary(path: Path) -> tuple[dict[str, Stats | None], LayerNorms | None]:
    """A snapshot's per-node stats and its layer norms (``None`` when not stored), without reading
    any activation: the cheap read for metrics over many snapshots."""
    with _open_snapshot(path) as data:
        stats = {e["id"]: Stats(**e["stats"]) if e.get("stats") else None for e in json.loads(str(data["index"]))}
        if "layer_norms" not in data.files:
            return stats, None
        paths = tuple(json.loads(str(data["layer_paths"])))
        norms = np.asarray(data["layer_norms"], dtype=np.float64).reshape(-1, 3)
    if len(paths) != norms.shape[0] or not all(isinstance(p, str) for p in paths):
        raise RecordingError(
            f"snapshot file {path}: layer_paths and layer_norms disagree "
            f"({len(paths)} paths, {norms.shape[0]} rows; a damaged recording)"
        )
    return stats, LayerNorms(paths, norms)


# --- manifest and graph -----------------------------------------------------------------------


def graph_to_json(trace: Trace) -> dict[str, Any]:
    """``Trace.to_dict()`` (the stable schema) plus what rebuilding an identical scene needs."""
    data = trace.to_dict()
    data["render3d"] = {
        "depth": trace.depth,
        "total_params": trace.total_params,
        "node_extra": {
            n.id: {"dtype": n.dtype, "stack": list(n.stack), "shapes": [list(s) for s in n.shapes]} for n in trace
        },
        "modules": [
            {"id": m.id, "path": m.path, "type": m.type, "call": m.call, "params": m.params, "outputs": list(m.outputs)}
            for m in trace.modules.values()
        ],
    }
    return data


def graph_from_json(data: dict[str, Any]) -> Trace:
    """The inverse of :func:`graph_to_json` (a Trace without activations)."""
    trace = Trace.from_dict(data)
    extra = data.get("render3d") or {}
    for nid, ex in (extra.get("node_extra") or {}).items():
        node = trace.nodes.get(nid)
        if node is not None:
            node.dtype = ex.get("dtype", "")
            node.stack = tuple(ex.get("stack", ()))
            node.shapes = tuple(tuple(s) for s in ex.get("shapes", ())) or node.shapes
    trace.modules = {
        m["id"]: ModuleCall(m["id"], m["path"], m["type"], m["call"], m["params"], tuple(m["outputs"]))
        for m in extra.get("modules", ())
    }
    trace.depth = extra.get("depth")
    trace.total_params = int(extra.get("total_params", 0))
    return trace


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the recording in ``folder``, schema-checked (see :func:`check_manifest`)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise RecordingError(f"recording {folder} does not exist (expected a folder with {MANIFEST})")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordingError(f"{folder} is not a recording: it has no {MANIFEST}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise RecordingError(f"{path} cannot be read: {exc}") from None
    return check_manifest(data, path)


def check_manifest(data: Any, path: Path) -> dict[str, Any]:
    """``data`` if it is a manifest this render3d can read, else RecordingError naming the key.

    Every value later code indexes is checked here, so a damaged or hand-edited manifest fails in
    one line at load time instead of as a KeyError or TypeError deep inside animate.
    """

    def bad(what: str) -> RecordingError:
        return RecordingError(f"{path}: {what} (a damaged recording; record it again)")

    if not isinstance(data, dict):
        raise bad(f"the manifest is a JSON {type(data).__name__}, not an object")
    if data.get("format") != FORMAT:
        raise RecordingError(f"{path} is not a render3d recording manifest (format {data.get('format')!r})")
    version = data.get("version")
    if not _is_int(version) or version < 1:
        raise bad(f"'version' must be a positive integer, got {version!r}")
    if version > VERSION:
        raise RecordingError(f"{path} has format version {version}; this render3d reads up to {VERSION}")
    for key, kind in (("model", str), ("signature", str), ("graph", dict), ("probe", dict), ("snapshots", list)):
        if not isinstance(data.get(key), kind):
            raise bad(f"'{key}' must be a {_KIND_NAMES[kind]}, got {type(data.get(key)).__name__}")
    if not isinstance(data.get("graph_changed", False), bool):
        raise bad("'graph_changed' must be true or false")
    probe = data["probe"]
    if not isinstance(probe.get("sha256"), str):
        raise bad("'probe.sha256' must be a string")
    plain_name(probe.get("file"), "probe.file", path)
    if not isinstance(probe.get("name", ""), str):
        raise bad("'probe.name' must be a string")
    if probe.get("label") is not None and not _is_int(probe["label"]):
        raise bad(f"'probe.label' must be a class index or null, got {probe['label']!r}")
    classes = data.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise bad("'classes' must be a list of class names")
    last: float | None = None
    for i, entry in enumerate(data["snapshots"]):
        where = f"snapshots[{i}]"
        if not isinstance(entry, dict):
            raise bad(f"{where} must be an object, got {type(entry).__name__}")
        if entry.get("index") != i or not _is_int(entry.get("index")):
            raise bad(f"{where}.index must be {i}, got {entry.get('index')!r}")
        epoch = entry.get("epoch")
        if not _is_number(epoch) or not math.isfinite(epoch) or epoch < 0:
            raise bad(f"{where}.epoch must be a finite number >= 0, got {epoch!r}")
        if last is not None and not epoch > last:
            raise bad(f"{where}.epoch {epoch!r} does not come after epoch {last!r}; epochs must strictly increase")
        last = epoch
        plain_name(entry.get("file"), f"{where}.file", path)
        if not isinstance(entry.get("signature"), str):
            raise bad(f"{where}.signature must be a string")
        metrics = entry.get("metrics", {})
        if not isinstance(metrics, dict) or not all(_is_number(v) or isinstance(v, bool) for v in metrics.values()):
            raise bad(f"{where}.metrics must be an object of numbers, got {metrics!r}"[:300])
        if not isinstance(entry.get("graph_changed", False), bool):
            raise bad(f"{where}.graph_changed must be true or false")
        if entry.get("graph_file") is not None:
            plain_name(entry["graph_file"], f"{where}.graph_file", path)
    return data


_KIND_NAMES = {str: "string", dict: "JSON object", list: "JSON list"}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plain_name(value: Any, key: str, manifest: Path) -> str:
    """``value`` if it names a file directly inside the recording folder (no path, no ``..``)."""
    if (
        not isinstance(value, str)
        or value in ("", ".", "..")
        or "/" in value
        or "\\" in value
        or "\0" in value
        or os.path.isabs(value)
    ):
        raise RecordingError(f"{manifest}: '{key}' must be a file name inside the recording folder, got {value!r}")
    return value


def owned_files(manifest: dict[str, Any]) -> set[str]:
    """The files a (checked) manifest lists: the only files a recording may delete or replace."""
    names = {MANIFEST, manifest["probe"]["file"]}
    for entry in manifest["snapshots"]:
        names.add(entry["file"])
        if entry.get("graph_file"):
            names.add(entry["graph_file"])
    return names


def check_snapshot_file(folder: Path, name: str) -> Path:
    """The path of snapshot file ``name`` if it is a regular .npz inside ``folder``; RecordingError otherwise.

    Cheap: opens the zip directory only (a truncated file loses it); the arrays are read on demand.
    """
    path = folder / name
    try:
        real = path.resolve(strict=True)
        if real.parent != folder.resolve():
            raise RecordingError(f"snapshot file {path} points outside the recording folder (to {real})")
        if not stat.S_ISREG(real.stat().st_mode):
            raise RecordingError(f"snapshot file {path} is not a regular file")
        if real.stat().st_size == 0:
            raise RecordingError(f"snapshot file {path} is empty (an interrupted write?)")
        with zipfile.ZipFile(real) as zf:
            if "index.npy" not in zf.namelist():
                raise RecordingError(f"snapshot file {path} is not a render3d snapshot (no 'index' array)")
    except RecordingError:
        raise
    except FileNotFoundError:
        raise RecordingError(f"snapshot file {path} is missing") from None
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as exc:
        raise RecordingError(f"snapshot file {path} is not a readable .npz (truncated?): {exc}") from None
    return path


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1, allow_nan=True) + "\n")


def plain_number(name: str, value: Any) -> float | int | bool:
    """A metric as a JSON number: Python/numpy/torch scalars; anything else is a TypeError."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            raise TypeError(
                f"metric {name!r} must be a scalar, got an array of shape {tuple(getattr(value, 'shape', ()))}"
            ) from None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value
    raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__}")


def epoch_value(epoch: Any) -> int | float:
    value = plain_number("epoch", epoch)
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    return value
