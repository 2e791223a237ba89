"""Triton kernels for attention-map pooling: ``out[b,h,m] = Σ_n w[b,n]·softmax_m(s·q[b,h,n]·k[b,h,m])``.

Forward, two passes (the N×M map is never stored):

1. ``attn_pool_fwd_kernel_lse``: one program per (query block, b·h) streams the keys and keeps the online
   row max / sum-exp, storing the base-2 log-sum-exp ``lse[b,h,n]``.
2. ``attn_pool_fwd_kernel_acc``: one program per (key block, b·h) streams the queries, recomputes
   ``p = exp2(s·log2e·q·k − lse)`` and accumulates ``Σ_n w[n]·p[n, m]``.

Backward (dy ``[B, H, M]``), with ``P`` the softmax rows and ``c[n] = Σ_m P[n,m]·dy[m]``:
``dS[n,m] = w[n]·P[n,m]·(dy[m] − c[n])``, ``dq = s·dS·K``, ``dk = s·dSᵀ·Q``, ``dw[b,n] = Σ_h c[b,h,n]``.

3. ``attn_pool_bwd_kernel_dq``: per query block: one sweep for ``c``, one for ``dq`` (the exact form, no
   cancellation-prone shortcut); stores c.
4. ``attn_pool_bwd_kernel_dk``: per key block: sweep the queries for ``dk``.

Every program writes its own rows, so the kernels are deterministic (no atomics). All accumulation is fp32.
bf16 is cast to fp32 right after loading when ``UPCAST`` is set (always under ``TRITON_INTERPRET=1``, whose
bf16 arithmetic is wrong: triton #11584); fp32 dots use ``input_precision="ieee"`` unless
``GAZEKIT_TF32=1``.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

from gazekit.kernels._backend import interpreting

__all__ = ["AttentionPoolFunction", "attn_pool_bwd", "attn_pool_fwd"]

LOG2E = math.log2(math.e)


@triton.jit
def attn_pool_fwd_kernel_lse(
    Q,
    K,
    LSE,
    stride_qb,
    stride_qh,
    stride_qn,
    stride_qd,
    stride_kb,
    stride_kh,
    stride_km,
    stride_kd,
    H,
    N,
    M,
    D,
    scale_log2e,
    BLOCK_N: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_D: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_n = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask_n = offs_n < N
    mask_d = offs_d < D
    q = tl.load(
        Q + b * stride_qb + h * stride_qh + offs_n[:, None] * stride_qn + offs_d[None, :] * stride_qd,
        mask=mask_n[:, None] & mask_d[None, :],
        other=0.0,
    )
    if UPCAST:
        q = q.to(tl.float32)
    m_i = tl.full([BLOCK_N], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_N], dtype=tl.float32)
    k_base = K + b * stride_kb + h * stride_kh
    for start in range(0, M, BLOCK_M):
        om = start + offs_m
        mask_m = om < M
        kt = tl.load(
            k_base + om[None, :] * stride_km + offs_d[:, None] * stride_kd,
            mask=mask_d[:, None] & mask_m[None, :],
            other=0.0,
        )
        if UPCAST:
            kt = kt.to(tl.float32)
        s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2e
        s = tl.where(mask_m[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        l_i = l_i * tl.exp2(m_i - m_new) + tl.sum(tl.exp2(s - m_new[:, None]), 1)
        m_i = m_new
    lse = m_i + tl.log2(l_i)
    tl.store(LSE + bh * N + offs_n, lse, mask=mask_n)


@triton.jit
def attn_pool_fwd_kernel_acc(
    Q,
    K,
    W,
    LSE,
    OUT,
    stride_qb,
    stride_qh,
    stride_qn,
    stride_qd,
    stride_kb,
    stride_kh,
    stride_km,
    stride_kd,
    stride_wb,
    stride_wn,
    H,
    N,
    M,
    D,
    scale_log2e,
    BLOCK_N: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_D: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mask_m = offs_m < M
    mask_d = offs_d < D
    kt = tl.load(
        K + b * stride_kb + h * stride_kh + offs_m[None, :] * stride_km + offs_d[:, None] * stride_kd,
        mask=mask_d[:, None] & mask_m[None, :],
        other=0.0,
    )
    if UPCAST:
        kt = kt.to(tl.float32)
    acc = tl.zeros([BLOCK_M], dtype=tl.float32)
    q_base = Q + b * stride_qb + h * stride_qh
    for start in range(0, N, BLOCK_N):
        on = start + offs_n
        mask_n = on < N
        q = tl.load(
            q_base + on[:, None] * stride_qn + offs_d[None, :] * stride_qd,
            mask=mask_n[:, None] & mask_d[None, :],
            other=0.0,
        )
        if UPCAST:
            q = q.to(tl.float32)
        lse = tl.load(LSE + bh * N + on, mask=mask_n, other=0.0)
        w = tl.load(W + b * stride_wb + on * stride_wn, mask=mask_n, other=0.0).to(tl.float32)
        s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2e
        p = tl.exp2(s - lse[:, None])
        acc += tl.sum(w[:, None] * p, 0)
    tl.store(OUT + bh * M + offs_m, acc, mask=mask_m)


@triton.jit
def attn_pool_bwd_kernel_dq(
    Q,
    K,
    W,
    LSE,
    DY,
    DQ,
    C,
    stride_qb,
    stride_qh,
    stride_qn,
    stride_qd,
    stride_kb,
    stride_kh,
    stride_km,
    stride_kd,
    stride_wb,
    stride_wn,
    H,
    N,
    M,
    D,
    scale,
    scale_log2e,
    BLOCK_N: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_D: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_n = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask_n = offs_n < N
    mask_d = offs_d < D
    q = tl.load(
        Q + b * stride_qb + h * stride_qh + offs_n[:, None] * stride_qn + offs_d[None, :] * stride_qd,
        mask=mask_n[:, None] & mask_d[None, :],
        other=0.0,
    )
    if UPCAST:
        q = q.to(tl.float32)
    lse = tl.load(LSE + bh * N + offs_n, mask=mask_n, other=0.0)
    w = tl.load(W + b * stride_wb + offs_n * stride_wn, mask=mask_n, other=0.0).to(tl.float32)
    k_base = K + b * stride_kb + h * stride_kh
    # sweep 1: c[n] = Σ_m P[n, m]·dy[m]
    c = tl.zeros([BLOCK_N], dtype=tl.float32)
    for start in range(0, M, BLOCK_M):
        om = start + offs_m
        mask_m = om < M
        kt = tl.load(
            k_base + om[None, :] * stride_km + offs_d[:, None] * stride_kd,
            mask=mask_d[:, None] & mask_m[None, :],
            other=0.0,
        )
        if UPCAST:
            kt = kt.to(tl.float32)
        dy = tl.load(DY + bh * M + om, mask=mask_m, other=0.0)
        s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2e
        p = tl.where(mask_m[None, :], tl.exp2(s - lse[:, None]), 0.0)
        c += tl.sum(p * dy[None, :], 1)
    # sweep 2: dq[n] = s·Σ_m w[n]·P[n, m]·(dy[m] − c[n])·k[m]
    dq = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    for start in range(0, M, BLOCK_M):
        om = start + offs_m
        mask_m = om < M
        kt = tl.load(
            k_base + om[None, :] * stride_km + offs_d[:, None] * stride_kd,
            mask=mask_d[:, None] & mask_m[None, :],
            other=0.0,
        )
        if UPCAST:
            kt = kt.to(tl.float32)
        dy = tl.load(DY + bh * M + om, mask=mask_m, other=0.0)
        s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2e
        p = tl.where(mask_m[None, :], tl.exp2(s - lse[:, None]), 0.0)
        ds = w[:, None] * p * (dy[None, :] - c[:, None])
        dq += tl.dot(ds.to(kt.dtype), tl.trans(kt), input_precision=PRECISION)
    dq = dq * scale
    tl.store(
        DQ + bh * N * D + offs_n[:, None] * D + offs_d[None, :],
        dq.to(DQ.dtype.element_ty),
        mask=mask_n[:, None] & mask_d[None, :],
    )
    tl.store(C + bh * N + offs_n, c, mask=mask_n)


@triton.jit
def attn_pool_bwd_kernel_dk(
    Q,
    K,
    W,
    LSE,
    DY,
    C,
    DK,
    stride_qb,
    stride_qh,
    stride_qn,
    stride_qd,
    stride_kb,
    stride_kh,
    stride_km,
    stride_kd,
    stride_wb,
    stride_wn,
    H,
    N,
    M,
    D,
    scale,
    scale_log2e,
    BLOCK_N: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_D: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mask_m = offs_m < M
    mask_d = offs_d < D
    kt = tl.load(
        K + b * stride_kb + h * stride_kh + offs_m[None, :] * stride_km + offs_d[:, None] * stride_kd,
        mask=mask_d[:, None] & mask_m[None, :],
        other=0.0,
    )
    if UPCAST:
        kt = kt.to(tl.float32)
    dy = tl.load(DY + bh * M + offs_m, mask=mask_m, other=0.0)
    dk = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    q_base = Q + b * stride_qb + h * stride_qh
    for start in range(0, N, BLOCK_N):
        on = start + offs_n
        mask_n = on < N
        q = tl.load(
            q_base + on[:, None] * stride_qn + offs_d[None, :] * stride_qd,
            mask=mask_n[:, None] & mask_d[None, :],
            other=0.0,
        )
        if UPCAST:
            q = q.to(tl.float32)
        lse = tl.load(LSE + bh * N + on, mask=mask_n, other=0.0)
        w = tl.load(W + b * stride_wb + on * stride_wn, mask=mask_n, other=0.0).to(tl.float32)
        c = tl.load(C + bh * N + on, mask=mask_n, other=0.0)
        s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2e
        p = tl.exp2(s - lse[:, None])
        ds = w[:, None] * p * (dy[None, :] - c[:, None])  # [BLOCK_N, BLOCK_M]
        dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=PRECISION)
    dk = dk * scale
    tl.store(
        DK + bh * M * D + offs_m[:, None] * D + offs_d[None, :],
        dk.to(DK.dtype.element_ty),
        mask=mask_m[:, None] & mask_d[None, :],
    )


# ---------------------------------------------------------------------------- launchers
def _config(n: int, m: int, d: int, dtype: torch.dtype) -> dict:
    block_d = max(16, triton.next_power_of_2(d))
    if interpreting():
        # the interpreter's cost scales with programs × loop trips: take large blocks (kernels.md §5)
        block_n = min(128, max(16, triton.next_power_of_2(n)))
        block_m = min(128, max(16, triton.next_power_of_2(m)))
        return {"BLOCK_N": block_n, "BLOCK_M": block_m, "BLOCK_D": block_d, "num_warps": 4}
    block = 64 if block_d <= 64 else 32
    return {"BLOCK_N": block, "BLOCK_M": block, "BLOCK_D": block_d, "num_warps": 4}


def _flags(dtype: torch.dtype) -> dict:
    upcast = dtype == torch.bfloat16 and interpreting()
    tf32 = os.environ.get("GAZEKIT_TF32", "0") not in ("", "0")
    # IEEE only matters for fp32 operands; fp16/bf16 dots keep the default (tensor cores on GPU)
    ieee = (dtype == torch.float32 or upcast) and not tf32
    return {"UPCAST": upcast, "PRECISION": "ieee" if ieee else "tf32"}


def attn_pool_fwd(q: torch.Tensor, k: torch.Tensor, w: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch both forward passes; returns ``(out [B, H, M] fp32, lse [B, H, N] fp32, base 2)``."""
    b, h, n, d = q.shape
    m = k.shape[2]
    out = torch.zeros(b, h, m, device=q.device, dtype=torch.float32)
    lse = torch.empty(b, h, n, device=q.device, dtype=torch.float32)
    if b * h == 0 or n == 0 or m == 0:
        lse.fill_(float("-inf"))
        return out, lse
    cfg = _config(n, m, d, q.dtype)
    flags = _flags(q.dtype)
    s2 = scale * LOG2E
    attn_pool_fwd_kernel_lse[(triton.cdiv(n, cfg["BLOCK_N"]), b * h)](
        q, k, lse, *q.stride(), *k.stride(), h, n, m, d, s2, **cfg, **flags
    )
    attn_pool_fwd_kernel_acc[(triton.cdiv(m, cfg["BLOCK_M"]), b * h)](
        q, k, w, lse, out, *q.stride(), *k.stride(), *w.stride(), h, n, m, d, s2, **cfg, **flags
    )
    return out, lse


