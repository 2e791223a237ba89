"""Score predicted scanpaths against human scanpaths by name: :func:`score_scanpaths`,
:func:`human_consistency`, the metric table :data:`METRICS` (one :class:`MetricSpec` per metric: kind,
direction, what the data must carry, which options it reads) and the one options dataclass
:class:`ScoreOptions` both functions (and the distribution protocol) share.

Pairing protocol (one place): a prediction is compared with **every** human scanpath that has the same
``Scanpath.key`` = (stimulus, task) (with every human of the stimulus when the prediction has no task). Pairwise metrics are computed per pair, averaged over the humans of
the prediction's key (NaN pairs, e.g. MultiMatch with < 3 fixations, are left out of that mean), then
summarised over predictions (mean, std with ddof 0, n = predictions with a finite score). Set metrics
(TFP-AUC, probability mismatch, behavioural delta) are computed on the whole prediction set against the
humans of the matched keys.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics import scanpath as sm
from gazekit.metrics import search as se
from gazekit.types import Scanpath

__all__ = [
    "LOWER_IS_BETTER",
    "auto_metrics",
    "METRICS",
    "SCANPATH_METRICS",
    "MetricSpec",
    "MetricSummary",
    "ScoreOptions",
    "human_consistency",
    "preprocess_scanpaths",
    "resolve_metrics",
    "score_scanpaths",
]


# --------------------------------------------------------------------------------------------- options
@dataclass(frozen=True)
class ScoreOptions:
    """Every option of :func:`score_scanpaths`, :func:`human_consistency` and the distribution protocol
    (:func:`gazekit.metrics.distribution.score_distribution`); each can also be passed as a keyword.

    Attributes:
        stimuli_sizes: ``{stimulus: (width, height)}`` for frame-based metrics (ScanMatch grid, MultiMatch
            diagonal, edit-distance grid) when the scanpaths carry no ``width``/``height``.
        max_step: last step of the target-found curve (6 for COCO-Search18).
        ss_clusters: ``{key: MeanShiftClusters}``; default: fitted on the humans by the published protocol.
        ss_truncate: cut SS strings to this many symbols (IRL's ``max_step`` truncation).
        grid: cells per side of the edit-distance grid.
        fdiss_radius: foveal disc radius in px for ``fdiss``.
        multimatch_convention: ``"reference"`` (multimatch-gaze: NaN below 3 fixations) or ``"irl"``
            (the IRL/HAT wrapper: pad with (1, 1), durations 1; see ``scanpath.multimatch_batch``).
        label_maps: ``{stimulus: [H, W] int labels}`` in the scanpaths' frame, for ``sem_ss``.
        tde_k: embedding length of ``tde`` (fixations per sub-sequence).
        drop_first_fixation: preprocessing (TPP-Gaze / ScanDiff): remove every scanpath's first fixation
            (the central start) before scoring, predictions and humans alike.
        min_fixations: preprocessing: drop scanpaths with fewer fixations (after ``drop_first_fixation``);
            the papers use 4. 0 keeps all.
        kl_bins: distribution protocol: number of histogram **edges** spanning [min, max] of the pooled
            scores (ScanDiff ``perform_kld``: ``np.linspace(min, max, 100)``, i.e. 99 bins).
        kl_eps: distribution protocol: added to the model histogram before renormalising (ScanDiff: 1e-10).
        rss_threshold: RSS: a human scanpath counts as covered when some generated scanpath scores above
            this (below, for lower-is-better metrics); None = the human-vs-human mean of the metric on the
            same data (ScanDiff's thresholds are the datasets' human-consistency SS).
    """

    stimuli_sizes: dict[str, tuple[float, float]] | None = None
    max_step: int = 6
    ss_clusters: dict | None = None
    ss_truncate: int | None = None
    grid: int = 5
    fdiss_radius: float = 45.0
    multimatch_convention: str = "reference"
    label_maps: dict[str, np.ndarray] | None = None
    tde_k: int = 3
    drop_first_fixation: bool = False
    min_fixations: int = 0
    kl_bins: int = 100
    kl_eps: float = 1e-10
    rss_threshold: float | None = None

    @classmethod
    def resolve(cls, options: ScoreOptions | None = None, **overrides: Any) -> ScoreOptions:
        """``options`` (default: all defaults) with ``overrides`` applied; ConfigError names unknown keys."""
        base = options if options is not None else cls()
        if not isinstance(base, ScoreOptions):
            raise ConfigError(f"options must be a ScoreOptions, got {type(base).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ConfigError(f"unknown scoring option(s) {', '.join(bad)}; valid: {', '.join(sorted(known))}")
        out = dataclasses.replace(base, **overrides) if overrides else base
        if out.tde_k < 1:
            raise ConfigError(f"tde_k must be >= 1, got {out.tde_k}")
        if out.min_fixations < 0:
            raise ConfigError(f"min_fixations must be >= 0, got {out.min_fixations}")
        if out.kl_bins < 2:
            raise ConfigError(f"kl_bins must be >= 2 (histogram edges), got {out.kl_bins}")
        if out.multimatch_convention not in ("reference", "irl"):
            raise ConfigError(f"multimatch_convention must be 'reference' or 'irl', got {out.multimatch_convention!r}")
        return out


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


def _ss_pairs(pairs: _Pairs, o: ScoreOptions, time_bin: float | None) -> np.ndarray:
    A, B = pairs.A(), pairs.B()
    if time_bin and not (_has_durations(A) and _has_durations(B)):
        raise DataFormatError("ss_dur needs fixation durations on every scanpath")
    strings: dict[tuple[int, tuple], np.ndarray] = {}

    def sym(sp: Scanpath, key: tuple) -> np.ndarray:
        k = (id(sp), key)
        if k not in strings:
            cl = o.ss_clusters.get(key) if o.ss_clusters else None
            if cl is None:
                raise DataFormatError(f"no SS clusters for {key!r}")
            strings[k] = sm.cluster_string(sp, cl, time_bin=time_bin)
        return strings[k]

    # a prediction is encoded with the clusters of the human it is compared with (that human's key)
    return sm.sequence_score_batch(
        [sym(a, b.key) for a, b in zip(A, B, strict=True)], [sym(b, b.key) for b in B], truncate=o.ss_truncate
    )


def _sem_ss_pairs(pairs: _Pairs, o: ScoreOptions) -> np.ndarray:
    if not o.label_maps:
        raise DataFormatError("sem_ss needs label_maps={stimulus: [H, W] label map} (e.g. panoptic category ids)")
    cache: dict[int, np.ndarray] = {}

    def lab(sp: Scanpath) -> np.ndarray:
        if id(sp) not in cache:
            lm = o.label_maps.get(sp.stimulus)
            if lm is None:
                raise DataFormatError(f"no label map for stimulus {sp.stimulus!r}")
            cache[id(sp)] = sm.semantic_string(sp, lm)
        return cache[id(sp)]

    return sm.sequence_score_batch([lab(a) for a in pairs.A()], [lab(b) for b in pairs.B()], truncate=o.ss_truncate)


def _object_strings(pairs: _Pairs, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    A, B = pairs.A(), pairs.B()
    for s in (*A, *B):
        if s.objects is None:
            raise DataFormatError(f"{name} needs object indices (Scanpath.objects); {s.stimulus!r} has none")
    return [a.objects for a in A], [b.objects for b in B]


def _scanmatch_pairs(pairs: _Pairs, temp_bin: float) -> np.ndarray:
    if temp_bin and not (_has_durations(pairs.A()) and _has_durations(pairs.B())):
        raise DataFormatError("scanmatch_dur needs fixation durations on every scanpath")
    return _by_frame(pairs, lambda a, b, f: sm.scanmatch_batch(a, b, f, temp_bin=temp_bin))


def _edit_pairs(pairs: _Pairs, o: ScoreOptions) -> np.ndarray:
    cache: dict[int, np.ndarray] = {}

    def gs(sp: Scanpath, f: tuple[float, float]) -> np.ndarray:
        if id(sp) not in cache:
            cache[id(sp)] = sm.grid_string(sp, f, int(o.grid))
        return cache[id(sp)]

    return _by_frame(pairs, lambda a, b, f: sm.edit_distance_batch([gs(x, f) for x in a], [gs(y, f) for y in b]))


PairFn = Callable[["_Pairs", ScoreOptions], np.ndarray]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: everything the API, the CLI, the demo and the viewer need to know about it.

    Attributes:
        name: canonical name (``--metrics`` accepts it case-insensitively, and ``aliases``).
        kind: ``pair`` (per (prediction, human) pair, averaged per prediction), ``scanpath`` (per
            prediction) or ``set`` (on the whole prediction set vs the humans).
        higher_is_better: direction.
        description: one line for ``--list-metrics`` and reports.
        needs: what the data must carry: ``frames`` (width/height or ``stimuli_sizes``), ``objects``
            (``Scanpath.objects``), ``durations``, ``targets`` (target box ``meta['bbox']``),
            ``target_objects`` (``meta['target_object']`` or ``found``), ``clusters`` (SS clusters, fitted
            on the humans when not given), ``label_maps``.
        options: the :class:`ScoreOptions` fields it reads.
        columns: result names (MultiMatch expands to its dimensions); default ``(name,)``.
        aliases: other accepted names.
        pair_fn: ``(pairs, options) -> [n_pairs]`` (or ``[n_pairs, len(columns)]``) for ``pair`` metrics.
    """

    name: str
    kind: Literal["pair", "scanpath", "set"]
    higher_is_better: bool
    description: str
    needs: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    pair_fn: PairFn | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.columns or (self.name,)


_MM = tuple(f"mm_{d}" for d in sm.MULTIMATCH_DIMS)
_FRAME_OPTS = ("stimuli_sizes",)

#: The metric table: adding a metric is one entry here (plus its pair function for ``pair`` metrics).
METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec(
            "ss", "pair", True, "sequence score: LCS / max length of MeanShift cluster strings (clusters fitted per "
            "stimulus+task on all human fixations, IRL/HAT protocol)", ("clusters",), ("ss_clusters", "ss_truncate"),
            aliases=("sequence_score",), pair_fn=lambda p, o: _ss_pairs(p, o, None),
        ),
        MetricSpec(
            "ss_dur", "pair", True, "time-binned SS: each fixation repeated floor(duration / 50 ms) times (Gazeformer)",
            ("clusters", "durations"), ("ss_clusters", "ss_truncate"), pair_fn=lambda p, o: _ss_pairs(p, o, 50.0),
        ),
        MetricSpec(
            "ss_objects", "pair", True, "SS on object-index strings (Scanpath.objects, OAT)", ("objects",),
            pair_fn=lambda p, o: sm.sequence_score_batch(*_object_strings(p, "ss_objects")),
        ),
        MetricSpec(
            "sem_ss", "pair", True, "semantic SS: SS on the label-map value at each fixation (needs label_maps="
            "{stimulus: [H, W]})", ("label_maps",), ("label_maps", "ss_truncate"), pair_fn=_sem_ss_pairs,
        ),
        MetricSpec(
            "scanmatch", "pair", True, "ScanMatch without duration: 16x12 bins over the frame, threshold 3.5, gap 0",
            ("frames",), _FRAME_OPTS, pair_fn=lambda p, o: _scanmatch_pairs(p, 0.0),
        ),
        MetricSpec(
            "scanmatch_dur", "pair", True, "ScanMatch with duration: as scanmatch, temporal bin 50 ms",
            ("frames", "durations"), _FRAME_OPTS, pair_fn=lambda p, o: _scanmatch_pairs(p, 50.0),
        ),
        MetricSpec(
            "multimatch", "pair", True, "MultiMatch (multimatch-gaze): mm_shape, mm_direction, mm_length, "
            "mm_position, mm_duration; NaN for < 3 fixations", ("frames",), (*_FRAME_OPTS, "multimatch_convention"),
            columns=_MM, aliases=("mm",),
            pair_fn=lambda p, o: _by_frame(p, lambda a, b, f: sm.multimatch_batch(a, b, f, convention=o.multimatch_convention)),
        ),
        MetricSpec(
            "edit_distance", "pair", False, "Levenshtein distance of grid-cell strings (FixaTons; grid x grid cells)",
            ("frames",), (*_FRAME_OPTS, "grid"), aliases=("sed", "levenshtein"), pair_fn=_edit_pairs,
        ),
        MetricSpec(
            "edit_objects", "pair", False, "Levenshtein distance of object-index strings (OAT)", ("objects",),
            pair_fn=lambda p, o: sm.edit_distance_batch(*_object_strings(p, "edit_objects")),
        ),
        MetricSpec("dtw", "pair", False, "exact dynamic time warping, px", pair_fn=lambda p, o: sm.dtw_batch(p.A(), p.B())),
        MetricSpec(
            "frechet", "pair", False, "discrete Frechet distance, px", pair_fn=lambda p, o: sm.frechet_batch(p.A(), p.B())
        ),
        MetricSpec(
            "eyenalysis", "pair", False, "Eyenalysis double-mapping distance, px",
            pair_fn=lambda p, o: sm.eyenalysis_batch(p.A(), p.B()),
        ),
        MetricSpec(
            "tde", "pair", False, "time-delay embedding distance (k = tde_k, default 3; mean; human as reference), px",
            options=("tde_k",), pair_fn=lambda p, o: sm.time_delay_embedding_batch(p.B(), p.A(), k=int(o.tde_k)),
        ),
        MetricSpec(
            "fdiss", "pair", True, "foveal-disc IoU scanpath score (F1 of bidirectional best disc IoU, radius "
            "fdiss_radius px, default 45 = about 1 degree)", options=("fdiss_radius",),
            pair_fn=lambda p, o: sm.fdiss_batch(p.A(), p.B(), float(o.fdiss_radius))[:, 0],
        ),
        MetricSpec(
            "tfp_auc", "set", True, "TFP-AUC: plain sum of the target-found curve, steps 1..max_step+1; higher = finds "
            "the target sooner", ("targets",), ("max_step",), aliases=("tfp",),
        ),
        MetricSpec(
            "prob_mismatch", "set", False, "sum |TFP_model - TFP_human| over the curve", ("targets",), ("max_step",),
            aliases=("probability_mismatch",),
        ),
        MetricSpec("found_rate", "scanpath", True, "share of predictions with a fixation on the target bbox", ("targets",)),
        MetricSpec(
            "fixations_to_target", "scanpath", False, "1-based index of the first on-target fixation, found scanpaths only",
            ("targets",), aliases=("ftt",),
        ),
        MetricSpec(
            "scanpath_ratio", "scanpath", True, "min(direct distance to target / travelled distance, 1), HAT protocol",
            ("targets",), ("max_step",),
        ),
        MetricSpec(
            "delta", "set", False, "OAT behavioural delta over found/length/search/refix/revisit",
            ("objects", "target_objects"),
        ),
    )
}  # fmt: skip

