"""Gaze-following metrics as ``ejcgt/attention-target-detection`` (``utils/evaluation.py``, ``eval_on_*.py``)
computes them: GazeFollow AUC (full resolution, one positive pixel per annotator), VideoAttentionTarget
AUC (64 x 64, 19 x 19 square target), average / minimum L2 of the heatmap argmax, and in/out AP.

ViTGaze's release (``hustvl/ViTGaze``, ``tools/``) differs in two places, both available here: its VAT AUC
target is a disc of radius sqrt(10)·σ ≈ 9.5 px (``vat_target_map(convention="vitgaze")``) and its L2 can be
decoded with DARK sub-pixel refinement (:func:`dark_point`). :func:`evaluate_gaze_arrays` scores stacked
predictions with either protocol. Target-mask and class metrics (GazeSeg): :func:`mask_dice`,
:func:`mask_iou`, :func:`topk_accuracy`.

Gaze points are **normalised** ``(x, y)`` in [0, 1] of the image (as the annotation files store them);
rows with a ``-1`` coordinate are padding and are ignored by every function here (as the reference drops
them), so ``[K_max, 2]`` padded annotator arrays can be passed as they are; heatmaps are ``[h, w]`` (64 x 64 for the published models) covering the whole image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics.saliency import roc_auc

__all__ = [
    "average_precision",
    "dark_point",
    "evaluate_gaze_arrays",
    "gazefollow_auc",
    "heatmap_argmax",
    "inout_ap",
    "l2",
    "mask_dice",
    "mask_iou",
    "topk_accuracy",
    "vat_auc",
    "vat_target_map",
]


def _heat(h: np.ndarray) -> np.ndarray:
    m = np.asarray(h, dtype=np.float64)
    if m.ndim != 2 or m.size == 0 or not np.all(np.isfinite(m)):
        raise DataFormatError(f"heatmap must be a finite non-empty [h, w] array, got shape {m.shape}")
    return m


def _pts(points: np.ndarray) -> np.ndarray:
    """``[K, 2]`` annotator points without the ``-1`` padding rows: GazeFollow test batches pad the
    annotators to a fixed count with ``(-1, -1)`` and the reference drops them (``gaze[gaze != -1]``)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(p)):
        raise DataFormatError("gaze points must be finite")
    return p[~np.any(p == -1.0, axis=1)]


def heatmap_argmax(heatmap: np.ndarray) -> tuple[float, float]:
    """Normalised ``(col / w, row / h)`` of the heatmap maximum (first one on ties; no +0.5, as the reference)."""
    m = _heat(heatmap)
    r, c = np.unravel_index(int(np.argmax(m)), m.shape)
    return c / m.shape[1], r / m.shape[0]


def gazefollow_auc(heatmap: np.ndarray, gaze_points: np.ndarray, image_size: tuple[int, int]) -> float:
    """GazeFollow AUC: the heatmap upsampled bilinearly to the image size ``(W, H)``; positives are the
    pixels ``(int(x * W), int(y * H))`` of every annotator (clipped to the image), negatives all others;
    ``roc_auc_score`` over all pixels (ties half)."""
    import cv2

    W, H = int(image_size[0]), int(image_size[1])
    if W <= 0 or H <= 0:
        raise ConfigError(f"image size must be positive, got {image_size}")
    m = _heat(heatmap)
    up = cv2.resize(m, (W, H), interpolation=cv2.INTER_LINEAR) if m.shape != (H, W) else m
    p = _pts(gaze_points)
    if len(p) == 0:
        return float("nan")
    xs = np.clip((p[:, 0] * W).astype(np.int64), 0, W - 1)
    ys = np.clip((p[:, 1] * H).astype(np.int64), 0, H - 1)
    target = np.zeros((H, W), dtype=bool)
    target[ys, xs] = True
    return roc_auc(up[target], up[~target])


