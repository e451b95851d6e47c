"""The layer table that ``print(trace)`` and ``render3d trace`` show, in the torchinfo idiom.

When the trace captured statistics, each row also gets the numbers a debugging engineer reads first
(zero %, min, max, mean ± std, NaN/Inf counts) and the layer's health flags (:mod:`render3d.health`),
and the totals end with a one-line count of the flags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from render3d.graph import Node, Trace

COLUMNS = ("Layer (id)", "Type", "Output shape", "Params", "Parents")
STAT_COLUMNS = ("Zero %", "Min", "Max", "Mean ± std", "NaN/Inf", "Flags")
#: columns of numbers, right-aligned like torchinfo's Param #
_RIGHT = {"Params", "Zero %", "Min", "Max", "Mean ± std", "NaN/Inf"}
MAX_PARENTS_WIDTH = 48


def _shape(shape: tuple[int, ...] | None) -> str:
    return "--" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _parents(parents: list[str]) -> str:
    text = ", ".join(parents) or "--"
    if len(text) > MAX_PARENTS_WIDTH:
        text = text[: MAX_PARENTS_WIDTH - 3] + "..."
    return text


def _num(value: float) -> str:
    return f"{value:.4g}"


def _stat_cells(node: Node, flags: tuple[str, ...]) -> tuple[str, ...]:
    st = node.stats
    if st is None:
        return ("--",) * 5 + (", ".join(flags) or "--",)
    bad = f"{st.nan_count:,}/{st.inf_count:,}" if st.nan_count or st.inf_count else "--"
    zeros = f"{100 * st.zero_fraction:.1f}" if st.mean == st.mean else "--"  # no finite value: no zeros either
    return (zeros, _num(st.min), _num(st.max), f"{_num(st.mean)} ± {_num(st.std)}", bad, ", ".join(flags) or "--")


def format_trace(trace: Trace, *, stats: bool | None = None) -> str:
    """One row per node, indented by module depth, then totals.

    ``stats``: add the statistics and flags columns (default: when any node has statistics).
    """
    from render3d.health import flag_summary, layer_flags

    if stats is None:
        stats = any(node.stats is not None for node in trace.nodes.values())
    flags = layer_flags(trace) if stats else {}
    columns = COLUMNS + (STAT_COLUMNS if stats else ())
    parent_map = trace.parent_map()
    rows = []
    for node in trace.nodes.values():
        indent = "  " * len(node.stack)
        row = (
            indent + node.id,
            node.type,
            _shape(node.shape),
            f"{node.params:,}" if node.params else "--",
            _parents(parent_map[node.id]),
        )
        rows.append(row + (_stat_cells(node, flags[node.id]) if stats else ()))
    widths = [
        max(len(columns[i]), *(len(r[i]) for r in rows)) if rows else len(columns[i]) for i in range(len(columns))
    ]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if name in _RIGHT else c.ljust(w) for name, c, w in zip(columns, cells, widths)
        ).rstrip()

    merges = sum(1 for p in parent_map.values() if len(p) > 1)
    depth = "full" if trace.depth is None else str(trace.depth)
    out = [rule, line(columns), rule, *(line(r) for r in rows), rule]
    out.append(
        f"Model: {trace.model}    nodes: {len(trace.nodes):,}    edges: {len(trace.edges):,}    "
        f"merges: {merges}    depth: {depth}"
    )
    out.append(f"Total params: {trace.total_params:,}")
    if stats:
        out.append(f"Flags: {flag_summary(flags) or 'none'}")
    out.append(rule)
    return "\n".join(out)
