"""COCO-Search18 / COCO-FreeView fixation JSON (Yang et al., CVPR 2020) <-> :class:`~gazekit.types.Scanpath`.

A file is a JSON list of records with ``name``, ``subject``, ``task``, ``condition``, ``bbox`` [x, y, w, h],
``X``, ``Y`` (display px, 1680x1050), ``T`` (ms), ``length``, ``correct``, ``RT``, ``split``. FreeView records
have no task/condition/bbox. Coordinates stay in the 1680x1050 display frame (``width``/``height`` set), with
the initial centre fixation included, as in the file.

On top of the raw reader (:func:`read_coco_search18_json`, which accepts any record that is well-formed),
:func:`read_coco_search18` / :func:`read_coco_freeview` apply the dataset's rules (18 known tasks,
present/absent, no empty scanpath) and can express scanpaths in the 512x320 model frame;
:class:`CocoSearch18Images` resolves images under an images root; :func:`split_scanpaths` gives split1/split2.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazekit.atomic import atomic_write_text
from gazekit.datasets._common import load_json, resolve_under
from gazekit.errors import ConfigError, DataFormatError
from gazekit.imageio import read_image
from gazekit.types import FRAME_SOURCE, Frame, FrameTransform, Scanpath, Stimulus, Target

__all__ = [
    "COCO_SEARCH18_TASKS",
    "DISPLAY_HEIGHT",
    "DISPLAY_WIDTH",
    "MODEL_HEIGHT",
    "MODEL_WIDTH",
    "CocoSearch18Images",
    "image_id",
    "read_coco_freeview",
    "read_coco_image_ids",
    "read_coco_search18",
    "split_scanpaths",
    "to_model_frame",
    "parse_coco_search18",
    "read_coco_search18_json",
    "scanpath_from_record",
    "scanpath_to_record",
    "write_coco_search18_json",
]

DISPLAY_WIDTH, DISPLAY_HEIGHT = 1680, 1050


def _numbers(rec: dict, key: str, *, path: str, index: int) -> np.ndarray:
    v = rec.get(key)
    if not isinstance(v, list):
        raise DataFormatError(f"expected a list of numbers, got {type(v).__name__}", path=path, record=index, field=key)
    try:
        a = np.array(v, dtype=float)
    except (TypeError, ValueError):
        raise DataFormatError("expected a list of numbers", path=path, record=index, field=key) from None
    if a.ndim != 1:
        raise DataFormatError("expected a flat list of numbers", path=path, record=index, field=key)
    if not np.all(np.isfinite(a)):
        raise DataFormatError("contains NaN or infinite values", path=path, record=index, field=key)
    return a


def _durations(rec: dict, *, path: str, index: int) -> np.ndarray:
    """``T`` in ms; ``null`` (or NaN) marks a duration that was not recorded, as gazekit writes it."""
    v = rec.get("T")
    if not isinstance(v, list):
        raise DataFormatError(f"expected a list of numbers, got {type(v).__name__}", path=path, record=index, field="T")
    try:
        a = np.array([math.nan if e is None else e for e in v], dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError("expected a list of numbers", path=path, record=index, field="T") from None
    if a.ndim != 1 or np.isinf(a).any():
        raise DataFormatError("expected a flat list of finite numbers", path=path, record=index, field="T")
    return a


def _frame_dim(rec: dict, key: str, default: int, *, path: str, index: int) -> float:
    """gazekit extension: records written in another frame than the 1680x1050 display carry width/height."""
    v = rec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise DataFormatError(f"{key} must be a positive number, got {v!r}", path=path, record=index, field=key)
    return v


def _record_fields(rec: dict, n: int, *, path: str, index: int) -> dict[str, Any]:
    """Everything of a record except the coordinate arrays (validated; errors name record and field)."""
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise DataFormatError("missing or empty image name", path=path, record=index, field="name")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise DataFormatError(
            f"image name must be a bare file name, got {name!r}", path=path, record=index, field="name"
        )
    if "length" in rec and rec["length"] is not None:
        length = rec["length"]
        if (
            isinstance(length, bool)
            or not isinstance(length, int | float)
            or not math.isfinite(length)
            or int(length) != n
        ):
            raise DataFormatError(
                f"length is {length!r} but X has {n} fixations", path=path, record=index, field="length"
            )
    meta: dict[str, Any] = {"record": index}
    if "width" not in rec or "height" not in rec:
        # The published COCO-Search18 files define the 1680x1050 display; a user's file may mean anything, so
        # the frame is marked as not written and gazekit.io.assign_frames asks the user (--human-frame).
        meta[FRAME_SOURCE] = "format-default"
    bbox = rec.get("bbox")
    if bbox is not None:
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise DataFormatError("bbox must be [x, y, w, h]", path=path, record=index, field="bbox")
        try:
            b = [float(v) for v in bbox]
        except (TypeError, ValueError):
            raise DataFormatError("bbox must hold numbers", path=path, record=index, field="bbox") from None
        if not all(math.isfinite(v) for v in b) or b[2] < 0 or b[3] < 0:
            raise DataFormatError(f"bad bbox {bbox}", path=path, record=index, field="bbox")
        meta["bbox"] = b
    for k in ("RT", "split"):
        if k in rec:
            meta[k] = rec[k]
    found = None
    if "correct" in rec and rec["correct"] is not None:
        if rec["correct"] not in (0, 1, True, False):
            raise DataFormatError(
                f"correct must be 0/1, got {rec['correct']!r}", path=path, record=index, field="correct"
            )
        found = bool(rec["correct"])
    subject = rec.get("subject")
    return {
        "stimulus": name,
        "subject": None if subject is None else str(subject),
        "task": rec.get("task"),
        "condition": rec.get("condition"),
        "found": found,
        "width": _frame_dim(rec, "width", DISPLAY_WIDTH, path=path, index=index),
        "height": _frame_dim(rec, "height", DISPLAY_HEIGHT, path=path, index=index),
        "meta": meta,
    }


def scanpath_from_record(rec: Any, *, path: str = "<json>", index: int = 0) -> Scanpath:
    """Turn one COCO-Search18 record into a Scanpath (errors name the file, record and field)."""
    if not isinstance(rec, dict):
        raise DataFormatError(f"expected an object, got {type(rec).__name__}", path=path, record=index)
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise DataFormatError("missing or empty image name", path=path, record=index, field="name")
    x = _numbers(rec, "X", path=path, index=index)
    y = _numbers(rec, "Y", path=path, index=index)
    t = _durations(rec, path=path, index=index) if "T" in rec else np.full(len(x), np.nan)
    if not (len(x) == len(y) == len(t)):
        raise DataFormatError(
            f"X, Y and T lengths differ ({len(x)}, {len(y)}, {len(t)})", path=path, record=index, field="X/Y/T"
        )
    if np.any(t < 0):
        raise DataFormatError("negative fixation duration", path=path, record=index, field="T")
    fields = _record_fields(rec, len(x), path=path, index=index)
    return Scanpath(x, y, t, **fields)


def _parse_fast(data: list, path: str) -> list[Scanpath] | None:
    """Bulk path for well-formed files: one numpy conversion for all coordinates instead of one per record.

    Returns None when anything is off, so that the per-record path produces the precise error.
    """
    flat_x: list = []
    flat_y: list = []
    flat_t: list = []
    lens: list[int] = []
    has_t: list[bool] = []
    for rec in data:
        if type(rec) is not dict:
            return None
        x, y = rec.get("X"), rec.get("Y")
        if type(x) is not list or type(y) is not list or len(x) != len(y):
            return None
        if "T" in rec:
            t = rec["T"]
            if type(t) is not list or len(t) != len(x):
                return None
            flat_t.extend(t)
            has_t.append(True)
        else:
            flat_t.extend([math.nan] * len(x))
            has_t.append(False)
        flat_x.extend(x)
        flat_y.extend(y)
        lens.append(len(x))
    try:
        xa = np.array(flat_x, dtype=float)
        ya = np.array(flat_y, dtype=float)
        ta = np.array(flat_t, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None
    if xa.ndim != 1 or ya.ndim != 1 or ta.ndim != 1 or xa.shape != ya.shape or ta.shape != xa.shape:
        return None
    if not (np.isfinite(xa).all() and np.isfinite(ya).all()) or np.any(ta < 0):
        return None
    t_ok = np.isfinite(ta)
    ends = np.cumsum(lens)
    out = []
    start = 0
    for i, (rec, end) in enumerate(zip(data, ends.tolist(), strict=True)):
        if has_t[i] and not t_ok[start:end].all():
            return None
        fields = _record_fields(rec, end - start, path=path, index=i)
        out.append(Scanpath(xa[start:end], ya[start:end], ta[start:end], **fields))
        start = end
    return out


def parse_coco_search18(data: Any, path: str = "<json>") -> list[Scanpath]:
    """Convert already-decoded JSON (a list of records) to scanpaths."""
    if not isinstance(data, list):
        raise DataFormatError(f"expected a JSON list of records, got {type(data).__name__}", path=path)
    fast = _parse_fast(data, path)
    if fast is not None:
        return fast
    return [scanpath_from_record(r, path=path, index=i) for i, r in enumerate(data)]


def read_coco_search18_json(path: str | Path) -> list[Scanpath]:
    """Read a COCO-Search18 / COCO-FreeView fixation file."""
    p = Path(path)
    data = load_json(p)
    return parse_coco_search18(data, str(p))


def _clean(v: float) -> float | int:
    return int(v) if float(v).is_integer() else float(v)


def scanpath_to_record(sp: Scanpath) -> dict[str, Any]:
    """One COCO-Search18 record for a scanpath (coordinates written in the scanpath's own frame)."""
    rec: dict[str, Any] = {"name": sp.stimulus}
    if sp.subject is not None:
        rec["subject"] = int(sp.subject) if sp.subject.isdigit() else sp.subject
    if sp.task is not None:
        rec["task"] = sp.task
    if sp.condition is not None:
        rec["condition"] = sp.condition
    if "bbox" in sp.meta:
        rec["bbox"] = [_clean(v) for v in sp.meta["bbox"]]
    rec["X"] = [_clean(v) for v in sp.x.tolist()]
    rec["Y"] = [_clean(v) for v in sp.y.tolist()]
    if not np.all(np.isnan(sp.duration)):
        rec["T"] = [None if math.isnan(v) else _clean(v) for v in sp.duration.tolist()]
    rec["length"] = len(sp)
    # gazekit writes every frame it knows (files are self-describing); a frame that was never written stays so
    if sp.width is not None and sp.height is not None and sp.meta.get(FRAME_SOURCE) != "format-default":
        rec["width"], rec["height"] = _clean(sp.width), _clean(sp.height)
    if sp.found is not None:
        rec["correct"] = int(sp.found)
    for k in ("RT", "split"):
        if k in sp.meta:
            rec[k] = sp.meta[k]
    return rec


def write_coco_search18_json(path: str | Path, scanpaths: Iterable[Scanpath]) -> None:
    """Write scanpaths as a COCO-Search18 fixation JSON (atomically)."""
    atomic_write_text(path, json.dumps([scanpath_to_record(s) for s in scanpaths]))


# --------------------------------------------------------------------------------------------- datasets
# The additions below turn the raw reader into the dataset: checked tasks, the two frames, COCO-FreeView,
# images from an images root, and the official splits.

#: The model frame of the IRL/HAT/Gazeformer preprocessing: 1680x1050 scaled by 1/3.28125 on both axes.
MODEL_WIDTH, MODEL_HEIGHT = 512, 320

#: The 18 target categories (COCO names; ``tv`` and ``potted plant`` as COCO-Search18 writes them).
COCO_SEARCH18_TASKS = (
    "bottle", "bowl", "car", "chair", "clock", "cup", "fork", "keyboard", "knife", "laptop", "microwave",
    "mouse", "oven", "potted plant", "sink", "stop sign", "toilet", "tv",
)  # fmt: skip

_FRAMES = {"display": (DISPLAY_WIDTH, DISPLAY_HEIGHT), "model": (MODEL_WIDTH, MODEL_HEIGHT)}


def _frame_size(frame: str) -> tuple[int, int]:
    if frame not in _FRAMES:
        raise ConfigError(f"frame must be 'display' (1680x1050) or 'model' (512x320), got {frame!r}")
    return _FRAMES[frame]


def to_model_frame(sp: Scanpath, *, force_initial_center: bool = True) -> Scanpath:
    """A display-frame (1680x1050) scanpath in the 512x320 model frame.

    ``force_initial_center`` sets the first fixation to exactly (256, 160), as the IRL/HAT preprocessing
    does; ``meta["initial_fixation_forced"]`` records it.
    """

    if sp.width is None or sp.height is None:
        raise DataFormatError(f"scanpath of {sp.stimulus!r} has no frame size; cannot convert")
    sx, sy = MODEL_WIDTH / sp.width, MODEL_HEIGHT / sp.height
    x, y = sp.x * sx, sp.y * sy
    meta = dict(sp.meta)
    if force_initial_center and len(x):
        x[0], y[0] = MODEL_WIDTH / 2.0, MODEL_HEIGHT / 2.0
        meta["initial_fixation_forced"] = True
    if "bbox" in meta:
        b = meta["bbox"]
        meta["bbox"] = [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]
    return dataclasses.replace(sp, x=x, y=y, width=float(MODEL_WIDTH), height=float(MODEL_HEIGHT), meta=meta)


def read_coco_search18(
    path: str | Path,
    *,
    frame: str = "display",
    force_initial_center: bool = False,
    condition: str | None = None,
    tasks: Iterable[str] | None = COCO_SEARCH18_TASKS,
    allow_empty: bool = False,
) -> list[Scanpath]:
    """Read a COCO-Search18 fixation file (TP or TA) with the dataset's checks.

    Args:
        path: e.g. ``coco_search18_fixations_TP_train_split1.json`` (or TA, valid, test).
        frame: ``"display"`` (1680x1050, as written) or ``"model"`` (512x320, see :func:`to_model_frame`).
        force_initial_center: in the model frame, put the first fixation at exactly (256, 160).
        condition: keep only ``"present"`` or ``"absent"`` records (None keeps all).
        tasks: allowed target categories (unknown ones are an error); None accepts any.
        allow_empty: accept records with no fixation (an error by default).

    Every record must have a ``task`` and a ``condition`` of ``present``/``absent``. Fixations outside the
    display are kept (the official files have a few), ``has_initial_fixation`` is set in ``meta``.
    """
    _frame_size(frame)
    p = str(path)
    allowed = None if tasks is None else set(tasks)
    out = []
    for sp in read_coco_search18_json(path):
        rec = sp.meta.get("record")
        if not isinstance(sp.task, str) or not sp.task:
            raise DataFormatError("missing task (target category)", path=p, record=rec, field="task")
        if allowed is not None and sp.task not in allowed:
            raise DataFormatError(
                f"unknown category {sp.task!r}; expected one of the 18 COCO-Search18 tasks",
                path=p,
                record=rec,
                field="task",
            )
        if sp.condition not in ("present", "absent"):
            raise DataFormatError(
                f"condition must be 'present' or 'absent', got {sp.condition!r}", path=p, record=rec, field="condition"
            )
        if sp.condition == "present" and "bbox" not in sp.meta:
            raise DataFormatError("target-present record without bbox", path=p, record=rec, field="bbox")
        if len(sp) == 0 and not allow_empty:
            raise DataFormatError("empty scanpath", path=p, record=rec, field="X")
        if condition is not None and sp.condition != condition:
            continue
        sp.meta["has_initial_fixation"] = True
        out.append(to_model_frame(sp, force_initial_center=force_initial_center) if frame == "model" else sp)
    return out


def read_coco_freeview(path: str | Path, *, frame: str = "display", allow_empty: bool = False) -> list[Scanpath]:
    """Read a COCO-FreeView fixation file (``COCOFreeView_fixations_trainval.json``): ``task`` None,
    ``condition="freeview"``. The test split was never released; records carry ``split`` train/valid."""
    _frame_size(frame)
    p = str(path)
    out = []
    for sp in read_coco_search18_json(path):
        if len(sp) == 0 and not allow_empty:
            raise DataFormatError("empty scanpath", path=p, record=sp.meta.get("record"), field="X")
        sp.task, sp.condition = None, "freeview"
        sp.meta["has_initial_fixation"] = True
        out.append(to_model_frame(sp, force_initial_center=False) if frame == "model" else sp)
    return out


class CocoSearch18Images:
    """Images of COCO-Search18 / COCO-FreeView under one root.

    Lookup order for an image ``name`` of task ``task``: ``root/<task>/<name>`` (the official image archives
    have one folder per category), ``root/<task with _>/<name>``, then ``root/<name>``. Names are checked so
    that nothing outside ``root`` can be reached. Images on disk may be the 1680x1050 display images or the
    original COCO images; the latter are letterboxed (aspect kept, centred, zero padding) into the display, as
    the experiment showed them. :meth:`load` returns the pixels in the requested frame.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def resolve(self, name: str, task: str | None = None) -> Path:

        cands = []
        if task:
            cands += [f"{task}/{name}", f"{task.replace(' ', '_')}/{name}"]
        cands.append(name)
        for rel in cands:
            full = resolve_under(self.root, rel, path=str(self.root), field="name")
            if full.is_file():
                return full
        raise DataFormatError(
            f"image {name!r} not found under {str(self.root)!r} (tried {', '.join(cands)})",
            path=self.root,
            field="name",
        )

    def stimulus(self, name: str, task: str | None = None, *, frame: str = "display"):  # noqa: ANN201
        """A :class:`~gazekit.types.Stimulus` of the image in ``frame`` (pixels loaded by :meth:`load`)."""

        w, h = _frame_size(frame)
        path = self.resolve(name, task)
        target = Target(category=task) if task else None
        return Stimulus(name=name, width=w, height=h, path=str(path), target=target, meta={"frame": frame})

    def load(self, name: str, task: str | None = None, *, frame: str = "display") -> np.ndarray:
        """``[H, W, 3]`` uint8 RGB of the image in ``frame`` (1680x1050 display or 512x320 model input)."""

        w, h = _frame_size(frame)
        img = read_image(self.resolve(name, task))
        ih, iw = img.shape[:2]
        if (iw, ih) != (DISPLAY_WIDTH, DISPLAY_HEIGHT):  # an original COCO image: place it as the display did
            tf = FrameTransform.letterbox(Frame(iw, ih), Frame(DISPLAY_WIDTH, DISPLAY_HEIGHT))
            nw, nh = round(iw * tf.scale_x), round(ih * tf.scale_y)
            canvas = np.zeros((DISPLAY_HEIGHT, DISPLAY_WIDTH, 3), np.uint8)
            ox, oy = int(round(tf.offset_x)), int(round(tf.offset_y))
            canvas[oy : oy + nh, ox : ox + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
            img = canvas
        if (w, h) != (DISPLAY_WIDTH, DISPLAY_HEIGHT):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img)


def image_id(name: str) -> int:
    """COCO image id of a file name (``000000211326.jpg`` -> 211326)."""
    stem = Path(name).stem.rsplit("_", 1)[-1]
    if not stem.isdigit():
        raise DataFormatError(f"not a COCO image file name: {name!r}", field="name")
    return int(stem)


def read_coco_image_ids(instances_json: str | Path) -> set[int]:
    """Image ids listed in a COCO annotation file (e.g. ``instances_train2014.json``: its ``images[*].id``)."""

    data = load_json(instances_json)
    imgs = data.get("images") if isinstance(data, dict) else None
    if not isinstance(imgs, list):
        raise DataFormatError(
            "expected a COCO annotation object with an 'images' list", path=instances_json, field="images"
        )
    out = set()
    for i, im in enumerate(imgs):
        if not isinstance(im, dict) or not isinstance(im.get("id"), int):
            raise DataFormatError("image entry without an integer id", path=instances_json, record=i, field="id")
        out.add(im["id"])
    return out


def split_scanpaths(
    scanpaths: Iterable[Scanpath],
    scheme: str = "split1",
    *,
    coco2014_train_ids: Iterable[int] | None = None,
) -> dict[str, list[Scanpath]]:
    """Group scanpaths into ``{"train", "valid", "test"}`` by an official split.

    * ``split1`` (the IRL paper's split): the ``split`` field of each record.
    * ``split2``: by COCO2014 membership of the image: test images stay test (they are the same in both
      splits); other images go to ``train`` if their id is in ``coco2014_train_ids`` (see
      :func:`read_coco_image_ids` on ``instances_train2014.json``), else to ``valid``.
    """
    out: dict[str, list[Scanpath]] = {"train": [], "valid": [], "test": []}
    if scheme not in ("split1", "split2"):
        raise ConfigError(f"scheme must be 'split1' or 'split2', got {scheme!r}")
    train_ids = None if coco2014_train_ids is None else set(coco2014_train_ids)
    if scheme == "split2" and train_ids is None:
        raise ConfigError("split2 needs coco2014_train_ids (the image ids of COCO2014 train)")
    for sp in scanpaths:
        s = sp.meta.get("split")
        if not isinstance(s, str):
            s = repr(s)
        if s == "val":
            s = "valid"
        if s not in out:
            raise DataFormatError(
                f"split must be train/valid/test, got {s!r}", record=sp.meta.get("record"), field="split"
            )
        if scheme == "split2" and s != "test":
            s = "train" if image_id(sp.stimulus) in train_ids else "valid"  # type: ignore[operator]
        out[s].append(sp)
    return out
