"""The viewer driven through AppTest: upload -> predict -> overlay -> humans -> score -> download, and bad input.

Only baselines (random / center / greedy / gaze baselines) are used, so nothing needs trained weights.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from gazekit.app import inputs, limits, prediction
from gazekit.io import parse_scanpaths
from tests.app.conftest import humans_csv, jpeg, png, textured


def errors(at) -> list[str]:  # noqa: ANN001
    return [e.value for e in at.error]


def download(at, key: str):  # noqa: ANN001, ANN201
    for d in at.get("download_button"):
        if d.proto.id.endswith(f"-{key}"):
            return d
    raise AssertionError(f"no download button {key!r}; have {[d.label for d in at.get('download_button')]}")


def score_table(at):  # noqa: ANN001, ANN201
    for t in at.table:
        df = t.value
        if "metric" in df.columns:
            return df
    return None


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def upload(at, *files: tuple[str, bytes]):  # noqa: ANN001, ANN201
    at.file_uploader(key="uploads").set_value([(n, b, "application/octet-stream") for n, b in files]).run()
    return at


def test_first_page_lists_models_and_asks_for_images(app) -> None:  # noqa: ANN001
    assert not errors(app)
    assert any("Upload one or more images" in i.value for i in app.info)
    labels = app.selectbox(key="model").options
    assert any(label.startswith("greedy") for label in labels)  # search is the default task
    models = next(t.value for t in app.table if "status" in t.value.columns)
    assert {"random", "center", "greedy"} <= set(models["model"])


def test_upload_predict_overlay_humans_score_download(app, media) -> None:  # noqa: ANN001
    image = textured(300, 400)
    upload(app, ("street.png", png(image)))
    app.radio(key="task").set_value("freeview").run()
    app.selectbox(key="model").set_value("center").run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception

    # overlay: the work image (no downscale here) with the prediction drawn on it
    overlay = decode(media(app.image[0].value[0]))
    assert overlay.shape == image.shape
    assert np.abs(overlay.astype(int) - image).sum() > 1000

    # step through: fewer fixations shown -> the overlay changes
    n = app.slider(key="upto").max
    assert n >= 2
    app.slider(key="upto").set_value(1).run()
    first = decode(media(app.image[0].value[0]))
    assert not np.array_equal(first, overlay)

    # humans (three subjects) -> overlay in other colours, score with the human ceiling
    app.file_uploader(key="humans").set_value(("humans.csv", humans_csv("street.png", 400, 300), "text/csv")).run()
    assert not errors(app)
    assert any("3 subject(s)" in c.value for c in app.caption)
    app.multiselect(key="metrics").set_value(["scanmatch", "ss", "dtw"]).run()
    table = score_table(app)
    assert table is not None
    assert list(table["metric"]) == ["scanmatch", "ss", "dtw"]
    assert all("n=" in v for v in table["human consistency"])  # ceiling present with several subjects
    assert all("n=1" in v for v in table["model vs humans"])

    # downloads: CSV and JSON round-trip to the prediction; the PNG is the overlay shown
    csv = media(download(app, "dl_csv").proto.url)
    sps = parse_scanpaths(csv, "pred.csv")
    assert len(sps) == 1 and sps[0].stimulus == "street.png" and len(sps[0]) == n
    assert np.all((sps[0].x >= 0) & (sps[0].x <= 400) & (sps[0].y >= 0) & (sps[0].y <= 300))
    recs = json.loads(media(download(app, "dl_json").proto.url))
    assert recs[0]["name"] == "street.png" and len(recs[0]["X"]) == n
    shown = decode(media(app.image[0].value[0]))
    assert np.array_equal(decode(media(download(app, "dl_png").proto.url)), shown)


def test_heatmap_and_sampled_scanpaths_side_by_side(app, media) -> None:  # noqa: ANN001
    upload(app, ("a.png", png(textured(240, 320, seed=3))))
    app.radio(key="task").set_value("freeview").run()
    app.selectbox(key="model").set_value("random").run()
    app.slider(key="n_samples").set_value(3).run()
    app.checkbox(key="heatmap").check().run()
    app.button(key="predict").click().run()
    assert not errors(app)
    assert app.selectbox(key="shown").options == ["sample 1", "sample 2", "sample 3"]
    assert len(app.image) == 2  # overlay + side-by-side panels
    panels = decode(media(app.image[1].value[0]))
    assert panels.shape[1] > 3 * 320  # three panels in a row
    sps = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")
    assert [s.subject for s in sps] == ["model#0", "model#1", "model#2"]
    assert len({tuple(s.x) for s in sps}) == 3  # different samples


@pytest.mark.parametrize("mode", ["category", "box", "crop"])
def test_visual_search_targets(app, media, mode: str) -> None:  # noqa: ANN001
    image = textured(300, 400, seed=5)
    upload(app, ("shelf.png", png(image)))
    app.selectbox(key="model").set_value("greedy").run()
    app.radio(key="target_mode").set_value(mode).run()
    if mode == "category":
        app.text_input(key="category").set_value("cup").run()
    elif mode == "box":
        for k, v in {"box_x": 240, "box_y": 50, "box_w": 60, "box_h": 50}.items():
            app.number_input(key=k).set_value(v).run()
    else:
        crop = image[50:100, 240:300]
        app.file_uploader(key="target_crop").set_value(("cup.png", png(np.ascontiguousarray(crop)), "image/png")).run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) >= 2
    if mode in ("box", "crop"):  # the target's own pixels (on greedy's half-window grid) match: it stops there
        assert abs(sp.x[-1] - 270) < 1 and abs(sp.y[-1] - 75) < 1


def test_search_without_target_and_bad_box_are_reported(app) -> None:  # noqa: ANN001
    upload(app, ("shelf.png", png(textured(200, 200))))
    app.selectbox(key="model").set_value("greedy").run()
    app.button(key="predict").click().run()
    assert any("needs a target" in e for e in errors(app))
    app.radio(key="target_mode").set_value("box").run()
    app.number_input(key="box_x").set_value(5000).run()
    assert any("outside" in e for e in errors(app))
    assert not app.exception


def test_learned_model_without_weights_says_how_to_get_them(app) -> None:  # noqa: ANN001
    upload(app, ("x.png", png(textured(100, 100))))
    untrained = [o for o in app.selectbox(key="model").options if "needs weights" in o or "not installed" in o]
    if not untrained:
        pytest.skip("every registered search model is ready in this install")
    name = untrained[0].split(" ")[0]
    app.selectbox(key="model").set_value(name).run()
    text = " ".join(w.value for w in app.warning)
    assert name in text and ("gazekit fit" in text or "not importable" in text or "not available" in text.lower())
    assert app.button(key="predict").disabled
    assert not app.exception


def test_gaze_following_typed_head_box(app, media) -> None:  # noqa: ANN001
    upload(app, ("people.png", png(textured(240, 320, seed=7))))
    app.radio(key="task").set_value("gaze").run()
    app.selectbox(key="model").set_value("center-gaze").run()
    for k, v in {"head_x1": 40, "head_y1": 30, "head_x2": 80, "head_y2": 80}.items():
        app.number_input(key=k).set_value(v).run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    rec = json.loads(media(download(app, "dl_gaze").proto.url))
    assert rec["image"] == "people.png" and rec["people"][0]["head_box"] == [40, 30, 80, 80]
    x, y = rec["people"][0]["point"]
    assert 0 <= x <= 320 and 0 <= y <= 240
    assert decode(media(download(app, "dl_png").proto.url)).shape == (240, 320, 3)


def test_gaze_following_detect_heads_never_breaks_the_page(app) -> None:  # noqa: ANN001
    upload(app, ("wall.png", png(np.full((120, 160, 3), 128, np.uint8))))
    app.radio(key="task").set_value("gaze").run()
    app.radio(key="head_mode").set_value("detect").run()
    app.button(key="predict").click().run()
    assert not app.exception
    # a grey wall has no head: either the detector says so, or the page says detection is unavailable
    said = " ".join(errors(app) + [w.value for w in app.warning] + [i.value for i in app.info])
    assert "head" in said.lower()


def test_several_images_and_a_large_one_downscaled(app, media) -> None:  # noqa: ANN001
    big = textured(1600, 2400, seed=2)  # longer side above MODEL_MAX_SIDE
    upload(app, ("small.png", png(textured(200, 300))), ("big.jpg", jpeg(big)))
    app.radio(key="task").set_value("freeview").run()
    app.selectbox(key="model").set_value("center").run()
    app.button(key="predict").click().run()
    assert not errors(app)
    app.selectbox(key="image_choice").set_value(1).run()
    assert any("downscaled" in i.value for i in app.info)
    side = limits.MODEL_MAX_SIDE
    assert decode(media(app.image[0].value[0])).shape[:2] == (round(1600 * side / 2400), side)
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert sp.stimulus == "big.jpg" and sp.width == 2400 and sp.height == 1600
    assert abs(sp.x[0] - 1200) < 60 and abs(sp.y[0] - 800) < 60  # the centre, in full-resolution pixels
    both = parse_scanpaths(media(download(app, "dl_all_csv").proto.url), "all.csv")
    assert {s.stimulus for s in both} == {"small.png", "big.jpg"}


def _huge_png() -> bytes:
    """A real PNG above the viewer's pixel limit (bilevel, so it is small on disk and quick to make)."""
    from PIL import Image

    side = int((limits.MAX_IMAGE_PIXELS * 1.1) ** 0.5) + 1
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "expect"),
    [
        ("notes.txt", b"this is not an image\n", "not a readable image"),
        ("photo.png", png(textured(50, 50))[:60], "not a readable image"),
        ("empty.png", b"", "empty file (0 bytes)"),
        ("huge.png", None, "above the limit"),
    ],
    ids=["not-an-image", "corrupt", "zero-bytes", "huge"],
)
def test_bad_upload_is_reported_and_the_good_one_still_works(app, name: str, data: bytes | None, expect: str) -> None:  # noqa: ANN001
    data = _huge_png() if data is None else data
    upload(app, (name, data), ("good.png", png(textured(120, 160))))
    msgs = errors(app)
    assert len(msgs) == 1 and name in msgs[0] and expect in msgs[0], msgs
    app.radio(key="task").set_value("freeview").run()
    app.button(key="predict").click().run()
    assert not app.exception
    assert len(errors(app)) == 1  # only the bad file's message
    assert len(app.image) >= 1 and download(app, "dl_csv") is not None


