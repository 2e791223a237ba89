"""NevaClip (Zanca et al., arXiv 2305.12380 / 2408.09948): zero-shot, caption-driven scanpaths.

A simulated fovea moves over a blurred image so that a frozen CLIP's embedding of what is seen comes as close as
possible to a target embedding (the caption's; see :data:`TARGETS`). No gaze data is used. Per fixation, on an
image ``x`` (CLIP-normalised, ``S x S``) with periphery residual ``r = G_{41, 10}(x) - x``:

* fovea ``f_p(g) = a * exp(-||g - p||^2 / s)`` on a ``[-1, 1]^2`` grid (``s = 0.2``, ``a = 1``);
* perceived image ``x + r * clip(1 - (m + f_p), 0, 1)``, ``m`` the memory;
* loss ``1 - cos(E_img(perceived), t)``; ``steps`` signed-gradient steps ``p <- p - lr * sign(dL/dp)`` from the
  centre, the best loss kept, a uniform random restart when a step does not improve;
* ``m <- forgetting * m + f_{p_best}``.

The release's quirks are flags (:data:`RELEASE`): centre crop (``preprocess="crop"``), ``'ij'`` axis order,
recording the position one step after the evaluated one (``record="stepped"``) and an unclamped ``p``. The
defaults are the corrected behaviour (letterbox, ``'xy'``, ``record="evaluated"``, ``p`` clamped to the image
content). Free viewing: the target is the clear image's own embedding (NeVA's reconstruction objective).

:func:`optimise_scanpaths` runs many rows (images x captions x restarts) in one optimisation with the restart logic
vectorised; :func:`release_loop` is the one-image port kept as the reference for tests and the benchmark.
The LightningModule part trains the CLIP contrastively (the bundled synthetic-data weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gazekit.backbones.clip import (
    CLIP_MEAN,
    CLIP_STD,
    CLIPTokenizer,
    build_clip,
    checkpoint_filter_fn,
    clip_config_from_state_dict,
    tokenizer_from_folder,
)
from gazekit.errors import ConfigError, DataFormatError
from gazekit.models.base import GazekitModule, ScanpathPredictor
from gazekit.types import FrameTransform, Scanpath, Stimulus, Task
from gazekit.weights import read_checkpoint

__all__ = [
    "RELEASE",
    "RELEASE_SCHEDULE",
    "TARGETS",
    "NevaClip",
    "NevaResult",
    "clip_loss",
    "coordinate_grid",
    "fovea",
    "gaussian_kernel",
    "optimise_scanpaths",
    "perceive",
    "periphery_residual",
    "prepare_image",
    "release_loop",
]

#: the release's settings for the flags whose default is the corrected behaviour
RELEASE: dict[str, Any] = {"preprocess": "crop", "axis_order": "ij", "record": "stepped", "clamp": False}
#: what each task optimises towards
TARGETS = {
    "caption": "text embedding of the caption",
    "search": "text embedding of the target category (the category is the caption)",
    "freeview": "image embedding of the clear (unblurred) image: NeVA's reconstruction objective",
}
ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "nevaclip"
CHECKPOINT_NAME = "nevaclip_synthetic"
#: file names of published CLIP weights looked for in a ``--weights`` folder (open_clip hub repos, transformers)
PUBLISHED_FILES = ("open_clip_model.safetensors", "model.safetensors", "open_clip_pytorch_model.bin")


# --------------------------------------------------------------------------------------------- the algorithm
def gaussian_kernel(size: int, sigma: float) -> Tensor:
    """Normalised 1-D Gaussian ``[size]`` centred at ``size // 2`` (the release's window)."""
    if size < 1 or sigma <= 0:
        raise ConfigError(f"blur kernel needs size >= 1 and sigma > 0, got {size}, {sigma}")
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return (g / g.sum()).float()


def periphery_residual(x: Tensor, kernel_size: int = 41, sigma: float = 10.0) -> Tensor:
    """``G(x) - x`` for ``x [B, C, S, S]``: depthwise Gaussian blur with reflection padding.

    The release convolves with the outer product of :func:`gaussian_kernel`; that kernel is separable, so the
    blur runs as a row pass and a column pass over the reflection-padded image (same result up to float
    rounding, 41x fewer multiplications).
    """
    if x.ndim != 4:
        raise ConfigError(f"images must be [B, C, H, W], got {tuple(x.shape)}")
    pad = kernel_size // 2
    if pad >= min(x.shape[-2:]):
        raise ConfigError(f"blur kernel {kernel_size} needs images larger than {pad} px, got {tuple(x.shape[-2:])}")
    c = x.shape[1]
    g = gaussian_kernel(kernel_size, sigma).to(x.device, x.dtype)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    rows = F.conv2d(padded, g.view(1, 1, 1, -1).expand(c, 1, 1, kernel_size), groups=c)
    blurred = F.conv2d(rows, g.view(1, 1, -1, 1).expand(c, 1, kernel_size, 1), groups=c)
    return blurred - x


