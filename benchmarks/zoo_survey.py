"""Survey: does render3d draw models nobody tuned it for truthfully and legibly?

For every model in :data:`render3d.zoo.ZOO` (timm, Hugging Face, smp, MONAI, torchvision
detection/flow/video; random init, small inputs) it traces with ``capture="none"`` and ``"reduced"``,
builds the architecture and activations scenes, renders each to a PNG in OUT_DIR and prints one row:

    nodes      trace nodes (full depth)
    blocks     drawn blocks, architecture / activations
    miss       parameterised modules that ran (plain forward hooks) but are drawn nowhere
    dup        label names (first lines) shown more than once, arch / act
    ovl        pairs of blocks whose drawn boxes (box, ×N copies, feature map) intersect, arch / act
    drawn%     non-background pixels inside the model's pixel box, as % of the frame, arch / act
    width%     the model's pixel box width, as % of the frame width, arch / act
    same       whether both modes place the same blocks at the same positions (issue 8 asks for it;
               reported, not part of "passes")

A model passes when nothing is missing, no label repeats, no boxes intersect, blocks stay within
``SceneStyle.max_blocks`` and (when rendered) drawn >= 3 % and width >= 50 % in both modes.

    python benchmarks/zoo_survey.py OUT_DIR [--only bert_tiny,smp_fpn] [--no-render] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np  # noqa: E402

import render3d  # noqa: E402
from render3d.modelspec import call_inputs, load_model  # noqa: E402
from render3d.scene.overlap import overlapping_blocks  # noqa: E402
from render3d.scene.style import SceneStyle  # noqa: E402
from render3d.zoo import ZOO  # noqa: E402
from render3d.zoo_checks import (  # noqa: E402
    called_parameterised_modules,
    drawn_share,
    duplicate_labels,
    missing_modules,
)

MODES = ("architecture", "activations")
MIN_PIXELS, MIN_WIDTH = 0.03, 0.50


@dataclass
class ModeResult:
    blocks: int
    duplicates: list[str]
    overlaps: list[tuple[str, str]]
    missing: list[str]
    #: (N, 3) block centres in node_ids order, to compare the layouts of the two modes
    centers: np.ndarray | None = None
    node_ids: list[str] = field(default_factory=list)
    pixels: float | None = None
    width: float | None = None
    notes: list[str] = field(default_factory=list)

    def ok(self, max_blocks: int) -> bool:
        drawn = self.pixels is None or (self.pixels >= MIN_PIXELS and self.width >= MIN_WIDTH)
        return not (self.missing or self.duplicates or self.overlaps) and self.blocks <= max_blocks and drawn


def survey(name: str, out: Path, size: tuple[int, int], render: bool) -> tuple[int, dict[str, ModeResult]]:
    """Trace, build, render and check one zoo model in both modes."""
    model = load_model(f"render3d.zoo:{name}")
    args, kwargs = call_inputs(model.example_input())
    traces = {"architecture": render3d.trace(model, *args, capture="none", **kwargs)}
    with called_parameterised_modules(model) as called:
        traces["activations"] = render3d.trace(model, *args, capture="reduced", **kwargs)
    results = {}
    for mode, trace in traces.items():
        scene = render3d.build_scene(trace, mode, image_size=size)
        result = ModeResult(
            len(scene.blocks),
            duplicate_labels(scene),
            overlapping_blocks(scene),
            missing_modules(called, scene, trace),
            scene.blocks.centers,
            scene.blocks.node_ids,
            notes=list(scene.notes),
        )
        if render:
            from render3d.rendering import render_png

            png = render_png(scene, out / f"{name}_{mode[:4]}.png", size=size)
            coverage = drawn_share(scene, png)
            result.pixels, result.width = coverage.pixels, coverage.width
        results[mode] = result
    return len(traces["activations"]), results


def same_layout(results: dict[str, ModeResult]) -> bool:
    arch, act = results["architecture"], results["activations"]
    return arch.node_ids == act.node_ids and bool(np.allclose(arch.centers, act.centers, atol=1e-6))


def _pair(values: list[object]) -> str:
    return "/".join(str(v) for v in values)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


HEADER = (
    f"{'model':24} {'nodes':>5} {'blocks':>9} {'miss':>4} {'dup':>7} {'ovl':>9} {'drawn%':>7} "
    f"{'width%':>7} {'same':>4} {'s':>6}  ok"
)


def row(name: str, nodes: int, results: dict[str, ModeResult], seconds: float, ok: bool) -> str:
    arch, act = results["architecture"], results["activations"]
    missing = len(set(arch.missing) | set(act.missing))
    return (
        f"{name:24} {nodes:5d} {_pair([arch.blocks, act.blocks]):>9} {missing:4d} "
        f"{_pair([len(arch.duplicates), len(act.duplicates)]):>7} "
        f"{_pair([len(arch.overlaps), len(act.overlaps)]):>9} "
        f"{_pair([_pct(arch.pixels), _pct(act.pixels)]):>7} {_pair([_pct(arch.width), _pct(act.width)]):>7} "
        f"{'yes' if same_layout(results) else 'no':>4} {seconds:6.1f}  {'yes' if ok else 'NO'}"
    )


def details(name: str, results: dict[str, ModeResult]) -> list[str]:
    """What failed, in words, for the lines after the table."""
    lines = []
    for mode, r in results.items():
        if r.missing:
            lines.append(
                f"{name} {mode}: missing {len(r.missing)}: {', '.join(r.missing[:8])}"
                + (" …" if len(r.missing) > 8 else "")
            )
        if r.duplicates:
            lines.append(f"{name} {mode}: duplicate labels: {', '.join(r.duplicates[:8])}")
        if r.overlaps:
            pairs = ", ".join(f"{a}×{b}" for a, b in r.overlaps[:4])
            lines.append(f"{name} {mode}: {len(r.overlaps)} intersecting pairs, e.g. {pairs}")
        lines.extend(f"{name} {mode}: note: {n}" for n in r.notes)
    if not same_layout(results):
        arch, act = results["architecture"], results["activations"]
        if arch.node_ids != act.node_ids:
            lines.append(f"{name}: the modes draw different blocks ({len(arch.node_ids)} / {len(act.node_ids)})")
        else:
            shift = float(np.abs(arch.centers - act.centers).max())
            lines.append(f"{name}: the modes place blocks differently (largest shift {shift:.2f} world units)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--only", help="comma-separated model names (default: the whole zoo)")
    parser.add_argument("--no-render", action="store_true", help="skip PNGs and the frame-share checks")
    parser.add_argument("--size", default="1280x720", help="PNG size WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from: {', '.join(ZOO)}")
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    max_blocks = SceneStyle().max_blocks

    print(HEADER, flush=True)
    passed, notes = 0, []
    for name in names:
        start = time.perf_counter()
        try:
            nodes, results = survey(name, args.out, (width, height), not args.no_render)
        except Exception as exc:  # noqa: BLE001 - a failing model is a row, not the end of the survey
            print(
                f"{name:24} ERROR {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}",
                flush=True,
            )
            notes.append(f"{name}: {traceback.format_exc().strip().splitlines()[-1][:300]}")
            continue
        ok = all(r.ok(max_blocks) for r in results.values())
        passed += ok
        print(row(name, nodes, results, time.perf_counter() - start, ok), flush=True)
        notes.extend(details(name, results))
    print(f"{passed}/{len(names)} pass all checks")
    if notes:
        print("\n".join(["", "details:", *notes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
