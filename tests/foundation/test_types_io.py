"""Types, frames, padding, and the two scanpath file formats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazekit.datasets.coco_search18 import read_coco_search18_json
from gazekit.datasets.scanpath_csv import parse_scanpath_csv, read_scanpath_csv
from gazekit.errors import DataFormatError, GazekitError
from gazekit.io import parse_scanpaths, read_scanpaths, write_scanpaths
from gazekit.types import (
    Frame,
    FrameTransform,
    GazeAnnotation,
    ObjectBox,
    Scanpath,
    Stimulus,
    Target,
    Task,
    pad_scanpaths,
    unpad_scanpaths,
)


def _sp(n: int = 4, **kw) -> Scanpath:
    rng = np.random.default_rng(n)
    return Scanpath(rng.uniform(0, 100, n), rng.uniform(0, 50, n), rng.uniform(50, 400, n), stimulus="a.jpg", **kw)


def test_scanpath_validates_lengths_and_values():
    with pytest.raises(DataFormatError, match="equal lengths"):
        Scanpath([1, 2], [1], [1, 2])
    with pytest.raises(DataFormatError, match="finite"):
        Scanpath([np.nan], [1])
    with pytest.raises(DataFormatError, match="durations"):
        Scanpath([1], [1], [-5])
    sp = Scanpath([], [])
    assert len(sp) == 0 and sp.xy.shape == (0, 2)
    assert np.isnan(Scanpath([1.0], [2.0]).duration).all()


def test_frame_transforms_round_trip_and_compose():
    display, model = Frame(1680, 1050), Frame(512, 320)
    tf = FrameTransform.resize(display, model)
    assert tf.scale_x == pytest.approx(1 / 3.28125) and tf.scale_y == pytest.approx(1 / 3.28125)
    x, y = tf.points(np.array([840.0]), np.array([525.0]))
    assert (x[0], y[0]) == pytest.approx((256.0, 160.0))
    lb = FrameTransform.letterbox(Frame(640, 480), display)
    assert lb.scale_x == lb.scale_y == pytest.approx(1050 / 480)
    assert lb.offset_y == pytest.approx(0.0) and lb.offset_x == pytest.approx((1680 - 640 * 1050 / 480) / 2)
    both = lb.then(tf)
    px, py = both.points(np.array([10.0, 600.0]), np.array([5.0, 470.0]))
    bx, by = tf.points(*lb.points(np.array([10.0, 600.0]), np.array([5.0, 470.0])))
    np.testing.assert_allclose(px, bx)
    np.testing.assert_allclose(py, by)
    inv = both.inverse()
    rx, ry = inv.points(px, py)
    np.testing.assert_allclose(rx, [10.0, 600.0])
    np.testing.assert_allclose(ry, [5.0, 470.0])
    sp = _sp(width=1680, height=1050)
    sp2 = sp.to_frame(model)
    assert (sp2.width, sp2.height) == (512, 320)
    np.testing.assert_allclose(sp2.duration, sp.duration)
    with pytest.raises(DataFormatError):
        Frame(0, 10)


def test_padding_round_trip():
    sps = [_sp(3), _sp(1), _sp(5), Scanpath([], [], stimulus="e")]
    batch = pad_scanpaths(sps)
    assert batch.xy.shape == (4, 5, 2) and batch.lengths.tolist() == [3, 1, 5, 0]
    assert batch.mask.sum() == 9 and np.isnan(batch.xy[1, 1:]).all()
    back = unpad_scanpaths(batch, sps)
    for a, b in zip(sps, back, strict=True):
        np.testing.assert_allclose(a.xy, b.xy)
        assert a.stimulus == b.stimulus
    assert pad_scanpaths([_sp(6)], max_len=2).xy.shape == (1, 2, 2)
    assert pad_scanpaths([]).xy.shape == (0, 0, 2)


def test_stimulus_objects_target():
    objs = [ObjectBox(0, 0, 10, 10, "a"), ObjectBox(20, 20, 10, 10, "b")]
    st = Stimulus("s", 40, 40, objects=objs, target=Target("b", (21, 21, 9, 9)))
    assert st.target_index == 1
    assert objs[0].contains(5, 5) and not objs[0].contains(15, 5)
    with pytest.raises(DataFormatError, match="uint8"):
        Stimulus("s", 4, 4, image=np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(DataFormatError, match="size says"):
        Stimulus("s", 4, 5, image=np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(DataFormatError):
        ObjectBox(0, 0, -1, 3)
    with pytest.raises(DataFormatError, match="needs a target"):
        Task("search")
    assert Task.search("cup").name == "cup"


def test_gaze_annotation_normalises_reversed_boxes():
    ann = GazeAnnotation("i.jpg", 100, 80, (50, 40, 10, 20), [[1, 2], [3, 4]])
    assert ann.head_box == (10.0, 20.0, 50.0, 40.0)
    assert ann.head_center == (30.0, 30.0)
    with pytest.raises(DataFormatError):
        GazeAnnotation("i.jpg", 100, 80, (0, 0, 1, 1), inout=3)


def test_csv_json_round_trip(tmp_path, coco_search18_val):
    sps = read_coco_search18_json(coco_search18_val)
    assert len(sps) == 3258
    assert sps[0].width == 1680 and sps[0].found is True and "bbox" in sps[0].meta
    write_scanpaths(tmp_path / "a.csv", sps)
    from_csv = read_scanpaths(tmp_path / "a.csv")
    assert len(from_csv) == len(sps)
    write_scanpaths(tmp_path / "b.json", from_csv)
    from_json = read_scanpaths(tmp_path / "b.json")
    for a, b in zip(sps, from_json, strict=True):
        np.testing.assert_allclose(a.xy, b.xy, rtol=1e-6)
        np.testing.assert_allclose(a.duration, b.duration, rtol=1e-6)
        assert (a.stimulus, a.subject, a.task, a.condition, a.found) == (
            b.stimulus,
            b.subject,
            b.task,
            b.condition,
            b.found,
        )


def test_csv_with_objects_and_missing_durations(tmp_path):
    sp = Scanpath([1, 2, 3], [4, 5, 6], [100, np.nan, 50], stimulus="x.png", objects=[0, -1, 2], found=False)
    write_scanpaths(tmp_path / "o.csv", [sp])
    (back,) = read_scanpath_csv(tmp_path / "o.csv")
    assert back.objects.tolist() == [0, -1, 2] and np.isnan(back.duration[1]) and back.found is False


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("stimulus,fixation,x\n", 1, "y"),
        ("stimulus,fixation,x,y\na,0,1\n", 2, None),
        ("stimulus,fixation,x,y\na,0,1,zz\n", 2, "y"),
        ("stimulus,fixation,x,y\na,0,1,nan\n", 2, "y"),
        ("stimulus,fixation,x,y\na,1,1,2\n", 2, "fixation"),
        ("stimulus,fixation,x,y\na,0,1,2\na,2,1,2\n", 3, "fixation"),
        ("stimulus,fixation,x,y,duration_ms\na,0,1,2,-4\n", 2, "duration_ms"),
        ("stimulus,fixation,x,y\n,0,1,2\n", 2, "stimulus"),
        ("", 1, None),
    ],
)
def test_bad_csv_names_line_and_field(text, line, field):
    with pytest.raises(DataFormatError) as ei:
        parse_scanpath_csv(text, "bad.csv")
    assert ei.value.path == "bad.csv" and ei.value.line == line and ei.value.field == field
    assert "bad.csv" in str(ei.value)


@pytest.mark.parametrize(
    ("records", "field"),
    [
        ([{"X": [1], "Y": [1], "T": [1]}], "name"),
        ([{"name": "a.jpg", "X": [1, 2], "Y": [1], "T": [1, 2]}], "X/Y/T"),
        ([{"name": "a.jpg", "X": [1], "Y": [1], "T": [1], "length": 3}], "length"),
        ([{"name": "a.jpg", "X": ["a"], "Y": [1], "T": [1]}], "X"),
        ([{"name": "a.jpg", "X": [1], "Y": [1], "T": [-1]}], "T"),
        ([{"name": "../a.jpg", "X": [1], "Y": [1], "T": [1]}], "name"),
        ([{"name": "a.jpg", "X": [1], "Y": [1], "T": [1], "bbox": [1, 2]}], "bbox"),
    ],
)
def test_bad_json_names_record_and_field(tmp_path, records, field):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([{"name": "ok.jpg", "X": [1], "Y": [1], "T": [1]}, *records]))
    with pytest.raises(DataFormatError) as ei:
        read_scanpaths(p)
    assert ei.value.record == 1 and ei.value.field == field and str(p) in str(ei.value)


def test_truncated_json_and_unknown_suffix(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('[{"name": "a.jpg", "X": [1')
    with pytest.raises(GazekitError, match="invalid JSON"):
        read_scanpaths(p)
    with pytest.raises(GazekitError, match="unknown scanpath file type"):
        read_scanpaths(tmp_path / "x.parquet")
    with pytest.raises(GazekitError, match="not found"):
        read_scanpaths(tmp_path / "missing.csv")
    with pytest.raises(GazekitError, match="empty"):
        parse_scanpaths(b"", "u.csv")
    assert len(parse_scanpaths(b'[{"name":"a.jpg","X":[1],"Y":[2],"T":[3]}]', "u.json")) == 1


def test_other_frames_bbox_and_unknown_durations_round_trip(tmp_path):
    sp = Scanpath(
        [1, 2],
        [3, 4],
        [100, np.nan],
        stimulus="s.png",
        width=512,
        height=320,
        task="cup",
        meta={"bbox": [1.0, 2.0, 30.0, 40.0]},
    )
    for suffix in ("csv", "json"):
        write_scanpaths(tmp_path / f"f.{suffix}", [sp])
        (back,) = read_scanpaths(tmp_path / f"f.{suffix}")
        assert (back.width, back.height) == (512, 320)
        assert back.meta["bbox"] == [1.0, 2.0, 30.0, 40.0]
        assert back.duration[0] == 100 and np.isnan(back.duration[1])
