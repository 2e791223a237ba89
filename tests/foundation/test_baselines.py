"""Scanpath baselines (random, centre, greedy, oracle) and gaze-following baselines."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit.datasets.synthetic.search import build_world
from gazekit.errors import ConfigError, DataFormatError
from gazekit.models.base import GazePredictor, ScanpathPredictor
from gazekit.models.baselines import (
    CenterBias,
    OracleDetector,
    RandomScanpath,
    TargetDwell,
    TargetSimilarityGreedy,
    on_target_counts,
    target_similarity,
)
from gazekit.models.gaze_baselines import CenterGazePrior, HeadDirectionCone
from gazekit.models.registry import load_predictor
from gazekit.types import GazeMap, ObjectBox, Scanpath, Stimulus, Target, Task, assign_fixations_to_objects

SCANPATH_BASELINES = ("random", "center", "greedy", "oracle", "target-dwell")


@pytest.fixture(scope="module")
def world():
    return build_world(24, n_subjects=2, seed=3)


def search_task(stim: Stimulus) -> Task:
    """The task the demo gives: category and target image, never the location."""
    return Task("search", Target(stim.target.category, None, stim.target.image))


def plain_stimulus(seed: int = 0, w: int = 160, h: int = 120) -> Stimulus:
    """A stimulus without objects: noise with a bright red square (the 'target') at (110, 20, 20, 20)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 120, (h, w, 3), dtype=np.uint8)
    img[20:40, 110:130] = (230, 20, 20)
    return Stimulus("plain.png", w, h, image=img)


@pytest.mark.parametrize("name", SCANPATH_BASELINES)
def test_registry_builds_scanpath_predictors(name):
    m = load_predictor(name)
    assert isinstance(m, ScanpathPredictor)
    with pytest.raises(ConfigError):
        load_predictor(name, weights="x.ckpt")


@pytest.mark.parametrize("name", SCANPATH_BASELINES)
def test_deterministic_per_seed(world, name):
    m = load_predictor(name)
    s = world.stimuli[0]
    t = search_task(s)
    for sample in (False, True):
        a = m.predict_scanpath(s, t, sample=sample, seed=7)
        b = m.predict_scanpath(s, t, sample=sample, seed=7)
        np.testing.assert_array_equal(a.xy, b.xy)
        np.testing.assert_array_equal(a.duration, b.duration)
    # seed=None: derived from the stimulus name, so repeated calls agree
    np.testing.assert_array_equal(m.predict_scanpath(s, t).xy, m.predict_scanpath(s, t).xy)
    # batched with seed=None == one by one
    batch = m.predict_scanpaths(world.stimuli[:4], [search_task(x) for x in world.stimuli[:4]])
    for x, sp in zip(world.stimuli[:4], batch, strict=True):
        np.testing.assert_array_equal(sp.xy, m.predict_scanpath(x, search_task(x)).xy)


def test_the_default_batched_prediction_is_the_same_in_every_call(world):
    """``predict_scanpaths`` without a seed (the base loop, as the demo calls it) gives each model's own
    per-stimulus default: the intrinsically random ``chance`` baseline answers the same in every call and
    equals its one-by-one prediction; with ``sample=True`` and no seed, calls differ."""
    m = load_predictor("chance")
    stims = world.stimuli[:3]
    tasks = [search_task(x) for x in stims]
    a, b = m.predict_scanpaths(stims, tasks), m.predict_scanpaths(stims, tasks)
    for x, t, pa, pb in zip(stims, tasks, a, b, strict=True):
        np.testing.assert_array_equal(pa.xy, pb.xy)
        np.testing.assert_array_equal(pa.xy, m.predict_scanpath(x, t).xy)
    s1, s2 = m.predict_scanpaths(stims, tasks, sample=True), m.predict_scanpaths(stims, tasks, sample=True)
    assert any(not np.array_equal(p.xy, q.xy) for p, q in zip(s1, s2, strict=True))


@pytest.mark.parametrize("cls", [RandomScanpath, CenterBias])
def test_different_seeds_differ(world, cls):
    m, s = cls(), world.stimuli[1]
    a = m.predict_scanpath(s, search_task(s), seed=1)
    b = m.predict_scanpath(s, search_task(s), seed=2)
    assert not np.array_equal(a.xy, b.xy)


