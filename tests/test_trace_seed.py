"""The tracer on the seed CNN and on small purpose-built models: nodes, edges, shapes, capture, state."""

from __future__ import annotations

import collections
import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

import render3d
from render3d.errors import ModelSpecError, TraceError
from render3d.models import SeedCNN


@pytest.fixture(scope="module")
def seed_trace():
    torch.manual_seed(0)
    return render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64))


def test_seed_functional_relu_and_view_are_root_nodes(seed_trace):
    types = [n.type for n in seed_trace if n.kind == "function"]
    assert types == ["relu"] * 4 + ["view", "relu"]
    assert seed_trace["view#1"].scope == ""


def test_seed_pool_has_four_calls(seed_trace):
    pools = [n.id for n in seed_trace if n.type == "MaxPool2d"]
    assert pools == ["pool#1", "pool#2", "pool#3", "pool#4"]


def test_seed_shapes_follow_the_forward_pass(seed_trace):
    spatial = [seed_trace[f"pool#{i}"].shape[-1] for i in range(1, 5)]
    assert [seed_trace["conv1#1"].shape[-1], *spatial] == [64, 32, 16, 8, 4]
    assert seed_trace["view#1"].shape == (1, 2048)
    assert seed_trace["fc1#1"].shape == (1, 512)
    assert seed_trace["fc2#1"].shape == (1, 2)


def test_seed_is_a_chain_of_sixteen_ops(seed_trace):
    ops = [n for n in seed_trace if n.kind in ("module", "function")]
    assert len(ops) == 16
    assert len(seed_trace.edges) == 17
    assert all(len(seed_trace.parents(n.id)) == 1 for n in ops)


def test_seed_params_are_counted(seed_trace):
    assert seed_trace["conv1#1"].params == 3 * 64 * 9 + 64
    assert seed_trace.total_params == sum(p.numel() for p in SeedCNN().parameters())


def test_json_schema_matches_design(seed_trace, tmp_path):
    data = json.loads(seed_trace.to_json(tmp_path / "t.json").read_text())
    assert set(data) == {"model", "inputs", "nodes", "edges", "outputs"}
    assert data["inputs"] == [{"id": "input.0", "shape": [1, 3, 64, 64], "dtype": "float32"}]
    assert set(data["nodes"][1]) == {"id", "kind", "type", "scope", "call", "shape", "params", "attrs"}
    assert data["nodes"][1] == {
        "id": "conv1#1",
        "kind": "module",
        "type": "Conv2d",
        "scope": "conv1",
        "call": 1,
        "shape": [1, 64, 64, 64],
        "params": 1792,
        "attrs": {
            "in_channels": 3,
            "out_channels": 64,
            "kernel_size": [3, 3],
            "stride": [1, 1],
            "padding": [1, 1],
            "dilation": [1, 1],
            "groups": 1,
            "bias": True,
        },
    }
    assert set(data["nodes"][2]) == {"id", "kind", "type", "scope", "call", "shape", "params"}  # relu: no attrs
    assert data["edges"][0] == ["input.0", "conv1#1"]
    assert data["outputs"] == [{"path": "", "node": "fc2#1"}]


def test_same_model_traced_twice_gives_identical_json():
    model = SeedCNN()
    a = render3d.trace(model, torch.randn(1, 3, 64, 64)).to_dict()
    b = render3d.trace(model, torch.randn(1, 3, 64, 64)).to_dict()
    assert json.dumps(a) == json.dumps(b)


def test_json_round_trips(seed_trace, tmp_path):
    back = render3d.Trace.from_json(seed_trace.to_json(tmp_path / "t.json"))
    assert back.to_dict() == seed_trace.to_dict()


def test_stored_activation_equals_clone_before_inplace_relu():
    block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
    block[1].running_mean.normal_()
    x = torch.randn(1, 3, 16, 16)
    clones = {}

    def keep(module, args, output):  # returns None: a returned value would replace the output
        clones["bn"] = output.clone()

    block[1].register_forward_hook(keep)
    t = render3d.trace(block, x, capture="full")
    expected = clones["bn"][0].to(torch.float16).numpy()
    np.testing.assert_array_equal(t["1#1"].activation.data, expected)
    assert t["1#1"].stats.min < 0  # the ReLU did not overwrite the stored BatchNorm output
    assert t["2#1"].stats.min == 0


def test_reduced_capture_is_bounded_float16(seed_trace):
    act = seed_trace["conv1#1"].activation
    assert act.data.dtype == np.float16
    assert act.layout == "map"
    assert act.data.shape == (64, 32, 32)
    assert act.full_shape == (1, 64, 64, 64)
    assert act.channel_mean.shape == (64,)
    assert seed_trace["fc1#1"].activation.layout == "vector"


