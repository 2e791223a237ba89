"""GazeFollow annotations (Recasens et al., NeurIPS 2015; extended release of Chong et al., ECCV 2018).

Layout: ``train/``, ``test2/`` and ``train_annotations_release.txt`` / ``test_annotations_release.txt``,
comma separated, no header.

* Train, 17 columns: ``path, idx, body_x, body_y, body_w, body_h, eye_x, eye_y, gaze_x, gaze_y,
  head_x_min, head_y_min, head_x_max, head_y_max, inout, source, meta``.
* Test, 16 columns: the same without ``inout`` (15 without ``source`` is accepted too), one row per
  annotator (about 10 per person).

Body box, eye and gaze are normalised to [0, 1]; the head box is in **pixels**.

Conventions of this reader (following the reference loaders of Chong et al., Gaze-LLE and ViTGaze):

* ``inout == -1`` rows are invalid and dropped (``keep_invalid=True`` keeps them with ``inout=-1``).
  ``inout == 0`` (gaze target outside the frame) gives an annotation with no gaze points.
* Test rows are grouped by ``(path, eye_x)`` into one annotation whose ``gaze_points`` holds every
  annotator's point (``[K, 2]``; the reference loaders pad K to 20 with -1 when batching, which
  :func:`pad_gaze_points` does). Every test sample is in frame (``inout=1``).
* Reversed head boxes (min > max) are swapped; ``meta["head_box_reversed"]`` records it.

Coordinates. When the image size is known (from ``image_root`` or ``image_sizes``), eye and gaze are converted
to image px (``x * width``, ``y * height``) and the head box is clipped to the image (as Gaze-LLE does).
When it is not known (no ``image_root``; or ``missing_images="normalized"``), the annotation stays
**normalised**: ``width = height = 1``, eye and gaze points in [0, 1], ``meta["coords"] == "normalized"``,
and the head box is kept in px as written (``meta["head_box_units"] == "px"``) since it cannot be
normalised without the size. Either way ``meta["gaze_norm"]`` (``[K, 2]``) and ``meta["eye_norm"]`` hold the
normalised values the GazeFollow AUC metric needs, and ``meta["head_box_px"]`` the (swapped) pixel box.

Normalised eye/gaze values must lie in [0, 1]; values within 0.01 of the range are clipped into it,
anything further out (or NaN) is a :class:`DataFormatError` naming file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gazekit.datasets._common import (
    check_errors_arg,
    csv_rows,
    finite,
    image_size,
    read_text,
    resolve_under,
    safe_relpath,
)
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import GazeAnnotation

__all__ = [
    "GAZEFOLLOW_TEST_COLUMNS",
    "GAZEFOLLOW_TRAIN_COLUMNS",
    "MAX_ANNOTATORS",
    "pad_gaze_points",
    "read_gazefollow",
]

GAZEFOLLOW_TRAIN_COLUMNS = (
    "path", "idx", "body_x", "body_y", "body_w", "body_h", "eye_x", "eye_y", "gaze_x", "gaze_y",
    "head_x_min", "head_y_min", "head_x_max", "head_y_max", "inout", "source", "meta",
)  # fmt: skip
GAZEFOLLOW_TEST_COLUMNS = tuple(c for c in GAZEFOLLOW_TRAIN_COLUMNS if c != "inout")
_TEST_COLUMNS_NO_SOURCE = tuple(c for c in GAZEFOLLOW_TEST_COLUMNS if c != "source")

#: Test annotations are padded to this many annotators by the reference loaders.
MAX_ANNOTATORS = 20

_TOL = 0.01


def pad_gaze_points(points: np.ndarray, n: int = MAX_ANNOTATORS, value: float = -1.0) -> np.ndarray:
    """``[K, 2]`` gaze points padded (or cut) to ``[n, 2]`` with ``value``, as the reference test loaders do."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)[:n]
    out = np.full((n, 2), value, dtype=float)
    out[: len(pts)] = pts
    return out


def _unit(v: str, *, path: str, line: int, field: str) -> float:
    f = finite(v, path=path, line=line, field=field)
    if f < -_TOL or f > 1 + _TOL:
        raise DataFormatError(f"normalised coordinate must be in [0, 1], got {f}", path=path, line=line, field=field)
    return min(max(f, 0.0), 1.0)


