"""A user's own photo and data end to end: objects (boxes files, detector, proposer), every model through
``gazekit infer`` on a photo-sized JPEG, the (image, target) pairs of a fixation file, heads and people."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gazekit.cli import main
from gazekit.errors import DataFormatError, WeightsNotFoundError
from gazekit.io import read_scanpaths
from gazekit.models.baselines import TargetSimilarityGreedy
from gazekit.models.registry import list_models
from gazekit.objects import (
    find_detector,
    nms,
    objects_for_image,
    propose_objects,
    read_boxes,
    target_exemplar,
    write_boxes_json,
)
from gazekit.types import GazeMap, ObjectBox, Stimulus, Target, Task


def _photo(w: int = 1280, h: int = 960) -> np.ndarray:
    """A photo-sized RGB image: smooth noise with a red block and a green disc (two obvious objects)."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (31, 31), 10)
    cv2.rectangle(img, (300, 300), (500, 600), (255, 0, 0), -1)
    cv2.circle(img, (900, 400), 120, (0, 200, 0), -1)
    return img


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("photo") / "photo.jpg"
    cv2.imwrite(str(p), cv2.cvtColor(_photo(), cv2.COLOR_RGB2BGR))
    return p


def _iou(a: tuple, b: tuple) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0, min(ax2, bx2) - max(a[0], b[0])) * max(0, min(ay2, by2) - max(a[1], b[1]))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# --------------------------------------------------------------------------------------------- boxes files
def test_read_boxes_every_format(tmp_path: Path) -> None:
    # COCO-Search18 detections CSV: display px (1680x1050), mapped into a 640x480 image as letterboxed
    det = tmp_path / "cup.csv"
    det.write_text("a.jpg,\"[['cup', 90.0, 1098, 680, 765, 351]]\"\nb.jpg,\"[['bowl', 50.0, 300, 200, 300, 200]]\"\n")
    objs, notes = read_boxes(det, image_name="a.jpg", image_size=(640, 480))
    assert len(objs) == 1 and objs[0].category == "cup" and objs[0].confidence == pytest.approx(0.9)
    k = 1050 / 480  # letterbox scale; x offset (1680 - 640 k) / 2
    assert objs[0].x == pytest.approx((680 - (1680 - 640 * k) / 2) / k) and objs[0].y == pytest.approx(351 / k)
    assert "letterboxed" in notes[0]
    with pytest.raises(DataFormatError, match="no detections for image 'c.jpg'"):
        read_boxes(det, image_name="c.jpg")
    # COCO instances JSON and COCO results list (image px)
    coco = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 640, "height": 480}, {"id": 8, "file_name": "b.jpg"}],
        "annotations": [
            {"image_id": 7, "bbox": [10, 20, 30, 40], "category_id": 47},
            {"image_id": 8, "bbox": [1, 1, 2, 2]},
        ],
        "categories": [{"id": 47, "name": "cup"}],
    }
    objs, _ = read_boxes(json.dumps(coco).encode(), "coco.json", image_name="a.jpg", image_size=(640, 480))
    assert [(o.xywh, o.category) for o in objs] == [((10, 20, 30, 40), "cup")]
    res = [{"file_name": "a.jpg", "bbox": [5, 5, 10, 10], "category": "dining table", "score": 0.5}]
    objs, _ = read_boxes(json.dumps(res).encode(), "res.json", image_name="a.jpg")
    assert objs[0].category == "dining table" and objs[0].confidence == 0.5
    # gazekit's own JSON (round trip) and CSV
    g = tmp_path / "boxes.json"
    write_boxes_json(g, "a.jpg", (640, 480), [ObjectBox(1, 2, 3, 4, "cup", 0.25)], "test")
    objs, _ = read_boxes(g, image_name="a.jpg", image_size=(640, 480))
    assert objs[0].xywh == (1, 2, 3, 4) and objs[0].confidence == 0.25
    c = tmp_path / "boxes.csv"
    c.write_text("image,x,y,w,h,category\na.jpg,10,10,50,60,cup\nb.jpg,0,0,5,5,bowl\n")
    objs, _ = read_boxes(c, image_name="a.jpg", image_size=(640, 480))
    assert [o.category for o in objs] == ["cup"]
    # bad input names the file
    bad = tmp_path / "bad.json"
    bad.write_text('{"objects": [{"bbox": [0, 0, -1, 5]}]}')
    with pytest.raises(DataFormatError, match=r"bad\.json.*w, h > 0"):
        read_boxes(bad)
    with pytest.raises(DataFormatError, match="outside"):
        read_boxes(c, image_name="a.jpg", image_size=(5, 5))


