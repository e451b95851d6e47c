"""The ``render3d`` command: parses arguments, calls the library, reports.

Exit codes: 0 success; 1 a :class:`~render3d.errors.Render3DError` (printed as ``ErrorName: message``);
2 a usage error (bad arguments, unknown model, bad input shape). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from render3d.errors import ModelSpecError, OutputSpecError, Render3DError, SceneFileError

USAGE_ERRORS = (ModelSpecError, OutputSpecError, SceneFileError)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="torchvision:NAME, path/file.py:Class, package.module:Class or scenes/x.toml")
    p.add_argument("--input-shape", metavar="SHAPE", help="e.g. 1,3,224,224 (default: the model's own)")
    p.add_argument("--depth", type=int, default=None, help="collapse modules below this depth into blocks")
    p.add_argument("--weights", metavar="FILE", help="checkpoint to load (state_dict, trainer dict, .safetensors)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow checkpoints that need full unpickling (only for files you trust)")
    p.add_argument("--device", default=None, help="cpu, cuda, or meta (structure only, no memory)")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w > 0 and h > 0:
            return w, h
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"size {text!r} is not valid: use WIDTHxHEIGHT, e.g. 1920x1080")


def _spec(args: argparse.Namespace):
    from render3d.api import Spec
    from render3d.modelspec import parse_shape

    shape = parse_shape(args.input_shape) if args.input_shape else None
    return Spec(args.model, shape, getattr(args, "probe", None), args.weights, args.trust_pickle, args.depth,
                args.device)


def cmd_trace(args: argparse.Namespace) -> int:
    from render3d.api import trace_spec
    from render3d.atomic import check_output

    if args.json:
        check_output(args.json)  # before tracing: a folder or FIFO there fails at once
    result = trace_spec(_spec(args), capture="none")
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
    from render3d.api import scene_from_file, trace_spec
    from render3d.scene.builder import build_scene
    from render3d.scenefile import is_scene_file

    if is_scene_file(args.model):
        scene, sf = scene_from_file(args.model, size=args.size if args.size_given else None)
        return scene, sf.size, sf.anti_aliasing
    capture = "reduced" if args.mode == "activations" else "none"
    trace_obj = trace_spec(_spec(args), capture=capture)
    overrides = {"volume": True} if getattr(args, "volume", False) else {}
    return build_scene(trace_obj, args.mode, image_size=args.size, **overrides), args.size, args.anti_aliasing


def cmd_render(args: argparse.Namespace) -> int:
    import time

    from render3d.rendering import render_png

    from render3d.atomic import IMAGE_EXTENSIONS, check_output

    start = time.perf_counter()
    out = args.output or (Path(args.model).stem + ".png" if args.model.endswith(".toml") else "out.png")
    check_output(out, extensions=IMAGE_EXTENSIONS)  # before tracing: nothing is rendered for an unwritable path
    scene, size, aa = _scene(args)
    path = render_png(scene, out, size=size, anti_aliasing=aa or args.anti_aliasing)
    print(f"wrote {path}: {size[0]}x{size[1]}, {len(scene.blocks)} blocks, "
          f"{time.perf_counter() - start:.1f} s")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from render3d.record.store import is_recording
    from render3d.rendering import show_scene

    if is_recording(args.model):
        from render3d.record.animate import show_recording

        show_recording(args.model, size=args.size if args.size_given else (1600, 900))
        return 0
    scene, size, _ = _scene(args)
    show_scene(scene, size=size)
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from render3d.api import scene_from_file
    from render3d.rendering import render_png
    from render3d.scenefile import find_scene_files

    _start_gl_probe()
    files = find_scene_files(args.scenes)
    out_dir = Path(args.output)
    for file in (bar := tqdm(files, desc="gallery", unit="scene")):
        bar.set_postfix_str(file.name)
        scene, sf = scene_from_file(file)
        render_png(scene, out_dir / f"{sf.output}.png", size=sf.size, anti_aliasing=sf.anti_aliasing)
    print(f"wrote {len(files)} images to {out_dir}/")
    return 0


def cmd_animate(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from render3d.api import load_spec_model
    from render3d.atomic import VIDEO_EXTENSIONS, check_output, private_temp_dir
    from render3d.record.animate import animate, record_checkpoints

    check_output(args.output, extensions=VIDEO_EXTENSIONS)  # before any checkpoint is read
    model, probe = load_spec_model(_spec(args))
    keep = nullcontext(args.recording) if args.recording else private_temp_dir("rec")
    with keep as folder:
        recording = record_checkpoints(model, probe, args.checkpoints, folder, trust_pickle=args.trust_pickle,
                                       depth=args.depth)
        animate(recording, args.output, fps=args.fps, frames_per_epoch=args.frames_per_epoch, size=args.size,
                diff=args.diff, orbit=args.orbit)
    return 0


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


class _SizeAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        setattr(namespace, self.dest, values)
        namespace.size_given = True


def _add_render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("architecture", "activations"), default="architecture")
    p.add_argument("--probe", help="probe input: random (default), digit:N, or an image/.npy/.pt file")
    p.add_argument("--volume", action="store_true", help="draw feature maps as volumes (activations mode)")
    p.add_argument("--size", type=_parse_size, default=(1920, 1080), action=_SizeAction,
                   help="WIDTHxHEIGHT in pixels (default 1920x1080)")
    p.add_argument("--anti-aliasing", action="store_true", help="MSAA for final renders (3-4x slower on CPU)")
    p.set_defaults(size_given=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="render3d",
        description="Render a live PyTorch model in 3D: layer blocks, real activations, skips; PNG, window, MP4.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("trace", help="print the layer table of a model and optionally write its graph JSON")
    _add_model_args(p)
    p.add_argument("--json", metavar="FILE", help="write the trace JSON here")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("render", help="render a model (or scene file) to a PNG, offscreen")
    _add_model_args(p)
    _add_render_args(p)
    p.add_argument("-o", "--output", metavar="PNG", help="output file (default out.png or <scene>.png)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("show", help="open an interactive window (hover blocks; keys: a activations, l labels)")
    _add_model_args(p)
    _add_render_args(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("animate", help="record a probe through every checkpoint and write an MP4")
    _add_model_args(p)
    p.add_argument("--checkpoints", required=True, metavar="DIR_OR_GLOB",
                   help="folder or glob of checkpoints, taken in natural order (epoch_2 before epoch_10)")
    p.add_argument("--probe", help="probe input: random (default), digit:N, or an image/.npy/.pt file")
    p.add_argument("-o", "--output", default="out.mp4", metavar="MP4", help="output file (default out.mp4)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--frames-per-epoch", type=int, default=None, metavar="N",
                   help="frames blending one checkpoint into the next (default 15)")
    p.add_argument("--size", type=_parse_size, default=(1280, 720),
                   help="WIDTHxHEIGHT, rounded to multiples of 16 (default 1280x720)")
    p.add_argument("--diff", action="store_true", help="colour the change against the previous checkpoint")
    p.add_argument("--orbit", action="store_true", help="swing the camera slowly around the scene")
    p.add_argument("--recording", metavar="DIR", help="keep the recording here (default: a temporary folder)")
    p.set_defaults(func=cmd_animate)

    p = sub.add_parser("demo", help="train a small CNN on the bundled digits; write checkpoints, PNGs and an MP4")
    p.add_argument("-o", "--output", default="render3d-demo", metavar="DIR", help="output folder (default render3d-demo)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--show", action="store_true", help="then open a window with an epoch slider (needs a display)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gallery", help="render every scenes/*.toml into gallery/")
    p.add_argument("scenes", nargs="?", default="scenes", help="folder of scene files (default scenes/)")
    p.add_argument("-o", "--output", default="gallery", help="output folder (default gallery/)")
    p.set_defaults(func=cmd_gallery)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from render3d.atomic import cleanup_on_sigterm

    parser = build_parser()
    args = parser.parse_args(argv)
    cleanup_on_sigterm()  # SIGTERM unwinds like Ctrl-C: encoders stopped, temp files removed
    try:
        return args.func(args)
    except USAGE_ERRORS as exc:
        print(f"render3d {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except Render3DError as exc:
        print(f"render3d {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
