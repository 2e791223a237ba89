"""Running ``gazekit fit`` for the scaling tests: in a forked child of the test process (fast: nothing to
import again) or as the user does, ``python -m gazekit fit ...`` in a new process."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.context
import os
import subprocess
import sys
import traceback
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

from gazekit.models.registry import list_models

ROOT = Path(__file__).resolve().parents[2]

#: trainable registry models whose tiny recipe (configs/experiments/<name>_tiny.yaml) is still to come, and why
#: (empty: every trainable model has one; a model that lands without one is listed here until it does)
NOT_YET_COVERED: dict[str, str] = {}


def tiny_recipe(name: str) -> Path:
    return ROOT / "configs" / "experiments" / f"{name}_tiny.yaml"


def trainable_models() -> list[str]:
    return sorted(s.name for s in list_models() if s.trainable)


def callback_arg(class_path: str, **init_args: Any) -> str:
    """``--trainer.callbacks+=...``: one more callback next to the recipe's."""
    return "--trainer.callbacks+=" + json.dumps({"class_path": class_path, "init_args": init_args})


def record_arg(out: Path, prefix: str = "") -> str:
    return callback_arg("tests.training._callbacks.RecordSamples", out=str(out), prefix=prefix)


def _child(argv: list[str]) -> None:
    import torch

    from gazekit.cli import cli_main

    torch.set_num_threads(1)  # no OpenMP pool before Lightning's ddp_fork forks again
    try:
        cli_main(argv)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _forkserver() -> multiprocessing.context.BaseContext:
    """Children forked from a clean server: a fork of the test process itself deadlocks in the first torch op
    once an earlier test has started torch's OpenMP threads (seen in the full suite). The server starts
    single-threaded with gazekit's CLI already imported, so each child starts in well under a second."""
    ctx = multiprocessing.get_context("forkserver")
    if not getattr(_forkserver, "started", False):
        ctx.set_forkserver_preload(["torch", "gazekit.cli", "gazekit.lightning_registry", "tests.training._runs"])
        saved = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            forkserver.ensure_running()
        finally:
            if saved is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = saved
        _forkserver.started = True  # type: ignore[attr-defined]
    return ctx


def fit_forked(argv: list[str], timeout: float = 300) -> int:
    """Runs ``gazekit <argv>`` in a forked child; returns its exit code (the child's state never leaks back:
    deterministic-algorithm flags, seeds, threads)."""
    proc = _forkserver().Process(target=_child, args=(argv,))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise TimeoutError(f"gazekit {' '.join(argv)} ran past {timeout} s")
    return int(proc.exitcode)


def fit_subprocess(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m gazekit <argv>`` in a new process, as a user runs it (the tests folder importable)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        [sys.executable, "-m", "gazekit", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def read_records(out: Path, prefix: str = "") -> list[dict[str, Any]]:
    files = sorted(out.glob(f"{prefix}rank*.json"))
    return [json.loads(f.read_text()) for f in files]
