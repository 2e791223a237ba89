"""Objects on a user's photo for object-level models (OAT) and category cues (greedy search).

Where the objects come from, in this order (:func:`objects_for_image`):

1. **a boxes file the user gives** (``gazekit infer --objects FILE``, an upload in the viewer), read by
   :func:`read_boxes`: a COCO-Search18 detections CSV (``<task>.csv``: image name + a Python-literal list of
   ``[class, confidence %, x_max, x_min, y_max, y_min]`` in 1680x1050 display px, mapped into the image as the
   display showed it, letterboxed), a COCO-style JSON (``images``/``annotations``/``categories``, or a list of
   COCO results ``{image_id|file_name, bbox, category_id|category, score}``; boxes ``[x, y, w, h]`` in image
   px), or gazekit's own format (:func:`write_boxes_json`; also the synthetic world's ``objects.json``, and a
   CSV with columns ``[image,] x, y, w, h[, category][, confidence]``);
2. **an open-vocabulary detector with published weights** when they are on this machine
   (:data:`DETECTORS`: OWLv2 / OWL-ViT through ``transformers``; found in ``$GAZEKIT_WEIGHTS_DIR/<name>/``,
   the folder ``gazekit download <name>`` fills, or the Hugging Face cache; never downloaded here). It is
   queried with the 80 COCO categories plus the target category, so its objects carry categories and scores;
3. otherwise **a zero-download OpenCV proposer** (:func:`propose_objects`): class-agnostic boxes from a
   spectral-residual saliency map (Hou & Zhang, CVPR 2007) and edge contours, built from opencv-python's
   core modules (the wheel has neither the ``saliency`` nor the ``ximgproc`` contrib modules, so no
   selective search or EdgeBoxes). Its objects have no categories: a category cannot be used with them,
   and every output says so (:attr:`ObjectSet.label`, :attr:`ObjectSet.categorised`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from gazekit.atomic import atomic_write_text
from gazekit.errors import DataFormatError, WeightsNotFoundError
from gazekit.types import Frame, FrameTransform, ObjectBox

__all__ = [
    "COCO_CATEGORIES",
    "DETECTORS",
    "ObjectSet",
    "OpenVocabularyDetector",
    "find_detector",
    "nms",
    "objects_for_image",
    "propose_objects",
    "read_boxes",
    "target_exemplar",
    "write_boxes_json",
]

#: the 80 COCO categories (the detector's default vocabulary; COCO-Search18 targets are among them)
COCO_CATEGORIES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

_HF = "https://huggingface.co"

#: the files of an OWL detector's Hugging Face repository that transformers reads (weights, processor, tokenizer)
_OWL_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)

#: open-vocabulary detectors with published weights (Hugging Face repositories, transformers layout)
DETECTORS: dict[str, dict[str, Any]] = {
    "owlv2": {
        "repo_id": "google/owlv2-base-patch16-ensemble",
        "files": _OWL_FILES,
        "description": "OWLv2 ViT-B/16 open-vocabulary detector (Minderer et al., NeurIPS 2023; Apache-2.0)",
    },
    "owlvit": {
        "repo_id": "google/owlvit-base-patch32",
        "files": _OWL_FILES,
        "description": "OWL-ViT ViT-B/32 open-vocabulary detector (Minderer et al., ECCV 2022; Apache-2.0)",
    },
}

Source = Literal["user", "detector", "proposer"]


@dataclass
class ObjectSet:
    """Objects of one image and where they came from.

    Attributes:
        objects: boxes in the image's pixels (``ObjectBox.xywh``), best first for detector/proposer objects.
        source: ``user`` (a boxes file), ``detector`` (published weights) or ``proposer`` (OpenCV, no download).
        label: one line for every output (CLI notes, overlay, viewer caption).
        categorised: whether the objects carry real categories (False for the proposer: a target category
            cannot be matched against them).
        notes: further lines for the user (e.g. how display-frame boxes were mapped).
    """

    objects: list[ObjectBox]
    source: Source
    label: str
    categorised: bool
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- boxes files
def _canonical(name: str) -> str:
    from gazekit.datasets.object_level import canonical_category

    return canonical_category(name)


def _name_matches(candidate: str, image_name: str | None) -> bool:
    if image_name is None:
        return True
    a, b = Path(str(candidate).replace("\\", "/")).name.lower(), Path(image_name).name.lower()
    return a == b or Path(a).stem == Path(b).stem


def _box(vals: Sequence[Any], *, path: str, where: str) -> tuple[float, float, float, float]:
    try:
        x, y, w, h = (float(v) for v in vals)
    except (TypeError, ValueError):
        raise DataFormatError(f"{where}: bbox must be 4 numbers [x, y, w, h], got {vals!r}"[:200], path=path) from None
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise DataFormatError(f"{where}: bbox must be finite with w, h > 0, got {[x, y, w, h]}", path=path)
    return x, y, w, h


def _conf(v: Any, *, path: str, where: str) -> float:
    if v is None:
        return 1.0
    try:
        c = float(v)
    except (TypeError, ValueError):
        raise DataFormatError(f"{where}: confidence must be a number, got {v!r}"[:200], path=path) from None
    if not math.isfinite(c) or c < 0:
        raise DataFormatError(f"{where}: confidence must be >= 0, got {v!r}", path=path)
    return c / 100.0 if c > 1.0 else c  # percentages (COCO-Search18 style) or [0, 1]


def _from_gazekit_json(obj: dict, path: str, image_name: str | None) -> tuple[list[ObjectBox], Frame | None]:
    images = obj.get("images")
    if not isinstance(images, list):
        images = [obj]
    for k, im in enumerate(images):
        if not isinstance(im, dict):
            raise DataFormatError(f"images[{k}] must be an object", path=path)
        if len(images) > 1 and not _name_matches(str(im.get("name", "")), image_name):
            continue
        items = im.get("objects")
        if not isinstance(items, list):
            raise DataFormatError(f"images[{k}].objects must be a list", path=path)
        out = []
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                raise DataFormatError(f"objects[{i}] must be an object with bbox", path=path)
            where = f"objects[{i}]"
            out.append(
                ObjectBox(
                    *_box(it.get("bbox", it.get("box")), path=path, where=where),
                    category=_canonical(str(it.get("category") or "object")),
                    confidence=_conf(it.get("confidence", it.get("score")), path=path, where=where),
                    attributes={"source": "user"},
                )
            )
        w, h = im.get("width"), im.get("height")
        frame = Frame(float(w), float(h)) if isinstance(w, int | float) and isinstance(h, int | float) else None
        return out, frame
    raise DataFormatError(f"no entry for image {image_name!r} in the boxes file", path=path)


def _from_coco_json(obj: Any, path: str, image_name: str | None) -> list[ObjectBox]:
    if isinstance(obj, dict):
        cats = {c.get("id"): str(c.get("name")) for c in obj.get("categories") or [] if isinstance(c, dict)}
        imgs = [im for im in obj.get("images") or [] if isinstance(im, dict)]
        ids = {im.get("id") for im in imgs if _name_matches(str(im.get("file_name", "")), image_name)}
        if image_name is not None and not ids and len(imgs) != 1:
            names = ", ".join(str(im.get("file_name")) for im in imgs[:5])
            raise DataFormatError(f"no image named {image_name!r} in the COCO file (it has {names}...)", path=path)
        if not ids and len(imgs) == 1:
            ids = {imgs[0].get("id")}
        anns = [a for a in obj.get("annotations") or [] if isinstance(a, dict) and a.get("image_id") in ids]
    else:
        cats = {}
        anns = [
            a
            for a in obj
            if isinstance(a, dict) and _name_matches(str(a.get("file_name", a.get("image", image_name))), image_name)
        ]
    out = []
    for i, a in enumerate(anns):
        where = f"annotation {i}"
        cat = a.get("category")
        if cat is None:
            cat = cats.get(a.get("category_id"), "object" if a.get("category_id") is None else str(a["category_id"]))
        out.append(
            ObjectBox(
                *_box(a.get("bbox"), path=path, where=where),
                category=_canonical(str(cat)),
                confidence=_conf(a.get("score"), path=path, where=where),
                attributes={"source": "user"},
            )
        )
    return out


def _from_csv(text: str, path: str, image_name: str | None) -> tuple[list[ObjectBox], bool]:
    """gazekit boxes CSV (header with x, y, w, h) -> (objects, True); COCO-Search18 CSV -> (objects, False)."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    header = [c.strip().lower() for c in next(csv.reader([first]))] if first else []
    if {"x", "y", "w", "h"} <= set(header):
        out = []
        for i, row in enumerate(csv.DictReader(io.StringIO(text.lstrip()))):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if "image" in row and row["image"] and not _name_matches(row["image"], image_name):
                continue
            where = f"line {i + 2}"
            out.append(
                ObjectBox(
                    *_box([row["x"], row["y"], row["w"], row["h"]], path=path, where=where),
                    category=_canonical(row.get("category") or "object"),
                    confidence=_conf(row.get("confidence") or None, path=path, where=where),
                    attributes={"source": "user"},
                )
            )
        return out, True
    from gazekit.datasets.object_level import parse_detection_text, task_from_detection_file

    dets = parse_detection_text(text, path, _canonical(task_from_detection_file(path)), {})
    hits = [boxes for (img, _), boxes in dets.items() if _name_matches(img, image_name)]
    if not hits:
        some = ", ".join(sorted({img for img, _ in dets})[:5])
        raise DataFormatError(f"no detections for image {image_name!r} in this file (it lists {some}...)", path=path)
    return [o for boxes in hits for o in boxes], False


