"""How a scene looks: the :class:`SceneStyle` options, the colour palettes and the legend categories.

Every layer type maps to one of eleven legend categories (:data:`CATEGORIES`) by what it does, not by
its exact class name: HF's ``Conv1D`` is a Linear, ``GELUActivation`` an Activation, ``T5LayerNorm`` a
Norm. Upsampling and interpolation are "Resample", apart from "Pool": both change resolution, but a
decoder full of "Pool" cubes misreads a U-Net. A transposed convolution stays "Conv": it has weights
and mixes channels like the strided convolution it inverts; "Resample" and "Pool" are the
weight-free resolution changes.

Each palette gives every category a colour that stays distinguishable under the common colour-vision
deficiencies: Okabe-Ito (the default) with Paul Tol's muted indigo and sand for the two categories it
has no colour for, and Tol's "muted" scheme (all nine colours) with near-black and grey. Worst pair,
CIE76 ΔE in CIELAB after Machado et al. (2009) full-severity simulation: Okabe-Ito 26.4 (normal
vision) / 17.0 (deuteranopia) / 20.7 (protanopia); Tol 22.8 / 17.3 / 15.3
(``tests/test_scene_categories.py`` recomputes them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

#: the image (width, height) a scene is laid out for when no size is given, and so the size of a PNG,
#: window, TensorBoard image or video drawn from it: the one default every entry point shares
DEFAULT_SIZE: tuple[int, int] = (1920, 1080)
#: videos default to 720p: it encodes ~2.25x faster than 1080p and is plenty for a slide or a lecture
VIDEO_SIZE: tuple[int, int] = (1280, 720)
#: windows default to a size that fits a 1600x900 laptop screen with room for the title bar and tooltips
WINDOW_SIZE: tuple[int, int] = (1600, 900)

CATEGORIES = (
    "Input/Output",
    "Embedding",
    "Conv",
    "Linear",
    "Norm",
    "Activation",
    "Pool",
    "Resample",
    "Attention/RNN",
    "Merge",
    "Reshape/other",
)

Rgb = tuple[int, int, int]

PALETTES: dict[str, dict[str, Rgb]] = {
    # Okabe & Ito (2008), "Color Universal Design"; Tol's muted indigo and sand for the two extra
    # categories; greys for the catch-alls (the light one light enough to stay apart from reddish
    # purple under deuteranopia).
    "okabe-ito": {
        "Input/Output": (68, 68, 68),
        "Embedding": (51, 34, 136),  # indigo (Tol muted)
        "Conv": (0, 114, 178),  # blue
        "Linear": (204, 121, 167),  # reddish purple
        "Norm": (240, 228, 66),  # yellow
        "Activation": (230, 159, 0),  # orange
        "Pool": (0, 158, 115),  # bluish green
        "Resample": (221, 204, 119),  # sand (Tol muted)
        "Attention/RNN": (86, 180, 233),  # sky blue
        "Merge": (213, 94, 0),  # vermillion
        "Reshape/other": (200, 200, 200),  # grey
    },
    # Paul Tol, "muted" qualitative scheme (https://personal.sron.nl/~pault/); near-black for
    # inputs/outputs (dark grey read as wine under deuteranopia).
    "tol": {
        "Input/Output": (17, 17, 17),
        "Embedding": (153, 153, 51),  # olive
        "Conv": (51, 34, 136),  # indigo
        "Linear": (170, 68, 153),  # purple
        "Norm": (221, 204, 119),  # sand
        "Activation": (204, 102, 119),  # rose
        "Pool": (17, 119, 51),  # green
        "Resample": (68, 170, 153),  # teal
        "Attention/RNN": (136, 204, 238),  # cyan
        "Merge": (136, 34, 85),  # wine
        "Reshape/other": (200, 200, 200),  # grey
    },
}

MODES = ("architecture", "activations")
AUTO_AZIMUTHS = (-22.0, -32.0, -42.0, -52.0)
#: a layout wrapped into rows is seen nearly face on, so the rows do not slant into each other
WRAP_AZIMUTHS = (-4.0, -8.0, -12.0)
AUTO_ELEVATIONS = (16.0, 24.0, 32.0)
LODS = ("auto", "slab", "topk", "all")
LAYOUTS = ("auto", "line", "u")
LABEL_POLICIES = ("auto", "all", "main", "none")
UNFOLD_FIRST = ("auto", "always", "never")
SIZINGS = ("log", "linear")
WRAPS = ("auto", "never")
SCALES = ("layer", "global")
#: the colour bar title of each colour scale (``SceneStyle.colorbar_title`` replaces it when set)
SCALE_TITLES = {"layer": "activation (per-layer p1–p99)", "global": "log10 magnitude (all layers)"}


@dataclass(frozen=True)
class SceneStyle:
    """Options of :func:`render3d.build_scene`; pass one as ``style=`` or override fields by keyword.

    Layout and folding
        ``fold``: fold conv→norm→activation chains into one block and draw tiny functional ops
        (relu, view, add, cat, getitem, ...) as small glyph cubes. ``max_blocks``: when the trace
        has more nodes, it is collapsed to the deepest module depth that fits (needs
        ``trace.modules``). ``layout``: ``"auto"`` draws encoder–decoder graphs (U-Nets, detected
        from shapes) as a U and everything else as a line; ``"line"`` / ``"u"`` force one.
        ``fold_repeats``: runs of identical chained sibling blocks (ResNet stages, transformer
        layers) become one block with an ``×N`` badge (:meth:`render3d.graph.Trace.fold_repeats`),
        first at full depth; only if that is still over ``max_blocks`` is the trace collapsed by
        depth (and folded again). ``unfold_first``: draw the first block of each run in full and
        fold the rest (``"auto"``: when folding left a small scene, e.g. ViT or ConvNeXt).
        ``spine``: residual streams (``x + f(norm(x))``, transformers) are drawn as a straight
        spine with the branches as side-cars in their own lanes. ``wrap``: a long model is cut
        into rows read top to bottom, preferably one stage (resolution) per row (``"auto"``: when
        one row would draw the blocks too small; ``"never"``; or an integer, the most blocks per row).
    Sizes
        ``sizing``: ``"log"`` (default) or ``"linear"``; both are clamped, true numbers go in labels.
    Labels and camera
        ``labels``: ``"auto"`` thins/staggers labels so none overlap on screen, ``"main"`` labels only
        the main path, ``"all"`` labels every block, ``"none"``. ``image_size`` and ``font_px`` are
        what label overlap and camera framing are computed for.
    Activations (``mode="activations"``)
        ``lod``: ``"slab"`` (channel mean), ``"topk"`` (``topk`` channels with the largest mean
        |activation|), ``"all"`` (up to ``max_planes`` channels) or ``"auto"`` (by how large the
        block is in the scene). ``volume=True`` draws maps as volumes. ``max_bar_cells`` caps vectors.
        ``scale``: ``"layer"`` (default) colours each layer from its own p1 to p99, which shows the
        pattern inside every layer; ``"global"`` puts all layers on one log10 |value| scale, so an
        exploding layer stands out (:mod:`render3d.scene.colour`). ``colorbar_title``: empty for the
        scale's own title.
    """

    fold: bool = True
    fold_repeats: bool = True
    unfold_first: str = "auto"
    spine: bool = True
    max_blocks: int = 400
    layout: str = "auto"
    sizing: str = "log"
    palette: str = "okabe-ito"
    labels: str = "auto"
    font_px: float = 19.0  # what the renderer draws at 1080 p (0.6·font_px per character)
    image_size: tuple[int, int] = DEFAULT_SIZE
    view_angle: float = 15.0  # narrow: the near end of a long model is not drawn much larger than the far end
    #: degrees the camera swings from the front (+z) towards the input end (negative) or the output
    #: end; ``None`` picks from AUTO_AZIMUTHS the view that draws the model largest
    azimuth: float | None = None
    #: degrees above the horizontal; ``None`` picks from AUTO_ELEVATIONS
    elevation: float | None = None
    layer_gap: float = 1.6  # free space between consecutive layers along x
    lane_gap: float = 2.6  # free space between branch lanes along z
    #: cut a long main path into rows stacked downwards (at stage boundaries where it can):
    #: ``"auto"`` (when one row would draw blocks too small), ``"never"``, or the most blocks per row
    wrap: str | int = "auto"
    lod: str = "auto"
    topk: int = 8
    max_planes: int = 32
    volume: bool = False
    attention: bool = True
    max_bar_cells: int = 256
    max_feature_maps: int = 256
    cmap: str = "viridis"
    scale: str = "layer"
    colorbar_title: str = ""

    def __post_init__(self) -> None:
        _check_choice("layout", self.layout, LAYOUTS)
        _check_choice("sizing", self.sizing, SIZINGS)
        _check_choice("palette", self.palette, tuple(PALETTES))
        _check_choice("labels", self.labels, LABEL_POLICIES)
        _check_choice("lod", self.lod, LODS)
        _check_choice("unfold_first", self.unfold_first, UNFOLD_FIRST)
        _check_choice("scale", self.scale, SCALES)
        if isinstance(self.wrap, bool) or not (self.wrap in WRAPS or (isinstance(self.wrap, int) and self.wrap >= 2)):
            msg = f"wrap must be 'auto', 'never' or an integer >= 2 (blocks per row), got {self.wrap!r}"
            raise ValueError(msg)
        for name in ("max_blocks", "topk", "max_planes", "max_bar_cells", "max_feature_maps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                msg = f"{name} must be a positive integer, got {value!r}"
                raise ValueError(msg)
        if not 1.0 <= self.view_angle <= 120.0:
            msg = f"view_angle must be between 1 and 120 degrees, got {self.view_angle!r}"
            raise ValueError(msg)

    @property
    def colors(self) -> dict[str, Rgb]:
        return PALETTES[self.palette]

    @property
    def colorbar_text(self) -> str:
        """The colour bar title: ``colorbar_title`` if given, else the one that names the scale."""
        return self.colorbar_title or SCALE_TITLES[self.scale]

    def with_overrides(self, **overrides: Any) -> SceneStyle:
        """A copy with ``overrides`` applied; unknown names raise ``TypeError`` listing the valid ones."""
        valid = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            msg = f"unknown style option {unknown[0]!r}; valid options: {', '.join(sorted(valid))}"
            raise TypeError(msg)
        return replace(self, **overrides) if overrides else self


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        msg = f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}"
        raise ValueError(msg)


def check_mode(mode: str) -> None:
    _check_choice("mode", mode, MODES)


# --- layer type → legend category ----------------------------------------------------------------

_ACTIVATIONS = {
    "relu",
    "relu6",
    "leakyrelu",
    "leaky_relu",
    "prelu",
    "rrelu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "sigmoid",
    "hardsigmoid",
    "tanh",
    "hardtanh",
    "hardswish",
    "softplus",
    "softsign",
    "softmax",
    "softmin",
    "log_softmax",
    "logsoftmax",
    "softmax2d",
    "glu",
    "threshold",
    "logsigmoid",
    "tanhshrink",
    "softshrink",
    "hardshrink",
    "clamp",
    "clip",
}
#: words that mark an activation family whatever the wrapper (``NewGELUActivation``, ``QuickGELU``,
#: ``MemoryEfficientSwish``, ``GEGLU``); only weight-free modules (timm's ``SwiGLU`` MLP is not one)
_ACTIVATION_WORDS = ("relu", "gelu", "silu", "swish", "mish", "glu", "sigmoid", "tanh", "softplus", "activation")
_MERGES = {
    "add",
    "iadd",
    "radd",
    "sub",
    "isub",
    "rsub",
    "mul",
    "imul",
    "rmul",
    "div",
    "truediv",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "addcmul",
    "where",
    "maximum",
    "minimum",
}
_LINEAR = {"linear", "bilinear", "lazylinear", "matmul", "mm", "bmm", "addmm", "baddbmm", "einsum"}
#: transformers.pytorch_utils.Conv1D: GPT-2's Linear with transposed weights, despite the name
_LINEAR_CLASSES = {"Conv1D"}
_RESAMPLE_WORDS = (
    "upsampl",
    "interpolate",
    "pixel_shuffle",
    "pixelshuffle",
    "pixel_unshuffle",
    "pixelunshuffle",
    "grid_sample",
)
_ATTENTION_WORDS = ("attention", "attn", "lstm", "gru", "rnn", "transformer", "scaled_dot_product")


def base_type(type_name: str) -> str:
    """``"torch.Tensor.add_"`` → ``"add"``; ``"BatchNorm2d"`` → ``"batchnorm2d"``."""
    name = type_name.rsplit(".", 1)[-1].strip("_").lower()
    return name or type_name.lower()


def categorize(type_name: str, kind: str = "module", *, params: int = 0, ndim: int = 0) -> str:
    """The legend category of one node type (see :data:`CATEGORIES`)."""
    if kind in ("input", "output", "constant"):  # data entering or leaving: inputs, buffers, constants
        return "Input/Output"
    if type_name.rsplit(".", 1)[-1] in _LINEAR_CLASSES:
        return "Linear"
    name = base_type(type_name)
    if "embed" in name:
        return "Embedding"
    if any(w in name for w in _ATTENTION_WORDS):
        return "Attention/RNN"
    if any(w in name for w in _RESAMPLE_WORDS):
        return "Resample"
    if "conv" in name:
        return "Conv"
    if "norm" in name:
        return "Norm"
    if "pool" in name or "roialign" in name or "roi_align" in name:  # RoIAlign pools each box to a grid
        return "Pool"
    if name in _ACTIVATIONS or (params == 0 and any(w in name for w in _ACTIVATION_WORDS)):
        return "Activation"
    if name in _LINEAR or name.endswith("linear"):
        return "Linear"
    if name in _MERGES:
        return "Merge"
    if kind == "module" and params > 0:
        # a collapsed container (BasicBlock, Bottleneck, _DenseLayer, ...): guess from its output
        if ndim >= 4:
            return "Conv"
        if ndim == 3:
            return "Attention/RNN"
        return "Linear"
    return "Reshape/other"


#: compact tags for folded labels ("+BN+ReLU"), first match wins; families share one tag
_SHORT_TAGS = (
    ("batchnorm", "BN"),
    ("layernorm", "LN"),
    ("groupnorm", "GN"),
    ("rmsnorm", "RMSNorm"),
    ("gelu", "GELU"),
    ("hardswish", "HardSwish"),
    ("silu", "SiLU"),
    ("swish", "SiLU"),
)


def short_type(type_name: str) -> str:
    """A compact type tag for folded labels: ``BatchNorm2d`` → ``BN``, ``NewGELUActivation`` → ``GELU``."""
    name = base_type(type_name)
    tag = next((t for word, t in _SHORT_TAGS if word in name), None)
    if tag is not None:
        return tag
    if name in ("relu", "relu6"):
        return "ReLU"
    short = type_name.rsplit(".", 1)[-1].strip("_")
    return short.removesuffix("Activation") or short
