"""Real gaze-following images as a DataModule (GazeFollow, VideoAttentionTarget frames).

Samples are what the synthetic gaze world yields (:func:`~gazekit.datasets.synthetic.gaze.gaze_sample_to_tensors`),
so a gaze model trains on either without change (synthetic: ``SyntheticGazeDataModule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import default_collate

from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.gazefollow import read_gazefollow
from gazekit.datasets.splits import split_by_key
from gazekit.datasets.synthetic.gaze import GazeAugment, gaze_sample_to_tensors, head_gaussian_map
from gazekit.datasets.videoattentiontarget import (
    read_videoattentiontarget,
    vitgaze_test_chunks,
    vitgaze_train_chunks,
)
from gazekit.errors import ConfigError
from gazekit.imageio import read_image
from gazekit.training import epoch_index

__all__ = ["AnnotatedClips", "AnnotatedImages", "GazeFollowImageDataModule", "clip_collate"]


class AnnotatedImages:
    """Map-style dataset: GazeFollow / VideoAttentionTarget annotations with pixels → model samples
    (:func:`~gazekit.datasets.synthetic.gaze.gaze_sample_to_tensors`; the head map is the annotated head's).

    Training augmentations (flip, :class:`GazeAugment`) are drawn from ``(seed, epoch, index)``: anew at every
    epoch, and the same again in a resumed run (the index is an :class:`~gazekit.training.EpochIndexSampler`
    pair; a plain ``int`` is epoch 0)."""

    epoch_seeded = True

    def __init__(
        self,
        annotations: Sequence[Any],
        image_root: str | Path,
        input_size: int,
        flip_prob: float = 0.0,
        seed: int = 0,
        augment: GazeAugment | None = None,
    ) -> None:
        self.annotations, self.root = list(annotations), Path(image_root)
        self.input_size, self.flip_prob, self.seed = input_size, flip_prob, seed
        self.augment = augment if augment is not None and augment.active else None

    def __len__(self) -> int:
        return len(self.annotations)

    def sample(self, a: Any, rng: np.random.Generator, flip: bool, keep: np.ndarray | None = None) -> dict[str, Any]:
        """One annotation's tensors, augmented with draws from ``rng`` (crop keeping ``keep``) and flipped."""
        img = read_image(self.root / a.image)
        h, w = img.shape[:2]
        head_map = head_gaussian_map([a.head_box], w, h)
        if self.augment is not None:
            img, a, head_map = self.augment(img, a, head_map, rng, keep=keep)
        return gaze_sample_to_tensors(img, a, input_size=self.input_size, head_map=head_map, flip=flip)

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, Any]:
        epoch, i = epoch_index(index)
        rng = np.random.default_rng([self.seed, epoch, i])
        flip = self.flip_prob > 0 and rng.random() < self.flip_prob
        return self.sample(self.annotations[i], rng, flip)


class AnnotatedClips(AnnotatedImages):
    """Training clips of VideoAttentionTarget as the release's stage 3 draws them: item ``i`` is a random
    ``seq_len``-frame window of chunk ``i`` (:func:`~gazekit.datasets.videoattentiontarget.vitgaze_train_chunks`)
    as a list of per-frame samples, every frame flipped and augmented alike (one set of draws per clip; a crop
    keeps the head boxes and in-frame gaze points of the whole window). :func:`clip_collate` concatenates the
    frames of a batch of clips.

    The window start is ``U{0, …, len − seq_len − 1}`` for a chunk longer than ``seq_len`` (the release's
    ``np.random.randint(0, len − seq_len)``, which never picks the last window)."""

    def __init__(
        self,
        chunks: Sequence[Sequence[Any]],
        image_root: str | Path,
        input_size: int,
        flip_prob: float = 0.0,
        seed: int = 0,
        augment: GazeAugment | None = None,
        seq_len: int = 8,
    ) -> None:
        super().__init__([], image_root, input_size, flip_prob, seed, augment)
        self.chunks, self.seq_len = [list(c) for c in chunks], int(seq_len)

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int | tuple[int, int]) -> list[dict[str, Any]]:  # type: ignore[override]
        epoch, i = epoch_index(index)
        rng = np.random.default_rng([self.seed, epoch, i])
        chunk = self.chunks[i]
        start = int(rng.integers(0, len(chunk) - self.seq_len)) if len(chunk) > self.seq_len else 0
        frames = chunk[start : start + self.seq_len]
        flip = self.flip_prob > 0 and rng.random() < self.flip_prob
        pts = [np.asarray(a.gaze_points, float).reshape(-1, 2) for a in frames if a.inout == 1]
        keep = np.vstack([np.asarray(a.head_box, float).reshape(2, 2) for a in frames] + pts)
        aug_seed = rng.integers(2**63)  # every frame's augmentation from an equally seeded generator
        return [self.sample(a, np.random.default_rng(aug_seed), flip, keep) for a in frames]


