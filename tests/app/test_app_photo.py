"""A user's photo in the viewer (AppTest): every registered model predicts on a real-photo-sized image with no
objects or shows the named message; OAT with an uploaded boxes file; several people, one colour each; which
weights each model uses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazekit.app import prediction
from gazekit.datasets.synthetic.gaze import render_face
from gazekit.models.registry import get_spec, list_models
from gazekit.models.vitgaze import ViTGaze
from gazekit.viz import person_color
from tests.app.conftest import jpeg, png, textured
from tests.app.test_app_flows import decode, download, errors, upload

#: what each registered model does on a 1280x960 photo with no objects: "predicts", or the message it shows
ON_A_PHOTO = {
    "random": "predicts",
    "center": "predicts",
    "greedy": "predicts",
    "oracle": "predicts",
    "oat": "has no objects; OAT predicts over object boxes",
    "vitgaze": "predicts",
    "center-gaze": "predicts",
    "head-cone": "predicts",
    # eccNET's search models look for a target *image*: with only a category they say what to give
    "eccnet": "searches for a target *image*",
    "ivsn": "searches for a target *image*",
    "chance": "searches for a target *image*",
    "pixelMatch": "searches for a target *image*",
}

PHOTO_W, PHOTO_H = 1280, 960


def photo() -> bytes:
    return jpeg(textured(PHOTO_H, PHOTO_W, seed=11))


def task_of(name: str) -> str:
    tasks = get_spec(name).tasks
    return "gaze" if "gaze" in tasks else ("search" if "search" in tasks else "freeview")


@pytest.mark.parametrize("name", [s.name for s in list_models()])
def test_every_model_on_a_photo_predicts_or_names_what_it_needs(app, name: str) -> None:  # noqa: ANN001
    upload(app, ("photo.jpg", photo()))
    task = task_of(name)
    app.radio(key="task").set_value(task).run()
    row = next(r for r in prediction.model_rows(task) if r.name == name)
    app.selectbox(key="model").set_value(name).run()
    if not row.available:  # registered, code not in this install: the page says so and offers no prediction
        assert any("not importable in this install" in w.value for w in app.warning)
        assert app.button(key="predict").disabled
        return
    if task == "search":
        app.text_input(key="category").set_value("cup").run()
    app.button(key="predict").click().run()
    assert not app.exception
    expected = ON_A_PHOTO.get(name, "predicts")
    if expected == "predicts":
        assert not errors(app), errors(app)
        download(app, "dl_gaze" if task == "gaze" else "dl_csv")
    else:
        assert any(expected in e for e in errors(app)), errors(app)
    if row.weights_kind == "synthetic-data":  # on a photo the page says these weights never saw a real image
        assert any("not on real images" in w.value for w in app.warning)
        assert any("Weights: synthetic-data" in c.value for c in app.caption)


def boxes_csv(image: str) -> tuple[bytes, list[tuple[float, float, float, float]]]:
    """A COCO-Search18 detections file (``cup.csv``) for ``image`` and its boxes in the photo's pixels.

    The 1280x960 photo is shown letterboxed on the 1680x1050 display: scale 1050/960, 140 px side bars.
    """
    s, pad = 1050 / PHOTO_H, (1680 - PHOTO_W * 1050 / PHOTO_H) / 2
    boxes = [(100, 120, 300, 360), (500, 200, 700, 380), (900, 600, 1150, 820), (300, 650, 520, 900)]
    dets = [
        ["cup" if i == 1 else "bowl", 90 - i, x2 * s + pad, x1 * s + pad, y2 * s, y1 * s]
        for i, (x1, y1, x2, y2) in enumerate(boxes)
    ]
    return f'{image},"{dets!r}"\n'.encode(), [tuple(map(float, b)) for b in boxes]


def test_oat_on_a_photo_with_an_uploaded_boxes_file(app, media) -> None:  # noqa: ANN001
    if not any(r.name == "oat" and r.available and not r.needs_weights for r in prediction.model_rows("search")):
        pytest.skip("OAT or its weights are not in this install")
    upload(app, ("photo.jpg", photo()))
    app.selectbox(key="model").set_value("oat").run()
    app.text_input(key="category").set_value("cup").run()
    # OAT's crop appearance needs the target's look: a box on the cup (the second box) gives it
    app.radio(key="target_mode").set_value("box").run()
    for k, v in zip(("box_x", "box_y", "box_w", "box_h"), (500.0, 200.0, 200.0, 180.0), strict=True):
        app.number_input(key=k).set_value(v).run()
    data, boxes = boxes_csv("photo.jpg")
    app.file_uploader(key="objects_file").set_value(("cup.csv", data, "text/csv")).run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    assert any("objects: 4 boxes from cup.csv" in i.value for i in app.info)
    from gazekit.io import parse_scanpaths

    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) >= 1
    # OAT fixates objects: every fixation after the start is the centre of one of the boxes, mapped back
    centres = np.array([((x1 + x2) / 2, (y1 + y2) / 2) for x1, y1, x2, y2 in boxes])
    for x, y in zip(sp.x[1:], sp.y[1:], strict=True):
        assert np.min(np.hypot(centres[:, 0] - x, centres[:, 1] - y)) < 2.0


def test_a_boxes_file_for_another_image_is_named(app) -> None:  # noqa: ANN001
    upload(app, ("photo.jpg", photo()))
    data, _ = boxes_csv("elsewhere.jpg")
    app.file_uploader(key="objects_file").set_value(("cup.csv", data, "text/csv")).run()
    app.text_input(key="category").set_value("cup").run()
    app.button(key="predict").click().run()
    assert not app.exception
    assert any(
        "Objects:" in e and "cup.csv" in e and "no detections for image 'photo.jpg'" in e and "elsewhere.jpg" in e
        for e in errors(app)
    )


def two_people() -> np.ndarray:
    img = np.full((480, 960, 3), 170, np.uint8)
    render_face(img, (240, 220), 60, (0.0, 0.0, 1.0))
    render_face(img, (720, 220), 60, (0.0, 0.0, 1.0))
    return img


def test_several_people_one_colour_each_and_one_heatmap(app, media) -> None:  # noqa: ANN001
    upload(app, ("people.png", png(two_people())))
    app.radio(key="task").set_value("gaze").run()
    app.selectbox(key="model").set_value("head-cone").run()
    app.radio(key="head_mode").set_value("detect").run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    table = next(t.value for t in app.table if "person" in t.value.columns)
    assert list(table["person"]) == ["#0", "#1"]
    assert list(table["colour"]) == ["#{:02x}{:02x}{:02x}".format(*person_color(k)) for k in range(2)]
    first = decode(media(app.image[0].value[0]))
    app.selectbox(key="gaze_person").set_value(1).run()
    second = decode(media(app.image[0].value[0]))
    assert not np.array_equal(first, second)  # the heatmap moved to the other person
    # each person's gaze point carries their colour in the overlay
    for k, pt in enumerate(table["gaze point"]):
        x, y = (int(float(v)) for v in pt.split(","))
        patch = second[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3].reshape(-1, 3)
        assert (np.abs(patch.astype(int) - person_color(k)).sum(1) < 40).any()


def test_model_rows_say_which_weights(monkeypatch, tmp_path) -> None:
    rows = {r.name: r for r in prediction.model_rows()}
    if rows["vitgaze"].bundled:
        assert rows["vitgaze"].weights_kind == "synthetic-data" and "synthetic-data" in rows["vitgaze"].label
    m = ViTGaze(embed_dim=32, depth=2, num_heads=2, pos_embed_grid=4, input_size=56, attn_layers=[0, 1])
    m.save_checkpoint(tmp_path / "vitgaze_gazefollow.safetensors", weights_source="paper")
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    rows = {r.name: r for r in prediction.model_rows()}
    assert rows["vitgaze"].label == "vitgaze (paper weights)" and not rows["vitgaze"].needs_weights
    assert str(tmp_path / "vitgaze_gazefollow.safetensors") in rows["vitgaze"].weights
    loaded = prediction.load_model("vitgaze")
    assert prediction.weights_note(loaded) == ("Weights: the paper's released checkpoint.", None)
    assert rows["random"].weights == "" and rows["random"].label == "random"


def test_human_json_without_a_frame_asks_for_one(app) -> None:  # noqa: ANN001
    """A COCO-Search18-style JSON without width/height: the viewer asks which frame, never assumes one."""
    upload(app, ("photo.jpg", photo()))
    app.radio(key="task").set_value("freeview").run()
    app.selectbox(key="model").set_value("center").run()
    app.button(key="predict").click().run()
    rec = [{"name": "photo.jpg", "subject": s, "task": "", "X": [840.0, 900.0], "Y": [525.0, 600.0], "T": [200, 250]}
           for s in (1, 2)]  # fmt: skip
    app.file_uploader(key="humans").set_value(("h.json", json.dumps(rec).encode(), "application/json")).run()
    assert not app.exception
    assert any("does not guess" in w.value for w in app.warning)
    assert not any("human scanpath(s)" in c.value for c in app.caption)  # nothing drawn until the user says
    app.selectbox(key="human_frame").set_value("display").run()
    assert not errors(app) and any("2 human scanpath(s)" in c.value for c in app.caption)
    assert any("mapped into the image" in i.value for i in app.info)