@pytest.mark.parametrize(
    ("name", "data", "expect"),
    [
        ("other.csv", humans_csv("another_image.png", 400, 300), "other image(s) (another_image.png)"),
        ("cols.csv", b"stimulus,subject,x\nstreet.png,1,10\n", "missing column(s) fixation, y"),
        ("bad.json", b'[{"name": "street.png", "X": [1, 2]}]', "Y"),
        ("latin1.csv", "stimulus,x\nstra\xdfe.png,1\n".encode("latin-1"), "not UTF-8"),
        ("empty.csv", b"", "empty"),
    ],
    ids=["other-image", "missing-columns", "bad-json", "not-utf8", "empty"],
)
def test_bad_human_data_is_reported(app, name: str, data: bytes, expect: str) -> None:  # noqa: ANN001
    upload(app, ("street.png", png(textured(300, 400))))
    app.radio(key="task").set_value("freeview").run()
    app.button(key="predict").click().run()
    app.file_uploader(key="humans").set_value((name, data, "text/plain")).run()
    msgs = errors(app)
    assert len(msgs) == 1 and expect in msgs[0], msgs
    assert not app.exception
    assert score_table(app) is None
    assert len(app.image) == 1 and download(app, "dl_csv") is not None  # the prediction is still there


def test_gallery_predict_and_score_against_its_humans(app, media) -> None:  # noqa: ANN001
    try:
        inputs.gallery_world(n_displays=1, n_subjects=2)
    except Exception as e:  # noqa: BLE001
        app.radio(key="source").set_value("Gallery").run()
        assert not app.exception and any("gallery" in w.value.lower() for w in app.warning + app.error)
        pytest.skip(f"the synthetic gallery is not available in this tree: {e}")
    app.radio(key="source").set_value("Gallery").run()
    assert not errors(app)
    app.selectbox(key="model").set_value("greedy").run()
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    assert any("subject(s)" in c.value for c in app.caption)
    table = score_table(app)
    assert table is not None and len(table) >= 1


