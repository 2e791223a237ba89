"""Time gazekit's metrics against their peers in one run (medians; ratios are what to quote).

    .venv/bin/python benchmarks/metrics.py [--quick]

Peers: multimatch-gaze (``docomparison``), a straightforward Needleman–Wunsch in pure Python and the
GazeParser-style loop of ``gazekit.metrics._reference`` (ScanMatch), ``sklearn.metrics.roc_auc_score``
(AUC), ``rapidfuzz.distance.LCSseq`` (SS). Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from gazekit.metrics import _reference as ref
from gazekit.metrics import saliency as sal
from gazekit.metrics import scanpath as sm


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _paths(rng: np.random.Generator, n_pairs: int, n: int | tuple[int, int], w: float = 512, h: float = 384):
    def one() -> np.ndarray:
        k = n if isinstance(n, int) else int(rng.integers(n[0], n[1] + 1))
        return np.column_stack([rng.uniform(0, w, k), rng.uniform(0, h, k), rng.uniform(100, 500, k)])

    return [one() for _ in range(n_pairs)], [one() for _ in range(n_pairs)]


def _nw_python(a: list[int], b: list[int], sub: list[list[float]], gap: float = 0.0) -> float:
    """A straightforward Needleman–Wunsch in pure Python (lists), ScanMatch normalisation."""
    n, m = len(a), len(b)
    F = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        Fi, Fp, si = F[i], F[i - 1], sub[a[i - 1]]
        for j in range(1, m + 1):
            Fi[j] = max(Fp[j - 1] + si[b[j - 1]], Fp[j] + gap, Fi[j - 1] + gap)
    return max(max(r) for r in F) / (max(max(r) for r in sub) * max(n, m))


def bench_multimatch(rng: np.random.Generator, quick: bool) -> list[tuple]:
    rows = []
    try:
        import multimatch_gaze as mg
    except ImportError:  # pragma: no cover
        return [("MultiMatch", "multimatch-gaze not installed", "", "", "")]
    for n in (8, 16, 32):
        A, B = _paths(rng, 40 if quick else 100, n)
        recs = [
            (
                np.rec.fromarrays([a[:, 0], a[:, 1], a[:, 2] / 1000], names="start_x,start_y,duration"),
                np.rec.fromarrays([b[:, 0], b[:, 1], b[:, 2] / 1000], names="start_x,start_y,duration"),
            )
            for a, b in zip(A, B, strict=True)
        ]
        mg.docomparison(*recs[0], screensize=[512, 384])  # first call pays imports
        per_peer = []
        for ra, rb in recs:
            t = time.perf_counter()
            mg.docomparison(ra, rb, screensize=[512, 384])
            per_peer.append(time.perf_counter() - t)
        peer = statistics.median(per_peer)
        A2, B2 = _paths(rng, 2000, n)
        ours = _median_time(lambda A2=A2, B2=B2: sm.multimatch_batch(A2, B2, (512, 384)), 3) / len(A2)
        rows.append((f"MultiMatch, n = {n}", "multimatch-gaze docomparison", peer, ours, peer / ours))
    return rows


def bench_scanmatch(rng: np.random.Generator, quick: bool) -> list[tuple]:
    rows = []
    R = ref.ScanMatchReference(512, 384, 16, 12, 3.5, 0.0, 0.0)
    sub = R.SubMatrix.tolist()
    for temp_bin in (0.0, 50.0):
        A, B = _paths(rng, 20 if quick else 60, 32)
        Rt = ref.ScanMatchReference(512, 384, 16, 12, 3.5, 0.0, temp_bin)
        seqs = [(Rt.fixation_to_sequence(a), Rt.fixation_to_sequence(b)) for a, b in zip(A, B, strict=True)]
        per_py, per_port = [], []
        for sa, sb in seqs:
            t = time.perf_counter()
            _nw_python(sa, sb, sub)
            per_py.append(time.perf_counter() - t)
            t = time.perf_counter()
            Rt.match(sa, sb)
            per_port.append(time.perf_counter() - t)
        py, port = statistics.median(per_py), statistics.median(per_port)
        A2, B2 = _paths(rng, 5000 if temp_bin == 0 else 500, 32)
        ours = _median_time(
            lambda A2=A2, B2=B2, tb=temp_bin: sm.scanmatch_batch(A2, B2, (512, 384), temp_bin=tb), 3
        ) / len(A2)
        label = "ScanMatch, 32 fixations" + (", temp bin 50 ms" if temp_bin else "")
        rows.append((label, "pure-Python NW (lists)", py, ours, py / ours))
        rows.append((label, "GazeParser-style port (numpy F)", port, ours, port / ours))
    return rows


def bench_auc(rng: np.random.Generator, quick: bool) -> list[tuple]:
    from sklearn.metrics import roc_auc_score

    maps = [rng.random((480, 640)) for _ in range(5 if quick else 15)]
    fixes = [np.column_stack([rng.uniform(0, 640, 15), rng.uniform(0, 480, 15)]) for _ in maps]
    sk, judd, alls = [], [], []
    for m, f in zip(maps, fixes, strict=True):
        fm = np.zeros(m.shape, bool)
        fm[f[:, 1].astype(int), f[:, 0].astype(int)] = True
        t = time.perf_counter()
        roc_auc_score(fm.ravel(), m.ravel())
        sk.append(time.perf_counter() - t)
        t = time.perf_counter()
        sal.auc_judd(m, fm)
        judd.append(time.perf_counter() - t)
        t = time.perf_counter()
        sal.roc_auc(m[fm], m[~fm])
        alls.append(time.perf_counter() - t)
    s = statistics.median(sk)
    return [
        (
            "AUC-Judd, 480x640, 15 fixations",
            "sklearn roc_auc_score (same pos/neg)",
            s,
            statistics.median(judd),
            s / statistics.median(judd),
        ),
        (
            "AUC all thresholds, 480x640",
            "sklearn roc_auc_score",
            s,
            statistics.median(alls),
            s / statistics.median(alls),
        ),
    ]


def bench_ss(rng: np.random.Generator, quick: bool) -> list[tuple]:
    from rapidfuzz.distance import LCSseq

    N = 10_000
    A = rng.integers(0, 10, (N, 16))
    B = rng.integers(0, 10, (N, 16))
    la = [a.tolist() for a in A]
    lb = [b.tolist() for b in B]

    def peer() -> None:
        for x, y in zip(la, lb, strict=True):
            LCSseq.similarity(x, y) / max(len(x), len(y))

    p = _median_time(peer, 3) / N
    L = np.full(N, 16)
    ours = _median_time(lambda: sm.sequence_score_padded(A, L, B, L), 5) / N
    arrays_a, arrays_b = list(A), list(B)
    ours_list = _median_time(lambda: sm.sequence_score_batch(arrays_a, arrays_b), 3) / N
    return [
        ("SS per pair, 16 vs 16 symbols", "rapidfuzz LCSseq.similarity / max len", p, ours, p / ours),
        ("SS per pair, list-of-arrays input", "rapidfuzz LCSseq.similarity / max len", p, ours_list, p / ours_list),
    ]


def bench_10k(rng: np.random.Generator, quick: bool) -> list[tuple]:
    N = 10_000
    A, B = _paths(rng, N, (3, 16))
    rows = []
    cl = sm.MeanShiftClusters(rng.uniform(0, 512, (12, 2)) * np.array([1, 0.75]), 50.0)
    sa = [cl.predict(a[:, :2]) for a in A]
    sb = [cl.predict(b[:, :2]) for b in B]
    jobs = [
        ("SS (cluster strings)", lambda: sm.sequence_score_batch(sa, sb)),
        ("ScanMatch", lambda: sm.scanmatch_batch(A, B, (512, 384))),
        ("ScanMatch w/ duration (50 ms)", lambda: sm.scanmatch_batch(A, B, (512, 384), temp_bin=50)),
        ("MultiMatch (5 dims)", lambda: sm.multimatch_batch(A, B, (512, 384))),
        ("DTW", lambda: sm.dtw_batch(A, B)),
        ("discrete Frechet", lambda: sm.frechet_batch(A, B)),
        ("Eyenalysis", lambda: sm.eyenalysis_batch(A, B)),
    ]
    total = 0.0
    for name, fn in jobs:
        t = _median_time(fn, 1 if quick else 3)
        total += t
        rows.append((f"10,000 pairs (3-16 fixations): {name}", "", "", t, ""))
    rows.append(("10,000 pairs: all of the above", "", "", total, ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    ap.add_argument("--only", default=None, help="comma list of: multimatch,scanmatch,auc,ss,10k")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    benches = {
        "multimatch": bench_multimatch,
        "scanmatch": bench_scanmatch,
        "auc": bench_auc,
        "ss": bench_ss,
        "10k": bench_10k,
    }
    chosen = args.only.split(",") if args.only else list(benches)
    print(
        f"# metrics benchmark: Python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPU(s), {platform.machine()}"
    )
    print("| case | peer | peer per pair | gazekit per pair (batched) | ratio |")
    print("|---|---|---|---|---|")

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v * 1e6:.1f} µs" if v < 1e-3 else f"{v * 1e3:.2f} ms" if v < 1 else f"{v:.2f} s"
        return str(v)

    for k in chosen:
        for case, peer, p, o, ratio in benches[k](rng, args.quick):
            r = f"{ratio:.1f}x" if isinstance(ratio, float) else ratio
            print(f"| {case} | {peer} | {fmt(p)} | {fmt(o)} | {r} |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