def dark_point(heatmap: np.ndarray, kernel: int = 39) -> tuple[float, float]:
    """DARK sub-pixel decoding as ViTGaze's ``tools/utils.py dark_inference``, normalised ``(x / w, y / h)``.

    The map is zero-padded by ``(kernel − 1) / 2``, Gaussian-blurred (``kernel`` × ``kernel``, σ from OpenCV's
    rule), rescaled to its original maximum, and log-transformed (floor 1e-10); from the argmax, one Newton step
    with central first and second differences (step 2 for the pure second derivatives, as released) moves the
    point unless it lies within 2 cells of the border or the Hessian is singular.
    """
    import cv2

    m = _heat(heatmap)
    if kernel < 1 or kernel % 2 == 0:
        raise ConfigError(f"DARK kernel must be a positive odd size, got {kernel}")
    h, w = m.shape
    r, c = np.unravel_index(int(np.argmax(m)), m.shape)
    x, y = float(c), float(r)
    top = m.max()
    b = (kernel - 1) // 2
    pad = np.zeros((h + 2 * b, w + 2 * b))
    pad[b : b + h, b : b + w] = m
    blur = cv2.GaussianBlur(pad, (kernel, kernel), 0)[b : b + h, b : b + w]
    bmax = blur.max()
    if bmax > 0:
        blur = blur * (top / bmax)
    lg = np.log(np.maximum(blur, 1e-10))
    if 1 < c < w - 2 and 1 < r < h - 2:
        dx = 0.5 * (lg[r, c + 1] - lg[r, c - 1])
        dy = 0.5 * (lg[r + 1, c] - lg[r - 1, c])
        dxx = 0.25 * (lg[r, c + 2] - 2 * lg[r, c] + lg[r, c - 2])
        dyy = 0.25 * (lg[r + 2, c] - 2 * lg[r, c] + lg[r - 2, c])
        dxy = 0.25 * (lg[r + 1, c + 1] - lg[r - 1, c + 1] - lg[r + 1, c - 1] + lg[r - 1, c - 1])
        det = dxx * dyy - dxy * dxy
        if det != 0:
            off = -np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ np.array([dx, dy])
            x, y = x + float(off[0]), y + float(off[1])
    return x / w, y / h


def l2(heatmap: np.ndarray, gaze_points: np.ndarray, *, decode: str = "argmax") -> dict[str, float]:
    """Distances (normalised units) from the decoded heatmap point to the annotations.

    ``avg``: to the **mean** annotator point (GazeFollow "Avg. Dist", and VAT L2 with one point);
    ``min``: to the closest annotator point. ``decode``: ``"argmax"`` (the peers) or ``"dark"``
    (ViTGaze's ``--use_dark_inference``, :func:`dark_point`).
    """
    if decode not in ("argmax", "dark"):
        raise ConfigError(f"decode must be 'argmax' or 'dark', got {decode!r}")
    p = _pts(gaze_points)
    if len(p) == 0:
        return {"avg": float("nan"), "min": float("nan")}
    x, y = heatmap_argmax(heatmap) if decode == "argmax" else dark_point(heatmap)
    pred = np.array([x, y])
    avg = float(np.linalg.norm(pred - p.mean(axis=0)))
    mn = float(np.min(np.linalg.norm(p - pred[None], axis=1)))
    return {"avg": avg, "min": mn}


def vat_target_map(point: Sequence[float], size: int = 64, *, convention: str = "ejcgt") -> np.ndarray:
    """VideoAttentionTarget's evaluation target: a 19 x 19 square around ``(x * size, y * size)`` (the
    support of ``draw_labelmap`` with sigma 3), clipped. ``convention="gazelle"`` clips the upper edge at
    ``size - 1`` as Gaze-LLE does (so the last row/column is never positive). ``convention="vitgaze"`` is
    ViTGaze's ``draw_labelmap_no_quant`` support: cells ``(col, row)`` with ``(col − x·size)² + (row − y·size)²
    ≤ 10·σ²`` (σ 3: a disc of radius ≈ 9.5 cells around the unrounded point)."""
    x, y = float(point[0]) * size, float(point[1]) * size
    if convention == "vitgaze":
        idx = np.arange(size, dtype=np.float64)
        return (idx[None, :] - x) ** 2 + (idx[:, None] - y) ** 2 <= 10 * 3.0**2
    cap = size if convention == "ejcgt" else size - 1 if convention == "gazelle" else None
    if cap is None:
        raise ConfigError(f"convention must be 'ejcgt', 'gazelle' or 'vitgaze', got {convention!r}")
    x0, x1 = max(int(x - 9), 0), min(int(x + 10), cap)
    y0, y1 = max(int(y - 9), 0), min(int(y + 10), cap)
    t = np.zeros((size, size), dtype=bool)
    if x1 > x0 and y1 > y0:
        t[y0:y1, x0:x1] = True
    return t


