"""The gazekit viewer page (Streamlit). Start it with ``gazekit app`` or ``streamlit run app/streamlit_app.py``.

A thin page: every decision lives in the package's modules by concern (:mod:`~gazekit.app.inputs`,
:mod:`~gazekit.app.prediction`, :mod:`~gazekit.app.overlays`, :mod:`~gazekit.app.humans`,
:mod:`~gazekit.app.downloads`).
This file only lays out widgets, caches (models per ``(name, weights, device)``, results per image hash) and
turns errors into messages, so one bad input never breaks the rest of the page.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import streamlit as st

from gazekit.app.downloads import gaze_json, png_bytes, predictions_csv, predictions_json
from gazekit.app.humans import default_metrics, match_humans, metric_names, parse_humans, score
from gazekit.app.inputs import (
    ImageInput,
    TaskSpec,
    gallery_humans,
    gallery_images,
    gallery_world,
    image_from_upload,
    validate_box,
    with_objects,
)
from gazekit.app.limits import IMAGE_TYPES, MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES
from gazekit.app.overlays import render_gaze_overlay, render_overlay, render_samples
from gazekit.app.prediction import (
    ModelRow,
    detect_heads,
    devices,
    load_model,
    model_rows,
    predict_gaze_maps,
    predict_scanpaths,
    validate_head_box,
    weights_hint,
    weights_note,
)
from gazekit.errors import GazekitError
from gazekit.io import frame_written
from gazekit.viz import person_color

TASKS = {"search": "Visual search", "freeview": "Free viewing", "caption": "Caption", "gaze": "Gaze following"}
TARGET_MODES = {"category": "Category", "box": "Box (typed)", "crop": "Target image"}
HEAD_MODES = {"typed": "Typed head box", "detect": "Detect heads"}
#: the model preselected per task (first available wins)
DEFAULT_MODELS = {
    "search": ("greedy", "center"),
    "freeview": ("center", "random"),
    "caption": ("nevaclip", "random"),
    "gaze": ("head-cone", "center-gaze"),
}


# --------------------------------------------------------------------------------------------- caches
@st.cache_resource(show_spinner=False, max_entries=8)
def cached_model(name: str, weights: str | None, device: str) -> Any:
    """One model instance per (name, weights, device), shared by all sessions; used read-only."""
    return load_model(name, weights, device)


@st.cache_resource(show_spinner=False)
def cached_model_rows(task: str) -> list[ModelRow]:
    """Registry rows serving ``task`` ("" = all); availability imports each model's module once."""
    return model_rows(task or None)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_image(digest: str, name: str, _data: bytes) -> ImageInput:
    """Decoded uploads, shared and never modified (decoding a big JPEG on every rerun is wasted time)."""
    img = image_from_upload(_data, name)
    img.image.setflags(write=False)
    img.work.setflags(write=False)
    return img


@st.cache_resource(show_spinner=False)
def cached_gallery() -> tuple[Any, list[ImageInput]]:
    world = gallery_world()
    return world, gallery_images(world)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_scanpaths(
    digest: str,
    model: str,
    weights: str | None,
    device: str,
    spec_key: str,
    n: int,
    sample: bool,
    seed: int,
    _img: ImageInput,
    _spec: TaskSpec,
    _crop: np.ndarray | None,
) -> list:
    """Predicted scanpaths per image hash and settings."""
    return predict_scanpaths(
        cached_model(model, weights, device), _img, _spec, n=n, sample=sample, seed=seed, crop_image=_crop
    )


@st.cache_data(show_spinner=False, max_entries=256)
def cached_gaze(digest: str, model: str, weights: str | None, device: str, boxes: tuple, _img: ImageInput) -> list:
    return predict_gaze_maps(cached_model(model, weights, device), _img, list(boxes))