def test_nms_matches_a_plain_reference() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (60, 2))
    b = np.concatenate([xy, xy + rng.uniform(5, 40, (60, 2))], 1)
    s = rng.random(60)

    def ref(iou: float) -> list[int]:
        keep: list[int] = []
        for i in sorted(range(60), key=lambda i: -s[i]):
            ok = True
            for j in keep:
                iw = max(0, min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
                ih = max(0, min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
                a_i = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1])
                a_j = (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
                ok &= iw * ih / (a_i + a_j - iw * ih) <= iou
            if ok:
                keep.append(i)
        return keep

    for iou in (0.0, 0.3, 0.7):
        assert nms(b, s, iou) == ref(iou)
    assert nms(np.zeros((0, 4)), np.zeros(0)) == [] and nms(b[:1], s[:1]) == [0]


def test_proposer_finds_the_objects_without_categories() -> None:
    img = _photo()
    objs = propose_objects(img)
    assert objs and all(o.category == "object" and 0 < o.confidence < 1 for o in objs)
    for truth in ((300, 300, 200, 300), (780, 280, 240, 240)):
        assert max(_iou(o.xywh, truth) for o in objs) > 0.25
    assert propose_objects(np.full((50, 60, 3), 128, np.uint8)) == []
    s = objects_for_image(img, "photo.jpg", detector=None, target_category="cup")
    assert s.source == "proposer" and not s.categorised and "OpenCV proposer" in s.label
    assert target_exemplar(s, img, "cup") is None  # no categories: never a made-up match


# --------------------------------------------------------------------------------------------- detector
def _tiny_owlv2(folder: Path) -> None:
    """A random OWLv2 in the published transformers layout (config, safetensors, processor, tokenizer)."""
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    text = {"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                "num_attention_heads": 2, "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}  # fmt: skip
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 64,
                  "patch_size": 16}  # fmt: skip
    model = Owlv2ForObjectDetection(Owlv2Config(text_config=text, vision_config=vision, projection_dim=32)).eval()
    model.save_pretrained(folder)
    Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}), tokenizer=tok
    ).save_pretrained(folder)