def test_stats_are_robust_and_exact(seed_trace):
    relu = seed_trace["relu#1"]
    assert relu.stats.min == 0.0
    assert 0.0 < relu.stats.zero_fraction < 1.0
    assert relu.stats.p1 <= relu.stats.p99 <= relu.stats.max
    assert relu.stats.nan_count == 0 and relu.stats.numel == 64 * 64 * 64


def test_capture_none_keeps_shapes_only():
    t = render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64), capture="none")
    assert all(n.activation is None and n.stats is None for n in t)
    assert t["pool#4"].shape == (1, 128, 4, 4)


def test_nan_and_overflow_are_counted_and_scaled():
    class Blow(nn.Module):
        def forward(self, x):
            y = x * 1e6
            return torch.log(y - 1e6)

    t = render3d.trace(Blow(), torch.tensor([[0.5, 1.0, 2.0, 3.0]]))
    mul = t["mul#1"]
    assert mul.activation.scale > 1.0
    np.testing.assert_allclose(mul.activation.values(), [5e5, 1e6, 2e6, 3e6], rtol=1e-3)
    assert t["log#1"].stats.nan_count == 1 and t["log#1"].stats.inf_count == 1


def test_model_state_is_restored():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout())
    model.train()
    model[2].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    render3d.trace(model, torch.randn(2, 3, 8, 8))
    assert model.training and model[1].training and not model[2].training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_wrappers_are_unwrapped():
    model = SeedCNN()
    t = render3d.trace(nn.DataParallel(model), torch.randn(1, 3, 64, 64), capture="none")
    assert t.model == "SeedCNN" and "conv1#1" in t.nodes
    compiled = torch.compile(model)
    assert render3d.trace(compiled, torch.randn(1, 3, 64, 64), capture="none").model == "SeedCNN"


def test_script_module_is_refused_clearly():
    scripted = torch.jit.script(nn.Linear(2, 2))
    with pytest.raises(ModelSpecError, match="TorchScript"):
        render3d.trace(scripted, torch.randn(1, 2))


def test_a_script_module_inside_an_eager_model_is_refused_in_one_line_naming_it():
    # TorchScript runs its ops in C++, out of sight of hooks and the function mode: the module after it
    # would be drawn fed by nothing
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(torch.jit.script(nn.Conv2d(4, 4, 1))), nn.ReLU())
    with pytest.raises(ModelSpecError) as info:
        render3d.trace(model, torch.randn(1, 3, 8, 8))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Sequential contains a TorchScript module at '1.0' (RecursiveScriptModule)")


def test_forward_error_names_module_and_keeps_partial_graph():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(TraceError, match=r"module '2' \(Linear\)") as info:
        render3d.trace(model, torch.randn(1, 4))
    assert info.value.module_path == "2"
    assert list(info.value.partial.nodes) == ["input.0", "0#1", "1#1"]
    assert not model[2]._forward_hooks


Pair = collections.namedtuple("Pair", "left right")


@dataclasses.dataclass
class Result:
    logits: torch.Tensor
    count: int
    extra: dict


class Structured(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, pair, batch, *, scale=None, name="x"):
        h = self.a(pair.left) + self.b(batch["img"]) * scale
        return Result(logits=h, count=3, extra={"skip": pair.right, "note": name, "none": None})


def test_pytree_inputs_and_outputs():
    x, y, z, s = (torch.randn(1, 4) for _ in range(4))
    t = render3d.trace(Structured(), Pair(x, y), {"img": z, "label": 7}, scale=s, name="n")
    assert [i["id"] for i in t.inputs] == ["input.0.left", "input.0.right", "input.1.img", "input.scale"]
    assert sorted(t.parents("mul#1")) == ["b#1", "input.scale"]
    assert sorted(t.parents("add#1")) == ["a#1", "mul#1"]
    assert t.outputs == [{"path": "logits", "node": "add#1"}, {"path": "extra.skip", "node": "input.0.right"}]


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(4, 4)

    def forward(self, x):
        for _ in range(3):
            x = torch.tanh(self.cell(x))
        return x


def test_module_called_three_times_gets_three_call_ids():
    t = render3d.trace(Shared(), torch.randn(1, 4))
    assert [n.id for n in t if n.kind == "module"] == ["cell#1", "cell#2", "cell#3"]
    assert t.parents("cell#2") == ["tanh#1"]