@pytest.mark.parametrize("name", SCANPATH_BASELINES)
def test_frames_durations_objects(world, name):
    m = load_predictor(name)
    for s in world.stimuli[:8]:
        for sample in (False, True):
            sp = m.predict_scanpath(s, search_task(s), sample=sample, seed=3)
            assert (sp.width, sp.height) == (s.width, s.height)
            assert sp.stimulus == s.name and sp.task == s.target.category
            assert (sp.x[0], sp.y[0]) == (s.width / 2, s.height / 2), "first fixation at the display centre"
            assert np.all((sp.x >= 0) & (sp.x <= s.width) & (sp.y >= 0) & (sp.y <= s.height))
            assert np.all(np.isfinite(sp.duration))
            if sample:
                assert np.all((sp.duration >= 80) & (sp.duration <= 1000))
            else:
                assert np.all(sp.duration == 230.0)
            assert sp.objects is not None and sp.objects.shape == (len(sp),)
            for k in range(len(sp)):
                if sp.objects[k] >= 0:
                    assert bool(s.objects[sp.objects[k]].contains(sp.x[k], sp.y[k]))
            assert sp.condition == ("present" if s.meta["present"] else "absent")
            if not s.meta["present"]:
                assert sp.found is False, "nothing to find on a target-absent display"
                assert "bbox" not in sp.meta and "target_object" not in sp.meta
            else:
                assert sp.found is bool(np.any(s.objects[s.meta["target_index"]].contains(sp.x, sp.y)))
                assert tuple(sp.meta["bbox"]) == s.target.box and sp.meta["target_object"] == s.meta["target_index"]
            assert sp.meta["model"] == name


def test_oracle_reaches_the_target(world):
    m = OracleDetector()
    present = [s for s in world.stimuli if s.meta["present"]]
    absent = [s for s in world.stimuli if not s.meta["present"]]
    assert present and absent
    for s in present:
        sp = m.predict_scanpath(s, search_task(s))
        assert sp.found is True and len(sp) <= 2
        assert bool(s.objects[s.meta["target_index"]].contains(sp.x[-1], sp.y[-1]))
        assert sp.objects[-1] == s.meta["target_index"]
    for s in absent:
        sp = m.predict_scanpath(s, search_task(s))
        assert len(sp) == 1 and sp.meta["stopped"] == "absent" and sp.found is False


def test_target_dwell_fits_k_on_humans_and_samples_it(world):
    present = [s for s in world.stimuli if s.meta["present"]]
    humans = [h for h in world.scanpaths if h.meta.get("bbox") is not None or h.meta.get("target_object") is not None]
    counts = on_target_counts(humans)
    m = TargetDwell.fit(humans)
    assert m.k == max(1, round(float(np.median(counts)))) and sorted(m.k_counts) == sorted(counts)
    for s in present:
        sp = m.predict_scanpath(s, search_task(s))
        ti = s.meta["target_index"]
        assert len(sp) == 1 + m.k and sp.objects[1:].tolist() == [ti] * m.k and sp.found is True
        assert (sp.x[1], sp.y[1]) == s.objects[ti].center or bool(s.objects[ti].contains(sp.x[1], sp.y[1]))
    # sampled k comes from the humans' counts; with a fixed distribution it is that value
    fixed = TargetDwell(k=2, k_counts=[4])
    assert len(fixed.predict_scanpath(present[0], search_task(present[0]), sample=True, seed=1)) == 5
    ks = {
        len(
            TargetDwell(k=1, k_counts=[0, 3]).predict_scanpath(present[0], search_task(present[0]), sample=True, seed=i)
        )
        for i in range(20)
    }
    assert ks == {1, 4}
    absent = [s for s in world.stimuli if not s.meta["present"]][0]
    assert len(m.predict_scanpath(absent, search_task(absent))) == 1
    # object strings count fixations on the target object; boxes otherwise; the start fixation is skipped
    z = np.zeros(4)
    sp = Scanpath(z, z, objects=np.array([2, 2, 5, 2]), meta={"target_object": 2})
    assert on_target_counts([sp]).tolist() == [2] and on_target_counts([sp], skip_first=False).tolist() == [3]
    box = Scanpath([0, 5, 50, 6], [0, 5, 50, 6], meta={"bbox": [0, 0, 10, 10]})
    assert on_target_counts([box]).tolist() == [2]
    with pytest.raises(DataFormatError):
        TargetDwell.fit([Scanpath([1], [1])])
    with pytest.raises(ConfigError):
        TargetDwell(k=-1)


def test_oracle_by_category_without_box():
    objs = [ObjectBox(10, 10, 20, 20, "cup"), ObjectBox(120, 80, 20, 20, "mug")]
    s = Stimulus("o.png", 160, 120, image=np.zeros((120, 160, 3), np.uint8), objects=objs)
    sp = OracleDetector().predict_scanpath(s, Task.search("mug"))
    assert len(sp) == 2 and (sp.x[1], sp.y[1]) == objs[1].center and sp.found is True
    sp = OracleDetector().predict_scanpath(s, Task.search("plate"))
    assert len(sp) == 1 and sp.meta["stopped"] == "absent"


