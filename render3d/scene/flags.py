"""Health flags on the scene: which blocks get a mark, the legend entries and the note under the title.

A block is flagged with every flag of the trace nodes it stands for (a conv→BN→ReLU block whose ReLU
is dead is a dead block; a ``×6`` block with one exploding member is exploding), so folding never
hides a problem. The flags themselves come from :func:`render3d.health.layer_flags`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from render3d.health import FLAGS, flag_summary, layer_flags

if TYPE_CHECKING:
    from render3d.graph import Trace

#: the marks' colour: a pure red used by no category, colour map or NaN/Inf colour, so it reads as an alarm
FLAG_RGB = (235, 16, 16)

#: what each flag means, for its legend entry
MEANINGS = {
    "dead": "no signal",
    "nan": "NaN starts here",
    "inf": "±Inf starts here",
    "exploding": ">100× the median layer",
    "saturated": "pinned at limits",
    "constant": "one value",
}


def scene_flags(
    trace: Trace, members: list[tuple[str, ...]]
) -> tuple[list[tuple[str, ...]], list[tuple[str, tuple[int, int, int]]], str]:
    """Flags per block (``members``: the trace node ids each block stands for), one legend entry per
    flag present and the one-line note (``"1 layer dead, 1 nan, 1 exploding"``; empty when healthy)."""
    per_node = layer_flags(trace)
    blocks = [tuple(f for f in FLAGS if any(f in per_node.get(m, ()) for m in ms)) for ms in members]
    present = {f for b in blocks for f in b}
    legend = [(f"{f}: {MEANINGS[f]}", FLAG_RGB) for f in FLAGS if f in present]
    return blocks, legend, flag_summary(per_node)
