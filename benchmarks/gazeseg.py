"""GazeSeg (and ViTGaze beside it): facing-direction probes, held-out evaluation, speed, checkpoint export.

python benchmarks/gazeseg.py probe [--n 600] [--input-size 112] [--patch 14]
    Is the facing direction in the pixels? For the legacy scenes and the improved ones (drawn like the
    recipes): share of in-frame people with another object within 30 degrees of their target, and a ridge
    regression from the head pixels to the 2-D direction (cos, sin) on (a) a head-centred crop and (b) the
    patch-aligned window a ViT sees (3 x 3 patches around the patch holding the head centre), trained on
    the first 2/3 of the people, median angular error on the rest.
python benchmarks/gazeseg.py eval [--n-test 400] [--gazeseg PATH] [--vitgaze PATH]
    Held-out synthetic test scenes (drawn like the GazeSeg recipe): Dice / mIoU of the target mask,
    top-1 / top-5 class accuracy, GazeFollow AUC and L2 (64 x 64 argmax, and DARK sub-pixel), on-target
    rate (overall and by angular gap to the nearest other object), in/out AP, for GazeSeg, ViTGaze's
    heatmap turned into a mask (the object under its peak), the head-direction cone (same rule) and the
    any-object control (the mask of a random object in the scene); plus a linear probe of each model's
    head feature for the 2-D facing direction.
python benchmarks/gazeseg.py speed [--sizes 224 448] [--threads 1] [--device cpu|cuda]
    images/s of the GazeSeg CPU recipe's architecture and of ViTGaze (the recipe's and the released S/14)
    at each input size, batch 1, in one run.
python benchmarks/gazeseg.py export --ckpt outputs/.../last.ckpt
    Lightning checkpoint -> fp16 safetensors in gazekit/assets/gazeseg/.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vitgaze import scene_config_of  # noqa: E402  (benchmarks are scripts, not a package)

from gazekit.gaze_eval import AnyObjectControl, GazeSegAnswer, HeatmapAsMask, score_answers  # noqa: E402

GAZESEG_RECIPE = "configs/experiments/gazeseg_synthetic.yaml"
VITGAZE_RECIPE = "configs/experiments/vitgaze_synthetic.yaml"


# --------------------------------------------------------------------------------------------- probes
def _direction_2d(annotation) -> np.ndarray:
    d = np.asarray(annotation.meta["direction"][:2], float)
    return d / max(float(np.linalg.norm(d)), 1e-9)


def _angular_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    a = np.arctan2(pred[:, 1], pred[:, 0]) - np.arctan2(true[:, 1], true[:, 0])
    return np.degrees(np.abs((a + np.pi) % (2 * np.pi) - np.pi))


def ridge_probe(x: np.ndarray, y: np.ndarray, alpha: float = 10.0) -> dict[str, float]:
    """Ridge regression x -> y (2-D unit direction), fit on the first 2/3, median / mean angular error (degrees)
    and share within 30 degrees on the rest."""
    from sklearn.linear_model import Ridge

    n = len(x)
    k = max(int(n * 2 / 3), 1)
    mu, sd = x[:k].mean(0), x[:k].std(0) + 1e-6
    reg = Ridge(alpha=alpha).fit((x[:k] - mu) / sd, y[:k])
    err = _angular_errors(reg.predict((x[k:] - mu) / sd), y[k:])
    return {
        "median_deg": round(float(np.median(err)), 1),
        "mean_deg": round(float(np.mean(err)), 1),
        "within_30": round(float(np.mean(err < 30)), 3),
        "n_fit": k,
        "n_test": n - k,
    }


def _crop(img: np.ndarray, cx: float, cy: float, half: int) -> np.ndarray:
    pad = cv2.copyMakeBorder(img, half, half, half, half, cv2.BORDER_REFLECT)
    x, y = int(round(cx)) + half, int(round(cy)) + half
    return pad[y - half : y + half, x - half : x + half]


def pixel_probe(cfg, n: int, input_size: int, patch: int, seed: int = 0) -> dict:
    """Facing direction from head pixels at the model's input resolution (see the module docstring)."""
    from gazekit.datasets.synthetic.gaze import render_gaze_scene, target_angular_gap

    xc, xp, y, gaps = [], [], [], []
    for i in range(n):
        sc = render_gaze_scene(i, cfg, seed, "val")
        h, w = sc.image.shape[:2]
        img = cv2.resize(sc.image, (input_size, input_size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        for a in sc.annotations:
            if a.inout != 1:
                continue
            gaps.append(target_angular_gap(a, sc.objects))
            x1, y1, x2, y2 = a.head_box
            cx, cy = (x1 + x2) / 2 * input_size / w, (y1 + y2) / 2 * input_size / h
            xc.append(cv2.resize(_crop(img, cx, cy, patch + patch // 2), (14, 14), interpolation=cv2.INTER_AREA))
            # the window a ViT sees: whole patches around the one that holds the head centre
            px, py = (math.floor(cx / patch) + 0.5) * patch, (math.floor(cy / patch) + 0.5) * patch
            xp.append(cv2.resize(_crop(img, px, py, patch + patch // 2), (14, 14), interpolation=cv2.INTER_AREA))
            y.append(_direction_2d(a))
    g = np.array(gaps)
    return {
        "people_in_frame": len(y),
        "share_other_object_within_30deg": round(float(np.mean(g < 30)), 3),
        "head_centred_crop": ridge_probe(np.array(xc).reshape(len(y), -1), np.array(y)),
        "patch_aligned_window": ridge_probe(np.array(xp).reshape(len(y), -1), np.array(y)),
    }


def probe(args: argparse.Namespace) -> dict:
    from gazekit.datasets.synthetic.gaze import GazeSceneConfig

    new = scene_config_of(args.recipe)
    old = GazeSceneConfig.legacy(width=new.width, height=new.height, head_radius=new.head_radius)
    res = {}
    for name, cfg in (("legacy_scenes", old), ("improved_scenes", new)):
        res[name] = pixel_probe(cfg, args.n, args.input_size, args.patch)
        print(json.dumps({name: res[name]}), flush=True)
    return res


# --------------------------------------------------------------------------------------------- evaluation
def head_feature_probe(model, scenes, kind: str) -> dict:
    """Ridge probe of a model's head representation for the 2-D facing direction (in-frame people): ViTGaze's
    PatchPAM-pooled last-layer feature (input of its in/out MLP), GazeSeg's direction token."""
    feats: list[np.ndarray] = []
    layer = model.inout_head[0] if kind == "vitgaze" else model.direction_head[0]
    hook = layer.register_forward_hook(lambda m, i, o: feats.append(i[0].detach().cpu().numpy()))
    y = []
    try:
        for sc in scenes:
            for a in sc.annotations:
                if a.inout == 1:
                    model.predict_gaze(sc.image, a.head_box)
                    y.append(_direction_2d(a))
    finally:
        hook.remove()
    x = np.concatenate(feats)
    return ridge_probe(x, np.array(y), alpha=1.0)


def evaluate(args: argparse.Namespace) -> dict:
    from gazekit.datasets.synthetic.gaze import GAZE_CATEGORIES, render_gaze_scene
    from gazekit.models.gaze_baselines import HeadDirectionCone
    from gazekit.models.gazeseg import GazeSeg
    from gazekit.models.vitgaze import ViTGaze

    cfg = scene_config_of(args.recipe)
    scenes = [render_gaze_scene(i, cfg, args.seed, "test") for i in range(args.n_test)]
    cats = list(GAZE_CATEGORIES)
    res: dict = {"scenes": args.n_test, "recipe": args.recipe}
    preds = {}
    if not args.skip_gazeseg:
        gs = GazeSeg.load_for_inference(args.gazeseg)
        preds["gazeseg"] = (GazeSegAnswer(gs).answer, gs, "gazeseg")
    vg = ViTGaze.load_for_inference(args.vitgaze)
    preds["vitgaze_peak_object"] = (HeatmapAsMask(vg, cats).answer, vg, "vitgaze")
    preds["head_cone_peak_object"] = (HeatmapAsMask(HeadDirectionCone(), cats).answer, None, None)
    preds["any_object_control"] = (AnyObjectControl(cats, args.seed).answer, None, None)
    for name, (fn, model, kind) in preds.items():
        t = time.perf_counter()
        res[name] = score_answers(fn, scenes, cats)
        res[name]["seconds"] = round(time.perf_counter() - t, 1)
        if model is not None:
            res[name]["head_probe"] = head_feature_probe(model, scenes[: args.n_probe], kind)
        print(json.dumps({name: res[name]}), flush=True)
    return res


def _time(fn, repeats: int, cuda: bool) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def speed(args: argparse.Namespace) -> dict:
    """images/s (batch 1, one person) of GazeSeg's recipe architecture (NA on the auto backend and on the dense
    SDPA form), and of ViTGaze (the CPU recipe's size and the released S/14), at each input size, in one run."""
    import os

    import yaml

    from gazekit.kernels._backend import requested_backend
    from gazekit.models.gazeseg import GazeSeg
    from gazekit.models.vitgaze import ViTGaze

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    gs_kw = yaml.safe_load(Path(GAZESEG_RECIPE).read_text())["model"]["init_args"]
    vg_kw = yaml.safe_load(Path(VITGAZE_RECIPE).read_text())["model"]["init_args"]
    rows = []
    for size in args.sizes:
        torch.manual_seed(0)
        x = torch.randn(1, 3, size, size, device=dev)
        hb = torch.tensor([[0.4, 0.1, 0.55, 0.3]], device=dev)
        models = {
            "gazeseg_recipe": GazeSeg(**{**gs_kw, "input_size": size}),
            "vitgaze_recipe": ViTGaze(**{**vg_kw, "input_size": size}),
            "vitgaze_s14": ViTGaze(input_size=size, pretrained=None),
        }
        row: dict = {"size": size}
        for name, m in models.items():
            m = m.to(dev).eval()
            backends = ("auto", "sdpa") if name.startswith("gazeseg") else ("auto",)
            for be in backends:
                old = os.environ.get("GAZEKIT_ATTN_BACKEND")
                os.environ["GAZEKIT_ATTN_BACKEND"] = be
                try:
                    with torch.inference_mode():
                        best = _time(lambda m=m, x=x, hb=hb: m(x, hb), args.repeats, cuda)
                finally:
                    if old is None:
                        os.environ.pop("GAZEKIT_ATTN_BACKEND")
                    else:
                        os.environ["GAZEKIT_ATTN_BACKEND"] = old
                key = f"{name}_{be}" if len(backends) > 1 else name
                row[f"{key}_img_s"] = round(1.0 / best, 2)
                row[f"{key}_ms"] = round(1000 * best, 1)
            row[f"{name}_params_m"] = round(sum(p.numel() for p in m.parameters()) / 1e6, 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    machine = {"device": args.device, "threads": args.threads, "cpu": platform.processor() or platform.machine()}
    return {**machine, "backend_env": requested_backend(), "rows": rows}


def export(args: argparse.Namespace) -> dict:
    from gazekit.models.gazeseg import GazeSeg

    out = GazeSeg.from_checkpoint(args.ckpt).save_checkpoint(args.out, half=True)
    res = {"out": str(out), "bytes": out.stat().st_size}
    print(json.dumps(res))
    return res


# --------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--input-size", type=int, default=112)
    p.add_argument("--patch", type=int, default=14)
    p.add_argument("--recipe", default=VITGAZE_RECIPE)
    e = sub.add_parser("eval")
    e.add_argument("--n-test", type=int, default=400)
    e.add_argument("--n-probe", type=int, default=300)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--gazeseg", default=None)
    e.add_argument("--vitgaze", default=None)
    e.add_argument("--skip-gazeseg", action="store_true")
    e.add_argument("--recipe", default=GAZESEG_RECIPE, help="draw the test scenes like this recipe's data section")
    sp = sub.add_parser("speed")
    sp.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    sp.add_argument("--threads", type=int, default=1)
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument("--device", default="cpu")
    x = sub.add_parser("export")
    x.add_argument("--ckpt", required=True)
    x.add_argument("--out", default="gazekit/assets/gazeseg/gazeseg_synthetic.safetensors")
    for q in (p, e, sp, x):
        q.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = {"probe": probe, "eval": evaluate, "speed": speed, "export": export}[args.cmd](args)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
