"""Block names: shortest unique suffix of the real module path, scoped ops, call numbers, front cuts.

Hand-built models pin each naming rule with the exact list of names; real models from several zoos
check the one promise that holds everywhere: no two blocks of a scene share a name.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import render3d
from render3d.graph import Node
from render3d.scene.names import block_names


def first_lines(model: nn.Module, *inputs: torch.Tensor) -> list[str]:
    """Every block's name (first label line) in the scene of ``model``, in block order."""
    scene = render3d.build_scene(render3d.trace(model.eval(), *inputs, capture="none"), labels="all")
    assert scene.labels.node_ids == scene.blocks.node_ids  # labels="all": one label per block
    return [text.split("\n")[0] for text in scene.labels.texts]


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        return self.query(x) * self.key(x) * self.value(x)


class Dense(nn.Module):
    def __init__(self, cin: int = 8, cout: int = 8):
        super().__init__()
        self.dense = nn.Linear(cin, cout)

    def forward(self, x):
        return self.dense(x)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.self, self.output = SelfAttention(), Dense()

    def forward(self, x):
        return self.output(self.self(x))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention, self.intermediate, self.output = Attention(), Dense(8, 16), Dense(16, 8)

    def forward(self, x):
        return self.output(self.intermediate(self.attention(x)))


class Encoder(nn.Module):
    """BERT's naming: encoder.layer.0.attention.self.query, ... output.dense twice at different depths."""

    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList([Layer()])

    def forward(self, x):
        return self.layer[0](x)


class Wrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()

    def forward(self, x):
        return self.encoder(x)


def test_linears_of_a_bert_layer_get_their_shortest_unique_suffix():
    assert first_lines(Wrapper(), torch.randn(1, 4, 8)) == [
        "input",
        "query",
        "key",
        "self · mul",
        "value",
        "self · mul #2",
        "attention.output.dense",
        "intermediate.dense",
        "layer.0.output.dense",
        "output",
    ]