def read_boxes(
    source: str | os.PathLike | bytes,
    name: str | None = None,
    *,
    image_name: str | None = None,
    image_size: tuple[int, int] | None = None,
) -> tuple[list[ObjectBox], list[str]]:
    """Objects of one image from a boxes file (formats in the module docstring).

    Args:
        source: a path, or the bytes of an upload (then ``name`` gives its file name and format).
        image_name: the image whose boxes to take (files may list many; matched by name, then stem).
        image_size: ``(width, height)`` of the image: COCO-Search18 display-frame boxes (1680x1050) are
            mapped into it as the display showed the image (letterboxed), and every box is clipped to it.

    Returns:
        ``(objects, notes)``; notes say how boxes were mapped.

    Raises:
        DataFormatError: unreadable file, unknown format, or no boxes for ``image_name`` (naming the file).
    """
    if isinstance(source, bytes):
        path, raw = str(name or "<upload>"), source
    else:
        path = str(source)
        try:
            raw = Path(source).read_bytes()
        except OSError as e:
            raise DataFormatError(f"cannot read the boxes file ({e.strerror})", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataFormatError("boxes file is not UTF-8 text", path=path) from None
    notes: list[str] = []
    frame: Frame | None = None
    if path.lower().endswith(".json") or text.lstrip()[:1] in ("{", "["):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"invalid JSON ({e.msg})", path=path, line=e.lineno) from None
        if isinstance(obj, dict) and ("objects" in obj or str(obj.get("format", "")).startswith("gazekit")):
            objects, frame = _from_gazekit_json(obj, path, image_name)
        elif isinstance(obj, dict | list):
            objects = _from_coco_json(obj, path, image_name)
        else:
            raise DataFormatError("expected a COCO-style or gazekit boxes JSON", path=path)
    elif path.lower().endswith((".csv", ".txt")) or "," in text[:200]:
        objects, own = _from_csv(text, path, image_name)
        if not own:
            from gazekit.datasets.coco_search18 import DISPLAY_HEIGHT, DISPLAY_WIDTH

            frame = Frame(DISPLAY_WIDTH, DISPLAY_HEIGHT)
    else:
        raise DataFormatError("unknown boxes format; expected .json (COCO / gazekit) or .csv", path=path)
    if not objects:
        raise DataFormatError(f"no boxes for image {image_name!r}", path=path)
    if image_size is not None:
        img = Frame(*image_size)
        if frame is not None and (abs(frame.width - img.width) > 0.5 or abs(frame.height - img.height) > 0.5):
            tf = FrameTransform.letterbox(img, frame).inverse()
            objects = [
                ObjectBox(*tf.box_xywh(o.xywh), category=o.category, confidence=o.confidence, attributes=o.attributes)
                for o in objects
            ]
            notes.append(
                f"boxes given on a {frame.width:g}x{frame.height:g} display were mapped into the "
                f"{img.width:g}x{img.height:g} image (shown letterboxed, as COCO-Search18 shows its images)"
            )
        objects = _clip(objects, img.width, img.height)
        if not objects:
            raise DataFormatError(f"every box lies outside the {img.width:g}x{img.height:g} image", path=path)
    return objects, notes


