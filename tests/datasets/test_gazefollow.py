"""GazeFollow: train/test formats, annotator grouping, reversed boxes, invalid rows, px vs normalised output."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gazekit.datasets.gazefollow import pad_gaze_points, read_gazefollow
from gazekit.errors import DataFormatError

TRAIN_ROWS = [
    "train/a.jpg,1,0.1,0.1,0.5,0.5,0.25,0.25,0.5,0.75,10,20,30,40,1,coco,False",
    "train/a.jpg,2,0.1,0.1,0.5,0.5,0.5,0.5,0.9,0.1,80,90,60,70,0,coco,False",  # reversed head box, out of frame
    "train/b.jpg,3,0.1,0.1,0.5,0.5,0.5,0.5,0.9,0.1,10,20,30,40,-1,coco,False",  # invalid row
]
TEST_ROWS = [
    "test2/c.jpg,7,0.1,0.1,0.5,0.5,0.3,0.2,0.5,0.5,10,20,30,40,coco,False",
    "test2/c.jpg,7,0.1,0.1,0.5,0.5,0.3,0.2,0.6,0.4,10,20,30,40,coco,False",
    "test2/c.jpg,8,0.1,0.1,0.5,0.5,0.7,0.2,0.1,0.1,50,20,70,40,coco,False",
    "test2/c.jpg,7,0.1,0.1,0.5,0.5,0.30,0.2,0.55,0.45,10,20,30,40,coco,False",  # same eye, other spelling
]


def test_real_sample(shared_data):
    anns = read_gazefollow(shared_data / "gazefollow" / "val_annotations_sample.txt")
    assert len(anns) == 4499
    a = anns[0]
    assert a.image == "train/00000093/00093103.jpg" and a.inout == 1 and a.meta["source"] == "places_top"
    assert a.width == a.height == 1 and a.meta["coords"] == "normalized" and a.meta["head_box_units"] == "px"
    np.testing.assert_allclose(a.gaze_points, [[0.39034, 0.52182]])
    assert a.head_box == (0.0, 82.0, 162.0, 245.0) and a.eye == pytest.approx((0.22859, 0.28727))
    assert sum(x.meta["meta"] == "True" for x in anns) == 139
    assert not any(x.meta["head_box_reversed"] for x in anns)


def _write(tmp_path, name, rows):
    f = tmp_path / name
    f.write_text("\n".join(rows) + "\n")
    return f


def test_train_rows_invalid_reversed_and_pixels(tmp_path):
    f = _write(tmp_path, "train.txt", TRAIN_ROWS)
    anns = read_gazefollow(f)
    assert [a.inout for a in anns] == [1, 0]  # the -1 row is dropped
    assert len(read_gazefollow(f, keep_invalid=True)) == 3
    out = anns[1]
    assert out.head_box == (60.0, 70.0, 80.0, 90.0) and out.meta["head_box_reversed"]
    assert out.gaze_points.shape == (0, 2)
    (tmp_path / "train").mkdir()
    Image.new("RGB", (200, 100)).save(tmp_path / "train" / "a.jpg")
    with pytest.raises(DataFormatError, match="not found") as e:  # b.jpg is missing
        read_gazefollow(f, image_root=tmp_path, keep_invalid=True)
    assert e.value.line == 3 and e.value.field == "path"
    anns = read_gazefollow(f, image_root=tmp_path)
    a = anns[0]
    assert (a.width, a.height, a.meta["coords"]) == (200, 100, "px")
    np.testing.assert_allclose(a.gaze_points, [[100.0, 75.0]])
    assert a.eye == (50.0, 25.0)
    np.testing.assert_allclose(a.meta["gaze_norm"], [[0.5, 0.75]])
    assert anns[1].head_box == (60.0, 70.0, 80.0, 90.0)
    mixed = read_gazefollow(f, image_root=tmp_path, keep_invalid=True, missing_images="normalized")
    assert [m.meta["coords"] for m in mixed] == ["px", "px", "normalized"]


def test_test_rows_grouped_by_person(tmp_path):
    f = _write(tmp_path, "test.txt", TEST_ROWS)
    anns = read_gazefollow(f)
    assert len(anns) == 2
    a, b = anns
    assert a.gaze_points.shape == (3, 2) and b.gaze_points.shape == (1, 2) and a.inout == b.inout == 1
    assert a.meta["line"] == [1, 2, 4] and a.meta["split"] == "test"
    padded = pad_gaze_points(a.gaze_points)
    assert padded.shape == (20, 2) and (padded[3:] == -1).all()
    assert read_gazefollow(f, split="test")[0].gaze_points.shape == (3, 2)
    with pytest.raises(DataFormatError, match="17 columns"):
        read_gazefollow(f, split="train")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("train/a.jpg,1,0.1,0.1,0.5,0.5,0.25,nan,0.5,0.75,10,20,30,40,1,coco,False", "eye_y"),
        ("train/a.jpg,1,0.1,0.1,0.5,0.5,0.25,0.2,-0.5,0.75,10,20,30,40,1,coco,False", "gaze_x"),
        ("train/a.jpg,1,0.1,0.1,0.5,0.5,0.25,0.2,0.5,0.75,10,x,30,40,1,coco,False", "head_y_min"),
        ("train/a.jpg,1,0.1,0.1,0.5,0.5,0.25,0.2,0.5,0.75,10,20,30,40,2,coco,False", "inout"),
        ("/etc/passwd,1,0.1,0.1,0.5,0.5,0.25,0.2,0.5,0.75,10,20,30,40,1,coco,False", "path"),
        ("../x.jpg,1,0.1,0.1,0.5,0.5,0.25,0.2,0.5,0.75,10,20,30,40,1,coco,False", "path"),
    ],
)
def test_malformed_rows_name_line_and_field(tmp_path, row, field):
    f = _write(tmp_path, "train.txt", [TRAIN_ROWS[0], row])
    with pytest.raises(DataFormatError) as e:
        read_gazefollow(f)
    assert e.value.line == 2 and e.value.field == field and "train.txt" in str(e.value)
    assert len(read_gazefollow(f, errors="skip")) == 1


def test_wrong_column_count_and_empty(tmp_path):
    f = _write(tmp_path, "train.txt", [TRAIN_ROWS[0], "train/a.jpg,1,0.1"])
    with pytest.raises(DataFormatError, match="expected 17 columns") as e:
        read_gazefollow(f)
    assert e.value.line == 2
    with pytest.raises(DataFormatError, match="empty"):
        read_gazefollow(_write(tmp_path, "e.txt", [""]))
    with pytest.raises(DataFormatError, match="not found"):
        read_gazefollow(tmp_path / "nope.txt")


def test_image_symlink_cannot_escape_root(tmp_path):
    root = tmp_path / "root"
    (root / "train").mkdir(parents=True)
    outside = tmp_path / "secret.jpg"
    Image.new("RGB", (10, 10)).save(outside)
    (root / "train" / "a.jpg").symlink_to(outside)
    f = _write(tmp_path, "train.txt", TRAIN_ROWS[:1])
    with pytest.raises(DataFormatError, match="outside the dataset root"):
        read_gazefollow(f, image_root=root)
