"""Where the time to first PNG goes: one ``render3d render MODEL`` process split into phases.

A fresh interpreter runs the real CLI (``render3d.cli.run``, the console script) with ``-X importtime``;
timers are wrapped around the functions of each phase as their modules load (no module is imported earlier
than the CLI imports it), and the child prints wall-clock stamps, so the parent can place them against its own start:

- start-up: interpreter + ``render3d.cli`` until ``main()`` runs (inside ``run()``);
- CLI, VTK: ``cmd_render`` importing ``render3d.rendering`` (pyvista/VTK) before anything is traced;
- model + trace: ``trace_spec`` (torch and the model's own imports, the model built on the meta device,
  the shape-only pass);
- scene: ``to_scene``; GL wait: ``gl_max_size`` collecting the background GL probe; plotter:
  ``build_plotter`` after that; render + screenshot; PNG: encode and atomic write; exit: interpreter
  shutdown after ``main`` returns.

Import costs (cumulative ms of each package's first import, from ``-X importtime``) are listed beside the
phases; they overlap them (torch is imported inside "model + trace").

    python benchmarks/startup_profile.py [--reps 3] [--models torchvision:resnet152,torchvision:vit_b_16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import headless_env, md_table  # noqa: E402

#: packages whose first import is reported (cumulative, wherever it happens)
PACKAGES = ("render3d.cli", "torch", "torchvision", "torch._dynamo", "pyvista", "matplotlib", "sklearn", "imageio")

CHILD = r"""
import importlib.abc, importlib.util, json, sys, time
stamps = []
def stamp(name):
    stamps.append((name, time.time()))
def timed(fn, before, after):
    def wrapper(*args, **kwargs):
        stamp(before)
        try:
            return fn(*args, **kwargs)
        finally:
            stamp(after)
    return wrapper
def patch_png(m):
    m.gl_max_size = timed(m.gl_max_size, "gl wait", "gl ready")
    m.build_plotter = timed(m.build_plotter, "plotter", "plotter built")
    m.write_image = timed(m.write_image, "png write", "png written")
def patch_api(m):
    m.trace_spec = timed(m.trace_spec, "trace", "traced")
    m.to_scene = timed(m.to_scene, "scene", "scene built")
def patch_cli(m):
    m.cmd_render = timed(m.cmd_render, "cmd_render", "cmd_render done")
PATCHES = {"render3d.rendering.png": patch_png, "render3d.api": patch_api}
class After(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        patch = PATCHES.get(name)
        if patch is None:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            patch(module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, After())
stamp("python up")
import render3d.cli as cli
patch_cli(cli)
cli.main = timed(cli.main, "main", "main done")
rc = cli.run()  # the console script's entry: main() with its collector settings, the heap frozen after
print("STAMPS " + json.dumps(stamps), flush=True)
sys.exit(rc)
"""


def run_once(model: str, out: Path) -> dict:
    """One render process: phase durations (s) and first-import costs (ms)."""
    cmd = [sys.executable, "-X", "importtime", "-c", CHILD, "render", model, "-o", str(out)]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=headless_env(), timeout=600)
    end = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"{model}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    stamps = dict(json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("STAMPS "))[7:]))
    at = {k: v - start for k, v in stamps.items()}
    phases = {
        "start-up (python + render3d.cli)": at["main"],
        "CLI + pyvista/VTK import": at["trace"] - at["main"],
        "model + trace (torch import, meta build, shapes)": at["traced"] - at["trace"],
        "scene": at["scene built"] - at["scene"],
        "GL wait (background probe)": at["gl ready"] - at["gl wait"],
        "plotter build": at["plotter built"] - at["plotter"] - (at["gl ready"] - at["gl wait"]),
        "render + screenshot": at["png write"] - at["plotter built"],
        "PNG encode + write": at["png written"] - at["png write"],
        "exit": end - start - at["main done"],
        "total (wall)": end - start,
    }
    return {"phases": phases, "imports": _first_imports(proc.stderr)}


def _first_imports(importtime: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        name = name.strip()
        if name in PACKAGES and name not in found:
            found[name] = int(cumulative) / 1e3
    return found


def profile(models: list[str], reps: int, out_dir: Path, log=print) -> dict[str, list[dict]]:
    """``reps`` runs per model, models interleaved (the neighbours' load is shared out)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {m: [] for m in models}
    for i in range(reps):
        for m in models:
            runs[m].append(run_once(m, out_dir / f"{i}-{m.replace(':', '_').replace('/', '_')}.png"))
            log(f"  [{i + 1}] {m}: {runs[m][-1]['phases']['total (wall)']:.2f} s")
    return runs


def tables(runs: dict[str, list[dict]]) -> str:
    """The phase table and the first-import table, medians per model, as markdown."""
    models = list(runs)
    phase_names = list(runs[models[0]][0]["phases"])
    rows = [[p, *(f"{statistics.median(r['phases'][p] for r in runs[m]):.2f} s" for m in models)] for p in phase_names]
    imports = [[p, *(_median_ms(runs[m], p) for m in models)] for p in PACKAGES]
    return (
        md_table(["phase", *models], rows)
        + "\n\n"
        + md_table(["first import of (cumulative, overlaps the phases)", *models], imports)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--models", default="torchvision:resnet152,torchvision:vit_b_16")
    args = parser.parse_args()
    runs = profile(
        args.models.split(","),
        args.reps,
        Path(tempfile.mkdtemp(prefix="render3d-startup-")),
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}; median of {args.reps} runs per model\n")
    print(tables(runs))


def _median_ms(runs: list[dict], package: str) -> str:
    values = [r["imports"][package] for r in runs if package in r["imports"]]
    return f"{statistics.median(values):.0f} ms" if values else "not imported"


if __name__ == "__main__":
    main()
