"""OAT's offline steps and result tables: the position matrices, the validation delta, and the scripted
experiments whose numbers docs/models.md reports (``python -m gazekit.models.oat_experiments --help``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
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
from gazekit.metrics.api import human_consistency, score_scanpaths
from gazekit.models.baselines import TargetSimilarityGreedy
from gazekit.models.oat import ASSET_DIR, OAT, _asset_name, optimise_position_matrix, position_matrix_report
from gazekit.models.oat_inputs import fixations_to_objects
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


PIXEL_METRICS = ("ss", "multimatch", "tfp_auc", "prob_mismatch")
OBJECT_METRICS = ("ss_objects", "edit_objects", "delta")


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


def score_set(preds, humans, stimuli_by_key, drop_first: bool, max_step: int = 6) -> dict[str, float]:  # noqa: ANN001
    """Every reported number for one prediction set against the humans (pixel and object metrics)."""

    preds, humans = _with_bbox(preds, stimuli_by_key), _with_bbox(humans, stimuli_by_key)
    out: dict[str, float] = {}
    res = score_scanpaths(preds, humans, list(PIXEL_METRICS), max_step=max_step)
    for k, v in res.items():
        out[k] = float(v.mean)
    P = [object_view(p, stimuli_by_key[p.key], drop_first) for p in preds]
    H = [object_view(h, stimuli_by_key[h.key], drop_first) for h in humans]
    P = [p for p in P if len(p)]
    res = score_scanpaths(P, H, list(OBJECT_METRICS), max_step=max_step)
    for k, v in res.items():
        out[k] = float(v.mean)
    out["ss_objects_subject_mean"], out["ss_objects_subject_std"] = _per_subject(res["ss_objects"], H)
    out["length"] = float(np.mean([len(p) for p in preds]))
    return out


def human_set(humans, stimuli_by_key, drop_first: bool, max_step: int = 6) -> dict[str, float]:  # noqa: ANN001
    """The human-consistency ceiling (leave-one-subject-out, ``gazekit.metrics.human_consistency``)."""

    humans = _with_bbox(humans, stimuli_by_key)
    out: dict[str, float] = {}
    for k, v in human_consistency(humans, list(PIXEL_METRICS), max_step=max_step).items():
        out[k] = float(v.mean)
    H = [object_view(h, stimuli_by_key[h.key], drop_first) for h in humans]
    res = human_consistency(H, list(OBJECT_METRICS), max_step=max_step)
    for k, v in res.items():
        out[k] = float(v.mean)
    out["ss_objects_subject_mean"], out["ss_objects_subject_std"] = _per_subject(res["ss_objects"], H)
    out["length"] = float(np.mean([len(h) for h in humans]))
    return out


def _load_recipe(path: str | Path) -> dict:
    p = Path(path).expanduser()
    if not p.exists() and not p.is_absolute():  # a recipe named relative to the repository (configs/...)
        p = Path(__file__).resolve().parents[2] / p
    return yaml.safe_load(p.read_text())


def train_oat(recipe: dict, datamodule, root: str | Path, max_epochs: int | None = None, seed: int = 0):  # noqa: ANN001
    """Fit OAT as the recipe says (Adam, clip 1.0, early stopping on val/delta); returns the best model."""

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
    return best, {"epochs": int(trainer.current_epoch), "best_val_delta": float(ckpt.best_model_score or np.nan)}


def _baselines(has_images: bool) -> dict:

    out = {n: load_predictor(n) for n in ("random", "center", "oracle")}
    out["greedy"] = load_predictor("greedy") if has_images else ObjectGreedy()
    return {k: out[k] for k in ("random", "center", "greedy", "oracle")}


def predict_all(model, displays, n_samples: int, seed: int = 0) -> dict[str, list[Scanpath]]:  # noqa: ANN001
    """Greedy and sampled OAT predictions (one greedy + ``n_samples`` samples per display)."""
    stims = [d[0] for d in displays]
    tasks = [d[1] for d in displays]
    out = {"OAT (greedy)": model.predict_scanpaths(stims, tasks)}
    if n_samples:
        samp = []
        for k in range(n_samples):
            samp += model.predict_scanpaths(stims, tasks, sample=True, seed=seed + 1000 * k)
        out[f"OAT (sampled x{n_samples})"] = samp
    return out


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
) -> dict:
    """Cross-validated OAT vs baselines vs humans on object-level data (COCO-Search18 / Amazon recipes).

    Each fold trains on the other folds' images (early stopping on a held-out share of them) and predicts
    the held-out images; predictions of all folds are pooled and scored against the humans once."""

    recipe = _load_recipe(recipe_path)
    recipe["model"]["init_args"].update(overrides or {})
    dargs = {**recipe["data"]["init_args"], "n_folds": folds}
    drop_first = bool(recipe["model"]["init_args"].get("start_fixation", True))
    preds: dict[str, list[Scanpath]] = {}
    humans: list[Scanpath] = []
    stim_by_key: dict = {}
    info = []
    t0 = time.time()
    for fold in fold_list if fold_list is not None else range(folds):
        dm = ObjectTrialDataModule(**{**dargs, "fold": fold})
        dm.setup()
        with tempfile.TemporaryDirectory() as tmp:
            model, fit = train_oat(recipe, dm, tmp, max_epochs, seed)
        displays = _displays(dm.test_trials)
        for st, tk in displays:
            stim_by_key[(st.name, tk.name)] = st
        humans += [t.scanpath for t in dm.test_trials]
        for name, sps in predict_all(model, displays, n_samples, seed).items():
            preds.setdefault(name, []).extend(sps)
        for name, bl in _baselines(has_images=False).items():
            preds.setdefault(name, []).extend(
                bl.predict_scanpaths([d[0] for d in displays], [d[1] for d in displays], seed=seed)
            )
        info.append(
            {"fold": fold, "train": len(dm.train_trials), "val": len(dm.val_trials), "test": len(dm.test_trials), **fit}
        )
        print(f"fold {fold}: {info[-1]} ({time.time() - t0:.0f}s)", flush=True)
    for h in humans:
        stim_by_key.setdefault(h.key, stim_by_key.get(h.key))
    table = score_table(preds, humans, stim_by_key, drop_first, "Human (leave-one-subject-out)")
    result = {
        "recipe": recipe_path,
        "overrides": overrides or {},
        "folds": info,
        "table": table,
        "seconds": time.time() - t0,
    }
    return _saved(result, out)


def score_table(preds: dict, humans: list, stim_by_key: dict, drop_first: bool, ceiling: str) -> dict:
    """Every model's scores against the humans, plus the humans' own leave-one-subject-out row ``ceiling``."""
    table = {name: score_set(sps, humans, stim_by_key, drop_first) for name, sps in preds.items()}
    table[ceiling] = human_set(humans, stim_by_key, drop_first)
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
) -> dict:
    """OAT on the synthetic world's held-out displays vs baselines vs the simulated observers' consistency."""

    recipe = _load_recipe(recipe_path)
    recipe["model"]["init_args"].update(overrides or {})
    t0 = time.time()
    dm = OATSyntheticDataModule(**recipe["data"]["init_args"])
    dm.setup()
    with tempfile.TemporaryDirectory() as tmp:
        model, fit = train_oat(recipe, dm, tmp, max_epochs, seed)
    if export:
        model.save_checkpoint(export)
    test = [t for t in dm.test_trials if t.stimulus.target is not None and t.stimulus.target.box is not None]
    displays = _displays(test)
    stim_by_key = {(st.name, tk.name): st for st, tk in displays}
    humans = [t.scanpath for t in test]
    drop_first = bool(recipe["model"]["init_args"].get("start_fixation", True))
    preds = predict_all(model, displays, n_samples, seed)
    for name, bl in _baselines(has_images=True).items():
        preds[name] = bl.predict_scanpaths([d[0] for d in displays], [d[1] for d in displays], seed=seed)
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


def markdown_table(table: dict[str, dict[str, float]]) -> str:
    """The results as a Markdown table (columns as docs/models.md)."""
    lines = ["| Model | " + " | ".join(c[1] for c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in table.items():
        cells = [("–" if not np.isfinite(row.get(k, np.nan)) else f"{row[k]:.3f}") for k, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    p = sub.add_parser("synthetic", help="train on the synthetic world, score held-out displays, export weights")
    p.add_argument("--recipe", default="configs/experiments/oat_synthetic.yaml")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", default=None, help="write the trained weights (.safetensors)")
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
            args.recipe, args.folds, args.max_epochs, args.samples, args.out, args.seed, args.only_folds, overrides
        )
    else:
        res = run_synthetic(args.recipe, args.max_epochs, args.samples, args.out, args.export, args.seed, overrides)
    print(markdown_table(res["table"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
