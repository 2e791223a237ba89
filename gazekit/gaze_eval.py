"""Gaze following on the synthetic scenes, scored as GazeSeg is: the mask and class of the looked-at object beside the
heatmap metrics, for a model, for a heatmap-only predictor turned into a mask (the object under its peak) and for
the any-object control (used by ``gazekit demo`` and ``benchmarks/gazeseg.py eval``; docs/models.md, GazeSeg).

A predictor is anything with ``predict_gaze(image, head_box) -> GazeMap``; an *answer* is a dict with the
``GazeMap`` (``map``), a boolean ``mask [H, W]`` and class ``scores [C]`` (higher is better; -1 for a category
the predictor does not rank).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from gazekit.datasets.synthetic.gaze import GazeScene, target_angular_gap
from gazekit.metrics.following import (
    gazefollow_auc,
    heatmap_argmax,
    inout_ap,
    l2,
    mask_dice,
    mask_iou,
    topk_accuracy,
)
from gazekit.types import GazeMap

__all__ = [
    "GAP_BINS",
    "AnyObjectControl",
    "GazeSegAnswer",
    "HeatmapAsMask",
    "answer_for",
    "object_ranking_scores",
    "object_under_point",
    "score_answers",
]

GAP_BINS = ((35.0, 60.0), (60.0, 90.0), (90.0, float("inf")))


def object_under_point(scene: GazeScene, x: float, y: float) -> int | None:
    """Index of the object whose pixels hold the point (px), or None on background."""
    h, w = scene.object_labels.shape
    lab = int(scene.object_labels[min(int(y), h - 1), min(int(x), w - 1)])
    return lab - 1 if lab > 0 else None


def object_ranking_scores(scene: GazeScene, heat: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """Class scores from a heatmap: each category scores the highest heat on any of its objects' pixels (the
    heat resized to the image); categories absent from the scene score -1. Used to read top-k off a heatmap."""
    h, w = scene.object_labels.shape
    up = cv2.resize(np.asarray(heat, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    sc = np.full(len(categories), -1.0)
    for i, o in enumerate(scene.objects):
        m = scene.object_labels == i + 1
        if m.any():
            k = list(categories).index(o.category)
            sc[k] = max(sc[k], float(up[m].max()))
    return sc


class HeatmapAsMask:
    """A gaze predictor's heatmap turned into a GazeSeg-style answer: the mask and class of the object under its
    peak (empty mask and no class on background); class ranking by :func:`object_ranking_scores`."""

    def __init__(self, predictor: Any, categories: Sequence[str]) -> None:
        self.predictor, self.categories = predictor, list(categories)

    def answer(self, scene: GazeScene, head_box: Sequence[float]) -> dict[str, Any]:
        g = self.predictor.predict_gaze(scene.image, head_box)
        k = object_under_point(scene, *g.point)
        mask = scene.object_labels == (k + 1) if k is not None else np.zeros(scene.object_labels.shape, bool)
        return {"map": g, "mask": mask, "scores": object_ranking_scores(scene, g.heatmap, self.categories)}


class AnyObjectControl:
    """Control, not a model: the mask of a random object of the scene (ground-truth labels), its category as
    the class (then the scene's other categories in random order), a blurred copy of the mask as the heatmap."""

    def __init__(self, categories: Sequence[str], seed: int = 0) -> None:
        self.categories, self.rng = list(categories), np.random.default_rng(seed)

    def answer(self, scene: GazeScene, head_box: Sequence[float]) -> dict[str, Any]:
        h, w = scene.object_labels.shape
        order = self.rng.permutation(len(scene.objects))
        mask = scene.object_labels == order[0] + 1
        heat = cv2.resize(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 3), (64, 64), interpolation=cv2.INTER_AREA)
        heat = heat / max(float(heat.max()), 1e-9)
        r, c = np.unravel_index(int(np.argmax(heat)), heat.shape)
        sc = np.full(len(self.categories), -1.0)
        for rank, k in enumerate(order):
            j = self.categories.index(scene.objects[k].category)
            sc[j] = max(sc[j], float(len(order) - rank))
        g = GazeMap(heat, ((c + 0.5) / 64 * w, (r + 0.5) / 64 * h), 0.8, tuple(head_box))
        return {"map": g, "mask": mask, "scores": sc}


