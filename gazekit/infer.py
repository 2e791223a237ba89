"""``gazekit infer``: predict scanpaths (or gaze) for your own image file(s) with any registered model.

Scanpath models (``--model greedy|oracle|random|center|oat|...``)::

    gazekit infer --model greedy --target-image mug.png shelf.jpg --out preds/
    gazekit infer --model center --task freeview --samples 5 photo.jpg
    gazekit infer --model oat --target-box 410,220,90,120 --objects boxes.json photo.jpg
    gazekit infer --model nevaclip --caption "red circle striped" display.png

write, per image, ``<stem>.csv`` (gazekit scanpath CSV; ``--format json`` for COCO-Search18 JSON) and
``<stem>_overlay.png`` (numbered fixations sized by duration, saccade lines, the target box when given), plus
``scanpaths.csv`` with every prediction when there are several images, and ``info.json`` (model, weights
source, where the objects came from, and every note also printed to stderr).

Object-level models (OAT) need object boxes. They come from ``--objects FILE`` (a COCO-Search18 detections
CSV, a COCO-style JSON or gazekit's boxes JSON), else an open-vocabulary detector whose published weights
are on this machine (``gazekit download owlv2``; ``--detector none`` skips it), else the zero-download OpenCV
proposer; the overlay and ``info.json`` say which (and ``<stem>_objects.json`` keeps the boxes used).
``--objects`` also gives the objects to every other scanpath model.

A user's data, every (image, target) pair of a fixation file (COCO-Search18 JSON + detections folder)::

    gazekit infer --model oat --weights CKPT --scanpaths OTHER.json --detections DIR --samples 10 \
        --format json --out OUTDIR

writes one predictions file, ``OUTDIR/predictions.json`` (``.csv`` with ``--format csv``), in the frame of the
detections (COCO-Search18's 1680x1050 display); ``--images DIR`` adds pixels for crop-appearance models.

Gaze-following models (``--model head-cone|center-gaze|vitgaze|...``) need ``--head-box x1,y1,x2,y2``
(repeat it for several people) and write ``<stem>_gaze.csv`` and ``<stem>_overlay.png`` (one colour and label
``#k`` per person, matching the CSV's ``person`` column; the heatmap of ``--heatmap-person K`` only).

The target of a search: ``--target-category NAME``, ``--target-box x,y,w,h`` (its location in the image,
px; the oracle goes there, the greedy baseline uses the box's crop as the example to look for) and/or
``--target-image PATH`` (a picture of the target). ``--task`` defaults to search when a target is given,
free viewing otherwise.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from gazekit.atomic import atomic_write_text
from gazekit.cliutil import bounded_float, bounded_int, check_device, parse_frame
from gazekit.errors import ConfigError, DataFormatError
from gazekit.models.registry import get_spec, load_predictor, synthetic_weights_note, weights_source
from gazekit.types import Scanpath, Stimulus, Target, Task

__all__ = ["MAX_SAMPLES", "add_arguments", "parse_floats", "run"]

#: sampled scanpaths per image (each is a full model pass; the score protocols use 10 to 100)
MAX_SAMPLES = 1000


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
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image file(s): PNG, JPEG, WebP, BMP")
    parser.add_argument(
        "--model", default="greedy", help="registered model name (see `gazekit models`); default greedy"
    )
    parser.add_argument("--weights", help="checkpoint for learned models (default: GAZEKIT_WEIGHTS_DIR / hub cache)")
    parser.add_argument(
        "--task", choices=["search", "freeview", "caption"], help="default: caption if --caption, search if a target"
    )
    parser.add_argument("--caption", help="what to look for, in words (caption-driven models, e.g. nevaclip)")
    parser.add_argument("--target-category", help="search target category, e.g. cup")
    parser.add_argument("--target-box", help="target location x,y,w,h in image px")
    parser.add_argument("--target-image", help="image file showing the target")
    parser.add_argument(
        "--objects",
        metavar="FILE",
        help="object boxes for the image(s): COCO-Search18 detections CSV, COCO-style JSON or gazekit boxes JSON",
    )
    parser.add_argument(
        "--detector",
        default="auto",
        help="objects when --objects is not given: auto (a detector with weights on this machine, else the "
        "OpenCV proposer), owlv2, owlvit, a detector folder, or none (the proposer)",
    )
    parser.add_argument(
        "--detector-threshold",
        type=bounded_float(0.0, 1.0),
        default=0.1,
        help="detector score threshold (default 0.1)",
    )
    parser.add_argument(
        "--scanpaths",
        metavar="FILE",
        help="predict every (image, target) pair of this fixation file (COCO-Search18 JSON) instead of IMAGEs",
    )
    parser.add_argument("--detections", metavar="DIR", help="COCO-Search18 detections folder (with --scanpaths)")
    parser.add_argument("--images", metavar="DIR", help="image folder for --scanpaths (optional; crop appearance)")
    parser.add_argument(
        "--human-frame",
        metavar="WxH",
        help="frame of --scanpaths records without width/height (default with --detections: their 1680x1050 display)",
    )
    parser.add_argument(
        "--head-box",
        action="append",
        default=[],
        help="x1,y1,x2,y2 head box in px (gaze models; repeatable; default: the heads a face detector finds)",
    )
    parser.add_argument(
        "--heatmap-person",
        type=bounded_int(0, 10_000),
        default=None,
        help="gaze models: draw the heatmap of this person (0-based, the CSV's person column) only",
    )
    parser.add_argument(
        "--samples",
        type=bounded_int(1, MAX_SAMPLES),
        default=1,
        help=f"sampled scanpaths per image (1 = the most likely; at most {MAX_SAMPLES})",
    )
    parser.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=0, help="random seed (default 0)")
    parser.add_argument("--format", choices=["csv", "json"], default="csv", help="scanpath file format")
    parser.add_argument(
        "--device", default="cpu", help="torch device for learned models: cpu, cuda, cuda:N, mps (default cpu)"
    )
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


def _note(msg: str) -> None:
    """Notes on what a prediction rests on are always printed (and kept in info.json)."""
    print(f"note: {msg}", file=sys.stderr, flush=True)


def _repeat(model, stim: Stimulus, task: Task, samples: int, seed: int) -> list[Scanpath]:  # noqa: ANN001
    """The most likely scanpath (``samples == 1``) or ``samples`` seeded samples."""
    if samples == 1:
        return [model.predict_scanpath(stim, task, sample=False, seed=seed)]
    rng = np.random.default_rng(seed)
    return [model.predict_scanpath(stim, task, sample=True, seed=int(rng.integers(2**31))) for _ in range(samples)]


def _label(sps: list[Scanpath], name: str) -> None:
    for i, sp in enumerate(sps):
        sp.subject = name if len(sps) == 1 else f"{name}-{i}"


def run(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    if str(args.device).lower() != "cpu":  # only then is torch imported (baselines on cpu never need it)
        args.device = check_device(args.device)
    if args.scanpaths:
        if args.images and not Path(args.images).is_dir():
            raise ConfigError(f"--images {args.images}: not a folder")
        if args.images is None and args.detections is None:
            raise ConfigError("--scanpaths needs --detections DIR (the objects of each image) and/or --images DIR")
        if spec.kind != "scanpath":
            raise ConfigError(f"--scanpaths predicts scanpaths; {args.model!r} follows gaze")
    elif not args.images:
        raise ConfigError("give IMAGE file(s), or --scanpaths FILE --detections DIR for a fixation file's pairs")
    elif args.detections or args.human_frame:
        raise ConfigError("--detections / --human-frame go with --scanpaths FILE (use --objects FILE for images)")
    from gazekit.imageio import read_image

    paths = [Path(p) for p in args.images] if not args.scanpaths else []
    # read every image first: a bad file fails before any model is loaded or anything is written
    images = [read_image(p) for p in paths]
    out = Path(args.out)
    target = _target(args)
    if spec.kind == "gaze":
        boxes_per_image, found_by = _head_boxes(args, paths, images)
        model = load_predictor(args.model, weights=args.weights, device=args.device)
        notes = [n for n in [synthetic_weights_note(spec, weights_source(spec, model, args.weights))] if n]
        for n in notes:
            _note(n)
        if found_by:
            _note(f"heads found by the {found_by} (give --head-box x1,y1,x2,y2 to choose them yourself)")
        code = _run_gaze(model, args.model, paths, images, boxes_per_image, out, args.heatmap_person, notes)
        people = {
            path.name: {"heads": found_by or "--head-box", "people": len(b)}
            for path, b in zip(paths, boxes_per_image, strict=True)
        }
        _write_info(out, args, spec, weights_source(spec, model, args.weights), notes, people)
        return code

    caption = (getattr(args, "caption", None) or "").strip() or None
    kind = args.task or ("caption" if caption else "search" if target is not None or args.scanpaths else "freeview")
    if kind == "search" and target is None and not args.scanpaths:
        raise ConfigError("--task search needs a target: --target-category, --target-box and/or --target-image")
    if kind == "caption" and caption is None:
        raise ConfigError("--task caption needs --caption TEXT")
    if kind not in spec.tasks:
        raise ConfigError(
            f"model {args.model!r} supports {', '.join(spec.tasks)} tasks, not {kind}"
            + ("; give a target (--target-category / --target-box / --target-image)" if kind != "search" else "")
        )
    model = load_predictor(args.model, weights=args.weights, device=args.device)
    source = weights_source(spec, model, args.weights)
    if source:
        _progress(f"{args.model}: {source} weights")
    if args.scanpaths:
        return _run_pairs(model, spec, args, out, source)

    from gazekit.imageio import write_image
    from gazekit.io import write_scanpaths
    from gazekit.viz import PALETTE, draw_box, draw_caption, draw_objects, draw_scanpath, draw_scanpaths

    base_notes = [n for n in [synthetic_weights_note(spec, source)] if n]
    for n in base_notes:
        _note(n)
    every: list[Scanpath] = []
    per_image: dict[str, dict] = {}
    for path, image, stem in zip(paths, images, _unique_stems(paths), strict=True):
        h, w = image.shape[:2]
        if target is not None and target.box is not None:
            bx, by, bw, bh = target.box
            if bx >= w or by >= h or bx + bw <= 0 or by + bh <= 0:
                raise ConfigError(f"--target-box {args.target_box} lies outside {path} ({w}x{h} px)")
        image_target = target if kind == "search" else None
        notes: list[str] = []
        objset = None
        if spec.objects or args.objects or _wants_category_objects(args, spec, target):
            objset, image_target = _objects(args, spec, image, path, out / f"{stem}_objects.json", image_target, notes)
        no_location = target is None or target.box is None
        if spec.name == "oracle" and kind == "search" and no_location and (objset is None or not objset.categorised):
            raise ConfigError(
                "oracle is a perfect detector: on a photo it needs the target's location (--target-box x,y,w,h) "
                "or categorised objects (--objects FILE) to find the category in"
            )
        stim = Stimulus(
            path.name, w, h, image=image, path=str(path), objects=[] if objset is None else objset.objects,
            target=image_target,
        )  # fmt: skip
        sps = _repeat(
            model, stim, Task(kind, image_target, caption if kind == "caption" else None), args.samples, args.seed
        )
        for sp in sps:
            sp.stimulus = path.name
        _label(sps, args.model)
        note = sps[0].meta.get("note")
        if note:
            notes.append(str(note))
        for n in notes:
            _note(f"{path.name}: {n}")
        every += sps
        write_scanpaths(out / f"{stem}.{args.format}", sps)
        overlay = image if objset is None else draw_objects(image, objset.objects)
        if len(sps) == 1:
            overlay = draw_scanpath(overlay, sps[0], color=PALETTE[0])
        else:
            overlay = draw_scanpaths(overlay, sps, alpha=0.7)
        if target is not None and target.box is not None:
            label = f"target: {target.category}" if target.category else "target"
            overlay = draw_box(overlay, target.box, (0, 200, 0), label)
        caption = ([objset.label.split(" (")[0]] if objset is not None else []) + (
            ["synthetic-data weights: not trained on real images"] if base_notes else []
        )
        write_image(out / f"{stem}_overlay.png", draw_caption(overlay, caption))
        per_image[path.name] = {"objects": None if objset is None else objset.label, "notes": notes}
        lens = ", ".join(str(len(s)) for s in sps)
        _progress(f"{path}: {len(sps)} scanpath(s) of {lens} fixation(s) -> {out / (stem + '.' + args.format)}")
    if len(paths) > 1:
        write_scanpaths(out / f"scanpaths.{args.format}", every)
    _write_info(out, args, spec, source, base_notes, per_image)
    return 0


def _wants_category_objects(args: argparse.Namespace, spec, target: Target | None) -> bool:  # noqa: ANN001
    """Greedy with only a category needs categorised objects: look for a detector (never the proposer)."""
    return (
        spec.name == "greedy"
        and target is not None
        and target.category is not None
        and target.image is None
        and target.box is None
        and args.detector != "none"
    )


def _objects(args, spec, image, path: Path, save: Path, target: Target | None, notes: list[str]):  # noqa: ANN001, ANN202
    """The image's objects (user file > detector > proposer) and the target the model is given."""
    from gazekit.objects import find_detector, objects_for_image, target_exemplar, write_boxes_json

    if not spec.objects and not args.objects:  # greedy's category cue: a detector only
        named = args.detector in ("owlv2", "owlvit")
        folder = None if named or args.detector == "auto" else args.detector
        if find_detector(args.detector if named else None, folder) is None:
            return None, target
    objset = objects_for_image(
        image,
        path.name,
        boxes=args.objects,
        detector=None if args.detector == "none" else args.detector,
        target_category=None if target is None else target.category,
        device=args.device,
        threshold=args.detector_threshold,
    )
    notes += [objset.label, *objset.notes]
    h, w = image.shape[:2]
    write_boxes_json(save, path.name, (w, h), objset.objects, objset.label)
    if not objset.objects:
        raise DataFormatError(
            f"{objset.label}: no object was found, so {spec.name} has nothing to fixate; give --objects FILE",
            path=path,
        )
    if spec.objects and target is not None and target.image is None and target.box is None and target.category:
        ex = target_exemplar(objset, image, target.category)
        if ex is None:
            raise ConfigError(
                f"{spec.name} on {path.name}: the target category {target.category!r} cannot be used with "
                + ("class-agnostic OpenCV proposals" if not objset.categorised else "these objects (none is a "
                   f"{target.category})")
                + "; give --target-image (a picture of the target) or --target-box x,y,w,h, or --objects with "
                "categories, or fetch detector weights (`gazekit download owlv2`)"
            )  # fmt: skip
        crop, obj = ex
        notes.append(
            f"target appearance: the crop of the best {target.category!r} object (score {obj.confidence:.2f}); "
            "its location is not given to the model"
        )
        target = Target(target.category, None, crop)
    return objset, target


