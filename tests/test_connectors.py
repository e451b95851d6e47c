"""Connector routing: dense concat fans share one trunk; a fan missing an edge keeps its arcs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision.models import DenseNet

import render3d
from render3d.scene.builder import build_scene
from render3d.scene.connectors import MIN_BUNDLE


def _tiny_densenet_scene():
    torch.manual_seed(0)
    model = DenseNet(growth_rate=4, block_config=(2, 4), num_init_features=8, bn_size=2, num_classes=10).eval()
    return build_scene(render3d.trace(model, torch.randn(1, 3, 32, 32), capture="none"), fold=False)


def _fan(scene, block: str):
    return [c for c in scene.connectors if c.kind == "skip" and f".{block}." in c.dst]


class _GappyFan(nn.Module):
    """Dense-like concats, but the stem's output skips the third concat: not every pair is an edge."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(c, 4, 3, padding=1) for c in (4, 8, 12, 12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.stem(x)
        a = self.convs[0](x0)
        b = self.convs[1](torch.cat([x0, a], 1))
        c = self.convs[2](torch.cat([x0, a, b], 1))
        d = self.convs[3](torch.cat([a, b, c], 1))
        return torch.cat([x0, a, b, c, d], 1)


def test_dense_fan_runs_along_one_trunk_height():
    fan = _fan(_tiny_densenet_scene(), "denseblock2")
    assert len(fan) == 10
    heights = {round(float(y), 9) for c in fan for y in c.points[1:-1, 1]}
    assert len(heights) == 1


def test_bundled_edge_rises_from_its_source_and_drops_onto_its_destination():
    scene = _tiny_densenet_scene()
    top = dict(zip(scene.blocks.node_ids, scene.blocks.upper[:, 1]))
    for c in _fan(scene, "denseblock2"):
        assert c.points[0, 1] == top[c.src] and c.points[-1, 1] == top[c.dst]
        assert c.points[1, 1] > top[c.src] and np.all(np.diff(c.points[1:-1, 0]) >= 0)


def test_dense_fan_edges_share_their_trunk_segments():
    fan = _fan(_tiny_densenet_scene(), "denseblock2")
    segments = {
        tuple(np.round(np.concatenate([c.points[k], c.points[k + 1]]), 9))
        for c in fan
        for k in range(len(c.points) - 1)
    }
    assert sum(len(c.points) - 1 for c in fan) == 62  # each edge's own polyline, stop by stop
    assert len(segments) == 15  # drawn: 4 risers, 4 drops, 7 trunk pieces between the 8 stops


def test_fan_missing_one_edge_keeps_its_own_arcs():
    torch.manual_seed(0)
    scene = build_scene(render3d.trace(_GappyFan().eval(), torch.randn(1, 3, 8, 8), capture="none"), fold=False)
    arcs = [c for c in scene.connectors if c.kind == "skip"]
    assert len(arcs) >= MIN_BUNDLE
    assert len({round(float(c.points[2, 1]), 9) for c in arcs}) > 1
    assert max(len(c.points) for c in arcs) <= 7
