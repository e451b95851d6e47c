"""Layer hyper-parameters in the trace (Node.attrs): what is read, JSON round trip, read once per module."""

from __future__ import annotations

import json

import torch
from torch import nn

import render3d
from render3d.models import SeedCNN
from render3d.tracing import attrs as attrs_module
from render3d.tracing.attrs import module_attrs


def test_conv_attrs_are_plain_json_values():
    t = render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64), capture="none")
    assert t["conv1#1"].attrs == {
        "in_channels": 3,
        "out_channels": 64,
        "kernel_size": [3, 3],
        "stride": [1, 1],
        "padding": [1, 1],
        "dilation": [1, 1],
        "groups": 1,
        "bias": True,
    }


def test_pool_and_linear_attrs():
    t = render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64), capture="none")
    assert t["pool#1"].attrs == {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1}
    assert t["fc1#1"].attrs == {"in_features": 2048, "out_features": 512, "bias": True}


def test_norm_attention_embedding_upsample_flatten_dropout_attrs():
    assert module_attrs(nn.BatchNorm2d(8)) == {"num_features": 8, "eps": 1e-05, "affine": True}
    assert module_attrs(nn.LayerNorm(16)) == {"normalized_shape": [16], "eps": 1e-05, "elementwise_affine": True}
    assert module_attrs(nn.GroupNorm(4, 8)) == {"num_groups": 4, "num_channels": 8, "eps": 1e-05, "affine": True}
    assert module_attrs(nn.MultiheadAttention(16, 4)) == {"embed_dim": 16, "num_heads": 4}
    assert module_attrs(nn.Embedding(100, 16)) == {"num_embeddings": 100, "embedding_dim": 16}
    assert module_attrs(nn.Upsample(scale_factor=2, mode="nearest")) == {
        "scale_factor": 2.0,
        "size": None,
        "mode": "nearest",
    }
    assert module_attrs(nn.Flatten()) == {"start_dim": 1, "end_dim": -1}
    assert module_attrs(nn.Dropout(0.25)) == {"p": 0.25}
    assert module_attrs(nn.AdaptiveAvgPool2d((1, 1))) == {"output_size": [1, 1]}


def test_conv_transpose_keeps_output_padding():
    found = module_attrs(nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1))
    assert (found["stride"], found["output_padding"], found["out_channels"]) == ([2, 2], [1, 1], 2)


def test_containers_and_plain_activations_have_no_attrs():
    assert module_attrs(nn.Sequential(nn.ReLU())) == {}
    assert module_attrs(nn.ReLU()) == {}


def test_cat_records_its_dim():
    class Cat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 2, 1)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1)

    t = render3d.trace(Cat(), torch.randn(1, 3, 8, 8), capture="none")
    assert t["cat#1"].attrs == {"dim": 1}


def test_json_has_attrs_only_where_there_are_some(tmp_path):
    t = render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64), capture="none")
    nodes = {n["id"]: n for n in json.loads(t.to_json(tmp_path / "t.json").read_text())["nodes"]}
    assert nodes["pool#1"]["attrs"] == {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1}
    assert "attrs" not in nodes["relu#1"] and "attrs" not in nodes["input.0"]


def test_attrs_survive_the_json_round_trip(tmp_path):
    t = render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64), capture="none")
    back = render3d.Trace.from_json(t.to_json(tmp_path / "t.json"))
    assert {n.id: n.attrs for n in back} == {n.id: n.attrs for n in t}


def test_attrs_are_read_once_per_module(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "render3d.tracing.tracer.module_attrs", lambda m: calls.append(m) or attrs_module.module_attrs(m)
    )
    conv = nn.Conv2d(3, 3, 3, padding=1)

    class Thrice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(self.conv(self.conv(x)))

    t = render3d.trace(Thrice(), torch.randn(1, 3, 8, 8), capture="none")
    assert calls == [conv]
    assert t["conv#3"].attrs["kernel_size"] == [3, 3]


def test_folded_leaf_run_keeps_its_attrs():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8))
    folded = render3d.trace(model, torch.randn(1, 8), capture="none").fold_repeats()
    (block,) = [n for n in folded if n.repeats > 1]
    assert (block.repeats, block.attrs) == (3, {"in_features": 8, "out_features": 8, "bias": True})
