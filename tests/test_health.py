"""Health flags (render3d.health): each rule on hand-made Stats and on real models, the table columns
of ``print(trace)`` and ``render3d trace --stats``."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from broken_models import Net
from torch import nn

import render3d
from render3d.cli import main
from render3d.graph import Stats
from render3d.health import FLAGS, flag_summary, layer_flags, median_magnitude, stat_flags

BROKEN = f"{Path(__file__).with_name('broken_models.py')}:Net"


def stats(
    *,
    lo: float = -1.0,
    hi: float = 1.0,
    p1: float = -0.9,
    p99: float = 0.9,
    zeros: float = 0.0,
    nan: int = 0,
    inf: int = 0,
    numel: int = 100,
    near_one: float = 0.0,
    near_zero: float = 0.0,
) -> Stats:
    return Stats(
        min=lo,
        max=hi,
        mean=0.0,
        std=0.5,
        p1=p1,
        p99=p99,
        zero_fraction=zeros,
        nan_count=nan,
        inf_count=inf,
        numel=numel,
        near_one_fraction=near_one,
        near_zero_fraction=near_zero,
    )


def flagged(trace) -> dict[str, tuple[str, ...]]:
    return {k: v for k, v in layer_flags(trace).items() if v}


# --- rules on hand-made statistics ----------------------------------------------------------------


def test_flag_words_are_the_issue_words():
    assert FLAGS == ("dead", "nan", "inf", "exploding", "saturated", "constant")


def test_activation_with_99_percent_zeros_is_dead():
    assert stat_flags(stats(lo=0.0, zeros=0.99), "ReLU") == ("dead",)
    assert stat_flags(stats(lo=0.0, zeros=0.99), "torch.nn.functional.relu", "function") == ("dead",)


def test_activation_with_98_percent_zeros_is_not_dead():
    assert stat_flags(stats(lo=0.0, zeros=0.98), "ReLU") == ()


def test_zeros_outside_an_activation_are_not_dead():
    assert stat_flags(stats(zeros=0.995), "Conv2d", params=100) == ()


def test_constant_output_is_constant_and_dead():
    assert stat_flags(stats(lo=0.0, hi=0.0, p1=0.0, p99=0.0, zeros=1.0), "BatchNorm2d", params=128) == (
        "dead",
        "constant",
    )
    assert stat_flags(stats(lo=0.5, hi=0.5, p1=0.5, p99=0.5), "Linear", params=10) == ("dead", "constant")


def test_all_zero_activation_is_dead_not_constant():
    assert stat_flags(stats(lo=0.0, hi=0.0, p1=0.0, p99=0.0, zeros=1.0), "ReLU") == ("dead",)


def test_single_value_output_is_not_constant():
    assert stat_flags(stats(lo=2.0, hi=2.0, p1=2.0, p99=2.0, numel=1), "Linear", params=10) == ()


def test_nan_and_inf_counts_flag_nan_and_inf():
    assert stat_flags(stats(nan=3), "Conv2d") == ("nan",)
    assert stat_flags(stats(inf=1), "Conv2d") == ("inf",)
    assert stat_flags(stats(nan=1, inf=1), "Conv2d") == ("nan", "inf")


def test_exploding_is_above_100_times_the_median_magnitude():
    assert stat_flags(stats(p1=-3.0, p99=201.0), "Conv2d", median_magnitude=2.0) == ("exploding",)
    assert stat_flags(stats(p1=-201.0, p99=3.0), "Conv2d", median_magnitude=2.0) == ("exploding",)
    assert stat_flags(stats(p1=-3.0, p99=199.0), "Conv2d", median_magnitude=2.0) == ()


def test_no_exploding_at_an_ordinary_magnitude_however_small_the_median():
    assert stat_flags(stats(p1=-0.5, p99=9.9), "Sigmoid", median_magnitude=1e-8) == ()
    assert stat_flags(stats(p99=10.5), "Conv2d", median_magnitude=1e-8) == ("exploding",)


def test_no_exploding_without_a_median():
    assert stat_flags(stats(p99=1e6), "Conv2d") == ()


def test_tanh_pinned_at_plus_minus_one_is_saturated():
    assert stat_flags(stats(near_one=0.9), "Tanh") == ("saturated",)
    assert stat_flags(stats(near_one=0.89), "Tanh") == ()
    assert stat_flags(stats(near_one=0.95), "Hardtanh") == ("saturated",)


def test_sigmoid_pinned_at_zero_and_one_is_saturated():
    assert stat_flags(stats(lo=0.0, near_one=0.5, near_zero=0.45), "Sigmoid") == ("saturated",)
    assert stat_flags(stats(lo=0.0, near_one=0.95), "torch.sigmoid", "function") == ("saturated",)
    assert stat_flags(stats(lo=0.0, near_one=0.4, near_zero=0.4), "Hardsigmoid") == ()


def test_values_near_one_elsewhere_are_not_saturated():
    assert stat_flags(stats(near_one=1.0), "GELU") == ()


def test_saved_stats_without_limit_fractions_are_never_saturated():
    old = Stats(
        min=-1.0, max=1.0, mean=0.0, std=1.0, p1=-1.0, p99=1.0, zero_fraction=0.0, nan_count=0, inf_count=0, numel=100
    )
    assert math.isnan(old.near_one_fraction) and stat_flags(old, "Tanh") == ()


def test_inputs_and_integer_tensors_only_get_nan_and_inf():
    zero = stats(lo=0.0, hi=0.0, p1=0.0, p99=0.0, zeros=1.0, nan=1)
    assert stat_flags(zero, "Input", "input") == ("nan",)
    assert stat_flags(zero, "Buffer", "constant") == ("nan",)
    assert stat_flags(stats(lo=0.0, hi=0.0, p1=0.0, p99=0.0), "cumsum", "function", dtype="int64") == ()


def test_summary_counts_layers_per_flag_in_flag_order():
    assert flag_summary({"a": ("exploding",), "b": ("dead",), "c": ("nan",), "d": ()}) == (
        "1 layer dead, 1 nan, 1 exploding"
    )
    assert flag_summary({"a": ("dead", "constant"), "b": ("dead", "constant")}) == "2 layers dead, 2 constant"
    assert flag_summary({"a": (), "b": ()}) == ""


# --- real models -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken():
    return render3d.trace(Net(), torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)))


def test_broken_model_flags_exactly_its_three_broken_layers(broken):
    assert flagged(broken) == {"relu2#1": ("dead",), "expand#1": ("exploding",), "log#1": ("nan",)}


def test_trace_flags_gives_every_node_its_flags(broken):
    assert broken.flags() == layer_flags(broken) and len(broken.flags()) == len(broken.nodes)


def test_nan_is_flagged_where_it_starts_not_downstream(broken):
    assert all(broken[n].stats.nan_count > 0 for n in ("pool#1", "flatten#1", "fc#1"))
    assert layer_flags(broken)["fc#1"] == ()


def test_median_magnitude_ignores_the_all_nan_layers(broken):
    assert 1.0 < median_magnitude(broken) < 5.0


def test_healthy_resnet18_has_no_flag():
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    assert flagged(render3d.trace(model, torch.randn(1, 3, 64, 64))) == {}


def test_timm_zero_init_last_bn_is_constant_and_dead():
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, zero_init_last=True).eval()
    assert flagged(render3d.trace(model, torch.randn(1, 3, 64, 64))) == {
        f"layer{i}.0.bn2#1": ("dead", "constant") for i in range(1, 5)
    }


def test_tanh_after_a_huge_linear_is_saturated():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 8), nn.Sigmoid()).eval()
    with torch.no_grad():
        model[0].weight.mul_(1000.0)
        model[2].weight.mul_(1000.0)
    assert flagged(render3d.trace(model, torch.randn(4, 16))) == {"1#1": ("saturated",), "3#1": ("saturated",)}


def test_exploding_is_flagged_once_not_on_the_layers_that_carry_it():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
    ).eval()
    with torch.no_grad():
        model[6].weight.mul_(1e5)
    assert flagged(render3d.trace(model, torch.randn(2, 8))) == {"6#1": ("exploding",)}


# --- tables ----------------------------------------------------------------------------------------


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def table_rows(text: str) -> dict[str, list[str]]:
    return {c[0]: c for c in map(cells, text.splitlines()) if "#" in c[0] or c[0] in ("input.0", "output")}


def test_print_trace_header_has_the_stats_columns(broken):
    assert cells(repr(broken).splitlines()[1]) == [
        "Layer (id)",
        "Type",
        "Output shape",
        "Params",
        "Parents",
        "Zero %",
        "Min",
        "Max",
        "Mean ± std",
        "NaN/Inf",
        "Flags",
    ]


def test_print_trace_rows_carry_stats_and_flag_words(broken):
    rows = table_rows(repr(broken))
    assert rows["relu2#1"] == [
        "relu2#1",
        "ReLU",
        "[1, 8, 32, 32]",
        "--",
        "conv2#1",
        "100.0",
        "0",
        "0",
        "0 ± 0",
        "--",
        "dead",
    ]
    assert rows["expand#1"][-1] == "exploding" and float(rows["expand#1"][6]) < -1000
    assert re.fullmatch(r"[1-9][\d,]*/0", rows["log#1"][-2]) and rows["log#1"][-1] == "nan"
    assert [r[-1] for k, r in rows.items() if k not in ("relu2#1", "expand#1", "log#1")] == ["--"] * 10


def test_print_trace_ends_with_the_flag_summary(broken):
    assert repr(broken).splitlines()[-2] == "Flags: 1 layer dead, 1 nan, 1 exploding"


def test_print_trace_without_stats_keeps_the_plain_table():
    plain = render3d.trace(Net(), torch.randn(1, 3, 32, 32), capture="none")
    assert cells(repr(plain).splitlines()[1]) == ["Layer (id)", "Type", "Output shape", "Params", "Parents"]
    assert "Flags" not in repr(plain)


def test_cli_trace_stats_flags_exactly_the_three_broken_layers(capsys):
    assert main(["trace", BROKEN, "--stats"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert {k: r[-1] for k, r in rows.items() if r[-1] != "--"} == {
        "relu2#1": "dead",
        "expand#1": "exploding",
        "log#1": "nan",
    }


def test_cli_trace_without_stats_has_no_flag_column(capsys):
    assert main(["trace", BROKEN]) == 0
    assert "Flags" not in capsys.readouterr().out


class MaskedAttention(nn.Module):
    """Attention scores plus a mask built with ``new_zeros`` as Swin does, −1e4 where keys are hidden."""

    def __init__(self) -> None:
        super().__init__()
        self.qk = nn.Linear(8, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = self.qk(x).chunk(2, dim=-1)
        scores = q @ k.transpose(-1, -2)
        mask = x.new_zeros(x.shape[1], x.shape[1])
        mask[: x.shape[1] // 2] = 1.0
        mask = mask.masked_fill(mask != 0, -1e4)
        return (scores + mask).view(-1, x.shape[1], x.shape[1]).softmax(dim=-1)


def test_masked_attention_logits_and_their_mask_are_not_flagged():
    torch.manual_seed(0)
    t = render3d.trace(MaskedAttention(), torch.randn(1, 6, 8))
    assert flagged(t) == {}
    add = next(n for n in t if n.type == "add")
    assert add.stats.min < -9999.0  # the logits really are large: it is the softmax reader that clears them


def test_mask_made_from_the_input_shape_is_a_constant_not_a_layer():
    t = render3d.trace(MaskedAttention(), torch.randn(1, 6, 8), capture="none")
    assert not any(n.type in ("new_zeros", "setitem", "masked_fill") for n in t)
