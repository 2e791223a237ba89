"""CLI start-up benchmark: wall time of commands that need no model, median of ``--repeat`` runs.

Each command runs in a fresh interpreter (``python -m gazekit ...``), as a user runs it. The peer in the same
run is ``python -c "import lightning.pytorch"``: the import these commands must not pay for (issue 12: every
command took 8-10 s, 7 s of it importing Lightning). ``--repo`` times another checkout (e.g. the commit
before the change) with the same interpreter, so before/after come from one machine and one load.

    python benchmarks/cli.py [--repeat 5] [--repo PATH] [--check]

``--check`` exits 1 when ``gazekit models`` takes more than 1.5 s (the goal of issue 12).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MODELS_S = 1.5


def _time(argv: list[str], repo: Path, cwd: Path, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(repo), "GAZEKIT_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:  # e.g. an option the timed checkout does not have
            print(f"<!-- {' '.join(argv[-3:])} failed: {r.stderr.strip().splitlines()[-1:]} -->", file=sys.stderr)
            return float("nan")
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--repo", type=Path, default=ROOT, help="checkout to time (default: this one)")
    ap.add_argument("--check", action="store_true", help=f"fail if `gazekit models` > {GOAL_MODELS_S} s")
    args = ap.parse_args()
    import cv2
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        img = cwd / "photo.jpg"
        cv2.imwrite(str(img), np.random.default_rng(0).integers(0, 255, (960, 1280, 3), dtype=np.uint8))
        cases = {
            "python -c 'import lightning.pytorch' (peer)": ["-c", "import lightning.pytorch"],
            "gazekit --help": ["-m", "gazekit", "--help"],
            "gazekit models": ["-m", "gazekit", "models"],
            "gazekit score --list-metrics": ["-m", "gazekit", "score", "--list-metrics"],
            "gazekit infer --model greedy (1280x960 JPEG)": [
                *("-m", "gazekit", "infer", "--model", "greedy", "--target-category", "cup"),
                *("--out", str(cwd / "out"), str(img)),
            ],
        }
        print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; repo {args.repo}")
        print(f"# median of {args.repeat} fresh interpreters")
        print("| command | median wall time |\n|---|---|")
        results = {}
        for name, argv in cases.items():
            results[name] = _time(argv, args.repo, cwd, args.repeat)
            print(f"| {name} | {results[name]:.2f} s |", flush=True)
    if args.check and results["gazekit models"] > GOAL_MODELS_S:
        print(f"gazekit models took {results['gazekit models']:.2f} s > {GOAL_MODELS_S} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
