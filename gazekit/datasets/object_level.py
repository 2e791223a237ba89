"""The object-level view of search data: display items as boxes with categories, fixations as item indices.

Object-level models (OAT and friends) do not look at pixels: they see a list of display items (an
:class:`~gazekit.types.ObjectBox` each, with category and confidence), the target (category and, for
evaluation, its box) and a scanpath whose ``objects`` array gives the fixated item per fixation
(``-1`` = background). This module builds that view from

* COCO-Search18 fixations + the YOLO detections file format (``detections/<task>.csv``) or COCO instance
  annotations (:func:`coco_annotation_objects`), and
* the Amazon book-cover collages (STI ``Amazon.json``) on OAT's 6 x 14 grid of 84 covers.

Fixation -> object rule (:func:`gazekit.types.assign_fixations_to_objects`, ``rule="radius"``): a fixation inside one or more boxes
(edges included) goes to the smallest of them; otherwise to the object with the nearest centre if that
centre lies within ``radius`` px; otherwise to the background (-1). ``radius=inf`` is OAT's rule
("the cover that contains it, or else the nearest cover centre").

Target object of a COCO-Search18 target-present trial: the detection of the target category
that best overlaps (IoU) the annotated target box. When no detection of that category overlaps it
(the detector missed the target), **the annotated box itself is added as an extra object** with the
target category, made indistinguishable from a detection: its confidence is drawn from the detector's
confidences for that category (seeded by image and task), its attributes are a detection's, and it is
inserted at a seeded random position of the object list (earlier versions appended it last with
confidence 1.0, which no detection reaches: that identified the target even without its location).
Only ``stimulus.meta["target_from_annotation"]`` records the imputation, so experiments can report the
missed-target trials separately. Every TP trial then has exactly one target object. Its index is in
``stimulus.meta["target_index"]`` (and :attr:`ObjectTrial.target_index`); the object also carries
``attributes["is_target"] = True`` (ground truth: on detected and imputed targets alike, read by no model). Target-absent trials have no target object
(``target_index`` is None) and a target without a box.
"""

from __future__ import annotations

import ast
import math
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gazekit.datasets._common import as_points, check_errors_arg, csv_rows, finite, load_json, read_text, safe_relpath
from gazekit.datasets.coco_search18 import DISPLAY_HEIGHT, DISPLAY_WIDTH, image_id, read_coco_search18_json
from gazekit.errors import DataFormatError
from gazekit.types import (
    Frame,
    FrameTransform,
    ObjectBox,
    Scanpath,
    Stimulus,
    Target,
    assign_fixations_to_objects,
    box_iou,
)

__all__ = [
    "AMAZON_GRID",
    "DEFAULT_RADIUS",
    "DETECTOR_ALIASES",
    "parse_detection_text",
    "ObjectTrial",
    "ObjectTrials",
    "amazon_object_trials",
    "canonical_category",
    "coco_annotation_objects",
    "coco_search18_object_trials",
    "detector_confidences",
    "grid_objects",
    "match_target_object",
    "read_detections",
    "task_from_detection_file",
]

#: Default fixation-to-object radius for COCO-Search18 (display px of the 1680x1050 frame). A choice,
#: not a published constant: about 3% of the display width.
DEFAULT_RADIUS = 50.0

#: OAT's layout of an Amazon collage: 6 rows x 14 columns of covers.
AMAZON_GRID = (6, 14)

#: Detector (VOC-style YOLO) class names -> the COCO names COCO-Search18 uses for its tasks.
DETECTOR_ALIASES = {
    "tvmonitor": "tv",
    "pottedplant": "potted plant",
    "diningtable": "dining table",
    "aeroplane": "airplane",
    "motorbike": "motorcycle",
    "sofa": "couch",
    "stopsign": "stop sign",
    "cellphone": "cell phone",
    "firehydrant": "fire hydrant",
    "parkingmeter": "parking meter",
    "sportsball": "sports ball",
    "teddybear": "teddy bear",
    "hotdog": "hot dog",
    "trafficlight": "traffic light",
    "wineglass": "wine glass",
}

