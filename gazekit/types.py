"""The few types that flow through gazekit: stimuli, tasks, scanpaths, gaze annotations and predictions.

Conventions (one place, so nothing else has to guess):

* Pixel coordinates are (x, y) with the origin at the top-left corner of the stimulus and x to the right.
  A fixation at the centre of pixel (0, 0) is at (0.5, 0.5).
* Durations are in milliseconds; NaN means "not recorded".
* Boxes are ``(x, y, w, h)`` in pixels for objects (COCO style) and ``(x1, y1, x2, y2)`` for head boxes,
  matching the datasets they come from.
* A scanpath knows the size of the frame its coordinates live in (``width``/``height``); conversions
  between frames (display <-> image <-> model input) go through :class:`FrameTransform`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gazekit.errors import DataFormatError
from gazekit.imageio import read_image

__all__ = [
    "FRAME_SOURCE",
    "Frame",
    "FrameTransform",
    "GazeAnnotation",
    "GazeMap",
    "ObjectBox",
    "PaddedScanpaths",
    "Scanpath",
    "Stimulus",
    "Target",
    "Task",
    "FixationRule",
    "assign_fixations_to_objects",
    "box_iou",
    "object_index_for_box",
    "pad_scanpaths",
    "unpad_scanpaths",
]


# --------------------------------------------------------------------------------------------- frames
#: ``Scanpath.meta`` key telling where a scanpath's frame came from: ``format-default`` (a COCO-Search18 JSON
#: record without width/height; the reader fills in the 1680x1050 display) or ``user`` (the frame the user
#: named; :func:`gazekit.io.assign_frames`)
FRAME_SOURCE = "frame_source"


@dataclass(frozen=True)
class Frame:
    """A rectangular coordinate frame in pixels (a display, an image, or a model input)."""

    width: float
    height: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.width) and np.isfinite(self.height)) or self.width <= 0 or self.height <= 0:
            raise DataFormatError(f"frame size must be positive and finite, got {self.width}x{self.height}")


@dataclass(frozen=True)
class FrameTransform:
    """An axis-aligned affine map between two frames: ``dst = src * scale + offset`` per axis.

    Build one with :meth:`resize` (independent x/y scaling, e.g. 1680x1050 -> 512x320) or
    :meth:`letterbox` (fit with aspect kept and padding, as COCO-Search18 placed images on its display).
    """

    scale_x: float = 1.0
    scale_y: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    @staticmethod
    def resize(src: Frame, dst: Frame) -> FrameTransform:
        """Stretch ``src`` onto ``dst`` (each axis scaled on its own)."""
        return FrameTransform(dst.width / src.width, dst.height / src.height, 0.0, 0.0)

    @staticmethod
    def letterbox(src: Frame, dst: Frame, align: Literal["center", "topleft"] = "center") -> FrameTransform:
        """Fit ``src`` inside ``dst`` with its aspect ratio kept; the rest of ``dst`` is padding."""
        s = min(dst.width / src.width, dst.height / src.height)
        if align == "center":
            ox, oy = (dst.width - src.width * s) / 2.0, (dst.height - src.height * s) / 2.0
        elif align == "topleft":
            ox = oy = 0.0
        else:
            raise ValueError(f"align must be 'center' or 'topleft', got {align!r}")
        return FrameTransform(s, s, ox, oy)

    def inverse(self) -> FrameTransform:
        """The map from ``dst`` back to ``src``."""
        return FrameTransform(
            1.0 / self.scale_x, 1.0 / self.scale_y, -self.offset_x / self.scale_x, -self.offset_y / self.scale_y
        )

    def then(self, other: FrameTransform) -> FrameTransform:
        """Compose: apply ``self`` first, then ``other``."""
        return FrameTransform(
            self.scale_x * other.scale_x,
            self.scale_y * other.scale_y,
            self.offset_x * other.scale_x + other.offset_x,
            self.offset_y * other.scale_y + other.offset_y,
        )

    def points(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinate arrays (any shape, pixels) from ``src`` to ``dst``."""
        return np.asarray(x, float) * self.scale_x + self.offset_x, np.asarray(y, float) * self.scale_y + self.offset_y

    def box_xywh(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        """Map an ``(x, y, w, h)`` box."""
        x, y, w, h = (float(v) for v in box)
        return (x * self.scale_x + self.offset_x, y * self.scale_y + self.offset_y, w * self.scale_x, h * self.scale_y)

    def scanpath(self, sp: Scanpath, dst: Frame | None = None) -> Scanpath:
        """Map a scanpath's fixations; durations and metadata are kept. ``dst`` sets the new frame size."""
        x, y = self.points(sp.x, sp.y)
        out = dataclasses.replace(sp, x=x, y=y, meta=dict(sp.meta))
        if dst is not None:
            out.width, out.height = float(dst.width), float(dst.height)
        elif sp.width is not None and sp.height is not None:
            out.width, out.height = sp.width * self.scale_x, sp.height * self.scale_y
        return out


# --------------------------------------------------------------------------------------------- stimuli
@dataclass
class ObjectBox:
    """One object of a display: ``(x, y, w, h)`` box in stimulus pixels plus its category."""

    x: float
    y: float
    w: float
    h: float
    category: str = "object"
    confidence: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        vals = np.array([self.x, self.y, self.w, self.h], dtype=float)
        if not np.all(np.isfinite(vals)):
            raise DataFormatError(f"object box must be finite, got {vals.tolist()}", field="box")
        if self.w < 0 or self.h < 0:
            raise DataFormatError(f"object box width/height must be >= 0, got w={self.w}, h={self.h}", field="box")
        self.x, self.y, self.w, self.h = (float(v) for v in vals)

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2.0, self.y + self.h / 2.0

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.x + self.w, self.y + self.h

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h

    def contains(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Whether points lie inside the box (edges included)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        return (x >= self.x) & (x <= self.x + self.w) & (y >= self.y) & (y <= self.y + self.h)


@dataclass
class Target:
    """What a searcher looks for: a category name, a box on the display, and/or an image of the target."""

    category: str | None = None
    box: tuple[float, float, float, float] | None = None  # (x, y, w, h) px, the ground-truth location
    image: np.ndarray | None = None  # [h, w, 3] uint8 RGB crop shown to the searcher

    def __post_init__(self) -> None:
        if self.box is not None:
            b = tuple(float(v) for v in self.box)
            if len(b) != 4 or not all(np.isfinite(b)) or b[2] < 0 or b[3] < 0:
                raise DataFormatError(f"target box must be finite (x, y, w, h) with w, h >= 0, got {self.box}")
            self.box = b  # type: ignore[assignment]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when they do not overlap or are empty)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def object_index_for_box(objects: Sequence[ObjectBox], box: Sequence[float]) -> int | None:
    """Index of the object whose box (x, y, w, h px) has the highest IoU with ``box``; None if none overlaps."""
    tb = tuple(float(v) for v in box)
    best, best_iou = None, 0.0
    for i, o in enumerate(objects):
        iou = box_iou(tb, o.xywh)
        if iou > best_iou:
            best, best_iou = i, iou
    return best


#: how a fixation is given to an object (see :func:`assign_fixations_to_objects`)
FixationRule = Literal["box", "radius", "object_size"]


def assign_fixations_to_objects(
    x: np.ndarray | Sequence[float],
    y: np.ndarray | Sequence[float],
    objects: Sequence[ObjectBox],
    *,
    rule: FixationRule,
    radius: float = math.inf,
) -> np.ndarray:
    """Index of the object each fixation (px) lands on: ``[T]`` int64, ``-1`` = background.

    Rules (boxes include their edges; ties go to the lower index):

    * ``"box"``: the smallest box containing the fixation, else -1 (the baselines).
    * ``"radius"``: the smallest containing box, else the object with the nearest centre if it lies within
      ``radius`` px, else -1 (COCO-Search18 object trials; ``radius=inf`` is OAT's "the cover that contains
      it, or else the nearest cover centre").
    * ``"object_size"``: of the containing boxes the one with the nearest centre, else the nearest object whose
      centre is within ``radius`` x that object's larger side, else -1 (the synthetic observers).

    Raises:
        DataFormatError: ``x``/``y`` of different lengths, or a negative or NaN ``radius``.
    """
    xs = np.asarray(x, dtype=float).reshape(-1)
    ys = np.asarray(y, dtype=float).reshape(-1)
    if xs.shape != ys.shape:
        raise DataFormatError(f"x and y must have equal lengths, got {xs.shape[0]} and {ys.shape[0]}", field="x/y")
    if radius is None or math.isnan(radius) or radius < 0:
        raise DataFormatError(f"radius must be >= 0, got {radius!r}", field="radius")
    if rule not in ("box", "radius", "object_size"):
        raise DataFormatError(f"rule must be 'box', 'radius' or 'object_size', got {rule!r}", field="rule")
    n = xs.shape[0]
    if n == 0 or not objects:
        return np.full(n, -1, dtype=np.int64)
    b = np.array([o.xywh for o in objects], dtype=float)  # [M, 4]
    px, py = xs[:, None], ys[:, None]
    inside = (px >= b[None, :, 0]) & (px <= b[None, :, 0] + b[None, :, 2])
    inside &= (py >= b[None, :, 1]) & (py <= b[None, :, 1] + b[None, :, 3])
    d = np.hypot(px - (b[None, :, 0] + b[None, :, 2] / 2), py - (b[None, :, 1] + b[None, :, 3] / 2))  # [T, M]
    rows = np.arange(n)
    if rule == "object_size":
        near = d <= radius * np.maximum(b[:, 2], b[:, 3])[None]
        score = np.where(inside, d, np.where(near, d + 1e6, np.inf))  # any containing box beats any near one
        idx = np.argmin(score, axis=1)
        return np.where(np.isfinite(score[rows, idx]), idx, -1).astype(np.int64)
    smallest = np.argmin(np.where(inside, (b[:, 2] * b[:, 3])[None], np.inf), axis=1)
    nearest = np.argmin(d, axis=1)
    fallback = np.where(d[rows, nearest] <= radius, nearest, -1) if rule == "radius" else np.full(n, -1)
    return np.where(inside.any(axis=1), smallest, fallback).astype(np.int64)


@dataclass
class Stimulus:
    """An image (in memory or on disk) with its size and, for search displays, objects and target.

    ``image`` is ``[H, W, 3]`` uint8 RGB when loaded. ``objects`` are the display items (object-level models
    point at them). ``target`` holds the ground truth (category and box) used by evaluation and oracles.
    """

    name: str
    width: int
    height: int
    image: np.ndarray | None = None
    path: str | None = None
    objects: list[ObjectBox] = field(default_factory=list)
    target: Target | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise DataFormatError(f"stimulus {self.name!r}: size must be positive, got {self.width}x{self.height}")
        self.width, self.height = int(self.width), int(self.height)
        if self.image is not None:
            img = np.asarray(self.image)
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise DataFormatError(
                    f"stimulus {self.name!r}: image must be [H, W, 3] uint8 RGB, got {img.shape} {img.dtype}"
                )
            if img.shape[:2] != (self.height, self.width):
                raise DataFormatError(
                    f"stimulus {self.name!r}: image is {img.shape[1]}x{img.shape[0]} but size says "
                    f"{self.width}x{self.height}"
                )

    @property
    def frame(self) -> Frame:
        return Frame(self.width, self.height)

    @property
    def target_index(self) -> int | None:
        """Index of the object whose box best overlaps the target box, or None."""
        if self.target is None or self.target.box is None:
            return None
        return object_index_for_box(self.objects, self.target.box)

    def load_image(self) -> np.ndarray:
        """Return the RGB image, reading it from ``path`` if needed (raises DataFormatError if unreadable)."""
        if self.image is not None:
            return self.image
        if self.path is None:
            raise DataFormatError(f"stimulus {self.name!r} has neither an image nor a path")

        img = read_image(self.path)
        if img.shape[:2] != (self.height, self.width):
            raise DataFormatError(
                f"image is {img.shape[1]}x{img.shape[0]}, expected {self.width}x{self.height}", path=self.path
            )
        self.image = img
        return img


@dataclass
class Task:
    """What the viewer was asked to do: search for a target, view freely, or look for a caption's content."""

    kind: Literal["search", "freeview", "caption"] = "freeview"
    target: Target | None = None
    caption: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("search", "freeview", "caption"):
            raise DataFormatError(f"task kind must be search, freeview or caption, got {self.kind!r}")
        if self.kind == "search" and self.target is None:
            raise DataFormatError("a search task needs a target (category, box or image)")
        if self.kind == "caption" and not self.caption:
            raise DataFormatError("a caption task needs a non-empty caption")

    @staticmethod
    def search(
        category: str | None = None,
        box: tuple[float, float, float, float] | None = None,
        image: np.ndarray | None = None,
    ) -> Task:
        return Task("search", Target(category, box, image))

    @staticmethod
    def freeview() -> Task:
        return Task("freeview")

    @staticmethod
    def coerce(task: Task | str | None) -> Task:
        """A :class:`Task` from the shorthands users type: ``None``/``"freeview"`` -> free viewing,
        any other string -> search for that category."""
        if isinstance(task, Task):
            return task
        if task is None or (isinstance(task, str) and task.strip().lower() in ("", "freeview", "free-viewing")):
            return Task.freeview()
        if isinstance(task, str):
            return Task.search(category=task.strip())
        raise DataFormatError(f"task must be a gazekit Task or a target category string, got {type(task).__name__}")

    @property
    def name(self) -> str | None:
        """The task label used in data files (the target category for search)."""
        if self.kind == "search" and self.target is not None:
            return self.target.category
        if self.kind == "caption":
            return self.caption
        return None


# --------------------------------------------------------------------------------------------- scanpaths
def _as_1d(name: str, v: Any) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError) as e:
        raise DataFormatError(f"{name} must be numeric ({e})", field=name) from None
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise DataFormatError(f"{name} must be 1-D, got shape {a.shape}", field=name)
    return a


@dataclass
class Scanpath:
    """A sequence of fixations on one stimulus.

    Attributes:
        x, y: ``[T]`` fixation positions in pixels of the stimulus frame (``width`` x ``height``).
        duration: ``[T]`` fixation durations in ms (NaN where not recorded).
        stimulus: stimulus name (image file name).
        subject, task, condition: metadata as in the source data (task = search target category).
        found: whether the searcher found the target (None when unknown or not a search).
        width, height: size of the frame the coordinates live in (None when unknown).
        objects: ``[T]`` int index of the fixated display object (-1 = background), for object-level data.
        meta: anything else the source carried (bbox, RT, split...).
    """

    x: np.ndarray
    y: np.ndarray
    duration: np.ndarray | None = None
    stimulus: str = ""
    subject: str | None = None
    task: str | None = None
    condition: str | None = None
    found: bool | None = None
    width: float | None = None
    height: float | None = None
    objects: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.x = _as_1d("x", self.x)
        self.y = _as_1d("y", self.y)
        n = self.x.shape[0]
        self.duration = np.full(n, np.nan) if self.duration is None else _as_1d("duration", self.duration)
        if self.y.shape[0] != n or self.duration.shape[0] != n:
            raise DataFormatError(
                f"x, y and duration must have equal lengths, got {n}, {self.y.shape[0]}, {self.duration.shape[0]}",
                field="x/y/duration",
            )
        if not (np.all(np.isfinite(self.x)) and np.all(np.isfinite(self.y))):
            raise DataFormatError("fixation coordinates must be finite", field="x/y")
        if np.any(self.duration < 0):
            raise DataFormatError("durations must be >= 0 ms", field="duration")
        if self.objects is not None:
            obj = np.asarray(self.objects)
            if obj.shape != (n,):
                raise DataFormatError(f"objects must have shape ({n},), got {obj.shape}", field="objects")
            self.objects = obj.astype(np.int64)
        if self.subject is not None:
            self.subject = str(self.subject)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def xy(self) -> np.ndarray:
        """``[T, 2]`` fixation positions (x, y) in pixels."""
        return np.stack([self.x, self.y], axis=1)

    @property
    def frame(self) -> Frame | None:
        if self.width is None or self.height is None:
            return None
        return Frame(self.width, self.height)

    def head(self, n: int) -> Scanpath:
        """The first ``n`` fixations."""
        return dataclasses.replace(
            self,
            x=self.x[:n],
            y=self.y[:n],
            duration=self.duration[:n],
            objects=None if self.objects is None else self.objects[:n],
            meta=dict(self.meta),
        )

    def to_frame(self, dst: Frame, mode: Literal["resize", "letterbox"] = "resize") -> Scanpath:
        """Express the fixations in another frame (requires this scanpath's ``width``/``height``)."""
        src = self.frame
        if src is None:
            raise DataFormatError(f"scanpath of {self.stimulus!r} has no frame size; cannot convert")
        tf = FrameTransform.resize(src, dst) if mode == "resize" else FrameTransform.letterbox(src, dst)
        return tf.scanpath(self, dst)

    @property
    def key(self) -> tuple[str, str | None]:
        """(stimulus, task): how predictions are matched to human scanpaths."""
        return self.stimulus, self.task


@dataclass
class PaddedScanpaths:
    """A batch of scanpaths as padded arrays.

    Attributes:
        xy: ``[B, T, 2]`` positions in px, ``pad_value`` beyond each length.
        duration: ``[B, T]`` durations in ms.
        lengths: ``[B]`` int number of valid fixations.
    """

    xy: np.ndarray
    duration: np.ndarray
    lengths: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """``[B, T]`` bool, True at valid fixations."""
        return np.arange(self.xy.shape[1])[None, :] < self.lengths[:, None]


def pad_scanpaths(
    scanpaths: Iterable[Scanpath], max_len: int | None = None, pad_value: float = np.nan
) -> PaddedScanpaths:
    """Stack scanpaths into padded arrays, truncating at ``max_len`` if given."""
    sps = list(scanpaths)
    lengths = np.array([len(s) if max_len is None else min(len(s), max_len) for s in sps], dtype=np.int64)
    t = int(lengths.max()) if len(sps) and max_len is None else (max_len or 0)
    xy = np.full((len(sps), t, 2), pad_value, dtype=float)
    dur = np.full((len(sps), t), pad_value, dtype=float)
    for i, (s, n) in enumerate(zip(sps, lengths, strict=True)):
        xy[i, :n, 0], xy[i, :n, 1], dur[i, :n] = s.x[:n], s.y[:n], s.duration[:n]
    return PaddedScanpaths(xy, dur, lengths)


def unpad_scanpaths(batch: PaddedScanpaths, template: Sequence[Scanpath] | None = None) -> list[Scanpath]:
    """Split padded arrays back into scanpaths (metadata copied from ``template`` when given)."""
    out = []
    for i, n in enumerate(batch.lengths.tolist()):
        base = template[i] if template is not None else Scanpath(np.zeros(0), np.zeros(0))
        out.append(
            dataclasses.replace(
                base,
                x=batch.xy[i, :n, 0].copy(),
                y=batch.xy[i, :n, 1].copy(),
                duration=batch.duration[i, :n].copy(),
                objects=None,
                meta=dict(base.meta),
            )
        )
    return out


# --------------------------------------------------------------------------------------------- gaze following
@dataclass
class GazeAnnotation:
    """One person in one image with where they look (gaze following ground truth).

    Attributes:
        image: image file name or path.
        width, height: image size in px.
        head_box: ``(x1, y1, x2, y2)`` px, normalised so that x1 <= x2 and y1 <= y2.
        gaze_points: ``[K, 2]`` px, one row per annotator (empty when out of frame).
        inout: 1 = target in frame, 0 = out of frame, -1 = unknown/invalid.
        eye: ``(x, y)`` px of the eyes, if annotated.
        target_mask: ``[H, W]`` bool mask of the looked-at object, if known.
        target_category: category of the looked-at object, if known.
    """

    image: str
    width: int
    height: int
    head_box: tuple[float, float, float, float]
    gaze_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    inout: int = 1
    eye: tuple[float, float] | None = None
    target_mask: np.ndarray | None = None
    target_category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        hb = np.asarray(self.head_box, dtype=float)
        if hb.shape != (4,) or not np.all(np.isfinite(hb)):
            raise DataFormatError(f"head_box must be 4 finite numbers, got {self.head_box}", field="head_box")
        x1, x2 = sorted((hb[0], hb[2]))
        y1, y2 = sorted((hb[1], hb[3]))
        self.head_box = (float(x1), float(y1), float(x2), float(y2))
        gp = np.asarray(self.gaze_points, dtype=float).reshape(-1, 2)
        if not np.all(np.isfinite(gp)):
            raise DataFormatError("gaze points must be finite", field="gaze_points")
        self.gaze_points = gp
        if self.inout not in (-1, 0, 1):
            raise DataFormatError(f"inout must be 1, 0 or -1, got {self.inout!r}", field="inout")

    @property
    def head_center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.head_box
        return (x1 + x2) / 2.0, (y1 + y2) / 2.0


@dataclass
class GazeMap:
    """A gaze-following prediction for one person.

    Attributes:
        heatmap: ``[h, w]`` float in [0, 1] covering the whole image (any resolution).
        point: ``(x, y)`` predicted gaze target in image px.
        inout: probability that the target is inside the frame.
        head_box: the ``(x1, y1, x2, y2)`` px box the prediction is for.
        mask: ``[H, W]`` bool target mask (GazeSeg), if predicted.
        category: predicted target category (GazeSeg), if predicted.
    """

    heatmap: np.ndarray
    point: tuple[float, float]
    inout: float
    head_box: tuple[float, float, float, float]
    mask: np.ndarray | None = None
    category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def read_text_lines(path: str | Path) -> list[str]:
    """Read a UTF-8 text file (BOM tolerated) into lines; errors name the file."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DataFormatError("file not found", path=p) from None
    except UnicodeDecodeError as e:
        raise DataFormatError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=p) from None
    except OSError as e:
        raise DataFormatError(f"cannot read ({e.strerror})", path=p) from None
