"""Score predicted scanpaths against human scanpaths by name: :func:`score_scanpaths`,
:func:`human_consistency`, :data:`SCANPATH_METRICS`.

Pairing protocol (one place): a prediction is compared with **every** human scanpath that has the same
``Scanpath.key`` = (stimulus, task) (with every human of the stimulus when the prediction has no task). Pairwise metrics are computed per pair, averaged over the humans of
the prediction's key (NaN pairs, e.g. MultiMatch with < 3 fixations, are left out of that mean), then
summarised over predictions (mean, std with ddof 0, n = predictions with a finite score). Set metrics
(TFP-AUC, probability mismatch, behavioural delta) are computed on the whole prediction set against the
humans of the matched keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics import scanpath as sm
from gazekit.metrics import search as se
from gazekit.types import Scanpath

__all__ = [
    "LOWER_IS_BETTER",
    "SCANPATH_METRICS",
    "MetricSummary",
    "human_consistency",
    "resolve_metrics",
    "score_scanpaths",
]

#: name -> one-line description (the CLI's ``--metrics`` accepts these, case-insensitively)
SCANPATH_METRICS: dict[str, str] = {
    "ss": "sequence score: LCS / max length of MeanShift cluster strings (clusters fitted per stimulus+task "
    "on all human fixations, IRL/HAT protocol); higher is better",
    "ss_dur": "time-binned SS: each fixation repeated floor(duration / 50 ms) times (Gazeformer); higher is better",
    "ss_objects": "SS on object-index strings (Scanpath.objects, OAT); higher is better",
    "sem_ss": "semantic SS: SS on the label-map value at each fixation (needs label_maps={stimulus: [H, W]}); "
    "higher is better",
    "scanmatch": "ScanMatch without duration: 16x12 bins over the frame, threshold 3.5, gap 0; higher is better",
    "scanmatch_dur": "ScanMatch with duration: as scanmatch, temporal bin 50 ms; higher is better",
    "multimatch": "MultiMatch (multimatch-gaze): mm_shape, mm_direction, mm_length, mm_position, mm_duration; "
    "NaN for < 3 fixations; higher is better",
    "edit_distance": "Levenshtein distance of 5x5 grid-cell strings (FixaTons); lower is better",
    "edit_objects": "Levenshtein distance of object-index strings (OAT); lower is better",
    "dtw": "exact dynamic time warping, px; lower is better",
    "frechet": "discrete Frechet distance, px; lower is better",
    "eyenalysis": "Eyenalysis double-mapping distance, px; lower is better",
    "tde": "time-delay embedding distance (k = 3, mean; human as reference), px; lower is better",
    "fdiss": "foveal-disc IoU scanpath score (F1 of bidirectional best disc IoU, radius fdiss_radius px, "
    "default 45 = about 1 degree); higher is better",
    "tfp_auc": "TFP-AUC: plain sum of the target-found curve, steps 1..max_step+1 (set metric); higher = "
    "finds the target sooner",
    "prob_mismatch": "sum |TFP_model - TFP_human| over the curve (set metric); lower is better",
    "found_rate": "share of predictions with a fixation on the target bbox",
    "fixations_to_target": "1-based index of the first on-target fixation, found scanpaths only",
    "scanpath_ratio": "min(direct distance to target / travelled distance, 1), HAT protocol",
    "delta": "OAT behavioural delta over found/length/search/refix/revisit (set metric); lower is better",
}

MULTIMATCH_NAMES = tuple(f"mm_{d}" for d in sm.MULTIMATCH_DIMS)
_ALIASES = {
    "sequence_score": "ss",
    "mm": "multimatch",
    "sed": "edit_distance",
    "levenshtein": "edit_distance",
    "tfp": "tfp_auc",
    "probability_mismatch": "prob_mismatch",
    "ftt": "fixations_to_target",
}
_PAIRWISE = {
    "ss",
    "ss_dur",
    "ss_objects",
    "sem_ss",
    "scanmatch",
    "scanmatch_dur",
    "multimatch",
    "edit_distance",
    "edit_objects",
    "dtw",
    "frechet",
    "eyenalysis",
    "tde",
    "fdiss",
}
_PER_SCANPATH = {"found_rate", "fixations_to_target", "scanpath_ratio"}
_SET = {"tfp_auc", "prob_mismatch", "delta"}


@dataclass
class MetricSummary:
    """One metric over a set of predictions.

    Attributes:
        mean, std: over the per-prediction values (std with ddof 0); NaN when ``n == 0``.
        n: number of predictions with a finite value (for set metrics: scanpaths or trials used).
        values: ``[n_predictions]`` per-prediction values (mean over the matched humans; NaN where none).
        pairs: ``[n_pairs]`` per-pair values for pairwise metrics (empty for set metrics).
        pair_index: ``[n_pairs, 2]`` (prediction index, human index) of each pair.
        higher_is_better: direction of the metric.
        extra: anything metric-specific (per-task values, the two CDFs, the behavioural means...).
    """

    mean: float
    std: float
    n: int
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pairs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pair_index: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_values(values: np.ndarray, **kw: Any) -> MetricSummary:
        v = np.asarray(values, dtype=float)
        fin = v[np.isfinite(v)]
        mean = float(fin.mean()) if fin.size else float("nan")
        std = float(fin.std()) if fin.size else float("nan")
        return MetricSummary(mean, std, int(fin.size), v, **kw)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (mean, std, n, direction)."""

        def clean(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "mean": clean(self.mean),
            "std": clean(self.std),
            "n": int(self.n),
            "higher_is_better": self.higher_is_better,
        }


