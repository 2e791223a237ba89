"""GazeSeg / PixelGaze (Liu, Guo, Xu et al., arXiv 2412.00309), reconstructed: from a head box to the field of
view, a gaze heatmap, the pixel mask of the looked-at object and its class.

No code, weights or data are public; the abstract gives the outline (a prompt-based encoder, three cascaded
decoders FoV → heatmap → segmentation, the head box as the prompt, outputs: direction, mask, class). Everything
else here is an **assumption** (docs/models.md, GazeSeg, lists them with the reasons); each is marked
``ASSUMPTION`` where it is made:

* A1 encoder: a NAT/DiNAT backbone (:mod:`gazekit.backbones.nat`, on the Triton neighbourhood-attention kernel)
  with a small feature pyramid to a stride-8 embedding — not the paper's (unknown) SAM-like ViT.
* A2 prompt: SAM-style box prompt encoder (random Fourier features of the two corners + a learned embedding
  per corner) and a SAM-style two-way transformer between the prompt + output tokens and the image embedding.
* A3 FoV: a cone ``max(cos θ, 0)^γ`` from the head-box centre around a predicted 2-D direction, on the 64 × 64
  output grid; the direction is trained with ``1 − cos`` against head → mean gaze point.
* A4 heatmap: 64 × 64 from the upsampled embedding concatenated with the FoV map; σ = 3 Gaussian target, MSE
  (the GazeFollow protocol's resolution, so AUC/L2 are comparable with ViTGaze).
* A5 mask: SAM-style hypernetwork (an MLP of the mask token dotted with a per-pixel embedding built from the
  features, the FoV and the heatmap) at 64 × 64; BCE + Dice against the target mask's cell coverage.
* A6 class: an MLP on the class token, the mask-pooled features and a glimpse (the input pixels resampled
  around the predicted mask, through a small CNN), cross-entropy over the categories.
* A7 in/out: an MLP on its own token, BCE. Mask and class losses are switched off for samples without a mask
  (``has_mask = 0``: GazeFollow, VideoAttentionTarget) and for out-of-frame samples.

Batches: :func:`gazekit.datasets.synthetic.gaze.gaze_sample_to_tensors` (``images``, ``head_boxes``, ``heatmaps``,
``inout``, ``gaze_points``, ``imsize``, ``target_masks [B, 64, 64]``, ``has_mask [B]``, ``category [B]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gazekit.backbones.loading import load_backbone
from gazekit.backbones.nat import NAT
from gazekit.datasets.synthetic.gaze import GAZE_CATEGORIES
from gazekit.errors import ConfigError
from gazekit.metrics.following import evaluate_gaze_arrays
from gazekit.models.base import GazekitModule, GazePredictor, forward_on_head_boxes, minmax_heatmaps, warmup_cosine
from gazekit.types import GazeMap

__all__ = [
    "BoxPromptEncoder",
    "GazeSeg",
    "TwoWayTransformer",
    "dice_loss",
    "fov_cone",
    "gaze_direction_targets",
    "head_crop",
]

#: output tokens of the two-way transformer, in order
_TOKENS = ("direction", "inout", "class", "mask")


# --------------------------------------------------------------------------------------------- pieces
class BoxPromptEncoder(nn.Module):
    """ASSUMPTION A2, SAM's box prompt: ``[B, 4]`` normalised (x1, y1, x2, y2) → two tokens ``[B, 2, D]`` (random
    Fourier features of each corner + a learned embedding per corner); :meth:`dense_pe` gives the image's
    positional encoding ``[h·w, D]`` from the same features (SAM ``PositionEmbeddingRandom``)."""

    def __init__(self, dim: int, scale: float = 1.0) -> None:
        super().__init__()
        if dim % 2:
            raise ConfigError(f"prompt dim must be even, got {dim}")
        self.register_buffer("gaussian", torch.randn(2, dim // 2) * scale)
        self.corners = nn.Embedding(2, dim)

    def encode(self, xy: torch.Tensor) -> torch.Tensor:
        """``[..., 2]`` in [0, 1] → ``[..., D]``."""
        c = 2 * math.pi * ((2 * xy - 1) @ self.gaussian.to(xy.dtype))
        return torch.cat([c.sin(), c.cos()], -1)

    def dense_pe(self, h: int, w: int) -> torch.Tensor:
        ys = (torch.arange(h, device=self.gaussian.device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=self.gaussian.device, dtype=torch.float32) + 0.5) / w
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)  # [h, w, 2] (x, y)
        return self.encode(grid).reshape(h * w, -1)

    def forward(self, boxes: torch.Tensor) -> torch.Tensor:
        return self.encode(boxes.float().reshape(-1, 2, 2)) + self.corners.weight[None]


def head_crop(images: torch.Tensor, head_boxes: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, 3, size, size]`` bilinear crop of each (normalised) head box from ``images [B, 3, S, S]``."""
    b = head_boxes.float()
    lin = (torch.arange(size, device=images.device, dtype=torch.float32) + 0.5) / size
    xs = b[:, 0, None] + (b[:, 2] - b[:, 0])[:, None] * lin[None]  # [B, size] in [0, 1]
    ys = b[:, 1, None] + (b[:, 3] - b[:, 1])[:, None] * lin[None]
    grid = torch.stack([xs[:, None, :].expand(-1, size, -1), ys[:, :, None].expand(-1, -1, size)], -1) * 2 - 1
    return F.grid_sample(images.float(), grid.to(images.dtype), mode="bilinear", align_corners=False)


