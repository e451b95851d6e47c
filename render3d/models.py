"""Small models shipped with render3d, for examples, scenes, the demo and the tests.

``SeedCNN`` is the model the project was born from (input 1×3×64×64). ``UNet`` is a compact U-Net with
skip concatenations, ``DigitsCNN`` is the seed design sized for 8×8 digits upsampled to 32×32, and
``SequenceClassifier`` mixes an ``nn.LSTM`` with an ``nn.TransformerEncoder``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SeedCNN(nn.Module):
    """Four conv+ReLU+pool stages, then two linear layers; expects 1×3×64×64."""

    example_input_shape = (1, 3, 64, 64)

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.conv4 = nn.Conv2d(128, 128, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(128 * 4 * 4, 512)
        self.fc2 = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = self.pool(torch.relu(self.conv3(x)))
        x = self.pool(torch.relu(self.conv4(x)))
        x = x.view(-1, 128 * 4 * 4)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


class DigitsCNN(nn.Module):
    """The seed design, narrowed for scikit-learn's 8×8 digits upsampled to 1×32×32."""

    example_input_shape = (1, 1, 32, 32)

    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width * 2, 3, padding=1)
        self.conv3 = nn.Conv2d(width * 2, width * 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(width * 4 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = self.pool(torch.relu(self.conv3(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """A U-Net with ``levels`` down/up steps and skip concatenations; any input size works (pads)."""

    example_input_shape = (1, 3, 64, 64)

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base: int = 16, levels: int = 3) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(levels + 1)]
        self.inc = _DoubleConv(in_channels, widths[0])
        self.down = nn.ModuleList(_DoubleConv(widths[i], widths[i + 1]) for i in range(levels))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(levels))
        )
        self.dec = nn.ModuleList(_DoubleConv(widths[i] * 2, widths[i]) for i in reversed(range(levels)))
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.down:
            skips.append(down(self.pool(skips[-1])))
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            skip = skips.pop()
            dy, dx = skip.size(2) - x.size(2), skip.size(3) - x.size(3)
            if dy or dx:
                x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            x = dec(torch.cat([skip, x], dim=1))
        return self.head(x)


class SequenceClassifier(nn.Module):
    """Token embedding → LSTM → Transformer encoder → mean pool → linear; input is (N, T) int64."""

    example_input_shape = (1, 16)
    example_input_dtype = torch.int64

    def __init__(self, vocab: int = 100, dim: int = 32, heads: int = 4, layers: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.example_input_high = vocab
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        x, _ = self.lstm(x)
        x = self.encoder(x)
        return self.head(x.mean(dim=1))