_MAX_DETECTIONS_FIELD = 1_000_000  # characters; a detections cell longer than this is refused


def canonical_category(name: str) -> str:
    """COCO-style category name for a detector class or a task name (``tvmonitor`` -> ``tv``)."""
    n = " ".join(name.strip().lower().replace("_", " ").split())
    return DETECTOR_ALIASES.get(n.replace(" ", ""), n)


# --------------------------------------------------------------------------------------------- records
@dataclass
class ObjectTrial:
    """One search trial in the object-level view.

    ``stimulus.objects`` are the display items, ``stimulus.target`` the target (category + box, box None
    for target-absent), ``scanpath.objects`` the fixated item index per fixation (-1 = background).
    Trials of the same (image, task) share one :class:`Stimulus` instance.
    """

    stimulus: Stimulus
    scanpath: Scanpath

    @property
    def target_index(self) -> int | None:
        """Index of the target object in ``stimulus.objects`` (None when the target is absent)."""
        v = self.stimulus.meta.get("target_index")
        return None if v is None else int(v)


class ObjectTrials(list):
    """A list of :class:`ObjectTrial` that also reports what was skipped while building it.

    Attributes:
        skipped: number of scanpaths left out.
        skipped_keys: the distinct (image, task) pairs left out (e.g. images without detections).
    """

    def __init__(self, items: Iterable[ObjectTrial] = (), skipped: int = 0, skipped_keys: Sequence = ()) -> None:
        super().__init__(items)
        self.skipped = skipped
        self.skipped_keys = list(skipped_keys)


# --------------------------------------------------------------------------------------------- assignment
def match_target_object(objects: Sequence[ObjectBox], category: str, box: Sequence[float]) -> int | None:
    """Index of the object of ``category`` best overlapping ``box`` (IoU > 0), or None."""
    cat = canonical_category(category)
    best, best_iou = None, 0.0
    for i, o in enumerate(objects):
        if canonical_category(o.category) != cat:
            continue
        iou = box_iou(o.xywh, box)
        if iou > best_iou:
            best, best_iou = i, iou
    return best


# --------------------------------------------------------------------------------------------- detections
def task_from_detection_file(path: str | Path) -> str:
    """The COCO-Search18 task of a detections file: ``stop_sign.csv`` -> ``stop sign``.

    The potted-plant file of the published set is named ``plotted_plant.csv`` (sic); it maps to
    ``potted plant``.
    """
    stem = Path(path).stem
    if stem.lower() == "plotted_plant":
        return "potted plant"
    return stem.replace("_", " ")


