"""The public entry points that cross rooms: MODEL strings → trace → scene → pixels.

This is the only place (besides the CLI) that talks to both torch and the renderer; each room stays
importable on its own, and each function here only resolves its argument and delegates.

Keyword arguments of :func:`render`, :func:`show`, :func:`plotter` and :func:`to_scene` are split by
name: :class:`~render3d.scene.style.SceneStyle` fields (``lod``, ``azimuth``, ``wrap``, ...) are style
options, every other name is a keyword input of the model's ``forward``, exactly as
:func:`render3d.trace` takes them::

    render3d.render(t5, input_ids=ids, decoder_input_ids=dec_ids, lod="topk", path="t5.png")

A model input whose name is also a style field or an option of the function itself (``labels``,
``size``, ``mode``, ``path``, ...) goes in ``model_kwargs={"labels": y}``, which is always forwarded.

``size`` (width, height) is one number for layout and pixels: a scene records the image it was laid
out for (``Scene.size``: camera, labels and overlays fitted to it). Given with a model, trace, MODEL
string or scene file, ``size`` is that layout size (default ``style.image_size``, 1920×1080, or the
file's ``size``). Given with an existing Scene, ``size=None`` draws it at its own size, and another
size draws it with the camera fitted again to that aspect from the same direction
(:func:`render3d.scene.fit.fit_to_size`; labels keep their places, so for labels placed for the new
size build the scene again from the model). ``render``, ``show``, ``plotter`` and the TensorBoard
helpers all draw at the scene's size, so the picture is always the one laid out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from render3d.errors import ModelSpecError
from render3d.graph import Trace
from render3d.scene.model import Scene

if TYPE_CHECKING:
    import pyvista
    import torch

    from render3d.scene.explain import ExplainerScene


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

    @classmethod
    def from_scene_file(cls, sf: Any, *, trust_pickle: bool = False) -> Spec:
        """The model a :class:`~render3d.scenefile.SceneFile` names; ``trust_pickle`` comes from the
        caller, never from the file (a scene file cannot grant full unpickling to itself)."""
        return cls(
            model=sf.model,
            input_shape=sf.input_shape,
            probe=sf.probe,
            weights=sf.weights,
            trust_pickle=trust_pickle,
            depth=sf.depth,
            device=sf.device,
        )


def load_spec_model(spec: Spec) -> tuple[torch.nn.Module, Any]:
    """The model (with weights loaded) and its probe input (a tensor, or what ``example_input()`` gives:
    see :func:`render3d.modelspec.call_inputs`)."""
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
    from render3d.modelspec import call_inputs, parse_shape
    from render3d.preflight import check_forward_memory
    from render3d.tracing.tracer import trace

    if isinstance(spec, str):
        shape = parse_shape(input_shape) if isinstance(input_shape, str) else input_shape
        spec = Spec(
            model=spec,
            input_shape=shape,
            probe=probe,
            weights=weights,
            trust_pickle=trust_pickle,
            depth=depth,
            device=device,
        )
    if spec.device != "meta":
        # Shapes first, on the meta device: no weight init, no compute (resnet152: 1.3 s -> 0.2 s), and the
        # memory a real pass needs is known before it allocates. Only a model that cannot even be built on
        # meta, or whose forward reads values (.item(), data-dependent branches), goes on without it.
        meta = _meta_trace(spec)
        if meta is not None and capture == "none" and spec.device is None and not spec.weights:
            return meta.collapse(spec.depth)
        if meta is not None:
            check_forward_memory(_tensor_shapes(meta), spec.device)
    model, x = load_spec_model(spec)
    args, kwargs = call_inputs(x)
    return trace(model, *args, depth=spec.depth, capture=capture, device=spec.device, **kwargs)


def check_fits_in_memory(spec: Spec) -> None:
    """Refuse (one line), before anything is allocated, a spec whose real forward pass cannot fit in
    the memory of its device: for callers that run the model themselves (``render3d animate``)."""
    from render3d.preflight import check_forward_memory

    if spec.device != "meta" and (meta := _meta_trace(spec)) is not None:
        check_forward_memory(_tensor_shapes(meta), spec.device)


def _meta_trace(spec: Spec) -> Trace | None:
    """The full-depth trace of ``spec`` on the meta device, or None when the real pass should run without
    it: meta tensors cannot run the model, or its forward fails (a wrong input shape) early enough for a
    real pass to fail cheaply, with torch's clearer CPU message. A failure whose real pass could not fit
    in memory is raised as it is."""
    from render3d.errors import ModelSpecError, TraceError
    from render3d.modelspec import DownloadRefusedError, call_inputs
    from render3d.preflight import check_forward_memory, needs_values
    from render3d.tracing.tracer import trace

    try:
        model, x = load_spec_model(replace(spec, device="meta", weights=None, probe=None))  # a probe is real
    except DownloadRefusedError:
        raise  # the real build would try the same download
    except Exception:  # noqa: BLE001 - a builder that needs real tensors; a bad spec fails again for real
        return None
    args, kwargs = call_inputs(x)
    try:
        return trace(model, *args, capture="none", device="meta", **kwargs)
    except TraceError as exc:
        if needs_values(exc) or exc.partial is None:
            return None
        try:
            check_forward_memory(_tensor_shapes(exc.partial), spec.device)
        except ModelSpecError:
            raise exc from None
        return None


def _tensor_shapes(trace_obj: Trace) -> list[tuple[tuple[int, ...], str]]:
    return [(s, n.dtype) for n in trace_obj for s in n.shapes or (n.shape,) if s]


def _split_options(
    obj: Any,
    options: dict[str, Any],
    model_kwargs: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(style_overrides, model_kwargs)`` from the keyword arguments of render/show/plotter/to_scene.

    SceneStyle fields are style; other names are the model's keyword inputs (see module docstring).
    A name the model's ``forward`` cannot take, or under ``**kwargs`` a near-miss of a style option
    (``lodd``), is a TypeError saying which.
    """
    from render3d.scene.style import SceneStyle

    style_names = {f.name for f in fields(SceneStyle)}
    style = {k: v for k, v in options.items() if k in style_names}
    inputs = {k: v for k, v in options.items() if k not in style_names}
    is_model = not isinstance(obj, (Scene, Trace, Spec, str, Path))
    if not is_model:
        if model_kwargs:
            raise TypeError(f"model_kwargs only apply when drawing an nn.Module, not a {type(obj).__name__}")
        return options, {}  # SceneStyle names the unknown ones
    _check_forward_accepts(obj, inputs, sorted(style_names))
    return style, {**inputs, **(model_kwargs or {})}


