"""The gazekit scanpath CSV: one fixation per row, any number of scanpaths per file.

Columns (header required, order free, extra columns ignored)::

    stimulus,subject,task,condition,fixation,x,y,duration_ms

* ``stimulus``: image file name; ``subject``/``task``/``condition``: free text, may be empty
  (task = search target category for visual search; condition = present/absent/freeview).
* ``fixation``: 0-based index of the fixation within its scanpath; rows of one scanpath are consecutive
  and numbered 0, 1, 2, ...  A new scanpath starts when (stimulus, subject, task, condition) changes or
  the index restarts at 0.
* ``x``, ``y``: pixels of the stimulus (origin top-left); ``duration_ms``: milliseconds, empty = unknown.
* Optional: ``found`` (1/0/empty), ``width``, ``height`` (frame size in px), ``object`` (fixated object index),
  ``bbox_x,bbox_y,bbox_w,bbox_h`` (target box in px, repeated on every row of the scanpath).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gazekit.atomic import atomic_write_text
from gazekit.errors import DataFormatError
from gazekit.types import Scanpath, read_text_lines

__all__ = ["COLUMNS", "read_scanpath_csv", "scanpaths_to_csv_text", "write_scanpath_csv"]

COLUMNS = ("stimulus", "subject", "task", "condition", "fixation", "x", "y", "duration_ms")
_REQUIRED = ("stimulus", "fixation", "x", "y")
_OPTIONAL = ("found", "width", "height", "object", "bbox_x", "bbox_y", "bbox_w", "bbox_h")
_BBOX = ("bbox_x", "bbox_y", "bbox_w", "bbox_h")


def _num(value: str, *, path: str, line: int, field: str, allow_empty: bool = False) -> float:
    v = value.strip()
    if v == "":
        if allow_empty:
            return math.nan
        raise DataFormatError("empty value, expected a number", path=path, line=line, field=field)
    try:
        f = float(v)
    except ValueError:
        raise DataFormatError(f"expected a number, got {value!r}", path=path, line=line, field=field) from None
    if math.isnan(f) and not allow_empty:
        raise DataFormatError("NaN is not allowed here", path=path, line=line, field=field)
    if math.isinf(f):
        raise DataFormatError("infinite value", path=path, line=line, field=field)
    return f


def _parse(text: str, path: str) -> list[Scanpath]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataFormatError("empty file, expected a header line", path=path, line=1) from None
    except csv.Error as e:
        raise DataFormatError(f"malformed CSV ({e})", path=path, line=1) from None
    header = [h.strip() for h in header]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise DataFormatError(
            f"missing column(s) {', '.join(missing)}; expected columns {','.join(COLUMNS)}",
            path=path,
            line=1,
            field=missing[0],
        )
    col = {name: i for i, name in enumerate(header)}
    out: list[Scanpath] = []
    cur: dict | None = None

    def flush() -> None:
        if cur is None:
            return
        extra = {}
        if cur["obj"] is not None:
            extra["objects"] = np.array(cur["obj"], dtype=np.int64)
        out.append(
            Scanpath(
                np.array(cur["x"]),
                np.array(cur["y"]),
                np.array(cur["d"]),
                stimulus=cur["key"][0],
                subject=cur["key"][1] or None,
                task=cur["key"][2] or None,
                condition=cur["key"][3] or None,
                found=cur["found"],
                width=cur["w"],
                height=cur["h"],
                meta={"line": cur["line"], **({"bbox": cur["bbox"]} if cur["bbox"] is not None else {})},
                **extra,
            )
        )

    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise DataFormatError(
                    f"expected {len(header)} columns as in the header, got {len(row)}", path=path, line=line
                )

            def get(name: str, row: list[str] = row) -> str:
                return row[col[name]].strip() if name in col else ""

            stim = get("stimulus")
            if not stim:
                raise DataFormatError("empty stimulus name", path=path, line=line, field="stimulus")
            fix_f = _num(get("fixation"), path=path, line=line, field="fixation")
            if fix_f != int(fix_f) or fix_f < 0:
                raise DataFormatError(
                    f"fixation index must be an integer >= 0, got {get('fixation')!r}",
                    path=path,
                    line=line,
                    field="fixation",
                )
            fix = int(fix_f)
            x = _num(get("x"), path=path, line=line, field="x")
            y = _num(get("y"), path=path, line=line, field="y")
            d = _num(get("duration_ms"), path=path, line=line, field="duration_ms", allow_empty=True)
            if not math.isnan(d) and d < 0:
                raise DataFormatError(f"negative duration {d}", path=path, line=line, field="duration_ms")
            key = (stim, get("subject"), get("task"), get("condition"))
            found_s = get("found")
            found = None
            if found_s != "":
                if found_s.lower() not in ("0", "1", "true", "false"):
                    raise DataFormatError(f"found must be 1/0, got {found_s!r}", path=path, line=line, field="found")
                found = found_s.lower() in ("1", "true")
            w = _num(get("width"), path=path, line=line, field="width", allow_empty=True)
            h = _num(get("height"), path=path, line=line, field="height", allow_empty=True)
            obj_s = get("object")
            obj = None
            if "object" in col:
                obj = -1 if obj_s == "" else int(_num(obj_s, path=path, line=line, field="object"))
            bbox = None
            if all(c in col for c in _BBOX) and any(get(c) for c in _BBOX):
                bbox = [_num(get(c), path=path, line=line, field=c) for c in _BBOX]
                if bbox[2] < 0 or bbox[3] < 0:
                    raise DataFormatError("target box width/height must be >= 0", path=path, line=line, field="bbox_w")
            new = cur is None or key != cur["key"] or fix == 0
            if new:
                if fix != 0:
                    raise DataFormatError(
                        f"a scanpath must start at fixation 0, got {fix}", path=path, line=line, field="fixation"
                    )
                flush()
                cur = {
                    "key": key,
                    "x": [],
                    "y": [],
                    "d": [],
                    "obj": [] if obj is not None else None,
                    "found": found,
                    "w": None if math.isnan(w) else w,
                    "h": None if math.isnan(h) else h,
                    "line": line,
                    "bbox": bbox,
                }
            elif fix != len(cur["x"]):
                raise DataFormatError(
                    f"fixation index {fix} out of order, expected {len(cur['x'])}",
                    path=path,
                    line=line,
                    field="fixation",
                )
            cur["x"].append(x)
            cur["y"].append(y)
            cur["d"].append(d)
            if cur["obj"] is not None:
                cur["obj"].append(obj if obj is not None else -1)
    except csv.Error as e:
        raise DataFormatError(f"malformed CSV ({e})", path=path, line=reader.line_num) from None
    flush()
    return out


def read_scanpath_csv(path: str | Path) -> list[Scanpath]:
    """Read a gazekit scanpath CSV into scanpaths (errors name the file, line and column)."""

    p = Path(path)
    text = "\n".join(read_text_lines(p))
    return _parse(text, str(p))


def parse_scanpath_csv(text: str, name: str = "<csv>") -> list[Scanpath]:
    """Parse CSV text (e.g. an upload) with the same rules as :func:`read_scanpath_csv`."""
    return _parse(text.lstrip("\ufeff"), name)


def _fmt(v: float) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


def scanpaths_to_csv_text(scanpaths: Iterable[Scanpath]) -> str:
    """Serialise scanpaths to gazekit CSV text (includes found/width/height, and object when present)."""
    sps = list(scanpaths)
    has_obj = any(s.objects is not None for s in sps)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    has_bbox = any("bbox" in s.meta for s in sps)
    w.writerow([*COLUMNS, "found", "width", "height", *(["object"] if has_obj else []), *(_BBOX if has_bbox else ())])
    for s in sps:
        found = "" if s.found is None else str(int(bool(s.found)))
        for i in range(len(s)):
            row = [
                s.stimulus,
                s.subject or "",
                s.task or "",
                s.condition or "",
                i,
                f"{s.x[i]:.6g}",
                f"{s.y[i]:.6g}",
                _fmt(float(s.duration[i])),
                found,
                _fmt(s.width) if s.width is not None else "",
                _fmt(s.height) if s.height is not None else "",
            ]
            if has_obj:
                row.append("" if s.objects is None else int(s.objects[i]))
            if has_bbox:
                b = s.meta.get("bbox")
                row.extend(["", "", "", ""] if b is None else [f"{float(v):.6g}" for v in b])
            w.writerow(row)
    return buf.getvalue()


def write_scanpath_csv(path: str | Path, scanpaths: Iterable[Scanpath]) -> None:
    """Write scanpaths as a gazekit CSV (atomically: a temporary file renamed into place)."""
    atomic_write_text(path, scanpaths_to_csv_text(scanpaths))