class _TwoWayBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.t2i = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.i2t = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.ReLU(inplace=True), nn.Linear(mlp, dim))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(4))

    def forward(
        self, tok: torch.Tensor, tok_pe: torch.Tensor, img: torch.Tensor, img_pe: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q = tok + tok_pe
        tok = self.norms[0](tok + self.self_attn(q, q, tok, need_weights=False)[0])
        tok = self.norms[1](tok + self.t2i(tok + tok_pe, img + img_pe, img, need_weights=False)[0])
        tok = self.norms[2](tok + self.mlp(tok))
        img = self.norms[3](img + self.i2t(img + img_pe, tok + tok_pe, tok, need_weights=False)[0])
        return tok, img


class TwoWayTransformer(nn.Module):
    """ASSUMPTION A2, SAM's mask-decoder transformer: tokens ↔ image cross-attention in both directions per
    block, then a final token → image attention. ``tok [B, T, D]``, ``img [B, N, D]`` → same shapes."""

    def __init__(self, dim: int, depth: int = 2, heads: int = 4, mlp: int = 256) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_TwoWayBlock(dim, heads, mlp) for _ in range(depth))
        self.final = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tok: torch.Tensor, img: torch.Tensor, img_pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tok_pe = tok
        for blk in self.blocks:
            tok, img = blk(tok, tok_pe, img, img_pe)
        tok = self.norm(tok + self.final(tok + tok_pe, img + img_pe, img, need_weights=False)[0])
        return tok, img


def fov_cone(head_xy: torch.Tensor, direction: torch.Tensor, size: int, gamma: float) -> torch.Tensor:
    """ASSUMPTION A3: ``[B, size, size]`` field of view ``max(cos θ, 0)^γ``, θ the angle at the head between
    ``direction [B, 2]`` (unit, normalised image axes) and each cell centre; ``head_xy [B, 2]`` in [0, 1]."""
    c = (torch.arange(size, device=direction.device, dtype=direction.dtype) + 0.5) / size
    dx = c[None, None, :] - head_xy[:, 0, None, None]
    dy = c[None, :, None] - head_xy[:, 1, None, None]
    norm = torch.sqrt(dx * dx + dy * dy).clamp_min(1e-6)
    cos = (dx * direction[:, 0, None, None] + dy * direction[:, 1, None, None]) / norm
    return cos.clamp_min(0) ** gamma


