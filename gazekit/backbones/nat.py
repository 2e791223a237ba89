"""NAT / DiNAT hierarchical backbones (Hassani et al. 2022) on gazekit's neighbourhood-attention kernel.

Module and parameter names follow the published classification code (SHI-Labs/Neighborhood-Attention-Transformer
``classification/nat.py``, ``dinat.py``), so its checkpoints load with :func:`checkpoint_filter_fn`:
``patch_embed.proj.{0,1}``, ``patch_embed.norm``, ``levels.L.blocks.B.{norm1, attn.qkv, attn.rpb, attn.proj, norm2,
mlp.fc1, mlp.fc2, gamma1, gamma2}``, ``levels.L.downsample.{reduction, norm}``, ``norm``, ``head``.

Feature maps are channels-last ``[B, H, W, C]`` inside the network, as in the original. A map smaller than
``kernel·dilation`` is zero-padded at the bottom/right before the qkv projection and cropped after (NATTEN's
module rule), so any input size ≥ 32 px works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gazekit.errors import ConfigError
from gazekit.kernels.neighborhood import neighborhood_attention_2d

__all__ = [
    "NAT",
    "NATLayer",
    "NeighborhoodAttention2D",
    "checkpoint_filter_fn",
    "dinat_base",
    "dinat_mini",
    "dinat_small",
    "dinat_tiny",
    "nat_base",
    "nat_mini",
    "nat_small",
    "nat_tiny",
    "nat_tiny_test",
]


class NeighborhoodAttention2D(nn.Module):
    """Multi-head 2-D neighbourhood attention with relative positional bias.

    Args:
        dim: channels C.
        num_heads: heads.
        kernel_size: odd window side.
        dilation: window dilation.
        qkv_bias: bias on the qkv projection.
        rpb: learn a ``[heads, 2k − 1, 2k − 1]`` relative positional bias.
    """

    def __init__(
        self, dim: int, num_heads: int, kernel_size: int = 7, dilation: int = 1, qkv_bias: bool = True, rpb: bool = True
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd, got {kernel_size}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.rpb = nn.Parameter(torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1)) if rpb else None
        if self.rpb is not None:
            nn.init.trunc_normal_(self.rpb, std=0.02)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, C]`` → ``[B, H, W, C]``."""
        b, h, w, c = x.shape
        window = self.kernel_size * self.dilation
        pad_b, pad_r = max(0, window - h), max(0, window - w)
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = x.shape[1], x.shape[2]
        q, k, v = self.qkv(x).reshape(b, hp, wp, 3, self.num_heads, self.head_dim).unbind(3)
        o = neighborhood_attention_2d(q, k, v, self.kernel_size, self.dilation, rpb=self.rpb, scale=self.scale)
        o = o.reshape(b, hp, wp, c)[:, :h, :w]
        return self.proj(o)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class NATLayer(nn.Module):
    """Pre-norm NA block with optional layer scale (``gamma1``/``gamma2``)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kernel_size: int = 7,
        dilation: int = 1,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        layer_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2D(dim, num_heads, kernel_size, dilation, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale = layer_scale is not None
        if self.layer_scale:
            self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale)))  # type: ignore[arg-type]
            self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale)))  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(self.norm1(x))
        x = x + (self.gamma1 * a if self.layer_scale else a)
        m = self.mlp(self.norm2(x))
        return x + (self.gamma2 * m if self.layer_scale else m)


class ConvTokenizer(nn.Module):
    """Two stride-2 3×3 convolutions (C/2 then C) and a LayerNorm: ``[B, 3, H, W]`` → ``[B, H/4, W/4, C]``."""

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, dim // 2, 3, stride=2, padding=1), nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class ConvDownsampler(nn.Module):
    """3×3 stride-2 convolution doubling the channels, then LayerNorm (channels-last in and out)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, 3, stride=2, padding=1, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class NATLevel(nn.Module):
    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        kernel_size: int,
        dilations: Sequence[int] | None,
        downsample: bool,
        mlp_ratio: float,
        layer_scale: float | None,
    ) -> None:
        super().__init__()
        dil = list(dilations) if dilations is not None else [1] * depth
        if len(dil) != depth:
            raise ConfigError(f"{len(dil)} dilations for a level of depth {depth}")
        self.blocks = nn.ModuleList(
            NATLayer(dim, num_heads, kernel_size, dil[i], mlp_ratio, layer_scale=layer_scale) for i in range(depth)
        )
        self.downsample = ConvDownsampler(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(level output before downsampling, input of the next level)``."""
        for blk in self.blocks:
            x = blk(x)
        return x, (self.downsample(x) if self.downsample is not None else x)


class NAT(nn.Module):
    """NAT (``dilations=None``) or DiNAT (per-block dilations) backbone.

    Args:
        embed_dim: channels of level 0 (doubled at each level).
        depths: blocks per level.
        num_heads: heads per level.
        kernel_size: NA window side.
        mlp_ratio: MLP hidden / channels.
        dilations: per-level lists of per-block dilations (DiNAT); None = all 1 (NAT).
        layer_scale: LayerScale init (NAT-S/B use 1e-5); None = none.
        num_classes: classifier outputs; 0 = no head.
        in_chans: input channels.
    """

    def __init__(
        self,
        embed_dim: int = 64,
        depths: Sequence[int] = (3, 4, 6, 5),
        num_heads: Sequence[int] = (2, 4, 8, 16),
        kernel_size: int = 7,
        mlp_ratio: float = 3.0,
        dilations: Sequence[Sequence[int]] | None = None,
        layer_scale: float | None = None,
        num_classes: int = 0,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ConfigError(f"depths {depths} and num_heads {num_heads} differ in length")
        self.num_levels = len(depths)
        self.dims = [embed_dim * 2**i for i in range(self.num_levels)]
        self.num_features = self.dims[-1]
        self.patch_embed = ConvTokenizer(in_chans, embed_dim)
        self.levels = nn.ModuleList(
            NATLevel(
                self.dims[i],
                depths[i],
                num_heads[i],
                kernel_size,
                dilations[i] if dilations is not None else None,
                downsample=i < self.num_levels - 1,
                mlp_ratio=mlp_ratio,
                layer_scale=layer_scale,
            )
            for i in range(self.num_levels)
        )
        self.norm = nn.LayerNorm(self.num_features)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else None
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per-level feature maps ``[B, C_l, H/2^(l+2), W/2^(l+2)]`` (channels-first; before downsampling)."""
        t = self.patch_embed(x)
        outs = []
        for level in self.levels:
            y, t = level(t)
            outs.append(y.permute(0, 3, 1, 2).contiguous())
        return outs

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → normalised last map ``[B, H/32, W/32, C]`` (channels-last)."""
        t = self.patch_embed(x)
        for level in self.levels:
            _, t = level(t)
        return self.norm(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → pooled features ``[B, C]`` (or logits ``[B, num_classes]`` with a head)."""
        f = self.forward_features(x).mean(dim=(1, 2))
        return self.head(f) if self.head is not None else f


def checkpoint_filter_fn(state_dict: dict[str, Any], model: NAT | None = None) -> dict[str, Any]:
    """Map a published NAT/DiNAT classification checkpoint onto :class:`NAT` (same names; unwraps
    ``model``/``state_dict_ema`` holders, strips ``module.``/``backbone.``, drops the head when the model has none)."""
    sd = dict(state_dict)
    for holder in ("state_dict_ema", "model", "state_dict"):
        if holder in sd and isinstance(sd[holder], dict):
            sd = dict(sd[holder])
            break
    for p in ("module.", "backbone."):
        if sd and all(k.startswith(p) for k in sd):
            sd = {k[len(p) :]: v for k, v in sd.items()}
    if model is not None and model.head is None:
        sd = {k: v for k, v in sd.items() if not k.startswith("head.")}
    return sd


# ---------------------------------------------------------------------- constructors (classification/*.py configs)
_DINAT_DIL_MINI = [[1, 8, 1], [1, 4, 1, 4], [1, 2] * 3, [1] * 5]
_DINAT_DIL = [[1, 8, 1], [1, 4, 1, 4], [1, 2] * 9, [1] * 5]


def nat_mini(**kw: Any) -> NAT:
    """NAT-Mini: 64-d, depths 3/4/6/5, heads 2/4/8/16, MLP ×3 (20 M; 81.8 % IN-1k)."""
    return NAT(64, (3, 4, 6, 5), (2, 4, 8, 16), 7, 3.0, **kw)


def nat_tiny(**kw: Any) -> NAT:
    """NAT-Tiny: 64-d, depths 3/4/18/5, heads 2/4/8/16, MLP ×3 (28 M; 83.2 %)."""
    return NAT(64, (3, 4, 18, 5), (2, 4, 8, 16), 7, 3.0, **kw)


def nat_small(**kw: Any) -> NAT:
    """NAT-Small: 96-d, depths 3/4/18/5, heads 3/6/12/24, MLP ×2, LayerScale 1e-5 (51 M; 83.7 %)."""
    return NAT(96, (3, 4, 18, 5), (3, 6, 12, 24), 7, 2.0, layer_scale=1e-5, **kw)


def nat_base(**kw: Any) -> NAT:
    """NAT-Base: 128-d, depths 3/4/18/5, heads 4/8/16/32, MLP ×2, LayerScale 1e-5 (90 M; 84.3 %)."""
    return NAT(128, (3, 4, 18, 5), (4, 8, 16, 32), 7, 2.0, layer_scale=1e-5, **kw)


def dinat_mini(**kw: Any) -> NAT:
    """DiNAT-Mini: NAT-Mini with dilations [1,8,1] / [1,4,1,4] / [1,2,…] / [1,…]."""
    return NAT(64, (3, 4, 6, 5), (2, 4, 8, 16), 7, 3.0, dilations=_DINAT_DIL_MINI, **kw)


def dinat_tiny(**kw: Any) -> NAT:
    """DiNAT-Tiny."""
    return NAT(64, (3, 4, 18, 5), (2, 4, 8, 16), 7, 3.0, dilations=_DINAT_DIL, **kw)


def dinat_small(**kw: Any) -> NAT:
    """DiNAT-Small (no LayerScale in the DiNAT release)."""
    return NAT(96, (3, 4, 18, 5), (3, 6, 12, 24), 7, 2.0, dilations=_DINAT_DIL, **kw)


def dinat_base(**kw: Any) -> NAT:
    """DiNAT-Base (no LayerScale in the DiNAT release)."""
    return NAT(128, (3, 4, 18, 5), (4, 8, 16, 32), 7, 2.0, dilations=_DINAT_DIL, **kw)


def nat_tiny_test(**kw: Any) -> NAT:
    """Tiny 2-level NAT for tests: 16-d, depths 2/1, heads 2/2, kernel 3, dilations [1, 2] / [1]."""
    cfg: dict[str, Any] = {
        "embed_dim": 16,
        "depths": (2, 1),
        "num_heads": (2, 2),
        "kernel_size": 3,
        "mlp_ratio": 2.0,
        "dilations": [[1, 2], [1]],
        "layer_scale": 0.5,
    }
    cfg.update(kw)
    return NAT(**cfg)
