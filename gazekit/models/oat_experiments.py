"""OAT's offline steps and result tables: the position matrices, the validation delta, and the scripted
experiments whose numbers docs/models.md reports (``python -m gazekit.models.oat_experiments --help``)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from gazekit.datasets.search_trials import OATSyntheticDataModule, ObjectTrialDataModule
from gazekit.metrics.api import ScoreOptions, human_consistency, score_scanpaths
from gazekit.metrics.distribution import as_samples, distribution_summary, generated_pairs
from gazekit.metrics.scanpath import fit_ss_clusters
from gazekit.models.baselines import TargetDwell, TargetSimilarityGreedy
from gazekit.models.oat import ASSET_DIR, OAT, _asset_name, optimise_position_matrix, position_matrix_report
from gazekit.models.oat_inputs import fixations_to_objects
from gazekit.models.predictors import sample_scanpaths
from gazekit.models.registry import load_predictor
from gazekit.types import Scanpath

#: (rows, width, sigma) of the shipped position matrices: the release's sizes (11 rows at σ 2 and 2.5,
#: Amazon's 14 rows) at the paper's width 86 (d_model 512), plus gazekit's 16-row default and the widths
#: of the CPU recipes (d_model 128 → 22, d_model 256 → 44).
PE_ASSETS = (
    (11, 86, 2.0),
    (11, 86, 2.5),
    (14, 86, 2.0),
    (16, 86, 2.0),
    (14, 22, 2.0),
    (16, 22, 2.0),
    (14, 44, 2.0),
    (16, 44, 2.0),
)


def make_position_assets(out_dir: str | Path | None = None, steps: int = 10000) -> dict[str, dict[str, float]]:
    """Run the release's objective once per shipped size (seed 0) and write ``learned_pe_r*_w*_s*.npy``."""

    out = Path(out_dir) if out_dir is not None else ASSET_DIR
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    for rows, width, sigma in PE_ASSETS:
        W = optimise_position_matrix(rows, width, sigma, steps=steps, seed=0)
        name = _asset_name(rows, width, sigma)
        np.save(out / name, W)
        report[name] = position_matrix_report(W, sigma)
    return report


# ============================================================================================ evaluation protocol
class ObjectGreedy:
    """The ``greedy`` baseline on object displays without pixels: :class:`TargetSimilarityGreedy`, whose own
    cue there is the target category (1 x confidence for objects of that category), plus one cue it lacks:
    cosine similarity of given ``attributes['appearance']`` vectors to the target object's (Amazon)."""

    def __init__(self, **kw):

        class _G(TargetSimilarityGreedy):
            def candidate_scores(self, stimulus, task):  # noqa: ANN001, ANN202
                ti = stimulus.meta.get("target_index")
                pixels = stimulus.image is not None or stimulus.path is not None
                if pixels or ti is None or not stimulus.objects or "appearance" not in stimulus.objects[0].attributes:
                    return super().candidate_scores(stimulus, task)
                boxes = np.array([o.xywh for o in stimulus.objects], dtype=float)
                A = np.array([o.attributes["appearance"] for o in stimulus.objects], float)
                A /= np.linalg.norm(A, axis=1, keepdims=True)
                return boxes, np.clip(A @ A[int(ti)], 0.0, 1.0), "appearance-vector"

        self.inner = _G(**kw)

    def predict_scanpaths(self, stimuli, tasks, *, sample=False, seed=None):  # noqa: ANN001, ANN201
        return self.inner.predict_scanpaths(stimuli, tasks, sample=sample, seed=seed)


def object_view(sp: Scanpath, stimulus, drop_first: bool) -> Scanpath:  # noqa: ANN001
    """The scanpath as an object string (OAT's rule: the containing object, else the nearest centre), minus
    the start fixation when ``drop_first``, with ``meta['target_object']`` for the behavioural delta."""

    objs = fixations_to_objects(sp, stimulus)
    k = 1 if drop_first and len(sp) > 1 else 0
    meta = dict(sp.meta)
    ti = stimulus.meta.get("target_index")
    meta["target_object"] = -1 if ti is None else int(ti)
    return dataclasses.replace(sp, x=sp.x[k:], y=sp.y[k:], duration=sp.duration[k:], objects=objs[k:], meta=meta)


