"""The least any activation capture can cost: a plain forward, then the same forward with more of
render3d's per-output work added one step at a time, without render3d's graph.

Why: ``trace_overhead.py`` compares ``render3d.trace(capture="reduced")`` with a plain forward (target
<= 1.2x). This script asks how much of that ratio is the graph (the tracer's bookkeeping) and how much
is the capture itself, which no tracer design can avoid: exact min/max (dead and exploding flags must
not come from a sample), the bounded float16 copy the picture is drawn from, the statistics sample.
Each step runs inside a forward hook on every leaf module, the cheapest place a copy can be taken
before an in-place op (``ReLU(inplace=True)``) rewrites the tensor. The steps use render3d's own
capture functions, so the floor moves when they do.

Interleaved, shuffled rounds; median ratios to the plain forward of the same round.

    python benchmarks/capture_floor.py [--rounds 11] [--models resnet50,resnet152,vit_b_16]
                                       [--threads 1]  (0: torch's default thread count) [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torchvision
from _common import CLOCKS, interleaved

import render3d
from render3d.tracing.capture import CaptureConfig, _reduce, _sample_step, capture, materialize

CONFIG = CaptureConfig()

#: what one step does to each leaf output; the steps are cumulative (each does the one before it, and more)
Step = Callable[[torch.Tensor], Any]


def _nothing(t: torch.Tensor) -> Any:
    return None


def _min_max(t: torch.Tensor) -> Any:
    return tuple(float(v) for v in torch.aminmax(t))


def _plus_copy(t: torch.Tensor) -> Any:
    view, _ = _reduce(t.numpy(), CONFIG)
    return _min_max(t), torch.from_numpy(np.ascontiguousarray(view)).half()


def _plus_sample(t: torch.Tensor) -> Any:
    kept = _plus_copy(t)
    flat = t.numpy().reshape(-1)
    return kept, flat[:: _sample_step(flat.size, CONFIG.stats_sample)].copy()


STEPS: dict[str, Step] = {
    "hook on every leaf": _nothing,
    "+ exact min/max": _min_max,
    "+ float16 copy (64 ch, 32²)": _plus_copy,
    "+ stats sample (2048)": _plus_sample,
    "+ channel means (= capture())": lambda t: capture(t, CONFIG),
}


def _first_float(output: Any) -> torch.Tensor | None:
    found = output[0] if isinstance(output, (tuple, list)) and output else output
    if isinstance(found, torch.Tensor) and found.dtype == torch.float32 and found.numel() and found.is_contiguous():
        return found
    return None


def _hooked(model: torch.nn.Module, x: torch.Tensor, step: Step, finish: bool) -> Callable[[], None]:
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]

    def run() -> None:
        kept: list[Any] = []

        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            t = _first_float(output)
            if t is not None:
                kept.append(step(t))

        handles = [m.register_forward_hook(hook) for m in leaves]
        try:
            with torch.no_grad():
                model(x)
        finally:
            for h in handles:
                h.remove()
        if finish:
            materialize([c for c in kept if c is not None])

    return run


def measure(name: str, rounds: int, size: int = 224, clock: Callable[[], float] = time.perf_counter) -> dict:
    model = torchvision.models.get_model(name, weights=None).eval()
    x = torch.randn(1, 3, size, size)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    variants: dict[str, Callable[[], None]] = {"forward": plain}
    variants.update({label: _hooked(model, x, step, finish=False) for label, step in STEPS.items()})
    variants["+ sample statistics (= materialize())"] = _hooked(model, x, STEPS["+ channel means (= capture())"], True)
    variants['render3d.trace(capture="none")'] = lambda: render3d.trace(model, x, capture="none")
    variants['render3d.trace(capture="reduced")'] = lambda: render3d.trace(model, x, capture="reduced")
    times = interleaved(variants, rounds, clock)
    return {
        "forward_ms": statistics.median(times["forward"]) * 1e3,
        "ratios": {k: statistics.median(t / f for t, f in zip(v, times["forward"])) for k, v in times.items()},
    }


def table(results: dict[str, dict]) -> str:
    names = list(results)
    steps = list(next(iter(results.values()))["ratios"])
    lines = [
        "| step (cumulative) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| plain forward (ms) | " + " | ".join(f"{results[n]['forward_ms']:.1f}" for n in names) + " |",
    ]
    for step in steps[1:]:
        cells = (results[n]["ratios"][step] for n in names)
        lines.append(f"| {step} | " + " | ".join(f"{r:.3f}×" if math.isfinite(r) else "n/a" for r in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--models", default="resnet50,resnet152,vit_b_16")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads; 0 keeps torch's default")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall seconds, or CPU seconds")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(0)
    torch.manual_seed(0)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{torch.get_num_threads()} thread(s), {args.clock} clock, load average {load}\n")
    results = {n: measure(n, args.rounds, args.size, CLOCKS[args.clock]) for n in args.models.split(",")}
    print(table(results))


if __name__ == "__main__":
    main()
