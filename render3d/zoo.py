"""Small, randomly initialised models from the zoos people bring (timm, Hugging Face, smp, MONAI,
torchvision detection/video/flow): what the zoo survey, the zoo tests and the gallery scenes draw.

Each factory takes no arguments and downloads nothing (``pretrained=False``, ``encoder_weights=None``,
``weights=None``, Hugging Face models built from a Config), so scene files can name one as a MODEL::

    model = "render3d.zoo:bert_tiny"

Every model carries an ``example_input()`` method: :func:`render3d.modelspec.example_input` calls it,
so inputs the default random-float probe cannot express work from a scene file too: integer token ids
(``input_ids`` of dtype long), keyword inputs (a dict, e.g. T5's ``input_ids`` +
``decoder_input_ids``) or several positional inputs (a tuple, e.g. RAFT's two frames). Inputs are
seeded, so the same factory always gives the same picture. The zoo packages are optional test
extras; a factory imports its package only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: token ids and sequence length of the text models: small enough for attention maps to stay legible
VOCAB, TOKENS = 1000, 16
#: special token ids inside the small vocabulary (the library defaults point past its end)
_SPECIAL = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)


def _with_input(model: nn.Module, make: Callable[[torch.Generator], Any]) -> nn.Module:
    """Attach a seeded ``example_input()`` (a tensor, a tuple of inputs or a dict of keyword inputs)."""
    model.example_input = lambda: make(torch.Generator().manual_seed(0))
    return model


def _image(*shape: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda gen: torch.randn(shape, generator=gen)


def _tokens(gen: torch.Generator, n: int = TOKENS) -> torch.Tensor:
    return torch.randint(0, VOCAB, (1, n), generator=gen)


# --- timm (pretrained=False) ------------------------------------------------------------------
def _timm(name: str, shape: tuple[int, ...] = (1, 3, 64, 64), **kwargs: Any) -> nn.Module:
    import timm

    return _with_input(timm.create_model(name, pretrained=False, **kwargs), _image(*shape))


def timm_resnet18() -> nn.Module:
    return _timm("resnet18")


def timm_convnext_atto() -> nn.Module:
    return _timm("convnext_atto")


def timm_vit_tiny() -> nn.Module:
    return _timm("vit_tiny_patch16_224", img_size=64)


def timm_deit_tiny() -> nn.Module:
    return _timm("deit_tiny_patch16_224", img_size=64)


def timm_swin_tiny() -> nn.Module:
    """Swin-T's four stages and windows at full 224 input, with narrow channels (cheap on a CPU)."""
    return _timm("swin_tiny_patch4_window7_224", (1, 3, 224, 224), embed_dim=32, num_heads=(1, 2, 4, 8))


def timm_maxvit_pico() -> nn.Module:
    return _timm("maxvit_pico_rw_256", (1, 3, 128, 128), img_size=128)


def timm_poolformer_s12() -> nn.Module:
    return _timm("poolformer_s12")


def timm_hrnet_w18_small() -> nn.Module:
    return _timm("hrnet_w18_small")


def timm_regnety_002() -> nn.Module:
    return _timm("regnety_002")


def timm_efficientnet_b0() -> nn.Module:
    return _timm("efficientnet_b0")


def timm_mobilenetv3_small() -> nn.Module:
    return _timm("mobilenetv3_small_100")


# --- Hugging Face transformers (from Config objects) ----------------------------------------------
_TEXT = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=64,
    **_SPECIAL,
)


def _token_model(model: nn.Module) -> nn.Module:
    return _with_input(model, _tokens)


def bert_tiny() -> nn.Module:
    from transformers import BertConfig, BertModel

    return _token_model(BertModel(BertConfig(**_TEXT)))


def distilbert_tiny() -> nn.Module:
    from transformers import DistilBertConfig, DistilBertModel

    return _token_model(
        DistilBertModel(
            DistilBertConfig(
                vocab_size=VOCAB, dim=64, n_layers=2, n_heads=4, hidden_dim=128, max_position_embeddings=64
            )
        )
    )


def roberta_tiny() -> nn.Module:
    from transformers import RobertaConfig, RobertaModel

    return _token_model(RobertaModel(RobertaConfig(**{**_TEXT, "max_position_embeddings": 66})))


