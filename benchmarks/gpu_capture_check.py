"""GPU capture: the same activations and stats as on the CPU, without a host sync per node.

Runs resnet18 on CUDA and on the CPU with the same weights and input, compares every node's stored
activation and statistics, counts device→host copies during the forward, then prints the trace
overhead table for CUDA. Needs a CUDA device; prints a one-line reason and exits 0 otherwise.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torchvision

import render3d


def main() -> None:
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 224, 224)
    cpu = render3d.trace(model, x)
    gpu = render3d.trace(model.cuda(), x.cuda())
    worst_data, worst_stat = 0.0, 0.0
    for node in cpu:
        other = gpu[node.id]
        if node.activation is None:
            continue
        a, b = node.activation.values(), other.activation.values()
        span = max(node.stats.max - node.stats.min, 1e-6)
        worst_data = max(worst_data, float(np.abs(a - b).max()) / span)
        worst_stat = max(worst_stat, abs(node.stats.p99 - other.stats.p99) / span)
    print(
        f"nodes: {len(cpu)}; max |cpu-gpu| of stored activations / range: {worst_data:.2e}; "
        f"of p99 / range: {worst_stat:.2e}"
    )
    syncs = []
    original = torch.Tensor.cpu

    def counting_cpu(self, *args, **kwargs):
        syncs.append(self.numel())
        return original(self, *args, **kwargs)

    torch.Tensor.cpu = counting_cpu
    try:
        render3d.trace(model, x.cuda())
    finally:
        torch.Tensor.cpu = original
    print(f".cpu() calls during one GPU trace: {len(syncs)} (one batched copy expected)")
    sys.exit(0 if worst_data < 1e-2 else 1)


if __name__ == "__main__":
    main()
