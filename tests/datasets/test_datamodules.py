"""DataModules in gazekit/datasets: deterministic splits, object-level trials (synthetic and real), recipes' parser."""

from __future__ import annotations

import pytest
from jsonargparse import ArgumentParser

from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.search_trials import (
    DisplayGroupedSampler,
    OATSyntheticDataModule,
    ObjectTrialDataModule,
    Trial,
)
from gazekit.datasets.splits import split_by_key, split_groups
from gazekit.errors import ConfigError


def test_split_by_key_is_grouped_and_deterministic():
    items = [(k, i) for k in range(50) for i in range(3)]
    a = split_by_key(items, lambda t: t[0], (0.7, 0.15, 0.15), seed=1)
    b = split_by_key(items, lambda t: t[0], (0.7, 0.15, 0.15), seed=1)
    c = split_by_key(items, lambda t: t[0], (0.7, 0.15, 0.15), seed=2)
    assert a == b and a != c
    keys = {s: {t[0] for t in a[s]} for s in a}
    assert not (keys["train"] & keys["val"]) and not (keys["train"] & keys["test"]) and not (keys["val"] & keys["test"])
    assert sum(len(v) for v in a.values()) == 150 and len(keys["train"]) == 35
    with pytest.raises(ConfigError):
        split_by_key(items, lambda t: t[0], (1, -1, 0))


def test_split_groups_folds_cover_every_group_once():
    groups = [f"img{i % 23}" for i in range(100)]
    tests = []
    for fold in range(5):
        tr, va, te = split_groups(groups, 5, fold, 0.2, seed=4)
        assert sorted(tr + va + te) == list(range(100))
        g = {k: {groups[i] for i in v} for k, v in (("tr", tr), ("va", va), ("te", te))}
        assert not (g["tr"] & g["va"]) and not (g["tr"] & g["te"]) and not (g["va"] & g["te"]) and g["va"]
        tests.append(g["te"])
    assert set().union(*tests) == set(groups) and sum(len(t) for t in tests) == 23
    assert split_groups(groups, 5, 2, 0.2, seed=4) == split_groups(groups, 5, 2, 0.2, seed=4)
    assert split_groups(groups, 1, 0, 0.0, seed=0)[2] == []  # no test fold
    with pytest.raises(ConfigError, match="fold must lie"):
        split_groups(groups, 5, 5, 0.2, seed=0)


def test_synthetic_trials_split_by_display_and_batch_as_lists():
    dm = OATSyntheticDataModule(n_displays=20, n_subjects=3, world_seed=2, max_objects=12, batch_size=6)
    assert isinstance(dm, GazekitDataModule)
    dm.setup("fit")
    names = {k: {t.stimulus.name for t in getattr(dm, f"{k}_trials")} for k in ("train", "val", "test")}
    assert names["train"] and names["val"] and names["test"]
    assert not (names["train"] & names["val"]) and not (names["train"] & names["test"])
    assert sum(len(v) for v in names.values()) == 20
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, list) and len(batch) == 6 and all(isinstance(t, Trial) for t in batch)
    assert all(t.task.target is not None and len(t.scanpath) > 0 for t in batch)
    # grouped sampling: a display's trials come together, every trial once per epoch
    order = list(DisplayGroupedSampler(dm.train_trials, seed=0))
    assert sorted(order) == list(range(len(dm.train_trials)))
    seq = [dm.train_trials[i].stimulus.name for i in order]
    assert sum(a != b for a, b in zip(seq, seq[1:], strict=False)) == len(names["train"]) - 1


def test_object_trials_on_real_amazon_and_coco(shared_data, coco_search18_val):
    dm = ObjectTrialDataModule("amazon", str(shared_data / "amazon_covers" / "Amazon.json"), n_folds=5, fold=1)
    dm.setup()
    trials = dm.train_trials + dm.val_trials + dm.test_trials
    assert len(trials) == len(dm.trials) > 0 and dm.test_trials
    assert not {t.stimulus.name for t in dm.test_trials} & {t.stimulus.name for t in dm.train_trials}
    assert all(len(o.attributes["appearance"]) == 16 for o in trials[0].stimulus.objects)
    dm = ObjectTrialDataModule(
        "coco_search18", str(coco_search18_val), str(shared_data / "coco_search18" / "detections"), max_trials=40
    )
    dm.setup()
    assert len(dm.trials) == 40 and all(t.stimulus.objects and t.task.kind == "search" for t in dm.trials)
    with pytest.raises(ConfigError, match="source must be"):
        ObjectTrialDataModule("nope").setup()


def test_recipes_parser_builds_them_and_rejects_a_misspelt_argument():
    parser = ArgumentParser()
    parser.add_subclass_arguments(GazekitDataModule, "data")
    recipe = (
        "data:\n  class_path: gazekit.datasets.search_trials.OATSyntheticDataModule\n  init_args:\n    n_displays: 12\n"
    )
    dm = parser.instantiate_classes(parser.parse_string(recipe)).data
    assert isinstance(dm, OATSyntheticDataModule) and dm.n_displays == 12
    with pytest.raises(SystemExit):
        parser.parse_string(recipe.replace("n_displays", "n_display"))