@st.cache_data(show_spinner=False, max_entries=64)
def cached_heads(digest: str, _img: ImageInput) -> list:
    return detect_heads(_img)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_objects(digest: str, boxes: tuple | None, find: bool, category: str | None, _img: ImageInput) -> tuple:
    """Objects per image, boxes file and category (a detector run takes seconds)."""
    return with_objects(_img, boxes, find=find, category=category)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_humans(digest: str, name: str, _data: bytes) -> list:
    return parse_humans(_data, name)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Show an error for this part of the page and carry on with the rest."""
    try:
        yield
    except GazekitError as e:
        st.error(f"{what}: {e}")
    except Exception as e:  # noqa: BLE001 - the page must survive a failing model or plot
        st.error(f"{what} failed unexpectedly: {type(e).__name__}: {e}")
        with st.expander("details"):
            st.exception(e)


# --------------------------------------------------------------------------------------------- inputs
def image_inputs() -> list[ImageInput]:
    """The images to work on: valid uploads, or the chosen gallery stimulus. Bad files are reported."""
    source = st.session_state.get("source", "Upload")
    if source == "Gallery":
        try:
            _, imgs = cached_gallery()
        except Exception as e:  # noqa: BLE001
            st.error(f"The gallery could not be built: {e}")
            return []
        names = [im.name for im in imgs]
        i = st.selectbox("Gallery stimulus", range(len(imgs)), format_func=lambda k: names[k], key="gallery_choice")
        return [imgs[i or 0]]
    files = st.file_uploader(
        f"Images ({', '.join(t.upper() for t in IMAGE_TYPES if t != 'jpeg')}; "
        f"up to {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels each)",
        accept_multiple_files=True,
        key="uploads",
    )
    out = []
    for f in files or []:
        data = f.getvalue()
        try:
            out.append(cached_image(_sha(data), f.name, data))
        except GazekitError as e:
            st.error(f"Cannot use this file: {e}")
    return out


def choose_image(images: list[ImageInput]) -> ImageInput:
    if len(images) == 1:
        return images[0]
    i = st.selectbox(
        "Image shown", range(len(images)), format_func=lambda k: f"{k + 1}. {images[k].name}", key="image_choice"
    )
    return images[min(i or 0, len(images) - 1)]


def model_picker(task: str) -> tuple[str | None, str | None, str]:
    """Sidebar model choice; returns (name or None when unusable, weights, device)."""
    rows = cached_model_rows(task)
    if not rows:
        st.warning("No registered model serves this task.")
        return None, None, "cpu"
    by_name = {r.name: r for r in rows}
    names = list(by_name)
    default = next((n for n in DEFAULT_MODELS.get(task, ()) if n in by_name and by_name[n].available), names[0])
    name = st.selectbox("Model", names, index=names.index(default), format_func=lambda n: by_name[n].label, key="model")
    row = by_name[name]
    st.caption(row.description)
    weights = None
    if row.trainable:
        weights = st.text_input("Weights (checkpoint path; empty = default search)", key="weights") or None
    devs = devices()
    device = st.selectbox("Device", devs, key="device") if len(devs) > 1 else devs[0]
    if not row.available:
        st.warning(f"Not available. {row.how_to_get}")
        return None, weights, device
    try:
        with st.spinner(f"Loading {name}…"):
            cached_model(name, weights, device)
    except GazekitError as e:
        st.warning(f"`{name}` cannot predict yet. {weights_hint(e)}\n\n{row.how_to_get}")
        return None, weights, device
    except Exception as e:  # noqa: BLE001
        st.error(f"`{name}` failed to load: {type(e).__name__}: {e}")
        return None, weights, device
    caption, warn = weights_note(cached_model(name, weights, device))
    st.caption(caption)
    if warn is not None and st.session_state.get("source", "Upload") == "Upload":
        st.warning(warn)
    return name, weights, device


def _per_image_defaults(img: ImageInput | None, defaults: dict[str, float]) -> None:
    """Reset typed coordinates to defaults for a newly shown image (they are pixels of one image)."""
    tag = "_coords_for_" + next(iter(defaults))
    digest = img.digest if img is not None else None
    fresh = st.session_state.get(tag) != digest
    for k, v in defaults.items():
        if fresh or k not in st.session_state:
            st.session_state[k] = float(round(v))
    st.session_state[tag] = digest


def search_target(img: ImageInput | None) -> tuple[TaskSpec, np.ndarray | None]:
    """Sidebar target inputs for visual search."""
    mode = st.radio(
        "Target given by", list(TARGET_MODES), format_func=TARGET_MODES.get, key="target_mode", horizontal=True
    )
    if img is not None and img.target is not None and st.session_state.get("_category_for") != img.digest:
        # a gallery stimulus brings its own target: show its category (the user may still edit it)
        st.session_state["_category_for"] = img.digest
        st.session_state["category"] = img.target.category or ""
    category = st.text_input("Target category", key="category").strip() or None
    box, crop_img, crop_digest = None, None, None
    if mode == "box":
        w, h = (img.width, img.height) if img is not None else (640, 480)
        _per_image_defaults(img, {"box_x": w // 3, "box_y": h // 3, "box_w": max(1, w // 6), "box_h": max(1, h // 6)})
        c1, c2 = st.columns(2)
        bx = c1.number_input("x", step=1.0, key="box_x")
        by = c2.number_input("y", step=1.0, key="box_y")
        bw = c1.number_input("width", min_value=0.0, step=1.0, key="box_w")
        bh = c2.number_input("height", min_value=0.0, step=1.0, key="box_h")
        st.caption("Box in pixels of the full-resolution image shown, top-left corner and size.")
        box = (bx, by, bw, bh)
        if img is not None:
            try:
                box = validate_box(box, img)
            except GazekitError as e:
                st.error(str(e))
                box = None
    elif mode == "crop":
        f = st.file_uploader("Target image (a crop of what to find)", key="target_crop")
        if f is not None:
            data = f.getvalue()
            try:
                crop_img = cached_image(_sha(data), f.name, data).work
                crop_digest = _sha(data)
                st.image(crop_img, caption="target", width=96)
            except GazekitError as e:
                st.error(f"Cannot use the target image: {e}")
    return TaskSpec("search", category, box, crop_digest), crop_img


def objects_upload() -> tuple[tuple[bytes, str] | None, bool]:
    """Sidebar: where the objects of an uploaded photo come from (object-level models such as OAT predict
    over them): a boxes file, else (when asked) a detector with published weights or the OpenCV proposer."""
    f = st.file_uploader(
        "Objects on the image (boxes file: COCO-Search18 detections CSV, COCO JSON or gazekit boxes)",
        type=["csv", "txt", "json"],
        key="objects_file",
        help=_BOXES_HELP,
    )
    find = False
    if f is None:
        find = st.checkbox(
            "No boxes file: find objects (a detector if its weights are here, else the OpenCV proposer)",
            key="find_objects",
        )
    return (None if f is None else (f.getvalue(), f.name)), find


_BOXES_HELP = (
    "COCO-Search18 detections (`<task>.csv`: image name, then [class, confidence %, x_max, x_min, y_max, y_min] "
    "in 1680x1050 display pixels, mapped into the image as the display showed it), a COCO-style JSON (bbox "
    "[x, y, w, h] in image pixels) or gazekit's boxes JSON. The overlay and the caption say where objects came from."
)


def objects_on(
    images: list[ImageInput], shown: ImageInput, boxes: tuple[bytes, str] | None, find: bool, category: str | None
) -> list[ImageInput]:
    """The images with their objects; where they came from (and what went wrong) is said for the shown one."""
    if boxes is None and not find:
        return images
    out = []
    for im in images:
        try:
            with st.spinner("Finding objects…"):
                im, objset = cached_objects(im.digest, boxes, find, category, im)
            if im.digest == shown.digest:
                st.info(" ".join([objset.label, *objset.notes]))
        except GazekitError as e:
            if im.digest == shown.digest:
                st.error(f"Objects: {e}")
        out.append(im)
    return out


def head_boxes(img: ImageInput | None) -> tuple[tuple[float, float, float, float], ...]:
    """Sidebar head-box inputs for gaze following (typed or detected)."""
    mode = st.radio("Head", list(HEAD_MODES), format_func=HEAD_MODES.get, key="head_mode", horizontal=True)
    if img is None:
        return ()
    if mode == "detect":
        try:
            boxes = cached_heads(img.digest, img)
        except GazekitError as e:
            st.error(f"Head detection: {e}")
            return ()
        st.caption(f"{len(boxes)} head(s) detected")
        return tuple(tuple(float(v) for v in b) for b in boxes)
    c1, c2 = st.columns(2)
    w, h = img.width, img.height
    _per_image_defaults(img, {"head_x1": 0.45 * w, "head_y1": 0.2 * h, "head_x2": 0.55 * w, "head_y2": 0.35 * h})
    x1 = c1.number_input("x1", step=1.0, key="head_x1")
    y1 = c2.number_input("y1", step=1.0, key="head_y1")
    x2 = c1.number_input("x2", step=1.0, key="head_x2")
    y2 = c2.number_input("y2", step=1.0, key="head_y2")
    try:
        return (validate_head_box((x1, y1, x2, y2), img),)
    except GazekitError as e:
        st.error(str(e))
        return ()


# --------------------------------------------------------------------------------------------- outputs
def predict_all(
    images: list[ImageInput], model: tuple[str, str | None, str], spec: TaskSpec, crop: np.ndarray | None
) -> dict[str, list]:
    """Scanpaths for every image (cached per image hash), with a progress bar; failures reported per image."""
    name, weights, device = model
    n = int(st.session_state.get("n_samples", 1))
    sample = bool(st.session_state.get("sample", False))
    seed = int(st.session_state.get("seed", 0))
    out: dict[str, list] = {}
    bar = st.progress(0.0, text="Predicting…") if len(images) > 1 else None
    with st.spinner(f"Predicting with {name}…"):
        for i, img in enumerate(images):
            try:
                # the objects (a boxes file) are part of the input: they key the cache with the image
                key = f"{spec!r}|{_sha(repr(img.objects).encode())}"
                out[img.digest] = cached_scanpaths(
                    img.digest, name, weights, device, key, n, sample, seed, img, spec, crop
                )
            except GazekitError as e:
                st.error(f"{img.name}: {e}")
            except Exception as e:  # noqa: BLE001
                st.error(f"{img.name}: prediction failed: {type(e).__name__}: {e}")
            if bar is not None:
                bar.progress((i + 1) / len(images), text=f"Predicted {i + 1} of {len(images)} images")
    if bar is not None:
        bar.empty()
    return out


def human_scanpaths(img: ImageInput, task_label: str | None) -> list:
    """Human scanpaths for ``img``: the gallery's recordings or an upload (errors shown)."""
    humans: list = []
    gallery = st.session_state.get("source") == "Gallery"
    if gallery and st.checkbox("Use the gallery's recorded scanpaths", value=True, key="gallery_humans"):
        world, _ = cached_gallery()
        humans = gallery_humans(world, img.name)
    f = st.file_uploader(
        "Human scanpaths for this image (gazekit CSV or COCO-Search18 JSON)", key="humans", help=_CSV_HELP
    )
    if f is not None:
        data = f.getvalue()
        try:
            humans = cached_humans(_sha(data), f.name, data)
        except GazekitError as e:
            st.error(f"Cannot read the human scanpaths: {e}")
            return []
    if not humans:
        return []
    frame = None
    if f is not None and not f.name.lower().endswith(".json"):
        frame = (float(img.width), float(img.height))  # gazekit CSV: x, y are the named image's pixels by format
    elif any(not frame_written(h) for h in humans):
        # a JSON without width/height does not say which pixels its fixations are in: the user says, never gazekit
        frames = {
            "": "choose the frame they were recorded on…",
            "image": f"this image's pixels ({img.width}x{img.height})",
            "display": "the COCO-Search18 display (1680x1050, image letterboxed)",
        }
        choice = st.selectbox(
            "These scanpaths carry no width/height: recorded on",
            list(frames),
            format_func=frames.get,
            key="human_frame",
        )
        if not choice:
            st.warning("Choose the frame the human scanpaths were recorded on: gazekit does not guess it.")
            return []
        frame = (float(img.width), float(img.height)) if choice == "image" else (1680.0, 1050.0)
    try:
        match = match_humans(humans, img, task_label, frame=frame)
    except GazekitError as e:
        st.error(str(e))
        return []
    for note in match.notes:
        st.info(note)
    st.caption(f"{len(match.scanpaths)} human scanpath(s) from {match.subjects} subject(s), drawn in other colours")
    return match.scanpaths


