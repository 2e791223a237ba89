"""``gazekit score --pred P --human H [--metrics m1,m2] [--protocol pairs|distribution] [--detections DIR |
--boxes FILE] [--format table|json|csv] [--out FILE]``.

P and H are gazekit scanpath CSV or COCO-Search18 JSON files. Each prediction is matched to the human
scanpaths of the same (stimulus, task); the command prints per-metric mean, std and n.

* ``--protocol pairs`` (default): per-pair metrics averaged per prediction (:func:`score_scanpaths`).
* ``--protocol distribution``: the distribution protocol (:mod:`gazekit.metrics.distribution`): per metric
  the KL divergence between the human-vs-human and model-vs-human score distributions, RSS and DSS, plus
  the set metrics (mismatch, delta). Give every sample of a stochastic model (>= 10 per stimulus/task).
* Objects: ``--detections DIR`` (COCO-Search18 detections, the object-level loader's displays, missed
  targets imputed as it does), ``--boxes FILE`` (JSON ``{stimulus: [{"box": [x, y, w, h], "category": ...,
  "target": true}, ...]}``), or object indices already in the gazekit CSV (``object`` column). With
  detections or boxes, every fixation of predictions and humans goes to an object by the experiments' rule
  (OAT's: the smallest box containing it, else the nearest box centre), the target object comes from the
  target box, and SS obj, edit obj and the behavioural delta are computed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import sys
from pathlib import Path

from gazekit.datasets._common import finite, load_json
from gazekit.datasets.object_level import (
    assign_fixations_to_objects,
    canonical_category,
    coco_search18_object_trials,
    read_detections,
)
from gazekit.errors import DataFormatError
from gazekit.io import atomic_write_text, read_scanpaths
from gazekit.metrics.api import SCANPATH_METRICS, ScoreOptions, auto_metrics, resolve_metrics, score_scanpaths
from gazekit.metrics.distribution import score_distribution
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target

__all__ = ["add_arguments", "format_results", "run", "with_objects"]


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
    parser.add_argument(
        "--protocol",
        choices=("pairs", "distribution"),
        default="pairs",
        help="pairs: per-pair scores (default); distribution: KL of score distributions, RSS, DSS (ScanDiff)",
    )
    objs = parser.add_mutually_exclusive_group()
    objs.add_argument("--detections", default=None, help="COCO-Search18 detections folder (or one <task>.csv)")
    objs.add_argument("--boxes", default=None, help='JSON {stimulus: [{"box": [x,y,w,h], "category": c, "target": b}]}')
    parser.add_argument(
        "--drop-first-fixation", action="store_true", help="remove every scanpath's first (centre) fixation first"
    )
    parser.add_argument(
        "--min-fixations", type=int, default=0, help="drop scanpaths shorter than this (the papers use 4)"
    )
    parser.add_argument("--tde-k", type=int, default=3, help="TDE embedding length (default 3)")
    parser.add_argument("--kl-bins", type=int, default=100, help="distribution protocol: histogram edges (100)")
    parser.add_argument(
        "--rss-threshold", type=float, default=None, help="RSS threshold (default: the human-vs-human mean)"
    )


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


def _read_boxes(path: str) -> dict[str, list[ObjectBox]]:
    """``{stimulus: [ObjectBox]}`` from a boxes JSON; the target object gets ``attributes['is_target']``."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataFormatError("expected a JSON object {stimulus: [boxes]}", path=path)
    out: dict[str, list[ObjectBox]] = {}
    for name, items in data.items():
        if not isinstance(items, list):
            raise DataFormatError("expected a list of boxes", path=path, field=str(name))
        boxes = []
        for k, it in enumerate(items):
            b = it.get("box") if isinstance(it, dict) else None
            if not isinstance(b, list) or len(b) != 4:
                raise DataFormatError('each item needs "box": [x, y, w, h]', path=path, field=f"{name}[{k}]")
            vals = [finite(v, path=path, field=f"{name}[{k}].box") for v in b]
            attrs = {"is_target": True} if it.get("target") else {}
            boxes.append(ObjectBox(*vals, category=str(it.get("category", "")), attributes=attrs))
        out[str(name)] = boxes
    return out


