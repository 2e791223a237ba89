"""CLIP: image towers (a :class:`~gazekit.backbones.vit.VisionTransformer` in the CLIP layout, or the
:class:`ModifiedResNet` of the RN50 family with attention pooling), text transformer, and the byte-level BPE tokenizer.

RN towers keep OpenAI's module names (``visual.conv1``, ``visual.layer1.0.downsample.-1``, ``visual.attnpool.q_proj``
…), so OpenAI and open_clip RN state dicts (e.g. ``timm/resnet50_clip.openai``: ``open_clip_model.safetensors``
with ``vocab.json`` + ``merges.txt`` beside it) load without renaming; :func:`clip_from_state_dict` infers the
architecture from the tensor shapes and :func:`tokenizer_from_folder` reads the vocabulary from the same folder.

Weights: :func:`checkpoint_filter_fn` maps OpenAI / OpenCLIP state dicts (``visual.conv1``, ``visual.transformer
.resblocks.N.attn.in_proj_weight``, ``token_embedding``, ``text_projection`` …) and transformers ``CLIPModel``
state dicts (``vision_model.*``, ``text_model.*``, ``visual_projection``) onto :class:`CLIP`.

Tokenizer: the vocabulary cannot be shipped or downloaded here; pass the OpenAI merges file
(``bpe_simple_vocab_16e6.txt.gz``, shipped inside the ``open_clip_torch`` / ``clip-anytorch`` wheels) or a Hugging
Face ``vocab.json`` + ``merges.txt`` pair. Deviation: OpenAI runs ``ftfy.fix_text`` first; gazekit uses it only
when ``ftfy`` is installed (it changes only mojibake / unusual Unicode).
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gazekit.backbones.vit import Block, VisionTransformer, concat_qkv
from gazekit.errors import ConfigError, DataFormatError

__all__ = [
    "CLIP",
    "CLIPTokenizer",
    "AttentionPool2d",
    "ModifiedResNet",
    "TextTransformer",
    "checkpoint_filter_fn",
    "RN50_CONFIG",
    "build_clip",
    "clip_config_from_state_dict",
    "clip_rn50",
    "clip_rn_tiny_test",
    "clip_tiny_test",
    "tokenizer_from_folder",
    "clip_vit_b16",
    "clip_vit_b32",
    "clip_vit_l14",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ---------------------------------------------------------------------- text tower
class TextTransformer(nn.Module):
    """CLIP text transformer: causal pre-norm blocks, final LayerNorm, pooled at the end-of-text token.

    Args:
        vocab_size: token vocabulary (49408 for OpenAI CLIP).
        context_length: maximum tokens (77).
        width: channels.
        layers: blocks.
        heads: attention heads.
        embed_dim: output size of ``text_projection``.
        act: MLP activation (``"quick_gelu"`` for OpenAI weights, ``"gelu"`` for most OpenCLIP ones).
        eos_token_id: pool at the first occurrence of this id; None pools at ``argmax(ids)`` (OpenAI: EOT has the
            largest id).
    """

    def __init__(
        self,
        vocab_size: int = 49408,
        context_length: int = 77,
        width: int = 512,
        layers: int = 12,
        heads: int = 8,
        embed_dim: int = 512,
        act: str = "quick_gelu",
        eos_token_id: int | None = None,
    ) -> None:
        super().__init__()
        self.context_length = context_length
        self.eos_token_id = eos_token_id
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Parameter(torch.empty(1, context_length, width))
        self.blocks = nn.ModuleList(
            Block(width, heads, 4.0, True, layerscale_init=None, act=act, norm_eps=1e-5) for _ in range(layers)
        )
        for blk in self.blocks:
            blk.attn.causal = True
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward_features(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]`` (T ≤ context_length) → normalised tokens ``[B, T, width]``."""
        if ids.ndim != 2 or ids.shape[1] > self.context_length:
            raise ConfigError(f"token ids must be [B, T] with T ≤ {self.context_length}, got {tuple(ids.shape)}")
        x = self.token_embedding(ids) + self.pos_embed[:, : ids.shape[1]]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def eot_index(self, ids: torch.Tensor) -> torch.Tensor:
        """Position of the end-of-text token per row ``[B]``."""
        if self.eos_token_id is None:
            return ids.argmax(dim=-1)
        return (ids == self.eos_token_id).int().argmax(dim=-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]`` → text embedding ``[B, embed_dim]`` (not normalised)."""
        x = self.forward_features(ids)
        pooled = x[torch.arange(x.shape[0], device=x.device), self.eot_index(ids)]
        return self.proj(pooled)


# ---------------------------------------------------------------------- ResNet image tower (RN50 family)
class Bottleneck(nn.Module):
    """CLIP's anti-aliased bottleneck: 1x1, 3x3, avg-pool (stride > 1), 1x1 (x4); the shortcut pools, then 1x1+BN."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride > 1 or inplanes != planes * self.expansion:
            # OpenAI names the pool "-1" so the conv/BN keep indices 0 and 1 of torchvision's layout
            self.downsample = nn.Sequential()
            self.downsample.add_module("-1", nn.AvgPool2d(stride))
            self.downsample.add_module("0", nn.Conv2d(inplanes, planes * self.expansion, 1, bias=False))
            self.downsample.add_module("1", nn.BatchNorm2d(planes * self.expansion))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu3(out + identity)


