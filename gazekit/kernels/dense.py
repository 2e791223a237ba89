"""Dense softmax attention composed from PyTorch SDPA (no hand-written dense kernel), and agent attention.

cuDNN / flash SDPA is the fastest dense attention available (kernels.md §1), so dense attention is a thin
wrapper that keeps one calling convention for the backbones. ``GAZEKIT_ATTN_BACKEND=naive`` switches it to
the explicit softmax(QKᵀ·s)V for debugging.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gazekit.kernels._backend import requested_backend

__all__ = ["agent_attention", "dense_attention", "dense_attention_reference"]


def dense_attention_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float | None = None,
    bias: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    """softmax(q·kᵀ·scale + bias)·v, materialising the attention map (the definition)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    s = torch.matmul(q, k.transpose(-2, -1)) * scale
    if is_causal:
        n, m = s.shape[-2:]
        s = s.masked_fill(torch.ones(n, m, dtype=torch.bool, device=s.device).triu(1), float("-inf"))
    if bias is not None:
        s = s.masked_fill(~bias, float("-inf")) if bias.dtype == torch.bool else s + bias
    return torch.matmul(torch.softmax(s, dim=-1), v)


def dense_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float | None = None,
    bias: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
) -> torch.Tensor:
    """Dense softmax attention.

    Args:
        q: ``[B, H, N, D]`` queries (not pre-scaled).
        k: ``[B, H, M, D]`` keys.
        v: ``[B, H, M, Dv]`` values.
        scale: logit scale; ``D ** -0.5`` when None.
        bias: optional ``[B|1, H|1, N, M]`` additive float bias, or boolean mask (True = attend).
        dropout_p: attention dropout (training only).
        is_causal: mask keys after each query (CLIP's text tower); not combined with ``bias``.

    Returns:
        ``[B, H, N, Dv]``.
    """
    if requested_backend() == "naive":
        out = dense_attention_reference(q, k, v, scale, bias, is_causal)
        return F.dropout(out, dropout_p) if dropout_p else out
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale, is_causal=is_causal
    )


def agent_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    agents: torch.Tensor,
    scale: float | None = None,
    agent_bias: torch.Tensor | None = None,
    query_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Agent attention (Agent-DeiT/Swin) as two SDPA calls: agents attend to keys, queries attend to agents.

    ``out = softmax(q·aᵀ·s + query_bias) · (softmax(a·kᵀ·s + agent_bias) · v)``. The depthwise-conv term
    of the published blocks is added by the caller (it is a plain ``nn.Conv2d``).

    Args:
        q: ``[B, H, N, D]`` queries.
        k: ``[B, H, M, D]`` keys.
        v: ``[B, H, M, Dv]`` values.
        agents: ``[B, H, A, D]`` agent tokens (e.g. 49 from a 7×7 pool of q).
        scale: logit scale; ``D ** -0.5`` when None.
        agent_bias: optional ``[B|1, H|1, A, M]`` float bias of the agent→key attention.
        query_bias: optional ``[B|1, H|1, N, A]`` float bias of the query→agent attention.

    Returns:
        ``[B, H, N, Dv]``.
    """
    agent_v = dense_attention(agents, k, v, scale, agent_bias)
    return dense_attention(q, agents, agent_v, scale, query_bias)