def _write_info(out: Path, args, spec, source: str | None, notes: list[str], per_image: dict) -> None:  # noqa: ANN001
    info = {"model": spec.name, "weights": args.weights, "weights_source": source, "notes": notes, "images": per_image}
    atomic_write_text(out / "info.json", json.dumps(info, indent=1) + "\n")


def _run_pairs(model, spec, args: argparse.Namespace, out: Path, source: str | None) -> int:  # noqa: ANN001
    """Every (image, target) pair of a COCO-Search18 fixation file -> one predictions file."""
    from gazekit.datasets.coco_search18 import DISPLAY_HEIGHT, DISPLAY_WIDTH, CocoSearch18Images
    from gazekit.datasets.object_level import coco_search18_object_trials
    from gazekit.io import assign_frames, read_scanpaths, write_scanpaths

    humans = read_scanpaths(args.scanpaths)
    if not humans:
        raise DataFormatError("no scanpaths in the file", path=args.scanpaths)
    frame = parse_frame(args.human_frame) if args.human_frame else None
    if frame is None and args.detections:
        # the detections' format fixes the frame: COCO-Search18 display px; fixations must share it
        frame = (float(DISPLAY_WIDTH), float(DISPLAY_HEIGHT))
    humans = assign_frames(humans, frame, source=args.scanpaths)
    notes = [n for n in [synthetic_weights_note(spec, source)] if n]
    if args.detections:
        trials = coco_search18_object_trials(humans, args.detections)
        displays: dict[tuple[str, str], Stimulus] = {}
        for t in trials:
            displays.setdefault((t.stimulus.name, t.stimulus.target.category if t.stimulus.target else ""), t.stimulus)
        if trials.skipped:
            notes.append(f"{len(trials.skipped_keys)} (image, target) pair(s) have no detections and were skipped")
    else:
        displays = {}
        for h in humans:
            key = (h.stimulus, h.task or "")
            if key not in displays:
                box = h.meta.get("bbox")
                displays[key] = Stimulus(
                    h.stimulus, int(h.width), int(h.height), target=Target(h.task, None if box is None else tuple(box))
                )
    if args.images:
        imgs = CocoSearch18Images(args.images)
        for (name, task), st in displays.items():
            st.image = imgs.load(name, task, frame="display") if (st.width, st.height) == (
                DISPLAY_WIDTH, DISPLAY_HEIGHT) else None  # fmt: skip
            if st.image is None:
                raise ConfigError(
                    f"--images: {name} is in a {st.width}x{st.height} frame; images load in the display frame"
                )
    for n in notes:
        _note(n)
    every: list[Scanpath] = []
    for k, ((_, task_name), st) in enumerate(sorted(displays.items())):
        task = Task("search", st.target)
        sps = _repeat(model, st, task, args.samples, args.seed + k)
        for sp in sps:
            sp.stimulus, sp.task = st.name, task_name or sp.task
            sp.width, sp.height = float(st.width), float(st.height)
        _label(sps, args.model)
        every += sps
    dest = out / f"predictions.{args.format}"
    write_scanpaths(dest, every)
    _write_info(out, args, spec, source, notes, {})
    _progress(f"{len(displays)} (image, target) pair(s) x {args.samples} -> {len(every)} scanpath(s) -> {dest}")
    return 0


