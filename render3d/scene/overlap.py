"""Which drawn boxes pass through each other: the layout's promise, checked on a finished Scene.

A block is drawn as its box, the stacked copies behind a ``×N`` block (:func:`repeat_shadows`) and
its feature map (:func:`feature_map_bounds`); all three belong to the block, so they may overlap one
another but never anything of another block. Boxes that only touch (share a face) do not count.

Pure numpy, O(boxes²) in memory chunks: a 1000-box scene is a few million comparisons.
"""

from __future__ import annotations

import numpy as np

from render3d.scene.model import Scene, feature_map_bounds, repeat_shadows

#: boxes must overlap by more than this (world units) along every axis to intersect
TOUCH = 1e-6


def drawn_boxes(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower corners, upper corners and owning block index of everything solid in ``scene``."""
    blocks = scene.blocks
    lo, hi, owner = [blocks.lower], [blocks.upper], [np.arange(len(blocks))]
    s_lo, s_hi, s_owner = repeat_shadows(blocks)
    lo.append(s_lo)
    hi.append(s_hi)
    owner.append(s_owner)
    for fm in scene.feature_maps:
        f_lo, f_hi = feature_map_bounds(fm)
        lo.append(f_lo[None])
        hi.append(f_hi[None])
        owner.append(np.array([blocks.index(fm.block_id)]))
    return np.concatenate(lo), np.concatenate(hi), np.concatenate(owner)


def intersecting_pairs(lower: np.ndarray, upper: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """(K, 2) sorted pairs of owners (i < j) with an intersecting box each, every pair once."""
    lower = np.asarray(lower, dtype=float).reshape(-1, 3)
    upper = np.asarray(upper, dtype=float).reshape(-1, 3)
    owner = np.asarray(owner, dtype=np.int64)
    found: set[tuple[int, int]] = set()
    step = max(1, 2_000_000 // max(len(owner), 1))
    for start in range(0, len(owner), step):
        a = slice(start, start + step)
        apart = (np.minimum(upper[a, None], upper[None]) - np.maximum(lower[a, None], lower[None])) <= TOUCH
        hit = ~apart.any(axis=2) & (owner[a, None] != owner[None])
        i, j = np.nonzero(hit)
        oi, oj = owner[a][i], owner[j]
        found.update(zip(np.minimum(oi, oj).tolist(), np.maximum(oi, oj).tolist()))
    return np.array(sorted(found), dtype=np.int64).reshape(-1, 2)


def overlapping_blocks(scene: Scene) -> list[tuple[str, str]]:
    """Pairs of block ids whose drawn boxes (box, ``×N`` copies, feature map) intersect."""
    pairs = intersecting_pairs(*drawn_boxes(scene))
    ids = scene.blocks.node_ids
    return [(ids[i], ids[j]) for i, j in pairs.tolist()]