_CSV_HELP = (
    "gazekit CSV columns: stimulus,subject,task,condition,fixation,x,y,duration_ms (stimulus = the image's "
    "file name; x, y in its pixels). COCO-Search18 JSON: a list of records with name, subject, task, X, Y, T."
)


def scanpath_results(img: ImageInput, preds: list, spec: TaskSpec, crop: np.ndarray | None) -> None:
    """Overlay, stepping, samples, humans, scores and downloads for one image's predicted scanpaths.

    Left column: the prediction (overlay, fixation slider, play, samples). Right column: human data, the
    score table and the downloads.
    """
    if not preds:
        return
    target = spec.target(img, crop) if spec.kind == "search" else None
    left, right = st.columns([3, 2], gap="large")
    with right:
        st.subheader("Compare with humans")
        humans = human_scanpaths(img, spec.label)
    with left:
        st.subheader("Prediction")
        shown = 0
        if len(preds) > 1:
            shown = st.selectbox(
                "Scanpath shown", range(len(preds)), format_func=lambda k: f"sample {k + 1}", key="shown"
            )
        sp = preds[min(shown or 0, len(preds) - 1)]
        longest = max([len(sp)] + [len(h) for h in humans])
        upto = longest
        if longest > 1:
            upto = st.slider("Fixations shown", 1, longest, longest, key="upto")
        heat = preds if st.session_state.get("heatmap") else ()
        placeholder = st.empty()
        overlay = None
        with guard("Overlay"):
            overlay = render_overlay(img, sp, humans=humans, target=target, upto=upto, heatmap_of=heat)
            placeholder.image(overlay, caption=_caption(img, sp, upto, humans), width="stretch", output_format="PNG")
            if longest > 1 and st.button("▶ Play fixations", key="play"):
                for k in range(1, longest + 1):
                    frame = render_overlay(img, sp, humans=humans, target=target, upto=k, heatmap_of=heat)
                    placeholder.image(frame, caption=_caption(img, sp, k, humans), width="stretch", output_format="PNG")
                    time.sleep(0.35)
        if len(preds) > 1:
            with guard("Samples"):
                st.image(
                    render_samples(img, preds, target),
                    caption="sampled scanpaths side by side",
                    output_format="PNG",
                )
        with st.expander("Fixations (image pixels, ms)"):
            st.dataframe(
                {
                    "fixation": list(range(1, len(sp) + 1)),
                    "x": sp.x.round(1),
                    "y": sp.y.round(1),
                    "duration_ms": sp.duration,
                }
            )

    with right:
        if humans:
            names = metric_names()
            metrics = st.multiselect("Metrics", names, default=default_metrics(names), key="metrics")
            with guard("Scoring"), st.spinner("Scoring…"):
                rows = [r.as_dict() for r in score(preds, humans, metrics)]
                if not any(r["note"] for r in rows):
                    rows = [{k: v for k, v in r.items() if k != "note"} for r in rows]
                st.table(rows)
                if len({h.subject for h in humans}) < 2:
                    st.caption("The human-consistency ceiling needs scanpaths from at least two subjects.")
        st.subheader("Download")
        stem = img.name.rsplit(".", 1)[0]
        with guard("Downloads"):
            st.download_button(
                "Predictions (CSV)", predictions_csv(preds), f"{stem}_scanpaths.csv", "text/csv", key="dl_csv"
            )
            st.download_button(
                "Predictions (JSON)",
                predictions_json(preds),
                f"{stem}_scanpaths.json",
                "application/json",
                key="dl_json",
            )
            if overlay is not None:
                st.download_button(
                    "Overlay (PNG)", png_bytes(overlay), f"{stem}_overlay.png", "image/png", key="dl_png"
                )


