"""Run every benchmark in one go and write ``benchmarks/RESULTS.md`` (the table the README shows).

Same machine, same run, same models for render3d and its peers:

* time to first PNG, whole process (fresh interpreter per run: imports + model build + render + file),
  and peak RSS — resnet152 and vit_b_16 — render3d (``render3d render``, 1920×1080) vs VisualTorch
  ``flow`` and ``graph``, torchview (``draw_graph(depth=3)`` + ``dot`` → PNG) and TorchRender3D
  (its ``output`` view, rendered offscreen; its documented path is also run once to record how it fails
  headless). Target: render3d ≤ 1.0× VisualTorch flow.
* trace overhead (``trace_overhead.measure``; render3d only): target ≤ 1.2× a plain forward pass.
* trace overhead again with torch's default thread count (the target covers both).
* the capture's floor (``capture_floor.py``): the same forwards with only a hook on every leaf, then exact
  min/max, the float16 copy, the sample, channel means and the sample statistics added step by step, at
  1 thread and the default count: how much of the trace overhead no tracer design can remove.
* where one render's time goes (``startup_profile.py``: start-up, VTK import, model + trace, scene, GL
  wait, plotter, render, PNG, interpreter exit; first-import costs).
* interactive frame time of the resnet152 scene, default and unfolded, 1920×1080, AA off: ≤ 20 ms.
* the same frame time for every torchvision classifier, architecture and activations mode, and
  DenseNet-201 unfolded (``frame_times.py``; ~1 h on 2 cores; ``--quick``: four models).
* MP4 fps of the demo's video against the encode-only ceiling (``animate_fps.py``).
* shape-only renders of vit_h_14 and regnet_y_128gf (``--device meta``): ≤ 10 s and ≤ 2 GB each.

Runs are interleaved in a seeded, shuffled order; medians of ``--reps`` runs (VisualTorch graph and
TorchRender3D take 30-150 s per run, so they run ``--slow-reps`` times, 1 by default). A peer that fails
or times out is recorded in the table with its exit code / signal / last error line.

    python benchmarks/run_all.py                 # ~10 min on 2 cores; writes benchmarks/RESULTS.md
    python benchmarks/run_all.py --quick         # 1 rep, fewer rounds, no TorchRender3D resnet152
    python benchmarks/run_all.py --only frames   # one part: whole|trace|startup|frames|zoo|mp4|shape (comma list)

Partial runs (``--quick`` / ``--only``) print their tables and write a file only when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import frame_times  # noqa: E402
import render_vs_peers as rvp  # noqa: E402
import shape_only  # noqa: E402
import startup_profile  # noqa: E402
from _common import (  # noqa: E402
    fmt_mb,
    fmt_s,
    gl_renderer,
    headless_env,
    machine_info,
    md_table,
    versions,
)

PARTS = ("whole", "trace", "startup", "frames", "zoo", "mp4", "shape")
QUICK_ZOO = ("alexnet", "resnet18", "densenet201", "vit_b_16")
WHOLE_MODELS = ("resnet152", "vit_b_16")
TRACE_TARGET = 1.2


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- parts


def run_whole(models, reps: int, slow_reps: int, quick: bool, out_dir: Path) -> dict:
    """Whole-process time to first PNG + peak RSS, render3d vs every peer, per model."""
    results = {}
    for model in models:
        log(f"whole process: {model} ({reps} reps, slow peers {slow_reps})")
        cs = [
            rvp.render3d_contender(model, name="render3d"),
            rvp.peer_contender("visualtorch", model, "--style", "flow", name="VisualTorch flow"),
            rvp.peer_contender(
                "visualtorch", model, "--style", "graph", name="VisualTorch graph", reps=slow_reps, timeout=240
            ),
            rvp.peer_contender("torchview", model, name="torchview"),
        ]
        if not (quick and model == "resnet152"):
            cs.append(rvp.peer_contender("torchrender3d", model, name="TorchRender3D", reps=slow_reps, timeout=300))
        rvp.run_interleaved(cs, reps, seed=sum(map(ord, model)), out_dir=out_dir / model, log=log)
        results[model] = {c.name: c for c in cs}
    # TorchRender3D's documented path (PlotNetwork3D(...)(close_automatically_window=True)) once, on the
    # smallest model (the failure comes after its actor build, which takes minutes on resnet152).
    log("TorchRender3D documented path, resnet18, once")
    doc = rvp.peer_contender(
        "torchrender3d", "resnet18", "--documented", name="TorchRender3D documented", reps=1, timeout=180
    )
    rvp.run_interleaved([doc], 1, out_dir=out_dir / "resnet18", log=log)
    results["_tr3d_documented"] = doc
    return results


def _child(cmd: list[str], timeout: int) -> tuple[str, str | None]:
    """Run a benchmark in a child process (headless): its stdout, and why it failed (None when it did not)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=headless_env())
    except subprocess.TimeoutExpired:
        return "", f"timeout after {timeout} s"
    res = rvp.ProcResult(cmd, 0, float("nan"), r.returncode, r.stdout, r.stderr)
    return r.stdout, None if res.ok else res.how_failed