#: name -> one-line description with direction (the CLI's ``--metrics`` accepts these, case-insensitively)
SCANPATH_METRICS: dict[str, str] = {
    k: f"{m.description}; {'higher' if m.higher_is_better else 'lower'} is better" for k, m in METRICS.items()
}
MULTIMATCH_NAMES = _MM
#: metrics where a smaller value is the better prediction (distances, mismatches, the behavioural delta)
LOWER_IS_BETTER = {c for m in METRICS.values() if not m.higher_is_better for c in m.outputs}
_BY_NAME: dict[str, str] = {
    **{a: m.name for m in METRICS.values() for a in m.aliases},
    **{c: m.name for m in METRICS.values() for c in m.columns},
    **{k: k for k in METRICS},
}


def spec_of(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of a canonical name, alias or output column (``mm_shape`` -> multimatch)."""
    try:
        return METRICS[_BY_NAME[name.strip().lower()]]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; valid names: {', '.join(METRICS)}") from None


def resolve_metrics(metrics: Sequence[str] | str | None) -> list[str]:
    """Canonical metric names (case-insensitive, aliases and ``mm_*`` accepted); ConfigError lists valid ones."""
    if metrics is None:
        return list(METRICS)
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    out: list[str] = []
    bad: list[str] = []
    for m in metrics:
        k = str(m).strip().lower()
        if not k:
            continue
        k = k if k in _MM else _BY_NAME.get(k, k)
        if k in METRICS or k in _MM:
            if k not in out:
                out.append(k)
        else:
            bad.append(str(m))
    if bad:
        valid = ", ".join(list(METRICS) + list(_MM))
        raise ConfigError(f"unknown metric name(s) {', '.join(map(repr, bad))}; valid names: {valid}")
    if not out:
        raise ConfigError("no metric names given")
    return out


def preprocess_scanpaths(scanpaths: Sequence[Scanpath], options: ScoreOptions) -> list[Scanpath]:
    """The papers' preprocessing as named options: ``drop_first_fixation`` (every scanpath loses its first
    fixation) then ``min_fixations`` (shorter scanpaths are removed). Identity with the defaults."""
    out = list(scanpaths)
    if options.drop_first_fixation:
        out = [
            dataclasses.replace(
                s,
                x=s.x[1:],
                y=s.y[1:],
                duration=s.duration[1:],
                objects=None if s.objects is None else s.objects[1:],
                meta=dict(s.meta),
            )
            for s in out
        ]
    if options.min_fixations:
        out = [s for s in out if len(s) >= options.min_fixations]
    return out


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


def _supported(spec: MetricSpec, allsp: Sequence[Scanpath], humans: Sequence[Scanpath], o: ScoreOptions) -> bool:
    """Whether the data carries what ``spec.needs`` (frames and clusters can always be made or are checked
    when scoring)."""
    checks = {
        "durations": lambda: _has_durations(allsp),
        "objects": lambda: all(s.objects is not None for s in allsp),
        "targets": lambda: all(isinstance(s.meta, dict) and s.meta.get("bbox") is not None for s in humans),
        "target_objects": lambda: all(se._target_object(s) is not None or s.found is not None for s in allsp),
        "label_maps": lambda: bool(o.label_maps),
    }
    return all(checks.get(n, lambda: True)() for n in spec.needs)


#: pair metrics left out of the automatic selection (slower, or their own protocol)
_NOT_AUTO = {"fdiss"}


def auto_metrics(preds: Sequence[Scanpath], humans: Sequence[Scanpath], o: ScoreOptions) -> list[str]:
    allsp = [*preds, *humans]
    return [k for k, m in METRICS.items() if k not in _NOT_AUTO and _supported(m, allsp, humans, o)]


def _score_pairs(
    names: list[str],
    preds: list[Scanpath],
    humans: list[Scanpath],
    pi: np.ndarray,
    hi: np.ndarray,
    o: ScoreOptions,
    n_owner: int,
) -> dict[str, MetricSummary]:
    """Pair metrics ``names`` on pairs ``(preds[pi[r]], humans[hi[r]])``, averaged per prediction index."""
    pairs = _Pairs(preds, humans, pi, hi, o.stimuli_sizes)
    out: dict[str, MetricSummary] = {}
    pair_index = np.stack([pi, hi], axis=1) if len(pi) else np.zeros((0, 2), dtype=np.int64)
    done: set[str] = set()
    for name in names:
        spec = spec_of(name)
        if spec.name in done:
            continue
        done.add(spec.name)
        vals = np.asarray(spec.pair_fn(pairs, o), dtype=float)  # type: ignore[misc]
        per = _group_mean(vals, pi, n_owner)
        want = spec.outputs if spec.name in names else [n for n in names if n in spec.columns]
        for d, col in enumerate(spec.outputs):
            if col in want:
                v, pv = (per, vals) if vals.ndim == 1 else (per[:, d], vals[:, d])
                out[col] = MetricSummary.from_values(
                    v, pairs=pv, pair_index=pair_index, higher_is_better=spec.higher_is_better
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
        out.append(dataclasses.replace(s, meta={**s.meta, "bbox": list(b)}))
    return out


def _search_metrics(
    names: list[str], preds: list[Scanpath], human_by_key: dict, max_step: int
) -> dict[str, MetricSummary]:
    out: dict[str, MetricSummary] = {}
    todo = [n for n in names if n in METRICS and METRICS[n].kind != "pair"]
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


def _pair_names(names: Sequence[str]) -> list[str]:
    return [n for n in names if spec_of(n).kind == "pair"]


def _ordered(names: Sequence[str], out: dict[str, MetricSummary]) -> dict[str, MetricSummary]:
    ordered: dict[str, MetricSummary] = {}
    for n in names:
        for col in METRICS[n].outputs if n in METRICS else (n,):
            if col in out:
                ordered[col] = out[col]
    return ordered


def _fit_clusters(names: Sequence[str], o: ScoreOptions, hum: list[Scanpath], by_key: dict, keys) -> ScoreOptions:  # noqa: ANN001
    if o.ss_clusters is None and any("clusters" in spec_of(n).needs for n in names):
        return dataclasses.replace(o, ss_clusters={k: sm.fit_ss_clusters([hum[j] for j in by_key[k]]) for k in keys})
    return o


# --------------------------------------------------------------------------------------------- public API
def score_scanpaths(
    predictions: Sequence[Scanpath],
    humans: Sequence[Scanpath],
    metrics: Sequence[str] | str | None = None,
    options: ScoreOptions | None = None,
    **kw: Any,
) -> dict[str, MetricSummary]:
    """Score predicted scanpaths against human scanpaths.

    Args:
        predictions: model scanpaths; each is matched to all humans with the same ``Scanpath.key``
            = (stimulus, task); a prediction whose task is None is matched to every human scanpath of its
            stimulus. Predictions without a matching human are ignored (their values are NaN).
        humans: human scanpaths.
        metrics: names from :data:`METRICS` (case-insensitive; ``mm_shape``... select single
            MultiMatch dimensions). ``None``: every metric the data supports (durations, objects, bboxes).
        options: :class:`ScoreOptions`; any of its fields may also be given as a keyword
            (``stimuli_sizes=``, ``max_step=``, ``tde_k=``, ``drop_first_fixation=``...).

    Returns:
        ``{name: MetricSummary}``; MultiMatch expands to ``mm_shape``, ``mm_direction``, ``mm_length``,
        ``mm_position``, ``mm_duration``.

    Raises:
        ConfigError: unknown metric names or options (the message lists the valid ones).
        DataFormatError: empty inputs, no prediction matching any human (stimulus, task), or data a
            requested metric needs (durations, objects, bboxes, frame sizes) missing.
    """
    o = ScoreOptions.resolve(options, **kw)
    preds = preprocess_scanpaths(_check_list("predicted", predictions), o)
    hum = preprocess_scanpaths(_check_list("human", humans), o)
    if not preds or not hum:
        raise DataFormatError(f"no scanpath has >= {o.min_fixations} fixations after preprocessing")
    names = resolve_metrics(metrics) if metrics is not None else auto_metrics(preds, hum, o)
    human_by_key: dict[tuple, list[int]] = {}
    by_stim: dict[str, list[int]] = {}
    for j, h in enumerate(hum):
        human_by_key.setdefault(h.key, []).append(j)
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
    o = _fit_clusters(names, o, hum, human_by_key, {hum[j].key for j in hi_l})
    out = _score_pairs(_pair_names(names), preds, hum, pi, hi, o, len(preds))
    hbk = {k: [hum[j] for j in v] for k, v in human_by_key.items()}
    out.update(_search_metrics(names, [preds[i] for i in matched], hbk, o.max_step))
    return _ordered(names, out)


def consistency_pairs(scanpaths: Sequence[Scanpath], distinct_subjects: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Ordered pairs ``(a, b)`` of scanpaths with the same key, ``a != b`` (and, with
    ``distinct_subjects``, of different subjects): ``[P]`` and ``[P]`` indices into ``scanpaths``."""
    by_key: dict[tuple, list[int]] = {}
    for j, h in enumerate(scanpaths):
        by_key.setdefault(h.key, []).append(j)
    pi_l, hi_l = [], []
    for js in by_key.values():
        for a in js:
            for b in js:
                if a != b and (not distinct_subjects or scanpaths[a].subject != scanpaths[b].subject):
                    pi_l.append(a)
                    hi_l.append(b)
    return np.asarray(pi_l, dtype=np.int64), np.asarray(hi_l, dtype=np.int64)


