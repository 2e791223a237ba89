"""Visual-search metrics: fixations to target, target-found curve (TFP), TFP-AUC, probability mismatch,
scanpath ratio, OAT's behavioural delta, and the search-asymmetry slope and index.

Conventions follow IRL ``irl_dcb/utils.py`` / HAT ``common/utils.py`` and ``common/metrics.py``:

* A fixation is *on target* when it lies **strictly** inside the bbox ``(x, y, w, h)``.
* **Steps to target** is the 1-based index of the first on-target fixation; the initial (centre) fixation
  counts as step 1; never found gives :data:`NOT_FOUND` (1000).
* The **search CDF** is ``cdf[i] = P(steps <= i + 1)`` for ``i = 0 .. max_step`` (``max_step + 1``
  entries; ``max_step = 6`` for COCO-Search18), computed per task and averaged over tasks.
* **TFP-AUC** is the plain sum of the CDF entries (``cdf[0] + cdf[-1] + sum(cdf[1:-1])``), not a trapezoid.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import Scanpath

__all__ = [
    "NOT_FOUND",
    "asymmetry_index",
    "behavioural_delta",
    "behavioural_stats",
    "delta_for_object_sequences",
    "fixations_to_target",
    "probability_mismatch",
    "rt_from_fixations",
    "scanpath_ratio",
    "search_cdf",
    "search_slope",
    "steps_to_target",
    "target_bbox",
    "target_found_curve",
    "tfp_auc",
]

NOT_FOUND = 1000  # the references' "some big enough number"


def target_bbox(sp: Scanpath) -> tuple[float, float, float, float]:
    """The target box ``(x, y, w, h)`` of a search scanpath (``meta["bbox"]``, as COCO-Search18 stores it)."""
    bbox = sp.meta.get("bbox") if isinstance(sp.meta, dict) else None
    if bbox is None:
        raise DataFormatError(
            f"scanpath of {sp.stimulus!r} (task {sp.task!r}) has no target bbox (meta['bbox'] = [x, y, w, h])"
        )
    b = tuple(float(v) for v in bbox)
    if len(b) != 4:
        raise DataFormatError(f"target bbox must be [x, y, w, h], got {bbox!r}")
    return b  # type: ignore[return-value]


def _on_target(x: np.ndarray, y: np.ndarray, bbox: Sequence[float]) -> np.ndarray:
    bx, by, bw, bh = (float(v) for v in bbox)
    return (x > bx) & (x < bx + bw) & (y > by) & (y < by + bh)


def steps_to_target(sp: Scanpath | np.ndarray, bbox: Sequence[float] | None = None) -> int:
    """1-based index of the first fixation strictly inside ``bbox`` (default: the scanpath's own target);
    :data:`NOT_FOUND` when no fixation is on target (IRL ``get_num_step2target``)."""
    if isinstance(sp, Scanpath):
        x, y = sp.x, sp.y
        bbox = target_bbox(sp) if bbox is None else bbox
    else:
        a = np.asarray(sp, dtype=float)
        if a.ndim != 2 or a.shape[1] < 2:
            raise DataFormatError(f"fixations must be [n, 2+] (x, y, ...), got shape {a.shape}")
        x, y = a[:, 0], a[:, 1]
        if bbox is None:
            raise ConfigError("steps_to_target on an array needs a bbox")
    on = _on_target(np.asarray(x), np.asarray(y), bbox)
    return int(np.argmax(on)) + 1 if on.any() else NOT_FOUND


def fixations_to_target(scanpaths: Sequence[Scanpath], bboxes: Sequence[Sequence[float]] | None = None) -> np.ndarray:
    """Steps to target of every scanpath (``[N]`` int, :data:`NOT_FOUND` where never found)."""
    if bboxes is not None and len(bboxes) != len(scanpaths):
        raise ConfigError(f"got {len(scanpaths)} scanpaths but {len(bboxes)} bboxes")
    out = np.empty(len(scanpaths), dtype=np.int64)
    for i, sp in enumerate(scanpaths):
        out[i] = steps_to_target(sp, None if bboxes is None else bboxes[i])
    return out


def search_cdf(steps: np.ndarray, max_step: int = 6) -> np.ndarray:
    """``cdf[i] = mean(steps <= i + 1)`` for ``i = 0 .. max_step`` (HAT ``get_CDF(steps, max_step + 1)``)."""
    steps = np.asarray(steps)
    if steps.size == 0:
        raise DataFormatError("search CDF of zero scanpaths")
    thr = np.arange(1, max_step + 2)
    return (steps[None, :] <= thr[:, None]).sum(1) / float(steps.size)


def target_found_curve(
    scanpaths: Sequence[Scanpath],
    max_step: int = 6,
    *,
    bboxes: Sequence[Sequence[float]] | None = None,
    by_task: bool = False,
) -> np.ndarray | dict[str | None, np.ndarray]:
    """Target-found probability curve (the search CDF), per task then averaged over tasks.

    ``cdf[i]`` is the fraction of scanpaths that fixated the target within ``i + 1`` fixations (the centre
    fixation being the first), ``i = 0 .. max_step``; ``TFP_top{i}`` in HAT is ``cdf[i]``. Only
    ``condition == "present"`` scanpaths are used when conditions are given (as ``cutFixOnTarget``).
    ``by_task=True`` returns ``{task: cdf}`` (HAT ``return_by_task``).
    """
    sps = list(scanpaths)
    keep = [i for i, s in enumerate(sps) if s.condition in (None, "present")]
    if not keep:
        raise DataFormatError("no target-present scanpaths to compute a search CDF from")
    steps = fixations_to_target([sps[i] for i in keep], None if bboxes is None else [bboxes[i] for i in keep])
    tasks = np.array([str(sps[i].task) for i in keep])
    names = sorted(set(tasks.tolist()))
    per = {t: search_cdf(steps[tasks == t], max_step) for t in names}
    if by_task:
        return {sps[keep[int(np.flatnonzero(tasks == t)[0])]].task: v for t, v in per.items()}
    return np.mean(np.stack([per[t] for t in names]), axis=0)


def tfp_auc(cdf: np.ndarray | dict) -> float | dict:
    """TFP-AUC: the plain sum ``cdf[0] + cdf[-1] + sum(cdf[1:-1])`` (HAT ``compute_cdf_auc``; max = len)."""
    if isinstance(cdf, dict):
        return {k: tfp_auc(v) for k, v in cdf.items()}
    c = np.asarray(cdf, dtype=float)
    return float(c[0] + c[-1] + np.sum(c[1:-1]))


def probability_mismatch(cdf_model: np.ndarray, cdf_human: np.ndarray) -> float:
    """``sum_i |cdf_model[i] - cdf_human[i]|`` (HAT ``compute_prob_mismatch``); 0 = same curve."""
    a, b = np.asarray(cdf_model, dtype=float), np.asarray(cdf_human, dtype=float)
    if a.shape != b.shape:
        raise ConfigError(f"CDFs differ in length ({a.shape} vs {b.shape}); use the same max_step")
    return float(np.sum(np.abs(a - b)))


def scanpath_ratio(
    scanpaths: Sequence[Scanpath], max_step: int = 6, *, bboxes: Sequence[Sequence[float]] | None = None
) -> float:
    """Mean scanpath ratio (HAT ``compute_avgSPRatio``): ``min(|first - bbox centre| / travelled, 1)`` on
    each scanpath cut at its first on-target fixation; failed (steps > max_step + 1) and single-fixation
    scanpaths are skipped. NaN when nothing is left."""
    vals = []
    for i, sp in enumerate(scanpaths):
        bbox = target_bbox(sp) if bboxes is None else bboxes[i]
        s = steps_to_target(sp, bbox)
        if s > max_step + 1:
            continue
        x, y = sp.x[:s], sp.y[:s]
        if len(x) == 1:
            continue
        travelled = float(np.sum(np.sqrt((x[:-1] - x[1:]) ** 2 + (y[:-1] - y[1:]) ** 2)))
        tx, ty = bbox[0] + bbox[2] / 2.0, bbox[1] + bbox[3] / 2.0
        direct = float(np.sqrt((tx - x[0]) ** 2 + (ty - y[0]) ** 2))
        vals.append(min(direct / travelled, 1.0) if travelled > 0 else 1.0)
    return float(np.mean(vals)) if vals else float("nan")


# --------------------------------------------------------------------------------------------- OAT behavioural delta
BEHAVIOUR_KEYS = ("found", "length", "search", "refix", "revisit")


def behavioural_stats(
    objects: Sequence[int] | np.ndarray, target: int | None = None, found: bool | None = None
) -> dict:
    """OAT's five statistics of one scanpath of object indices (``evaluation_full.behavior``).

    * ``found``: the last fixation is on ``target`` (or the given ``found`` flag when no target index);
    * ``length``: number of fixations;
    * ``search`` / ``refix`` / ``revisit``: shares of fixations that visit a new object, stay on the same
      object as the previous fixation, or return to an object visited earlier. They sum to 1.
    """
    g = [int(v) for v in np.asarray(objects).ravel().tolist()]
    if not g:
        raise DataFormatError("behavioural statistics of an empty scanpath")
    if target is not None:
        f = float(g[-1] == int(target))
    elif found is not None:
        f = float(bool(found))
    else:
        raise ConfigError("behavioural statistics need the target object index or a found flag")
    search = refix = revisit = 0
    seen: list[int] = []
    for k, grp in groupby(g):
        run = len(list(grp))
        if k in seen:
            revisit += 1
        else:
            search += 1
        refix += run - 1
        seen.append(k)
    n = len(g)
    return {"found": f, "length": float(n), "search": search / n, "refix": refix / n, "revisit": revisit / n}


def _target_object(sp: Scanpath) -> int | None:
    for k in ("target_object", "target_index"):
        v = sp.meta.get(k) if isinstance(sp.meta, dict) else None
        if v is not None:
            return int(v)
    return None


def _trial_means(scanpaths: Sequence[Scanpath]) -> dict[Any, np.ndarray]:
    per: dict[Any, list[list[float]]] = {}
    for sp in scanpaths:
        if sp.objects is None:
            raise DataFormatError(f"behavioural delta needs object indices (Scanpath.objects) on {sp.stimulus!r}")
        if len(sp) == 0:
            continue
        st = behavioural_stats(sp.objects, _target_object(sp), sp.found)
        per.setdefault(sp.key, []).append([st[k] for k in BEHAVIOUR_KEYS])
    return {k: np.mean(np.asarray(v), axis=0) for k, v in per.items()}


def behavioural_delta(pred: Sequence[Scanpath], human: Sequence[Scanpath]) -> dict[str, float]:
    """OAT's behavioural delta (``evaluation_full.py``): lower is better, 0 = human-like.

    Protocol pinned from the code: for every trial (stimulus, task) the five statistics are averaged over
    that trial's scanpaths (OAT: 100 sampled model scanpaths, one human); the trial means are averaged
    over the trials present in both sets; then ``delta = (1/5) * nansum_k |m_k - h_k| / h_k`` (a human
    value of 0 with an equal model value contributes 0/0 = NaN, skipped by ``nansum``; with a different
    model value it contributes inf, as torch does).

    The target is ``meta["target_object"]`` (or ``"target_index"``) when present, else the scanpath's
    ``found`` flag. Returns ``{"delta", "model": {...}, "human": {...}}`` with the five dataset means.
    """
    m, h = _trial_means(pred), _trial_means(human)
    keys = [k for k in m if k in h]
    if not keys:
        raise DataFormatError("behavioural delta: no (stimulus, task) is shared by predictions and humans")
    M = np.mean(np.stack([m[k] for k in keys]), axis=0)
    H = np.mean(np.stack([h[k] for k in keys]), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(M - H) / H
    delta = float(np.nansum(rel) / 5.0)
    return {
        "delta": delta,
        "model": dict(zip(BEHAVIOUR_KEYS, M.tolist(), strict=True)),
        "human": dict(zip(BEHAVIOUR_KEYS, H.tolist(), strict=True)),
        "n_trials": len(keys),
    }


def delta_for_object_sequences(
    pred: Sequence[Sequence[int]],
    human: Sequence[Sequence[int]],
    targets: Sequence[int],
    keys: Sequence[str] | None = None,
) -> float:
    """:func:`behavioural_delta` of object-index sequences (OAT's validation score; ``inf`` when nothing pairs).

    Each trial ``i`` pairs ``pred[i]`` with ``human[i]`` (``keys`` groups trials of one display; default:
    one group per trial). Empty sequences are skipped, as the metric does."""
    keys = list(keys) if keys is not None else [str(i) for i in range(len(pred))]

    def sp(seq: Sequence[int], key: str, t: int) -> Scanpath:
        a = np.asarray(seq, dtype=np.int64)
        z = np.zeros(len(a))
        return Scanpath(z, z, stimulus=key, task="search", objects=a, meta={"target_object": int(t)})

    P = [sp(s, k, t) for s, k, t in zip(pred, keys, targets, strict=True) if len(s)]
    H = [sp(s, k, t) for s, k, t in zip(human, keys, targets, strict=True) if len(s)]
    if not P or not H:
        return float("inf")
    try:
        return float(behavioural_delta(P, H)["delta"])
    except DataFormatError:  # no shared trial
        return float("inf")


# --------------------------------------------------------------------------------------------- search asymmetry (eccNET)
RT_SLOPE_MS, RT_INTERCEPT_MS = 252.359, 376.271


def rt_from_fixations(n_fix: np.ndarray | float) -> np.ndarray | float:
    """eccNET's mapping of fixation counts to reaction time: ``RT = 252.359 * n_fix + 376.271`` ms."""
    return np.asarray(n_fix, dtype=float) * RT_SLOPE_MS + RT_INTERCEPT_MS


def search_slope(set_sizes: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of mean RT (or fixation count) on set size (ms/item)."""
    x, y = np.asarray(set_sizes, dtype=float), np.asarray(values, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ConfigError("search_slope needs >= 2 (set size, value) points of equal count")
    if np.ptp(x) == 0:
        raise ConfigError("search_slope needs at least two different set sizes")
    return float(np.polyfit(x, y, 1)[0])


def asymmetry_index(slope_hard: float | np.ndarray, slope_easy: float | np.ndarray) -> float:
    """Search-asymmetry index ``(s_H - s_L) / (s_H + s_L)`` with ``s = max(0, slope)``; averaged when arrays
    are given (eccNET reports the mean over its 6 asymmetry pairs). NaN where both slopes are <= 0."""
    h = np.maximum(0.0, np.asarray(slope_hard, dtype=float))
    e = np.maximum(0.0, np.asarray(slope_easy, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        ai = (h - e) / (h + e)
    return float(np.nanmean(ai)) if ai.ndim else float(ai)
