"""The public entry points that cross rooms: MODEL strings → trace → scene → pixels.

This is the only place (besides the CLI) that talks to both torch and the renderer; each room stays
importable on its own, and each function here only resolves its argument and delegates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from render3d.errors import ModelSpecError
from render3d.graph import Trace
from render3d.scene.model import Scene

if TYPE_CHECKING:
    import pyvista
    import torch


@dataclass(frozen=True)
class Spec:
    """What to trace, resolved from a MODEL string, a scene file or keyword arguments."""

    model: str
    input_shape: tuple[int, ...] | None = None
    probe: str | None = None
    weights: str | os.PathLike[str] | None = None
    trust_pickle: bool = False
    depth: int | None = None
    device: str | None = None


def load_spec_model(spec: Spec) -> tuple[torch.nn.Module, torch.Tensor]:
    """The model (with weights loaded) and its probe input."""
    from render3d import modelspec
    from render3d.probe import make_probe

    if spec.device == "meta":
        if spec.weights:
            raise ModelSpecError("--weights cannot be combined with --device meta (meta tensors have no values)")
        model = modelspec.build_on_meta(spec.model)
    else:
        model = modelspec.load_model(spec.model)
    if spec.weights:
        from render3d.checkpoints import load_checkpoint

        load_checkpoint(model, spec.weights, trust_pickle=spec.trust_pickle)
    if spec.probe is not None:
        shape = spec.input_shape or modelspec.default_input_shape(spec.model, model)
        return model, make_probe(spec.probe, shape)
    return model, modelspec.example_input(spec.model, model, spec.input_shape, device=spec.device)


def trace_spec(
    spec: str | Spec,
    *,
    input_shape: str | tuple[int, ...] | None = None,
    depth: int | None = None,
    weights: str | None = None,
    trust_pickle: bool = False,
    device: str | None = None,
    capture: str = "reduced",
    probe: str | None = None,
) -> Trace:
    """Trace a model named by a MODEL string (``torchvision:resnet18``, ``file.py:Class``, ...)."""
    from render3d.modelspec import parse_shape
    from render3d.tracing.tracer import trace

    if isinstance(spec, str):
        shape = parse_shape(input_shape) if isinstance(input_shape, str) else input_shape
        spec = Spec(spec, shape, probe, weights, trust_pickle, depth, device)
    if capture == "none" and spec.device is None and not spec.weights:
        # Shapes only: a meta-device pass skips weight init and compute (resnet152: 1.3 s -> 0.2 s).
        # Models whose forward reads values (.item(), data-dependent branches) fall back to the CPU.
        try:
            model, x = load_spec_model(replace(spec, device="meta"))
            return trace(model, x, depth=spec.depth, capture="none", device="meta")
        except Exception:  # noqa: BLE001 - any meta failure is retried for real just below
            pass
    model, x = load_spec_model(spec)
    return trace(model, x, depth=spec.depth, capture=capture, device=spec.device)


def to_scene(
    obj: Any,
    *inputs: Any,
    mode: str = "architecture",
    depth: int | None = None,
    style: Any = None,
    **style_overrides: Any,
) -> Scene:
    """A :class:`Scene` from a Scene, a Trace, an ``nn.Module`` (+ inputs) or a MODEL string."""
    from render3d.scene.builder import build_scene

    if isinstance(obj, Scene):
        return obj
    if isinstance(obj, (str, Path)) and str(obj).endswith(".toml"):
        return scene_from_file(obj)[0]
    capture = "reduced" if mode == "activations" else "none"
    if isinstance(obj, Trace):
        trace_obj = obj.collapse(depth) if depth is not None and obj.depth is None else obj
    elif isinstance(obj, str):
        trace_obj = trace_spec(obj, depth=depth, capture=capture)
    else:
        from render3d.modelspec import example_input
        from render3d.tracing.tracer import trace

        if not inputs:
            inputs = (example_input(type(obj).__name__, obj),)
        trace_obj = trace(obj, *inputs, depth=depth, capture=capture)
    return build_scene(trace_obj, mode, style=style, **style_overrides)


def scene_from_file(path: str | os.PathLike[str], *, size: tuple[int, int] | None = None) -> tuple[Scene, Any]:
    """Build the scene a ``scenes/*.toml`` file describes (for ``size``, default the file's own);
    returns it with the parsed file."""
    from render3d.errors import SceneFileError
    from render3d.scene.builder import build_scene
    from render3d.scenefile import read_scene_file

    sf = read_scene_file(path)
    if size is not None:
        sf = replace(sf, size=tuple(size))
    spec = Spec(sf.model, sf.input_shape, sf.probe, sf.weights, sf.trust_pickle, sf.depth, sf.device)
    capture = "reduced" if sf.mode == "activations" else "none"
    trace_obj = trace_spec(spec, capture=capture)
    try:
        scene = build_scene(trace_obj, sf.mode, **{"image_size": sf.size, **sf.style})
    except (TypeError, ValueError) as exc:
        raise SceneFileError(f"{sf.path}: {exc}") from None
    if sf.title:
        scene.title = sf.title
    return scene, sf


def render(
    model_or_trace_or_scene: Any,
    *inputs: Any,
    path: str | os.PathLike[str] = "out.png",
    size: tuple[int, int] = (1920, 1080),
    mode: str = "architecture",
    depth: int | None = None,
    anti_aliasing: bool = False,
    style: Any = None,
    **style_overrides: Any,
) -> Path:
    """Render a model, trace, scene or MODEL string to a PNG (offscreen) and return its path.

    Example::

        >>> render3d.render(torchvision.models.resnet18(), torch.randn(1, 3, 224, 224), path="r18.png")
    """
    from render3d.rendering import render_png

    scene = to_scene(model_or_trace_or_scene, *inputs, mode=mode, depth=depth, style=style, **style_overrides)
    return render_png(scene, path, size=size, anti_aliasing=anti_aliasing)


def show(
    model_or_trace_or_scene: Any,
    *inputs: Any,
    size: tuple[int, int] = (1600, 900),
    mode: str = "architecture",
    depth: int | None = None,
    style: Any = None,
    **style_overrides: Any,
) -> None:
    """Open an interactive window (hover a block for its details; ``a`` activations, ``l`` labels)."""
    from render3d.rendering import show_scene

    scene = to_scene(model_or_trace_or_scene, *inputs, mode=mode, depth=depth, style=style, **style_overrides)
    show_scene(scene, size=size)


def plotter(
    model_or_trace_or_scene: Any,
    *inputs: Any,
    size: tuple[int, int] = (1920, 1080),
    mode: str = "architecture",
    depth: int | None = None,
    off_screen: bool | None = None,
    style: Any = None,
    **style_overrides: Any,
) -> pyvista.Plotter:
    """The ``pyvista.Plotter`` with the scene already added, for adding your own actors."""
    import pyvista as pv

    from render3d.rendering import build_plotter

    scene = to_scene(model_or_trace_or_scene, *inputs, mode=mode, depth=depth, style=style, **style_overrides)
    pl, _ = build_plotter(scene, size=size, off_screen=pv.OFF_SCREEN if off_screen is None else off_screen)
    return pl
