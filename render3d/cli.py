"""The ``render3d`` command: parses arguments, calls the library, reports.

One error boundary (:func:`main`): every failure prints exactly one line, ``ErrorName: message``, naming
the file, key or argument, and exits 2 for a usage error (an argument, MODEL, scene file or output spec
that is not valid) or 1 for anything else, never a traceback (``RENDER3D_DEBUG=1`` prints it too).
Arguments are checked when parsed, before any model is built; warnings print as one line each.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from render3d.errors import GalleryError, ModelSpecError, OutputSpecError, SceneFileError, UsageError, one_line
from render3d.limits import check_fps, check_size
from render3d.preflight import check_device
from render3d.scene.style import DEFAULT_SIZE, SCALES, VIDEO_SIZE

USAGE_ERRORS = (ModelSpecError, OutputSpecError, SceneFileError, UsageError)
#: the options that pick and run a MODEL (a recording was made with its own)
MODEL_OPTIONS = ("input_shape", "weights", "probe", "depth", "device")

T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """An argument error is a :class:`UsageError` through the CLI's error boundary (one line), not usage
    text plus a second line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _checked(check: Callable[[str], T], name: str) -> Callable[[str], T]:
    """An argparse ``type`` from a checker raising ValueError; its message becomes argparse's."""

    def parse(text: str) -> T:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _positive_int(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise ValueError(f"{text!r} is not a positive integer")
    return value


def _input_shape(text: str) -> tuple[int, ...]:
    from render3d.modelspec import parse_shape
    from render3d.preflight import check_shape

    return check_shape(parse_shape(text))


def _probe(text: str) -> str:
    """``random``, ``digit:N`` or an existing file (the range of N is checked when the probe is made)."""
    kind, sep, number = text.partition(":")
    if text == "random" or (kind == "digit" and sep and number.isdigit()) or Path(text).is_file():
        return text
    if kind == "digit":
        raise ValueError(f"probe {text!r} is not valid: use digit:N with N a whole number from 0")
    raise ValueError(f"probe {text!r} is not 'random', 'digit:N' or an existing file")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size {text!r} is not valid: use WIDTHxHEIGHT, e.g. 1920x1080")
    return check_size((int(parts[0]), int(parts[1])))


def _metric(text: str) -> str:
    from render3d.record.metrics import check_metric

    return check_metric(text).name


POSITIVE_INT = _checked(_positive_int, "positive integer")


def _spec(args: argparse.Namespace):
    from render3d.api import Spec

    return Spec(
        model=args.model,
        input_shape=args.input_shape,
        probe=getattr(args, "probe", None),
        weights=args.weights,
        trust_pickle=args.trust_pickle,
        depth=args.depth,
        device=args.device,
    )


def cmd_trace(args: argparse.Namespace) -> int:
    from render3d.api import trace_spec
    from render3d.atomic import check_output

    if args.json:
        check_output(args.json)  # before tracing: a folder or FIFO there fails at once
    result = trace_spec(_spec(args), capture="reduced" if args.stats else "none")
    print(result)
    if args.json:
        path = result.to_json(args.json)
        print(f"wrote {path}")
    return 0


def _start_gl_probe() -> None:
    """Probe OpenGL in the background while torch imports and the model traces (~1 s saved)."""
    from render3d.rendering.glcheck import start_probe

    start_probe()


def _scene(args: argparse.Namespace):
    """The scene for render/show: from a scene file, or traced from MODEL with the given options."""
    _start_gl_probe()
    from render3d.api import scene_from_file, to_scene
    from render3d.scenefile import is_scene_file

    if is_scene_file(args.model):
        scene, sf = scene_from_file(args.model, size=args.size, trust_pickle=args.trust_pickle)
        return scene, sf.anti_aliasing
    overrides: dict[str, Any] = {"volume": True} if getattr(args, "volume", False) else {}
    return to_scene(_spec(args), mode=args.mode, size=args.size, scale=args.scale, **overrides), args.anti_aliasing


def cmd_render(args: argparse.Namespace) -> int:
    import time

    from render3d.atomic import IMAGE_EXTENSIONS, check_output
    from render3d.rendering import render_png

    start = time.perf_counter()
    out = args.output or (Path(args.model).stem + ".png" if args.model.endswith(".toml") else "out.png")
    check_output(out, extensions=IMAGE_EXTENSIONS)  # before tracing: nothing is rendered for an unwritable path
    scene, aa = _scene(args)
    path = render_png(scene, out, anti_aliasing=aa or args.anti_aliasing)
    print(
        f"wrote {path}: {scene.size[0]}x{scene.size[1]}, {len(scene.blocks)} blocks, "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from render3d.record.store import is_recording
    from render3d.rendering import show_scene
    from render3d.rendering.window import window_size
    from render3d.scenefile import is_scene_file

    args.size = args.size or window_size()  # fits this screen; the scene is laid out for it
    if is_recording(args.model):
        from render3d.record.animate import show_recording

        show_recording(args.model, size=args.size, scale=args.scale)
        return 0
    if is_scene_file(args.model):
        scene, _ = _scene(args)
        show_scene(scene)
        return 0
    from render3d.api import show_spec

    _start_gl_probe()
    show_spec(
        _spec(args), mode=args.mode, size=args.size, scale=args.scale, **({"volume": True} if args.volume else {})
    )
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from render3d.gallery import render_gallery
    from render3d.scenefile import find_scene_files

    _start_gl_probe()
    files = find_scene_files(args.scenes)
    out_dir = Path(args.output)
    failed = render_gallery(files, out_dir, trust_pickle=args.trust_pickle, workers=args.workers, ray=args.ray)
    if failed:
        for f in failed:
            print(f"{f.kind}: {f.message if str(f.file) in f.message else f'{f.file}: {f.message}'}", file=sys.stderr)
        names = ", ".join(f.file.name for f in failed)
        raise GalleryError(f"{len(failed)} of {len(files)} scene files failed ({names}); the others were written")
    return 0


def cmd_animate(args: argparse.Namespace) -> int:
    from render3d.atomic import VIDEO_EXTENSIONS, check_output
    from render3d.record.animate import animate
    from render3d.record.ingest import animate_checkpoints
    from render3d.record.store import is_recording
    from render3d.record.story import read_classes

    check_output(args.output, extensions=VIDEO_EXTENSIONS)  # before any checkpoint is read
    if args.diff and args.metric:
        raise UsageError("render3d animate: --diff and --metric colour the same blocks two ways; pass one")
    if args.frames_per_epoch is not None and args.duration is not None:
        raise UsageError("render3d animate: --frames-per-epoch and --duration both set the video's length; pass one")
    if (args.ray is not None or (args.workers or 1) > 1) and Path(args.output).suffix.lower() != ".mp4":
        raise UsageError(
            f"render3d animate: --workers/--ray join MP4 segments without re-encoding; {args.output} is "
            "not an .mp4 (a GIF's one palette needs every frame): write an .mp4 or drop --workers"
        )
    classes = read_classes(args.classes) if args.classes else None
    options = dict(
        fps=args.fps,
        frames_per_epoch=args.frames_per_epoch,
        duration=args.duration,
        hold=args.hold,
        size=args.size,
        diff=args.diff,
        orbit=args.orbit,
        scale=args.scale,
        metric=args.metric,
        panels=not args.no_panels,
        classes=classes,
        classes_source=f"--classes {args.classes}",
        workers=args.workers,
        ray=args.ray,
    )
    if is_recording(args.model):  # a Recorder's folder: animated as recorded
        if args.checkpoints:
            raise UsageError(f"render3d animate: {args.model} is a recording already; --checkpoints records a MODEL")
        animate(args.model, args.output, **options)
        return 0
    if not args.checkpoints:
        raise UsageError(
            "render3d animate: MODEL needs --checkpoints DIR_OR_GLOB (or give a recording folder as MODEL)"
        )
    animate_checkpoints(_spec(args), args.checkpoints, args.output, recording=args.recording, **options)
    return 0


def _refuse_model_options(args: argparse.Namespace, *, mode_given: bool = False) -> None:
    """A recording was made with its own model options: one given for it as well is a usage error."""
    given = [f"--{name.replace('_', '-')}" for name in MODEL_OPTIONS if getattr(args, name)]
    if given or mode_given:
        raise UsageError(
            f"render3d {args.command}: {(given or ['--mode'])[0]} applies to a MODEL, not to the recording "
            f"{args.model} (it was recorded with its own)"
        )


#: ``render3d doctor``'s exit status when it found problems (0: none; 1 and 2 stay errors, as for every command)
DOCTOR_FOUND = 3


def cmd_doctor(args: argparse.Namespace) -> int:
    from render3d.atomic import IMAGE_EXTENSIONS, check_output
    from render3d.doctor import diagnose_recording, diagnose_spec, findings_scene, format_report
    from render3d.record.store import is_recording

    if args.output:
        check_output(args.output, extensions=IMAGE_EXTENSIONS)  # before tracing, as for render
        _start_gl_probe()
    if is_recording(args.model):
        _refuse_model_options(args)
        diagnosis = diagnose_recording(args.model)
    else:
        diagnosis = diagnose_spec(_spec(args))
    print(format_report(diagnosis.findings, diagnosis.subject))
    if args.output:
        from render3d.rendering import render_png

        print(f"wrote {render_png(findings_scene(diagnosis, size=args.size), args.output)}")
    return DOCTOR_FOUND if diagnosis.findings else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from render3d.demo import run_demo

    result = run_demo(args.output, epochs=args.epochs)
    print(f"final test accuracy: {result.test_accuracy:.1%} after {args.epochs} epochs ({result.seconds:.1f} s)")
    print(f"  checkpoints:  {result.checkpoints[0].parent}/ ({len(result.checkpoints)} files)")
    print(f"  recording:    {result.recording}/   (render3d show {result.recording})")
    print(f"  architecture: {result.architecture}")
    print(f"  activations:  {result.activations}")
    print(f"  video:        {result.video}")
    if args.show:
        from render3d.errors import RenderUnavailableError
        from render3d.record.animate import show_recording

        try:
            show_recording(result.recording)
        except RenderUnavailableError as exc:  # the files are written; only the window is missing
            print(f"--show: {exc} Open {result.video} instead.", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from render3d.atomic import check_output
    from render3d.record.store import is_recording
    from render3d.share import EXPORT_EXTENSIONS, recording_scene, write_scene

    check_output(args.output, extensions=EXPORT_EXTENSIONS)  # before tracing: nothing is built for a bad path
    if is_recording(args.model):
        _refuse_model_options(args, mode_given=args.mode != "architecture")
        scene, frames, note = recording_scene(args.model, size=args.size, scale=args.scale)
        path = write_scene(scene, args.output, frames, info_note=note)
        extra = f", {len(frames)} epochs"
    else:
        scene, _ = _scene(args)
        path = write_scene(scene, args.output)
        extra = ""
    print(f"wrote {path}: {len(scene.blocks)} blocks{extra}, {Path(path).stat().st_size / 2**20:.1f} MB")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from render3d.atomic import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, check_output
    from render3d.explainer import EXPLAIN_SIZE, explain

    check_output(args.output, extensions=(*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS))  # before the model is built
    if args.device == "meta":
        raise UsageError("render3d explain: --device meta has no values to explain; leave it out")
    _start_gl_probe()
    explain(
        _spec(args),
        layer=args.layer,
        path=args.output,
        size=args.size or EXPLAIN_SIZE,
        fps=args.fps,
        channel=args.channel,
    )
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    from render3d.api import trace_spec
    from render3d.atomic import VIDEO_EXTENSIONS, check_output
    from render3d.flythrough import check_timing, tour
    from render3d.probe import describe_probe

    check_output(args.output, extensions=VIDEO_EXTENSIONS)  # before the model is built
    check_timing(args.seconds_per_stop, args.duration)
    if args.device == "meta":
        raise UsageError("render3d tour: --device meta has no activations to show; leave it out")
    _start_gl_probe()
    trace_obj = trace_spec(_spec(args), capture="reduced")
    named = describe_probe(args.probe)[0] if args.probe else ""  # "digit 3", not "digit:45"
    tour(
        trace_obj,
        path=args.output,
        size=args.size,
        fps=args.fps,
        seconds_per_stop=args.seconds_per_stop,
        duration=args.duration,
        title=f"{trace_obj.model}: one forward pass" + (f" on {named}" if named else ""),
        input_name=named,
    )
    return 0


PROBE_HELP = "probe input: random (default), digit:N, or an image/.npy/.pt file"


def _add_model_args(p: argparse.ArgumentParser, what: str = "scenes/x.toml") -> None:
    p.add_argument(
        "model", metavar="MODEL", help=f"torchvision:NAME, path/file.py:Class, package.module:Class or {what}"
    )
    p.add_argument(
        "--input-shape",
        metavar="SHAPE",
        type=_checked(_input_shape, "input shape"),
        help="e.g. 1,3,224,224 (default: the model's own)",
    )
    p.add_argument("--depth", type=POSITIVE_INT, default=None, help="collapse modules below this depth into blocks")
    p.add_argument("--weights", metavar="FILE", help="checkpoint to load (state_dict, trainer dict, .safetensors)")
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow checkpoints that need full unpickling (only for files you trust)",
    )
    p.add_argument(
        "--device",
        default=None,
        type=_checked(check_device, "device"),
        help="cpu, cuda, cuda:N, mps, or meta (structure only, no memory)",
    )


def _add_probe_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--probe", type=_checked(_probe, "probe"), help=PROBE_HELP)


def _add_size_arg(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument("--size", type=_checked(_size, "size"), help=help_text)


def _add_fps_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=_checked(check_fps, "fps"), default=30.0, help="frames per second (default 30)")


def _add_scene_args(p: argparse.ArgumentParser, *, volume_help: str, size_help: str) -> None:
    """The scene options render, show and export share (the help differs where the output does)."""
    p.add_argument("--mode", choices=("architecture", "activations"), default="architecture")
    _add_probe_arg(p)
    p.add_argument("--volume", action="store_true", help=volume_help)
    _add_size_arg(p, size_help)


def _add_render_args(p: argparse.ArgumentParser) -> None:
    _add_scene_args(
        p,
        volume_help="draw feature maps as volumes (activations mode)",
        size_help=f"WIDTHxHEIGHT in pixels, the image the scene is laid out for (default: a scene file's "
        f"size, else {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})",
    )
    p.add_argument("--anti-aliasing", action="store_true", help="MSAA for final renders (3-4x slower on CPU)")
    _add_scale_arg(p)


def _add_scale_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scale",
        choices=SCALES,
        default="layer",
        help="activation colours: 'layer' (default) from each layer's p1 to p99; 'global' one "
        "log-magnitude scale for all layers, so an exploding layer stands out",
    )


def _add_spread_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--workers",
        type=POSITIVE_INT,
        metavar="N",
        help=f"render on N local processes: {what} (default 1; with --ray: one per cluster CPU)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the same tasks on Ray: a new local instance, or the cluster at ADDRESS ('auto', "
        "ray://HOST:10001); needs render3d[ray] and the input files at the same paths",
    )