def coordinate_grid(size: int, axis_order: str = "xy", device: Any = None) -> tuple[Tensor, Tensor]:
    """Two ``[S, S]`` grids in ``[-1, 1]`` compared with ``p[:, 0]`` and ``p[:, 1]``.

    ``"xy"``: ``p[:, 0]`` is horizontal (columns). ``"ij"`` (the release's ``torch.meshgrid`` default):
    ``p[:, 0]`` runs along rows (vertical).
    """
    if axis_order not in ("xy", "ij"):
        raise ConfigError(f"axis_order must be 'xy' or 'ij', got {axis_order!r}")
    t = torch.linspace(-1.0, 1.0, size, device=device)
    a, b = torch.meshgrid(t, t, indexing=axis_order)  # type: ignore[arg-type]
    return a, b


def fovea(p: Tensor, grid: tuple[Tensor, Tensor], sigma: float = 0.2, amplitude: float = 1.0) -> Tensor:
    """``a * exp(-||g - p||^2 / sigma)`` for ``p [N, 2]`` → ``[N, 1, S, S]`` (sigma divides the squared distance)."""
    ga, gb = grid
    d = (ga[None] - p[:, 0, None, None]) ** 2 + (gb[None] - p[:, 1, None, None]) ** 2
    return (amplitude * torch.exp(-d / sigma))[:, None]


def perceive(x: Tensor, residual: Tensor, memory: Tensor, fov: Tensor) -> Tensor:
    """Perceived image ``x + r * clip(1 - (m + f), 0, 1)``: sharp at the fovea and where memory holds."""
    return x + residual * torch.clamp(1.0 - (memory + fov), 0.0, 1.0)


def cosine_loss(emb: Tensor, target: Tensor) -> Tensor:
    """``1 - cos`` per row ``[N]``."""
    return 1.0 - F.cosine_similarity(emb, target, dim=1)


@dataclass
class NevaResult:
    """Output of an optimisation: ``positions [N, L, 2]`` (p-space, recorded), ``losses [N, L]`` (best loss per
    fixation), ``restarts [N, L]`` (restarts per fixation)."""

    positions: Tensor
    losses: Tensor
    restarts: Tensor


def _box_map(d: Tensor, box: Tensor | None) -> Tensor:
    """Uniform draws ``d`` in ``[-1, 1]`` mapped into ``box [N, 4]`` (lo0, lo1, hi0, hi1); identity without one."""
    if box is None:
        return d
    return box[:, :2] + (d + 1.0) * 0.5 * (box[:, 2:] - box[:, :2])