def clip_collate(batch: Sequence[Any]) -> dict[str, Any]:
    """A batch of clips → one batch of their frames, clip by clip (``B·T`` samples); a batch of single samples
    → torch's default collate."""
    if batch and isinstance(batch[0], list):
        return default_collate([frame for clip in batch for frame in clip])
    return default_collate(list(batch))


def _image_key(a: Any) -> str:
    return str(a.image)


def _track_key(a: Any) -> str:
    return str(a.meta.get("track", a.image))


class GazeFollowImageDataModule(GazekitDataModule):
    """Real gaze-following data with pixels for the released recipes (stages 1–2: GazeFollow; stage 3:
    VideoAttentionTarget, as ``clip_len``-frame training clips or, with ``clip_len=0``, independent frames).

    Args:
        dataset: ``"gazefollow"`` or ``"videoattentiontarget"``.
        train_file, test_file: GazeFollow annotation files (``train_annotations_release.txt``, ...).
        root: dataset root (GazeFollow: the folder the annotation paths are relative to; VAT: the root with
            ``annotations/`` and ``images/``).
        input_size: model input side in px.
        val_fraction: share of training images (VAT: tracks) held out for validation.
        flip_prob: horizontal-flip probability of a training sample.
        color_jitter, bbox_jitter, crop_prob, rotate_prob, lsj_prob: the release's other augmentations
            (:class:`~gazekit.datasets.synthetic.gaze.GazeAugment`; the release's recipes use 0.5 for each).
        clip_len: VAT only: frames per training clip (the release: 8); ``batch_size`` then counts clips, so a
            batch holds ``batch_size·clip_len`` frames. 0 trains on independent frames.
        clip_max_len: VAT only: tracks are cut into chunks of at most this many frames (the release: 32).
    """

    def __init__(
        self,
        dataset: str = "gazefollow",
        train_file: str = "",
        test_file: str | None = None,
        root: str = "",
        input_size: int = 434,
        val_fraction: float = 0.05,
        flip_prob: float = 0.5,
        color_jitter: float = 0.0,
        bbox_jitter: float = 0.0,
        crop_prob: float = 0.0,
        rotate_prob: float = 0.0,
        lsj_prob: float = 0.0,
        clip_len: int = 0,
        clip_max_len: int = 32,
        batch_size: int = 48,
        num_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if dataset not in ("gazefollow", "videoattentiontarget"):
            raise ConfigError(f"dataset must be 'gazefollow' or 'videoattentiontarget', got {dataset!r}")
        if clip_len and dataset != "videoattentiontarget":
            raise ConfigError(f"clip_len is for videoattentiontarget (tracks of frames), not {dataset!r}")
        if clip_len < 0:
            raise ConfigError(f"clip_len must be >= 0, got {clip_len}")
        self.dataset, self.train_file, self.test_file, self.root = dataset, train_file, test_file, root
        self.input_size, self.val_fraction, self.flip_prob = input_size, val_fraction, flip_prob
        self.augment = GazeAugment(color_jitter, bbox_jitter, crop_prob, rotate_prob, lsj_prob)
        self.clip_len, self.clip_max_len = int(clip_len), int(clip_max_len)
        self.splits: dict[str, AnnotatedImages] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if self.dataset == "gazefollow":
            train = read_gazefollow(self.train_file, image_root=self.root, split="train")
            test = read_gazefollow(self.test_file, image_root=self.root, split="test") if self.test_file else []
            image_root = Path(self.root)
            key = _image_key
        else:
            train = read_videoattentiontarget(self.root, "train")
            # the release scores VAT on 8-frame chunks with per-chunk smoothed boxes (tails dropped)
            test = [a for c in vitgaze_test_chunks(read_videoattentiontarget(self.root, "test")) for a in c]
            image_root = Path(self.root) / "images"
            key = _track_key  # frames of a track stay on one side of the split
        parts = split_by_key(train, key, (1.0 - self.val_fraction, self.val_fraction, 0.0), self.seed)
        if self.clip_len:
            chunks = vitgaze_train_chunks(parts["train"], self.clip_len, self.clip_max_len)
            if not chunks:
                raise ConfigError(
                    f"no VideoAttentionTarget training track under {self.root} has {self.clip_len} frames "
                    f"(clip_len); use a smaller clip_len or clip_len: 0 for independent frames"
                )
            fit: AnnotatedImages = AnnotatedClips(
                chunks, image_root, self.input_size, self.flip_prob, self.seed, self.augment, self.clip_len
            )
        else:
            fit = AnnotatedImages(parts["train"], image_root, self.input_size, self.flip_prob, self.seed, self.augment)
        self.splits = {
            "train": fit,
            "val": AnnotatedImages(parts["val"], image_root, self.input_size),
            "test": AnnotatedImages(test, image_root, self.input_size),
        }

    def split_dataset(self, split: str) -> Any:
        self.setup()
        return self.splits[split]

    def collate_fn(self) -> Any:
        return clip_collate