PIXEL_PAIR = ("ss", "multimatch")
PIXEL_SET = ("tfp_auc", "prob_mismatch")
OBJECT_PAIR = ("ss_objects", "edit_objects")
OBJECT_SET = ("delta",)
_MM_DIMS = ("mm_shape", "mm_direction", "mm_length", "mm_position")


def _per_subject(summary, humans) -> tuple[float, float]:  # noqa: ANN001
    """Mean and spread (std over subjects) of per-subject means of a pairwise metric."""
    pairs, idx = np.asarray(summary.pairs, float), np.asarray(summary.pair_index)
    if pairs.ndim != 1 or not len(pairs):
        return float("nan"), float("nan")
    subj = np.array([humans[j].subject for j in idx[:, 1]])
    means = [np.nanmean(pairs[subj == s]) for s in np.unique(subj)]
    return float(np.mean(means)), float(np.std(means))


def _with_bbox(sps, stimuli_by_key) -> list[Scanpath]:  # noqa: ANN001
    """Scanpaths with ``meta['bbox']`` = the target box of their stimulus (search metrics need it)."""

    out = []
    for s in sps:
        st = stimuli_by_key.get(s.key)
        box = None if st is None or st.target is None else st.target.box
        if s.meta.get("bbox") is None and box is not None:
            s = dataclasses.replace(s, meta={**s.meta, "bbox": list(box)})
        out.append(s)
    return out


class TableScorer:
    """Scores prediction sets against one set of humans, per pair and by the distribution protocol.

    The human pools (leave-one-subject-out pairs, SS clusters) are computed once. Pixel metrics are on
    pixel scanpaths that start with the display-centre fixation; object metrics on object strings
    (:func:`object_view`, minus the start fixation when ``drop_first``). Distribution columns
    (:mod:`gazekit.metrics.distribution`): ``kl_*`` = KL(human-human || model-human) of the pooled pair
    scores, ``rss_*`` / ``dss_*`` ScanDiff's recall and diversity-aware SS. ``pixel=False`` skips the pixel
    metrics (subset tables)."""

    def __init__(self, humans, stimuli_by_key, drop_first: bool, max_step: int = 6, pixel: bool = True):  # noqa: ANN001
        self.stim, self.drop_first, self.pixel = stimuli_by_key, drop_first, pixel
        self.H = _with_bbox(humans, stimuli_by_key)
        self.Hobj = [object_view(h, stimuli_by_key[h.key], drop_first) for h in self.H]
        by_key: dict = {}
        for h in self.H:
            by_key.setdefault(h.key, []).append(h)
        clusters = {k: fit_ss_clusters(v) for k, v in by_key.items()} if pixel else None
        self.opts = ScoreOptions(max_step=max_step, ss_clusters=clusters)
        self.hh_px = human_consistency(self.H, PIXEL_PAIR, self.opts) if pixel else {}
        self.hh_obj = human_consistency(self.Hobj, OBJECT_PAIR, self.opts)

    def row(self, preds: Sequence[Scanpath]) -> dict[str, float]:
        """Every reported number for one prediction set (all samples of every display)."""
        out: dict[str, float] = {}
        P = as_samples(_with_bbox(preds, self.stim))
        if self.pixel:
            mh = score_scanpaths(P, self.H, PIXEL_PAIR + PIXEL_SET, self.opts)
            out.update({k: float(v.mean) for k, v in mh.items()})
            pairs = {k: v for k, v in mh.items() if k == "ss" or k in _MM_DIMS}
            gg = generated_pairs(["ss"], P, self.opts)
            out.update(_dist(distribution_summary(pairs, self.hh_px, gg, P, self.H, self.opts)))
        Po = [object_view(p, self.stim[p.key], self.drop_first) for p in P]
        Po = [p for p in Po if len(p)]
        mo = score_scanpaths(Po, self.Hobj, OBJECT_PAIR + OBJECT_SET, self.opts)
        out.update({k: float(v.mean) for k, v in mo.items()})
        out["ss_objects_subject_mean"], out["ss_objects_subject_std"] = _per_subject(mo["ss_objects"], self.Hobj)
        pairs = {k: v for k, v in mo.items() if k in OBJECT_PAIR}
        gg = generated_pairs(["ss_objects"], Po, self.opts)
        out.update(_dist(distribution_summary(pairs, self.hh_obj, gg, Po, self.Hobj, self.opts)))
        out["length"] = float(np.mean([len(p) for p in preds]))
        out["n_scanpaths"] = len(preds)
        return out

    def human_row(self) -> dict[str, float]:
        """The human-consistency ceiling (leave-one-subject-out, ``gazekit.metrics.human_consistency``)."""
        out: dict[str, float] = {}
        if self.pixel:
            out.update({k: float(v.mean) for k, v in self.hh_px.items()})
            out.update({k: float(v.mean) for k, v in human_consistency(self.H, PIXEL_SET, self.opts).items()})
        out.update({k: float(v.mean) for k, v in self.hh_obj.items()})
        out["delta"] = float(human_consistency(self.Hobj, OBJECT_SET, self.opts)["delta"].mean)
        out["ss_objects_subject_mean"], out["ss_objects_subject_std"] = _per_subject(
            self.hh_obj["ss_objects"], self.Hobj
        )
        out["length"] = float(np.mean([len(h) for h in self.H]))
        out["n_scanpaths"] = len(self.H)
        return out