def gpt2_tiny() -> nn.Module:
    """A GPT-style decoder with its language-model head (the logits are the primary output)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return _token_model(
        GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=64, **_SPECIAL))
    )


def llama_tiny() -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**_TEXT, num_key_value_heads=2)
    return _token_model(LlamaForCausalLM(config))


def clip_text_tiny() -> nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel

    return _token_model(CLIPTextModel(CLIPTextConfig(**_TEXT)))


def clip_vision_tiny() -> nn.Module:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=64, patch_size=16
    )
    return _with_input(CLIPVisionModel(config), lambda gen: {"pixel_values": torch.randn(1, 3, 64, 64, generator=gen)})


def hf_vit_tiny() -> nn.Module:
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=64, patch_size=16
    )
    return _with_input(ViTModel(config), _image(1, 3, 64, 64))


def _seq2seq_input(gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {"input_ids": _tokens(gen), "decoder_input_ids": _tokens(gen, TOKENS // 2)}


def t5_tiny() -> nn.Module:
    """An encoder–decoder: keyword inputs ``input_ids`` and ``decoder_input_ids``."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(
        vocab_size=VOCAB, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, decoder_start_token_id=1, **_SPECIAL
    )
    return _with_input(T5ForConditionalGeneration(config), _seq2seq_input)


def bart_tiny() -> nn.Module:
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(
        vocab_size=VOCAB,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=64,
        decoder_start_token_id=1,
        **_SPECIAL,
    )
    return _with_input(BartForConditionalGeneration(config), _seq2seq_input)


