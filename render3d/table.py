"""The layer table that ``print(trace)`` and ``render3d trace`` show, in the torchinfo idiom."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from render3d.graph import Trace

COLUMNS = ("Layer (id)", "Type", "Output shape", "Params", "Parents")
MAX_PARENTS_WIDTH = 48


def _shape(shape: tuple[int, ...] | None) -> str:
    return "--" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _parents(parents: list[str]) -> str:
    text = ", ".join(parents) or "--"
    if len(text) > MAX_PARENTS_WIDTH:
        text = text[: MAX_PARENTS_WIDTH - 3] + "..."
    return text


def format_trace(trace: Trace) -> str:
    """One row per node, indented by module depth, then totals."""
    parent_map = trace.parent_map()
    rows = []
    for node in trace.nodes.values():
        indent = "  " * len(node.stack)
        rows.append((
            indent + node.id,
            node.type,
            _shape(node.shape),
            f"{node.params:,}" if node.params else "--",
            _parents(parent_map[node.id]),
        ))
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) if rows else len(COLUMNS[i]) for i in range(5)]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i != 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    merges = sum(1 for p in parent_map.values() if len(p) > 1)
    depth = "full" if trace.depth is None else str(trace.depth)
    out = [rule, line(COLUMNS), rule, *(line(r) for r in rows), rule]
    out.append(f"Model: {trace.model}    nodes: {len(trace.nodes):,}    edges: {len(trace.edges):,}    "
               f"merges: {merges}    depth: {depth}")
    out.append(f"Total params: {trace.total_params:,}")
    out.append(rule)
    return "\n".join(out)