def _dist(summary: dict) -> dict[str, float]:
    """The distribution columns; ``kl_mm`` = mean KL over MultiMatch's four shape dimensions."""
    out = {k: float(v.mean) for k, v in summary.items() if k.split("_", 1)[0] in ("kl", "rss", "dss")}
    mm = [out[f"kl_{d}"] for d in _MM_DIMS if f"kl_{d}" in out]
    if mm:
        out["kl_mm"] = float(np.mean(mm))
    return out


def score_set(preds, humans, stimuli_by_key, drop_first: bool, max_step: int = 6) -> dict[str, float]:  # noqa: ANN001
    """Every reported number for one prediction set against the humans (pixel and object metrics)."""
    return TableScorer(humans, stimuli_by_key, drop_first, max_step).row(preds)


def human_set(humans, stimuli_by_key, drop_first: bool, max_step: int = 6) -> dict[str, float]:  # noqa: ANN001
    """The human-consistency ceiling (leave-one-subject-out, ``gazekit.metrics.human_consistency``)."""
    return TableScorer(humans, stimuli_by_key, drop_first, max_step).human_row()


def _load_recipe(path: str | Path) -> dict:
    p = Path(path).expanduser()
    if not p.exists() and not p.is_absolute():  # a recipe named relative to the repository (configs/...)
        p = Path(__file__).resolve().parents[2] / p
    return yaml.safe_load(p.read_text())


def train_oat(
    recipe: dict,
    datamodule,  # noqa: ANN001
    root: str | Path,
    max_epochs: int | None = None,
    seed: int = 0,
    max_minutes: float | None = None,
):
    """Fit OAT as the recipe says (Adam, clip 1.0, early stopping on val/delta); returns the best-validation
    model and the fit info, whose ``"last_model"`` is the model at the last epoch (the release keeps both).
    ``max_minutes`` stops training after that wall-clock time (Lightning ``max_time``) on a shared machine."""

    tr = recipe.get("trainer", {})
    patience = 10
    for cb in tr.get("callbacks", []) or []:
        if cb.get("class_path", "").endswith("EarlyStopping"):
            patience = int(cb.get("init_args", {}).get("patience", patience))

    class _Progress(pl.Callback):
        def on_validation_epoch_end(self, trainer, module):  # noqa: ANN001, ANN202
            m = trainer.callback_metrics
            d, vl = m.get("val/delta"), m.get("val/loss")
            print(
                f"  epoch {trainer.current_epoch}: val/delta {float(d) if d is not None else float('nan'):.4f} "
                f"val/loss {float(vl) if vl is not None else float('nan'):.4f}",
                flush=True,
            )

    pl.seed_everything(seed, workers=True)
    model = OAT(**{**recipe["model"]["init_args"], "seed": seed})
    ckpt = ModelCheckpoint(dirpath=str(root), monitor="val/delta", mode="min", save_top_k=1, filename="best")
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=int(max_epochs or tr.get("max_epochs", 20)),
        max_time=None if not max_minutes else datetime.timedelta(minutes=float(max_minutes)),
        gradient_clip_val=float(tr.get("gradient_clip_val", 1.0)),
        callbacks=[EarlyStopping("val/delta", patience=patience, mode="min", check_finite=False), ckpt, _Progress()],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
        deterministic=True,
    )
    trainer.fit(model, datamodule)
    best = OAT.from_checkpoint(ckpt.best_model_path) if ckpt.best_model_path else model.eval()
    info = {"epochs": int(trainer.current_epoch), "best_val_delta": float(ckpt.best_model_score or np.nan)}
    return best, {**info, "last_model": model.eval()}


