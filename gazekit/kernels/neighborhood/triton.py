"""Triton kernels for 2-D neighbourhood attention (clamped windows, dilation, RPB), forward and backward.

Tiling: a program owns a 2-D tile of ``TQ_H × TQ_W`` queries (flattened to ``BLOCK_Q`` rows for ``tl.dot``) and
streams 2-D key tiles of ``TK_H × TK_W`` over the rectangle its queries can reach; a coordinate mask keeps each
query's exact ``k_h × k_w`` window (NATTEN rule, see ``reference.py``), and the RPB entry of every kept pair is
gathered from the ``[heads, 2k_h − 1, 2k_w − 1]`` table. Softmax is the online (flash) form in base 2.

* ``na2d_fwd_kernel``: out and the base-2 log-sum-exp per query.
* ``na2d_bwd_kernel_dq``: per query tile, dq; when the RPB needs a gradient it also stores dS in the
  neighbour layout ``[B, heads, H, W, k_h, k_w]`` (each pair is written by exactly one program, so the later
  reduction to dRPB is deterministic: no atomics anywhere).
* ``na2d_bwd_kernel_dkdv``: per key tile, dk and dv, streaming the query rectangle that can reach it.

``delta = Σ_d out·dout`` is computed in torch before the backward kernels (as in FlashAttention-2).
bf16 is cast to fp32 after loading under ``TRITON_INTERPRET=1`` (triton #11584); fp32 dots use IEEE precision
unless ``GAZEKIT_TF32=1``.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

from gazekit.kernels._backend import interpreting
from gazekit.kernels.neighborhood.reference import neighborhood_index

__all__ = ["NeighborhoodAttention2DFunction", "na2d_bwd", "na2d_fwd"]

LOG2E = math.log2(math.e)
NEG = -1.0e30  # finite "minus infinity": rows of padded queries stay NaN-free


@triton.jit
def _win_start(i, L, K: tl.constexpr, DIL: tl.constexpr):
    g = i % DIL
    lg = (L - g + DIL - 1) // DIL
    s = i // DIL - K // 2
    s = tl.minimum(tl.maximum(s, 0), lg - K)
    return g + DIL * s


@triton.jit
def _inv_lo(a, L, K: tl.constexpr, DIL: tl.constexpr):
    """Smallest query coordinate whose window can contain key coordinate a."""
    g = a % DIL
    ap = a // DIL
    lo = tl.where(ap <= K - 1, 0, ap - K // 2)
    return g + DIL * lo


@triton.jit
def _inv_hi(a, L, K: tl.constexpr, DIL: tl.constexpr):
    """Largest query coordinate whose window can contain key coordinate a."""
    g = a % DIL
    lg = (L - g + DIL - 1) // DIL
    ap = a // DIL
    hi = tl.where(ap >= lg - K, lg - 1, ap + K // 2)
    return g + DIL * hi


@triton.jit
def _pair_mask(qi, qj, ka, kb, H, W, KH: tl.constexpr, KW: tl.constexpr, DH: tl.constexpr, DW: tl.constexpr):
    """[BLOCK_Q, BLOCK_K] mask of (query, key) pairs inside the query's window, plus neighbour offsets."""
    sh = _win_start(tl.minimum(qi, H - 1), H, KH, DH)
    sw = _win_start(tl.minimum(qj, W - 1), W, KW, DW)
    dh = ka[None, :] - sh[:, None]
    dw = kb[None, :] - sw[:, None]
    ok = (qi[:, None] < H) & (qj[:, None] < W) & (ka[None, :] < H) & (kb[None, :] < W)
    ok = ok & (dh >= 0) & (dh <= (KH - 1) * DH) & (dh % DH == 0)
    ok = ok & (dw >= 0) & (dw <= (KW - 1) * DW) & (dw % DW == 0)
    return ok, dh // DH, dw // DW


