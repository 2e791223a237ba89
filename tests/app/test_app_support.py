"""The viewer's non-UI logic (gazekit.app) on plain arrays and bytes."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from gazekit.app import downloads, humans, inputs, overlays, prediction
from gazekit.errors import DataFormatError, FrameMissingError, GazekitError
from gazekit.io import parse_scanpaths
from gazekit.types import Scanpath, Task
from tests.app.conftest import humans_csv, jpeg, png, textured


def test_upload_decodes_png_and_keys_on_the_bytes() -> None:
    img = textured(60, 80)
    a = inputs.image_from_upload(png(img), "dir/a.png")
    assert a.name == "a.png" and np.array_equal(a.image, img) and a.work is a.image and not a.downscaled
    assert a.digest == inputs.image_from_upload(png(img), "b.png").digest
    assert a.digest != inputs.image_from_upload(png(img[:, ::-1].copy()), "a.png").digest


def test_exif_orientation_is_honoured() -> None:
    img = textured(40, 100)  # landscape pixels, EXIF says "rotate 90° clockwise to display"
    up = inputs.image_from_upload(jpeg(img, orientation=6), "phone.jpg")
    assert up.image.shape == (100, 40, 3)


def test_large_image_is_downscaled_and_points_map_back() -> None:
    up = inputs.image_from_upload(png(textured(900, 3000)), "wide.png", max_side=600)
    assert up.downscaled and up.work.shape == (180, 600, 3)
    x, y = up.to_full.points(np.array([0.0, 600.0, 300.0]), np.array([0.0, 180.0, 90.0]))
    np.testing.assert_allclose(x, [0, 3000, 1500])
    np.testing.assert_allclose(y, [0, 900, 450])


@pytest.mark.parametrize(
    ("data", "kw", "expect"),
    [
        (b"", {}, "0 bytes"),
        (b"GIF89a nonsense", {}, "not a readable image"),
        (b"x" * 2000, {"max_bytes": 1000}, "above the viewer's limit"),
    ],
)
def test_bad_uploads_raise_data_format_errors(data: bytes, kw: dict, expect: str) -> None:
    with pytest.raises(DataFormatError, match=expect):
        inputs.image_from_upload(data, "f.png", **kw)


def test_pixel_limit() -> None:
    with pytest.raises(DataFormatError, match="above the limit"):
        inputs.image_from_upload(png(textured(100, 100)), "f.png", max_pixels=5000)


class _Echo:
    """A scanpath model that fixates the work-frame centre and the target box centre."""

    def __init__(self) -> None:
        self.seen: list = []

    def predict_scanpath(self, stimulus, task, *, sample=False, seed=None):  # noqa: ANN001, ANN201
        self.seen.append((stimulus, task, sample, seed))
        xs, ys = [stimulus.width / 2], [stimulus.height / 2]
        if task.target is not None and task.target.box is not None:
            x, y, w, h = task.target.box
            xs.append(x + w / 2)
            ys.append(y + h / 2)
        return Scanpath(xs, ys, [200.0] * len(xs), stimulus=stimulus.name, width=stimulus.width, height=stimulus.height)


def test_prediction_runs_on_the_work_copy_and_comes_back_in_image_pixels() -> None:
    up = inputs.image_from_upload(png(textured(1000, 2000)), "big.png", max_side=500)
    model = _Echo()
    spec = inputs.TaskSpec("search", "cup", (1000.0, 400.0, 200.0, 100.0))
    sps = prediction.predict_scanpaths(model, up, spec, n=2, seed=5)
    stim, task, sample, seed = model.seen[0]
    assert (stim.width, stim.height) == (500, 250) and task.target.box == (250.0, 100.0, 50.0, 25.0)
    assert sample and [s[3] for s in model.seen] == [5, 6]  # several scanpaths are sampled, seeds differ
    sp = sps[0]
    np.testing.assert_allclose(sp.xy, [[1000, 500], [1100, 450]])
    assert (sp.stimulus, sp.task, sp.subject, sp.width, sp.height) == ("big.png", "cup", "model#0", 2000, 1000)


def test_task_spec() -> None:
    up = inputs.image_from_upload(png(textured(50, 50)), "a.png")
    assert inputs.TaskSpec("freeview").task(up).kind == "freeview"
    with pytest.raises(DataFormatError, match="needs a target"):
        inputs.TaskSpec("search").task(up)
    crop = textured(10, 10)
    t = inputs.TaskSpec("search", crop_digest="x").task(up, crop)
    assert isinstance(t, Task) and t.target.image is crop
    assert inputs.TaskSpec("search", "  ").label is None or inputs.TaskSpec("search", "  ").label.strip() == ""
    with pytest.raises(DataFormatError, match="outside"):
        inputs.validate_box((60, 0, 5, 5), up)
    with pytest.raises(DataFormatError, match="positive"):
        inputs.validate_box((0, 0, 0, 5), up)
    assert prediction.validate_head_box((30, 40, 10, 20), up) == (10, 20, 30, 40)


def _humans(name: str, w: int, h: int, **kw) -> list[Scanpath]:  # noqa: ANN003
    return parse_scanpaths(humans_csv(name, w, h, **kw), "h.csv")


def test_match_humans_by_name_and_report_other_images() -> None:
    up = inputs.image_from_upload(png(textured(30, 40)), "Street.PNG")
    hums = _humans("street.png", 40, 30) + _humans("other.png", 40, 30)
    with pytest.raises(FrameMissingError, match="no frame size"):  # the CSV has no width/height columns
        humans.match_humans(hums, up)
    m = humans.match_humans(hums, up, frame=(40, 30))
    assert len(m.scanpaths) == 3 and m.subjects == 3 and {s.stimulus for s in m.scanpaths} == {"Street.PNG"}
    assert any("this image's pixels" in n for n in m.notes)
    m2 = humans.match_humans(_humans("street.jpg", 40, 30), up, frame=(40, 30))  # re-encoded: matched without extension
    assert len(m2.scanpaths) == 3 and "without extension" in m2.notes[0]
    with pytest.raises(DataFormatError, match=r"other image\(s\) \(other.png\)"):
        humans.match_humans(_humans("other.png", 40, 30), up, frame=(40, 30))


def test_match_humans_maps_a_display_frame_into_the_image() -> None:
    up = inputs.image_from_upload(png(textured(525, 840)), "coco.jpg")
    rec = {"name": "coco.jpg", "subject": 1, "task": "cup", "X": [840.0, 0.0], "Y": [525.0, 0.0], "T": [200, 300]}
    hums = parse_scanpaths(json.dumps([rec]).encode(), "h.json")  # no width/height: the frame is never guessed
    with pytest.raises(FrameMissingError, match="--human-frame"):
        humans.match_humans(hums, up, task="cup")
    m = humans.match_humans(hums, up, task="cup", frame=(1680, 1050))  # the user says: COCO-Search18's display
    np.testing.assert_allclose(m.scanpaths[0].xy, [[420, 262.5], [0, 0]])
    assert any("letterbox" in n for n in m.notes)
    m2 = humans.match_humans(hums, up, task="bowl", frame=(1680, 1050))
    assert any("no human scanpath has task 'bowl'" in n for n in m2.notes)


def test_score_with_ceiling_and_inapplicable_metrics() -> None:
    hums = _humans("a.png", 400, 300)
    pred = [Scanpath([200, 100, 300], [150, 100, 200], [250, 250, 250], stimulus="a.png", width=400, height=300)]
    rows = humans.score(pred, hums, ["scanmatch", "ss_objects", "multimatch"])
    by = {r.metric: r for r in rows}
    assert by["scanmatch"].n == 1 and by["scanmatch"].human_n == 3 and np.isfinite(by["scanmatch"].human_mean)
    assert "not applicable" in by["ss_objects"].note
    assert "mm_shape" in by  # multimatch expands into its dimensions
    one = humans.score(pred, hums[:1], ["scanmatch"])
    assert one[0].human_mean is None and one[0].as_dict()["human consistency"] == "—"
    assert not any(r.metric.startswith("kl_") for r in rows)  # one prediction: no distribution rows
    # several samples: the distribution protocol's rows join the per-pair ones
    samples = [
        Scanpath(p.x + 7 * k, p.y, p.duration, stimulus="a.png", width=400, height=300) for k in range(3) for p in pred
    ]
    by = {r.metric: r for r in humans.score(samples, hums, ["scanmatch"])}
    assert {"scanmatch", "kl_scanmatch", "rss_scanmatch", "dss_scanmatch"} <= set(by)
    assert by["kl_scanmatch"].mean >= 0 and 0 <= by["rss_scanmatch"].mean <= 1 and "KL" in by["kl_scanmatch"].note
    with pytest.raises(DataFormatError):
        humans.score(pred, hums, [])


def test_downloads_round_trip() -> None:
    sp = Scanpath([1.5, 20], [2.5, 30], [100, np.nan], stimulus="a.png", subject="model", width=40, height=30)
    back = parse_scanpaths(downloads.predictions_csv([sp]), "p.csv")[0]
    np.testing.assert_allclose(back.xy, sp.xy)
    rec = json.loads(downloads.predictions_json([sp]))[0]
    assert rec["name"] == "a.png" and rec["X"] == [1.5, 20]
    import io

    from PIL import Image

    img = textured(30, 40)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(downloads.png_bytes(img)))), img)


def test_fixation_heatmap_peaks_at_fixations() -> None:
    sp = Scanpath([10, 90], [10, 50], [100, 400])
    hm = overlays.fixation_heatmap([sp], 100, 60, sigma=3)
    assert hm.shape == (60, 100) and hm.max() == pytest.approx(1.0)
    assert np.unravel_index(hm.argmax(), hm.shape) == (50, 90)  # the longer fixation


def test_overlays_need_viz_and_draw_on_the_work_copy() -> None:
    up = inputs.image_from_upload(png(textured(400, 1200)), "w.png", max_side=300)
    sp = Scanpath([600, 900], [200, 100], [200, 300], stimulus="w.png", width=1200, height=400)
    out = overlays.render_overlay(up, sp, humans=[sp], heatmap_of=[sp], upto=1)
    assert out.shape == up.work.shape and not np.array_equal(out, up.work)
    assert overlays.render_samples(up, [sp, sp]).shape[1] > 2 * 300


def test_model_rows_cover_the_registry() -> None:
    rows = prediction.model_rows()
    names = {r.name for r in rows}
    assert {"random", "center", "greedy"} <= names
    assert {r.name for r in prediction.model_rows("gaze")} and all(
        r.kind == "gaze" for r in prediction.model_rows("gaze")
    )
    for r in rows:
        if r.trainable and r.available:
            assert "gazekit fit" in r.how_to_get
            assert r.label.endswith("(needs weights)") == (not r.bundled)
    # the project ships checkpoints trained on its synthetic worlds for these two
    shipped = {r.name: r for r in rows if r.bundled}
    assert {"oat", "vitgaze"} <= set(shipped)
    assert all(not r.needs_weights and "synthetic" in r.label for r in shipped.values())
    assert prediction.devices()[0] == "cpu"


def test_gaze_on_a_downscaled_image_comes_back_in_image_pixels() -> None:
    up = inputs.image_from_upload(png(textured(1000, 2000)), "crowd.png", max_side=500)
    model = prediction.load_model("center-gaze")
    (gm,) = prediction.predict_gaze_maps(model, up, [(400.0, 100.0, 600.0, 300.0)])
    np.testing.assert_allclose(gm.head_box, (400, 100, 600, 300))
    assert 0 <= gm.point[0] <= 2000 and 0 <= gm.point[1] <= 1000
    rec = json.loads(downloads.gaze_json(up, [gm]))
    assert rec["width"] == 2000 and rec["people"][0]["head_box"] == [400, 100, 600, 300]
    assert overlays.render_gaze_overlay(up, [gm]).shape == up.work.shape
    with pytest.raises(DataFormatError, match="at least one head box"):
        prediction.predict_gaze_maps(model, up, [])


def test_detected_heads_are_mapped_to_image_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector runs on the work copy; boxes come back in full-resolution pixels."""
    seen = []

    def detect_heads(image: np.ndarray) -> list[tuple[float, float, float, float]]:
        seen.append(image.shape)
        return [(10.0, 20.0, 30.0, 40.0)]

    monkeypatch.setattr(prediction, "heads", types.SimpleNamespace(detect_heads=detect_heads))
    up = inputs.image_from_upload(png(textured(400, 800)), "p.png", max_side=200)
    assert prediction.detect_heads(up) == [(40.0, 80.0, 120.0, 160.0)] and seen == [(100, 200, 3)]
    monkeypatch.setattr(prediction, "heads", types.SimpleNamespace(detect_heads=lambda image: []))
    with pytest.raises(GazekitError, match="no head found"):
        prediction.detect_heads(up)
