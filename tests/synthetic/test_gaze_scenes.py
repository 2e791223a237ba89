"""Synthetic gaze-following scenes: determinism, ground-truth consistency, tensors and the DataModule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gazekit.datasets.synthetic.gaze import (
    GAZE_CATEGORIES,
    GazeSceneConfig,
    SyntheticGazeDataModule,
    SyntheticGazeDataset,
    gaussian_heatmap,
    gaze_sample_to_tensors,
    head_gaussian_map,
    render_face,
    render_gaze_scene,
    scene_people_count,
)
from gazekit.errors import ConfigError


def test_scene_is_a_pure_function_of_seed_split_index() -> None:
    a, b = render_gaze_scene(3, seed=11), render_gaze_scene(3, seed=11)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.object_labels, b.object_labels)
    for x, y in zip(a.annotations, b.annotations, strict=True):
        assert x.head_box == y.head_box and x.inout == y.inout
        assert np.array_equal(x.gaze_points, y.gaze_points)
    assert not np.array_equal(a.image, render_gaze_scene(3, seed=12).image)
    assert not np.array_equal(a.image, render_gaze_scene(3, seed=11, split="val").image)
    assert not np.array_equal(a.image, render_gaze_scene(4, seed=11).image)


def test_ground_truth_is_consistent() -> None:
    cfg = GazeSceneConfig()
    n_in = n_out = 0
    for i in range(40):
        sc = render_gaze_scene(i, cfg, seed=1, split="test")
        assert sc.image.shape == (cfg.height, cfg.width, 3) and sc.image.dtype == np.uint8
        assert len(sc.annotations) == scene_people_count(cfg, 1, "test", i)
        assert sc.head_map.max() == pytest.approx(1.0)
        for a in sc.annotations:
            x1, y1, x2, y2 = a.head_box
            assert 0 <= x1 < x2 <= cfg.width and 0 <= y1 < y2 <= cfg.height
            assert x1 <= a.eye[0] <= x2 and y1 <= a.eye[1] <= y2
            if a.inout == 1:
                n_in += 1
                assert a.gaze_points.shape == (cfg.n_annotators, 2)
                assert a.target_category in GAZE_CATEGORIES
                assert a.target_mask is not None and a.target_mask.any()
                obj = sc.objects[a.meta["target_index"]]
                assert np.array_equal(a.target_mask, sc.object_labels == a.meta["target_index"] + 1)
                m = 0.1 * obj.w + 1e-6
                assert np.all(a.gaze_points[:, 0] >= obj.x - m) and np.all(a.gaze_points[:, 0] <= obj.x + obj.w + m)
                assert np.all(a.gaze_points[:, 1] >= obj.y - m) and np.all(a.gaze_points[:, 1] <= obj.y + obj.h + m)
                # the face points at the target: 2-D gaze direction vs eye -> mean annotator point
                d = np.asarray(a.meta["direction"][:2])
                v = a.gaze_points.mean(0) - np.asarray(a.eye)
                assert np.dot(d, v) / (np.linalg.norm(d) * np.linalg.norm(v)) > 0.8
            else:
                n_out += 1
                assert len(a.gaze_points) == 0 and a.target_mask is None
                assert a.meta["out_mode"] in ("camera", "side")
    assert n_in > 0 and n_out > 0


def test_render_face_draws_inside_its_box() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    eye = render_face(img, (32, 32), 20, (0.0, 0.0, 1.0))
    assert img[32, 32].sum() > 0 and img[2, 2].sum() == 0
    assert eye[1] < 32  # eyes above the centre when looking at the camera
    profile = np.zeros_like(img)
    eye_r = render_face(profile, (32, 32), 20, (1.0, 0.0, 0.1))
    assert eye_r[0] > 32  # eyes on the right when looking right


def test_heatmaps() -> None:
    h = gaussian_heatmap(np.array([[0.5, 0.25]]), 64, 3.0)
    assert h.shape == (64, 64) and h.max() == pytest.approx(1.0)
    assert np.unravel_index(h.argmax(), h.shape) == (16, 32)
    assert gaussian_heatmap(np.array([[2.0, 2.0]]), 64).sum() == 0
    hm = head_gaussian_map([(10, 10, 30, 40)], 64, 64)
    assert hm.max() == pytest.approx(1.0) and hm[25, 20] > 0.99 and hm[60, 60] < 1e-3


def test_tensors_and_flip() -> None:
    sc = render_gaze_scene(0, seed=0)
    a = sc.annotations[0]
    s = gaze_sample_to_tensors(sc.image, a, input_size=112, head_map=sc.head_map)
    f = gaze_sample_to_tensors(sc.image, a, input_size=112, head_map=sc.head_map, flip=True)
    assert s["images"].shape == (3, 112, 112) and s["head_masks"].shape == (1, 112, 112)
    assert s["heatmaps"].shape == (64, 64) and s["gaze_points"].shape == (20, 2)
    assert np.allclose(f["images"].flip(-1).numpy(), s["images"].numpy())
    b, fb = s["head_boxes"].numpy(), f["head_boxes"].numpy()
    assert np.allclose(fb[[0, 2]], 1 - b[[2, 0]]) and np.allclose(fb[[1, 3]], b[[1, 3]])


def test_dataset_and_datamodule() -> None:
    ds = SyntheticGazeDataset(6, seed=2, input_size=56)
    assert len(ds) == sum(scene_people_count(ds.config, 2, "train", i) for i in range(6))
    x = ds[0]
    assert x["images"].shape == (3, 56, 56)
    dm = SyntheticGazeDataModule(n_train=6, n_val=3, n_test=3, input_size=56, batch_size=4, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["images"].shape == (4, 3, 56, 56) and batch["inout"].shape == (4,)
    with pytest.raises(ConfigError):
        GazeSceneConfig(min_people=3, max_people=2)
    with pytest.raises(ConfigError):
        render_gaze_scene(0, split="holdout")


def test_facing_cue_scenes_keep_objects_apart_and_heads_on_the_grid() -> None:
    from gazekit.datasets.synthetic.gaze import target_angular_gap

    cfg = GazeSceneConfig(head_grid=28, head_radius=(0.08, 0.11))
    gaps = []
    for i in range(15):
        sc = render_gaze_scene(i, cfg, seed=4, split="val")
        for a in sc.annotations:
            x1, y1, x2, y2 = a.head_box
            if x1 > 0 and y1 > 0:  # a box clipped at the border no longer shows the centre
                cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
                assert abs((cx / 28) % 1 - 0.5) < 1e-6 and abs((cy / 28) % 1 - 0.5) < 1e-6
            g = target_angular_gap(a, sc.objects)
            if np.isfinite(g):
                gaps.append(g)
    assert gaps and min(gaps) >= 35.0 - 12.0  # centres 35 deg apart; the target point sits off-centre
    legacy = GazeSceneConfig.legacy()
    assert not legacy.facing_cue and legacy.min_object_gap == 0
    with pytest.raises(ConfigError):
        GazeSceneConfig(min_object_gap=150)
    with pytest.raises(ConfigError):
        GazeSceneConfig(head_grid=-1)


def test_nose_changes_the_outline_only_when_turned() -> None:
    side = np.zeros((60, 60, 3), np.uint8)
    plain = side.copy()
    render_face(side, (30, 30), 12, (0.9, 0.0, 0.43), facing_cue=True)
    render_face(plain, (30, 30), 12, (0.9, 0.0, 0.43), facing_cue=False)
    outside = np.zeros((60, 60), bool)
    outside[:, 43:] = True  # right of the head sphere (x > 30 + 12 + 1)
    assert side[outside].any() and not plain[outside].any()
    front = np.zeros((60, 60, 3), np.uint8)
    render_face(front, (30, 30), 12, (0.0, 0.0, 1.0), facing_cue=True)
    assert not front[outside].any()


def test_augmentations_keep_the_target_under_the_gaze_point() -> None:
    import cv2

    from gazekit.datasets.synthetic.gaze import GazeAugment

    sc = render_gaze_scene(0, GazeSceneConfig(head_grid=28), seed=0, split="test")
    a = next(x for x in sc.annotations if x.inout == 1)
    ident = GazeAugment()
    img, b, hm = ident(sc.image, a, sc.head_map, np.random.default_rng(0))
    assert np.array_equal(img, sc.image) and np.allclose(b.head_box, a.head_box) and not ident.active
    aug = GazeAugment(1.0, 1.0, 1.0, 1.0, 1.0)
    for seed in range(6):
        img, b, hm = aug(sc.image, a, sc.head_map, np.random.default_rng(seed))
        h, w = img.shape[:2]
        assert (b.width, b.height) == (w, h) and hm.shape == (h, w) and b.target_mask.shape == (h, w)
        x1, y1, x2, y2 = b.head_box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        if b.inout == 1:
            mx, my = b.gaze_points.mean(0)
            near = cv2.dilate(b.target_mask.astype(np.uint8), np.ones((9, 9), np.uint8))
            assert near[min(int(my), h - 1), min(int(mx), w - 1)]
    t = gaze_sample_to_tensors(img, b, input_size=56, head_map=hm, output_size=16)
    assert t["target_masks"].shape == (16, 16)
    with pytest.raises(ConfigError):
        GazeAugment(crop=1.5)


def test_mask_and_category_tensors() -> None:
    sc = render_gaze_scene(0, seed=0)
    a = next(x for x in sc.annotations if x.inout == 1)
    t = gaze_sample_to_tensors(sc.image, a, input_size=56, output_size=16)
    assert t["has_mask"] == 1 and 0 <= int(t["category"]) < 6 and t["target_masks"].max() > 0.5
    f = gaze_sample_to_tensors(sc.image, a, input_size=56, output_size=16, flip=True)
    assert torch.allclose(f["target_masks"], t["target_masks"].flip(-1))
    out = next((x for x in sc.annotations if x.inout == 0), None)
    if out is not None:
        o = gaze_sample_to_tensors(sc.image, out, input_size=56, output_size=16)
        assert o["has_mask"] == 0 and int(o["category"]) == -1 and o["target_masks"].sum() == 0
