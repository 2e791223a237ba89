"""Plain-PyTorch definition of 2-D neighbourhood attention (NATTEN's clamped-window rule, dilation, RPB).

For a query at (i, j) the neighbourhood is ``k_h × k_w`` keys; per axis (length L, kernel k, r = k // 2,
dilation d): residue ``g = i mod d``, group length ``L_g = ceil((L − g) / d)``, ``start' = clamp(i // d − r, 0,
L_g − k)``, neighbours ``a = g + d·(start' + t)``, t = 0..k−1. Windows shift inward at the borders, so every
query has exactly ``k_h·k_w`` neighbours (needs ``L ≥ k·d``). The relative-position-bias index of neighbour a is
``ρ = (a − i) / d + k − 1`` into a table ``[heads, 2k_h − 1, 2k_w − 1]`` (NATTEN ≤ 0.17, NAT/DiNAT checkpoints).
"""

from __future__ import annotations

import torch

__all__ = [
    "na2d_dense_mask",
    "na2d_reference",
    "na2d_sdpa",
    "neighborhood_bias_index",
    "neighborhood_index",
    "window_start",
]


def window_start(i: torch.Tensor, length: int, kernel: int, dilation: int) -> torch.Tensor:
    """First neighbour (absolute coordinate) of positions ``i`` along one axis (NATTEN's ``get_window_start``)."""
    r = kernel // 2
    g = i % dilation
    lg = (length - g + dilation - 1) // dilation
    s = torch.clamp(torch.clamp(i // dilation - r, min=0), max=lg - kernel)
    return g + dilation * s


def neighborhood_index(length: int, kernel: int, dilation: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbour coordinates and RPB indices along one axis.

    Returns:
        ``(idx [L, k], rho [L, k])``: ``idx[i, t]`` is the t-th neighbour of i, ``rho[i, t] ∈ [0, 2k − 2]``
        its relative-position-bias index.
    """
    i = torch.arange(length, device=device)
    start = window_start(i, length, kernel, dilation)
    idx = start[:, None] + dilation * torch.arange(kernel, device=device)[None, :]
    rho = (idx - i[:, None]) // dilation + kernel - 1
    return idx, rho


def neighborhood_bias_index(
    h: int, w: int, kernel: tuple[int, int], dilation: tuple[int, int], device=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-axis neighbour and RPB index tables ``(idx_h [H, kh], rho_h [H, kh], idx_w [W, kw], rho_w [W, kw])``."""
    ih, rh = neighborhood_index(h, kernel[0], dilation[0], device)
    iw, rw = neighborhood_index(w, kernel[1], dilation[1], device)
    return ih, rh, iw, rw


def na2d_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
    rpb: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """2-D neighbourhood attention by gathering each query's ``k_h·k_w`` keys (memory O(N·k²·D)).

    Args:
        q, k, v: ``[B, H, W, heads, D]`` (heads-last, NATTEN layout); computed in their dtype.
        kernel_size: odd ``(k_h, k_w)``.
        dilation: ``(d_h, d_w)``.
        rpb: optional ``[heads, 2k_h − 1, 2k_w − 1]`` relative positional bias added to the logits.
        scale: logit scale, ``D ** -0.5`` when None.

    Returns:
        ``[B, H, W, heads, D]``.
    """
    b, h, w, nh, d = q.shape
    kh, kw = kernel_size
    scale = d**-0.5 if scale is None else scale
    ih, rh, iw, rw = neighborhood_bias_index(h, w, kernel_size, dilation, q.device)
    # gathered keys/values: [B, H, W, kh, kw, heads, D]
    rows = ih[:, None, :, None].expand(h, w, kh, kw)
    cols = iw[None, :, None, :].expand(h, w, kh, kw)
    kn = k[:, rows, cols]
    vn = v[:, rows, cols]
    s = torch.einsum("bijhd,bijpqhd->bijhpq", q, kn) * scale
    if rpb is not None:
        bias = rpb[:, rh[:, None, :, None], rw[None, :, None, :]]  # [heads, H, W, kh, kw]
        s = s + bias.permute(1, 2, 0, 3, 4).unsqueeze(0).to(s.dtype)
    p = torch.softmax(s.reshape(b, h, w, nh, kh * kw), dim=-1).reshape(s.shape)
    return torch.einsum("bijhpq,bijpqhd->bijhd", p, vn)


def na2d_dense_mask(
    h: int,
    w: int,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
    rpb: torch.Tensor | None = None,
    device=None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Dense additive bias ``[heads | 1, H·W, H·W]``: RPB (or 0) inside each query's window, −inf outside."""
    ih, rh, iw, rw = neighborhood_bias_index(h, w, kernel_size, dilation, device)
    kh, kw = kernel_size
    n = h * w
    q_idx = torch.arange(n, device=device).reshape(h, w)
    key = (ih[:, None, :, None] * w + iw[None, :, None, :]).reshape(n, kh * kw)  # [N, kh·kw]
    nh = 1 if rpb is None else rpb.shape[0]
    out = torch.full((nh, n, n), float("-inf"), device=device, dtype=dtype)
    if rpb is None:
        vals = torch.zeros(1, n, kh * kw, device=device, dtype=dtype)
    else:
        vals = rpb[:, rh[:, None, :, None], rw[None, :, None, :]].reshape(nh, n, kh * kw).to(dtype)
    rows = q_idx.reshape(n, 1).expand(n, kh * kw)
    out[:, rows, key] = vals
    return out


def na2d_sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
    rpb: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Neighbourhood attention as dense SDPA with a ``[heads, N, N]`` additive mask (memory O(N²); small maps)."""
    b, h, w, nh, d = q.shape
    bias = na2d_dense_mask(h, w, kernel_size, dilation, rpb, q.device, q.dtype)
    qf, kf, vf = (t.reshape(b, h * w, nh, d).transpose(1, 2) for t in (q, k, v))
    o = torch.nn.functional.scaled_dot_product_attention(qf, kf, vf, attn_mask=bias.unsqueeze(0), scale=scale)
    return o.transpose(1, 2).reshape(b, h, w, nh, d)
