"""Scanpath similarity metrics: SS, ScanMatch, MultiMatch, edit distance, DTW, Fréchet, Eyenalysis, TDE.

Every metric has a single-pair form (``multimatch(a, b, ...)``) and a batched form
(``multimatch_batch(As, Bs, ...)``) that scores many pairs with a handful of NumPy operations per batch
(row or anti-diagonal dynamic programming, bit-parallel LCS). The single-pair forms call the batched ones.
Plain loop versions that define each metric live in :mod:`gazekit.metrics._reference`.

Inputs: a :class:`~gazekit.types.Scanpath`, or an array ``[n, 2]`` (x, y px) / ``[n, 3]`` (x, y px,
duration ms). Durations are in **milliseconds** everywhere in gazekit; MultiMatch's ``tdur`` threshold is
in **seconds**, as in the reference implementations.

Conventions (see docs/metrics.md for the protocol table):

* **SS** (sequence score) = Needleman–Wunsch with 0/1 similarity and gap 0 divided by the longer length,
  which equals ``LCS(a, b) / max(len a, len b)`` (IRL/HAT ``nw_matching``). Symbols come from MeanShift
  clusters fitted per (stimulus, task) on all human fixations (:func:`fit_ss_clusters`, the maintainer
  protocol of cvlab-stonybrook/Scanpath_Prediction issue #24), from a label map (semantic SS), or from
  object indices.
* **ScanMatch** follows the GazeParser port used by the scanpath-prediction repositories bit for bit;
  defaults are the ChenLSTM/GazeXplain evaluation (16 x 12 bins over the stimulus, threshold 3.5, gap 0,
  ``temp_bin`` 0 without durations, 50 ms with).
* **MultiMatch** follows ``multimatch_gaze.docomparison``: NaN for all five dimensions when either
  scanpath has fewer than 3 fixations; alignment = least-cost monotone path (ties: diagonal first);
  medians along the path; the last fixation's duration is never used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics import _dp
from gazekit.metrics import _reference as _ref
from gazekit.types import Scanpath

__all__ = [
    "MULTIMATCH_DIMS",
    "SS_BANDWIDTH_FACTORS",
    "MeanShiftClusters",
    "cluster_string",
    "dtw",
    "dtw_batch",
    "edit_distance",
    "edit_distance_batch",
    "estimate_bandwidth",
    "eyenalysis",
    "fdiss",
    "fdiss_batch",
    "eyenalysis_batch",
    "fit_ss_cluster_map",
    "fit_ss_clusters",
    "frechet",
    "frechet_batch",
    "grid_string",
    "lcs_length_batch",
    "mean_shift",
    "multimatch",
    "multimatch_batch",
    "scaled_time_delay_embedding",
    "scanmatch",
    "scanmatch_batch",
    "scanmatch_sequence",
    "semantic_sequence_score",
    "semantic_string",
    "sequence_score",
    "sequence_score_batch",
    "string_time_delay_embedding",
    "damerau_levenshtein",
    "fixatons_grid_string",
    "time_delay_embedding",
    "time_delay_embedding_batch",
]

MULTIMATCH_DIMS = ("shape", "direction", "length", "position", "duration")

#: bandwidth multipliers tried by the SS clustering protocol (GazeXplain / ScanDiff cluster builders)
SS_BANDWIDTH_FACTORS = (0.2, 0.5, 0.8, 1.0, 1.2, 1.5, 1.8)

_CELL_BUDGET = 4_000_000  # floats per DP chunk (B * n * m): bounds memory at ~32 MB per table

ScanpathLike = Scanpath | np.ndarray | Sequence[Sequence[float]]


# --------------------------------------------------------------------------------------------- inputs
def _xy(s: ScanpathLike) -> np.ndarray:
    """``[n, 2]`` float positions of a scanpath or array."""
    if isinstance(s, Scanpath):
        return np.stack([s.x, s.y], axis=1) if len(s) else np.zeros((0, 2))
    a = np.asarray(s, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 2))
    if a.ndim != 2 or a.shape[1] < 2:
        raise DataFormatError(f"a scanpath array must be [n, 2] or [n, 3] (x, y[, duration]), got shape {a.shape}")
    if not np.all(np.isfinite(a[:, :2])):
        raise DataFormatError("fixation coordinates must be finite (got NaN or inf)")
    return a[:, :2]


def _xyd(s: ScanpathLike) -> tuple[np.ndarray, np.ndarray]:
    """Positions and durations (ms; NaN when unknown)."""
    if isinstance(s, Scanpath):
        return _xy(s), np.asarray(s.duration, dtype=np.float64)
    xy = _xy(s)
    a = np.asarray(s, dtype=np.float64)
    dur = a[:, 2] if a.ndim == 2 and a.shape[1] >= 3 else np.full(len(xy), np.nan)
    return xy, dur


def _symbols(seq: Any) -> list:
    if isinstance(seq, Scanpath):
        if seq.objects is None:
            raise DataFormatError(
                f"scanpath of {seq.stimulus!r} has no object indices; pass symbol strings (cluster_string, "
                "grid_string, semantic_string) instead"
            )
        return seq.objects.tolist()
    if isinstance(seq, str):
        return list(seq)
    if isinstance(seq, np.ndarray):
        return seq.tolist()
    return list(seq)


def _encode_pairs(As: Sequence, Bs: Sequence) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Map arbitrary hashable symbols of all sequences to non-negative int64 codes (one shared vocabulary)."""
    vocab: dict[Hashable, int] = {}
    enc_a, enc_b = [], []
    for src, dst in ((As, enc_a), (Bs, enc_b)):
        for s in src:
            syms = _symbols(s)
            dst.append(np.fromiter((vocab.setdefault(v, len(vocab)) for v in syms), dtype=np.int64, count=len(syms)))
    return enc_a, enc_b


def _chunks(la: np.ndarray, lb: np.ndarray, budget: int = _CELL_BUDGET) -> Iterable[np.ndarray]:
    """Indices of pairs grouped by similar lengths, each group's padded table within ``budget`` cells."""
    order = np.lexsort((lb, la))
    start = 0
    N = len(order)
    while start < N:
        end = start + 1
        na, nb = int(la[order[start]]), int(lb[order[start]])
        while end < N:
            na2, nb2 = max(na, int(la[order[end]])), max(nb, int(lb[order[end]]))
            if (end - start + 1) * max(na2, 1) * max(nb2, 1) > budget:
                break
            na, nb = na2, nb2
            end += 1
        yield order[start:end]
        start = end


def _pad(seqs: Sequence[np.ndarray], idx: np.ndarray, fill: float | int, width: int | None = None) -> np.ndarray:
    first = seqs[int(idx[0])] if len(idx) else np.zeros(0)
    tail = first.shape[1:]
    t = max((len(seqs[int(k)]) for k in idx), default=0) if width is None else width
    out = np.full((len(idx), max(t, 1), *tail), fill, dtype=first.dtype if first.dtype.kind in "iu" else np.float64)
    for r, k in enumerate(idx):
        s = seqs[int(k)]
        out[r, : len(s)] = s
    return out