def _status(r: ModelRow) -> str:
    if not r.available:
        return "not installed"
    if r.needs_weights:
        return "needs weights"
    return f"ready ({r.weights_kind} weights)" if r.trainable and r.weights_kind else "ready"


def _caption(img: ImageInput, sp: Any, upto: int, humans: list) -> str:
    scale = f", shown at {img.work.shape[1]}x{img.work.shape[0]}" if img.downscaled else ""
    who = f"; {len(humans)} human scanpath(s) in other colours" if humans else ""
    return (
        f"{img.name} ({img.width}x{img.height}{scale}): {min(upto, len(sp))} of {len(sp)} predicted fixations "
        f"(numbered, size = duration){who}"
    )


def all_downloads(images: list[ImageInput], results: dict[str, list]) -> None:
    preds = [sp for im in images for sp in results.get(im.digest, [])]
    if len(images) > 1 and preds:
        st.download_button(
            f"Predictions for all {len(images)} images (CSV)",
            predictions_csv(preds),
            "gazekit_scanpaths.csv",
            "text/csv",
            key="dl_all_csv",
        )


def gaze_results(img: ImageInput, model: tuple[str, str | None, str], boxes: tuple) -> None:
    name, weights, device = model
    if not boxes:
        st.info("Give a head box (or detect heads) to predict where the person looks.")
        return
    with guard("Gaze prediction"), st.spinner(f"Predicting with {name}…"):
        maps = cached_gaze(img.digest, name, weights, device, boxes, img)
        selected = 0
        if len(maps) > 1:
            # one heatmap at a time: several full-image heatmaps on top of each other hide the photo
            selected = st.selectbox(
                "Heatmap of", range(len(maps)), format_func=lambda k: f"person #{k}", key="gaze_person"
            )
        overlay = render_gaze_overlay(img, maps, selected)
        st.image(
            overlay,
            caption=f"{img.name}: gaze of {len(maps)} person(s), each in their colour; heatmap of #{selected}",
            width="content",
            output_format="PNG",
        )
        st.table(
            [
                {
                    "person": f"#{k}",
                    "colour": "#{:02x}{:02x}{:02x}".format(*person_color(k)),
                    "head box": ", ".join(f"{v:.0f}" for v in m.head_box),
                    "gaze point": f"{m.point[0]:.0f}, {m.point[1]:.0f}",
                    "in frame": f"{m.inout:.2f}",
                    **({"looked-at object": m.category} if m.category is not None else {}),
                }
                for k, m in enumerate(maps)
            ]
        )
        stem = img.name.rsplit(".", 1)[0]
        c1, c2 = st.columns(2)
        c1.download_button("Gaze (JSON)", gaze_json(img, maps), f"{stem}_gaze.json", "application/json", key="dl_gaze")
        c2.download_button("Overlay (PNG)", png_bytes(overlay), f"{stem}_gaze.png", "image/png", key="dl_png")


