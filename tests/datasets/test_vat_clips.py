"""ViTGaze's stage-3 training clips on VideoAttentionTarget, and the release's augmentations on real-data
DataModules, drawn anew at every epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gazekit.datasets.gaze_following import AnnotatedClips, GazeFollowImageDataModule, clip_collate
from gazekit.datasets.videoattentiontarget import read_videoattentiontarget, smooth_boxes, vitgaze_train_chunks
from gazekit.errors import ConfigError
from gazekit.imageio import write_image
from gazekit.training import EpochIndexSampler, epoch_index, train_sampler


def _vat(root, split: str, tracks: dict[str, int], size=(96, 64)) -> None:
    """Tracks of ``n`` frames each (``name -> n``) with textured frames, so crops and flips change pixels."""
    w, h = size
    rng = np.random.default_rng(0)
    for t, n in tracks.items():
        ann = root / "annotations" / split / "show" / t
        img = root / "images" / "show" / t
        ann.mkdir(parents=True)
        img.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            write_image(img / f"{i:05d}.png", rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
            gaze = "-1,-1" if i % 5 == 4 else f"{60 + i % 7},{40}"
            rows.append(f"{i:05d}.png,{10 + i % 3},{8},{30 + i % 3},{28},{gaze}")
        (ann / "p1.txt").write_text("\n".join(rows) + "\n")


def test_train_chunks_follow_the_release_rules(tmp_path):
    _vat(tmp_path, "train", {"a": 7, "b": 8, "c": 32, "d": 64, "e": 75, "f": 70})
    anns = read_videoattentiontarget(tmp_path, "train")
    chunks = vitgaze_train_chunks(anns, seq_len=8, max_len=32)
    by_track: dict[str, list[int]] = {}
    for c in chunks:
        assert len({a.meta["track"] for a in c}) == 1
        by_track.setdefault(c[0].meta["track"].split("/")[1], []).append(len(c))
    # a: too short; b, c: whole; d: range(0, 32, 32) -> one chunk, the second 32 dropped as the release does;
    # e: chunks at 0, 32 and the last 11 frames; f: 0, 32 and a 6-frame rest (< 8, dropped)
    assert by_track == {"b": [8], "c": [32], "d": [32], "e": [32, 32, 11], "f": [32, 32]}
    e = [c for c in chunks if c[0].meta["track"].endswith("e/p1")]
    assert [a.meta["frame_index"] for a in e[2]] == list(range(64, 75))
    raw = np.array([a.meta["head_box_raw"] for a in e[1]])
    np.testing.assert_allclose([a.head_box for a in e[1]], smooth_boxes(raw, 11))  # smoothed within the chunk
    with pytest.raises(ConfigError):
        vitgaze_train_chunks(anns, seq_len=9, max_len=8)


def test_epoch_index_sampler_carries_the_epoch():
    class DS:
        epoch_seeded = True

        def __len__(self) -> int:
            return 10

    s = train_sampler(DS(), seed=3)
    assert isinstance(s, EpochIndexSampler)
    s.set_epoch(2)
    got = list(s)
    assert {e for e, _ in got} == {2} and sorted(i for _, i in got) == list(range(10))
    assert epoch_index(4) == (0, 4) and epoch_index((5, 4)) == (5, 4)
    assert not isinstance(train_sampler(list(range(10)), 3), EpochIndexSampler)  # opt-in only


def test_vat_clips_datamodule(tmp_path):
    """8-frame clips, batch counted in clips; one flip and one augmentation per clip, anew each epoch."""
    _vat(tmp_path, "train", {"a": 20, "b": 12, "c": 40, "d": 9})
    _vat(tmp_path, "test", {"t": 10})
    dm = GazeFollowImageDataModule(
        dataset="videoattentiontarget",
        root=str(tmp_path),
        input_size=28,
        val_fraction=0.0,
        flip_prob=0.5,
        color_jitter=0.5,
        bbox_jitter=0.5,
        crop_prob=0.5,
        rotate_prob=0.5,
        lsj_prob=0.5,
        clip_len=8,
        batch_size=2,
        num_workers=0,
    )
    dm.setup("fit")
    clips = dm.splits["train"]
    assert isinstance(clips, AnnotatedClips) and len(clips) == 5  # a, b, d whole; c: 0..31 and the last 8
    assert len(dm.splits["test"]) == 8  # a 10-frame test track: one chunk, range(0, 10 - 8, 8) = [0]
    b = next(iter(dm.train_dataloader()))
    assert b["images"].shape == (16, 3, 28, 28) and b["heatmaps"].shape[0] == 16

    sizes = set()
    for e in range(3):
        for i in range(len(clips)):
            frames = clips[(e, i)]
            assert len(frames) == 8
            clip_sizes = {tuple(f["imsize"].tolist()) for f in frames}
            assert len(clip_sizes) == 1  # every frame of a clip cropped/rotated alike: one image size
            sizes |= clip_sizes
    assert len(sizes) > 1  # ...but the clips were augmented (crop, rotation change the size)
    # draws depend on (seed, epoch, index) only: the same again, and others at another epoch
    a0 = torch.stack([f["images"] for f in clips[(0, 1)]])
    assert torch.equal(a0, torch.stack([f["images"] for f in clips[(0, 1)]]))
    assert any(not torch.equal(a0, torch.stack([f["images"] for f in clips[(e, 1)]])) for e in range(1, 4)), (
        "the same augmentation at every epoch"
    )
    with pytest.raises(ConfigError, match="clip_len"):
        GazeFollowImageDataModule(dataset="gazefollow", clip_len=8)


def test_clip_collate_flattens_clips_and_passes_samples():
    s = {"x": torch.zeros(2)}
    assert clip_collate([[s, s], [s, s, s]])["x"].shape == (5, 2)
    assert clip_collate([s, s])["x"].shape == (2, 2)
