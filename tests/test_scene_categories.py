"""Legend categories by what a layer does, activation folding, and colour-blind distinctness of the palettes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import render3d
from render3d.scene.fold import node_category
from render3d.scene.style import CATEGORIES, PALETTES, categorize


class One(nn.Module):
    """Wraps one layer as ``layer`` so its trace node is ``layer#1``."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


def _hf_conv1d():
    from transformers.pytorch_utils import Conv1D

    return Conv1D(4, 8), torch.randn(1, 3, 8)


def _gelu_activation():
    from transformers.activations import GELUActivation

    return GELUActivation(), torch.randn(1, 8)


def _new_gelu_activation():
    from transformers.activations import NewGELUActivation

    return NewGELUActivation(), torch.randn(1, 8)


def _t5_layer_norm():
    from transformers.models.t5.modeling_t5 import T5LayerNorm

    return T5LayerNorm(8), torch.randn(1, 3, 8)


@pytest.mark.parametrize(
    ("make", "category"),
    [
        (_hf_conv1d, "Linear"),  # GPT-2's Conv1D is a Linear with transposed weights
        (lambda: (nn.Embedding(10, 8), torch.tensor([[1, 2, 3]])), "Embedding"),
        (lambda: (nn.EmbeddingBag(10, 8), torch.tensor([[1, 2, 3]])), "Embedding"),
        (_gelu_activation, "Activation"),
        (_new_gelu_activation, "Activation"),
        (lambda: (nn.SiLU(), torch.randn(1, 8)), "Activation"),
        (lambda: (nn.Mish(), torch.randn(1, 8)), "Activation"),
        (lambda: (nn.Upsample(scale_factor=2), torch.randn(1, 2, 4, 4)), "Resample"),
        (lambda: (nn.PixelShuffle(2), torch.randn(1, 4, 4, 4)), "Resample"),
        (lambda: (nn.ConvTranspose2d(2, 2, 2, stride=2), torch.randn(1, 2, 4, 4)), "Conv"),
        (lambda: (nn.RMSNorm(8), torch.randn(1, 3, 8)), "Norm"),
        (_t5_layer_norm, "Norm"),
        (lambda: (nn.MultiheadAttention(8, 2, batch_first=True), torch.randn(1, 3, 8)), "Attention/RNN"),
    ],
    ids=[
        "hf-conv1d",
        "embedding",
        "embeddingbag",
        "gelu-activation",
        "new-gelu-activation",
        "silu",
        "mish",
        "upsample",
        "pixelshuffle",
        "convtranspose",
        "rmsnorm",
        "t5-layernorm",
        "multihead-attention",
    ],
)
def test_module_category(make, category):
    torch.manual_seed(0)
    layer, x = make()
    model = One(layer)
    if isinstance(layer, nn.MultiheadAttention):
        model.forward = lambda x: layer(x, x, x, need_weights=False)[0]
    trace = render3d.trace(model.eval(), x, capture="none")
    assert node_category(trace["layer#1"]) == category


@pytest.mark.parametrize(
    ("type_name", "category"),
    [
        ("MultiScaleRoIAlign", "Pool"),  # torchvision detection heads
        ("roi_align", "Pool"),
        ("LlamaRotaryEmbedding", "Embedding"),
        ("QuickGELUActivation", "Activation"),
        ("GEGLU", "Activation"),
    ],
)
def test_category_by_type_name(type_name, category):
    assert categorize(type_name) == category


def test_gated_unit_with_weights_is_no_activation():
    # timm's SwiGLU is an MLP (two Linears around the gate): collapsed to one block it is categorised like
    # any container with weights and a (B, T, C) output, not as an activation
    assert categorize("SwiGLU", params=4096, ndim=3) == "Attention/RNN"


@pytest.mark.parametrize("type_name", ["LazyLinear", "Bilinear", "Linear"])
def test_linear_family_by_type_name(type_name):
    # LazyLinear is only a type name before its first call (it then becomes a Linear)
    assert categorize(type_name, params=64) == "Linear"