class Downsampled(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        return self.conv1(x) + self.downsample(x)


class TwoStages(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer2 = nn.Sequential(Downsampled(3, 4))
        self.layer3 = nn.Sequential(Downsampled(4, 8))

    def forward(self, x):
        return self.layer3(self.layer2(x))


def test_names_are_contiguous_suffixes_of_real_paths():
    # layer2.0.downsample.0, never layer2.downsample.0 (no such module); ops carry their scope
    assert first_lines(TwoStages(), torch.randn(1, 3, 8, 8)) == [
        "input",
        "layer2.0.conv1",
        "layer2.0.downsample.0",
        "layer2.0 · add",
        "layer3.0.conv1",
        "layer3.0.downsample.0",
        "layer3.0 · add",
        "output",
    ]


class CalledTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.fc(torch.sigmoid(self.fc(x))))


def test_second_call_of_a_module_is_numbered():
    # (the sigmoid folds into the first call's block as "+sigmoid")
    assert first_lines(CalledTwice(), torch.randn(1, 4)) == ["input", "fc", "fc #2", "head", "output"]


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return F.interpolate(self.conv(x), scale_factor=2.0)


class TinyFPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.p5, self.p4 = Level(), Level()

    def forward(self, x):
        up = self.p5(x)
        return up + self.p4(up)[..., ::2, ::2]


def test_ops_carry_their_scope_and_top_level_ops_their_name():
    assert first_lines(TinyFPN(), torch.randn(1, 4, 4, 4)) == [
        "input",
        "p5.conv",
        "p5 · interpolate",
        "p4.conv",
        "p4 · interpolate",
        "getitem",
        "add",
        "output",
    ]


class Stage(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.layers = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        return self.layers(x)


class GenericTails(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1, self.stage2 = Stage(3, 4), Stage(4, 8)

    def forward(self, x):
        return self.stage2(self.stage1(x))


def test_trailing_generic_container_is_dropped_when_still_unique():
    assert first_lines(GenericTails(), torch.randn(1, 3, 8, 8)) == ["input", "stage1", "stage2", "output"]


class Repeated(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(6, 8)
        self.layer = nn.ModuleList([nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(4)])

    def forward(self, x):
        x = self.stem(x)
        for block in self.layer:
            x = block(x)
        return x


def test_repeat_folded_block_keeps_its_badge():
    # the first of the run drawn in full (its Linear, +Tanh), the other three folded into one block
    assert first_lines(Repeated(), torch.randn(1, 6)) == ["input", "stem", "layer.0.0", "layer.1 ×3", "output"]


def node(node_id: str, kind: str = "module", scope: str | None = None, call: int = 1) -> Node:
    path = node_id.partition("#")[0]
    if scope is None:
        scope = path if kind == "module" else path.rpartition(".")[0]
    return Node(
        id=node_id, kind=kind, type="Linear" if kind == "module" else "add", scope=scope, call=call, shape=(1, 4)
    )


def test_trailing_generic_container_stays_when_dropping_it_would_name_another_block():
    # "stage1.layers" → "stage1" would read as the block stage1 itself
    assert block_names([node("stage1.layers#1"), node("stage1#1"), node("stage2.layers#1")]) == [
        "stage1.layers",
        "stage1",
        "stage2",
    ]


def test_long_name_is_cut_at_the_front_to_whole_parts_no_other_path_ends_with():
    assert block_names(
        [
            node("stages.0.blocks.0.conv.pre_norm#1"),
            node("stages.1.blocks.0.conv.pre_norm#1"),
            node("stage.attention_block.output_projection#1"),
            node("stage.mlp_block.output_projection#1"),
        ]
    ) == [
        "…0.blocks.0.conv.pre_norm",
        "…1.blocks.0.conv.pre_norm",
        "attention_block.output_projection",  # every shorter tail ends the other path too: kept whole
        "mlp_block.output_projection",
    ]


def test_a_module_named_like_the_model_output_is_told_apart_from_it():
    assert block_names(
        [
            node("encoder.layer.0.output#1"),
            Node(id="output", kind="output", type="Output", scope="", call=1, shape=(1, 4)),
        ]
    ) == ["layer.0.output", "output"]


def test_names_that_coincide_across_kinds_are_numbered():
    # a module called "add" next to an add op at the model's top level
    assert block_names([node("add#1"), node("add#1", kind="function", scope="")]) == ["add", "add #2"]


def _resnet50():
    import torchvision

    return torchvision.models.resnet50(), torch.randn(1, 3, 64, 64)


def _googlenet():
    import torchvision

    return torchvision.models.googlenet(aux_logits=False, init_weights=False), torch.randn(1, 3, 64, 64)


def _timm_resnet():
    import timm

    return timm.create_model("resnet18", pretrained=False), torch.randn(1, 3, 64, 64)


def _timm_vit():
    import timm

    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, depth=3), torch.randn(1, 3, 32, 32)


def _bert():
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return BertModel(config), torch.randint(0, 100, (1, 12))


def _monai_densenet():
    from monai.networks.nets import DenseNet121

    return DenseNet121(spatial_dims=2, in_channels=1, out_channels=2), torch.randn(1, 1, 32, 32)


def _monai_unet():
    from monai.networks.nets import UNet

    return (
        UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(8, 16, 32, 64), strides=(2, 2, 2)),
        torch.randn(1, 1, 32, 32),
    )


def _smp_unet():
    import segmentation_models_pytorch as smp

    return smp.Unet("resnet18", encoder_weights=None), torch.randn(1, 3, 64, 64)


@pytest.mark.parametrize(
    "make",
    [_resnet50, _googlenet, _timm_resnet, _timm_vit, _bert, _monai_densenet, _monai_unet, _smp_unet],
    ids=lambda f: f.__name__.strip("_"),
)
def test_no_two_blocks_of_a_real_model_share_a_name(make):
    torch.manual_seed(0)
    model, x = make()
    names = first_lines(model, x)
    assert len(set(names)) == len(names)