def run_trace(models, rounds: int, threads: int = 1) -> dict:
    """Trace overhead through a fresh process per model (keeps this process free of big models);
    ``threads`` 0 keeps torch's default thread count."""
    out = {}
    for model in models:
        log(f"trace overhead: {model}, {rounds} rounds, threads {threads or 'default'}")
        code = (
            f"import json, random, sys, torch; sys.path.insert(0, {str(HERE)!r}); random.seed(0); "
            f"torch.manual_seed(0); {threads} and torch.set_num_threads({threads}); "
            f"from trace_overhead import measure; "
            f"r = measure({model!r}, {rounds}, 224); r['threads'] = torch.get_num_threads(); print(json.dumps(r))"
        )
        stdout, why = _child([sys.executable, "-c", code], timeout=400)
        lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
        out[model] = json.loads(lines[-1]) if lines else {"error": why or "no result line"}
        log(f"  {out[model]}")
    return out


def run_floor(models, rounds: int, threads: int = 1) -> str:
    """``capture_floor.py``'s table (what the capture costs without the graph), or why it failed."""
    log(f"capture floor: {','.join(models)}, {rounds} rounds, threads {threads or 'default'}")
    cmd = [sys.executable, str(HERE / "capture_floor.py"), "--models", ",".join(models)]
    cmd += ["--rounds", str(rounds), "--threads", str(threads)]
    stdout, why = _child(cmd, timeout=900)
    return f"failed: {why}" if why else stdout.strip()


def run_frames(frames: int) -> list[dict]:
    out = []
    for fold in (True, False):
        log(f"frame time: resnet152 fold={fold}, {frames} frames")
        out.append(rvp.frame_time_subprocess("resnet152", fold, frames))
        log(f"  {out[-1]}")
    return out


def run_mp4(quick: bool) -> dict:
    script = HERE / "animate_fps.py"
    if not script.exists():
        return {"status": "pending", "why": "benchmarks/animate_fps.py not written yet"}
    log("MP4 fps: benchmarks/animate_fps.py")
    cmd = [sys.executable, str(script)]
    try:
        helptext = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60).stdout
    except subprocess.TimeoutExpired:
        helptext = ""
    if quick and "--quick" in helptext:
        cmd.append("--quick")
    stdout, why = _child(cmd, timeout=300)
    if why:
        return {"status": "failed", "why": why}
    both = re.search(r"render \+ encode:\s*([\d.]+)\s*fps", stdout)
    ceiling = re.search(r"encode only:\s*([\d.]+)\s*fps", stdout)
    return {
        "status": "ok",
        "fps": float(both.group(1)) if both else None,
        "ceiling": float(ceiling.group(1)) if ceiling else None,
        "stdout": stdout.strip()[-3000:],
    }


def run_zoo(quick: bool, frames: int) -> list[dict]:
    """Frame time of every torchvision classifier (``--quick``: QUICK_ZOO), both modes, + DenseNet-201 unfolded."""
    models = list(QUICK_ZOO) if quick else frame_times.classifiers()
    log(f"frame time: {len(models)} torchvision classifiers x {len(frame_times.MODES)} modes, {frames} frames")
    results = frame_times.measure(models, list(frame_times.MODES), frames, 600, ["densenet201"], log=log)
    frame_times.recheck(results, frames, 600, log=log)
    return results


def run_shape(reps: int, out_dir: Path) -> list:
    log(f"shape-only renders ({reps} reps)")
    return shape_only.measure(reps=reps, log=log)


# --------------------------------------------------------------------------------------------- report


def _cell(c, what: str) -> str:
    if c is None:
        return "—"
    if not c.n_ok:
        return f"fails: {c.failure}"
    v = fmt_s(c.wall) if what == "wall" else fmt_mb(c.rss)
    return f"{v} (n={c.n_ok})" if c.n_ok < 3 else v


