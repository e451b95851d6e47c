"""Pass-through modules and ops (Identity, eval Dropout, timm no-ops) get no node and steal no edge."""

from __future__ import annotations

import pytest
import timm
import torch
from fx_oracle import fx_module_graph, our_module_graph
from timm.models.metaformer import GroupNorm1, MetaFormer
from torch import nn
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

import render3d


class CloneDropout(nn.Dropout):
    """A dropout that returns a new, equal tensor in eval mode instead of its input."""

    def forward(self, x):
        return super().forward(x) if self.training else x.clone()


class NoOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.skip = nn.Identity()
        self.drop = nn.Dropout(0.5)
        self.cdrop = CloneDropout(0.5)
        self.act = nn.ReLU(inplace=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = self.fc(x)
        y = self.drop(self.skip(h)) * 2  # both no-ops: the mul reads fc's output
        z = self.act(self.cdrop(y + h).contiguous())  # in place: a node, its own output version
        return self.out(z + h)


def test_no_op_modules_get_no_node_and_edges_come_from_the_real_producer():
    t = render3d.trace(NoOps(), torch.randn(1, 4))
    assert [n.id for n in t] == ["input.0", "fc#1", "mul#1", "add#1", "act#1", "add#2", "out#1", "output"]
    assert t.edges == [
        ("input.0", "fc#1"),
        ("fc#1", "mul#1"),
        ("mul#1", "add#1"),
        ("fc#1", "add#1"),
        ("add#1", "act#1"),
        ("act#1", "add#2"),
        ("fc#1", "add#2"),
        ("add#2", "out#1"),
        ("out#1", "output"),
    ]


def test_no_op_modules_leave_no_module_calls():
    t = render3d.trace(NoOps(), torch.randn(1, 4), capture="none")
    assert sorted(t.modules) == ["act#1", "fc#1", "out#1"]


def test_inplace_functional_relu_returning_its_input_is_still_a_node():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(4)

        def forward(self, x):
            return nn.functional.relu(self.bn(x), inplace=True) + x

    t = render3d.trace(Block(), torch.randn(2, 4))
    assert t.parents("relu#1") == ["bn#1"]
    assert t.parents("add#1") == ["relu#1", "input.0"]


def test_timm_resnet_no_op_drop_block_and_aa_take_no_tensor():
    torch.manual_seed(0)
    t = render3d.trace(
        timm.create_model("resnet10t", pretrained=False, num_classes=10), torch.randn(1, 3, 32, 32), capture="none"
    )
    assert not [n.id for n in t if n.type == "Identity"]
    block = [e for e in t.edges if "layer1.0." in e[1]]
    assert block == [
        ("maxpool#1", "layer1.0.conv1#1"),
        ("layer1.0.conv1#1", "layer1.0.bn1#1"),
        ("layer1.0.bn1#1", "layer1.0.act1#1"),
        ("layer1.0.act1#1", "layer1.0.conv2#1"),
        ("layer1.0.conv2#1", "layer1.0.bn2#1"),
        ("layer1.0.bn2#1", "layer1.0.add#1"),
        ("maxpool#1", "layer1.0.add#1"),
        ("layer1.0.add#1", "layer1.0.act2#1"),
    ]


def _poolformer() -> nn.Module:  # poolformer_s12's block settings (res_scale: Identity), narrower and shallower
    return MetaFormer(
        depths=(1, 1, 2, 1),
        dims=(16, 32, 48, 64),
        downsample_norm=None,
        mlp_act=nn.GELU,
        mlp_bias=True,
        norm_layers=GroupNorm1,
        layer_scale_init_values=1e-5,
        res_scale_init_values=None,
        use_mlp_head=False,
        num_classes=10,
    )


def _convnext() -> nn.Module:  # StochasticDepth returns its input in eval
    return ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 2)], stochastic_depth_prob=0.2)


def _resnet() -> nn.Module:
    return timm.create_model("resnet18d", pretrained=False, num_classes=10)


@pytest.mark.parametrize("build", [_poolformer, _convnext, _resnet], ids=["poolformer", "convnext", "resnet18d"])
def test_module_edges_equal_torch_fx(build):
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(1, 3, 32, 32)
    ours = our_module_graph(render3d.trace(model, x, capture="none"))
    theirs = fx_module_graph(model, x, leaf_childless=True)
    assert ours == theirs, (sorted(ours - theirs)[:5], sorted(theirs - ours)[:5])
