"""COCO-Search18 / COCO-FreeView: dataset rules, the two frames, images root, official splits, fast path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gazekit.datasets.coco_search18 import (
    COCO_SEARCH18_TASKS,
    CocoSearch18Images,
    parse_coco_search18,
    read_coco_freeview,
    read_coco_search18,
    read_coco_search18_json,
    scanpath_from_record,
    split_scanpaths,
    to_model_frame,
)
from gazekit.errors import ConfigError, DataFormatError


def _rec(**kw):
    r = {"name": "000000000001.jpg", "subject": 1, "task": "cup", "condition": "present", "bbox": [10, 10, 20, 20],
         "X": [840.0, 100.0], "Y": [525.0, 50.0], "T": [100, 200], "length": 2, "correct": 1, "RT": 300,
         "split": "train"}  # fmt: skip
    r.update(kw)
    return r


def _write(tmp_path, recs, name="f.json"):
    f = tmp_path / name
    f.write_text(json.dumps(recs))
    return f


def test_real_validation_file(coco_search18_val):
    sps = read_coco_search18(coco_search18_val)
    assert len(sps) == 3258 and sum(len(s) for s in sps) == 12111
    assert {s.task for s in sps} == set(COCO_SEARCH18_TASKS)
    assert all(s.condition == "present" and s.meta["split"] == "valid" for s in sps)
    assert sum(s.found for s in sps) == 3028
    assert max(s.y.max() for s in sps) == pytest.approx(1309.5)  # out-of-display fixations are kept
    first = np.array([[s.x[0], s.y[0]] for s in sps])
    assert np.allclose(first.mean(0), (815, 510), atol=2)
    split = split_scanpaths(sps)
    assert len(split["valid"]) == 3258 and not split["train"] and not split["test"]


def test_fast_path_matches_per_record_path(coco_search18_val):
    data = json.loads(coco_search18_val.read_text())[:300]
    fast = parse_coco_search18(data, "x")
    slow = [scanpath_from_record(r, path="x", index=i) for i, r in enumerate(data)]
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.duration, b.duration)
        assert (a.stimulus, a.subject, a.task, a.found, a.meta) == (b.stimulus, b.subject, b.task, b.found, b.meta)


def test_model_frame_512x320(coco_search18_val):
    (sp,) = read_coco_search18(coco_search18_val)[:1]
    m = to_model_frame(sp)
    assert (m.width, m.height) == (512, 320)
    assert (m.x[0], m.y[0]) == (256.0, 160.0) and m.meta["initial_fixation_forced"]
    assert m.x[1] == pytest.approx(sp.x[1] / 3.28125) and m.y[1] == pytest.approx(sp.y[1] / 3.28125)
    assert m.meta["bbox"][2] == pytest.approx(sp.meta["bbox"][2] / 3.28125)
    m2 = read_coco_search18(coco_search18_val, frame="model")[0]
    assert m2.x[0] == pytest.approx(sp.x[0] / 3.28125)  # not forced unless asked
    with pytest.raises(ConfigError):
        read_coco_search18(coco_search18_val, frame="720p")


def test_target_absent_and_condition_filter(tmp_path):
    f = _write(tmp_path, [_rec(), _rec(condition="absent", correct=1)])
    both = read_coco_search18(f)
    assert [s.condition for s in both] == ["present", "absent"]
    assert [s.condition for s in read_coco_search18(f, condition="absent")] == ["absent"]


@pytest.mark.parametrize(
    ("rec", "field", "match"),
    [
        (_rec(task="giraffe"), "task", "unknown category"),
        (_rec(X=[], Y=[], T=[], length=0), "X", "empty scanpath"),
        (_rec(condition="maybe"), "condition", "present"),
        (_rec(X=[1.0, float("nan")]), "X", "NaN"),
        (_rec(T=[100, -5]), "T", "negative"),
        (_rec(length=5), "length", "length"),
        (_rec(name="../../etc/passwd"), "name", "bare file name"),
        (_rec(bbox=None), "bbox", "without bbox"),
    ],
)
def test_malformed_records_name_record_and_field(tmp_path, rec, field, match):
    f = _write(tmp_path, [_rec(), rec])
    with pytest.raises(DataFormatError, match=match) as e:
        read_coco_search18(f)
    assert e.value.record == 1 and e.value.field == field and "f.json" in str(e.value)


def test_truncated_json_names_file_and_line(tmp_path):
    f = tmp_path / "t.json"
    f.write_text(json.dumps([_rec(), _rec()], indent=1)[:-40])
    with pytest.raises(DataFormatError, match="invalid JSON") as e:
        read_coco_search18_json(f)
    assert e.value.line is not None and "t.json" in str(e.value)


def test_freeview(tmp_path):
    recs = [{"name": "000000000009.jpg", "subject": 3, "X": [840, 10], "Y": [525, 20], "T": [200, 300], "length": 2,
             "split": "valid"}]  # fmt: skip
    (sp,) = read_coco_freeview(_write(tmp_path, recs))
    assert sp.task is None and sp.condition == "freeview" and sp.meta["split"] == "valid"
    assert read_coco_freeview(_write(tmp_path, recs), frame="model")[0].width == 512


def test_images_root_both_frames_and_no_escape(tmp_path):
    root = tmp_path / "images"
    (root / "cup").mkdir(parents=True)
    Image.new("RGB", (640, 480), (200, 10, 10)).save(root / "cup" / "a.jpg")
    Image.new("RGB", (1680, 1050), (0, 200, 0)).save(root / "b.png")
    imgs = CocoSearch18Images(root)
    assert imgs.resolve("a.jpg", "cup") == (root / "cup" / "a.jpg").resolve()
    disp = imgs.load("a.jpg", "cup")
    assert disp.shape == (1050, 1680, 3)
    # 640x480 letterboxed into 1680x1050: scale 1050/480, centred horizontally -> black bars left and right
    assert disp[525, 5].max() < 10 and disp[525, 840, 0] > 150
    model = imgs.load("b.png", frame="model")
    assert model.shape == (320, 512, 3) and model[160, 256, 1] > 150
    st = imgs.stimulus("a.jpg", "cup", frame="model")
    assert (st.width, st.height) == (512, 320) and st.target.category == "cup"
    with pytest.raises(DataFormatError, match="not found"):
        imgs.resolve("missing.jpg", "cup")
    with pytest.raises(DataFormatError):
        imgs.resolve("../../x.jpg")
    (root / "evil.jpg").symlink_to(tmp_path / "outside.jpg")
    (tmp_path / "outside.jpg").write_bytes(b"x")
    with pytest.raises(DataFormatError, match="outside"):
        imgs.resolve("evil.jpg")


def test_split2_by_coco2014_membership(tmp_path):
    recs = [_rec(name="000000000001.jpg", split="train"), _rec(name="000000000002.jpg", split="valid"),
            _rec(name="000000000003.jpg", split="test")]  # fmt: skip
    sps = read_coco_search18(_write(tmp_path, recs))
    s1 = split_scanpaths(sps, "split1")
    assert [len(s1[k]) for k in ("train", "valid", "test")] == [1, 1, 1]
    s2 = split_scanpaths(sps, "split2", coco2014_train_ids={2})
    assert [s.stimulus for s in s2["train"]] == ["000000000002.jpg"]
    assert [s.stimulus for s in s2["valid"]] == ["000000000001.jpg"]
    assert [s.stimulus for s in s2["test"]] == ["000000000003.jpg"]
    with pytest.raises(ConfigError):
        split_scanpaths(sps, "split2")