def _clip(objects: list[ObjectBox], w: float, h: float) -> list[ObjectBox]:
    out = []
    for o in objects:
        x1, y1 = min(max(o.x, 0.0), w), min(max(o.y, 0.0), h)
        x2, y2 = min(max(o.x + o.w, 0.0), w), min(max(o.y + o.h, 0.0), h)
        if x2 - x1 >= 1 and y2 - y1 >= 1:
            out.append(ObjectBox(x1, y1, x2 - x1, y2 - y1, o.category, o.confidence, dict(o.attributes)))
    return out


def write_boxes_json(
    path: str | os.PathLike, image_name: str, image_size: tuple[int, int], objects: Sequence[ObjectBox], source: str
) -> None:
    """Write gazekit's boxes format (readable by :func:`read_boxes` and ``--objects``)."""
    doc = {
        "format": "gazekit-objects/1",
        "images": [
            {
                "name": image_name,
                "width": int(image_size[0]),
                "height": int(image_size[1]),
                "source": source,
                "objects": [
                    {
                        "bbox": [round(v, 2) for v in o.xywh],
                        "category": o.category,
                        "confidence": round(o.confidence, 4),
                    }
                    for o in objects
                ],
            }
        ],
    }
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


# --------------------------------------------------------------------------------------------- NMS
def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5, contain: float | None = None) -> list[int]:
    """Greedy non-maximum suppression over ``[K, 4]`` ``(x1, y1, x2, y2)`` boxes; indices kept, best first.

    A box is dropped when its IoU with a kept box exceeds ``iou``, or (``contain`` set) when more than
    ``contain`` of the smaller box's area lies inside the kept one.
    """
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    area = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), 0)
        ih = np.maximum(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), 0)
        inter = iw * ih
        ok = inter / np.maximum(area[i] + area[rest] - inter, 1e-9) <= iou
        if contain is not None:
            ok &= inter / np.maximum(np.minimum(area[i], area[rest]), 1e-9) <= contain
        order = rest[ok]
    return keep


