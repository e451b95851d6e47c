"""Reading a recording back: the graph, the metrics, snapshots on demand, colour limits over time.

Numpy only (no torch, no VTK): a recording can be inspected and animated on a machine that never
ran the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from render3d.errors import RecordingError
from render3d.graph import Stats, Trace
from render3d.record import store
from render3d.record.metrics import check_metric, module_paths, param_metric, rows_under, stats_metric

__all__ = ["LayerMetric", "Recording", "SnapshotInfo", "load_recording", "pooled_percentiles"]


class LayerMetric(NamedTuple):
    """A training-health metric over a recording: ``values[s, j]`` is layer ``node_ids[j]`` at
    snapshot ``s`` (epoch ``epochs[s]``), float64, NaN where there is no value."""

    epochs: list[int | float]
    node_ids: list[str]
    values: np.ndarray


@dataclass(frozen=True)
class SnapshotInfo:
    """One manifest entry: what was recorded when (the activations stay on disk)."""

    index: int
    epoch: int | float
    file: str
    metrics: dict[str, Any]
    signature: str
    graph_changed: bool = False
    graph_file: str | None = None


class Recording:
    """A recording folder: ``graph`` (the first snapshot's Trace, no activations), ``snapshots``
    (manifest entries), ``metrics`` (one dict per snapshot); activations are read per snapshot.

    Examples
    --------
    >>> rec = load_recording("runs/recording")  # doctest: +SKIP
    >>> rec.epochs, rec.metrics[-1]  # doctest: +SKIP
    ([1, 2, 3], {'loss': 0.41, 'acc': 0.912})
    >>> rec.values(2, "conv1#1").shape  # doctest: +SKIP
    (16, 32, 32)
    >>> epochs, layers, ratios = rec.layer_metric("update_ratio")  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.manifest = store.read_manifest(self.path)
        self.snapshots = [
            SnapshotInfo(
                index=s["index"],
                epoch=s["epoch"],
                file=s["file"],
                metrics=dict(s.get("metrics", {})),
                signature=s["signature"],
                graph_changed=s.get("graph_changed", False),
                graph_file=s.get("graph_file"),
            )
            for s in self.manifest["snapshots"]
        ]
        if not self.snapshots:
            raise RecordingError(f"recording {self.path} has no snapshots yet")
        for info in self.snapshots:
            store.check_snapshot_file(self.path, info.file)
        self.graph = _parse_graph(self.manifest["graph"], self.path / store.MANIFEST)
        self._cache: tuple[int, dict[str, store.StoredNode]] | None = None
        self._summaries: dict[int, tuple[dict[str, Stats | None], store.LayerNorms | None]] = {}

    # --- metadata ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.snapshots)

    def __repr__(self) -> str:
        flag = ", graph changed" if self.graph_changed else ""
        return f"Recording({str(self.path)!r}: {self.model}, {len(self)} snapshots{flag})"

    @property
    def model(self) -> str:
        return str(self.manifest.get("model", ""))

    @property
    def signature(self) -> str:
        return str(self.manifest["signature"])

    @property
    def graph_changed(self) -> bool:
        """True when at least one snapshot traced a different graph than the first one."""
        return bool(self.manifest.get("graph_changed", False))

    @property
    def epochs(self) -> list[int | float]:
        return [s.epoch for s in self.snapshots]

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return [dict(s.metrics) for s in self.snapshots]

    def consistent(self) -> list[int]:
        """Indices of the snapshots whose graph equals the first one's (the ones that animate together)."""
        return [s.index for s in self.snapshots if not s.graph_changed and s.signature == self.signature]

    def probe(self) -> np.ndarray:
        """The probe input every snapshot was traced on."""
        path = self.path / self.manifest["probe"]["file"]
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise RecordingError(f"probe file {path} cannot be read (missing or damaged?): {exc}") from None

    @property
    def probe_name(self) -> str | None:
        """What the probe shows (``"digit 3"``, ``"cat.png"``); ``None`` in recordings that do not say."""
        return self.manifest["probe"].get("name")

    @property
    def probe_label(self) -> int | None:
        """The probe's true class index when it is known."""
        return self.manifest["probe"].get("label")

    @property
    def classes(self) -> list[str] | None:
        """The output classes' names, when the recording was given them."""
        classes = self.manifest.get("classes")
        return None if classes is None else list(classes)

    def logits(self, index: int) -> np.ndarray | None:
        """The model's output logits at snapshot ``index`` (float32, one per class), or ``None`` when
        the model's output is not one ``(1, K)`` tensor. Stored exactly since the recorder keeps
        them; in older recordings, the output node's quantised activation when it holds every class."""
        exact = store.read_logits(self.path / self.snapshots[index].file)
        if exact is not None:
            return exact
        outputs = self.graph.outputs
        if len(outputs) != 1:
            return None
        stored = self.read(index, [outputs[0]["node"]]).get(outputs[0]["node"])
        if (
            stored is None
            or len(stored.full_shape) != 2
            or stored.full_shape[0] != 1
            or stored.codes.size != stored.full_shape[1]
        ):
            return None
        return stored.values().reshape(-1)

    # --- activations ------------------------------------------------------------------------------------
    def read(self, index: int, nodes: Iterable[str] | None = None) -> dict[str, store.StoredNode]:
        """The stored (quantised) nodes of snapshot ``index``; the last full read is cached."""
        info = self.snapshots[index]
        if self._cache is not None and self._cache[0] == index:
            cached = self._cache[1]
            return cached if nodes is None else {k: v for k, v in cached.items() if k in set(nodes)}
        result = store.read_snapshot(self.path / info.file, only=set(nodes) if nodes is not None else None)
        if nodes is None:
            self._cache = (index, result)
        return result

    def values(self, index: int, node_id: str) -> np.ndarray:
        """Snapshot ``index``'s activation of ``node_id`` as float32 (reduced layout, own units)."""
        stored = self.read(index, [node_id]).get(node_id)
        if stored is None:
            raise RecordingError(
                f"snapshot {index} of {self.path} has no activation for node {node_id!r} "
                "(node ids: recording.graph.nodes)"
            )
        return stored.values()

    def snapshot_graph(self, index: int) -> Trace:
        """The graph snapshot ``index`` was traced with (its own, when it was flagged as changed)."""
        info = self.snapshots[index]
        if not info.graph_file:
            return self.graph
        path = self.path / info.graph_file
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise RecordingError(f"graph file {path} cannot be read (missing or damaged?): {exc}") from None
        return _parse_graph(data, path)

    def trace(self, index: int = 0) -> Trace:
        """Snapshot ``index`` as a :class:`Trace` with activations and stats, ready for ``build_scene``."""
        graph = self.snapshot_graph(index)
        stored = self.read(index)
        nodes = {}
        for nid, node in graph.nodes.items():
            s = stored.get(nid)
            nodes[nid] = replace(node, activation=s.activation(), stats=s.stats) if s is not None else replace(node)
        return replace(graph, nodes=nodes)

    # --- training health per layer ------------------------------------------------------------------
    def summary(self, index: int) -> tuple[dict[str, Stats | None], store.LayerNorms | None]:
        """Snapshot ``index``'s per-node stats and per-module norms (``None`` in recordings made before
        render3d stored them, or with ``layer_norms=False``); no activation is read."""
        if index not in self._summaries:
            self._summaries[index] = store.read_snapshot_summary(self.path / self.snapshots[index].file)
        return self._summaries[index]

    def layer_metric(self, name: str, groups: Mapping[str, Sequence[str]] | None = None) -> LayerMetric:
        """Metric ``name`` (see :data:`render3d.record.metrics.METRICS`) per layer and snapshot.

        Layers are the first graph's nodes that have a value in some snapshot (for parameter metrics:
        the nodes owning parameters; a frozen layer is listed, its gradient norm NaN throughout), in
        execution order. ``groups`` instead maps a key to the node ids it stands for (a scene block
        and its members): parameter metrics take all their parameters together, activation metrics
        the last member's output. Reads every snapshot's index, never an activation.
        """
        metric = check_metric(name)
        graph = self.graph
        keyed = {nid: (nid,) for nid in graph.nodes} if groups is None else {k: tuple(v) for k, v in groups.items()}
        values = np.full((len(self), len(keyed)), np.nan)
        applies = np.zeros(len(keyed), dtype=bool)
        rows: dict[tuple[str, ...], list[np.ndarray]] = {}
        for s in range(len(self)):
            stats, layers = self.summary(s)
            if metric.source == "activation":
                for j, members in enumerate(keyed.values()):
                    values[s, j] = stats_metric(stats.get(members[-1]) if members else None, name)
                applies |= np.isfinite(values[s])
                continue
            if layers is None:
                continue
            if layers.paths not in rows:
                rows[layers.paths] = [rows_under(layers.paths, _paths(graph, members)) for members in keyed.values()]
            for j, r in enumerate(rows[layers.paths]):
                values[s, j] = param_metric(layers, r, name)
                applies[j] |= bool(len(r))
        keys = list(keyed)
        keep = np.flatnonzero(applies) if groups is None else np.arange(len(keys))
        return LayerMetric(self.epochs, [keys[j] for j in keep], values[:, keep])

    # --- colour limits -------------------------------------------------------------------------------
    def color_limits(
        self,
        nodes: Iterable[str] | None = None,
        *,
        snapshots: Iterable[int] | None = None,
        q: tuple[float, float] = (1.0, 99.0),
    ) -> dict[str, tuple[float, float]]:
        """Per node, the ``q`` percentiles (p1/p99) of its stored values pooled over all snapshots.

        One pair per layer for the whole recording, so a colour means the same value in every frame.
        Exact for the stored values (each snapshot contributes its ≤256-bin histogram); reads one
        snapshot at a time.
        """
        want = None if nodes is None else set(nodes)
        indices = list(range(len(self))) if snapshots is None else list(snapshots)
        pools: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        for i in indices:
            stored = store.read_snapshot(self.path / self.snapshots[i].file, only=want)
            for nid, node in stored.items():
                vals, counts = node.histogram()
                pool = pools.setdefault(nid, ([], []))
                pool[0].append(vals)
                pool[1].append(counts)
        return {nid: pooled_percentiles(np.concatenate(v), np.concatenate(c), q) for nid, (v, c) in pools.items()}


def _parse_graph(data: Any, path: Path) -> Trace:
    """The Trace stored in ``data``; a damaged graph is a RecordingError naming ``path``."""
    try:
        return store.graph_from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise RecordingError(
            f"{path}: the stored graph is damaged ({type(exc).__name__}: {exc}); record it again"
        ) from None


def pooled_percentiles(
    values: np.ndarray, counts: np.ndarray, q: tuple[float, float] = (1.0, 99.0)
) -> tuple[float, float]:
    """Lower/upper percentiles of a weighted sample; never zero width (same padding as the scene)."""
    from render3d.scene.activations import color_limits

    order = np.argsort(values, kind="stable")
    v, c = values[order].astype(np.float64), np.cumsum(counts[order], dtype=np.float64)
    total = c[-1] if c.size else 0.0
    if total <= 0:
        return color_limits(None, np.zeros(0, dtype=np.float32))
    lo = float(v[np.searchsorted(c, total * q[0] / 100.0, side="left")])
    hi = float(v[min(np.searchsorted(c, total * q[1] / 100.0, side="left"), v.size - 1)])
    if not hi > lo:  # a near-constant layer: widen to the full range first
        lo, hi = float(v[0]), float(v[-1])
    return color_limits(None, np.array([lo, hi], dtype=np.float32))


def _paths(graph: Trace, members: Sequence[str]) -> list[str]:
    """The module paths the nodes ``members`` stand for (unknown ids stand for none)."""
    return [p for nid in members if nid in graph.nodes for p in module_paths(graph.nodes[nid])]


def load_recording(path: Recording | str | os.PathLike[str]) -> Recording:
    """Open the recording in folder ``path`` (see :class:`Recording`), or pass one already open through;
    raises :class:`RecordingError`."""
    return path if isinstance(path, Recording) else Recording(path)
