"""Saliency-map metrics with the MIT benchmark conventions (Bylinskii et al., TPAMI 2019;
``cvzoya/saliency/code_forMetrics``): AUC-Judd, AUC-Borji, shuffled AUC, NSS, CC, KLD, SIM, IG, EMD.

Inputs: ``pred`` is a ``[h, w]`` saliency map (any real values); ground truth is either a ``[H, W]``
fixation map (non-zero = fixated pixel), an ``[N, 2]`` array of fixation positions ``(x, y)`` in pixels of
the ``[H, W]`` frame (pixel index ``int(x), int(y)``), or a ``[H, W]`` fixation density (CC, KLD, SIM,
EMD). The MIT code **resizes the prediction to the ground-truth size**; gazekit does the same with
OpenCV bicubic interpolation (``resize="bicubic"``, the MIT default kernel without MATLAB's
anti-aliasing) or bilinear; ``resize="none"`` raises on a size mismatch. ``EPS`` = MATLAB ``eps``.

Documented switches where the references differ:

* ``auc_judd(convention="mit")`` thresholds at the fixated pixels of the binary fixation map,
  ``tp = i / N_fix``, negatives = all other pixels (``AUC_Judd.m``); ``convention="pysaliency"``
  keeps duplicate fixations, counts ``>=`` at every threshold and uses unfixated pixels as negatives
  (pysaliency ``AUC_Judd``). Both agree when fixated values are distinct. ``jitter`` (on by default, as in
  both references) adds ``1e-7 * rand`` (MIT) or ``1e-7 * randn`` (pysaliency) from a fixed seed to break
  ties, so results stay deterministic and a constant map scores about 0.5.
* Degenerate maps follow the MIT code: ``sim`` gives 0 when either map is all zero (a zero map stays
  zero) and NaN when either is constant and non-zero (min–max normalisation divides by zero);
  ``information_gain`` gives NaN when the prediction or the baseline is constant (zero included);
  ``kld`` gives NaN when either map sums to zero (``KLdiv.m`` and pysaliency ``MIT_KLDiv`` divide by the
  sum).
* ``nss(ddof=0)`` is pysaliency/NumPy (mean over fixations, duplicates counted); ``ddof=1`` the MATLAB
  ``std`` (relative difference about 1/(2N)).
* ``sim(convention="mit")`` min–max normalises both maps before sum-normalising (``SIM.m``);
  ``"pysaliency"`` only shifts negative maps.
* ``auc_shuffled`` is deterministic by default (all fixations of other images as negatives, full ROC
  with ties counted half = pysaliency ``sAUC``); ``splits > 0`` gives the MIT random-subset version.
"""

from __future__ import annotations

import numpy as np

from gazekit.errors import ConfigError, DataFormatError

__all__ = [
    "EPS",
    "conditional_auc",
    "conditional_ig",
    "conditional_nss",
    "auc_borji",
    "auc_judd",
    "auc_shuffled",
    "cc",
    "emd",
    "information_gain",
    "kld",
    "nss",
    "roc_auc",
    "sim",
]

EPS = 2.2204e-16  # MATLAB eps as the MIT code and pysaliency's MIT_KLDiv write it


