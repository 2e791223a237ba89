"""COCO-Search18 / COCO-FreeView fixation JSON (Yang et al., CVPR 2020) <-> :class:`~gazekit.types.Scanpath`.

A file is a JSON list of records with ``name``, ``subject``, ``task``, ``condition``, ``bbox`` [x, y, w, h],
``X``, ``Y`` (display px, 1680x1050), ``T`` (ms), ``length``, ``correct``, ``RT``, ``split``. FreeView records
have no task/condition/bbox. Coordinates stay in the 1680x1050 display frame (``width``/``height`` set), with
the initial centre fixation included, as in the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gazekit.errors import DataFormatError
from gazekit.types import Scanpath

__all__ = [
    "DISPLAY_HEIGHT",
    "DISPLAY_WIDTH",
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


def scanpath_from_record(rec: Any, *, path: str = "<json>", index: int = 0) -> Scanpath:
    """Turn one COCO-Search18 record into a Scanpath (errors name the file, record and field)."""
    if not isinstance(rec, dict):
        raise DataFormatError(f"expected an object, got {type(rec).__name__}", path=path, record=index)
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise DataFormatError("missing or empty image name", path=path, record=index, field="name")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise DataFormatError(
            f"image name must be a bare file name, got {name!r}", path=path, record=index, field="name"
        )
    x = _numbers(rec, "X", path=path, index=index)
    y = _numbers(rec, "Y", path=path, index=index)
    t = _numbers(rec, "T", path=path, index=index) if "T" in rec else np.full(len(x), np.nan)
    if not (len(x) == len(y) == len(t)):
        raise DataFormatError(
            f"X, Y and T lengths differ ({len(x)}, {len(y)}, {len(t)})", path=path, record=index, field="X/Y/T"
        )
    if "length" in rec and rec["length"] is not None:
        length = rec["length"]
        if not isinstance(length, int | float) or int(length) != len(x):
            raise DataFormatError(
                f"length is {length!r} but X has {len(x)} fixations", path=path, record=index, field="length"
            )
    if np.any(t < 0):
        raise DataFormatError("negative fixation duration", path=path, record=index, field="T")
    meta: dict[str, Any] = {"record": index}
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
    return Scanpath(
        x,
        y,
        t,
        stimulus=name,
        subject=None if subject is None else str(subject),
        task=rec.get("task"),
        condition=rec.get("condition"),
        found=found,
        width=DISPLAY_WIDTH,
        height=DISPLAY_HEIGHT,
        meta=meta,
    )


def parse_coco_search18(data: Any, path: str = "<json>") -> list[Scanpath]:
    """Convert already-decoded JSON (a list of records) to scanpaths."""
    if not isinstance(data, list):
        raise DataFormatError(f"expected a JSON list of records, got {type(data).__name__}", path=path)
    return [scanpath_from_record(r, path=path, index=i) for i, r in enumerate(data)]


def read_coco_search18_json(path: str | Path) -> list[Scanpath]:
    """Read a COCO-Search18 / COCO-FreeView fixation file."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DataFormatError("file not found", path=p) from None
    except json.JSONDecodeError as e:
        raise DataFormatError(
            f"invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})", path=p, line=e.lineno
        ) from None
    except UnicodeDecodeError as e:
        raise DataFormatError(f"not UTF-8 text ({e.reason})", path=p) from None
    except OSError as e:
        raise DataFormatError(f"cannot read ({e.strerror})", path=p) from None
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
    if sp.found is not None:
        rec["correct"] = int(sp.found)
    for k in ("RT", "split"):
        if k in sp.meta:
            rec[k] = sp.meta[k]
    return rec


def write_coco_search18_json(path: str | Path, scanpaths: Iterable[Scanpath]) -> None:
    """Write scanpaths as a COCO-Search18 fixation JSON (atomically)."""
    from gazekit.io import atomic_write_text

    atomic_write_text(path, json.dumps([scanpath_to_record(s) for s in scanpaths]))
