"""Plain, readable reference implementations (Python loops) that *define* gazekit's metrics.

Nothing here is meant to be fast. Each function follows the published code it names, step by step, so
that the vectorised implementations in :mod:`gazekit.metrics.scanpath`, :mod:`~gazekit.metrics.search`,
:mod:`~gazekit.metrics.saliency` and :mod:`~gazekit.metrics.following` can be tested against it on random
inputs. Units: positions in pixels, durations as given (MultiMatch: seconds, ScanMatch: ms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# --------------------------------------------------------------------------------------------- strings


def nw_matching(pred: Sequence, gt: Sequence, gap: float = 0.0) -> float:
    """Sequence score as in IRL/HAT ``nw_matching``: NW with 0/1 similarity, divided by the longer length."""
    n, m = len(pred), len(gt)
    F = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        F[i][0] = gap * i
    for j in range(m + 1):
        F[0][j] = gap * j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            match = F[i - 1][j - 1] + (1.0 if pred[i - 1] == gt[j - 1] else 0.0)
            delete = F[i - 1][j] + gap
            insert = F[i][j - 1] + gap
            F[i][j] = max(match, delete, insert)
    return F[n][m] / max(n, m)


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence."""
    n, m = len(a), len(b)
    L = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            L[i][j] = L[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(L[i - 1][j], L[i][j - 1])
    return L[n][m]


def edit_table(n: int, m: int) -> list[list[int]]:
    """``(n + 1) x (m + 1)`` edit-distance table with the borders 0..n and 0..m filled."""
    D = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        D[i][0] = i
    for j in range(m + 1):
        D[0][j] = j
    return D


def levenshtein(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (unit insert/delete/substitute), as FixaTons/OAT ``_Levenshtein``."""
    n, m = len(a), len(b)
    D = edit_table(n, m)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i][j] = min(D[i - 1][j] + 1, D[i][j - 1] + 1, D[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return D[n][m]


# --------------------------------------------------------------------------------------------- ScanMatch


class ScanMatchReference:
    """ScanMatch (Cristino et al. 2010) as the GazeParser port (H. Sogo) computes it, loop by loop."""

    def __init__(
        self,
        Xres: int = 1024,
        Yres: int = 768,
        Xbin: int = 8,
        Ybin: int = 6,
        Threshold: float = 3.5,
        GapValue: float = 0.0,
        TempBin: float = 0.0,
        Offset: tuple[float, float] = (0, 0),
    ) -> None:
        self.Xres, self.Yres, self.Xbin, self.Ybin = int(Xres), int(Yres), int(Xbin), int(Ybin)
        self.Threshold, self.GapValue, self.TempBin, self.Offset = Threshold, GapValue, TempBin, Offset
        nb = self.Xbin * self.Ybin
        mat = np.zeros((nb, nb))
        for i in range(self.Ybin):
            for j in range(self.Xbin):
                for ii in range(self.Ybin):
                    for jj in range(self.Xbin):
                        mat[ii * self.Xbin + jj, i * self.Xbin + j] = np.sqrt((j - jj) ** 2 + (i - ii) ** 2)
        max_sub = np.max(mat)
        self.SubMatrix = np.abs(mat - max_sub) - (max_sub - self.Threshold)
        a = np.reshape(np.arange(nb), (self.Ybin, self.Xbin))
        xi = np.int32(np.arange(0, self.Xbin, float(self.Xbin) / self.Xres))
        yi = np.int32(np.arange(0, self.Ybin, float(self.Ybin) / self.Yres))
        self.mask = np.zeros((self.Yres, self.Xres))
        for y in range(self.Yres):
            self.mask[y, :] = a[yi[y], xi[: self.Xres]]

    def fixation_to_sequence(self, data: np.ndarray) -> list[int]:
        d = np.array(data, dtype=float, copy=True)
        d[:, :2] -= self.Offset
        d[d < 0] = 0
        d[d[:, 0] >= self.Xres, 0] = self.Xres - 1
        d[d[:, 1] >= self.Yres, 1] = self.Yres - 1
        di = [[int(v) for v in row] for row in d]
        seq = [int(self.mask[row[1], row[0]]) for row in di]
        if self.TempBin != 0:
            out = []
            for f, row in enumerate(di):
                reps = int(np.round(row[2] / float(self.TempBin)))
                out.extend([seq[f]] * reps)
            seq = out
        return seq

    def match(self, A: Sequence[int], B: Sequence[int]) -> float:
        n, m = len(A), len(B)
        F = np.zeros((n + 1, m + 1))
        for i in range(n + 1):
            F[i, 0] = self.GapValue * (i + 1)
        for j in range(m + 1):
            F[0, j] = self.GapValue * (j + 1)
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                match = F[i - 1, j - 1] + self.SubMatrix[A[i - 1], B[j - 1]]
                delete = F[i - 1, j] + self.GapValue
                insert = F[i, j - 1] + self.GapValue
                F[i, j] = max([match, insert, delete])
        return float(np.max(F) / (np.max(self.SubMatrix) * max(m, n)))


# --------------------------------------------------------------------------------------------- point sequences


def _dist(p: Sequence[float], q: Sequence[float]) -> float:
    """Euclidean distance of 2-D points written as the peers write it: sqrt(dx**2 + dy**2)."""
    return math.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2)


def dtw(P: np.ndarray, Q: np.ndarray) -> float:
    """Exact dynamic time warping with Euclidean point costs (as ``similaritymeasures.dtw``)."""
    n, m = len(P), len(Q)
    c = [[_dist(P[i], Q[j]) for j in range(m)] for i in range(n)]
    d = [[0.0] * m for _ in range(n)]
    d[0][0] = c[0][0]
    for i in range(1, n):
        d[i][0] = d[i - 1][0] + c[i][0]
    for j in range(1, m):
        d[0][j] = d[0][j - 1] + c[0][j]
    for i in range(1, n):
        for j in range(1, m):
            d[i][j] = c[i][j] + min(d[i - 1][j], d[i][j - 1], d[i - 1][j - 1])
    return d[n - 1][m - 1]


def frechet(P: np.ndarray, Q: np.ndarray) -> float:
    """Discrete Fréchet distance (Eiter & Mannila 1994)."""
    n, m = len(P), len(Q)
    c = [[_dist(P[i], Q[j]) for j in range(m)] for i in range(n)]
    ca = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                ca[i][j] = c[0][0]
            elif i == 0:
                ca[i][j] = max(ca[0][j - 1], c[0][j])
            elif j == 0:
                ca[i][j] = max(ca[i - 1][0], c[i][0])
            else:
                ca[i][j] = max(min(ca[i - 1][j], ca[i - 1][j - 1], ca[i][j - 1]), c[i][j])
    return ca[n - 1][m - 1]


def eyenalysis(P: np.ndarray, Q: np.ndarray) -> float:
    """Eyenalysis (Mathôt et al. 2012): double nearest-neighbour mapping, summed, over the longer length."""
    total = 0.0
    for p in P:
        total += min(_dist(p, q) for q in Q)
    for q in Q:
        total += min(_dist(q, p) for p in P)
    return total / max(len(P), len(Q))


def time_delay_embedding(human: np.ndarray, simulated: np.ndarray, k: int = 3, mode: str = "mean") -> float:
    """TDE (Wang et al. 2011) as FixaTons: each simulated k-window's closest human k-window, over k."""
    if len(human) < k or len(simulated) < k:
        return float("nan")
    hv = [human[i : i + k] for i in range(len(human) - k + 1)]
    sv = [simulated[i : i + k] for i in range(len(simulated) - k + 1)]
    dists = []
    for s in sv:
        best = min(sum(_dist(s[t], h[t]) for t in range(k)) for h in hv)
        dists.append(best / k)
    return sum(dists) / len(dists) if mode == "mean" else max(dists)


def scaled_time_delay_embedding(human: np.ndarray, simulated: np.ndarray, max_dim: float) -> float:
    """FixaTons' scaled TDE similarity: mean over k = 1..min length of exp(-TDE_k) on coordinates / max_dim."""
    H = [[p[0] / max_dim, p[1] / max_dim] for p in human]
    S = [[p[0] / max_dim, p[1] / max_dim] for p in simulated]
    sims = [
        math.exp(-time_delay_embedding(np.array(H), np.array(S), k, "mean")) for k in range(1, min(len(H), len(S)) + 1)
    ]
    return sum(sims) / len(sims) if sims else float("nan")


# --------------------------------------------------------------------------------------------- MultiMatch


def multimatch(
    fix1: np.ndarray,
    fix2: np.ndarray,
    screensize: Sequence[float],
    grouping: bool = False,
    TDir: float = 0.0,
    TDur: float = 0.0,
    TAmp: float = 0.0,
) -> list[float]:
    """MultiMatch as ``multimatch_gaze.docomparison``; fixations ``(x, y, duration_s)``; alignment by DP loops.

    The alignment is the least-cost monotone path of ``M[i, j] = |v_i - u_j|`` (the port runs Dijkstra on
    the same graph); ties prefer the diagonal, then the step back in the first scanpath.
    """
    if len(fix1) < 3 or len(fix2) < 3:
        return [float("nan")] * 5
    p1 = simplify_scanpath(gen_scanpath_structure(fix1), TAmp, TDir, TDur) if grouping else gen_scanpath_structure(fix1)
    p2 = simplify_scanpath(gen_scanpath_structure(fix2), TAmp, TDir, TDur) if grouping else gen_scanpath_structure(fix2)
    x1, y1 = p1["sac"]["lenx"], p1["sac"]["leny"]
    x2, y2 = p2["sac"]["lenx"], p2["sac"]["leny"]
    n, m = len(x1), len(x2)
    M = [[math.sqrt((x1[i] - x2[j]) ** 2 + (y1[i] - y2[j]) ** 2) for j in range(m)] for i in range(n)]
    D = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                D[i][j] = M[0][0]
                continue
            best = math.inf
            for pi, pj in ((i - 1, j), (i, j - 1), (i - 1, j - 1)):
                if pi >= 0 and pj >= 0:
                    best = min(best, D[pi][pj])
            D[i][j] = M[i][j] + best
    path = [(n - 1, m - 1)]
    i, j = n - 1, m - 1
    while (i, j) != (0, 0):
        diag = D[i - 1][j - 1] if i > 0 and j > 0 else math.inf
        up = D[i - 1][j] if i > 0 else math.inf
        left = D[i][j - 1] if j > 0 else math.inf
        if diag <= up and diag <= left:
            i, j = i - 1, j - 1
        elif up <= left:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
    path.reverse()
    shape, direction, length, position, duration = [], [], [], [], []
    for i, j in path:
        shape.append(math.sqrt((x1[i] - x2[j]) ** 2 + (y1[i] - y2[j]) ** 2))
        t1, t2 = p1["sac"]["theta"][i], p2["sac"]["theta"][j]
        t1 = math.pi + (math.pi + t1) if t1 < 0 else t1
        t2 = math.pi + (math.pi + t2) if t2 < 0 else t2
        a = abs(t1 - t2)
        direction.append(2 * math.pi - a if a > math.pi else a)
        length.append(abs(p1["sac"]["rho"][i] - p2["sac"]["rho"][j]))
        position.append(
            math.sqrt((p1["sac"]["x"][i] - p2["sac"]["x"][j]) ** 2 + (p1["sac"]["y"][i] - p2["sac"]["y"][j]) ** 2)
        )
        d1, d2 = p1["fix"]["dur"][i], p2["fix"]["dur"][j]
        duration.append(abs(d1 - d2) / abs(max(d1, d2)))
    diag_len = math.sqrt(screensize[0] ** 2 + screensize[1] ** 2)
    return [
        1 - float(np.median(shape)) / (2 * diag_len),
        1 - float(np.median(direction)) / math.pi,
        1 - float(np.median(length)) / diag_len,
        1 - float(np.median(position)) / diag_len,
        1 - float(np.median(duration)),
    ]


def gen_scanpath_structure(fix: np.ndarray) -> dict:
    """Vector representation of a scanpath: fixations (x, y, dur) and saccades (start, len, rho, theta)."""
    fix = np.asarray(fix, dtype=float)
    x, y, dur = fix[:, 0], fix[:, 1], fix[:, 2]
    lenx, leny = np.diff(x), np.diff(y)
    rho = np.sqrt(lenx**2 + leny**2)
    theta = np.arctan2(leny, lenx)
    return {
        "fix": {"x": list(x), "y": list(y), "dur": list(dur)},
        "sac": {
            "x": list(x[:-1]),
            "y": list(y[:-1]),
            "lenx": list(lenx),
            "leny": list(leny),
            "theta": list(theta),
            "rho": list(rho),
        },
    }


_SAC_KEYS = ("lenx", "leny", "x", "y", "theta", "rho")


def _empty_path() -> dict:
    return {"fix": {"dur": []}, "sac": {k: [] for k in ("x", "y", "lenx", "leny", "theta", "rho")}}


def _keep(i: int, j: int, sim: dict, data: dict) -> tuple[int, int]:
    for k in _SAC_KEYS:
        sim["sac"][k].insert(j, data["sac"][k][i])
    sim["fix"]["dur"].insert(j, data["fix"]["dur"][i])
    return i + 1, j + 1


def _cart2pol(x: float, y: float) -> tuple[float, float]:
    return float(np.sqrt(x**2 + y**2)), float(np.arctan2(y, x))


def _merge_next(i: int, j: int, sim: dict, sac: dict, fix: dict) -> tuple[int, int]:
    """Insert saccades i and i+1 merged into one (their vectors summed, fixation i's duration) at j of ``sim``."""
    v_x = sac["lenx"][i] + sac["lenx"][i + 1]
    v_y = sac["leny"][i] + sac["leny"][i + 1]
    rho, theta = _cart2pol(v_x, v_y)
    for k, v in (("lenx", v_x), ("leny", v_y), ("x", sac["x"][i]), ("y", sac["y"][i])):
        sim["sac"][k].insert(j, v)
    sim["sac"]["theta"].insert(j, theta)
    sim["sac"]["rho"].insert(j, rho)
    sim["fix"]["dur"].insert(j, fix["dur"][i])
    return i + 2, j + 1


def _simlen(path: dict, TAmp: float, TDur: float) -> dict:
    sac, fix = path["sac"], path["fix"]
    if len(sac["x"]) < 1:
        return path
    i = j = 0
    sim = _empty_path()
    while i <= len(sac["x"]) - 1:
        if i == len(sac["x"]) - 1:
            if sac["rho"][i] < TAmp and (fix["dur"][-1] < TDur or fix["dur"][-2] < TDur):
                v_x = sac["lenx"][-2] + sac["lenx"][-1]
                v_y = sac["leny"][-2] + sac["leny"][-1]
                rho, theta = _cart2pol(v_x, v_y)
                sim["sac"]["lenx"][j - 1] = v_x
                sim["sac"]["leny"][j - 1] = v_y
                sim["sac"]["theta"][j - 1] = theta
                sim["sac"]["rho"][j - 1] = rho
                sim["fix"]["dur"].insert(j, fix["dur"][i - 1])
                j -= 1
                i += 1
            else:
                i, j = _keep(i, j, sim, path)
        else:
            if sac["rho"][i] < TAmp and (fix["dur"][i + 1] < TDur or fix["dur"][i] < TDur):
                i, j = _merge_next(i, j, sim, sac, fix)
            else:
                i, j = _keep(i, j, sim, path)
    sim["fix"]["dur"].append(fix["dur"][-1])
    return sim


def _simdir(path: dict, TDir: float, TDur: float) -> dict:
    sac, fix = path["sac"], path["fix"]
    if len(sac["x"]) < 1:
        return path
    i = j = 0
    sim = _empty_path()
    while i <= len(sac["x"]) - 1:
        if i < len(sac["x"]) - 1:
            v1 = np.array([sac["lenx"][i], sac["leny"][i]])
            v2 = np.array([sac["lenx"][i + 1], sac["leny"][i + 1]])
            with np.errstate(invalid="ignore", divide="ignore"):
                cos = np.clip(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2)), -1.0, 1.0)
            angle = math.degrees(math.acos(cos)) if np.isfinite(cos) else float("nan")
        else:
            angle = float("inf")
        if angle < TDir and i < len(sac["x"]) - 1 and fix["dur"][i + 1] < TDur:
            i, j = _merge_next(i, j, sim, sac, fix)
        else:
            i, j = _keep(i, j, sim, path)
    sim["fix"]["dur"].append(fix["dur"][-1])
    return sim


