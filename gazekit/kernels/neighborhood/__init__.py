"""2-D neighbourhood attention (NAT/DiNAT): clamped windows, dilation, relative positional bias."""

from __future__ import annotations

import torch

from gazekit.errors import ConfigError
from gazekit.kernels._backend import select_backend
from gazekit.kernels.neighborhood.reference import na2d_dense_mask, na2d_reference, na2d_sdpa, window_start

__all__ = [
    "TRITON_DTYPES",
    "na2d_dense_mask",
    "na2d_reference",
    "na2d_sdpa",
    "neighborhood_attention_2d",
    "window_start",
]

TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _pair(x: int | tuple[int, int], name: str) -> tuple[int, int]:
    t = (int(x), int(x)) if isinstance(x, int) else tuple(int(v) for v in x)
    if len(t) != 2:
        raise ConfigError(f"{name} must be an int or a pair, got {x!r}")
    return t  # type: ignore[return-value]


def neighborhood_attention_2d(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: int | tuple[int, int],
    dilation: int | tuple[int, int] = 1,
    rpb: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """2-D neighbourhood attention with NATTEN's clamped-window rule.

    ``out[b, i, j, h] = Σ_{(a, c) ∈ N(i, j)} softmax(scale·q·k[a, c] + rpb[h, ρ_h, ρ_w]) · v[a, c]`` where N(i, j)
    is the ``k_h × k_w`` window (shifted inward at borders, dilated by ``(d_h, d_w)``) and
    ``ρ = (a − i)/d + k − 1`` (see :mod:`gazekit.kernels.neighborhood.reference`).

    Args:
        q: ``[B, H, W, heads, D]`` queries, not pre-scaled (heads-last, NATTEN/NAT layout).
        k: ``[B, H, W, heads, D]`` keys.
        v: ``[B, H, W, heads, D]`` values.
        kernel_size: odd ``k`` or ``(k_h, k_w)``.
        dilation: ``d`` or ``(d_h, d_w)``; needs ``H ≥ k_h·d_h`` and ``W ≥ k_w·d_w``.
        rpb: optional relative positional bias ``[heads, 2k_h − 1, 2k_w − 1]`` (as NAT/DiNAT checkpoints carry).
        scale: logit scale; ``D ** -0.5`` when None.

    Returns:
        ``[B, H, W, heads, D]`` in q's dtype. Differentiable in q, k, v and rpb.

    Backend: Triton for CUDA tensors in fp32/fp16/bf16 (bf16 is cast to fp32 in-kernel under
    ``TRITON_INTERPRET=1``), the gather reference elsewhere; ``GAZEKIT_ATTN_BACKEND=sdpa`` uses dense SDPA with a
    ``[heads, N, N]`` mask (O(N²) memory), ``naive`` the reference.
    """
    if q.ndim != 5 or k.shape != q.shape or v.shape != q.shape:
        raise ConfigError(
            f"q, k, v must share one shape [B, H, W, heads, D]; got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ConfigError(f"q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    _, h, w, nh, d = q.shape
    ks = _pair(kernel_size, "kernel_size")
    dil = _pair(dilation, "dilation")
    for name, kk, dd, length in (("height", ks[0], dil[0], h), ("width", ks[1], dil[1], w)):
        if kk < 1 or kk % 2 == 0:
            raise ConfigError(f"kernel_size must be odd and positive, got {ks}")
        if dd < 1:
            raise ConfigError(f"dilation must be ≥ 1, got {dil}")
        if length < kk * dd:
            raise ConfigError(f"feature-map {name} {length} < kernel {kk} × dilation {dd} (NATTEN's requirement)")
    if rpb is not None and tuple(rpb.shape) != (nh, 2 * ks[0] - 1, 2 * ks[1] - 1):
        raise ConfigError(f"rpb must be [heads, 2k_h − 1, 2k_w − 1] = {(nh, 2 * ks[0] - 1, 2 * ks[1] - 1)}")
    scale = d**-0.5 if scale is None else float(scale)
    backend = select_backend(q, has_sdpa=True, triton_dtypes=TRITON_DTYPES)
    if backend == "triton":
        from gazekit.kernels.neighborhood.triton import NeighborhoodAttention2DFunction

        return NeighborhoodAttention2DFunction.apply(q, k, v, rpb, ks, dil, scale)
    if backend == "sdpa":
        return na2d_sdpa(q, k, v, ks, dil, rpb, scale)
    return na2d_reference(q, k, v, ks, dil, rpb, scale)
