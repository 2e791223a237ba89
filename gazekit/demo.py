"""``gazekit demo``: the embedded default, end to end.

1. Build the synthetic search world (:func:`gazekit.datasets.synthetic.search.build_world`, 10 simulated
   observers) and hold out a share of its displays.
2. Run every available registered scanpath model that does visual search (the baselines, and OAT when its
   checkpoint can be found) on the held-out displays: one scanpath per display, from the target's category
   and picture (never its location).
3. Score the predictions against the simulated observers (:func:`gazekit.metrics.score_scanpaths`) and the
   observers against each other (:func:`gazekit.metrics.human_consistency`, the ceiling).
4. Write ``DIR/report.html``, ``DIR/metrics.json``, ``DIR/predictions.csv`` and ``DIR/overlays/*.png``.

Progress goes to stderr (silenced by ``GAZEKIT_NO_PROGRESS=1``).

The default world seed is 1 because the OAT recipe (``configs/experiments/oat_synthetic.yaml``) trains on
world seed 0: display names and pixels of seed 1 are never seen in training.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gazekit.atomic import atomic_write_text, publish_dir, staging_dir
from gazekit.cliutil import bounded_float, bounded_int
from gazekit.errors import ConfigError, GazekitError, WeightsNotFoundError
from gazekit.models.baselines import TargetDwell
from gazekit.models.predictors import sample_scanpaths
from gazekit.types import Scanpath, Stimulus, Target, Task

__all__ = ["DIST_METRICS", "PAIR_METRICS", "SEARCH_METRICS", "add_arguments", "run", "run_demo"]

#: compared with every observer of a display, on all held-out displays
PAIR_METRICS: tuple[str, ...] = ("ss", "ss_objects", "scanmatch", "multimatch", "edit_distance", "delta")
#: search behaviour on the target-present held-out displays
SEARCH_METRICS: tuple[str, ...] = ("found_rate", "fixations_to_target", "tfp_auc", "prob_mismatch")
#: the distribution protocol (gazekit.metrics.distribution) on all held-out displays
DIST_METRICS: tuple[str, ...] = ("kl_ss", "kl_ss_objects", "rss_ss_objects", "dss_ss_objects")
#: stochastic models also get a row of N_SAMPLES samples per display (listed first: the primary row)
SAMPLED_MODELS: tuple[str, ...] = ("oat", "target-dwell")
N_SAMPLES = 10
#: ``--quick`` is a smoke run: 3 samples per display keep it fast
QUICK_SAMPLES = 3

FULL = {"n_displays": 200, "test_fraction": 0.25, "overlays": 6}
QUICK = {"n_displays": 24, "test_fraction": 0.25, "overlays": 2}
#: held-out synthetic gaze scenes the gaze-following models are scored on (quick: a smoke run)
GAZE_SCENE_COUNT, QUICK_GAZE_SCENES = 150, 8
N_SUBJECTS = 10
#: overlays are drawn on the display scaled by this factor (legible numbers on 512x320 displays)
OVERLAY_SCALE = 2


class _Progress:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.quiet = os.environ.get("GAZEKIT_NO_PROGRESS") == "1"

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            print(f"[demo {time.perf_counter() - self.t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_out", help="output folder (default ./demo_out)")
    parser.add_argument(
        "--quick", action="store_true", help=f"a small world ({QUICK['n_displays']} displays): seconds, for smoke tests"
    )
    parser.add_argument(
        "--n-displays",
        type=bounded_int(4, 100_000),
        help=f"displays in the world (default {FULL['n_displays']}; quick {QUICK['n_displays']})",
    )
    parser.add_argument(
        "--seed",
        type=bounded_int(0, 2**32 - 1),
        default=1,
        help="world seed (default 1; OAT's recipe trains on seed 0)",
    )
    parser.add_argument(
        "--test-fraction", type=bounded_float(0.05, 0.95), help="share of displays held out for scoring (default 0.25)"
    )
    parser.add_argument("--models", help="comma-separated model names (default: every available scanpath model)")
    parser.add_argument("--overlays", type=bounded_int(0, 1000), help="number of overlay images (default 6; quick 2)")
    parser.add_argument("--embed-images", action="store_true", help="embed overlays in report.html as base64")


def run(args: argparse.Namespace) -> int:
    preset = QUICK if args.quick else FULL
    result = run_demo(
        args.out,
        n_displays=args.n_displays if args.n_displays is not None else preset["n_displays"],
        seed=args.seed,
        test_fraction=args.test_fraction if args.test_fraction is not None else preset["test_fraction"],
        models=[m.strip() for m in args.models.split(",") if m.strip()] if args.models else None,
        n_overlays=args.overlays if args.overlays is not None else preset["overlays"],
        embed_images=args.embed_images,
        quick=args.quick,
    )
    print(_summary_text(result, Path(args.out)))
    return 0


# --------------------------------------------------------------------------------------------- the pipeline
def _search_task(stim: Stimulus) -> Task:
    """The task every model gets: the target's category and picture, not its location."""
    t = stim.target
    return Task("search", Target(t.category, None, t.image))