# --------------------------------------------------------------------------------------------- proposer
def _spectral_residual(gray: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) of a gray image, ``[H, W]`` in [0, 1]."""
    h, w = gray.shape
    sw = 64
    sh = max(8, round(sw * h / w))
    small = cv2.resize(gray.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-8)
    residual = log_amp - cv2.blur(log_amp.astype(np.float32), (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), 2.5)
    sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(sal.min()), float(sal.max())
    return (sal - lo) / (hi - lo) if hi > lo else np.zeros_like(sal)


def propose_objects(
    image: np.ndarray, max_objects: int = 30, min_area: float = 0.002, max_area: float = 0.5
) -> list[ObjectBox]:
    """Class-agnostic object boxes from OpenCV alone (no download), best first.

    Candidates: connected regions of the spectral-residual saliency map above its 80th/90th/95th percentile
    (each also shrunk to the Canny edges inside it), and external contours of dilated Canny edges. Kept: area within ``[min_area, max_area]`` of the image,
    aspect ratio at most 6. Score: mean saliency inside the box over the mean saliency of a ring around
    it (a centre-surround contrast, squashed into (0, 1)), averaged with the share of the box's border that
    lies on edges (tight boxes sit on an outline). NMS at IoU 0.5 (and 90 % containment).

    Args:
        image: ``[H, W, 3]`` uint8 RGB (or gray ``[H, W]``).

    Returns:
        ``ObjectBox`` list in image px, category ``"object"`` (no categories), ``confidence`` = score,
        ``attributes["source"] = "opencv-proposer"``.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0:
        raise DataFormatError(f"image must be [H, W] or [H, W, 3], got shape {img.shape}")
    gray = img if img.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
    H, W = gray.shape
    scale = min(1.0, 400.0 / max(H, W))
    work = cv2.resize(gray, (max(1, round(W * scale)), max(1, round(H * scale))), interpolation=cv2.INTER_AREA)
    h, w = work.shape
    sal = _spectral_residual(work)
    cands: list[tuple[int, int, int, int]] = []
    kernel = np.ones((5, 5), np.uint8)
    for q in (80, 90, 95):
        mask = (sal >= np.percentile(sal, q)).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        cands += [tuple(int(v) for v in stats[i, :4]) for i in range(1, n)]
    edges = cv2.Canny(cv2.GaussianBlur(work, (5, 5), 1.2), 50, 150)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=2)
    # the blurred saliency map makes loose regions: shrink each to the edges inside it (the object's outline)
    tight = []
    for x, y, bw, bh in cands:
        ys, xs = np.nonzero(edges[y : y + bh, x : x + bw])
        if len(xs):
            tb = (x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min()) + 1, int(ys.max() - ys.min()) + 1)
            tight.append(tb if tb[2] * tb[3] >= 0.2 * bw * bh else (x, y, bw, bh))
    cands = tight + cands
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cands += [tuple(int(v) for v in cv2.boundingRect(c)) for c in contours]
    if not cands:
        return []
    b = np.array(cands, dtype=float)
    area = b[:, 2] * b[:, 3] / float(h * w)
    aspect = np.maximum(b[:, 2], 1) / np.maximum(b[:, 3], 1)
    ok = (area >= min_area) & (area <= max_area) & (aspect <= 6) & (aspect >= 1 / 6) & (b.min(1) >= 0)
    ok &= (b[:, 2] >= 6) & (b[:, 3] >= 6)
    b = b[ok]
    if not len(b):
        return []
    integral = cv2.integral(sal.astype(np.float64))

    def mean(
        x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, table: np.ndarray = integral
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sum, area) of ``table``'s image over boxes, clipped to the image."""
        x1, x2 = np.clip(x1, 0, w).astype(int), np.clip(x2, 0, w).astype(int)
        y1, y2 = np.clip(y1, 0, h).astype(int), np.clip(y2, 0, h).astype(int)
        s = table[y2, x2] - table[y1, x2] - table[y2, x1] + table[y1, x1]
        return s, np.maximum((x2 - x1) * (y2 - y1), 1)

    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    s_in, a_in = mean(x1, y1, x2, y2)
    pad_x, pad_y = 0.25 * b[:, 2] + 2, 0.25 * b[:, 3] + 2
    s_out, a_out = mean(x1 - pad_x, y1 - pad_y, x2 + pad_x, y2 + pad_y)
    inside = s_in / a_in
    ring = (s_out - s_in) / np.maximum(a_out - a_in, 1)
    contrast = inside / (inside + ring + 1e-6)  # (0, 1): 0.5 = no contrast with the surround
    # outline: the share of the box's 3-px border band on edges (tight boxes sit on the object's outline)
    e_int = cv2.integral((edges > 0).astype(np.float64))
    e_all, a_all = mean(x1, y1, x2, y2, e_int)
    e_in, a_in2 = mean(x1 + 3, y1 + 3, x2 - 3, y2 - 3, e_int)
    outline = (e_all - e_in) / np.maximum(a_all - a_in2, 1)
    score = 0.5 * contrast + 0.5 * outline
    xyxy = np.stack([x1, y1, x2, y2], 1)
    keep = nms(xyxy, score, 0.5, contain=0.9)[: int(max_objects)]
    inv = 1.0 / scale
    return [
        ObjectBox(
            float(b[i, 0] * inv),
            float(b[i, 1] * inv),
            float(min(b[i, 2] * inv, W - b[i, 0] * inv)),
            float(min(b[i, 3] * inv, H - b[i, 1] * inv)),
            category="object",
            confidence=float(score[i]),
            attributes={"source": "opencv-proposer"},
        )
        for i in keep
    ]


