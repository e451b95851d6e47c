"""Shape-only renders of the biggest torchvision models: wall time and peak RSS of the whole process.

``render3d render torchvision:MODEL --device meta -o x.png`` (1920×1080) in a fresh process per run,
timed with GNU time, runs interleaved in a seeded order, medians printed. ``--device meta`` builds the
model with its weights on the meta device (no weight memory, no compute), so vit_h_14 (632 M params,
2.5 GB of fp32 weights) and regnet_y_128gf (645 M) render without ever allocating their weights.
**Targets: ≤ 10 s and ≤ 2 GB peak RSS per model.**

    python benchmarks/shape_only.py [--reps 3] [--models vit_h_14,regnet_y_128gf]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt_mb, fmt_s, md_table  # noqa: E402
from render_vs_peers import render3d_contender, run_interleaved  # noqa: E402

MODELS = ("vit_h_14", "regnet_y_128gf")
WALL_TARGET_S = 10.0
RSS_TARGET_MB = 2048.0


def measure(models=MODELS, reps: int = 3, log=print):
    contenders = [render3d_contender(m, extra=("--device", "meta"), name=m, timeout=120) for m in models]
    return run_interleaved(contenders, reps, seed=1, log=log)


def rows(contenders) -> list[list[str]]:
    out = []
    for c in contenders:
        if not c.n_ok:
            out.append([c.name, f"failed: {c.failure}", "—", "MISSED (failed)"])
            continue
        met_t, met_m = c.wall <= WALL_TARGET_S, c.rss <= RSS_TARGET_MB
        note = (
            "met (≤ 10 s, ≤ 2 GB)"
            if met_t and met_m
            else "MISSED: " + ", ".join(x for x, ok in (("time > 10 s", met_t), ("RSS > 2 GB", met_m)) if not ok)
        )
        out.append([c.name, fmt_s(c.wall), fmt_mb(c.rss), f"{note}; n={c.n_ok}"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args()
    cs = measure(args.models.split(","), args.reps, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(md_table(["model (--device meta, 1920×1080)", "wall (median)", "peak RSS (median)", "target"], rows(cs)))


if __name__ == "__main__":
    main()
