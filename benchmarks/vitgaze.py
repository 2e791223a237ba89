"""ViTGaze: throughput, held-out evaluation on synthetic scenes, and checkpoint export.

    python benchmarks/vitgaze.py speed [--threads 2] [--sizes 224 448] [--device cpu|cuda]
        images/s of the released S/14 model (random weights; speed does not depend on them) at each
        input size, pooling with the attention-pool kernel vs materialising [B, heads, T, T] maps.
    python benchmarks/vitgaze.py eval [--weights PATH] [--n-test 400] [--recipe YAML]
        GazeFollow-protocol AUC / avg L2 / min L2 / in-out AP on held-out synthetic test scenes (seed 0, drawn
        like the recipe's data section)
        for ViTGaze (bundled or given checkpoint) and the baselines (centre prior, head-direction cone).
    python benchmarks/vitgaze.py export --ckpt outputs/.../best.ckpt [--out gazekit/assets/vitgaze/...]
        Lightning checkpoint -> fp16 safetensors with the constructor arguments in its metadata.

Timings: best of ``--repeats`` runs after one warm-up, batch 1 (one person), torch threads as given.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch


def speed(args: argparse.Namespace) -> dict:
    from gazekit.models.vitgaze import ViTGaze

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    rows = []
    for size in args.sizes:
        torch.manual_seed(0)
        m = ViTGaze(input_size=size, pretrained=None).to(dev).eval()
        x = torch.randn(args.batch, 3, size, size, device=dev)
        hb = torch.tensor([[0.4, 0.1, 0.55, 0.3]] * args.batch, device=dev)
        row = {"size": size, "batch": args.batch, "tokens": 1 + (size // 14) ** 2}
        outs = {}
        for mode in ("kernel", "materialised"):
            m.hparams.use_kernel = mode == "kernel"
            with torch.inference_mode():
                outs[mode] = m(x, hb)["heatmap"]
                best = float("inf")
                for _ in range(args.repeats):
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    m(x, hb)
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    best = min(best, time.perf_counter() - t)
            row[f"{mode}_img_s"] = round(args.batch / best, 3)
            row[f"{mode}_ms"] = round(1000 * best, 1)
        row["max_abs_diff"] = float((outs["kernel"] - outs["materialised"]).abs().max())
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {
        "device": args.device,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "rows": rows,
    }


def scene_config_of(recipe: str | None):
    """The :class:`GazeSceneConfig` a recipe's ``SyntheticGazeDataModule`` draws (defaults without a recipe)."""
    from gazekit.datasets.synthetic.gaze import GazeSceneConfig

    if not recipe:
        return GazeSceneConfig()
    import yaml

    args = (yaml.safe_load(Path(recipe).read_text()).get("data") or {}).get("init_args") or {}
    kw = {
        k: args[k]
        for k in (
            "min_objects",
            "max_objects",
            "min_people",
            "max_people",
            "p_out",
            "n_annotators",
            "annotator_noise",
            "min_tilt",
            "max_tilt",
            "facing_cue",
            "contrast_hair",
            "min_object_gap",
            "head_grid",
        )
        if k in args
    }
    if "image_size" in args:
        kw["width"] = kw["height"] = int(args["image_size"])
    if "head_radius" in args:
        kw["head_radius"] = tuple(float(v) for v in args["head_radius"])
    return GazeSceneConfig(**kw)


def _scenes(n: int, seed: int, recipe: str | None = None):
    from gazekit.datasets.synthetic.gaze import render_gaze_scene

    cfg = scene_config_of(recipe)
    return [render_gaze_scene(i, cfg, seed, "test") for i in range(n)]


