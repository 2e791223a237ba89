"""Batched dynamic-programming kernels (NumPy only) behind the sequence metrics.

Every kernel takes a batch of ``B`` pairs padded to a common size plus the true lengths, and works on
whole rows or anti-diagonals at a time, so the Python loop runs ``O(n)`` (or ``O(n + m)``) times per
*batch* instead of ``O(n m)`` times per *pair*. Padding never influences a valid cell: every recurrence
here only reads cells with smaller indices.

The plain loop versions that define each recurrence live in :mod:`gazekit.metrics._reference`; the tests
compare the two on random inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "POPCOUNT_MAX",
    "lcs_bitparallel",
    "nw_linear_gap",
    "pack_symbols",
    "wavefront",
    "wavefront_backtrack",
]

POPCOUNT_MAX = 64  # longest first string the bit-parallel LCS handles in one machine word

_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount64(v: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(v).astype(np.int64)
    return _BYTE_POPCOUNT[v.view(np.uint8).reshape(*v.shape, 8)].sum(-1).astype(np.int64)  # pragma: no cover


def pack_symbols(seqs: list, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack integer symbol sequences into a ``[B, T]`` int64 array padded with ``pad`` + lengths."""
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    t = int(lens.max()) if len(seqs) else 0
    out = np.full((len(seqs), max(t, 1)), pad, dtype=np.int64)
    for i, s in enumerate(seqs):
        if len(s):
            out[i, : len(s)] = s
    return out, lens


# --------------------------------------------------------------------------------------------- NW, linear gap
def nw_linear_gap(
    S: np.ndarray | None,
    la: np.ndarray,
    lb: np.ndarray,
    gap: float = 0.0,
    *,
    border: str = "standard",
    reduce: str = "end",
    table: np.ndarray | None = None,
    A: np.ndarray | None = None,
    Bs: np.ndarray | None = None,
) -> np.ndarray:
    """Needleman–Wunsch (maximisation) with a linear gap, for a batch of pairs.

    ``F[i, j] = max(F[i-1, j-1] + S[i-1, j-1], F[i-1, j] + gap, F[i, j-1] + gap)``. A row is computed at
    once: the horizontal chain ``F[i, j-1] + gap`` unrolls to ``gap*j + cummax_k(c_k - gap*k)``, which is
    exact when ``gap == 0`` (the published SS/ScanMatch settings) and within rounding otherwise. Rows are
    stored ``[m + 1, B]`` so the running maximum runs over contiguous memory.

    Args:
        S: ``[B, n, m]`` substitution scores, or None with ``table`` ``[K, K]`` and symbol codes
            ``A`` ``[B, n]`` / ``Bs`` ``[B, m]`` (then each row of scores is gathered when needed).
        la, lb: ``[B]`` true lengths (``<= n``, ``<= m``).
        gap: gap score (added, so negative values penalise).
        border: ``"standard"`` (``F[i, 0] = gap*i``) or ``"scanmatch"`` (the GazeParser port:
            ``F[i, 0] = gap*(i+1)``, ``F[0, j] = gap*(j+1)``).
        reduce: ``"end"`` returns ``F[la, lb]``; ``"max"`` returns the maximum over the valid
            ``(la+1) x (lb+1)`` table (what ScanMatch normalises).

    Returns:
        ``[B]`` float64.
    """
    if S is not None:
        S = np.asarray(S, dtype=np.float64)
        B, n, m = S.shape
    else:
        assert table is not None and A is not None and Bs is not None
        B, n = A.shape
        m = Bs.shape[1]
        K = table.shape[1]
        flat_table = np.ascontiguousarray(table, dtype=np.float64).ravel()
        rowcode = np.asarray(A, dtype=np.int64) * K  # [B, n]
        colcode = np.ascontiguousarray(np.asarray(Bs, dtype=np.int64).T)  # [m, B]
    la = np.asarray(la, dtype=np.int64)
    lb = np.asarray(lb, dtype=np.int64)
    if reduce == "max" and gap >= 0:
        reduce = "end"  # with gap >= 0 the table never decreases along rows or columns: its max is F[la, lb]
    off = 1.0 if border == "scanmatch" else 0.0
    cols = np.arange(m + 1, dtype=np.float64)[:, None]  # [m+1, 1]
    row = np.ascontiguousarray(np.broadcast_to(gap * (cols + off), (m + 1, B)))
    valid_c = np.arange(m + 1)[:, None] <= lb[None, :]  # [m+1, B]
    idx = np.arange(B)
    if reduce == "end":
        out = np.where(la == 0, row[np.minimum(lb, m), idx], 0.0)
    else:
        out = np.where(valid_c, row, -np.inf).max(axis=0)
    ramp = gap * cols
    c = np.empty((m + 1, B), dtype=np.float64)
    for i in range(1, int(la.max(initial=0)) + 1):
        srow = S[:, i - 1, :].T if S is not None else flat_table[rowcode[:, i - 1][None, :] + colcode]
        c[0] = gap * (i + off)
        np.maximum(row[:-1] + srow, row[1:] + gap, out=c[1:])
        if gap == 0.0:
            row = np.maximum.accumulate(c, axis=0)
        else:
            row = np.maximum.accumulate(c - ramp, axis=0) + ramp
            row = np.maximum(row, c)  # keep exact values where no horizontal gap was taken
        if reduce == "end":
            hit = la == i
            if hit.any():
                out[hit] = row[lb[hit], idx[hit]]
        else:
            live = i <= la
            rm = np.where(valid_c, row, -np.inf).max(axis=0)
            out = np.where(live, np.maximum(out, rm), out)
    return out


