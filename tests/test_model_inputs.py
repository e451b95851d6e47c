"""How a model and its inputs get in: keyword inputs through render/show/plotter/to_scene, and MODEL
factories that would download weights failing with one actionable line instead of a traceback."""

from __future__ import annotations

import socket

import pytest
import torch
from torch import nn

import render3d
from render3d.api import to_scene, trace_spec
from render3d.errors import ModelSpecError
from render3d.modelspec import DownloadRefusedError, load_model


class EncoderDecoder(nn.Module):
    """Two keyword inputs, like T5's ``input_ids`` / ``decoder_input_ids``, and an optional ``labels``."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.encoder = nn.Linear(8, 8)
        self.decoder = nn.Linear(8, 8)

    def forward(
        self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        memory = self.encoder(self.embed(input_ids)).mean(1, keepdim=True)
        out = self.decoder(self.embed(decoder_input_ids) + memory)
        return out if labels is None else out - labels


def ids(n: int) -> torch.Tensor:
    return torch.arange(n)[None] % 50


def input_nodes(scene) -> list[str]:
    return sorted(n for n in scene.blocks.node_ids if n.startswith("input"))


def test_keyword_inputs_reach_the_model_and_style_options_the_scene():
    scene = to_scene(EncoderDecoder(), input_ids=ids(6), decoder_input_ids=ids(3), labels="none")
    assert input_nodes(scene) == ["input.decoder_input_ids", "input.input_ids"]
    assert len(scene.labels) == 0  # labels="none" is the SceneStyle option, not the model's labels


def test_model_kwargs_forward_a_name_that_is_also_a_style_option():
    scene = to_scene(
        EncoderDecoder(),
        model_kwargs={"input_ids": ids(6), "decoder_input_ids": ids(3), "labels": torch.zeros(1, 3, 8)},
    )
    assert "input.labels" in scene.blocks.node_ids


def test_unknown_keyword_names_neither_style_nor_forward_input():
    with pytest.raises(
        TypeError,
        match=r"'lodd' is neither a style option nor a keyword input of "
        r"EncoderDecoder\.forward \(inputs: input_ids, decoder_input_ids, labels;",
    ):
        to_scene(EncoderDecoder(), input_ids=ids(6), decoder_input_ids=ids(3), lodd="topk")


def test_model_kwargs_rejected_for_a_trace():
    t = render3d.trace(EncoderDecoder(), input_ids=ids(6), decoder_input_ids=ids(3), capture="none")
    with pytest.raises(TypeError, match="model_kwargs only apply when drawing an nn.Module, not a Trace"):
        to_scene(t, model_kwargs={"labels": torch.zeros(1, 3, 8)})


def test_plotter_takes_keyword_inputs():
    pl = render3d.plotter(EncoderDecoder(), input_ids=ids(6), decoder_input_ids=ids(3), size=(160, 90), off_screen=True)
    try:
        assert pl.window_size == [160, 90]
        assert any(name.startswith("blocks") for name in pl.actors)
    finally:
        pl.close()


def test_render_takes_keyword_inputs(tmp_path):
    out = render3d.render(
        EncoderDecoder(),
        input_ids=ids(6),
        decoder_input_ids=ids(3),
        path=tmp_path / "ed.png",
        size=(160, 90),
        mode="activations",
        lod="slab",
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_example_input_dict_from_a_model_spec_is_passed_as_keywords(tmp_path):
    (tmp_path / "ed.py").write_text(
        "import torch\n"
        f"from {__name__} import EncoderDecoder\n"
        "def model():\n"
        "    m = EncoderDecoder()\n"
        "    m.example_input = lambda: {'input_ids': torch.arange(6)[None],\n"
        "                               'decoder_input_ids': torch.arange(3)[None]}\n"
        "    return m\n"
    )
    t = trace_spec(f"{tmp_path / 'ed.py'}:model", capture="none")
    assert [i["id"] for i in t.inputs] == ["input.input_ids", "input.decoder_input_ids"]


def test_smp_default_encoder_weights_fail_in_one_line():
    with pytest.raises(ModelSpecError) as info:
        load_model("segmentation_models_pytorch:Unet")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("model 'segmentation_models_pytorch:Unet' tried to download while being built")
    assert "encoder_weights=None" in message and "pretrained=False" in message


def test_factory_calling_urllib_fails_naming_the_host_and_network_comes_back(tmp_path):
    (tmp_path / "dl.py").write_text(
        "import urllib.request\n"
        "from torch import nn\n"
        "def model():\n"
        "    urllib.request.urlopen('https://weights.example.com/w.pt', timeout=60)\n"
        "    return nn.Linear(2, 2)\n"
    )
    getaddrinfo = socket.getaddrinfo
    with pytest.raises(
        ModelSpecError,
        match=r"dl\.py:model' tried to download while being built "
        r"\(weights\.example\.com\); render3d builds offline",
    ):
        load_model(f"{tmp_path / 'dl.py'}:model")
    assert socket.getaddrinfo is getaddrinfo


def test_a_refused_download_is_not_retried_after_the_shape_only_pass(tmp_path):
    calls = tmp_path / "calls.txt"
    (tmp_path / "dl.py").write_text(
        "import urllib.request\n"
        "from torch import nn\n"
        "def model():\n"
        f"    with open({str(calls)!r}, 'a') as f:\n"
        "        f.write('built\\n')\n"
        "    urllib.request.urlopen('https://weights.example.com/w.pt', timeout=60)\n"
        "    return nn.Linear(2, 2)\n"
    )
    with pytest.raises(DownloadRefusedError):
        trace_spec(f"{tmp_path / 'dl.py'}:model", input_shape=(1, 2), capture="none")
    assert calls.read_text() == "built\n"


class TakesAnyKeyword(nn.Module):
    """Like Hugging Face models: ``**kwargs`` swallows names it does not use."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.seen: dict[str, object] = {}

    def forward(self, x: torch.Tensor, **kwargs: object) -> torch.Tensor:
        self.seen = kwargs
        return self.fc(x)


def test_near_miss_of_a_style_option_is_caught_even_under_forward_kwargs():
    with pytest.raises(
        TypeError,
        match=r"'lodd' is not a style option \(did you mean 'lod'\?\) nor a named input "
        r"of TakesAnyKeyword\.forward; if the model takes it, pass model_kwargs=",
    ):
        to_scene(TakesAnyKeyword(), torch.randn(1, 4), lodd="topk")


def test_other_names_go_to_forward_kwargs():
    model = TakesAnyKeyword()
    to_scene(model, torch.randn(1, 4), output_attentions=True, labels="none")
    assert model.seen == {"output_attentions": True}


def test_a_model_file_runs_its_top_level_once_per_trace(tmp_path):
    # the shape-only meta pass and the real pass build the model twice; the file is imported once
    runs = tmp_path / "runs.txt"
    (tmp_path / "counted.py").write_text(
        f"from pathlib import Path\nfrom torch import nn\n"
        f"with open({str(runs)!r}, 'a') as f:\n    f.write('ran\\n')\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    t = trace_spec(f"{tmp_path / 'counted.py'}:Net", input_shape="1,4", capture="reduced")
    assert t.nodes["fc#1"].activation is not None  # the real pass ran, after the meta pass
    assert runs.read_text() == "ran\n"
