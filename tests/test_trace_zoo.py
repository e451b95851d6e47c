"""The tracer across torchvision's model zoo, custom U-Net / sequence models, and torch.fx as oracle.

The full sweep builds every model on the meta device (shapes only, no weight memory) so that all
~100 builders run in seconds; real-valued traces of representative models run on the CPU.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from fx_oracle import fx_module_graph, our_module_graph

import render3d
from render3d.errors import TraceError
from render3d.graph import Trace
from render3d.models import SequenceClassifier, UNet
from render3d.modelspec import build_on_meta, load_model

tv = torchvision.models
CLASSIFICATION = tv.list_models(module=tv)
SEGMENTATION = tv.list_models(module=tv.segmentation)
VIDEO = tv.list_models(module=tv.video)
DETECTION = tv.list_models(module=tv.detection)

#: the smallest input each family accepts (most CNNs take 64×64; window/patch models need more)
SMALL_INPUT = {"maxvit_t": (1, 3, 224, 224), "inception_v3": (1, 3, 75, 75)}
VIDEO_INPUT = {"mvit_v1_b": (1, 3, 16, 224, 224), "mvit_v2_s": (1, 3, 16, 224, 224), "s3d": (1, 3, 16, 224, 224)}


def small_input(name: str) -> tuple[int, ...]:
    if name in VIDEO:
        return VIDEO_INPUT.get(name, (1, 3, 8, 64, 64))
    if name.startswith(("vit_", "swin")):
        return (1, 3, 224, 224)
    return SMALL_INPUT.get(name, (1, 3, 64, 64))


def assert_connected(t: Trace) -> None:
    """Every node lies on a path from an input or a source (buffer, parameter, constant) to an output."""
    children, parents = t.child_map(), t.parent_map()

    def reach(starts, nxt):
        seen, todo = set(starts), list(starts)
        while todo:
            for m in nxt[todo.pop()]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    forward = reach([n.id for n in t if n.kind in ("input", "constant")], children)
    backward = reach([n.id for n in t if n.kind == "output"], parents)
    assert forward == set(t.nodes), sorted(set(t.nodes) - forward)[:5]
    assert backward == set(t.nodes), sorted(set(t.nodes) - backward)[:5]


@pytest.mark.parametrize("name", CLASSIFICATION + SEGMENTATION + VIDEO)
def test_zoo_traces_connected_on_meta(name):
    model = build_on_meta(f"torchvision:{name}")
    t = render3d.trace(model, torch.empty(small_input(name), device="meta"), device="meta")
    assert_connected(t)
    assert t.outputs and all(n.shape for n in t if n.kind != "output")


@pytest.mark.parametrize(
    "name",
    [
        "resnet18",
        "mobilenet_v3_small",
        "squeezenet1_1",
        "shufflenet_v2_x0_5",
        "efficientnet_b0",
        "regnet_x_400mf",
        "convnext_tiny",
        "swin_t",
    ],
)
def test_zoo_traces_real_values_on_cpu(name):
    t = render3d.trace(load_model(f"torchvision:{name}"), torch.randn(small_input(name)))
    assert_connected(t)
    captured = [n for n in t if n.kind not in ("output", "constant") and n.dtype != "bool"]
    assert all(n.stats is not None and n.stats.nan_count == 0 for n in captured)
    assert all(n.activation is None for n in t if n.dtype == "bool")  # masks: shapes only


def merges(t: Trace, op: str) -> list[str]:
    parents = t.parent_map()
    return [
        n.id
        for n in t
        if n.kind == "function" and n.id.rsplit(".", 1)[-1].startswith(op + "#") and len(parents[n.id]) >= 2
    ]


def test_resnet18_has_eight_two_parent_residual_adds():
    t = render3d.trace(tv.resnet18(), torch.randn(1, 3, 32, 32), capture="none")
    adds = merges(t, "add")
    assert len(adds) == 8
    assert all(len(t.parents(a)) == 2 for a in adds)
    assert sorted(t.parents("layer2.0.add#1")) == ["layer2.0.bn2#1", "layer2.0.downsample.1#1"]


def test_resnet50_has_sixteen_residual_adds():
    t = render3d.trace(build_on_meta("torchvision:resnet50"), torch.empty(1, 3, 64, 64, device="meta"), device="meta")
    assert len(merges(t, "add")) == 16


def test_densenet121_concats_join_every_earlier_layer():
    t = render3d.trace(
        build_on_meta("torchvision:densenet121"), torch.empty(1, 3, 64, 64, device="meta"), device="meta"
    )
    cats = merges(t, "cat")
    # blocks of 6, 12, 24, 16 layers: layer k>1 concatenates k inputs, each block ends with one more cat
    assert len(cats) == (5 + 11 + 23 + 15) + 4
    assert len(t.parents("features.denseblock3.cat#1")) == 25  # block input + 24 layers


def test_googlenet_inception_branches_fan_out_and_join():
    t = render3d.trace(load_model("torchvision:googlenet"), torch.randn(1, 3, 64, 64), capture="none")
    cat = "inception3a.cat#1"
    assert sorted(t.parents(cat)) == [
        "inception3a.branch1.relu#1",
        "inception3a.branch2.1.relu#1",
        "inception3a.branch3.1.relu#1",
        "inception3a.branch4.1.relu#1",
    ]
    fan = [c for c in t.children("maxpool2#1")]
    assert len(fan) == 4


def test_unet_skip_concats_have_two_parents():
    t = render3d.trace(UNet(levels=3), torch.randn(1, 3, 64, 64))
    cats = merges(t, "cat")
    assert len(cats) == 3
    assert sorted(t.parents(cats[0])) == ["down.1.5#1", "up.0#1"]
    assert t[cats[-1]].shape == (1, 32, 64, 64)
    assert_connected(t)


def test_unet_with_odd_size_pads():
    t = render3d.trace(UNet(levels=2), torch.randn(1, 3, 30, 30))
    assert any(n.type == "pad" for n in t)
    assert t["head#1"].shape == (1, 2, 30, 30)


def test_lstm_and_transformer_encoder_trace():
    model = SequenceClassifier()
    t = render3d.trace(model, torch.randint(0, 100, (1, 16)))
    assert_connected(t)
    assert t["lstm#1"].shapes == ((1, 16, 32), (1, 1, 32), (1, 1, 32))
    attn = [n.id for n in t if n.type == "MultiheadAttention"]
    assert attn == ["encoder.layers.0.self_attn#1", "encoder.layers.1.self_attn#1"]
    assert t["encoder.layers.1.norm2#1"].activation.layout == "tokens"
    assert t["head#1"].shape == (1, 3)


@pytest.mark.parametrize("name", DETECTION)
def test_detection_models_trace_or_fail_clearly(name):
    model = load_model(f"torchvision:{name}") if name.startswith("ssdlite") else build_on_meta(f"torchvision:{name}")
    device = None if name.startswith("ssdlite") else "meta"
    images = [torch.randn(3, 64, 64, device=device or "cpu")]
    try:
        t = render3d.trace(model, images, device=device, capture="none")
    except TraceError as exc:
        assert str(exc).startswith(type(model).__name__ + " failed in ")
        assert "\n" not in str(exc)
    else:
        assert len(t) > 10


# --- torch.fx as an oracle ---------------------------------------------------------------------

FX_MODELS = [
    "resnet18",
    "resnet50",
    "vgg11_bn",
    "alexnet",
    "mobilenet_v2",
    "densenet121",
    "squeezenet1_0",
    "googlenet",
    "shufflenet_v2_x0_5",
    "mnasnet0_5",
]


@pytest.mark.parametrize("name", FX_MODELS)
def test_edges_match_torch_fx(name):
    model = load_model(f"torchvision:{name}").eval()
    x = torch.randn(1, 3, 64, 64)
    t = render3d.trace(model, x, capture="none")
    ours, theirs = our_module_graph(t), fx_module_graph(model, x)
    assert ours == theirs, (sorted(ours - theirs)[:5], sorted(theirs - ours)[:5])


def test_attention_maps_match_torch_need_weights():
    model = SequenceClassifier().eval()
    tokens = torch.randint(0, 100, (1, 16))
    t = render3d.trace(model, tokens)
    maps = t["encoder.layers.0.self_attn#1"].activation.attention
    layer = model.encoder.layers[0]
    with torch.no_grad():
        h, _ = model.lstm(model.embed(tokens))
        _, expected = layer.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
    assert maps.shape == (4, 16, 16)
    torch.testing.assert_close(torch.from_numpy(maps).float(), expected[0], atol=2e-3, rtol=0)