#: metrics where a smaller value is the better prediction (distances, mismatches, the behavioural delta)
LOWER_IS_BETTER = {
    "edit_distance",
    "edit_objects",
    "dtw",
    "frechet",
    "eyenalysis",
    "tde",
    "prob_mismatch",
    "delta",
    "fixations_to_target",
}


def resolve_metrics(metrics: Sequence[str] | str | None) -> list[str]:
    """Canonical metric names (case-insensitive, aliases and ``mm_*`` accepted); ConfigError lists valid ones."""
    if metrics is None:
        return list(SCANPATH_METRICS)
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    out: list[str] = []
    bad: list[str] = []
    for m in metrics:
        k = str(m).strip().lower()
        if not k:
            continue
        k = _ALIASES.get(k, k)
        if k in SCANPATH_METRICS or k in MULTIMATCH_NAMES:
            if k not in out:
                out.append(k)
        else:
            bad.append(str(m))
    if bad:
        valid = ", ".join(list(SCANPATH_METRICS) + list(MULTIMATCH_NAMES))
        raise ConfigError(f"unknown metric name(s) {', '.join(map(repr, bad))}; valid names: {valid}")
    if not out:
        raise ConfigError("no metric names given")
    return out


# --------------------------------------------------------------------------------------------- helpers
def _frame(sp: Scanpath, others: Sequence[Scanpath], sizes: dict | None) -> tuple[float, float] | None:
    if sizes is not None:
        v = sizes.get(sp.stimulus)
        if v is None:
            v = sizes.get(sp.key) if isinstance(sp.key, tuple) else None
        if v is not None:
            return float(v[0]), float(v[1])
    for s in (sp, *others):
        if s.width is not None and s.height is not None:
            return float(s.width), float(s.height)
    return None