def _align(sp: Scanpath, stim: Stimulus, model: str) -> Scanpath:
    """A prediction labelled like the observers' scanpaths of ``stim`` (key, condition, frame, objects, target).

    ``found`` is recomputed from the ground truth (a fixation in the target box) so every model is judged
    the same way; object indices follow the observers' rule (:func:`~gazekit.datasets.synthetic.observers.observed_objects`)."""
    from gazekit.datasets.synthetic.observers import observed_objects
    from gazekit.types import Frame

    out = dataclasses.replace(sp, meta=dict(sp.meta))
    if out.frame is None:
        out.width, out.height = float(stim.width), float(stim.height)
    elif (out.width, out.height) != (stim.width, stim.height):
        out = out.to_frame(Frame(stim.width, stim.height))
    out.stimulus, out.task, out.subject = stim.name, stim.target.category, model
    present = stim.target.box is not None
    out.condition = "present" if present else "absent"
    out.objects = observed_objects(stim, out.x, out.y)
    out.meta["model"] = model
    if present:
        bx, by, bw, bh = stim.target.box
        out.found = bool(np.any((out.x >= bx) & (out.x <= bx + bw) & (out.y >= by) & (out.y <= by + bh)))
        out.meta["bbox"] = list(stim.target.box)
        out.meta["target_object"] = int(stim.meta["target_index"])
    else:
        out.found = False
        out.meta.pop("bbox", None)
        out.meta.pop("target_object", None)
    return out


