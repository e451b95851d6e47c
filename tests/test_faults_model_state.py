"""Tracing leaves the model exactly as found: no user train()/eval() override runs, buffers the forward
mutates and the global RNG states are put back, on success and when the forward raises."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from render3d.errors import TraceError
from render3d.record import Recorder
from render3d.tracing.tracer import trace


class FreezingModel(nn.Module):
    """A common fine-tuning idiom: ``train()`` keeps the backbone frozen in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        self.head = nn.Linear(4, 2)
        self.override_calls = 0

    def train(self, mode: bool = True) -> FreezingModel:
        self.override_calls += 1
        super().train(mode)
        self.backbone.eval()
        for p in self.backbone.parameters():
            p.requires_grad_(not mode)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class SideEffects(nn.Module):
    """A forward that counts its calls in a buffer, replaces another, and draws from every global RNG."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("ema", torch.zeros(4))
        self.fail = fail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        self.ema = self.ema * 0.5 + x.mean(0)  # rebinds the buffer to a new tensor
        noise = torch.rand(()) + float(np.random.rand()) + random.random()
        if self.fail:
            raise RuntimeError("boom")
        return self.fc(x) + noise


def _rng_states() -> tuple:
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _assert_rng_unchanged(before: tuple) -> None:
    after = _rng_states()
    assert torch.equal(before[0], after[0])
    assert np.array_equal(before[1], after[1])
    assert before[2] == after[2]


def test_train_override_is_not_called_and_flags_come_back():
    model = FreezingModel()
    model.train()
    model.override_calls = 0
    flags = {name: m.training for name, m in model.named_modules()}
    grads = {name: p.requires_grad for name, p in model.named_parameters()}
    trace(model, torch.randn(3, 4))
    assert model.override_calls == 0
    assert {name: m.training for name, m in model.named_modules()} == flags
    assert {name: p.requires_grad for name, p in model.named_parameters()} == grads


def test_modules_run_in_eval_mode_during_the_trace():
    model = FreezingModel()
    model.train()
    running = model.backbone[1].running_mean.clone()
    seen = []
    model.backbone[1].register_forward_pre_hook(lambda m, args: seen.append(m.training))
    trace(model, torch.randn(3, 4))
    assert seen == [False]
    assert torch.equal(model.backbone[1].running_mean, running)


def test_mutated_and_rebound_buffers_are_restored():
    model = SideEffects()
    model.steps.fill_(7)
    ema = model.ema
    trace(model, torch.randn(2, 4))
    assert model.steps.item() == 7
    assert model.ema is ema and torch.equal(ema, torch.zeros(4))


def test_global_rng_states_are_restored():
    model, x = SideEffects(), torch.randn(2, 4)
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    before = _rng_states()
    trace(model, x)
    _assert_rng_unchanged(before)


def test_state_is_restored_when_the_forward_raises():
    model = SideEffects(fail=True)
    model.train()
    model.steps.fill_(5)
    x = torch.randn(2, 4)
    before = _rng_states()
    with pytest.raises(TraceError, match="boom"):
        trace(model, x)
    assert model.training and model.fc.training
    assert model.steps.item() == 5 and torch.equal(model.ema, torch.zeros(4))
    _assert_rng_unchanged(before)


def test_recorder_snapshot_leaves_the_model_as_found(tmp_path):
    model = FreezingModel()
    model.train()
    model.override_calls = 0
    state = {k: v.clone() for k, v in model.state_dict().items()}
    Recorder(model, torch.randn(1, 4), tmp_path / "rec").snapshot(1)
    assert model.override_calls == 0 and model.training and not model.backbone.training
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