def simplify_scanpath(path: dict, TAmp: float, TDir: float, TDur: float) -> dict:
    """Jarodzka et al.'s simplification: direction then amplitude merging, repeated until nothing changes."""
    prev = len(path["fix"]["dur"])
    while True:
        path = _simdir(path, TDir, TDur)
        path = _simlen(path, TAmp, TDur)
        if len(path["fix"]["dur"]) == prev:
            return path
        prev = len(path["fix"]["dur"])


# --------------------------------------------------------------------------------------------- search (IRL / HAT)


def steps_to_target(X: Sequence[float], Y: Sequence[float], bbox: Sequence[float]) -> int:
    """IRL ``get_num_step2target``: 1-based first fixation strictly inside the bbox, 1000 if none."""
    for i, (x, y) in enumerate(zip(X, Y, strict=True)):
        if bbox[0] < x < bbox[0] + bbox[2] and bbox[1] < y < bbox[1] + bbox[3]:
            return i + 1
    return 1000


def search_cdf(steps: Sequence[int], max_step: int) -> list[float]:
    """HAT ``get_CDF(steps, max_step + 1)``."""
    return [sum(1 for s in steps if s <= i) / len(steps) for i in range(1, max_step + 2)]


def cdf_auc(cdf: Sequence[float]) -> float:
    """HAT ``compute_cdf_auc``."""
    return cdf[0] + cdf[-1] + sum(cdf[1:-1])


