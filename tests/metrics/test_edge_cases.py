"""Edge cases: empty and one-fixation scanpaths, NaN input, and saliency invariances (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazekit.errors import DataFormatError
from gazekit.metrics import _reference as ref
from gazekit.metrics import following as fo
from gazekit.metrics import saliency as sa
from gazekit.metrics import scanpath as sm
from gazekit.types import Scanpath

SIZE = (640, 480)


def test_empty_and_single_fixation_scanpaths():
    empty = Scanpath(np.zeros(0), np.zeros(0), stimulus="a")
    one = np.array([[100.0, 100.0, 200.0]])
    two = np.array([[100.0, 100.0, 200.0], [300.0, 200.0, 250.0]])
    assert math.isnan(sm.dtw(empty, one)) and math.isnan(sm.frechet(one, empty))
    assert math.isnan(sm.eyenalysis(empty, empty))
    assert sm.dtw(one, two) == pytest.approx(np.hypot(200, 100))
    assert sm.scanmatch(one, one, SIZE) == 1.0
    assert math.isnan(sm.scanmatch(empty, empty, SIZE))
    assert sm.scanmatch(empty, one, SIZE) == 0.0
    mm = sm.multimatch(one, two, SIZE)
    assert all(math.isnan(v) for v in mm.values())  # < 3 fixations, as multimatch-gaze
    assert math.isnan(sm.time_delay_embedding(two, two, k=3))
    assert sm.scaled_time_delay_embedding(one, one, 640) == 1.0
    assert math.isnan(sm.scaled_time_delay_embedding(empty, one, 640))
    assert sm.sequence_score([7], [7]) == 1.0
    assert sm.edit_distance([], [1, 2, 3]) == 3


def test_nan_and_bad_shapes_raise_clear_errors():
    bad = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    ok = np.array([[1.0, 2.0], [2.0, 3.0], [4.0, 5.0]])
    for fn in (sm.dtw, sm.frechet, sm.eyenalysis):
        with pytest.raises(DataFormatError, match="finite"):
            fn(bad, ok)
    with pytest.raises(DataFormatError, match="finite"):
        sm.scanmatch(bad, ok, SIZE)
    with pytest.raises(DataFormatError, match="finite"):
        sm.multimatch(bad, ok, SIZE)
    with pytest.raises(DataFormatError, match=r"\[n, 2\]"):
        sm.dtw(np.zeros((3, 1)), ok)
    m = np.ones((10, 10))
    m[2, 2] = np.nan
    with pytest.raises(DataFormatError, match="NaN"):
        sa.auc_judd(m, np.array([[1.0, 1.0]]))
    with pytest.raises(DataFormatError, match="non-negative"):
        sa.kld(-np.ones((4, 4)), np.ones((4, 4)))
    # MultiMatch with unknown durations: duration NaN only (documented), the other four defined
    r = sm.multimatch(Scanpath([1, 50, 90, 10], [1, 30, 5, 60]), Scanpath([3, 40, 95, 20], [2, 33, 1, 50]), SIZE)
    assert math.isnan(r["duration"]) and all(math.isfinite(r[k]) for k in ("shape", "direction", "length", "position"))


maps = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s).random((24, 32)))


@settings(max_examples=25, deadline=None)
@given(maps, maps, st.floats(min_value=0.01, max_value=100), st.floats(min_value=-5, max_value=5))
def test_saliency_invariances(m, d, scale, shift):
    rng = np.random.default_rng(int(m[0, 0] * 1e9))
    fix = np.column_stack([rng.integers(0, 32, 8), rng.integers(0, 24, 8)]).astype(float)
    # rank metrics ignore any increasing affine map of the prediction; NSS and CC too
    assert sa.nss(m * scale + shift, fix) == pytest.approx(sa.nss(m, fix), abs=1e-9)
    assert sa.auc_judd(m * scale + shift, fix, jitter=False) == pytest.approx(
        sa.auc_judd(m, fix, jitter=False), abs=1e-9
    )
    # ...except for AUC-Judd's default tie-breaking: AUC_Judd.m adds 1e-7 * rand to the raw map before it
    # normalises, so once scaled down, values closer than ~1e-7 may swap ranks (a few pixels at most here)
    assert sa.auc_judd(m * scale + shift, fix) == pytest.approx(sa.auc_judd(m, fix), abs=2e-3)
    assert sa.auc_shuffled(m * scale + shift, fix, fix[::-1] + 0) == pytest.approx(
        sa.auc_shuffled(m, fix, fix[::-1]), abs=1e-12
    )
    assert sa.cc(m * scale + shift, d) == pytest.approx(sa.cc(m, d), abs=1e-9)
    # distribution metrics ignore the prediction's scale
    assert sa.kld(m * scale, d) == pytest.approx(sa.kld(m, d), abs=1e-9)
    assert sa.sim(m * scale, d) == pytest.approx(sa.sim(m, d), abs=1e-9)
    # bounds and identities
    assert 0 <= sa.auc_judd(m, fix) <= 1 and -1 - 1e-12 <= sa.cc(m, d) <= 1 + 1e-12
    assert sa.sim(m, m) == pytest.approx(1.0) and sa.kld(d, d) == pytest.approx(0.0, abs=1e-12)
    assert sa.kld(m, d) >= -1e-12


# ------------------------------------------------------------------ degenerate maps (MIT / GazeFollow code)
def test_auc_judd_ties_and_constant_map_follow_the_jittered_references():
    rng = np.random.default_rng(3)
    m = np.round(rng.random((30, 40)) * 3)  # four values: many ties
    fm = np.zeros((30, 40), bool)
    fm[rng.integers(0, 30, 25), rng.integers(0, 40, 25)] = True
    # the default is the MIT code's own jitter (uniform 1e-7 noise), seeded: identical draw, identical value
    assert sa.auc_judd(m, fm) == pytest.approx(ref.auc_judd_mit_jittered(m, fm, 42), abs=1e-12)
    jittered = np.mean([ref.auc_judd_mit_jittered(m, fm, s) for s in range(30)])
    assert sa.auc_judd(m, fm) == pytest.approx(jittered, abs=0.03)
    assert abs(sa.auc_judd(m, fm, jitter=False) - jittered) > 0.05  # what the old default gave
    const = np.full((30, 40), 5.0)
    assert sa.auc_judd(const, fm) == pytest.approx(0.5, abs=0.1)
    assert sa.auc_judd(const, fm, jitter=False) < 0.05  # ~1/(2N) without tie breaking
    assert sa.auc_judd(m, fm, convention="pysaliency") == pytest.approx(sa.auc_judd(m, fm), abs=0.05)


def test_sim_ig_kld_on_zero_and_constant_maps_match_the_mit_code():
    rng = np.random.default_rng(4)
    d = rng.random((12, 16))
    fm = np.zeros((12, 16), bool)
    fm[[1, 5, 9], [2, 7, 11]] = True
    zero, const = np.zeros((12, 16)), np.full((12, 16), 0.7)
    for a, b in ((zero, d), (d, zero), (const, d), (d, const), (zero, const)):
        want = ref.sim_mit(a, b)
        got = sa.sim(a, b, resize="none")
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12), (a[0, 0], b[0, 0])
    assert sa.sim(zero, d) == 0.0 and math.isnan(sa.sim(const, d))
    assert sa.sim(d, d) == pytest.approx(ref.sim_mit(d, d), abs=1e-12)
    for p, base in ((zero, d), (const, d), (d, zero), (d, const)):
        assert math.isnan(sa.information_gain(p, fm, base)) and math.isnan(ref.info_gain_mit(p, fm, base))
    assert sa.information_gain(d, fm, d[::-1]) == pytest.approx(ref.info_gain_mit(d, fm, d[::-1]), abs=1e-12)
    assert math.isnan(sa.kld(zero, d)) and math.isnan(ref.kld_mit_nan(zero, d))
    assert math.isnan(sa.kld(d, zero))
    assert sa.kld(const, d) == pytest.approx(ref.kld_mit_nan(const, d), abs=1e-12)


def test_gazefollow_metrics_ignore_minus_one_padded_annotators():
    rng = np.random.default_rng(5)
    h = rng.random((64, 64))
    pts = rng.random((3, 2))
    padded = np.concatenate([pts, -np.ones((17, 2))])
    assert fo.gazefollow_auc(h, padded, (320, 240)) == fo.gazefollow_auc(h, pts, (320, 240))
    assert fo.l2(h, padded) == fo.l2(h, pts)
    assert math.isnan(fo.l2(h, -np.ones((20, 2)))["avg"])


def test_emd_scipy_fallback_is_exact():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(6)
    for n in (6, 12, 20):
        a, b = rng.random(n), rng.random(n)
        a, b = a / a.sum(), b / b.sum()
        pts = rng.random((n, 2)) * 10
        M = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
        assert sa._emd_lp(a, b, M, backend="scipy") == pytest.approx(ot.emd2(a, b, M), abs=1e-12)
