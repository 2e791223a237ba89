"""Everything the Streamlit viewer does that is not drawing widgets: uploads, models, prediction, humans, scores.

The viewer (:mod:`gazekit.app_main`) stays a thin page over these functions, so they are tested without a
browser and reused elsewhere. Nothing here imports Streamlit.

Frames: an uploaded image keeps its full resolution (the *image* frame, where predictions, human data and
downloads live); the model sees a *work* copy whose longer side is at most :data:`MODEL_MAX_SIDE`.
:class:`ImageInput` carries the :class:`~gazekit.types.FrameTransform` between the two, and overlays are
drawn on the work copy.

Pieces that other parts of gazekit provide (viz, metrics, head detection, the synthetic gallery) are looked
up lazily; :func:`missing` says why one is not available so the page can say so instead of failing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from types import ModuleType
from typing import Any

import numpy as np

from gazekit.errors import DataFormatError, GazekitError, WeightsNotFoundError
from gazekit.types import Frame, FrameTransform, GazeMap, ObjectBox, Scanpath, Stimulus, Target, Task

__all__ = [
    "IMAGE_TYPES",
    "MAX_IMAGE_PIXELS",
    "MAX_UPLOAD_BYTES",
    "MODEL_MAX_SIDE",
    "HumanMatch",
    "ImageInput",
    "ModelRow",
    "ScoreRow",
    "TaskSpec",
    "default_metrics",
    "detect_heads",
    "devices",
    "fixation_heatmap",
    "gallery_humans",
    "gallery_images",
    "gallery_world",
    "gaze_json",
    "image_from_array",
    "image_from_upload",
    "load_model",
    "match_humans",
    "metric_names",
    "missing",
    "model_rows",
    "parse_humans",
    "png_bytes",
    "predict_gaze_maps",
    "predict_scanpaths",
    "predictions_csv",
    "predictions_json",
    "render_gaze_overlay",
    "render_overlay",
    "render_samples",
    "score",
    "validate_box",
    "validate_head_box",
    "weights_hint",
]

#: Uploads larger than this many bytes are refused before decoding (override: ``GAZEKIT_APP_MAX_UPLOAD_MB``).
MAX_UPLOAD_BYTES = int(float(os.environ.get("GAZEKIT_APP_MAX_UPLOAD_MB", "50")) * 2**20)
#: Images with more pixels than this are refused (override: ``GAZEKIT_APP_MAX_PIXELS``).
MAX_IMAGE_PIXELS = int(float(os.environ.get("GAZEKIT_APP_MAX_PIXELS", "50e6")))
#: The model sees the image downscaled so that its longer side is at most this (override: ``GAZEKIT_APP_MAX_SIDE``).
MODEL_MAX_SIDE = int(os.environ.get("GAZEKIT_APP_MAX_SIDE", "1024"))
#: File types the uploader advertises (the content decides, not the name).
IMAGE_TYPES = ("png", "jpg", "jpeg", "webp")

#: Metrics preselected in the page when the metrics module offers them (first found wins).
_PREFERRED_METRICS = ("scanmatch", "ss", "sequence_score", "multimatch", "sed", "dtw", "frechet", "tde")


# --------------------------------------------------------------------------------------------- optional pieces
_OPTIONAL = {
    "viz": "gazekit.viz",
    "metrics": "gazekit.metrics",
    "heads": "gazekit.heads",
    "gallery": "gazekit.datasets.synthetic.search",
}


def _optional(key: str) -> ModuleType | None:
    try:
        return importlib.import_module(_OPTIONAL[key])
    except ImportError:
        return None


def missing(key: str) -> str | None:
    """None when an optional piece (``viz``, ``metrics``, ``heads``, ``gallery``) imports, else why not."""
    try:
        importlib.import_module(_OPTIONAL[key])
    except ImportError as e:
        return f"{_OPTIONAL[key]} is not available in this install ({e})"
    return None


def _need(key: str) -> ModuleType:
    mod = _optional(key)
    if mod is None:
        raise GazekitError(missing(key) or f"{_OPTIONAL[key]} is not available")
    return mod


# --------------------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelRow:
    """One registry entry as the page lists it."""

    name: str
    kind: str
    description: str
    tasks: tuple[str, ...]
    trainable: bool
    available: bool
    config: str | None = None
    bundled: bool = False

    @property
    def needs_weights(self) -> bool:
        """Learned and nothing shipped: the user must train or fetch a checkpoint first."""
        return self.trainable and not self.bundled

    @property
    def label(self) -> str:
        if not self.available:
            return f"{self.name} (not installed)"
        if self.needs_weights:
            return f"{self.name} (needs weights)"
        return f"{self.name} (synthetic-data weights)" if self.trainable else self.name

    @property
    def how_to_get(self) -> str:
        """What to do before this model can predict."""
        if not self.available:
            return f"`{self.name}` is registered but its code is not importable in this install."
        if not self.trainable:
            return ""
        recipe = f"`gazekit fit -c {self.config}`" if self.config else "`gazekit fit` with its recipe"
        return (
            f"`{self.name}` predicts from trained weights: train with {recipe} or fetch them with "
            "`gazekit download`, then enter the checkpoint path here or set `GAZEKIT_WEIGHTS_DIR`."
        )


#: page task -> task names in ModelSpec.tasks
_TASK_KEYS = {"search": "search", "freeview": "freeview", "gaze": "gaze"}


def model_rows(task: str | None = None) -> list[ModelRow]:
    """Registered models (all of them, available or not) that serve ``task`` (search / freeview / gaze)."""
    from gazekit.models.registry import list_models

    rows = []
    for s in list_models():
        tasks = tuple(getattr(s, "tasks", ()) or ())
        if task is not None and _TASK_KEYS.get(task, task) not in tasks:
            continue
        rows.append(
            ModelRow(
                s.name,
                s.kind,
                s.description,
                tasks,
                bool(getattr(s, "trainable", False)),
                bool(s.available),
                getattr(s, "config", None),
                getattr(s, "bundled_path", None) is not None,
            )
        )
    rows.sort(key=lambda r: (not r.available, r.needs_weights, r.trainable, r.name))
    return rows


def devices() -> list[str]:
    """Devices a model can be put on here (``cpu`` first)."""
    out = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            out.append("cuda")
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    return out


def load_model(name: str, weights: str | None = None, device: str = "cpu") -> Any:
    """A ready predictor from the registry (the page caches this per ``(name, weights, device)``).

    Raises:
        WeightsNotFoundError: a learned model without weights (the message says how to get them).
        GazekitError: unknown or uninstalled model, bad weights argument.
    """
    from gazekit.models.registry import load_predictor

    weights = (weights or "").strip() or None
    model = load_predictor(name, weights=weights, device=device)
    if hasattr(model, "eval") and callable(model.eval):
        model.eval()
    return model


def _inference() -> Any:
    try:
        import torch

        return torch.inference_mode()
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()


# --------------------------------------------------------------------------------------------- images
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
    import cv2

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
    from gazekit.imageio import decode_image

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


# --------------------------------------------------------------------------------------------- gallery
def gallery_world(n_displays: int = 12, n_subjects: int = 6, seed: int = 0) -> Any:
    """The embedded default's synthetic search world (stimuli + human-like scanpaths), or raises GazekitError."""
    mod = _need("gallery")
    return mod.build_world(n_displays=n_displays, n_subjects=n_subjects, seed=seed)


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


