"""Models built in code, with random weights: ``tiny`` for tests and demos, ``random:*`` for
benchmarks (the real architectures, so the FLOPs and memory are honest).

Weights are created directly in the target dtype and filled with a cheap uniform draw: only
shapes and finiteness matter, and the default initialisers would make building a full-size
SDXL take longer than the frames it is used to time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, AutoencoderTiny, ControlNetModel, UNet2DConditionModel
from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from desktop_app.engine.components import Progress
from desktop_app.engine.parts import TURBO_SCHEDULER, ModelParts

_SDXL_UNET = dict(
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280],
    cross_attention_dim=2048,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    projection_class_embeddings_input_dim=2816,
    transformer_layers_per_block=[1, 2, 10],
    use_linear_projection=True,
    sample_size=64,
)
_SD21_UNET = dict(
    attention_head_dim=[5, 10, 20, 20],
    block_out_channels=[320, 640, 1280, 1280],
    cross_attention_dim=1024,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    use_linear_projection=True,
    sample_size=64,
)
# SD 1.5's UNet and scribble ControlNet (lllyasviel/sd-controlnet-scribble), no linear
# projections; tests/test_builders.py checks this against ../shared/configs/sd15-base.
_SD15_UNET = dict(
    attention_head_dim=8,
    block_out_channels=[320, 640, 1280, 1280],
    cross_attention_dim=768,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    layers_per_block=2,
    sample_size=64,
)
_FULL_VAE = dict(
    block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    latent_channels=4,
    layers_per_block=2,
)
_CLIP_L = dict(
    hidden_size=768,
    intermediate_size=3072,
    num_attention_heads=12,
    num_hidden_layers=12,
    hidden_act="quick_gelu",
    projection_dim=768,
)
_CLIP_BIG_G = dict(
    hidden_size=1280,
    intermediate_size=5120,
    num_attention_heads=20,
    num_hidden_layers=32,
    hidden_act="gelu",
    projection_dim=1280,
)
_OPEN_CLIP_H = dict(
    hidden_size=1024,
    intermediate_size=4096,
    num_attention_heads=16,
    num_hidden_layers=23,
    hidden_act="gelu",
    projection_dim=512,
)


def tiny_tokenizer(model_max_length: int = 77) -> CLIPTokenizer:
    """A CLIP tokenizer over single bytes: every string tokenizes (one token a byte), and the
    end-of-text token has the highest id, which CLIP's pooling relies on."""
    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def _clip_config(arch: dict, vocab_size: int) -> CLIPTextConfig:
    # eos_token_id=2 selects CLIP's original pooling (argmax of the ids: end-of-text is largest).
    return CLIPTextConfig(
        vocab_size=vocab_size,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        **arch,
    )


def _tile(data: torch.Tensor, pool: torch.Tensor) -> None:
    """Fill ``data`` by repeating ``pool``: memcpy speed, where drawing billions of random
    numbers one by one would take longer than the frames the model is built to time."""
    flat, size = data.view(-1), pool.numel()
    whole = flat.numel() // size
    if whole:
        flat[: whole * size].view(whole, size).copy_(pool.expand(whole, size))
    rest = flat.numel() - whole * size
    if rest:
        flat[whole * size :].copy_(pool[:rest])


