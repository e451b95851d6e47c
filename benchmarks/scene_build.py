"""``build_scene`` on big synthetic graphs: seconds per scene and how the time grows with the graph.

The graph is the tests' ``big_residual`` (residual blocks of conv, conv, add; 3 nodes per block), built
unfolded (every node a block) at 300, 1,200 and 5,000 nodes, and folded at 5,000 (the ×N run folds to one
block). Median of ``--reps`` builds after one warm-up. **Targets: 5,000 nodes unfolded ≤ 2 s, folded ≤ 1 s,
and 4× the nodes costs well under 16× the time (no quadratic step).** Timings live here, not in the unit
tests, because a shared machine's load moves them (the tests assert what is built, not how fast).

    python benchmarks/scene_build.py [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scene_fixtures import big_residual  # noqa: E402

from render3d.scene.builder import build_scene  # noqa: E402

UNFOLDED = {"max_blocks": 10_000, "fold": False, "fold_repeats": False}


def median_seconds(trace, reps: int, **options) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        build_scene(trace, **options)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    build_scene(big_residual(10), **UNFOLDED)  # warm up imports and caches
    small, large, big = (big_residual(n) for n in (100, 400, 1666))
    t_small = median_seconds(small, args.reps, **UNFOLDED)
    t_large = median_seconds(large, args.reps, **UNFOLDED)
    t_big = median_seconds(big, args.reps, **UNFOLDED)
    t_folded = median_seconds(big, args.reps)
    print("| graph | nodes | build_scene | target |")
    print("|---|---:|---:|---|")
    print(f"| unfolded | {len(small)} | {t_small:.2f} s | |")
    print(f"| unfolded | {len(large)} | {t_large:.2f} s | growth {t_large / t_small:.1f}× for 4× the nodes (< 16×) |")
    print(f"| unfolded | {len(big)} | {t_big:.2f} s | ≤ 2 s: {'met' if t_big <= 2 else 'MISSED'} |")
    print(f"| folded | {len(big)} | {t_folded:.2f} s | ≤ 1 s: {'met' if t_folded <= 1 else 'MISSED'} |")


if __name__ == "__main__":
    main()
