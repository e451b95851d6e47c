"""Small models with known health problems, usable as ``tests/broken_models.py:Net`` from the CLI.

``Net`` has exactly three broken layers, each the only one of its kind: ``relu2`` is dead (its conv's
bias pushes every value below zero), ``expand`` is exploding (weights ×10,000) and ``log`` produces
NaN (the log of a normalised, half-negative tensor). Everything else is a healthy random-init layer,
and the exploding scale is normalised away by ``norm`` so it does not drag the model's median up.
"""

from __future__ import annotations

import torch
from torch import nn


class Log(nn.Module):
    """``torch.log`` as a layer, with no guard against negative inputs: the NaN source."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class Net(nn.Module):
    example_input_shape = (1, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.expand = nn.Conv2d(8, 8, 3, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.log = Log()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():
            self.conv2.weight.mul_(0.01)
            self.conv2.bias.fill_(-5.0)  # every output < 0: relu2 never fires
            self.expand.weight.mul_(1e4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = x + self.relu2(self.conv2(x))
        x = self.log(self.norm(self.expand(x)))
        return self.fc(self.pool(x).flatten(1))
