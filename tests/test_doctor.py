"""``render3d doctor``: the ranked findings on real models, the report text, exit codes and the PNG."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from record_fixtures import SHAPE, tiny_model, train_steps
from torch import nn

import render3d
from render3d.cli import DOCTOR_FOUND, main
from render3d.doctor import diagnose, format_report, mark_findings
from render3d.probe import make_probe
from render3d.record import Recorder
from render3d.record.recording import load_recording
from render3d.scene.builder import build_scene
from render3d.scene.flags import FLAG_RGB

BROKEN = f"{Path(__file__).parent / 'broken_models.py'}:Net"


@pytest.fixture(scope="module")
def broken_trace():
    from render3d.api import trace_spec

    return trace_spec(BROKEN, capture="reduced")


def test_broken_model_findings_in_rank_order(broken_trace):
    assert [(f.kinds, f.name) for f in diagnose(broken_trace)] == [
        (("nan",), "log"),
        (("exploding",), "expand"),
        (("branch",), "relu2"),
    ]


def test_nan_line_names_what_feeds_it_and_how_far_it_spreads(broken_trace):
    nan = diagnose(broken_trace)[0]
    assert nan.detail == "NaN first appears here (3,898 of 8,192 values), fed by norm; 3 later layers carry it"


def test_report_text_is_one_headline_and_one_line_per_finding(broken_trace):
    lines = format_report(diagnose(broken_trace), "Net").splitlines()
    assert lines[0] == "Net: 3 problems (1 nan, 1 exploding, 1 branch)"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  1. nan        log",
        "  2. exploding  expand",
        "  3. branch     relu2",
    ]


def test_report_lists_at_most_max_lines_findings(broken_trace):
    lines = format_report(diagnose(broken_trace), "Net", max_lines=2).splitlines()
    assert len(lines) == 4 and lines[-1] == "     … and 1 more"


def test_healthy_resnet18_has_no_findings():
    torch.manual_seed(0)
    t = render3d.trace(torchvision.models.resnet18(), torch.randn(1, 3, 64, 64))
    assert diagnose(t) == []
    assert format_report([], t.model) == "ResNet: no problems found"


class _ConcatNet(nn.Module):
    """Two branches joined by a concat; branch ``b`` is a constant conv (zero weights, bias -1) and a ReLU."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 3, padding=1)
        self.relu_a, self.relu_b = nn.ReLU(), nn.ReLU()
        with torch.no_grad():
            self.b.weight.zero_()
            self.b.bias.fill_(-1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.relu_a(self.a(x)), self.relu_b(self.b(x))], dim=1)


def test_branch_that_never_fires_is_found_through_the_layers_carrying_it():
    (finding,) = diagnose(render3d.trace(_ConcatNet(), torch.randn(1, 3, 16, 16)))
    assert (finding.kinds, finding.name) == (("branch",), "b")
    assert finding.detail == (
        "never fires (constant -1): the branch into cat contributes nothing; 1 later layer carries it"
    )


class _DeadNet(nn.Module):
    """A ReLU that never fires (its conv's bias is -1), then a one-channel conv that can only output its bias."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.relu, self.conv2 = nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 1, 3)
        with torch.no_grad():
            self.conv1.weight.mul_(0.01)
            self.conv1.bias.fill_(-1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x)))


def test_dead_relu_is_reported_once_with_the_constant_layer_after_it_carrying_it():
    findings = diagnose(render3d.trace(_DeadNet(), torch.randn(1, 3, 16, 16)))
    assert [f.line() for f in findings] == ["dead  relu: 100.0% zeros; 1 later layer carries it"]


def test_zero_initialised_head_is_one_dead_constant_line():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("body", nn.Linear(8, 8))
    model.add_module("head", nn.Linear(8, 4))
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)  # as torchvision's ViT initialises its head
    findings = diagnose(render3d.trace(model, torch.randn(1, 8)))
    assert [f.line() for f in findings] == ["dead, constant  head: constant 0"]


def test_saturated_tanh_says_how_much_is_pinned():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("fc", nn.Linear(16, 64))
    model.add_module("tanh", nn.Tanh())
    with torch.no_grad():
        model.fc.weight.mul_(50)
    findings = diagnose(render3d.trace(model, torch.randn(1, 16)))
    assert [f.line() for f in findings] == ["saturated  tanh: 92% of values within 0.01 of ±1, 0% of 0"]


class _SqrtNet(nn.Module):
    """NaN starts at a functional op in the middle (sqrt of a half-negative Linear output)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2, self.fc3 = nn.Linear(16, 32), nn.Linear(32, 32), nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(torch.relu(self.fc2(torch.sqrt(self.fc1(x)))))


def test_nan_first_appearance_is_the_op_that_makes_it():
    (finding,) = diagnose(render3d.trace(_SqrtNet(), torch.randn(1, 16)))
    assert (finding.kinds, finding.node, finding.name) == (("nan",), "sqrt#1", "sqrt")
    assert finding.detail.endswith("fed by fc1; 3 later layers carry it")