def _check_frames(preds: list[Scanpath], hum: list[Scanpath], pi: np.ndarray, hi: np.ndarray) -> None:
    """Predictions and humans must share a coordinate frame wherever both declare one."""
    seen: set[tuple[int, int]] = set()
    for p, h in zip(pi.tolist(), hi.tolist(), strict=True):
        a, b = preds[p], hum[h]
        if a.width is None or a.height is None or b.width is None or b.height is None:
            continue
        if (p, h) in seen:
            continue
        seen.add((p, h))
        if abs(a.width - b.width) > 1e-6 or abs(a.height - b.height) > 1e-6:
            raise DataFormatError(
                f"prediction for {a.stimulus!r} is in a {a.width:g}x{a.height:g} frame but the human scanpaths "
                f"are in {b.width:g}x{b.height:g}; convert one with Scanpath.to_frame first"
            )


def _has_durations(sps: Sequence[Scanpath]) -> bool:
    return all(len(s) == 0 or np.all(np.isfinite(s.duration)) for s in sps)


def _bbox_of(sp: Scanpath, humans: Sequence[Scanpath]) -> tuple[float, float, float, float] | None:
    for s in (sp, *humans):
        b = s.meta.get("bbox") if isinstance(s.meta, dict) else None
        if b is not None:
            return tuple(float(v) for v in b)  # type: ignore[return-value]
    return None


class _Pairs:
    """Index pairs (prediction, human) with the per-pair frame sizes."""

    def __init__(
        self, preds: list[Scanpath], humans: list[Scanpath], pi: np.ndarray, hi: np.ndarray, sizes: dict | None
    ):
        self.preds, self.humans, self.pi, self.hi = preds, humans, pi, hi
        self.sizes = sizes
        self._frames: np.ndarray | None = None

    @property
    def frames(self) -> np.ndarray:
        if self._frames is None:
            fr = np.full((len(self.pi), 2), np.nan)
            cache: dict[int, tuple[float, float] | None] = {}
            for r, (p, h) in enumerate(zip(self.pi.tolist(), self.hi.tolist(), strict=True)):
                if p not in cache:
                    cache[p] = _frame(self.preds[p], [self.humans[h]], self.sizes)
                f = cache[p] or _frame(self.humans[h], [], self.sizes)
                if f is None:
                    sp = self.preds[p]
                    raise DataFormatError(
                        f"no frame size for stimulus {sp.stimulus!r}: give scanpath width/height or "
                        "stimuli_sizes={stimulus: (width, height)}"
                    )
                fr[r] = f
            self._frames = fr
        return self._frames

    def A(self) -> list[Scanpath]:
        return [self.preds[i] for i in self.pi.tolist()]

    def B(self) -> list[Scanpath]:
        return [self.humans[i] for i in self.hi.tolist()]