Subparsers = Any  # argparse's _SubParsersAction, which it does not export


def _add_trace_parser(sub: Subparsers) -> None:
    p = sub.add_parser("trace", help="print the layer table of a model and optionally write its graph JSON")
    _add_model_args(p)
    p.add_argument("--json", metavar="FILE", help="write the trace JSON here")
    p.add_argument(
        "--stats",
        action="store_true",
        help="run with activation capture and add zero %%, min, max, mean ± std, NaN/Inf and health "
        "flags (dead, nan, inf, exploding, saturated, constant) to the table",
    )
    p.set_defaults(func=cmd_trace)


def _add_render_parser(sub: Subparsers) -> None:
    p = sub.add_parser("render", help="render a model (or scene file) to a PNG, offscreen")
    _add_model_args(p)
    _add_render_args(p)
    p.add_argument("-o", "--output", metavar="PNG", help="output file (default out.png or <scene>.png)")
    p.set_defaults(func=cmd_render)


def _add_show_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "show",
        help="open an interactive window sized to the screen (click a block: side panel; "
        "click a ×N block: expand; keys: e explain the clicked block, a activations, h all keys, "
        "m metric for a recording)",
    )
    _add_model_args(p)
    _add_render_args(p)
    p.set_defaults(func=cmd_show)


