"""Vision Transformer in the DINOv2 layout and the CLIP image-tower layout.

One module covers both published layouts; they differ only in switches:

=====================  =====================================  ======================================
switch                 DINOv2 (facebookresearch/dinov2)        CLIP image tower (OpenAI / OpenCLIP)
=====================  =====================================  ======================================
``patch_bias``         True                                    False (``conv1`` has no bias)
``pre_norm``           False                                   True (``ln_pre``)
``layerscale_init``    1e-5 (``ls1.gamma``/``ls2.gamma``)       None
``act``                ``"gelu"``                              ``"quick_gelu"`` (OpenAI) / ``"gelu"``
``norm_eps``           1e-6                                    1e-5
``interpolate_offset`` 0.1 (DINOv2's scale-factor rule)        0.0 (size rule, as transformers' CLIP)
``proj_dim``           None                                    embedding size (``proj``)
=====================  =====================================  ======================================

Token order is ``[CLS, registers..., patches (raster, row-major)]``. Attention is dense SDPA
(:func:`gazekit.kernels.dense.dense_attention`); :meth:`VisionTransformer.forward_with_attention` also returns
the (unscaled) queries and keys of chosen blocks so attention maps can be pooled without materialising them
(:func:`gazekit.kernels.attention_pool`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gazekit.errors import BadWeightsError, ConfigError
from gazekit.kernels import attention_pool
from gazekit.kernels.dense import dense_attention

__all__ = [
    "Attention",
    "Block",
    "LayerScale",
    "Mlp",
    "VisionTransformer",
    "checkpoint_filter_fn",
    "concat_qkv",
    "vit_base_patch14_dinov2",
    "vit_large_patch14_dinov2",
    "vit_small_patch14_dinov2",
    "vit_tiny_test",
]


class QuickGELU(nn.Module):
    """x·σ(1.702·x), the activation of OpenAI's CLIP."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def _act(name: str) -> nn.Module:
    if name == "gelu":
        return nn.GELU()
    if name == "quick_gelu":
        return QuickGELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    raise ConfigError(f"act={name!r}: expected 'gelu', 'gelu_tanh' or 'quick_gelu'")