def _stimuli(humans: list[Scanpath], args: argparse.Namespace) -> dict[tuple, Stimulus]:
    """``{(stimulus, task): Stimulus with objects}`` from ``--detections`` or ``--boxes``."""
    if args.detections:
        trials = coco_search18_object_trials(humans, read_detections(args.detections))
        if not len(trials):
            raise DataFormatError("no human scanpath has a detections entry", path=args.detections)
        return {t.scanpath.key: t.stimulus for t in trials}
    boxes = _read_boxes(args.boxes)
    out = {}
    for h in humans:
        objs = boxes.get(h.stimulus)
        if objs is None:
            continue
        ti = next((i for i, o in enumerate(objs) if o.attributes.get("is_target")), None)
        box = objs[ti].xywh if ti is not None else h.meta.get("bbox")
        target = Target(category=h.task or "", box=None if box is None else tuple(box))
        w, h_ = h.width or 1, h.height or 1
        out[h.key] = Stimulus(h.stimulus, int(w), int(h_), objects=objs, target=target, meta={"target_index": ti})
    if not out:
        raise DataFormatError("no human scanpath's stimulus is in the boxes file", path=args.boxes)
    return out


def with_objects(sps: list[Scanpath], stimuli: dict[tuple, Stimulus]) -> list[Scanpath]:
    """Scanpaths with object indices by the experiments' rule (containing box, else nearest centre), the
    target object and box; scanpaths without a display in ``stimuli`` are left out."""
    out = []
    for s in sps:
        st = stimuli.get(s.key) or stimuli.get((s.stimulus, canonical_category(s.task or "")))
        if st is None:
            continue
        meta = dict(s.meta)
        ti = st.target_index
        if ti is None:
            ti = next((i for i, o in enumerate(st.objects) if o.attributes.get("is_target")), None)
        if ti is not None:
            meta["target_object"] = int(ti)
        if st.target is not None and st.target.box is not None:
            meta.setdefault("bbox", list(st.target.box))
        objs = assign_fixations_to_objects(s.x, s.y, st.objects, math.inf)
        out.append(dataclasses.replace(s, task=st.meta.get("task", s.task), objects=objs, meta=meta))
    return out


def run(args: argparse.Namespace) -> int:
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
    meta: dict = {}
    if getattr(args, "detections", None) or getattr(args, "boxes", None):
        stimuli = _stimuli(humans, args)
        preds, humans = with_objects(preds, stimuli), with_objects(humans, stimuli)
        imputed = sum(bool(st.meta.get("target_from_annotation")) for st in stimuli.values())
        meta["displays_with_objects"] = len(stimuli)
        if imputed:
            meta["displays_with_imputed_target"] = imputed
        if not preds:
            raise DataFormatError("no prediction is on a display with objects", path=args.pred)
    size = _parse_size(getattr(args, "size", None))
    sizes = None
    if size is not None:
        sizes = {s.stimulus: size for s in (*preds, *humans) if s.width is None or s.height is None}
    opts = ScoreOptions.resolve(
        stimuli_sizes=sizes,
        max_step=args.max_step,
        drop_first_fixation=bool(getattr(args, "drop_first_fixation", False)),
        min_fixations=int(getattr(args, "min_fixations", 0) or 0),
        tde_k=int(getattr(args, "tde_k", 3) or 3),
        kl_bins=int(getattr(args, "kl_bins", 100) or 100),
        rss_threshold=getattr(args, "rss_threshold", None),
    )
    if getattr(args, "protocol", "pairs") == "distribution":
        results = score_distribution(preds, humans, metrics, opts)
        if metrics is None:  # the set metrics the data supports, as the per-pair protocol would pick them
            sets = [n for n in ("prob_mismatch", "delta") if n in auto_metrics(preds, humans, opts)]
            if sets:
                results.update(score_scanpaths(preds, humans, sets, opts))
    else:
        results = score_scanpaths(preds, humans, metrics, opts)
    hkeys = {h.key for h in humans}
    matched = sum(1 for p in preds if p.key in hkeys)
    meta = {"predictions": len(preds), "matched_predictions": matched, "humans": len(humans), **meta}
    meta["protocol"] = getattr(args, "protocol", "pairs")
    text = format_results(results, args.format, meta)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
