"""MIT1003 (original per-subject .mat layout, tiny fixtures written with scipy) and CapMIT1003 (SQLite)."""

from __future__ import annotations

import json
import pickle
import sqlite3

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from gazekit.datasets.capmit1003 import caption_task, read_capmit1003
from gazekit.datasets.mit1003 import detect_fixations, read_mit1003, read_mit1003_eyedata, read_mit1003_json
from gazekit.errors import DataFormatError


def _eye(points, n=60, blink_at=None):
    """Raw 240 Hz samples holding still at each point for n samples (a saccade = one jump)."""
    eye = np.concatenate([np.tile([p], (n, 1)) for p in points]).astype(float)
    if blink_at is not None:
        eye[blink_at : blink_at + 3] = -1.0
    return eye


def _write_subject_mat(path, stem, eye):
    sio.savemat(path, {stem: {"imgName": stem + ".jpeg", "DATA": np.array([{"eyeData": eye}], dtype=object)}})


@pytest.fixture
def mit_root(tmp_path):
    root = tmp_path / "mit"
    for sub in ("ajs", "hp"):
        (root / "DATA" / sub).mkdir(parents=True)
    (root / "ALLSTIMULI").mkdir()
    Image.new("RGB", (400, 300)).save(root / "ALLSTIMULI" / "img1.jpeg")
    _write_subject_mat(
        root / "DATA" / "ajs" / "img1.mat", "img1", _eye([(200, 150), (50, 60), (350, 250)], blink_at=118)
    )
    _write_subject_mat(root / "DATA" / "hp" / "img1.mat", "img1", _eye([(200, 150), (900, 900), (120, 80)]))
    return root


def test_raw_eyedata_and_detection(mit_root):
    eye = read_mit1003_eyedata(mit_root / "DATA" / "ajs" / "img1.mat")
    assert eye.shape == (180, 2) and np.isnan(eye[118:121]).all()  # negative = blink -> NaN
    x, y, start, dur = detect_fixations(eye)
    assert len(x) == 3
    np.testing.assert_allclose(np.c_[x, y], [[200, 150], [50, 60], [350, 250]])
    assert 150 < dur[1] < 250 and start[0] == 0.0


def test_read_mit1003_drops_initial_and_outside(mit_root):
    sps = read_mit1003(mit_root)
    assert [s.subject for s in sps] == ["ajs", "hp"]
    a, b = sps
    assert a.stimulus == "img1.jpeg" and (a.width, a.height) == (400, 300)
    np.testing.assert_allclose(a.xy, [[50, 60], [350, 250]])  # central first fixation dropped
    np.testing.assert_allclose(b.xy, [[120, 80]])  # (900, 900) is outside the 400x300 image
    keep = read_mit1003(mit_root, drop_initial=False, subjects=["ajs"])
    assert len(keep[0]) == 3 and keep[0].meta["has_initial_fixation"]


def test_pre_extracted_fixation_files(tmp_path):
    d = tmp_path / "DATA" / "zb"
    d.mkdir(parents=True)
    sio.savemat(d / "img2.mat", {"fixations": np.array([[10.0, 20.0], [30.0, 40.0]]), "starts": np.array([1, 49]),
                                 "durations": np.array([180.0, 220.0])})  # fmt: skip
    (sp,) = read_mit1003(tmp_path, drop_initial=False)
    np.testing.assert_allclose(sp.xy, [[10, 20], [30, 40]])
    np.testing.assert_allclose(sp.duration, [180, 220])
    np.testing.assert_allclose(sp.meta["start_s"], [0, 0.2])
    assert sp.width is None  # no ALLSTIMULI -> size unknown


def test_mat_files_are_never_unpickled(tmp_path):
    d = tmp_path / "DATA" / "ajs"
    d.mkdir(parents=True)
    (d / "x.mat").write_bytes(pickle.dumps({"fixations": 1}))
    with pytest.raises(DataFormatError, match="MATLAB") as e:
        read_mit1003(tmp_path)
    assert "x.mat" in str(e.value)
    sio.savemat(d / "x.mat", {"other": np.zeros(3)})
    with pytest.raises(DataFormatError, match="DATA"):
        read_mit1003(tmp_path)