def _baselines(has_images: bool) -> dict:

    out = {n: load_predictor(n) for n in ("random", "center", "oracle")}
    out["greedy"] = load_predictor("greedy") if has_images else ObjectGreedy()
    return {k: out[k] for k in ("random", "center", "greedy", "oracle")}


def predict_all(model, displays, n_samples: int, seed: int = 0, name: str = "OAT") -> dict[str, list[Scanpath]]:  # noqa: ANN001
    """A model's greedy and sampled predictions (one greedy + ``n_samples`` samples per display)."""
    stims = [d[0] for d in displays]
    tasks = [d[1] for d in displays]
    out = {f"{name} (greedy)": model.predict_scanpaths(stims, tasks)}
    if n_samples:
        out[f"{name} (sampled ×{n_samples})"] = sample_scanpaths(model, stims, tasks, n_samples, seed)
    return out


def baseline_predictions(
    displays,
    train_humans,
    stim_by_key,
    has_images: bool,
    drop_first: bool,
    n_samples: int,
    seed: int = 0,  # noqa: ANN001
) -> dict[str, list[Scanpath]]:
    """Every baseline's predictions: ``target-dwell`` (fitted on ``train_humans``: k = their median
    fixations on the target object after the start, sampled k from their counts) greedy and sampled, and
    random/center/greedy/oracle."""
    # k counts fixations on the target object in the tables' own object view (OAT's fixation -> object rule)
    views = [object_view(h, stim_by_key[h.key], drop_first) for h in _with_bbox(train_humans, stim_by_key)]
    dwell = TargetDwell.fit(views, seed=seed, skip_first=False)
    out = predict_all(dwell, displays, n_samples, seed, name="target-dwell")
    stims, tasks = [d[0] for d in displays], [d[1] for d in displays]
    for name, bl in _baselines(has_images).items():
        out[name] = bl.predict_scanpaths(stims, tasks, seed=seed)
    return out


#: row order of the tables: sampled (primary) rows first, then single scanpaths, then the baselines
def _row_order(names: Sequence[str]) -> list[str]:
    def rank(n: str) -> tuple[int, int]:
        sampled = "sampled" in n
        base = n.split(" (")[0]
        order = ["OAT", "OAT last epoch", "target-dwell", "oracle", "greedy", "center", "random"]
        return (0 if sampled else 1, order.index(base) if base in order else len(order))

    return sorted(names, key=rank)


def _displays(trials) -> list:  # noqa: ANN001
    seen: dict = {}
    for t in trials:
        seen.setdefault((t.stimulus.name, t.task.name), (t.stimulus, t.task))
    return list(seen.values())


