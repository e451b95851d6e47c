"""``render3d doctor``: what looks wrong in a model, ranked, one line per finding.

Numpy only: the findings come from a :class:`~render3d.graph.Trace` with captured statistics (and,
for a recording, the per-layer training metrics it stored), so a recording can be examined on a
machine that never ran the model. The per-layer flags are :mod:`render3d.health`'s; this module only
ranks them, traces each back to where it starts and adds what needs the graph or the recording.

Findings, worst first (within one kind, in execution order):

``nan``, ``inf``, ``exploding``, ``dead``, ``saturated``, ``constant``
    a layer :func:`render3d.health.layer_flags` flags. A problem a parent already has is *carried*,
    not new (NaN flows on through every later layer, and so does the NaN an Inf makes; a ReLU after a
    dead layer is dead too), so each problem is reported once, where it first appears in execution
    order, with the layers feeding it and how many later layers carry it.
``branch``
    a dead or constant layer that feeds a merge (a residual add, a concat: a node with two or more
    activation parents): that branch never fires, whatever comes after. Reported instead of its
    ``dead``/``constant`` line.
``frozen``
    (recordings) a layer whose update ratio ‖Δw‖/‖w‖ is at most :data:`FROZEN_RATIO` at every
    snapshot after the first: it is not learning (``requires_grad=False``, a zero learning rate, a
    parameter missing from the optimizer).
``vanishing``
    (recordings with gradients) at the last snapshot, the gradient norm of the layer nearest the
    input is below :data:`VANISHING_RATIO` times the largest layer gradient norm.

Layers are named as the scene labels them (:func:`render3d.scene.names.block_names` over the
trace's nodes, unfolded), so a line of the report points at a block of the picture.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from render3d.graph import Node, Stats, Trace
from render3d.health import SATURATION_MARGIN, layer_flags, magnitude, median_magnitude, own_flags
from render3d.scene.flags import FLAG_RGB
from render3d.scene.names import block_names

if TYPE_CHECKING:
    from render3d.api import Spec
    from render3d.record.recording import LayerMetric, Recording
    from render3d.scene.model import Scene

__all__ = [
    "FROZEN_RATIO",
    "KINDS",
    "TRAINING_KINDS",
    "VANISHING_RATIO",
    "Diagnosis",
    "Finding",
    "diagnose",
    "diagnose_recording",
    "diagnose_spec",
    "findings_scene",
    "format_report",
    "mark_findings",
]

#: the kinds of finding, worst first: the rank order of the report
KINDS = ("nan", "inf", "exploding", "dead", "saturated", "constant", "branch", "frozen", "vanishing")
#: an update ratio ‖Δw‖/‖w‖ at or below this between every pair of snapshots reads as "not learning":
#: an untouched weight gives exactly 0, the layers of the tiny DigitsCNN of tests/test_doctor.py move by
#: 0.06-0.11 an epoch, and those starved by a vanishing gradient there by 1e-8 or less
FROZEN_RATIO = 1e-7
#: the gradient norm nearest the input below this fraction of the largest layer's reads as vanished
VANISHING_RATIO = 1e-3
#: the kinds only a recording shows (no per-layer flag marks them): their legend entries
TRAINING_KINDS = {"frozen": "not learning", "vanishing": "gradient vanished"}
#: flags of a layer with no signal: the ``branch`` finding replaces them on a layer feeding a merge
_SILENT = ("dead", "constant")
#: flags that are one problem when carried: no signal in, no signal out (a Linear after a dead ReLU is
#: constant: its bias); a NaN made from an Inf (inf - inf, 0 · inf) comes from that Inf
_PROBLEM = {"dead": "silent", "constant": "silent", "nan": "non-finite", "inf": "non-finite"}


@dataclass(frozen=True)
class Finding:
    """One line of the report: what (``kinds``, worst first), where (``node`` id, ``name`` as the scene
    labels it) and the numbers behind it (``detail``)."""

    kinds: tuple[str, ...]
    node: str
    name: str
    detail: str

    @property
    def rank(self) -> int:
        return min(KINDS.index(k) for k in self.kinds)

    def line(self, width: int = 0) -> str:
        return f"{', '.join(self.kinds):<{width}}  {self.name}: {self.detail}"


def diagnose(trace: Trace, recording: Recording | None = None) -> list[Finding]:
    """The ranked findings of one traced forward pass (empty for a healthy model); with the
    ``recording`` it came from (``recording.trace(i)``), also frozen layers over the whole recording
    and gradients vanishing towards the input at its last snapshot.

    Raises ValueError for a trace without statistics (``capture="none"``), which would read as healthy.
    """
    if all(node.stats is None for node in trace):
        raise ValueError(
            f"trace of {trace.model} has no activation statistics to examine; "
            "trace it with capture='reduced' (the default)"
        )
    names = dict(zip(trace.nodes, block_names(list(trace.nodes.values()))))
    order = {nid: i for i, nid in enumerate(trace.nodes)}
    findings = _layer_findings(trace, names)
    if recording is not None:
        grads = recording.layer_metric("grad_norm")
        findings += _frozen(recording.layer_metric("update_ratio"), grads, names)
        findings += _vanishing(grads, names, order)
    return sorted(findings, key=lambda f: (f.rank, order.get(f.node, len(order))))


@dataclass(frozen=True)
class Diagnosis:
    """What ``render3d doctor`` reports on: the trace examined, its findings and what it is of."""

    trace: Trace
    findings: list[Finding]
    #: the report's headline subject: the model, or the recording and the epoch examined
    subject: str


def diagnose_spec(spec: Spec) -> Diagnosis:
    """Trace the model ``spec`` names (statistics captured) and diagnose that forward pass."""
    from render3d.api import trace_spec

    trace = trace_spec(spec, capture="reduced")
    return Diagnosis(trace, diagnose(trace), trace.model)


def diagnose_recording(path: str | os.PathLike[str]) -> Diagnosis:
    """Diagnose a recording's last snapshot, with the training metrics of all of them."""
    from render3d.record.recording import load_recording

    recording = load_recording(path)
    trace = recording.trace(len(recording) - 1)
    return Diagnosis(
        trace, diagnose(trace, recording), f"{recording.model} (recording {path}, epoch {recording.epochs[-1]})"
    )


