"""Depth collapse: everything below a module depth becomes one block per module call."""

from __future__ import annotations

from render3d.graph import ModuleCall, Node, Trace
from render3d.passes.contract import block_node, contract


def collapse(trace: Trace, depth: int | None) -> Trace:
    """Contract everything below module depth ``depth`` into one block per module call.

    Pure post-processing: edges between different blocks survive (skips and concats that cross a
    block stay as block edges), edges inside a block disappear. ``None`` returns ``trace`` itself.
    """
    if depth is None:
        return trace
    if depth < 1:
        raise ValueError(f"depth must be >= 1 (1 = the model's direct children) or None, got {depth}")
    owner: dict[str, str] = {}
    blocks: dict[str, Node] = {}
    for node in trace.nodes.values():
        block_id = _block_owner(node, depth, trace.modules)
        owner[node.id] = block_id
        if block_id == node.id:
            blocks[node.id] = node
        elif block_id not in blocks:
            blocks[block_id] = block_node(trace, block_id, node)
    return contract(trace, blocks, owner, depth=depth)


def _block_owner(node: Node, depth: int, modules: dict[str, ModuleCall]) -> str:
    """The id of the block that ``node`` belongs to when the graph is cut at module depth ``depth``."""
    if node.kind in ("input", "output"):
        return node.id
    for call_id in node.stack:
        call = modules.get(call_id)
        if call is not None and call.depth >= depth:
            return call_id
    return node.id
