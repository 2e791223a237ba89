"""Format-independent reading and writing of scanpath files, and atomic file writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gazekit.errors import DataFormatError
from gazekit.types import Scanpath

__all__ = ["atomic_write_bytes", "atomic_write_text", "parse_scanpaths", "read_scanpaths", "write_scanpaths"]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so readers never see half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp creates 0600 files; give the result the permissions a plain open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _kind(name: str) -> str:
    n = name.lower()
    if n.endswith(".json"):
        return "json"
    if n.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise DataFormatError("unknown scanpath file type; expected .csv (gazekit CSV) or .json (COCO-Search18)", path=name)


def read_scanpaths(path: str | Path) -> list[Scanpath]:
    """Read a gazekit scanpath CSV (``.csv``) or a COCO-Search18 fixation JSON (``.json``)."""
    from gazekit.datasets.coco_search18 import read_coco_search18_json
    from gazekit.datasets.scanpath_csv import read_scanpath_csv

    return read_coco_search18_json(path) if _kind(str(path)) == "json" else read_scanpath_csv(path)


def parse_scanpaths(data: bytes | str, name: str) -> list[Scanpath]:
    """Parse uploaded bytes/text, choosing the format from ``name``'s suffix (or content when ambiguous)."""
    from gazekit.datasets.coco_search18 import parse_coco_search18
    from gazekit.datasets.scanpath_csv import parse_scanpath_csv

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
    from gazekit.datasets.coco_search18 import write_coco_search18_json
    from gazekit.datasets.scanpath_csv import write_scanpath_csv

    if _kind(str(path)) == "json":
        write_coco_search18_json(path, scanpaths)
    else:
        write_scanpath_csv(path, scanpaths)
