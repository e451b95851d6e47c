"""Per-head attention maps for F.scaled_dot_product_attention callers and explicit softmax(QKᵀ) code."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
import transformers as tf
from torch import nn

import render3d
from render3d.tracing.capture import CaptureConfig

FP16_ROW = 2e-3  # a row of float16 probabilities sums to 1 within this


class Sdpa(nn.Module):
    """Calls SDPA with whatever options the test gives; v is irrelevant to the maps."""

    def __init__(self, heads: int, kv_heads: int, **options):
        super().__init__()
        self.q = nn.Linear(8, 4 * heads)
        self.k = nn.Linear(8, 4 * kv_heads)
        self.heads, self.kv_heads, self.options = heads, kv_heads, options

    def forward(self, x, mask=None):
        q = self.q(x).unflatten(-1, (self.heads, 4)).transpose(1, 2)
        k = self.k(x).unflatten(-1, (self.kv_heads, 4)).transpose(1, 2)
        return F.scaled_dot_product_attention(q, k, k, attn_mask=mask, **self.options)


def _expected(model: Sdpa, x: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
    """Torch's own weights: SDPA with an identity matrix as values returns softmax(QKᵀ·scale + mask)."""
    with torch.no_grad():
        q = model.q(x).unflatten(-1, (model.heads, 4)).transpose(1, 2)
        k = model.k(x).unflatten(-1, (model.kv_heads, 4)).transpose(1, 2)
        eye = torch.eye(x.shape[1]).expand(x.shape[0], model.kv_heads, -1, -1)
        return F.scaled_dot_product_attention(q, k, eye, attn_mask=mask, **model.options)[0].numpy()


@pytest.mark.parametrize(
    ("options", "mask"),
    [
        ({}, None),
        ({"is_causal": True, "scale": 0.3}, None),
        ({"enable_gqa": True}, "bool"),
        ({}, "float"),
    ],
    ids=["plain", "causal-scale", "gqa-bool-mask", "float-mask"],
)
def test_sdpa_maps_equal_torch_weights(options, mask):
    torch.manual_seed(0)
    kv_heads = 2 if options.get("enable_gqa") else 4
    model = Sdpa(4, kv_heads, **options)
    x = torch.randn(2, 6, 8)
    attn_mask = None
    if mask == "bool":
        attn_mask = torch.ones(2, 1, 6, 6, dtype=torch.bool)
        attn_mask[0, :, :, 4:] = False  # padding: keys 4 and 5 of batch item 0
    elif mask == "float":
        attn_mask = torch.randn(6, 6)
    t = render3d.trace(model, x, attn_mask)
    maps = t["scaled_dot_product_attention#1"].activation.attention
    assert maps.dtype == np.float16 and maps.shape == (4, 6, 6)
    np.testing.assert_allclose(maps.astype(np.float32), _expected(model, x, attn_mask), atol=1e-3)
    if mask == "bool":
        assert not maps[:, :, 4:].any()


def test_maps_are_strided_to_max_tokens():
    torch.manual_seed(0)
    t = render3d.trace(Sdpa(2, 2), torch.randn(1, 20, 8), capture=CaptureConfig(max_tokens=8))
    assert t["scaled_dot_product_attention#1"].activation.attention.shape == (2, 7, 7)  # every 3rd token


def test_no_maps_without_capture():
    t = render3d.trace(Sdpa(2, 2), torch.randn(1, 6, 8), capture="none")
    assert t["scaled_dot_product_attention#1"].activation is None


def test_sdpa_inside_a_leaf_module_gives_the_leaf_its_maps():
    class Leaf(nn.Module):  # no children: its ops are no nodes, its attention still shows on it
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 8))

        def forward(self, x):
            q = (x @ self.w).unflatten(-1, (2, 4)).transpose(1, 2)
            return F.scaled_dot_product_attention(q, q, q, is_causal=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = Leaf()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.attn(x))

    t = render3d.trace(Net(), torch.randn(1, 5, 8))
    maps = t["attn#1"].activation.attention
    assert maps.shape == (2, 5, 5) and maps.dtype == np.float16
    assert not np.triu(maps, 1).any()  # causal: no query attends to a later key
    np.testing.assert_allclose(maps.astype(np.float32).sum(-1), 1.0, atol=FP16_ROW)