def vat_auc(heatmap: np.ndarray, point: Sequence[float], *, convention: str = "ejcgt") -> float:
    """VideoAttentionTarget AUC on in-frame frames: the ``[64, 64]`` heatmap against :func:`vat_target_map`."""
    m = _heat(heatmap)
    if m.shape[0] != m.shape[1]:
        raise DataFormatError(f"VAT heatmaps are square (64 x 64), got {m.shape}")
    t = vat_target_map(point, m.shape[0], convention=convention)
    if not t.any() or t.all():
        return float("nan")
    return roc_auc(m[t], m[~t])


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision, ``sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds (=
    ``sklearn.metrics.average_precision_score``); NaN without positives."""
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise DataFormatError(f"labels and scores differ in length ({y.size} vs {s.size})")
    npos = int(y.sum())
    if npos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # end of each tie group
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / npos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def inout_ap(inout_gt: np.ndarray, inout_score: np.ndarray) -> float:
    """In/out AP over **all** frames with **in-frame as the positive class** (what papers call "out-of-frame
    AP", as the reference computes it). ``inout_gt``: 1 in frame, 0 out; entries of -1 (invalid) are dropped."""
    g = np.asarray(inout_gt).ravel()
    sc = np.asarray(inout_score, dtype=np.float64).ravel()
    if g.shape != sc.shape:
        raise DataFormatError(f"in/out labels and scores differ in length ({g.size} vs {sc.size})")
    keep = g >= 0
    return average_precision(g[keep] == 1, sc[keep])


def evaluate_gaze_arrays(
    arr: dict[str, np.ndarray], *, protocol: str = "gazefollow", decode: str = "argmax"
) -> dict[str, float]:
    """Gaze-following metrics over stacked predictions.

    ``arr``: ``heat [M, h, w]``, ``points [M, K, 2]`` (normalised, −1 padded), ``inout [M]`` (1/0), ``score [M]``
    (in-frame probability), ``imsize [M, 2]`` (W, H). AUC and L2 use in-frame samples with points.

    ``protocol="gazefollow"``: :func:`gazefollow_auc` (image-size map, every annotator point) and L2 to the mean
    / closest point. ``protocol="vat"``: ViTGaze's VAT scoring, :func:`vat_auc` on the map resized to 64 × 64
    against the ``"vitgaze"`` disc around the (first) point, L2 to it. ``decode``: see :func:`l2`.
    """
    import cv2

    if protocol not in ("gazefollow", "vat"):
        raise ConfigError(f"protocol must be 'gazefollow' or 'vat', got {protocol!r}")
    aucs, avg, mn = [], [], []
    for i in range(len(arr["heat"])):
        if arr["inout"][i] < 0.5:
            continue
        pts = np.asarray(arr["points"][i], np.float64).reshape(-1, 2)
        pts = pts[(pts >= 0).all(-1)]
        if len(pts) == 0:
            continue
        heat = np.asarray(arr["heat"][i], np.float64)
        if protocol == "gazefollow":
            aucs.append(gazefollow_auc(heat, pts, tuple(int(v) for v in arr["imsize"][i])))
        else:
            pts = pts[:1]
            h64 = heat if heat.shape == (64, 64) else cv2.resize(heat, (64, 64), interpolation=cv2.INTER_LINEAR)
            aucs.append(vat_auc(h64, pts[0], convention="vitgaze"))
        d = l2(heat, pts, decode=decode)
        avg.append(d["avg"])
        mn.append(d["min"])
    inout = np.asarray(arr["inout"])
    has_both = 0 < inout.sum() < len(inout)
    return {
        "auc": float(np.nanmean(aucs)) if aucs else float("nan"),
        "avg_l2": float(np.mean(avg)) if avg else float("nan"),
        "min_l2": float(np.mean(mn)) if mn else float("nan"),
        "ap": inout_ap(inout, arr["score"]) if has_both else float("nan"),
    }


def _masks(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred).astype(bool), np.asarray(target).astype(bool)
    if p.shape != t.shape:
        raise DataFormatError(f"predicted and target masks differ in shape ({p.shape} vs {t.shape})")
    return p, t


def mask_dice(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice ``2|P ∩ T| / (|P| + |T|)`` of two boolean masks of one shape; 1 when both are empty."""
    p, t = _masks(pred, target)
    tot = int(p.sum()) + int(t.sum())
    return 1.0 if tot == 0 else 2.0 * int((p & t).sum()) / tot


def mask_iou(pred: np.ndarray, target: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape; 1 when both are empty. The mean over
    samples is the "mIoU" of gaze-target segmentation (PixelGaze reports it per target, not per class)."""
    p, t = _masks(pred, target)
    union = int((p | t).sum())
    return 1.0 if union == 0 else int((p & t).sum()) / union


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Share of rows of ``scores [M, C]`` whose label is among the ``k`` highest scores (ties: lower index
    first); rows with a negative label are skipped; NaN when none is left."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).ravel()
    if s.ndim != 2 or len(s) != len(y):
        raise DataFormatError(f"scores must be [M, C] with one label per row, got {s.shape} and {y.shape}")
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if not np.all(np.isfinite(s)):
        raise DataFormatError("scores must be finite")
    keep = y >= 0
    if not keep.any():
        return float("nan")
    if np.any(y[keep] >= s.shape[1]):
        raise DataFormatError(f"label out of range for {s.shape[1]} classes")
    s, y = s[keep], y[keep]
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return float(np.mean((order == y[:, None]).any(1)))
