"""Search metrics against the IRL/HAT loops, hand fixtures and OAT's behavioural delta protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics import _reference as ref
from gazekit.metrics import search as se
from gazekit.types import Scanpath


def _sp(xy, bbox, task="cup", stim="a.jpg", subject="1", objects=None, found=None, meta=None):
    xy = np.asarray(xy, float).reshape(-1, 2)
    m = {"bbox": list(bbox)} if bbox is not None else {}
    m.update(meta or {})
    return Scanpath(
        xy[:, 0],
        xy[:, 1],
        stimulus=stim,
        task=task,
        subject=subject,
        condition="present",
        objects=objects,
        found=found,
        meta=m,
    )


def test_steps_cdf_auc_mismatch_match_hat_loops():
    rng = np.random.default_rng(0)
    sps, by_task = [], {}
    for k in range(300):
        n = int(rng.integers(1, 9))
        xy = rng.uniform(0, 100, (n, 2))
        bbox = [float(v) for v in (*rng.uniform(0, 70, 2), *rng.uniform(5, 40, 2))]
        task = f"t{k % 4}"
        sp = _sp(xy, bbox, task=task, stim=f"{k}.jpg")
        sps.append(sp)
        s = ref.steps_to_target(xy[:, 0], xy[:, 1], bbox)
        assert se.steps_to_target(sp) == s
        by_task.setdefault(task, []).append(s)
    want = np.mean([ref.search_cdf(v, 6) for _, v in sorted(by_task.items())], axis=0)
    got = se.target_found_curve(sps, 6)
    np.testing.assert_allclose(got, want, atol=1e-15)
    assert se.tfp_auc(got) == pytest.approx(ref.cdf_auc(list(want)), abs=1e-12)
    per = se.target_found_curve(sps, 6, by_task=True)
    assert set(per) == set(by_task)
    assert se.probability_mismatch(got, got) == 0.0
    assert se.probability_mismatch([0.1, 0.5], [0.2, 0.2]) == pytest.approx(0.4)


def test_on_target_is_strict_and_not_found_is_1000():
    box = (10, 10, 10, 10)
    assert se.steps_to_target(np.array([[10, 15], [15, 15]]), box) == 2  # x == bbox x is outside
    assert se.steps_to_target(np.array([[0, 0]]), box) == se.NOT_FOUND
    assert se.tfp_auc(np.ones(7)) == 7.0  # plain sum: maximum = max_step + 1
    with pytest.raises(DataFormatError):
        se.steps_to_target(_sp([[1, 1]], None))
    with pytest.raises(ConfigError):
        se.probability_mismatch([1, 2], [1, 2, 3])


def test_scanpath_ratio_hand_fixture():
    # from (0, 0) to (3, 0) to (3, 4) inside the box centred at (3, 4): direct 5, travelled 7
    sp = _sp([[0, 0], [3, 0], [3, 4], [50, 50]], (2, 3, 2, 2))
    assert se.scanpath_ratio([sp]) == pytest.approx(5 / 7)
    single = _sp([[3, 4]], (2, 3, 2, 2))
    failed = _sp([[0, 0], [90, 90]], (2, 3, 2, 2))
    assert math.isnan(se.scanpath_ratio([single, failed]))


def test_behavioural_stats_follow_oat():
    st = se.behavioural_stats([3, 3, 5, 3, 7, 7, 7], target=7)
    # runs: 3(x2) new, 5 new, 3 revisit, 7(x3) new -> search 3, refix 1 + 2, revisit 1
    assert st == {"found": 1.0, "length": 7.0, "search": 3 / 7, "refix": 3 / 7, "revisit": 1 / 7}
    assert se.behavioural_stats([1, 2], found=False)["found"] == 0.0
    with pytest.raises(ConfigError):
        se.behavioural_stats([1, 2])


def test_behavioural_delta_protocol_trial_means_then_dataset_means():
    # trial A: human [1, 2] (target 2) ; model samples [1, 2] and [1, 1, 1]
    hA = _sp(np.zeros((2, 2)), None, stim="A", objects=[1, 2], meta={"target_object": 2})
    mA1 = _sp(np.zeros((2, 2)), None, stim="A", objects=[1, 2], meta={"target_object": 2})
    mA2 = _sp(np.zeros((3, 2)), None, stim="A", objects=[1, 1, 1], meta={"target_object": 2})
    hB = _sp(np.zeros((3, 2)), None, stim="B", objects=[4, 5, 4], meta={"target_object": 4})
    mB = _sp(np.zeros((3, 2)), None, stim="B", objects=[4, 5, 4], meta={"target_object": 4})
    d = se.behavioural_delta([mA1, mA2, mB], [hA, hB])
    # model trial means: A = mean([1,2,1,0,0], [0,3,1/3,2/3,0]) ; B = [1,3,2/3,0,1/3]
    mA = np.array([0.5, 2.5, 2 / 3, 1 / 3, 0.0])
    mBv = np.array([1.0, 3.0, 2 / 3, 0.0, 1 / 3])
    M = (mA + mBv) / 2
    Hm = (np.array([1, 2, 1, 0, 0.0]) + mBv) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        want = np.nansum(np.abs(M - Hm) / Hm) / 5
    assert d["delta"] == pytest.approx(want)
    assert math.isinf(want)  # human refix share 0 vs a non-zero model share: inf, as torch gives
    assert se.behavioural_delta([hA, hB], [hA, hB])["delta"] == 0.0
    with pytest.raises(DataFormatError, match="shared"):
        se.behavioural_delta([mB], [hA])


def test_asymmetry_slope_and_index():
    assert se.rt_from_fixations(2) == pytest.approx(2 * 252.359 + 376.271)
    assert se.search_slope([3, 6, 12], [400, 700, 1300]) == pytest.approx(100.0)
    assert se.asymmetry_index(30.0, 10.0) == pytest.approx(0.5)
    assert se.asymmetry_index(-5.0, 10.0) == pytest.approx(-1.0)
    assert se.asymmetry_index(np.array([30.0, 10.0]), np.array([10.0, 10.0])) == pytest.approx(0.25)
    assert math.isnan(se.asymmetry_index(-1.0, 0.0))
    with pytest.raises(ConfigError):
        se.search_slope([3, 3], [1, 2])