def attn_pool_bwd(
    q: torch.Tensor, k: torch.Tensor, w: torch.Tensor, lse: torch.Tensor, dy: torch.Tensor, scale: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(dq [B,H,N,D], dk [B,H,M,D], dw [B,N] fp32)`` for upstream ``dy [B, H, M]``."""
    b, h, n, d = q.shape
    m = k.shape[2]
    dq = torch.zeros(b, h, n, d, device=q.device, dtype=q.dtype)
    dk = torch.zeros(b, h, m, d, device=k.device, dtype=k.dtype)
    c = torch.zeros(b, h, n, device=q.device, dtype=torch.float32)
    if b * h == 0 or n == 0 or m == 0:
        return dq, dk, c.sum(1)
    dy = dy.to(torch.float32).contiguous()
    cfg = _config(n, m, d, q.dtype)
    flags = _flags(q.dtype)
    s2 = scale * LOG2E
    attn_pool_bwd_kernel_dq[(triton.cdiv(n, cfg["BLOCK_N"]), b * h)](
        q, k, w, lse, dy, dq, c, *q.stride(), *k.stride(), *w.stride(), h, n, m, d, scale, s2, **cfg, **flags
    )
    attn_pool_bwd_kernel_dk[(triton.cdiv(m, cfg["BLOCK_M"]), b * h)](
        q, k, w, lse, dy, c, dk, *q.stride(), *k.stride(), *w.stride(), h, n, m, d, scale, s2, **cfg, **flags
    )
    return dq, dk, c.sum(1)


class AttentionPoolFunction(torch.autograd.Function):
    """Autograd wrapper: saves q, k, w and the row log-sum-exp; gradients for q, k and w."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, w: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        out, lse = attn_pool_fwd(q, k, w, scale)
        ctx.save_for_backward(q, k, w, lse)
        ctx.scale = scale
        return out.to(torch.promote_types(q.dtype, w.dtype))

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # type: ignore[override]
        q, k, w, lse = ctx.saved_tensors
        dq, dk, dw = attn_pool_bwd(q, k, w, lse, dy, ctx.scale)
        return (
            dq if ctx.needs_input_grad[0] else None,
            dk if ctx.needs_input_grad[1] else None,
            dw.to(w.dtype) if ctx.needs_input_grad[2] else None,
            None,
        )