class GazeSegAnswer:
    """GazeSeg's own answer: its heatmap, its mask and its class scores (``meta["top5"]``)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.categories = list(model.hparams.categories)

    def answer(self, scene: GazeScene, head_box: Sequence[float]) -> dict[str, Any]:
        g = self.model.predict_gaze(scene.image, head_box)
        sc = np.full(len(self.categories), -1.0)
        for name, p in g.meta["top5"]:
            sc[self.categories.index(name)] = p
        return {"map": g, "mask": g.mask, "scores": sc}


def score_answers(
    answer_fn: Callable[[GazeScene, Sequence[float]], dict[str, Any]],
    scenes: Sequence[GazeScene],
    categories: Sequence[str],
) -> dict[str, Any]:
    """Mask, class and gaze-following metrics of one predictor over the people of ``scenes``: Dice, IoU, AUC,
    L2 (argmax and DARK), on-target rate (the heatmap argmax on the target's mask dilated by 3 px; overall, its
    standard error and by angular gap to the nearest other object), top-1/top-5 class accuracy over the in-frame
    people, in/out AP over all."""

    rows = {k: [] for k in ("dice", "iou", "auc", "avg_l2", "min_l2", "avg_l2_dark", "on_target", "gap")}
    scores, labels, gt, io = [], [], [], []
    for sc in scenes:
        h, w = sc.image.shape[:2]
        for a in sc.annotations:
            ans = answer_fn(sc, a.head_box)
            g = ans["map"]
            gt.append(a.inout)
            io.append(g.inout)
            if a.inout != 1:
                continue
            pts = a.gaze_points / np.array([w, h])
            rows["dice"].append(mask_dice(ans["mask"], a.target_mask))
            rows["iou"].append(mask_iou(ans["mask"], a.target_mask))
            rows["auc"].append(gazefollow_auc(g.heatmap, pts, (w, h)))
            d, dd = l2(g.heatmap, pts), l2(g.heatmap, pts, decode="dark")
            rows["avg_l2"].append(d["avg"])
            rows["min_l2"].append(d["min"])
            rows["avg_l2_dark"].append(dd["avg"])
            x, y = heatmap_argmax(g.heatmap)
            tm = cv2.dilate(a.target_mask.astype(np.uint8), np.ones((7, 7), np.uint8))
            rows["on_target"].append(bool(tm[min(int(y * h), h - 1), min(int(x * w), w - 1)]))
            rows["gap"].append(target_angular_gap(a, sc.objects))
            scores.append(ans["scores"])
            labels.append(list(categories).index(a.target_category))
    hit, gap = np.array(rows.pop("on_target")), np.array(rows.pop("gap"))
    out = {k: round(float(np.mean(v)), 4) for k, v in rows.items()}
    out["on_target"] = round(float(hit.mean()), 4)
    out["on_target_se"] = round(float(hit.std() / math.sqrt(len(hit))), 4)
    for lo, hi in GAP_BINS:
        sel = (gap >= lo) & (gap < hi)
        out[f"on_target_gap_{int(lo)}_{'inf' if math.isinf(hi) else int(hi)}"] = (
            round(float(hit[sel].mean()), 4) if sel.any() else None
        )
        out[f"n_gap_{int(lo)}"] = int(sel.sum())
    out["top1"] = round(topk_accuracy(np.array(scores), np.array(labels), 1), 4)
    out["top5"] = round(topk_accuracy(np.array(scores), np.array(labels), 5), 4)
    out["ap"] = round(float(inout_ap(np.array(gt), np.array(io))), 4) if 0 < sum(gt) < len(gt) else None
    out["n_in"], out["n"] = int(len(hit)), len(gt)
    return out


def answer_for(
    model: Any, categories: Sequence[str]
) -> tuple[Callable[[GazeScene, Sequence[float]], dict[str, Any]], str]:
    """``(answer function, how it answers)`` for a gaze predictor: its own mask and class when it predicts them
    (GazeSeg: ``categories`` in its hyper-parameters), else the object under its heatmap's peak."""
    hp = getattr(model, "hparams", None)
    if hp is not None and "categories" in hp:
        return GazeSegAnswer(model).answer, "its own mask and class"
    return HeatmapAsMask(model, categories).answer, "the object under its heatmap's peak (ground-truth mask and class)"