def _add_animate_parser(sub: Subparsers) -> None:
    from render3d.record.frames import check_seconds

    p = sub.add_parser("animate", help="record a probe through every checkpoint (or take a recording) and write an MP4")
    _add_model_args(p)  # MODEL may also be a recording folder (render3d.Recorder's)
    p.add_argument(
        "--checkpoints",
        metavar="DIR_OR_GLOB",
        help="folder or glob of checkpoints, taken in natural order (epoch_2 before epoch_10)",
    )
    _add_probe_arg(p)
    p.add_argument("-o", "--output", default="out.mp4", metavar="MP4", help="output file (default out.mp4)")
    _add_fps_arg(p)
    p.add_argument(
        "--duration",
        type=_checked(check_seconds, "duration"),
        metavar="SECONDS",
        help="length of the video (default: 0.8 s an epoch, at least 4 s, plus the holds); epochs "
        "that change more get more of it, every epoch a floor share",
    )
    p.add_argument(
        "--hold",
        type=_checked(check_seconds, "hold"),
        metavar="SECONDS",
        help="seconds the first and the last epoch stay on screen (default 1.5)",
    )
    p.add_argument(
        "--frames-per-epoch",
        type=POSITIVE_INT,
        default=None,
        metavar="N",
        help="uniform timing instead: N frames blending one checkpoint into the next",
    )
    p.add_argument(
        "--classes",
        metavar="FILE",
        help="class names of the model's outputs for the prediction panel: one per line, or a JSON "
        "list (default: the recording's own; torchvision:NAME models: their categories)",
    )
    p.add_argument(
        "--no-panels",
        action="store_true",
        help="the scene alone, without the input, prediction and curve panels on the right",
    )
    _add_size_arg(p, f"WIDTHxHEIGHT, rounded to multiples of 16 (default {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]})")
    p.add_argument("--diff", action="store_true", help="colour the change against the previous checkpoint")
    p.add_argument("--orbit", action="store_true", help="swing the camera slowly around the scene")
    p.add_argument(
        "--metric",
        type=_checked(_metric, "metric"),
        help="colour each block by a training-health metric over epochs on one log colour bar: "
        "update_ratio, grad_norm, weight_norm, zero_frac or act_std",
    )
    _add_scale_arg(p)
    p.add_argument("--recording", metavar="DIR", help="keep the recording here (default: a temporary folder)")
    _add_spread_args(p, "contiguous frame ranges, encoded alike and joined without re-encoding")
    p.set_defaults(func=cmd_animate, mode="activations")