def test_typed_box_applies_to_the_image_shown_only(app, media) -> None:  # noqa: ANN001
    upload(app, ("a.png", png(textured(200, 300, seed=1))), ("b.png", png(textured(600, 800, seed=2))))
    app.selectbox(key="model").set_value("greedy").run()
    app.radio(key="target_mode").set_value("box").run()
    app.selectbox(key="image_choice").set_value(1).run()
    assert app.number_input(key="box_x").value == 800 // 3  # coordinates reset for the image shown
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    assert any("this image only" in c.value for c in app.caption)
    sps = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")
    assert {s.stimulus for s in sps} == {"b.png"}


def test_shipped_oat_checkpoint_predicts_on_the_gallery(app, media) -> None:  # noqa: ANN001
    """OAT ships synthetic-data weights: it is listed as ready and predicts object-level scanpaths."""
    try:
        inputs.gallery_world(n_displays=1, n_subjects=2)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"the synthetic gallery is not available in this tree: {e}")
    app.radio(key="source").set_value("Gallery").run()
    oat = [o for o in app.selectbox(key="model").options if o.startswith("oat")]
    if not oat or not any(r.name == "oat" and r.bundled for r in prediction.model_rows("search")):
        pytest.skip("OAT or its shipped checkpoint is not in this install")
    app.selectbox(key="model").set_value("oat").run()
    assert not [w.value for w in app.warning if "oat" in w.value]
    app.button(key="predict").click().run()
    assert not errors(app) and not app.exception
    sp = parse_scanpaths(media(download(app, "dl_csv").proto.url), "p.csv")[0]
    assert len(sp) >= 1 and np.isfinite(sp.x).all()


def test_object_model_on_a_plain_upload_says_what_it_needs(app) -> None:  # noqa: ANN001
    upload(app, ("x.png", png(textured(200, 300))))
    if not any(o.startswith("oat") and "not installed" not in o for o in app.selectbox(key="model").options):
        pytest.skip("OAT is not in this install")
    app.selectbox(key="model").set_value("oat").run()
    app.text_input(key="category").set_value("cup").run()
    app.button(key="predict").click().run()
    assert not app.exception
    assert any("no objects" in e and "gallery" in e for e in errors(app))
