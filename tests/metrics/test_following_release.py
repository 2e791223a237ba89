"""ViTGaze's evaluation as released (VAT disc, DARK) and GazeSeg's mask/class metrics, against plain references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics.following import (
    dark_point,
    evaluate_gaze_arrays,
    gazefollow_auc,
    l2,
    mask_dice,
    mask_iou,
    topk_accuracy,
    vat_auc,
    vat_target_map,
)
from gazekit.metrics.saliency import roc_auc


def _gauss(size: int, x: float, y: float, s: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s))


def test_vitgaze_disc_is_the_support_of_the_unquantised_labelmap() -> None:
    # release: draw_labelmap_no_quant zeroes the Gaussian where d^2 > 10 sigma^2, targets are map > 0
    for pt in [(0.5, 0.5), (0.013, 0.97), (0.31, 0.0), (0.999, 0.999)]:
        x, y = pt[0] * 64, pt[1] * 64
        ref = np.zeros((64, 64), bool)
        for r in range(64):
            for c in range(64):
                ref[r, c] = (c - x) ** 2 + (r - y) ** 2 <= 90.0
        assert np.array_equal(vat_target_map(pt, 64, convention="vitgaze"), ref)
    assert 250 < vat_target_map((0.5, 0.5), 64, convention="vitgaze").sum() < 300  # ~ pi * 90 cells
    with pytest.raises(ConfigError):
        vat_target_map((0.5, 0.5), convention="disc")


def test_vat_auc_with_the_disc_and_edge_cases() -> None:
    h = _gauss(64, 20.0, 40.0)
    t = vat_target_map((20 / 64, 40 / 64), 64, convention="vitgaze")
    assert vat_auc(h, (20 / 64, 40 / 64), convention="vitgaze") == pytest.approx(roc_auc(h[t], h[~t]))
    assert vat_auc(h, (20 / 64, 40 / 64), convention="vitgaze") > vat_auc(h, (0.9, 0.1), convention="vitgaze")
    one = np.ones((1, 1))
    assert math.isnan(vat_auc(one, (0.5, 0.5), convention="vitgaze"))  # every cell positive


def test_dark_recovers_a_subpixel_peak() -> None:
    for x, y in [(20.3, 30.7), (40.6, 12.2), (31.5, 31.5)]:
        h = _gauss(64, x, y, 2.0)
        px, py = dark_point(h)
        assert abs(px * 64 - x) < 0.15 and abs(py * 64 - y) < 0.15
        ax, ay = l2(h, np.array([[x / 64, y / 64]]))["avg"], l2(h, np.array([[x / 64, y / 64]]), decode="dark")["avg"]
        assert ay < ax
    # near the border the release keeps the argmax
    h = _gauss(64, 0.6, 40.2, 2.0)
    assert dark_point(h) == (1 / 64, 40 / 64)  # argmax cell (1, 40): within 2 cells of the left border
    flat = np.zeros((8, 8))
    assert dark_point(flat) == (0.0, 0.0)
    with pytest.raises(ConfigError):
        dark_point(h, kernel=4)
    with pytest.raises(ConfigError):
        l2(h, np.array([[0.1, 0.1]]), decode="soft")


def test_evaluate_gaze_arrays_protocols() -> None:
    heat = np.stack([_gauss(64, 16, 16), _gauss(64, 50, 40), np.zeros((64, 64))])
    pts = -np.ones((3, 3, 2))
    pts[0, :2] = [[0.25, 0.25], [0.3, 0.25]]
    pts[1, :1] = [[0.78, 0.62]]
    arr = {
        "heat": heat,
        "points": pts,
        "inout": np.array([1.0, 1.0, 0.0]),
        "score": np.array([0.9, 0.8, 0.1]),
        "imsize": np.array([[320, 240]] * 3),
    }
    gf = evaluate_gaze_arrays(arr)
    want_auc = np.mean([gazefollow_auc(heat[i], pts[i][(pts[i] >= 0).all(-1)], (320, 240)) for i in (0, 1)])
    assert gf["auc"] == pytest.approx(want_auc) and gf["ap"] == pytest.approx(1.0)
    vat = evaluate_gaze_arrays(arr, protocol="vat")
    want = np.mean([vat_auc(heat[i], pts[i][0], convention="vitgaze") for i in (0, 1)])
    assert vat["auc"] == pytest.approx(want)
    assert evaluate_gaze_arrays(arr, decode="dark")["avg_l2"] <= gf["avg_l2"] + 1e-9
    with pytest.raises(ConfigError):
        evaluate_gaze_arrays(arr, protocol="gazecapture")
    none_in = dict(arr, inout=np.zeros(3))
    assert math.isnan(evaluate_gaze_arrays(none_in)["auc"])


def test_mask_metrics() -> None:
    a = np.zeros((4, 5), bool)
    b = np.zeros((4, 5), bool)
    a[1:3, 1:4] = True  # 6 px
    b[2:4, 2:5] = True  # 6 px, overlap 2
    assert mask_dice(a, b) == pytest.approx(4 / 12)
    assert mask_iou(a, b) == pytest.approx(2 / 10)
    assert mask_dice(a, a) == 1 and mask_iou(a, a) == 1
    assert mask_dice(np.zeros((2, 2)), np.zeros((2, 2))) == 1  # both empty
    assert mask_dice(a, np.zeros_like(a)) == 0
    one = np.ones((1, 1), bool)
    assert mask_iou(one, one) == 1
    with pytest.raises(DataFormatError):
        mask_dice(a, b[:3])


def test_topk_accuracy_against_a_loop() -> None:
    rng = np.random.default_rng(0)
    s = rng.random((50, 7))
    y = rng.integers(-1, 7, 50)
    for k in (1, 3, 7):
        ref = [y[i] in np.argsort(-s[i], kind="stable")[:k] for i in range(50) if y[i] >= 0]
        assert topk_accuracy(s, y, k) == pytest.approx(np.mean(ref))
    assert topk_accuracy(s, y, 7) == 1.0
    assert math.isnan(topk_accuracy(s[:2], np.array([-1, -1])))
    ties = np.array([[0.5, 0.5, 0.1]])
    assert topk_accuracy(ties, np.array([0])) == 1 and topk_accuracy(ties, np.array([1])) == 0
    with pytest.raises(DataFormatError):
        topk_accuracy(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(DataFormatError):
        topk_accuracy(s, y[:3])
    with pytest.raises(DataFormatError):
        topk_accuracy(s, np.full(50, 9))
    with pytest.raises(ConfigError):
        topk_accuracy(s, y, 0)
