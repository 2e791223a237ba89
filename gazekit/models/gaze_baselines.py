"""Gaze-following baselines: a centre prior and a cone along the head's facing direction.

Both implement :class:`~gazekit.models.base.GazePredictor` (``predict_gaze(image, head_box) -> GazeMap``),
need no weights, and return a ``heatmap_size`` x ``heatmap_size`` map (64 x 64 by default, the GazeFollow
convention) in [0, 1] covering the whole image; ``point`` is the map's arg-max in image pixels.

* :class:`CenterGazePrior` (``center-gaze``): a Gaussian at the image centre, whatever the person does.
  The standard "centre prior" row of gaze-following tables.
* :class:`HeadDirectionCone` (``head-cone``): a cone from the head centre along an image-plane facing
  direction, times a distance prior. The direction is, in order: the ``direction`` argument of
  ``predict_gaze``, the constructor's ``direction``, or an estimate from the pixels around the head
  (:func:`estimate_head_direction`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.models.predictors import GazePredictor
from gazekit.types import GazeMap

__all__ = ["CenterGazePrior", "HeadDirectionCone", "estimate_head_direction"]


def _check(image: np.ndarray, head_box: Sequence[float]) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] == 0 or img.shape[1] == 0:
        raise DataFormatError(f"image must be [H, W, 3] uint8 RGB, got {img.shape} {img.dtype}")
    hb = np.asarray(head_box, dtype=float)
    if hb.shape != (4,) or not np.all(np.isfinite(hb)):
        raise DataFormatError(f"head_box must be 4 finite numbers (x1, y1, x2, y2), got {head_box}", field="head_box")
    x1, x2 = sorted((hb[0], hb[2]))
    y1, y2 = sorted((hb[1], hb[3]))
    return img, (float(x1), float(y1), float(x2), float(y2))


def _grid(w: int, h: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image-pixel coordinates of the centres of a ``size`` x ``size`` map's cells."""
    xs = (np.arange(size) + 0.5) * (w / size)
    ys = (np.arange(size) + 0.5) * (h / size)
    return np.meshgrid(xs, ys)


def _argmax_point(heat: np.ndarray, w: int, h: int) -> tuple[float, float]:
    r, c = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return (c + 0.5) * w / heat.shape[1], (r + 0.5) * h / heat.shape[0]


class CenterGazePrior(GazePredictor):
    """Everyone looks at the image centre: an isotropic Gaussian (``sigma`` of each side) there.

    Args:
        sigma: standard deviation as a fraction of the image width (x) and height (y).
        inout: the in-frame probability it reports (constant).
        heatmap_size: side of the square output map.
    """

    def __init__(self, sigma: float = 0.25, inout: float = 0.8, heatmap_size: int = 64) -> None:
        if sigma <= 0 or not 0 <= inout <= 1 or heatmap_size < 2:
            raise ConfigError(
                f"need sigma > 0, 0 <= inout <= 1, heatmap_size >= 2; got {sigma}, {inout}, {heatmap_size}"
            )
        self.sigma, self.inout, self.size = float(sigma), float(inout), int(heatmap_size)

    def predict_gaze(self, image: np.ndarray, head_box: Sequence[float]) -> GazeMap:
        img, hb = _check(image, head_box)
        h, w = img.shape[:2]
        gx, gy = _grid(w, h, self.size)
        heat = np.exp(-0.5 * (((gx / w - 0.5) / self.sigma) ** 2 + ((gy / h - 0.5) / self.sigma) ** 2))
        heat = (heat / heat.max()).astype(np.float32)
        return GazeMap(heat, (w / 2.0, h / 2.0), self.inout, hb, meta={"model": "center-gaze"})


def estimate_head_direction(image: np.ndarray, head_box: Sequence[float]) -> tuple[tuple[float, float], float]:
    """A crude image-plane facing direction from the pixels in the head box: ``((dx, dy) unit, confidence)``.

    The cue is face/hair asymmetry: skin-coloured pixels (YCrCb skin range, Cr 133-173, Cb 77-127) sit
    on the side of the head the person faces, hair on the other. The horizontal offset of the skin
    centroid from the box centre (in half-widths) gives the horizontal component; the vertical component
    is a slight downward tilt (people mostly look at things below eye level). The estimate is blended with
    the direction towards the image centre, which dominates when the face is frontal (no asymmetry) or no
    skin is visible. ``confidence`` in [0, 1] is the asymmetry strength.
    """
    img, (x1, y1, x2, y2) = _check(image, head_box)
    h, w = img.shape[:2]
    hx, hy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    to_c = np.array([w / 2.0 - hx, h / 2.0 - hy])
    n = float(np.linalg.norm(to_c))
    to_c = to_c / n if n > 1e-6 else np.array([0.0, 1.0])
    ix1, iy1 = int(np.clip(np.floor(x1), 0, w - 1)), int(np.clip(np.floor(y1), 0, h - 1))
    ix2, iy2 = int(np.clip(np.ceil(x2), ix1 + 1, w)), int(np.clip(np.ceil(y2), iy1 + 1, h))
    crop = img[iy1:iy2, ix1:ix2]
    ycc = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2YCrCb)
    skin = (ycc[..., 1] >= 133) & (ycc[..., 1] <= 173) & (ycc[..., 2] >= 77) & (ycc[..., 2] <= 127)
    conf, face = 0.0, np.zeros(2)
    if skin.mean() >= 0.05:
        cols = np.nonzero(skin)[1] + ix1 + 0.5
        ox = (float(cols.mean()) - hx) / max((x2 - x1) / 2.0, 1e-6)
        conf = float(np.clip(abs(ox) / 0.4, 0.0, 1.0))
        face = np.array([np.sign(ox), 0.35])
        face /= np.linalg.norm(face)
    d = conf * face + (1.0 - conf) * to_c
    nd = float(np.linalg.norm(d))
    d = d / nd if nd > 1e-6 else to_c
    return (float(d[0]), float(d[1])), conf