@triton.jit
def na2d_fwd_kernel(
    Q,
    K,
    V,
    RPB,
    OUT,
    LSE,
    stride_b,
    stride_h,
    stride_w,
    stride_n,
    stride_rn,
    stride_rh,
    stride_rw,
    NH,
    H,
    W,
    D,
    scale_log2e,
    KH: tl.constexpr,
    KW: tl.constexpr,
    DH: tl.constexpr,
    DW: tl.constexpr,
    TQ_H: tl.constexpr,
    TQ_W: tl.constexpr,
    TK_H: tl.constexpr,
    TK_W: tl.constexpr,
    BLOCK_D: tl.constexpr,
    HAS_RPB: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    bn = tl.program_id(1)
    b = bn // NH
    n = bn % NH
    tiles_w = tl.cdiv(W, TQ_W)
    i0 = (pid // tiles_w) * TQ_H
    j0 = (pid % tiles_w) * TQ_W
    oq = tl.arange(0, TQ_H * TQ_W)
    qi = i0 + oq // TQ_W
    qj = j0 + oq % TQ_W
    ok_q = (qi < H) & (qj < W)
    od = tl.arange(0, BLOCK_D)
    ok_d = od < D
    base = b * stride_b + n * stride_n
    q = tl.load(
        Q + base + qi[:, None] * stride_h + qj[:, None] * stride_w + od[None, :],
        mask=ok_q[:, None] & ok_d[None, :],
        other=0.0,
    )
    if UPCAST:
        q = q.to(tl.float32)
    # rectangle of keys reachable from this tile
    qi_c = tl.minimum(qi, H - 1)
    qj_c = tl.minimum(qj, W - 1)
    row_lo = tl.min(_win_start(qi_c, H, KH, DH), 0)
    row_hi = tl.max(_win_start(qi_c, H, KH, DH), 0) + (KH - 1) * DH
    col_lo = tl.min(_win_start(qj_c, W, KW, DW), 0)
    col_hi = tl.max(_win_start(qj_c, W, KW, DW), 0) + (KW - 1) * DW
    ok_ = tl.arange(0, TK_H * TK_W)
    m_i = tl.full([TQ_H * TQ_W], NEG, dtype=tl.float32)
    l_i = tl.zeros([TQ_H * TQ_W], dtype=tl.float32)
    acc = tl.zeros([TQ_H * TQ_W, BLOCK_D], dtype=tl.float32)
    for a0 in range(row_lo, row_hi + 1, TK_H):
        for b0 in range(col_lo, col_hi + 1, TK_W):
            ka = a0 + ok_ // TK_W
            kb = b0 + ok_ % TK_W
            ok_k = (ka < H) & (kb < W)
            kptr = base + ka[:, None] * stride_h + kb[:, None] * stride_w + od[None, :]
            k = tl.load(K + kptr, mask=ok_k[:, None] & ok_d[None, :], other=0.0)
            v = tl.load(V + kptr, mask=ok_k[:, None] & ok_d[None, :], other=0.0)
            if UPCAST:
                k = k.to(tl.float32)
                v = v.to(tl.float32)
            s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale_log2e
            ok, th, tw = _pair_mask(qi, qj, ka, kb, H, W, KH, KW, DH, DW)
            if HAS_RPB:
                rh = (ka[None, :] - qi[:, None]) // DH + KH - 1
                rw = (kb[None, :] - qj[:, None]) // DW + KW - 1
                bias = tl.load(RPB + n * stride_rn + rh * stride_rh + rw * stride_rw, mask=ok, other=0.0)
                s += bias.to(tl.float32) * 1.4426950408889634
            s = tl.where(ok, s, NEG)
            m_new = tl.maximum(m_i, tl.max(s, 1))
            alpha = tl.exp2(m_i - m_new)
            p = tl.where(ok, tl.exp2(s - m_new[:, None]), 0.0)
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
            m_i = m_new
    l_safe = tl.where(l_i > 0, l_i, 1.0)
    out = acc / l_safe[:, None]
    tl.store(
        OUT + base + qi[:, None] * stride_h + qj[:, None] * stride_w + od[None, :],
        out.to(OUT.dtype.element_ty),
        mask=ok_q[:, None] & ok_d[None, :],
    )
    tl.store(LSE + (bn * H + qi) * W + qj, m_i + tl.log2(l_safe), mask=ok_q)


@triton.jit
def na2d_bwd_kernel_dq(
    Q,
    K,
    V,
    RPB,
    DO,
    LSE,
    DELTA,
    DQ,
    DS,
    stride_b,
    stride_h,
    stride_w,
    stride_n,
    stride_rn,
    stride_rh,
    stride_rw,
    NH,
    H,
    W,
    D,
    scale,
    scale_log2e,
    KH: tl.constexpr,
    KW: tl.constexpr,
    DH: tl.constexpr,
    DW: tl.constexpr,
    TQ_H: tl.constexpr,
    TQ_W: tl.constexpr,
    TK_H: tl.constexpr,
    TK_W: tl.constexpr,
    BLOCK_D: tl.constexpr,
    HAS_RPB: tl.constexpr,
    STORE_DS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    bn = tl.program_id(1)
    b = bn // NH
    n = bn % NH
    tiles_w = tl.cdiv(W, TQ_W)
    i0 = (pid // tiles_w) * TQ_H
    j0 = (pid % tiles_w) * TQ_W
    oq = tl.arange(0, TQ_H * TQ_W)
    qi = i0 + oq // TQ_W
    qj = j0 + oq % TQ_W
    ok_q = (qi < H) & (qj < W)
    od = tl.arange(0, BLOCK_D)
    ok_d = od < D
    base = b * stride_b + n * stride_n
    qptr = base + qi[:, None] * stride_h + qj[:, None] * stride_w + od[None, :]
    q = tl.load(Q + qptr, mask=ok_q[:, None] & ok_d[None, :], other=0.0)
    do = tl.load(DO + qptr, mask=ok_q[:, None] & ok_d[None, :], other=0.0)
    if UPCAST:
        q = q.to(tl.float32)
        do = do.to(tl.float32)
    lse = tl.load(LSE + (bn * H + qi) * W + qj, mask=ok_q, other=0.0)
    delta = tl.load(DELTA + (bn * H + qi) * W + qj, mask=ok_q, other=0.0)
    qi_c = tl.minimum(qi, H - 1)
    qj_c = tl.minimum(qj, W - 1)
    row_lo = tl.min(_win_start(qi_c, H, KH, DH), 0)
    row_hi = tl.max(_win_start(qi_c, H, KH, DH), 0) + (KH - 1) * DH
    col_lo = tl.min(_win_start(qj_c, W, KW, DW), 0)
    col_hi = tl.max(_win_start(qj_c, W, KW, DW), 0) + (KW - 1) * DW
    ok_ = tl.arange(0, TK_H * TK_W)
    dq = tl.zeros([TQ_H * TQ_W, BLOCK_D], dtype=tl.float32)
    for a0 in range(row_lo, row_hi + 1, TK_H):
        for b0 in range(col_lo, col_hi + 1, TK_W):
            ka = a0 + ok_ // TK_W
            kb = b0 + ok_ % TK_W
            ok_k = (ka < H) & (kb < W)
            kptr = base + ka[:, None] * stride_h + kb[:, None] * stride_w + od[None, :]
            k = tl.load(K + kptr, mask=ok_k[:, None] & ok_d[None, :], other=0.0)
            v = tl.load(V + kptr, mask=ok_k[:, None] & ok_d[None, :], other=0.0)
            if UPCAST:
                k = k.to(tl.float32)
                v = v.to(tl.float32)
            s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale_log2e
            ok, th, tw = _pair_mask(qi, qj, ka, kb, H, W, KH, KW, DH, DW)
            if HAS_RPB:
                rh = (ka[None, :] - qi[:, None]) // DH + KH - 1
                rw = (kb[None, :] - qj[:, None]) // DW + KW - 1
                bias = tl.load(RPB + n * stride_rn + rh * stride_rh + rw * stride_rw, mask=ok, other=0.0)
                s += bias.to(tl.float32) * 1.4426950408889634
            p = tl.where(ok, tl.exp2(s - lse[:, None]), 0.0)
            dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
            ds = p * (dp - delta[:, None])  # gradient of the natural-log logits
            dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
            if STORE_DS:
                dsp = DS + (((bn * H + qi[:, None]) * W + qj[:, None]) * KH + th) * KW + tw
                tl.store(dsp, ds, mask=ok)
    tl.store(DQ + qptr, (dq * scale).to(DQ.dtype.element_ty), mask=ok_q[:, None] & ok_d[None, :])


@triton.jit
def na2d_bwd_kernel_dkdv(
    Q,
    K,
    V,
    RPB,
    DO,
    LSE,
    DELTA,
    DK,
    DV,
    stride_b,
    stride_h,
    stride_w,
    stride_n,
    stride_rn,
    stride_rh,
    stride_rw,
    NH,
    H,
    W,
    D,
    scale,
    scale_log2e,
    KH: tl.constexpr,
    KW: tl.constexpr,
    DH: tl.constexpr,
    DW: tl.constexpr,
    TQ_H: tl.constexpr,
    TQ_W: tl.constexpr,
    TK_H: tl.constexpr,
    TK_W: tl.constexpr,
    BLOCK_D: tl.constexpr,
    HAS_RPB: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    bn = tl.program_id(1)
    b = bn // NH
    n = bn % NH
    tiles_w = tl.cdiv(W, TK_W)
    a0 = (pid // tiles_w) * TK_H
    b0 = (pid % tiles_w) * TK_W
    ok_ = tl.arange(0, TK_H * TK_W)
    ka = a0 + ok_ // TK_W
    kb = b0 + ok_ % TK_W
    ok_k = (ka < H) & (kb < W)
    od = tl.arange(0, BLOCK_D)
    ok_d = od < D
    base = b * stride_b + n * stride_n
    kptr = base + ka[:, None] * stride_h + kb[:, None] * stride_w + od[None, :]
    k = tl.load(K + kptr, mask=ok_k[:, None] & ok_d[None, :], other=0.0)
    v = tl.load(V + kptr, mask=ok_k[:, None] & ok_d[None, :], other=0.0)
    if UPCAST:
        k = k.to(tl.float32)
        v = v.to(tl.float32)
    ka_c = tl.minimum(ka, H - 1)
    kb_c = tl.minimum(kb, W - 1)
    row_lo = tl.min(_inv_lo(ka_c, H, KH, DH), 0)
    row_hi = tl.max(_inv_hi(ka_c, H, KH, DH), 0)
    col_lo = tl.min(_inv_lo(kb_c, W, KW, DW), 0)
    col_hi = tl.max(_inv_hi(kb_c, W, KW, DW), 0)
    oq = tl.arange(0, TQ_H * TQ_W)
    dk = tl.zeros([TK_H * TK_W, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([TK_H * TK_W, BLOCK_D], dtype=tl.float32)
    for i0 in range(row_lo, row_hi + 1, TQ_H):
        for j0 in range(col_lo, col_hi + 1, TQ_W):
            qi = i0 + oq // TQ_W
            qj = j0 + oq % TQ_W
            ok_q = (qi < H) & (qj < W)
            qptr = base + qi[:, None] * stride_h + qj[:, None] * stride_w + od[None, :]
            q = tl.load(Q + qptr, mask=ok_q[:, None] & ok_d[None, :], other=0.0)
            do = tl.load(DO + qptr, mask=ok_q[:, None] & ok_d[None, :], other=0.0)
            if UPCAST:
                q = q.to(tl.float32)
                do = do.to(tl.float32)
            lse = tl.load(LSE + (bn * H + qi) * W + qj, mask=ok_q, other=0.0)
            delta = tl.load(DELTA + (bn * H + qi) * W + qj, mask=ok_q, other=0.0)
            s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale_log2e
            ok, th, tw = _pair_mask(qi, qj, ka, kb, H, W, KH, KW, DH, DW)
            if HAS_RPB:
                rh = (ka[None, :] - qi[:, None]) // DH + KH - 1
                rw = (kb[None, :] - qj[:, None]) // DW + KW - 1
                bias = tl.load(RPB + n * stride_rn + rh * stride_rh + rw * stride_rw, mask=ok, other=0.0)
                s += bias.to(tl.float32) * 1.4426950408889634
            p = tl.where(ok, tl.exp2(s - lse[:, None]), 0.0)  # [BLOCK_Q, BLOCK_K]
            dv += tl.dot(tl.trans(p.to(do.dtype)), do, input_precision=PRECISION)
            dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
            ds = p * (dp - delta[:, None])
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=PRECISION)
    tl.store(DK + kptr, (dk * scale).to(DK.dtype.element_ty), mask=ok_k[:, None] & ok_d[None, :])
    tl.store(DV + kptr, dv.to(DV.dtype.element_ty), mask=ok_k[:, None] & ok_d[None, :])


# ---------------------------------------------------------------------------- launchers
def _tiles(h: int, w: int, d: int) -> dict:
    block_d = max(16, triton.next_power_of_2(d))
    if interpreting():
        # the interpreter pays per program and per loop trip: cover small maps with one tile (kernels.md §5)
        th = min(16, triton.next_power_of_2(h))
        tw = min(16, triton.next_power_of_2(w))
        while th * tw < 16:
            tw *= 2
        return {"TQ_H": th, "TQ_W": tw, "TK_H": th, "TK_W": tw, "BLOCK_D": block_d, "num_warps": 4}
    t = 8 if block_d <= 64 else 4
    return {"TQ_H": 8, "TQ_W": 8, "TK_H": t, "TK_W": 8, "BLOCK_D": block_d, "num_warps": 4}


def _flags(dtype: torch.dtype) -> dict:
    upcast = dtype == torch.bfloat16 and interpreting()
    tf32 = os.environ.get("GAZEKIT_TF32", "0") not in ("", "0")
    # IEEE only matters for fp32 operands; fp16/bf16 dots keep the default (tensor cores on GPU)
    ieee = (dtype == torch.float32 or upcast) and not tf32
    return {"UPCAST": upcast, "PRECISION": "ieee" if ieee else "tf32"}


def _rpb_args(rpb: torch.Tensor | None, like: torch.Tensor) -> tuple:
    if rpb is None:
        return like, 0, 0, 0
    return (rpb, *rpb.stride())


def na2d_fwd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int],
    rpb: torch.Tensor | None,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward on contiguous ``[B, H, W, heads, D]`` inputs → ``(out, lse [B, heads, H, W] fp32, base 2)``."""
    b, h, w, nh, d = q.shape
    out = torch.empty_like(q)
    lse = torch.empty(b, nh, h, w, device=q.device, dtype=torch.float32)
    if out.numel() == 0:
        return out, lse
    cfg = _tiles(h, w, d)
    rargs = _rpb_args(rpb, q)
    grid = (triton.cdiv(h, cfg["TQ_H"]) * triton.cdiv(w, cfg["TQ_W"]), b * nh)
    na2d_fwd_kernel[grid](
        q, k, v, rargs[0], out, lse, *q.stride()[:4], *rargs[1:], nh, h, w, d, scale * LOG2E,
        KH=kernel_size[0], KW=kernel_size[1], DH=dilation[0], DW=dilation[1], HAS_RPB=rpb is not None,
        **cfg, **_flags(q.dtype),
    )  # fmt: skip
    return out, lse


def na2d_bwd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    dout: torch.Tensor,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int],
    rpb: torch.Tensor | None,
    scale: float,
    need_drpb: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gradients ``(dq, dk, dv, drpb)`` for contiguous inputs; drpb is None unless ``need_drpb``."""
    b, h, w, nh, d = q.shape
    kh, kw = kernel_size
    dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
    if q.numel() == 0:
        drpb = torch.zeros_like(rpb) if (need_drpb and rpb is not None) else None
        return dq, dk, dv, drpb
    dout = dout.contiguous()
    delta = (out.float() * dout.float()).sum(-1).permute(0, 3, 1, 2).contiguous()  # [B, heads, H, W]
    ds = torch.zeros(b, nh, h, w, kh, kw, device=q.device, dtype=torch.float32) if need_drpb else lse
    cfg = _tiles(h, w, d)
    flags = _flags(q.dtype)
    common = {"KH": kh, "KW": kw, "DH": dilation[0], "DW": dilation[1], "HAS_RPB": rpb is not None}
    rargs = _rpb_args(rpb, q)
    grid = (triton.cdiv(h, cfg["TQ_H"]) * triton.cdiv(w, cfg["TQ_W"]), b * nh)
    na2d_bwd_kernel_dq[grid](
        q, k, v, rargs[0], dout, lse, delta, dq, ds, *q.stride()[:4], *rargs[1:], nh, h, w, d, scale,
        scale * LOG2E, STORE_DS=need_drpb, **common, **cfg, **flags,
    )  # fmt: skip
    grid = (triton.cdiv(h, cfg["TK_H"]) * triton.cdiv(w, cfg["TK_W"]), b * nh)
    na2d_bwd_kernel_dkdv[grid](
        q, k, v, rargs[0], dout, lse, delta, dk, dv, *q.stride()[:4], *rargs[1:], nh, h, w, d, scale,
        scale * LOG2E, **common, **cfg, **flags,
    )  # fmt: skip
    drpb = None
    if need_drpb and rpb is not None:
        drpb = reduce_ds_to_rpb(ds, h, w, kernel_size, dilation).to(rpb.dtype)
    return dq, dk, dv, drpb


def reduce_ds_to_rpb(
    ds: torch.Tensor, h: int, w: int, kernel_size: tuple[int, int], dilation: tuple[int, int]
) -> torch.Tensor:
    """``ds [B, heads, H, W, kh, kw]`` → ``dRPB [heads, 2kh − 1, 2kw − 1]`` by one-hot contractions (deterministic)."""

    kh, kw = kernel_size
    _, rh = neighborhood_index(h, kh, dilation[0], ds.device)
    _, rw = neighborhood_index(w, kw, dilation[1], ds.device)
    oh = torch.nn.functional.one_hot(rh, 2 * kh - 1).to(ds.dtype)  # [H, kh, 2kh−1]
    ow = torch.nn.functional.one_hot(rw, 2 * kw - 1).to(ds.dtype)  # [W, kw, 2kw−1]
    return torch.einsum("nijab,iap,jbq->npq", ds.sum(0), oh, ow)


class NeighborhoodAttention2DFunction(torch.autograd.Function):
    """Autograd wrapper over :func:`na2d_fwd` / :func:`na2d_bwd` (gradients for q, k, v and the RPB)."""

    @staticmethod
    def forward(ctx, q, k, v, rpb, kernel_size, dilation, scale):  # type: ignore[override]
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        out, lse = na2d_fwd(q, k, v, kernel_size, dilation, rpb, scale)
        ctx.save_for_backward(q, k, v, rpb, out, lse)
        ctx.kernel_size, ctx.dilation, ctx.scale = kernel_size, dilation, scale
        return out

    @staticmethod
    def backward(ctx, dout):  # type: ignore[override]
        q, k, v, rpb, out, lse = ctx.saved_tensors
        need_drpb = rpb is not None and ctx.needs_input_grad[3]
        dq, dk, dv, drpb = na2d_bwd(q, k, v, out, lse, dout, ctx.kernel_size, ctx.dilation, rpb, ctx.scale, need_drpb)
        return dq, dk, dv, drpb, None, None, None