def human_consistency(
    humans: Sequence[Scanpath],
    metrics: Sequence[str] | str | None = None,
    options: ScoreOptions | None = None,
    **kw: Any,
) -> dict[str, MetricSummary]:
    """Human ceilings by leave-one-subject-out (same ``options`` / keywords as :func:`score_scanpaths`).

    Protocol: for every (stimulus, task) key, each subject's scanpath in turn plays the prediction and is
    scored against the scanpaths of **all other subjects** of that key (self-pairs excluded; ordered
    pairs, so each unordered pair counts once in each direction, which only matters for asymmetric
    metrics such as TDE). Per-"prediction" values are means over the other subjects; the summary is over
    all held-out scanpaths. SS clusters are fitted on all subjects' fixations of the key (as the
    published cluster files are). Set metrics: ``tfp_auc`` is the humans' own curve; ``prob_mismatch``
    and ``delta`` compare each subject's scanpaths with the other subjects' on the same keys, averaged
    over subjects. Keys with a single subject contribute nothing to pairwise metrics.
    """
    o = ScoreOptions.resolve(options, **kw)
    hum = preprocess_scanpaths(_check_list("human", humans), o)
    if not hum:
        raise DataFormatError(f"no scanpath has >= {o.min_fixations} fixations after preprocessing")
    names = resolve_metrics(metrics) if metrics is not None else auto_metrics(hum, hum, o)
    by_key: dict[tuple, list[int]] = {}
    for j, h in enumerate(hum):
        by_key.setdefault(h.key, []).append(j)
    pi, hi = consistency_pairs(hum)
    o = _fit_clusters(names, o, hum, by_key, list(by_key))
    pair_names = _pair_names(names)
    out: dict[str, MetricSummary] = {}
    if pair_names:
        if len(pi) == 0:
            raise DataFormatError("human consistency needs >= 2 subjects on at least one (stimulus, task)")
        out = _score_pairs(pair_names, hum, hum, pi, hi, o, len(hum))
    hbk = {k: [hum[j] for j in v] for k, v in by_key.items()}
    set_names = [n for n in names if n not in pair_names]
    if set_names:
        plain = [n for n in set_names if n not in ("prob_mismatch", "delta")]
        out.update(_search_metrics(plain, hum, hbk, o.max_step))
        subjects = sorted({str(h.subject) for h in hum})
        pm, dl = [], []
        for s in subjects:
            mine = [h for h in hum if str(h.subject) == s]
            rest = [h for h in hum if str(h.subject) != s and h.key in {m.key for m in mine}]
            if not mine or not rest:
                continue
            if "prob_mismatch" in set_names:
                a = se.target_found_curve(_with_bbox(mine, hbk), o.max_step)
                b = se.target_found_curve(_with_bbox(rest, hbk), o.max_step)
                pm.append(se.probability_mismatch(a, b))
            if "delta" in set_names:
                dl.append(se.behavioural_delta(mine, rest)["delta"])
        if "prob_mismatch" in set_names:
            out["prob_mismatch"] = MetricSummary.from_values(np.array(pm), higher_is_better=False)
        if "delta" in set_names:
            out["delta"] = MetricSummary.from_values(np.array(dl), higher_is_better=False)
    return _ordered(names, out)
