"""Encoder–decoder (sequence-to-sequence) models: which blocks belong to the encoder stack and which
to the decoder stack, so the layout can draw them as two rows joined by cross-attention bridges.

A model is sequence-to-sequence when it has an ``encoder`` and a ``decoder`` module subtree and the
decoder is fed by a model input of its own, not only through the encoder (T5, BART, Whisper read
``decoder_input_ids``). A U-Net's ``decoder`` is reached from the input only through its encoder, so
it keeps the U (:func:`~render3d.scene.layout.detect_u_bridges`).

Pure numpy; O(blocks + edges) per propagation round.
"""

from __future__ import annotations

import numpy as np

from render3d.scene.layout import adjacency

ENCODER, DECODER = 0, 1
_NAMES = {"encoder": ENCODER, "decoder": DECODER}


def _named_stack(scope: str) -> int:
    """ENCODER / DECODER for a scope under a module called ``encoder`` / ``decoder``, else -1."""
    for part in scope.split("."):
        if part in _NAMES:
            return _NAMES[part]
    return -1


def seq2seq_stacks(scopes: list[str], src: np.ndarray, dst: np.ndarray, is_input: np.ndarray) -> np.ndarray | None:
    """(N,) ENCODER or DECODER per block for a sequence-to-sequence model, ``None`` for any other.

    Blocks outside both subtrees (inputs, shared embeddings, heads, outputs) join the stack they
    feed, else the stack that feeds them (the decoder wins), else the decoder (the output's stack)."""
    n = len(scopes)
    stack = np.array([_named_stack(s) for s in scopes], dtype=np.int64)
    if not (stack == ENCODER).any() or not (stack == DECODER).any():
        return None
    parents, children = adjacency(n, src, dst)
    # does a model input reach the decoder without passing through the encoder?
    seen = np.zeros(n, dtype=bool)
    todo = [int(i) for i in np.flatnonzero(is_input)]
    seen[todo] = True
    while todo:
        v = todo.pop()
        for c in children[v]:
            if not seen[c] and stack[c] != ENCODER:
                seen[c] = True
                todo.append(c)
    if not (seen & (stack == DECODER)).any():
        return None
    changed = True
    while changed:
        changed = False
        for v in np.flatnonzero(stack < 0).tolist():
            fed = [stack[c] for c in children[v] if stack[c] >= 0]
            feeding = [stack[p] for p in parents[v] if stack[p] >= 0]
            if fed or feeding:
                stack[v] = min(fed) if fed else max(feeding)
                changed = True
    stack[stack < 0] = DECODER  # unconnected blocks (a cache badge) go with the model's output
    return stack
