"""NevaClip experiments (one command each)::

    python -m gazekit.models.nevaclip_experiments caption-control      # synthetic world: model vs baselines
                                                                        # vs observers + the caption control
    python -m gazekit.models.nevaclip_experiments real --capmit-db capmit1003.db --mit-root MIT1003/ \\
        --weights <folder with open_clip_model.safetensors + vocab.json + merges.txt>
    python -m gazekit.models.nevaclip_experiments export --ckpt outputs/nevaclip_synthetic/.../last.ckpt

``caption-control`` scores NevaClip on held-out synthetic displays against the simulated observers beside every
baseline (found rate, SS, TFP-AUC, probability mismatch, fixations to target; sampled rows), and the paper's
control: the correct caption (the target's category) vs a misleading caption (another display's target category)
vs no caption (an empty text) vs the free-viewing target vs chance. ``real`` evaluates on CapMIT1003 (caption ↔
click path of the same observation) and MIT1003 (free viewing, every subject) with the NeVA group's metrics:
ScanMatch 14x8 without and with 50 ms durations, string-based time-delay embedding (4x4 grid, k = 3) and MultiMatch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from gazekit.datasets.capmit1003 import read_capmit1003
from gazekit.datasets.mit1003 import read_mit1003
from gazekit.datasets.search_trials import resolve_data_path
from gazekit.datasets.synthetic.clip_pairs import ClipPairsDataModule
from gazekit.datasets.synthetic.search import SearchWorldConfig, build_world
from gazekit.errors import ConfigError
from gazekit.imageio import read_image
from gazekit.metrics.api import human_consistency, score_scanpaths
from gazekit.metrics.scanpath import multimatch_batch, scanmatch_batch, string_time_delay_embedding
from gazekit.models.nevaclip import NevaClip
from gazekit.models.oat_experiments import _saved
from gazekit.models.registry import load_predictor
from gazekit.types import Scanpath, Stimulus, Task

__all__ = ["group_metrics", "main", "run_caption_control", "run_real"]

RECIPE = "configs/experiments/nevaclip_synthetic.yaml"
SYNTH_METRICS = ("found_rate", "fixations_to_target", "ss", "tfp_auc", "prob_mismatch")


def _recipe(path: str = RECIPE) -> dict:

    return yaml.safe_load(Path(resolve_data_path(path)).read_text())


def _labelled(sp: Scanpath, st: Stimulus, key_task: str | None, name: str) -> Scanpath:
    """The prediction keyed to the display's search task (so it meets the observers' scanpaths) with the target box."""
    meta = {**sp.meta, "bbox": list(st.target.box) if st.target and st.target.box else None, "row": name}
    meta["task_kind"] = sp.condition
    return dataclasses.replace(sp, task=key_task, condition="present", meta=meta)


def _misleading(stimuli: Sequence[Stimulus], seed: int) -> list[str]:
    """For each display, the target category of another display that shares no feature word with its own target."""
    rng = np.random.default_rng(seed)
    cats = [st.target.category for st in stimuli]  # type: ignore[union-attr]
    out = []
    for c in cats:
        words = set(c.lower().split())
        pool = [o for o in cats if not words & set(o.lower().split())] or [o for o in cats if o != c]
        out.append(str(pool[int(rng.integers(len(pool)))]))
    return out


def _score(preds: list[Scanpath], humans: list[Scanpath]) -> dict[str, float]:

    res = score_scanpaths(preds, humans, list(SYNTH_METRICS), max_step=6)
    out = {k: float(v.mean) for k, v in res.items()}
    out["length"] = float(np.mean([len(p) for p in preds]))
    return out


def _humans_row(humans: list[Scanpath]) -> dict[str, float]:

    res = human_consistency(humans, list(SYNTH_METRICS), max_step=6)
    out = {k: float(v.mean) for k, v in res.items()}
    out["length"] = float(np.mean([len(h) for h in humans]))
    return out


def run_caption_control(
    n_displays: int = 40,
    n_subjects: int = 10,
    samples: int = 2,
    weights: str | None = None,
    seed: int = 1,
    out: str | None = None,
) -> dict[str, Any]:
    """NevaClip vs baselines vs observers and the caption control on held-out synthetic displays (module doc)."""

    t0 = time.time()
    recipe = _recipe()
    cfg = SearchWorldConfig(**recipe["data"]["init_args"].get("world", {}))
    if seed >= 100:
        raise ConfigError("evaluation world seeds must be < 100 (>= 100 are the training displays)")
    world = build_world(n_displays, n_subjects, seed, cfg)
    stims = [s for s in world.stimuli if s.target is not None and s.target.box is not None]
    names = {s.name for s in stims}
    humans = [h for h in world.scanpaths if h.stimulus in names]
    for h in humans:
        st = next(s for s in stims if s.name == h.stimulus)
        h.meta["bbox"] = list(st.target.box)  # type: ignore[union-attr]
    cats = [s.target.category for s in stims]  # type: ignore[union-attr]
    model = load_predictor("nevaclip", weights=weights, start_fixation=True)

    def neva(tasks: list[Task], name: str, s: int) -> list[Scanpath]:
        sps = model.predict_scanpaths(stims, tasks, seed=s)
        return [_labelled(sp, st, c, name) for sp, st, c in zip(sps, stims, cats, strict=True)]

    rows: dict[str, list[Scanpath]] = {}
    correct = [Task("caption", caption=c) for c in cats]
    rows["NevaClip: correct caption"] = neva(correct, "correct", 0)
    if samples:
        rows[f"NevaClip: correct caption (sampled x{samples})"] = [
            sp for k in range(samples) for sp in neva(correct, "sampled", 1000 * (k + 1))
        ]
    mis = _misleading(stims, seed)
    rows["NevaClip: misleading caption"] = neva([Task("caption", caption=m) for m in mis], "misleading", 0)
    # an all-whitespace caption tokenises to the start and end tokens only: CLIP's embedding of "no text"
    rows["NevaClip: no caption (empty text)"] = neva([Task("caption", caption=" ")] * len(stims), "none", 0)
    rows["NevaClip: free-view target (image)"] = neva([Task.freeview()] * len(stims), "freeview", 0)
    search = [Task.search(category=c) for c in cats]
    blind = [dataclasses.replace(s, objects=[], target=None) for s in stims]  # pixels only: no boxes, no target
    n_fix = 1 + int(model.hparams.length)  # the centre start + NevaClip's fixations: chance rows get as many
    for name, bl, st_in, tk in (
        ("Chance: uniform pixels (what NevaClip can do blind)", load_predictor("random", length=n_fix), blind, search),
        ("Chance: random objects (knows the boxes)", load_predictor("random", length=n_fix), stims, search),
        ("Centre bias", load_predictor("center", length=n_fix), stims, search),
        ("Greedy: pixels + category (knows what NevaClip is told)", load_predictor("greedy"), blind, search),
        ("Greedy: target image", load_predictor("greedy"), stims, search),
        ("Oracle detector", load_predictor("oracle"), stims, search),
    ):
        sps = bl.predict_scanpaths(st_in, tk, seed=seed)
        rows[name] = [_labelled(sp, st, c, name) for sp, st, c in zip(sps, stims, cats, strict=True)]
    table = {name: _score(sps, humans) for name, sps in rows.items()}
    table["Simulated observers (leave-one-subject-out)"] = _humans_row(humans)
    result = {
        "weights": getattr(model, "weights_source", None),
        "world": cfg.to_dict(),
        "world_seed": seed,
        "displays_target_present": len(stims),
        "subjects": n_subjects,
        "table": table,
        "seconds": time.time() - t0,
    }
    return _saved(result, out)


# --------------------------------------------------------------------------------------------- real data
def group_metrics(
    preds: Sequence[Scanpath], humans: Sequence[Scanpath], sizes: dict[str, tuple[float, float]], duration_ms: float
) -> dict[str, float]:
    """The NeVA group's metrics over aligned (prediction, human) pairs, averaged per prediction then overall.

    ScanMatch 14x8 (threshold 3.5, gap 0) without durations and with 50 ms bins — predictions carry no durations,
    so each predicted fixation gets ``duration_ms`` (the humans' median); string TDE (4x4 grid, k = 3, mean; human
    as reference); MultiMatch (shape, direction, length, position).
    """

    if len(preds) != len(humans):
        raise ConfigError(f"need aligned lists, got {len(preds)} predictions and {len(humans)} humans")
    if not preds:
        return {}
    out: dict[str, list[float]] = {}
    for p, h in zip(preds, humans, strict=True):
        size = sizes[h.stimulus]
        pd = dataclasses.replace(p, duration=np.full(len(p), float(duration_ms)))
        hd = dataclasses.replace(h, duration=np.nan_to_num(h.duration, nan=float(duration_ms)))
        vals = {
            "scanmatch": scanmatch_batch([p], [h], size, bins=(14, 8))[0],
            "scanmatch_dur": scanmatch_batch([pd], [hd], size, bins=(14, 8), temp_bin=50.0)[0],
            "sbtde": string_time_delay_embedding(h, p, size, k=3, grid=4),
        }
        mm = multimatch_batch([p], [h], size)[0]
        vals.update(
            {f"mm_{d}": float(v) for d, v in zip(("shape", "direction", "length", "position"), mm[:4], strict=True)}
        )
        for k, v in vals.items():
            out.setdefault(k, []).append(float(v))
    return {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in out.items()}


def _pairs(preds: dict[str, Scanpath], humans: Sequence[Scanpath], key) -> tuple[list, list]:  # noqa: ANN001
    P, H = [], []
    for h in humans:
        p = preds.get(key(h))
        if p is not None:
            P.append(p)
            H.append(h)
    return P, H


def run_real(
    capmit_db: str | None = None,
    mit_root: str | None = None,
    weights: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    out: str | None = None,
) -> dict[str, Any]:
    """CapMIT1003 (caption → the click path of that caption) and MIT1003 (free view → every subject's scanpath):
    NevaClip, the random and centre baselines, and the humans' leave-one-out row, with :func:`group_metrics`."""

    if capmit_db is None and mit_root is None:
        raise ConfigError("give --capmit-db and/or --mit-root")
    model = load_predictor("nevaclip", weights=weights)
    baselines = {"Random": load_predictor("random", length=10), "Centre bias": load_predictor("center")}
    stim_dir = Path(mit_root) / "ALLSTIMULI" if mit_root else None
    tables: dict[str, Any] = {"weights": model.weights_source}
    if capmit_db is not None:
        hum = read_capmit1003(capmit_db, image_root=stim_dir)
        hum = hum[:limit] if limit else hum
        tables["capmit1003"] = _evaluate(
            model, baselines, hum, lambda h: Task("caption", caption=h.meta["caption"]), stim_dir, read_image, seed
        )
    if mit_root is not None:
        hum = read_mit1003(mit_root)
        if limit:
            keep = sorted({h.stimulus for h in hum})[:limit]
            hum = [h for h in hum if h.stimulus in keep]
        tables["mit1003"] = _evaluate(model, baselines, hum, lambda h: Task.freeview(), stim_dir, read_image, seed)
    return _saved(tables, out)


def _evaluate(model, baselines, humans, task_of, stim_dir, read_image, seed) -> dict:  # noqa: ANN001
    if stim_dir is None:
        raise ConfigError("the stimuli are needed: give --mit-root (its ALLSTIMULI/ folder holds the images)")
    keyf = lambda h: (h.stimulus, h.meta.get("caption"))  # noqa: E731
    queries: dict[tuple, tuple[Stimulus, Task]] = {}
    for h in humans:
        if keyf(h) not in queries:
            img = read_image(stim_dir / h.stimulus)
            st = Stimulus(h.stimulus, img.shape[1], img.shape[0], image=img)
            queries[keyf(h)] = (st, task_of(h))
    keys = list(queries)
    sizes = {k[0]: (float(queries[k][0].width), float(queries[k][0].height)) for k in keys}
    durs = np.concatenate([h.duration for h in humans])
    med = float(np.nanmedian(durs)) if np.isfinite(durs).any() else 300.0
    rows: dict[str, dict[str, float]] = {}
    for name, m in {"NevaClip": model, **baselines}.items():
        sps = m.predict_scanpaths([queries[k][0] for k in keys], [queries[k][1] for k in keys], seed=seed)
        rows[name] = group_metrics(*_pairs(dict(zip(keys, sps, strict=True)), humans, keyf), sizes, med)
    # humans: each scanpath as the prediction for the other scanpaths of the same image
    P, H = [], []
    for i, a in enumerate(humans):
        for j, b in enumerate(humans):
            if i != j and a.stimulus == b.stimulus and a.subject != b.subject:
                P.append(a)
                H.append(b)
    rows["Humans (other observers, same image)"] = group_metrics(P, H, sizes, med)
    return {"n_scanpaths": len(humans), "n_queries": len(keys), "median_duration_ms": med, "table": rows}


# --------------------------------------------------------------------------------------------- export
def export(ckpt: str, out: str, half: bool = True, n_check: int = 128) -> dict[str, float]:
    """Write the bundled checkpoint from a training run; fp16 only when the retrieval accuracy and embeddings of
    ``n_check`` validation pairs are unchanged (cosine of fp16 vs fp32 embeddings reported)."""

    recipe = _recipe()
    model = NevaClip.from_checkpoint(ckpt).eval()
    dm = ClipPairsDataModule(**{**recipe["data"]["init_args"], "n_val": n_check, "num_workers": 0})
    batch = dm.collate([dm.split_dataset("val")[i] for i in range(n_check)])
    with torch.no_grad():
        _, acc32 = model.contrastive_loss(batch["images"], batch["ids"])
        e32 = model.clip.encode_image(batch["images"])
        half_model = NevaClip(**dict(model.hparams))
        half_model.load_state_dict(
            {k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        )
        half_model.eval()
        _, acc16 = half_model.contrastive_loss(batch["images"], batch["ids"])
        e16 = half_model.clip.encode_image(batch["images"])
    cos = float(torch.nn.functional.cosine_similarity(e32, e16).min())
    lossless = half and abs(float(acc32) - float(acc16)) < 1e-9 and cos > 0.9999
    path = model.save_checkpoint(out, half=lossless)
    info = {"val_acc_fp32": float(acc32), "val_acc_fp16": float(acc16), "min_cos_fp16": cos, "fp16": lossless}
    info["bytes"] = path.stat().st_size
    return info


def markdown(table: dict[str, dict[str, float]], columns: Sequence[tuple[str, str]]) -> str:
    """A results table in Markdown (``columns``: (key, header))."""
    lines = ["| Model | " + " | ".join(h for _, h in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in table.items():
        cells = ["–" if not np.isfinite(row.get(k, np.nan)) else f"{row[k]:.3f}" for k, _ in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SYNTH_COLUMNS = (
    ("found_rate", "Found ↑"),
    ("fixations_to_target", "Fix. to target ↓"),
    ("tfp_auc", "TFP-AUC ↑"),
    ("prob_mismatch", "Mismatch ↓"),
    ("ss", "SS ↑"),
    ("length", "Length"),
)
REAL_COLUMNS = (
    ("scanmatch", "SM 14x8 w/o dur ↑"),
    ("scanmatch_dur", "SM w/ dur ↑"),
    ("sbtde", "SBTDE ↓"),
    ("mm_shape", "MM shape"),
    ("mm_direction", "MM dir"),
    ("mm_length", "MM len"),
    ("mm_position", "MM pos"),
)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gazekit.models.nevaclip_experiments", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("caption-control", help="synthetic world: NevaClip vs baselines vs observers, caption control")
    p.add_argument("--displays", type=int, default=40)
    p.add_argument("--subjects", type=int, default=10)
    p.add_argument("--samples", type=int, default=2, help="sampled NevaClip runs per display (seeds)")
    p.add_argument("--seed", type=int, default=1, help="evaluation world seed (< 100)")
    p.add_argument("--out", default="outputs/nevaclip_caption_control.json")
    p = sub.add_parser("real", help="CapMIT1003 / MIT1003 with ScanMatch, string TDE and MultiMatch")
    p.add_argument("--capmit-db", default=None, help="capmit1003.db (the release's SQLite file)")
    p.add_argument("--mit-root", default=None, help="MIT1003 root holding DATA/ and ALLSTIMULI/")
    p.add_argument("--limit", type=int, default=None, help="first N observations (CapMIT) / images (MIT1003)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/nevaclip_real.json")
    p = sub.add_parser("export", help="bundle a trained checkpoint (fp16 when lossless)")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", default="gazekit/assets/nevaclip/nevaclip_synthetic.safetensors")
    p.add_argument("--no-half", action="store_true")
    for sp in sub.choices.values():
        if sp.prog.endswith(("caption-control", "real")):
            sp.add_argument("--weights", default=None, help="NevaClip / CLIP weights (default: bundled synthetic)")
        sp.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.cmd == "export":
        print(json.dumps(export(args.ckpt, args.out, half=not args.no_half), indent=1))
        return 0
    if args.cmd == "caption-control":
        res = run_caption_control(args.displays, args.subjects, args.samples, args.weights, args.seed, args.out)
        print(f"weights: {res['weights']}; {res['displays_target_present']} target-present displays")
        print(markdown(res["table"], SYNTH_COLUMNS))
        return 0
    res = run_real(args.capmit_db, args.mit_root, args.weights, args.limit, args.seed, args.out)
    print(f"weights: {res['weights']}")
    for name in ("capmit1003", "mit1003"):
        if name in res:
            print(f"\n{name} ({res[name]['n_scanpaths']} scanpaths)\n" + markdown(res[name]["table"], REAL_COLUMNS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