def _columns_for(n: int, split: str | None, *, path: str, line: int) -> tuple[str, tuple[str, ...]]:
    if split == "train" or (split is None and n == 17):
        if n != 17:
            raise DataFormatError(f"expected 17 columns (GazeFollow train format), got {n}", path=path, line=line)
        return "train", GAZEFOLLOW_TRAIN_COLUMNS
    if split == "test" or (split is None and n in (15, 16)):
        if n == 16:
            return "test", GAZEFOLLOW_TEST_COLUMNS
        if n == 15:
            return "test", _TEST_COLUMNS_NO_SOURCE
        raise DataFormatError(f"expected 16 columns (GazeFollow test format), got {n}", path=path, line=line)
    raise DataFormatError(f"expected 17 (train) or 16 (test) columns, got {n}", path=path, line=line)


def read_gazefollow(
    path: str | Path,
    *,
    image_root: str | Path | None = None,
    split: Literal["train", "test"] | None = None,
    keep_invalid: bool = False,
    missing_images: Literal["error", "normalized"] = "error",
    image_sizes: Mapping[str, tuple[int, int]] | Callable[[str], tuple[int, int] | None] | None = None,
    errors: Literal["raise", "skip"] = "raise",
) -> list[GazeAnnotation]:
    """Read a GazeFollow annotation file into :class:`~gazekit.types.GazeAnnotation` records.

    Args:
        path: ``train_annotations_release.txt``, ``test_annotations_release.txt`` or a file in either format.
        image_root: folder the ``path`` column is relative to (the dataset root). Image sizes are read from the
            image headers; image paths may not leave this folder. None: sizes unknown (normalised output).
        split: ``"train"`` (17 columns) or ``"test"`` (16); None picks it from the first row's column count.
        keep_invalid: keep ``inout == -1`` rows (train) instead of dropping them.
        missing_images: with ``image_root``, an image that cannot be found or read is an error (default) or
            gives a normalised annotation.
        image_sizes: ``{path: (width, height)}`` or a function of the path, consulted before ``image_root``
            (e.g. a cached size table).
        errors: ``"raise"`` on the first malformed row, or ``"skip"`` it.

    Returns:
        One annotation per train row (minus invalid rows) or per test person (rows grouped by path and eye).
    """
    check_errors_arg(errors)
    if split not in (None, "train", "test"):
        raise ConfigError(f"split must be 'train', 'test' or None, got {split!r}")
    if missing_images not in ("error", "normalized"):
        raise ConfigError(f"missing_images must be 'error' or 'normalized', got {missing_images!r}")
    p = str(path)
    rows = csv_rows(read_text(path), p)
    if not rows:
        raise DataFormatError("empty file, expected GazeFollow annotation rows", path=p, line=1)
    kind, cols = _columns_for(len(rows[0][1]), split, path=p, line=rows[0][0])
    col = {c: i for i, c in enumerate(cols)}
    size_cache: dict[str, tuple[int, int] | None] = {}

    def lookup_size(rel: str, line: int) -> tuple[int, int] | None:
        if rel in size_cache:
            return size_cache[rel]
        size = None
        if image_sizes is not None:
            size = image_sizes(rel) if callable(image_sizes) else image_sizes.get(rel)
        if size is None and image_root is not None:
            full = resolve_under(image_root, rel, path=p, field="path", line=line)
            size = image_size(full)
            if size is None and missing_images == "error":
                raise DataFormatError(
                    f"image {rel!r} not found or unreadable under {str(image_root)!r}", path=p, line=line, field="path"
                )
        size_cache[rel] = size
        return size

    parsed: list[dict[str, Any]] = []
    for line, row in rows:
        try:
            if len(row) != len(cols):
                raise DataFormatError(
                    f"expected {len(cols)} columns (GazeFollow {kind} format), got {len(row)}", path=p, line=line
                )
            rel = safe_relpath(row[col["path"]], path=p, line=line, field="path")
            inout = 1
            if kind == "train":
                io_f = finite(row[col["inout"]], path=p, line=line, field="inout")
                if io_f not in (-1.0, 0.0, 1.0):
                    raise DataFormatError(f"inout must be 1, 0 or -1, got {io_f:g}", path=p, line=line, field="inout")
                inout = int(io_f)
                if inout == -1 and not keep_invalid:
                    continue
            eye = (_unit(row[col["eye_x"]], path=p, line=line, field="eye_x"),
                   _unit(row[col["eye_y"]], path=p, line=line, field="eye_y"))  # fmt: skip
            if inout == 1:
                gaze = (_unit(row[col["gaze_x"]], path=p, line=line, field="gaze_x"),
                        _unit(row[col["gaze_y"]], path=p, line=line, field="gaze_y"))  # fmt: skip
            else:  # out of frame / invalid: the gaze columns carry no location; keep them only if numeric
                gaze = (finite(row[col["gaze_x"]], path=p, line=line, field="gaze_x", allow_nan=True),
                        finite(row[col["gaze_y"]], path=p, line=line, field="gaze_y", allow_nan=True))  # fmt: skip
            head = [finite(row[col[c]], path=p, line=line, field=c)
                    for c in ("head_x_min", "head_y_min", "head_x_max", "head_y_max")]  # fmt: skip
            body = [finite(row[col[c]], path=p, line=line, field=c) for c in ("body_x", "body_y", "body_w", "body_h")]
            rec = {
                "line": line,
                "path": rel,
                "idx": row[col["idx"]].strip(),
                "eye": eye,
                "eye_key": float(row[col["eye_x"]]),  # the reference loaders group test rows by (path, eye_x)
                "gaze": gaze,
                "head": head,
                "body": body,
                "inout": inout,
                "source": row[col["source"]].strip() if "source" in col else None,
                "meta_flag": row[col["meta"]].strip(),
            }
            rec["size"] = lookup_size(rel, line)
            parsed.append(rec)
        except DataFormatError:
            if errors == "raise":
                raise
    if kind == "test":
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in parsed:
            groups.setdefault((r["path"], r["eye_key"]), []).append(r)
        todo = list(groups.values())
    else:
        todo = [[r] for r in parsed]
    out: list[GazeAnnotation] = []
    for g in todo:
        try:
            out.append(_annotation(g, p, kind))
        except DataFormatError:
            if errors == "raise":
                raise
    return out