# --------------------------------------------------------------------------------------------- detector
def find_detector(name: str | None = None, path: str | os.PathLike | None = None) -> tuple[str, Path] | None:
    """``(name, folder)`` of an open-vocabulary detector on this machine, or None. Never downloads.

    Looks at ``path`` (a folder in the transformers layout), then for each of :data:`DETECTORS` (or only
    ``name``): ``$GAZEKIT_WEIGHTS_DIR/<name>/``, ``./data/<name>/`` (where ``gazekit download <name>`` puts
    it) and the Hugging Face cache.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not (p / "config.json").is_file():
            raise WeightsNotFoundError(f"{p}: not a detector folder (no config.json in the transformers layout)")
        return (name or p.name), p
    names = [name] if name else list(DETECTORS)
    roots = [Path(v).expanduser() for v in (os.environ.get("GAZEKIT_WEIGHTS_DIR"), "data") if v]
    for n in names:
        for r in roots:
            if (r / n / "config.json").is_file() and any((r / n).glob("*.safetensors")):
                return n, r / n
        try:  # imported here: huggingface_hub is only needed when a photo has no boxes
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(DETECTORS[n]["repo_id"], local_files_only=True))
        except Exception:  # not cached (LocalEntryNotFoundError), offline, or hub not installed
            continue
        if (folder / "config.json").is_file():
            return n, folder
    return None


class OpenVocabularyDetector:
    """An OWLv2 / OWL-ViT detector from a transformers folder, queried with category names.

    Args:
        folder: the model folder (``config.json``, weights, processor and tokenizer files).
        device: torch device.
    """

    def __init__(self, folder: str | os.PathLike, device: str = "cpu") -> None:
        import torch
        from transformers import AutoConfig, AutoModelForZeroShotObjectDetection, AutoProcessor

        self.folder = Path(folder)
        cfg = AutoConfig.from_pretrained(self.folder)
        if cfg.model_type not in ("owlv2", "owlvit"):
            raise WeightsNotFoundError(
                f"{self.folder}: model type {cfg.model_type!r} is not an OWLv2/OWL-ViT detector (gazekit reads those)"
            )
        self.kind = cfg.model_type
        self.processor = AutoProcessor.from_pretrained(self.folder)
        self.model = AutoModelForZeroShotObjectDetection.from_pretrained(self.folder).to(device).eval()
        self.device = torch.device(device)

    def scores(self, image: np.ndarray, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``([P, 4] boxes xyxy in image px, [P, Q] sigmoid scores)`` for the model's P box predictions."""
        import torch

        img = np.ascontiguousarray(np.asarray(image)[..., :3])
        h, w = img.shape[:2]
        # pad queries to the longest: OWL pools each query at its end token under a causal mask, so padding
        # after it changes nothing (the published processors pad to 16 tokens)
        inputs = self.processor(text=[list(queries)], images=img, padding=True, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model(**inputs)
        logits = out.logits[0].float().cpu().numpy()  # [P, Q]
        cx, cy, bw, bh = out.pred_boxes[0].float().cpu().numpy().T  # normalised centre, size
        # OWLv2 pads the image to a square (bottom/right) before resizing; OWL-ViT stretches it
        sx, sy = (max(w, h), max(w, h)) if self.kind == "owlv2" else (w, h)
        boxes = np.stack([(cx - bw / 2) * sx, (cy - bh / 2) * sy, (cx + bw / 2) * sx, (cy + bh / 2) * sy], 1)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return boxes, np.exp(-np.logaddexp(0.0, -logits))  # sigmoid without overflow

    def detect(
        self, image: np.ndarray, queries: Sequence[str], threshold: float = 0.1, max_objects: int = 40
    ) -> list[ObjectBox]:
        """Objects whose best query scores at least ``threshold`` (NMS at IoU 0.5), best first.

        ``attributes["scores"]`` holds every query's score (the category cue of a search), ``category`` the
        best query, ``confidence`` its score.
        """
        boxes, sc = self.scores(image, queries)
        best = sc.max(1)
        sel = np.flatnonzero((best >= threshold) & (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1))
        keep = [int(sel[i]) for i in nms(boxes[sel], best[sel], 0.5)][: int(max_objects)]
        return [
            ObjectBox(
                float(boxes[i, 0]),
                float(boxes[i, 1]),
                float(boxes[i, 2] - boxes[i, 0]),
                float(boxes[i, 3] - boxes[i, 1]),
                category=str(queries[int(sc[i].argmax())]),
                confidence=float(best[i]),
                attributes={"source": "detector", "scores": dict(zip(queries, sc[i].round(4).tolist(), strict=True))},
            )
            for i in keep
        ]


# --------------------------------------------------------------------------------------------- entry point
def objects_for_image(
    image: np.ndarray,
    image_name: str,
    *,
    boxes: str | os.PathLike | bytes | None = None,
    boxes_name: str | None = None,
    detector: str | None = "auto",
    target_category: str | None = None,
    device: str = "cpu",
    max_objects: int = 40,
    threshold: float = 0.1,
) -> ObjectSet:
    """Objects of a user's photo: the user's boxes, else a detector with published weights, else the proposer.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        image_name: its file name (picks its rows in a boxes file that lists many images).
        boxes: a boxes file (path or upload bytes with ``boxes_name``), or None.
        detector: ``"auto"`` (any of :data:`DETECTORS` found on this machine), a name of one, a folder, or
            None (go straight to the proposer).
        target_category: added to the detector's queries (the 80 COCO categories) when not among them.

    Returns:
        :class:`ObjectSet` with the source and a label every output shows.
    """
    h, w = np.asarray(image).shape[:2]
    if boxes is not None:
        objs, notes = read_boxes(boxes, boxes_name, image_name=image_name, image_size=(w, h))
        src = boxes_name or (str(boxes) if not isinstance(boxes, bytes) else "upload")
        categorised = any(o.category != "object" for o in objs)
        return ObjectSet(objs, "user", f"objects: {len(objs)} boxes from {Path(src).name}", categorised, notes)
    found = None
    if detector is not None:
        is_dir = detector not in ("auto", *DETECTORS)
        found = find_detector(None if detector == "auto" or is_dir else detector, path=detector if is_dir else None)
    if found is not None:
        name, folder = found
        queries = list(COCO_CATEGORIES)
        cat = (target_category or "").strip().lower()
        if cat and cat not in queries:
            queries.append(cat)
        objs = OpenVocabularyDetector(folder, device).detect(image, queries, threshold, max_objects)
        return ObjectSet(
            objs,
            "detector",
            f"objects: {len(objs)} from the {name} detector ({folder.name}, published weights, score >= {threshold})",
            True,
        )
    objs = propose_objects(image, max_objects)
    return ObjectSet(
        objs,
        "proposer",
        f"objects: {len(objs)} class-agnostic boxes from the OpenCV proposer (no detector weights found; "
        "saliency + edges, no categories)",
        False,
        [
            "give --objects FILE (COCO-Search18 CSV, COCO JSON or gazekit boxes) or fetch a detector with "
            "`gazekit download owlv2` for categorised objects"
        ],
    )


def target_exemplar(objects: ObjectSet, image: np.ndarray, category: str) -> tuple[np.ndarray, ObjectBox] | None:
    """The crop of the best-scoring object of ``category`` (the target's look, not its location), or None.

    Only categorised objects qualify; the detector's per-query score is used when present.
    """
    if not objects.categorised:
        return None
    cat = _canonical(category)

    def score(o: ObjectBox) -> float:
        s = o.attributes.get("scores")
        if isinstance(s, dict) and cat in s:
            return float(s[cat])
        return o.confidence if _canonical(o.category) == cat else -1.0

    best = max(objects.objects, key=score, default=None)
    if best is None or score(best) < 0 or _canonical(best.category) != cat:
        return None
    x, y, bw, bh = (int(round(v)) for v in best.xywh)
    crop = np.asarray(image)[max(y, 0) : y + max(bh, 1), max(x, 0) : x + max(bw, 1)]
    return (np.ascontiguousarray(crop), best) if crop.size else None