def fill_random(
    module: torch.nn.Module,
    dtype: torch.dtype,
    seed: int = 0,
    percent_done: Callable[[int], None] | None = None,
) -> torch.nn.Module:
    """Materialise meta parameters as values in ±1/sqrt(fan_in); norms get weight 1, bias 0.

    ``percent_done`` hears each new whole percent of the values filled: a full-size UNet
    takes half a minute on a small CPU, so the loader can say how far it is, and a load
    given up for another model stops at the next percent (its progress callback raises)."""
    pool = torch.rand(1 << 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    pool = pool.to(dtype)
    params = [
        (sub, name, param)
        for sub in module.modules()
        for name, param in list(sub._parameters.items())
        if param is not None
    ]
    total = sum(param.numel() for _, _, param in params) or 1
    filled, said = 0, -1
    for sub, name, param in params:
        data = torch.empty(param.shape, dtype=dtype)
        if param.dim() >= 2:
            _tile(data, pool)
            data.mul_(1.0 / math.sqrt(max(1, param[0].numel())))
        elif name == "weight":
            data.fill_(1.0)
        else:
            data.zero_()
        sub._parameters[name] = torch.nn.Parameter(data, requires_grad=False)
        filled += param.numel()
        percent = filled * 100 // total
        if percent_done is not None and percent != said:
            said = percent
            percent_done(percent)
    return module


def _build(factory, dtype: torch.dtype, seed: int, progress: Progress | None = None, what=""):
    """``factory``'s module with random weights; ``progress`` hears "WHAT: N %" as it fills."""
    with init_empty_weights(include_buffers=False):
        module = factory()
    percent_done = None if progress is None else lambda n: progress(f"{what}: {n} %")
    return fill_random(module, dtype, seed, percent_done).eval()


def _sdxl_added_dim(time_dim: int, pooled_dim: int) -> int:
    return 6 * time_dim + pooled_dim  # six size/crop ids, each embedded, plus the pooled text


_TINY_TEXT_DIM = 32
_SD15_TEXT_DIM = 768  # the SD 1.5 family is recognised by it (components.family_of_unet)
# The SD 1.5 family's own scheduler, as SDXS publishes it: DEIS, one step from t=999.
SD15_SCHEDULER = {
    "_class_name": "DEISMultistepScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "timestep_spacing": "linspace",
}


def _tiny_text_dim(family: str) -> int:
    return _SD15_TEXT_DIM if family == "sd15" else _TINY_TEXT_DIM


def _tiny_unet_arch(family: str) -> dict:
    """The tiny UNet's (and ControlNet's) shape: two levels, one cross-attention level."""
    sdxl = family == "sdxl"
    arch = dict(
        block_out_channels=(32, 64),
        layers_per_block=1,
        attention_head_dim=(2, 4),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        use_linear_projection=True,
        transformer_layers_per_block=(1, 1),
        cross_attention_dim=_tiny_text_dim(family) * (2 if sdxl else 1),
        norm_num_groups=8,
    )
    if sdxl:
        arch.update(
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=_sdxl_added_dim(8, _TINY_TEXT_DIM),
        )
    return arch


def _tiny_autoencoders(dtype: torch.dtype) -> tuple[AutoencoderKL, AutoencoderTiny]:
    """A four-level full VAE (exports) and tiny autoencoder (previews), 8 to 16 wide."""
    vae = _build(
        lambda: AutoencoderKL(
            down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4,
            block_out_channels=(8, 8, 16, 16),
            norm_num_groups=4,
            layers_per_block=1,
            latent_channels=4,
        ),
        dtype,
        3,
    )
    tae = _build(
        lambda: AutoencoderTiny(
            encoder_block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            num_encoder_blocks=(1, 1, 1, 1),
            num_decoder_blocks=(1, 1, 1, 1),
        ),
        dtype,
        4,
    )
    return vae, tae


def build_tiny(dtype: torch.dtype = torch.float32, family: str = "sdxl") -> ModelParts:
    """A model of the SDXL (or SD 2.x, or SD 1.5) shape small enough to build, and to render
    a 512 frame, in well under a second. The SD 1.5 one has SD 1.5's text width (768, what
    marks the family) and its own scheduler, DEIS, as SDXS has."""
    sdxl = family == "sdxl"
    arch = _tiny_unet_arch(family)
    clip = dict(
        hidden_size=_tiny_text_dim(family),
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        hidden_act="gelu",
        projection_dim=_tiny_text_dim(family),
    )
    unet = _build(
        lambda: UNet2DConditionModel(
            **arch, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), sample_size=64
        ),
        dtype,
        1,
    )
    controlnet = _build(
        lambda: ControlNetModel(**arch, conditioning_embedding_out_channels=(8, 8, 16, 16)),
        dtype,
        2,
    )
    vae, tae = _tiny_autoencoders(dtype)
    tokenizers = (tiny_tokenizer(), tiny_tokenizer()) if sdxl else (tiny_tokenizer(),)
    vocab = len(tokenizers[0])
    encoders = [_build(lambda: CLIPTextModel(_clip_config(clip, vocab)), dtype, 5)]
    if sdxl:
        encoders.append(
            _build(lambda: CLIPTextModelWithProjection(_clip_config(clip, vocab)), dtype, 6)
        )
    return ModelParts(
        name="tiny" if sdxl else f"tiny:{family}",
        family=family,
        unet=unet,
        controlnet=controlnet,
        text_encoders=tuple(encoders),
        tokenizers=tokenizers,
        vae=vae,
        tae=tae,
        scheduler_config=dict(SD15_SCHEDULER if family == "sd15" else TURBO_SCHEDULER),
        preview_decoder="tiny autoencoder (random)",
        is_noise=True,
    )


