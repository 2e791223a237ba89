"""Head boxes for gaze following: OpenCV's YuNet face detector when its model file is here, else verified
Haar cascades from opencv-python (no downloads).

**YuNet** (``cv2.FaceDetectorYN``, Wu et al., 2023; OpenCV Zoo, MIT licence) is a small CNN face detector.
Its ONNX file is fetched with ``gazekit download yunet`` (URL and sha256 in :data:`YUNET`) and found in
``$GAZEKIT_WEIGHTS_DIR`` (``face_detection_yunet_2023mar.onnx`` or ``yunet/…``) or ``./data/yunet/``.

**Haar fallback.** Candidates come from three cascades that ship inside opencv-python: frontal
(``default`` and ``alt2``) and profile (on the image and its mirror, for faces turned either way). A
candidate is kept only when it is *verified*: another cascade found an overlapping face (IoU > 0.4; for the
profile cascade a second, separate profile detection counts), or the eye cascade finds an eye in its upper
60 %. Boxes outside the size limits (at least ``min_size`` px and 3 % of the short image side, at most 90 %
of it) are dropped, and overlapping faces are merged by non-maximum suppression (IoU 0.3, or 60 % of the
smaller box inside the larger). On 26 photos of scikit-image's data folder (1 frontal face, 1 face half
hidden by a camera, 24 without faces) this cuts false faces from 34 to 0 and keeps both faces
(``benchmarks/heads.py``, figures in ``benchmarks/RESULTS.md``).

A face box covers brows to chin; :func:`face_to_head_box` enlarges it (more upwards, for the hair) the way
GazeFollow head boxes frame heads.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazekit.errors import ConfigError, GazekitError, WeightsNotFoundError
from gazekit.objects import nms

__all__ = [
    "YUNET",
    "HeadNotFoundError",
    "detect_faces",
    "detect_heads",
    "face_detector_label",
    "face_to_head_box",
    "find_yunet",
]

_FRONTAL = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
_PROFILE = "haarcascade_profileface.xml"
_EYES = ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml")

#: OpenCV Zoo's YuNet (2023mar). The sha256 and size are those published for the file in OpenCV Zoo
#: manifests; ``gazekit download yunet`` checks them.
YUNET: dict[str, Any] = {
    "filename": "face_detection_yunet_2023mar.onnx",
    "url": "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
    "sha256": "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    "size": 232589,
    "homepage": "https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet",
    "description": "YuNet face detector for cv2.FaceDetectorYN (OpenCV Zoo, MIT)",
}


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


# --------------------------------------------------------------------------------------------- YuNet
def find_yunet(path: str | os.PathLike | None = None) -> Path | None:
    """The YuNet ONNX file: ``path``, else ``$GAZEKIT_WEIGHTS_DIR`` (flat or ``yunet/``), else ``./data/yunet/``."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"YuNet model {p} does not exist (fetch it: gazekit download yunet)")
        return p
    name = YUNET["filename"]
    roots = [Path(v).expanduser() for v in (os.environ.get("GAZEKIT_WEIGHTS_DIR"), "data") if v]
    for r in roots:
        for c in (r / name, r / "yunet" / name):
            if c.is_file():
                return c
    return None


@cache
def _yunet(path: str) -> Any:
    import cv2

    try:
        return cv2.FaceDetectorYN.create(path, "", (320, 320), 0.8, 0.3, 100)
    except cv2.error as e:
        raise WeightsNotFoundError(
            f"{path}: OpenCV could not read this YuNet model ({str(e).strip().splitlines()[-1][:160]}); "
            "fetch it again with `gazekit download yunet --force`"
        ) from None


def _yunet_faces(image: np.ndarray, model: Path) -> np.ndarray:
    """``[K, 5]`` (x1, y1, x2, y2, score) from YuNet."""
    import cv2

    img = np.asarray(image)
    bgr = (
        cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2BGR)
        if img.ndim == 3
        else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    )
    det = _yunet(str(model))
    det.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, faces = det.detect(bgr)
    if faces is None:
        return np.zeros((0, 5))
    f = np.asarray(faces, dtype=float).reshape(-1, 15)
    return np.stack([f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3], f[:, 14]], axis=1)


