"""``gazekit score --pred P --human H [--metrics m1,m2] [--protocol pairs|distribution] [--detections DIR |
--boxes FILE] [--format table|json|csv] [--out FILE]``.

P and H are gazekit scanpath CSV or COCO-Search18 JSON files. Each prediction is matched to the human
scanpaths of the same (stimulus, task); the command prints per-metric mean, std and n. Frames are never
guessed: records without width/height need ``--human-frame WxH`` (``--pred-frame`` for predictions).

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

from gazekit.atomic import atomic_write_text
from gazekit.cliutil import bounded_int, parse_frame
from gazekit.datasets._common import finite, load_json
from gazekit.datasets.coco_search18 import DISPLAY_HEIGHT, DISPLAY_WIDTH
from gazekit.datasets.object_level import canonical_category, coco_search18_object_trials, read_detections
from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics.api import ScoreOptions, auto_metrics
from gazekit.metrics.distribution import score_distribution
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target, assign_fixations_to_objects

__all__ = ["add_arguments", "format_results", "run", "with_objects"]


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
        objs = assign_fixations_to_objects(s.x, s.y, st.objects, rule="radius")
        out.append(dataclasses.replace(s, task=st.meta.get("task", s.task), objects=objs, meta=meta))
    return out


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
    frames_from_detections = bool(getattr(args, "detections", None)) and (hframe is None or pframe is None)
    if getattr(args, "detections", None):
        # COCO-Search18 detections are boxes on the dataset's display, so they name the frame of the
        # fixations scored against them; a frame the user gives still wins.
        display = (float(DISPLAY_WIDTH), float(DISPLAY_HEIGHT))
        hframe, pframe = hframe or display, pframe or display
    preds = read_scanpaths(args.pred)
    humans = read_scanpaths(args.human)
    if not preds:
        raise DataFormatError("no scanpaths in the file", path=args.pred)
    if not humans:
        raise DataFormatError("no scanpaths in the file", path=args.human)
    preds = assign_frames(preds, pframe, source=args.pred, option="--pred-frame")
    humans = assign_frames(humans, hframe, source=args.human)
    extra: dict = {}
    if getattr(args, "detections", None) or getattr(args, "boxes", None):
        stimuli = _stimuli(humans, args)
        preds, humans = with_objects(preds, stimuli), with_objects(humans, stimuli)
        imputed = sum(bool(st.meta.get("target_from_annotation")) for st in stimuli.values())
        extra["displays_with_objects"] = len(stimuli)
        if imputed:
            extra["displays_with_imputed_target"] = imputed
        if not preds:
            raise DataFormatError("no prediction is on a display with objects", path=args.pred)
    opts = ScoreOptions.resolve(
        max_step=args.max_step,
        drop_first_fixation=bool(getattr(args, "drop_first_fixation", False)),
        min_fixations=int(getattr(args, "min_fixations", 0) or 0),
        tde_k=int(getattr(args, "tde_k", 3) or 3),
        kl_bins=int(getattr(args, "kl_bins", 100) or 100),
        rss_threshold=getattr(args, "rss_threshold", None),
    )
    protocol = getattr(args, "protocol", "pairs")
    if protocol == "distribution":
        results = score_distribution(preds, humans, metrics, opts)
        if metrics is None:  # the set metrics the data supports, as the per-pair protocol would pick them
            sets = [n for n in ("prob_mismatch", "delta") if n in auto_metrics(preds, humans, opts)]
            if sets:
                results.update(score_scanpaths(preds, humans, sets, opts))
    else:
        results = score_scanpaths(preds, humans, metrics, opts)
    hkeys = {h.key for h in humans}
    matched = sum(1 for p in preds if p.key in hkeys)
    meta: dict = {"predictions": len(preds), "matched_predictions": matched, "humans": len(humans), **extra}
    meta["protocol"] = protocol
    for what, fr, sps in (("human_frame", hframe, humans), ("pred_frame", pframe, preds)):
        if fr is not None and any(s.meta.get(FRAME_SOURCE) == "user" for s in sps):
            given = "the COCO-Search18 display of --detections" if frames_from_detections else "given by the user"
            meta[what] = f"{fr[0]:g}x{fr[1]:g} ({given}, for records without width/height)"
    text = format_results(results, args.format, meta)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
