"""The distribution protocol (TPP-Gaze, WACV 2025; ScanDiff, ICCV 2025) and ScanDiff's diversity measures.

Per-pair similarity to each human rewards one short modal scanpath: a predictor that always outputs it can
score above the humans' own agreement. The distribution protocol instead asks whether the model's scores
against the humans are distributed like the humans' scores against each other:

* **KL** per metric (:func:`score_kl`): pool every (model scanpath, human scanpath) score of the same
  (stimulus, task) over the data set, and every ordered (human, other subject's human) score; both pools
  are histogrammed on ``kl_bins`` edges ``np.linspace(min, max, kl_bins)`` spanning the union of the two
  pools (ScanDiff ``perform_kld``: 100 edges, 99 bins; the last bin is closed); each histogram is
  normalised to sum 1; ``kl_eps`` (1e-10) is added to the model histogram, which is renormalised; then
  ``KL(human-human || model-human) = sum_i p_i ln(p_i / q_i)`` (natural log, ``0 ln 0 = 0``; ScanDiff's
  ``scipy.stats.entropy(h_human, h_model + 1e-10)``). Lower is better; 0 when the two histograms agree.
  When every pooled score is the same value the two are the same point mass and KL is 0; an empty pool
  gives NaN.
* **RSS** (recall of human scanpaths, :func:`rss`): the share of human scanpaths matched by at least one
  generated scanpath of their (stimulus, task) with a score above ``rss_threshold`` (strictly; below, for
  lower-is-better metrics). Default threshold: the metric's human-vs-human mean on the same data
  (ScanDiff's per-dataset thresholds are the human consistency SS).
* **DSS** (diversity-aware SS, :func:`dss`): per (stimulus, task),
  ``mean SS(gen, human) / (1 + |mean SS(gen, gen') - mean SS(human, human')|)`` over ordered pairs of
  distinct generated scanpaths and of distinct subjects, then the mean over keys with all three terms.

Preprocessing (named options of :class:`~gazekit.metrics.api.ScoreOptions`): ``drop_first_fixation`` and
``min_fixations=4`` reproduce the papers' "first fixation discarded, scanpaths under 4 fixations removed".
Stochastic models should be scored on >= 10 samples per (stimulus, task) (the primary row).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from gazekit.errors import DataFormatError
from gazekit.metrics.api import (
    MetricSummary,
    ScoreOptions,
    _score_pairs,
    consistency_pairs,
    human_consistency,
    preprocess_scanpaths,
    resolve_metrics,
    score_scanpaths,
    spec_of,
)
from gazekit.metrics.scanpath import fit_ss_clusters
from gazekit.types import Scanpath

__all__ = [
    "DISTRIBUTION_METRICS",
    "as_samples",
    "distribution_summary",
    "dss",
    "generated_pairs",
    "rss",
    "score_distribution",
    "score_kl",
]

#: the per-pair metrics the protocol reports by default (TPP-Gaze / ScanDiff report SS, MultiMatch,
#: ScanMatch and SED; gazekit adds the object strings when the data has objects)
DISTRIBUTION_METRICS: tuple[str, ...] = ("ss", "multimatch", "scanmatch", "edit_distance")


def score_kl(human_scores: np.ndarray, model_scores: np.ndarray, bins: int = 100, eps: float = 1e-10) -> float:
    """KL(histogram of ``human_scores`` || histogram of ``model_scores``), nats (see the module docstring).

    Args:
        human_scores: ``[n]`` human-vs-human scores (non-finite values are dropped).
        model_scores: ``[m]`` model-vs-human scores.
        bins: number of histogram edges over [min, max] of both pools (``bins - 1`` bins).
        eps: added to the normalised model histogram before it is renormalised.
    """
    h = np.asarray(human_scores, dtype=float).ravel()
    m = np.asarray(model_scores, dtype=float).ravel()
    h, m = h[np.isfinite(h)], m[np.isfinite(m)]
    if h.size == 0 or m.size == 0:
        return float("nan")
    lo, hi = float(min(h.min(), m.min())), float(max(h.max(), m.max()))
    if hi <= lo:
        return 0.0
    edges = np.linspace(lo, hi, int(bins))
    p = np.histogram(h, bins=edges)[0].astype(float)
    q = np.histogram(m, bins=edges)[0].astype(float)
    p /= p.sum()
    q = q / q.sum() + eps
    q /= q.sum()
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def rss(
    scores: np.ndarray, human_index: np.ndarray, n_humans: int, threshold: float, higher_is_better: bool = True
) -> float:
    """Share of the ``n_humans`` human scanpaths with at least one pair score beyond ``threshold``.

    Args:
        scores: ``[P]`` model-vs-human pair scores.
        human_index: ``[P]`` index (0..n_humans-1) of the human scanpath of each pair.
    """
    if n_humans <= 0:
        return float("nan")
    s = np.asarray(scores, dtype=float)
    hit = s > threshold if higher_is_better else s < threshold
    covered = np.zeros(n_humans, dtype=bool)
    covered[np.asarray(human_index, dtype=np.int64)[hit & np.isfinite(s)]] = True
    return float(covered.mean())


def dss(
    gen_human: dict[Any, np.ndarray], gen_gen: dict[Any, np.ndarray], human_human: dict[Any, np.ndarray]
) -> tuple[float, dict[Any, float]]:
    """Diversity-aware SS: ``{key: scores}`` per (stimulus, task) of the three pair pools -> (mean over
    keys, ``{key: DSS}``); keys missing any pool (e.g. one generated scanpath) are left out."""
    per: dict[Any, float] = {}
    for k, gh in gen_human.items():
        gg, hh = gen_gen.get(k), human_human.get(k)
        if gg is None or hh is None:
            continue
        gh_, gg_, hh_ = (np.asarray(v, float) for v in (gh, gg, hh))
        gh_, gg_, hh_ = gh_[np.isfinite(gh_)], gg_[np.isfinite(gg_)], hh_[np.isfinite(hh_)]
        if not (gh_.size and gg_.size and hh_.size):
            continue
        per[k] = float(gh_.mean() / (1.0 + abs(gg_.mean() - hh_.mean())))
    return (float(np.mean(list(per.values()))) if per else float("nan")), per


def _by_key(values: np.ndarray, keys: Sequence[Any]) -> dict[Any, np.ndarray]:
    out: dict[Any, list[float]] = {}
    for v, k in zip(np.asarray(values, float).tolist(), keys, strict=True):
        out.setdefault(k, []).append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def score_distribution(
    predictions: Sequence[Scanpath],
    humans: Sequence[Scanpath],
    metrics: Sequence[str] | str | None = None,
    options: ScoreOptions | None = None,
    **kw: Any,
) -> dict[str, MetricSummary]:
    """The distribution protocol for ``predictions`` (all samples of every (stimulus, task)) vs ``humans``.

    Args:
        predictions: model scanpaths; several per (stimulus, task) for a stochastic model (>= 10 advised).
        humans: human scanpaths (>= 2 subjects per key for the human-vs-human pool).
        metrics: per-pair metric names (default :data:`DISTRIBUTION_METRICS`, plus ``ss_objects`` and
            ``edit_objects`` when every scanpath has object indices). Set metrics (``prob_mismatch``,
            ``delta``, ``tfp_auc``) are passed through from :func:`score_scanpaths` unchanged.
        options: :class:`ScoreOptions` (``kl_bins``, ``kl_eps``, ``rss_threshold``, ``drop_first_fixation``,
            ``min_fixations``, ...) or the same as keywords.

    Returns:
        ``{"kl_<m>": ..., "rss_<m>": ..., "dss_<m>": ..., "model_<m>": ..., "human_<m>": ...}`` per metric
        column ``m`` (RSS and DSS for higher-is-better similarity metrics only), plus any set metrics.
        ``kl_*`` values are lower-is-better; ``extra`` holds the pool sizes and the RSS threshold.
    """
    o = ScoreOptions.resolve(options, **kw)
    preds = preprocess_scanpaths(list(predictions), o)
    hum = preprocess_scanpaths(list(humans), o)
    if not preds or not hum:
        raise DataFormatError("the distribution protocol needs predicted and human scanpaths after preprocessing")
    o = dataclasses.replace(o, drop_first_fixation=False, min_fixations=0)  # done once, above
    if metrics is None:
        names = list(DISTRIBUTION_METRICS)
        if all(s.objects is not None for s in (*preds, *hum)):
            names += ["ss_objects", "edit_objects"]
    else:
        names = resolve_metrics(metrics)
    pair = [n for n in names if spec_of(n).kind == "pair"]
    other = [n for n in names if spec_of(n).kind != "pair"]
    if o.ss_clusters is None and any("clusters" in spec_of(n).needs for n in pair):
        o = dataclasses.replace(o, ss_clusters=_clusters(hum))
    out: dict[str, MetricSummary] = {}
    if pair:
        gen = as_samples(preds)
        mh = score_scanpaths(gen, hum, pair, o)
        hh = human_consistency(hum, pair, o)
        out.update(distribution_summary(mh, hh, generated_pairs(pair, gen, o), gen, hum, o))
    if other:
        out.update(score_scanpaths(preds, hum, other, o))
    return out


def as_samples(predictions: Sequence[Scanpath]) -> list[Scanpath]:
    """Predictions relabelled as subjects of their own (``__sample<i>``), so that every pair of distinct
    samples of one (stimulus, task) is a model-vs-model pair."""
    return [dataclasses.replace(p, subject=f"__sample{i}", meta=dict(p.meta)) for i, p in enumerate(predictions)]


def generated_pairs(names: Sequence[str], gen: list[Scanpath], o: ScoreOptions) -> dict[str, MetricSummary]:
    """Similarity metrics among distinct generated scanpaths of each key (for DSS; the SS clusters stay the
    humans', so ``o.ss_clusters`` must hold every key); ``{}`` when no key has two samples."""
    sims = [n for n in names if spec_of(n).higher_is_better and spec_of(n).kind == "pair"]
    gi, gj = consistency_pairs(gen, distinct_subjects=False)
    if not len(gi) or not sims:
        return {}
    return _score_pairs(sims, gen, gen, gi, gj, o, len(gen))


def distribution_summary(
    mh: dict[str, MetricSummary],
    hh: dict[str, MetricSummary],
    gg: dict[str, MetricSummary],
    gen: Sequence[Scanpath],
    hum: Sequence[Scanpath],
    o: ScoreOptions,
) -> dict[str, MetricSummary]:
    """KL, RSS and DSS from already computed pair scores: ``mh`` model-vs-human
    (:func:`score_scanpaths` of ``gen`` vs ``hum``), ``hh`` human-vs-human (:func:`human_consistency` of
    ``hum``), ``gg`` model-vs-model (:func:`generated_pairs`). Columns as :func:`score_distribution`."""
    out: dict[str, MetricSummary] = {}
    for col, m_sum in mh.items():
        h_sum = hh.get(col)
        if h_sum is None or not np.asarray(m_sum.pairs).size:
            continue
        hb = m_sum.higher_is_better
        mp, hp = np.asarray(m_sum.pairs, float), np.asarray(h_sum.pairs, float)
        info = {"model_pairs": int(np.isfinite(mp).sum()), "human_pairs": int(np.isfinite(hp).sum())}
        kl = score_kl(hp, mp, o.kl_bins, o.kl_eps)
        out[f"kl_{col}"] = MetricSummary(kl, float("nan"), info["model_pairs"], higher_is_better=False, extra=info)
        out[f"model_{col}"] = MetricSummary(m_sum.mean, m_sum.std, m_sum.n, m_sum.values, higher_is_better=hb)
        out[f"human_{col}"] = MetricSummary(h_sum.mean, h_sum.std, h_sum.n, h_sum.values, higher_is_better=hb)
        if not hb:
            continue
        thr = o.rss_threshold if o.rss_threshold is not None else float(np.nanmean(hp)) if hp.size else np.nan
        r = rss(mp, m_sum.pair_index[:, 1], len(hum), thr, hb)
        out[f"rss_{col}"] = MetricSummary(r, float("nan"), len(hum), extra={"threshold": thr})
        gk = [gen[i].key for i in m_sum.pair_index[:, 0]]
        hk = [hum[i].key for i in h_sum.pair_index[:, 0]]
        g = gg.get(col)
        gg_by = _by_key(g.pairs, [gen[i].key for i in g.pair_index[:, 0]]) if g is not None else {}
        d, per = dss(_by_key(mp, gk), gg_by, _by_key(hp, hk))
        out[f"dss_{col}"] = MetricSummary(d, float("nan"), len(per), extra={"keys": len(per)})
    return out


def _clusters(hum: Sequence[Scanpath]) -> dict:
    by: dict[tuple, list[Scanpath]] = {}
    for h in hum:
        by.setdefault(h.key, []).append(h)
    return {k: fit_ss_clusters(v) for k, v in by.items()}