def whisper_tiny() -> nn.Module:
    """Speech encoder (log-mel frames) + text decoder: keyword inputs ``input_features``, ``decoder_input_ids``."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        vocab_size=VOCAB,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        num_mel_bins=16,
        max_source_positions=32,
        max_target_positions=32,
        decoder_start_token_id=1,
        **_SPECIAL,
    )

    def make(gen: torch.Generator) -> dict[str, torch.Tensor]:
        return {"input_features": torch.randn(1, 16, 64, generator=gen), "decoder_input_ids": _tokens(gen, 8)}

    return _with_input(WhisperForConditionalGeneration(config), make)


# --- segmentation-models-pytorch (encoder_weights=None) -----------------------------------------
def _smp(arch: str, **kwargs: Any) -> nn.Module:
    import segmentation_models_pytorch as smp

    model = getattr(smp, arch)(encoder_name="resnet18", encoder_weights=None, classes=3, **kwargs)
    return _with_input(model, _image(1, 3, 64, 64))


def smp_unet() -> nn.Module:
    return _smp("Unet")


def smp_unetplusplus() -> nn.Module:
    return _smp("UnetPlusPlus")


def smp_deeplabv3plus() -> nn.Module:
    return _smp("DeepLabV3Plus")


def smp_fpn() -> nn.Module:
    return _smp("FPN")


def smp_pspnet() -> nn.Module:
    return _smp("PSPNet")


# --- MONAI --------------------------------------------------------------------------------------
def monai_unet() -> nn.Module:
    from monai.networks.nets import UNet

    model = UNet(
        spatial_dims=2, in_channels=1, out_channels=2, channels=(8, 16, 32, 64), strides=(2, 2, 2), num_res_units=1
    )
    return _with_input(model, _image(1, 1, 64, 64))


def monai_unet3d() -> nn.Module:
    """A volumetric (spatial_dims=3) U-Net on a 32³ patch."""
    from monai.networks.nets import UNet

    model = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(8, 16, 32), strides=(2, 2), num_res_units=1)
    return _with_input(model, _image(1, 1, 32, 32, 32))


def monai_densenet121() -> nn.Module:
    from monai.networks.nets import DenseNet121

    return _with_input(DenseNet121(spatial_dims=2, in_channels=1, out_channels=2), _image(1, 1, 64, 64))


def monai_segresnet() -> nn.Module:
    """A volumetric residual encoder–decoder (spatial_dims=3) on a 32³ patch."""
    from monai.networks.nets import SegResNet

    model = SegResNet(
        spatial_dims=3, init_filters=8, in_channels=1, out_channels=2, blocks_down=(1, 2, 2), blocks_up=(1, 1)
    )
    return _with_input(model, _image(1, 1, 32, 32, 32))


def monai_attention_unet() -> nn.Module:
    from monai.networks.nets import AttentionUnet

    model = AttentionUnet(spatial_dims=2, in_channels=1, out_channels=2, channels=(8, 16, 32), strides=(2, 2))
    return _with_input(model, _image(1, 1, 64, 64))


# --- torchvision detection, flow, video (weights=None, weights_backbone=None) ----------------------
def _tv(name: str, make: Callable[[torch.Generator], Any], **kwargs: Any) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(name, weights=None, **kwargs)
    return _with_input(model, make)


def _detection(name: str, size: int = 128, **kwargs: Any) -> nn.Module:
    """Detectors take a list of images; small ones keep the CPU pass short (``min_size`` where it applies)."""
    return _tv(name, lambda gen: ([torch.rand(3, size, size, generator=gen)],), weights_backbone=None, **kwargs)


def maskrcnn() -> nn.Module:
    return _detection("maskrcnn_resnet50_fpn", min_size=128, max_size=128)


def fasterrcnn_mobilenet() -> nn.Module:
    return _detection("fasterrcnn_mobilenet_v3_large_fpn", min_size=128, max_size=128)


def retinanet() -> nn.Module:
    return _detection("retinanet_resnet50_fpn", min_size=128, max_size=128)


def ssdlite() -> nn.Module:
    return _detection("ssdlite320_mobilenet_v3_large", 320)


def raft_small() -> nn.Module:
    """Optical flow between two frames (two positional inputs); 4 refinement iterations, not 12."""
    model = _tv(
        "raft_small",
        lambda gen: (torch.randn(1, 3, 128, 128, generator=gen), torch.randn(1, 3, 128, 128, generator=gen)),
    )
    forward = model.forward
    model.forward = lambda image1, image2: forward(image1, image2, num_flow_updates=4)
    return model


def r3d_18() -> nn.Module:
    return _tv("r3d_18", _image(1, 3, 8, 64, 64))


def mvit_v2_s() -> nn.Module:
    """MViT-v2 (relative positions, residual pooling) with five blocks over two pooling stages, built
    for an 8×112×112 clip: torchvision's builder fixes 16×224² and 16 blocks (minutes on a CPU)."""
    from torchvision.models.video.mvit import MSBlockConfig, MViT

    def block(heads: int, cin: int, cout: int, q: int, kv: int) -> MSBlockConfig:
        return MSBlockConfig(
            num_heads=heads,
            input_channels=cin,
            output_channels=cout,
            kernel_q=[3, 3, 3],
            kernel_kv=[3, 3, 3],
            stride_q=[1, q, q],
            stride_kv=[1, kv, kv],
        )

    blocks = [
        block(1, 32, 64, 1, 4),
        block(2, 64, 64, 2, 2),
        block(2, 64, 128, 1, 2),
        block(4, 128, 128, 2, 1),
        block(4, 128, 128, 1, 1),
    ]
    model = MViT(
        spatial_size=(112, 112),
        temporal_size=8,
        block_setting=blocks,
        residual_pool=True,
        residual_with_cls_embed=False,
        rel_pos_embed=True,
        proj_after_attn=True,
    )
    return _with_input(model, _image(1, 3, 8, 112, 112))


#: every factory above, by short name (the survey's and the zoo tests' model list)
ZOO: dict[str, Callable[[], nn.Module]] = {
    f.__name__: f
    for f in (
        timm_resnet18,
        timm_convnext_atto,
        timm_vit_tiny,
        timm_deit_tiny,
        timm_swin_tiny,
        timm_maxvit_pico,
        timm_poolformer_s12,
        timm_hrnet_w18_small,
        timm_regnety_002,
        timm_efficientnet_b0,
        timm_mobilenetv3_small,
        bert_tiny,
        distilbert_tiny,
        roberta_tiny,
        gpt2_tiny,
        llama_tiny,
        clip_text_tiny,
        clip_vision_tiny,
        hf_vit_tiny,
        t5_tiny,
        bart_tiny,
        whisper_tiny,
        smp_unet,
        smp_unetplusplus,
        smp_deeplabv3plus,
        smp_fpn,
        smp_pspnet,
        monai_unet,
        monai_unet3d,
        monai_densenet121,
        monai_segresnet,
        monai_attention_unet,
        maskrcnn,
        fasterrcnn_mobilenet,
        retinanet,
        ssdlite,
        raft_small,
        r3d_18,
        mvit_v2_s,
    )
}
