"""``gazekit demo`` end to end in quick mode, through the in-process CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gazekit.cli import main
from gazekit.imageio import read_image
from gazekit.io import read_scanpaths
from gazekit.models.registry import list_models

BASELINES = ("random", "center", "greedy", "oracle")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    main(["demo", "--quick", "--out", str(out)])
    return out


def test_demo_writes_report_metrics_overlays(demo_dir):
    m = json.loads((demo_dir / "metrics.json").read_text())
    assert m["quick"] is True and m["world"]["n_subjects"] == 10
    assert m["world"]["n_test_displays"] >= 4 and m["world"]["n_human_scanpaths"] == 10 * m["world"]["n_test_displays"]
    assert set(BASELINES) <= set(m["models"])
    # every registered scanpath model is either scored or listed with a reason (OAT: not trained, or scored)
    for spec in list_models("scanpath"):
        assert spec.name in m["models"] or spec.name in m["not_run"], spec.name
    if "oat" in m["not_run"]:
        assert "not trained" in m["not_run"]["oat"] and "gazekit fit" in m["not_run"]["oat"]
    for name in (*BASELINES, "human"):
        scores = m["human"]["scores"] if name == "human" else m["models"][name]["scores"]
        for metric in ("ss", "ss_objects", "scanmatch", "edit_distance", "found_rate", "tfp_auc", "delta"):
            s = scores[metric]
            assert s["n"] > 0 and math.isfinite(s["mean"]), (name, metric)
    assert m["models"]["oracle"]["scores"]["found_rate"]["mean"] == 1.0
    assert m["models"]["greedy"]["scores"]["found_rate"]["mean"] > m["models"]["random"]["scores"]["found_rate"]["mean"]

    html = (demo_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert "simulated observers (ceiling)" in html and "synthetic search world" in html
    for name in BASELINES:
        assert f">{name}</td>" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained
    assert len(m["overlays"]) == 2
    for ov in m["overlays"]:
        assert f'src="{ov["path"]}"' in html
        img = read_image(demo_dir / ov["path"])
        assert img.shape[0] > 320 and img.shape[1] > 1000

    preds = read_scanpaths(demo_dir / "predictions.csv")
    single = {k for k in m["models"] if "sampled" not in k}  # sampled rows are scored, not written
    assert {p.subject for p in preds} == single
    assert len(preds) == len(single) * m["world"]["n_test_displays"]
    # the primary rows of stochastic models: samples per display, listed first, with distribution columns
    rows = list(m["models"])
    assert rows[0].endswith("(sampled ×3)") and "target-dwell (sampled ×3)" in rows
    assert m["models"]["target-dwell (sampled ×3)"]["scores"]["dss_ss_objects"]["mean"] is not None
    assert m["models"]["oracle"]["scores"]["kl_ss"]["mean"] is not None


def test_demo_scores_every_gaze_model_against_the_control(demo_dir):
    """The gaze-following section: each registered gaze model on held-out scenes, beside the any-object control,
    in metrics.json, the report and the terminal table."""
    m = json.loads((demo_dir / "metrics.json").read_text())
    g = m["gaze_following"]
    assert g["scenes"] == 8 and g["split"] == "test"
    gaze_models = {s.name for s in list_models("gaze") if s.available}
    assert gaze_models and gaze_models | {"any-object control"} == set(g["rows"])
    for name, r in g["rows"].items():
        if "error" in r:  # a model whose weights are not in this checkout says so
            assert name != "any-object control" and r["error"]
            continue
        assert r["n_in"] > 0 and 0.0 <= r["on_target"] <= 1.0 and r["weights"] and r["how"], name
        assert 0.0 <= r["dice"] <= 1.0 and math.isfinite(r["auc"]), name
    assert "its own mask and class" in g["rows"]["gazeseg"]["how"]
    assert g["rows"]["any-object control"]["weights"] == "none"
    html = (demo_dir / "report.html").read_text()
    assert "Gaze following on held-out synthetic scenes" in html and ">any-object control</td>" in html


def test_demo_gaze_scenes_are_drawn_like_the_bundled_models_recipes():
    """The demo's scene settings are written out (an installed package has no configs/ to read): they must stay
    those of the recipes that trained the bundled ViTGaze and GazeSeg."""
    import yaml

    from gazekit.demo import GAZE_SCENES

    root = Path(__file__).resolve().parents[2]
    for recipe in ("vitgaze_synthetic.yaml", "gazeseg_synthetic.yaml"):
        d = yaml.safe_load((root / "configs" / "experiments" / recipe).read_text())["data"]["init_args"]
        got = {"width": d["image_size"], "height": d["image_size"], "head_radius": tuple(d["head_radius"]),
               "head_grid": d["head_grid"]}  # fmt: skip
        assert got == GAZE_SCENES, recipe
        assert d.get("facing_cue", True) and d.get("contrast_hair", True) and d.get("min_object_gap", 35.0) == 35.0


def test_demo_summary_lists_the_gaze_rows(tmp_path, capsys):
    main(["demo", "--n-displays", "4", "--models", "oracle,head-cone", "--overlays", "0", "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert "gaze following, 150 held-out synthetic scenes:" in out
    assert "head-cone" in out and "any-object control" in out


def test_demo_is_deterministic_and_embeds(tmp_path, demo_dir):
    out = tmp_path / "again"
    main(["demo", "--quick", "--out", str(out), "--models", "greedy,oracle", "--overlays", "1", "--embed-images"])
    a = json.loads((demo_dir / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    assert set(b["models"]) == {"greedy", "oracle"}
    for name in ("greedy", "oracle"):
        assert a["models"][name]["scores"] == b["models"][name]["scores"]
    html = (out / "report.html").read_text()
    assert 'src="data:image/png;base64,' in html


def test_demo_bad_options(tmp_path, capsys):
    for extra, msg in (
        (["--n-displays", "1"], "--n-displays"),
        (["--models", "nope"], "unknown model"),
        (["--models", "rastervision-nope"], "unknown model"),
        (["--test-fraction", "1.5"], "--test-fraction"),
    ):
        with pytest.raises(SystemExit) as ei:
            main(["demo", "--quick", "--out", str(tmp_path / "x"), *extra])
        assert ei.value.code == 2 and msg in capsys.readouterr().err


def test_report_cells():
    from gazekit.report import format_cell

    assert format_cell({"mean": 0.5, "std": 0.1, "n": 3}).startswith("0.500 ± 0.100")
    assert format_cell(None) == "–" and format_cell({"mean": None, "std": None, "n": 0}) == "–"


def test_demo_progress_on_stderr(tmp_path, capsys, monkeypatch):
    args = ["demo", "--n-displays", "4", "--models", "oracle", "--overlays", "0", "--out", str(tmp_path / "p")]
    monkeypatch.delenv("GAZEKIT_NO_PROGRESS", raising=False)
    main(args)
    cap = capsys.readouterr()
    assert "[demo" in cap.err and "building the synthetic world" in cap.err
    assert "oracle" in cap.out and "report:" in cap.out  # the summary table goes to stdout
    monkeypatch.setenv("GAZEKIT_NO_PROGRESS", "1")
    main(args)
    assert "[demo" not in capsys.readouterr().err
    assert not (tmp_path / "p" / "overlays").exists()


def _files(d) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.slow  # two demo runs, one in a new process: about a minute on a busy 2-core machine
def test_a_killed_demo_leaves_the_previous_run_intact(tmp_path, demo_dir):
    """``gazekit demo`` killed (``os._exit``) after writing its overlays, predictions and metrics but before
    the report: the output folder still holds the previous complete run, byte for byte; the next run removes
    the killed run's staging folder and publishes a complete new run."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "out"
    shutil.copytree(demo_dir, out)
    before = _files(out)
    script = (
        "import os, sys, gazekit.report as r\n"
        "r.write_report = lambda *a, **k: os._exit(9)\n"
        "from gazekit.cli import main\n"
        "main(['demo', '--quick', '--models', 'random', '--seed', '3', '--out', sys.argv[1]])\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), GAZEKIT_NO_PROGRESS="1")
    res = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 9, res.stderr[-3000:]
    stale = [p for p in out.iterdir() if p.name.startswith(".demo.")]
    assert len(stale) == 1 and (stale[0] / "metrics.json").is_file()  # the killed run got that far
    assert _files(out) == {**before, **_files(out)} and {k: v for k, v in _files(out).items() if k in before} == before
    assert not [k for k in _files(out) if not k.startswith(".demo.") and k not in before]

    main(["demo", "--quick", "--models", "random", "--seed", "3", "--out", str(out)])
    assert not [p for p in out.iterdir() if p.name.startswith(".demo.")]
    m = json.loads((out / "metrics.json").read_text())
    assert m["world"]["seed"] == 3 and set(m["models"]) == {"random"}
    assert "random" in (out / "report.html").read_text()