def _scores(
    preds: Sequence[Scanpath], humans: Sequence[Scanpath], consistency: bool = False
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Pairwise metrics on all trials, search metrics on target-present ones; ``{metric: summary}``, notes."""
    from gazekit.metrics import human_consistency, score_distribution, score_scanpaths

    notes: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    present_h = [h for h in humans if h.condition == "present"]
    present_p = [p for p in preds if p.condition == "present"]
    jobs = [(PAIR_METRICS, preds, humans), (SEARCH_METRICS, present_p, present_h)]
    for names, P, H in jobs:
        if not P or not H:
            notes.append(f"{', '.join(names)}: no trials")
            continue
        try:
            res = human_consistency(H, list(names)) if consistency else score_scanpaths(P, H, list(names))
        except GazekitError as e:
            notes.append(f"{', '.join(names)}: {e}")
            continue
        out.update({k: v.to_dict() for k, v in res.items()})
    if not consistency:
        try:
            dist = score_distribution(preds, humans, ["ss", "ss_objects"])
            out.update({k: v.to_dict() for k, v in dist.items() if k in DIST_METRICS})
        except GazekitError as e:
            notes.append(f"distribution protocol: {e}")
    return out, notes


def _length(sps: Sequence[Scanpath]) -> dict[str, Any]:
    n = np.array([len(s) for s in sps], float)
    return {"mean": float(n.mean()), "std": float(n.std()), "n": int(n.size)} if n.size else {}


def _metric_info() -> dict[str, dict[str, Any]]:
    from gazekit.metrics.api import LOWER_IS_BETTER, MULTIMATCH_NAMES, SCANPATH_METRICS

    info: dict[str, dict[str, Any]] = {}
    dist_desc = {
        "kl": "distribution protocol: KL(observer-observer || model-observer) of the pooled {} scores",
        "rss": "RSS: share of observer scanpaths matched by a prediction above the observers' mean {}",
        "dss": "DSS: mean {0}(model, observer) / (1 + |{0}(model, model) - {0}(observer, observer)|) per display",
    }
    for m in PAIR_METRICS + SEARCH_METRICS:
        scope = "all held-out displays" if m in PAIR_METRICS else "target-present displays"
        names = MULTIMATCH_NAMES if m == "multimatch" else (m,)
        for n in names:
            desc = SCANPATH_METRICS["multimatch"] + f"; this column: {n}" if m == "multimatch" else SCANPATH_METRICS[m]
            info[n] = {"description": desc, "higher_is_better": n not in LOWER_IS_BETTER, "scope": scope}
    for n in DIST_METRICS:
        kind, metric = n.split("_", 1)
        info[n] = {
            "description": dist_desc[kind].format(metric),
            "higher_is_better": kind != "kl",
            "scope": "all held-out displays",
        }
    return info


#: models the default run leaves to their own experiment: each recomputes a feature map from a new crop at
#: every fixation (several seconds per display on a CPU), which would make the demo take many minutes
RUN_ELSEWHERE = {
    name: "searches by recomputing its map at every fixation (several s per display on a CPU); its results come "
    "from `gazekit asymmetry`; add it here with `--models " + name + "`"
    for name in ("eccnet", "ivsn")
}


def _select_models(requested: Sequence[str] | None) -> tuple[list[Any], list[Any], dict[str, str]]:
    """(scanpath specs to run, gaze-following specs to run, {name: why not run}) over the registered models."""
    from gazekit.models.registry import get_spec, list_models

    specs = list_models() if requested is None else [get_spec(n) for n in requested]
    run_specs, gaze_specs, not_run = [], [], {}
    for s in specs:
        if s.kind == "gaze":
            if s.available:
                gaze_specs.append(s)
            else:
                not_run[s.name] = f"not available in this install (module {s.target.partition(':')[0]} missing)"
            continue
        if s.kind != "scanpath":
            raise ConfigError(f"model {s.name!r} is a {s.kind} model; the demo runs scanpath and gaze models")
        if "search" not in s.tasks:
            not_run[s.name] = f"does not do visual search (tasks: {', '.join(s.tasks)}); {s.description}"
        elif requested is None and s.name in RUN_ELSEWHERE:
            not_run[s.name] = RUN_ELSEWHERE[s.name]
        elif not s.available:
            not_run[s.name] = f"not available in this install (module {s.target.partition(':')[0]} missing)"
        else:
            run_specs.append(s)
    return run_specs, gaze_specs, not_run


#: the gaze scenes of the demo: drawn like the recipes of the bundled gaze models (configs/experiments/
#: vitgaze_synthetic.yaml, gazeseg_synthetic.yaml), from the test split
GAZE_SCENES = {"width": 224, "height": 224, "head_radius": (0.08, 0.11), "head_grid": 28}
GAZE_COLUMNS = ("on_target", "dice", "iou", "top1", "auc", "avg_l2", "min_l2", "ap")


def _gaze_following(specs: Sequence[Any], n_scenes: int, seed: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Every gaze model of ``specs`` and the any-object control on ``n_scenes`` held-out synthetic gaze scenes,
    scored as docs/models.md (GazeSeg) does (:func:`gazekit.gaze_eval.score_answers`)."""
    from gazekit.datasets.synthetic.gaze import GAZE_CATEGORIES, GazeSceneConfig, render_gaze_scene
    from gazekit.gaze_eval import AnyObjectControl, answer_for, score_answers
    from gazekit.models.registry import load_predictor, weights_source

    cfg = GazeSceneConfig(**GAZE_SCENES)
    scenes = [render_gaze_scene(i, cfg, seed, "test") for i in range(n_scenes)]
    cats = list(GAZE_CATEGORIES)
    rows: dict[str, Any] = {}
    for spec in specs:
        t = time.perf_counter()
        try:
            model = load_predictor(spec.name)
        except WeightsNotFoundError as e:
            rows[spec.name] = {"error": str(e)}
            continue
        answer, how = answer_for(model, cats)
        progress(f"{spec.name}: following the gaze of the people in {n_scenes} scenes ({how})")
        row = score_answers(answer, scenes, cats)
        row.update(weights=weights_source(spec, model, None) or "none", how=how, seconds=time.perf_counter() - t)
        rows[spec.name] = row
    t = time.perf_counter()
    control = score_answers(AnyObjectControl(cats, seed).answer, scenes, cats)
    how = "not a model: the ground-truth mask of a random object in the scene"
    control.update(weights="none", how=how, seconds=time.perf_counter() - t)
    rows["any-object control"] = control
    config = dict(GAZE_SCENES)
    return {
        "scenes": n_scenes,
        "seed": seed,
        "split": "test",
        "config": config,
        "columns": list(GAZE_COLUMNS),
        "rows": rows,
    }


def _overlay(stim: Stimulus, humans: Sequence[Scanpath], preds: dict[str, Scanpath]) -> np.ndarray:
    """Observers vs each model on one display, panels in rows of three ([H, W, 3] uint8)."""
    import cv2

    from gazekit import viz

    big = cv2.resize(
        stim.image, (stim.width * OVERLAY_SCALE, stim.height * OVERLAY_SCALE), interpolation=cv2.INTER_NEAREST
    )
    base = viz.draw_target(big, stim)
    shown = list(humans[:3])
    panels = [viz.draw_scanpaths(base, shown, colors=viz.PALETTE[1:])]
    labels = [f"observers {', '.join(str(h.subject) for h in shown)} of {len(humans)}"]
    for name, sp in preds.items():
        panels.append(viz.draw_scanpath(base, sp, color=viz.PALETTE[0]))
        tag = "found" if sp.found else ("absent" if sp.condition == "absent" else "missed")
        labels.append(f"{name}: {len(sp)} fixations, {tag}")
    rows = [viz.side_by_side(panels[i : i + 3], labels[i : i + 3], gap=10) for i in range(0, len(panels), 3)]
    width = max(r.shape[1] for r in rows)
    padded = []
    for r in rows:
        canvas = np.full((r.shape[0], width, 3), 255, np.uint8)
        canvas[:, : r.shape[1]] = r
        padded.append(canvas)
        padded.append(np.full((10, width, 3), 255, np.uint8))
    return np.concatenate(padded[:-1], axis=0)


def _pick_overlay_displays(stimuli: Sequence[Stimulus], k: int) -> list[Stimulus]:
    """Mostly target-present displays, and one absent display when k >= 3."""
    present = [s for s in stimuli if s.target.box is not None]
    absent = [s for s in stimuli if s.target.box is None]
    n_abs = 1 if k >= 3 and absent else 0
    return (present[: k - n_abs] + absent[:n_abs])[:k] if k > 0 else []


def run_demo(out: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Run the demo and write its files into ``out``; returns the result (as in ``metrics.json``).

    The files are written into a hidden staging folder inside ``out`` and moved into place when the run is
    complete, ``report.html`` last: a run killed part way leaves ``out`` as it was (its staging folder is
    removed by the next run). Keyword arguments: see :func:`_run_demo`."""
    final = Path(out)
    stage = staging_dir(final, "demo")
    try:
        result = _run_demo(stage, final, **kwargs)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    publish_dir(stage, final, last=("predictions.csv", "metrics.json", "report.html"))
    return result


def _run_demo(
    out: Path,
    final: Path,
    *,
    n_displays: int = FULL["n_displays"],
    seed: int = 1,
    test_fraction: float = FULL["test_fraction"],
    models: Sequence[str] | None = None,
    n_overlays: int = FULL["overlays"],
    embed_images: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    """The demo, writing into ``out`` (the staging folder); ``final`` is where its files will be."""
    from gazekit import __version__
    from gazekit.datasets.synthetic.search import build_world
    from gazekit.imageio import write_image
    from gazekit.io import write_scanpaths
    from gazekit.models.registry import load_predictor
    from gazekit.report import write_report

    if n_displays < 2:
        raise ConfigError(f"--n-displays must be >= 2 (some to hold out), got {n_displays}")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"--test-fraction must lie in (0, 1), got {test_fraction}")
    if n_overlays < 0:
        raise ConfigError(f"--overlays must be >= 0, got {n_overlays}")
    progress = _Progress()
    timings: dict[str, float] = {}
    n_samples = QUICK_SAMPLES if quick else N_SAMPLES
    t = time.perf_counter()
    progress("listing the registered scanpath models")
    specs, gaze_specs, not_run = _select_models(models)
    timings["registry_s"] = time.perf_counter() - t

    t = time.perf_counter()
    progress(f"building the synthetic world: {n_displays} displays x {N_SUBJECTS} simulated observers (seed {seed})")
    world = build_world(n_displays, n_subjects=N_SUBJECTS, seed=seed)
    train, test = world.split(test_fraction, seed=seed)
    stimuli = [s for s in test.stimuli if s.target is not None]
    humans = test.scanpaths
    n_present = sum(s.target.box is not None for s in stimuli)
    timings["world_s"] = time.perf_counter() - t
    progress(f"held out {len(stimuli)} displays ({n_present} target-present), {len(humans)} observer scanpaths")

    tasks = [_search_task(s) for s in stimuli]
    models_out: dict[str, dict[str, Any]] = {}
    predictions: dict[str, list[Scanpath]] = {}
    for spec in specs:
        t = time.perf_counter()
        try:
            # the location-only baseline learns its k from the training observers
            model = TargetDwell.fit(train.scanpaths) if spec.name == "target-dwell" else load_predictor(spec.name)
        except WeightsNotFoundError as e:
            not_run[spec.name] = f"not trained (no checkpoint found): {e}"
            progress(f"{spec.name}: skipped, no weights ({e})")
            continue
        except GazekitError as e:
            not_run[spec.name] = f"could not be loaded: {e}"
            progress(f"{spec.name}: skipped ({e})")
            continue
        progress(f"{spec.name}: predicting {len(stimuli)} scanpaths")
        runs = [(spec.name, False)]
        if spec.name in SAMPLED_MODELS:
            runs.insert(0, (f"{spec.name} (sampled ×{n_samples})", True))
        for row, sampled in runs:
            t = time.perf_counter()
            try:
                if sampled:
                    raw = sample_scanpaths(model, stimuli, tasks, n_samples)
                else:
                    raw = model.predict_scanpaths(stimuli, tasks)
            except Exception as e:  # a learned model failing must not sink the baselines' report
                not_run[row] = f"failed while predicting: {type(e).__name__}: {e}"
                progress(f"{row}: FAILED ({type(e).__name__}: {e})")
                continue
            reps = n_samples if sampled else 1
            preds = [_align(sp, st, row) for sp, st in zip(raw, [x for x in stimuli for _ in range(reps)], strict=True)]
            t_pred = time.perf_counter() - t
            scores, notes = _scores(preds, humans)
            if not sampled:
                predictions[row] = preds
            models_out[row] = {
                "description": spec.description
                + (f"; {n_samples} sampled scanpaths per display (the primary row)" if sampled else ""),
                "scores": scores,
                "length": _length(preds),
                "seconds": t_pred,
                "score_seconds": time.perf_counter() - t - t_pred,
                "notes": notes,
            }
            timings[f"model_{row}_s"] = time.perf_counter() - t
            fr = scores.get("found_rate", {}).get("mean")
            progress(
                f"{row}: done in {time.perf_counter() - t:.1f}s"
                + (f" (found rate {fr:.2f} on target-present displays)" if fr is not None else "")
            )
    # sampled (primary) rows first
    models_out = dict(sorted(models_out.items(), key=lambda kv: "sampled" not in kv[0]))

    t = time.perf_counter()
    progress("scoring the simulated observers against each other (ceiling)")
    h_scores, h_notes = _scores(humans, humans, consistency=True)
    human = {"scores": h_scores, "length": _length(humans), "seconds": time.perf_counter() - t, "notes": h_notes}
    timings["ceiling_s"] = time.perf_counter() - t

    t = time.perf_counter()
    overlays = []
    if predictions and n_overlays:
        (out / "overlays").mkdir(parents=True, exist_ok=True)
        by_display: dict[str, list[Scanpath]] = {}
        for h in humans:
            by_display.setdefault(h.stimulus, []).append(h)
        index = {s.name: i for i, s in enumerate(stimuli)}
        for stim in _pick_overlay_displays(stimuli, n_overlays):
            i = index[stim.name]
            img = _overlay(stim, by_display.get(stim.name, []), {m: p[i] for m, p in predictions.items()})
            rel = f"overlays/{Path(stim.name).stem}.png"
            write_image(out / rel, img)
            cond = "target present" if stim.target.box is not None else "target absent"
            overlays.append(
                {
                    "path": rel,
                    "stimulus": stim.name,
                    "caption": f"{stim.name}: target '{stim.target.category}', {cond}, "
                    f"{len(stim.objects)} objects ({stim.meta.get('layout')} layout)",
                }
            )
        progress(f"wrote {len(overlays)} overlay image(s) for {final / 'overlays'}")
    timings["overlays_s"] = time.perf_counter() - t

    gaze: dict[str, Any] | None = None
    if gaze_specs:
        t = time.perf_counter()
        gaze = _gaze_following(gaze_specs, QUICK_GAZE_SCENES if quick else GAZE_SCENE_COUNT, seed, progress)
        timings["gaze_following_s"] = time.perf_counter() - t

    out.mkdir(parents=True, exist_ok=True)
    every = [sp for preds in predictions.values() for sp in preds]
    if every:
        write_scanpaths(out / "predictions.csv", every)
    timings["total_s"] = time.perf_counter() - progress.t0
    info = _metric_info()
    result: dict[str, Any] = {
        "gazekit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": bool(quick),
        "world": {
            "seed": seed,
            "n_displays": n_displays,
            "n_subjects": N_SUBJECTS,
            "test_fraction": test_fraction,
            "n_test_displays": len(stimuli),
            "n_test_present": n_present,
            "n_human_scanpaths": len(humans),
        },
        "metric_names": list(info),
        "metric_info": info,
        "models": models_out,
        "human": human,
        "not_run": not_run,
        "overlays": overlays,
        "timings": timings,
    }
    if gaze is not None:
        result["gaze_following"] = gaze
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1, allow_nan=False) + "\n")
    write_report(out / "report.html", result, embed_images=embed_images)
    progress(f"wrote {final / 'report.html'}, {final / 'metrics.json'} and {final / 'predictions.csv'}")
    return result


def _summary_text(result: dict[str, Any], out: Path) -> str:
    """A plain-text table for the terminal."""
    cols = ["ss", "ss_objects", "found_rate", "prob_mismatch", "delta", "kl_ss_objects", "dss_ss_objects"]
    lines = [f"{'model':<34}" + "".join(f"{c:>11}" for c in cols)]

    def row(name: str, scores: dict[str, Any]) -> str:
        cells = []
        for c in cols:
            v = (scores.get(c) or {}).get("mean")
            cells.append(f"{v:>11.3f}" if v is not None else f"{'-':>11}")
        return f"{name:<34}" + "".join(cells)

    for name, r in result["models"].items():
        lines.append(row(name, r["scores"]))
    lines.append(row("simulated observers (ceiling)", result["human"]["scores"]))
    gaze = result.get("gaze_following")
    if gaze:
        gcols = gaze["columns"]
        lines.append(f"gaze following, {gaze['scenes']} held-out synthetic scenes:")
        lines.append(f"{'model':<34}" + "".join(f"{c:>11}" for c in gcols))
        for name, r in gaze["rows"].items():
            cells = [f"{r[c]:>11.3f}" if isinstance(r.get(c), float | int) else f"{'-':>11}" for c in gcols]
            lines.append(f"{name:<34}" + ("".join(cells) if "error" not in r else f"  not run: {r['error']}"))
    for name, why in result["not_run"].items():
        lines.append(f"not run: {name}: {why}")
    lines.append(f"report: {out / 'report.html'}  ({result['timings']['total_s']:.1f} s)")
    return "\n".join(lines)
