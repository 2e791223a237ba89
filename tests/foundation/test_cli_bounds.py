"""The fast, bounded CLI: no Lightning where no model trains, range-checked numbers, devices, frames."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gazekit.cli import main
from gazekit.cliutil import bounded_float, bounded_int, parse_frame
from gazekit.errors import ConfigError, FrameMissingError
from gazekit.io import assign_frames, frame_written, read_scanpaths, write_scanpaths
from gazekit.types import Scanpath

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import sys
from gazekit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert not e.code, e.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning"))
print("HEAVY", ",".join(heavy[:3]))
"""


def _probe(tmp_path: Path, *argv: str) -> str:
    env = {"PYTHONPATH": str(ROOT), "GAZEKIT_NO_PROGRESS": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_commands_without_training_never_import_lightning(tmp_path: Path) -> None:
    import cv2

    img = tmp_path / "photo.jpg"
    cv2.imwrite(str(img), np.full((96, 128, 3), 120, np.uint8))
    sp = tmp_path / "h.json"
    write_scanpaths(sp, [Scanpath([10, 20], [10, 30], [200, 200], stimulus="a.jpg", subject="1", width=64, height=48)])
    for argv in (
        ("--help",),
        ("models",),
        ("score", "--list-metrics"),
        ("score", "--pred", str(sp), "--human", str(sp), "--metrics", "ss,dtw"),
        ("infer", "--model", "greedy", "--target-category", "cup", "--out", str(tmp_path / "o"), str(img)),
        ("infer", "--model", "head-cone", "--head-box", "5,5,30,30", "--out", str(tmp_path / "g"), str(img)),
    ):
        assert _probe(tmp_path, *argv) == "HEAVY", argv


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["score", "--max-step", "1e21", "--list-metrics"], "must lie in [1, 1000]"),
        (["score", "--max-step", "-5", "--list-metrics"], "must lie in [1, 1000]"),
        (["score", "--max-step", "1e7", "--list-metrics"], "must lie in [1, 1000]"),
        (["score", "--max-step", "2.5", "--list-metrics"], "whole number"),
        (["infer", "--samples", "1e7", "x.png"], "must lie in [1, 1000]"),
        (["infer", "--seed", "-1", "x.png"], "must lie in"),
        (["demo", "--test-fraction", "nan"], "finite number"),
        (["app", "--port", "70000"], "--port must lie in 1..65535"),
    ],
)
def test_numeric_options_are_range_checked(argv: list[str], needle: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert needle in capsys.readouterr().err


def test_bounded_types_and_frames() -> None:
    assert bounded_int(1, 10)("1e1") == 10 and bounded_float(0, 1)("0.5") == 0.5
    assert parse_frame("1680x1050") == (1680.0, 1050.0) and parse_frame("640,480") == (640.0, 480.0)
    for bad in ("1680", "0x10", "axb", "1e9x10", "infxinf"):
        with pytest.raises(ConfigError, match="--human-frame"):
            parse_frame(bad)


def test_list_metrics_alone_and_missing_files(capsys: pytest.CaptureFixture) -> None:
    main(["score", "--list-metrics"])
    assert "ss" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["score", "--pred", "p.json"])
    assert "--human" in capsys.readouterr().err


def test_device_cuda_without_cuda_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    import cv2

    img = tmp_path / "p.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(SystemExit):
        main(["infer", "--model", "oat", "--device", "cuda", "--out", str(tmp_path), str(img)])
    assert "CUDA is not available" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["infer", "--model", "oat", "--device", "tpu:0", "--out", str(tmp_path), str(img)])
    assert "--device" in capsys.readouterr().err


def test_frames_are_never_guessed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A COCO-Search18-style file without width/height: refused, or placed in the frame the user names."""
    rec = {"name": "photo.jpg", "subject": 1, "task": "cup", "X": [320.0, 100.0], "Y": [240.0, 50.0], "T": [200, 250]}
    hum = tmp_path / "h.json"
    hum.write_text(json.dumps([rec, {**rec, "subject": 2, "X": [300.0, 110.0]}]))
    pred = tmp_path / "p.json"
    write_scanpaths(pred, [Scanpath([320, 120], [240, 60], stimulus="photo.jpg", task="cup", width=640, height=480)])
    # gazekit writes every frame it knows, so its own predictions never need one
    assert json.loads(pred.read_text())[0]["width"] == 640
    hs = read_scanpaths(hum)
    assert not any(frame_written(h) for h in hs)
    with pytest.raises(FrameMissingError, match="--human-frame WxH"):
        assign_frames(hs, None, source=str(hum))
    placed = assign_frames(hs, (640, 480), source=str(hum))
    assert (placed[0].width, placed[0].height) == (640, 480) and placed[0].meta["frame_source"] == "user"
    assert hs[0].meta.get("frame_source") == "format-default"  # inputs untouched
    with pytest.raises(SystemExit):
        main(["score", "--pred", str(pred), "--human", str(hum), "--metrics", "ss"])
    assert "--human-frame" in capsys.readouterr().err
    main(["score", "--pred", str(pred), "--human", str(hum), "--metrics", "ss", "--human-frame", "640x480"])
    out = capsys.readouterr().out
    assert "human_frame: 640x480" in out and "ss " in out
    # a written frame always wins over the option
    write_scanpaths(tmp_path / "w.json", placed)
    again = read_scanpaths(tmp_path / "w.json")
    assert all(frame_written(h) for h in again)
    assert assign_frames(again, (1, 1), source="w")[0].width == 640