# --------------------------------------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title="gazekit viewer", layout="wide")
    st.title("gazekit viewer")
    st.caption("Predict where people look, overlay the fixations, compare with human scanpaths and score.")

    with st.sidebar:
        st.header("Setup")
        st.radio("Images from", ["Upload", "Gallery"], key="source", horizontal=True)
        task = st.radio("Task", list(TASKS), format_func=TASKS.get, key="task")

    images = image_inputs()
    img = choose_image(images) if images else None

    with st.sidebar:
        model = model_picker(task)
        st.header("Target" if task == "search" else ("Head" if task == "gaze" else "Options"))
        spec, crop = TaskSpec(task), None
        boxes: tuple = ()
        objects_file: tuple[bytes, str] | None = None
        find_objects = False
        if task == "search":
            spec, crop = search_target(img)
            objects_file, find_objects = objects_upload()
        elif task == "gaze":
            boxes = head_boxes(img)
        elif task == "caption":
            text = st.text_input("Caption", key="caption_text", help="what the viewer is asked to look for")
            spec = TaskSpec("caption", caption=text)
        if task != "gaze":
            st.slider("Scanpaths to predict (sampled when > 1)", 1, 8, 1, key="n_samples")
            st.checkbox("Sample (stochastic) even for one", key="sample")
            st.number_input("Seed", value=0, step=1, key="seed")
            st.checkbox("Fixation heatmap", key="heatmap")
        with st.expander("All registered models"):
            st.table(
                [
                    {
                        "model": r.name,
                        "kind": r.kind,
                        "tasks": ", ".join(r.tasks),
                        "status": _status(r),
                        "weights": r.weights or "none needed",
                    }
                    for r in cached_model_rows("")
                ]
            )

    if img is None:
        st.info("Upload one or more images, or pick a stimulus from the gallery.")
        return
    if img.downscaled:
        st.info(
            f"{img.name} is {img.width}x{img.height}; the model sees it downscaled to "
            f"{img.work.shape[1]}x{img.work.shape[0]} and the fixations are mapped back to full resolution."
        )
    name, weights, device = model
    ready = name is not None
    clicked = st.button(
        f"Predict ({len(images)} image{'s' if len(images) > 1 else ''})",
        type="primary",
        disabled=not ready,
        key="predict",
    )
    if clicked:
        st.session_state["predict_on"] = True
    if not (ready and st.session_state.get("predict_on")):
        st.image(img.work, caption=f"{img.name} ({img.width}x{img.height})", width="content", output_format="PNG")
        return
    assert name is not None
    if task == "gaze":
        gaze_results(img, (name, weights, device), boxes)
        return
    if spec.kind == "search" and not (spec.category or spec.box or spec.crop_digest or img.target):
        st.error("Visual search needs a target: type a category, a box, or upload a target image.")
        st.image(img.work, caption=img.name, width="content", output_format="PNG")
        return
    if spec.kind == "caption" and not (spec.caption or "").strip():
        st.error("A caption task needs a caption: type one in 'Caption'.")
        st.image(img.work, caption=img.name, width="content", output_format="PNG")
        return
    targets = images
    if spec.box is not None and len(images) > 1:
        # a typed box is in the pixels of the image shown; it means nothing on the others
        st.caption(f"A typed target box belongs to {img.name}: predicting for this image only.")
        targets = [img]
    if task == "search":
        targets = objects_on(targets, img, objects_file, find_objects, spec.category)
        img = next((t for t in targets if t.digest == img.digest), img)
    results = predict_all(targets, (name, weights, device), spec, crop)
    scanpath_results(img, results.get(img.digest, []), spec, crop)
    all_downloads(targets, results)


if __name__ == "__main__":
    main()