def optimise_scanpaths(
    encode: Callable[[Tensor], Tensor],
    x: Tensor,
    target: Tensor,
    draws: Tensor,
    *,
    length: int = 10,
    steps: int = 20,
    lr: float = 0.1,
    foveation_sigma: float = 0.2,
    amplitude: float = 1.0,
    forgetting: float = 0.0,
    kernel_size: int = 41,
    blur_sigma: float = 10.0,
    axis_order: str = "xy",
    record: Literal["evaluated", "stepped"] = "evaluated",
    restarts: bool = True,
    box: Tensor | None = None,
    residual: Tensor | None = None,
) -> NevaResult:
    """NevaClip's optimisation for ``N`` rows at once (rows are independent: one image, target and draw each).

    Args:
        encode: image tower ``[N, 3, S, S] → [N, D]`` (frozen, eval mode).
        x: CLIP-normalised images ``[N, 3, S, S]``.
        target: target embeddings ``[N, D]``.
        draws: uniform numbers in ``[-1, 1]``, ``[N, length, steps, 2]``: the restart position of row n at fixation
            t after step k is ``draws[n, t, k]`` (mapped into ``box``); without restarts they give the release's
            jitter ``(u - 1/2) * lr`` with ``u = (d + 1) / 2``.
        record: ``"evaluated"`` stores the position whose loss was measured; ``"stepped"`` (release) stores the
            position one signed step later.
        box: ``[N, 4]`` clamp/restart region (lo0, lo1, hi0, hi1) in p-space; None = unclamped, restarts in
            ``[-1, 1]^2`` (release).
        residual: precomputed :func:`periphery_residual` of ``x`` (else computed here).

    Returns:
        :class:`NevaResult` (detached).
    """
    n, _, s, s2 = x.shape
    if s != s2:
        raise ConfigError(f"NevaClip works on square inputs, got {s}x{s2}")
    if target.shape[0] != n or draws.shape[:2] != (n, length) or draws.shape[2] < steps:
        raise ConfigError(
            f"rows disagree: x {tuple(x.shape)}, target {tuple(target.shape)}, draws {tuple(draws.shape)} "
            f"(need [N, {length}, >= {steps}, 2])"
        )
    if record not in ("evaluated", "stepped"):
        raise ConfigError(f"record must be 'evaluated' or 'stepped', got {record!r}")
    grid = coordinate_grid(s, axis_order, x.device)
    r = periphery_residual(x, kernel_size, blur_sigma) if residual is None else residual
    memory = torch.zeros(n, 1, s, s, device=x.device, dtype=x.dtype)
    target = target.detach()
    positions, losses, n_restarts = [], [], []
    for t in range(length):
        p = torch.zeros(n, 2, device=x.device, dtype=x.dtype)
        if box is not None:
            p = torch.minimum(torch.maximum(p, box[:, :2]), box[:, 2:])
        best_p = p.clone()
        best_loss = torch.full((n,), math.inf, device=x.device)
        count = torch.zeros(n, dtype=torch.long, device=x.device)
        for k in range(steps):
            p.requires_grad_(True)
            loss = cosine_loss(encode(perceive(x, r, memory, fovea(p, grid, foveation_sigma, amplitude))), target)
            (g,) = torch.autograd.grad(loss.sum(), p)  # rows are independent: the sum's gradient is per row
            with torch.no_grad():
                p = p.detach()
                stepped = p - lr * torch.sign(g)
                if box is not None:
                    stepped = torch.minimum(torch.maximum(stepped, box[:, :2]), box[:, 2:])
                improved = loss.detach().float() < best_loss
                keep = stepped if record == "stepped" else p
                best_p = torch.where(improved[:, None], keep, best_p)
                best_loss = torch.where(improved, loss.detach().float(), best_loss)
                d = draws[:, t, k].to(x.dtype)
                if restarts:
                    new = _box_map(d, box)
                    count += (~improved).long()
                else:
                    new = stepped + (d + 1.0) * 0.5 * lr - lr / 2
                p = torch.where(improved[:, None], stepped, new)
        memory = (memory * forgetting + fovea(best_p, grid, foveation_sigma, amplitude)).detach()
        positions.append(best_p)
        losses.append(best_loss)
        n_restarts.append(count)
    return NevaResult(torch.stack(positions, 1), torch.stack(losses, 1), torch.stack(n_restarts, 1))


#: the release's schedule (``main.py``), the defaults of :func:`release_loop`
RELEASE_SCHEDULE: dict[str, Any] = {
    "length": 10,
    "steps": 20,
    "lr": 0.1,
    "foveation_sigma": 0.2,
    "forgetting": 0.0,
    "kernel_size": 41,
    "blur_sigma": 10.0,
    "restarts": True,
}