# --------------------------------------------------------------------------------------------- Haar
def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box ``a`` with ``[K, 4]`` boxes ``b``."""
    iw = np.maximum(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0)
    ih = np.maximum(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0)
    inter = iw * ih
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(area, 1e-9)


def _haar(gray: np.ndarray, name: str, min_px: int, max_px: int, mirrored: bool = False) -> np.ndarray:
    img = np.ascontiguousarray(gray[:, ::-1]) if mirrored else gray
    rects = _cascade(name).detectMultiScale(
        img, scaleFactor=1.1, minNeighbors=3, minSize=(min_px, min_px), maxSize=(max_px, max_px)
    )
    r = np.asarray(rects, dtype=float).reshape(-1, 4)
    if mirrored and len(r):
        r[:, 0] = gray.shape[1] - r[:, 0] - r[:, 2]
    return np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], axis=1) if len(r) else np.zeros((0, 4))


def _has_eye(gray: np.ndarray, box: np.ndarray) -> bool:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    w = x2 - x1
    roi = gray[max(y1, 0) : y1 + int(0.6 * (y2 - y1)), max(x1, 0) : x2]
    if roi.size == 0 or w < 20:
        return False
    lo, hi = max(4, w // 10), max(5, w // 2)
    return any(len(_cascade(n).detectMultiScale(roi, 1.1, 3, minSize=(lo, lo), maxSize=(hi, hi))) for n in _EYES)


def _haar_faces(gray: np.ndarray, min_px: int, max_px: int) -> np.ndarray:
    """Verified Haar faces ``[K, 5]`` (x1, y1, x2, y2, votes)."""
    sets = {name: _haar(gray, name, min_px, max_px) for name in _FRONTAL}
    sets[_PROFILE] = np.concatenate(
        [_haar(gray, _PROFILE, min_px, max_px), _haar(gray, _PROFILE, min_px, max_px, mirrored=True)]
    )
    kept = []
    for name, boxes in sets.items():
        for b in boxes:
            votes = sum(int(len(o) > 0 and bool((_iou(b, o) > 0.4).any())) for n, o in sets.items() if n != name)
            if name == _PROFILE:  # a second, separate profile detection over the same face
                votes += int((_iou(b, boxes) > 0.4).sum() >= 2)
            if votes >= 1 or _has_eye(gray, b):
                kept.append([*b, float(votes)])
    return np.array(kept, dtype=float).reshape(-1, 5)


# --------------------------------------------------------------------------------------------- API
def face_detector_label(yunet: str | os.PathLike | None = None) -> str:
    """Which face detector :func:`detect_faces` uses here (for captions and notes)."""
    found = find_yunet(yunet)
    if found is not None:
        return f"YuNet face detector ({found.name})"
    return "OpenCV Haar cascades, verified (no YuNet model here: `gazekit download yunet`)"


def detect_faces(
    image: np.ndarray, min_size: int = 20, *, yunet: str | os.PathLike | None = None
) -> list[tuple[float, float, float, float]]:
    """Face boxes ``(x1, y1, x2, y2)`` px in ``image`` (RGB ``[H, W, 3]`` or gray), largest first.

    Args:
        image: the photo.
        min_size: smallest face side in px (also at least 3 % of the short image side).
        yunet: a YuNet ONNX file to use (default: :func:`find_yunet`; Haar cascades when there is none).
    """
    img = np.asarray(image)
    gray = _gray(img)
    h, w = gray.shape
    short = min(h, w)
    min_px = max(int(min_size), 8, int(0.03 * short))
    max_px = max(min_px + 1, int(0.9 * short))
    model = find_yunet(yunet)
    if model is not None:
        found = _yunet_faces(img if img.ndim == 3 else gray, model)
    else:
        found = _haar_faces(gray, min_px, max_px)
    if not len(found):
        return []
    side = np.minimum(found[:, 2] - found[:, 0], found[:, 3] - found[:, 1])
    found = found[(side >= min_px) & (side <= max_px)]
    area = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
    keep = nms(found[:, :4], area, 0.3, contain=0.6)
    return [tuple(float(v) for v in found[i, :4]) for i in keep]  # type: ignore[misc]


def face_to_head_box(face: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    """Enlarge a face box to a head box (×1.4 wide, ×1.5 high with most of the growth upwards), clipped."""
    x1, y1, x2, y2 = face
    fw, fh = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2
    hx1, hx2 = cx - 0.7 * fw, cx + 0.7 * fw
    hy1, hy2 = y1 - 0.35 * fh, y2 + 0.15 * fh
    return (max(hx1, 0.0), max(hy1, 0.0), min(hx2, float(width)), min(hy2, float(height)))


def detect_heads(
    image: np.ndarray, min_size: int = 20, *, yunet: str | os.PathLike | None = None
) -> list[tuple[float, float, float, float]]:
    """Head boxes ``(x1, y1, x2, y2)`` px, one per detected face (largest first; the order of the ``#k``
    labels and colours of :func:`gazekit.viz.draw_people`).

    Raises:
        HeadNotFoundError: when no face is found (with what to do instead).
    """
    img = np.asarray(image)
    faces = detect_faces(img, min_size, yunet=yunet)
    if not faces:
        raise HeadNotFoundError(
            f"no face or head found in the {img.shape[1] if img.ndim > 1 else '?'}x{img.shape[0]} image "
            f"({face_detector_label(yunet)}; faces of at least {min_size} px); pass the head box explicitly, "
            "e.g. predict_gaze(image, (x1, y1, x2, y2))"
        )
    h, w = img.shape[:2]
    return [face_to_head_box(f, w, h) for f in faces]  # type: ignore[misc]
