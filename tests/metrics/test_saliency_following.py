"""Saliency and gaze-following metrics: pysaliency's pinned values, MIT loops, sklearn, POT."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazekit.errors import DataFormatError
from gazekit.metrics import _reference as ref
from gazekit.metrics import following as fo
from gazekit.metrics import saliency as sa


def _gauss(h=40, w=40):
    # pysaliency's test model: exp(-0.5 * r^2 / sqrt(w^2 + h^2)) around the image centre
    ys, xs = np.mgrid[:h, :w]
    return np.exp(-0.5 * (((xs - 0.5 * w) ** 2 + (ys - 0.5 * h) ** 2) / np.sqrt(w**2 + h**2)))


# pysaliency tests/test_saliency_map_models.py fixations: image n, x, y
_FIX = [[(0, 10), (1, 11), (2, 12), (2, 12), (2, 12)], [(1, 21), (5, 25), (3, 33)]]


def test_pysaliency_pinned_values():
    g = _gauss()
    per_image = [np.array(f, float) for f in _FIX]
    judd = np.mean([sa.auc_judd(g, f, convention="pysaliency", jitter=False) for f in per_image])
    assert judd == pytest.approx(0.44504278856188684, abs=1e-12)
    rst = np.random.RandomState(42)  # one noise stream over the images, as RandomNoiseSaliencyMapModel
    judd_j = np.mean([sa.auc_judd(g, f, convention="pysaliency", jitter=True, rng=rst) for f in per_image])
    assert judd_j == pytest.approx(0.44674389480275517, abs=1e-12)
    nss = np.concatenate([sa.nss(g, f, per_fixation=True) for f in per_image])
    np.testing.assert_allclose(
        nss,
        [
            -0.821596006113,
            -0.789526121554,
            -0.740616174533,
            -0.740616174533,
            -0.740616174533,
            -0.707322347863,
            -0.433094498355,
            -0.800070419267,
        ],
        atol=1e-11,
    )
    assert nss.mean() == pytest.approx(-0.721682239593952, abs=1e-12)
    sauc = [sa.auc_shuffled(g, np.array([p], float), per_image[1 - k]) for k, f in enumerate(_FIX) for p in f]
    np.testing.assert_allclose(sauc, [0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1, 1, 0.2], atol=1e-15)
    assert sa.sim(g, np.ones((40, 40)), convention="pysaliency") == pytest.approx(0.54392, abs=5e-6)
    assert sa.kld(g, np.ones((40, 40))) == pytest.approx(0.8396272788909165, abs=1e-10)
    assert sa.kld(g, g) == pytest.approx(0.0, abs=1e-12)
    const = np.ones((40, 40))
    assert sa.auc_judd(const, per_image[0], convention="pysaliency", jitter=False) == 0.5
    assert sa.nss(const, per_image[0]) == 0.0


def test_auc_judd_mit_matches_loop_and_sklearn_without_ties():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(10):
        m = rng.random((48, 64))
        fm = np.zeros((48, 64), bool)
        fm[rng.integers(0, 48, 15), rng.integers(0, 64, 15)] = True
        got = sa.auc_judd(m, fm, jitter=False)
        assert got == pytest.approx(ref.auc_judd_mit(m, fm), abs=1e-12)
        assert sa.auc_judd(m, fm, convention="pysaliency", jitter=False) == pytest.approx(got, abs=1e-12)
        assert sa.roc_auc(m[fm], m[~fm]) == pytest.approx(skm.roc_auc_score(fm.ravel(), m.ravel()), abs=1e-12)
        assert sa.nss(m, fm, ddof=1) == pytest.approx(ref.nss_mit(m, fm), abs=1e-10)
        d = rng.random((48, 64))
        assert sa.kld(m, d) == pytest.approx(ref.kld_mit(m, d), abs=1e-10)


def test_roc_auc_with_ties_matches_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for _ in range(20):
        p, n = np.round(rng.random(20), 1), np.round(rng.random(300), 1)
        y = np.r_[np.ones(20), np.zeros(300)]
        assert sa.roc_auc(p, n) == pytest.approx(skm.roc_auc_score(y, np.r_[p, n]), abs=1e-12)


def test_cc_sim_ig_borji_shuffled_properties():
    rng = np.random.default_rng(2)
    m, d = rng.random((30, 40)), rng.random((30, 40))
    assert sa.cc(m, m) == pytest.approx(1.0) and sa.cc(m, -m) == pytest.approx(-1.0)
    assert sa.cc(m, d) == pytest.approx(np.corrcoef(m.ravel(), d.ravel())[0, 1], abs=1e-12)
    assert sa.cc(np.ones((30, 40)), d) == 0.0
    assert sa.sim(m, m) == pytest.approx(1.0) and 0 <= sa.sim(m, d) <= 1
    fix = np.column_stack([rng.integers(0, 40, 12), rng.integers(0, 30, 12)]).astype(float)
    assert sa.information_gain(m, fix, m) == pytest.approx(0.0, abs=1e-12)
    b = sa.auc_borji(m, fix)
    assert 0 <= b <= 1 and b == sa.auc_borji(m, fix)  # seeded
    assert sa.auc_borji(np.ones((30, 40)), fix) == pytest.approx(0.5, abs=0.1)
    s_mit = sa.auc_shuffled(m, fix, fix[::-1] * 0.5, splits=20)
    assert 0 <= s_mit <= 1
    # resizing: a prediction at half resolution is resized to the fixation map
    small = sa.auc_judd(m[::2, ::2], np.zeros((30, 40)) + (np.arange(40) == 3)[None, :], resize="bilinear")
    assert 0 <= small <= 1
    with pytest.raises(DataFormatError):
        sa.auc_judd(m[::2, ::2], np.zeros((30, 40), bool), resize="none")
    assert math.isnan(sa.auc_judd(m, np.zeros((30, 40), bool)))
    with pytest.raises(DataFormatError):
        sa.nss(m, np.array([[100.0, 1.0]]))


def test_emd_matches_pot_and_linprog():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(3)
    g = rng.random((15 * 32, 20 * 32))
    p = rng.random((15 * 32, 20 * 32))
    got = sa.emd(p, g)
    assert got > 0 and sa.emd(g, g) == pytest.approx(0.0, abs=1e-9)
    # the same problem solved by SciPy's LP
    a, b = rng.random(12), rng.random(12)
    a, b = a / a.sum(), b / b.sum()
    M = rng.random((12, 12))
    assert sa._emd_lp(a, b, M, backend="scipy") == pytest.approx(ot.emd2(a, b, M), abs=1e-9)
    # hand fixture: all mass one cell to the right -> EMD 1 (ground distance in cells)
    gt = np.zeros((64, 64))
    gt[:32, :32] = 1.0
    pr = np.zeros((64, 64))
    pr[:32, 32:] = 1.0
    assert sa.emd(pr, gt) == pytest.approx(1.0, abs=1e-9)


def test_gaze_following_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    import cv2

    rng = np.random.default_rng(4)
    for _ in range(15):
        h = rng.random((64, 64))
        pts = rng.random((4, 2))
        W, H = (int(v) for v in rng.integers(80, 300, 2))
        up = cv2.resize(h, (W, H), interpolation=cv2.INTER_LINEAR)
        tg = np.zeros((H, W), int)
        tg[np.clip((pts[:, 1] * H).astype(int), 0, H - 1), np.clip((pts[:, 0] * W).astype(int), 0, W - 1)] = 1
        assert fo.gazefollow_auc(h, pts, (W, H)) == pytest.approx(skm.roc_auc_score(tg.ravel(), up.ravel()), abs=1e-12)
        p = rng.random(2)
        t = fo.vat_target_map(p)
        assert fo.vat_auc(h, p) == pytest.approx(skm.roc_auc_score(t.ravel(), h.ravel()), abs=1e-12)
        y, s = rng.integers(0, 2, 40), np.round(rng.random(40), 1)
        if y.any():
            assert fo.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_gaze_following_hand_fixtures():
    h = np.zeros((64, 64))
    h[16, 32] = 1.0  # argmax at (x, y) = (32/64, 16/64) = (0.5, 0.25)
    assert fo.heatmap_argmax(h) == (0.5, 0.25)
    r = fo.l2(h, np.array([[0.5, 0.25], [0.5, 0.75]]))
    assert r["min"] == 0.0 and r["avg"] == pytest.approx(0.25)
    t = fo.vat_target_map((0.5, 0.5))
    assert t.sum() == 19 * 19 and t[32 - 9, 32 - 9] and not t[32 + 10, 32]
    edge = fo.vat_target_map((1.0, 1.0), convention="gazelle")
    assert not edge[:, 63].any() and fo.vat_target_map((1.0, 1.0))[:, 63].any()
    assert fo.inout_ap([1, 0, -1, 1], [0.9, 0.1, 0.5, 0.8]) == 1.0
    assert math.isnan(fo.gazefollow_auc(h, np.zeros((0, 2)), (100, 100)))


def test_conditional_metrics_match_hat_formulas():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    maps = rng.random((6, 20, 30))
    maps[0] = 0.25  # constant map (exactly representable): std 0 -> 1, every pixel ties
    nxt = np.column_stack([rng.integers(0, 30, 6), rng.integers(0, 20, 6)])
    prior = rng.random((20, 30))
    t = torch.from_numpy(maps)
    f = torch.from_numpy(nxt)
    thr = t[torch.arange(6), f[:, 1], f[:, 0]]
    tmp = (t >= thr.view(6, 1, 1)).double().view(6, -1)
    fp = (tmp.sum(-1) - 1) / (tmp.size(-1) - 1)
    want_auc = [float(torch.trapz(torch.tensor([0.0, 1.0, 1.0]), torch.tensor([0.0, float(x), 1.0]))) for x in fp]
    np.testing.assert_allclose(sa.conditional_auc(maps, nxt), want_auc, atol=1e-12)
    sd = t.view(6, -1).std(dim=1)
    sd[sd == 0] = 1
    want_nss = ((thr - t.view(6, -1).mean(dim=1)) / sd).numpy()
    np.testing.assert_allclose(sa.conditional_nss(maps, nxt), want_nss, atol=1e-12)
    p = maps / maps.sum(axis=(1, 2), keepdims=True)
    ig = sa.conditional_ig(p, nxt, prior)
    b = np.arange(6)
    np.testing.assert_allclose(
        ig, np.log2(p[b, nxt[:, 1], nxt[:, 0]] + sa.EPS) - np.log2(prior[nxt[:, 1], nxt[:, 0]] + sa.EPS)
    )
    assert sa.conditional_auc(maps, nxt)[0] == 0.5
    with pytest.raises(DataFormatError):
        sa.conditional_auc(maps, nxt[:3])
