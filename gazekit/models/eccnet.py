"""eccNET (Gupta et al., NeurIPS 2021) and IVSN (Zhang et al., Nat. Commun. 2018): target-conditioned visual search
on VGG16 features, with the variants and ablations of the eccNET paper.

Architecture (``kreimanlab/VisualSearchAsymmetry`` ``vs_model/``):

* **Backbone**: the project's :class:`~gazekit.backbones.vgg.VGG16` (13 convs). eccNET replaces its five max-pools
  by *eccentricity-dependent average pooling* centred on the fixation (:func:`gazekit.kernels.ecc_pool.ecc_pool`,
  rf_min 2, stride 2, fovea 4°, 1° rings, px/deg per pool 30/15/8/4/2, slopes 0/0/0.07/0.16/0.32); the IVSN-style
  variants keep uniform 2×2 max pools.
* **Features**: search = relu3_3, relu4_3, relu5_3 brought to 1/16 by uniform 2×2 pools; target = the same layers
  pooled one stage deeper (1/32), each by its own block's pool first.
* **Top-down map**: per layer, the target features are the kernel of a 1-output convolution ('same' padding, no
  bias) over the search features; each map is min–max normalised and weighted (``'nl'``: its raw maximum, on the
  asymmetry displays; ``'l'``: equally, on photos) times ``out_layer``, the weights normalised to sum 1; then
  3 × (map += G(k1, σ1) − G(k2, σ2)) and an area resize to the crop.
* **Search**: :mod:`gazekit.models.eccnet_search` — the map is recomputed on a crop of side 2·(eye_res + 64)
  centred on every new fixation (eye_res = the image's larger side), winner-take-all, object IOR with
  re-rendering on grid displays, the oracle, the caps.

Variants (:data:`VARIANTS`): ``eccnet``; ``eccnet_0_0_1`` (the paper's "18→17", top layer only); ``noecc``
(uniform max pools, three layers); ``ivsn`` (the release's in-repo IVSN: uniform max pools, top layer, eccNET's
per-fixation crop and IOR); ``ivsn_original`` (Zhang et al. 2018: one **static** map from 224 px tiles of relu5_3
against the target's pool5, photos resized to 1028×1280, 200 px IOR and oracle window, cap 80).

Weights: ImageNet VGG16 in torchvision's published layout (``features.N.*``; :meth:`EccNet.convert_state_dict`)
found by the backbone resolver, or a VGG-shaped net trained by :class:`EccNet` itself on a diet
(:class:`~gazekit.datasets.asymmetry.DietDataModule`, recipe ``configs/experiments/eccnet_objects.yaml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gazekit.backbones.loading import resolve_backbone_weights
from gazekit.backbones.vgg import LAYER_NAMES, VGG16, preprocess
from gazekit.errors import ConfigError, WeightsNotFoundError
from gazekit.kernels.ecc_pool import EccPoolSpec, ecc_pool
from gazekit.kernels.ecc_pool.reference import same_pool
from gazekit.models.base import GazekitModule, ScanpathPredictor
from gazekit.models.eccnet_search import (
    SearchProtocol,
    protocol_for,
    run_search,
    search_scanpath,
    target_image,
)
from gazekit.types import Scanpath, Stimulus, Task

__all__ = ["ECC_DEG2PX", "ECC_SLOPES", "IVSN", "VARIANTS", "EccNet", "Variant"]

#: eccentricity slope and px/deg of the five pools (``eccParamDefault``)
ECC_SLOPES = (0.0, 0.0, 3.5 * 0.02, 8 * 0.02, 16 * 0.02)
ECC_DEG2PX = (30, 15, 8, 4, 2)
CORNER_BIAS = 64  # px of padding beyond eye_res on every side of the crop
TAPS = ("relu3_3", "relu4_3", "relu5_3")


@dataclass(frozen=True)
class Variant:
    """One model of the paper's comparison: eccentricity pooling or not, pool type, layers used, static map."""

    ecc: bool
    pool: str
    out_layer: tuple[int, int, int]
    static: bool = False
    label: str = ""


