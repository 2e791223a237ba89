"""``gazekit score --pred P --human H [--metrics m1,m2] [--format table|json|csv] [--out FILE]``.

P and H are gazekit scanpath CSV or COCO-Search18 JSON files. Each prediction is matched to the human
scanpaths of the same (stimulus, task); the command prints per-metric mean, std and n. Frames are never
guessed: records without width/height need ``--human-frame WxH`` (``--pred-frame`` for predictions).
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
from gazekit.cliutil import bounded_int, parse_frame
from gazekit.errors import ConfigError, DataFormatError

__all__ = ["add_arguments", "format_results", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", help="predicted scanpaths (.csv gazekit CSV or .json COCO-Search18)")
    parser.add_argument("--human", help="human scanpaths (.csv or .json)")
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric names (case-insensitive); default: every metric the data supports. "
        "Use --list-metrics to see them.",
    )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--out", default=None, help="write the result to this file instead of stdout")
    parser.add_argument(
        "--max-step",
        type=bounded_int(1, MAX_STEP_LIMIT),
        default=6,
        help=f"last step of the target-found curve (default 6, at most {MAX_STEP_LIMIT})",
    )
    parser.add_argument(
        "--human-frame",
        default=None,
        metavar="WxH",
        help="size (px) of the display/image the human fixations were recorded on, for records that carry no "
        "width/height (COCO-Search18's display: 1680x1050). Never guessed: without it such files are refused",
    )
    parser.add_argument(
        "--pred-frame", default=None, metavar="WxH", help="the same for predictions without width/height"
    )
    parser.add_argument("--size", default=None, metavar="WxH", help="sets both --human-frame and --pred-frame")
    parser.add_argument("--list-metrics", action="store_true", help="print the metric names and exit")


#: the target-found curve has one entry per step; no search trial is longer than this
MAX_STEP_LIMIT = 1000


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


def run(args: argparse.Namespace) -> int:
    from gazekit.io import FRAME_SOURCE, assign_frames, read_scanpaths
    from gazekit.metrics.api import SCANPATH_METRICS, resolve_metrics, score_scanpaths

    if getattr(args, "list_metrics", False):
        for k, v in SCANPATH_METRICS.items():
            print(f"{k:<20} {v}")
        return 0
    if not args.pred or not args.human:
        raise ConfigError("give --pred PREDICTIONS and --human HUMANS (or --list-metrics alone)")
    metrics = resolve_metrics(args.metrics) if args.metrics else None  # fail fast on bad names
    both = parse_frame(args.size, "--size") if args.size else None
    hframe = parse_frame(args.human_frame, "--human-frame") if args.human_frame else both
    pframe = parse_frame(args.pred_frame, "--pred-frame") if args.pred_frame else both
    preds = read_scanpaths(args.pred)
    humans = read_scanpaths(args.human)
    if not preds:
        raise DataFormatError("no scanpaths in the file", path=args.pred)
    if not humans:
        raise DataFormatError("no scanpaths in the file", path=args.human)
    preds = assign_frames(preds, pframe, source=args.pred, option="--pred-frame")
    humans = assign_frames(humans, hframe, source=args.human)
    results = score_scanpaths(preds, humans, metrics, max_step=args.max_step)
    hkeys = {h.key for h in humans}
    matched = sum(1 for p in preds if p.key in hkeys)
    meta: dict = {"predictions": len(preds), "matched_predictions": matched, "humans": len(humans)}
    for what, fr, sps in (("human_frame", hframe, humans), ("pred_frame", pframe, preds)):
        if fr is not None and any(s.meta.get(FRAME_SOURCE) == "user" for s in sps):
            meta[what] = f"{fr[0]:g}x{fr[1]:g} (given by the user for records without width/height)"
    text = format_results(results, args.format, meta)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
