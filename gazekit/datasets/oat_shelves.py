"""OAT's shelf-search data (Fang et al., ECCV 2024; HKUST-NISL/oat_eccv24) as object-level search trials.

Sheets (CSV, or Excel when ``openpyxl`` is installed) with one row per fixation and the columns ``ID``
(trial), ``Question`` (layout, e.g. ``Q3_21``), ``Choice`` (the fixated item, 1-based), ``X``, ``Y``
(display px, 1680x1050), ``T_Package`` (the target item, 1-based) and ``Sub_ID``; an optional ``Target``
column names the target product (e.g. ``T3_1``). Rows of one ``ID`` form one trial (in file order).

Shelf layouts (item grids at the bottom of the 1680x1050 display, as OAT's preprocessing cuts them):

=========  ==================  =========  ===========  =========
Question   product             grid       item (w x h)  top (px)
=========  ==================  =========  ===========  =========
``Q1*``    wine                2 x 11     152 x 449     152
``Q2*``    yogurt (set 1)      3 x 9      186 x 295     165
``Q3*``    yogurt (set 2)      3 x 9      186 x 305     135
=========  ==================  =========  ===========  =========

Each trial: ``stimulus.objects`` = the items row-major (category ``"item"``, the target item's category is the
``Target`` value or ``"target"``), ``stimulus.target`` = Target(category, box of the target item),
``scanpath.objects`` = ``Choice - 1`` (the item OAT recorded, not recomputed from X/Y), durations NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazekit.datasets._common import csv_rows, finite, read_text
from gazekit.datasets.object_level import ObjectTrial, ObjectTrials
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target

__all__ = ["OAT_COLUMNS", "SHELF_LAYOUTS", "ShelfLayout", "oat_shelf_trials", "read_oat_rows", "shelf_objects"]

OAT_COLUMNS = ("ID", "Question", "Choice", "X", "Y", "T_Package", "Sub_ID")
DISPLAY = (1680, 1050)


@dataclass(frozen=True)
class ShelfLayout:
    rows: int
    cols: int
    item_w: float
    item_h: float

    @property
    def top(self) -> float:
        return DISPLAY[1] - self.rows * self.item_h

    @property
    def n_items(self) -> int:
        return self.rows * self.cols


SHELF_LAYOUTS = {
    "Q1": ShelfLayout(2, 11, 152, 449),
    "Q2": ShelfLayout(3, 9, 186, 295),
    "Q3": ShelfLayout(3, 9, 186, 305),
}


def shelf_objects(layout: ShelfLayout) -> list[ObjectBox]:
    """The items of a shelf layout, row-major from the top-left, in display px."""
    return [
        ObjectBox(
            c * layout.item_w,
            layout.top + r * layout.item_h,
            layout.item_w,
            layout.item_h,
            "item",
            attributes={"row": r, "col": c},
        )  # fmt: skip
        for r in range(layout.rows)
        for c in range(layout.cols)
    ]


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_oat_rows(path: str | Path) -> list[tuple[int, dict[str, str]]]:
    """``(line, {column: text})`` rows of a CSV/TSV or ``.xlsx`` sheet (header in the first row)."""
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            import openpyxl
        except ImportError:
            raise ConfigError("reading Excel sheets needs openpyxl (pip install openpyxl), or export to CSV") from None
        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
            table = [[_cell(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
            wb.close()
        except FileNotFoundError:
            raise DataFormatError("file not found", path=p) from None
        except Exception as e:  # noqa: BLE001 - openpyxl/zipfile raise many types on corrupt workbooks
            raise DataFormatError(f"not a readable Excel workbook ({type(e).__name__})", path=p) from None
        rows = [(i + 1, r) for i, r in enumerate(table) if any(c for c in r)]
    else:
        rows = csv_rows(read_text(p), str(p), "\t" if p.suffix.lower() == ".tsv" else ",")
    if not rows:
        raise DataFormatError("empty sheet, expected a header row", path=p, line=1)
    header = [h.strip() for h in rows[0][1]]
    missing = [c for c in OAT_COLUMNS if c not in header]
    if missing:
        raise DataFormatError(f"missing column(s) {', '.join(missing)}", path=p, line=rows[0][0], field=missing[0])
    out = []
    for line, r in rows[1:]:
        if len(r) != len(header):
            raise DataFormatError(f"expected {len(header)} columns, got {len(r)}", path=p, line=line)
        out.append((line, dict(zip(header, r, strict=True))))
    return out


def oat_shelf_trials(path: str | Path) -> ObjectTrials:
    """Object-level trials of one OAT sheet (see the module docstring)."""
    p = str(path)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, r in read_oat_rows(path):
        tid = r["ID"].strip()
        if not tid:
            raise DataFormatError("empty trial ID", path=p, line=line, field="ID")
        groups.setdefault(tid, []).append((line, r))
    trials = []
    for tid, rows in groups.items():
        line0, r0 = rows[0]
        q = r0["Question"].strip()
        layout = SHELF_LAYOUTS.get(q[:2])
        if layout is None:
            raise DataFormatError(
                f"unknown layout {q!r}; expected Q1*, Q2* or Q3*", path=p, line=line0, field="Question"
            )
        n = layout.n_items
        tgt = finite(r0["T_Package"], path=p, line=line0, field="T_Package")
        if not tgt.is_integer() or not 1 <= tgt <= n:
            raise DataFormatError(
                f"T_Package must be an item 1..{n}, got {tgt:g}", path=p, line=line0, field="T_Package"
            )
        xs, ys, objs = [], [], []
        for line, r in rows:
            if r["Question"].strip() != q:
                raise DataFormatError(
                    f"trial {tid} mixes layouts {q!r} and {r['Question']!r}", path=p, line=line, field="Question"
                )
            xs.append(finite(r["X"], path=p, line=line, field="X", min_value=0.0))
            ys.append(finite(r["Y"], path=p, line=line, field="Y", min_value=0.0))
            c = finite(r["Choice"], path=p, line=line, field="Choice")
            if not c.is_integer() or not 1 <= c <= n:
                raise DataFormatError(f"Choice must be an item 1..{n}, got {c:g}", path=p, line=line, field="Choice")
            objs.append(int(c) - 1)
        objects = shelf_objects(layout)
        ti = int(tgt) - 1
        cat = r0.get("Target", "").strip() or "target"
        objects[ti].category = cat
        objects[ti].attributes["is_target"] = True
        stim = Stimulus(name=q, width=DISPLAY[0], height=DISPLAY[1], objects=objects,
                        target=Target(category=cat, box=objects[ti].xywh),
                        meta={"task": cat, "target_index": ti, "layout": q, "product": q[:2]})  # fmt: skip
        sp = Scanpath(np.array(xs), np.array(ys), None, stimulus=q, subject=r0["Sub_ID"].strip() or None, task=cat,
                      condition="present", width=DISPLAY[0], height=DISPLAY[1], objects=np.array(objs),
                      meta={"trial_id": tid, "layout": q, "line": line0})  # fmt: skip
        trials.append(ObjectTrial(stim, sp))
    return ObjectTrials(trials)