class _ExpNet(nn.Module):
    """+Inf starts at ``exp`` of large values (exploding, too); the last Linear turns it into NaN."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(16, 32), nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.exp(100 * self.fc1(x)))


def test_inf_is_reported_where_it_starts_and_the_nan_it_makes_is_carried():
    (finding,) = diagnose(render3d.trace(_ExpNet(), torch.randn(1, 16)))
    assert (finding.kinds, finding.name) == (("inf", "exploding"), "exp")
    assert finding.detail.startswith("Inf first appears here (4 of 32 values), fed by mul; p99 |x| 3.5e+25 = ")
    assert finding.detail.endswith("; 1 later layer carries it")


def test_a_trace_without_statistics_is_refused_not_called_healthy():
    t = render3d.trace(_SqrtNet(), torch.randn(1, 16), capture="none")
    with pytest.raises(
        ValueError,
        match=r"^trace of _SqrtNet has no activation statistics to examine; trace it "
        r"with capture='reduced' \(the default\)$",
    ):
        diagnose(t)


def test_cli_exit_status_3_when_problems_are_found(capsys):
    assert main(["doctor", BROKEN]) == DOCTOR_FOUND == 3
    assert capsys.readouterr().out.startswith("Net: 3 problems (1 nan, 1 exploding, 1 branch)\n")


def test_cli_exit_status_0_when_healthy(capsys):
    assert main(["doctor", "render3d:SeedCNN"]) == 0
    assert capsys.readouterr().out == "SeedCNN: no problems found\n"


def test_cli_writes_the_activations_png_only_with_o(tmp_path, capsys):
    out = tmp_path / "doctor.png"
    assert main(["doctor", BROKEN, "-o", str(out), "--size", "640x360"]) == DOCTOR_FOUND
    assert capsys.readouterr().out.endswith(f"wrote {out}\n")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [out]


@pytest.fixture(scope="module")
def frozen_recording(tmp_path_factory):
    """A DigitsCNN trained 3 epochs with conv1 frozen (``requires_grad=False``), snapshotted after backward."""
    folder = tmp_path_factory.mktemp("frozen") / "rec"
    model = tiny_model()
    model.conv1.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    with Recorder(model, make_probe("digit:3", SHAPE), folder) as rec:
        for epoch in (1, 2, 3):
            train_steps(model, optimizer, steps=2)
            rec.snapshot(epoch)
    return folder


def test_recording_reports_a_frozen_layer(frozen_recording):
    recording = load_recording(frozen_recording)
    (finding,) = diagnose(recording.trace(2), recording)
    assert (finding.kinds, finding.name) == (("frozen",), "conv1")
    assert finding.detail == "not learning: update ratio ‖Δw‖/‖w‖ = 0 from epoch 2 to 3, no gradient"


def test_frozen_layer_gets_a_mark_and_a_legend_entry_in_the_scene(frozen_recording):
    recording = load_recording(frozen_recording)
    trace = recording.trace(2)
    scene = build_scene(trace, "activations")
    scene = mark_findings(scene, diagnose(trace, recording))
    marked = {scene.blocks.node_ids[i]: flags for i, flags in enumerate(scene.blocks.flags) if flags}
    assert marked == {"conv1#1": ("frozen",)}
    assert scene.legend[-1] == ("frozen: not learning", FLAG_RGB)


def test_recording_reports_gradients_vanishing_towards_the_input(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(*(m for _ in range(10) for m in (nn.Linear(8, 8), nn.Sigmoid())), nn.Linear(8, 2))
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Recorder(model, torch.randn(1, 8), tmp_path / "rec") as rec:
        for epoch in (1, 2):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            rec.snapshot(epoch)
    recording = load_recording(tmp_path / "rec")
    findings = diagnose(recording.trace(1), recording)
    assert [(f.kinds, f.name) for f in findings] == [(("frozen",), n) for n in ("0", "2", "4", "6", "8")] + [
        (("vanishing",), "0")
    ]
    assert findings[-1].detail.endswith("× below 20's (0.0762)")


def test_cli_doctor_on_a_recording(frozen_recording, capsys):
    assert main(["doctor", str(frozen_recording)]) == DOCTOR_FOUND
    assert capsys.readouterr().out == (
        f"DigitsCNN (recording {frozen_recording}, epoch 3): 1 problem (1 frozen)\n"
        "  1. frozen  conv1: not learning: update ratio ‖Δw‖/‖w‖ = 0 from epoch 2 to 3, no gradient\n"
    )


def test_cli_refuses_model_options_for_a_recording(frozen_recording, capsys):
    assert main(["doctor", str(frozen_recording), "--weights", "w.pt"]) == 2
    assert capsys.readouterr().err == (
        f"UsageError: render3d doctor: --weights applies to a MODEL, not to the "
        f"recording {frozen_recording} (it was recorded with its own)\n"
    )