# --------------------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class TaskSpec:
    """What the page asked for, hashable so it keys cached results.

    ``kind`` is ``search``, ``freeview`` or ``gaze``. Search targets are a ``category``, a ``box``
    ``(x, y, w, h)`` in image pixels, and/or an uploaded target crop (``crop_digest`` names it; the pixels
    travel separately). ``head_boxes`` are ``(x1, y1, x2, y2)`` image pixels for gaze following.
    """

    kind: str = "freeview"
    category: str | None = None
    box: tuple[float, float, float, float] | None = None
    crop_digest: str | None = None
    head_boxes: tuple[tuple[float, float, float, float], ...] = ()

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
        if self.kind != "search":
            raise DataFormatError(f"{self.kind!r} is not a scanpath task")
        t = self.target(img, crop_image)
        assert t is not None
        box = None if t.box is None else img.to_work.box_xywh(t.box)
        return Task.search(t.category, box, t.image)

    @property
    def label(self) -> str | None:
        """The task name predictions carry (the target category for search)."""
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


# --------------------------------------------------------------------------------------------- prediction
def predict_scanpaths(
    model: Any,
    img: ImageInput,
    spec: TaskSpec,
    *,
    n: int = 1,
    sample: bool = False,
    seed: int = 0,
    crop_image: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Scanpath]:
    """Predict ``n`` scanpaths on ``img`` (sampled when ``n > 1`` or ``sample``), in the image frame.

    The model sees the work copy; fixations are mapped back to full-resolution pixels. Each scanpath
    carries the image name as ``stimulus`` and the target category as ``task``; ``subject`` is ``model``
    or ``model#k`` for the k-th sample.
    """
    task = spec.task(img, crop_image)
    stim = img.work_stimulus(spec.target(img, crop_image))
    n = max(1, int(n))
    sample = sample or n > 1
    out = []
    with _inference():
        for k in range(n):
            sp = model.predict_scanpath(stim, task, sample=sample, seed=int(seed) + k)
            full = img.to_full.scanpath(sp, img.frame)
            full.stimulus = img.name
            full.task = spec.label if spec.label is not None else full.task
            full.subject = "model" if n == 1 else f"model#{k}"
            full.width, full.height = float(img.width), float(img.height)
            out.append(full)
            if progress is not None:
                progress(k + 1, n)
    return out


