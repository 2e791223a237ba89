"""eccNET's centre-dependent pooling, ring by ring (the release's algorithm, kept as the reference).

The release (``vs_model/ecc_net.py``, ``CentreDependentPooling2D``) pads the map to a square, pools the *whole*
map once per eccentricity ring (window ``rf`` of that ring, stride 2, TensorFlow ``'same'`` padding, padding
excluded from averages), masks each result to its ring and sums the rings. Cost is one full pooling pass per
ring; :func:`gazekit.kernels.ecc_pool.ecc_pool` computes the same numbers in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gazekit.errors import ConfigError, DataFormatError

__all__ = ["EccPoolSpec", "ecc_pool_reference", "pad_to_square", "ring_layout", "same_pool", "same_padding"]


@dataclass(frozen=True)
class EccPoolSpec:
    """One eccentricity pooling layer (release defaults for layer 5 of eccNET).

    Attributes:
        rf_min: window (px of the layer's input) in the fovea.
        slope: window growth per px of eccentricity (release: 0, 0, 0.07, 0.16, 0.32 for pools 1–5).
        deg2px: px per degree at the layer's input (release: 30, 15, 8, 4, 2).
        fovea_size: fovea diameter, degrees (4).
        rf_quant: ring width, degrees (1).
        stride: pooling stride (2).
        pool: ``"avg"`` (eccNET) or ``"max"``.
    """

    rf_min: int = 2
    slope: float = 0.32
    deg2px: float = 2.0
    fovea_size: float = 4.0
    rf_quant: float = 1.0
    stride: int = 2
    pool: str = "avg"

    def __post_init__(self) -> None:
        if self.pool not in ("avg", "max"):
            raise ConfigError(f"EccPoolSpec.pool={self.pool!r}: expected 'avg' or 'max'")
        if self.rf_min < 1 or self.stride < 1:
            raise ConfigError(f"EccPoolSpec: rf_min and stride must be >= 1, got {self.rf_min}, {self.stride}")
        if self.deg2px <= 0 or self.rf_quant <= 0 or self.fovea_size < 0 or self.slope < 0:
            raise ConfigError("EccPoolSpec: deg2px and rf_quant must be > 0, fovea_size and slope >= 0")


def _disc(n: int, c: int, r: float) -> np.ndarray:
    """``[n, n]`` bool: integer points strictly inside the circle of radius r about (c, c) (skimage ``circle``)."""
    yy, xx = np.mgrid[0:n, 0:n]
    return (yy - c) ** 2 + (xx - c) ** 2 < r * r


def ring_layout(size: int, spec: EccPoolSpec) -> tuple[int, list[tuple[np.ndarray, int]]]:
    """The release's rings for a square input of side ``size``.

    Returns:
        ``(out, rings)``: output side ``int((size + 1) / stride)`` (as released; equals ``ceil(size/2)`` for
        stride 2) and ``[(mask [out, out] bool, window px)]``, fovea first and the "rest" region last. The
        masks partition the output map.
    """
    if size < 1:
        raise DataFormatError(f"eccentricity pooling of an empty map (side {size})")
    out = int((size + 1) / spec.stride) if spec.stride > 1 else size
    out = max(out, 1)
    c = out // 2
    step = round(spec.rf_quant * spec.deg2px / 2)
    ecc = round(spec.fovea_size * spec.deg2px / 2)
    if ecc > out / 2 or step < 1:
        return out, [(np.ones((out, out), bool), spec.rf_min)]

    def rf_at(e: int) -> int:
        return int(spec.rf_min + round(spec.slope * (2 * e - spec.fovea_size * spec.deg2px)))

    rings = [(_disc(out, c, ecc), spec.rf_min)]
    ecc += step
    while ecc < out / 2:
        rings.append((_disc(out, c, ecc) & ~_disc(out, c, ecc - step), rf_at(ecc)))
        ecc += step
    rings.append((~_disc(out, c, ecc - step), rf_at(ecc)))
    return out, rings


def pad_to_square(x: torch.Tensor) -> torch.Tensor:
    """Zero-pad ``[B, C, H, W]`` to a centred square (extra row/column at the bottom/right), as released."""
    h, w = x.shape[-2:]
    if h == w:
        return x
    if h < w:
        top = (w - h) // 2
        return F.pad(x, (0, 0, top, w - h - top))
    left = (h - w) // 2
    return F.pad(x, (left, h - w - left, 0, 0))


def same_padding(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow ``'same'`` padding (before, after) of a length-n axis for window k and stride s."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def same_pool(x: torch.Tensor, k: int, s: int = 2, pool: str = "avg") -> torch.Tensor:
    """Keras ``AveragePooling2D``/``MaxPooling2D(k, s, padding='same')`` on ``[B, C, H, W]`` (padding not counted)."""
    (t, b), (left, r) = same_padding(x.shape[-2], k, s), same_padding(x.shape[-1], k, s)
    if pool == "max":
        return F.max_pool2d(F.pad(x, (left, r, t, b), value=float("-inf")), k, s)
    ones = torch.ones((1, 1, *x.shape[-2:]), dtype=x.dtype, device=x.device)
    num = F.avg_pool2d(F.pad(x, (left, r, t, b)), k, s)
    den = F.avg_pool2d(F.pad(ones, (left, r, t, b)), k, s)
    return num / den


def _check(x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise DataFormatError(f"eccentricity pooling expects [B, C, H, W], got shape {tuple(x.shape)}")
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise DataFormatError(f"eccentricity pooling of an empty map {tuple(x.shape)}")


def ecc_pool_reference(x: torch.Tensor, spec: EccPoolSpec) -> torch.Tensor:
    """Ring-by-ring eccentricity pooling: ``[B, C, H, W]`` → ``[B, C, out, out]`` (fovea at the map centre)."""
    _check(x)
    xs = pad_to_square(x)
    out, rings = ring_layout(xs.shape[-1], spec)
    y = torch.zeros((*xs.shape[:2], out, out), dtype=x.dtype, device=x.device)
    for mask, rf in rings:
        pooled = same_pool(xs, rf, spec.stride, spec.pool)[..., :out, :out]
        m = torch.as_tensor(mask, device=x.device)
        y = y + torch.where(m, pooled, torch.zeros((), dtype=x.dtype, device=x.device))
    return y
