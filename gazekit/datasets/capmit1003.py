"""CapMIT1003 (Zanca et al.): captions written while exploring MIT1003 images through click-contingent blur.

One SQLite database with three tables::

    images   (img_uid, img_path)                                  img_path: a MIT1003 file name
    captions (obs_uid, usr_uid, start_time, caption, img_uid)     one observation = one caption
    clicks   (click_id, obs_uid, x, y, click_time)                x, y: integer image px; absolute ms

One scanpath per observation: the clicks **ordered by click_id** (the reference reader has no ORDER BY, so
its order is whatever SQLite returns), ``duration[i]`` = time to the next click (ms; NaN for the last),
``condition="caption"``, ``subject`` = usr_uid, caption text in ``meta["caption"]``, absolute click times in
``meta["click_time_ms"]``. The images are not in the database; with ``image_root`` (MIT1003's
``ALLSTIMULI/``) the frame size is read from the image, otherwise it stays unknown (None).

The database is opened read-only; malformed databases, missing tables/columns, NULL or negative
coordinates, and observations without clicks raise :class:`DataFormatError` naming the table, row and field.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from gazekit.datasets._common import image_size, resolve_under, safe_relpath
from gazekit.errors import DataFormatError
from gazekit.types import Scanpath, Task

__all__ = ["CAPMIT1003_SCHEMA", "caption_task", "read_capmit1003"]

CAPMIT1003_SCHEMA = {
    "images": ("img_uid", "img_path"),
    "captions": ("obs_uid", "usr_uid", "start_time", "caption", "img_uid"),
    "clicks": ("click_id", "obs_uid", "x", "y", "click_time"),
}


def caption_task(sp: Scanpath) -> Task:
    """The :class:`~gazekit.types.Task` of a CapMIT1003 scanpath (``kind="caption"``)."""
    return Task("caption", caption=sp.meta["caption"])


def _num(v: object, *, path: str, table: str, row: object, field: str, min_value: float | None = None) -> float:
    where = f"{table} row {row}"
    if v is None or isinstance(v, bool | bytes | str):
        try:
            f = float(v) if isinstance(v, str) else None
        except ValueError:
            f = None
        if f is None:
            raise DataFormatError(f"{where}: expected a number, got {v!r}"[:200], path=path, field=field)
        v = f
    f = float(v)  # type: ignore[arg-type]
    if not np.isfinite(f):
        raise DataFormatError(f"{where}: NaN or infinite value", path=path, field=field)
    if min_value is not None and f < min_value:
        raise DataFormatError(f"{where}: negative value {f:g}", path=path, field=field)
    return f


def read_capmit1003(
    db_path: str | Path, *, image_root: str | Path | None = None, allow_empty: bool = False
) -> list[Scanpath]:
    """Read a CapMIT1003 SQLite database into one scanpath per caption (see the module docstring)."""
    p = Path(db_path)
    ps = str(p)
    if not p.is_file():
        raise DataFormatError("database file not found", path=p)
    try:
        con = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise DataFormatError(f"cannot open SQLite database ({e})", path=p) from None
    try:
        return _read(con, ps, image_root, allow_empty)
    except sqlite3.Error as e:
        raise DataFormatError(f"not a valid CapMIT1003 SQLite database ({type(e).__name__}: {e})", path=p) from None
    finally:
        con.close()


def _read(con: sqlite3.Connection, path: str, image_root: str | Path | None, allow_empty: bool) -> list[Scanpath]:
    for table, cols in CAPMIT1003_SCHEMA.items():
        have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise DataFormatError(f"missing table {table!r}", path=path, field=table)
        missing = [c for c in cols if c not in have]
        if missing:
            raise DataFormatError(f"table {table!r} lacks column(s) {', '.join(missing)}", path=path, field=missing[0])
    images: dict[object, str] = {}
    for uid, img_path in con.execute("SELECT img_uid, img_path FROM images ORDER BY img_uid"):
        if not isinstance(img_path, str):
            raise DataFormatError(f"images row {uid}: img_path must be text", path=path, field="img_path")
        images[uid] = safe_relpath(img_path, path=path, field="img_path")
    clicks: dict[object, list[tuple[float, float, float]]] = {}
    for cid, obs, x, y, t in con.execute(
        "SELECT click_id, obs_uid, x, y, click_time FROM clicks ORDER BY obs_uid, click_id"
    ):
        kw = {"path": path, "table": "clicks", "row": cid}
        clicks.setdefault(obs, []).append(
            (
                _num(x, field="x", min_value=0.0, **kw),
                _num(y, field="y", min_value=0.0, **kw),
                _num(t, field="click_time", **kw),
            )
        )
    sizes: dict[str, tuple[int, int] | None] = {}
    out: list[Scanpath] = []
    for obs, usr, start, caption, img_uid in con.execute(
        "SELECT obs_uid, usr_uid, start_time, caption, img_uid FROM captions ORDER BY obs_uid"
    ):
        if img_uid not in images:
            raise DataFormatError(f"captions row {obs}: unknown img_uid {img_uid!r}", path=path, field="img_uid")
        if not isinstance(caption, str) or not caption.strip():
            raise DataFormatError(f"captions row {obs}: empty caption", path=path, field="caption")
        name = images[img_uid]
        pts = clicks.get(obs, [])
        if not pts and not allow_empty:
            raise DataFormatError(f"captions row {obs}: no clicks (empty scanpath)", path=path, field="obs_uid")
        arr = np.array(pts, dtype=float).reshape(-1, 3)
        t = arr[:, 2]
        if np.any(np.diff(t) < 0):
            raise DataFormatError(
                f"captions row {obs}: click_time decreases along click_id", path=path, field="click_time"
            )
        dur = np.full(len(t), np.nan)
        dur[:-1] = np.diff(t)
        if name not in sizes:
            size = None
            if image_root is not None:
                size = image_size(resolve_under(image_root, name, path=path, field="img_path"))
            sizes[name] = size
        size = sizes[name]
        out.append(
            Scanpath(
                arr[:, 0],
                arr[:, 1],
                dur,
                stimulus=name,
                subject=None if usr is None else str(usr),
                condition="caption",
                width=None if size is None else float(size[0]),
                height=None if size is None else float(size[1]),
                meta={"caption": caption, "obs_uid": obs, "start_time": start, "click_time_ms": t.copy()},
            )
        )
    return out