def summary_table(res: dict) -> str:
    peers = ["VisualTorch flow", "VisualTorch graph", "torchview", "TorchRender3D"]
    headers = ["metric", "model", "render3d", *peers, "target / notes"]
    rows = []
    whole = res.get("whole", {})
    for model in [m for m in whole if not m.startswith("_")]:
        cs = whole.get(model)
        if not cs:
            continue
        r3d, vt = cs["render3d"], cs["VisualTorch flow"]
        ratio = r3d.wall / vt.wall if r3d.n_ok and vt.n_ok else float("nan")
        verdict = "met" if ratio <= 1.0 else "**MISSED**"
        others = ", ".join(
            f"{n.split()[0] if n != 'VisualTorch graph' else 'VT graph'} {r3d.wall / c.wall:.2f}×"
            for n, c in cs.items()
            if n not in ("render3d", "VisualTorch flow") and c.n_ok and r3d.n_ok
        )
        rows.append(
            [
                "time to first PNG (whole process)",
                model,
                f"**{_cell(r3d, 'wall')}**",
                *(_cell(cs.get(p), "wall") for p in peers),
                f"≤ 1.0× VisualTorch flow: **{ratio:.2f}×** ({rvp.paired_ratio(r3d, vt):.2f}× paired) — "
                f"{verdict}" + (f"; vs {others}" if others else ""),
            ]
        )
        rows.append(
            [
                "peak RSS (whole process)",
                model,
                _cell(r3d, "rss"),
                *(_cell(cs.get(p), "rss") for p in peers),
                "lower is better",
            ]
        )
    for key, threads in (("trace", "1 thread"), ("trace_default", "default threads")):
        for model, t in res.get(key, {}).items():
            if "error" in t:
                cell, note = f"failed: {t['error']}", "≤ 1.2×: not measured"
            else:
                cell = f"**{t['ratio']:.2f}×** ({t['trace_ms']:.0f} ms vs {t['forward_ms']:.0f} ms forward)"
                note = f"≤ {TRACE_TARGET}× forward: " + ("met" if t["ratio"] <= TRACE_TARGET else "**MISSED**")
                note += f"; shapes-only {t['ratio_shapes_only']:.2f}×"
            label = threads if key == "trace" or "threads" not in t else f"{t['threads']} threads, torch's default"
            rows.append(
                [
                    f"trace overhead (capture=reduced, {label})",
                    model,
                    cell,
                    *["n/a: no activation capture"] * 3,
                    "n/a: fx trace, not timed separately",
                    note,
                ]
            )
    for f in res.get("frames", []):
        if "error" in f:
            rows.append(["interactive frame time", "resnet152", f"failed: {f['error']}", *["n/a"] * 4, "≤ 20 ms"])
            continue
        ok = f["median_ms"] <= rvp.FRAME_TARGET_MS
        rows.append(
            [
                f"interactive frame time, {f['scene']}",
                f"resnet152 ({f['blocks']} blocks)",
                f"**{f['median_ms']:.1f} ms** (p90 {f['p90_ms']:.1f})",
                "n/a: static 2D image",
                "n/a: static 2D image",
                "n/a: static graphviz image",
                "n/a: its VTK window needs X (SIGSEGV under EGL); one offscreen frame: see below",
                "≤ 20 ms at 1920×1080, AA off: " + ("met" if ok else "**MISSED**"),
            ]
        )
    if res.get("zoo"):
        done = [z for z in res["zoo"] if "median_ms" in z]
        over = [z for z in done if z["median_ms"] > rvp.FRAME_TARGET_MS]
        models = len({z["model"] for z in res["zoo"]})
        rows.append(
            [
                "interactive frame time, every torchvision classifier (architecture + activations)",
                f"{models} models, {len(res['zoo'])} scenes",
                f"**{frame_times.summary(res['zoo'])}**",
                *["n/a: static image"] * 3,
                "not run",
                "≤ 20 ms each: " + ("met" if len(done) == len(res["zoo"]) and not over else "**MISSED**"),
            ]
        )
    if "mp4" in res:
        m = res["mp4"]
        cell = (
            (f"**{m['fps']:.1f} fps** (render + encode)" if m.get("fps") else "see below")
            if m["status"] == "ok"
            else f"{m['status']} ({m['why']})"
        )
        note = m["status"]
        if m.get("fps"):
            ok = m["fps"] >= 30 and (not m.get("ceiling") or m["fps"] >= 0.5 * m["ceiling"])
            note = f"≥ 30 fps and ≥ 0.5× the encode-only ceiling ({m['ceiling']:.0f} fps): " + (
                "met" if ok else "**MISSED**"
            )
        rows.append(
            [
                "MP4 fps (animate)",
                "DigitsCNN demo, 1280×720",
                cell,
                "n/a: no animation",
                "n/a: no animation",
                "n/a: no animation",
                "n/a: TIFF frames only, no MP4 (peers.md: 0.08–0.35 fps)",
                note,
            ]
        )
    for c in res.get("shape", []):
        row = shape_only.rows([c])[0]
        rows.append(
            [
                "shape-only render (--device meta), wall / peak RSS",
                c.name,
                f"**{row[1]}** / {row[2]}",
                *["not run"] * 4,
                f"≤ 10 s, ≤ 2 GB: {row[3]}",
            ]
        )
    return md_table(headers, rows)