def detect_heads(img: ImageInput) -> list[tuple[float, float, float, float]]:
    """Head boxes ``(x1, y1, x2, y2)`` in the image frame (detected on the work copy).

    Raises:
        GazekitError: no head found, or no detector in this install.
    """
    heads = _need("heads")
    boxes = heads.detect_heads(img.work)
    tf = img.to_full
    out = []
    for b in boxes:
        x1, y1, x2, y2 = (float(v) for v in b[:4])
        (fx1, fx2), (fy1, fy2) = tf.points(np.array([x1, x2]), np.array([y1, y2]))
        out.append((float(fx1), float(fy1), float(fx2), float(fy2)))
    if not out:
        raise GazekitError("no head found in the image; type a head box instead")
    return out


def _map_head_box(box: Sequence[float], tf: FrameTransform) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    (a, b), (c, d) = tf.points(np.array([x1, x2]), np.array([y1, y2]))
    return float(a), float(c), float(b), float(d)


def _map_gaze(gm: GazeMap, tf: FrameTransform) -> GazeMap:
    (px,), (py,) = tf.points(np.array([gm.point[0]]), np.array([gm.point[1]]))
    return dataclasses.replace(
        gm, point=(float(px), float(py)), head_box=_map_head_box(gm.head_box, tf), meta=dict(gm.meta)
    )