class AttentionPool2d(nn.Module):
    """QKV attention of the mean token over ``[mean; grid]`` tokens with a learned position embedding.

    Args:
        spacial_dim: side of the final feature grid (input_resolution // 32).
        embed_dim: channels of the grid (width * 32).
        num_heads: heads.
        output_dim: size of ``c_proj``'s output (the CLIP embedding).
    """

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int | None = None) -> None:
        super().__init__()
        self.spacial_dim = spacial_dim
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim**2 + 1, embed_dim) / embed_dim**0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        self.num_heads = num_heads

    def _pos(self, h: int, w: int) -> torch.Tensor:
        pe = self.positional_embedding
        if h == w == self.spacial_dim:
            return pe
        # another input size: bicubic resize of the grid part (open_clip's rule); the mean token keeps its row
        s = self.spacial_dim
        grid = pe[1:].reshape(1, s, s, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([pe[:1], grid.permute(0, 2, 3, 1).reshape(h * w, -1)], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, h, w]`` → ``[B, output_dim]``."""
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # [B, hw, C]
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1) + self._pos(h, w).to(x.dtype)
        nh, hd = self.num_heads, c // self.num_heads
        q = self.q_proj(tokens[:, :1]).reshape(b, 1, nh, hd).transpose(1, 2)
        k = self.k_proj(tokens).reshape(b, -1, nh, hd).transpose(1, 2)
        v = self.v_proj(tokens).reshape(b, -1, nh, hd).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)  # [B, nh, 1, hd]
        return self.c_proj(out.transpose(1, 2).reshape(b, c))


class ModifiedResNet(nn.Module):
    """CLIP's ResNet image tower: 3-conv stem + avg-pool, anti-aliased bottleneck stages, attention pooling.

    Args:
        layers: blocks per stage (RN50: ``(3, 4, 6, 3)``).
        output_dim: embedding size (RN50: 1024).
        heads: attention-pool heads (OpenAI: ``width * 32 // 64``).
        input_resolution: side of the (square) training input; sets the pooling position grid (``// 32``).
        width: stem width (RN50: 64); stage ``i`` has ``width * 2**i`` planes, ``x4`` channels out.
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        output_dim: int = 1024,
        heads: int = 32,
        input_resolution: int = 224,
        width: int = 64,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ConfigError(f"ModifiedResNet needs 4 stages of >= 1 block, got {tuple(layers)}")
        if (width * 32) % heads:
            raise ConfigError(f"attention-pool width {width * 32} is not divisible by {heads} heads")
        self.output_dim, self.input_resolution = output_dim, input_resolution
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        mods = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        mods += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` (CLIP-normalised) → feature grid ``[B, width*32, H/32, W/32]``."""
        x = x.to(self.conv1.weight.dtype)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.avgpool(self.relu3(self.bn3(self.conv3(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Attention-pooled embedding ``[B, output_dim]``."""
        return self.attnpool(feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class CLIP(nn.Module):
    """Image tower ``visual`` + text tower ``text`` + learned ``logit_scale`` (log of 1/temperature)."""

    def __init__(self, visual: VisionTransformer | ModifiedResNet, text: TextTransformer) -> None:
        super().__init__()
        self.visual = visual
        self.text = text
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))  # log(1 / 0.07)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` (CLIP-normalised) → ``[B, embed_dim]`` (ViT: pooled CLS; RN: attention pool)."""
        return self.visual.forward_head(self.visual.forward_features(images))

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` token ids → ``[B, embed_dim]``."""
        return self.text(ids)

    def forward(self, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Image–text logits ``[B_img, B_txt]`` = exp(logit_scale)·cos."""
        a = nn.functional.normalize(self.encode_image(images), dim=-1)
        b = nn.functional.normalize(self.encode_text(ids), dim=-1)
        return self.logit_scale.exp() * a @ b.t()


def _vision(width: int, layers: int, heads: int, patch: int, grid: int, embed: int, act: str) -> VisionTransformer:
    vit = VisionTransformer(
        img_size=patch * grid,
        patch_size=patch,
        embed_dim=width,
        depth=layers,
        num_heads=heads,
        layerscale_init=None,
        pos_embed_grid=grid,
        patch_bias=False,
        pre_norm=True,
        act=act,
        norm_eps=1e-5,
        interpolate_offset=0.0,
        proj_dim=embed,
    )
    # CLIP never masks patches: a trainable but unused mask token would stall DDP's gradient all-reduce
    vit.mask_token.requires_grad_(False)
    return vit


def clip_vit_b32(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP ViT-B/32 (224 px, embed 512)."""
    return CLIP(_vision(768, 12, 12, 32, 7, 512, act), TextTransformer(width=512, layers=12, heads=8, act=act))


def clip_vit_b16(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP ViT-B/16 (224 px, embed 512)."""
    return CLIP(_vision(768, 12, 12, 16, 14, 512, act), TextTransformer(width=512, layers=12, heads=8, act=act))


def clip_vit_l14(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP ViT-L/14 (224 px, embed 768)."""
    return CLIP(
        _vision(1024, 24, 16, 14, 16, 768, act), TextTransformer(width=768, layers=12, heads=12, embed_dim=768, act=act)
    )


def clip_tiny_test(vocab_size: int = 100, context_length: int = 16, eos_token_id: int | None = None) -> CLIP:
    """Tiny CLIP for tests: 32-d towers, 2 blocks, 2 heads, 28 px images (patch 14), embed 24."""
    return CLIP(
        _vision(32, 2, 2, 14, 2, 24, "quick_gelu"),
        TextTransformer(vocab_size, context_length, 32, 2, 2, 24, "quick_gelu", eos_token_id),
    )


def clip_rn50(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP RN50 (224 px, embed 1024): ModifiedResNet (3, 4, 6, 3), width 64, 32 pool heads."""
    return build_clip(RN50_CONFIG)


def clip_rn_tiny_test(vocab_size: int = 100, context_length: int = 16) -> CLIP:
    """Tiny RN CLIP for tests: stages (1, 1, 1, 1), width 8, 64 px input, embed 24, 2-block text tower."""
    return build_clip(
        {
            "embed_dim": 24,
            "vision": {"type": "resnet", "layers": [1, 1, 1, 1], "width": 8, "heads": 2, "image_size": 64},
            "text": {"vocab_size": vocab_size, "context_length": context_length, "width": 32, "layers": 2, "heads": 2},
        }
    )


#: the published RN50 architecture as a :func:`build_clip` config
RN50_CONFIG: dict[str, Any] = {
    "embed_dim": 1024,
    "vision": {"type": "resnet", "layers": [3, 4, 6, 3], "width": 64, "heads": 32, "image_size": 224},
    "text": {"vocab_size": 49408, "context_length": 77, "width": 512, "layers": 12, "heads": 8},
    "act": "quick_gelu",
}


def build_clip(config: dict[str, Any]) -> CLIP:
    """A :class:`CLIP` from a JSON-safe config (``embed_dim``, ``vision`` {type resnet|vit, …}, ``text``, ``act``).

    ``vision`` for ``resnet``: ``layers`` (4 ints), ``width``, ``heads``, ``image_size``; for ``vit``: ``width``,
    ``layers``, ``heads``, ``patch``, ``image_size``. ``text``: ``vocab_size``, ``context_length``, ``width``,
    ``layers``, ``heads`` and optionally ``eos_token_id`` (None pools at the largest id, as OpenAI).
    """
    try:
        embed, v, t = int(config["embed_dim"]), dict(config["vision"]), dict(config["text"])
        act = str(config.get("act", "quick_gelu"))
        if v.get("type") == "resnet":
            visual: VisionTransformer | ModifiedResNet = ModifiedResNet(
                tuple(int(n) for n in v["layers"]), embed, int(v["heads"]), int(v["image_size"]), int(v["width"])
            )
        elif v.get("type") == "vit":
            patch = int(v["patch"])
            visual = _vision(
                int(v["width"]), int(v["layers"]), int(v["heads"]), patch, int(v["image_size"]) // patch, embed, act
            )
        else:
            raise ConfigError(f"CLIP config: vision.type must be 'resnet' or 'vit', got {v.get('type')!r}")
        text = TextTransformer(
            int(t["vocab_size"]),
            int(t["context_length"]),
            int(t["width"]),
            int(t["layers"]),
            int(t["heads"]),
            embed,
            act,
            t.get("eos_token_id"),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"CLIP config: missing or bad field ({type(e).__name__}: {e})") from None
    return CLIP(visual, text)


def _count(sd: dict[str, Any], pattern: str) -> int:
    return len({m.group(1) for k in sd if (m := re.match(pattern, k))})


def clip_config_from_state_dict(sd: dict[str, Any]) -> dict[str, Any]:
    """Infer a :func:`build_clip` config from a gazekit-layout CLIP state dict (after :func:`checkpoint_filter_fn`).

    Heads follow OpenAI's rule (64 channels per head), as the published checkpoints do not store them.
    """
    try:
        tok = sd["text.token_embedding.weight"]
        width_t = int(tok.shape[1])
        text = {
            "vocab_size": int(tok.shape[0]),
            "context_length": int(sd["text.pos_embed"].shape[1]),
            "width": width_t,
            "layers": _count(sd, r"text\.blocks\.(\d+)\."),
            "heads": max(1, width_t // 64),
        }
        embed = int(sd["text.proj.weight"].shape[0])
        if "visual.attnpool.c_proj.weight" in sd:
            width = int(sd["visual.conv3.weight"].shape[0])
            grid = round((int(sd["visual.attnpool.positional_embedding"].shape[0]) - 1) ** 0.5)
            vision = {
                "type": "resnet",
                "layers": [_count(sd, rf"visual\.layer{i}\.(\d+)\.") for i in range(1, 5)],
                "width": width,
                "heads": max(1, width * 32 // 64),
                "image_size": grid * 32,
            }
        else:
            pw = sd["visual.patch_embed.weight"]
            grid = round((int(sd["visual.pos_embed"].shape[1]) - 1) ** 0.5)
            vision = {
                "type": "vit",
                "width": int(pw.shape[0]),
                "layers": _count(sd, r"visual\.blocks\.(\d+)\."),
                "heads": max(1, int(pw.shape[0]) // 64),
                "patch": int(pw.shape[-1]),
                "image_size": grid * int(pw.shape[-1]),
            }
    except (KeyError, IndexError) as e:
        raise ConfigError(f"not a CLIP state dict (no {e})") from None
    return {"embed_dim": embed, "vision": vision, "text": text, "act": "quick_gelu"}


# ---------------------------------------------------------------------- checkpoint conversion
def _cat_qkv(out: dict[str, Any], prefix: str, parts: dict[str, dict[str, Any]]) -> None:
    for kind, d in parts.items():
        out[f"{prefix}.attn.qkv.{kind}"] = concat_qkv(d, f"{prefix} attention {kind}")


def _from_openai(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    block = {
        "ln_1": "norm1",
        "ln_2": "norm2",
        "attn.in_proj_weight": "attn.qkv.weight",
        "attn.in_proj_bias": "attn.qkv.bias",
        "attn.out_proj": "attn.proj",
        "mlp.c_fc": "mlp.fc1",
        "mlp.c_proj": "mlp.fc2",
    }
    for k, v in sd.items():
        if m := re.match(r"(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$", k):
            tower = "visual" if m.group(1) else "text"
            rest = m.group(3)
            for src, dst in block.items():
                if rest == src or rest.startswith(src + "."):
                    out[f"{tower}.blocks.{m.group(2)}.{dst}{rest[len(src) :]}"] = v
                    break
            continue
        simple = {  # name -> (gazekit name, conversion)
            "visual.conv1.weight": ("visual.patch_embed.weight", lambda t: t),
            "visual.class_embedding": ("visual.cls_token", lambda t: t.reshape(1, 1, -1)),
            "visual.positional_embedding": ("visual.pos_embed", lambda t: t.unsqueeze(0)),
            "visual.proj": ("visual.proj.weight", lambda t: t.t()),  # OpenAI computes x @ proj
            "token_embedding.weight": ("text.token_embedding.weight", lambda t: t),
            "positional_embedding": ("text.pos_embed", lambda t: t.unsqueeze(0)),
            "text_projection": ("text.proj.weight", lambda t: t.t()),
            "logit_scale": ("logit_scale", lambda t: t),
        }
        if k in simple:
            name, conv = simple[k]
            out[name] = conv(v)
        elif m := re.match(r"visual\.(ln_pre|ln_post)\.(weight|bias)$", k):
            out[f"visual.{'norm_pre' if m.group(1) == 'ln_pre' else 'norm'}.{m.group(2)}"] = v
        elif m := re.match(r"ln_final\.(weight|bias)$", k):
            out[f"text.norm.{m.group(1)}"] = v
        # attn_mask buffers, input_resolution, context_length, vocab_size are dropped
    return out


def _from_hf(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    qkv: dict[str, dict[str, dict[str, Any]]] = {}
    layer = {
        "layer_norm1": "norm1",
        "layer_norm2": "norm2",
        "self_attn.out_proj": "attn.proj",
        "mlp.fc1": "mlp.fc1",
        "mlp.fc2": "mlp.fc2",
    }
    for k, v in sd.items():
        if m := re.match(r"(vision|text)_model\.encoder\.layers\.(\d+)\.(.+)$", k):
            tower = "visual" if m.group(1) == "vision" else "text"
            prefix, rest = f"{tower}.blocks.{m.group(2)}", m.group(3)
            if am := re.match(r"self_attn\.(q|k|v)_proj\.(weight|bias)$", rest):
                qkv.setdefault(prefix, {}).setdefault(am.group(2), {})[am.group(1)] = v
                continue
            for src, dst in layer.items():
                if rest.startswith(src + "."):
                    out[f"{prefix}.{dst}{rest[len(src) :]}"] = v
                    break
            continue
        simple = {
            "vision_model.embeddings.class_embedding": ("visual.cls_token", v.reshape(1, 1, -1)),
            "vision_model.embeddings.patch_embedding.weight": ("visual.patch_embed.weight", v),
            "vision_model.embeddings.position_embedding.weight": ("visual.pos_embed", v.unsqueeze(0)),
            "visual_projection.weight": ("visual.proj.weight", v),
            "text_model.embeddings.token_embedding.weight": ("text.token_embedding.weight", v),
            "text_model.embeddings.position_embedding.weight": ("text.pos_embed", v.unsqueeze(0)),
            "text_projection.weight": ("text.proj.weight", v),
            "logit_scale": ("logit_scale", v),
        }
        if k in simple:
            name, val = simple[k]
            out[name] = val
        elif m := re.match(r"vision_model\.(pre_layrnorm|post_layernorm)\.(weight|bias)$", k):
            out[f"visual.{'norm_pre' if m.group(1) == 'pre_layrnorm' else 'norm'}.{m.group(2)}"] = v
        elif m := re.match(r"text_model\.final_layer_norm\.(weight|bias)$", k):
            out[f"text.norm.{m.group(1)}"] = v
    for prefix, parts in qkv.items():
        _cat_qkv(out, prefix, parts)
    return out


def checkpoint_filter_fn(state_dict: dict[str, Any], model: CLIP | None = None) -> dict[str, Any]:
    """Map an OpenAI/OpenCLIP or transformers ``CLIPModel`` state dict onto :class:`CLIP` (layout auto-detected).

    ``model`` is accepted for a uniform signature; a mismatched size surfaces in ``load_state_dict``.
    """
    sd = dict(state_dict)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    if any(k.startswith(("vision_model.", "text_model.")) for k in sd):
        return _from_hf(sd)
    if any(k.startswith("visual.attnpool.") for k in sd):
        # RN tower: gazekit keeps OpenAI's module names, so visual keys pass through; BN counters may be absent
        out = _from_openai({k: v for k, v in sd.items() if not k.startswith("visual.")})
        out.update({k: v for k, v in sd.items() if k.startswith(("visual.", "text."))})  # gazekit text keys as is
        for k in [k for k in out if k.endswith(".running_mean")]:
            out.setdefault(k[: -len("running_mean")] + "num_batches_tracked", torch.tensor(0))
        return out
    if any(k.startswith("visual.conv1") or k == "token_embedding.weight" for k in sd):
        return _from_openai(sd)
    return sd


# ---------------------------------------------------------------------- tokenizer
@functools.lru_cache(maxsize=1)
def _byte_table() -> dict[int, str]:
    """Reversible byte → printable-character table of GPT-2/CLIP byte-level BPE."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _split_pattern() -> Any:
    specials = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
    try:
        import regex

        return regex.compile(specials + r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", regex.IGNORECASE)
    except ImportError:  # pragma: no cover - regex ships with transformers; stdlib approximation otherwise
        return re.compile(specials + r"|[^\W\d_]+|\d|[^\s\w]+|_", re.IGNORECASE)


class CLIPTokenizer:
    """CLIP's byte-level BPE with ``</w>`` word ends, lower-casing, and ``<|startoftext|>``/``<|endoftext|>``.

    Args:
        merges: ordered merge pairs (rank = position).
        vocab: token → id; None builds OpenAI's layout (256 byte symbols, the same with ``</w>``, one entry per
            merge, then the two special tokens).
        context_length: default padded length of :meth:`__call__`.
    """

    SOT = "<|startoftext|>"
    EOT = "<|endoftext|>"

    def __init__(
        self, merges: Sequence[tuple[str, str]], vocab: dict[str, int] | None = None, context_length: int = 77
    ) -> None:
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        if vocab is None:
            symbols = list(_byte_table().values())
            tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [self.SOT, self.EOT]
            vocab = {t: i for i, t in enumerate(tokens)}
        self.encoder = dict(vocab)
        self.decoder = {i: t for t, i in self.encoder.items()}
        for tok in (self.SOT, self.EOT):
            if tok not in self.encoder:
                raise ConfigError(f"CLIP vocabulary lacks {tok}")
        self.sot_id = self.encoder[self.SOT]
        self.eot_id = self.encoder[self.EOT]
        self.context_length = context_length
        self._pattern = _split_pattern()
        self._cache: dict[str, list[str]] = {self.SOT: [self.SOT], self.EOT: [self.EOT]}

    # -- construction from files
    @classmethod
    def from_openai_bpe(cls, path: str | Path, context_length: int = 77) -> CLIPTokenizer:
        """From OpenAI's ``bpe_simple_vocab_16e6.txt(.gz)``: header line, then merges; CLIP uses the first 48,894."""
        p = Path(path)
        if not p.is_file():
            raise DataFormatError("CLIP BPE merges file not found", path=p)
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        n_merges = 49152 - 256 - 2
        merges = [_parse_merge(line, p, i + 2) for i, line in enumerate(lines[1 : n_merges + 1]) if line.strip()]
        return cls(merges, None, context_length)

    @classmethod
    def from_files(cls, vocab_json: str | Path, merges_txt: str | Path, context_length: int = 77) -> CLIPTokenizer:
        """From a Hugging Face ``vocab.json`` + ``merges.txt`` pair."""
        vp, mp = Path(vocab_json), Path(merges_txt)
        for p in (vp, mp):
            if not p.is_file():
                raise DataFormatError("CLIP tokenizer file not found", path=p)
        try:
            vocab = json.loads(vp.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataFormatError(f"not JSON: {e}", path=vp, line=e.lineno) from e
        merges = []
        for i, line in enumerate(mp.read_text(encoding="utf-8").split("\n"), start=1):
            if line.startswith("#version") or not line.strip():
                continue
            merges.append(_parse_merge(line, mp, i))
        return cls(merges, vocab, context_length)

    # -- encoding
    @staticmethod
    def clean(text: str) -> str:
        try:
            import ftfy

            text = ftfy.fix_text(text)
        except ImportError:
            pass
        text = html.unescape(html.unescape(text))
        return re.sub(r"\s+", " ", text).strip().lower()

    def _bpe(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: self.ranks.get((parts[i], parts[i + 1]), 1 << 62))
            pair = (parts[best], parts[best + 1])
            if pair not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without the start/end tokens."""
        table = _byte_table()
        ids: list[int] = []
        for piece in self._pattern.findall(self.clean(text)):
            word = "".join(table[b] for b in piece.encode("utf-8"))
            for tok in self._bpe(word):
                if tok not in self.encoder:
                    raise ConfigError(f"BPE produced {tok!r}, which is not in the vocabulary (merges/vocab mismatch)")
                ids.append(self.encoder[tok])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Ids → text (``</w>`` becomes a space; special tokens are kept)."""
        inv = {c: b for b, c in _byte_table().items()}
        text = "".join(self.decoder[int(i)] for i in ids)
        out = bytearray()
        for piece in re.split(r"(<\|startoftext\|>|<\|endoftext\|>)", text.replace("</w>", " ")):
            if piece in (self.SOT, self.EOT):
                out += piece.encode()
            else:
                out += bytes(inv.get(c, ord(" ")) for c in piece)
        return out.decode("utf-8", errors="replace").strip()

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None, truncate: bool = True):
        """``[B, context_length]`` int64 ids: SOT, tokens, EOT, zero padding (OpenAI ``clip.tokenize``)."""
        n = context_length or self.context_length
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(texts), n, dtype=torch.long)
        for r, t in enumerate(texts):
            ids = [self.sot_id, *self.encode(t), self.eot_id]
            if len(ids) > n:
                if not truncate:
                    raise ConfigError(f"text {r} has {len(ids)} tokens > context length {n}")
                ids = ids[:n]
                ids[-1] = self.eot_id
            out[r, : len(ids)] = torch.tensor(ids)
        return out


def tokenizer_from_folder(folder: str | Path, context_length: int = 77) -> CLIPTokenizer:
    """The tokenizer whose files sit beside a CLIP checkpoint: ``vocab.json`` + ``merges.txt`` (Hugging Face /
    open_clip hub repos, gazekit's bundled model) or OpenAI's ``bpe_simple_vocab_16e6.txt(.gz)``."""
    d = Path(folder)
    if (d / "vocab.json").is_file() and (d / "merges.txt").is_file():
        return CLIPTokenizer.from_files(d / "vocab.json", d / "merges.txt", context_length)
    for name in ("bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt"):
        if (d / name).is_file():
            return CLIPTokenizer.from_openai_bpe(d / name, context_length)
    raise DataFormatError(
        "no CLIP tokenizer vocabulary here: put vocab.json + merges.txt (the hub repo's files, e.g. "
        "`gazekit download clip_tokenizer`) or bpe_simple_vocab_16e6.txt.gz beside the weights",
        path=d,
    )


def _parse_merge(line: str, path: Path, lineno: int) -> tuple[str, str]:
    parts = line.split()
    if len(parts) != 2:
        raise DataFormatError(f"expected two space-separated symbols, got {line!r}", path=path, line=lineno)
    return parts[0], parts[1]
