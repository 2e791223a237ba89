"""The viewer's inputs: uploaded or gallery images (full-resolution *image* frame and the model's *work*
copy, whose longer side is at most :data:`MODEL_MAX_SIDE`; :class:`ImageInput` carries the
:class:`~gazekit.types.FrameTransform` between the two), and the task the user sets (target, boxes)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import cv2
import numpy as np

from gazekit.app.limits import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES, MODEL_MAX_SIDE
from gazekit.datasets.synthetic import search as gallery
from gazekit.errors import DataFormatError
from gazekit.imageio import decode_image
from gazekit.objects import ObjectSet, objects_for_image
from gazekit.types import Frame, FrameTransform, ObjectBox, Scanpath, Stimulus, Target, Task


@dataclass(frozen=True)
class ImageInput:
    """An image ready for the viewer.

    Attributes:
        name: file name (also the stimulus name predictions carry and human data is matched on).
        digest: sha256 of the uploaded bytes (or of the pixels), the key of cached results.
        image: ``[H, W, 3]`` uint8 RGB at full resolution, EXIF orientation applied.
        work: ``[h, w, 3]`` uint8 RGB the model sees and overlays are drawn on (== ``image`` when small).
        to_full: maps work-frame pixels to image-frame pixels.
        objects: display objects in the image frame (gallery stimuli), else empty.
        target: the ground-truth target in the image frame (gallery stimuli), else None.
    """

    name: str
    digest: str
    image: np.ndarray = field(repr=False)
    work: np.ndarray = field(repr=False)
    to_full: FrameTransform = FrameTransform()
    objects: tuple[ObjectBox, ...] = ()
    target: Target | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def frame(self) -> Frame:
        return Frame(self.width, self.height)

    @property
    def work_frame(self) -> Frame:
        return Frame(self.work.shape[1], self.work.shape[0])

    @property
    def to_work(self) -> FrameTransform:
        return self.to_full.inverse()

    @property
    def downscaled(self) -> bool:
        return self.work.shape[:2] != self.image.shape[:2]

    def work_stimulus(self, target: Target | None = None) -> Stimulus:
        """The stimulus the model sees (work frame), with objects and ``target`` (image frame) mapped."""
        tw = self.to_work
        objs = [dataclasses.replace(o, **dict(zip("xywh", tw.box_xywh(o.xywh), strict=True))) for o in self.objects]
        t = target if target is not None else self.target
        if t is not None and t.box is not None:
            t = Target(t.category, tw.box_xywh(t.box), t.image)
        h, w = self.work.shape[:2]
        return Stimulus(self.name, w, h, image=self.work, objects=objs, target=t)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, FrameTransform]:
    """The image shrunk to ``max_side`` (aspect kept) and the transform from the small frame to the original."""
    h, w = image.shape[:2]
    s = max_side / max(h, w)
    if s >= 1.0:
        return image, FrameTransform()

    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small), FrameTransform.resize(Frame(nw, nh), Frame(w, h))


def image_from_upload(
    data: bytes,
    name: str,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    max_side: int | None = None,
) -> ImageInput:
    """Decode an uploaded image (PNG/JPEG/WebP; EXIF orientation honoured) and make its work copy.

    Raises:
        DataFormatError: empty, too large, not an image or corrupt (the message names the file).
    """
    max_bytes = MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    max_pixels = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if len(data) > max_bytes:
        raise DataFormatError(
            f"file is {len(data) / 2**20:.1f} MB, above the viewer's limit of {max_bytes / 2**20:.0f} MB", path=name
        )

    image = decode_image(data, name, max_pixels=max_pixels)
    work, to_full = _downscale(image, MODEL_MAX_SIDE if max_side is None else max_side)
    return ImageInput(PurePath(name).name or "image", _digest(data), image, work, to_full)


def image_from_array(
    image: np.ndarray,
    name: str,
    *,
    objects: Sequence[ObjectBox] = (),
    target: Target | None = None,
    max_side: int | None = None,
) -> ImageInput:
    """An :class:`ImageInput` for an in-memory RGB image (gallery stimuli)."""
    img = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    if img.ndim != 3 or img.shape[2] != 3:
        raise DataFormatError(f"expected [H, W, 3] RGB, got shape {img.shape}", path=name)
    digest = _digest(f"{img.shape}".encode() + img.tobytes())
    work, to_full = _downscale(img, MODEL_MAX_SIDE if max_side is None else max_side)
    return ImageInput(name, digest, img, work, to_full, tuple(objects), target)


def with_objects(
    img: ImageInput, boxes: tuple[bytes, str] | None, *, find: bool, category: str | None = None
) -> tuple[ImageInput, ObjectSet]:
    """``img`` with objects from :func:`gazekit.objects.objects_for_image`: an uploaded boxes file
    (``(bytes, file name)``), else, with ``find``, a detector whose published weights are here or the OpenCV
    proposer. The :class:`~gazekit.objects.ObjectSet` says where they came from (its label is shown).

    Raises:
        DataFormatError: unreadable boxes file, or no boxes for this image (naming the file).
    """
    objset = objects_for_image(
        img.image,
        img.name,
        boxes=None if boxes is None else boxes[0],
        boxes_name=None if boxes is None else boxes[1],
        detector="auto" if find else None,
        target_category=category,
    )
    return dataclasses.replace(img, objects=tuple(objset.objects)), objset


def gallery_world(n_displays: int = 12, n_subjects: int = 6, seed: int = 0) -> Any:
    """The embedded default's synthetic search world (stimuli + human-like scanpaths), or raises GazekitError."""
    return gallery.build_world(n_displays=n_displays, n_subjects=n_subjects, seed=seed)


