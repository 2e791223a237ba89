"""``gazekit infer``: a scanpath (or gaze) for the user's image files, through the in-process CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gazekit.cli import main
from gazekit.datasets.synthetic.gaze import render_face
from gazekit.imageio import read_image, write_image
from gazekit.io import read_scanpaths


@pytest.fixture
def png(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(60, 120, (120, 160, 3), dtype=np.uint8)
    img[20:40, 110:130] = (230, 20, 20)
    p = tmp_path / "shelf.png"
    write_image(p, img)
    return p


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as ei:
        main(args)
    return ei.value.code, capsys.readouterr().err


def test_infer_png_writes_csv_and_overlay(png, tmp_path):
    out = tmp_path / "out"
    main(
        [
            "infer",
            str(png),
            "--model",
            "greedy",
            "--target-box",
            "110,20,20,20",
            "--target-category",
            "red",
            "--out",
            str(out),
        ]
    )
    sps = read_scanpaths(out / "shelf.csv")
    assert len(sps) == 1
    sp = sps[0]
    assert sp.stimulus == "shelf.png" and sp.task == "red" and sp.subject == "greedy"
    assert (sp.x[0], sp.y[0]) == (80, 60) and np.all(sp.duration == 230)
    assert sp.found is True
    assert sp.meta["bbox"] == [110, 20, 20, 20], "the file carries the target box, so `gazekit score` can use it"
    ov = read_image(out / "shelf_overlay.png")
    assert ov.shape == (120, 160, 3)
    assert np.any(ov != read_image(png))


def test_infer_several_images_samples_json(png, tmp_path):
    other = tmp_path / "b.png"
    write_image(other, np.full((50, 70, 3), 200, np.uint8))
    out = tmp_path / "o"
    args = ["infer", str(png), str(other), "--model", "center", "--samples", "3", "--seed", "5", "--format", "json"]
    main([*args, "--out", str(out)])
    assert {p.name for p in out.iterdir()} == {
        "shelf.json",
        "shelf_overlay.png",
        "b.json",
        "b_overlay.png",
        "scanpaths.json",
        "info.json",  # model, weights source, objects source and notes
    }
    every = read_scanpaths(out / "scanpaths.json")
    assert len(every) == 6 and {s.subject for s in every} == {"center-0", "center-1", "center-2"}
    # deterministic per seed
    main([*args, "--out", str(tmp_path / "o2")])
    again = read_scanpaths(tmp_path / "o2" / "scanpaths.json")
    for a, b in zip(every, again, strict=True):
        np.testing.assert_allclose(a.xy, b.xy)


def test_infer_target_image_and_oracle(png, tmp_path):
    crop = read_image(png)[20:40, 110:130]
    write_image(tmp_path / "t.png", crop)
    main(["infer", str(png), "--target-image", str(tmp_path / "t.png"), "--out", str(tmp_path / "g")])
    sp = read_scanpaths(tmp_path / "g" / "shelf.csv")[0]
    assert 100 <= sp.x[1] <= 140 and 10 <= sp.y[1] <= 50
    main(["infer", str(png), "--model", "oracle", "--target-box", "110,20,20,20", "--out", str(tmp_path / "r")])
    sp = read_scanpaths(tmp_path / "r" / "shelf.csv")[0]
    assert len(sp) == 2 and (sp.x[1], sp.y[1]) == (120, 30)


def test_infer_gaze_model(png, tmp_path):
    out = tmp_path / "gz"
    main(
        [
            "infer",
            str(png),
            "--model",
            "head-cone",
            "--head-box",
            "10,10,30,30",
            "--head-box",
            "120,80,140,100",
            "--out",
            str(out),
        ]
    )
    rows = (out / "shelf_gaze.csv").read_text().splitlines()
    assert rows[0].startswith("image,person,head_x1") and len(rows) == 3
    assert (out / "shelf_overlay.png").is_file()


def test_infer_corrupt_file_errors_cleanly(tmp_path, capsys, png):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "never"
    code, err = run_cli(["infer", str(png), str(bad), "--out", str(out)], capsys)
    assert code == 2 and "broken.png" in err and "not a readable image" in err
    assert not out.exists(), "nothing is written when an input is bad"
    code, err = run_cli(["infer", str(tmp_path / "missing.jpg"), "--out", str(out)], capsys)
    assert code == 2 and "not found" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "search"], "needs a target"),
        (["--model", "oracle"], "supports search"),
        (["--target-box", "1,2,3"], "--target-box"),
        (["--target-box", "500,500,10,10"], "outside"),
        (["--model", "nope"], "unknown model"),
        (["--samples", "0"], "--samples"),
        (["--model", "head-cone"], "--head-box"),
        (["--target-image", "nothere.png"], "not found"),
    ],
)
def test_infer_bad_options(png, tmp_path, capsys, extra, message):
    code, err = run_cli(["infer", str(png), *extra, "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and message in err


def test_infer_gaze_model_finds_the_heads_itself(tmp_path, capsys):
    """No --head-box: the people are the heads the face detector finds, and info.json says which detector."""
    img = np.full((240, 320, 3), 170, np.uint8)
    render_face(img, (110, 120), 40, (0.0, 0.0, 1.0))
    write_image(tmp_path / "face.png", img)
    out = tmp_path / "gz"
    main(["infer", str(tmp_path / "face.png"), "--model", "head-cone", "--out", str(out)])
    rows = list(csv.DictReader((out / "face_gaze.csv").open()))
    assert len(rows) == 1
    x1, y1, x2, y2 = (float(rows[0][k]) for k in ("head_x1", "head_y1", "head_x2", "head_y2"))
    assert x1 < 110 < x2 and y1 < 120 < y2
    info = json.loads((out / "info.json").read_text())["images"]["face.png"]
    assert info["people"] == 1 and ("Haar" in info["heads"] or "YuNet" in info["heads"])
    assert "heads found by" in capsys.readouterr().err
    code, err = run_cli(
        ["infer", str(tmp_path / "face.png"), "--model", "head-cone", "--heatmap-person", "3", "--out", str(out)],
        capsys,
    )
    assert code == 2 and "face.png" in err and "1 head(s) found" in err