def findings_scene(diagnosis: Diagnosis, *, size: tuple[int, int] | None = None) -> Scene:
    """The activations scene of the diagnosed trace with every culprit marked (:func:`mark_findings`)."""
    from render3d.api import to_scene

    scene = to_scene(diagnosis.trace, mode="activations", size=size)
    return mark_findings(scene, diagnosis.findings)


def format_report(findings: list[Finding], subject: str, *, max_lines: int = 20) -> str:
    """The report as text: a headline, then one numbered line per finding (at most ``max_lines``)."""
    if not findings:
        return f"{subject}: no problems found"
    counts = Counter(f.kinds[0] for f in findings)
    summary = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])
    plural = "s" if len(findings) > 1 else ""
    lines = [f"{subject}: {len(findings)} problem{plural} ({summary})"]
    width = max(len(", ".join(f.kinds)) for f in findings)
    for i, finding in enumerate(findings[:max_lines], 1):
        lines.append(f"{i:>3}. {finding.line(width)}")
    if len(findings) > max_lines:
        lines.append(f"     … and {len(findings) - max_lines} more")
    return "\n".join(lines)


def mark_findings(scene: Scene, findings: list[Finding]) -> Scene:
    """``scene`` (built from the same trace) with the blocks that hold a ``frozen`` or ``vanishing``
    layer marked as the per-layer flags are marked (a red outline and badge) and a legend entry per
    kind: the picture then shows every culprit of the report."""
    kinds = {f.node: [k for k in f.kinds if k in TRAINING_KINDS] for f in findings}
    blocks = scene.blocks
    flags = []
    for own, members in zip(blocks.flags, blocks.members, strict=True):
        extra = [k for m in members for k in kinds.get(m, ()) if k not in own]
        flags.append((*own, *dict.fromkeys(extra)))
    present = {k for fl in flags for k in fl}
    legend = [(f"{k}: {meaning}", FLAG_RGB) for k, meaning in TRAINING_KINDS.items() if k in present]
    return replace(scene, blocks=replace(blocks, flags=flags), legend=[*scene.legend, *legend])


# --- one traced pass ---------------------------------------------------------------------------------


def _layer_findings(trace: Trace, names: dict[str, str]) -> list[Finding]:
    """One finding per layer where a flagged problem starts, with how many later layers carry it."""
    present = own_flags(trace)
    flags = layer_flags(trace, own=present)
    parents = {nid: [p for p in ps if trace.nodes[p].kind != "constant"] for nid, ps in trace.parent_map().items()}
    origin: dict[tuple[str, str], str] = {}  # (node, problem) -> the earliest node the problem came from
    carried: dict[str, set[str]] = {}  # that node -> the later nodes carrying one of its problems
    own: dict[str, list[str]] = {}
    for nid in trace.nodes:
        for flag in present[nid]:
            problem = _PROBLEM.get(flag, flag)
            source = next((origin[(p, problem)] for p in parents[nid] if (p, problem) in origin), None)
            origin[(nid, problem)] = source or nid
            if source is not None:
                carried.setdefault(source, set()).add(nid)
            elif flag in flags[nid]:
                own.setdefault(nid, []).append(flag)
    children = trace.child_map()
    return [
        _layer_finding(trace, nid, found, carried.get(nid, set()), names, parents, children)
        for nid, found in own.items()
    ]