VARIANTS: dict[str, Variant] = {
    "eccnet": Variant(True, "avg", (1, 1, 1), label="eccNET"),
    "eccnet_0_0_1": Variant(True, "avg", (0, 0, 1), label="eccNET 18→17 (top layer only)"),
    "noecc": Variant(False, "max", (1, 1, 1), label="eccNET without eccentricity"),
    "ivsn": Variant(False, "max", (0, 0, 1), label="IVSN (the release's in-repo variant)"),
    "ivsn_original": Variant(False, "max", (0, 0, 1), static=True, label="IVSN (original: static tiled map)"),
}

# IVSN original (Zhang et al. 2018) on photos
IVSN_FRAME = (1028, 1280)  # (H, W) every photo is resized to
IVSN_TILE = 224
IVSN_IOR = 200
IVSN_CAP = 80


def _as_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """``[H, W, 3]`` uint8 → ``[1, 3, H, W]`` float in [0, 1]."""
    return torch.from_numpy(np.array(img, dtype=np.float32)).to(device).permute(2, 0, 1)[None] / 255.0


def _same_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Keras ``Conv2D(1, kernel, padding='same', use_bias=False)``: ``[1, C, H, W] ⋆ [C, h, w] → [H, W]``."""
    kh, kw = kernel.shape[-2:]
    t, left = (kh - 1) // 2, (kw - 1) // 2
    return F.conv2d(F.pad(x, (left, kw - 1 - left, t, kh - 1 - t)), kernel[None])[0, 0]


def _minmax(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


class EccNet(GazekitModule, ScanpathPredictor):
    """eccNET / IVSN search model and the LightningModule that trains its VGG feature extractor on a diet.

    Args:
        variant: a key of :data:`VARIANTS`.
        widths: channels of the five VGG blocks (default: VGG16's 64…512; narrower = a VGG-shaped net).
        preprocess: ``"torchvision"`` (ImageNet mean/std; torchvision weights and the diets) or ``"caffe"``
            (Keras ``preprocess_input``, for weights converted from the release's Keras file).
        num_classes: classes of the training diet (0: no classifier head; inference never uses it).
        lr, weight_decay: AdamW settings of the diet training.
        max_fixations: cap on photos (grid displays use their protocol's cap; IVSN-original uses 80).
        photo_max_side: photos are searched at most this large (px; fixations are mapped back); None = native.
    """

    model_name: ClassVar[str] = "eccnet"
    default_variant: ClassVar[str] = "eccnet"
    supported_tasks: ClassVar[tuple[str, ...]] = ("search",)

    def __init__(
        self,
        variant: str | None = None,
        widths: Sequence[int] | None = None,
        preprocess: str = "torchvision",
        num_classes: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 5e-4,
        max_fixations: int = 20,
        photo_max_side: int | None = 512,
    ) -> None:
        super().__init__()
        variant = variant or self.default_variant
        if variant not in VARIANTS:
            raise ConfigError(f"eccNET variant {variant!r}: expected one of {', '.join(VARIANTS)}")
        if preprocess not in ("torchvision", "caffe"):
            raise ConfigError(f"preprocess={preprocess!r}: expected 'torchvision' or 'caffe'")
        if max_fixations < 1 or (photo_max_side is not None and photo_max_side < 32):
            raise ConfigError("max_fixations must be >= 1 and photo_max_side >= 32 px (or None)")
        widths = [int(w) for w in widths] if widths is not None else None
        self.save_hyperparameters()
        self.hparams["variant"] = variant  # the class default made explicit, so checkpoints say which
        self.variant = VARIANTS[variant]
        self.vgg = VGG16(widths=widths)
        c5 = self.vgg.features[-3].out_channels
        self.head = nn.Linear(c5, num_classes) if num_classes else None
        self.eval_records: list[dict[str, np.ndarray]] = []

    # ------------------------------------------------------------------ features
    def _block_pool(self, h: torch.Tensor, block: int) -> torch.Tensor:
        """Pool ``block`` (1–5): eccentricity-dependent (centre = map centre) or uniform 2×2, as the variant says."""
        v = self.variant
        if v.ecc:
            spec = EccPoolSpec(rf_min=2, slope=ECC_SLOPES[block - 1], deg2px=ECC_DEG2PX[block - 1], pool=v.pool)
            return ecc_pool(h, spec)
        return same_pool(h, 2, 2, v.pool)

    def features(self, x: torch.Tensor, target: bool = False) -> list[torch.Tensor]:
        """The three tapped layers of a preprocessed ``[1, 3, H, W]`` image.

        Search: relu3_3/4_3/5_3 at 1/16 (the tap, then uniform pools). Target (``target=True``): each tap
        through its block's pool, then uniform pools, to 1/32.
        """
        taps: dict[int, torch.Tensor] = {}
        h, block = x, 1
        uniform = self.variant.pool
        for name, mod in zip(LAYER_NAMES, self.vgg.features, strict=True):
            if not name.startswith("pool"):
                h = mod(h)
                continue
            if target:  # earlier taps follow the stride; the new one goes through its block's pool
                taps = {b: same_pool(t, 2, 2, uniform) for b, t in taps.items()}
                if block >= 3:
                    taps[block] = self._block_pool(h, block)
            else:  # search: relu5_3 is used as is; earlier taps (the new one included) are pooled uniformly
                if block == 5:
                    taps[5] = h
                    break
                if block >= 3:
                    taps[block] = h
                taps = {b: same_pool(t, 2, 2, uniform) for b, t in taps.items()}
            if block == 5:
                break
            h = self._block_pool(h, block)
            block += 1
        return [taps[3], taps[4], taps[5]]

    def _prep(self, img: np.ndarray) -> torch.Tensor:
        return preprocess(_as_tensor(img, self.device), self.hparams.preprocess)

    @torch.no_grad()
    def target_features(self, target: np.ndarray) -> list[torch.Tensor]:
        """``[C_l, h_l, w_l]`` kernels of the target image ``[h, w, 3]`` uint8 (native size)."""
        return [f[0] for f in self.features(self._prep(target), target=True)]

    @torch.no_grad()
    def attention_map(self, crop: np.ndarray, kernels: list[torch.Tensor], protocol: SearchProtocol) -> np.ndarray:
        """eccNET's top-down map of a square crop ``[S, S, 3]`` (fixation at its centre) → ``[S, S]`` float32."""
        feats = self.features(self._prep(crop))
        out_layer = self.variant.out_layer
        maps, raw = [], []
        for f, k, use in zip(feats, kernels, out_layer, strict=True):
            if not use:
                maps.append(None)
                raw.append(0.0)
                continue
            m = _same_conv(f, k).cpu().numpy().astype(np.float32)
            raw.append(float(m.max()))
            maps.append(_minmax(m))
        w = np.asarray(raw if protocol.weighting == "nl" else [1.0, 1.0, 1.0], float) * np.asarray(out_layer, float)
        if not np.isfinite(w).all() or w.sum() <= 0:  # all-negative maxima: fall back to equal weights
            w = np.asarray(out_layer, float)
        w = w / w.sum()
        out = sum(wi * m for wi, m in zip(w, maps, strict=True) if m is not None)
        (k1, s1), (k2, s2) = protocol.dog
        for _ in range(3):
            out = out + (cv2.GaussianBlur(out, (k1, k1), s1) - cv2.GaussianBlur(out, (k2, k2), s2))
        side = crop.shape[0]
        return cv2.resize(out.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)

    @torch.no_grad()
    def static_map(self, image: np.ndarray, kernels: list[torch.Tensor], background: int) -> np.ndarray:
        """IVSN-original: relu5_3 of 224 px tiles against the target's pool5, stitched (``[H, W]``)."""
        H, W = image.shape[:2]
        t = IVSN_TILE
        ph, pw = -(-H // t) * t, -(-W // t) * t
        padded = cv2.copyMakeBorder(image, 0, ph - H, 0, pw - W, cv2.BORDER_CONSTANT, value=(background,) * 3)
        out = np.zeros((ph, pw), np.float32)
        for y in range(0, ph, t):
            for x in range(0, pw, t):
                f = self.features(self._prep(padded[y : y + t, x : x + t]))[2]
                m = _same_conv(f, kernels[2]).cpu().numpy().astype(np.float32)
                out[y : y + t, x : x + t] = cv2.resize(m, (t, t), interpolation=cv2.INTER_LINEAR)
        return out[:H, :W]

    # ------------------------------------------------------------------ search
    def predict_scanpath(
        self, stimulus: Stimulus, task: Task | str, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        """Search ``stimulus`` for the task's target image (or the crop of its box). Deterministic
        (winner-take-all): ``sample``/``seed`` change nothing. Fixations in px of the stimulus; no durations."""
        task = Task.coerce(task)
        if task.kind != "search":
            raise ConfigError(
                f"{self.model_name} is a visual-search model: give a search task with a target image or box"
            )
        self.eval()
        image = stimulus.load_image()
        target = target_image(stimulus, task, image)
        protocol = protocol_for(stimulus, self.hparams.max_fixations)
        scale = 1.0
        work, work_target, box = image, target, _scaled_box(stimulus, task, 1.0)
        if protocol.cells is None:  # a photo: optionally smaller, as the release resized natural images
            if self.variant.static:
                sy, sx = IVSN_FRAME[0] / image.shape[0], IVSN_FRAME[1] / image.shape[1]
                scale = float(np.sqrt(sx * sy))
                work = cv2.resize(image, IVSN_FRAME[::-1], interpolation=cv2.INTER_AREA)
                th, tw = target.shape[:2]  # the target crop follows the photo into the 1028x1280 frame
                work_target = cv2.resize(target, (max(1, round(tw * sx)), max(1, round(th * sy))))
                protocol = replace(protocol, cap=IVSN_CAP, ior_size=IVSN_IOR, recog_size=IVSN_IOR)
                box = _scaled_box(stimulus, task, (sx, sy))
                sx_sy = (sx, sy)
            else:
                m = self.hparams.photo_max_side
                if m is not None and max(image.shape[:2]) > m:
                    scale = m / max(image.shape[:2])
                work = _resize(image, scale)
                work_target = _resize(target, scale)
                box = _scaled_box(stimulus, task, (scale, scale))
                sx_sy = (scale, scale)
        else:
            sx_sy = (1.0, 1.0)
        kernels = self.target_features(work_target)
        if self.variant.static:
            static = self.static_map(work, kernels, protocol.background)

            def prio(rendered: np.ndarray, fix: tuple[int, int]) -> np.ndarray:
                return static
        else:
            R = max(work.shape[:2]) + CORNER_BIAS
            H, W = work.shape[:2]

            def prio(rendered: np.ndarray, fix: tuple[int, int]) -> np.ndarray:
                bg = (protocol.background,) * 3
                padded = cv2.copyMakeBorder(rendered, R, R, R, R, cv2.BORDER_CONSTANT, value=bg)
                fx, fy = fix
                crop = padded[fy : fy + 2 * R, fx : fx + 2 * R]
                amap = self.attention_map(crop, kernels, protocol)
                return amap[R - fy : R - fy + H, R - fx : R - fx + W]

        res = run_search(work, prio, protocol, box, work_target.shape[:2])
        res.xy = res.xy / np.asarray(sx_sy)[None, :]
        extra = {"weights": self.weights_source or "untrained", "variant": self.hparams.variant}
        if scale != 1.0:
            extra["search_scale"] = scale
        return search_scanpath(self.model_name, stimulus, task, res, protocol, extra)

    # ------------------------------------------------------------------ training on a diet
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Diet classification: images ``[B, 3, s, s]`` in [0, 1] → logits ``[B, num_classes]`` (VGG with its
        ordinary max pools, as the release trains its VGG16s)."""
        if self.head is None:
            raise ConfigError("this eccNET has no classifier head: build it with num_classes > 0 to train on a diet")
        f = self.vgg(preprocess(x, self.hparams.preprocess))
        return self.head(f.mean(dim=(2, 3)))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(y))
        self.log("train/acc", (logits.argmax(1) == y).float().mean(), prog_bar=True, batch_size=len(y))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Per-sample records (:attr:`eval_records`): the split's metrics come from every process's samples at
        the epoch's end (:meth:`epoch_metrics`), the same however the samples were batched or sharded."""
        x, y = batch
        logits = self(x).float()
        k = min(5, logits.shape[1])
        self.eval_records.append(
            {
                "nll": F.cross_entropy(logits, y, reduction="none").cpu().numpy(),
                "top1": (logits.argmax(1) == y).cpu().numpy(),
                "top5": (logits.topk(k, dim=1).indices == y[:, None]).any(1).cpu().numpy(),
            }
        )

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    def epoch_metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        """``acc`` (top-1), ``top5`` (top-min(5, classes)) and ``nll`` (mean cross-entropy, nats) over the split."""
        return {
            "acc": float(arrays["top1"].mean()),
            "top5": float(arrays["top5"].mean()),
            "nll": float(arrays["nll"].mean()),
        }

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    # ------------------------------------------------------------------ weights
    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """torchvision's published VGG16 (``features.N.*``, ``classifier.*``) → this model (``vgg.features.N.*``;
        the ImageNet classifier is not used)."""
        sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
        if not any(k.startswith("features.") for k in sd):
            raise ConfigError("not a VGG16 state dict in torchvision's layout (no 'features.N.weight' keys)")
        return {f"vgg.{k}": v for k, v in sd.items() if k.startswith("features.")}

    @classmethod
    def load_for_inference(cls, weights: str | Path | None = None, device: str = "cpu", **overrides: Any) -> EccNet:
        """Explicit path (a gazekit checkpoint, a Lightning ``.ckpt`` or torchvision's VGG16 file) → ImageNet
        VGG16 where the backbone resolver finds it (``gazekit download vgg16``; labelled ``paper``) → the
        project's bundled diet-trained net (``synthetic-data``) → an error naming the recipe."""
        overrides.setdefault("variant", cls.default_variant)
        if weights is None:
            try:
                return cls.imagenet(None, device, **overrides)
            except WeightsNotFoundError:
                pass
        return super().load_for_inference(weights, device, **overrides)

    @classmethod
    def imagenet(cls, weights: str | Path | None = None, device: str = "cpu", **overrides: Any) -> EccNet:
        """Full-width VGG16 with torchvision's ImageNet weights from the backbone resolver (explicit path →
        ``$GAZEKIT_WEIGHTS_DIR`` → hub cache; ``gazekit download vgg16`` fetches the published file)."""
        path = resolve_backbone_weights("vgg16", weights)
        overrides.setdefault("variant", cls.default_variant)
        model = cls.from_checkpoint(path, device, **overrides)
        model.weights_source = "paper"
        return model


def _resize(img: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return img
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _scaled_box(stimulus: Stimulus, task: Task, scale: Any) -> tuple[float, float, float, float] | None:
    box = None
    if task.target is not None and task.target.box is not None:
        box = task.target.box
    elif stimulus.target is not None and stimulus.target.box is not None:
        box = stimulus.target.box
    if box is None:
        return None
    sx, sy = (scale, scale) if np.isscalar(scale) else scale
    return box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy


class IVSN(EccNet):
    """IVSN (Zhang et al., 2018); ``variant="ivsn"`` is the eccNET release's in-repo IVSN, ``"ivsn_original"`` the
    paper's static tiled map."""

    model_name: ClassVar[str] = "ivsn"
    default_variant: ClassVar[str] = "ivsn"
