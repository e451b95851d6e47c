"""Cost of ``render3d.trace(..., capture="reduced")`` relative to a plain forward pass.

Interleaved, shuffled rounds on one thread (the machine is shared: back-to-back blocks of runs would
measure the neighbours, not us); prints the median ratio per model. Target: <= 1.2x.
``--clock cpu`` times CPU seconds of this process instead of wall seconds: on a machine whose load average
is several times its core count, wall time mostly measures the wait for a core (ResNet-50's forward took
3x its unloaded time), CPU time the work done.

    python benchmarks/trace_overhead.py [--rounds 15] [--size 224] [--models resnet50,resnet152,vit_b_16]
                                        [--threads 1]  (0: torch's default thread count) [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import torch
import torchvision
from _common import CLOCKS, interleaved

import render3d


def synced(clock, device: str):
    """``clock`` read after the device has finished its queued work (CUDA launches return at once)."""
    if not device.startswith("cuda"):
        return clock

    def read() -> float:
        torch.cuda.synchronize()
        return clock()

    return read


def measure(name: str, rounds: int, size: int, device: str = "cpu", clock=time.perf_counter) -> dict[str, float]:
    model = torchvision.models.get_model(name, weights=None).eval().to(device)
    x = torch.randn(1, 3, size, size, device=device)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    variants = {
        "forward": plain,
        "trace": lambda: render3d.trace(model, x, capture="reduced"),
        "trace_none": lambda: render3d.trace(model, x, capture="none"),
    }
    times = interleaved(variants, rounds, synced(clock, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratios = {k: statistics.median(t / f for t, f in zip(times[k], times["forward"])) for k in variants}
    return {
        "forward_ms": med["forward"] * 1e3,
        "trace_ms": med["trace"] * 1e3,
        "ratio": ratios["trace"],
        "ratio_shapes_only": ratios["trace_none"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--models", default="resnet50,resnet152,vit_b_16")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads; 0 keeps torch's default")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (GPU: times are synchronised)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall seconds, or CPU seconds")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(0)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{torch.get_num_threads()} thread(s), {args.clock} clock, load average {load}\n")
    print("| model | input | forward (ms) | trace reduced (ms) | ratio (median of paired rounds) | shapes-only ratio |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        r = measure(name, args.rounds, args.size, args.device, CLOCKS[args.clock])
        print(
            f"| {name} ({args.device}) | 1×3×{args.size}² | {r['forward_ms']:.1f} | {r['trace_ms']:.1f} | "
            f"**{r['ratio']:.3f}×** | {r['ratio_shapes_only']:.3f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