# --------------------------------------------------------------------------------------------- inputs
def _map(a: np.ndarray, name: str) -> np.ndarray:
    m = np.asarray(a, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        raise DataFormatError(f"{name} must be a non-empty [H, W] map, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise DataFormatError(f"{name} contains NaN or infinite values")
    return m


def _resize(pred: np.ndarray, shape: tuple[int, int], resize: str) -> np.ndarray:
    if pred.shape == tuple(shape):
        return pred
    if resize == "none":
        raise DataFormatError(f"prediction is {pred.shape} but the ground truth is {tuple(shape)} (resize='none')")
    import cv2

    interp = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}.get(resize)
    if interp is None:
        raise ConfigError(f"resize must be 'bicubic', 'bilinear', 'area' or 'none', got {resize!r}")
    return cv2.resize(pred, (int(shape[1]), int(shape[0])), interpolation=interp).astype(np.float64)


def _is_map(f: np.ndarray) -> bool:
    """A fixation map is a bool ``[H, W]`` array or any ``[H, W]`` array with ``W != 2``; else ``[N, 2]`` points."""
    return f.ndim == 2 and (f.dtype == bool or f.shape[1] != 2)


def _points(fixations: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel indices ``(ys, xs)`` of fixations given as ``[N, 2]`` (x, y) px or a ``[H, W]`` map."""
    f = np.asarray(fixations)
    if _is_map(f):
        if f.shape != tuple(shape):
            raise DataFormatError(f"fixation map is {f.shape}, expected {tuple(shape)}")
        ys, xs = np.nonzero(f)
        return ys, xs
    f = np.asarray(fixations, dtype=np.float64).reshape(-1, 2) if f.size else np.zeros((0, 2))
    if not np.all(np.isfinite(f)):
        raise DataFormatError("fixation positions must be finite")
    xs, ys = f[:, 0].astype(np.int64), f[:, 1].astype(np.int64)
    if len(xs) and (xs.min() < 0 or ys.min() < 0 or xs.max() >= shape[1] or ys.max() >= shape[0]):
        raise DataFormatError(f"fixations fall outside the {shape[1]}x{shape[0]} map")
    return ys, xs


def _fixmap(fixations: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    ys, xs = _points(fixations, shape)
    m = np.zeros(shape, dtype=bool)
    m[ys, xs] = True
    return m


def _gt_shape(fixations: np.ndarray, pred: np.ndarray, size: tuple[int, int] | None) -> tuple[int, int]:
    if size is not None:
        return int(size[1]), int(size[0])
    f = np.asarray(fixations)
    return tuple(f.shape) if _is_map(f) else pred.shape  # points live in the prediction's frame by default


def _minmax(m: np.ndarray) -> np.ndarray:
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


# --------------------------------------------------------------------------------------------- AUCs
def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Area under the ROC curve over all thresholds, ties counted half (= ``sklearn.roc_auc_score``).

    Mann–Whitney form: one sort of the negatives and two ``searchsorted`` calls.
    """
    p = np.asarray(positives, dtype=np.float64).ravel()
    n = np.sort(np.asarray(negatives, dtype=np.float64).ravel())
    if p.size == 0 or n.size == 0:
        return float("nan")
    below = np.searchsorted(n, p, side="left")
    below_eq = np.searchsorted(n, p, side="right")
    return float((below.sum() + 0.5 * (below_eq - below).sum()) / (p.size * n.size))


def _count_ge(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``[(values >= t).sum() for t in thresholds]``: one comparison pass per threshold for few thresholds
    (the usual 10-30 fixations per image), O(N log K) binning for many."""
    if len(thresholds) <= 48:
        return np.array([np.count_nonzero(values >= t) for t in thresholds.tolist()], dtype=np.int64)
    order = np.argsort(thresholds)
    ts = thresholds[order]
    # number of thresholds <= each value -> each value is >= the first k thresholds
    k = np.searchsorted(ts, values, side="right")
    hist = np.bincount(k, minlength=len(ts) + 1)
    ge_sorted = np.cumsum(hist[::-1])[::-1][1:]  # ge_sorted[j] = #values with k > j = #values >= ts[j]
    out = np.empty_like(ge_sorted)
    out[order] = ge_sorted
    return out


def auc_judd(
    pred: np.ndarray,
    fixations: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    convention: str = "mit",
    jitter: bool = True,
    noise: float = 1e-7,
    rng: np.random.RandomState | np.random.Generator | int | None = 42,
    resize: str = "bicubic",
) -> float:
    """AUC-Judd of a saliency map for the fixations of one image (in [0, 1], 0.5 = chance).

    Args:
        pred: ``[h, w]`` saliency map; resized to the ground truth's size.
        fixations: ``[H, W]`` fixation map or ``[N, 2]`` (x, y) px.
        size: ``(W, H)`` of the ground truth when ``fixations`` are points in another frame than ``pred``.
        convention: ``"mit"`` (``AUC_Judd.m``) or ``"pysaliency"`` (see the module docstring).
        jitter: break ties before ranking, as both references do by default: ``noise * rand`` (uniform,
            ``AUC_Judd.m``) for ``"mit"``, ``noise * randn`` (pysaliency) otherwise, drawn from ``rng``
            (a seed, default 42 as pysaliency's ``random_seed``, or a ``RandomState``/``Generator``), so the
            result is deterministic. Without it, ties (a constant map, flat regions) rank every tied
            pixel above the fixations: a constant map scores about 1/(2N) instead of 0.5.

    Returns:
        NaN when there are no fixations.
    """
    S = _map(pred, "pred")
    shape = _gt_shape(fixations, S, size)
    S = _resize(S, shape, resize)
    if jitter:
        r = rng if isinstance(rng, np.random.RandomState | np.random.Generator) else np.random.RandomState(rng)
        if convention == "mit":
            u = r.rand(*S.shape) if isinstance(r, np.random.RandomState) else r.random(S.shape)
        else:
            u = r.randn(*S.shape) if isinstance(r, np.random.RandomState) else r.standard_normal(S.shape)
        S = S + u * noise
    if convention == "mit":
        fm = _fixmap(fixations, shape)
        if not fm.any():
            return float("nan")
        S = _minmax(S)
        sth = np.sort(S[fm])[::-1]
        nf, npx = sth.size, S.size
        if npx == nf:
            return float("nan")
        above = _count_ge(S.ravel(), sth)
        tp = np.concatenate([[0.0], np.arange(1, nf + 1) / nf, [1.0]])
        fp = np.concatenate([[0.0], (above - np.arange(1, nf + 1)) / (npx - nf), [1.0]])
        return float(np.trapezoid(tp, fp))
    if convention == "pysaliency":
        ys, xs = _points(fixations, shape)
        if len(xs) == 0:
            return float("nan")
        pos = S[ys, xs]
        mask = np.ones(shape, dtype=bool)
        mask[ys, xs] = False
        neg = S[mask]
        th = np.concatenate([[max(pos.max(), neg.max()) + 1], np.sort(pos)[::-1], [min(pos.min(), neg.min())]])
        tp = np.concatenate([[0.0], _count_ge(pos, th) / pos.size])
        fp = np.concatenate([[0.0], _count_ge(neg, th) / neg.size])
        return float(np.trapezoid(tp, fp))
    raise ConfigError(f"convention must be 'mit' or 'pysaliency', got {convention!r}")


def auc_borji(
    pred: np.ndarray,
    fixations: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    splits: int = 100,
    step: float = 0.1,
    rng: np.random.Generator | int | None = 0,
    resize: str = "bicubic",
) -> float:
    """AUC-Borji (``AUC_Borji.m``): ``splits`` random sets of as many uniformly drawn pixels (with
    replacement) as fixations serve as negatives; thresholds ``0:step:max``; mean over splits. Stochastic
    (seeded by ``rng``); NaN without fixations."""
    S = _map(pred, "pred")
    shape = _gt_shape(fixations, S, size)
    S = _minmax(_resize(S, shape, resize))
    fm = _fixmap(fixations, shape)
    sth = S[fm]
    nf = sth.size
    if nf == 0:
        return float("nan")
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    flat = S.ravel()
    rand = flat[g.integers(0, flat.size, size=(splits, nf))]  # [splits, nf]
    aucs = np.empty(splits)
    for s in range(splits):
        cur = rand[s]
        th = np.arange(0.0, max(sth.max(), cur.max()) + step * 1e-9, step)[::-1]
        tp = np.concatenate([[0.0], (sth[None, :] >= th[:, None]).sum(1) / nf, [1.0]])
        fp = np.concatenate([[0.0], (cur[None, :] >= th[:, None]).sum(1) / nf, [1.0]])
        aucs[s] = np.trapezoid(tp, fp)
    return float(aucs.mean())


def auc_shuffled(
    pred: np.ndarray,
    fixations: np.ndarray,
    other_fixations: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    splits: int = 0,
    step: float = 0.1,
    rng: np.random.Generator | int | None = 0,
    resize: str = "bicubic",
) -> float:
    """Shuffled AUC: negatives are the saliency values at fixations of *other* images (centre bias
    cancels). ``splits == 0`` (default): all of them, full ROC, ties half (pysaliency ``sAUC``).
    ``splits > 0``: MIT ``AUC_shuffled.m`` (random subsets of ``min(N_fix, N_other)`` other-image
    fixated pixels, thresholds ``0:step:max``). Fixations as for :func:`auc_judd` (points keep duplicates)."""
    S = _map(pred, "pred")
    shape = _gt_shape(fixations, S, size)
    S = _resize(S, shape, resize)
    if splits == 0:
        ys, xs = _points(fixations, shape)
        oy, ox = _points(other_fixations, shape)
        return roc_auc(S[ys, xs], S[oy, ox])
    S = _minmax(S)
    sth = S[_fixmap(fixations, shape)]
    oth = S[_fixmap(other_fixations, shape)]
    nf = sth.size
    if nf == 0 or oth.size == 0:
        return float("nan")
    k = min(nf, oth.size)
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    aucs = np.empty(splits)
    for s in range(splits):
        cur = oth[g.permutation(oth.size)[:k]]
        th = np.arange(0.0, max(sth.max(), cur.max()) + step * 1e-9, step)[::-1]
        tp = np.concatenate([[0.0], (sth[None, :] >= th[:, None]).sum(1) / nf, [1.0]])
        fp = np.concatenate([[0.0], (cur[None, :] >= th[:, None]).sum(1) / k, [1.0]])
        aucs[s] = np.trapezoid(tp, fp)
    return float(aucs.mean())


# --------------------------------------------------------------------------------------------- NSS, CC, KLD, SIM, IG
def nss(
    pred: np.ndarray,
    fixations: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    ddof: int = 0,
    per_fixation: bool = False,
    resize: str = "bicubic",
) -> float | np.ndarray:
    """Normalized scanpath saliency: the standardised map ``(P - mean) / std`` averaged at the fixations.

    Fixations given as points count once each (duplicates too, as pysaliency); a fixation map counts each
    fixated pixel once (MIT). A constant map is not divided (pysaliency), giving 0. ``per_fixation``
    returns the values instead of their mean. NaN without fixations.
    """
    S = _map(pred, "pred")
    shape = _gt_shape(fixations, S, size)
    S = _resize(S, shape, resize)
    ys, xs = _points(fixations, shape)
    sd = S.std(ddof=ddof)
    v = S[ys, xs] - S.mean()
    if sd:
        v = v / sd
    if per_fixation:
        return v
    return float(v.mean()) if v.size else float("nan")


def cc(pred: np.ndarray, gt: np.ndarray, *, resize: str = "bicubic") -> float:
    """Pearson correlation of the prediction and a ground-truth density/blurred fixation map (``CC.m``).
    0 when the prediction is constant and the ground truth is not; NaN when both are constant."""
    G = _map(gt, "gt")
    P = _resize(_map(pred, "pred"), G.shape, resize)
    a, b = P - P.mean(), G - G.mean()
    sa, sb = np.sqrt((a * a).sum()), np.sqrt((b * b).sum())
    if sa == 0 and sb != 0:
        return 0.0
    if sa == 0 or sb == 0:
        return float("nan")
    return float((a * b).sum() / (sa * sb))


def kld(pred: np.ndarray, gt: np.ndarray, *, eps: float = EPS, resize: str = "bicubic") -> float:
    """KL(gt ‖ pred) as ``KLdiv.m``: both sum-normalised, ``sum Q * log(eps + Q / (P + eps))``, natural log.
    Equals pysaliency ``MIT_KLDiv(pred, gt)``. Lower is better; 0 for identical maps. NaN when either
    map is all zero (both references divide by its sum, 0/0)."""
    G = _map(gt, "gt")
    P = _resize(_map(pred, "pred"), G.shape, resize)
    if P.min() < 0 or G.min() < 0:
        raise DataFormatError("KLD needs non-negative maps")
    if not P.any() or not G.any():
        return float("nan")
    P = P / P.sum()
    G = G / G.sum()
    return float((G * np.log(eps + G / (P + eps))).sum())


def sim(pred: np.ndarray, gt: np.ndarray, *, convention: str = "mit", resize: str = "bicubic") -> float:
    """Similarity (histogram intersection) ``sum min(P, Q)`` of the two maps as distributions (``SIM.m``).
    In [0, 1]; 1 for identical distributions. See the module docstring for ``convention``; with ``"mit"``
    an all-zero map gives 0 and a constant non-zero map NaN, as ``SIM.m``."""
    G = _map(gt, "gt")
    P = _resize(_map(pred, "pred"), G.shape, resize)
    if convention == "mit":
        if any(m.any() and m.max() == m.min() for m in (P, G)):
            return float("nan")  # SIM.m: (m - min) / (max - min) = 0/0 on a constant non-zero map
        if not P.any() or not G.any():
            return 0.0  # SIM.m leaves a zero map at zero: the intersection is empty

    def dens(m: np.ndarray) -> np.ndarray:
        if convention == "mit":
            m = _minmax(m)
        elif convention == "pysaliency":
            m = m - m.min() if m.min() < 0 else m
        else:
            raise ConfigError(f"convention must be 'mit' or 'pysaliency', got {convention!r}")
        s = m.sum()
        return m / s if s else np.full_like(m, 1.0 / m.size)

    return float(np.minimum(dens(P), dens(G)).sum())


def information_gain(
    pred: np.ndarray,
    fixations: np.ndarray,
    baseline: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    eps: float = EPS,
    resize: str = "bicubic",
) -> float:
    """Information gain over a baseline map, bits per fixation (``InfoGain.m``): both maps min–max then
    sum-normalised; mean over fixated pixels of ``log2(eps + P) - log2(eps + B)``. NaN without fixations,
    and NaN when the prediction or the baseline is constant (zero included), as ``InfoGain.m``'s min–max
    step divides by zero."""
    S = _map(pred, "pred")
    shape = _gt_shape(fixations, S, size)
    P = _resize(S, shape, resize)
    Bm = _resize(_map(baseline, "baseline"), shape, resize)
    if P.max() == P.min() or Bm.max() == Bm.min():
        return float("nan")

    def dens(m: np.ndarray) -> np.ndarray:
        m = _minmax(m)
        return m / m.sum()

    P, Bm = dens(P), dens(Bm)
    fm = _fixmap(fixations, shape)
    if not fm.any():
        return float("nan")
    return float(np.mean(np.log2(eps + P[fm]) - np.log2(eps + Bm[fm])))


# --------------------------------------------------------------------------------------------- EMD
def _hist_match(source: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Give ``source`` the value distribution of ``template`` (rank-preserving, as ``histMatchMaps``)."""
    order = np.argsort(source.ravel(), kind="stable")
    out = np.empty(source.size)
    out[order] = np.sort(template.ravel())
    return out.reshape(source.shape)


def _emd_lp(a: np.ndarray, b: np.ndarray, M: np.ndarray, backend: str = "auto") -> float:
    """Exact balanced transport cost: POT's network simplex when installed, else SciPy's HiGHS LP."""
    if backend in ("auto", "pot"):
        try:
            import ot

            return float(ot.emd2(a, b, M, numItermax=10_000_000))
        except ImportError:
            if backend == "pot":
                raise
    from scipy.optimize import linprog

    n, m = len(a), len(b)
    A_eq = np.zeros((n + m, n * m))
    for i in range(n):
        A_eq[i, i * m : (i + 1) * m] = 1
    for j in range(m):
        A_eq[n + j, j::m] = 1
    # dual simplex (a vertex solution, as network simplex) at tight tolerances: the defaults (1e-7) leave
    # errors of that order in the transported mass, far from "exact"
    tol = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    res = linprog(M.ravel(), A_eq=A_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs-ds", options=tol)
    if not res.success:  # pragma: no cover
        raise DataFormatError(f"EMD linear program failed: {res.message}") from None
    return float(res.fun)


def emd(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    downsize: int = 32,
    hist_match: bool = True,
    resize: str = "area",
) -> float:
    """Earth mover's distance between the prediction and a ground-truth density (``EMD.m``).

    The ground truth is downsized by ``downsize`` (default 1/32, cells of ``downsize`` px), the prediction
    resized to it and histogram-matched to it, both sum-normalised; ground distance = Euclidean distance
    between cell centres (in cells); exact transport LP (POT ``emd2`` when installed, else SciPy HiGHS),
    extra-mass penalty 0 (balanced). Lower is better; 0 for identical maps. Deviation: OpenCV area
    resampling stands in for MATLAB ``imresize``.
    """
    G = _map(gt, "gt")
    P = _map(pred, "pred")
    h = max(1, int(round(G.shape[0] / downsize)))
    w = max(1, int(round(G.shape[1] / downsize)))
    Gs = _resize(G, (h, w), resize)
    Ps = _resize(P, (h, w), resize)
    if hist_match:
        Ps = _hist_match(Ps, Gs)
    if Gs.min() < 0 or Ps.min() < 0:
        raise DataFormatError("EMD needs non-negative maps")
    if not Gs.any() or not Ps.any():
        return float("nan")
    a, b = Ps.ravel() / Ps.sum(), Gs.ravel() / Gs.sum()
    yy, xx = np.mgrid[:h, :w]
    pts = np.stack([yy.ravel(), xx.ravel()], 1).astype(np.float64)
    M = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    return _emd_lp(a, b, M)


# --------------------------------------------------------------------------------------------- conditional (HAT)
def _next_maps(maps: np.ndarray, fix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3 or m.size == 0 or not np.all(np.isfinite(m)):
        raise DataFormatError(f"conditional maps must be a finite [B, H, W] array, got shape {m.shape}")
    f = np.asarray(fix)
    if f.shape != (m.shape[0], 2):
        raise DataFormatError(f"next fixations must be [B, 2] (x, y) px, got {f.shape} for {m.shape[0]} maps")
    xs, ys = f[:, 0].astype(np.int64), f[:, 1].astype(np.int64)
    if xs.min() < 0 or ys.min() < 0 or xs.max() >= m.shape[2] or ys.max() >= m.shape[1]:
        raise DataFormatError("next fixations fall outside the maps")
    return m, xs, ys


def conditional_auc(maps: np.ndarray, next_fixations: np.ndarray) -> np.ndarray:
    """Teacher-forced AUC (HAT ``compute_cAUC``): for each ``[H, W]`` next-fixation map, the trapezoid
    through (0, 0), (1, fp) and (1, 1) with ``fp = (#pixels >= value at the fixation - 1) / (H W - 1)``,
    i.e. ``1 - fp / 2``; ties count as above. ``[B]`` values (HAT sums them)."""
    m, xs, ys = _next_maps(maps, next_fixations)
    B = m.shape[0]
    v = m[np.arange(B), ys, xs]
    flat = m.reshape(B, -1)
    fp = ((flat >= v[:, None]).sum(1) - 1) / (flat.shape[1] - 1)
    return 1.0 - fp / 2.0


def conditional_nss(maps: np.ndarray, next_fixations: np.ndarray) -> np.ndarray:
    """Teacher-forced NSS (HAT ``compute_NSS``): each map standardised with the unbiased std (``torch.std``;
    a zero std is replaced by 1), read at the next fixation. ``[B]`` values (HAT sums them)."""
    m, xs, ys = _next_maps(maps, next_fixations)
    B = m.shape[0]
    flat = m.reshape(B, -1)
    sd = flat.std(axis=1, ddof=1)
    sd = np.where(sd == 0, 1.0, sd)
    return (m[np.arange(B), ys, xs] - flat.mean(axis=1)) / sd


def conditional_ig(maps: np.ndarray, next_fixations: np.ndarray, prior: np.ndarray, *, eps: float = EPS) -> np.ndarray:
    """Teacher-forced information gain (HAT ``compute_info_gain``), bits: ``log2(p + eps) - log2(prior + eps)``
    at the next fixation, with ``maps`` (and ``prior``, ``[H, W]`` or ``[B, H, W]``) already probability
    maps. ``[B]`` values (HAT sums them)."""
    m, xs, ys = _next_maps(maps, next_fixations)
    pr = np.asarray(prior, dtype=np.float64)
    pr = np.broadcast_to(pr, m.shape) if pr.ndim == 2 else pr
    if pr.shape != m.shape:
        raise DataFormatError(f"prior must be [H, W] or {m.shape}, got {np.asarray(prior).shape}")
    b = np.arange(m.shape[0])
    return np.log2(m[b, ys, xs] + eps) - np.log2(pr[b, ys, xs] + eps)