def _parse_detection(item: Any, *, path: str, line: int, k: int, frame: tuple[float, float] | None) -> ObjectBox:
    field = f"detections[{k}]"
    if not isinstance(item, list | tuple) or len(item) != 6:
        raise DataFormatError(
            "expected [class, confidence_percent, x_max, x_min, y_max, y_min]", path=path, line=line, field=field
        )
    cls, conf, x_max, x_min, y_max, y_min = item
    if not isinstance(cls, str) or not cls.strip():
        raise DataFormatError(
            f"class name must be a non-empty string, got {cls!r}"[:200], path=path, line=line, field=field
        )
    vals = []
    for name, v in (("confidence", conf), ("x_max", x_max), ("x_min", x_min), ("y_max", y_max), ("y_min", y_min)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise DataFormatError(f"{name} must be a finite number, got {v!r}"[:200], path=path, line=line, field=field)
        vals.append(float(v))
    conf_f, x2, x1, y2, y1 = vals
    if not 0.0 <= conf_f <= 100.0:
        raise DataFormatError(
            f"confidence must be a percentage in [0, 100], got {conf_f}", path=path, line=line, field=field
        )
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    if frame is not None:  # detector boxes spill a few px over the display edge: clip them to it
        x1, x2 = min(max(x1, 0.0), frame[0]), min(max(x2, 0.0), frame[0])
        y1, y2 = min(max(y1, 0.0), frame[1]), min(max(y2, 0.0), frame[1])
    return ObjectBox(
        x1,
        y1,
        x2 - x1,
        y2 - y1,
        category=canonical_category(cls),
        confidence=conf_f / 100.0,
        attributes={"source": "detector", "detector_class": cls},
    )


def _read_detection_file(path: Path, task: str, out: dict, frame: tuple[float, float] | None, errors: str) -> None:
    parse_detection_text(read_text(path), str(path), task, out, frame=frame, errors=errors)


def parse_detection_text(
    text: str,
    p: str,
    task: str,
    out: dict[tuple[str, str], list[ObjectBox]],
    *,
    frame: tuple[float, float] | None = (1680.0, 1050.0),
    errors: str = "raise",
) -> dict[tuple[str, str], list[ObjectBox]]:
    """Parse the text of one COCO-Search18 detections CSV (named ``p`` in errors) into ``out``; returns it.

    The format and ``frame`` are those of :func:`read_detections` (used for uploads, which have no path).
    """
    for line, row in csv_rows(text, p):
        try:
            if len(row) != 2:
                raise DataFormatError(
                    f"expected 2 columns (image name, detections list), got {len(row)}", path=p, line=line
                )
            image = safe_relpath(row[0], path=p, line=line, field="image")
            cell = row[1].strip()
            if len(cell) > _MAX_DETECTIONS_FIELD:
                raise DataFormatError("detections field too long", path=p, line=line, field="detections")
            try:
                with warnings.catch_warnings():  # malformed literals may warn before they fail
                    warnings.simplefilter("ignore")
                    items = ast.literal_eval(cell)  # literals only: never executes or unpickles anything
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                raise DataFormatError(
                    "detections must be a Python-literal list of [class, conf, x_max, x_min, y_max, y_min]",
                    path=p,
                    line=line,
                    field="detections",
                ) from None
            if not isinstance(items, list):
                raise DataFormatError(
                    f"detections must be a list, got {type(items).__name__}", path=p, line=line, field="detections"
                )
            boxes = [_parse_detection(it, path=p, line=line, k=k, frame=frame) for k, it in enumerate(items)]
        except DataFormatError:
            if errors == "raise":
                raise
            continue
        key = (image, task)
        if key in out:
            out[key].extend(boxes)
        else:
            out[key] = boxes
    return out


def read_detections(
    path_or_dir: str | Path,
    *,
    task: str | None = None,
    frame: tuple[float, float] | None = (1680.0, 1050.0),
    errors: str = "raise",
) -> dict[tuple[str, str], list[ObjectBox]]:
    """Read COCO-Search18 detection files into ``{(image, task): [ObjectBox, ...]}``.

    Args:
        path_or_dir: one ``<task>.csv`` or a folder of them. Each file has no header and two columns:
            the image file name and a Python-literal list of ``[class, confidence_percent, x_max, x_min,
            y_max, y_min]`` in display px. Parsed with :func:`ast.literal_eval` (literals only).
        task: the task of a single file (default: from the file name, ``stop_sign.csv`` -> ``stop sign``).
        frame: clip boxes to this ``(width, height)`` (the 1680x1050 display); None keeps them as written.
        errors: ``"raise"`` (default) or ``"skip"`` malformed lines.

    Boxes become ``ObjectBox(x_min, y_min, w, h)`` with the COCO category name (``tvmonitor`` -> ``tv``, see
    :data:`DETECTOR_ALIASES`), ``confidence`` in [0, 1], and ``attributes["detector_class"]`` the raw name.
    Reversed corners are swapped. An image listed twice in one file gets the union of its detections.
    """

    check_errors_arg(errors)
    p = Path(path_or_dir)
    out: dict[tuple[str, str], list[ObjectBox]] = {}
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv" and f.is_file())
        if not files:
            raise DataFormatError("no detection .csv files in this folder", path=p)
        if task is not None:
            raise DataFormatError("task= applies to a single detections file, not a folder", path=p)
        for f in files:
            _read_detection_file(f, canonical_category(task_from_detection_file(f)), out, frame, errors)
    else:
        t = task if task is not None else task_from_detection_file(p)
        _read_detection_file(p, canonical_category(t), out, frame, errors)
    return out


def _is_id(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def coco_annotation_objects(
    instances_json: str | Path | dict,
    pairs: Iterable[tuple[str, str]] | Iterable[Scanpath],
    *,
    display: tuple[float, float] = (1680.0, 1050.0),
) -> dict[tuple[str, str], list[ObjectBox]]:
    """Objects from COCO instance annotations instead of a detector, in COCO-Search18's display frame.

    Args:
        instances_json: a COCO annotation file (``instances_train2014.json`` ...) or its decoded dict.
        pairs: the (image name, task) pairs to build (or scanpaths, whose ``stimulus``/``task`` are used).
            Images are matched by COCO id (``000000211326.jpg`` and ``COCO_train2014_000000211326.jpg`` alike).
        display: the display the images were letterboxed into (aspect kept, centred, zero padding).

    Returns the same mapping as :func:`read_detections` (confidence 1.0, ``attributes["source"] ==
    "annotation"``, ``attributes["iscrowd"]``); images missing from the annotation file are left out.
    """

    path = "<dict>" if isinstance(instances_json, dict) else str(instances_json)
    data = instances_json if isinstance(instances_json, dict) else load_json(instances_json)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise DataFormatError("expected a COCO annotation object with images, annotations and categories", path=path)
    cats = {}
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise DataFormatError("category without a name", path=path, record=i, field="categories")
        if not _is_id(c.get("id")):
            raise DataFormatError("category id must be an integer", path=path, record=i, field="categories.id")
        cats[c["id"]] = c["name"]
    want: dict[int, list[tuple[str, str]]] = {}
    for pr in pairs:
        name, task = (pr.stimulus, pr.task) if isinstance(pr, Scanpath) else pr
        if task is None:
            continue
        want.setdefault(image_id(name), []).append((name, canonical_category(task)))
    sizes = {}
    for i, im in enumerate(data["images"]):
        if isinstance(im, dict) and _is_id(im.get("id")) and im["id"] in want:
            w = finite(im.get("width"), path=path, record=i, field="images.width", min_value=1.0)
            h = finite(im.get("height"), path=path, record=i, field="images.height", min_value=1.0)
            sizes[im["id"]] = FrameTransform.letterbox(Frame(w, h), Frame(*display))
    boxes: dict[int, list[ObjectBox]] = {k: [] for k in sizes}
    for i, a in enumerate(data["annotations"]):
        if not isinstance(a, dict) or not _is_id(a.get("image_id")) or a["image_id"] not in sizes:
            continue
        bb = a.get("bbox")
        if not isinstance(bb, list) or len(bb) != 4:
            raise DataFormatError("bbox must be [x, y, w, h]", path=path, record=i, field="annotations.bbox")
        vals = [finite(v, path=path, record=i, field="annotations.bbox") for v in bb]
        if not _is_id(a.get("category_id")) or a["category_id"] not in cats:
            raise DataFormatError(
                f"unknown category id {a.get('category_id')!r}", path=path, record=i, field="category_id"
            )
        x, y, w, h = sizes[a["image_id"]].box_xywh(vals)
        boxes[a["image_id"]].append(
            ObjectBox(
                x,
                y,
                max(w, 0.0),
                max(h, 0.0),
                canonical_category(cats[a["category_id"]]),
                1.0,
                {"source": "annotation", "iscrowd": bool(a.get("iscrowd", 0))},
            )  # fmt: skip
        )
    out: dict[tuple[str, str], list[ObjectBox]] = {}
    for iid, keys in want.items():
        if iid in boxes:
            for k in keys:
                out[k] = [
                    ObjectBox(o.x, o.y, o.w, o.h, o.category, o.confidence, dict(o.attributes)) for o in boxes[iid]
                ]
    return out


# --------------------------------------------------------------------------------------------- COCO-Search18
def detector_confidences(dets: dict[tuple[str, str], list[ObjectBox]]) -> dict[str, np.ndarray]:
    """``{category: [n] sorted confidences}`` of every detection in ``dets`` (the pool an imputed target
    box draws its confidence from), plus ``""`` = all detections."""
    pool: dict[str, list[float]] = {"": []}
    for objs in dets.values():
        for o in objs:
            pool.setdefault(o.category, []).append(float(o.confidence))
            pool[""].append(float(o.confidence))
    return {k: np.sort(np.asarray(v, dtype=float)) for k, v in pool.items()}


def _imputed_target(
    name: str, task: str, bbox: Sequence[float], n: int, pool: dict[str, np.ndarray]
) -> tuple[ObjectBox, int]:
    """The annotated box as a detection the detector missed, and where it goes in the object list.

    Nothing singles it out: its confidence is drawn from the detector's confidences for the category
    (all detections when the category has none; 1.0 only if no detection exists at all), its attributes
    are a detection's, and its list position is drawn uniformly; all seeded by (image, task)."""
    cat = canonical_category(task)
    rng = np.random.default_rng(zlib.crc32(f"{name}|{cat}".encode()))
    confs = pool.get(cat)
    if confs is None or not confs.size:
        confs = pool.get("", np.zeros(0))
    conf = float(rng.choice(confs)) if confs.size else 1.0
    detector_class = next((k for k, v in DETECTOR_ALIASES.items() if v == cat), cat.replace(" ", ""))
    box = ObjectBox(
        *bbox, category=cat, confidence=conf, attributes={"source": "detector", "detector_class": detector_class}
    )
    return box, int(rng.integers(0, n + 1))


def _coco_stimulus(
    name: str,
    task: str,
    dets: Sequence[ObjectBox],
    bbox: Sequence[float] | None,
    width: int,
    height: int,
    pool: dict[str, np.ndarray] | None = None,
) -> Stimulus:
    objects = [ObjectBox(o.x, o.y, o.w, o.h, o.category, o.confidence, dict(o.attributes)) for o in dets]
    meta: dict[str, Any] = {"task": task, "target_index": None}
    if bbox is not None:
        ti = match_target_object(objects, task, bbox)
        if ti is None:
            box, ti = _imputed_target(name, task, bbox, len(objects), pool or detector_confidences({("", ""): dets}))
            objects.insert(ti, box)
            meta["target_from_annotation"] = True
        else:
            meta["target_from_annotation"] = False
        objects[ti].attributes["is_target"] = True
        meta["target_index"] = ti
    target = Target(category=task, box=None if bbox is None else tuple(float(v) for v in bbox))
    return Stimulus(name=name, width=width, height=height, objects=objects, target=target, meta=meta)


def coco_search18_object_trials(
    fixations_json: str | Path | Sequence[Scanpath],
    detections_dir: str | Path | dict[tuple[str, str], list[ObjectBox]],
    radius: float = DEFAULT_RADIUS,
    *,
    warn_skipped: bool = False,
) -> ObjectTrials:
    """COCO-Search18 trials (TP and TA) in the object-level view.

    Args:
        fixations_json: a COCO-Search18 fixation JSON (or scanpaths already read from one; they must be in
            the 1680x1050 display frame the detections use).
        detections_dir: the detections folder/file (see :func:`read_detections`) or its already-read dict.
        radius: fixation -> object radius in display px (:func:`gazekit.types.assign_fixations_to_objects`, ``rule="radius"``).
        warn_skipped: emit a warning with the number of skipped scanpaths.

    Returns:
        :class:`ObjectTrials`; scanpaths whose (image, task) has no detections entry are skipped and counted
        in ``.skipped`` / ``.skipped_keys``. See the module docstring for how the target object is chosen.
    """

    if isinstance(fixations_json, str | Path):
        scanpaths = read_coco_search18_json(fixations_json)
    else:
        scanpaths = list(fixations_json)
    dets = detections_dir if isinstance(detections_dir, dict) else read_detections(detections_dir)
    pool = detector_confidences(dets)
    stim_cache: dict[tuple[str, str, tuple | None], Stimulus] = {}
    trials: list[ObjectTrial] = []
    skipped = 0
    skipped_keys: dict[tuple[str, str], None] = {}
    for sp in scanpaths:
        if not isinstance(sp.task, str) or not sp.task.strip():
            raise DataFormatError(
                "record has no task (COCO-FreeView?); the object-level view needs a search target",
                path=str(fixations_json) if isinstance(fixations_json, str | Path) else None,
                record=sp.meta.get("record"),
                field="task",
            )
        task = canonical_category(sp.task)
        key = (sp.stimulus, task)
        if key not in dets:
            skipped += 1
            skipped_keys[key] = None
            continue
        bbox = sp.meta.get("bbox") if sp.condition != "absent" else None
        skey = (sp.stimulus, task, None if bbox is None else tuple(bbox))
        stim = stim_cache.get(skey)
        if stim is None:
            w = int(sp.width) if sp.width else DISPLAY_WIDTH
            h = int(sp.height) if sp.height else DISPLAY_HEIGHT
            stim = stim_cache[skey] = _coco_stimulus(sp.stimulus, sp.task, dets[key], bbox, w, h, pool)
        out = Scanpath(
            sp.x,
            sp.y,
            sp.duration,
            stimulus=sp.stimulus,
            subject=sp.subject,
            task=sp.task,
            condition=sp.condition,
            found=sp.found,
            width=sp.width,
            height=sp.height,
            objects=assign_fixations_to_objects(sp.x, sp.y, stim.objects, rule="radius", radius=radius),
            meta=dict(sp.meta),
        )
        trials.append(ObjectTrial(stim, out))
    if warn_skipped and skipped:
        warnings.warn(
            f"{skipped} scanpaths on {len(skipped_keys)} image-task pairs have no detections and were skipped",
            stacklevel=2,
        )
    return ObjectTrials(trials, skipped, list(skipped_keys))


# --------------------------------------------------------------------------------------------- Amazon covers
def grid_objects(
    width: float, height: float, rows: int, cols: int, category: str = "item", *, top: float = 0.0
) -> list[ObjectBox]:
    """``rows x cols`` equal cells tiling ``[0, width] x [top, height]``, row-major (top-left first)."""
    if rows <= 0 or cols <= 0:
        raise DataFormatError(f"grid must have positive rows and columns, got {rows}x{cols}")
    cw, ch = width / cols, (height - top) / rows
    return [
        ObjectBox(c * cw, top + r * ch, cw, ch, category=category, attributes={"row": r, "col": c})
        for r in range(rows)
        for c in range(cols)
    ]


def _amazon_box(gt: Any, *, path: str, record: int, name: str) -> tuple[float, float, float, float]:
    if isinstance(gt, list):
        if len(gt) != 1:
            raise DataFormatError(
                f"ground_truth must hold exactly one box, got {len(gt)}", path=path, record=record, field="ground_truth"
            )
        gt = gt[0]
    if not isinstance(gt, dict):
        raise DataFormatError(
            "ground_truth must be a {xmin, xmax, ymin, ymax} object", path=path, record=record, field="ground_truth"
        )

    try:
        v = {
            k: finite(gt[k], path=path, record=record, field=f"ground_truth.{k}", min_value=0.0)
            for k in ("xmin", "xmax", "ymin", "ymax")
        }
    except KeyError as e:
        raise DataFormatError(
            f"ground_truth lacks {e.args[0]!r}", path=path, record=record, field="ground_truth"
        ) from None
    x1, x2 = sorted((v["xmin"], v["xmax"]))
    y1, y2 = sorted((v["ymin"], v["ymax"]))
    return (x1, y1, x2 - x1, y2 - y1)


def amazon_object_trials(
    amazon_json: str | Path | dict, *, grid: tuple[int, int] = AMAZON_GRID, radius: float = math.inf
) -> ObjectTrials:
    """Amazon book-cover search trials (STI ``Amazon.json``) on OAT's 6 x 14 grid of 84 covers.

    The collage is tiled by ``grid`` (rows, columns) equal cells, numbered row-major from the top-left
    (OAT sorts its cover boxes the same way). OAT cuts its covers from per-collage binary masks, which
    are not public; the equal tiling is this loader's stand-in, and since cells tile the whole collage every
    fixation is "inside" exactly one cover, as in OAT's rule (contained, else nearest centre).

    Per collage: ``stimulus.objects`` = 84 covers with category ``"cover"``, except the target cell (the cell
    best overlapping the annotated ``ground_truth`` box, as OAT's ``find_best_matching_box_index``), whose
    category is the target's name (``target_0.jpg`` -> ``"target_0"``); ``stimulus.target`` =
    ``Target(category=that name, box=ground truth (x, y, w, h))``. One trial per participant: fixations in
    collage px, durations NaN (the file has none), ``subject`` = participant id, ``condition="present"``.
    """

    path = "<json>" if isinstance(amazon_json, dict) else str(amazon_json)
    data = amazon_json if isinstance(amazon_json, dict) else load_json(amazon_json)
    if not isinstance(data, dict):
        raise DataFormatError(f"expected a JSON object keyed by collage name, got {type(data).__name__}", path=path)
    rows, cols = grid
    trials: list[ObjectTrial] = []
    for rec_i, (name, rec) in enumerate(data.items()):
        name = safe_relpath(name, path=path, record=rec_i, field="name")
        if not isinstance(rec, dict):
            raise DataFormatError(f"expected an object, got {type(rec).__name__}", path=path, record=rec_i, field=name)
        size = rec.get("size")
        if not isinstance(size, dict):
            raise DataFormatError("missing size {width, height}", path=path, record=rec_i, field="size")
        w = finite(size.get("width"), path=path, record=rec_i, field="size.width")
        h = finite(size.get("height"), path=path, record=rec_i, field="size.height")
        if w < 1 or h < 1:
            raise DataFormatError(f"size must be positive, got {w}x{h}", path=path, record=rec_i, field="size")
        target_name = rec.get("target")
        if not isinstance(target_name, str) or not target_name.strip():
            raise DataFormatError("missing target image name", path=path, record=rec_i, field="target")
        target_cat = Path(target_name.strip()).stem
        box = _amazon_box(rec.get("ground_truth"), path=path, record=rec_i, name=name)
        objects = grid_objects(w, h, rows, cols, "cover")
        ti = max(range(len(objects)), key=lambda i: (box_iou(objects[i].xywh, box), -i))
        if box_iou(objects[ti].xywh, box) <= 0:
            raise DataFormatError(
                f"ground_truth box {box} lies outside the {w:g}x{h:g} collage",
                path=path,
                record=rec_i,
                field="ground_truth",
            )
        objects[ti].category = target_cat
        objects[ti].attributes["is_target"] = True
        stim = Stimulus(
            name=name,
            width=int(round(w)),
            height=int(round(h)),
            objects=objects,
            target=Target(category=target_cat, box=box),
            meta={
                "task": target_cat,
                "target_index": ti,
                "target_image": target_name,
                "grid": (rows, cols),
                "layout": Path(name).stem,
            },  # fmt: skip
        )
        fix = rec.get("fixations")
        if not isinstance(fix, dict) or not fix:
            raise DataFormatError(
                "fixations must be a non-empty {participant: [[x, y], ...]} object",
                path=path,
                record=rec_i,
                field="fixations",
            )
        for sub, pts in fix.items():
            field = f"fixations.{sub}"
            xy = as_points(pts, path=path, record=rec_i, field=field)
            if len(xy) == 0:
                raise DataFormatError("empty scanpath", path=path, record=rec_i, field=field)
            if np.any(xy < 0):
                raise DataFormatError("negative fixation coordinate", path=path, record=rec_i, field=field)
            sp = Scanpath(
                xy[:, 0],
                xy[:, 1],
                None,
                stimulus=name,
                subject=str(sub),
                task=target_cat,
                condition="present",
                width=stim.width,
                height=stim.height,
                objects=assign_fixations_to_objects(xy[:, 0], xy[:, 1], objects, rule="radius", radius=radius),
                meta={"record": rec_i, "layout": Path(name).stem},
            )
            trials.append(ObjectTrial(stim, sp))
    return ObjectTrials(trials)
