"""Time to first PNG (whole process) of ``render3d render`` vs VisualTorch, and render3d's frame time.

1. Whole process, a fresh interpreter per run (imports + model build + trace + render + PNG written),
   wall time and peak RSS from GNU time: ``render3d render torchvision:resnet152 -o x.png --size
   1920x1080`` against ``visualtorch.render(model, input_shape=(1, 3, 224, 224), style="flow")`` → PNG
   (its own fresh process, which also builds the torchvision model with ``weights=None``). Runs are
   interleaved in a seeded shuffled order (the machine is shared: back-to-back blocks of runs would
   measure the neighbours); prints medians and the ratio render3d / VisualTorch.
   **Target: ratio ≤ 1.0×.**
2. Interactive frame time of the resnet152 scene: ``build_plotter`` at 1920×1080 offscreen, AA off,
   then the median of ~30 ``plotter.render()`` calls, for the default (auto-collapsed) scene and the full
   unfolded scene (``build_scene(trace, fold=False, fold_repeats=False, max_blocks=10**6)``: every
   traced node its own block). **Target: ≤ 20 ms.**

    python benchmarks/render_vs_peers.py [--reps 3] [--frames 30] [--model resnet152] [--no-frames]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ProcResult, fmt_mb, fmt_s, headless_env, md_table, measure_process, median  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS = str(HERE / "peers.py")
WHOLE_PROCESS_TARGET = 1.0
FRAME_TARGET_MS = 20.0


def render3d_cli() -> list[str]:
    """The installed ``render3d`` console script next to this interpreter (not a pyenv/asdf shim, which
    would add its own start-up time), else ``python -c 'render3d.cli.run()'``."""
    exe = Path(sys.executable).with_name("render3d")
    fallback = [sys.executable, "-c", "import sys; from render3d.cli import run; sys.exit(run())"]
    return [str(exe)] if exe.exists() else fallback


@dataclass
class Contender:
    """One thing to time as a whole process: a name and a command that writes ``out``."""

    name: str
    cmd: Callable[[Path], list[str]]
    reps: int | None = None  # None: the run's --reps
    timeout: float = 300
    results: list[ProcResult] = field(default_factory=list)
    out_paths: list[Path] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return median(r.wall_s for r in self.results if r.ok)

    @property
    def rss(self) -> float:
        return median(r.peak_rss_mb for r in self.results if r.ok)

    @property
    def failure(self) -> str | None:
        bad = [r for r in self.results if not r.ok]
        return bad[-1].how_failed if bad else None

    @property
    def n_ok(self) -> int:
        return sum(r.ok for r in self.results)

    def json_line(self) -> dict:
        """The last JSON line the process printed (peers.py reports in-process sub-timings)."""
        for r in reversed(self.results):
            for ln in reversed(r.stdout.splitlines()):
                if ln.startswith("{"):
                    try:
                        return json.loads(ln)
                    except ValueError:
                        pass
        return {}


def render3d_contender(
    model: str,
    size: str = "1920x1080",
    extra: tuple[str, ...] = (),
    name: str = "render3d",
    reps: int | None = None,
    timeout: float = 300,
) -> Contender:
    return Contender(
        name,
        lambda out: [*render3d_cli(), "render", f"torchvision:{model}", "-o", str(out), "--size", size, *extra],
        reps,
        timeout,
    )


def peer_contender(
    peer: str, model: str, *flags: str, name: str | None = None, reps: int | None = None, timeout: float = 300
) -> Contender:
    return Contender(name or peer, lambda out: [sys.executable, PEERS, peer, model, str(out), *flags], reps, timeout)


def run_interleaved(
    contenders: list[Contender],
    reps: int,
    seed: int = 0,
    out_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Contender]:
    """Run every contender ``reps`` times (or its own ``reps``), rounds in a seeded shuffled order."""
    rng = random.Random(seed)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="render3d-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    env = headless_env()
    for i in range(max(c.reps or reps for c in contenders)):
        order = [c for c in contenders if i < (c.reps or reps)]
        rng.shuffle(order)
        for c in order:
            out = out_dir / f"{c.name.replace(' ', '_').replace('/', '_')}-{i}.png"
            out.unlink(missing_ok=True)
            r = measure_process(c.cmd(out), timeout=c.timeout, env=env)
            if r.ok and not out.exists():
                r.rc, r.stderr = 1, r.stderr + "\nno PNG written"
            c.results.append(r)
            c.out_paths.append(out)
            state = f"{r.wall_s:6.2f} s {r.peak_rss_mb:7.0f} MB" if r.ok else r.how_failed
            log(f"  [{i + 1}] {c.name:<28} {state}")
    return contenders


def paired_ratio(a: Contender, b: Contender) -> float:
    """Median over rounds of a/b (both ok in that round); NaN when no round has both."""
    pairs = [ra.wall_s / rb.wall_s for ra, rb in zip(a.results, b.results) if ra.ok and rb.ok]
    return statistics.median(pairs) if pairs else float("nan")


def frame_time(
    model: str = "resnet152",
    fold: bool = True,
    size: tuple[int, int] = (1920, 1080),
    frames: int = 30,
    mode: str = "architecture",
) -> dict:
    """Median ``plotter.render()`` time (ms) of the model's ``mode`` scene (``"activations"``: traced
    with ``capture="reduced"``, random init), offscreen, AA off."""
    import render3d
    from render3d.api import trace_spec
    from render3d.rendering import build_plotter

    t = time.perf_counter()
    tr = trace_spec(f"torchvision:{model}", capture="none" if mode == "architecture" else "reduced")
    trace_s = time.perf_counter() - t
    t = time.perf_counter()
    scene = (
        render3d.build_scene(tr, mode)
        if fold
        else render3d.build_scene(tr, mode, fold=False, fold_repeats=False, max_blocks=10**6)
    )
    scene_s = time.perf_counter() - t
    t = time.perf_counter()
    plotter, _ = build_plotter(scene, size=size, off_screen=True, anti_aliasing=False)
    plot_s = time.perf_counter() - t
    try:
        t = time.perf_counter()
        plotter.render()
        first_ms = (time.perf_counter() - t) * 1e3
        for _ in range(3):  # warm-up
            plotter.render()
        times = []
        for _ in range(frames):
            t = time.perf_counter()
            plotter.render()
            times.append((time.perf_counter() - t) * 1e3)
    finally:
        plotter.close()
    return {
        "model": model,
        "mode": mode,
        "scene": "default (folded)" if fold else "unfolded (every node a block)",
        "nodes": len(tr.nodes),
        "blocks": len(scene.blocks),
        "labels": len(scene.labels),
        "trace_s": trace_s,
        "scene_s": scene_s,
        "build_plotter_s": plot_s,
        "first_ms": first_ms,
        "median_ms": statistics.median(times),
        "p90_ms": sorted(times)[int(0.9 * (len(times) - 1))],
        "frames": frames,
        "size": f"{size[0]}x{size[1]}",
    }


def frame_time_subprocess(
    model: str, fold: bool, frames: int, timeout: float = 300, mode: str = "architecture"
) -> dict:
    """:func:`frame_time` in a fresh process (a GL crash must not take the suite down)."""
    import subprocess

    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); from render_vs_peers import frame_time; "
        f"print(json.dumps(frame_time({model!r}, {fold!r}, frames={frames}, mode={mode!r})))"
    )
    try:
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=headless_env()
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    for ln in reversed(r.stdout.splitlines()):
        if ln.startswith("{"):
            return json.loads(ln)
    res = ProcResult([], 0, 0, r.returncode, r.stdout, r.stderr)
    return {"error": res.how_failed}


def frame_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r.get("scene", "?"), "—", "—", "—", f"failed: {r['error']}"])
            continue
        met = "met" if r["median_ms"] <= FRAME_TARGET_MS else "MISSED"
        rows.append(
            [
                r["scene"],
                str(r["blocks"]),
                f"{r['build_plotter_s']:.2f} s",
                f"{r['first_ms']:.0f} ms",
                f"**{r['median_ms']:.1f} ms** (p90 {r['p90_ms']:.1f}) — {met}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--model", default="resnet152")
    parser.add_argument("--no-frames", action="store_true")
    args = parser.parse_args()
    random.seed(0)

    print(f"whole process, {args.model}, {args.reps} interleaved reps:", file=sys.stderr)
    r3d = render3d_contender(args.model, name="render3d render")
    vt = peer_contender("visualtorch", args.model, "--style", "flow", name="VisualTorch flow")
    run_interleaved([r3d, vt], args.reps, log=lambda s: print(s, file=sys.stderr, flush=True))
    ratio = r3d.wall / vt.wall
    rows = []
    for c in (r3d, vt):
        rows.append(
            [c.name, fmt_s(c.wall) if c.n_ok else f"failed: {c.failure}", fmt_mb(c.rss), f"{c.n_ok}/{len(c.results)}"]
        )
    print(f"\n### Time to first PNG, whole process: {args.model}\n")
    print(md_table(["", "wall (median)", "peak RSS (median)", "ok runs"], rows))
    verdict = "met" if ratio <= WHOLE_PROCESS_TARGET else "MISSED"
    print(
        f"\nratio render3d / VisualTorch flow: **{ratio:.2f}×** (ratio of medians; paired "
        f"{paired_ratio(r3d, vt):.2f}×) — target ≤ {WHOLE_PROCESS_TARGET:.1f}×: {verdict}"
    )

    if not args.no_frames:
        res = [frame_time_subprocess(args.model, fold, args.frames) for fold in (True, False)]
        print(
            f"\n### Interactive frame time, {args.model}, 1920×1080 offscreen, AA off, median of "
            f"{args.frames} renders\n"
        )
        print(md_table(["scene", "blocks", "build_plotter", "first render", "frame (target ≤ 20 ms)"], frame_rows(res)))


if __name__ == "__main__":
    main()
