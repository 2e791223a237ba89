"""Attention-map pooling: a weighted sum of softmax attention rows without the N×M map."""

from __future__ import annotations

import torch

from gazekit.errors import ConfigError
from gazekit.kernels._backend import select_backend
from gazekit.kernels.attn_pool.reference import attention_pool_reference

__all__ = ["TRITON_DTYPES", "attention_pool", "attention_pool_reference"]

TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def attention_pool(
    q: torch.Tensor,
    k: torch.Tensor,
    w: torch.Tensor,
    scale: float | None = None,
) -> torch.Tensor:
    """Pool attention rows: ``out[b, h, m] = Σ_n w[b, n] · softmax_m(scale · q[b, h, n] · k[b, h, m])``.

    The softmax runs over all M keys (so e.g. CLS and register keys take part in the normalisation even when
    the caller drops their columns afterwards). With the Triton backend nothing of size N×M is stored: memory
    is O(B·H·(N + M)) plus the inputs; the backward recomputes the rows from the saved log-sum-exp.

    Args:
        q: ``[B, H, N, D]`` queries, not pre-scaled (N may differ from M).
        k: ``[B, H, M, D]`` keys (same dtype and device as q).
        w: ``[B, N]`` query weights (any float dtype; e.g. a softmax over a person's head patches, zero
            elsewhere).
        scale: logit scale; ``D ** -0.5`` when None.

    Returns:
        ``[B, H, M]`` with dtype ``promote_types(q.dtype, w.dtype)``. Differentiable in q, k and w.

    Backend: Triton for CUDA tensors in fp32/fp16/bf16, the plain-PyTorch reference elsewhere;
    ``GAZEKIT_ATTN_BACKEND=triton|sdpa|naive`` overrides (``sdpa`` has no composition here and means ``naive``).
    bf16 runs natively on GPU and is cast to fp32 in-kernel under ``TRITON_INTERPRET=1``.
    """
    if q.ndim != 4 or k.ndim != 4:
        raise ConfigError(f"q and k must be [B, H, N, D] / [B, H, M, D], got {tuple(q.shape)} and {tuple(k.shape)}")
    b, h, n, d = q.shape
    if k.shape[0] != b or k.shape[1] != h or k.shape[3] != d:
        raise ConfigError(f"k {tuple(k.shape)} does not match q {tuple(q.shape)} in B, H or D")
    if tuple(w.shape) != (b, n):
        raise ConfigError(f"w must be [B, N] = {(b, n)}, got {tuple(w.shape)}")
    if q.dtype != k.dtype:
        raise ConfigError(f"q and k must share a dtype, got {q.dtype} and {k.dtype}")
    scale = d**-0.5 if scale is None else float(scale)
    if w.device != q.device:
        raise ConfigError(f"w is on {w.device}, q on {q.device}")
    backend = select_backend(q, k, triton_dtypes=TRITON_DTYPES)
    if backend == "triton":
        from gazekit.kernels.attn_pool.triton import AttentionPoolFunction

        return AttentionPoolFunction.apply(q, k, w, scale)
    return attention_pool_reference(q, k, w, scale)