class HeadDirectionCone(GazePredictor):
    """A cone of gaze from the head centre along its facing direction, times a distance prior.

    ``heat(p) = exp(-angle(p - head, d)^2 / (2 * cone_sigma^2)) * exp(-(r - r0)^2 / (2 * s^2))``, with
    ``r = |p - head|``, ``r0 = distance * diagonal``, ``s = 0.5 * r0``, and the head itself suppressed.

    Args:
        cone_sigma_deg: angular standard deviation of the cone (degrees).
        distance: typical gaze distance as a fraction of the image diagonal.
        direction: fixed image-plane facing direction ``(dx, dy)`` (y down); None = estimate per image.
        heatmap_size: side of the square output map.
    """

    def __init__(
        self,
        cone_sigma_deg: float = 25.0,
        distance: float = 0.3,
        direction: Sequence[float] | None = None,
        heatmap_size: int = 64,
    ) -> None:
        if cone_sigma_deg <= 0 or distance <= 0 or heatmap_size < 2:
            raise ConfigError("need cone_sigma_deg > 0, distance > 0 and heatmap_size >= 2")
        self.sigma = np.deg2rad(float(cone_sigma_deg))
        self.distance, self.size = float(distance), int(heatmap_size)
        self.direction = None if direction is None else self._unit(direction)

    @staticmethod
    def _unit(v: Sequence[float]) -> tuple[float, float]:
        a = np.asarray(v, dtype=float)
        n = float(np.linalg.norm(a)) if a.shape == (2,) and np.all(np.isfinite(a)) else 0.0
        if n < 1e-9:
            raise ConfigError(f"direction must be a non-zero (dx, dy) vector, got {v}")
        return float(a[0] / n), float(a[1] / n)

    def predict_gaze(
        self, image: np.ndarray, head_box: Sequence[float], direction: Sequence[float] | None = None
    ) -> GazeMap:
        img, hb = _check(image, head_box)
        h, w = img.shape[:2]
        if direction is not None:
            d, conf, source = self._unit(direction), 1.0, "given"
        elif self.direction is not None:
            d, conf, source = self.direction, 1.0, "given"
        else:
            d, conf = estimate_head_direction(img, hb)
            source = "estimated"
        hx, hy = (hb[0] + hb[2]) / 2.0, (hb[1] + hb[3]) / 2.0
        gx, gy = _grid(w, h, self.size)
        vx, vy = gx - hx, gy - hy
        r = np.hypot(vx, vy)
        cosang = (vx * d[0] + vy * d[1]) / np.maximum(r, 1e-6)
        ang = np.arccos(np.clip(cosang, -1.0, 1.0))
        r0 = self.distance * float(np.hypot(w, h))
        heat = np.exp(-0.5 * (ang / self.sigma) ** 2) * np.exp(-0.5 * ((r - r0) / (0.5 * r0)) ** 2)
        head_r = max(hb[2] - hb[0], hb[3] - hb[1]) / 2.0
        heat *= 1.0 - np.exp(-0.5 * (r / max(head_r, 1.0)) ** 2)
        if heat.max() <= 0:
            heat = np.ones_like(heat)
        heat = (heat / heat.max()).astype(np.float32)
        # in-frame probability: how far the gaze ray runs inside the image, relative to the typical distance
        t_exit = np.inf
        for p, dv, lim in ((hx, d[0], w), (hy, d[1], h)):
            if dv > 1e-9:
                t_exit = min(t_exit, (lim - p) / dv)
            elif dv < -1e-9:
                t_exit = min(t_exit, -p / dv)
        inout = float(np.clip(0.05 + 0.9 * max(t_exit, 0.0) / r0, 0.05, 0.95))
        return GazeMap(
            heat,
            _argmax_point(heat, w, h),
            inout,
            hb,
            meta={"model": "head-cone", "direction": d, "direction_source": source, "direction_confidence": conf},
        )