def _annotation(group: Sequence[dict[str, Any]], path: str, kind: str) -> GazeAnnotation:
    r0 = group[0]
    inout = r0["inout"]
    gaze_norm = np.array([r["gaze"] for r in group], dtype=float) if inout == 1 else np.zeros((0, 2))
    x1, y1, x2, y2 = r0["head"]
    reversed_box = x1 > x2 or y1 > y2
    hb = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    meta: dict[str, Any] = {
        "split": kind,
        "idx": r0["idx"],
        "line": r0["line"] if len(group) == 1 else [r["line"] for r in group],
        "source": r0["source"],
        "meta": r0["meta_flag"],
        "gaze_norm": gaze_norm,
        "eye_norm": r0["eye"],
        "body_box_norm": tuple(r0["body"]),
        "head_box_px": hb,
        "head_box_reversed": reversed_box,
    }
    if inout != 1:
        meta["gaze_raw"] = r0["gaze"]
    size = r0["size"]
    if size is None:
        meta["coords"] = "normalized"
        meta["head_box_units"] = "px"
        return GazeAnnotation(
            image=r0["path"],
            width=1,
            height=1,
            head_box=hb,
            gaze_points=gaze_norm,
            inout=inout,
            eye=r0["eye"],
            meta=meta,
        )
    w, h = size
    meta["coords"] = "px"
    scale = np.array([w, h], dtype=float)
    hb_c = (min(max(hb[0], 0.0), w), min(max(hb[1], 0.0), h), min(max(hb[2], 0.0), w), min(max(hb[3], 0.0), h))
    if hb_c[2] - hb_c[0] <= 0 or hb_c[3] - hb_c[1] <= 0:
        raise DataFormatError(
            f"head box {hb} lies outside the {w}x{h} image", path=path, line=r0["line"], field="head_x_min"
        )
    return GazeAnnotation(
        image=r0["path"],
        width=int(w),
        height=int(h),
        head_box=hb_c,
        gaze_points=gaze_norm * scale,
        inout=inout,
        eye=(r0["eye"][0] * w, r0["eye"][1] * h),
        meta=meta,
    )
