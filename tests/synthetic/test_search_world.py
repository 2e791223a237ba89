"""The synthetic search world: seeded displays, targets, splits, files in the COCO-Search18 layout, DataModule."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from gazekit.datasets.coco_search18 import read_coco_search18_json
from gazekit.datasets.synthetic import SearchWorld, SearchWorldConfig, build_world, render_display, render_object
from gazekit.errors import ConfigError, DataFormatError

CFG = SearchWorldConfig()
N_SAMPLE = 160


@pytest.fixture(scope="module")
def displays():
    return [render_display(CFG, 1000 + i) for i in range(N_SAMPLE)]


@pytest.fixture(scope="module")
def world():
    return build_world(n_displays=12, n_subjects=4, seed=5)


def _same_stimulus(a, b) -> None:
    assert a.name == b.name and (a.width, a.height) == (b.width, b.height)
    assert np.array_equal(a.load_image(), b.load_image())
    assert [(o.xywh, o.category, o.attributes) for o in a.objects] == [
        (o.xywh, o.category, o.attributes) for o in b.objects
    ]
    assert a.target.category == b.target.category and a.target.box == b.target.box
    assert np.array_equal(a.target.image, b.target.image)


# --------------------------------------------------------------------------------------------- displays
def test_same_seed_is_pixel_identical():
    for seed in (0, 17, 123456):
        a, b = render_display(CFG, seed), render_display(CFG, seed)
        _same_stimulus(a, b)
        assert a.meta == b.meta


def test_different_seeds_differ():
    imgs = [render_display(CFG, s).image for s in range(8)]
    for a, b in combinations(imgs, 2):
        assert not np.array_equal(a, b)


def test_world_is_a_pure_function_of_its_arguments():
    a, b = build_world(4, 3, seed=9), build_world(4, 3, seed=9)
    for sa, sb in zip(a.stimuli, b.stimuli, strict=True):
        _same_stimulus(sa, sb)
    for pa, pb in zip(a.scanpaths, b.scanpaths, strict=True):
        assert np.array_equal(pa.xy, pb.xy) and np.array_equal(pa.duration, pb.duration)
    c = build_world(4, 3, seed=10)
    assert not np.array_equal(a.stimuli[0].image, c.stimuli[0].image)


def test_object_counts_layouts_and_kinds(displays):
    counts = [len(s.objects) for s in displays]
    assert min(counts) >= 6 and max(counts) <= 84
    assert max(counts) - min(counts) > 40  # the whole range is used, not one size
    assert {s.meta["layout"] for s in displays} == {"grid", "free"}
    assert {s.meta["kind"] for s in displays} == {"shapes", "glyphs"}
    for s in displays:
        assert s.meta["n_objects"] == len(s.objects)
        if s.meta["layout"] == "grid":
            assert len(s.objects) == s.meta["rows"] * s.meta["cols"]
            cells = {(o.attributes["row"], o.attributes["col"]) for o in s.objects}
            assert len(cells) == len(s.objects)
    # the 6 x 14 grid (84 objects, OAT's Amazon layout) can be drawn
    grid84 = render_display(SearchWorldConfig(min_objects=84, max_objects=84, layouts=("grid",)), 3)
    assert len(grid84.objects) == 84 and (grid84.meta["rows"], grid84.meta["cols"]) == (6, 14)


def test_present_absent_ratio(displays):
    present = np.mean([s.target_index is not None for s in displays])
    # p = 0.75, n = 160: 3.5 binomial s.d. is about 0.12
    assert 0.63 <= present <= 0.87
    always = SearchWorldConfig(p_target_present=1.0)
    never = SearchWorldConfig(p_target_present=0.0)
    assert all(render_display(always, s).target.box is not None for s in range(10))
    assert all(render_display(never, s).target.box is None for s in range(10))


def test_boxes_inside_the_display_and_disjoint(displays):
    for s in displays:
        b = np.array([o.xywh for o in s.objects])
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
        assert (b[:, 0] + b[:, 2] <= s.width).all() and (b[:, 1] + b[:, 3] <= s.height).all()
        assert (b[:, 2] >= CFG.min_object_px).all() and (b[:, 2] <= CFG.max_object_px).all()
        x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
        overlap_w = np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None])
        overlap_h = np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None])
        overlap = (overlap_w > 0) & (overlap_h > 0)
        np.fill_diagonal(overlap, False)
        assert not overlap.any(), s.name


def test_target_image_matches_the_target_object(displays):
    n_present = 0
    for s in displays:
        t = s.target
        assert t.image is not None and t.image.dtype == np.uint8 and t.image.ndim == 3
        feats = s.meta["target_features"]
        ti = s.target_index
        same_cat = [i for i, o in enumerate(s.objects) if o.category == t.category]
        if ti is None:
            assert t.box is None and same_cat == []
            assert np.array_equal(t.image, render_object(feats, t.image.shape[0], CFG.background))
            continue
        n_present += 1
        assert same_cat == [ti] == [s.meta["target_index"]]  # exactly one target
        x, y, w, h = (int(v) for v in t.box)
        assert np.array_equal(s.image[y : y + h, x : x + w], t.image)
        assert {k: s.objects[ti].attributes[k] for k in feats} == feats
    assert n_present > N_SAMPLE // 2


def test_categories_follow_the_features(displays):
    for s in displays[:40]:
        for o in s.objects:
            a = o.attributes
            if a["shape"] == "glyph":
                kind = "digit" if a["glyph"].isdigit() else "letter"
                assert o.category == f"{a['colour']} {kind} {a['glyph']}"
            else:
                assert o.category == f"{a['colour']} {a['shape']} {a['texture']}"


def test_objects_are_drawn_where_their_boxes_are(displays):
    bg = np.array(CFG.background, np.uint8)
    for s in displays[:30]:
        mask = np.zeros(s.image.shape[:2], bool)
        for o in s.objects:
            x, y, w, h = (int(v) for v in o.xywh)
            mask[y : y + h, x : x + w] = True
            assert (s.image[y : y + h, x : x + w] != bg).any(axis=2).mean() > 0.03  # something is drawn
        assert (s.image[~mask] == bg).all()  # nothing outside the boxes


def test_config_validation_and_round_trip():
    with pytest.raises(ConfigError, match="max_objects"):
        SearchWorldConfig(min_objects=10, max_objects=5)
    with pytest.raises(ConfigError, match="layouts"):
        SearchWorldConfig(layouts=("spiral",))
    with pytest.raises(ConfigError, match="p_target_present"):
        SearchWorldConfig(p_target_present=1.5)
    with pytest.raises(ConfigError, match="colours"):
        SearchWorldConfig(colours=("red", "mauve"))
    with pytest.raises(ConfigError, match="unknown field"):
        SearchWorldConfig.from_dict({"n_objects": 3})
    cfg = SearchWorldConfig(min_objects=12, max_objects=30, layouts=["free"])
    assert SearchWorldConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError):
        build_world(2, 0)


# --------------------------------------------------------------------------------------------- split
def test_split_by_display(world):
    train, test = world.split(0.25, seed=1)
    tr, te = {s.name for s in train.stimuli}, {s.name for s in test.stimuli}
    assert not tr & te and tr | te == {s.name for s in world.stimuli} and len(te) == 3
    assert all(sp.meta["split"] == "test" for sp in test.scanpaths)
    assert all(sp.stimulus in tr and sp.meta["split"] == "train" for sp in train.scanpaths)
    assert len(train.scanpaths) + len(test.scanpaths) == len(world.scanpaths)
    assert {s.name for s in world.split(0.25, seed=1)[1].stimuli} == te
    assert "split" not in world.scanpaths[0].meta  # the original world is untouched
    trials = train.trials()
    assert len(trials) == len(train.scanpaths) and all(st.name == sp.stimulus for st, sp in trials)


# --------------------------------------------------------------------------------------------- files
def test_save_load_round_trip(world, tmp_path):
    world.save(tmp_path)
    for sub in ("images", "targets"):
        assert len(list((tmp_path / sub).glob("*.png"))) == len(world.stimuli)
    # fixations.json is a COCO-Search18 file in the display's own frame
    recs = json.loads((tmp_path / "fixations.json").read_text())
    assert {"name", "subject", "task", "condition", "X", "Y", "T", "length", "correct"} <= set(recs[0])
    raw = read_coco_search18_json(tmp_path / "fixations.json")
    assert (raw[0].width, raw[0].height) == (512, 320)

    back = SearchWorld.load(tmp_path)
    assert back.config == world.config and back.seed == world.seed
    for a, b in zip(world.stimuli, back.stimuli, strict=True):
        _same_stimulus(a, b)
        assert b.target_index == a.target_index
    assert len(back.scanpaths) == len(world.scanpaths)
    for a, b in zip(world.scanpaths, back.scanpaths, strict=True):
        assert np.allclose(a.x, b.x) and np.allclose(a.y, b.y) and np.allclose(a.duration, b.duration)
        assert (a.stimulus, a.subject, a.task, a.condition, a.found) == (
            b.stimulus,
            b.subject,
            b.task,
            b.condition,
            b.found,
        )
        assert (b.width, b.height) == (512.0, 320.0)
        assert np.array_equal(a.objects, b.objects)
        assert a.meta.get("target_object") == b.meta.get("target_object")
        assert a.meta.get("bbox") == b.meta.get("bbox")


@pytest.fixture()
def saved(world, tmp_path):
    world.save(tmp_path)
    return tmp_path


def test_bad_roots_raise(tmp_path):
    with pytest.raises(DataFormatError, match="not a synthetic search world folder"):
        SearchWorld.load(tmp_path / "missing")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DataFormatError):
        SearchWorld.load(f)
    with pytest.raises(DataFormatError, match="not a folder"):
        build_world(1, 1).save(f)
    with pytest.raises(DataFormatError, match="config.json"):
        SearchWorld.load(tmp_path)  # an empty folder


@pytest.mark.parametrize(
    "fname, content, match",
    [
        ("config.json", "{not json", r"config\.json.*invalid JSON"),
        ("config.json", '{"config": {"min_objects": "many"}}', r"config\.json.*config"),
        ("objects.json", '{"images": 3}', r"objects\.json.*images"),
        ("fixations.json", '[{"name": "a.png", "X": "oops", "Y": []}]', r"fixations\.json.*X"),
        ("fixations.json", "", r"fixations\.json"),
    ],
)
def test_corrupt_files_name_file_and_field(saved, fname, content, match):
    (saved / fname).write_text(content)
    with pytest.raises(DataFormatError, match=match):
        SearchWorld.load(saved)


def test_inconsistent_files_raise(saved):
    doc = json.loads((saved / "objects.json").read_text())
    name = doc["images"][0]["name"]
    bad = json.loads(json.dumps(doc))
    bad["images"][0]["objects"][0]["bbox"] = [0, 0, -4, 3]
    (saved / "objects.json").write_text(json.dumps(bad))
    with pytest.raises(DataFormatError, match=r"objects\.json.*objects"):
        SearchWorld.load(saved)
    (saved / "objects.json").write_text(json.dumps(doc))

    recs = json.loads((saved / "fixations.json").read_text())
    recs[0]["name"] = "nowhere.png"
    (saved / "fixations.json").write_text(json.dumps(recs))
    with pytest.raises(DataFormatError, match="unknown image 'nowhere.png'"):
        SearchWorld.load(saved)

    (saved / "images" / name).unlink()
    with pytest.raises(DataFormatError, match=name):
        SearchWorld.load(saved)


def test_missing_file_is_named(saved):
    (saved / "objects.json").unlink()
    with pytest.raises(DataFormatError, match=r"objects\.json.*not found"):
        SearchWorld.load(saved)
