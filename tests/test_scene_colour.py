"""Truthful colour in the scene (issue 10 item 2): constant layers at their value, NaN/±Inf counted
and in the legend, one global log-magnitude scale, and the style option that picks it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

import render3d
from render3d.health import magnitude
from render3d.scene.colour import DECADES_BELOW_MEDIAN, NAN_RGB, NEG_INF_RGB, POS_INF_RGB, settle_colours
from render3d.scene.style import SceneStyle

INPUT = (1, 3, 8, 8)


def _conv(c_in: int, c_out: int, *, weight: float | None = None, bias: list[float] | float | None = None) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 3, padding=1)
    with torch.no_grad():
        if weight is not None:
            conv.weight.fill_(weight)
        if bias is not None:
            conv.bias.copy_(torch.as_tensor(bias, dtype=torch.float32).expand(c_out))
    return conv


class Constants(nn.Module):
    """A normal conv, then a conv whose output is 0 everywhere and one whose output is 3 everywhere."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = _conv(3, 4)
        self.zero = _conv(4, 6, weight=0.0, bias=0.0)
        self.three = _conv(6, 5, weight=0.0, bias=3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.three(self.zero(self.conv(x)))


class Specials(nn.Module):
    """A conv whose channels are +Inf, -Inf, NaN and finite: 64 values of each special per channel."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = _conv(3, 4)
        self.bad = _conv(4, 4, bias=[float("inf"), float("-inf"), float("nan"), 0.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bad(self.conv(x))


class Exploding(nn.Module):
    """Two ordinary convs, then one whose weights are 30,000 times too large."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = _conv(3, 4)
        self.conv2 = nn.Conv2d(4, 6, 1)
        self.boom = _conv(6, 8)
        with torch.no_grad():
            self.boom.weight.mul_(3e4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.boom(self.conv2(self.conv1(x)))


def _scene(model: nn.Module, **style):
    torch.manual_seed(1)
    trace = render3d.trace(model, torch.randn(INPUT))
    return trace, render3d.build_scene(trace, "activations", fold_repeats=False, image_size=(640, 360), **style)


def _maps(scene) -> dict:
    return {fm.node_id: fm for fm in scene.feature_maps}


@pytest.fixture(scope="module")
def constants():
    return _scene(Constants())


def _ranged_span(trace) -> tuple[float, float]:
    """The span of the non-constant layers' p1..p99 (the input and the first conv)."""
    stats = [trace.nodes[k].stats for k in ("input.0", "conv#1")]
    return min(s.p1 for s in stats), max(s.p99 for s in stats)


def test_constant_zero_layer_sits_at_zero_on_the_models_range(constants):
    trace, scene = constants
    lo, hi = _ranged_span(trace)
    assert lo < 0 < hi
    fm = _maps(scene)["zero#1"]
    assert fm.clim == (lo, hi)
    assert np.all(fm.values == 0.0)
    # 0 is drawn where 0 is on that range, not in the middle of an invented one
    assert (0.0 - fm.clim[0]) / (fm.clim[1] - fm.clim[0]) == pytest.approx(-lo / (hi - lo))


def test_constant_three_layer_widens_the_range_to_hold_it(constants):
    trace, scene = constants
    lo, hi = _ranged_span(trace)
    assert hi < 3.0
    fm = _maps(scene)["three#1"]
    assert fm.clim == (lo, 3.0)  # 3 is the top colour: larger than anything else the model shows
    assert np.all(fm.values == 3.0)


def test_constant_layers_are_named_with_their_value(constants):
    _, scene = constants
    assert "constant: zero = 0" in scene.notes
    assert "constant: three = 3" in scene.notes


def test_constant_alone_is_drawn_on_a_scale_from_zero(constants):
    trace, scene = constants
    fm = replace(_maps(scene)["three#1"])  # with no ranged layer to compare with
    settle_colours([fm], {"three#1": trace.nodes["three#1"]}, SceneStyle())
    assert fm.clim == (0.0, 3.0)


def test_nan_and_inf_are_counted_in_a_note():
    _, scene = _scene(Specials())
    assert "NaN: 64 values in 1 layer" in scene.notes
    assert "±Inf: 128 values in 1 layer" in scene.notes


def test_nan_and_inf_have_legend_entries_outside_the_colour_map():
    _, scene = _scene(Specials())
    assert scene.legend[-3:] == [("NaN", NAN_RGB), ("+Inf", POS_INF_RGB), ("−Inf", NEG_INF_RGB)]
    fm = _maps(scene)["bad#1"]
    assert np.isposinf(fm.values).any() and np.isneginf(fm.values).any() and np.isnan(fm.values).any()


def test_a_healthy_scene_has_no_special_value_notes_or_entries(constants):
    _, scene = constants
    names = [name for name, _ in scene.legend]
    assert not {"NaN", "+Inf", "−Inf"} & set(names)
    assert not [n for n in scene.notes if n.startswith(("NaN", "±Inf"))]


@pytest.fixture(scope="module")
def exploding():
    return _scene(Exploding(), scale="global")


def test_global_scale_is_one_log_magnitude_scale(exploding):
    trace, scene = exploding
    mags = [magnitude(trace.nodes[k].stats) for k in ("input.0", "conv1#1", "conv2#1", "boom#1")]
    floor = float(np.median(mags)) * 10.0**-DECADES_BELOW_MEDIAN
    clim = (float(np.log10(floor)), float(np.log10(max(mags))))
    assert {fm.clim for fm in scene.feature_maps} == {clim}
    assert scene.colorbar_title == "log10 magnitude (all layers)"


def test_global_scale_puts_the_exploding_layer_on_top_and_normal_layers_low(exploding):
    _, scene = exploding
    lo, hi = scene.feature_maps[0].clim
    position = {fm.node_id: (float(np.median(fm.values)) - lo) / (hi - lo) for fm in scene.feature_maps}
    assert position["boom#1"] > 0.8
    for normal in ("input.0", "conv1#1", "conv2#1"):
        assert position[normal] < 0.4


def test_layer_scale_is_the_default_and_keeps_per_layer_limits(constants):
    trace, scene = constants
    assert SceneStyle().scale == "layer"
    assert scene.colorbar_title == "activation (per-layer p1–p99)"
    stats = trace.nodes["conv#1"].stats
    assert _maps(scene)["conv#1"].clim == (stats.p1, stats.p99)


def test_unknown_scale_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="scale must be one of 'layer', 'global'; got 'log'"):
        SceneStyle(scale="log")


def test_a_nan_in_a_long_vector_stays_in_its_bar():
    class Vector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(12, 1000)
            with torch.no_grad():
                self.fc.bias[500] = float("nan")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    torch.manual_seed(0)
    trace = render3d.trace(Vector(), torch.randn(1, 12))
    scene = render3d.build_scene(trace, "activations", max_bar_cells=250, image_size=(640, 360))
    bars = _maps(scene)["fc#1"].values.ravel()
    assert bars.shape == (250,)  # 4 values a bar
    assert np.flatnonzero(np.isnan(bars)).tolist() == [125]