# --------------------------------------------------------------------------------------------- saliency (MIT code)


def auc_judd_mit(saliency: np.ndarray, fixation_map: np.ndarray) -> float:
    """``AUC_Judd.m`` without jitter, loop by loop (map already at the fixation map's size)."""
    S = saliency.astype(float)
    S = (S - S.min()) / (S.max() - S.min())
    s, f = S.ravel(), fixation_map.ravel() > 0
    sth = sorted(s[f], reverse=True)
    nf, npx = len(sth), len(s)
    tp, fp = [0.0], [0.0]
    for i, t in enumerate(sth):
        above = int(np.sum(s >= t))
        tp.append((i + 1) / nf)
        fp.append((above - (i + 1)) / (npx - nf))
    tp.append(1.0)
    fp.append(1.0)
    return float(sum((fp[k + 1] - fp[k]) * (tp[k + 1] + tp[k]) / 2 for k in range(len(tp) - 1)))


def auc_judd_mit_jittered(saliency: np.ndarray, fixation_map: np.ndarray, seed: int) -> float:
    """``AUC_Judd.m`` with its default jitter ``saliencyMap + rand(size) / 1e7`` (seeded ``RandomState``)."""
    noise = np.random.RandomState(seed).rand(*saliency.shape) / 10000000
    return auc_judd_mit(saliency.astype(float) + noise, fixation_map)


