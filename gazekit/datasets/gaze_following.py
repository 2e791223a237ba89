"""Real gaze-following images as a DataModule (GazeFollow, VideoAttentionTarget frames).

Samples are what the synthetic gaze world yields (:func:`~gazekit.datasets.synthetic.gaze.gaze_sample_to_tensors`),
so a gaze model trains on either without change (synthetic: ``SyntheticGazeDataModule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.gazefollow import read_gazefollow
from gazekit.datasets.splits import split_by_key
from gazekit.datasets.synthetic.gaze import gaze_sample_to_tensors, head_gaussian_map
from gazekit.datasets.videoattentiontarget import read_videoattentiontarget, vitgaze_test_chunks
from gazekit.errors import ConfigError
from gazekit.imageio import read_image

__all__ = ["AnnotatedImages", "GazeFollowImageDataModule"]


class AnnotatedImages:
    """Map-style dataset: GazeFollow / VideoAttentionTarget annotations with pixels → model samples
    (:func:`~gazekit.datasets.synthetic.gaze.gaze_sample_to_tensors`; the head map is the annotated head's)."""

    def __init__(
        self, annotations: Sequence[Any], image_root: str | Path, input_size: int, flip_prob: float = 0.0, seed: int = 0
    ) -> None:
        self.annotations, self.root = list(annotations), Path(image_root)
        self.input_size, self.flip_prob, self.seed = input_size, flip_prob, seed

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, i: int) -> dict[str, Any]:
        a = self.annotations[i]
        img = read_image(self.root / a.image)
        h, w = img.shape[:2]
        flip = self.flip_prob > 0 and np.random.default_rng([self.seed, i]).random() < self.flip_prob
        return gaze_sample_to_tensors(
            img, a, input_size=self.input_size, head_map=head_gaussian_map([a.head_box], w, h), flip=flip
        )


class GazeFollowImageDataModule(GazekitDataModule):
    """Real gaze-following data with pixels for the released recipes (stages 1–2: GazeFollow; stage 3:
    VideoAttentionTarget frames, one sample per frame: the release's 8-frame clips are not modelled).

    Args:
        dataset: ``"gazefollow"`` or ``"videoattentiontarget"``.
        train_file, test_file: GazeFollow annotation files (``train_annotations_release.txt``, ...).
        root: dataset root (GazeFollow: the folder the annotation paths are relative to; VAT: the root with
            ``annotations/`` and ``images/``).
        input_size: model input side in px.
        val_fraction: share of training images held out for validation (split by image).
        flip_prob: horizontal-flip probability of a training sample.
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
        batch_size: int = 48,
        num_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if dataset not in ("gazefollow", "videoattentiontarget"):
            raise ConfigError(f"dataset must be 'gazefollow' or 'videoattentiontarget', got {dataset!r}")
        self.dataset, self.train_file, self.test_file, self.root = dataset, train_file, test_file, root
        self.input_size, self.val_fraction, self.flip_prob = input_size, val_fraction, flip_prob
        self.splits: dict[str, AnnotatedImages] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if self.dataset == "gazefollow":
            train = read_gazefollow(self.train_file, image_root=self.root, split="train")
            test = read_gazefollow(self.test_file, image_root=self.root, split="test") if self.test_file else []
            image_root = Path(self.root)
        else:
            train = read_videoattentiontarget(self.root, "train")
            # the release scores VAT on 8-frame chunks with per-chunk smoothed boxes (tails dropped)
            test = [a for c in vitgaze_test_chunks(read_videoattentiontarget(self.root, "test")) for a in c]
            image_root = Path(self.root) / "images"
        parts = split_by_key(train, lambda a: a.image, (1.0 - self.val_fraction, self.val_fraction, 0.0), self.seed)
        self.splits = {
            "train": AnnotatedImages(parts["train"], image_root, self.input_size, self.flip_prob, self.seed),
            "val": AnnotatedImages(parts["val"], image_root, self.input_size),
            "test": AnnotatedImages(test, image_root, self.input_size),
        }

    def split_dataset(self, split: str) -> Any:
        self.setup()
        return self.splits[split]