def _head_boxes(
    args: argparse.Namespace, paths: list[Path], images: list[np.ndarray]
) -> tuple[list[list[tuple[float, ...]]], str | None]:
    """The people of each image: the ``--head-box`` boxes (the same for every image), or the heads that
    :func:`gazekit.heads.detect_heads` finds in each; and the detector's name (None for given boxes)."""
    if args.head_box:
        boxes = [parse_floats(b, 4, "--head-box") for b in args.head_box]
        if args.heatmap_person is not None and args.heatmap_person >= len(boxes):
            raise ConfigError(f"--heatmap-person {args.heatmap_person}: there are {len(boxes)} --head-box people")
        return [boxes for _ in paths], None
    from gazekit.heads import HeadNotFoundError, detect_heads, face_detector_label

    label = face_detector_label()
    per_image = []
    for path, image in zip(paths, images, strict=True):
        try:
            found = detect_heads(image)
        except HeadNotFoundError:
            raise DataFormatError(
                f"no face found ({label}; faces of at least 20 px): give the person's --head-box x1,y1,x2,y2 (px)",
                path=path,
            ) from None
        if args.heatmap_person is not None and args.heatmap_person >= len(found):
            raise DataFormatError(
                f"--heatmap-person {args.heatmap_person}: {len(found)} head(s) found (numbered from 0, largest first)",
                path=path,
            )
        per_image.append(list(found))
    return per_image, label