def detail_tables(res: dict) -> str:
    parts = []
    whole = res.get("whole", {})
    if whole:
        rows = []
        for model in [m for m in whole if not m.startswith("_")]:
            for name, c in (whole.get(model) or {}).items():
                j = c.json_line()
                sub = ", ".join(
                    f"{k} {v:.1f} s" if isinstance(v, float) else f"{k} {v}"
                    for k, v in j.items()
                    if k != "total_in_process_s"
                )
                walls = ", ".join(f"{r.wall_s:.1f}" if r.ok else "fail" for r in c.results)
                rows.append(
                    [
                        model,
                        name,
                        f"{c.n_ok}/{len(c.results)}",
                        walls,
                        fmt_s(c.wall) if c.n_ok else "—",
                        fmt_mb(c.rss) if c.n_ok else "—",
                        sub or ("" if c.n_ok else c.failure),
                    ]
                )
        doc = whole.get("_tr3d_documented")
        if doc:
            rows.append(
                [
                    "resnet18",
                    "TorchRender3D documented path (`net(close_automatically_window=True)`)",
                    f"{doc.n_ok}/{len(doc.results)}",
                    ", ".join(f"{r.wall_s:.1f}" for r in doc.results),
                    "—",
                    "—",
                    doc.failure or "ran",
                ]
            )
        parts.append(
            "### Whole-process runs (every run, seconds)\n\n"
            + md_table(
                ["model", "tool", "ok", "wall per run (s)", "median", "peak RSS", "in-process sub-timings / failure"],
                rows,
            )
        )
    if res.get("floor"):
        parts.append(
            "### What the capture costs without the graph (`benchmarks/capture_floor.py`)\n\n"
            "Ratios to the plain forward of the same round; each step adds to the one above it, inside a "
            "forward hook on every leaf module (the cheapest place to copy before an in-place op). The "
            "`render3d.trace` rows are the same models in the same rounds.\n\n" + "\n\n".join(res["floor"].values())
        )
    if res.get("startup"):
        parts.append(
            "### Where one render's time goes (`benchmarks/startup_profile.py`, medians)\n\n"
            + startup_profile.tables(res["startup"])
        )
    if res.get("frames"):
        parts.append(
            "### Frame time detail (resnet152, 1920×1080 offscreen, AA off)\n\n"
            + md_table(["scene", "blocks", "build_plotter", "first render", "frame"], rvp.frame_rows(res["frames"]))
        )
    if res.get("zoo"):
        parts.append(
            "### Frame time, every torchvision classifier (`benchmarks/frame_times.py`, 1920×1080, AA off)"
            "\n\n"
            + md_table(
                ["model", "scene", "blocks", "labels", "frame (target ≤ 20 ms)", "load"], frame_times.rows(res["zoo"])
            )
        )
    if res.get("mp4", {}).get("stdout"):
        parts.append("### MP4 (benchmarks/animate_fps.py, its output)\n\n```\n" + res["mp4"]["stdout"] + "\n```")
    return "\n\n".join(parts)


