"""Format-independent reading and writing of scanpath files (gazekit CSV or COCO-Search18 JSON by suffix)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from gazekit.datasets.coco_search18 import (
    parse_coco_search18,
    read_coco_search18_json,
    write_coco_search18_json,
)
from gazekit.datasets.scanpath_csv import parse_scanpath_csv, read_scanpath_csv, write_scanpath_csv
from gazekit.errors import DataFormatError, FrameMissingError
from gazekit.types import FRAME_SOURCE, Scanpath

__all__ = ["FRAME_SOURCE", "assign_frames", "frame_written", "parse_scanpaths", "read_scanpaths", "write_scanpaths"]


def _kind(name: str) -> str:
    n = name.lower()
    if n.endswith(".json"):
        return "json"
    if n.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise DataFormatError("unknown scanpath file type; expected .csv (gazekit CSV) or .json (COCO-Search18)", path=name)


def read_scanpaths(path: str | Path) -> list[Scanpath]:
    """Read a gazekit scanpath CSV (``.csv``) or a COCO-Search18 fixation JSON (``.json``)."""
    return read_coco_search18_json(path) if _kind(str(path)) == "json" else read_scanpath_csv(path)


def parse_scanpaths(data: bytes | str, name: str) -> list[Scanpath]:
    """Parse uploaded bytes/text, choosing the format from ``name``'s suffix (or content when ambiguous)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise DataFormatError(f"not UTF-8 text ({e.reason})", path=name) from None
    else:
        text = data
    if not text.strip():
        raise DataFormatError("empty file", path=name)
    kind = "json" if text.lstrip().startswith("[") and not name.lower().endswith(".csv") else _kind(name)
    if kind == "json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"invalid JSON ({e.msg})", path=name, line=e.lineno) from None
        return parse_coco_search18(obj, name)
    return parse_scanpath_csv(text, name)


def write_scanpaths(path: str | Path, scanpaths: Iterable[Scanpath]) -> None:
    """Write scanpaths; the suffix chooses gazekit CSV or COCO-Search18 JSON."""
    if _kind(str(path)) == "json":
        write_coco_search18_json(path, scanpaths)
    else:
        write_scanpath_csv(path, scanpaths)


def frame_written(sp: Scanpath) -> bool:
    """Whether the scanpath's file stated its frame (width/height), as opposed to no frame or a format default."""
    return sp.width is not None and sp.height is not None and sp.meta.get(FRAME_SOURCE) != "format-default"


def assign_frames(
    scanpaths: Sequence[Scanpath],
    frame: tuple[float, float] | None,
    *,
    source: str,
    option: str = "--human-frame",
) -> list[Scanpath]:
    """Give every scanpath whose file stated no frame the frame the user named; never guess one.

    The one rule for the CLI (``gazekit score``/``infer``) and the viewer: a frame written in the file wins;
    otherwise ``frame`` (``--human-frame WxH`` or the viewer's choice) is used and recorded as
    ``meta["frame_source"] = "user"``; without it this raises.

    Args:
        scanpaths: as read by :func:`read_scanpaths` / :func:`parse_scanpaths`.
        frame: ``(width, height)`` px of the display/image the fixations were recorded on, or None.
        source: the file name, for the message.
        option: how the user gives a frame (named in the message).

    Returns:
        New scanpath objects (the inputs are not modified).

    Raises:
        FrameMissingError: some scanpath has no written frame and ``frame`` is None.
    """
    missing = [sp for sp in scanpaths if not frame_written(sp)]
    if missing and frame is None:
        first = missing[0]
        where = f"record {first.meta['record']}" if "record" in first.meta else f"image {first.stimulus!r}"
        raise FrameMissingError(
            f"{len(missing)} of {len(scanpaths)} scanpath(s) (first: {where}) carry no frame size (width/height), "
            f"so their pixel coordinates cannot be placed; give the size of the display or image they were "
            f"recorded on with {option} WxH (COCO-Search18's display is 1680x1050), or add width/height to the file",
            path=source,
        )
    out = []
    for sp in scanpaths:
        if frame_written(sp):
            out.append(sp)
            continue
        assert frame is not None
        meta = {**sp.meta, FRAME_SOURCE: "user"}
        out.append(dataclasses.replace(sp, width=float(frame[0]), height=float(frame[1]), meta=meta))
    return out