class LayerScale(nn.Module):
    """Per-channel scale ``gamma`` (DINOv2's ``ls1``/``ls2``)."""

    def __init__(self, dim: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """fc1 → activation → fc2."""

    def __init__(self, dim: int, hidden: int, act: str = "gelu") -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = _act(act)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention with a packed ``qkv`` projection (rows ordered q, k, v)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, proj_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.causal = False  # True in CLIP's text tower

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x [B, T, C]`` → q, k, v each ``[B, heads, T, head_dim]`` (q not scaled)."""
        b, t, _ = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def forward(
        self, x: torch.Tensor, return_qk: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, c = x.shape
        q, k, v = self.qkv_heads(x)
        o = dense_attention(q, k, v, scale=self.scale, is_causal=self.causal)
        o = self.proj(o.transpose(1, 2).reshape(b, t, c))
        return (o, (q, k)) if return_qk else o


class Block(nn.Module):
    """Pre-norm transformer block: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x)))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        layerscale_init: float | None = 1e-5,
        act: str = "gelu",
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim, layerscale_init) if layerscale_init is not None else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act=act)
        self.ls2 = LayerScale(dim, layerscale_init) if layerscale_init is not None else nn.Identity()

    def forward(
        self, x: torch.Tensor, return_qk: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if return_qk:
            a, qk = self.attn(self.norm1(x), return_qk=True)
        else:
            a, qk = self.attn(self.norm1(x)), None
        x = x + self.ls1(a)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return (x, qk) if return_qk else x  # type: ignore[return-value]


class VisionTransformer(nn.Module):
    """ViT with CLS token, optional register tokens, interpolated absolute position embedding.

    Args:
        img_size: nominal input size (documentation; any size divisible-or-not by the patch works).
        patch_size: patch side in pixels.
        embed_dim: channels C.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden size / C.
        qkv_bias: bias on the qkv projection.
        layerscale_init: LayerScale initial value; None = no LayerScale (CLIP).
        num_register_tokens: R register tokens (DINOv2 "with registers").
        pos_embed_grid: side of the square grid the position embedding was trained at (37 for DINOv2's 518 px).
        final_norm: apply the final LayerNorm to the returned tokens.
        patch_bias: bias on the patch-embedding convolution (CLIP has none).
        pre_norm: LayerNorm after adding the position embedding (CLIP's ``ln_pre``).
        act: MLP activation, ``"gelu"`` or ``"quick_gelu"``.
        norm_eps: LayerNorm epsilon.
        interpolate_offset: DINOv2 interpolates with ``scale_factor=(g + offset) / grid``; 0 uses
            ``size=(gh, gw)`` (transformers' rule).
        proj_dim: output size of the pooled-CLS projection (CLIP's ``proj``); None = no projection.
        interpolate_antialias: antialiased bicubic interpolation (DINOv2 with registers: True, with offset 0).
        cls_pos_embed: add the position embedding's first row to the CLS token (DINOv2, CLIP); False leaves the
            CLS token without one (hustvl/ViTGaze's backbone drops that row).
    """

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 14,
        embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        layerscale_init: float | None = 1e-5,
        num_register_tokens: int = 0,
        pos_embed_grid: int = 37,
        final_norm: bool = True,
        patch_bias: bool = True,
        pre_norm: bool = False,
        act: str = "gelu",
        norm_eps: float = 1e-6,
        interpolate_offset: float = 0.1,
        proj_dim: int | None = None,
        interpolate_antialias: bool = False,
        cls_pos_embed: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.depth = depth
        self.num_register_tokens = num_register_tokens
        self.num_prefix_tokens = 1 + num_register_tokens
        self.pos_embed_grid = pos_embed_grid
        self.final_norm = final_norm
        self.interpolate_offset = interpolate_offset
        self.interpolate_antialias = interpolate_antialias
        self.cls_pos_embed = cls_pos_embed

        self.patch_embed = nn.Conv2d(3, embed_dim, patch_size, stride=patch_size, bias=patch_bias)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + pos_embed_grid**2, embed_dim))
        self.register_tokens = (
            nn.Parameter(torch.zeros(1, num_register_tokens, embed_dim)) if num_register_tokens else None
        )
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.norm_pre = nn.LayerNorm(embed_dim, eps=norm_eps) if pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, layerscale_init, act, norm_eps) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.proj = nn.Linear(embed_dim, proj_dim, bias=False) if proj_dim else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.register_tokens is not None:
            nn.init.normal_(self.register_tokens, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ geometry
    def grid_size(self, h: int, w: int) -> tuple[int, int]:
        """Patch grid ``(gh, gw)`` of an ``h × w`` input."""
        return h // self.patch_size, w // self.patch_size

    def interpolate_pos_embed(self, gh: int, gw: int) -> torch.Tensor:
        """Position embedding ``[1, 1 + gh·gw, C]`` for a ``gh × gw`` grid (bicubic, computed in fp32)."""
        g = self.pos_embed_grid
        pe = self.pos_embed
        if gh == g and gw == g:
            return pe
        cls_pe, patch_pe = pe[:, :1], pe[:, 1:]
        patch_pe = patch_pe.float().reshape(1, g, g, -1).permute(0, 3, 1, 2)
        if self.interpolate_offset:
            sh = (gh + self.interpolate_offset) / g
            sw = (gw + self.interpolate_offset) / g
            patch_pe = F.interpolate(
                patch_pe, scale_factor=(sh, sw), mode="bicubic", antialias=self.interpolate_antialias
            )
        else:
            patch_pe = F.interpolate(patch_pe, size=(gh, gw), mode="bicubic", antialias=self.interpolate_antialias)
        if patch_pe.shape[-2:] != (gh, gw):  # pragma: no cover - float rounding guard
            raise ConfigError(f"position-embedding interpolation gave {tuple(patch_pe.shape[-2:])}, need {(gh, gw)}")
        patch_pe = patch_pe.permute(0, 2, 3, 1).reshape(1, gh * gw, -1).to(pe.dtype)
        return torch.cat([cls_pe, patch_pe], dim=1)

    # ------------------------------------------------------------------ forward
    def prepare_tokens(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Patch-embed, mask, add CLS + position embedding, insert registers → ``[B, 1+R+N, C]``."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ConfigError(f"expected images [B, 3, H, W], got {tuple(x.shape)}")
        b, _, h, w = x.shape
        gh, gw = self.grid_size(h, w)
        if gh < 1 or gw < 1:
            raise ConfigError(f"input {h}×{w} is smaller than one {self.patch_size}-px patch")
        t = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, N, C]
        if masks is not None:
            if masks.shape != t.shape[:2]:
                raise ConfigError(f"masks must be [B, N] = {tuple(t.shape[:2])}, got {tuple(masks.shape)}")
            t = torch.where(masks.unsqueeze(-1).bool(), self.mask_token.to(t.dtype).unsqueeze(0), t)
        pe = self.interpolate_pos_embed(gh, gw).to(t.dtype)
        if self.cls_pos_embed:
            t = torch.cat([self.cls_token.expand(b, -1, -1).to(t.dtype), t], dim=1) + pe
        else:
            t = torch.cat([self.cls_token.expand(b, -1, -1).to(t.dtype), t + pe[:, 1:]], dim=1)
        if self.register_tokens is not None:
            t = torch.cat([t[:, :1], self.register_tokens.expand(b, -1, -1).to(t.dtype), t[:, 1:]], dim=1)
        return self.norm_pre(t)

    def forward_features(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens after the last block.

        Args:
            x: images ``[B, 3, H, W]``.
            masks: optional ``[B, N]`` bool, True = replace that patch by ``mask_token``.

        Returns:
            ``[B, 1+R+N, C]`` (final LayerNorm applied when ``final_norm``).
        """
        t = self.prepare_tokens(x, masks)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t) if self.final_norm else t

    def forward_with_attention(
        self, x: torch.Tensor, layers: Sequence[int], masks: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Tokens plus the queries and keys of chosen blocks.

        Args:
            x: images ``[B, 3, H, W]``.
            layers: 0-based block indices (negative counts from the end), in any order.
            masks: optional ``[B, N]`` bool patch mask (see :meth:`forward_features`).

        Returns:
            ``(tokens [B, 1+R+N, C], [(q, k), ...])`` with one pair per entry of ``layers`` (same order), each
            ``[B, heads, T, head_dim]``, T = 1+R+N. q is not pre-scaled; the block's logit scale is
            ``head_dim ** -0.5``, so its attention is ``softmax(q·kᵀ·scale)``.
        """
        want = [i + self.depth if i < 0 else i for i in layers]
        for i in want:
            if not 0 <= i < self.depth:
                raise ConfigError(f"layer {i} out of range for depth {self.depth}")
        got: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        t = self.prepare_tokens(x, masks)
        for i, blk in enumerate(self.blocks):
            if i in want:
                t, qk = blk(t, return_qk=True)
                got[i] = qk
            else:
                t = blk(t)
        t = self.norm(t) if self.final_norm else t
        return t, [got[i] for i in want]

    def forward_pooled_attention(
        self,
        x: torch.Tensor,
        layers: Sequence[int],
        weights: torch.Tensor,
        masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens plus w-pooled post-softmax attention maps of chosen blocks (ViTGaze's interaction features).

        For each block and head: ``Σ_n w[b, n] · softmax(q_n · Kᵀ · scale)`` over patch queries n, with all tokens
        as keys (CLS and registers take part in the softmax), then the CLS/register columns dropped — computed by
        :func:`gazekit.kernels.attention_pool` without the N×T map.

        Args:
            x: images ``[B, 3, H, W]``.
            layers: 0-based block indices.
            weights: ``[B, N]`` weights over the N = gh·gw patches (e.g. a softmax over head patches).
            masks: optional ``[B, N]`` bool patch mask.

        Returns:
            ``(tokens [B, 1+R+N, C], maps [B, len(layers)·heads, gh, gw])`` (layer-major channel order).
        """

        gh, gw = self.grid_size(x.shape[-2], x.shape[-1])
        if weights.shape != (x.shape[0], gh * gw):
            raise ConfigError(f"weights must be [B, N] = {(x.shape[0], gh * gw)}, got {tuple(weights.shape)}")
        tokens, qks = self.forward_with_attention(x, layers, masks)
        p = self.num_prefix_tokens
        maps = [
            attention_pool(q[:, :, p:], k, weights.to(q.dtype), scale=q.shape[-1] ** -0.5)[:, :, p:] for q, k in qks
        ]
        out = torch.cat(maps, dim=1) if maps else tokens.new_zeros(x.shape[0], 0, gh * gw)
        return tokens, out.reshape(x.shape[0], -1, gh, gw)

    def forward_head(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pooled CLS token ``[B, C]`` (CLIP: ``[B, proj_dim]`` after ``proj``) from ``forward_features`` tokens."""
        cls = tokens[:, 0]
        if not self.final_norm:
            cls = self.norm(cls)
        return self.proj(cls) if self.proj is not None else cls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, 1+R+N, C]`` (same as :meth:`forward_features`)."""
        return self.forward_features(x)


# ---------------------------------------------------------------------- checkpoint conversion
_HF_DINO_BLOCK = {
    "norm1": "norm1",
    "norm2": "norm2",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "layer_scale1.lambda1": "ls1.gamma",
    "layer_scale2.lambda1": "ls2.gamma",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}


def concat_qkv(parts: dict[str, Any], where: str) -> torch.Tensor:
    """Separate q, k, v projections (``parts["q"|"k"|"v"]``) → one packed ``qkv`` tensor (rows q, k, v).

    Raises:
        BadWeightsError: one of them is missing from the checkpoint (``where`` names the layer and tensor).
    """
    missing = [n for n in ("q", "k", "v") if n not in parts]
    if missing:
        names = {"q": "query", "k": "key", "v": "value"}
        raise BadWeightsError(
            f"{where}: the {', '.join(names[n] for n in missing)} projection is missing (a truncated or "
            "edited checkpoint: every attention layer needs query, key and value tensors)"
        )
    return torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)


def _strip_prefixes(sd: dict[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    for p in prefixes:
        if sd and all(k.startswith(p) for k in sd):
            sd = {k[len(p) :]: v for k, v in sd.items()}
    return sd


def _from_hf_dinov2(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    qkv: dict[int, dict[str, dict[str, Any]]] = {}
    for k, v in sd.items():
        if k.startswith("dinov2."):
            k = k[len("dinov2.") :]
        if k == "embeddings.cls_token":
            out["cls_token"] = v
        elif k == "embeddings.mask_token":
            out["mask_token"] = v.reshape(1, -1)
        elif k == "embeddings.position_embeddings":
            out["pos_embed"] = v
        elif k == "embeddings.register_tokens":
            out["register_tokens"] = v
        elif k.startswith("embeddings.patch_embeddings.projection."):
            out["patch_embed." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("layernorm."):
            out["norm." + k.rsplit(".", 1)[1]] = v
        elif m := re.match(r"encoder\.layer\.(\d+)\.(.+)$", k):
            i, rest = int(m.group(1)), m.group(2)
            # hub checkpoints: attention.attention.{query,key,value}; transformers >= 5 modules: attention.{q,k,v}_proj
            if am := re.match(
                r"attention\.(?:attention\.)?(query|key|value|q_proj|k_proj|v_proj)\.(weight|bias)$", rest
            ):
                qkv.setdefault(i, {}).setdefault(am.group(2), {})[am.group(1)[0]] = v
                continue
            if rest.startswith("mlp.weights_in") or rest.startswith("mlp.weights_out"):
                raise ConfigError("SwiGLU DINOv2 (ViT-g) checkpoints are not supported by gazekit's ViT")
            for src, dst in _HF_DINO_BLOCK.items():
                if rest == src or rest.startswith(src + "."):
                    out[f"blocks.{i}.{dst}{rest[len(src) :]}"] = v
                    break
        # anything else (pooler, classifier heads) is dropped
    for i, parts in qkv.items():
        for kind, d in parts.items():
            out[f"blocks.{i}.attn.qkv.{kind}"] = concat_qkv(d, f"encoder layer {i} attention {kind}")
    return out


def _from_official_dinov2(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in sd.items():
        if k.startswith("patch_embed.proj."):
            out["patch_embed." + k[len("patch_embed.proj.") :]] = v
        elif k == "mask_token":
            out["mask_token"] = v.reshape(1, -1)
        elif re.match(r"blocks\.\d+\.\d+\.", k):  # chunked ("BlockChunk") layout: blocks.<chunk>.<i>.*
            parts = k.split(".")
            out[".".join(["blocks", parts[2], *parts[3:]])] = v
        elif k.startswith("head.") or k.startswith("dino_head") or k.startswith("ibot_head"):
            continue
        else:
            out[k] = v
    return out


def checkpoint_filter_fn(state_dict: dict[str, Any], model: VisionTransformer | None = None) -> dict[str, Any]:
    """Map a DINOv2 (official ``dinov2_vit*14*_pretrain.pth``) or transformers ``Dinov2Model`` state dict onto
    :class:`VisionTransformer`. The layout is detected from the keys; a gazekit state dict passes through.

    When ``model`` is given and its position-embedding grid differs from the checkpoint's, the checkpoint's
    embedding is kept and ``model.pos_embed_grid`` must match it (call with the right constructor argument).
    """
    sd = _strip_prefixes(dict(state_dict), ("module.", "backbone.", "teacher.backbone."))
    if any(k.startswith(("embeddings.", "encoder.layer.", "dinov2.")) for k in sd):
        out = _from_hf_dinov2(sd)
    else:
        out = _from_official_dinov2(sd)
    if model is not None and "pos_embed" in out:
        n = out["pos_embed"].shape[1] - 1
        g = math.isqrt(n)
        if g * g != n:
            raise ConfigError(f"checkpoint position embedding has {n} patch positions, not a square grid")
        if g != model.pos_embed_grid:
            raise ConfigError(f"checkpoint position grid is {g}×{g}; build the model with pos_embed_grid={g}")
    return out


# ---------------------------------------------------------------------- constructors
def _dinov2(embed_dim: int, depth: int, num_heads: int, **kw: Any) -> VisionTransformer:
    cfg: dict[str, Any] = {
        "img_size": 518,
        "patch_size": 14,
        "embed_dim": embed_dim,
        "depth": depth,
        "num_heads": num_heads,
        "mlp_ratio": 4.0,
        "layerscale_init": 1e-5,
        "pos_embed_grid": 37,
    }
    cfg.update(kw)
    return VisionTransformer(**cfg)


def _reg(kw: dict[str, Any]) -> dict[str, Any]:
    """DINOv2 "with registers" releases interpolate antialiased with offset 0 (and carry 4 registers)."""
    if kw.get("num_register_tokens"):
        kw.setdefault("interpolate_antialias", True)
        kw.setdefault("interpolate_offset", 0.0)
    return kw


def vit_small_patch14_dinov2(**kw: Any) -> VisionTransformer:
    """DINOv2 ViT-S/14 (384-d, 12 blocks, 6 heads; 21 M parameters)."""
    return _dinov2(384, 12, 6, **_reg(kw))


def vit_base_patch14_dinov2(**kw: Any) -> VisionTransformer:
    """DINOv2 ViT-B/14 (768-d, 12 blocks, 12 heads; 86 M parameters)."""
    return _dinov2(768, 12, 12, **_reg(kw))


def vit_large_patch14_dinov2(**kw: Any) -> VisionTransformer:
    """DINOv2 ViT-L/14 (1024-d, 24 blocks, 16 heads; 300 M parameters)."""
    return _dinov2(1024, 24, 16, **_reg(kw))


def vit_tiny_test(**kw: Any) -> VisionTransformer:
    """A tiny DINOv2-layout ViT for tests (32-d, 4 blocks, 2 heads, patch 14, 4×4 position grid)."""
    cfg: dict[str, Any] = {"img_size": 56, "embed_dim": 32, "depth": 4, "num_heads": 2, "pos_embed_grid": 4}
    cfg.update(kw)
    return _dinov2(**cfg)