def _layer_finding(
    trace: Trace,
    nid: str,
    own: list[str],
    carried: set[str],
    names: dict[str, str],
    parents: dict[str, list[str]],
    children: dict[str, list[str]],
) -> Finding:
    """The line for a layer where ``own`` flags start; a dead or constant one, or a chain of layers
    carrying that, feeding a merge is a ``branch``."""
    node = trace.nodes[nid]
    merges: dict[str, None] = {}  # ordered set
    if set(own) & set(_SILENT):
        for m in (nid, *(n for n in trace.nodes if n in carried)):
            merges.update((c, None) for c in children[m] if len(parents[c]) >= 2 and c not in carried)
    if merges:
        kinds = ["branch", *(k for k in own if k not in _SILENT)]
        into = ", ".join(names[c] for c in merges)
        detail = f"never fires ({_values(node.stats)}): the branch into {into} contributes nothing"
    else:
        kinds = own
        shown = [f for f in own if not (f == "dead" and "constant" in own)]  # "constant 0" says both
        detail = "; ".join(_flag_detail(trace, node, flag, names, parents) for flag in shown)
    if carried:
        detail += f"; {len(carried)} later {'layer carries' if len(carried) == 1 else 'layers carry'} it"
    return Finding(tuple(sorted(kinds, key=KINDS.index)), nid, names[nid], detail)


def _flag_detail(trace: Trace, node: Node, flag: str, names: dict[str, str], parents: dict[str, list[str]]) -> str:
    st = node.stats
    if st is None:
        return flag
    if flag in ("nan", "inf"):
        count = st.nan_count if flag == "nan" else st.inf_count
        word = "NaN" if flag == "nan" else "Inf"
        fed = ", ".join(names[p] for p in parents[node.id]) or "no layer"
        return f"{word} first appears here ({count:,} of {st.numel:,} values), fed by {fed}"
    if flag == "exploding":
        median = median_magnitude(trace)
        return f"p99 |x| {_num(magnitude(st))} = {_num(magnitude(st) / median)}× the median layer's ({_num(median)})"
    if flag == "dead":
        return f"constant {_num(st.min)}" if st.min == st.max != 0 else f"{st.zero_fraction:.1%} zeros"
    if flag == "saturated":
        margin = _num(SATURATION_MARGIN)
        return f"{st.near_one_fraction:.0%} of values within {margin} of ±1, {st.near_zero_fraction:.0%} of 0"
    return _values(st)


def _values(st: Stats | None) -> str:
    if st is None:
        return "no statistics"
    if st.min == st.max:
        return f"constant {_num(st.min)}"
    return f"{st.zero_fraction:.1%} zeros, range {_num(st.min)} … {_num(st.max)}"


def _num(value: float) -> str:
    """Short, readable numbers: 0, 0.031, 2.5, 15,000, 3.2e+09."""
    if not math.isfinite(value) or value == 0:
        return str(value) if value else "0"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.2g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


# --- over a recording ----------------------------------------------------------------------------------


def _frozen(ratios: LayerMetric, grads: LayerMetric, names: dict[str, str]) -> list[Finding]:
    values = ratios.values[1:]  # the first snapshot has nothing to compare with
    if values.shape[0] == 0:
        return []
    first, last = ratios.epochs[1], ratios.epochs[-1]
    span = f"at epoch {last}" if len(values) == 1 else f"from epoch {first} to {last}"
    no_grad = {layer for layer, col in zip(grads.node_ids, grads.values.T) if np.isnan(col).all()}
    findings = []
    for layer, col in zip(ratios.node_ids, values.T):
        if np.isfinite(col).all() and (col <= FROZEN_RATIO).all():
            bound = "= 0" if col.max() == 0 else f"≤ {_num(float(col.max()))}"
            detail = f"not learning: update ratio ‖Δw‖/‖w‖ {bound} {span}{', no gradient' if layer in no_grad else ''}"
            findings.append(Finding(("frozen",), layer, names.get(layer, layer), detail))
    return findings


def _vanishing(grads: LayerMetric, names: dict[str, str], order: dict[str, int]) -> list[Finding]:
    last = grads.values[-1] if len(grads.values) else []
    have = sorted(
        (order.get(layer, len(order)), layer, float(g))
        for layer, g in zip(grads.node_ids, last)
        if math.isfinite(g) and g > 0
    )
    if len(have) < 2:
        return []
    _, first, g_first = have[0]
    g_max, top = max((g, layer) for _, layer, g in have)
    if g_first >= VANISHING_RATIO * g_max:
        return []
    detail = (
        f"gradient norm {_num(g_first)} nearest the input, {_num(g_max / g_first)}× below "
        f"{names.get(top, top)}'s ({_num(g_max)})"
    )
    return [Finding(("vanishing",), first, names.get(first, first), detail)]