def gaze_direction_targets(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit 2-D direction from the head-box centre to the mean annotator point (image px axes), ``[B, 2]``, and
    whether it exists ``[B]`` (in frame, with at least one point, not on the head centre)."""
    pts = batch["gaze_points"].float()
    valid = (pts >= 0).all(-1).float()  # [B, K]
    n = valid.sum(1)
    mean = (pts * valid[..., None]).sum(1) / n.clamp_min(1)[:, None]
    hb = batch["head_boxes"].float()
    head = torch.stack([(hb[:, 0] + hb[:, 2]) / 2, (hb[:, 1] + hb[:, 3]) / 2], -1)
    wh = batch["imsize"].float()
    v = (mean - head) * wh / wh.max(-1, keepdim=True).values  # aspect-correct: angles as seen in the image
    length = v.norm(dim=-1)
    ok = (batch["inout"] > 0.5) & (n > 0) & (length > 1e-4)
    return v / length.clamp_min(1e-6)[:, None], ok


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Per-sample soft Dice loss ``1 − (2Σpt + ε)/(Σp + Σt + ε)``: ``[B, h, w]`` logits and targets → ``[B]``."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    return 1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)


def mask_glimpse(
    images: torch.Tensor, mask_logits: torch.Tensor, size: int, min_side: float = 0.08, max_side: float = 0.6
) -> torch.Tensor:
    """``[B, 3, size, size]`` bilinear resampling of ``images [B, 3, S, S]`` in a square around the object that
    ``mask_logits [B, g, g]`` predicts: centred on the spatial-softmax centroid of the logits, side 1.5 × the
    square root of the soft mask area (as a share of the image), clamped to ``[min_side, max_side]``. The window
    is computed without gradient: the class loss does not move the mask."""
    with torch.no_grad():
        b, g = mask_logits.shape[0], mask_logits.shape[-1]
        lg = mask_logits.float().flatten(1)
        w = torch.softmax(lg, 1).view(b, g, g)
        lin = (torch.arange(g, device=lg.device, dtype=torch.float32) + 0.5) / g
        cx, cy = (w.sum(1) * lin).sum(1), (w.sum(2) * lin).sum(1)
        side = (1.5 * torch.sigmoid(lg).mean(1).sqrt()).clamp(min_side, max_side)
        box = torch.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1)
    return head_crop(images, box, size)


def _mlp(dims: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers[:-1])


# --------------------------------------------------------------------------------------------- model
class GazeSeg(GazekitModule, GazePredictor):
    """GazeSeg reconstructed on a NAT/DiNAT encoder (module docstring: every assumption).

    Args:
        backbone: a published NAT/DiNAT name of :data:`gazekit.backbones.loading.BACKBONE_WEIGHTS`
            (``"nat_mini"``, ``"dinat_tiny"``, …) or ``"custom"`` (the next five arguments).
        pretrained: load the published ImageNet weights of ``backbone`` through the weight resolver.
        pretrained_weights: explicit backbone weight file (else ``$GAZEKIT_WEIGHTS_DIR`` → HF cache → error).
        embed_dim, depths, num_heads, kernel_size, dilations, mlp_ratio: the custom NAT (``dilations`` per level,
            DiNAT-style; None = NAT).
        input_size: model input side in px.
        dim: prompt / decoder width D.
        decoder_depth, decoder_heads: two-way transformer blocks and heads.
        heatmap_size: side of the FoV, heatmap and mask grids (64).
        fov_gamma: cone sharpness γ.
        head_crop: side of the head-box crop embedded as a prompt token (0 = box coordinates only).
        class_glimpse: side of the glimpse of the input pixels around the predicted mask that the class head
            reads (:func:`mask_glimpse`; a multiple of 4; 0 = class token and mask-pooled features only).
        categories: class names (index = class id); default the synthetic scenes' shapes.
        *_weight: loss weights (direction, heatmap ×10,000 as ViTGaze's MSE, in/out, mask BCE, mask Dice, class).
        lr, weight_decay, warmup_fraction, min_lr_ratio: AdamW with linear warm-up and cosine decay.
        eval_protocol, l2_decode: validation/test scoring, as ViTGaze's
            (:func:`gazekit.metrics.following.evaluate_gaze_arrays`: GazeFollow or the release's VAT protocol;
            argmax or DARK L2).
    """

    model_name = "gazeseg"
    #: the checkpoint holds the backbone's weights: rebuilding never looks for the ImageNet file again
    external_weight_args = ("pretrained", "pretrained_weights")

    def __init__(
        self,
        backbone: str = "custom",
        pretrained: bool = False,
        pretrained_weights: str | None = None,
        embed_dim: int = 32,
        depths: list[int] | None = None,
        num_heads: list[int] | None = None,
        kernel_size: int = 7,
        dilations: list[list[int]] | None = None,
        mlp_ratio: float = 2.0,
        input_size: int = 112,
        dim: int = 64,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        heatmap_size: int = 64,
        fov_gamma: float = 4.0,
        head_crop: int = 16,
        class_glimpse: int = 24,
        categories: list[str] | None = None,
        direction_weight: float = 1.0,
        heatmap_weight: float = 10000.0,
        inout_weight: float = 1.0,
        mask_bce_weight: float = 1.0,
        mask_dice_weight: float = 1.0,
        class_weight: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.05,
        eval_protocol: str = "gazefollow",
        l2_decode: str = "argmax",
    ) -> None:
        super().__init__()
        depths = [2, 2, 2] if depths is None else list(depths)
        num_heads = [2, 4, 8] if num_heads is None else list(num_heads)
        categories = list(GAZE_CATEGORIES) if categories is None else list(categories)
        if len(categories) < 1:
            raise ConfigError("GazeSeg needs at least one category")
        if eval_protocol not in ("gazefollow", "vat") or l2_decode not in ("argmax", "dark"):
            raise ConfigError(
                f"eval_protocol must be 'gazefollow'/'vat' and l2_decode 'argmax'/'dark', got {eval_protocol!r}, "
                f"{l2_decode!r}"
            )
        if heatmap_size < 8 or heatmap_size % 2:
            raise ConfigError(f"heatmap_size must be even and >= 8, got {heatmap_size}")
        self.save_hyperparameters()
        if backbone == "custom":
            if pretrained:
                raise ConfigError("pretrained=True needs a published backbone name (e.g. 'nat_mini'), not 'custom'")
            self.backbone = NAT(embed_dim, depths, num_heads, kernel_size, mlp_ratio, dilations=dilations)
        else:
            self.backbone = load_backbone(backbone, pretrained_weights, pretrained=pretrained)
        if self.backbone.num_levels < 2:
            raise ConfigError("GazeSeg's neck needs a backbone with at least 2 levels (stride 8)")
        # the backbone's classification norm is off GazeSeg's path (levels only): frozen, or DDP waits for its grad
        self.backbone.norm.requires_grad_(False)
        # ASSUMPTION A1: a stride-8 embedding = sum of every level from stride 8 down, each 1x1-projected to D
        self.neck = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in self.backbone.dims[1:])
        self.neck_norm = nn.GroupNorm(1, dim)
        self.prompt = BoxPromptEncoder(dim)
        # ASSUMPTION A2b: a third prompt token embeds the head box's pixels (a linear map of a small crop), as the
        # head pathway of gaze-following models does; the paper names the box as the prompt, not how it is encoded
        self.head_crop_size = int(head_crop)
        self.head_embed = nn.Linear(3 * head_crop * head_crop, dim) if head_crop > 0 else None
        self.tokens = nn.Embedding(len(_TOKENS), dim)
        self.transformer = TwoWayTransformer(dim, decoder_depth, decoder_heads, 4 * dim)
        self.direction_head = _mlp([dim, dim, 2])
        self.inout_head = _mlp([dim, dim, 1])
        up = 24
        self.reduce = nn.Conv2d(dim, up, 1)
        self.heat_decoder = nn.Sequential(
            nn.Conv2d(up + 1, up, 3, padding=1),
            nn.BatchNorm2d(up),
            nn.ReLU(inplace=True),
            nn.Conv2d(up, up // 2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(up // 2, 1, 1),
        )
        self.pixel_embed = nn.Sequential(
            nn.Conv2d(up + 2, up, 3, padding=1), nn.BatchNorm2d(up), nn.ReLU(inplace=True), nn.Conv2d(up, 16, 1)
        )
        self.mask_hyper = _mlp([dim, dim, 16])
        # ASSUMPTION A6: besides the class token and the mask-pooled features, the class head sees the pixels
        # around the predicted mask (a glimpse through a small CNN): a stride-8 feature averaged over a 2-cell
        # object keeps its colour but loses its outline, and the outline is what tells the categories apart
        self.glimpse_size = int(class_glimpse)
        gdim = 0
        if class_glimpse > 0:
            if class_glimpse % 4:
                raise ConfigError(f"class_glimpse must be a multiple of 4 (two 2x2 pools), got {class_glimpse}")
            gdim = 64
            self.glimpse = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 16, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(2),
                nn.Flatten(1),
            )
        self.class_head = _mlp([dim + up + gdim, dim, len(categories)])
        self.eval_records: list[dict[str, np.ndarray]] = []

    # ------------------------------------------------------------------ forward
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, S, S]`` → stride-8 embedding ``[B, D, S/8, S/8]``."""
        levels = self.backbone.forward_levels(images)[1:]
        size = levels[0].shape[-2:]
        x = sum(
            F.interpolate(p(f), size=size, mode="bilinear", align_corners=False) if i else p(f)
            for i, (p, f) in enumerate(zip(self.neck, levels, strict=True))
        )
        return self.neck_norm(x)

    def forward(self, images: torch.Tensor, head_boxes: torch.Tensor) -> dict[str, torch.Tensor]:
        """``images [B, 3, S, S]``, ``head_boxes [B, 4]`` (normalised) → ``direction [B, 2]`` (unit),
        ``fov``, ``heatmap`` (raw), ``mask`` (logits) ``[B, G, G]``, ``inout [B]`` (logit), ``class_logits [B, C]``."""
        hp = self.hparams
        g = int(hp.heatmap_size)
        emb = self.embed(images)
        b, d, h, w = emb.shape
        prompts = [self.prompt(head_boxes)]
        if self.head_embed is not None:
            crop = head_crop(images, head_boxes, self.head_crop_size)
            prompts.append(self.head_embed(crop.flatten(1).to(emb.dtype))[:, None])
        tok = torch.cat([self.tokens.weight[None].expand(b, -1, -1), *prompts], 1)
        tok, img = self.transformer(tok, emb.flatten(2).transpose(1, 2), self.prompt.dense_pe(h, w)[None])
        t_dir, t_io, t_cls, t_mask = tok[:, 0], tok[:, 1], tok[:, 2], tok[:, 3]
        direction = F.normalize(self.direction_head(t_dir), dim=-1)
        hb = head_boxes.float()
        head_xy = torch.stack([(hb[:, 0] + hb[:, 2]) / 2, (hb[:, 1] + hb[:, 3]) / 2], -1)
        fov = fov_cone(head_xy, direction, g, float(hp.fov_gamma))  # coarse: where the head can see
        feat = img.transpose(1, 2).reshape(b, d, h, w)
        # ASSUMPTION A4/A5: the convolutions run at half the output grid (CPU cost); logits are upsampled to G
        gd = g // 2
        up = F.interpolate(self.reduce(feat), size=(gd, gd), mode="bilinear", align_corners=False)
        fov_d = F.adaptive_avg_pool2d(fov[:, None], gd)
        heat_d = self.heat_decoder(torch.cat([up, fov_d], 1))  # middle: where in the view
        pix = self.pixel_embed(torch.cat([up, fov_d, heat_d], 1))  # [B, 16, G/2, G/2]
        mask_d = torch.einsum("bc,bchw->bhw", self.mask_hyper(t_mask), pix)[:, None]  # fine: which pixels
        wts = torch.sigmoid(mask_d).flatten(1)
        pooled = torch.einsum("bn,bcn->bc", wts, up.flatten(2)) / wts.sum(1, keepdim=True).clamp_min(1e-3)
        glimpse = []
        if self.glimpse_size:
            glimpse = [self.glimpse(mask_glimpse(images, mask_d[:, 0], self.glimpse_size).to(emb.dtype))]
        return {
            "direction": direction,
            "fov": fov,
            "heatmap": F.interpolate(heat_d, size=(g, g), mode="bilinear", align_corners=False)[:, 0],
            "mask": F.interpolate(mask_d, size=(g, g), mode="bilinear", align_corners=False)[:, 0],
            "inout": self.inout_head(t_io)[:, 0],
            "class_logits": self.class_head(torch.cat([t_cls, pooled, *glimpse], -1)),
        }

    # ------------------------------------------------------------------ training
    def losses(self, batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted losses; heatmap/direction on in-frame samples, mask/class only where ``has_mask``."""
        hp = self.hparams
        inside = batch["inout"].float()
        n_in = inside.sum().clamp_min(1.0)
        heat = (((out["heatmap"] - batch["heatmaps"].float()) ** 2).mean((1, 2)) * inside).sum() / n_in
        tdir, dok = gaze_direction_targets(batch)
        dirl = ((1 - (out["direction"] * tdir).sum(-1)) * dok).sum() / dok.sum().clamp_min(1)
        inout = F.binary_cross_entropy_with_logits(out["inout"], inside)
        has = batch.get("has_mask", torch.zeros_like(inside)).float() * inside
        n_m = has.sum().clamp_min(1.0)
        tm = batch["target_masks"].float() if "target_masks" in batch else torch.zeros_like(out["mask"])
        bce = (F.binary_cross_entropy_with_logits(out["mask"], tm, reduction="none").mean((1, 2)) * has).sum() / n_m
        dice = (dice_loss(out["mask"], tm) * has).sum() / n_m
        cat = batch.get("category", torch.full_like(inside, -1, dtype=torch.long)).long()
        cls_ok = (has > 0) & (cat >= 0)
        ce = F.cross_entropy(out["class_logits"], cat.clamp_min(0), reduction="none")
        cls = (ce * cls_ok).sum() / cls_ok.sum().clamp_min(1)
        losses = {
            "direction": dirl * hp.direction_weight,
            "heatmap": heat * hp.heatmap_weight,
            "inout": inout * hp.inout_weight,
            "mask_bce": bce * hp.mask_bce_weight,
            "mask_dice": dice * hp.mask_dice_weight,
            "class": cls * hp.class_weight,
        }
        losses["loss"] = sum(losses.values())
        return losses

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self.losses(batch, self(batch["images"], batch["head_boxes"]))
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, batch_size=batch["images"].shape[0])
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self(batch["images"], batch["head_boxes"])
        bs = batch["images"].shape[0]
        self.log("val/loss", self.losses(batch, out)["loss"], batch_size=bs, prog_bar=True, sync_dist=True)
        has = (batch["has_mask"] * batch["inout"]).bool() if "has_mask" in batch else None
        rec = {
            "heat": out["heatmap"].detach().float().cpu().numpy(),
            "points": batch["gaze_points"].cpu().numpy(),
            "inout": batch["inout"].cpu().numpy(),
            "score": torch.sigmoid(out["inout"]).float().cpu().numpy(),
            "imsize": batch["imsize"].cpu().numpy(),
        }
        if has is not None:
            m = out["mask"] > 0
            t = batch["target_masks"] > 0.5
            inter, union = (m & t).flatten(1).sum(1).float(), (m | t).flatten(1).sum(1).float()
            tot = m.flatten(1).sum(1).float() + t.flatten(1).sum(1).float()
            rec["dice"] = torch.where(has, 2 * inter / tot.clamp_min(1), torch.nan).cpu().numpy()
            rec["iou"] = torch.where(has, inter / union.clamp_min(1), torch.nan).cpu().numpy()
            hit = out["class_logits"].argmax(-1) == batch["category"]
            rec["top1"] = torch.where(has & (batch["category"] >= 0), hit.float(), torch.nan).cpu().numpy()
        self.eval_records.append(rec)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    def epoch_metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        m = evaluate_gaze_arrays(arrays, protocol=self.hparams.eval_protocol, decode=self.hparams.l2_decode)
        for k in ("dice", "iou", "top1"):
            if k in arrays and np.isfinite(arrays[k]).any():
                m[k] = float(np.nanmean(arrays[k]))
        return m

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 or name.startswith(("tokens.", "prompt.")) else decay).append(p)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=hp.lr
        )
        total = int(getattr(self.trainer, "estimated_stepping_batches", 1) or 1) if self._trainer else 1
        sched = warmup_cosine(opt, total, hp.warmup_fraction, hp.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_gazes(self, image: np.ndarray, head_boxes: Sequence[Sequence[float]] | None = None) -> list[GazeMap]:
        """One :class:`GazeMap` per head box (px): heatmap (64 × 64, min-max scaled), point (argmax cell centre),
        in/out probability, ``mask [H, W]`` bool (the mask logits > 0, upsampled), ``category`` (top class);
        ``meta`` holds ``top5`` (class, probability) pairs, ``direction`` and ``weights`` (where they came from).
        ``None`` detects heads with :func:`gazekit.heads.detect_heads`."""
        boxes, out = forward_on_head_boxes(self, image, head_boxes, int(self.hparams.input_size))
        if out is None:
            return []
        h, w = np.asarray(image).shape[:2]
        heat = minmax_heatmaps(out["heatmap"].float())
        masks = out["mask"].float().cpu().numpy()
        probs = torch.softmax(out["class_logits"].float(), -1).cpu().numpy()
        inout = torch.sigmoid(out["inout"]).float().cpu().numpy()
        cats = list(self.hparams.categories)
        s = heat.shape[-1]
        res = []
        for i, b in enumerate(boxes):
            r, c = np.unravel_index(int(np.argmax(heat[i])), heat[i].shape)
            mask = cv2.resize(masks[i], (w, h), interpolation=cv2.INTER_LINEAR) > 0
            order = np.argsort(-probs[i])[:5]
            res.append(
                GazeMap(
                    heatmap=heat[i],
                    point=((c + 0.5) / s * w, (r + 0.5) / s * h),
                    inout=float(inout[i]),
                    head_box=b,
                    mask=mask,
                    category=cats[int(order[0])],
                    meta={
                        "model": "gazeseg",
                        "weights": getattr(self, "weights_source", None),
                        "top5": [(cats[int(k)], float(probs[i, k])) for k in order],
                        "direction": tuple(float(v) for v in out["direction"][i].cpu()),
                    },
                )
            )
        return res

    def predict_gaze(self, image: np.ndarray, head_box: tuple[float, float, float, float]) -> GazeMap:
        """Where the person in ``head_box`` (x1, y1, x2, y2 px) of ``image`` ``[H, W, 3]`` looks, with the mask and
        class of the looked-at object."""
        return self.predict_gazes(image, [head_box])[0]
