"""Object-level view: fixation -> object assignment, detections files, COCO-Search18 and Amazon trials."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gazekit.datasets.object_level import (
    ObjectTrial,
    amazon_object_trials,
    canonical_category,
    coco_search18_object_trials,
    grid_objects,
    read_detections,
    task_from_detection_file,
)
from gazekit.errors import DataFormatError
from gazekit.metrics.saliency import roc_auc
from gazekit.models.oat_inputs import OATTensorizer
from gazekit.types import ObjectBox, Task, assign_fixations_to_objects


def test_assignment_rule_inside_smallest_then_radius_then_background():
    objs = [ObjectBox(0, 0, 100, 100, "big"), ObjectBox(10, 10, 20, 20, "small"), ObjectBox(300, 300, 10, 10, "far")]
    x = np.array([15.0, 50.0, 100.0, 330.0, 500.0, 200.0])
    y = np.array([15.0, 50.0, 100.0, 305.0, 500.0, 200.0])
    got = assign_fixations_to_objects(x, y, objs, rule="radius", radius=30.0)
    # inside both -> smallest; inside big; on the edge (inclusive); near far's centre (305,305) within 30; nowhere
    assert got.tolist() == [1, 0, 0, 2, -1, -1]
    assert assign_fixations_to_objects(x, y, objs, rule="radius", radius=math.inf).tolist()[-2:] == [2, 2]
    assert assign_fixations_to_objects([], [], objs, rule="radius").shape == (0,)
    assert assign_fixations_to_objects([1.0], [1.0], [], rule="box").tolist() == [-1]
    with pytest.raises(DataFormatError):
        assign_fixations_to_objects([1.0], [1.0], objs, rule="radius", radius=-1)


def test_category_names_and_detection_file_tasks(tmp_path):
    assert canonical_category("tvmonitor") == "tv"
    assert canonical_category("pottedplant") == "potted plant"
    assert canonical_category("stop_sign") == "stop sign"
    assert task_from_detection_file("x/plotted_plant.csv") == "potted plant"
    assert task_from_detection_file("stop_sign.csv") == "stop sign"


def test_read_detections_real_sample(shared_data):
    d = read_detections(shared_data / "coco_search18" / "detections")
    assert len(d) == 3057
    assert {t for _, t in d} >= {"potted plant", "stop sign", "tv", "bottle"}
    boxes = d[("000000009527.jpg", "bottle")]
    assert [b.category for b in boxes][:2] == ["laptop", "bottle"]
    b = boxes[0]  # ['laptop', 99.87.., 1098, 680, 765, 351]
    assert (b.x, b.y, b.w, b.h) == (680.0, 351.0, 418.0, 414.0)
    assert b.confidence == pytest.approx(0.9987343549728394)
    for boxes in d.values():
        for o in boxes:
            assert o.x >= 0 and o.x + o.w <= 1680 and o.y >= 0 and o.y + o.h <= 1050  # clipped to the display


def test_read_detections_errors_name_line_and_field(tmp_path):
    f = tmp_path / "cup.csv"
    f.write_text("a.jpg,\"[['cup', 90.0, 10, 0, 10, 0]]\"\nb.jpg,\"[['cup', 90.0, 10, 0]]\"\n")
    with pytest.raises(DataFormatError) as e:
        read_detections(f)
    assert e.value.line == 2 and e.value.field == "detections[0]" and "cup.csv" in str(e.value)
    assert list(read_detections(f, errors="skip")) == [("a.jpg", "cup")]
    f.write_text("a.jpg,\"__import__('os').system('echo hi')\"\n")
    with pytest.raises(DataFormatError, match="Python-literal"):
        read_detections(f)
    f.write_text('a.jpg,"[]",extra\n')
    with pytest.raises(DataFormatError, match="2 columns"):
        read_detections(f)
    f.write_text('../../etc/passwd,"[]"\n')
    with pytest.raises(DataFormatError, match="root"):
        read_detections(f)
    f.write_text("a.jpg,\"[['cup', float('nan'), 1, 0, 1, 0]]\"\n")
    with pytest.raises(DataFormatError):
        read_detections(f)
    # reversed corners are swapped
    f.write_text("a.jpg,\"[['cup', 50, 0, 10, 0, 10]]\"\n")
    (b,) = read_detections(f)[("a.jpg", "cup")]
    assert (b.x, b.y, b.w, b.h) == (0, 0, 10, 10)


def test_coco_search18_object_trials_real_sample(shared_data, coco_search18_val):
    trials = coco_search18_object_trials(coco_search18_val, shared_data / "coco_search18" / "detections")
    # 322 of the 326 validation pairs have detections (the potted-plant file is named plotted_plant.csv)
    assert len(trials) + trials.skipped == 3258
    assert len(trials.skipped_keys) == 4 and trials.skipped == 40
    t = trials[0]
    assert isinstance(t, ObjectTrial)
    assert t.stimulus.width == 1680 and t.stimulus.height == 1050
    assert t.scanpath.objects.shape == (len(t.scanpath),)
    for t in trials[:500]:
        ti = t.target_index
        assert ti is not None
        tgt = t.stimulus.objects[ti]
        assert tgt.category == canonical_category(t.stimulus.target.category)
        assert tgt.attributes["is_target"]
        assert t.stimulus.target.box == tuple(t.scanpath.meta["bbox"])
        assert t.scanpath.objects.min() >= -1 and t.scanpath.objects.max() < len(t.stimulus.objects)
    # annotation fallback happens, and is flagged
    fallback = [t for t in trials if t.stimulus.meta["target_from_annotation"]]
    assert fallback and fallback[0].stimulus.objects[fallback[0].target_index].attributes["source"] == "detector"
    # most scanpaths reach the target object
    hit = np.mean([(t.scanpath.objects == t.target_index).any() for t in trials])
    assert hit > 0.8


def test_coco_object_trials_target_absent_and_skips(tmp_path):
    det = tmp_path / "det"
    det.mkdir()
    (det / "cup.csv").write_text("a.jpg,\"[['cup', 90.0, 210, 100, 210, 100], ['bowl', 80, 500, 400, 500, 400]]\"\n")
    recs = [
        {"name": "a.jpg", "subject": 1, "task": "cup", "condition": "present", "bbox": [100, 100, 110, 110],
         "X": [840, 150, 450], "Y": [525, 150, 450], "T": [100, 200, 300], "length": 3, "correct": 1},
        {"name": "a.jpg", "subject": 2, "task": "cup", "condition": "absent", "bbox": [100, 100, 110, 110],
         "X": [840, 455], "Y": [525, 455], "T": [100, 200], "length": 2, "correct": 1},
        {"name": "b.jpg", "subject": 1, "task": "cup", "condition": "present", "bbox": [1, 1, 1, 1],
         "X": [1], "Y": [1], "T": [1], "length": 1, "correct": 1},
        {"name": "a.jpg", "subject": 3, "task": "cup", "condition": "present", "bbox": [800, 800, 50, 50],
         "X": [820], "Y": [820], "T": [1], "length": 1, "correct": 1},
    ]  # fmt: skip
    f = tmp_path / "fix.json"
    f.write_text(json.dumps(recs))
    trials = coco_search18_object_trials(f, det, radius=20)
    assert trials.skipped == 1 and trials.skipped_keys == [("b.jpg", "cup")]
    tp, ta, miss = trials
    assert tp.target_index == 0 and tp.scanpath.objects.tolist() == [-1, 0, 1]
    assert ta.target_index is None and ta.stimulus.target.box is None and ta.scanpath.objects.tolist() == [-1, 1]
    # the detector missed this target: the annotated box becomes an extra object, looking like a detection
    ti = miss.target_index
    assert miss.stimulus.meta["target_from_annotation"] and miss.stimulus.objects[ti].category == "cup"
    assert miss.stimulus.objects[ti].confidence == pytest.approx(0.9)  # the only cup detection's confidence
    assert miss.stimulus.objects[ti].attributes == {"source": "detector", "detector_class": "cup", "is_target": True}
    assert miss.scanpath.objects.tolist() == [ti] and len(miss.stimulus.objects) == 3
    assert tp.stimulus is not miss.stimulus and tp.stimulus.objects[0] is not miss.stimulus.objects[0]


def test_amazon_object_trials_real_sample(shared_data):
    trials = amazon_object_trials(shared_data / "amazon_covers" / "Amazon.json")
    assert len(trials) == 600
    assert sum(len(t.scanpath) for t in trials) == 8683
    t = trials[0]
    assert len(t.stimulus.objects) == 84 and t.stimulus.name == "1.jpg"
    assert np.isnan(t.scanpath.duration).all()
    # target_0 in collage 1.jpg: box x 2184-2339, y 22-262 -> row 0, column 12 of the 6x14 grid
    assert t.target_index == 12 and t.stimulus.objects[12].category == "target_0"
    assert t.stimulus.target.box == (2184.0, 22.0, 155.0, 240.0)
    assert all(o.category == "cover" for i, o in enumerate(t.stimulus.objects) if i != 12)
    for t in trials:
        assert (t.scanpath.objects >= 0).all() and (t.scanpath.objects < 84).all()
        o = t.stimulus.objects[t.target_index]
        assert o.contains(*o.center)
    assert np.mean([t.scanpath.objects[-1] == t.target_index for t in trials]) > 0.7


def test_amazon_errors(tmp_path):
    good = {"1.jpg": {"fixations": {"1": [[10, 10], [550, 350]]}, "ground_truth": [{"xmin": 0, "xmax": 100, "ymin": 0, "ymax": 200}],
                      "size": {"width": 1400, "height": 600}, "target": "target_1.jpg"}}  # fmt: skip
    (t,) = amazon_object_trials(good)
    assert t.scanpath.objects.tolist() == [0, 14 * 3 + 5]  # cells 100x100: (550, 350) -> row 3, col 5
    bad = json.loads(json.dumps(good))
    bad["1.jpg"]["fixations"]["1"] = []
    with pytest.raises(DataFormatError, match="empty scanpath") as e:
        amazon_object_trials(bad)
    assert e.value.record == 0 and e.value.field == "fixations.1"
    bad = json.loads(json.dumps(good))
    bad["1.jpg"]["fixations"]["1"] = [[1, -3]]
    with pytest.raises(DataFormatError, match="negative"):
        amazon_object_trials(bad)
    bad = json.loads(json.dumps(good))
    del bad["1.jpg"]["size"]
    with pytest.raises(DataFormatError, match="size"):
        amazon_object_trials(bad)
    f = tmp_path / "Amazon.json"
    f.write_text(json.dumps(good)[:-10])
    with pytest.raises(DataFormatError, match="invalid JSON") as e:
        amazon_object_trials(f)
    assert "Amazon.json" in str(e.value)


def test_grid_objects_tile_the_frame():
    objs = grid_objects(1400, 600, 6, 14)
    assert len(objs) == 84 and objs[13].attributes == {"row": 0, "col": 13}
    assert sum(o.w * o.h for o in objs) == pytest.approx(1400 * 600)


def test_objects_from_coco_annotations(tmp_path):
    from gazekit.datasets.object_level import coco_annotation_objects

    inst = {
        "images": [{"id": 211326, "width": 640, "height": 480, "file_name": "COCO_val2014_000000211326.jpg"}],
        "annotations": [{"image_id": 211326, "bbox": [0, 0, 64, 48], "category_id": 44, "iscrowd": 0},
                        {"image_id": 999, "bbox": [0, 0, 1, 1], "category_id": 44}],
        "categories": [{"id": 44, "name": "bottle"}],
    }  # fmt: skip
    objs = coco_annotation_objects(inst, [("000000211326.jpg", "bottle"), ("000000000005.jpg", "cup")])
    assert list(objs) == [("000000211326.jpg", "bottle")]
    (o,) = objs[("000000211326.jpg", "bottle")]
    s = 1050 / 480  # letterboxed into 1680x1050: height fills, centred horizontally
    assert (o.x, o.y, o.w, o.h) == pytest.approx(((1680 - 640 * s) / 2, 0, 64 * s, 48 * s))
    assert o.category == "bottle" and o.attributes["source"] == "annotation"
    inst["annotations"][0]["category_id"] = 7
    with pytest.raises(DataFormatError, match="unknown category") as e:
        coco_annotation_objects(inst, [("000000211326.jpg", "bottle")])
    assert e.value.record == 0


def test_no_input_feature_singles_out_an_imputed_target(shared_data):
    """Trains nothing: with ``target_position: none`` the model's inputs must not separate the target from
    the other objects except by category and appearance (box). On the displays where the detector missed the
    target, its confidence is drawn like the detector's and its list position is random."""
    d = shared_data / "coco_search18"
    trials = coco_search18_object_trials(d / "coco_search18_fixations_TP_validation_split1.json", d / "detections")
    stims = list({id(t.stimulus): t.stimulus for t in trials}.values())
    imputed = [s for s in stims if s.meta["target_from_annotation"]]
    assert len(imputed) >= 20
    cats = sorted({o.category for s in stims for o in s.objects})
    tz = OATTensorizer(appearance="vector", categories=cats, target_position="none", grid_rows=10, grid_cols=16)
    conf_slot, conf_t, conf_others, rel_index = -1, [], [], []
    for s in imputed:
        ti = s.target_index
        enc = tz.encode_display(s, Task("search", s.target))
        n = enc.n_obj
        # the target token carries no location: its (row, col) are the zero rows of the position table
        assert enc.pos[n, 0] == enc.pos[n, 1] == tz.pe_rows
        conf_t.append(enc.app[ti, conf_slot])
        conf_others += [enc.app[i, conf_slot] for i, o in enumerate(s.objects) if i != ti]
        rel_index.append(ti / max(n - 1, 1))
        keys = {frozenset(k for k in o.attributes if k != "is_target") for o in s.objects}
        assert len(keys) == 1, f"{s.name}: object attributes differ in their keys: {keys}"
    # same-category detections over the whole file (the pool the imputed confidences are drawn from)
    imputed_cats = {s.objects[s.target_index].category for s in imputed}
    pool = [
        o.confidence
        for s in stims
        for i, o in enumerate(s.objects)
        if i != s.target_index and o.category in imputed_cats
    ]
    assert max(conf_t) < 1.0, "an imputed target with confidence 1.0 is identifiable"
    auc = roc_auc(np.array(conf_t), np.array(pool))
    assert 0.25 < auc < 0.75, f"confidence separates imputed targets from detections (AUC {auc:.2f})"
    # list position: not always last (the old loader appended it)
    assert np.mean(np.isclose(rel_index, 1.0)) < 0.5
    # the other objects of the same display: confidence alone does not pick the target out
    assert 0.2 < roc_auc(np.array(conf_t), np.array(conf_others)) < 0.8