def _run_gaze(
    model, name: str, paths, images, boxes_per_image, out: Path, selected: int | None, notes: list[str]
) -> int:  # noqa: ANN001
    from gazekit.imageio import write_image
    from gazekit.viz import draw_caption, draw_people

    for path, image, stem, boxes in zip(paths, images, _unique_stems(paths), boxes_per_image, strict=True):
        h, w = image.shape[:2]
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(
            ["image", "person", "head_x1", "head_y1", "head_x2", "head_y2", "gaze_x", "gaze_y", "inout", "category"]
        )
        maps = []
        for k, box in enumerate(boxes):
            x1, y1, x2, y2 = box
            if min(x1, x2) >= w or min(y1, y2) >= h or max(x1, x2) <= 0 or max(y1, y2) <= 0:
                raise DataFormatError(
                    f"--head-box {','.join(f'{v:g}' for v in box)} lies outside the image ({w}x{h} px)", path=path
                )
            gm = model.predict_gaze(image, box)
            maps.append(gm)
            wr.writerow(
                [
                    path.name,
                    k,
                    *(f"{v:.2f}" for v in gm.head_box),
                    f"{gm.point[0]:.2f}",
                    f"{gm.point[1]:.2f}",
                    f"{gm.inout:.4f}",
                    gm.category or "",
                ]
            )
        overlay = draw_people(image, maps, selected)
        caption = ["synthetic-data weights: not trained on real images"] if notes else []
        atomic_write_text(out / f"{stem}_gaze.csv", buf.getvalue())
        write_image(out / f"{stem}_overlay.png", draw_caption(overlay, caption))
        _progress(f"{path}: {len(boxes)} person(s) with {name} -> {out / (stem + '_gaze.csv')}")
    return 0