def gallery_images(world: Any) -> list[ImageInput]:
    """The world's stimuli as viewer images (objects and target kept)."""
    out = []
    for s in world.stimuli:
        img = s.load_image() if hasattr(s, "load_image") else s.image
        out.append(image_from_array(img, s.name, objects=s.objects, target=s.target))
    return out


def gallery_humans(world: Any, name: str) -> list[Scanpath]:
    """The world's scanpaths recorded on stimulus ``name``."""
    return [sp for sp in getattr(world, "scanpaths", []) if sp.stimulus == name]


@dataclass(frozen=True)
class TaskSpec:
    """What the page asked for, hashable so it keys cached results.

    ``kind`` is ``search``, ``freeview``, ``caption`` or ``gaze``. Search targets are a ``category``, a ``box``
    ``(x, y, w, h)`` in image pixels, and/or an uploaded target crop (``crop_digest`` names it; the pixels
    travel separately). ``head_boxes`` are ``(x1, y1, x2, y2)`` image pixels for gaze following.
    """

    kind: str = "freeview"
    category: str | None = None
    box: tuple[float, float, float, float] | None = None
    crop_digest: str | None = None
    head_boxes: tuple[tuple[float, float, float, float], ...] = ()
    caption: str | None = None

    def target(self, img: ImageInput, crop_image: np.ndarray | None = None) -> Target | None:
        """The search target in the image frame; a gallery stimulus's own target fills what was not given."""
        if self.kind != "search":
            return None
        category = (self.category or "").strip() or None
        box = self.box
        template = crop_image  # with only a box, models take the box's pixels as the example themselves
        if category is None and box is None and template is None:
            if img.target is not None:  # gallery stimulus: its own target
                return img.target
            raise DataFormatError("visual search needs a target: a category, a box or a target image")
        if box is None and img.target is not None and category == img.target.category:
            box = img.target.box
            template = template if template is not None else img.target.image
        return Target(category, box, template)

    def task(self, img: ImageInput, crop_image: np.ndarray | None = None) -> Task:
        """The model's :class:`~gazekit.types.Task` in the work frame."""
        if self.kind == "freeview":
            return Task.freeview()
        if self.kind == "caption":
            text = (self.caption or "").strip()
            if not text:
                raise DataFormatError("a caption task needs a caption: type one in the 'Caption' box")
            return Task("caption", caption=text)
        if self.kind != "search":
            raise DataFormatError(f"{self.kind!r} is not a scanpath task")
        t = self.target(img, crop_image)
        assert t is not None
        box = None if t.box is None else img.to_work.box_xywh(t.box)
        return Task.search(t.category, box, t.image)

    @property
    def label(self) -> str | None:
        """The task name predictions carry (the target category for search)."""
        if self.kind == "caption":
            return (self.caption or "").strip() or None
        return (self.category or None) if self.kind == "search" else None


def validate_box(
    box: Sequence[float], img: ImageInput, *, what: str = "target box"
) -> tuple[float, float, float, float]:
    """Check an ``(x, y, w, h)`` box lies (at least partly) on the image; returns it as floats."""
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise DataFormatError(f"{what} needs a positive width and height, got {w:g} x {h:g}")
    if x >= img.width or y >= img.height or x + w <= 0 or y + h <= 0:
        raise DataFormatError(f"{what} ({x:g}, {y:g}, {w:g}, {h:g}) lies outside the {img.width}x{img.height} image")
    return x, y, w, h