def run_object_level(
    recipe_path: str,
    folds: int = 5,
    max_epochs: int | None = None,
    n_samples: int = 10,
    out: str | None = None,
    seed: int = 0,
    fold_list: Sequence[int] | None = None,
    overrides: dict | None = None,
    data_root: str | None = None,
    fold_dir: str | None = None,
    train_only: bool = False,
    max_minutes: float | None = None,
) -> dict:
    """Cross-validated OAT vs baselines vs humans on object-level data (COCO-Search18 / Amazon recipes).

    Each fold trains on the other folds' images (early stopping on a held-out share of them) and predicts
    the held-out images; ``target-dwell`` is fitted on the same training humans. Predictions of all folds
    are pooled and scored against the humans once. COCO-Search18 also gets subset tables: displays whose
    target the detector missed (its box imputed by the loader) and displays whose target was detected.

    ``fold_dir``: each fold's predictions are saved there (``fold<k>.json``) and reused when present, so
    the folds can be trained by separate processes (``train_only``: train and save, score nothing) and
    pooled by a last run over all folds."""

    recipe = _load_recipe(recipe_path)
    recipe["model"]["init_args"].update(overrides or {})
    dargs = {**recipe["data"]["init_args"], "n_folds": folds}
    if data_root:  # the sample-data folder layout (coco_search18/, amazon_covers/) fills paths the recipe leaves open
        root = Path(data_root)
        given = {
            "coco_search18": {
                "fixations": root / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json",
                "detections": root / "coco_search18" / "detections",
            },
            "amazon": {"fixations": root / "amazon_covers" / "Amazon.json"},
        }.get(str(dargs.get("source")), {})
        for k, v in given.items():
            if dargs.get(k) is None:
                dargs[k] = str(v)
    drop_first = bool(recipe["model"]["init_args"].get("start_fixation", True))
    preds: dict[str, list[Scanpath]] = {}
    humans: list[Scanpath] = []
    stim_by_key: dict = {}
    info = []
    t0 = time.time()
    for fold in fold_list if fold_list is not None else range(folds):
        dm = ObjectTrialDataModule(**{**dargs, "fold": fold})
        dm.setup()
        displays = _displays(dm.test_trials)
        for st, tk in displays:
            stim_by_key[(st.name, tk.name)] = st
        for t in dm.train_trials:
            stim_by_key.setdefault(t.scanpath.key, t.stimulus)
        humans += [t.scanpath for t in dm.test_trials]
        saved = Path(fold_dir) / f"fold{fold}.json" if fold_dir else None
        if saved is not None and saved.exists() and not train_only:
            fold_preds, fit = load_fold(saved)  # trained by an earlier process
        else:
            with tempfile.TemporaryDirectory() as tmp:
                model, fit = train_oat(recipe, dm, tmp, max_epochs, seed, max_minutes)
            last = fit.pop("last_model")
            fold_preds = {
                **predict_all(model, displays, n_samples, seed),
                **{
                    k: v
                    for k, v in predict_all(last, displays, n_samples, seed, "OAT last epoch").items()
                    if "sampled" in k
                },
                **baseline_predictions(
                    displays, [t.scanpath for t in dm.train_trials], stim_by_key, False, drop_first, n_samples, seed
                ),
            }
            fit = {
                "fold": fold,
                "train": len(dm.train_trials),
                "val": len(dm.val_trials),
                "test": len(dm.test_trials),
                **fit,
            }
            if saved is not None:
                save_fold(saved, fold_preds, fit)
        for name, sps in fold_preds.items():
            preds.setdefault(name, []).extend(sps)
        info.append(fit)
        print(f"fold {fold}: {info[-1]} ({time.time() - t0:.0f}s)", flush=True)
    if train_only:
        return {"folds": info, "seconds": time.time() - t0}
    t_score = time.time()
    table = score_table(preds, humans, stim_by_key, drop_first, "Human (leave-one-subject-out)")
    result = {
        "recipe": recipe_path,
        "overrides": overrides or {},
        "folds": info,
        "table": table,
        "score_seconds": time.time() - t_score,
    }
    imputed = {k for k, st in stim_by_key.items() if st is not None and st.meta.get("target_from_annotation")}
    if imputed:
        result["subsets"] = {}
        for label, keep in (("target missed by the detector (box imputed)", True), ("target detected", False)):
            H = [h for h in humans if (h.key in imputed) == keep]
            P = {n: [p for p in v if (p.key in imputed) == keep] for n, v in preds.items()}
            result["subsets"][label] = {
                "displays": len({h.key for h in H}),
                "scanpaths": len(H),
                "table": score_table(P, H, stim_by_key, drop_first, "Human (leave-one-subject-out)", pixel=False),
            }
    result["seconds"] = time.time() - t0
    return _saved(result, out)


def _sp_record(sp: Scanpath) -> dict:
    return {
        "x": sp.x.tolist(),
        "y": sp.y.tolist(),
        "duration": [None if not np.isfinite(v) else float(v) for v in sp.duration],
        "stimulus": sp.stimulus,
        "subject": sp.subject,
        "task": sp.task,
        "condition": sp.condition,
        "found": sp.found,
        "width": sp.width,
        "height": sp.height,
        "objects": None if sp.objects is None else [int(v) for v in sp.objects],
    }


def _sp_from(r: dict) -> Scanpath:
    d = np.array([np.nan if v is None else v for v in r.pop("duration")], dtype=float)
    return Scanpath(r.pop("x"), r.pop("y"), d, **r)