def release_loop(
    encode: Callable[[Tensor], Tensor], x: Tensor, target: Tensor, draws: Tensor, **schedule: Any
) -> Tensor:
    """The release's procedure, one image at a time (``'ij'`` grid, stepped bookkeeping, no clamp), written as
    the release's loop reads, with its random draws taken from ``draws [N, length, steps, 2]``.

    ``schedule`` overrides :data:`RELEASE_SCHEDULE` (length, steps, lr, foveation_sigma, forgetting, kernel_size,
    blur_sigma, restarts). The reference for :func:`optimise_scanpaths` in tests and the baseline of
    ``benchmarks/nevaclip.py``. Returns ``[N, length, 2]`` positions in the release's (row, column) order.
    """
    unknown = set(schedule) - set(RELEASE_SCHEDULE)
    if unknown:
        raise ConfigError(f"release_loop: unknown settings {sorted(unknown)}")
    cfg = {**RELEASE_SCHEDULE, **schedule}
    length, steps, lr, restarts = int(cfg["length"]), int(cfg["steps"]), float(cfg["lr"]), bool(cfg["restarts"])
    foveation_sigma, forgetting = float(cfg["foveation_sigma"]), float(cfg["forgetting"])
    kernel_size, blur_sigma = int(cfg["kernel_size"]), float(cfg["blur_sigma"])
    out = []
    for i in range(x.shape[0]):
        xi, ti = x[i : i + 1], target[i : i + 1].detach()
        size = xi.shape[-1]
        ga, gb = coordinate_grid(size, "ij", x.device)
        blur = periphery_residual(xi, kernel_size, blur_sigma)
        internal = torch.zeros(1, 1, size, size, device=x.device)
        path = []
        for t in range(length):
            pos = torch.zeros(1, 2, 1, 1, device=x.device, requires_grad=True)
            best_pos = torch.zeros(1, 2, 1, 1, device=x.device)
            best_loss = torch.full((1,), math.inf, device=x.device)
            for k in range(steps):
                dist = (ga - pos[:, 0]) ** 2 + (gb - pos[:, 1]) ** 2
                mask = torch.clip(1 - (internal + torch.exp(-dist / foveation_sigma).view(1, 1, size, size)), 0, 1)
                loss = 1 - F.cosine_similarity(encode(xi + blur * mask), ti, 1)
                grad = torch.autograd.grad(loss.mean(), pos)[0]
                pos.data -= torch.sign(grad) * lr
                idx = loss < best_loss
                best_loss[idx] = loss[idx].float()
                best_pos[idx] = pos[idx].detach()
                if bool((~idx).any()):
                    u = draws[i, t, k].view(1, 2, 1, 1)
                    if restarts:
                        pos.data[~idx] = u[~idx]
                    else:
                        pos.data[~idx] += (u[~idx] + 1) * 0.5 * lr - lr / 2
            dist = (ga - best_pos[:, 0]) ** 2 + (gb - best_pos[:, 1]) ** 2
            internal = (internal * forgetting + torch.exp(-dist / foveation_sigma).view(1, 1, size, size)).detach()
            path.append(best_pos.detach().view(2))
        out.append(torch.stack(path))
    return torch.stack(out)


