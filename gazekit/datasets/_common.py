"""Helpers shared by the dataset readers: safe paths under a root, JSON/CSV reading, checked numbers.

Every error is a :class:`~gazekit.errors.DataFormatError` naming the file, the line (text formats, 1-based)
or record (JSON, 0-based) and the field. Nothing here unpickles anything.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from gazekit.errors import ConfigError, DataFormatError

__all__ = [
    "check_errors_arg",
    "csv_rows",
    "finite",
    "image_size",
    "load_json",
    "read_text",
    "safe_relpath",
    "resolve_under",
]

#: Files larger than this are refused by the text/JSON readers (a guard against feeding them something huge).
MAX_TEXT_BYTES = 2_000_000_000


def check_errors_arg(errors: str) -> None:
    if errors not in ("raise", "skip"):
        raise ConfigError(f"errors must be 'raise' or 'skip', got {errors!r}")


def read_bytes(p: Path, expected: str = "a file") -> bytes:
    """The bytes of a file; a missing file, a folder or an unreadable file is a DataFormatError naming it."""
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise DataFormatError("file not found", path=p) from None
    except IsADirectoryError:
        raise DataFormatError(f"is a directory, expected {expected}", path=p) from None
    except OSError as e:
        raise DataFormatError(f"cannot read ({e.strerror})", path=p) from None


def read_text(path: str | Path) -> str:
    """UTF-8 text of a file (BOM tolerated); errors name the file."""
    p = Path(path)
    data = read_bytes(p)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFormatError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=p) from None


def load_json(path: str | Path) -> Any:
    """Decode a JSON file; errors name the file and the line."""
    p = Path(path)
    data = read_bytes(p, "a JSON file")
    if not data.strip():
        raise DataFormatError("empty file, expected JSON", path=p, line=1)
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise DataFormatError(
            f"invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})", path=p, line=e.lineno
        ) from None
    except UnicodeDecodeError as e:
        raise DataFormatError(f"not UTF-8 text ({e.reason})", path=p) from None
    except RecursionError:
        raise DataFormatError("JSON nested too deeply", path=p) from None


def csv_rows(text: str, path: str, delimiter: str = ",") -> list[tuple[int, list[str]]]:
    """Parse CSV text into ``(line_number, fields)`` pairs, skipping blank lines (1-based line numbers)."""
    out: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            out.append((reader.line_num, row))
    except csv.Error as e:
        raise DataFormatError(f"malformed CSV ({e})", path=path, line=reader.line_num) from None
    return out


def finite(
    value: Any,
    *,
    path: str,
    field: str,
    line: int | None = None,
    record: int | None = None,
    allow_nan: bool = False,
    min_value: float | None = None,
) -> float:
    """A finite float from a string/number, or a DataFormatError naming where it came from."""
    if isinstance(value, bool):
        raise DataFormatError(f"expected a number, got {value!r}", path=path, line=line, record=record, field=field)
    if isinstance(value, str):
        s = value.strip()
        if s == "":
            if allow_nan:
                return math.nan
            raise DataFormatError("empty value, expected a number", path=path, line=line, record=record, field=field)
        value = s
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError(
            f"expected a number, got {value!r}"[:200], path=path, line=line, record=record, field=field
        ) from None
    if math.isnan(f):
        if allow_nan:
            return f
        raise DataFormatError("NaN is not allowed here", path=path, line=line, record=record, field=field)
    if math.isinf(f):
        raise DataFormatError("infinite value", path=path, line=line, record=record, field=field)
    if min_value is not None and f < min_value:
        raise DataFormatError(
            f"value {f} is below the minimum {min_value}", path=path, line=line, record=record, field=field
        )
    return f


def safe_relpath(name: Any, *, path: str, field: str, line: int | None = None, record: int | None = None) -> str:
    """Check that a path taken from a data file is relative and stays inside its root; return it (POSIX form).

    Absolute paths, drive letters, ``..`` components, NUL bytes and empty names are refused.
    """
    if not isinstance(name, str) or not name.strip():
        raise DataFormatError("missing or empty file name", path=path, line=line, record=record, field=field)
    if "\x00" in name:
        raise DataFormatError("file name contains a NUL byte", path=path, line=line, record=record, field=field)
    norm = name.strip().replace("\\", "/")
    if PurePosixPath(norm).is_absolute() or PureWindowsPath(name.strip()).drive or norm.startswith("/"):
        raise DataFormatError(
            f"file name must be relative to the dataset root, got {name!r}"[:300],
            path=path,
            line=line,
            record=record,
            field=field,
        )
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise DataFormatError(
            f"file name may not leave the dataset root, got {name!r}"[:300],
            path=path,
            line=line,
            record=record,
            field=field,
        )
    return "/".join(parts)


def resolve_under(root: str | Path, rel: str, *, path: str = "<data>", field: str = "path", **where: Any) -> Path:
    """``root / rel``, guaranteed (after resolving symlinks) to stay inside ``root``."""
    rel = safe_relpath(rel, path=path, field=field, **where)
    root_r = Path(os.path.realpath(root))
    full = Path(os.path.realpath(root_r / rel))
    try:
        full.relative_to(root_r)
    except ValueError:
        raise DataFormatError(
            f"{rel!r} resolves outside the dataset root {str(root_r)!r} (symlink?)", path=path, field=field, **where
        ) from None
    return full


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of an image file from its header (no decoding); None if missing or unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
        return int(w), int(h)
    except Exception:  # noqa: BLE001 - any unreadable file means "size unknown"
        return None


def as_points(v: Any, *, path: str, field: str, record: int | None = None) -> np.ndarray:
    """A ``[N, 2]`` float array of finite points from a JSON list of pairs."""
    if not isinstance(v, list):
        raise DataFormatError(
            f"expected a list of [x, y] pairs, got {type(v).__name__}", path=path, record=record, field=field
        )
    try:
        a = np.array(v, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError("expected a list of [x, y] number pairs", path=path, record=record, field=field) from None
    if a.size == 0:
        return np.zeros((0, 2))
    if a.ndim != 2 or a.shape[1] != 2:
        raise DataFormatError(
            f"expected a list of [x, y] pairs, got shape {a.shape}", path=path, record=record, field=field
        )
    if not np.all(np.isfinite(a)):
        raise DataFormatError("contains NaN or infinite values", path=path, record=record, field=field)
    return a
