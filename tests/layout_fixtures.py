"""Real models from the zoos the layout tests run on: random init, small configs, small inputs, cached.

No weights are downloaded: torchvision and smp builders get ``weights=None`` / ``encoder_weights=None``
and Hugging Face models are built from a config object.
"""

from __future__ import annotations

from functools import cache

from render3d.graph import Trace


def _trace(model, *inputs, capture: str = "none", **kwargs) -> Trace:
    import render3d

    return render3d.trace(model.eval(), *inputs, capture=capture, **kwargs)


def _seeded():
    import torch

    torch.manual_seed(0)
    return torch


def _smp(name: str) -> Trace:
    torch = _seeded()
    import segmentation_models_pytorch as smp

    model = getattr(smp, name)(encoder_name="resnet18", encoder_weights=None, classes=2)
    return _trace(model, torch.randn(1, 3, 64, 64))


def _torchvision(builder, *shape: int, capture: str = "none", **kwargs) -> Trace:
    torch = _seeded()
    return _trace(builder(weights=None, **kwargs), torch.randn(*shape), capture=capture)


@cache
def trace_of(name: str) -> Trace:
    """The trace of one named model (architecture only)."""
    import torchvision.models as tvm
    import torchvision.models.segmentation as seg

    builders = {
        "smp.DeepLabV3Plus": lambda: _smp("DeepLabV3Plus"),
        "smp.FPN": lambda: _smp("FPN"),
        "smp.PSPNet": lambda: _smp("PSPNet"),
        "smp.UnetPlusPlus": lambda: _smp("UnetPlusPlus"),
        "smp.Unet": lambda: _smp("Unet"),
        "tv.deeplabv3_mobilenet_v3_large": lambda: _torchvision(
            seg.deeplabv3_mobilenet_v3_large, 1, 3, 64, 64, weights_backbone=None, num_classes=3
        ),
        "tv.regnet_y_400mf": lambda: _torchvision(tvm.regnet_y_400mf, 1, 3, 64, 64),
        "tv.fasterrcnn_mobilenet_v3_large_fpn": _fasterrcnn,
        "tv.raft_small": _raft,
        "hf.CLIPVision": _clip,
        "hf.T5": _t5,
        "hf.BART": _bart,
        "hf.GPT2": _gpt2,
        "hf.BERT": _bert,
        "render3d.UNet": _unet,
        "monai.UNet": _monai_unet,
    }
    return builders[name]()


@cache
def swin_t_trace() -> Trace:
    """torchvision swin_t at 64×64 with reduced activations (for both scene modes)."""
    import torchvision.models as tvm

    return _torchvision(tvm.swin_t, 1, 3, 64, 64, capture="reduced")


def _fasterrcnn() -> Trace:
    torch = _seeded()
    import torchvision.models.detection as det

    model = det.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=3, min_size=128, max_size=128
    )
    return _trace(model, [torch.rand(3, 128, 128)])


def _raft() -> Trace:
    torch = _seeded()
    from torchvision.models.optical_flow import raft_small

    images = torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128)
    return _trace(raft_small(weights=None), *images, num_flow_updates=2)


def _clip() -> Trace:
    torch = _seeded()
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
    )
    return _trace(CLIPVisionModel(config), torch.randn(1, 3, 32, 32))


def _t5() -> Trace:
    torch = _seeded()
    from transformers import T5Config, T5Model

    config = T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=2)
    return _trace(
        T5Model(config), input_ids=torch.randint(0, 100, (1, 8)), decoder_input_ids=torch.randint(0, 100, (1, 5))
    )


def _bart() -> Trace:
    torch = _seeded()
    from transformers import BartConfig, BartModel

    config = BartConfig(
        vocab_size=100,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
    )
    return _trace(
        BartModel(config), input_ids=torch.randint(3, 100, (1, 8)), decoder_input_ids=torch.randint(3, 100, (1, 5))
    )


def _gpt2() -> Trace:
    torch = _seeded()
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=64, bos_token_id=0, eos_token_id=0)
    return _trace(GPT2LMHeadModel(config), torch.randint(0, 100, (1, 8)), use_cache=True)


def _bert() -> Trace:
    torch = _seeded()
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return _trace(BertModel(config), torch.randint(0, 100, (1, 8)))


def _unet() -> Trace:
    torch = _seeded()
    from render3d.models import UNet

    return _trace(UNet(), torch.randn(1, 3, 64, 64))


def _monai_unet() -> Trace:
    torch = _seeded()
    from monai.networks.nets import UNet

    model = UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(8, 16, 32), strides=(2, 2))
    return _trace(model, torch.randn(1, 1, 32, 32))