def write_report(res: dict, args, started: dt.datetime, elapsed: float, load: str) -> str:
    v = res["versions"]
    vers = ", ".join(f"{k} {val}" for k, val in v.items())
    head = [
        "# render3d benchmarks",
        "",
        f"Generated by `python benchmarks/run_all.py{' ' + ' '.join(args.argv) if args.argv else ''}` on "
        f"{started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min.",
        "",
        f"- **Machine:** {machine_info()}; GL: {res['gl']}; no GPU. Load average at start: {load} "
        "(shared machine: timings move ±30–50 % between runs, so every comparison below is render3d "
        "and the peer in the same run, interleaved).",
        f"- **Versions:** {vers}.",
        f"- **Method:** whole-process numbers are a fresh interpreter per run timed by GNU time "
        f"(`%e` wall, `%M` peak RSS), median of {args.reps} interleaved runs (VisualTorch graph and "
        f"TorchRender3D: {args.slow_reps} run, marked n=1); every tool builds the torchvision model with "
        "`weights=None`, input 1×3×224×224; render3d renders 1920×1080 PNGs, TorchRender3D 1024×1024 "
        "(its default), VisualTorch/torchview their own image sizes. Seeded (torch, numpy, run order).",
        "",
        "## Summary",
        "",
        summary_table(res),
        "",
        "Peers, how they were run: VisualTorch `visualtorch.render(model, input_shape=(1,3,224,224), "
        "style=...)` → PIL → PNG; torchview `draw_graph(model, input_size=..., depth=3)` then "
        "`visual_graph.render(format='png')` with Graphviz `dot`; TorchRender3D 0.0.7 "
        "`PlotNetwork3D(model, plot_type='output', render_res=(1024, 1024))`, whose documented display path "
        "(`update_plot()` → `ProcessEvents()`) crashes without X, so its render window is rendered "
        "offscreen with MSAA off and grabbed through `vtkWindowToImageFilter` → PNG "
        "(`benchmarks/peers.py`).",
        "",
    ]
    head += ["## Details", "", detail_tables(res), ""]
    return "\n".join(head)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 rep, 3 trace rounds, 15 frames, skip slow peer runs")
    p.add_argument("--only", default=None, help=f"comma list of parts: {', '.join(PARTS)}")
    p.add_argument("--reps", type=int, default=None, help="whole-process reps (default 3, --quick 1)")
    p.add_argument("--slow-reps", type=int, default=1, help="reps for VisualTorch graph and TorchRender3D")
    p.add_argument("--trace-rounds", type=int, default=None, help="default 7, --quick 3")
    p.add_argument("--frames", type=int, default=None, help="default 30, --quick 15")
    p.add_argument("--models", default=",".join(WHOLE_MODELS), help="models for whole-process and trace parts")
    p.add_argument("--out", default=None, help="markdown file (default benchmarks/RESULTS.md for a full run)")
    p.add_argument("--work-dir", default="/tmp/render3d-bench", help="where the PNGs go")
    args = p.parse_args()
    args.argv = sys.argv[1:]
    args.reps = args.reps or (1 if args.quick else 3)
    rounds = args.trace_rounds or (3 if args.quick else 7)
    frames = args.frames or (15 if args.quick else 30)
    parts = PARTS if args.only is None else tuple(x.strip() for x in args.only.split(","))
    bad = [x for x in parts if x not in PARTS]
    if bad:
        p.error(f"unknown part(s) {bad}; choose from {', '.join(PARTS)}")
    out = args.out or (None if (args.quick or args.only) else str(HERE / "RESULTS.md"))

    random.seed(0)
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    work = Path(args.work_dir)
    res: dict = {"versions": versions(), "gl": gl_renderer()}
    if "frames" in parts:  # first: GL timings suffer most from the peers' leftover load
        res["frames"] = run_frames(frames)
    if "shape" in parts:
        res["shape"] = run_shape(args.reps, work / "shape")
    if "whole" in parts:
        res["whole"] = run_whole(args.models.split(","), args.reps, args.slow_reps, args.quick, work)
    if "trace" in parts:
        res["trace"] = run_trace(args.models.split(","), rounds)
        res["trace_default"] = run_trace(args.models.split(","), rounds, threads=0)
        floor_models = list(dict.fromkeys(["resnet50", *args.models.split(",")]))
        res["floor"] = {n: run_floor(floor_models, rounds, n) for n in (1, 0)}
    if "startup" in parts:
        log(f"render process phases ({args.reps} reps)")
        res["startup"] = startup_profile.profile(
            [f"torchvision:{m}" for m in args.models.split(",")], args.reps, work / "startup", log=log
        )
    if "zoo" in parts:
        res["zoo"] = run_zoo(args.quick, 15)
    if "mp4" in parts:
        res["mp4"] = run_mp4(args.quick)
    elapsed = time.perf_counter() - t0
    report = write_report(res, args, started, elapsed, load)
    print(report)
    if out:
        tmp = Path(out).with_suffix(".md.tmp")
        tmp.write_text(report)
        tmp.replace(out)
        log(f"wrote {out} ({elapsed / 60:.1f} min)")


if __name__ == "__main__":
    main()
