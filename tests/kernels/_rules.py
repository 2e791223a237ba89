"""The flash-attn comparison rule (kernels.md §6), adapted to a float64 reference."""

from __future__ import annotations

import torch

#: smallest error a same-dtype torch run is credited with (its error can be 0 on tiny inputs)
FLOOR = {torch.float32: 2e-6, torch.float16: 2e-3, torch.bfloat16: 1.6e-2, torch.float64: 1e-12}


def max_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a.detach().double() - ref.detach().double()).abs().max()) if ref.numel() else 0.0


def assert_flash_rule(name: str, got: torch.Tensor, torch_same: torch.Tensor, ref64: torch.Tensor, dtype) -> None:
    """max|got − ref64| ≤ 2 · max(max|torch_same − ref64|, FLOOR · max(1, max|ref64|))."""
    assert got.shape == ref64.shape, (name, got.shape, ref64.shape)
    assert not torch.isnan(got).any(), f"{name}: NaN"
    scale = max(1.0, float(ref64.detach().abs().max())) if ref64.numel() else 1.0
    bound = 2 * max(max_err(torch_same, ref64), FLOOR[dtype] * scale)
    err = max_err(got, ref64)
    assert err <= bound, f"{name} ({dtype}): error {err:.3g} > 2× torch same-dtype bound {bound:.3g}"