def _add_demo_parser(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="train a small CNN on the bundled digits; write checkpoints, PNGs and an MP4")
    p.add_argument(
        "-o", "--output", default="render3d-demo", metavar="DIR", help="output folder (default render3d-demo)"
    )
    p.add_argument("--epochs", type=POSITIVE_INT, default=10, help="training epochs (default 10)")
    p.add_argument("--show", action="store_true", help="then open a window with an epoch slider (needs a display)")
    p.set_defaults(func=cmd_demo)


def _add_doctor_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "doctor",
        help="report what looks wrong in a model or recording (dead, NaN, exploding, frozen, ...)",
        description="A ranked report, one line per problem: flagged layers (nan, inf, exploding, dead, saturated, "
        "constant) where each first appears, branches that never fire and, for a recording, frozen "
        "layers and gradients vanishing towards the input. Exit status: 0 no problems found, "
        f"{DOCTOR_FOUND} problems found, 1 error, 2 usage error.",
    )
    _add_model_args(p, "a recording folder")
    _add_probe_arg(p)
    p.add_argument("-o", "--output", metavar="PNG", help="also render the activations with the culprits marked")
    _add_size_arg(p, f"WIDTHxHEIGHT of the PNG (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    p.set_defaults(func=cmd_doctor, mode="activations")


def _add_export_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "export",
        help="write a model, scene file or recording as one HTML page (offline, epoch "
        "slider for a recording) or as glTF (.glb/.gltf) for 3D tools",
    )
    _add_model_args(p, "scenes/x.toml or a recording folder")
    _add_scene_args(
        p,
        volume_help="volumes as feature maps (drawn as planes on the web)",
        size_help=f"WIDTHxHEIGHT the scene is laid out for (the page fits any window; default "
        f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})",
    )
    _add_scale_arg(p)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="out.html (interactive page), out.glb or out.gltf (3D scene); the format follows the extension",
    )
    p.set_defaults(func=cmd_export, anti_aliasing=False)


