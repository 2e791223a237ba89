"""ViTGaze (Song et al., 2024): gaze following from the self-attention interactions of a plain ViT.

The head region chooses which attention rows matter: PatchPAM scores the patches inside the (10 %
enlarged) head box, a softmax over them gives weights ``w [B, N]``, and the post-softmax attention of
the configured layers is pooled over the head queries, ``Σ_q w_q · A[:, :, q]``, by
:func:`gazekit.kernels.attention_pool` (the ``[B, heads, N, N]`` maps are never stored). The pooled
maps ``[B, layers·heads, gh, gw]`` go through the UpSampleConv decoder to a heatmap at 8× the patch
grid; the w-pooled last-layer feature feeds the in/out MLP; an auxiliary 1×1 conv predicts the head
mask from the patch features (stage 1).

Batches (see :func:`gazekit.datasets.synthetic.gaze.gaze_sample_to_tensors`): ``images [B, 3, S, S]``
(ImageNet-normalised), ``head_boxes [B, 4]`` (x1, y1, x2, y2 in [0, 1]), ``heatmaps [B, 64, 64]``,
``inout [B]``, ``head_masks [B, 1, S, S]``, ``gaze_points [B, K, 2]`` ([0, 1], −1 padded), ``imsize [B, 2]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gazekit.backbones.loading import load_backbone
from gazekit.backbones.vit import VisionTransformer
from gazekit.errors import BadWeightsError, ConfigError, WeightsNotFoundError
from gazekit.metrics.following import evaluate_gaze_arrays
from gazekit.models.base import GazekitModule, GazePredictor, forward_on_head_boxes, minmax_heatmaps, warmup_cosine
from gazekit.types import GazeMap
from gazekit.weights import load_into, load_state_dict

__all__ = [
    "PatchPAM",
    "UpSampleConv",
    "ViTGaze",
    "block_scene_masks",
    "head_patch_mask",
    "materialised_pooled_attention",
    "sigmoid_focal_loss",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: checkpoint file name looked up in GAZEKIT_WEIGHTS_DIR and in gazekit/assets/vitgaze/


# --------------------------------------------------------------------------------------------- pieces
def head_patch_mask(
    head_boxes: torch.Tensor, size: tuple[int, int], patch_size: int, enlarge: float = 0.1, sequential: bool = False
) -> torch.Tensor:
    """``[B, gh, gw]`` bool: patches touched by the head box enlarged by ``enlarge`` per side.

    The box (normalised x1, y1, x2, y2) is scaled to the ``size = (H, W)`` input, enlarged, rasterised with
    int-truncated corners (at least 1 px) and max-pooled over ``patch_size`` cells, as ViTGaze does.
    ``sequential`` enlarges as hustvl/ViTGaze's data code does: the left/top corner first (clamped to the
    image), then the right/bottom one by ``enlarge`` × the already enlarged size (0.11·w for 0.1).
    """
    h, w = size
    b = head_boxes.float()
    bw, bh = (b[:, 2] - b[:, 0]).clamp_min(0), (b[:, 3] - b[:, 1]).clamp_min(0)
    x1n, y1n = b[:, 0] - enlarge * bw, b[:, 1] - enlarge * bh
    if sequential:
        x1n, y1n = x1n.clamp_min(0), y1n.clamp_min(0)
        bw, bh = (b[:, 2] - x1n).clamp_min(0), (b[:, 3] - y1n).clamp_min(0)
    x1 = (x1n * w).clamp(0, w - 1).floor()
    y1 = (y1n * h).clamp(0, h - 1).floor()
    x2 = torch.maximum(((b[:, 2] + enlarge * bw) * w).clamp(0, w).floor(), x1 + 1)
    y2 = torch.maximum(((b[:, 3] + enlarge * bh) * h).clamp(0, h).floor(), y1 + 1)
    xs = torch.arange(w, device=b.device, dtype=torch.float32)
    ys = torch.arange(h, device=b.device, dtype=torch.float32)
    mx = (xs[None] >= x1[:, None]) & (xs[None] < x2[:, None])  # [B, W]
    my = (ys[None] >= y1[:, None]) & (ys[None] < y2[:, None])  # [B, H]
    gh, gw = h // patch_size, w // patch_size
    px = mx[:, : gw * patch_size].reshape(-1, gw, patch_size).any(-1)  # max-pool along x
    py = my[:, : gh * patch_size].reshape(-1, gh, patch_size).any(-1)
    return py[:, :, None] & px[:, None, :]


class PatchPAM(nn.Module):
    """Head guidance: one score per patch (``p×p``/s``p`` conv 3→8 on the image, ReLU, 1×1 conv), softmax over
    the head patches; a second 1×1 conv on the same 8 channels predicts the head mask (the auxiliary branch,
    as in hustvl/ViTGaze ``PatchPAM(use_aux_loss=True)``, so the aux loss trains PatchPAM's conv).

    Returns ``w [B, N]`` (sums to 1 over the head patches, 0 elsewhere), the patch mask ``[B, N]`` and the
    head-mask logits ``[B, gh, gw]``.
    """

    def __init__(self, patch_size: int = 14, hidden: int = 8, enlarge: float = 0.1, sequential: bool = False) -> None:
        super().__init__()
        self.patch_size, self.enlarge, self.sequential = patch_size, enlarge, sequential
        self.embed = nn.Conv2d(3, hidden, patch_size, stride=patch_size)
        self.score = nn.Conv2d(hidden, 1, 1)
        self.aux = nn.Conv2d(hidden, 1, 1)

    def forward(
        self, images: torch.Tensor, head_boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = head_patch_mask(head_boxes, images.shape[-2:], self.patch_size, self.enlarge, self.sequential)
        mask = mask.flatten(1)
        e = F.relu(self.embed(images))
        s = self.score(e).flatten(1).float()  # [B, N]
        s = s.masked_fill(~mask, -1e9)
        return s.softmax(-1), mask, self.aux(e)[:, 0]


class UpSampleConv(nn.Module):
    """``n`` × [bilinear ×2 → 3×3 conv → BN → ReLU] then a 1×1 conv: ``[B, C, h, w]`` → ``[B, 1, 2ⁿh, 2ⁿw]``."""

    def __init__(self, channels: Sequence[int] = (24, 16, 8, 1)) -> None:
        super().__init__()
        ch = list(channels)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(inplace=True))
            for a, b in zip(ch[:-1], ch[1:], strict=True)
        )
        self.out = nn.Conv2d(ch[-1], 1, 1)
        if ch[-1] == 1:
            # the last stage is ReLU'd to one channel: a negative random scale here would turn every peak into a
            # flat plateau (max = bias) that training from scratch rarely leaves, so start with the identity
            nn.init.ones_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for st in self.stages:
            x = st(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))
        return self.out(x)


def materialised_pooled_attention(
    backbone: VisionTransformer,
    images: torch.Tensor,
    layers: Sequence[int],
    w: torch.Tensor,
    masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Same as ``backbone.forward_pooled_attention`` but forms the full ``[B, heads, T, T]`` attention maps
    (the reference path the kernel replaces; used by tests and the benchmark)."""
    gh, gw = backbone.grid_size(images.shape[-2], images.shape[-1])
    tokens, qks = backbone.forward_with_attention(images, layers, masks)
    p = backbone.num_prefix_tokens
    maps = []
    for q, k in qks:
        a = torch.softmax((q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5, dim=-1)  # [B, h, T, T]
        maps.append(torch.einsum("bn,bhnm->bhm", w.to(a.dtype), a[:, :, p:, p:]))
    return tokens, torch.cat(maps, 1).reshape(images.shape[0], -1, gh, gw)


def block_scene_masks(
    head: torch.Tensor, prob: float, max_ratio: float, min_patches: int = 16, min_aspect: float = 0.3
) -> torch.Tensor:
    """``[B, gh, gw]`` bool patch masks as hustvl/ViTGaze's ``SceneMaskGenerator``: with probability ``prob`` per
    sample, a target count U(min_patches, max_ratio·N) is covered by random rectangles (area U(min_patches,
    remaining), log-uniform aspect in [min_aspect, 1/min_aspect], 4 tries each, stop when one adds nothing);
    ``head [B, gh, gw]`` patches are never masked."""
    b, gh, gw = head.shape
    out = torch.zeros(b, gh, gw, dtype=torch.bool)
    lo, hi = math.log(min_aspect), -math.log(min_aspect)
    for i in range(b):
        if torch.rand(()) >= prob:
            continue
        m = torch.zeros(gh, gw, dtype=torch.bool)
        goal = float(torch.empty(()).uniform_(min_patches, max(max_ratio * gh * gw, min_patches)))
        count = 0.0
        while count < goal:
            budget, delta = goal - count, 0
            for _ in range(4):
                area = float(torch.empty(()).uniform_(min_patches, max(budget, min_patches)))
                asp = math.exp(float(torch.empty(()).uniform_(lo, hi)))
                h, w = int(round(math.sqrt(area * asp))), int(round(math.sqrt(area / asp)))
                if w < gw and h < gh:
                    top, left = int(torch.randint(0, gh - h + 1, ())), int(torch.randint(0, gw - w + 1, ()))
                    new = h * w - int(m[top : top + h, left : left + w].sum())
                    if 0 < new <= budget:
                        m[top : top + h, left : left + w] = True
                        delta = new
                        break
            if delta == 0:
                break
            count += delta
        out[i] = m
    return out.to(head.device) & ~head


def sigmoid_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = -1.0, gamma: float = 2.0
) -> torch.Tensor:
    """Mean sigmoid focal loss (RetinaNet); ``alpha < 0`` disables the class weighting (ViTGaze's setting)."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.mean()


# hustvl/ViTGaze's module names (GazeAttentionMapper: backbone, pam, regressor, classifier) → gazekit's
_RELEASE_MARKERS = ("regressor.decoder.", "classifier.classifier.", "pam.patch_embed.patch_embed.")
_RELEASE_RENAMES = (
    ("backbone.patch_embed.proj.", "backbone.patch_embed."),
    ("pam.patch_embed.patch_embed.", "pam.embed."),  # before the next rule: the release's pam.embed is the scorer
    ("pam.embed.", "pam.score."),
    ("pam.aux_embed.", "pam.aux."),
    ("regressor.decoder.conv.", "decoder.out."),
    ("classifier.classifier.linear0.", "inout_head.0."),
    ("classifier.classifier.linear1.", "inout_head.2."),
)


def _release_key(k: str) -> str:
    """One released key → gazekit's (``regressor.decoder.conv{i}``/``bn{i}`` are stage ``i − 1``'s conv/BN)."""
    if m := re.match(r"regressor\.decoder\.(conv|bn)(\d+)\.(.+)$", k):
        return f"decoder.stages.{int(m.group(2)) - 1}.{0 if m.group(1) == 'conv' else 1}.{m.group(3)}"
    for src, dst in _RELEASE_RENAMES:
        if k.startswith(src):
            return dst + k[len(src) :]
    return k


# --------------------------------------------------------------------------------------------- model
class ViTGaze(GazekitModule, GazePredictor):
    """ViTGaze on a DINOv2-layout ViT.

    Args:
        embed_dim, depth, num_heads, patch_size, pos_embed_grid, layerscale_init: the backbone
            (defaults: DINOv2 ViT-S/14, 37×37 position grid from 518 px).
        pretrained: backbone weights name in :data:`gazekit.backbones.loading.BACKBONE_WEIGHTS`
            (``"dinov2_vits14"``) or None to train from scratch.
        pretrained_weights: explicit backbone weight file (else GAZEKIT_WEIGHTS_DIR → HF cache → error).
        attn_layers: 0-based blocks whose attention is pooled (default 2, 5, 8, 11).
        input_size: model input side in px (434 stage 1, 518 stages 2–3).
        decoder_channels: UpSampleConv stage outputs after the ``len(attn_layers)·num_heads`` input maps
            (one ×2 stage each; default 16, 8, 1 → 8× the patch grid).
        pam_hidden: PatchPAM conv channels.
        head_enlarge: head-box enlargement per side.
        heatmap_size: loss/evaluation heatmap side (64).
        heatmap_weight, inout_weight, aux_weight: loss weights (10,000; 100; 100 in stage 1, 0 later).
        aux_margin: the auxiliary BCE is ``max(BCE − margin, 0)``.
        focal_alpha, focal_gamma: in/out focal loss.
        lr, weight_decay, betas, layer_decay: AdamW with layer-wise LR decay (detectron2 rules as in the
            release: no weight decay on normalisation layers and the position embedding only).
        freeze_patch_embed: LR factor 0 for the backbone's patch embedding. The release does this (its
            ``LRDecayRater`` tests ``freeze_pe and ".pos_embed" in name or ".patch_embed" in name``, which
            Python reads as ``(freeze_pe and ...) or ".patch_embed" in name``), so the DINOv2 patch embedding
            stays fixed; set False when training from scratch.
        lr_schedule: ``"cosine"`` (1→``min_lr_ratio``, linear warm-up ``warmup_fraction``) or ``"constant"``.
        mask_prob, mask_max_ratio: training augmentation: with probability ``mask_prob`` replace up to
            ``mask_max_ratio`` of the non-head patches by the mask token.
        mask_mode: ``"scatter"`` (independent patches, gazekit's first form) or ``"block"`` (the release's
            ``SceneMaskGenerator``: rectangles of aspect 0.3–3.3 until U(16, ratio·N) patches, head patches kept;
            :func:`block_scene_masks`).
        use_kernel: pool with the attention-pool kernel (False: materialise the maps; same result).
        eval_protocol: validation/test scoring: ``"gazefollow"`` (AUC on the image-size map, every annotator) or
            ``"vat"`` (ViTGaze's VAT AUC: the map at 64 × 64 against a disc of radius ≈ 9.5 cells; the stage-3
            recipe sets it), see :func:`gazekit.metrics.following.evaluate_gaze_arrays`.
        l2_decode: ``"argmax"`` of the 64 × 64 map (the peers; default) or ``"dark"`` sub-pixel refinement of the
            raw decoder map (the release's ``--use_dark_inference``).
        init_weights: start from this ViTGaze checkpoint's weights (stages 2 and 3 start from the previous
            stage; safetensors or a Lightning ``.ckpt``, loaded weights-only).
        interpolate_offset: DINOv2's position-embedding interpolation offset (0.1); the release resizes to the
            grid with no offset (0.0), set by :meth:`paper_init_args` for its checkpoints.
        cls_pos_embed: add a position embedding to the CLS token (DINOv2); the release adds none (False).
        head_enlarge_sequential: widen the head box as the release's data code does (right/bottom by
            0.11·w for ``head_enlarge`` 0.1; see :func:`head_patch_mask`) instead of 0.1·w on every side.
    """

    external_weight_args = ("pretrained", "pretrained_weights", "init_weights")

    def __init__(
        self,
        embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        patch_size: int = 14,
        pos_embed_grid: int = 37,
        layerscale_init: float | None = 1e-5,
        pretrained: str | None = None,
        pretrained_weights: str | None = None,
        attn_layers: list[int] | None = None,
        input_size: int = 434,
        decoder_channels: list[int] | None = None,
        pam_hidden: int = 8,
        head_enlarge: float = 0.1,
        heatmap_size: int = 64,
        heatmap_weight: float = 10000.0,
        inout_weight: float = 100.0,
        aux_weight: float = 100.0,
        aux_margin: float = 0.05,
        focal_alpha: float = -1.0,
        focal_gamma: float = 2.0,
        lr: float = 1e-4,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.99),
        layer_decay: float = 0.65,
        freeze_patch_embed: bool = True,
        lr_schedule: str = "cosine",
        min_lr_ratio: float = 0.1,
        warmup_fraction: float = 0.01,
        mask_prob: float = 0.5,
        mask_max_ratio: float = 0.5,
        use_kernel: bool = True,
        init_weights: str | None = None,
        eval_protocol: str = "gazefollow",
        l2_decode: str = "argmax",
        mask_mode: str = "scatter",
        interpolate_offset: float = 0.1,
        cls_pos_embed: bool = True,
        head_enlarge_sequential: bool = False,
    ) -> None:
        super().__init__()
        attn_layers = [2, 5, 8, 11] if attn_layers is None else list(attn_layers)
        decoder_channels = [16, 8, 1] if decoder_channels is None else list(decoder_channels)
        if eval_protocol not in ("gazefollow", "vat"):
            raise ConfigError(f"eval_protocol must be 'gazefollow' or 'vat', got {eval_protocol!r}")
        if mask_mode not in ("scatter", "block"):
            raise ConfigError(f"mask_mode must be 'scatter' or 'block', got {mask_mode!r}")
        if l2_decode not in ("argmax", "dark"):
            raise ConfigError(f"l2_decode must be 'argmax' or 'dark', got {l2_decode!r}")
        if lr_schedule not in ("cosine", "constant"):
            raise ConfigError(f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
        if embed_dim % num_heads:
            raise ConfigError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if any(not -depth <= i < depth for i in attn_layers) or not attn_layers:
            raise ConfigError(f"attn_layers {attn_layers} must be non-empty and within depth {depth}")
        self.save_hyperparameters()
        vit_kw: dict[str, Any] = {
            "img_size": input_size,
            "patch_size": patch_size,
            "embed_dim": embed_dim,
            "depth": depth,
            "num_heads": num_heads,
            "pos_embed_grid": pos_embed_grid,
            "layerscale_init": layerscale_init,
            "final_norm": False,  # ViTGaze: norm_features=False
            "interpolate_offset": interpolate_offset,
            "cls_pos_embed": cls_pos_embed,
        }
        if pretrained:
            self.backbone = load_backbone(pretrained, pretrained_weights, **vit_kw)
        else:
            self.backbone = VisionTransformer(**vit_kw)
        # the final LayerNorm is never applied (norm_features=False), only kept for the published key layout;
        # frozen, so that DDP finds no trained parameter without a gradient (it would stop at the first step)
        self.backbone.norm.requires_grad_(False)
        self.attn_layers = [i + depth if i < 0 else i for i in attn_layers]
        self.pam = PatchPAM(patch_size, pam_hidden, head_enlarge, head_enlarge_sequential)
        n_maps = len(attn_layers) * num_heads
        self.decoder = UpSampleConv([n_maps, *decoder_channels])
        self.inout_head = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(inplace=True), nn.Linear(embed_dim, 1))
        self.eval_records: list[dict[str, np.ndarray]] = []
        if init_weights:
            self._load_weights(init_weights)

    def _load_weights(self, path: str | Path) -> None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"ViTGaze init_weights {p} does not exist (train the previous stage first)")
        load_into(self, self.convert_state_dict(load_state_dict(p)), p, what="this ViTGaze")

    # ------------------------------------------------------------------ the release's checkpoints
    @classmethod
    def paper_init_args(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, Any] | None:
        """Constructor arguments that run a hustvl/ViTGaze checkpoint (``{"model": state_dict}``) as released, or
        None for any other layout. Sizes come from the tensors; the conventions are the release's: no position
        embedding on CLS, size-rule interpolation (no +0.1 offset), the sequential 0.1/0.11 head-box widening,
        input = the position grid × patch (518 px for the released S/14), attention of blocks 2, 5, 8, 11 (the
        release's ``out_attn``) with the head count read from the decoder's input channels.
        """
        if not any(k.startswith(_RELEASE_MARKERS) for k in state_dict):
            return None
        try:
            pe, conv = state_dict["backbone.pos_embed"], state_dict["backbone.patch_embed.proj.weight"]
            first = state_dict["regressor.decoder.conv1.weight"]
            hidden = state_dict["pam.patch_embed.patch_embed.weight"].shape[0]
        except KeyError as e:
            raise BadWeightsError(f"hustvl/ViTGaze checkpoint without {e.args[0]}: not a complete release") from None
        depth = 1 + max(int(k.split(".")[2]) for k in state_dict if k.startswith("backbone.blocks."))
        grid = math.isqrt(pe.shape[1] - 1)
        layers = [2, 5, 8, 11] if depth == 12 else list(range(depth))
        n_maps = first.shape[1]
        if n_maps % len(layers):
            raise BadWeightsError(
                f"hustvl/ViTGaze checkpoint: decoder input has {n_maps} maps, not a multiple of {len(layers)} "
                "attention layers (pass attn_layers and num_heads)"
            )
        dec, i = [], 1
        while f"regressor.decoder.conv{i}.weight" in state_dict:
            dec.append(int(state_dict[f"regressor.decoder.conv{i}.weight"].shape[0]))
            i += 1
        return {
            "embed_dim": int(pe.shape[-1]),
            "depth": depth,
            "num_heads": n_maps // len(layers),
            "patch_size": int(conv.shape[-1]),
            "pos_embed_grid": grid,
            "layerscale_init": 1.0 if "backbone.blocks.0.ls1.gamma" in state_dict else None,
            "attn_layers": layers,
            "input_size": grid * int(conv.shape[-1]),
            "decoder_channels": dec,
            "pam_hidden": int(hidden),
            "head_enlarge": 0.1,
            "head_enlarge_sequential": True,
            "interpolate_offset": 0.0,
            "cls_pos_embed": False,
        }

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """hustvl/ViTGaze's key layout → gazekit's, by renames alone (any other layout passes through).

        The release has no final LayerNorm (``norm_features=False``); gazekit's backbone keeps one that ViTGaze
        never applies, so it is filled with the identity. Keys the renames do not know are kept, and loading
        then reports them as unexpected: every released tensor is either used or named.
        """
        if not any(k.startswith(_RELEASE_MARKERS) for k in state_dict):
            return state_dict
        out: dict[str, torch.Tensor] = {}
        for k, v in state_dict.items():
            out[_release_key(k)] = v
        c = state_dict["backbone.pos_embed"].shape[-1] if "backbone.pos_embed" in state_dict else None
        if c is not None:
            out.setdefault("backbone.norm.weight", torch.ones(c))
            out.setdefault("backbone.norm.bias", torch.zeros(c))
        return out

    # ------------------------------------------------------------------ forward
    def forward(
        self, images: torch.Tensor, head_boxes: torch.Tensor, patch_masks: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``images [B, 3, S, S]``, ``head_boxes [B, 4]`` (normalised) → ``heatmap [B, 8gh, 8gw]`` (raw),
        ``inout [B]`` (logit), ``head_mask [B, gh, gw]`` (logit, from PatchPAM), ``weights [B, N]``,
        ``maps [B, L·heads, gh, gw]``."""
        bb = self.backbone
        gh, gw = bb.grid_size(images.shape[-2], images.shape[-1])
        w, _, aux = self.pam(images, head_boxes)
        if self.hparams.use_kernel:
            tokens, maps = bb.forward_pooled_attention(images, self.attn_layers, w, patch_masks)
        else:
            tokens, maps = materialised_pooled_attention(bb, images, self.attn_layers, w, patch_masks)
        feat = tokens[:, bb.num_prefix_tokens :]  # [B, N, C]
        pooled = torch.einsum("bn,bnc->bc", w.to(feat.dtype), feat)
        return {
            "heatmap": self.decoder(maps).squeeze(1),
            "inout": self.inout_head(pooled).squeeze(-1),
            "head_mask": aux,
            "weights": w,
            "maps": maps,
        }

    # ------------------------------------------------------------------ training
    def _patch_masks(self, images: torch.Tensor, head_boxes: torch.Tensor) -> torch.Tensor | None:
        hp = self.hparams
        if not self.training or hp.mask_prob <= 0 or hp.mask_max_ratio <= 0:
            return None
        b = images.shape[0]
        if hp.mask_mode == "block":
            head = head_patch_mask(head_boxes, images.shape[-2:], hp.patch_size, hp.head_enlarge)
            return block_scene_masks(head, hp.mask_prob, hp.mask_max_ratio).flatten(1)
        head = head_patch_mask(head_boxes, images.shape[-2:], hp.patch_size, hp.head_enlarge).flatten(1)
        apply = torch.rand(b, 1, device=images.device) < hp.mask_prob
        ratio = torch.rand(b, 1, device=images.device) * hp.mask_max_ratio
        return (torch.rand(head.shape, device=images.device) < ratio) & apply & ~head

    def losses(self, batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hp = self.hparams
        s = hp.heatmap_size
        pred = F.interpolate(out["heatmap"][:, None], size=(s, s), mode="bilinear", align_corners=True)[:, 0]
        inside = batch["inout"].float()
        per = ((pred - batch["heatmaps"].float()) ** 2).mean((1, 2))
        heat = (per * inside).sum() / inside.sum().clamp_min(1.0)
        inout = sigmoid_focal_loss(out["inout"], inside, hp.focal_alpha, hp.focal_gamma)
        losses = {"heatmap": heat * hp.heatmap_weight, "inout": inout * hp.inout_weight}
        if hp.aux_weight > 0:
            # as released: the patch-level logits are upsampled (bilinear, align_corners) to the head map's size
            tgt = batch["head_masks"].float()
            pm = F.interpolate(out["head_mask"][:, None], size=tgt.shape[-2:], mode="bilinear", align_corners=True)
            bce = F.binary_cross_entropy_with_logits(pm, tgt.clamp(0, 1))
            losses["aux"] = (bce - hp.aux_margin).clamp_min(0) * hp.aux_weight
        losses["loss"] = sum(losses.values())
        return losses

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        masks = self._patch_masks(batch["images"], batch["head_boxes"])
        out = self(batch["images"], batch["head_boxes"], masks)
        losses = self.losses(batch, out)
        bs = batch["images"].shape[0]
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False, batch_size=bs)
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self(batch["images"], batch["head_boxes"])
        losses = self.losses(batch, out)
        self.log("val/loss", losses["loss"], batch_size=batch["images"].shape[0], prog_bar=True, sync_dist=True)
        self.eval_records.append(self._eval_arrays(batch, out))

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    @torch.no_grad()
    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        """Per person (``gazekit predict``): head box and gaze point in image px, in-frame probability."""
        arr = self._eval_arrays(batch, self(batch["images"], batch["head_boxes"]))
        s = self.hparams.heatmap_size
        boxes = batch["head_boxes"].detach().float().cpu().numpy()
        res = []
        for heat, score, (w, h), box in zip(arr["heat"], arr["score"], arr["imsize"], boxes, strict=True):
            r, c = np.unravel_index(int(np.argmax(heat)), heat.shape)
            res.append(
                {
                    "head_box": [float(v) for v in box * np.array([w, h, w, h])],
                    "gaze_point": [float((c + 0.5) / s * w), float((r + 0.5) / s * h)],
                    "inout": float(score),
                    "image_size": [float(w), float(h)],
                }
            )
        return res

    def _eval_arrays(self, batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        s = self.hparams.heatmap_size
        heat = out["heatmap"][:, None].float()
        if self.hparams.l2_decode != "dark":  # DARK refines on the raw decoder map, as released
            heat = F.interpolate(heat, size=(s, s), mode="bilinear", align_corners=True)
        return {
            "heat": heat[:, 0].detach().cpu().numpy(),
            "points": batch["gaze_points"].detach().cpu().numpy(),
            "inout": batch["inout"].detach().cpu().numpy(),
            "score": torch.sigmoid(out["inout"]).detach().float().cpu().numpy(),
            "imsize": batch["imsize"].detach().cpu().numpy(),
        }

    def epoch_metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        return evaluate_arrays(arrays, self.hparams.eval_protocol, self.hparams.l2_decode)

    def lr_scale(self, name: str) -> float:
        """LR factor of parameter ``name``, as hustvl/ViTGaze's ``LRDecayRater`` (decay 0.65, 12 layers):
        backbone position and patch embeddings are layer 0 (the patch embedding gets 0 with
        ``freeze_patch_embed``), block ``i`` is layer ``i + 1``, every other parameter (CLS/register/mask tokens,
        PatchPAM, decoder, heads) is layer ``depth + 1``; the factor is ``decay ** (depth + 1 − layer)``."""
        hp = self.hparams
        depth = self.backbone.depth
        layer = depth + 1
        if name.startswith("backbone."):
            sub = name[len("backbone.") :]
            if sub.startswith("patch_embed."):
                if hp.freeze_patch_embed:
                    return 0.0
                layer = 0
            elif sub.startswith("pos_embed"):
                layer = 0
            elif sub.startswith("blocks."):
                layer = int(sub.split(".")[1]) + 1
        return float(hp.layer_decay ** (depth + 1 - layer))

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        # detectron2's get_default_optimizer_params(weight_decay_norm=0) + the release's pos_embed override:
        # normalisation-layer parameters and the position embedding are not decayed, everything else is
        norm_types = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.modules.batchnorm._BatchNorm)
        no_decay_names = {
            f"{mn}.{pn}" if mn else pn
            for mn, mod in self.named_modules()
            if isinstance(mod, norm_types)
            for pn, _ in mod.named_parameters(recurse=False)
        }
        tables: dict[tuple[float, float], list[nn.Parameter]] = {}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            wd = 0.0 if name in no_decay_names or name.endswith("pos_embed") else float(hp.weight_decay)
            tables.setdefault((self.lr_scale(name), wd), []).append(p)
        param_groups = [
            {"params": params, "lr": hp.lr * scale, "weight_decay": wd, "lr_scale": scale}
            for (scale, wd), params in sorted(tables.items(), key=lambda kv: kv[0])
        ]
        opt = torch.optim.AdamW(param_groups, lr=hp.lr, betas=tuple(hp.betas))
        if hp.lr_schedule == "constant":
            return opt
        total = int(getattr(self.trainer, "estimated_stepping_batches", 1) or 1) if self._trainer else 1
        sched = warmup_cosine(opt, total, hp.warmup_fraction, hp.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_gazes(self, image: np.ndarray, head_boxes: Sequence[Sequence[float]] | None = None) -> list[GazeMap]:
        """One :class:`GazeMap` per head box (px); ``None`` detects heads with :func:`gazekit.heads.detect_heads`."""
        boxes, out = forward_on_head_boxes(self, image, head_boxes, int(self.hparams.input_size))
        if out is None:
            return []
        h, w = np.asarray(image).shape[:2]
        s = self.hparams.heatmap_size
        heat = F.interpolate(out["heatmap"][:, None].float(), size=(s, s), mode="bilinear", align_corners=True)[:, 0]
        # min-max scaling keeps the ranking (AUC) and the argmax of the raw regression output
        heat = minmax_heatmaps(heat)
        inout = torch.sigmoid(out["inout"]).float().cpu().numpy()
        maps = []
        for i, b in enumerate(boxes):
            r, c = np.unravel_index(int(np.argmax(heat[i])), heat[i].shape)
            point = ((c + 0.5) / s * w, (r + 0.5) / s * h)
            maps.append(
                GazeMap(heatmap=heat[i], point=point, inout=float(inout[i]), head_box=b, meta={"model": "vitgaze"})
            )
        return maps

    def predict_gaze(self, image: np.ndarray, head_box: tuple[float, float, float, float]) -> GazeMap:
        """Where the person in ``head_box`` (x1, y1, x2, y2 px) of ``image`` ``[H, W, 3]`` looks."""
        return self.predict_gazes(image, [head_box])[0]


# --------------------------------------------------------------------------------------------- evaluation
def evaluate_arrays(
    arr: dict[str, np.ndarray], protocol: str = "gazefollow", decode: str = "argmax"
) -> dict[str, float]:
    """GazeFollow- or VAT-protocol metrics over stacked predictions (:func:`gazekit.metrics.following.evaluate_gaze_arrays`)."""
    return evaluate_gaze_arrays(arr, protocol=protocol, decode=decode)
