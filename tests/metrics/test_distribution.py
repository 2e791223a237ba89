"""The distribution protocol: KL of score distributions (hand-computed and ScanDiff's recipe), RSS, DSS,
preprocessing options, and a low-variability predictor that per-pair scores cannot catch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import entropy

from gazekit.errors import ConfigError
from gazekit.metrics import ScoreOptions, human_consistency, score_distribution, score_scanpaths
from gazekit.metrics.distribution import dss, rss, score_kl
from gazekit.types import Scanpath


def test_kl_hand_computed():
    # edges [0, .5, 1]: human p = [.5, .5], model q = [.25, .75]
    kl = score_kl([0, 0, 1, 1], [0, 1, 1, 1], bins=3, eps=0.0)
    assert kl == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75), abs=1e-15)
    # a bin the model never reaches: q = [1, 0] + eps, renormalised
    eps = 1e-10
    q = np.array([1 + eps, eps]) / (1 + 2 * eps)
    assert score_kl([0, 1], [0, 0.2], bins=3, eps=eps) == pytest.approx(0.5 * np.log(0.5 / q).sum(), rel=1e-12)
    # same distribution -> 0; one point mass -> 0; empty -> NaN; direction: KL(human || model)
    assert score_kl([0.1, 0.5, 0.9], [0.9, 0.5, 0.1]) == pytest.approx(0.0, abs=1e-7)  # eps in 96 empty bins
    assert score_kl([0.1, 0.5, 0.9], [0.9, 0.5, 0.1], eps=0.0) == 0.0
    assert score_kl([0.3, 0.3], [0.3]) == 0.0
    assert math.isnan(score_kl([], [1.0])) and math.isnan(score_kl([np.nan], [1.0]))
    assert score_kl([0, 1], [0, 0, 0, 1], bins=3, eps=0) == pytest.approx(
        0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2)
    )


def test_kl_equals_scandiff_recipe_on_random_pools():
    rng = np.random.default_rng(0)
    for _ in range(20):
        h = rng.beta(2, 3, int(rng.integers(5, 400)))
        m = rng.beta(3, 2, int(rng.integers(5, 400)))
        edges = np.linspace(min(h.min(), m.min()), max(h.max(), m.max()), 100)
        h1 = np.histogram(h, bins=edges)[0] / len(h)
        h2 = np.histogram(m, bins=edges)[0] / len(m)
        assert score_kl(h, m) == pytest.approx(entropy(h1, h2 + 1e-10), rel=1e-12)


def test_rss_and_dss_hand_computed():
    s = np.array([0.2, 0.7, 0.5, 0.9])
    hi = np.array([0, 0, 1, 2])
    assert rss(s, hi, 4, 0.6) == 0.5  # humans 0 and 2 covered
    assert rss(s, hi, 4, 0.7) == 0.25  # strictly above
    assert rss(s, hi, 4, 0.4, higher_is_better=False) == 0.25
    assert math.isnan(rss(s, hi, 0, 0.5))
    d, per = dss({"a": [0.5, 0.3], "b": [1.0]}, {"a": [0.8]}, {"a": [0.6, 0.4], "b": [1.0]})
    assert per == {"a": pytest.approx(0.4 / 1.3)} and d == pytest.approx(0.4 / 1.3)
    assert math.isnan(dss({}, {}, {})[0])


def _obj_sp(seq, stim, subject, task="cup"):
    z = np.zeros(len(seq))
    return Scanpath(z, z, stimulus=stim, task=task, subject=subject, objects=np.asarray(seq), width=10, height=10)


def test_low_variability_predictor_wins_per_pair_but_loses_the_distribution():
    rng = np.random.default_rng(1)
    humans, varied, modal = [], [], []
    for d in range(6):
        stim = f"{d}.jpg"
        target = 3

        def person(r=rng, t=target):
            return [int(v) for v in r.integers(0, 6, int(r.integers(0, 4)))] + [t]

        humans += [_obj_sp(person(), stim, str(k)) for k in range(8)]
        varied += [_obj_sp(person(), stim, "m") for _ in range(10)]  # human-like samples
        modal += [_obj_sp([target], stim, "m") for _ in range(10)]  # the same short path every time
    names = ["ss_objects"]
    per_pair_modal = score_scanpaths(modal, humans, names)["ss_objects"].mean
    per_pair_varied = score_scanpaths(varied, humans, names)["ss_objects"].mean
    assert per_pair_modal > per_pair_varied  # per-pair similarity rewards the modal path
    dm = score_distribution(modal, humans, names)
    dv = score_distribution(varied, humans, names)
    assert dv["kl_ss_objects"].mean < dm["kl_ss_objects"].mean
    assert dv["dss_ss_objects"].mean > dm["dss_ss_objects"].mean
    assert dm["human_ss_objects"].mean == pytest.approx(human_consistency(humans, names)["ss_objects"].mean)
    assert dm["rss_ss_objects"].extra["threshold"] == pytest.approx(
        np.nanmean(human_consistency(humans, names)["ss_objects"].pairs)
    )


def test_preprocessing_options_and_errors():
    hum = [
        _obj_sp([0, 1, 2, 3], "a.jpg", "1"),
        _obj_sp([0, 2, 3], "a.jpg", "2"),
        _obj_sp([0, 1, 1, 2, 3], "a.jpg", "3"),
    ]
    pred = [_obj_sp([0, 1, 2, 3], "a.jpg", "m")]
    r = score_scanpaths(pred, hum, ["ss_objects"], drop_first_fixation=True, min_fixations=3)
    # after dropping the first fixation, human 2 has 2 fixations and is removed: [1,2,3] vs [1,2,3], [1,1,2,3]
    assert r["ss_objects"].mean == pytest.approx((1.0 + 0.75) / 2)
    opts = ScoreOptions(drop_first_fixation=True, min_fixations=3)
    assert score_scanpaths(pred, hum, ["ss_objects"], opts)["ss_objects"].mean == r["ss_objects"].mean
    with pytest.raises(ConfigError, match="unknown scoring option"):
        score_scanpaths(pred, hum, ["ss_objects"], tde_kk=2)
    with pytest.raises(ConfigError, match="tde_k"):
        score_scanpaths(pred, hum, ["tde"], tde_k=0)