def test_detector_from_local_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    import torch

    from gazekit.objects import OpenVocabularyDetector

    torch.manual_seed(0)
    folder = tmp_path / "weights" / "owlv2"
    _tiny_owlv2(folder)
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert find_detector() == ("owlv2", folder)
    img = _photo(160, 120)
    det = OpenVocabularyDetector(folder)
    boxes, scores = det.scores(img, ["cup", "dog"])
    # boxes against transformers' own post-processing (OWLv2 pads to a square, so boxes scale by the long side)
    inputs = det.processor(text=[["cup", "dog"]], images=img, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = det.model(**inputs)
    ref = det.processor.post_process_grounded_object_detection(out, threshold=-1.0, target_sizes=[(120, 160)])[0]
    top = int(np.argmax(scores.max(1)))
    np.testing.assert_allclose(
        boxes[top], ref["boxes"][int(ref["scores"].argmax())].numpy().clip(0, [160, 120, 160, 120]), atol=1e-3
    )
    s = objects_for_image(img, "p.jpg", detector="auto", target_category="zebra", threshold=0.0, max_objects=5)
    assert s.source == "detector" and s.categorised and 1 <= len(s.objects) <= 5
    assert set(s.objects[0].attributes["scores"]) >= {"cup", "zebra"}  # COCO vocabulary + the target
    ex = target_exemplar(s, img, s.objects[0].category)
    assert ex is not None and ex[0].ndim == 3
    with pytest.raises(WeightsNotFoundError, match="not a detector folder"):
        find_detector(path=tmp_path)


# --------------------------------------------------------------------------------------------- greedy
def test_greedy_says_when_the_category_was_not_used() -> None:
    img = _photo(320, 240)
    stim = Stimulus("p.png", 320, 240, image=img)
    sp = TargetSimilarityGreedy(threshold=0.0).predict_scanpath(stim, Task("search", Target("cup")))
    assert sp.meta["cue"] == "distinctiveness" and sp.meta["stopped"] != "match"
    assert "could not be used" in sp.meta["note"]
    # categorised objects: the category cue, and a match only on a cup
    objs = [ObjectBox(10, 10, 40, 40, "bowl", 0.9), ObjectBox(200, 100, 40, 40, "cup", 0.95)]
    stim = Stimulus("p.png", 320, 240, image=img, objects=objs)
    sp = TargetSimilarityGreedy().predict_scanpath(stim, Task("search", Target("cup")))
    assert sp.meta["cue"] == "category" and sp.meta["stopped"] == "match" and sp.objects[-1] == 1
    assert "note" not in sp.meta


# --------------------------------------------------------------------------------------------- infer
def _infer_args(spec, photo: Path, out: Path) -> list[str]:  # noqa: ANN001
    args = ["infer", "--model", spec.name, "--out", str(out), "--detector", "none", str(photo)]
    if spec.kind == "gaze":
        return [*args, "--head-box", "600,100,700,220", "--head-box", "100,100,180,200"]
    if "search" in spec.tasks:
        return [*args, "--target-category", "cup"]
    return [*args, "--task", "freeview"]


#: what a model may answer instead of predicting on a photo with no objects given (each names what to supply)
NAMED = (
    "is not available in this install",
    "cannot be used with class-agnostic OpenCV proposals; give --target-image",
    "oracle is a perfect detector: on a photo it needs the target's location",
    "weights not found",
    "searches for a target *image*: give a target crop (`gazekit infer --target-image FILE`",
)


@pytest.mark.parametrize("spec", list_models(), ids=lambda s: s.name)
def test_every_model_on_a_photo_predicts_or_says_why(spec, photo_path: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    try:
        main(_infer_args(spec, photo_path, out))
    except SystemExit as e:
        assert e.code == 2
        err = capsys.readouterr().err
        assert any(n.lower() in err.lower() for n in NAMED), err
        return
    err = capsys.readouterr().err
    assert (out / "photo_overlay.png").is_file()
    info = json.loads((out / "info.json").read_text())
    if info["weights_source"] == "synthetic-data":
        assert "not trained on real images" in err and "not trained on real images" in info["notes"][0]
    if spec.kind == "scanpath":
        sps = read_scanpaths(out / "photo.csv")
        assert len(sps) == 1 and sps[0].width == 1280
        if spec.objects:
            assert "OpenCV proposer" in err and (out / "photo_objects.json").is_file()


def test_oat_on_a_photo_with_a_boxes_file_and_a_target_box(photo_path: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    boxes = tmp_path / "boxes.json"
    write_boxes_json(
        boxes,
        "photo.jpg",
        (1280, 960),
        [ObjectBox(300, 300, 200, 300, "cup"), ObjectBox(780, 280, 240, 240, "ball")],
        "me",
    )
    out = tmp_path / "o"
    main(["infer", "--model", "oat", "--objects", str(boxes), "--target-box", "300,300,200,300", "--samples", "3",
          "--out", str(out), str(photo_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert "2 boxes from boxes.json" in err and "not trained on real images" in err
    sps = read_scanpaths(out / "photo.csv")
    assert len(sps) == 3 and {s.subject for s in sps} == {"oat-0", "oat-1", "oat-2"}
    assert all(np.all(s.objects[1:] >= 0) for s in sps)  # OAT fixates the given objects


def test_pairs_of_a_fixation_file_to_one_predictions_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """The user's loop without real data: COCO-Search18-style JSON + detections -> predictions -> score."""
    recs = [
        {"name": f"{i}.jpg", "subject": s, "task": "cup", "condition": "present", "bbox": [700, 400, 100, 100],
         "X": [840, 600, 750], "Y": [525, 300, 450], "T": [200, 250, 300]}
        for i in range(3) for s in (1, 2)
    ]  # fmt: skip
    fix = tmp_path / "other.json"
    fix.write_text(json.dumps(recs))
    det = tmp_path / "det"
    det.mkdir()
    rows = [f"{i}.jpg,\"[['cup', 90.0, 800, 700, 500, 400], ['bowl', 80.0, 650, 550, 350, 250]]\"" for i in range(2)]
    (det / "cup.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    main(["infer", "--model", "greedy", "--scanpaths", str(fix), "--detections", str(det), "--samples", "2",
          "--format", "json", "--out", str(out)])  # fmt: skip
    assert "1 (image, target) pair(s) have no detections" in capsys.readouterr().err
    preds = read_scanpaths(out / "predictions.json")
    assert len(preds) == 4 and {(p.stimulus, p.task) for p in preds} == {("0.jpg", "cup"), ("1.jpg", "cup")}
    assert all(p.width == 1680 and p.height == 1050 for p in preds)
    with pytest.raises(SystemExit):  # humans without width/height: the frame is asked for, never guessed
        main(["score", "--pred", str(out / "predictions.json"), "--human", str(fix), "--metrics", "ss"])
    assert "--human-frame" in capsys.readouterr().err
    main(["score", "--pred", str(out / "predictions.json"), "--human", str(fix), "--human-frame", "1680x1050",
          "--metrics", "ss", "--format", "json"])  # fmt: skip
    res = json.loads(capsys.readouterr().out)
    assert res["metrics"]["ss"]["n"] == 4 and res["matched_predictions"] == 4


@pytest.mark.slow
def test_pairs_on_the_real_sample(shared_data: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    d = shared_data / "coco_search18"
    out = tmp_path / "out"
    main(["infer", "--model", "oracle", "--scanpaths", str(d / "coco_search18_fixations_TP_validation_split1.json"),
          "--detections", str(d / "detections"), "--format", "csv", "--out", str(out)])  # fmt: skip
    preds = read_scanpaths(out / "predictions.csv")
    assert len(preds) == 322  # 326 pairs, 4 without detections (said on stderr)
    assert "4 (image, target) pair(s) have no detections" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- heads, people
def test_head_verification_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    import gazekit.heads as heads

    hits = {
        "haarcascade_frontalface_default.xml": [(100, 100, 200, 200), (400, 50, 450, 100)],
        "haarcascade_frontalface_alt2.xml": [(105, 102, 205, 200)],
        "haarcascade_profileface.xml": [(300, 300, 360, 360), (305, 305, 365, 365), (10, 400, 60, 450)],
    }

    def fake_haar(gray, name, min_px, max_px, mirrored=False):  # noqa: ANN001, ANN202
        return np.zeros((0, 4)) if mirrored else np.array(hits[name], float).reshape(-1, 4)

    monkeypatch.setattr(heads, "_haar", fake_haar)
    monkeypatch.setattr(heads, "_has_eye", lambda gray, box: tuple(box[:2]) == (10.0, 400.0))
    monkeypatch.setattr(heads, "find_yunet", lambda path=None: None)
    faces = heads.detect_faces(np.zeros((600, 800), np.uint8))
    # the agreeing frontal pair (merged), the profile pair (merged) and the eye-verified profile box; the lone
    # frontal box at (400, 50) has neither a second cascade nor an eye
    assert sorted((round(f[0]), round(f[1])) for f in faces) == [(10, 400), (100, 100), (300, 300)] or sorted(
        (round(f[0]), round(f[1])) for f in faces
    ) == [(10, 400), (100, 100), (305, 305)]
    assert all(f[0] != 400 for f in faces)
    # size limits: faces below 3 % of the short side are dropped
    monkeypatch.setattr(heads, "_has_eye", lambda gray, box: True)
    hits["haarcascade_frontalface_default.xml"] = [(0, 0, 10, 10)]
    hits["haarcascade_frontalface_alt2.xml"] = []
    hits["haarcascade_profileface.xml"] = []
    assert heads.detect_faces(np.zeros((2000, 2000), np.uint8)) == []


def test_yunet_lookup_and_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gazekit.heads import YUNET, detect_faces, face_detector_label, find_yunet

    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert find_yunet() is None and "Haar" in face_detector_label()
    bad = tmp_path / "yunet" / YUNET["filename"]
    bad.parent.mkdir()
    bad.write_bytes(b"not an onnx file")
    assert find_yunet() == bad and "YuNet" in face_detector_label()
    with pytest.raises(WeightsNotFoundError, match=r"face_detection_yunet_2023mar\.onnx.*could not read"):
        detect_faces(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(WeightsNotFoundError, match="gazekit download yunet"):
        find_yunet(tmp_path / "missing.onnx")


def test_people_have_one_colour_each_and_one_heatmap() -> None:
    from gazekit.viz import draw_people, person_color

    img = np.full((120, 160, 3), 128, np.uint8)
    hm = np.zeros((120, 160), np.float32)
    hm[10:20, 10:20] = 1.0
    maps = [
        GazeMap(hm, (100, 60), 0.9, (20, 20, 40, 40)),
        GazeMap(hm, (30, 100), 0.8, (100, 10, 130, 40)),
    ]
    none = draw_people(img, maps)
    one = draw_people(img, maps, selected=1)
    # several people and no selection: no heatmap (the photo stays as it was away from the drawings)
    assert np.array_equal(none[100:118, 120:158], img[100:118, 120:158])
    assert not np.array_equal(one[100:118, 120:158], img[100:118, 120:158])  # the selected heatmap tints all
    # each person's box in their own colour, in table order
    assert tuple(none[20, 20]) == person_color(0) or tuple(none[20, 21]) == person_color(0)
    assert tuple(none[10, 115]) == person_color(1) or tuple(none[10, 116]) == person_color(1)
    assert person_color(0) != person_color(1)
    with pytest.raises(ValueError, match="selected person 2"):
        draw_people(img, maps, selected=2)
