"""Attention kernels: one folder per op (plain-PyTorch reference, Triton kernels, one public function).

* :func:`attention_pool` (``attn_pool/``): Σ_n w[n]·softmax(q_n·Kᵀ·s) without the N×M map.
* :func:`neighborhood_attention_2d` (``neighborhood/``): 2-D neighbourhood attention with dilation and RPB.
* :func:`dense_attention`, :func:`agent_attention` (``dense.py``): compositions of PyTorch SDPA.

Backend: Triton on CUDA, the reference elsewhere; ``GAZEKIT_ATTN_BACKEND=triton|sdpa|naive`` overrides
(see :mod:`gazekit.kernels._backend`).
"""

from __future__ import annotations

from gazekit.kernels.attn_pool import attention_pool
from gazekit.kernels.dense import agent_attention, dense_attention

__all__ = ["agent_attention", "attention_pool", "dense_attention", "neighborhood_attention_2d"]


def __getattr__(name: str):  # noqa: ANN202 - lazy import of the NA op
    if name == "neighborhood_attention_2d":
        from gazekit.kernels.neighborhood import neighborhood_attention_2d

        return neighborhood_attention_2d
    raise AttributeError(f"module 'gazekit.kernels' has no attribute {name!r}")