def _by_frame(pairs: _Pairs, fn) -> np.ndarray:
    """Run ``fn(A, B, (w, h)) -> [k] or [k, d]`` on groups of pairs that share a frame size."""
    fr = pairs.frames
    out: np.ndarray | None = None
    keys, inv = np.unique(fr, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    A, B = pairs.A(), pairs.B()
    for g, (w, h) in enumerate(keys.tolist()):
        idx = np.flatnonzero(inv == g)
        res = np.asarray(fn([A[i] for i in idx], [B[i] for i in idx], (w, h)), dtype=float)
        if out is None:
            out = np.full((len(A), *res.shape[1:]), np.nan)
        out[idx] = res
    return out if out is not None else np.zeros(0)


def _pairwise_values(name: str, pairs: _Pairs, ss_clusters: dict | None, opts: dict[str, Any]) -> np.ndarray:
    A, B = pairs.A(), pairs.B()
    if name in ("ss", "ss_dur"):
        tb = 50.0 if name == "ss_dur" else None
        if tb and not (_has_durations(A) and _has_durations(B)):
            raise DataFormatError("ss_dur needs fixation durations on every scanpath")
        trunc = opts.get("ss_truncate")
        strings: dict[tuple[int, tuple], np.ndarray] = {}

        def sym(sp: Scanpath, key: tuple) -> np.ndarray:
            k = (id(sp), key)
            if k not in strings:
                cl = ss_clusters.get(key) if ss_clusters else None
                if cl is None:
                    raise DataFormatError(f"no SS clusters for {key!r}")
                strings[k] = sm.cluster_string(sp, cl, time_bin=tb)
            return strings[k]

        # a prediction is encoded with the clusters of the human it is compared with (that human's key)
        return sm.sequence_score_batch(
            [sym(a, b.key) for a, b in zip(A, B, strict=True)], [sym(b, b.key) for b in B], truncate=trunc
        )
    if name == "sem_ss":
        maps = opts.get("label_maps")
        if not maps:
            raise DataFormatError("sem_ss needs label_maps={stimulus: [H, W] label map} (e.g. panoptic category ids)")
        cache: dict[int, np.ndarray] = {}

        def lab(sp: Scanpath) -> np.ndarray:
            if id(sp) not in cache:
                lm = maps.get(sp.stimulus)
                if lm is None:
                    raise DataFormatError(f"no label map for stimulus {sp.stimulus!r}")
                cache[id(sp)] = sm.semantic_string(sp, lm)
            return cache[id(sp)]

        return sm.sequence_score_batch([lab(a) for a in A], [lab(b) for b in B], truncate=opts.get("ss_truncate"))
    if name in ("ss_objects", "edit_objects"):
        for s in (*A, *B):
            if s.objects is None:
                raise DataFormatError(f"{name} needs object indices (Scanpath.objects); {s.stimulus!r} has none")
        oa = [a.objects for a in A]
        ob = [b.objects for b in B]
        return sm.sequence_score_batch(oa, ob) if name == "ss_objects" else sm.edit_distance_batch(oa, ob)
    if name in ("scanmatch", "scanmatch_dur"):
        tb = 50.0 if name == "scanmatch_dur" else 0.0
        if tb and not (_has_durations(A) and _has_durations(B)):
            raise DataFormatError("scanmatch_dur needs fixation durations on every scanpath")
        return _by_frame(pairs, lambda a, b, f: sm.scanmatch_batch(a, b, f, temp_bin=tb))
    if name == "multimatch":
        conv = opts.get("multimatch_convention", "reference")
        return _by_frame(pairs, lambda a, b, f: sm.multimatch_batch(a, b, f, convention=conv))
    if name == "edit_distance":
        grid = int(opts.get("grid", 5))
        cache: dict[int, np.ndarray] = {}

        def gs(sp: Scanpath, f: tuple[float, float]) -> np.ndarray:
            k = id(sp)
            if k not in cache:
                cache[k] = sm.grid_string(sp, f, grid)
            return cache[k]

        return _by_frame(pairs, lambda a, b, f: sm.edit_distance_batch([gs(x, f) for x in a], [gs(y, f) for y in b]))
    if name == "dtw":
        return sm.dtw_batch(A, B)
    if name == "frechet":
        return sm.frechet_batch(A, B)
    if name == "eyenalysis":
        return sm.eyenalysis_batch(A, B)
    if name == "tde":
        return sm.time_delay_embedding_batch(B, A, k=int(opts.get("tde_k", 3)))
    if name == "fdiss":
        return sm.fdiss_batch(A, B, float(opts.get("fdiss_radius", 45.0)))[:, 0]
    raise AssertionError(name)  # pragma: no cover


def _group_mean(values: np.ndarray, owner: np.ndarray, n_owner: int) -> np.ndarray:
    """Mean of ``values`` (``[P]`` or ``[P, d]``) per owner index, ignoring NaN; NaN for owners without values."""
    v = values.reshape(len(values), -1)
    ok = np.isfinite(v)
    s = np.zeros((n_owner, v.shape[1]))
    c = np.zeros((n_owner, v.shape[1]))
    np.add.at(s, owner, np.where(ok, v, 0.0))
    np.add.at(c, owner, ok.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(c > 0, s / np.where(c > 0, c, 1.0), np.nan)
    return m.reshape((n_owner, *values.shape[1:]))


def _check_list(name: str, sps: Any) -> list[Scanpath]:
    if sps is None:
        raise DataFormatError(f"no {name} scanpaths given")
    lst = list(sps)
    if not lst:
        raise DataFormatError(f"{name} scanpaths are empty: nothing to score")
    for i, s in enumerate(lst):
        if not isinstance(s, Scanpath):
            raise DataFormatError(f"{name}[{i}] is a {type(s).__name__}, expected a gazekit Scanpath")
    return lst


def _auto_metrics(preds: Sequence[Scanpath], humans: Sequence[Scanpath]) -> list[str]:
    allsp = [*preds, *humans]
    out = ["ss", "scanmatch", "multimatch", "edit_distance", "dtw", "frechet", "eyenalysis", "tde"]
    if _has_durations(allsp):
        out[1:1] = ["ss_dur"]
        out.insert(out.index("scanmatch") + 1, "scanmatch_dur")
    if all(s.objects is not None for s in allsp):
        out += ["ss_objects", "edit_objects"]
    if all(isinstance(s.meta, dict) and s.meta.get("bbox") is not None for s in humans):
        out += ["tfp_auc", "prob_mismatch", "found_rate", "fixations_to_target", "scanpath_ratio"]
    if all(s.objects is not None for s in allsp) and all(
        se._target_object(s) is not None or s.found is not None for s in allsp
    ):
        out.append("delta")
    return out


def _needs_frames(names: Sequence[str]) -> bool:
    return any(
        n in ("scanmatch", "scanmatch_dur", "multimatch", "edit_distance") or n in MULTIMATCH_NAMES for n in names
    )


def _score_pairs(
    names: list[str],
    preds: list[Scanpath],
    humans: list[Scanpath],
    pi: np.ndarray,
    hi: np.ndarray,
    sizes: dict | None,
    ss_clusters: dict | None,
    opts: dict[str, Any],
    owner: np.ndarray,
    n_owner: int,
) -> dict[str, MetricSummary]:
    pairs = _Pairs(preds, humans, pi, hi, sizes)
    out: dict[str, MetricSummary] = {}
    pair_index = np.stack([pi, hi], axis=1) if len(pi) else np.zeros((0, 2), dtype=np.int64)
    mm_done = False
    for name in names:
        if name in MULTIMATCH_NAMES or name == "multimatch":
            if mm_done:
                continue
            mm_done = True
            vals = _pairwise_values("multimatch", pairs, ss_clusters, opts)
            per = _group_mean(vals, owner, n_owner)
            want = MULTIMATCH_NAMES if "multimatch" in names else [n for n in names if n in MULTIMATCH_NAMES]
            for d, dim in enumerate(MULTIMATCH_NAMES):
                if dim in want:
                    out[dim] = MetricSummary.from_values(per[:, d], pairs=vals[:, d], pair_index=pair_index)
            continue
        vals = _pairwise_values(name, pairs, ss_clusters, opts)
        per = _group_mean(vals, owner, n_owner)
        out[name] = MetricSummary.from_values(
            per, pairs=vals, pair_index=pair_index, higher_is_better=name not in LOWER_IS_BETTER
        )
    return out


def _with_bbox(sps: Sequence[Scanpath], human_by_key: dict) -> list[Scanpath]:
    out = []
    for s in sps:
        if isinstance(s.meta, dict) and s.meta.get("bbox") is not None:
            out.append(s)
            continue
        b = _bbox_of(s, human_by_key.get(s.key, []))
        if b is None:
            raise DataFormatError(f"search metrics need a target bbox for {s.key!r} (meta['bbox'])")
        import dataclasses

        out.append(dataclasses.replace(s, meta={**s.meta, "bbox": list(b)}))
    return out


def _search_metrics(
    names: list[str], preds: list[Scanpath], human_by_key: dict, max_step: int
) -> dict[str, MetricSummary]:
    out: dict[str, MetricSummary] = {}
    todo = [n for n in names if n in _SET or n in _PER_SCANPATH]
    if not todo:
        return out
    humans = [h for k in {p.key for p in preds} for h in human_by_key.get(k, [])]
    if any(n in ("tfp_auc", "prob_mismatch", "found_rate", "fixations_to_target", "scanpath_ratio") for n in todo):
        P = _with_bbox(preds, human_by_key)
    if "tfp_auc" in todo or "prob_mismatch" in todo:
        by_task = se.target_found_curve(P, max_step, by_task=True)
        per_task = {k: se.tfp_auc(v) for k, v in by_task.items()}
        cdf = np.mean(np.stack(list(by_task.values())), axis=0)
        if "tfp_auc" in todo:
            vals = np.array(list(per_task.values()))
            out["tfp_auc"] = MetricSummary(
                se.tfp_auc(cdf), float(vals.std()), len(P), vals, extra={"cdf": cdf.tolist(), "per_task": per_task}
            )
        if "prob_mismatch" in todo:
            H = _with_bbox(humans, human_by_key)
            hcdf = se.target_found_curve(H, max_step)
            out["prob_mismatch"] = MetricSummary(
                se.probability_mismatch(cdf, hcdf),
                float("nan"),
                len(P),
                np.zeros(0),
                higher_is_better=False,
                extra={"cdf_model": cdf.tolist(), "cdf_human": np.asarray(hcdf).tolist()},
            )
    if "found_rate" in todo or "fixations_to_target" in todo:
        steps = se.fixations_to_target(P)
        if "found_rate" in todo:
            out["found_rate"] = MetricSummary.from_values((steps < se.NOT_FOUND).astype(float))
        if "fixations_to_target" in todo:
            out["fixations_to_target"] = MetricSummary.from_values(
                np.where(steps < se.NOT_FOUND, steps, np.nan).astype(float), higher_is_better=False
            )
    if "scanpath_ratio" in todo:
        vals = np.array([se.scanpath_ratio([p], max_step) for p in P])
        out["scanpath_ratio"] = MetricSummary.from_values(vals)
    if "delta" in todo:
        d = se.behavioural_delta(preds, humans)
        out["delta"] = MetricSummary(
            d["delta"],
            float("nan"),
            d["n_trials"],
            np.zeros(0),
            higher_is_better=False,
            extra={"model": d["model"], "human": d["human"]},
        )
    return out


# --------------------------------------------------------------------------------------------- public API
def score_scanpaths(
    predictions: Sequence[Scanpath],
    humans: Sequence[Scanpath],
    metrics: Sequence[str] | str | None = None,
    *,
    stimuli_sizes: dict[str, tuple[float, float]] | None = None,
    max_step: int = 6,
    ss_clusters: dict | None = None,
    ss_truncate: int | None = None,
    grid: int = 5,
    fdiss_radius: float = 45.0,
    multimatch_convention: str = "reference",
    label_maps: dict[str, np.ndarray] | None = None,
) -> dict[str, MetricSummary]:
    """Score predicted scanpaths against human scanpaths.

    Args:
        predictions: model scanpaths; each is matched to all humans with the same ``Scanpath.key``
            = (stimulus, task); a prediction whose task is None is matched to every human scanpath of its
            stimulus. Predictions without a matching human are ignored (their values are NaN).
        humans: human scanpaths.
        metrics: names from :data:`SCANPATH_METRICS` (case-insensitive; ``mm_shape``... select single
            MultiMatch dimensions). ``None``: every metric the data supports (durations, objects, bboxes).
        stimuli_sizes: ``{stimulus: (width, height)}`` for frame-based metrics (ScanMatch grid, MultiMatch
            diagonal, edit-distance grid) when the scanpaths carry no ``width``/``height``.
        max_step: last step of the target-found curve (6 for COCO-Search18).
        ss_clusters: ``{key: MeanShiftClusters}``; default: fitted on ``humans`` by the published protocol.
        ss_truncate: cut SS strings to this many symbols (IRL's ``max_step`` truncation).
        grid: cells per side of the edit-distance grid.
        fdiss_radius: foveal disc radius in px for ``fdiss``.
        multimatch_convention: ``"reference"`` (multimatch-gaze: NaN below 3 fixations) or ``"irl"``
            (the IRL/HAT wrapper: pad with (1, 1), durations 1; see ``scanpath.multimatch_batch``).
        label_maps: ``{stimulus: [H, W] int labels}`` in the scanpaths' frame, for ``sem_ss``.

    Returns:
        ``{name: MetricSummary}``; MultiMatch expands to ``mm_shape``, ``mm_direction``, ``mm_length``,
        ``mm_position``, ``mm_duration``.

    Raises:
        ConfigError: unknown metric names (the message lists the valid ones).
        DataFormatError: empty inputs, no prediction matching any human (stimulus, task), or data a
            requested metric needs (durations, objects, bboxes, frame sizes) missing.
    """
    preds = _check_list("predicted", predictions)
    hum = _check_list("human", humans)
    names = resolve_metrics(metrics) if metrics is not None else _auto_metrics(preds, hum)
    human_by_key: dict[tuple, list[int]] = {}
    for j, h in enumerate(hum):
        human_by_key.setdefault(h.key, []).append(j)
    by_stim: dict[str, list[int]] = {}
    for j, h in enumerate(hum):
        by_stim.setdefault(h.stimulus, []).append(j)

    def humans_of(p: Scanpath) -> list[int]:
        # a prediction without a task is compared with every human scanpath of its stimulus
        return human_by_key.get(p.key, []) if p.task is not None else by_stim.get(p.stimulus, [])

    matched = [i for i, p in enumerate(preds) if humans_of(p)]
    if not matched:
        pk = sorted({repr(p.key) for p in preds})[:3]
        hk = sorted({repr(h.key) for h in hum})[:3]
        raise DataFormatError(
            "no prediction matches any human (stimulus, task): prediction keys e.g. "
            f"{', '.join(pk)}; human keys e.g. {', '.join(hk)}"
        )
    pi_l, hi_l = [], []
    for i in matched:
        js = humans_of(preds[i])
        pi_l.extend([i] * len(js))
        hi_l.extend(js)
    pi = np.asarray(pi_l, dtype=np.int64)
    hi = np.asarray(hi_l, dtype=np.int64)
    _check_frames(preds, hum, pi, hi)
    opts = {
        "ss_truncate": ss_truncate,
        "grid": grid,
        "fdiss_radius": fdiss_radius,
        "multimatch_convention": multimatch_convention,
        "label_maps": label_maps,
    }
    if (any(n in ("ss", "ss_dur") for n in names)) and ss_clusters is None:
        keys = {hum[j].key for j in hi_l}
        ss_clusters = {k: sm.fit_ss_clusters([hum[j] for j in human_by_key[k]]) for k in keys}
    pair_names = [n for n in names if n in _PAIRWISE or n in MULTIMATCH_NAMES]
    out = _score_pairs(pair_names, preds, hum, pi, hi, stimuli_sizes, ss_clusters, opts, pi, len(preds))
    hbk = {k: [hum[j] for j in v] for k, v in human_by_key.items()}
    out.update(_search_metrics(names, [preds[i] for i in matched], hbk, max_step))
    ordered = {}
    for n in names:
        if n == "multimatch":
            ordered.update({d: out[d] for d in MULTIMATCH_NAMES if d in out})
        elif n in out:
            ordered[n] = out[n]
    return ordered


def human_consistency(
    humans: Sequence[Scanpath],
    metrics: Sequence[str] | str | None = None,
    *,
    stimuli_sizes: dict[str, tuple[float, float]] | None = None,
    max_step: int = 6,
    ss_clusters: dict | None = None,
    ss_truncate: int | None = None,
    grid: int = 5,
    fdiss_radius: float = 45.0,
    multimatch_convention: str = "reference",
    label_maps: dict[str, np.ndarray] | None = None,
) -> dict[str, MetricSummary]:
    """Human ceilings by leave-one-subject-out.

    Protocol: for every (stimulus, task) key, each subject's scanpath in turn plays the prediction and is
    scored against the scanpaths of **all other subjects** of that key (self-pairs excluded; ordered
    pairs, so each unordered pair counts once in each direction, which only matters for asymmetric
    metrics such as TDE). Per-"prediction" values are means over the other subjects; the summary is over
    all held-out scanpaths. SS clusters are fitted on all subjects' fixations of the key (as the
    published cluster files are). Set metrics: ``tfp_auc`` is the humans' own curve; ``prob_mismatch``
    and ``delta`` compare each subject's scanpaths with the other subjects' on the same keys, averaged
    over subjects. Keys with a single subject contribute nothing to pairwise metrics.
    """
    hum = _check_list("human", humans)
    names = resolve_metrics(metrics) if metrics is not None else _auto_metrics(hum, hum)
    by_key: dict[tuple, list[int]] = {}
    for j, h in enumerate(hum):
        by_key.setdefault(h.key, []).append(j)
    pi_l, hi_l = [], []
    for js in by_key.values():
        for a in js:
            for b in js:
                if a != b and hum[a].subject != hum[b].subject:
                    pi_l.append(a)
                    hi_l.append(b)
    pi = np.asarray(pi_l, dtype=np.int64)
    hi = np.asarray(hi_l, dtype=np.int64)
    opts = {
        "ss_truncate": ss_truncate,
        "grid": grid,
        "fdiss_radius": fdiss_radius,
        "multimatch_convention": multimatch_convention,
        "label_maps": label_maps,
    }
    if any(n in ("ss", "ss_dur") for n in names) and ss_clusters is None:
        ss_clusters = {k: sm.fit_ss_clusters([hum[j] for j in v]) for k, v in by_key.items()}
    pair_names = [n for n in names if n in _PAIRWISE or n in MULTIMATCH_NAMES]
    out: dict[str, MetricSummary] = {}
    if pair_names:
        if len(pi) == 0:
            raise DataFormatError("human consistency needs >= 2 subjects on at least one (stimulus, task)")
        out = _score_pairs(pair_names, hum, hum, pi, hi, stimuli_sizes, ss_clusters, opts, pi, len(hum))
    hbk = {k: [hum[j] for j in v] for k, v in by_key.items()}
    set_names = [n for n in names if n in _SET or n in _PER_SCANPATH]
    if set_names:
        plain = [n for n in set_names if n not in ("prob_mismatch", "delta")]
        out.update(_search_metrics(plain, hum, hbk, max_step))
        subjects = sorted({str(h.subject) for h in hum})
        pm, dl = [], []
        for s in subjects:
            mine = [h for h in hum if str(h.subject) == s]
            rest = [h for h in hum if str(h.subject) != s and h.key in {m.key for m in mine}]
            if not mine or not rest:
                continue
            if "prob_mismatch" in set_names:
                a = se.target_found_curve(_with_bbox(mine, hbk), max_step)
                b = se.target_found_curve(_with_bbox(rest, hbk), max_step)
                pm.append(se.probability_mismatch(a, b))
            if "delta" in set_names:
                dl.append(se.behavioural_delta(mine, rest)["delta"])
        if "prob_mismatch" in set_names:
            out["prob_mismatch"] = MetricSummary.from_values(np.array(pm), higher_is_better=False)
        if "delta" in set_names:
            out["delta"] = MetricSummary.from_values(np.array(dl), higher_is_better=False)
    ordered = {}
    for n in names:
        if n == "multimatch":
            ordered.update({d: out[d] for d in MULTIMATCH_NAMES if d in out})
        elif n in out:
            ordered[n] = out[n]
    return ordered