def _dedupe(objs: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """Unique objects (by identity) and the index of each input into them."""
    index: dict[int, int] = {}
    uniq: list[Any] = []
    inv = np.empty(len(objs), dtype=np.int64)
    for k, o in enumerate(objs):
        u = index.get(id(o))
        if u is None:
            u = index[id(o)] = len(uniq)
            uniq.append(o)
        inv[k] = u
    return uniq, inv


def _concat_pad(arrays: Sequence[np.ndarray], fill: float | int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stack 1-D arrays into ``[U, T]`` padded with ``fill`` (one vectorised scatter) + lengths ``[U]``."""
    U = len(arrays)
    L = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=U)
    T = int(L.max()) if U else 0
    P = np.full((U, max(T, 1)), fill, dtype=dtype)
    tot = int(L.sum())
    if tot:
        flat = np.concatenate([np.asarray(a) for a in arrays if len(a)]).astype(dtype, copy=False)
        rows = np.repeat(np.arange(U), L)
        cols = np.arange(tot) - np.repeat(np.cumsum(L) - L, L)
        P[rows, cols] = flat
    return P, L


def _int_codes(As: Sequence, Bs: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Padded int64 symbol arrays of two aligned lists when every sequence is an integer array/list."""
    ua, ia = _dedupe(As)
    ub, ib = _dedupe(Bs)
    conv = []
    for u in (ua, ub):
        out = []
        for s in u:
            if isinstance(s, Scanpath):
                s = _symbols(s)
            if isinstance(s, str):
                return None
            a = np.asarray(s)
            if a.size and a.dtype.kind not in "iub":
                return None
            out.append(a.reshape(-1).astype(np.int64, copy=False))
        conv.append(out)
    PA, LA = _concat_pad(conv[0], -1, np.int64)
    PB, LB = _concat_pad(conv[1], -1, np.int64)
    return PA[ia], LA[ia], PB[ib], LB[ib]


# --------------------------------------------------------------------------------------------- strings: SS, edit distance
def _padded_codes(As: Sequence, Bs: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    got = _int_codes(As, Bs)
    if got is not None:
        return got
    ea, eb = _encode_pairs(As, Bs)
    PA, LA = _concat_pad(ea, -1, np.int64)
    PB, LB = _concat_pad(eb, -1, np.int64)
    return PA, LA, PB, LB


def lcs_length_batch(As: Sequence, Bs: Sequence) -> np.ndarray:
    """Longest-common-subsequence lengths for aligned lists of symbol sequences (bit-parallel, batched)."""
    if len(As) != len(Bs):
        raise ConfigError(f"need as many first as second sequences, got {len(As)} and {len(Bs)}")
    return lcs_padded(*_padded_codes(As, Bs))


def lcs_padded(A: np.ndarray, la: np.ndarray, B: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """LCS lengths of padded int symbol arrays ``A`` ``[N, n]`` / ``B`` ``[N, m]`` with lengths ``la``/``lb``.

    Pairs whose shorter string fits in 64 symbols run bit-parallel (one uint64 state per pair, ``m``
    vector steps); longer ones run the row-wise DP. Values beyond the lengths are ignored.
    """
    A = np.asarray(A, dtype=np.int64)
    B = np.asarray(B, dtype=np.int64)
    la = np.asarray(la, dtype=np.int64)
    lb = np.asarray(lb, dtype=np.int64)
    N = len(la)
    out = np.zeros(N, dtype=np.int64)
    if N == 0:
        return out
    swap = la > lb  # LCS is symmetric: keep the shorter string in the bit-vector
    if swap.any():
        w = max(A.shape[1], B.shape[1])
        A2 = np.full((N, w), -1, np.int64)
        B2 = np.full((N, w), -1, np.int64)
        A2[:, : A.shape[1]] = A
        B2[:, : B.shape[1]] = B
        A2[swap], B2[swap] = B2[swap].copy(), A2[swap].copy()
        A, B = A2, B2
        la, lb = np.where(swap, lb, la), np.where(swap, la, lb)
    small = (la <= _dp.POPCOUNT_MAX) & (la > 0)
    if small.all():
        out[:] = _dp.lcs_bitparallel_codes(A[:, : min(A.shape[1], 64)], la, B, lb)
    else:
        sel = np.flatnonzero(small)
        if len(sel):
            out[sel] = _dp.lcs_bitparallel_codes(A[sel, : min(A.shape[1], 64)], la[sel], B[sel], lb[sel])
        big = np.flatnonzero(la > _dp.POPCOUNT_MAX)
        for idx in _chunks(la[big], lb[big]):
            g = big[idx]
            n, m = int(la[g].max()), int(lb[g].max())
            S = (A[g, :n, None] == B[g, None, :m]).astype(np.float64)
            out[g] = np.rint(_dp.nw_linear_gap(S, la[g], lb[g], 0.0)).astype(np.int64)
    return out


def sequence_score_padded(A: np.ndarray, la: np.ndarray, B: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """SS of padded int symbol arrays (see :func:`lcs_padded`): ``LCS / max(len)``, NaN where both empty."""
    lcs = lcs_padded(A, la, B, lb).astype(np.float64)
    denom = np.maximum(np.asarray(la), np.asarray(lb)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, lcs / np.where(denom > 0, denom, 1.0), np.nan)


def sequence_score_batch(preds: Sequence, gts: Sequence, *, truncate: int | None = None) -> np.ndarray:
    """SS for aligned lists of symbol sequences: ``LCS / max(len)``; NaN where both are empty.

    ``truncate`` cuts both sequences to their first ``truncate`` symbols first (IRL's ``max_step``).
    """
    if len(preds) != len(gts):
        raise ConfigError(f"need as many predicted as human sequences, got {len(preds)} and {len(gts)}")
    A, la, B, lb = _padded_codes(preds, gts)
    if truncate is not None:
        la, lb = np.minimum(la, truncate), np.minimum(lb, truncate)
    return sequence_score_padded(A, la, B, lb)


def sequence_score(pred: Sequence | str | np.ndarray, gt: Sequence | str | np.ndarray) -> float:
    """Sequence score of two symbol sequences (cluster ids, grid cells, object indices, characters).

    Equals IRL/HAT ``nw_matching(pred, gt)`` (Needleman–Wunsch, 0/1 similarity, gap 0, divided by the
    longer length) and ``rapidfuzz.distance.LCSseq.similarity(pred, gt) / max(len)``. Symmetric, in [0, 1],
    1 for identical non-empty sequences; NaN when both are empty.
    """
    return float(sequence_score_batch([pred], [gt])[0])


def edit_distance_batch(As: Sequence, Bs: Sequence, *, normalize: bool = False) -> np.ndarray:
    """Levenshtein distances for aligned lists of symbol sequences (``normalize``: divide by the longer length)."""
    if len(As) != len(Bs):
        raise ConfigError(f"need as many first as second sequences, got {len(As)} and {len(Bs)}")
    A, la, B, lb = _padded_codes(As, Bs)
    out = np.zeros(len(la), dtype=np.float64)
    for idx in _chunks(la, lb):
        n, m = max(int(la[idx].max()), 1), max(int(lb[idx].max()), 1)
        S = -(A[idx, :n, None] != B[idx, None, :m]).astype(np.float64)
        out[idx] = -_dp.nw_linear_gap(S, la[idx], lb[idx], -1.0)
    if normalize:
        denom = np.maximum(la, lb).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denom > 0, out / np.where(denom > 0, denom, 1.0), 0.0)
    return out


def edit_distance(a: Sequence | str | np.ndarray, b: Sequence | str | np.ndarray, *, normalize: bool = False) -> float:
    """Levenshtein (string edit) distance between two symbol sequences (unit costs), as FixaTons/OAT.

    Symmetric, 0 for identical sequences, at most ``max(len)``; ``normalize=True`` divides by ``max(len)``.
    """
    return float(edit_distance_batch([a], [b], normalize=normalize)[0])


def grid_string(s: ScanpathLike, size: tuple[float, float], n: int = 5) -> np.ndarray:
    """FixaTons' string of an ``n x n`` grid: cell ``int(x) // (W // n) + (int(y) // (H // n)) * n``.

    ``size`` is ``(width, height)`` of the frame the fixations live in. Returns int symbols (FixaTons
    writes ``chr(97 + cell)``; the distance is the same).
    """
    w, h = int(size[0]), int(size[1])
    ws, hs = w // n, h // n
    if ws <= 0 or hs <= 0:
        raise ConfigError(f"grid of {n}x{n} cells is finer than the {w}x{h} frame")
    xy = _xy(s).astype(np.int32)
    return (xy[:, 0] // ws + (xy[:, 1] // hs) * n).astype(np.int64)


# --------------------------------------------------------------------------------------------- MeanShift clusters (SS)
def estimate_bandwidth(X: np.ndarray, quantile: float = 0.3) -> float:
    """``sklearn.cluster.estimate_bandwidth(X, quantile)`` on all points: the mean, over points, of the
    distance to the ``int(n * quantile)``-th nearest point (the point itself counts as the first)."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n == 0:
        raise DataFormatError("cannot estimate a bandwidth from zero points")
    k = max(int(n * quantile), 1)
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    return float(np.partition(d, k - 1, axis=1)[:, k - 1].mean())


def mean_shift(X: np.ndarray, bandwidth: float, max_iter: int = 300) -> np.ndarray:
    """Flat-kernel mean shift seeded at every point, as ``sklearn.cluster.MeanShift(bandwidth).fit(X)``.

    Returns the cluster centres in sklearn's order (by number of points within ``bandwidth``, then by
    coordinates, both descending), after removing centres within ``bandwidth`` of a stronger one.
    All seeds move at once (one ``[seeds, points]`` distance matrix per iteration).
    """
    X = np.asarray(X, dtype=np.float64)
    if bandwidth <= 0:
        raise ConfigError(f"bandwidth must be > 0, got {bandwidth}")
    means = X.copy()
    active = np.ones(len(X), dtype=bool)
    sizes = np.zeros(len(X), dtype=np.int64)
    stop = 1e-3 * bandwidth
    it = 0
    while active.any():
        a = np.flatnonzero(active)
        d2 = ((means[a, None, :] - X[None, :, :]) ** 2).sum(-1)
        within = np.sqrt(d2) <= bandwidth
        cnt = within.sum(1)
        sizes[a] = cnt
        empty = cnt == 0
        new = (within.astype(np.float64) @ X) / np.maximum(cnt, 1)[:, None]
        new[empty] = means[a][empty]
        shift = np.sqrt(((new - means[a]) ** 2).sum(-1))
        means[a] = new
        done = empty | (shift <= stop) | (it == max_iter)
        active[a[done]] = False
        it += 1
    # sklearn: dict keyed by the centre tuple (duplicates collapse), sorted by (size, centre) descending
    table: dict[tuple[float, ...], int] = {}
    for c, s in zip(map(tuple, means.tolist()), sizes.tolist(), strict=True):
        if s:
            table[c] = s
    ranked = sorted(table.items(), key=lambda t: (t[1], t[0]), reverse=True)
    centres = np.array([c for c, _ in ranked], dtype=np.float64).reshape(-1, X.shape[1])
    unique = np.ones(len(centres), dtype=bool)
    dd = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    for i in range(len(centres)):
        if unique[i]:
            unique[dd[i] <= bandwidth] = False
            unique[i] = True
    return centres[unique]


@dataclass
class MeanShiftClusters:
    """Cluster centres for SS symbols on one (stimulus, task); ``predict`` = nearest centre (sklearn's)."""

    centers: np.ndarray
    bandwidth: float
    rates: dict[float, float] | None = None

    def predict(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(xy) == 0:
            return np.zeros(0, dtype=np.int64)
        d2 = ((xy[:, None, :] - self.centers[None, :, :]) ** 2).sum(-1)
        return np.argmin(d2, axis=1).astype(np.int64)


def _improved_rate(clusters: MeanShiftClusters, scanpaths: Sequence[np.ndarray]) -> float:
    nb = nw = 0
    for xy in scanpaths:
        s = clusters.predict(xy)
        same = int(np.count_nonzero(s[1:] == s[:-1]))
        nw += same
        nb += max(len(s) - 1, 0) - same
    return (nb - nw) / len(clusters.centers)


def fit_ss_clusters(
    scanpaths: Sequence[ScanpathLike], factors: Sequence[float] = SS_BANDWIDTH_FACTORS, quantile: float = 0.3
) -> MeanShiftClusters:
    """Fit SS clusters on the human scanpaths of one (stimulus, task), by the published protocol.

    All fixations are pooled; ``b = estimate_bandwidth(points)``; for each factor ``f`` MeanShift with
    bandwidth ``f * b`` is fitted and scored by the "improved rate" ``(N_between - N_within) / N_clusters``
    (consecutive fixations in different / the same cluster); the best factor (first on ties) wins.
    Source: the maintainer code in cvlab-stonybrook/Scanpath_Prediction issue #24, as used by the
    GazeXplain and ScanDiff cluster builders. Coordinates are used as given (the published files cluster
    at 512x320, a uniform rescale of 1680x1050, which gives the same clusters).
    """
    paths = [_xy(s) for s in scanpaths]
    paths = [p for p in paths if len(p)]
    if not paths:
        raise DataFormatError("cannot fit SS clusters: no fixations")
    X = np.concatenate(paths)
    bw = estimate_bandwidth(X, quantile)
    if bw <= 0:  # all fixations identical: one cluster
        return MeanShiftClusters(X[:1].copy(), 0.0, None)
    rates: dict[float, float] = {}
    best: tuple[float, MeanShiftClusters] | None = None
    for f in factors:
        cl = MeanShiftClusters(mean_shift(X, f * bw), f * bw)
        r = _improved_rate(cl, paths)
        rates[float(f)] = r
        if best is None or r > best[0]:
            best = (r, cl)
    assert best is not None
    best[1].rates = rates
    return best[1]


def fit_ss_cluster_map(
    humans: Sequence[Scanpath], factors: Sequence[float] = SS_BANDWIDTH_FACTORS
) -> dict[tuple[str, str | None], MeanShiftClusters]:
    """:func:`fit_ss_clusters` for every (stimulus, task) key of ``humans``."""
    groups: dict[tuple[str, str | None], list[Scanpath]] = {}
    for h in humans:
        groups.setdefault(h.key, []).append(h)
    return {k: fit_ss_clusters(v, factors) for k, v in groups.items()}


def cluster_string(s: ScanpathLike, clusters: MeanShiftClusters, *, time_bin: float | None = None) -> np.ndarray:
    """SS symbols of a scanpath: the nearest cluster of each fixation.

    ``time_bin`` (ms) repeats each fixation ``floor(duration / time_bin)`` times, Gazeformer's time-binned
    SS ("SS w/ Dur"; note floor, unlike ScanMatch's round).
    """
    xy, dur = _xyd(s)
    sym = clusters.predict(xy)
    if time_bin:
        if np.any(~np.isfinite(dur)):
            raise DataFormatError("time-binned SS needs fixation durations (found NaN)")
        sym = np.repeat(sym, (dur / float(time_bin)).astype(np.int64))
    return sym


def semantic_string(s: ScanpathLike, label_map: np.ndarray) -> np.ndarray:
    """Semantic-SS symbols: ``label_map[int(y), int(x)]`` at each fixation (HAT ``scanpath2categories``).

    ``label_map`` is ``[H, W]`` integer labels (e.g. panoptic category ids) in the scanpath's frame;
    fixations outside it are clipped to the border.
    """
    lm = np.asarray(label_map)
    if lm.ndim != 2:
        raise DataFormatError(f"label map must be [H, W], got shape {lm.shape}")
    xy = _xy(s)
    xi = np.clip(xy[:, 0].astype(np.int64), 0, lm.shape[1] - 1)
    yi = np.clip(xy[:, 1].astype(np.int64), 0, lm.shape[0] - 1)
    return lm[yi, xi]


def semantic_sequence_score(pred: ScanpathLike, gt: ScanpathLike, label_map: np.ndarray) -> float:
    """Semantic SS: SS on the label-map strings of the two scanpaths."""
    return sequence_score(semantic_string(pred, label_map), semantic_string(gt, label_map))


# --------------------------------------------------------------------------------------------- ScanMatch
_SCANMATCH_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _scanmatch_tables(xres: int, yres: int, xbin: int, ybin: int, threshold: float):
    key = (xres, yres, xbin, ybin, float(threshold))
    hit = _SCANMATCH_CACHE.get(key)
    if hit is not None:
        return hit
    # substitution matrix exactly as the port builds it (Euclidean distance between cells)
    cy, cx = np.divmod(np.arange(xbin * ybin), xbin)
    mat = np.sqrt(((cx[:, None] - cx[None, :]) ** 2 + (cy[:, None] - cy[None, :]) ** 2).astype(np.float64))
    max_sub = np.max(mat)
    sub = np.abs(mat - max_sub) - (max_sub - threshold)
    # the port's lookup mask: truncated float aranges
    xi = np.int32(np.arange(0, xbin, float(xbin) / xres))
    yi = np.int32(np.arange(0, ybin, float(ybin) / yres))
    if len(xi) < xres:  # pragma: no cover - float arange came out short; fall back to the exact formula
        xi = (np.arange(xres) * xbin // xres).astype(np.int32)
    if len(yi) < yres:  # pragma: no cover
        yi = (np.arange(yres) * ybin // yres).astype(np.int32)
    out = (sub, xi[:xres].astype(np.int64), yi[:yres].astype(np.int64))
    if len(_SCANMATCH_CACHE) > 64:
        _SCANMATCH_CACHE.clear()
    _SCANMATCH_CACHE[key] = out
    return out


def _screen(size: Any, what: str = "screen_size") -> tuple[float, float]:
    try:
        w, h = float(size[0]), float(size[1])
    except (TypeError, IndexError, ValueError):
        raise ConfigError(f"{what} must be (width, height), got {size!r}") from None
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ConfigError(f"{what} must be positive and finite, got {size!r}")
    return w, h


def scanmatch_sequence(
    s: ScanpathLike,
    screen_size: tuple[float, float],
    *,
    bins: tuple[int, int] = (16, 12),
    temp_bin: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.0),
    threshold: float = 3.5,
) -> np.ndarray:
    """ScanMatch symbols of a scanpath (GazeParser ``fixationToSequence``): row-major grid cells, each
    repeated ``round(duration / temp_bin)`` times when ``temp_bin > 0`` (NumPy's half-to-even round on the
    duration truncated to whole ms)."""
    xres, yres = (int(v) for v in _screen(screen_size))
    _, xi, yi = _scanmatch_tables(xres, yres, int(bins[0]), int(bins[1]), threshold)
    xy, dur = _xyd(s)
    x = xy[:, 0] - offset[0]
    y = xy[:, 1] - offset[1]
    x = np.where(x < 0, 0, x)
    y = np.where(y < 0, 0, y)
    x = np.where(x >= xres, xres - 1, x).astype(np.int64)
    y = np.where(y >= yres, yres - 1, y).astype(np.int64)
    seq = yi[y] * int(bins[0]) + xi[x]
    if temp_bin:
        if np.any(~np.isfinite(dur)):
            raise DataFormatError("ScanMatch with temp_bin > 0 needs fixation durations (found NaN)")
        d = np.where(dur < 0, 0, dur).astype(np.int64)
        reps = np.round(d / float(temp_bin)).astype(np.int64)
        seq = np.repeat(seq, reps)
    return seq


def scanmatch_batch(
    As: Sequence[ScanpathLike],
    Bs: Sequence[ScanpathLike],
    screen_size: tuple[float, float],
    *,
    bins: tuple[int, int] = (16, 12),
    threshold: float = 3.5,
    gap: float = 0.0,
    temp_bin: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.0),
    sequences: bool = False,
) -> np.ndarray:
    """ScanMatch for aligned lists of scanpaths (or, with ``sequences=True``, of ScanMatch symbol arrays).

    Batched Needleman–Wunsch, one row of all pairs per step. See :func:`scanmatch` for the parameters.
    """
    if len(As) != len(Bs):
        raise ConfigError(f"need as many first as second scanpaths, got {len(As)} and {len(Bs)}")
    xres, yres = (int(v) for v in _screen(screen_size))
    sub, _, _ = _scanmatch_tables(xres, yres, int(bins[0]), int(bins[1]), threshold)
    ua, ia = _dedupe(As)
    ub, ib = _dedupe(Bs)
    if sequences:
        PA, LA = _concat_pad([np.asarray(a, np.int64).ravel() for a in ua], 0, np.int64)
        PB, LB = _concat_pad([np.asarray(b, np.int64).ravel() for b in ub], 0, np.int64)
    else:
        kw = {"bins": bins, "temp_bin": temp_bin, "offset": offset}
        PA, LA = _scanmatch_sequences(ua, (xres, yres), **kw)
        PB, LB = _scanmatch_sequences(ub, (xres, yres), **kw)
    la, lb = LA[ia], LB[ib]
    N = len(ia)
    out = np.full(N, np.nan)
    max_sub = float(np.max(sub))
    for idx in _chunks(la, lb):
        n, m = max(int(la[idx].max()), 1), max(int(lb[idx].max()), 1)
        fmax = _dp.nw_linear_gap(
            None,
            la[idx],
            lb[idx],
            gap,
            border="scanmatch",
            reduce="max",
            table=sub,
            A=PA[ia[idx], :n],
            Bs=PB[ib[idx], :m],
        )
        scale = max_sub * np.maximum(la[idx], lb[idx]).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[idx] = fmax / scale
    return out


def _stack_points(sps: Sequence[ScanpathLike]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated x, y, duration (ms; NaN when unknown) of many scanpaths + their lengths."""
    xs, ys, ds = [], [], []
    L = np.zeros(len(sps), dtype=np.int64)
    for k, sp in enumerate(sps):
        if isinstance(sp, Scanpath):
            xs.append(sp.x)
            ys.append(sp.y)
            ds.append(sp.duration)
            L[k] = len(sp)
            continue
        a = np.asarray(sp, dtype=np.float64)
        if a.size == 0:
            continue
        if a.ndim != 2 or a.shape[1] < 2:
            raise DataFormatError(f"a scanpath array must be [n, 2] or [n, 3] (x, y[, duration]), got shape {a.shape}")
        xs.append(a[:, 0])
        ys.append(a[:, 1])
        ds.append(a[:, 2] if a.shape[1] >= 3 else np.full(len(a), np.nan))
        L[k] = len(a)
    if not xs:
        z = np.zeros(0)
        return z, z, z, L
    x, y, d = np.concatenate(xs), np.concatenate(ys), np.concatenate(ds)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataFormatError("fixation coordinates must be finite (got NaN or inf)")
    return x, y, d, L


def _scanmatch_sequences(
    sps: Sequence[ScanpathLike], screen_size: tuple[int, int], *, bins: tuple[int, int], temp_bin: float, offset
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scanmatch_sequence` of many scanpaths at once: padded ``[U, T]`` symbols + lengths."""
    xres, yres = screen_size
    _, xi, yi = _scanmatch_tables(xres, yres, int(bins[0]), int(bins[1]), 3.5)
    x, y, d, L = _stack_points(sps)
    x, y = x - offset[0], y - offset[1]
    x = np.where(x < 0, 0, x)
    y = np.where(y < 0, 0, y)
    x = np.where(x >= xres, xres - 1, x).astype(np.int64)
    y = np.where(y >= yres, yres - 1, y).astype(np.int64)
    sym = yi[y] * int(bins[0]) + xi[x]
    owner = np.repeat(np.arange(len(sps)), L)
    if temp_bin:
        if np.any(~np.isfinite(d)):
            raise DataFormatError("ScanMatch with temp_bin > 0 needs fixation durations (found NaN)")
        reps = np.round(np.where(d < 0, 0, d).astype(np.int64) / float(temp_bin)).astype(np.int64)
        sym = np.repeat(sym, reps)
        owner = np.repeat(owner, reps)
    Ls = np.bincount(owner, minlength=len(sps)).astype(np.int64)
    P = np.zeros((len(sps), max(int(Ls.max()) if len(sps) else 0, 1)), dtype=np.int64)
    if sym.size:
        cols = np.arange(sym.size) - np.repeat(np.cumsum(Ls) - Ls, Ls)
        P[owner, cols] = sym
    return P, Ls


def scanmatch(
    a: ScanpathLike,
    b: ScanpathLike,
    screen_size: tuple[float, float],
    *,
    bins: tuple[int, int] = (16, 12),
    threshold: float = 3.5,
    gap: float = 0.0,
    temp_bin: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.0),
) -> float:
    """ScanMatch similarity (Cristino et al. 2010) as the GazeParser port computes it.

    Args:
        a, b: scanpaths (positions px of a ``screen_size`` frame, durations ms).
        screen_size: ``(Xres, Yres)``: the frame divided into ``bins`` cells (the stimulus or display).
        bins: ``(Xbin, Ybin)``. Default 16 x 12 (ChenLSTM/GazeXplain evaluations; GazeParser's own
            default is 8 x 6 at 1024 x 768).
        threshold: substitution threshold in cells (``S = threshold - distance``).
        gap: gap value (0 in every published evaluation).
        temp_bin: ms per repeated symbol; 0 ignores durations ("ScanMatch w/o Dur"), 50 is "w/ Dur".
        offset: subtracted from positions before binning.

    Returns:
        ``max(F) / (max(S) * max(len a, len b))``: 1 for identical sequences, NaN when both are empty.
    """
    return float(
        scanmatch_batch(
            [a], [b], screen_size, bins=bins, threshold=threshold, gap=gap, temp_bin=temp_bin, offset=offset
        )[0]
    )


# --------------------------------------------------------------------------------------------- MultiMatch
@dataclass
class _Vectors:
    """Saccade representation of one scanpath (after optional simplification)."""

    sx: np.ndarray
    sy: np.ndarray
    lx: np.ndarray
    ly: np.ndarray
    rho: np.ndarray
    theta2: np.ndarray  # angle mapped to [0, 2 pi) exactly as the port does
    dur: np.ndarray  # duration of the fixation each saccade starts from (s)
    ok: bool  # >= 3 fixations


def _vectors(s: ScanpathLike, grouping: bool, tdir: float, tdur: float, tamp: float) -> _Vectors:
    xy, dur_ms = _xyd(s)
    n = len(xy)
    dur = dur_ms / 1000.0
    if n < 3:
        z = np.zeros(0)
        return _Vectors(z, z, z, z, z, z, z, False)
    if grouping:
        path = _ref.simplify_scanpath(
            _ref.gen_scanpath_structure(np.column_stack([xy, dur])), float(tamp), float(tdir), float(tdur)
        )
        sac = path["sac"]
        lx, ly = np.asarray(sac["lenx"], float), np.asarray(sac["leny"], float)
        rho, theta = np.asarray(sac["rho"], float), np.asarray(sac["theta"], float)
        sx, sy = np.asarray(sac["x"], float), np.asarray(sac["y"], float)
        d = np.asarray(path["fix"]["dur"], float)[: len(lx)]
    else:
        lx, ly = np.diff(xy[:, 0]), np.diff(xy[:, 1])
        rho = np.sqrt(lx**2 + ly**2)
        theta = np.arctan2(ly, lx)
        sx, sy = xy[:-1, 0], xy[:-1, 1]
        d = dur[:-1]
    theta2 = np.where(theta < 0, np.pi + (np.pi + theta), theta)
    return _Vectors(sx, sy, lx, ly, rho, theta2, d, True)


def _vector_table(
    sps: Sequence[ScanpathLike], grouping: bool, tdir: float, tdur: float, tamp: float
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Saccade representations of many scanpaths as padded ``[U, T]`` arrays per field, the number of
    saccades ``[U]`` and whether each scanpath has >= 3 fixations. Without grouping, all scanpaths are
    processed with a handful of array operations; grouping (inherently sequential) runs per scanpath."""
    fields = ("sx", "sy", "lx", "ly", "rho", "theta2", "dur")
    U = len(sps)
    if grouping:
        vs = [_vectors(s, grouping, tdir, tdur, tamp) for s in sps]
        ok = np.array([v.ok for v in vs], dtype=bool)
        table = {}
        L = np.zeros(U, dtype=np.int64)
        for f in fields:
            table[f], L = _concat_pad([getattr(v, f) for v in vs], 0.0, np.float64)
        return table, L, ok
    x, y, d, n = _stack_points(sps)
    ok = n >= 3
    ends = np.cumsum(n)
    keep = np.ones(max(len(x) - 1, 0), dtype=bool)
    keep[(ends[(n > 0) & (ends < len(x))] - 1)] = False  # the step from one scanpath's last point to the next
    owner = np.repeat(np.arange(U), n)[:-1][keep] if len(x) else np.zeros(0, np.int64)
    lx, ly = np.diff(x)[keep], np.diff(y)[keep]
    rho = np.sqrt(lx**2 + ly**2)
    theta = np.arctan2(ly, lx)
    theta2 = np.where(theta < 0, np.pi + (np.pi + theta), theta)
    vals = {
        "sx": x[:-1][keep],
        "sy": y[:-1][keep],
        "lx": lx,
        "ly": ly,
        "rho": rho,
        "theta2": theta2,
        "dur": (d / 1000.0)[:-1][keep],
    }
    L = np.bincount(owner, minlength=U).astype(np.int64)
    T = max(int(L.max()) if U else 0, 1)
    cols = np.arange(len(owner)) - np.repeat(np.cumsum(L) - L, L)
    table = {}
    for f in fields:
        P = np.zeros((U, T))
        P[owner, cols] = vals[f]
        table[f] = P
    return table, L, ok


def _irl_wrap(s: ScanpathLike) -> np.ndarray:
    """IRL/HAT's MultiMatch input: float32 (x, y), padded to 3 fixations with (1, 1), durations 1 s."""
    xy = _xy(s)
    n = max(len(xy), 3)
    out = np.ones((n, 3), dtype=np.float32)
    out[: len(xy), :2] = xy
    out = out.astype(np.float64)
    out[:, 2] = 1000.0  # ms: 1 s
    return out


def _median_sorted(v: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Row medians of ``v`` ``[B, T]`` over the first ``L`` entries (rows pre-filled with +inf beyond)."""
    s = np.sort(v, axis=1)
    b = np.arange(len(L))
    lo = s[b, (L - 1) // 2]
    hi = s[b, L // 2]
    return np.where(L % 2 == 1, hi, (lo + hi) / 2)


def multimatch_batch(
    As: Sequence[ScanpathLike],
    Bs: Sequence[ScanpathLike],
    screen_size: tuple[float, float] | Sequence[tuple[float, float]],
    *,
    grouping: bool = False,
    tdir: float = 0.0,
    tdur: float = 0.0,
    tamp: float = 0.0,
    convention: str = "reference",
    tie_break: str = "dijkstra",
) -> np.ndarray:
    """MultiMatch for aligned lists of scanpaths: ``[B, 5]`` (shape, direction, length, position, duration).

    ``screen_size`` is one ``(width, height)`` for all pairs or one per pair. Rows are NaN where either
    scanpath has fewer than 3 fixations; the duration column is NaN where durations are unknown.
    Each scanpath's saccade vectors (and simplification) are computed once, however many pairs use it.

    ``convention="irl"`` applies the scanpath-prediction repositories' wrapper (IRL ``irl_dcb/metrics.py``,
    HAT ``common/metrics.py``): coordinates cast to float32, scanpaths shorter than 3 padded with
    fixations at (1, 1), all durations set to 1 s (so duration similarity is 1); they report the first
    four dimensions. Their float32 arithmetic after the cast is not replayed (differences ~1e-7).

    When several alignment paths have the same least cost (grid or repeated coordinates),
    ``tie_break="dijkstra"`` (default) re-runs SciPy's Dijkstra on the package's graph for those pairs
    only, so the result is the package's; ``"diagonal"`` keeps the vectorised rule (diagonal, then up).
    """
    N = len(As)
    if len(Bs) != N:
        raise ConfigError(f"need as many first as second scanpaths, got {N} and {len(Bs)}")
    sizes = np.asarray(screen_size, dtype=np.float64)
    if sizes.ndim == 1:
        _screen(sizes)
        sizes = np.broadcast_to(sizes, (N, 2))
    elif sizes.shape != (N, 2):
        raise ConfigError(f"screen_size must be (w, h) or one (w, h) per pair, got shape {sizes.shape}")
    fields = ("sx", "sy", "lx", "ly", "rho", "theta2", "dur")
    ua, ia = _dedupe(As)
    ub, ib = _dedupe(Bs)
    if convention == "irl":
        ua, ub = [_irl_wrap(s) for s in ua], [_irl_wrap(s) for s in ub]
    elif convention != "reference":
        raise ConfigError(f"convention must be 'reference' or 'irl', got {convention!r}")
    if tie_break not in ("dijkstra", "diagonal"):
        raise ConfigError(f"tie_break must be 'dijkstra' or 'diagonal', got {tie_break!r}")
    FA, LA, okA = _vector_table(ua, grouping, tdir, tdur, tamp)
    FB, LB, okB = _vector_table(ub, grouping, tdir, tdur, tamp)
    out = np.full((N, 5), np.nan)
    good = np.flatnonzero(okA[ia] & okB[ib])
    if len(good) == 0:
        return out
    la, lb = LA[ia[good]], LB[ib[good]]
    for idx in _chunks(la, lb):
        sel = good[idx]
        n, m = int(la[idx].max()), int(lb[idx].max())
        PA = {f: FA[f][ia[sel], :n] for f in fields}
        PB = {f: FB[f][ib[sel], :m] for f in fields}
        M = np.sqrt(
            np.abs(PA["lx"][:, :, None] - PB["lx"][:, None, :]) ** 2
            + np.abs(PA["ly"][:, :, None] - PB["ly"][:, None, :]) ** 2
        )
        _, R = _dp.wavefront(M, la[idx], lb[idx], "sum", keep=True)
        pi_, pj_, L, tied = _dp.wavefront_backtrack(R, la[idx], lb[idx], return_ties=True)
        if tied.any() and tie_break == "dijkstra":
            # several least-cost paths: take the one multimatch-gaze's Dijkstra takes
            for r in np.flatnonzero(tied):
                ti, tj = _dp.dijkstra_path(M[r, : la[idx][r], : lb[idx][r]])
                pi_[r], pj_[r] = 0, 0
                pi_[r, : len(ti)], pj_[r, : len(tj)] = ti, tj
                L[r] = len(ti)
        rows = np.arange(len(sel))[:, None]
        valid = np.arange(pi_.shape[1])[None, :] < L[:, None]
        GA = {f: PA[f][rows, pi_] for f in fields}  # values of the first scanpath along the path
        GB = {f: PB[f][rows, pj_] for f in fields}
        shape = np.sqrt((GA["lx"] - GB["lx"]) ** 2 + (GA["ly"] - GB["ly"]) ** 2)
        ang = np.abs(GA["theta2"] - GB["theta2"])
        direction = np.where(ang > np.pi, 2 * np.pi - ang, ang)
        length = np.abs(GA["rho"] - GB["rho"])
        position = np.sqrt((GA["sx"] - GB["sx"]) ** 2 + (GA["sy"] - GB["sy"]) ** 2)
        d1, d2 = GA["dur"], GB["dur"]
        with np.errstate(invalid="ignore", divide="ignore"):
            duration = np.abs(d1 - d2) / np.abs(np.maximum(d1, d2))
        dur_nan = np.any(np.isnan(duration) & valid, axis=1)
        meds = []
        for v in (shape, direction, length, position, duration):
            v = np.where(valid, np.nan_to_num(v, nan=0.0), np.inf)
            meds.append(_median_sorted(v, L))
        meds[4] = np.where(dur_nan, np.nan, meds[4])
        w, h = sizes[sel, 0], sizes[sel, 1]
        diag = np.sqrt(w**2 + h**2)
        out[sel, 0] = 1 - meds[0] / (2 * diag)
        out[sel, 1] = 1 - meds[1] / math.pi
        out[sel, 2] = 1 - meds[2] / diag
        out[sel, 3] = 1 - meds[3] / diag
        out[sel, 4] = 1 - meds[4]
    return out


def multimatch(
    a: ScanpathLike,
    b: ScanpathLike,
    screen_size: tuple[float, float],
    *,
    grouping: bool = False,
    tdir: float = 0.0,
    tdur: float = 0.0,
    tamp: float = 0.0,
    convention: str = "reference",
) -> dict[str, float]:
    """MultiMatch (Jarodzka et al. 2010; Dewhurst et al. 2012) as ``multimatch_gaze.docomparison``.

    Args:
        a, b: scanpaths (positions px, durations ms).
        screen_size: ``(width, height)``; only its diagonal matters.
        grouping: simplify both scanpaths first (merge saccades by direction ``tdir`` degrees, amplitude
            ``tamp`` px, fixation duration ``tdur`` **seconds**; the MATLAB toolbox defaults are 45°,
            10 % of the diagonal and 0.3 s).

    Returns:
        ``{"shape", "direction", "length", "position", "duration"}``, each in [0, 1] (1 = identical).
        All NaN when either scanpath has fewer than 3 fixations (as the reference); ``duration`` is NaN
        when durations are unknown. The repositories' convention (pad short scanpaths with ones, set all
        durations to 1) is available as ``convention="irl"`` (see :func:`multimatch_batch`).
    """
    v = multimatch_batch(
        [a], [b], screen_size, grouping=grouping, tdir=tdir, tdur=tdur, tamp=tamp, convention=convention
    )[0]
    return dict(zip(MULTIMATCH_DIMS, (float(x) for x in v), strict=True))


# --------------------------------------------------------------------------------------------- point-sequence distances
def _pairwise_tables(As: Sequence[ScanpathLike], Bs: Sequence[ScanpathLike]):
    xa = [_xy(a) for a in As]
    xb = [_xy(b) for b in Bs]
    N = len(xa)
    if len(xb) != N:
        raise ConfigError(f"need as many first as second scanpaths, got {N} and {len(xb)}")
    la = np.fromiter((len(s) for s in xa), dtype=np.int64, count=N)
    lb = np.fromiter((len(s) for s in xb), dtype=np.int64, count=N)
    return xa, xb, la, lb


def _cost(PA: np.ndarray, PB: np.ndarray) -> np.ndarray:
    dx = PA[:, :, None, 0] - PB[:, None, :, 0]
    dy = PA[:, :, None, 1] - PB[:, None, :, 1]
    return np.sqrt(dx**2 + dy**2)


def _path_distance_batch(As, Bs, mode: str) -> np.ndarray:
    xa, xb, la, lb = _pairwise_tables(As, Bs)
    out = np.full(len(xa), np.nan)
    good = np.flatnonzero((la > 0) & (lb > 0))
    for idx in _chunks(la[good], lb[good]):
        sel = good[idx]
        C = _cost(_pad(xa, sel, 0.0), _pad(xb, sel, 0.0))
        out[sel] = _dp.wavefront(C, la[sel], lb[sel], mode)
    return out


def dtw_batch(As: Sequence[ScanpathLike], Bs: Sequence[ScanpathLike]) -> np.ndarray:
    """Exact DTW (Euclidean, px) for aligned lists of scanpaths; NaN where either is empty."""
    return _path_distance_batch(As, Bs, "sum")


def dtw(a: ScanpathLike, b: ScanpathLike) -> float:
    """Exact dynamic time warping distance (sum of Euclidean distances along the best warping path, px).

    Equals ``similaritymeasures.dtw(a, b)[0]``; never the approximate ``fastdtw``. Symmetric, 0 for
    identical scanpaths, NaN when either is empty.
    """
    return float(dtw_batch([a], [b])[0])


def frechet_batch(As: Sequence[ScanpathLike], Bs: Sequence[ScanpathLike]) -> np.ndarray:
    """Discrete Fréchet distances for aligned lists of scanpaths; NaN where either is empty."""
    return _path_distance_batch(As, Bs, "max")


def frechet(a: ScanpathLike, b: ScanpathLike) -> float:
    """Discrete Fréchet distance (px); equals ``similaritymeasures.frechet_dist``; any lengths."""
    return float(frechet_batch([a], [b])[0])


def eyenalysis_batch(As: Sequence[ScanpathLike], Bs: Sequence[ScanpathLike]) -> np.ndarray:
    """Eyenalysis distances for aligned lists of scanpaths; NaN where either is empty."""
    xa, xb, la, lb = _pairwise_tables(As, Bs)
    out = np.full(len(xa), np.nan)
    good = np.flatnonzero((la > 0) & (lb > 0))
    for idx in _chunks(la[good], lb[good]):
        sel = good[idx]
        C = _cost(_pad(xa, sel, 0.0), _pad(xb, sel, 0.0))
        n, m = C.shape[1:]
        va = np.arange(n)[None, :] < la[sel, None]
        vb = np.arange(m)[None, :] < lb[sel, None]
        Cm = np.where(va[:, :, None] & vb[:, None, :], C, np.inf)
        s1 = np.where(va, Cm.min(axis=2), 0.0).sum(1)
        s2 = np.where(vb, Cm.min(axis=1), 0.0).sum(1)
        out[sel] = (s1 + s2) / np.maximum(la[sel], lb[sel])
    return out


def eyenalysis(a: ScanpathLike, b: ScanpathLike) -> float:
    """Eyenalysis distance (Mathôt et al. 2012), px: every fixation is mapped to its nearest fixation in
    the other scanpath, both ways; the distances are summed and divided by the longer length.
    Order-free, symmetric, 0 for identical scanpaths, NaN when either is empty."""
    return float(eyenalysis_batch([a], [b])[0])


def _tde_tables(h: np.ndarray, s: np.ndarray) -> Callable[[int], np.ndarray]:
    d = np.sqrt((s[:, None, 0] - h[None, :, 0]) ** 2 + (s[:, None, 1] - h[None, :, 1]) ** 2)
    state = {"k": 0, "D": None}

    def window(k: int) -> np.ndarray:
        # D_k[i, j] = sum_{t<k} d[i+t, j+t], built incrementally in the reference's summation order
        while state["k"] < k:
            t = state["k"]
            ns, nh = len(s) - t, len(h) - t
            add = d[t : t + ns, t : t + nh]
            state["D"] = add.copy() if state["D"] is None else state["D"][:ns, :nh] + add
            state["k"] = t + 1
        return state["D"]

    return window


def time_delay_embedding(human: ScanpathLike, simulated: ScanpathLike, k: int = 3, mode: str = "mean") -> float:
    """Time-delay embedding distance (Wang et al. 2011) as FixaTons ``time_delay_embedding_distance``.

    Every length-``k`` window of ``simulated`` is matched to its closest window of ``human`` (sum of the
    ``k`` point distances), divided by ``k``; ``mode="mean"`` averages, ``"hausdorff"`` takes the maximum.
    **Asymmetric.** NaN when either scanpath is shorter than ``k`` (FixaTons returns False).
    """
    mode_l = mode.lower()
    if mode_l not in ("mean", "hausdorff"):
        raise ConfigError(f"mode must be 'mean' or 'hausdorff', got {mode!r}")
    h, s = _xy(human), _xy(simulated)
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if len(h) < k or len(s) < k:
        return float("nan")
    D = _tde_tables(h, s)(k)
    best = D.min(axis=1) / k
    return float(best.sum() / len(best)) if mode_l == "mean" else float(best.max())


def time_delay_embedding_batch(
    humans: Sequence[ScanpathLike], simulated: Sequence[ScanpathLike], k: int = 3, mode: str = "mean"
) -> np.ndarray:
    """:func:`time_delay_embedding` for aligned lists."""
    return np.array([time_delay_embedding(h, s, k, mode) for h, s in zip(humans, simulated, strict=True)])


def scaled_time_delay_embedding(human: ScanpathLike, simulated: ScanpathLike, max_dim: float) -> float:
    """FixaTons' scaled TDE similarity: coordinates divided by ``max_dim`` (the longer image side), then
    the mean over ``k = 1 .. min(len)`` of ``exp(-TDE_k)`` (mean mode). In (0, 1]; 1 for identical."""
    if not max_dim > 0:
        raise ConfigError(f"max_dim must be > 0, got {max_dim}")
    h, s = _xy(human) / float(max_dim), _xy(simulated) / float(max_dim)
    kmax = min(len(h), len(s))
    if kmax == 0:
        return float("nan")
    win = _tde_tables(h, s)
    sims = []
    for k in range(1, kmax + 1):
        best = win(k).min(axis=1) / k
        sims.append(math.exp(-float(best.sum() / len(best))))
    return sum(sims) / len(sims)


def damerau_levenshtein(a: Sequence, b: Sequence) -> int:
    """Unrestricted Damerau–Levenshtein distance (Lowrance–Wagner; insert, delete, substitute, transpose at cost 1),
    which ``nltk.edit_distance(a, b, transpositions=True)`` computes."""
    la, lb = len(a), len(b)
    d = _ref.edit_table(la, lb)
    last_row: dict[Any, int] = {}  # symbol -> last row (1-based) of a where it occurred
    for i in range(1, la + 1):
        last_col = 0  # last column (1-based) of b in this row where b[j] == a[i]
        for j in range(1, lb + 1):
            k, l_ = last_row.get(b[j - 1], 0), last_col
            same = a[i - 1] == b[j - 1]
            if same:
                last_col = j
            best = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (0 if same else 1))
            if k > 0 and l_ > 0:
                best = min(best, d[k - 1][l_ - 1] + (i - k - 1) + 1 + (j - l_ - 1))
            d[i][j] = best
        last_row[a[i - 1]] = i
    return d[la][lb]


def fixatons_grid_string(s: ScanpathLike, width: float, height: float, n: int = 4) -> list[int]:
    """FixaTons' grid symbols: ``int(x) // (W // n) + (int(y) // (H // n)) * n`` (no clipping: a point in the
    remainder strip past ``n`` cells gets the next row's symbol, as in FixaTons)."""
    sw, sh = int(width) // n, int(height) // n
    if sw < 1 or sh < 1:
        raise ConfigError(f"a {n}x{n} grid needs a frame of at least {n}x{n} px, got {width}x{height}")
    xy = _xy(s).astype(np.int32)
    return [int(x // sw + (y // sh) * n) for x, y in xy]


def string_time_delay_embedding(
    human: ScanpathLike,
    simulated: ScanpathLike,
    screen_size: tuple[float, float],
    *,
    k: int = 3,
    grid: int = 4,
    mode: str = "mean",
) -> float:
    """String-based time-delay embedding distance (FixaTons ``string_based_time_delay_embedding_distance``).

    Every length-``k`` window of ``simulated`` is turned into ``grid x grid`` cell symbols
    (:func:`fixatons_grid_string`) and matched to the closest window of ``human`` by Damerau–Levenshtein
    distance, divided by ``k``; ``"mean"`` averages over the simulated windows, ``"hausdorff"`` takes the maximum.
    Asymmetric; lower is better; NaN when either scanpath is shorter than ``k``.
    """
    mode_l = mode.lower()
    if mode_l not in ("mean", "hausdorff"):
        raise ConfigError(f"mode must be 'mean' or 'hausdorff', got {mode!r}")
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    w, h = _screen(screen_size)
    hs = fixatons_grid_string(human, w, h, grid)
    ss = fixatons_grid_string(simulated, w, h, grid)
    if len(hs) < k or len(ss) < k:
        return float("nan")
    hw = [hs[i : i + k] for i in range(len(hs) - k + 1)]
    best = [min(damerau_levenshtein(a, b) for a in hw) / k for b in (ss[i : i + k] for i in range(len(ss) - k + 1))]
    return float(np.mean(best)) if mode_l == "mean" else float(np.max(best))


# --------------------------------------------------------------------------------------------- FDISS
def _lens_iou(d: np.ndarray, r: float) -> np.ndarray:
    """IoU of two discs of radius ``r`` whose centres are ``d`` apart (1 at d = 0, 0 from d = 2r)."""
    iou = np.where(d == 0, 1.0, 0.0)
    part = (d > 0) & (d < 2 * r)
    dd = d[part]
    inter = 2 * r**2 * np.arccos(dd / (2 * r)) - (dd / 2) * np.sqrt(4 * r**2 - dd**2)
    iou[part] = inter / (2 * np.pi * r**2 - inter)
    return iou


def fdiss_batch(As: Sequence[ScanpathLike], Bs: Sequence[ScanpathLike], radius: float) -> np.ndarray:
    """FDISS for aligned lists: ``[B, 3]`` (fdiss, precision, recall); zeros where either is empty."""
    if not radius > 0:
        raise ConfigError(f"foveal radius must be > 0 px, got {radius}")
    xa, xb, la, lb = _pairwise_tables(As, Bs)
    out = np.zeros((len(xa), 3))
    good = np.flatnonzero((la > 0) & (lb > 0))
    for idx in _chunks(la[good], lb[good]):
        sel = good[idx]
        iou = _lens_iou(_cost(_pad(xa, sel, 0.0), _pad(xb, sel, 0.0)), float(radius))
        n, m = iou.shape[1:]
        va = np.arange(n)[None, :] < la[sel, None]
        vb = np.arange(m)[None, :] < lb[sel, None]
        iou = np.where(va[:, :, None] & vb[:, None, :], iou, -1.0)
        p = np.where(va, iou.max(axis=2), 0.0).sum(1) / la[sel]
        r = np.where(vb, iou.max(axis=1), 0.0).sum(1) / lb[sel]
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1.0), 0.0)
        out[sel] = np.column_stack([f, p, r])
    return out


def fdiss(a: ScanpathLike, b: ScanpathLike, radius: float) -> dict[str, float]:
    """Foveal-disc IoU scanpath score (Kerkouri et al.; PyPI ``fdiss``): each fixation is a disc of
    ``radius`` px (about 1 degree of visual angle); precision = mean over ``a`` of the best disc IoU with
    ``b``, recall the other way, ``fdiss`` their harmonic mean. Symmetric in value, in [0, 1], 1 for
    identical scanpaths; all 0 when either is empty (as the package)."""
    f, p, r = fdiss_batch([a], [b], radius)[0]
    return {"fdiss": float(f), "precision": float(p), "recall": float(r)}
