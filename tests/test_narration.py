"""describe(): one caption sentence per layer, with the real hyper-parameters, shapes and statistics."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

import render3d
from render3d.models import SeedCNN
from render3d.scene.narration import describe


def said(trace: render3d.Trace, node_id: str) -> str:
    return describe(trace[node_id], [trace[p].shape for p in trace.parents(node_id)])


@pytest.fixture(scope="module")
def seed():
    torch.manual_seed(0)
    return render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64))


@pytest.fixture(scope="module")
def small():
    """conv+bn+relu, a residual add, a concat, upsample, pooling, flatten, linear and softmax."""

    class Small(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.side = nn.Conv2d(8, 8, 1)
            self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(16, 5)
            self.soft = nn.Softmax(dim=1)

        def forward(self, x):
            x = self.bn(self.conv(x))
            x = x + self.side(x)
            x = torch.cat([x, self.dw(x)], 1)
            return self.soft(self.fc(self.flat(self.pool(self.up(x)))))

    return render3d.trace(Small(), torch.randn(1, 3, 8, 8))


def test_conv(seed):
    assert said(seed, "conv1#1") == (
        "Conv 3×3, 64 filters, stride 1: 3×64×64 → 64×64×64; each output value is a weighted sum over a 3×3×3 patch"
    )


def test_strided_conv_names_its_stride(small):
    assert said(small, "conv#1") == (
        "Conv 3×3, 8 filters, stride 2: 3×8×8 → 8×4×4; each output value is a weighted sum over a 3×3×3 patch"
    )


def test_depthwise_conv(small):
    assert said(small, "dw#1") == (
        "Conv 3×3, 8 filters, stride 1: 8×4×4 → 8×4×4; depthwise: each filter slides over one channel's 3×3 window"
    )


def test_max_pool(seed):
    assert said(seed, "pool#2") == (
        "Max pool 2×2, stride 2: 64×32×32 → 64×16×16; keeps the largest value of each 2×2 window"
    )


def test_linear(seed):
    assert said(seed, "fc2#1") == "Linear 512 → 2: each output is a weighted sum of all 512 inputs"


def test_relu_says_how_many_values_it_zeroed(seed):
    node = replace(seed["relu#1"], stats=replace(seed["relu#1"].stats, zero_fraction=0.372))
    assert describe(node) == "ReLU: negatives become 0 (37 % of values here)"


def test_relu_without_statistics(seed):
    assert describe(replace(seed["relu#1"], stats=None)) == "ReLU: negatives become 0"


def test_batch_norm(small):
    assert said(small, "bn#1") == (
        "BatchNorm, 8 channels: 8×4×4 → 8×4×4; each channel is normalised by its running "
        "mean and variance, then scaled and shifted"
    )


def test_residual_add(small):
    assert said(small, "add#1") == (
        "Add (residual join): 8×4×4 → 8×4×4; the skip path is added to the block's output, value by value"
    )


def test_cat_names_its_parts(small):
    assert said(small, "cat#1") == (
        "Concatenate 2 inputs: 8×4×4 → 16×4×4; the inputs are stacked along channels: 8×4×4 + 8×4×4"
    )


def test_upsample(small):
    assert said(small, "up#1") == (
        "Upsample ×2 (nearest): 16×4×4 → 16×8×8; each value is repeated over a block of pixels"
    )


def test_global_pool(small):
    assert said(small, "pool#1") == ("Global average pool: 16×8×8 → 16×1×1; each channel's 8×8 map becomes its mean")


def test_flatten(small):
    assert said(small, "flat#1") == "Flatten: 16×1×1 → 16; the same values laid out in a new shape; nothing is computed"


def test_softmax(small):
    assert said(small, "soft#1") == "Softmax: 5 → 5; each row of 5 values becomes probabilities that sum to 1"


def test_attention_and_layer_norm():
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    t = render3d.trace(layer, torch.randn(1, 10, 32))
    assert said(t, "self_attn#1") == (
        "Self-attention, 4 heads of 8: 10×32 → 10×32; each of the 10 tokens takes a "
        "weighted mix of all tokens, weighted by query·key similarity"
    )
    assert said(t, "norm1#1") == (
        "LayerNorm over 32: 10×32 → 10×32; each token's 32 values are set to mean 0, "
        "variance 1, then scaled and shifted"
    )


def test_embedding():
    t = render3d.trace(nn.Sequential(nn.Embedding(100, 16)), torch.tensor([[1, 5, 7]]))
    assert said(t, "0#1") == ("Embedding 100 × 16: 3 → 3×16; each token id picks its own learned vector of 16 numbers")


def test_unknown_layer_gets_type_parameters_and_shapes():
    t = render3d.trace(nn.Sequential(nn.PReLU(4)), torch.randn(1, 4, 2, 2))
    assert said(t, "0#1") == "PReLU (4 parameters): 4×2×2 → 4×2×2"


def test_folded_block_is_named_once_with_its_count():
    model = nn.Sequential(*[nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()) for _ in range(3)])
    t = render3d.trace(model, torch.randn(1, 4, 6, 6)).fold_repeats()
    (block,) = [n for n in t if n.repeats > 1]
    assert describe(block, [(1, 4, 6, 6)]) == "Sequential ×3 (444 parameters): 4×6×6 → 4×6×6"


def test_folded_leaf_keeps_its_sentence():
    t = render3d.trace(nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8)), torch.randn(1, 8)).fold_repeats()
    (block,) = [n for n in t if n.repeats > 1]
    assert describe(block) == "Linear 8 → 8 ×2: each output is a weighted sum of all 8 inputs"
