"""Format-independent reading and writing of scanpath files, and atomic file writes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gazekit.errors import DataFormatError
from gazekit.types import Scanpath

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "parse_scanpaths",
    "publish_dir",
    "read_scanpaths",
    "staging_dir",
    "write_scanpaths",
]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so readers never see half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must not reach the disk before the bytes do
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def staging_dir(parent: str | Path, tag: str, suffix: str = ".tmp") -> Path:
    """A new hidden folder ``parent/.<tag>.<pid>.<random><suffix>`` to write into before publishing.

    Staging folders of ``tag`` left by processes that no longer run (a killed earlier run) are removed first;
    those of running processes are left alone. Nothing reads a staging folder but its writer."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    head = f".{tag}."
    for p in parent.glob(f"{head}*"):
        pid = p.name[len(head) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{head}{os.getpid()}.", suffix=suffix, dir=parent))


def publish_dir(stage: str | Path, out: str | Path, last: Iterable[str] = ()) -> None:
    """Move every file of ``stage`` to the same place under ``out`` (each an atomic rename; the files named
    in ``last``, relative paths, go last, in that order), then remove ``stage``. A reader sees each file
    either complete from this run or as it was before; files in ``last`` (the report) mark a complete run."""
    stage, out = Path(stage), Path(out)
    order = list(last)
    files = [p.relative_to(stage).as_posix() for p in sorted(stage.rglob("*")) if p.is_file()]
    for rel in [f for f in files if f not in order] + [f for f in order if f in files]:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, out / rel)
    shutil.rmtree(stage, ignore_errors=True)


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
