"""The ``render3d`` command: parses arguments, calls the library, reports.

Exit codes: 0 success; 1 a :class:`~render3d.errors.Render3DError` (printed as ``ErrorName: message``);
2 a usage error (bad arguments, unknown model, bad input shape). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from render3d.errors import ModelSpecError, Render3DError, SceneFileError

USAGE_ERRORS = (ModelSpecError, SceneFileError)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="torchvision:NAME, path/file.py:Class, package.module:Class or scenes/x.toml")
    p.add_argument("--input-shape", metavar="SHAPE", help="e.g. 1,3,224,224 (default: the model's own)")
    p.add_argument("--depth", type=int, default=None, help="collapse modules below this depth into blocks")
    p.add_argument("--weights", metavar="FILE", help="checkpoint to load (state_dict, trainer dict, .safetensors)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow checkpoints that need full unpickling (only for files you trust)")
    p.add_argument("--device", default=None, help="cpu, cuda, or meta (structure only, no memory)")


def cmd_trace(args: argparse.Namespace) -> int:
    from render3d.api import trace_spec

    result = trace_spec(args.model, input_shape=args.input_shape, depth=args.depth, weights=args.weights,
                        trust_pickle=args.trust_pickle, device=args.device, capture="none")
    print(result)
    if args.json:
        path = result.to_json(args.json)
        print(f"wrote {path}")
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