def test_greedy_beats_random_on_found_rate(world):
    present = [s for s in world.stimuli if s.meta["present"]]
    rates = {}
    for name in ("random", "center", "greedy"):
        m = load_predictor(name)
        rates[name] = np.mean([bool(m.predict_scanpath(s, search_task(s)).found) for s in present])
    assert rates["greedy"] >= 0.8
    assert rates["greedy"] >= rates["random"] + 0.3
    assert rates["greedy"] >= rates["center"] + 0.3


def test_raw_predictions_score_against_observers(world):
    """Baseline output carries what the search metrics need (bbox, target object, condition) without relabelling."""
    from gazekit.metrics import score_scanpaths

    present = [s for s in world.stimuli if s.meta["present"]]
    humans = [h for h in world.scanpaths if h.condition == "present"]
    preds = [load_predictor("oracle").predict_scanpath(s, search_task(s)) for s in present]
    res = score_scanpaths(preds, humans, ["found_rate", "delta", "ss_objects"])
    assert res["found_rate"].mean == 1.0 and res["found_rate"].n == len(present)
    assert np.isfinite(res["delta"].mean) and np.isfinite(res["ss_objects"].mean)


def test_greedy_never_uses_the_location(world):
    """Moving the task's (wrong) box does not change the greedy path when a target image is given."""
    s = next(x for x in world.stimuli if x.meta["present"])
    a = TargetSimilarityGreedy().predict_scanpath(s, search_task(s))
    t = Task("search", Target(s.target.category, (0, 0, 5, 5), s.target.image))
    b = TargetSimilarityGreedy().predict_scanpath(s, t)
    np.testing.assert_array_equal(a.xy, b.xy)
    assert a.meta["cue"] == "appearance"


def test_greedy_inhibition_of_return(world):
    m = TargetSimilarityGreedy(threshold=2.0, max_len=30)  # never matches: visits until max_len / exhausted
    for s in world.stimuli[:4]:
        sp = m.predict_scanpath(s, search_task(s))
        assert len(sp) == min(30, len(s.objects) + 1) or sp.meta["stopped"] == "exhausted"
        visited = sp.objects[1:]
        assert len(set(visited.tolist())) == len(visited), "no object is fixated twice"


@pytest.mark.parametrize("how", ["category", "box", "image"])
def test_baselines_without_objects(how):
    s = plain_stimulus()
    patch = s.image[20:40, 110:130].copy()
    task = {
        "category": Task.search("red square"),
        "box": Task.search(box=(110, 20, 20, 20)),
        "image": Task.search(image=patch),
    }[how]
    for name in SCANPATH_BASELINES:
        sp = load_predictor(name).predict_scanpath(s, task)
        assert sp.objects is None
        assert (sp.x[0], sp.y[0]) == (80, 60)
        assert np.all((sp.x >= 0) & (sp.x <= 160))
        assert sp.found is (None if how != "box" else sp.found)
    g = TargetSimilarityGreedy().predict_scanpath(s, task)
    assert g.meta["cue"] == {"category": "distinctiveness", "box": "appearance", "image": "appearance"}[how]
    # the red square is the most distinctive and the most similar region: greedy goes there next
    assert 100 <= g.x[1] <= 140 and 10 <= g.y[1] <= 50
    if how == "box":
        assert g.found is True
        assert OracleDetector().predict_scanpath(s, task).found is True