def sim_mit(map1: np.ndarray, map2: np.ndarray) -> float:
    """``SIM.m`` line by line: a zero map stays zero; min-max (0/0 = NaN for constant maps); sum-normalise."""

    def norm(m: np.ndarray) -> np.ndarray:
        m = m.astype(float)
        if np.any(m):
            with np.errstate(invalid="ignore", divide="ignore"):
                m = (m - m.min()) / (m.max() - m.min())
                m = m / m.sum()
        return m

    a, b = norm(map1), norm(map2)
    if np.isnan(a.flat[0]) or np.isnan(b.flat[0]):
        return float("nan")
    return float(np.minimum(a, b).sum())


def info_gain_mit(saliency: np.ndarray, fixation_map: np.ndarray, baseline: np.ndarray) -> float:
    """``InfoGain.m`` line by line (MATLAB eps), NaN where its min-max step divides 0 by 0."""
    eps = 2.2204e-16
    with np.errstate(invalid="ignore", divide="ignore"):
        m1 = (saliency - saliency.min()) / (saliency.max() - saliency.min())
        mb = (baseline - baseline.min()) / (baseline.max() - baseline.min())
        m1, mb = m1 / m1.sum(), mb / mb.sum()
        locs = fixation_map.ravel() > 0
        return float(np.mean(np.log2(eps + m1.ravel()[locs]) - np.log2(eps + mb.ravel()[locs])))