def evaluate_predictor(predictor, scenes, batched: bool = False) -> dict:
    import cv2

    from gazekit.metrics.following import gazefollow_auc, heatmap_argmax, inout_ap, l2

    aucs, avg, mn, gt, score, hit = [], [], [], [], [], []
    for sc in scenes:
        h, w = sc.image.shape[:2]
        boxes = [a.head_box for a in sc.annotations]
        maps = (
            predictor.predict_gazes(sc.image, boxes)
            if batched
            else [predictor.predict_gaze(sc.image, b) for b in boxes]
        )
        for a, g in zip(sc.annotations, maps, strict=True):
            gt.append(a.inout)
            score.append(g.inout)
            if a.inout != 1:
                continue
            pts = a.gaze_points / np.array([w, h])
            aucs.append(gazefollow_auc(g.heatmap, pts, (w, h)))
            d = l2(g.heatmap, pts)
            avg.append(d["avg"])
            mn.append(d["min"])
            # on target: the heatmap argmax falls on the looked-at object (its mask dilated by 3 px)
            x, y = heatmap_argmax(g.heatmap)
            mask = cv2.dilate(a.target_mask.astype(np.uint8), np.ones((7, 7), np.uint8))
            hit.append(bool(mask[min(int(y * h), h - 1), min(int(x * w), w - 1)]))
    return {
        "auc": float(np.mean(aucs)),
        "avg_l2": float(np.mean(avg)),
        "min_l2": float(np.mean(mn)),
        "on_target": float(np.mean(hit)),
        "ap": float(inout_ap(np.array(gt), np.array(score))) if 0 < sum(gt) < len(gt) else float("nan"),
        "n_in": len(aucs),
        "n": len(gt),
    }


class _ObjectsControl:
    """Control, not a model: heat on every object of the scene (from the ground-truth label map, blurred), the
    same for every person, so its AUC shows how much an "any object" prior earns on these scenes."""

    def __init__(self, scene) -> None:
        import cv2

        m = (scene.object_labels > 0).astype(np.float32)
        self.heat = cv2.resize(cv2.GaussianBlur(m, (0, 0), 3), (64, 64), interpolation=cv2.INTER_AREA)

    def predict_gaze(self, image, head_box):
        from gazekit.types import GazeMap

        h, w = image.shape[:2]
        r, c = np.unravel_index(int(np.argmax(self.heat)), self.heat.shape)
        return GazeMap(self.heat / max(self.heat.max(), 1e-9), ((c + 0.5) / 64 * w, (r + 0.5) / 64 * h), 0.8, head_box)


def evaluate(args: argparse.Namespace) -> dict:
    from gazekit.models.gaze_baselines import CenterGazePrior, HeadDirectionCone
    from gazekit.models.vitgaze import ViTGaze

    torch.set_num_threads(args.threads)
    scenes = _scenes(args.n_test, args.seed, args.recipe)
    res = {}
    model = ViTGaze.load_for_inference(args.weights)
    t = time.perf_counter()
    res["vitgaze"] = evaluate_predictor(model, scenes, batched=True)
    res["vitgaze"]["seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"vitgaze": res["vitgaze"]}), flush=True)
    for name, p in (("center_prior", CenterGazePrior()), ("head_direction_cone", HeadDirectionCone())):
        res[name] = evaluate_predictor(p, scenes)
        print(json.dumps({name: res[name]}), flush=True)
    parts = [evaluate_predictor(_ObjectsControl(sc), [sc]) for sc in scenes]
    ins = [p for p in parts if p["n_in"]]
    res["objects_control"] = {
        k: float(np.average([p[k] for p in ins], weights=[p["n_in"] for p in ins]))
        for k in ("auc", "avg_l2", "min_l2", "on_target")
    }
    print(json.dumps({"objects_control": res["objects_control"]}), flush=True)
    return res


def export(args: argparse.Namespace) -> dict:
    from gazekit.models.vitgaze import ViTGaze

    m = ViTGaze.from_checkpoint(args.ckpt)
    out = m.save_checkpoint(args.out, half=True)
    size = out.stat().st_size
    print(json.dumps({"out": str(out), "bytes": size}))
    return {"out": str(out), "bytes": size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch", type=int, default=1)
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument("--device", default="cpu")
    e = sub.add_parser("eval")
    e.add_argument("--weights", default=None)
    e.add_argument("--n-test", type=int, default=400)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument(
        "--recipe",
        default="configs/experiments/vitgaze_synthetic.yaml",
        help="draw the test scenes like this recipe's data section ('' = GazeSceneConfig defaults)",
    )
    x = sub.add_parser("export")
    x.add_argument("--ckpt", required=True)
    x.add_argument("--out", default="gazekit/assets/vitgaze/vitgaze_synthetic.safetensors")
    for p in (s, e, x):
        p.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args(argv)
    res = {"speed": speed, "eval": evaluate, "export": export}[args.cmd](args)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
