"""Models nobody tuned render3d for (timm, Hugging Face, smp, MONAI, torchvision detection and flow),
random init and small inputs: every picture must be truthful and legible.

For each model, one traced architecture scene (shared by the tests through a module-scoped cache)
must draw every parameterised module that ran (found with plain forward hooks, not the tracer), show
no label name twice, have no boxes passing through each other, stay within the readable block bound,
and render as a picture rather than a hairline in an empty frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import render3d
from render3d.graph import Trace
from render3d.modelspec import call_inputs, load_model
from render3d.scene.model import Scene
from render3d.scene.overlap import overlapping_blocks
from render3d.scene.style import SceneStyle
from render3d.zoo_checks import (
    called_parameterised_modules,
    drawn_share,
    duplicate_labels,
    missing_modules,
)

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


#: one or two per zoo and per failure family of issue 8 (pass-through modules, HF embeddings and
#: caches, encoder–decoder, wrapped rows, ASPP/FPN decoders, 3-D volumes, root-scope detection and flow code)
MODELS = [
    "timm_deit_tiny",
    "timm_swin_tiny",
    "timm_poolformer_s12",
    "timm_regnety_002",
    "bert_tiny",
    "gpt2_tiny",
    "t5_tiny",
    "smp_deeplabv3plus",
    "smp_fpn",
    "monai_unet",
    "monai_unet3d",
    "maskrcnn",
    "ssdlite",
    "raft_small",
]
SIZE = (640, 360)
#: a picture, not a hairline: share of the frame drawn inside the model's box, and that box's width
MIN_PIXELS, MIN_WIDTH = 0.03, 0.50


@dataclass
class Drawn:
    trace: Trace
    scene: Scene
    called: set[str]


@pytest.fixture(scope="module")
def drawn() -> Callable[[str], Drawn]:
    """Trace and lay out each zoo model once for all the tests of this module."""
    cache: dict[str, Drawn] = {}

    def get(name: str) -> Drawn:
        if name not in cache:
            model = load_model(f"render3d.zoo:{name}")
            args, kwargs = call_inputs(model.example_input())
            with called_parameterised_modules(model) as called:
                trace = render3d.trace(model, *args, capture="none", **kwargs)
            cache[name] = Drawn(trace, render3d.build_scene(trace, image_size=SIZE), called)
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_every_called_parameterised_module_is_drawn(name, drawn):
    case = drawn(name)
    assert case.called, "the forward hooks saw no module: the check would be vacuous"
    assert missing_modules(case.called, case.scene, case.trace) == []


@pytest.mark.parametrize("name", MODELS)
def test_label_names_are_unique(name, drawn):
    assert duplicate_labels(drawn(name).scene) == []


@pytest.mark.parametrize("name", MODELS)
def test_no_two_blocks_intersect(name, drawn):
    assert overlapping_blocks(drawn(name).scene) == []


@pytest.mark.parametrize("name", MODELS)
def test_block_count_within_the_readable_bound(name, drawn):
    assert len(drawn(name).scene.blocks) <= SceneStyle().max_blocks


@pytest.mark.parametrize("name", MODELS)
def test_png_is_a_picture_not_a_hairline(name, drawn, tmp_path: Path):
    from render3d.rendering import render_png

    scene = drawn(name).scene
    coverage = drawn_share(scene, render_png(scene, tmp_path / f"{name}.png", size=SIZE))
    assert coverage.pixels >= MIN_PIXELS, f"{100 * coverage.pixels:.1f} % of the frame drawn"
    assert coverage.width >= MIN_WIDTH, f"model box {100 * coverage.width:.0f} % of the frame width"
