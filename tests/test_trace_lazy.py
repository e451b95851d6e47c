"""Models with lazy modules (``nn.LazyLinear``, ``nn.LazyConv2d``): their parameters have no shape until the
first forward pass, which is how PyTorch's own tutorials build a classifier head."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from render3d.cli import main
from render3d.errors import TraceError
from render3d.tracing.tracer import trace


class LazyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.LazyConv2d(8, 3)
        self.norm = nn.LazyBatchNorm2d()
        self.relu = nn.ReLU()
        self.flat = nn.Flatten()
        self.head = nn.LazyLinear(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.flat(self.relu(self.norm(self.conv(x)))))


def _x() -> torch.Tensor:
    return torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))


def test_an_uninitialised_lazy_model_traces_with_its_real_layers_and_parameter_counts():
    t = trace(LazyNet(), _x())
    assert [(n.id, n.type, n.params) for n in t if n.kind == "module"] == [
        ("conv#1", "Conv2d", 3 * 8 * 3 * 3 + 8),
        ("norm#1", "BatchNorm2d", 8 + 8),
        ("relu#1", "ReLU", 0),
        ("flat#1", "Flatten", 0),
        ("head#1", "Linear", 8 * 10 * 10 * 10 + 10),
    ]
    assert t.total_params == 224 + 16 + 8010
    assert t["head#1"].shape == (1, 10)
    assert t["head#1"].stats is not None and t["head#1"].activation.data.shape == (10,)


def test_tracing_a_lazy_model_initialises_it_as_its_own_first_call_would():
    model = LazyNet()
    trace(model, _x())
    assert type(model.head) is nn.Linear and model.head.weight.shape == (10, 800)
    assert model.head.weight.requires_grad and model.training
    out = model(_x())  # the user's next call runs on the parameters the trace created
    out.sum().backward()
    assert model.head.weight.grad is not None


def test_tracing_a_lazy_model_leaves_the_random_generator_where_it_was():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    trace(LazyNet(), _x())
    assert torch.equal(torch.rand(3), expected)


def test_a_lazy_model_on_the_meta_device_is_refused_in_one_line_naming_its_lazy_modules():
    with pytest.raises(TraceError) as info:
        trace(LazyNet(), _x(), device="meta")
    message = str(info.value)
    assert "\n" not in message
    assert "'conv', 'norm', 'head'" in message and "device='meta'" in message


def test_a_lazy_model_whose_first_pass_fails_says_so_in_one_line():
    with pytest.raises(TraceError) as info:
        trace(LazyNet(), torch.randn(5))  # a convolution needs (C, H, W) or (N, C, H, W)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("LazyNet failed in the first forward pass that initialises its lazy modules")
    assert info.value.module_path == "conv"


def test_the_render_command_draws_a_lazy_model_from_a_file(tmp_path, monkeypatch):
    source = tmp_path / "lazy_net.py"
    source.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.LazyConv2d(4, 3)\n"
        "        self.head = nn.LazyLinear(5)\n\n"
        "    def forward(self, x):\n"
        "        return self.head(self.conv(x).flatten(1))\n"
    )
    monkeypatch.setenv("PYVISTA_OFF_SCREEN", "true")
    out = tmp_path / "lazy.png"
    assert main(["render", f"{source}:Net", "--input-shape", "1,3,16,16", "--size", "320x240", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