# --------------------------------------------------------------------------------------------- images
def prepare_image(
    image: np.ndarray, size: int = 224, mode: Literal["letterbox", "crop"] = "letterbox"
) -> tuple[Tensor, FrameTransform, tuple[float, float, float, float]]:
    """An RGB ``uint8 [H, W, 3]`` image → CLIP input ``[3, S, S]``, the map original px → input px, and the
    image content ``(x0, y0, x1, y1)`` in input px.

    ``letterbox`` fits the whole image (padding = CLIP's mean colour, 0 after normalisation); ``crop`` is
    CLIP's preprocessing: shorter side to ``S`` (bicubic), centre crop (the margins are never seen).
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or min(img.shape[:2]) < 1:
        raise DataFormatError(f"image must be [H, W, 3] uint8 RGB, got {img.shape} {img.dtype}", field="image")
    h, w = img.shape[:2]
    mean = np.asarray(CLIP_MEAN, np.float32)
    if mode == "letterbox":
        s = min(size / w, size / h)
    elif mode == "crop":
        s = size / min(w, h)
    else:
        raise ConfigError(f"preprocess must be 'letterbox' or 'crop', got {mode!r}")
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(img, (nw, nh), interpolation=interp).astype(np.float32) / 255.0
    if mode == "letterbox":
        ox, oy = (size - nw) // 2, (size - nh) // 2
        canvas = np.empty((size, size, 3), np.float32)
        canvas[:] = mean
        canvas[oy : oy + nh, ox : ox + nw] = resized
        tf = FrameTransform(nw / w, nh / h, float(ox), float(oy))
        content = (float(ox), float(oy), float(ox + nw), float(oy + nh))
    else:
        # torchvision CenterCrop's offsets
        ox, oy = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
        canvas = resized[oy : oy + size, ox : ox + size]
        tf = FrameTransform(nw / w, nh / h, -float(ox), -float(oy))
        content = (0.0, 0.0, float(size), float(size))
    t = (torch.from_numpy(np.ascontiguousarray(canvas)) - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    return t.permute(2, 0, 1).contiguous(), tf, content


def p_to_pixels(p: np.ndarray, size: int, axis_order: str) -> tuple[np.ndarray, np.ndarray]:
    """p-space ``[..., 2]`` → input-px ``(x, y)`` (pixel centres at ``i + 0.5``; grid node i at ``-1 + 2i/(S-1)``)."""
    px = (np.asarray(p, float) + 1.0) * 0.5 * (size - 1) + 0.5
    return (px[..., 0], px[..., 1]) if axis_order == "xy" else (px[..., 1], px[..., 0])


def pixels_to_p(x: np.ndarray, y: np.ndarray, size: int, axis_order: str) -> np.ndarray:
    """Inverse of :func:`p_to_pixels`: input px → p-space ``[..., 2]``."""
    a = (np.asarray(x, float) - 0.5) / (size - 1) * 2.0 - 1.0
    b = (np.asarray(y, float) - 0.5) / (size - 1) * 2.0 - 1.0
    return np.stack([a, b] if axis_order == "xy" else [b, a], axis=-1)


def clip_loss(
    a: Tensor, b: Tensor, ids: Tensor, a_all: Tensor, b_all: Tensor, ids_all: Tensor, scale: Tensor
) -> tuple[Tensor, Tensor]:
    """Symmetric InfoNCE of this process's rows against every process's columns (OpenCLIP's ``local_loss``).

    Args:
        a, b: this process's L2-normalised image and text embeddings ``[B, D]``; ``ids`` their token ids ``[B, T]``.
        a_all, b_all, ids_all: the same for every process's pairs ``[N, ...]`` (``a, b, ids`` in one process).
        scale: the logit scale (``exp(logit_scale)``).

    Returns:
        ``(loss, acc)``: the mean of the image→text and text→image soft cross-entropies (targets spread evenly over
        the columns with the same caption, i.e. equal token ids), and the image→text top-1 accuracy. The mean of
        the losses over equal-sized shards is the loss of one process on all ``N`` rows.
    """
    same = (ids[:, None, :] == ids_all[None, :, :]).all(-1).float()  # [B, N]: rows' positives among the columns
    tgt = same / same.sum(1, keepdim=True)
    img = scale * a @ b_all.t()
    txt = scale * b @ a_all.t()
    loss = 0.5 * (torch.sum(-tgt * img.log_softmax(1), 1).mean() + torch.sum(-tgt * txt.log_softmax(1), 1).mean())
    acc = same[torch.arange(len(a)), img.argmax(1)].mean()
    return loss, acc


# --------------------------------------------------------------------------------------------- the model
class NevaClip(GazekitModule, ScanpathPredictor):
    """NevaClip as a gazekit predictor (tasks caption / freeview / search) and the LightningModule that trains its
    CLIP contrastively (the bundled synthetic-data weights; the scanpath algorithm itself trains nothing).

    Args:
        clip: :func:`~gazekit.backbones.clip.build_clip` config of the CLIP.
        image_size: CLIP input side (224).
        foveation_sigma: ``s`` of the fovea (divides the squared distance; 0.2).
        foveation_amplitude: ``a`` (1).
        blur_kernel, blur_sigma: periphery Gaussian (41 px, 10 px).
        forgetting: memory decay (0: only the previous fixation stays sharp).
        steps, lr: signed-gradient steps per fixation (20) and their size (0.1 grid units).
        length: fixations per scanpath (10).
        restarts: random restart when a step does not improve (True); False gives the release's jitter.
        preprocess: ``"letterbox"`` (default, fixations in the whole image) or ``"crop"`` (release).
        axis_order: ``"xy"`` (default) or ``"ij"`` (release; identical pixels, different draws).
        record: ``"evaluated"`` (default) or ``"stepped"`` (release).
        clamp: keep p inside the image content (default) or leave it free (release).
        start_fixation: prepend the starting position (the image centre) as fixation 0, as search protocols count it.
        train_lr, weight_decay, max_logit_scale: contrastive training.
        gather_negatives: under DDP, contrast each process's pairs with every process's (OpenCLIP's
            ``gather_with_grad``); off: in-batch negatives of the local shard only. No effect in one process.
    """

    model_name: ClassVar[str] = "nevaclip"
    supported_tasks: ClassVar[tuple[str, ...]] = ("caption", "freeview", "search")

    def __init__(
        self,
        clip: dict[str, Any],
        image_size: int = 224,
        foveation_sigma: float = 0.2,
        foveation_amplitude: float = 1.0,
        blur_kernel: int = 41,
        blur_sigma: float = 10.0,
        forgetting: float = 0.0,
        steps: int = 20,
        lr: float = 0.1,
        length: int = 10,
        restarts: bool = True,
        preprocess: Literal["letterbox", "crop"] = "letterbox",
        axis_order: Literal["xy", "ij"] = "xy",
        record: Literal["evaluated", "stepped"] = "evaluated",
        clamp: bool = True,
        start_fixation: bool = False,
        train_lr: float = 1e-3,
        weight_decay: float = 0.05,
        max_logit_scale: float = 100.0,
        gather_negatives: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for name, val, ok in (
            ("preprocess", preprocess, ("letterbox", "crop")),
            ("axis_order", axis_order, ("xy", "ij")),
            ("record", record, ("evaluated", "stepped")),
        ):
            if val not in ok:
                raise ConfigError(f"NevaClip {name} must be one of {ok}, got {val!r}")
        if length < 1 or steps < 1 or foveation_sigma <= 0 or lr <= 0 or not 0 <= forgetting <= 1:
            raise ConfigError(
                "NevaClip needs length >= 1, steps >= 1, foveation_sigma > 0, lr > 0, forgetting in [0, 1]"
            )
        self.clip = build_clip(clip)
        self.tokenizer: CLIPTokenizer | None = None
        #: True when the weights are a published CLIP's (set by :meth:`from_checkpoint`)
        self.published_clip = False
        self.eval_records: list[dict[str, np.ndarray]] = []

    # ------------------------------------------------------------------ embeddings
    def set_tokenizer(self, tokenizer: CLIPTokenizer) -> NevaClip:
        self.tokenizer = tokenizer
        return self

    def encode_text(self, captions: Sequence[str]) -> Tensor:
        """Caption embeddings ``[N, D]`` (the tokenizer pads to the text tower's context)."""
        if self.tokenizer is None:
            raise ConfigError(
                "NevaClip has no tokenizer: load weights with their vocabulary beside them (vocab.json + merges.txt) "
                "or call set_tokenizer()"
            )
        ids = self.tokenizer(list(captions), context_length=self.clip.text.context_length).to(self.device)
        return self.clip.encode_text(ids)

    def _encode_frozen(self, x: Tensor) -> Tensor:
        return self.clip.encode_image(x)

    # ------------------------------------------------------------------ prediction
    def _target_text(self, task: Task) -> str | None:
        if task.kind == "caption":
            return task.caption
        if task.kind == "search":
            cat = task.target.category if task.target is not None else None
            if not cat:
                raise ConfigError(
                    "NevaClip searches by caption: give the target's category (--target-category / Task.search"
                    "(category=...)); a target image or box alone cannot be put into words"
                )
            return cat
        return None

    def _settings(self) -> dict[str, Any]:
        h = self.hparams
        return {
            "length": int(h.length),
            "steps": int(h.steps),
            "lr": float(h.lr),
            "foveation_sigma": float(h.foveation_sigma),
            "amplitude": float(h.foveation_amplitude),
            "forgetting": float(h.forgetting),
            "kernel_size": int(h.blur_kernel),
            "blur_sigma": float(h.blur_sigma),
            "axis_order": str(h.axis_order),
            "record": str(h.record),
            "restarts": bool(h.restarts),
        }

    def draws(self, n: int, seed: int | None) -> Tensor:
        """The restart draws ``[n, length, steps, 2]`` in ``[-1, 1]`` from one seeded generator."""
        g = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return torch.rand(n, int(self.hparams.length), int(self.hparams.steps), 2, generator=g) * 2 - 1

    @torch.no_grad()
    def _prepare(self, stimuli: Sequence[Stimulus]) -> tuple[Tensor, list[FrameTransform], Tensor]:
        size, mode, order = int(self.hparams.image_size), str(self.hparams.preprocess), str(self.hparams.axis_order)
        xs, tfs, boxes = [], [], []
        for st in stimuli:
            t, tf, (x0, y0, x1, y1) = prepare_image(st.load_image(), size, mode)  # type: ignore[arg-type]
            xs.append(t)
            tfs.append(tf)
            lo = pixels_to_p(np.array([x0 + 0.5]), np.array([y0 + 0.5]), size, order)[0]
            hi = pixels_to_p(np.array([x1 - 0.5]), np.array([y1 - 0.5]), size, order)[0]
            boxes.append(np.concatenate([lo, hi]))
        return torch.stack(xs).to(self.device), tfs, torch.tensor(np.array(boxes), dtype=torch.float32)

    def predict_scanpaths(
        self,
        stimuli: Sequence[Stimulus],
        tasks: Sequence[Task | str | None],
        *,
        sample: bool = False,
        seed: int | None = None,
        batch_size: int = 32,
    ) -> list[Scanpath]:
        """Scanpaths for many (stimulus, task) pairs, optimised ``batch_size`` rows at a time.

        NevaClip is stochastic through its restarts: ``seed`` fixes the draws (default 0, so ``sample=False``
        is reproducible); rows get independent draws.
        """
        stimuli, tasks = list(stimuli), [Task.coerce(t) for t in tasks]
        if len(stimuli) != len(tasks):
            raise ConfigError(f"got {len(stimuli)} stimuli but {len(tasks)} tasks")
        for t in tasks:
            if t.kind not in self.supported_tasks:
                raise ConfigError(f"NevaClip supports {self.supported_tasks} tasks, not {t.kind!r}")
        base = 0 if seed is None else int(seed)
        out: list[Scanpath] = []
        for s in range(0, len(stimuli), batch_size):
            out += self._predict_rows(stimuli[s : s + batch_size], tasks[s : s + batch_size], base + s)
        return out

    def _predict_rows(self, stimuli: list[Stimulus], tasks: list[Task], seed: int) -> list[Scanpath]:
        was_training = self.training
        self.eval()
        try:
            # callers (the viewer, Lightning's predict loop) may run under inference mode, whose tensors cannot
            # enter autograd: the search needs gradients with respect to the fovea position
            with torch.inference_mode(False), torch.enable_grad():
                x, tfs, boxes = self._prepare(stimuli)
                texts = [self._target_text(t) for t in tasks]
                with torch.no_grad():
                    target = torch.empty(len(stimuli), self.clip.text.proj.out_features, device=self.device)
                    cap = [i for i, c in enumerate(texts) if c is not None]
                    if cap:
                        target[cap] = self.encode_text([texts[i] for i in cap]).float()
                    free = [i for i, c in enumerate(texts) if c is None]
                    if free:
                        target[free] = self._encode_frozen(x[free]).float()
                res = optimise_scanpaths(
                    self._encode_frozen,
                    x,
                    target,
                    self.draws(len(stimuli), seed).to(self.device),
                    box=boxes.to(self.device) if self.hparams.clamp else None,
                    **self._settings(),
                )
        finally:
            self.train(was_training)
        pos = res.positions.cpu().numpy()
        return [
            self._to_scanpath(st, tk, tf, pos[i], res.losses[i].cpu().numpy(), res.restarts[i].cpu().numpy())
            for i, (st, tk, tf) in enumerate(zip(stimuli, tasks, tfs, strict=True))
        ]

    def _to_scanpath(self, st: Stimulus, task: Task, tf: FrameTransform, pos, losses, restarts) -> Scanpath:  # noqa: ANN001
        size, order = int(self.hparams.image_size), str(self.hparams.axis_order)
        if self.hparams.start_fixation:
            pos = np.concatenate([np.zeros((1, 2)), pos])
        cx, cy = p_to_pixels(pos, size, order)
        x, y = tf.inverse().points(cx, cy)
        meta: dict[str, Any] = {
            "model": "nevaclip",
            "weights": self.weights_source or "untrained",
            "target": TARGETS[task.kind],
            "loss": [float(v) for v in losses],
            "restarts": [int(v) for v in restarts],
            "preprocess": str(self.hparams.preprocess),
            "start_fixation": bool(self.hparams.start_fixation),
        }
        if task.kind == "caption":
            meta["caption"] = task.caption
        if self.weights_source == "synthetic-data" and "px_per_degree" not in st.meta:
            meta["note"] = (
                "synthetic-data weights: this CLIP was trained only on gazekit's synthetic search displays, not on "
                "real images; for photos pass published CLIP weights (e.g. --weights <folder of "
                "timm/resnet50_clip.openai>)"
            )
        return Scanpath(
            x,
            y,
            np.full(len(x), np.nan),
            stimulus=st.name,
            task=task.name,
            condition=task.kind,
            width=float(st.width),
            height=float(st.height),
            meta=meta,
        )

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task | str | None, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        return self.predict_scanpaths([stimulus], [task], sample=sample, seed=seed)[0]

    # ------------------------------------------------------------------ contrastive training (bundled weights)
    def _gather_rows(self, x: Tensor) -> Tensor:
        """Every process's rows of ``x`` in rank order (``[world * B, ...]``), with gradients flowing back to the
        process that computed them; ``x`` itself in one process or with ``gather_negatives=False``."""
        trainer = self._trainer
        if not self.hparams.gather_negatives or trainer is None or trainer.world_size <= 1:
            return x
        return self.all_gather(x, sync_grads=x.requires_grad).flatten(0, 1)

    def contrastive_loss(self, images: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Symmetric InfoNCE; pairs with the same caption (equal token ids) count as positives. Returns (loss,
        image→text top-1 accuracy among the batch's captions).

        Under DDP with ``gather_negatives`` (the default), the negatives are every process's pairs, as OpenCLIP's
        ``gather_with_grad`` + ``local_loss``: each process scores its own images against all texts and its own
        texts against all images (:func:`clip_loss`). With equal local batches, the mean of the processes' losses,
        and so DDP's averaged gradient, is that of one process on the concatenated batch."""
        a = F.normalize(self.clip.encode_image(images), dim=-1)
        b = F.normalize(self.clip.encode_text(ids), dim=-1)
        scale = self.clip.logit_scale.exp().clamp(max=float(self.hparams.max_logit_scale))
        return clip_loss(a, b, ids, self._gather_rows(a), self._gather_rows(b), self._gather_rows(ids), scale)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss, acc = self.contrastive_loss(batch["images"], batch["ids"])
        self.log_dict({"train/loss": loss, "train/acc": acc}, prog_bar=True, batch_size=len(batch["ids"]))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """``val/loss``: the in-batch contrastive loss (depends on how the split is batched); per-sample records
        for the zero-shot metrics of :meth:`epoch_metrics`, which do not."""
        a = F.normalize(self.clip.encode_image(batch["images"]), dim=-1)
        b = F.normalize(self.clip.encode_text(batch["ids"]), dim=-1)
        scale = self.clip.logit_scale.exp().clamp(max=float(self.hparams.max_logit_scale))
        loss, _ = clip_loss(a, b, batch["ids"], a, b, batch["ids"], scale)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["ids"]), sync_dist=True)
        self.eval_records.append({"image": a.float().cpu().numpy(), "ids": batch["ids"].cpu().numpy()})

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    @torch.no_grad()
    def epoch_metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        """Zero-shot classification of every image of the split among every distinct caption of the split (text
        embeddings computed once here): ``acc`` (top-1), ``top5``, ``nll`` (mean cross-entropy of the true caption
        under the softmax of the scaled cosines, nats) and ``classes`` (distinct captions). Each image's score
        depends only on its own embedding and the split's captions, not on how the split was batched."""
        captions, label = np.unique(arrays["ids"], axis=0, return_inverse=True)
        label = torch.from_numpy(label.reshape(-1))
        text = F.normalize(self.clip.encode_text(torch.from_numpy(captions).to(self.device)).float(), dim=-1)
        scale = self.clip.logit_scale.exp().clamp(max=float(self.hparams.max_logit_scale)).float()
        logits = (scale * torch.from_numpy(arrays["image"]).to(self.device) @ text.t()).cpu()
        top = logits.topk(min(5, len(captions)), dim=1).indices
        return {
            "acc": float((top[:, 0] == label).float().mean()),
            "top5": float((top == label[:, None]).any(1).float().mean()),
            "nll": float(F.cross_entropy(logits, label)),
            "classes": float(len(captions)),
        }

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=float(self.hparams.train_lr), weight_decay=float(self.hparams.weight_decay)
        )

    # ------------------------------------------------------------------ weights
    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, Any]) -> dict[str, Any]:
        """A published CLIP state dict (OpenAI / open_clip RN or ViT, transformers ``CLIPModel``) → ``clip.*`` keys;
        gazekit NevaClip checkpoints pass through."""
        sd = dict(state_dict)
        if any(k.startswith("clip.") for k in sd):
            return sd
        return {f"clip.{k}": v for k, v in checkpoint_filter_fn(sd).items()}

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", **overrides: Any) -> NevaClip:
        """:meth:`GazekitModule.from_checkpoint`, plus: a published CLIP (a bare state dict) gets the architecture
        its tensor shapes describe, and the tokenizer is read from the weights' folder (a gazekit checkpoint
        without a vocabulary beside it, such as a training run's ``.ckpt``, uses the bundled synthetic one)."""
        ck = read_checkpoint(path)
        published = ck.init_args is None
        if published and "clip" not in overrides:
            sd = cls.convert_state_dict(ck.state_dict)
            overrides["clip"] = clip_config_from_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("clip.")})
            overrides.setdefault("image_size", overrides["clip"]["vision"]["image_size"])
        model = super().from_checkpoint(path, device, **overrides)
        folder = Path(path).parent
        vocab = folder if published or (folder / "vocab.json").is_file() else ASSET_DIR
        model.set_tokenizer(tokenizer_from_folder(vocab, model.clip.text.context_length))
        model.published_clip = published
        return model

    @classmethod
    def load_for_inference(cls, weights: str | Path | None = None, device: str = "cpu", **overrides: Any) -> NevaClip:
        """The one resolver (explicit → ``$GAZEKIT_WEIGHTS_DIR`` → hub cache → the bundled synthetic-data CLIP); a
        folder may also hold published CLIP weights (``open_clip_model.safetensors`` or transformers'
        ``model.safetensors``) with their vocabulary, which are labelled ``"paper"``."""
        if (
            weights is not None
            and Path(weights).is_dir()
            and not (Path(weights) / f"{CHECKPOINT_NAME}.safetensors").is_file()
        ):
            hit = next((Path(weights) / n for n in PUBLISHED_FILES if (Path(weights) / n).is_file()), None)
            weights = hit or weights
        model = super().load_for_inference(weights, device, **overrides)
        if getattr(model, "published_clip", False):
            model.weights_source = "paper"
        return model