# --------------------------------------------------------------------------------------------- LCS, bit-parallel
def lcs_bitparallel(A: np.ndarray, la: np.ndarray, Bs: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Length of the longest common subsequence for a batch of pairs (Allison–Dix / Hyyrö bit-vectors).

    ``A`` is ``[B, n]`` with ``n <= 64`` and ``Bs`` is ``[B, m]``, int64 symbols; padding must never match
    (pad ``A`` and ``Bs`` with different sentinels). One uint64 word holds the state of every pair, so a
    batch costs ``m`` vector steps of a few integer operations.
    """
    Bn, n = A.shape
    if n > POPCOUNT_MAX:
        raise ValueError("lcs_bitparallel handles first strings of at most 64 symbols")
    m = Bs.shape[1]
    eq = A[:, :, None] == Bs[:, None, :]  # [B, n, m]
    if n < 64:
        eq = np.concatenate([eq, np.zeros((Bn, 64 - n, m), dtype=bool)], axis=1)
    packed = np.packbits(eq, axis=1, bitorder="little")  # [B, 8, m] uint8
    pm = np.ascontiguousarray(packed.transpose(0, 2, 1)).view(np.uint64).reshape(Bn, m)  # [B, m]
    if pm.dtype.byteorder == ">" or (pm.dtype.byteorder == "=" and np.little_endian is False):  # pragma: no cover
        pm = pm.byteswap()
    V = np.full(Bn, np.uint64(0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(m):
            U = V & pm[:, j]
            V = (V + U) | (V - U)
    la = np.asarray(la, dtype=np.int64)
    mask = np.where(
        la >= 64, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << la.clip(0, 63).astype(np.uint64)) - np.uint64(1)
    )
    return _popcount64(~V & mask)


# --------------------------------------------------------------------------------------------- anti-diagonal wavefront
def _skew_index(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index maps for the skewed layout ``[d, i]`` (``j = d - i``) of an ``n x m`` table."""
    d = np.arange(n + m - 1)[:, None]
    i = np.arange(n)[None, :]
    j = d - i
    valid = (j >= 0) & (j < m)
    return i + 0 * j, np.clip(j, 0, m - 1), valid


def wavefront(C: np.ndarray, la: np.ndarray, lb: np.ndarray, mode: str = "sum", *, keep: bool = False):
    """Min-cost monotone-path recurrences over a batch of cost tables, one anti-diagonal at a time.

    ``mode="sum"``: ``D[i, j] = C[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1])`` (DTW, MultiMatch);
    ``mode="max"``: ``D[i, j] = max(C[i, j], min(...))`` (discrete Fréchet). ``D[0, 0] = C[0, 0]``.
    The operations are the ones the reference loops do, in the same order, so results agree bit for bit.

    Args:
        C: ``[B, n, m]`` costs.
        la, lb: ``[B]`` lengths (each >= 1).
        keep: also return the skewed table ``R[b, d, i + 1]`` (for backtracking).

    Returns:
        ``[B]`` ``D[la-1, lb-1]`` (and the table when ``keep``).
    """
    C = np.asarray(C, dtype=np.float64)
    B, n, m = C.shape
    ii, jj, valid = _skew_index(n, m)
    Cs = np.where(valid[None], C[:, ii, jj], np.inf)  # [B, n+m-1, n]
    R = np.full((B, n + m - 1, n + 1), np.inf)
    R[:, 0, 1] = Cs[:, 0, 0]
    for d in range(1, n + m - 1):
        up = R[:, d - 1, 0:n]  # (i-1, j)
        left = R[:, d - 1, 1 : n + 1]  # (i, j-1)
        best = np.minimum(up, left)
        if d >= 2:
            # min(min(up, left), diag) equals the reference's min over the three in any order
            best = np.minimum(best, R[:, d - 2, 0:n])
        if mode == "sum":
            R[:, d, 1:] = Cs[:, d] + best
        else:
            R[:, d, 1:] = np.maximum(Cs[:, d], best)
    la = np.asarray(la, dtype=np.int64)
    lb = np.asarray(lb, dtype=np.int64)
    out = R[np.arange(B), la + lb - 2, la]
    return (out, R) if keep else out


def wavefront_backtrack(
    R: np.ndarray, la: np.ndarray, lb: np.ndarray, *, return_ties: bool = False
) -> tuple[np.ndarray, ...]:
    """Least-cost path of every pair from ``(0, 0)`` to ``(la-1, lb-1)`` through a :func:`wavefront` table.

    Ties prefer the diagonal step, then the step that decreases ``i`` (up), then ``j`` (left).

    Returns:
        ``(I, J, L)``: ``[B, n+m-1]`` row and column indices of the path in forward order (padded with 0)
        and ``[B]`` path lengths; with ``return_ties`` also ``[B]`` bool, True where some step of the
        returned path had more than one optimal predecessor (so another optimal path exists).
    """
    B, nd, n1 = R.shape
    la = np.asarray(la, dtype=np.int64)
    lb = np.asarray(lb, dtype=np.int64)
    maxlen = nd
    I_rev = np.zeros((B, maxlen), dtype=np.int64)
    J_rev = np.zeros((B, maxlen), dtype=np.int64)
    i = la - 1
    j = lb - 1
    L = np.zeros(B, dtype=np.int64)
    active = np.ones(B, dtype=bool)
    tied = np.zeros(B, dtype=bool)
    b = np.arange(B)
    for step in range(maxlen):
        I_rev[active, step] = i[active]
        J_rev[active, step] = j[active]
        L[active] += 1
        done = (i == 0) & (j == 0)
        active &= ~done
        if not active.any():
            break
        d = i + j
        inf = np.inf
        # R[b, d', i'+1] holds D[i', d'-i']
        diag = np.where((i > 0) & (j > 0), R[b, np.maximum(d - 2, 0), i], inf)  # D[i-1, j-1]
        up = np.where(i > 0, R[b, np.maximum(d - 1, 0), i], inf)  # D[i-1, j]
        left = np.where(j > 0, R[b, np.maximum(d - 1, 0), i + 1], inf)  # D[i, j-1]
        best = np.minimum(np.minimum(diag, up), left)
        tied |= active & ((diag == best).astype(np.int8) + (up == best) + (left == best) > 1)
        take_diag = (diag <= up) & (diag <= left)
        take_up = ~take_diag & (up <= left)
        ni = np.where(take_diag | take_up, i - 1, i)
        nj = np.where(take_up, j, j - 1)
        i = np.where(active, ni, i)
        j = np.where(active, nj, j)
    # reverse each path into forward order
    pos = L[:, None] - 1 - np.arange(maxlen)[None, :]
    ok = pos >= 0
    posc = np.where(ok, pos, 0)
    rows_i = np.where(ok, np.take_along_axis(I_rev, posc, axis=1), 0)
    cols_j = np.where(ok, np.take_along_axis(J_rev, posc, axis=1), 0)
    return (rows_i, cols_j, L, tied) if return_ties else (rows_i, cols_j, L)


def dijkstra_path(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The alignment path multimatch-gaze finds, ties included: SciPy's Dijkstra on the same graph.

    Nodes are the cells of ``M`` ``[n, m]`` (row-major); every cell links right, down and diagonally
    (bottom row: right only; last column: down only; the last cell: a zero self-loop), an edge costing
    ``M`` at the cell it enters; the path is read back from the predecessor array. Used only for pairs
    whose least-cost path is not unique, where the vectorised backtrack's tie rule may differ.

    Returns:
        ``(I, J)`` row and column indices from ``(0, 0)`` to ``(n-1, m-1)``.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    n, m = M.shape
    node = np.arange(n * m).reshape(n, m)
    ii, jj = np.divmod(node, m)
    tgt = np.full((n, m, 3), -1, dtype=np.int64)
    w = np.zeros((n, m, 3))
    inner = (ii < n - 1) & (jj < m - 1)
    tgt[..., 0] = np.where((jj < m - 1), node + 1, -1)
    tgt[..., 1] = np.where((ii < n - 1), node + m, -1)
    tgt[..., 2] = np.where(inner, node + m + 1, -1)
    Mp = np.pad(M, ((0, 1), (0, 1)))
    w[..., 0] = Mp[ii, jj + 1]
    w[..., 1] = Mp[ii + 1, jj]
    w[..., 2] = Mp[ii + 1, jj + 1]
    tgt[n - 1, m - 1, 0], w[n - 1, m - 1, 0] = node[n - 1, m - 1], 0.0
    keep = tgt >= 0
    rows = np.broadcast_to(node[..., None], tgt.shape)[keep]
    graph = sp.coo_matrix((w[keep], (rows, tgt[keep])), shape=(n * m, n * m)).tocsr()
    _, pred = dijkstra(csgraph=graph, directed=True, indices=0, return_predecessors=True)
    path = [n * m - 1]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    p = np.array(path[::-1], dtype=np.int64)
    return p // m, p % m


def lcs_bitparallel_codes(A: np.ndarray, la: np.ndarray, Bs: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """:func:`lcs_bitparallel` for padded integer codes, masked by length (padding values are ignored).

    The match masks are built per (pair, symbol) with one ``bincount`` instead of an ``[B, n, m]``
    comparison: ``PM[b, c] = sum_i [A[b, i] == c] << i``; then ``pm[b, j] = PM[b, Bs[b, j]]``.
    """
    N, n = A.shape
    if n > POPCOUNT_MAX:
        raise ValueError("lcs_bitparallel_codes handles first strings of at most 64 symbols")
    m = Bs.shape[1]
    la = np.asarray(la, dtype=np.int64)
    lb = np.asarray(lb, dtype=np.int64)
    va = np.arange(n)[None, :] < la[:, None]
    vb = np.arange(m)[None, :] < lb[:, None]
    sa, sb = A[va], Bs[vb]
    if sa.size == 0 or sb.size == 0:
        return np.zeros(N, dtype=np.int64)
    lo = min(int(sa.min()), int(sb.min()))
    K = max(int(sa.max()), int(sb.max())) - lo + 2  # code K - 1: "no symbol" (a zero mask)
    if N * K > 20_000_000:  # sparse alphabet: compress the codes first
        uniq, inv = np.unique(np.concatenate([sa, sb]), return_inverse=True)
        ca = np.full(A.shape, 0, np.int64)
        cb = np.full(Bs.shape, len(uniq), np.int64)
        ca[va], cb[vb] = inv[: sa.size], inv[sa.size :]
        K = len(uniq) + 1
    else:
        ca = A - lo
        cb = np.where(vb, Bs - lo, K - 1)
    rows = np.broadcast_to(np.arange(N)[:, None] * K, A.shape)[va]
    flat = rows + ca[va]
    bit = np.broadcast_to(np.arange(n)[None, :], A.shape)[va]
    lowm = bit < 32
    PM = np.bincount(flat[lowm], weights=np.exp2(bit[lowm]), minlength=N * K).astype(np.uint64)
    if n > 32:
        hi = ~lowm
        PM |= np.bincount(flat[hi], weights=np.exp2(bit[hi] - 32), minlength=N * K).astype(np.uint64) << np.uint64(32)
    pm = np.take_along_axis(PM.reshape(N, K), cb, axis=1)  # [N, m]
    V = np.full(N, np.uint64(0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(int(lb.max())):
            U = V & pm[:, j]
            V = (V + U) | (V - U)
    mask = np.where(
        la >= 64, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << la.clip(0, 63).astype(np.uint64)) - np.uint64(1)
    )
    return _popcount64(~V & mask)
