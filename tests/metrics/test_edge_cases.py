"""Edge cases: empty and one-fixation scanpaths, NaN input, and saliency invariances (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazekit.errors import DataFormatError
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
    for fn in (sa.auc_judd, sa.nss):
        assert fn(m * scale + shift, fix) == pytest.approx(fn(m, fix), abs=1e-9)
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
