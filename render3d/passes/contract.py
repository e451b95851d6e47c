"""The one primitive every graph pass is made of: contract groups of nodes into blocks.

A pass decides which nodes belong together (``owner``: node id → block id) and what each block
looks like (``nodes``); :func:`contract` re-points every edge and output to the blocks, so no pass
re-implements edge bookkeeping.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from render3d.graph import Node, Trace


def owners(trace: Trace, block_of: dict[str, str]) -> dict[str, str]:
    """Node id → its block, given module call id → block id: the outermost enclosing call found in
    ``block_of`` wins, a leaf call's own node counts as inside that call, other nodes stay themselves."""
    owner: dict[str, str] = {}
    for node in trace.nodes.values():
        block = next((block_of[c] for c in node.stack if c in block_of), None)
        owner[node.id] = block or block_of.get(node.id, node.id)
    return owner


def contract(trace: Trace, nodes: dict[str, Node], owner: dict[str, str], **changes: Any) -> Trace:
    """``trace`` with ``nodes`` and every edge re-pointed to its endpoints' ``owner``: edges inside
    an owner vanish, edges between owners are kept once, in first-seen order."""
    nodes = _carry_attention(trace, nodes, owner)
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for src, dst in trace.edges:
        pair = (owner[src], owner[dst])
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            edges.append(pair)
    outputs = [{**o, "node": owner.get(o["node"], o["node"])} for o in trace.outputs]
    return replace(trace, nodes=nodes, edges=edges, outputs=outputs, **changes)


def _carry_attention(trace: Trace, nodes: dict[str, Node], owner: dict[str, str]) -> dict[str, Node]:
    """Blocks that swallowed an attention op (an SDPA call inside ``blocks.0.attn``) show its maps:
    each block gets those of its last member that has some, as it shows its last output."""
    found: dict[str, np.ndarray] = {}
    for node in trace.nodes.values():
        block = owner.get(node.id, node.id)
        if block != node.id and node.activation is not None and node.activation.attention is not None:
            found[block] = node.activation.attention
    if not found:
        return nodes
    out = dict(nodes)
    for block, maps in found.items():
        shown = out.get(block)
        if shown is not None and shown.activation is not None and shown.activation.attention is not maps:
            out[block] = replace(shown, activation=replace(shown.activation, attention=maps))
    return out


def block_node(trace: Trace, block_id: str, first_member: Node) -> Node:
    """The node that stands for module call ``block_id`` once its members are contracted: the call's
    type and parameters, the shape, statistics and activation of its (first) output."""
    call = trace.modules[block_id]
    out_node = trace.nodes.get(call.outputs[0]) if call.outputs else trace.nodes.get(block_id)
    out_node = out_node or trace.nodes.get(block_id)  # after collapse() the block is its own output
    src = out_node or first_member
    stack = (
        call.stack
        if call.stack or not first_member.stack
        else (first_member.stack[: first_member.stack.index(block_id)] if block_id in first_member.stack else ())
    )
    return Node(
        id=block_id,
        kind="module",
        type=call.type,
        scope=call.path,
        call=call.call,
        shape=src.shape,
        dtype=src.dtype,
        params=call.params,
        shapes=tuple(shape for o in call.outputs if o in trace.nodes and (shape := trace.nodes[o].shape)) or src.shapes,
        stack=stack,
        stats=src.stats,
        activation=src.activation,
        attrs=trace.nodes[block_id].attrs if block_id in trace.nodes else {},  # a leaf block keeps its own
    )
