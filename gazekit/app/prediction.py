"""The viewer's models and predictions: registry rows, loading, scanpaths and gaze maps in the image frame."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazekit import heads
from gazekit.app.inputs import ImageInput, TaskSpec, validate_box
from gazekit.errors import DataFormatError, GazekitError, WeightsNotFoundError
from gazekit.models.registry import list_models, load_predictor
from gazekit.types import FrameTransform, GazeMap, Scanpath
from gazekit.weights import weights_in_use


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
    #: which weights it would load now (:func:`gazekit.weights.weights_in_use`; "" for baselines)
    weights: str = ""

    @property
    def needs_weights(self) -> bool:
        """Learned and no weights found (none shipped, none in ``$GAZEKIT_WEIGHTS_DIR`` or the hub cache)."""
        return self.trainable and (self.weights.startswith("needs weights") if self.weights else not self.bundled)

    @property
    def weights_kind(self) -> str | None:
        """``synthetic-data``, ``paper`` or ``user`` for a learned model with weights found, else None."""
        kind = self.weights.split(" ", 1)[0] if self.weights else ""
        return kind if kind in ("synthetic-data", "paper", "user") else None

    @property
    def label(self) -> str:
        if not self.available:
            return f"{self.name} (not installed)"
        if self.needs_weights:
            return f"{self.name} (needs weights)"
        return f"{self.name} ({self.weights_kind} weights)" if self.trainable and self.weights_kind else self.name

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
_TASK_KEYS = {"search": "search", "freeview": "freeview", "caption": "caption", "gaze": "gaze"}


def model_rows(task: str | None = None) -> list[ModelRow]:
    """Registered models (all of them, available or not) that serve ``task`` (search / freeview / caption / gaze)."""

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
                weights_in_use(s) if getattr(s, "trainable", False) else "",
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


def map_head_box(box: Sequence[float], tf: FrameTransform) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    (a, b), (c, d) = tf.points(np.array([x1, x2]), np.array([y1, y2]))
    return float(a), float(c), float(b), float(d)


def map_gaze(gm: GazeMap, tf: FrameTransform) -> GazeMap:
    (px,), (py,) = tf.points(np.array([gm.point[0]]), np.array([gm.point[1]]))
    return dataclasses.replace(
        gm, point=(float(px), float(py)), head_box=map_head_box(gm.head_box, tf), meta=dict(gm.meta)
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
            gm = model.predict_gaze(img.work, map_head_box(b, to_work))
            out.append(map_gaze(gm, img.to_full))
            if progress is not None:
                progress(i + 1, len(head_boxes))
    return out


def weights_note(model: Any) -> tuple[str, str | None]:
    """What the page says about a loaded model's weights: a caption, and a warning for synthetic-data weights
    (their predictions on a photo are not trained on real images)."""
    source = getattr(model, "weights_source", None)
    if source is None:
        return "No trained weights (a baseline).", None
    caption = {
        "synthetic-data": "Weights: synthetic-data (the checkpoint shipped with gazekit).",
        "paper": "Weights: the paper's released checkpoint.",
        "user": "Weights: your checkpoint.",
    }.get(source, f"Weights: {source}.")
    warn = None
    if source == "synthetic-data":
        warn = (
            "This model's weights are trained only on gazekit's synthetic scenes, not on real images: on a photo "
            "its prediction shows what the model does, not where people look."
        )
    return caption, warn


def weights_hint(exc: BaseException) -> str:
    """The page's message for a model that could not be loaded."""
    if isinstance(exc, WeightsNotFoundError):
        return f"Trained weights not found. {exc}"
    return str(exc)