class Interpolating(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2.0, mode="bilinear")


def test_interpolate_is_resample_not_pool():
    trace = render3d.trace(Interpolating(), torch.randn(1, 2, 4, 4), capture="none")
    assert node_category(trace["interpolate#1"]) == "Resample"


class Mixer(nn.Module):
    """Self-attention by F.scaled_dot_product_attention, under a class name that says nothing about it."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(x).unflatten(-1, (3, 2, 4)).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)


def test_sdpa_op_is_attention():
    trace = render3d.trace(One(Mixer()), torch.randn(1, 5, 8), capture="none")
    assert node_category(trace["layer.scaled_dot_product_attention#1"]) == "Attention/RNN"


def test_sdpa_module_collapsed_to_one_block_is_attention():
    trace = render3d.trace(One(Mixer()), torch.randn(1, 5, 8), capture="none", depth=1)
    assert node_category(trace["layer#1"]) == "Attention/RNN"


class GeluMlp(nn.Module):
    def __init__(self):
        super().__init__()
        from transformers.activations import NewGELUActivation

        self.fc = nn.Linear(8, 16)
        self.act = NewGELUActivation()

    def forward(self, x):
        return self.act(self.fc(x))


def test_hf_gelu_folds_into_the_previous_block():
    scene = render3d.build_scene(render3d.trace(GeluMlp().eval(), torch.randn(1, 8), capture="none"), labels="all")
    assert scene.blocks.node_ids == ["input.0", "fc#1", "output"]
    assert scene.labels.texts[1] == "fc\n+GELU\n16"


def _bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return BertModel(config).eval()


def test_bert_layer_norms_after_residual_adds_are_norm_blocks():
    scene = render3d.build_scene(render3d.trace(_bert(), torch.randint(0, 100, (1, 8)), capture="none"))
    b = scene.blocks
    norms = [nid for nid, c in zip(b.node_ids, b.categories) if c == "Norm"]
    assert norms == [
        "embeddings.LayerNorm#1",
        "encoder.layer.0.attention.output.LayerNorm#1",
        "encoder.layer.0.output.LayerNorm#1",
    ]
    assert [name for name, _ in scene.legend] == [
        "Input/Output",
        "Embedding",
        "Linear",
        "Norm",
        "Attention/RNN",
        "Merge",
        "Reshape/other",
    ]


# --- palettes: every category, distinguishable under colour-vision deficiencies --------------------

#: Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB
DEUTERANOPIA = np.array(
    [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
)
PROTANOPIA = np.array(
    [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
)


def _lab(rgb: np.ndarray, vision: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours as seen through ``vision`` (a linear-RGB simulation matrix)."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    linear = np.clip(linear @ vision.T, 0.0, 1.0)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def worst_pair_delta_e(palette: dict, vision: np.ndarray) -> float:
    """Smallest CIE76 ΔE between two categories' colours."""
    lab = _lab(np.array([palette[c] for c in CATEGORIES], dtype=float), vision)
    d = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    return float(d[np.triu_indices(len(lab), 1)].min())


def test_every_palette_colours_every_category_differently():
    for palette in PALETTES.values():
        assert list(palette) == list(CATEGORIES)
        assert len(set(palette.values())) == len(CATEGORIES)


@pytest.mark.parametrize(
    ("name", "normal", "deuteranopia", "protanopia"),
    [
        ("okabe-ito", 26.4, 17.0, 20.7),
        ("tol", 22.8, 17.3, 15.3),
    ],
)
def test_palette_worst_pair_stays_apart_under_colour_blindness(name, normal, deuteranopia, protanopia):
    # the numbers style.py documents; ΔE ≈ 15 or more reads as clearly different colours
    palette = PALETTES[name]
    assert round(worst_pair_delta_e(palette, np.eye(3)), 1) == normal
    assert round(worst_pair_delta_e(palette, DEUTERANOPIA), 1) == deuteranopia
    assert round(worst_pair_delta_e(palette, PROTANOPIA), 1) == protanopia
