"""The operation explainer's numbers are the layer's real numbers (no GL: operands and scene only)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from render3d.errors import ModelSpecError
from render3d.models import DigitsCNN, SeedCNN
from render3d.probe import make_probe
from render3d.scene.explain import (
    SLOW_STEPS,
    attention_weights,
    conv_terms,
    explainer_scene,
    field_rects,
    num,
    pool_window,
    window_script,
)
from render3d.tracing.operands import capture_operands


def _digits_model() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return DigitsCNN(), make_probe("digit:3", (1, 1, 32, 32))


def _real(model: nn.Module, x: torch.Tensor, module: nn.Module) -> np.ndarray:
    got = []
    handle = module.register_forward_hook(lambda m, i, o: got.append(o[0].detach().clone()))
    with torch.no_grad():
        model.eval()(x)
    handle.remove()
    return got[0].numpy()


def test_conv_caption_result_equals_the_real_output_at_the_printed_precision():
    model, x = _digits_model()
    ops = capture_operands(model, x, layer="conv2")
    real = _real(model, x, model.conv2)
    scene = explainer_scene(ops, fps=4)
    checked = 0
    for frame in scene.frames:
        c, y, xx = (int(v) for v in re.match(r"out\[c=(\d+), y=(\d+), x=(\d+)\]", frame.caption).groups())
        assert frame.caption.endswith(f"= {num(real[c, y, xx])}")
        checked += 1
    assert checked == len(scene.frames) > 20


def test_conv_dot_product_of_every_position_equals_torch_with_groups_stride_and_dilation():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2))
    x = torch.randn(1, 4, 9, 11)
    ops = capture_operands(model, x, layer="0")
    real = _real(model, x, model[0])
    ours = np.array(
        [
            [[conv_terms(ops, c, y, xx)[3] for xx in range(real.shape[2])] for y in range(real.shape[1])]
            for c in range(real.shape[0])
        ]
    )
    assert ours.shape == real.shape == (6, 5, 6)
    assert np.abs(ours - real).max() < 1e-5


def test_conv_caption_counts_terms_and_those_on_the_padding():
    model, x = _digits_model()
    ops = capture_operands(model, x, layer="conv1")
    scene = explainer_scene(ops, fps=4, channel=5)
    assert "(9 terms, 5 on padding) + bias" in scene.frames[0].caption  # corner: 5 of 9 cells are padding
    assert scene.frames[0].caption.startswith("out[c=5, y=0, x=0] = ")


def test_conv1d_is_explained_along_its_length():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv1d(2, 3, 5, padding=2))
    x = torch.randn(1, 2, 12)
    ops = capture_operands(model, x, layer="0")
    real = _real(model, x, model[0])
    assert ops.input.shape == (2, 1, 12) and ops.weight.shape == (3, 2, 1, 5)
    assert abs(conv_terms(ops, 1, 0, 4)[3] - real[1, 4]) < 1e-5
    assert explainer_scene(ops, fps=2, channel=1).frames[0].caption.startswith("out[c=1, x=0] = ")


def _field_model() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(2, 2, 3, stride=2, padding=1, dilation=2),
        nn.Tanh(),
        nn.Conv2d(2, 3, 3, padding=1),
    ).double()


@pytest.mark.parametrize("y, x", [(0, 0), (2, 3), (4, 4)])
def test_receptive_field_equals_the_support_of_the_input_gradient(y, x):
    model = _field_model()
    inp = torch.randn(1, 1, 40, 40, dtype=torch.float64)
    ops = capture_operands(model, inp, layer="5")
    assert [s.name for s in ops.chain] == ["0#1", "2#1", "3#1"]
    probe = inp.clone().requires_grad_(True)
    model(probe)[0, 1, y, x].backward()
    rows, cols = np.nonzero(probe.grad[0, 0].numpy())
    assert field_rects(ops, y, x)[0] == (rows.min(), rows.max(), cols.min(), cols.max())


def test_receptive_field_has_one_rectangle_per_earlier_plane():
    model = _field_model()
    ops = capture_operands(model, torch.randn(1, 1, 40, 40, dtype=torch.float64), layer="5")
    assert [p.shape for p in ops.planes] == [(40, 40), (40, 40), (20, 20), (9, 9)]
    # (2, 3) on conv 5: its 3x3 window on conv 3's output, then back through conv 3 (stride 2, padding 1,
    # dilation 2), the 2x2 pool and conv 0 (padding 1)
    assert field_rects(ops, 2, 3) == [(1, 20, 5, 24), (2, 19, 6, 23), (1, 9, 3, 11), (1, 3, 2, 4)]


def test_max_pool_winner_is_torchs_argmax():
    torch.manual_seed(4)
    model = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1))
    x = torch.randn(1, 2, 9, 9)
    ops = capture_operands(model, x, layer="0")
    _, indices = nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)
    for c in range(2):
        for y in range(5):
            for xx in range(5):
                _, winner, value = pool_window(ops, c, y, xx)
                assert winner == int(indices[0, c, y, xx])
                assert value == pytest.approx(float(ops.output[c, y, xx]))


def test_avg_pool_mean_equals_torch_with_and_without_padding_in_the_count():
    torch.manual_seed(5)
    x = torch.randn(1, 1, 7, 7)
    for include in (True, False):
        model = nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=include))
        ops = capture_operands(model, x, layer="0")
        ours = np.array([[pool_window(ops, 0, y, xx)[2] for xx in range(4)] for y in range(4)])
        assert np.abs(ours - ops.output[0]).max() < 1e-6


def test_linear_caption_result_equals_the_real_output():
    model, x = _digits_model()
    ops = capture_operands(model, x, layer="fc2")
    scene = explainer_scene(ops, fps=4)
    for frame in scene.frames:
        j = int(re.match(r"out\[(\d+)\]", frame.caption).group(1))
        assert frame.caption.endswith(f"= {num(ops.output[0, j])}")
        assert "(64 terms)" in frame.caption


def test_batchnorm_caption_uses_running_statistics_and_equals_the_output():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    model.train()(torch.randn(8, 1, 6, 6) * 3 + 1)  # running statistics away from 0 and 1
    ops = capture_operands(model, torch.randn(1, 1, 6, 6), layer="1")
    assert model.training  # restored
    scene = explainer_scene(ops, fps=4)
    for frame in scene.frames[::5]:
        c, y, xx = (int(v) for v in re.match(r"out\[c=(\d+), y=(\d+), x=(\d+)\]", frame.caption).groups())
        assert frame.caption.endswith(f"= {num(ops.output[c, y, xx])}")
        assert f"{num(float(model[1].running_mean[c]))}" in frame.caption


def test_layernorm_caption_equals_the_output():
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(4, 10), nn.LayerNorm(10))
    ops = capture_operands(model, torch.randn(1, 3, 4), layer="1")
    for frame in explainer_scene(ops, fps=4).frames:
        i = int(re.match(r"out\[0, (\d+)\]", frame.caption).group(1))
        assert frame.caption.endswith(f"= {num(ops.output[0, i])}")


def test_attention_weights_equal_torchs_per_head_weights():
    torch.manual_seed(8)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2, enable_nested_tensor=False)
    x = torch.randn(1, 6, 16)
    ops = capture_operands(enc, x, layer="layers.1.self_attn")
    hidden = []
    handle = enc.layers[1].self_attn.register_forward_pre_hook(lambda m, a: hidden.append(a[0].clone()))
    with torch.no_grad():
        enc.eval()(x)
        handle.remove()
        _, ref = enc.layers[1].self_attn(hidden[0], hidden[0], hidden[0], average_attn_weights=False)
    _, weights = attention_weights(ops)
    assert weights.shape == (4, 6, 6)
    assert np.abs(weights - ref[0].numpy()).max() < 1e-6


def test_sdpa_call_inside_a_module_is_explained_as_attention():
    class Attend(nn.Module):
        def forward(self, q, k, v):
            return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attend = Attend()

        def forward(self, q, k, v):
            return self.attend(q, k, v)

    torch.manual_seed(9)
    q, k, v = (torch.randn(1, 2, 5, 8) for _ in range(3))
    ops = capture_operands(Block(), q, k, v, layer="attend")
    _, weights = attention_weights(ops)
    ref = torch.softmax(
        (q[0] @ k[0].transpose(-1, -2) / 8**0.5).masked_fill(torch.ones(5, 5).triu(1).bool(), float("-inf")), -1
    )
    assert ops.kind == "attention"
    assert np.abs(weights - ref.numpy()).max() < 1e-6


def test_unknown_layer_is_one_line_naming_the_closest():
    closest = "closest: conv4, conv3, conv2, conv1"
    with pytest.raises(ModelSpecError, match=rf"layer 'conv' is not a module of SeedCNN; {closest}"):
        capture_operands(SeedCNN(), torch.randn(1, 3, 64, 64), layer="conv")


def test_unsupported_kind_names_the_supported_ones():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU())
    with pytest.raises(ModelSpecError, match=r"layer '1' is a ReLU; explain draws Conv1d/Conv2d, MaxPool"):
        capture_operands(model, torch.randn(1, 1, 5, 5), layer="1")


def test_second_call_of_a_shared_module_is_reachable():
    model, x = _digits_model()
    ops = capture_operands(model, x, layer="pool#2")
    assert ops.input.shape == (32, 16, 16) and ops.output.shape == (32, 8, 8)
    assert [s.name for s in ops.chain] == ["conv1#1", "pool#1", "conv2#1"]
    with pytest.raises(ModelSpecError, match=r"layer 'pool' ran 3 time\(s\) in forward, so call #4 does not exist"):
        capture_operands(model, x, layer="pool#4")


def test_script_moves_step_by_step_first_then_fills_every_cell():
    frames = window_script(32, 32, fps=30, final=(5, 7))
    firsts = []
    for y, x, _ in frames:
        if not firsts or firsts[-1] != (y, x):
            firsts.append((y, x))
    assert firsts[: SLOW_STEPS + 3] == [(0, k) for k in range(SLOW_STEPS + 3)]
    assert frames[-1] == (5, 7, 32 * 32)
    assert 8 * 30 <= len(frames) <= 12 * 30  # a few seconds, whatever the size