def _add_explain_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "explain",
        help="animate one layer's operation on a real input: a conv's kernel sliding "
        "with its dot product in real numbers, pools, Linear, norms, attention",
    )
    _add_model_args(p)
    p.add_argument(
        "--layer",
        required=True,
        metavar="NAME",
        help="module path from named_modules(), e.g. conv1, layer1.0.conv1, features.3 (pool#2: its second call)",
    )
    _add_probe_arg(p)
    p.add_argument(
        "--channel",
        type=_checked(lambda t: _positive_int(str(int(t) + 1)) - 1, "channel"),
        metavar="N",
        help="output channel to explain (attention: the head; default: the channel with the most structure)",
    )
    p.add_argument(
        "-o",
        "--output",
        default="explain.mp4",
        metavar="FILE",
        help="explain.mp4 (default) or .gif: the animation; .png/.jpg: its last frame",
    )
    _add_size_arg(p, "WIDTHxHEIGHT (default 1280x720)")
    _add_fps_arg(p)
    p.set_defaults(func=cmd_explain)


def _add_tour_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "tour",
        help="a narrated flythrough of one forward pass: the camera visits each block "
        "with its real activations and a caption saying what it computes",
    )
    _add_model_args(p)
    _add_probe_arg(p)
    p.add_argument(
        "-o", "--output", default="tour.mp4", metavar="MP4", help="output file, .mp4 or .gif (default tour.mp4)"
    )
    _add_size_arg(p, f"WIDTHxHEIGHT, rounded to multiples of 16 (default {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]})")
    _add_fps_arg(p)
    timing = p.add_mutually_exclusive_group()
    timing.add_argument(
        "--seconds-per-stop",
        type=float,
        metavar="S",
        help="hold each stop this long (default: its caption's reading time, 2.5-7 s)",
    )
    timing.add_argument(
        "--duration", type=float, metavar="S", help="make the whole video this long (holds and moves scaled to fit)"
    )
    p.set_defaults(func=cmd_tour)