def _check_forward_accepts(model: Any, names: dict[str, Any], style_names: list[str]) -> None:
    """Reject names the model cannot take; under ``**kwargs`` (Hugging Face models ignore unknown ones)
    reject only near-misses of a style option, the likely typo."""
    import difflib
    import inspect

    if not names:
        return
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError, AttributeError):  # builtins and C extensions: let the forward decide
        return
    any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = [
        n for n, p in params.items() if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    owner = f"{type(model).__name__}.forward"
    for name in sorted(set(names) - set(named)):
        close = difflib.get_close_matches(name, style_names, n=1, cutoff=0.8)
        if any_keyword and close:
            raise TypeError(
                f"{name!r} is not a style option (did you mean {close[0]!r}?) nor a named input of "
                f"{owner}; if the model takes it, pass model_kwargs={{{name!r}: ...}}"
            )
        if not any_keyword:
            raise TypeError(
                f"{name!r} is neither a style option nor a keyword input of {owner} "
                f"(inputs: {', '.join(named) or 'none'}; style options: {', '.join(style_names)})"
            )


def to_scene(
    obj: Any,
    *inputs: Any,
    mode: str = "architecture",
    depth: int | None = None,
    size: tuple[int, int] | None = None,
    style: Any = None,
    model_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> Scene:
    """A :class:`Scene` from a Scene, a Trace, an ``nn.Module`` (+ inputs), a MODEL string or a
    :class:`Spec`, laid out for an image of ``size`` (see the module docstring for a Scene given at another size).

    ``options`` are style overrides and the model's keyword inputs (see module docstring).
    """
    from render3d.limits import check_size
    from render3d.scene.builder import build_scene
    from render3d.scene.fit import fit_to_size

    style_overrides, kwargs = _split_options(obj, options, model_kwargs)
    if size is not None:
        size = check_size(size)
    if isinstance(obj, Scene):
        return obj if size is None else fit_to_size(obj, size)
    if isinstance(obj, (str, Path)) and str(obj).endswith(".toml"):
        return scene_from_file(obj, size=size)[0]
    if size is not None:
        given = style_overrides.setdefault("image_size", size)
        if tuple(given) != size:
            raise TypeError(
                f"size={size} and image_size={tuple(given)} disagree: give only size, the image "
                "the scene is laid out for and drawn at"
            )
    trace_obj = _tracer(obj, inputs, kwargs, depth)("reduced" if mode == "activations" else "none")
    return build_scene(trace_obj, mode, style=style, **style_overrides)


def _tracer(obj: Any, inputs: tuple[Any, ...], kwargs: dict[str, Any], depth: int | None) -> Callable[[str], Trace]:
    """``capture -> Trace`` for a Trace (given as it is, whatever ``capture``), a MODEL string or a
    model (run on ``inputs``, by default its example input)."""
    if isinstance(obj, Trace):
        trace_obj = obj.collapse(depth) if depth is not None and obj.depth is None else obj
        return lambda capture: trace_obj
    if isinstance(obj, str):
        return lambda capture: trace_spec(obj, depth=depth, capture=capture)
    if isinstance(obj, Spec):
        return lambda capture: trace_spec(obj if depth is None else replace(obj, depth=depth), capture=capture)
    from render3d.modelspec import call_inputs, example_input
    from render3d.tracing.tracer import trace

    if not inputs and not kwargs:
        inputs, kwargs = call_inputs(example_input(type(obj).__name__, obj))
    return lambda capture: trace(obj, *inputs, depth=depth, capture=capture, **kwargs)


def scene_from_file(
    path: str | os.PathLike[str], *, size: tuple[int, int] | None = None, trust_pickle: bool = False
) -> tuple[Scene, Any]:
    """Build the scene a ``scenes/*.toml`` file describes (for ``size``, default the file's own);
    returns it with the parsed file. Its ``weights`` load with full unpickling only if the caller
    passes ``trust_pickle=True``: a scene file cannot grant that itself."""
    from render3d.errors import SceneFileError
    from render3d.limits import check_size
    from render3d.scene.builder import build_scene
    from render3d.scenefile import read_scene_file

    sf = read_scene_file(path)
    if size is not None:
        sf = replace(sf, size=check_size(size))
    spec = Spec.from_scene_file(sf, trust_pickle=trust_pickle)
    capture = "reduced" if sf.mode == "activations" else "none"
    trace_obj = trace_spec(spec, capture=capture)
    try:
        scene = build_scene(trace_obj, sf.mode, **{"image_size": sf.size, **sf.style})
    except (TypeError, ValueError) as exc:
        raise SceneFileError(f"{sf.path}: {exc}") from None
    if sf.title:
        scene = replace(scene, title=sf.title)
    return scene, sf


# keyword options mirror render3d render's flags (the public entry point), hence 10 parameters
def render(
    model_or_trace_or_scene: Any,
    *inputs: Any,
    path: str | os.PathLike[str] = "out.png",
    size: tuple[int, int] | None = None,
    mode: str = "architecture",
    depth: int | None = None,
    anti_aliasing: bool = False,
    style: Any = None,
    model_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Render a model, trace, scene or MODEL string to a PNG (offscreen) and return its path.

    ``size`` is the image's (width, height) and the one the scene is laid out for (default: the
    scene's own, 1920×1080 for a model); ``options`` are style overrides and the model's keyword
    inputs (see module docstring).

    Example::

        >>> render3d.render(torchvision.models.resnet18(), torch.randn(1, 3, 224, 224), path="r18.png")
        >>> render3d.render(bert, input_ids=ids, attention_mask=mask, mode="activations", lod="topk")
    """
    from render3d.atomic import IMAGE_EXTENSIONS, check_output
    from render3d.rendering import render_png
    from render3d.rendering.png import check_image_output

    # before tracing: a path or size that cannot work fails at once (the scene's own size when drawn)
    if size is None:
        check_output(path, extensions=IMAGE_EXTENSIONS)
    else:
        size = check_image_output(path, size)
    scene = to_scene(
        model_or_trace_or_scene,
        *inputs,
        mode=mode,
        depth=depth,
        size=size,
        style=style,
        model_kwargs=model_kwargs,
        **options,
    )
    return render_png(scene, path, anti_aliasing=anti_aliasing)


def show(
    model_or_trace_or_scene: Any,
    *inputs: Any,
    size: tuple[int, int] | None = None,
    mode: str = "architecture",
    depth: int | None = None,
    style: Any = None,
    model_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Open an interactive window: hover a block for its details, click it for the side panel, click a
    ``×N`` block to expand it, ``a`` activations (captured on demand: the model runs once more), ``h``
    lists every key. Returns when the window is closed.

    ``size`` is the window's and the layout's, as for :func:`render` (default: 90 % of the screen,
    16:9; a Scene keeps its own); ``options`` are style overrides and the model's keyword inputs (see
    module docstring). In a Jupyter notebook it shows the interactive HTML page of
    :func:`render3d.export` inline instead (no window, no server). A Scene cannot be rebuilt: its window
    neither expands ``×N`` blocks nor captures activations. With a model (or MODEL string), ``e`` plays the
    selected block's operation explainer (:func:`render3d.explain`) in the window; a Trace or Scene has no
    model to run for it."""
    from render3d.notebook import in_notebook, show_inline
    from render3d.rendering import show_scene
    from render3d.rendering.window import window_size

    obj = model_or_trace_or_scene
    if in_notebook():  # a kernel cannot open a window: the interactive page inline (render3d.export's HTML)
        show_inline(
            to_scene(obj, *inputs, mode=mode, depth=depth, size=size, style=style, model_kwargs=model_kwargs, **options)
        )
        return
    if isinstance(obj, Scene) or isinstance(obj, (str, Path)) and str(obj).endswith(".toml"):
        show_scene(to_scene(obj, size=size))
        return
    style_overrides, kwargs = _split_options(obj, options, model_kwargs)
    size = window_size() if size is None else size
    rebuild = WindowScenes(
        _tracer(obj, inputs, kwargs, depth), style=style, explainer=_explainer(obj, inputs, kwargs), **style_overrides
    )
    show_scene(
        rebuild(mode, frozenset(), size),
        rebuild=rebuild,
        describe=rebuild.describe,
        explain=rebuild.explain if rebuild.explainer else None,
    )


def show_spec(
    spec: Spec, *, mode: str = "architecture", size: tuple[int, int] | None = None, **style_overrides: Any
) -> None:
    """:func:`show` for a resolved MODEL (``render3d show MODEL``: input shape, probe, weights, device)."""
    from render3d.rendering import show_scene
    from render3d.rendering.window import window_size

    rebuild = WindowScenes(
        lambda capture: trace_spec(spec, capture=capture),
        explainer=None if spec.device == "meta" else _explainer(spec, (), {}),
        **style_overrides,
    )
    show_scene(
        rebuild(mode, frozenset(), window_size() if size is None else size),
        rebuild=rebuild,
        describe=rebuild.describe,
        explain=rebuild.explain if rebuild.explainer else None,
    )


def _explainer(obj: Any, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[str], ExplainerScene] | None:
    """``layer -> ExplainerScene`` for a window on a model, a MODEL string or a :class:`Spec` (loaded
    once, on the first ``e``); None for a Trace, which has no model to run."""
    import functools

    from render3d.explainer import explain_scene

    if isinstance(obj, Trace):
        return None
    if isinstance(obj, (str, Spec)):
        spec = Spec(model=obj) if isinstance(obj, str) else obj
        loaded = functools.cache(lambda: load_spec_model(spec))

        def from_spec(layer: str) -> ExplainerScene:
            from render3d.modelspec import call_inputs

            model, x = loaded()
            args, model_kwargs = call_inputs(x)
            return explain_scene(model, *args, layer=layer, probe=spec.probe, **model_kwargs)

        return from_spec
    return lambda layer: explain_scene(obj, *inputs, layer=layer, **kwargs)


class WindowScenes:
    """A window's :data:`~render3d.rendering.window.Rebuild`: its scene built again from one trace, in
    either mode, with ``×N`` blocks expanded, for the window's size. The model is traced without
    activations for the architecture, and once more with ``capture="reduced"`` the first time the
    activations are asked for (the window's ``a``). ``explainer(layer)`` (optional: a window on a
    model) gives a layer's operation explainer for the window's ``e`` (:meth:`explain`)."""

    def __init__(
        self,
        tracer: Callable[[str], Trace],
        *,
        style: Any = None,
        explainer: Callable[[str], ExplainerScene] | None = None,
        **style_overrides: Any,
    ) -> None:
        self.tracer = tracer
        self.explainer = explainer
        self.style = style
        self.overrides = style_overrides
        self.traces: dict[str, Trace] = {}
        self.shown: tuple[Trace, Scene] | None = None  # the scene built last, and its trace

    def trace(self, mode: str) -> Trace:
        """The trace for ``mode``: one with activations serves both modes once it exists."""
        if "reduced" in self.traces:
            return self.traces["reduced"]
        capture = "reduced" if mode == "activations" else "none"
        if capture not in self.traces:
            self.traces[capture] = self.tracer(capture)
        return self.traces[capture]

    def __call__(self, mode: str, expanded: frozenset[str], size: tuple[int, int]) -> Scene:
        from render3d.limits import check_size
        from render3d.scene.builder import build_scene

        size = check_size(size)
        given = self.overrides.get("image_size", size)
        if tuple(given) != size:
            raise TypeError(
                f"size={size} and image_size={tuple(given)} disagree: give only size, the image "
                "the scene is laid out for and drawn at"
            )
        trace_obj = self.trace(mode)
        self.shown = (
            trace_obj,
            build_scene(trace_obj, mode, style=self.style, expanded=expanded, **{**self.overrides, "image_size": size}),
        )
        return self.shown[1]

    def describe(self, node_id: str) -> str | None:
        """What block ``node_id`` of the scene built last computes, in one or two sentences with its real
        hyper-parameters and shapes (the tour's narration); None when that scene has no such block."""
        from render3d.scene.tour import block_text

        if self.shown is None:
            return None
        trace_obj, scene = self.shown
        if node_id not in scene.blocks.node_ids:
            return None
        return block_text(trace_obj, scene, scene.blocks.index(node_id), trace_obj.parent_map())

    def explain(self, node_id: str) -> tuple[ExplainerScene, str]:
        """The window's :data:`~render3d.rendering.window.Explain`: the operation explainer of block
        ``node_id`` of the scene built last, and a line saying which layer it shows. A folded block
        (conv + BatchNorm + ReLU) explains its first layer the explainer draws; a block with none
        raises the explainer's one-line error naming the kinds it draws."""
        from render3d.errors import ModelSpecError
        from render3d.tracing.operands import KINDS, SUPPORTED_TEXT

        if self.explainer is None or self.shown is None:
            raise ModelSpecError("this window has no model to run: show the model itself to explain its layers")
        trace_obj, scene = self.shown
        block = scene.blocks.index(node_id)
        members = [trace_obj.nodes[m] for m in scene.blocks.members[block] if m in trace_obj.nodes]
        modules = [n for n in members if n.kind == "module"]
        if not modules:
            kinds = " + ".join(dict.fromkeys(n.type for n in members)) or node_id
            raise ModelSpecError(f"{node_id} is a {kinds}; explain draws {SUPPORTED_TEXT}")
        layer = next((n for n in modules if n.type in KINDS), modules[0])
        which = f"explaining {layer.id} ({layer.type})"
        if len(members) > 1:
            types = " + ".join(n.type for n in members)
            which = f"explaining {layer.id}, the {layer.type} of block {node_id} ({types})"
        return self.explainer(layer.id), which


# the same keyword options as render() (less the file), for a caller who draws or shows it themselves
def plotter(
    model_or_trace_or_scene: Any,
    *inputs: Any,
    size: tuple[int, int] | None = None,
    mode: str = "architecture",
    depth: int | None = None,
    off_screen: bool | None = None,
    style: Any = None,
    model_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> pyvista.Plotter:
    """The ``pyvista.Plotter`` with the scene already added, for adding your own actors.

    ``size`` is the window's and the layout's, as for :func:`render`; ``options`` are style overrides
    and the model's keyword inputs (see module docstring)."""
    import pyvista as pv

    from render3d.rendering import build_plotter

    scene = to_scene(
        model_or_trace_or_scene,
        *inputs,
        mode=mode,
        depth=depth,
        size=size,
        style=style,
        model_kwargs=model_kwargs,
        **options,
    )
    pl, _ = build_plotter(scene, off_screen=pv.OFF_SCREEN if off_screen is None else off_screen)
    return pl