def kld_mit_nan(saliency: np.ndarray, density: np.ndarray) -> float:
    """``KLdiv.m`` line by line, keeping its 0/0 = NaN for an all-zero map."""
    eps = 2.2204e-16
    with np.errstate(invalid="ignore", divide="ignore"):
        p = saliency / saliency.sum()
        q = density / density.sum()
        return float(np.sum(q * np.log(eps + q / (p + eps))))


def nss_mit(saliency: np.ndarray, fixation_map: np.ndarray) -> float:
    """``NSS.m``: (map - mean) / std (MATLAB std, N - 1), averaged over fixated pixels."""
    s = saliency.astype(float)
    vals = s.ravel()
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    picked = [(v - mean) / sd for v, f in zip(vals, fixation_map.ravel(), strict=True) if f]
    return sum(picked) / len(picked)


def kld_mit(saliency: np.ndarray, fixation_density: np.ndarray, eps: float = 2.2204e-16) -> float:
    """``KLdiv.m``: KL(Q || P) with eps in the log and the quotient."""
    P = saliency / saliency.sum()
    Q = fixation_density / fixation_density.sum()
    return float(sum(q * math.log(eps + q / (p + eps)) for p, q in zip(P.ravel(), Q.ravel(), strict=True)))


def fdiss(S1: np.ndarray, S2: np.ndarray, r: float) -> tuple[float, float, float]:
    """Foveal-disc IoU scanpath score, loop by loop: (fdiss, precision, recall)."""
    if len(S1) == 0 or len(S2) == 0:
        return 0.0, 0.0, 0.0

    def iou(p: Sequence[float], q: Sequence[float]) -> float:
        d = _dist(p, q)
        if d == 0:
            return 1.0
        if d >= 2 * r:
            return 0.0
        inter = 2 * r * r * math.acos(d / (2 * r)) - (d / 2) * math.sqrt(4 * r * r - d * d)
        return inter / (2 * math.pi * r * r - inter)

    prec = sum(max(iou(p, q) for q in S2) for p in S1) / len(S1)
    rec = sum(max(iou(q, p) for p in S1) for q in S2) / len(S2)
    f = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return f, prec, rec