def test_scandiff_json(tmp_path):
    f = tmp_path / "mit1003_fixations_test.json"
    f.write_text(
        json.dumps(
            [
                {
                    "name": "a.jpeg",
                    "width": 1024,
                    "height": 768,
                    "X": [1, 2],
                    "Y": [3, 4],
                    "T": [100, 200],
                    "split": "test",
                }
            ]
        )
    )
    (sp,) = read_mit1003_json(f)
    assert (sp.width, sp.height, sp.meta["split"]) == (1024, 768, "test")
    f.write_text(json.dumps([{"name": "a.jpeg", "width": 1024, "height": 768, "X": [1, "x"], "Y": [3, 4]}]))
    with pytest.raises(DataFormatError) as e:
        read_mit1003_json(f)
    assert e.value.record == 0 and e.value.field == "X"


def make_capmit_db(path, clicks=None):
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE images (img_uid INTEGER PRIMARY KEY, img_path TEXT);
        CREATE TABLE captions (obs_uid INTEGER PRIMARY KEY, usr_uid TEXT, start_time INTEGER, caption TEXT, img_uid INTEGER);
        CREATE TABLE clicks (click_id INTEGER PRIMARY KEY, obs_uid INTEGER, x INTEGER, y INTEGER, click_time INTEGER);
        """
    )
    con.execute("INSERT INTO images VALUES (1, 'i1.jpeg'), (2, 'i2.jpeg')")
    con.execute("INSERT INTO captions VALUES (10, 'u1', 1000, 'a dog on a sofa', 1), (11, 'u2', 5000, 'a street', 2)")
    rows = clicks or [(3, 10, 30, 40, 1900), (1, 10, 10, 20, 1200), (2, 10, 20, 30, 1500), (4, 11, 5, 5, 5100)]
    con.executemany("INSERT INTO clicks VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return path


def test_capmit1003_orders_clicks_by_click_id(tmp_path):
    db = make_capmit_db(tmp_path / "capmit1003.db")
    a, b = read_capmit1003(db)
    np.testing.assert_allclose(a.xy, [[10, 20], [20, 30], [30, 40]])  # inserted out of order
    np.testing.assert_allclose(a.duration[:2], [300, 400]) and np.isnan(a.duration[2])
    assert a.stimulus == "i1.jpeg" and a.subject == "u1" and a.condition == "caption"
    assert caption_task(a).caption == "a dog on a sofa"
    assert len(b) == 1 and b.width is None
    (tmp_path / "stim").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "stim" / "i1.jpeg")
    Image.new("RGB", (64, 48)).save(tmp_path / "stim" / "i2.jpeg")
    assert read_capmit1003(db, image_root=tmp_path / "stim")[0].width == 64


def test_capmit1003_errors(tmp_path):
    db = make_capmit_db(tmp_path / "neg.db", clicks=[(1, 10, -3, 4, 100), (2, 11, 1, 1, 5)])
    with pytest.raises(DataFormatError, match="negative") as e:
        read_capmit1003(db)
    assert e.value.field == "x" and "clicks row 1" in str(e.value)
    db = make_capmit_db(tmp_path / "empty.db", clicks=[(1, 10, 3, 4, 100)])
    with pytest.raises(DataFormatError, match="empty scanpath"):
        read_capmit1003(db)
    assert len(read_capmit1003(db, allow_empty=True)) == 2
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x01" * 100)
    with pytest.raises(DataFormatError, match="SQLite"):
        read_capmit1003(bad)
    con = sqlite3.connect(tmp_path / "noschema.db")
    con.execute("CREATE TABLE images (img_uid INTEGER)")
    con.close()
    with pytest.raises(DataFormatError, match="img_path"):
        read_capmit1003(tmp_path / "noschema.db")