def test_inplace_add_creates_new_version_for_later_readers():
    class Inplace(nn.Module):
        def forward(self, x):
            y = x * 2
            z = y + 1  # reads y before the in-place add
            y += x
            return z, y.relu()

    t = render3d.trace(Inplace(), torch.randn(1, 4))
    assert t.parents("add#1") == ["mul#1"]
    assert t["add#2"].type == "add_"
    assert t.parents("relu#1") == ["add#2"]


def test_depth_collapse_keeps_skip_edges():
    import torchvision

    t = render3d.trace(torchvision.models.resnet18(), torch.randn(1, 3, 32, 32), capture="none")
    blocks = t.collapse(2)
    assert blocks["layer2.0#1"].type == "BasicBlock"
    assert blocks["layer2.0#1"].shape == (1, 128, 4, 4)
    assert ("layer1.1#1", "layer2.0#1") in blocks.edges
    layer1 = t.collapse(1)
    assert [n.id for n in layer1][:6] == ["input.0", "conv1#1", "bn1#1", "relu#1", "maxpool#1", "layer1#1"]
    assert layer1.parents("layer2#1") == ["layer1#1"]


def test_depth_collapse_keeps_edges_that_cross_blocks():
    class TwoBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
            self.left = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
            self.right = nn.Sequential(nn.Linear(4, 4), nn.Tanh())

        def forward(self, x):
            h = self.stem(x)
            return self.left(h) + self.right(h) + h

    t = render3d.trace(TwoBranch(), torch.randn(1, 4)).collapse(1)
    assert sorted(t.edges) == sorted(
        [
            ("input.0", "stem#1"),
            ("stem#1", "left#1"),
            ("stem#1", "right#1"),
            ("left#1", "add#1"),
            ("right#1", "add#1"),
            ("add#1", "add#2"),
            ("stem#1", "add#2"),
            ("add#2", "output"),
        ]
    )


def test_trace_depth_argument_equals_collapse(seed_trace):
    import torchvision

    model = torchvision.models.resnet18()
    x = torch.randn(1, 3, 32, 32)
    direct = render3d.trace(model, x, depth=1, capture="none").to_dict()
    assert direct == render3d.trace(model, x, capture="none").collapse(1).to_dict()


def test_meta_device_allocates_no_activations():
    model = SeedCNN()
    t = render3d.trace(model, torch.randn(1, 3, 64, 64), device="meta")
    assert t["fc2#1"].shape == (1, 2)
    assert all(n.activation is None for n in t)
    assert next(model.parameters()).device.type == "cpu"


def test_meta_device_reports_data_dependent_code():
    class Peek(nn.Module):
        def forward(self, x):
            return x * float(x.sum().item())

    with pytest.raises(TraceError, match="meta tensors have no values"):
        render3d.trace(Peek(), torch.randn(1, 2), device="meta")


def test_fold_repeats_folds_identical_resnet_blocks_and_keeps_edges():
    import torchvision

    t = render3d.trace(torchvision.models.resnet34(), torch.randn(1, 3, 32, 32), capture="none")
    folded = t.fold_repeats()
    runs = {n.id: (n.repeats, n.shape) for n in folded if n.repeats > 1}
    # layer2.0 / layer3.0 / layer4.0 downsample, so their followers fold; layer1 has no downsample
    assert runs == {
        "layer1.0#1": (3, (1, 64, 8, 8)),
        "layer2.1#1": (3, (1, 128, 4, 4)),
        "layer3.1#1": (5, (1, 256, 2, 2)),
        "layer4.1#1": (2, (1, 512, 1, 1)),
    }
    assert folded["layer3.1#1"].folded == tuple(f"layer3.{i}#1" for i in range(1, 6))
    assert folded.parents("layer3.1#1") == ["layer3.0.relu#2"]
    assert folded.children("layer3.1#1") == ["layer4.0.conv1#1", "layer4.0.downsample.0#1"]


def test_fold_repeats_keeps_skips_that_cross_the_run():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(*(nn.Sequential(nn.Linear(4, 4), nn.Tanh()) for _ in range(3)))

        def forward(self, x):
            return self.blocks(x) + x

    t = render3d.trace(Stack(), torch.randn(1, 4)).fold_repeats()
    assert t["blocks.0#1"].repeats == 3
    assert sorted(t.edges) == sorted(
        [("input.0", "blocks.0#1"), ("blocks.0#1", "add#1"), ("input.0", "add#1"), ("add#1", "output")]
    )


def test_fold_repeats_leaves_different_blocks_alone():
    import torchvision

    t = render3d.trace(torchvision.models.densenet121(), torch.randn(1, 3, 32, 32), capture="none")
    assert all(n.repeats == 1 for n in t.fold_repeats())  # every dense layer sees more channels
