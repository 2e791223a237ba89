"""NevaClip evaluation: the NeVA group's metrics (string TDE on hand-computed fixtures), the real-data command on
fixtures in the CapMIT1003 (SQLite) and MIT1003 (per-subject .mat) schemas, and the bundled weights on a gallery
display and a photo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from gazekit.datasets.synthetic.clip_pairs import ClipPairsDataModule, category_words, write_vocabulary
from gazekit.datasets.synthetic.search import SearchWorldConfig, render_display
from gazekit.errors import ConfigError
from gazekit.metrics.scanpath import damerau_levenshtein, fixatons_grid_string, string_time_delay_embedding
from gazekit.models.nevaclip import NevaClip
from gazekit.models.nevaclip_experiments import group_metrics, run_real
from gazekit.models.registry import load_predictor
from gazekit.types import Scanpath, Stimulus, Task
from tests.datasets.test_mit1003_capmit import _eye, _write_subject_mat, make_capmit_db


def test_damerau_levenshtein_hand_values():
    assert damerau_levenshtein("ca", "abc") == 2  # unrestricted: transpose + insert (restricted OSA gives 3)
    assert damerau_levenshtein("abc", "acb") == 1
    assert damerau_levenshtein("kitten", "sitting") == 3
    assert damerau_levenshtein("", "abc") == 3 and damerau_levenshtein("", "") == 0
    assert damerau_levenshtein([1, 2, 3], [1, 2, 3]) == 0


def test_string_tde_hand_computed():
    h = np.array([[10, 10], [300, 10], [300, 300], [10, 300]])  # 4x4 grid of 100 px: cells 0, 3, 15, 12
    s = np.array([[10, 10], [300, 300], [300, 10]])  # 0, 15, 3
    assert fixatons_grid_string(h, 400, 400) == [0, 3, 15, 12]
    # the one simulated window (0, 15, 3) is one transposition from the human window (0, 3, 15)
    assert math.isclose(string_time_delay_embedding(h, s, (400, 400)), 1 / 3)
    s2 = np.array([[10, 10], [300, 300], [300, 10], [10, 300]])  # windows (0,15,3): 1 and (15,3,12): 1 vs (3,15,12)
    assert math.isclose(string_time_delay_embedding(h, s2, (400, 400), mode="hausdorff"), 1 / 3)
    assert string_time_delay_embedding(h, h, (400, 400)) == 0.0
    assert math.isnan(string_time_delay_embedding(h[:2], s, (400, 400)))
    # FixaTons' remainder strip: 401 px / 4 = 100 px cells, x = 400 lands in column 4 = the next row's cell 0
    assert fixatons_grid_string(np.array([[400, 0]]), 401, 400) == [4]
    with pytest.raises(ConfigError):
        string_time_delay_embedding(h, s, (400, 400), mode="max")


def test_group_metrics_identical_scanpaths_score_perfectly():
    sp = Scanpath(np.array([10.0, 200, 380, 50]), np.array([20.0, 150, 280, 250]), np.array([200.0, 300, 250, 400]),
                  stimulus="a.jpg")  # fmt: skip
    pred = Scanpath(sp.x, sp.y, np.full(4, np.nan), stimulus="a.jpg")
    m = group_metrics([pred], [sp], {"a.jpg": (400.0, 300.0)}, duration_ms=250.0)
    assert m["scanmatch"] == 1.0 and m["sbtde"] == 0.0 and m["mm_shape"] == 1.0 and m["mm_position"] == 1.0
    assert 0 < m["scanmatch_dur"] < 1  # equal cells, unequal repeats of the 50 ms bins


@pytest.fixture
def tiny_weights(tmp_path):
    torch.manual_seed(0)
    clip = {
        "embed_dim": 24,
        "vision": {"type": "resnet", "layers": [1, 1, 1, 1], "width": 8, "heads": 2, "image_size": 64},
        "text": {"vocab_size": 611, "context_length": 16, "width": 32, "layers": 1, "heads": 2},
    }
    d = tmp_path / "w"
    NevaClip(clip, image_size=64, blur_kernel=21, blur_sigma=5.0, steps=2, length=4).save_checkpoint(
        d / "nevaclip_synthetic.safetensors"
    )
    write_vocabulary(d)
    return d


def test_real_command_on_capmit_and_mit_fixtures(tmp_path, tiny_weights):
    root = tmp_path / "mit"
    for sub in ("ajs", "hp"):
        (root / "DATA" / sub).mkdir(parents=True)
    (root / "ALLSTIMULI").mkdir()
    for name, size in (("img1.jpeg", (400, 300)), ("i1.jpeg", (120, 90)), ("i2.jpeg", (90, 120))):
        Image.new("RGB", size, (90, 120, 200)).save(root / "ALLSTIMULI" / name)
    pts_a = [(200, 150), (50, 60), (350, 250), (120, 200), (300, 80)]
    pts_b = [(200, 150), (60, 70), (330, 240), (100, 220), (310, 60)]
    _write_subject_mat(root / "DATA" / "ajs" / "img1.mat", "img1", _eye(pts_a))
    _write_subject_mat(root / "DATA" / "hp" / "img1.mat", "img1", _eye(pts_b))
    db = make_capmit_db(tmp_path / "capmit1003.db", clicks=[(i, 10, 10 * i, 8 * i, 1000 + 300 * i) for i in range(1, 6)]
                        + [(10 + i, 11, 15 * i, 20 * i, 5000 + 250 * i) for i in range(1, 5)])  # fmt: skip
    res = run_real(str(db), str(root), weights=str(tiny_weights), out=str(tmp_path / "r.json"))
    assert res["weights"] == "user" and (tmp_path / "r.json").is_file()
    cap, mit = res["capmit1003"], res["mit1003"]
    assert cap["n_scanpaths"] == 2 and mit["n_scanpaths"] == 2 and mit["n_queries"] == 1
    for table in (cap["table"], mit["table"]):
        assert set(table) >= {"NevaClip", "Random", "Centre bias"}
        row = table["NevaClip"]
        assert 0 <= row["scanmatch"] <= 1 and 0 <= row["scanmatch_dur"] <= 1 and row["sbtde"] >= 0
        assert 0 <= row["mm_shape"] <= 1
    assert np.isfinite(mit["table"]["Humans (other observers, same image)"]["scanmatch"])
    with pytest.raises(ConfigError):
        run_real(None, None)


def test_bundled_synthetic_weights_on_a_gallery_display_and_a_photo():
    m = load_predictor("nevaclip", steps=2, length=3)
    assert m.weights_source == "synthetic-data"
    cfg = SearchWorldConfig(width=256, height=160, min_objects=6, max_objects=12, min_object_px=24, max_object_px=40)
    display = render_display(cfg, 5)
    sp = m.predict_scanpath(display, Task.search(category=display.target.category))
    assert len(sp) == 3 and sp.meta["weights"] == "synthetic-data" and "note" not in sp.meta
    photo = Stimulus("photo.jpg", 500, 375, image=np.full((375, 500, 3), 128, np.uint8))
    sp = m.predict_scanpath(photo, Task("caption", caption="a dog on a sofa"))
    assert "not on real images" in sp.meta["note"]


def test_clip_pairs_vocabulary_and_batches():
    dm = ClipPairsDataModule(n_train=6, n_val=4, n_train_displays=2, n_val_displays=2, image_size=64, blur_kernel=21,
                             blur_sigma=5.0, world={"width": 128, "height": 96, "min_objects": 2, "max_objects": 4,
                             "min_object_px": 16, "max_object_px": 24}, batch_size=6)  # fmt: skip
    assert all(len(dm.tokenizer.encode(w)) == 1 for w in category_words())  # every feature word is one token
    batch = next(iter(dm.train_dataloader()))
    assert batch["images"].shape == (6, 3, 64, 64) and batch["ids"].shape == (6, 16)
    assert set(batch) == {"images", "ids"} and torch.isfinite(batch["images"]).all()
    ds = dm.split_dataset("train")
    a, b = dm.collate([ds[i] for i in range(6)]), dm.collate([ds[i] for i in range(6)])
    assert torch.equal(a["images"], b["images"]) and torch.equal(a["ids"], b["ids"])  # pure in (seed, split, i)
    with pytest.raises(ConfigError):
        ClipPairsDataModule(kind_probs=(1.0, 1.0, 0.0))