def save_fold(path: str | Path, preds: dict[str, list[Scanpath]], info: dict) -> None:
    """One fold's predictions (every row) and fit info as JSON, so folds can run as separate processes."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    rec = {"info": info, "preds": {k: [_sp_record(s) for s in v] for k, v in preds.items()}}
    Path(path).write_text(json.dumps(rec))


def load_fold(path: str | Path) -> tuple[dict[str, list[Scanpath]], dict]:
    rec = json.loads(Path(path).read_text())
    return {k: [_sp_from(r) for r in v] for k, v in rec["preds"].items()}, rec["info"]


def score_table(
    preds: dict, humans: list, stim_by_key: dict, drop_first: bool, ceiling: str, pixel: bool = True
) -> dict:
    """Every model's scores against the humans (sampled rows first), plus the humans' own
    leave-one-subject-out row ``ceiling``."""
    scorer = TableScorer(humans, stim_by_key, drop_first, pixel=pixel)
    table = {name: scorer.row(preds[name]) for name in _row_order(list(preds))}
    table[ceiling] = scorer.human_row()
    return table


def _saved(result: dict, out: str | None) -> dict:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=1))
    return result


def run_synthetic(
    recipe_path: str = "configs/experiments/oat_synthetic.yaml",
    max_epochs: int | None = None,
    n_samples: int = 10,
    out: str | None = None,
    export: str | None = None,
    seed: int = 0,
    overrides: dict | None = None,
    weights: str | None = None,
) -> dict:
    """OAT on the synthetic world's held-out displays vs baselines vs the simulated observers' consistency.

    ``weights``: score these OAT weights (e.g. the bundled checkpoint) instead of training."""

    recipe = _load_recipe(recipe_path)
    recipe["model"]["init_args"].update(overrides or {})
    t0 = time.time()
    dm = OATSyntheticDataModule(**recipe["data"]["init_args"])
    dm.setup()
    if weights:
        model, fit = OAT.from_checkpoint(weights), {"weights": str(weights)}
        last = None
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model, fit = train_oat(recipe, dm, tmp, max_epochs, seed)
        last = fit.pop("last_model")
    if export:
        model.save_checkpoint(export)
    test = [t for t in dm.test_trials if t.stimulus.target is not None and t.stimulus.target.box is not None]
    displays = _displays(test)
    stim_by_key = {(st.name, tk.name): st for st, tk in displays}
    humans = [t.scanpath for t in test]
    drop_first = bool(recipe["model"]["init_args"].get("start_fixation", True))
    for t in dm.train_trials:
        stim_by_key.setdefault(t.scanpath.key, t.stimulus)
    preds = predict_all(model, displays, n_samples, seed)
    if last is not None:
        preds.update(
            {k: v for k, v in predict_all(last, displays, n_samples, seed, "OAT last epoch").items() if "sampled" in k}
        )
    preds.update(
        baseline_predictions(
            displays, [t.scanpath for t in dm.train_trials], stim_by_key, True, drop_first, n_samples, seed
        )
    )
    table = score_table(preds, humans, stim_by_key, drop_first, "Simulated observers (leave-one-subject-out)")
    result = {
        "recipe": recipe_path,
        "fit": fit,
        "train": len(dm.train_trials),
        "val": len(dm.val_trials),
        "test_target_present": len(test),
        "table": table,
        "seconds": time.time() - t0,
    }
    return _saved(result, out)


COLUMNS = (
    ("ss_objects", "SS obj ↑"),
    ("ss_objects_subject_std", "± subj"),
    ("edit_objects", "Edit obj ↓"),
    ("ss", "SS px ↑"),
    ("mm_shape", "MM shape"),
    ("mm_direction", "MM dir"),
    ("mm_length", "MM len"),
    ("mm_position", "MM pos"),
    ("tfp_auc", "TFP-AUC"),
    ("prob_mismatch", "Mismatch ↓"),
    ("delta", "Delta ↓"),
    ("length", "Length"),
)

#: the distribution protocol's columns (KL = KL(human-human || model-human) of pooled pair scores)
DIST_COLUMNS = (
    ("kl_ss_objects", "KL SS obj ↓"),
    ("kl_edit_objects", "KL Edit obj ↓"),
    ("kl_ss", "KL SS px ↓"),
    ("kl_mm", "KL MM ↓"),
    ("rss_ss_objects", "RSS obj ↑"),
    ("dss_ss_objects", "DSS obj ↑"),
    ("rss_ss", "RSS px ↑"),
    ("dss_ss", "DSS px ↑"),
    ("prob_mismatch", "Mismatch ↓"),
    ("delta", "Delta ↓"),
)


#: the object-level columns of the subset tables (no pixel metrics there)
SUBSET_COLUMNS = (COLUMNS[0], COLUMNS[2], *DIST_COLUMNS[:2], *DIST_COLUMNS[4:6], *DIST_COLUMNS[8:])


def markdown_table(table: dict[str, dict[str, float]], columns: Sequence[tuple[str, str]] = COLUMNS) -> str:
    """The results as a Markdown table (columns as docs/models.md); columns no row has are left out."""
    cols = [c for c in columns if any(np.isfinite(r.get(c[0], np.nan)) for r in table.values())]
    lines = ["| Model | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in table.items():
        cells = [("–" if not np.isfinite(row.get(k, np.nan)) else f"{row[k]:.3f}") for k, _ in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(result: dict) -> str:
    """Per-pair table, distribution table and (COCO-Search18) the subset tables of one result."""
    parts = [markdown_table(result["table"]), "", markdown_table(result["table"], DIST_COLUMNS)]
    for label, sub in result.get("subsets", {}).items():
        parts += ["", f"{label}: {sub['displays']} displays, {sub['scanpaths']} scanpaths", ""]
        parts.append(markdown_table(sub["table"], SUBSET_COLUMNS))
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gazekit.models.oat_experiments", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pe = sub.add_parser("position-assets", help="re-run the offline position-matrix optimisation")
    pe.add_argument("--out", default=None)
    for name, recipe in (
        ("coco", "configs/experiments/oat_coco_search18.yaml"),
        ("amazon", "configs/experiments/oat_amazon.yaml"),
    ):
        p = sub.add_parser(name, help=f"cross-validated results table ({recipe})")
        p.add_argument("--recipe", default=recipe)
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--only-folds", type=int, nargs="*", default=None)
        p.add_argument("--max-epochs", type=int, default=None)
        p.add_argument("--samples", type=int, default=10)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", default=f"outputs/oat_{name}_results.json")
        p.add_argument("--fold-dir", default=None, help="save/reuse per-fold predictions here (fold<k>.json)")
        p.add_argument("--train-only", action="store_true", help="train the given folds, save them, score nothing")
        p.add_argument("--max-minutes", type=float, default=None, help="wall-clock training budget per fold")
        p.add_argument(
            "--data-root",
            default=os.environ.get("GAZEKIT_SAMPLE_DATA"),
            help="folder of the sample data (coco_search18/, amazon_covers/); default $GAZEKIT_SAMPLE_DATA",
        )
    p = sub.add_parser("synthetic", help="train on the synthetic world, score held-out displays, export weights")
    p.add_argument("--recipe", default="configs/experiments/oat_synthetic.yaml")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", default=None, help="write the trained weights (.safetensors)")
    p.add_argument("--weights", default=None, help="score these OAT weights instead of training")
    p.add_argument("--out", default="outputs/oat_synthetic_results.json")
    for sp in sub.choices.values():
        sp.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
        sp.add_argument(
            "--set", nargs="*", default=[], metavar="KEY=VALUE", help="override model init_args (YAML values)"
        )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cmd == "position-assets":
        print(json.dumps(make_position_assets(args.out), indent=1))
        return 0
    overrides = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        overrides[k] = yaml.safe_load(v)
    if args.cmd in ("coco", "amazon"):
        res = run_object_level(
            args.recipe,
            args.folds,
            args.max_epochs,
            args.samples,
            args.out,
            args.seed,
            args.only_folds,
            overrides,
            args.data_root,
            args.fold_dir,
            args.train_only,
            args.max_minutes,
        )
        if args.train_only:
            print(json.dumps(res["folds"], indent=1))
            return 0
    else:
        res = run_synthetic(
            args.recipe, args.max_epochs, args.samples, args.out, args.export, args.seed, overrides, args.weights
        )
    print(markdown_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