def build_random(
    family: str, dtype: torch.dtype = torch.float32, progress: Progress | None = None
) -> ModelParts:
    """The full-size SDXL, SD 2.1 or SD 1.5 architecture plus a matching ControlNet, random
    weights; ``progress`` hears how far each part is (about a minute for SDXL on a CPU)."""
    tokenizer = tiny_tokenizer()
    vocab = 49408  # the real CLIP vocabulary size, so the embedding tables are full-size
    encoders: tuple[torch.nn.Module, ...]  # one for SD 1.x/2.x, two for SDXL
    name = f"random:{family}"
    encoder = f"building {name}: the text encoder"
    if family == "sdxl":
        unet_arch = _SDXL_UNET
        encoders = (
            _build(
                lambda: CLIPTextModel(_clip_config(_CLIP_L, vocab)), dtype, 5, progress, encoder
            ),
            _build(
                lambda: CLIPTextModelWithProjection(_clip_config(_CLIP_BIG_G, vocab)),
                dtype,
                6,
                progress,
                f"{encoder} 2",
            ),
        )
        scaling = 0.13025
    elif family in ("sd21", "sd15"):
        unet_arch = _SD21_UNET if family == "sd21" else _SD15_UNET
        clip = _OPEN_CLIP_H if family == "sd21" else _CLIP_L
        encoders = (
            _build(lambda: CLIPTextModel(_clip_config(clip, vocab)), dtype, 5, progress, encoder),
        )
        scaling = 0.18215
    else:
        raise ValueError(f"unknown family {family}")
    control_arch = {
        k: v for k, v in unet_arch.items() if k not in ("up_block_types", "sample_size")
    }
    unet = _build(
        lambda: UNet2DConditionModel(**unet_arch), dtype, 1, progress, f"building {name}: the UNet"
    )
    controlnet = _build(
        lambda: ControlNetModel(
            **control_arch, conditioning_embedding_out_channels=(16, 32, 96, 256)
        ),
        dtype,
        2,
        progress,
        f"building {name}: the ControlNet",
    )
    vae = _build(
        lambda: AutoencoderKL(**_FULL_VAE, scaling_factor=scaling),
        dtype,
        3,
        progress,
        f"building {name}: the VAE",
    )
    tae = _build(lambda: AutoencoderTiny(), dtype, 4)
    return ModelParts(
        name=name,
        family=family,
        unet=unet,
        controlnet=controlnet,
        text_encoders=encoders,
        tokenizers=tuple(tokenizer for _ in encoders),
        vae=vae,
        tae=tae,
        scheduler_config=dict(SD15_SCHEDULER if family == "sd15" else TURBO_SCHEDULER),
        preview_decoder="tiny autoencoder (random)",
        is_noise=True,
    )
