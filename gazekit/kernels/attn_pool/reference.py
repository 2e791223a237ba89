"""Plain-PyTorch definition of attention-map pooling (materialises the N×M map, chunked over queries)."""

from __future__ import annotations

import torch

__all__ = ["attention_pool_reference"]


def attention_pool_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    w: torch.Tensor,
    scale: float | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """``out[b, h, m] = Σ_n w[b, n] · softmax_m(scale · q[b, h, n] · k[b, h, m])``.

    Computed in the inputs' dtype (pass float64 tensors for a float64 reference). ``chunk`` bounds the
    materialised block to ``[B, H, chunk, M]``; the result does not depend on it beyond rounding.

    Args:
        q: ``[B, H, N, D]``.
        k: ``[B, H, M, D]``.
        w: ``[B, N]`` query weights.
        scale: logit scale, ``D ** -0.5`` when None.
        chunk: queries per materialised block (None = all at once).

    Returns:
        ``[B, H, M]`` in the result dtype of q and w.
    """
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    n = q.shape[2]
    dtype = torch.promote_types(q.dtype, w.dtype)
    out = q.new_zeros(q.shape[0], q.shape[1], k.shape[2], dtype=dtype)
    step = chunk if chunk else n
    for s in range(0, max(n, 1), max(step, 1)):  # one (empty) step when N = 0 keeps the graph
        qs = q[:, :, s : s + step].to(dtype)
        p = torch.softmax(torch.matmul(qs, k.to(dtype).transpose(-2, -1)) * scale, dim=-1)
        out = out + torch.einsum("bn,bhnm->bhm", w[:, s : s + step].to(dtype), p)
    return out
