"""Loader benchmark: reading a full-size COCO-Search18 train+val fixation JSON (about 45 MB).

The full train+val files are not available here, so the benchmark synthesises one of that size from the real
split1 validation records (``$GAZEKIT_SAMPLE_DATA/coco_search18``): records are repeated with new subject ids,
written with the same indentation as the official files, until the file reaches ``--mb`` megabytes. The
goal (issue 4) is under 3 s on 2 cores for :func:`read_coco_search18_json`.

    python benchmarks/loaders.py [--mb 45] [--repeat 3] [--check]

Also timed: the checked dataset reader (:func:`read_coco_search18`), the 512x320 model-frame variant, and the
real-sample readers (detections + object trials, GazeFollow, Amazon covers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("GAZEKIT_SAMPLE_DATA"):
    raise SystemExit("set GAZEKIT_SAMPLE_DATA to the folder of real sample files (coco_search18/, gazefollow/, ...)")
SHARED = Path(os.environ["GAZEKIT_SAMPLE_DATA"]).expanduser()
sys.path.insert(0, str(ROOT))


def synthesize(out: Path, target_mb: float) -> tuple[int, int]:
    """Write a COCO-Search18-style JSON of about ``target_mb`` MB; returns (records, bytes)."""
    src = json.loads((SHARED / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json").read_text())
    per = len(json.dumps(src, indent=4)) / len(src)
    n = int(target_mb * 1e6 / per)
    recs = []
    for i in range(n):
        r = dict(src[i % len(src)])
        r["subject"] = 1 + (r["subject"] - 1 + i // len(src)) % 10
        r["split"] = "train" if (i // len(src)) % 8 else "valid"
        recs.append(r)
    text = json.dumps(recs, indent=4)
    out.write_text(text)
    return n, len(text.encode())


def _time(fn, repeat: int) -> list[float]:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=45.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="exit 1 if the full-file read takes 3 s or more")
    args = ap.parse_args(argv)

    from gazekit.datasets.coco_search18 import read_coco_search18, read_coco_search18_json
    from gazekit.datasets.gazefollow import read_gazefollow
    from gazekit.datasets.object_level import amazon_object_trials, coco_search18_object_trials, read_detections

    rows = []
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "coco_search18_fixations_TP_trainval_synthetic.json"
        n, size = synthesize(f, args.mb)
        raw = _time(lambda: read_coco_search18_json(f), args.repeat)
        checked = _time(lambda: read_coco_search18(f), args.repeat)
        model = _time(lambda: read_coco_search18(f, frame="model", force_initial_center=True), args.repeat)
        jl = _time(lambda: json.loads(f.read_bytes()), args.repeat)
    rows += [
        (f"read_coco_search18_json, {size / 1e6:.1f} MB, {n:,} scanpaths", raw),
        ("  of which json.loads alone", jl),
        ("read_coco_search18 (tasks/conditions checked)", checked),
        ("read_coco_search18, 512x320 frame, centre forced", model),
    ]
    val = SHARED / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json"
    det = SHARED / "coco_search18" / "detections"
    rows += [
        ("read_detections (18 files, 3,057 image-task pairs)", _time(lambda: read_detections(det), args.repeat)),
        ("coco_search18_object_trials (3,258 scanpaths)", _time(lambda: coco_search18_object_trials(val, det), args.repeat)),
        ("read_gazefollow (4,499 rows)", _time(lambda: read_gazefollow(SHARED / "gazefollow" / "val_annotations_sample.txt"), args.repeat)),
        ("amazon_object_trials (600 trials)", _time(lambda: amazon_object_trials(SHARED / "amazon_covers" / "Amazon.json"), args.repeat)),
    ]  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f}")
    print("| case | best | median |\n|---|---|---|")
    for name, ts in rows:
        print(f"| {name} | {min(ts):.3f} s | {statistics.median(ts):.3f} s |")
    best = min(raw)
    ok = best < 3.0
    print(f"\nfull train+val-size JSON: {best:.2f} s (goal < 3 s: {'met' if ok else 'NOT met'})")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