def test_greedy_on_detections_without_pixels():
    """COCO-Search18 object lists often come without the image: greedy then searches by category; a box only
    names the category of the object under it (its location is never used)."""
    objs = [
        ObjectBox(10, 10, 40, 40, "cup"),
        ObjectBox(200, 100, 40, 40, "car"),
        ObjectBox(300, 200, 40, 40, "dog"),
        ObjectBox(100, 200, 40, 40, "dog", confidence=0.9),
    ]
    stim = Stimulus("c.png", 400, 300, objects=objs)
    greedy = TargetSimilarityGreedy()
    by_cat = greedy.predict_scanpath(stim, "car")  # a string is a search for that category
    assert (by_cat.x[-1], by_cat.y[-1]) == (220.0, 120.0) and len(by_cat) == 2
    # the box marks the less confident dog: greedy looks for dogs (not at that place), goes to the most
    # confident dog first, which matches, and stops there; `found` is ground truth, so False
    by_box = greedy.predict_scanpath(stim, Task.search(box=(100, 200, 40, 40)))
    assert (by_box.x[-1], by_box.y[-1]) == (320.0, 220.0) and by_box.found is False
    with pytest.raises(DataFormatError, match="no pixels"):
        greedy.predict_scanpath(stim, Task.search(image=np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(DataFormatError, match="neither an image nor a path"):
        greedy.predict_scanpath(Stimulus("e.png", 400, 300), "car")


def test_task_shorthands():
    assert Task.coerce("cup").kind == "search" and Task.coerce("cup").target.category == "cup"
    assert Task.coerce(None).kind == "freeview" and Task.coerce("freeview").kind == "freeview"
    with pytest.raises(DataFormatError, match="task must be"):
        Task.coerce(3)  # type: ignore[arg-type]


def test_freeview_and_bad_settings():
    s = plain_stimulus()
    for name in ("random", "center"):
        sp = load_predictor(name).predict_scanpath(s, Task.freeview())
        assert len(sp) == 7 and sp.found is None and sp.condition is None
    for cls in (TargetSimilarityGreedy, OracleDetector):
        with pytest.raises(ConfigError, match="search"):
            cls().predict_scanpath(s, Task.freeview())
    for bad in (
        lambda: RandomScanpath(length=0),
        lambda: CenterBias(sigma=0),
        lambda: TargetSimilarityGreedy(max_len=0),
    ):
        with pytest.raises(ConfigError):
            bad()


def test_similarity_and_object_index():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    sim = target_similarity(a, [a, b, np.zeros((0, 0, 3), np.uint8)])
    assert sim[0] == pytest.approx(1.0, abs=1e-5) and sim[1] < 0.9 and sim[2] == 0
    objs = [ObjectBox(0, 0, 100, 100), ObjectBox(10, 10, 10, 10)]
    got = assign_fixations_to_objects([15, 50, 150], [15, 50, 150], objs, rule="box")
    assert got.tolist() == [1, 0, -1]


# ------------------------------------------------------------------------------------------ gaze baselines
def test_center_gaze_prior():
    img = np.zeros((90, 160, 3), np.uint8)
    gm = CenterGazePrior().predict_gaze(img, (10, 10, 30, 30))
    assert isinstance(gm, GazeMap) and isinstance(CenterGazePrior(), GazePredictor)
    assert gm.heatmap.shape == (64, 64) and gm.heatmap.max() == pytest.approx(1.0) and gm.heatmap.min() >= 0
    assert gm.point == (80.0, 45.0) and gm.head_box == (10, 10, 30, 30)
    with pytest.raises(DataFormatError):
        CenterGazePrior().predict_gaze(img, (1, 2, 3))
    with pytest.raises(DataFormatError):
        CenterGazePrior().predict_gaze(img[..., 0], (1, 2, 3, 4))


@pytest.mark.parametrize("direction", [(1, 0), (-1, 0), (0, 1)])
def test_head_cone_follows_direction(direction):
    img = np.full((200, 200, 3), 100, np.uint8)
    hb = (90, 90, 110, 110)
    gm = HeadDirectionCone(direction=direction).predict_gaze(img, hb)
    v = np.array(gm.point) - 100
    assert v @ np.array(direction) > 0.8 * np.linalg.norm(v)
    assert 0.05 <= gm.inout <= 0.95 and gm.meta["direction_source"] == "given"
    # an explicit per-call direction wins over the constructor's
    gm2 = HeadDirectionCone(direction=direction).predict_gaze(img, hb, direction=(-direction[0], -direction[1]))
    assert (np.array(gm2.point) - 100) @ np.array(direction) < 0


def test_head_cone_estimates_direction():
    img = np.full((120, 200, 3), 90, np.uint8)
    gm = HeadDirectionCone().predict_gaze(img, (20, 20, 40, 40))  # no skin: towards the image centre
    assert gm.meta["direction_source"] == "estimated" and gm.point[0] > 40
    with pytest.raises(ConfigError):
        HeadDirectionCone(direction=(0, 0))


def test_category_similarity_and_box_matching():
    from gazekit.models.baselines import category_similarity
    from gazekit.types import object_index_for_box

    objs = [ObjectBox(0, 0, 10, 10, "Cup ", 0.7), ObjectBox(20, 0, 10, 10, "car"), ObjectBox(5, 5, 10, 10, "cup")]
    assert category_similarity(objs, "cup").tolist() == [0.7, 0.0, 1.0]
    assert category_similarity([], "cup").shape == (0,)
    assert object_index_for_box(objs, (5, 5, 10, 10)) == 2  # best IoU, not the first overlap
    assert object_index_for_box(objs, (100, 100, 5, 5)) is None and object_index_for_box([], (0, 0, 1, 1)) is None
    stim = Stimulus("s", 40, 20, objects=objs, target=Target("cup", (21, 0, 10, 10)))
    assert stim.target_index == 1
