"""Source nodes: modules fed by buffers, parameters read directly or tensors made inside ``forward``."""

from __future__ import annotations

import json

import pytest
import torch
import transformers as tf
from torch import nn

import render3d


class PosEmb(nn.Module):
    """The repro of issue 8: ``pos`` is fed once by a buffer slice, once by ``torch.arange``."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(100, 16)
        self.pos = nn.Embedding(32, 16)
        self.register_buffer("pos_ids", torch.arange(32)[None])
        self.fc = nn.Linear(16, 4)

    def forward(self, ids):
        h = self.tok(ids) + self.pos(self.pos_ids[:, : ids.shape[1]])
        return self.fc(h + self.pos(torch.arange(ids.shape[1]).unsqueeze(0)))


@pytest.fixture(scope="module")
def posemb():
    torch.manual_seed(0)
    model = PosEmb()
    return model, render3d.trace(model, torch.randint(0, 100, (1, 8)))


def test_posemb_modules_fed_by_sources_are_nodes(posemb):
    _, t = posemb
    assert [(n.id, n.kind, n.type) for n in t] == [
        ("input.0", "input", "Input"),
        ("tok#1", "module", "Embedding"),
        ("pos_ids", "constant", "Buffer"),
        ("pos#1", "module", "Embedding"),
        ("add#1", "function", "add"),
        ("arange#1", "constant", "Constant"),
        ("pos#2", "module", "Embedding"),
        ("add#2", "function", "add"),
        ("fc#1", "module", "Linear"),
        ("output", "output", "Output"),
    ]


def test_posemb_edges_run_from_the_sources_and_adds_have_two_parents(posemb):
    _, t = posemb
    assert t.edges == [
        ("input.0", "tok#1"),
        ("pos_ids", "pos#1"),
        ("tok#1", "add#1"),
        ("pos#1", "add#1"),
        ("arange#1", "pos#2"),
        ("add#1", "add#2"),
        ("pos#2", "add#2"),
        ("add#2", "fc#1"),
        ("fc#1", "output"),
    ]


def test_source_shapes_are_the_buffer_and_the_factory_output(posemb):
    _, t = posemb
    assert (t["pos_ids"].shape, t["arange#1"].shape) == ((1, 32), (8,))  # slice/unsqueeze keep one source


def test_sources_add_no_parameters(posemb):
    model, t = posemb
    assert [n.params for n in t if n.kind == "constant"] == [0, 0]
    assert t.total_params == sum(p.numel() for p in model.parameters())


def test_same_model_traced_twice_gives_identical_json(posemb):
    model, t = posemb
    again = render3d.trace(model, torch.randint(0, 100, (1, 8)))
    assert json.dumps(again.to_dict()) == json.dumps(t.to_dict())


def test_parameter_read_directly_is_a_parameter_source():
    class Queries(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Parameter(torch.randn(4, 8))
            self.proj = nn.Linear(8, 8)

        def forward(self, x):
            return x @ self.proj(self.query.t().t()).t()

    t = render3d.trace(Queries(), torch.randn(2, 8))
    assert (t["query"].kind, t["query"].type, t["query"].shape) == ("constant", "Parameter", (4, 8))
    assert t.parents("proj#1") == ["query"]
    assert sorted(t.parents("matmul#1")) == ["input.0", "t#1"]


def test_collapse_keeps_a_source_inside_the_block_that_reads_it():
    class Embed(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(10, 4)
            self.pos = nn.Embedding(8, 4)

        def forward(self, ids):
            return self.tok(ids) + self.pos(torch.arange(ids.shape[1]))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = Embed()
            self.head = nn.Linear(4, 2)

        def forward(self, ids):
            return self.head(self.embed(ids))

    t = render3d.trace(Net(), torch.randint(0, 10, (1, 5)))
    assert t.parents("embed.pos#1") == ["embed.arange#1"]
    assert t["embed.arange#1"].stack == ("embed#1",)
    assert [n.id for n in t.collapse(1)] == ["input.0", "embed#1", "head#1", "output"]


def _bert() -> nn.Module:
    config = tf.BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    return tf.BertModel(config)


def test_bert_position_and_token_type_embeddings_are_fed_by_their_buffers():
    torch.manual_seed(0)
    t = render3d.trace(_bert(), torch.randint(0, 100, (1, 8)), capture="none")
    emb = "embeddings."
    assert t.parents(emb + "position_embeddings#1") == [emb + "position_ids"]
    assert t.parents(emb + "token_type_embeddings#1") == [emb + "token_type_ids"]
    assert (t[emb + "position_ids"].type, t[emb + "token_type_ids"].type) == ("Buffer", "Buffer")
    assert t.parents(emb + "add#1") == [emb + "word_embeddings#1", emb + "token_type_embeddings#1"]
    assert t.parents(emb + "add#2") == [emb + "add#1", emb + "position_embeddings#1"]


def _gpt2():
    return tf.GPT2Model(tf.GPT2Config(vocab_size=100, n_embd=16, n_layer=1, n_head=2, n_positions=32)), {}


def _clip():
    config = tf.CLIPTextConfig(
        vocab_size=100,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=32,
    )
    return tf.CLIPTextModel(config), {}


def _t5():
    config = tf.T5Config(vocab_size=100, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2)
    return tf.T5Model(config), {"decoder_input_ids": torch.randint(0, 99, (1, 8))}


def _whisper():
    config = tf.WhisperConfig(
        vocab_size=100,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_mel_bins=8,
        max_source_positions=16,
        max_target_positions=32,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    return tf.WhisperModel(config), {
        "input_features": torch.randn(1, 8, 32),
        "decoder_input_ids": torch.randint(0, 99, (1, 8)),
    }


@pytest.mark.parametrize(
    ("build", "module", "source"),
    [
        (_gpt2, "wpe#1", "arange#1"),
        (_clip, "embeddings.position_embedding#1", "embeddings.position_ids"),
        (_whisper, "encoder.embed_positions#1", "encoder.arange#1"),
        (
            _t5,
            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias#1",
            "encoder.block.0.layer.0.SelfAttention.arange#1",
        ),
    ],
    ids=["gpt2", "clip", "whisper", "t5"],
)
def test_hf_position_modules_are_nodes_fed_by_their_source(build, module, source):
    torch.manual_seed(0)
    model, kwargs = build()
    if "input_features" not in kwargs:
        kwargs["input_ids"] = torch.randint(0, 99, (1, 8))
    t = render3d.trace(model, capture="none", **kwargs)
    assert t.parents(module) == [source]
    assert t[source].kind == "constant"
    assert len(t.children(module)) == 1
