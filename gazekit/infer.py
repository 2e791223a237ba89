"""``gazekit infer``: predict scanpaths (or gaze) for your own image file(s) with any registered model.

Scanpath models (``--model greedy|oracle|random|center|oat|...``)::

    gazekit infer --model greedy --target-image mug.png shelf.jpg --out preds/
    gazekit infer --model center --task freeview --samples 5 photo.jpg

write, per image, ``<stem>.csv`` (gazekit scanpath CSV; ``--format json`` for COCO-Search18 JSON) and
``<stem>_overlay.png`` (numbered fixations sized by duration, saccade lines, the target box when given), plus
``scanpaths.csv`` with every prediction when there are several images.

Gaze-following models (``--model head-cone|center-gaze|vitgaze|...``) need ``--head-box x1,y1,x2,y2``
(repeat it for several people) and write ``<stem>_gaze.csv`` and ``<stem>_overlay.png``.

The target of a search: ``--target-category NAME``, ``--target-box x,y,w,h`` (its location in the image,
px; the oracle goes there, the greedy baseline uses the box's crop as the example to look for) and/or
``--target-image PATH`` (a picture of the target). ``--task`` defaults to search when a target is given,
free viewing otherwise.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from gazekit.atomic import atomic_write_text
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import Scanpath, Stimulus, Target, Task

__all__ = ["add_arguments", "parse_floats", "run"]


def parse_floats(text: str, n: int, what: str) -> tuple[float, ...]:
    """Parse ``"a,b,c,d"`` into ``n`` finite floats (errors name the option)."""
    parts = [p for p in str(text).replace(" ", "").split(",") if p != ""]
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{what}: expected {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n or not all(np.isfinite(vals)):
        raise ConfigError(f"{what}: expected {n} finite comma-separated numbers, got {text!r}")
    return vals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image file(s): PNG, JPEG, WebP, BMP")
    parser.add_argument(
        "--model", default="greedy", help="registered model name (see `gazekit models`); default greedy"
    )
    parser.add_argument("--weights", help="checkpoint for learned models (default: GAZEKIT_WEIGHTS_DIR / hub cache)")
    parser.add_argument("--task", choices=["search", "freeview"], help="default: search if a target is given")
    parser.add_argument("--target-category", help="search target category, e.g. cup")
    parser.add_argument("--target-box", help="target location x,y,w,h in image px")
    parser.add_argument("--target-image", help="image file showing the target")
    parser.add_argument(
        "--head-box", action="append", default=[], help="x1,y1,x2,y2 head box in px (gaze models; repeatable)"
    )
    parser.add_argument("--samples", type=int, default=1, help="sampled scanpaths per image (1 = the most likely)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--format", choices=["csv", "json"], default="csv", help="scanpath file format")
    parser.add_argument("--device", default="cpu", help="torch device for learned models (default cpu)")
    parser.add_argument("--out", default="gazekit_infer", help="output folder (default ./gazekit_infer)")


def _target(args: argparse.Namespace) -> Target | None:
    box = parse_floats(args.target_box, 4, "--target-box") if args.target_box else None
    if box is not None and (box[2] <= 0 or box[3] <= 0):
        raise ConfigError(f"--target-box: width and height must be > 0, got {args.target_box!r}")
    image = None
    if args.target_image:
        from gazekit.imageio import read_image

        image = read_image(args.target_image)
    if box is None and image is None and not args.target_category:
        return None
    return Target(args.target_category or None, box, image)


def _unique_stems(paths: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.stem or "image"
        k = seen.get(stem, 0)
        seen[stem] = k + 1
        out.append(stem if k == 0 else f"{stem}_{k + 1}")
    return out


def _progress(msg: str) -> None:
    import os

    if os.environ.get("GAZEKIT_NO_PROGRESS") != "1":
        print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from gazekit.imageio import read_image, write_image
    from gazekit.io import write_scanpaths
    from gazekit.models.registry import get_spec, load_predictor

    if args.samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {args.samples}")
    spec = get_spec(args.model)
    paths = [Path(p) for p in args.images]
    # read every image first: a bad file fails before any model is loaded or anything is written
    images = [read_image(p) for p in paths]
    out = Path(args.out)

    if spec.kind == "gaze":
        if not args.head_box:
            raise ConfigError(f"model {args.model!r} follows gaze: give --head-box x1,y1,x2,y2 (px)")
        boxes = [parse_floats(b, 4, "--head-box") for b in args.head_box]
        model = load_predictor(args.model, weights=args.weights, device=args.device)
        return _run_gaze(model, args.model, paths, images, boxes, out, write_image)

    target = _target(args)
    kind = args.task or ("search" if target is not None else "freeview")
    if kind == "search" and target is None:
        raise ConfigError("--task search needs a target: --target-category, --target-box and/or --target-image")
    task = Task(kind, target if kind == "search" else None)
    if kind not in spec.tasks:
        raise ConfigError(
            f"model {args.model!r} supports {', '.join(spec.tasks)} tasks, not {kind}"
            + ("; give a target (--target-category / --target-box / --target-image)" if kind != "search" else "")
        )
    model = load_predictor(args.model, weights=args.weights, device=args.device)

    from gazekit.viz import PALETTE, draw_box, draw_scanpath, draw_scanpaths

    every: list[Scanpath] = []
    for path, image, stem in zip(paths, images, _unique_stems(paths), strict=True):
        h, w = image.shape[:2]
        if target is not None and target.box is not None:
            bx, by, bw, bh = target.box
            if bx >= w or by >= h or bx + bw <= 0 or by + bh <= 0:
                raise ConfigError(f"--target-box {args.target_box} lies outside {path} ({w}x{h} px)")
        stim = Stimulus(path.name, w, h, image=image, path=str(path), target=target if kind == "search" else None)
        if args.samples == 1:
            sps = [model.predict_scanpath(stim, task, sample=False, seed=args.seed)]
        else:
            rng = np.random.default_rng(args.seed)
            sps = [
                model.predict_scanpath(stim, task, sample=True, seed=int(rng.integers(2**31)))
                for _ in range(args.samples)
            ]
        for i, sp in enumerate(sps):
            sp.stimulus = path.name
            sp.subject = f"{args.model}" if len(sps) == 1 else f"{args.model}-{i}"
        every += sps
        write_scanpaths(out / f"{stem}.{args.format}", sps)
        if len(sps) == 1:
            overlay = draw_scanpath(image, sps[0], color=PALETTE[0])
        else:
            overlay = draw_scanpaths(image, sps, alpha=0.7)
        if target is not None and target.box is not None:
            label = f"target: {target.category}" if target.category else "target"
            overlay = draw_box(overlay, target.box, (0, 200, 0), label)
        write_image(out / f"{stem}_overlay.png", overlay)
        lens = ", ".join(str(len(s)) for s in sps)
        _progress(f"{path}: {len(sps)} scanpath(s) of {lens} fixation(s) -> {out / (stem + '.' + args.format)}")
    if len(paths) > 1:
        write_scanpaths(out / f"scanpaths.{args.format}", every)
    return 0


def _run_gaze(model, name: str, paths, images, boxes, out: Path, write_image) -> int:  # noqa: ANN001
    from gazekit.viz import PALETTE, draw_gaze

    for path, image, stem in zip(paths, images, _unique_stems(paths), strict=True):
        h, w = image.shape[:2]
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["image", "person", "head_x1", "head_y1", "head_x2", "head_y2", "gaze_x", "gaze_y", "inout"])
        overlay = image
        for k, box in enumerate(boxes):
            x1, y1, x2, y2 = box
            if min(x1, x2) >= w or min(y1, y2) >= h or max(x1, x2) <= 0 or max(y1, y2) <= 0:
                raise DataFormatError(
                    f"--head-box {','.join(f'{v:g}' for v in box)} lies outside the image ({w}x{h} px)", path=path
                )
            gm = model.predict_gaze(image, box)
            wr.writerow(
                [
                    path.name,
                    k,
                    *(f"{v:.2f}" for v in gm.head_box),
                    f"{gm.point[0]:.2f}",
                    f"{gm.point[1]:.2f}",
                    f"{gm.inout:.4f}",
                ]
            )
            overlay = draw_gaze(overlay, gm, PALETTE[k % len(PALETTE)], heatmap=len(boxes) == 1, label=f"#{k}")
        atomic_write_text(out / f"{stem}_gaze.csv", buf.getvalue())
        write_image(out / f"{stem}_overlay.png", overlay)
        _progress(f"{path}: {len(boxes)} person(s) with {name} -> {out / (stem + '_gaze.csv')}")
    return 0
