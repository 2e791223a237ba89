"""score_scanpaths / human_consistency / `gazekit score`: pairing protocol, names, errors, real data."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from gazekit.errors import ConfigError, DataFormatError, GazekitError
from gazekit.io import assign_frames, read_scanpaths, write_scanpaths
from gazekit.metrics import SCANPATH_METRICS, human_consistency, resolve_metrics, score_scanpaths
from gazekit.metrics import cli as score_cli
from gazekit.metrics import scanpath as sm
from gazekit.metrics import search as se
from gazekit.types import Scanpath


def _sp(xy, stim="a.jpg", task="cup", subject="1", bbox=(300, 300, 100, 100), objects=None, dur=True):
    xy = np.asarray(xy, float)
    d = np.linspace(100, 400, len(xy)) if dur else None
    return Scanpath(
        xy[:, 0],
        xy[:, 1],
        d,
        stimulus=stim,
        task=task,
        subject=subject,
        condition="present",
        width=640,
        height=480,
        objects=objects,
        meta={"bbox": list(bbox)},
    )


def _world(seed=0, n_stim=3, n_subj=4):
    rng = np.random.default_rng(seed)
    hum = []
    for s in range(n_stim):
        for k in range(n_subj):
            n = int(rng.integers(2, 8))
            xy = rng.uniform(0, 480, (n, 2))
            hum.append(_sp(xy, stim=f"{s}.jpg", subject=str(k), objects=rng.integers(0, 4, n)))
    return hum


def test_resolve_metrics_case_aliases_and_errors():
    assert resolve_metrics("SS, MultiMatch ,mm_shape,TFP") == ["ss", "multimatch", "mm_shape", "tfp_auc"]
    assert resolve_metrics(None) == list(SCANPATH_METRICS)
    with pytest.raises(ConfigError) as e:
        resolve_metrics(["ss", "Bogus"])
    assert "'Bogus'" in str(e.value) and "scanmatch" in str(e.value)
    for name in (
        "ss",
        "ss_dur",
        "scanmatch",
        "scanmatch_dur",
        "multimatch",
        "edit_distance",
        "dtw",
        "frechet",
        "eyenalysis",
        "tde",
        "tfp_auc",
        "prob_mismatch",
        "found_rate",
        "fixations_to_target",
        "delta",
        "ss_objects",
        "edit_objects",
    ):
        assert name in SCANPATH_METRICS


def test_pairing_protocol_is_mean_over_same_key_humans_then_over_predictions():
    hum = _world()
    preds = [_sp(np.random.default_rng(9).uniform(0, 480, (5, 2)), stim=f"{s}.jpg", subject="m") for s in range(3)]
    preds.append(_sp([[1, 1], [2, 2], [3, 3]], stim="unmatched.jpg", subject="m"))
    r = score_scanpaths(preds, hum, ["dtw", "scanmatch", "multimatch"], stimuli_sizes=None)
    for i, p in enumerate(preds[:3]):
        hs = [h for h in hum if h.key == p.key]
        assert r["dtw"].values[i] == pytest.approx(np.mean([sm.dtw(p, h) for h in hs]))
        assert r["scanmatch"].values[i] == pytest.approx(np.mean([sm.scanmatch(p, h, (640, 480)) for h in hs]))
        mm = np.array([list(sm.multimatch(p, h, (640, 480)).values()) for h in hs])
        np.testing.assert_allclose(r["mm_shape"].values[i], np.nanmean(mm[:, 0]))
    assert math.isnan(r["dtw"].values[3]) and r["dtw"].n == 3
    assert r["dtw"].mean == pytest.approx(np.mean(r["dtw"].values[:3]))
    assert r["dtw"].pairs.shape == (12,) and r["dtw"].pair_index.shape == (12, 2)
    assert not r["dtw"].higher_is_better and r["scanmatch"].higher_is_better


def test_prediction_without_task_matches_every_human_of_its_stimulus():
    hum = _world(5, n_stim=1, n_subj=3)
    hum += [_sp(h.xy, stim=h.stimulus, task="bowl", subject=h.subject) for h in hum]
    pred = Scanpath(hum[0].x, hum[0].y, hum[0].duration, stimulus=hum[0].stimulus, width=640, height=480)
    r = score_scanpaths([pred], hum, ["dtw", "ss"])
    assert r["dtw"].pairs.size == 6
    assert r["dtw"].values[0] == pytest.approx(np.mean([sm.dtw(pred, h) for h in hum]))


def test_default_metrics_follow_the_data_and_all_run():
    hum = _world(1)
    preds = [h for h in hum if h.subject == "0"]
    humans = [h for h in hum if h.subject != "0"]
    for p in preds:
        p.meta["target_object"] = 1
    for h in humans:
        h.meta["target_object"] = 1
    r = score_scanpaths(preds, humans)
    for k in (
        "ss",
        "ss_dur",
        "scanmatch",
        "scanmatch_dur",
        "mm_shape",
        "edit_distance",
        "dtw",
        "frechet",
        "eyenalysis",
        "tde",
        "ss_objects",
        "edit_objects",
        "tfp_auc",
        "prob_mismatch",
        "found_rate",
        "fixations_to_target",
        "scanpath_ratio",
        "delta",
    ):
        assert k in r, k
    assert 0 <= r["ss"].mean <= 1 and 0 <= r["ss_objects"].mean <= 1
    want = se.tfp_auc(se.target_found_curve(preds, 6))
    assert r["tfp_auc"].mean == pytest.approx(want)
    assert r["delta"].mean == pytest.approx(se.behavioural_delta(preds, humans)["delta"])


def test_errors_are_gazekit_errors():
    hum = _world()
    with pytest.raises(DataFormatError, match="empty"):
        score_scanpaths([], hum)
    with pytest.raises(DataFormatError, match="no prediction matches"):
        score_scanpaths([_sp([[1, 1]], stim="zzz.jpg")], hum, ["dtw"])
    with pytest.raises(DataFormatError, match="object indices"):
        score_scanpaths([_sp([[1, 1], [5, 5]], stim="0.jpg")], hum, ["ss_objects"])
    nodur = _sp([[1, 1], [5, 5]], stim="0.jpg", dur=False)
    with pytest.raises(DataFormatError, match="durations"):
        score_scanpaths([nodur], hum, ["scanmatch_dur"])
    noframe = Scanpath([1, 2, 3], [1, 2, 3], stimulus="0.jpg", task="cup")
    with pytest.raises(DataFormatError, match="frame size"):
        score_scanpaths([noframe], [Scanpath([1, 2], [1, 2], stimulus="0.jpg", task="cup")], ["scanmatch"])
    ok = score_scanpaths(
        [noframe],
        [Scanpath([1, 2], [1, 2], stimulus="0.jpg", task="cup")],
        ["scanmatch"],
        stimuli_sizes={"0.jpg": (100, 100)},
    )
    assert 0 <= ok["scanmatch"].mean <= 1
    with pytest.raises(DataFormatError):
        score_scanpaths(["not a scanpath"], hum)


def test_human_consistency_excludes_self_pairs():
    hum = _world(2, n_stim=2, n_subj=3)
    r = human_consistency(hum, ["dtw", "scanmatch", "tfp_auc", "prob_mismatch"])
    # self-pairs would give DTW 0: the LOSO mean must equal the mean over other subjects only
    for i, h in enumerate(hum):
        others = [o for o in hum if o.key == h.key and o.subject != h.subject]
        assert r["dtw"].values[i] == pytest.approx(np.mean([sm.dtw(h, o) for o in others]))
    assert r["dtw"].pairs.size == 2 * 3 * 2
    assert r["tfp_auc"].mean == pytest.approx(se.tfp_auc(se.target_found_curve(hum, 6)))
    assert r["prob_mismatch"].n == 3
    with pytest.raises(DataFormatError, match="2 subjects"):
        human_consistency([hum[0]], ["dtw"])


def _run_cli(tmp_path, pred, human, *extra):
    parser = argparse.ArgumentParser()
    score_cli.add_arguments(parser)
    out = tmp_path / "out.txt"
    args = parser.parse_args(["--pred", str(pred), "--human", str(human), "--out", str(out), *extra])
    assert score_cli.run(args) == 0
    return out.read_text()


def test_cli_formats_and_errors(tmp_path, capsys):
    hum = _world(3)
    pred_p, hum_p = tmp_path / "pred.json", tmp_path / "human.json"
    write_scanpaths(pred_p, [h for h in hum if h.subject == "0"])
    write_scanpaths(hum_p, [h for h in hum if h.subject != "0"])
    table = _run_cli(tmp_path, pred_p, hum_p, "--metrics", "SS,ScanMatch,mm_shape")
    assert table.splitlines()[0].split()[:4] == ["metric", "mean", "std", "n"]
    assert any(line.startswith("scanmatch") for line in table.splitlines())
    js = json.loads(_run_cli(tmp_path, pred_p, hum_p, "--metrics", "ss,tfp_auc", "--format", "json"))
    assert set(js["metrics"]) == {"ss", "tfp_auc"} and js["metrics"]["ss"]["n"] == 3
    csv_text = _run_cli(tmp_path, pred_p, hum_p, "--metrics", "dtw", "--format", "csv")
    assert csv_text.splitlines()[0] == "metric,mean,std,n,higher_is_better"
    parser = argparse.ArgumentParser()
    score_cli.add_arguments(parser)
    with pytest.raises(GazekitError, match="valid names"):
        score_cli.run(parser.parse_args(["--pred", str(pred_p), "--human", str(hum_p), "--metrics", "nope"]))
    other = tmp_path / "other.csv"
    write_scanpaths(other, [_sp([[1, 1], [2, 2]], stim="elsewhere.jpg")])
    with pytest.raises(GazekitError, match="no prediction matches"):
        score_cli.run(parser.parse_args(["--pred", str(other), "--human", str(hum_p)]))
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(GazekitError, match="no scanpaths"):
        score_cli.run(parser.parse_args(["--pred", str(empty), "--human", str(hum_p)]))
    assert score_cli.run(parser.parse_args(["--pred", "x", "--human", "y", "--list-metrics"])) == 0
    assert "tfp_auc" in capsys.readouterr().out


def test_main_dispatches_score(tmp_path, capsys):
    from gazekit.cli import main

    hum = _world(4)
    pred_p, hum_p = tmp_path / "p.json", tmp_path / "h.json"
    write_scanpaths(pred_p, [h for h in hum if h.subject == "1"])
    write_scanpaths(hum_p, [h for h in hum if h.subject != "1"])
    main(["score", "--pred", str(pred_p), "--human", str(hum_p), "--metrics", "ss"])
    assert "ss" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["score", "--pred", str(pred_p), "--human", str(hum_p), "--metrics", "bogus"])
    assert e.value.code == 2


def test_coco_search18_subset_human_consistency(coco_search18_val):
    hum = read_scanpaths(coco_search18_val)
    keys = sorted({h.key for h in hum})[:12]
    sub = [h for h in hum if h.key in set(keys)]
    r = human_consistency(sub, ["ss", "scanmatch", "multimatch", "tfp_auc"])
    assert 0.3 < r["ss"].mean < 0.7 and 0.3 < r["scanmatch"].mean < 0.7
    assert 0.8 < r["mm_shape"].mean <= 1.0
    assert 1.0 <= r["tfp_auc"].mean <= 7.0
    assert r["ss"].n == len(sub)


def test_coco_search18_human_ceilings_match_docs(coco_search18_val):
    """The full leave-one-subject-out run (about 5 s) reproduces the table in docs/metrics.md."""
    hum = read_scanpaths(coco_search18_val)
    r = human_consistency(hum, ["ss", "scanmatch", "multimatch", "tfp_auc"])
    documented = {
        "ss": 0.4910,
        "scanmatch": 0.4944,
        "mm_shape": 0.9412,
        "mm_direction": 0.7359,
        "mm_length": 0.9287,
        "mm_position": 0.9083,
        "mm_duration": 0.6793,
        "tfp_auc": 4.6240,
    }
    for k, v in documented.items():
        assert r[k].mean == pytest.approx(v, abs=6e-5), k
    assert r["ss"].pairs.size == 29304 and r["mm_shape"].n == 2629


def test_semantic_ss_by_name_with_label_maps():
    lm = np.zeros((480, 640), dtype=np.int64)
    lm[:, 320:] = 7  # left half label 0, right half label 7
    a = _sp([[10, 10], [400, 10], [20, 20]], subject="1")
    b = _sp([[30, 30], [600, 50]], subject="2")
    r = score_scanpaths([a], [b], ["sem_ss"], label_maps={"a.jpg": lm})
    assert r["sem_ss"].mean == pytest.approx(2 / 3)  # [0, 7, 0] vs [0, 7]
    with pytest.raises(DataFormatError, match="label_maps"):
        score_scanpaths([a], [b], ["sem_ss"])


def test_cli_distribution_protocol_with_detections_on_coco_search18(coco_search18_val, tmp_path):
    recs = json.loads(coco_search18_val.read_text())
    names = sorted({r["name"] for r in recs})[:10]
    recs = [r for r in recs if r["name"] in names]
    pred_p, hum_p = tmp_path / "pred.json", tmp_path / "hum.json"
    pred_p.write_text(json.dumps([r for r in recs if r["subject"] in (1, 2)]))
    hum_p.write_text(json.dumps([r for r in recs if r["subject"] not in (1, 2)]))
    det = coco_search18_val.parent / "detections"
    js = json.loads(
        _run_cli(
            tmp_path,
            pred_p,
            hum_p,
            "--protocol",
            "distribution",
            "--detections",
            str(det),
            "--format",
            "json",
            "--size",
            "1680x1050",
        )  # fmt: skip
    )
    m = js["metrics"]
    for k in ("kl_ss", "kl_ss_objects", "kl_edit_objects", "rss_ss_objects", "dss_ss_objects", "delta"):
        assert m[k]["mean"] is not None, k
    assert m["kl_ss_objects"]["higher_is_better"] is False and 0 <= m["rss_ss_objects"]["mean"] <= 1
    assert js["protocol"] == "distribution" and js["displays_with_objects"] >= 9
    # the object strings are the experiments' (containing box, else nearest centre: never background)
    raw = assign_frames(read_scanpaths(hum_p), (1680, 1050), source="hum.json")
    hum = score_cli.with_objects(raw, score_cli._stimuli(raw, argparse.Namespace(detections=str(det))))
    assert all(h.objects.min() >= 0 for h in hum)
    # per-pair protocol, the command as a user types it: object metrics appear once detections are
    # given, and the detections' display is the frame of records without width/height (said in the output)
    js = json.loads(_run_cli(tmp_path, pred_p, hum_p, "--detections", str(det), "--format", "json"))
    assert {"ss_objects", "edit_objects", "delta"} <= set(js["metrics"])
    assert "COCO-Search18 display" in js["human_frame"] and js["human_frame"].startswith("1680x1050")
    # without detections the same files are refused, naming the option
    with pytest.raises(GazekitError, match="pred.json.*--pred-frame WxH"):
        _run_cli(tmp_path, pred_p, hum_p, "--format", "json")


def test_cli_boxes_file_and_options(tmp_path):
    hum = [_sp([[320, 240], [350, 350], [50, 50]], subject=str(k)) for k in range(3)]
    pred = [_sp([[320, 240], [340, 330]], subject="m")]
    pred_p, hum_p, box_p = tmp_path / "p.csv", tmp_path / "h.csv", tmp_path / "boxes.json"
    write_scanpaths(pred_p, pred)
    write_scanpaths(hum_p, hum)
    boxes = {"a.jpg": [{"box": [300, 300, 100, 100], "category": "cup", "target": True}, {"box": [0, 0, 100, 100]}]}
    box_p.write_text(json.dumps(boxes))
    js = json.loads(
        _run_cli(tmp_path, pred_p, hum_p, "--boxes", str(box_p), "--metrics", "ss_objects,delta", "--format", "json")
    )
    # humans: objects [0, 0, 1] (centre -> nearest centre is the target box); prediction [0, 0]
    assert js["metrics"]["ss_objects"]["mean"] == pytest.approx(2 / 3)
    js = json.loads(
        _run_cli(
            tmp_path, pred_p, hum_p, "--metrics", "tde", "--tde-k", "1", "--format", "json", "--drop-first-fixation"
        )
    )
    want = score_scanpaths(pred, hum, ["tde"], tde_k=1, drop_first_fixation=True)["tde"].mean
    assert js["metrics"]["tde"]["mean"] == pytest.approx(want)
    assert want != pytest.approx(score_scanpaths(pred, hum, ["tde"], tde_k=1)["tde"].mean)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a.jpg": [{"box": [1, 2]}]}))
    with pytest.raises(DataFormatError, match="box"):
        _run_cli(tmp_path, pred_p, hum_p, "--boxes", str(bad))


def test_tde_k_is_an_option():
    hum = _world(5)
    preds = [h for h in hum if h.subject == "0"]
    humans = [h for h in hum if h.subject != "0"]
    for k in (1, 2, 3):
        r = score_scanpaths(preds, humans, ["tde"], tde_k=k)
        pi, hi = r["tde"].pair_index.T
        want = sm.time_delay_embedding_batch([humans[j] for j in hi], [preds[i] for i in pi], k=k)
        np.testing.assert_allclose(r["tde"].pairs, want)