def validate_head_box(box: Sequence[float], img: ImageInput) -> tuple[float, float, float, float]:
    """Check an ``(x1, y1, x2, y2)`` head box on the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    validate_box((min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1)), img, what="head box")
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def predict_gaze_maps(
    model: Any,
    img: ImageInput,
    head_boxes: Sequence[Sequence[float]],
    progress: Callable[[int, int], None] | None = None,
) -> list[GazeMap]:
    """Gaze predictions for each head box (image frame in, image frame out; the heatmap covers the image)."""
    if not head_boxes:
        raise DataFormatError("gaze following needs at least one head box")
    out = []
    to_work = img.to_work
    with _inference():
        for i, b in enumerate(head_boxes):
            gm = model.predict_gaze(img.work, _map_head_box(b, to_work))
            out.append(_map_gaze(gm, img.to_full))
            if progress is not None:
                progress(i + 1, len(head_boxes))
    return out


# --------------------------------------------------------------------------------------------- overlays
def fixation_heatmap(scanpaths: Sequence[Scanpath], width: int, height: int, sigma: float | None = None) -> np.ndarray:
    """``[height, width]`` fixation density in [0, 1] (duration-weighted where known, Gaussian blurred)."""
    import cv2

    m = np.zeros((height, width), np.float32)
    for sp in scanpaths:
        w = np.where(np.isfinite(sp.duration), sp.duration, 1.0) if len(sp) else np.zeros(0)
        xi = np.clip(sp.x.astype(int), 0, width - 1)
        yi = np.clip(sp.y.astype(int), 0, height - 1)
        np.add.at(m, (yi, xi), np.maximum(w, 1e-3).astype(np.float32))
    s = sigma if sigma is not None else 0.04 * max(width, height)
    m = cv2.GaussianBlur(m, (0, 0), sigmaX=max(s, 0.5))
    top = float(m.max())
    return m / top if top > 0 else m


def _palette(viz: ModuleType) -> list[Any]:
    pal = list(getattr(viz, "PALETTE", []) or [])
    return pal or [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def render_overlay(
    img: ImageInput,
    scanpath: Scanpath | None,
    *,
    humans: Sequence[Scanpath] = (),
    target: Target | None = None,
    upto: int | None = None,
    heatmap_of: Sequence[Scanpath] = (),
) -> np.ndarray:
    """The work-frame image with an optional heatmap, humans (other colours), the target box and the prediction.

    ``upto`` shows only the first fixations of every scanpath (stepping through).
    """
    viz = _need("viz")
    canvas = img.work.copy()
    to_work = img.to_work
    wf = img.work_frame
    if heatmap_of:
        hm = fixation_heatmap([to_work.scanpath(s, wf) for s in heatmap_of], int(wf.width), int(wf.height))
        canvas = viz.overlay_heatmap(canvas, hm)
    if target is not None and (target.box is not None or target.image is not None):
        canvas = viz.draw_target(canvas, img.work_stimulus(target))
    pal = _palette(viz)
    for i, h in enumerate(humans):
        hw = to_work.scanpath(h, wf)
        canvas = viz.draw_scanpath(canvas, hw, color=pal[(i + 1) % len(pal)], numbered=False, upto=upto)
    if scanpath is not None:
        canvas = viz.draw_scanpath(
            canvas, to_work.scanpath(scanpath, wf), color=pal[0], numbered=True, radius_by_duration=True, upto=upto
        )
    return np.ascontiguousarray(canvas)


def render_samples(img: ImageInput, scanpaths: Sequence[Scanpath], target: Target | None = None) -> np.ndarray:
    """Several scanpaths side by side, one panel each (work frame)."""
    viz = _need("viz")
    pal = _palette(viz)
    panels, labels = [], []
    for i, sp in enumerate(scanpaths):
        canvas = img.work.copy()
        if target is not None and (target.box is not None or target.image is not None):
            canvas = viz.draw_target(canvas, img.work_stimulus(target))
        canvas = viz.draw_scanpath(canvas, img.to_work.scanpath(sp, img.work_frame), color=pal[i % len(pal)])
        panels.append(canvas)
        labels.append(f"sample {i + 1}")
    return np.ascontiguousarray(viz.side_by_side(panels, labels))


def render_gaze_overlay(img: ImageInput, gaze_maps: Sequence[GazeMap]) -> np.ndarray:
    """The work-frame image with each gaze prediction drawn (heatmap, head box, line to the point)."""
    viz = _need("viz")
    canvas = img.work.copy()
    for gm in gaze_maps:
        canvas = viz.draw_gaze(canvas, _map_gaze(gm, img.to_work))
    return np.ascontiguousarray(canvas)


def png_bytes(image: np.ndarray) -> bytes:
    """``[H, W, 3]`` uint8 RGB as PNG bytes."""
    from gazekit.imageio import encode_png

    return encode_png(np.ascontiguousarray(image))


# --------------------------------------------------------------------------------------------- humans
@dataclass
class HumanMatch:
    """Human scanpaths for one image, in its image frame, and what was done to find them."""

    scanpaths: list[Scanpath]
    notes: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> int:
        return len({sp.subject for sp in self.scanpaths}) if self.scanpaths else 0


def parse_humans(data: bytes, name: str) -> list[Scanpath]:
    """Human scanpaths from an upload (gazekit CSV or COCO-Search18 JSON); DataFormatError on bad files."""
    from gazekit.io import parse_scanpaths

    sps = parse_scanpaths(data, name)
    if not sps:
        raise DataFormatError("no scanpaths in the file", path=name)
    return sps


def _stem(name: str) -> str:
    return PurePath(str(name).replace("\\", "/")).stem.lower()


def match_humans(humans: Sequence[Scanpath], img: ImageInput, task: str | None = None) -> HumanMatch:
    """The human scanpaths recorded on ``img`` (by file name; extension and case ignored as a fallback).

    Coordinates recorded on a display of another size (COCO-Search18's 1680x1050) are mapped into the image
    frame, assuming the image was shown letterboxed (centred, aspect kept). With a search ``task``, the
    scanpaths for that target are kept when there are any.

    Raises:
        DataFormatError: no scanpath in the data is for this image (the message lists the images it has).
    """
    notes: list[str] = []
    exact = [s for s in humans if s.stimulus == img.name]
    if not exact:
        exact = [s for s in humans if PurePath(s.stimulus).name.lower() == img.name.lower()]
    if not exact:
        exact = [s for s in humans if _stem(s.stimulus) == _stem(img.name)]
        if exact:
            notes.append(f"matched by name without extension ({exact[0].stimulus} ~ {img.name})")
    if not exact:
        names = sorted({s.stimulus for s in humans})
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise DataFormatError(
            f"the human data is for other image(s) ({shown}), not {img.name!r}; "
            "upload the scanpaths recorded on this image (the stimulus column / name must be its file name)"
        )
    if task:
        same = [s for s in exact if (s.task or "").lower() == task.lower()]
        if same:
            exact = same
        elif any(s.task for s in exact):
            notes.append(f"no human scanpath has task {task!r}; using all {len(exact)} for this image")
    out = []
    mapped = False
    for s in exact:
        s2 = dataclasses.replace(s, meta=dict(s.meta))
        fr = s.frame
        if fr is not None and (abs(fr.width - img.width) > 0.5 or abs(fr.height - img.height) > 0.5):
            s2 = FrameTransform.letterbox(img.frame, fr).inverse().scanpath(s, img.frame)
            mapped = True
        s2.stimulus = img.name
        s2.width, s2.height = float(img.width), float(img.height)
        out.append(s2)
    if mapped:
        notes.append("fixations recorded on a display of another size were mapped into the image (letterbox)")
    return HumanMatch(out, notes)


# --------------------------------------------------------------------------------------------- scores
def metric_names() -> list[str]:
    """Scanpath metrics the ``gazekit score`` code path offers ([] when metrics are not installed)."""
    mod = _optional("metrics")
    return list(getattr(mod, "SCANPATH_METRICS", ()) or ()) if mod is not None else []


def default_metrics(names: Sequence[str]) -> list[str]:
    """A few cheap, common metrics to preselect."""
    chosen = [m for m in _PREFERRED_METRICS if m in names][:3]
    return chosen or list(names[:2])


@dataclass(frozen=True)
class ScoreRow:
    """Prediction-vs-human score of one metric, and the human ceiling (leave-one-subject-out) when known.

    ``note`` says why a metric has no value (e.g. it needs object indices the data does not have).
    """

    metric: str
    mean: float = float("nan")
    std: float = float("nan")
    n: int = 0
    human_mean: float | None = None
    human_std: float | None = None
    human_n: int | None = None
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        def fmt(m: float | None, s: float | None, n: int | None) -> str:
            if m is None or not np.isfinite(m):
                return "—"
            if s is None or not np.isfinite(s) or (n or 0) < 2:
                return f"{m:.3f} (n={n})"
            return f"{m:.3f} ± {s:.3f} (n={n})"

        return {
            "metric": self.metric,
            "model vs humans": fmt(self.mean, self.std, self.n),
            "human consistency": fmt(self.human_mean, self.human_std, self.human_n),
            "note": self.note,
        }


def _summary(v: Any) -> tuple[float, float, int]:
    if isinstance(v, dict):
        return float(v.get("mean", np.nan)), float(v.get("std", np.nan)), int(v.get("n", 0))
    if isinstance(v, int | float):
        return float(v), float("nan"), 1
    return float(v.mean), float(getattr(v, "std", np.nan)), int(getattr(v, "n", 0))


def score(predictions: Sequence[Scanpath], humans: Sequence[Scanpath], metrics: Sequence[str]) -> list[ScoreRow]:
    """Score predictions against humans with ``metrics`` (the ``gazekit score`` path), plus the human ceiling.

    All scanpaths must be on the same image (as :func:`match_humans` leaves them); they are given one
    stimulus/task key so the metrics pair every prediction with every human. Metrics are computed one at a
    time, so one that does not apply to this data (object indices, target boxes) gets a note instead of
    failing the others. The ceiling (leave-one-subject-out) needs at least two subjects. With several
    predictions (samples) and a ceiling, each pair metric also gets the distribution protocol's rows
    (``kl_*``, ``rss_*``, ``dss_*``; :func:`gazekit.metrics.score_distribution`).
    """
    if not metrics:
        raise DataFormatError("choose at least one metric")
    if not predictions or not humans:
        raise DataFormatError("scoring needs at least one predicted and one human scanpath")
    mod = _need("metrics")
    stim = predictions[0].stimulus
    task = predictions[0].task

    def same_key(sps: Sequence[Scanpath]) -> list[Scanpath]:
        return [dataclasses.replace(s, stimulus=stim, task=task, meta=dict(s.meta)) for s in sps]

    preds, hums = same_key(predictions), same_key(humans)
    fr = predictions[0].frame
    kw: dict[str, Any] = {"stimuli_sizes": {stim: (fr.width, fr.height)}} if fr is not None else {}
    with_ceiling = len(hums) >= 2 and len({h.subject for h in hums}) >= 2
    rows: list[ScoreRow] = []
    for m in metrics:
        try:
            model = mod.score_scanpaths(preds, hums, [m], **kw)
            ceiling = mod.human_consistency(hums, [m], **kw) if with_ceiling else {}
        except GazekitError as e:
            rows.append(ScoreRow(m, note=f"not applicable: {e}"))
            continue
        for key, val in model.items():  # multimatch expands into its mm_* dimensions
            mean, std, n = _summary(val)
            if key in ceiling:
                hm, hs, hn = _summary(ceiling[key])
                rows.append(ScoreRow(key, mean, std, n, hm, hs, hn))
            else:
                rows.append(ScoreRow(key, mean, std, n))
        if len(preds) >= 2 and with_ceiling and getattr(mod.METRICS.get(m), "kind", None) == "pair":
            rows += _distribution_rows(mod, preds, hums, m, kw)
    return rows


_DIST_NOTES = {
    "kl": "distribution protocol: KL(human-human || model-human) of the pooled scores; lower is better",
    "rss": "RSS: share of human scanpaths matched by a sample above the human-human mean",
    "dss": "DSS: model-human / (1 + |model-model - human-human|)",
}


def _distribution_rows(
    mod: ModuleType, preds: list[Scanpath], hums: list[Scanpath], m: str, kw: dict
) -> list[ScoreRow]:
    """The distribution protocol's rows for one pair metric when several samples are scored."""
    try:
        dist = mod.score_distribution(preds, hums, [m], **kw)
    except GazekitError as e:
        return [ScoreRow(f"kl_{m}", note=f"distribution protocol not applicable: {e}")]
    return [
        ScoreRow(k, float(v.mean), float("nan"), int(v.n), note=_DIST_NOTES[k.split("_", 1)[0]])
        for k, v in dist.items()
        if k.split("_", 1)[0] in _DIST_NOTES
    ]


# --------------------------------------------------------------------------------------------- downloads
def predictions_csv(scanpaths: Sequence[Scanpath]) -> bytes:
    """Predictions as a gazekit scanpath CSV."""
    from gazekit.datasets.scanpath_csv import scanpaths_to_csv_text

    return scanpaths_to_csv_text(scanpaths).encode("utf-8")


def predictions_json(scanpaths: Sequence[Scanpath]) -> bytes:
    """Predictions as COCO-Search18 fixation JSON (coordinates in the image frame)."""
    from gazekit.datasets.coco_search18 import scanpath_to_record

    return json.dumps([scanpath_to_record(s) for s in scanpaths], indent=1).encode("utf-8")


def gaze_json(img: ImageInput, gaze_maps: Sequence[GazeMap]) -> bytes:
    """Gaze predictions as JSON: image, size, and per head its box, point and in-frame probability."""
    recs = []
    for gm in gaze_maps:
        rec: dict[str, Any] = {
            "head_box": [round(float(v), 2) for v in gm.head_box],
            "point": [round(float(v), 2) for v in gm.point],
            "inout": round(float(gm.inout), 4),
        }
        if gm.category is not None:
            rec["category"] = gm.category
        recs.append(rec)
    return json.dumps({"image": img.name, "width": img.width, "height": img.height, "people": recs}, indent=1).encode()


def weights_hint(exc: BaseException) -> str:
    """The page's message for a model that could not be loaded."""
    if isinstance(exc, WeightsNotFoundError):
        return f"Trained weights not found. {exc}"
    return str(exc)
