"""VideoAttentionTarget tracks, OAT shelf sheets and the pixel-level Amazon covers reader."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gazekit.datasets.amazon import read_amazon_covers
from gazekit.datasets.oat_shelves import SHELF_LAYOUTS, oat_shelf_trials, shelf_objects
from gazekit.datasets.videoattentiontarget import (
    read_vat_track,
    read_videoattentiontarget,
    smooth_boxes,
    vitgaze_test_chunks,
)
from gazekit.errors import ConfigError, DataFormatError


def test_smooth_boxes_edge_padded_moving_average():
    b = np.zeros((20, 4))
    b[10:] = 11.0
    s = smooth_boxes(b, 11)
    assert s.shape == (20, 4)
    assert s[0, 0] == 0.0 and s[-1, 0] == 11.0  # edge padding keeps the ends
    assert s[10, 0] == pytest.approx(11.0 * 6 / 11)  # frames 5..15: six of them at 11
    np.testing.assert_array_equal(smooth_boxes(b, 1), b)


@pytest.fixture
def vat_root(tmp_path):
    root = tmp_path / "vat"
    ann = root / "annotations" / "test" / "show1" / "clip1"
    ann.mkdir(parents=True)
    rows = [f"{i:05d}.jpg,{100 + i},{50},{140 + i},{90},{300},{200}" for i in range(12)]
    rows[3] = "00003.jpg,103,50,143,90,-1,-1"  # out of frame
    rows[4] = "00004.jpg,104,50,144,90,-1,250"  # one negative coordinate: clamped, in frame
    rows[5] = "00005.jpg,145,90,105,50,300,200"  # reversed box
    (ann / "person1.txt").write_text("\n".join(rows) + "\n")
    img = root / "images" / "show1" / "clip1"
    img.mkdir(parents=True)
    Image.new("RGB", (640, 360)).save(img / "00000.jpg")
    return root


def test_vat_tracks(vat_root):
    anns = read_videoattentiontarget(vat_root, "test")
    assert len(anns) == 12
    a3, a4, a5 = anns[3], anns[4], anns[5]
    assert a3.inout == 0 and a3.gaze_points.shape == (0, 2)
    assert a4.inout == 1 and a4.gaze_points.tolist() == [[0.0, 250.0]]
    assert a5.meta["head_box_raw"] == (105.0, 50.0, 145.0, 90.0)
    assert anns[0].image == "show1/clip1/00000.jpg" and anns[0].meta["track"] == "show1/clip1/person1"
    assert (anns[0].width, anns[0].height) == (640, 360)
    # smoothed: frame 0 averages 6 copies of frame 0 and frames 1..5 -> x1 = 100 + (1+2+3+4+5)/11
    assert anns[0].head_box[0] == pytest.approx(100 + 15 / 11)
    raw = read_videoattentiontarget(vat_root, "test", smooth_window=1)
    assert raw[0].head_box[0] == 100.0
    assert len(read_videoattentiontarget(vat_root, "test", every=6)) == 2
    with pytest.raises(ConfigError):
        read_videoattentiontarget(vat_root, "val")


def test_vitgaze_test_chunks(vat_root):
    """The release: chunks start at range(0, len - 8, 8) (12 frames -> one chunk, frames 0..7; the tail is
    dropped), boxes smoothed within the chunk from the raw boxes."""
    anns = read_videoattentiontarget(vat_root, "test")
    chunks = vitgaze_test_chunks(anns[::-1])  # order comes from frame_index, not from the list
    assert len(chunks) == 1 and [a.meta["frame_index"] for a in chunks[0]] == list(range(8))
    raw = np.array([a.meta["head_box_raw"] for a in anns[:8]])
    np.testing.assert_allclose([a.head_box for a in chunks[0]], smooth_boxes(raw, 11))
    assert vitgaze_test_chunks(anns[:8]) == []  # range(0, 0, 8) is empty: 8 frames give no chunk
    assert len(vitgaze_test_chunks(anns, seq_len=3)) == 3  # starts 0, 3, 6 (9 would need frames 9..11 < 12-3)
    with pytest.raises(ConfigError):
        vitgaze_test_chunks(anns, seq_len=0)


def test_vat_malformed_rows(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("a.jpg,1,2,3,4,5,6\na.jpg,1,2,3\n")
    with pytest.raises(DataFormatError, match="7 columns") as e:
        read_vat_track(f)
    assert e.value.line == 2
    f.write_text("a.jpg,1,2,3,4,nan,6\n")
    with pytest.raises(DataFormatError) as e:
        read_vat_track(f)
    assert e.value.field == "gazex"
    f.write_text("a.jpg,1,2,3,4\n")  # demo format: head boxes only
    (a,) = read_vat_track(f)
    assert a.inout == -1 and a.meta["no_gaze_label"]


SHEET = """ID,Question,Choice,X,Y,T_Package,Sub_ID,Target
7,Q3_21,5,800,300,14,s01,T3_1
7,Q3_21,14,1000,600,14,s01,T3_1
8,Q1_02,22,1600,1000,3,s02,T1_4
"""


def test_oat_shelf_csv(tmp_path):
    f = tmp_path / "q.csv"
    f.write_text(SHEET)
    t1, t2 = oat_shelf_trials(f)
    assert len(t1.stimulus.objects) == 27 and len(t2.stimulus.objects) == 22
    assert t1.scanpath.objects.tolist() == [4, 13] and t1.target_index == 13
    assert t1.stimulus.objects[13].category == "T3_1" and t1.stimulus.target.category == "T3_1"
    lay = SHELF_LAYOUTS["Q3"]
    assert lay.top == 1050 - 3 * 305
    o = shelf_objects(lay)[13]  # row 1, col 4
    assert (o.x, o.y) == (4 * 186, lay.top + 305)
    assert t1.scanpath.subject == "s01" and np.isnan(t1.scanpath.duration).all()


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("9,Q3_21,28,1,1,14,s,T", "Choice"),
        ("9,Q9_1,1,1,1,14,s,T", "Question"),
        ("9,Q3_21,1,-5,1,14,s,T", "X"),
        ("9,Q3_21,1,nan,1,14,s,T", "X"),
        ("9,Q3_21,1,1,1,0,s,T", "T_Package"),
    ],
)
def test_oat_shelf_errors(tmp_path, line, field):
    f = tmp_path / "q.csv"
    f.write_text(SHEET + line + "\n")
    with pytest.raises(DataFormatError) as e:
        oat_shelf_trials(f)
    assert e.value.line == 5 and e.value.field == field


def test_oat_shelf_column_errors(tmp_path):
    f = tmp_path / "q.csv"
    f.write_text("ID,Question,X,Y\n1,Q1_1,1,1\n")
    with pytest.raises(DataFormatError, match="missing column"):
        oat_shelf_trials(f)
    f.write_text(SHEET + "9,Q3_21,1\n")
    with pytest.raises(DataFormatError, match="columns") as e:
        oat_shelf_trials(f)
    assert e.value.line == 5


def test_oat_excel_needs_openpyxl_or_reads_it(tmp_path):
    f = tmp_path / "q.xlsx"
    try:
        import openpyxl
    except ImportError:
        f.write_bytes(b"PK")
        with pytest.raises(ConfigError, match="openpyxl"):
            oat_shelf_trials(f)
        return
    wb = openpyxl.Workbook()
    for row in SHEET.strip().splitlines():
        wb.active.append([int(v) if v.isdigit() else v for v in row.split(",")])
    wb.save(f)
    assert len(oat_shelf_trials(f)) == 2


def test_amazon_pixel_scanpaths(shared_data):
    sps = read_amazon_covers(shared_data / "amazon_covers" / "Amazon.json")
    assert len(sps) == 600 and sps[0].objects is None
    assert sps[0].meta["bbox"] == [2184.0, 22.0, 155.0, 240.0] and sps[0].task == "target_0"
    assert {s.task for s in sps} == {f"target_{i}" for i in range(5)}
