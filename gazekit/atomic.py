"""Atomic file writes and staged folders (a leaf module: readers never see half a file, and a killed run
leaves nothing where readers look)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "publish_dir", "staging_dir"]


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
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
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