def _vit(fused: bool) -> nn.Module:
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, depth=2, num_classes=10)
    for block in model.blocks:
        block.attn.fused_attn = fused
    return model


@pytest.fixture(scope="module")
def vit_traces():
    x = torch.randn(1, 3, 32, 32)
    return render3d.trace(_vit(True), x), render3d.trace(_vit(False), x)


def test_timm_vit_attention_module_block_shows_per_head_maps(vit_traces):
    fused, _ = vit_traces
    maps = fused.collapse(3)["blocks.0.attn#1"].activation.attention
    assert maps.shape == (3, 5, 5)  # 3 heads; cls token + 2×2 patches
    np.testing.assert_allclose(maps.astype(np.float32).sum(-1), 1.0, atol=FP16_ROW)


def test_timm_sdpa_maps_equal_the_explicit_softmax_path(vit_traces):
    fused, explicit = vit_traces
    for i in range(2):
        a = fused.collapse(3)[f"blocks.{i}.attn#1"].activation.attention
        b = explicit.collapse(3)[f"blocks.{i}.attn#1"].activation.attention
        np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), atol=2e-3)


def test_folded_blocks_carry_the_last_members_maps(vit_traces):
    fused, _ = vit_traces
    folded = fused.collapse(2).fold_repeats()
    assert folded["blocks.0#1"].repeats == 2
    last = fused.collapse(3)["blocks.1.attn#1"].activation.attention
    np.testing.assert_array_equal(folded["blocks.0#1"].activation.attention, last)
    assert fused["blocks.1.attn.proj#1"].activation.attention is None  # the trace itself is not changed


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_bert_attention_block_maps_respect_the_padding_mask(implementation):
    torch.manual_seed(0)
    config = tf.BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        attn_implementation=implementation,
    )
    ids = torch.randint(0, 100, (1, 10))
    mask = torch.ones(1, 10, dtype=torch.long)
    mask[0, 7:] = 0
    t = render3d.trace(tf.BertModel(config), ids, attention_mask=mask).collapse(4)
    maps = t["encoder.layer.0.attention#1"].activation.attention.astype(np.float32)
    assert maps.shape == (2, 10, 10)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=FP16_ROW)
    assert not maps[:, :, 7:].any()


class MhaCaller(nn.Module):
    """Calls nn.MultiheadAttention the way its caller chose and keeps the weights it got back."""

    def __init__(self, **call):
        super().__init__()
        torch.manual_seed(0)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.call, self.returned = call, []

    def forward(self, x):
        out, weights = self.attn(x, x, x, **self.call)
        self.returned.append(weights)
        return out


def test_mha_without_need_weights_gets_none_back_and_its_node_still_gets_per_head_maps():
    model = MhaCaller(need_weights=False)
    t = render3d.trace(model, torch.randn(2, 5, 8))
    assert model.returned == [None]
    maps = t["attn#1"].activation.attention
    assert maps.shape == (2, 5, 5) and maps.dtype == np.float16
    np.testing.assert_allclose(maps.astype(np.float32).sum(-1), 1.0, atol=FP16_ROW)


@pytest.mark.parametrize("average", [True, False])
def test_mha_weights_the_caller_asked_for_equal_torch_s(average):
    model = MhaCaller(need_weights=True, average_attn_weights=average).eval()
    x = torch.randn(2, 5, 8)
    render3d.trace(model, x)
    with torch.no_grad():
        _, expected = model.attn(x, x, x, need_weights=True, average_attn_weights=average)
    traced = model.returned[0]
    assert traced.shape == ((2, 5, 5) if average else (2, 2, 5, 5))
    torch.testing.assert_close(traced, expected, atol=1e-6, rtol=0)
