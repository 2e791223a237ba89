"""Bring your own recordings: fixations from any CSV/TSV, given a mapping from gazekit fields to your columns.

One fixation per row, a header row required. ``columns`` maps gazekit's field names to the file's column
names; only ``x`` and ``y`` are required::

    read_generic_csv("fix.tsv", {"x": "FPOGX", "y": "FPOGY", "duration": "FPOGD", "stimulus": "MEDIA_NAME",
                                 "subject": "USER"}, duration_unit="s", coords="normalized", frame_size=(1920, 1080))

Fields: ``x``, ``y``; ``stimulus``, ``subject``, ``task``, ``condition``, ``trial`` (grouping keys);
``duration`` (or ``start`` + ``end``), ``index`` or ``start`` (order within a scanpath), ``width``/``height``
(frame size per row), ``found`` (1/0).

Rows sharing (stimulus, subject, task, condition, trial) form one scanpath, in order of first appearance;
within it rows are sorted by ``index`` (else ``start``, else file order). ``coords="normalized"`` multiplies by
the frame size (``width``/``height`` columns or ``frame_size``). The delimiter is a tab for ``.tsv``/``.tab``
files and a comma otherwise, unless given. Negative or non-finite coordinates and negative durations are
errors naming file, line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gazekit.datasets._common import csv_rows, finite, read_text, safe_relpath
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import Scanpath

__all__ = ["FIELDS", "read_generic_csv"]

FIELDS = ("x", "y", "stimulus", "subject", "task", "condition", "trial", "duration", "start", "end", "index",
          "width", "height", "found")  # fmt: skip
_KEYS = ("stimulus", "subject", "task", "condition", "trial")


def read_generic_csv(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    *,
    delimiter: str | None = None,
    duration_unit: str = "ms",
    coords: str = "px",
    frame_size: tuple[float, float] | None = None,
    allow_negative: bool = False,
) -> list[Scanpath]:
    """Read fixations from a delimited text file (see the module docstring)."""
    cols = dict(columns or {"x": "x", "y": "y"})
    unknown = [k for k in cols if k not in FIELDS]
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown}; expected some of {', '.join(FIELDS)}")
    if "x" not in cols or "y" not in cols:
        raise ConfigError("the column mapping needs at least 'x' and 'y'")
    if duration_unit not in ("ms", "s"):
        raise ConfigError(f"duration_unit must be 'ms' or 's', got {duration_unit!r}")
    if coords not in ("px", "normalized"):
        raise ConfigError(f"coords must be 'px' or 'normalized', got {coords!r}")
    p = str(path)
    if delimiter is None:
        delimiter = "\t" if Path(p).suffix.lower() in (".tsv", ".tab") else ","
    rows = csv_rows(read_text(path), p, delimiter)
    if not rows:
        raise DataFormatError("empty file, expected a header row", path=p, line=1)
    hline, header = rows[0]
    header = [h.strip() for h in header]
    idx = {}
    for field, col in cols.items():
        if col not in header:
            raise DataFormatError(f"missing column {col!r} (mapped to {field!r})", path=p, line=hline, field=col)
        idx[field] = header.index(col)
    scale = 1000.0 if duration_unit == "s" else 1.0
    groups: dict[tuple, list[dict]] = {}
    for line, r in rows[1:]:
        if len(r) != len(header):
            raise DataFormatError(f"expected {len(header)} columns, got {len(r)}", path=p, line=line)

        def num(field: str, *, allow_nan: bool = False, min_value: float | None = None, _r=r, _line=line) -> float:
            return finite(
                _r[idx[field]], path=p, line=_line, field=cols[field], allow_nan=allow_nan, min_value=min_value
            )

        lo = None if allow_negative else 0.0
        rec = {"line": line, "x": num("x", min_value=lo), "y": num("y", min_value=lo)}
        if "duration" in idx:
            rec["dur"] = num("duration", allow_nan=True, min_value=0.0) * scale
        elif "start" in idx and "end" in idx:
            d = num("end") - num("start")
            if d < 0:
                raise DataFormatError("end before start", path=p, line=line, field=cols["end"])
            rec["dur"] = d * scale
        else:
            rec["dur"] = np.nan
        if "index" in idx:
            rec["order"] = num("index")
        elif "start" in idx:
            rec["order"] = num("start")
        for k in ("width", "height"):
            if k in idx:
                v = num(k)
                if v <= 0:
                    raise DataFormatError(f"{k} must be positive", path=p, line=line, field=cols[k])
                rec[k] = v
        if "found" in idx:
            fv = r[idx["found"]].strip().lower()
            if fv not in ("", "0", "1", "true", "false"):
                raise DataFormatError(f"found must be 1/0, got {fv!r}", path=p, line=line, field=cols["found"])
            rec["found"] = None if fv == "" else fv in ("1", "true")
        key = tuple(r[idx[k]].strip() if k in idx else "" for k in _KEYS)
        if key[0]:
            safe_relpath(key[0], path=p, line=line, field=cols["stimulus"])
        groups.setdefault(key, []).append(rec)
    out = []
    for key, recs in groups.items():
        if "order" in recs[0]:
            recs = sorted(recs, key=lambda rr: rr["order"])
        w = recs[0].get("width", frame_size[0] if frame_size else None)
        h = recs[0].get("height", frame_size[1] if frame_size else None)
        x = np.array([rr["x"] for rr in recs])
        y = np.array([rr["y"] for rr in recs])
        if coords == "normalized":
            if w is None or h is None:
                raise DataFormatError("normalized coordinates need width/height columns or frame_size", path=p,
                                      line=recs[0]["line"], field="width")  # fmt: skip
            x, y = x * w, y * h
        stim, subj, task, cond, trial = key
        out.append(
            Scanpath(
                x,
                y,
                np.array([rr["dur"] for rr in recs]),
                stimulus=stim,
                subject=subj or None,
                task=task or None,
                condition=cond or None,
                found=recs[0].get("found"),
                width=w,
                height=h,
                meta={"trial": trial or None, "line": recs[0]["line"]},
            )
        )
    return out
