"""Head boxes from the Haar cascades that ship inside opencv-python (no downloads).

Frontal and profile face cascades (the profile cascade finds faces turned to one side, so it also runs on
the mirrored image). A face box covers brows to chin; the head box enlarges it (more upwards, for the
hair) the way GazeFollow head boxes frame heads. Overlapping detections are merged by non-maximum
suppression.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import cv2
import numpy as np

from gazekit.errors import ConfigError, GazekitError

__all__ = ["HeadNotFoundError", "detect_faces", "detect_heads", "face_to_head_box"]

_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")


class HeadNotFoundError(GazekitError):
    """No face/head was found in an image."""


@cache
def _cascade(name: str) -> Any:

    path = cv2.data.haarcascades + name
    c = cv2.CascadeClassifier(path)
    if c.empty():  # pragma: no cover - broken opencv install
        raise GazekitError(f"OpenCV cascade {path} could not be loaded (is opencv-python complete?)")
    return c


def _gray(image: np.ndarray) -> np.ndarray:

    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    elif img.ndim != 2:
        raise ConfigError(f"image must be [H, W], [H, W, 3] or [H, W, 4], got shape {img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.size and float(img.max()) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return img


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            xx1, yy1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            xx2, yy2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(xx2 - xx1, 0) * max(yy2 - yy1, 0)
            a_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            a_j = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
            small = min(a_i, a_j)
            # drop boxes that overlap a kept one, or that mostly sit inside it (a face inside a larger face box)
            if inter / max(a_i + a_j - inter, 1e-9) <= iou and inter / max(small, 1e-9) <= 0.6:
                rest.append(j)
        order = rest
    return keep


def detect_faces(image: np.ndarray, min_size: int = 20) -> list[tuple[float, float, float, float]]:
    """Face boxes ``(x1, y1, x2, y2)`` px in ``image`` (RGB ``[H, W, 3]`` or gray), largest first."""

    gray = _gray(image)
    h, w = gray.shape
    ms = (max(int(min_size), 8),) * 2
    found: list[tuple[float, float, float, float]] = []
    for name in _CASCADES:
        casc = _cascade(name)
        views = [(gray, False)] + ([(np.ascontiguousarray(gray[:, ::-1]), True)] if "profile" in name else [])
        for img, mirrored in views:
            rects = casc.detectMultiScale(img, scaleFactor=1.05, minNeighbors=3, minSize=ms)
            for x, y, bw, bh in np.asarray(rects, dtype=float).reshape(-1, 4):
                if mirrored:
                    x = w - x - bw
                found.append((x, y, x + bw, y + bh))
    if not found:
        return []
    b = np.array(found)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = _nms(b, area, 0.3)
    return [tuple(float(v) for v in b[i]) for i in keep]


def face_to_head_box(face: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    """Enlarge a Haar face box to a head box (×1.4 wide, ×1.5 high with most of the growth upwards), clipped."""
    x1, y1, x2, y2 = face
    fw, fh = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2
    hx1, hx2 = cx - 0.7 * fw, cx + 0.7 * fw
    hy1, hy2 = y1 - 0.35 * fh, y2 + 0.15 * fh
    return (max(hx1, 0.0), max(hy1, 0.0), min(hx2, float(width)), min(hy2, float(height)))


def detect_heads(image: np.ndarray, min_size: int = 20) -> list[tuple[float, float, float, float]]:
    """Head boxes ``(x1, y1, x2, y2)`` px, one per detected face (largest first).

    Raises:
        HeadNotFoundError: when no face is found (with what to do instead).
    """
    img = np.asarray(image)
    faces = detect_faces(img, min_size)
    if not faces:
        raise HeadNotFoundError(
            f"no face or head found in the {img.shape[1] if img.ndim > 1 else '?'}x{img.shape[0]} image "
            "(OpenCV Haar cascades find frontal and profile faces of at least "
            f"{min_size} px); pass the head box explicitly, e.g. predict_gaze(image, (x1, y1, x2, y2))"
        )
    h, w = img.shape[:2]
    return [face_to_head_box(f, w, h) for f in faces]  # type: ignore[misc]