def _add_gallery_parser(sub: Subparsers) -> None:
    p = sub.add_parser("gallery", help="render every scenes/*.toml into gallery/")
    p.add_argument("scenes", nargs="?", default="scenes", help="folder of scene files (default scenes/)")
    p.add_argument("-o", "--output", default="gallery", help="output folder (default gallery/)")
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow scene weights that need full unpickling (a scene file cannot allow it)",
    )
    _add_spread_args(p, "one scene file per task")
    p.set_defaults(func=cmd_gallery)


#: one function per subcommand, in ``render3d --help``'s order
SUBCOMMANDS = (
    _add_trace_parser,
    _add_render_parser,
    _add_show_parser,
    _add_animate_parser,
    _add_demo_parser,
    _add_doctor_parser,
    _add_export_parser,
    _add_explain_parser,
    _add_tour_parser,
    _add_gallery_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="render3d",
        description="Render a live PyTorch model in 3D: layer blocks, real activations, skips; PNG, window, MP4.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _check_combinations(args: argparse.Namespace) -> None:
    """Checks that need more than one argument (each argument alone was checked by its parser type)."""
    if getattr(args, "device", None):
        try:
            check_device(args.device, getattr(args, "mode", None))
        except ModelSpecError as exc:
            raise UsageError(f"render3d {args.command}: argument --device: {exc}") from None


class _WarningLines:
    """``warnings.showwarning`` for the CLI: one line per warning, each distinct line once (a model file
    is imported again for the real pass after the meta pass, so its warnings would come twice)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        text = f"{category.__name__}: {one_line(message)}"
        if text not in self.seen:
            self.seen.add(text)
            print(text, file=sys.stderr if file is None else file)


class _LogLines(logging.Handler):
    """The library's log records as the command's output: INFO (``wrote PATH: ...``) to stdout, anything
    graver to stderr, each message alone. The stream is looked up per record, as ``print`` does."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stdout if record.levelno <= logging.INFO else sys.stderr)


@contextmanager
def _library_log() -> Iterator[None]:
    """Print the ``render3d`` logger's INFO records while a command runs (the library itself never prints);
    removed afterwards, so calling :func:`main` in-process leaves the logger as it was."""
    logger = logging.getLogger("render3d")
    handler, level = _LogLines(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    from render3d.atomic import cleanup_on_sigterm

    with warnings.catch_warnings(), _library_log():
        warnings.showwarning = _WarningLines()
        warnings.simplefilter("ignore", DeprecationWarning)  # libraries' business, not the user's
        try:
            args = build_parser().parse_args(argv)
            _check_combinations(args)
            cleanup_on_sigterm()  # SIGTERM unwinds like Ctrl-C: encoders stopped, temp files removed
            return args.func(args)
        except KeyboardInterrupt:
            print("KeyboardInterrupt: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # the error boundary: one line, whatever went wrong
            if os.environ.get("RENDER3D_DEBUG") == "1":
                traceback.print_exc()
            print(f"{type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
            return 2 if isinstance(exc, USAGE_ERRORS) else 1


# The cyclic collector's generation sizes for a process of our own. Importing torch, torchvision and VTK
# makes ~0.5M long-lived objects, and with Python's defaults (700, 10, 10) every few hundred allocations
# start a collection, the older generations walking them all again: 0.9-1.1 s of a 5 s `render3d render`
# of ResNet-152. With these, ~30 collections take 0.4 s; cyclic garbage is still collected, less often.
GC_THRESHOLDS = (50_000, 5, 50)


def run() -> int:
    """The ``render3d`` console script: :func:`main` in a process of its own, with the collector set for one.

    Not in :func:`main`, which tests and notebooks call in-process: freezing their heap would keep their
    garbage for good. Here nothing runs after us: ``gc.freeze()`` before exiting spares the interpreter's
    final collections a walk over every object (1.2 s of teardown down to 0.25 s); every output is already
    written, closed and renamed into place by then, and the streams are flushed at exit as usual.
    """
    gc.set_threshold(*GC_THRESHOLDS)
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
