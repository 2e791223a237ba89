"""Format-independent reading and writing of scanpath files (gazekit CSV or COCO-Search18 JSON by suffix)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from gazekit.datasets.coco_search18 import (
    parse_coco_search18,
    read_coco_search18_json,
    write_coco_search18_json,
)
from gazekit.datasets.scanpath_csv import parse_scanpath_csv, read_scanpath_csv, write_scanpath_csv
from gazekit.errors import DataFormatError
from gazekit.types import Scanpath

__all__ = ["parse_scanpaths", "read_scanpaths", "write_scanpaths"]


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
