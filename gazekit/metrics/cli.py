"""``gazekit score --pred P --human H [--metrics m1,m2] [--format table|json|csv] [--out FILE]``.

P and H are gazekit scanpath CSV or COCO-Search18 JSON files. Each prediction is matched to the human
scanpaths of the same (stimulus, task); the command prints per-metric mean, std and n.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

from gazekit.atomic import atomic_write_text
from gazekit.errors import DataFormatError

__all__ = ["add_arguments", "format_results", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, help="predicted scanpaths (.csv gazekit CSV or .json COCO-Search18)")
    parser.add_argument("--human", required=True, help="human scanpaths (.csv or .json)")
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric names (case-insensitive); default: every metric the data supports. "
        "Use --list-metrics to see them.",
    )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--out", default=None, help="write the result to this file instead of stdout")
    parser.add_argument("--max-step", type=int, default=6, help="last step of the target-found curve (default 6)")
    parser.add_argument(
        "--size",
        default=None,
        help="frame size WxH for scanpaths without one (e.g. 1680x1050); used by ScanMatch/MultiMatch",
    )
    parser.add_argument("--list-metrics", action="store_true", help="print the metric names and exit")


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None or not math.isfinite(v):
        return "nan"
    return f"{v:.{digits}f}"


def format_results(results: dict, fmt: str, meta: dict | None = None) -> str:
    """Render ``{name: MetricSummary}`` as an aligned table, JSON or CSV."""
    rows = [(k, v.to_dict()) for k, v in results.items()]
    if fmt == "json":
        return json.dumps({"metrics": dict(rows), **(meta or {})}, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["metric", "mean", "std", "n", "higher_is_better"])
        for k, d in rows:
            w.writerow(
                [
                    k,
                    "" if d["mean"] is None else repr(d["mean"]),
                    "" if d["std"] is None else repr(d["std"]),
                    d["n"],
                    int(d["higher_is_better"]),
                ]
            )
        return buf.getvalue()
    width = max([len("metric"), *(len(k) for k, _ in rows)])
    lines = [f"{'metric':<{width}}  {'mean':>12}  {'std':>12}  {'n':>7}  better"]
    for k, d in rows:
        lines.append(
            f"{k:<{width}}  {_fmt(d['mean']):>12}  {_fmt(d['std']):>12}  {d['n']:>7}  "
            f"{'higher' if d['higher_is_better'] else 'lower'}"
        )
    if meta:
        lines.append("")
        lines += [f"{k}: {v}" for k, v in meta.items()]
    return "\n".join(lines) + "\n"


def _parse_size(s: str | None) -> tuple[float, float] | None:
    if s is None:
        return None
    try:
        w, h = (float(v) for v in s.lower().replace(",", "x").split("x"))
    except ValueError:
        raise DataFormatError(f"--size must be WIDTHxHEIGHT, got {s!r}") from None
    if not (w > 0 and h > 0):
        raise DataFormatError(f"--size must be positive, got {s!r}")
    return w, h


def run(args: argparse.Namespace) -> int:
    from gazekit.io import read_scanpaths
    from gazekit.metrics.api import SCANPATH_METRICS, resolve_metrics, score_scanpaths

    if getattr(args, "list_metrics", False):
        for k, v in SCANPATH_METRICS.items():
            print(f"{k:<20} {v}")
        return 0
    metrics = resolve_metrics(args.metrics) if args.metrics else None  # fail fast on bad names
    preds = read_scanpaths(args.pred)
    humans = read_scanpaths(args.human)
    if not preds:
        raise DataFormatError("no scanpaths in the file", path=args.pred)
    if not humans:
        raise DataFormatError("no scanpaths in the file", path=args.human)
    size = _parse_size(getattr(args, "size", None))
    sizes = None
    if size is not None:
        sizes = {s.stimulus: size for s in (*preds, *humans) if s.width is None or s.height is None}
    results = score_scanpaths(preds, humans, metrics, stimuli_sizes=sizes, max_step=args.max_step)
    hkeys = {h.key for h in humans}
    matched = sum(1 for p in preds if p.key in hkeys)
    meta = {"predictions": len(preds), "matched_predictions": matched, "humans": len(humans)}
    text = format_results(results, args.format, meta)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
