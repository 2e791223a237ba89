"""Gaze-following metrics as ``ejcgt/attention-target-detection`` (``utils/evaluation.py``, ``eval_on_*.py``)
computes them: GazeFollow AUC (full resolution, one positive pixel per annotator), VideoAttentionTarget
AUC (64 x 64, 19 x 19 square target), average / minimum L2 of the heatmap argmax, and in/out AP.

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
    "gazefollow_auc",
    "heatmap_argmax",
    "inout_ap",
    "l2",
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


def l2(heatmap: np.ndarray, gaze_points: np.ndarray) -> dict[str, float]:
    """Distances (normalised units) from the heatmap argmax to the annotations.

    ``avg``: to the **mean** annotator point (GazeFollow "Avg. Dist", and VAT L2 with one point);
    ``min``: to the closest annotator point.
    """
    p = _pts(gaze_points)
    if len(p) == 0:
        return {"avg": float("nan"), "min": float("nan")}
    x, y = heatmap_argmax(heatmap)
    pred = np.array([x, y])
    avg = float(np.linalg.norm(pred - p.mean(axis=0)))
    mn = float(np.min(np.linalg.norm(p - pred[None], axis=1)))
    return {"avg": avg, "min": mn}


def vat_target_map(point: Sequence[float], size: int = 64, *, convention: str = "ejcgt") -> np.ndarray:
    """VideoAttentionTarget's evaluation target: a 19 x 19 square around ``(x * size, y * size)`` (the
    support of ``draw_labelmap`` with sigma 3), clipped. ``convention="gazelle"`` clips the upper edge at
    ``size - 1`` as Gaze-LLE does (so the last row/column is never positive)."""
    x, y = float(point[0]) * size, float(point[1]) * size
    cap = size if convention == "ejcgt" else size - 1 if convention == "gazelle" else None
    if cap is None:
        raise ConfigError(f"convention must be 'ejcgt' or 'gazelle', got {convention!r}")
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
