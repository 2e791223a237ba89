"""DataModules: deterministic splits by image / subject / leave-one-out, loaders and batches."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.datamodules import (
    GazeFollowDataModule,
    ObjectSearchDataModule,
    ScanpathDataModule,
    leave_one_out,
    split_by_key,
)
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


def test_leave_one_out():
    items = [{"layout": f"Q3_{i % 5}", "target": f"T{i % 3}"} for i in range(60)]
    parts = leave_one_out(items, lambda d: d["layout"], lambda d: d["target"], "Q3_1", "T0", val_fraction=0.25)
    assert parts["test"] and all(d["layout"] == "Q3_1" and d["target"] == "T0" for d in parts["test"])
    assert all(d["layout"] != "Q3_1" for d in parts["train"] + parts["val"])
    with pytest.raises(ConfigError):
        leave_one_out(items, lambda d: d["layout"], lambda d: d["target"], "nope", None)


def test_scanpath_datamodule_on_real_coco(coco_search18_val):
    dm = ScanpathDataModule(
        "coco_search18", str(coco_search18_val), split_by="subject", batch_size=8, num_workers=0, seed=3
    )
    assert isinstance(dm, GazekitDataModule)
    dm.setup("fit")
    subs = {k: {s.subject for s in v} for k, v in dm.splits.items()}
    assert not (subs["train"] & subs["test"]) and sum(len(v) for v in dm.splits.values()) == 3258
    batch = next(iter(dm.train_dataloader()))
    assert batch["xy"].shape[0] == 8 and batch["xy"].shape[2] == 2
    n = int(batch["lengths"][0])
    assert np.allclose(batch["xy"][0, :n].numpy(), batch["scanpaths"][0].xy, atol=1e-3)
    dm2 = ScanpathDataModule("coco_search18", str(coco_search18_val), split_by="image", seed=3, num_workers=0)
    dm2.setup()
    imgs = {k: {s.stimulus for s in v} for k, v in dm2.splits.items()}
    assert not (imgs["train"] & imgs["val"])
    with pytest.raises(ConfigError):
        ScanpathDataModule("nope", "x")


def test_object_datamodule_amazon_and_coco(shared_data, coco_search18_val):
    dm = ObjectSearchDataModule("amazon_covers", str(shared_data / "amazon_covers" / "Amazon.json"),
                                split_by="leave_one_out", holdout_layout="1", holdout_target="target_0",
                                batch_size=4, num_workers=0)  # fmt: skip
    dm.setup()
    assert len(dm.splits["test"]) == 6 and all(t.stimulus.name == "1.jpg" for t in dm.splits["test"])
    b = next(iter(dm.test_dataloader()))
    assert b["boxes"].shape == (4, 84, 4) and (b["target_index"] == 12).all()
    assert b["fixated"].shape == b["xy"].shape[:2]
    dm = ObjectSearchDataModule("coco_search18", str(coco_search18_val), detections=str(shared_data / "coco_search18" / "detections"),
                                split_by="image", num_workers=0, batch_size=16)  # fmt: skip
    b = next(iter(dm.train_dataloader()))
    assert b["boxes"].shape[0] == 16 and (b["target_index"] >= 0).all()


def test_gazefollow_datamodule(shared_data):
    f = str(shared_data / "gazefollow" / "val_annotations_sample.txt")
    dm = GazeFollowDataModule(train_file=f, val_fraction=0.2, batch_size=32, num_workers=0, seed=0)
    dm.setup()
    tr, va = dm.splits["train"], dm.splits["val"]
    assert len(tr) + len(va) == 4499 and not ({a.image for a in tr} & {a.image for a in va})
    b = next(iter(dm.val_dataloader()))
    assert b["gaze_norm"].shape == (32, 20, 2) and (b["gaze_norm"][:, 1:] == -1).all()
    assert b["head_box"].shape == (32, 4)
