"""Object-level search trials and their DataModules (the data family OAT trains on).

A *trial* is one display (a :class:`~gazekit.types.Stimulus` with ``objects``), the search task, and (for
training/evaluation) one human scanpath. Batches stay lists of :class:`Trial`: the model tensorises them
(OAT: :class:`gazekit.models.oat_inputs.OATTensorizer`, which caches per-display encodings).

* :class:`OATSyntheticDataModule`: the synthetic search world (``gazekit.datasets.synthetic.search``),
  split by display.
* :class:`ObjectTrialDataModule`: COCO-Search18 (fixations + detections) or Amazon covers
  (``gazekit.datasets.object_level``), cross-validated by image.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from gazekit.datasets import object_level as ol
from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.locations import resolve_data_path
from gazekit.datasets.splits import split_groups
from gazekit.datasets.synthetic.search import SearchWorldConfig, build_world
from gazekit.errors import ConfigError, DataFormatError
from gazekit.training import eval_sampler, process_group, train_sampler
from gazekit.types import Scanpath, Stimulus, Task

__all__ = [
    "AMAZON_APPEARANCE_DIM",
    "DisplayGroupedSampler",
    "OATSyntheticDataModule",
    "ObjectTrialDataModule",
    "Trial",
    "amazon_standin_appearance",
    "collate_list",
]


@dataclass
class Trial:
    """One display + task (+ one human scanpath for training/evaluation)."""

    stimulus: Stimulus
    task: Task
    scanpath: Scanpath | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def collate_list(items: list) -> list:
    """DataLoader collate that keeps trials as a list (the model tensorises them)."""
    return list(items)


class DisplayGroupedSampler(torch.utils.data.DistributedSampler):
    """Shuffles displays (seeded by ``(seed, epoch)``; Lightning calls ``set_epoch``), then yields each display's
    trials together, so a batch holds few distinct displays and the crop CNN runs once per display instead of
    once per trial.

    Under DDP each process takes whole displays (a display's trials never straddle two processes, so each
    process's display cache serves all of them): displays go in shuffled order to the process with the fewest
    trials so far, and every shard is cut to the shortest one so that all processes take the same number of
    steps. In one process (``num_replicas=1``) nothing is cut.

    Args:
        trials: the training trials.
        seed: shuffling seed.
        num_replicas, rank: the process group (default: :func:`gazekit.training.process_group`).
    """

    def __init__(
        self, trials: Sequence[Trial], seed: int = 0, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        if num_replicas is None or rank is None:
            num_replicas, rank = process_group()
        super().__init__(trials, num_replicas=num_replicas, rank=rank, shuffle=True, seed=int(seed))  # type: ignore[arg-type]
        self.groups: dict[int, list[int]] = {}
        for i, t in enumerate(trials):
            self.groups.setdefault(id(t.stimulus), []).append(i)
        self._shard: tuple[int, list[int]] | None = None

    def _indices(self) -> list[int]:
        if self._shard is not None and self._shard[0] == self.epoch:
            return self._shard[1]
        rng = np.random.default_rng([self.seed, self.epoch])
        groups = list(self.groups.values())
        shards: list[list[int]] = [[] for _ in range(self.num_replicas)]
        for gi in rng.permutation(len(groups)):
            g = groups[gi]
            shortest = min(range(self.num_replicas), key=lambda r: len(shards[r]))
            shards[shortest].extend(g[j] for j in rng.permutation(len(g)))
        n = min(len(s) for s in shards)
        self._shard = (self.epoch, shards[self.rank][:n])
        return self._shard[1]

    def __len__(self) -> int:
        return len(self._indices())

    def __iter__(self):
        return iter(self._indices())


class _TrialDataModule:
    """Shared loaders over lists of :class:`Trial` (batches stay lists; the model tensorises them)."""

    train_trials: list[Trial]
    val_trials: list[Trial]
    test_trials: list[Trial]
    group_by_display: bool = False

    def split_dataset(self, split: str) -> list[Trial]:
        if split == "test":
            return self.test_trials or self.val_trials
        return {"train": self.train_trials, "val": self.val_trials}[split]

    def _loader(self, split: str, shuffle: bool):
        trials = self.split_dataset(split)
        if shuffle:
            grouped = self.group_by_display
            sampler = DisplayGroupedSampler(trials, self.seed) if grouped else train_sampler(trials, self.seed)
        else:
            sampler = eval_sampler(trials, split)
        # num_workers=0: tensorisation is cached in the model; workers would not share the cache
        return self.make_loader(trials, sampler, resumable=shuffle, num_workers=0, collate_fn=collate_list,
                                pin_memory=False, persistent_workers=False)  # fmt: skip


def _task_of(stimulus: Stimulus) -> Task:
    t = stimulus.target
    if t is None:
        raise DataFormatError(f"stimulus {stimulus.name!r} has no target; OAT models search")
    return Task("search", t)


class OATSyntheticDataModule(_TrialDataModule, GazekitDataModule):
    """The synthetic search world (``gazekit.datasets.synthetic.search.build_world``) as OAT trials.

    Args:
        n_displays, n_subjects, world_seed: the world (a pure function of these).
        max_objects: cap on objects per display (None = the world's default, 6-84).
        layouts: world layouts (grid and/or free).
        val_fraction, test_fraction: display-level splits (seeded by ``seed``).
        group_by_display: training batches take whole displays (all their subjects' trials) so the crop
            CNN runs once per display per batch (:class:`DisplayGroupedSampler`).
        batch_size, num_workers, seed: as :class:`GazekitDataModule`.
    """

    def __init__(
        self,
        n_displays: int = 400,
        n_subjects: int = 10,
        world_seed: int = 0,
        max_objects: int | None = None,
        layouts: list[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        group_by_display: bool = True,
        batch_size: int = 20,
        num_workers: int | None = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.save_hyperparameters()
        self.group_by_display = group_by_display
        self.n_displays, self.n_subjects, self.world_seed = n_displays, n_subjects, world_seed
        self.max_objects, self.layouts = max_objects, layouts
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.world = None
        self.train_trials, self.val_trials, self.test_trials = [], [], []

    def build_world(self):
        kw: dict[str, Any] = {}
        if self.max_objects is not None:
            kw["max_objects"] = int(self.max_objects)
        if self.layouts:
            kw["layouts"] = tuple(self.layouts)
        cfg = SearchWorldConfig(**kw) if kw else None
        return build_world(self.n_displays, self.n_subjects, self.world_seed, config=cfg)

    def setup(self, stage: str | None = None) -> None:
        if self.world is not None:
            return
        self.world = self.build_world()
        stims = self.world.stimuli
        names = [s.name for s in stims]
        rng = np.random.default_rng([int(self.seed), 0x5EA])
        order = rng.permutation(len(names))
        n_test = int(round(self.test_fraction * len(names)))
        n_val = max(1, int(round(self.val_fraction * len(names))))
        test = {names[i] for i in order[:n_test]}
        val = {names[i] for i in order[n_test : n_test + n_val]}
        by_name = {s.name: s for s in stims}
        tasks = {n: _task_of(s) for n, s in by_name.items()}
        for sp in self.world.scanpaths:
            if sp.stimulus not in by_name or len(sp) == 0:
                continue
            tr = Trial(by_name[sp.stimulus], tasks[sp.stimulus], sp)
            (
                self.test_trials
                if sp.stimulus in test
                else self.val_trials
                if sp.stimulus in val
                else self.train_trials
            ).append(tr)


#: a stand-in appearance for Amazon covers (no cover images are available): see docs/models.md
AMAZON_APPEARANCE_DIM = 16


def amazon_standin_appearance(trials: Sequence[Any], dim: int = AMAZON_APPEARANCE_DIM) -> None:
    """Give every Amazon cover a fixed pseudo-random appearance vector (``attributes['appearance']``).

    Distractor covers get a vector seeded by (collage, cell); the target cover gets the vector of its target
    image name, and the target token reuses it: the target's crop and the target image are the same picture
    in the release, so their CNN codes coincide. What the stand-in lacks is visual similarity between
    distractors and the target."""

    def vec(key: str) -> list[float]:
        r = np.random.default_rng(zlib.crc32(key.encode()))
        v = r.standard_normal(dim)
        return (v / np.linalg.norm(v)).astype(np.float32).tolist()

    seen: set[int] = set()
    for t in trials:
        st = t.stimulus
        if id(st) in seen:
            continue
        seen.add(id(st))
        ti = st.meta.get("target_index")
        for i, o in enumerate(st.objects):
            key = (
                str(st.meta.get("target_image", st.target.category if st.target else ""))
                if i == ti
                else f"{st.name}/{i}"
            )
            o.attributes["appearance"] = vec(key)


class ObjectTrialDataModule(_TrialDataModule, GazekitDataModule):
    """Object-level trials from real data, cross-validated by image.

    Args:
        source: ``coco_search18`` (fixations JSON + YOLO detections; appearance = category one-hot + box +
            confidence) or ``amazon`` (STI ``Amazon.json`` on the 6x14 grid; stand-in appearance vectors).
        fixations: COCO-Search18 fixation JSON, or Amazon.json (``--data.fixations``; None: from
            ``$GAZEKIT_COCO_SEARCH18`` / ``$GAZEKIT_AMAZON_COVERS``, see :mod:`gazekit.datasets.locations`).
        detections: COCO-Search18 detections folder (``--data.detections``; None:
            ``$GAZEKIT_COCO_SEARCH18/detections``).
        radius: fixation -> object radius (px) of the loader (background fixations later go to the nearest
            object, as OAT does).
        split_by: ``image`` (cross-validation by image/collage) or ``image_task`` (by image-target pair).
        n_folds, fold: the held-out test fold; ``fold=None`` (the default) holds out no fold, so the whole
            file trains (less the ``val_fraction`` used for early stopping).
        val_fraction: share of the remaining images used for validation (early stopping).
        max_trials: keep at most this many trials (for quick runs; None = all).
    """

    def __init__(
        self,
        source: Literal["coco_search18", "amazon"] = "coco_search18",
        fixations: str | None = None,
        detections: str | None = None,
        radius: float = 50.0,
        split_by: Literal["image", "image_task"] = "image",
        n_folds: int = 5,
        fold: int | None = None,
        val_fraction: float = 0.15,
        max_trials: int | None = None,
        batch_size: int = 20,
        num_workers: int | None = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.save_hyperparameters()
        self.source, self.fixations, self.detections = source, fixations, detections
        self.radius, self.split_by = radius, split_by
        self.n_folds, self.fold, self.val_fraction, self.max_trials = n_folds, fold, val_fraction, max_trials
        self.trials: list[Trial] | None = None
        self.train_trials, self.val_trials, self.test_trials = [], [], []

    def load_trials(self) -> list[Trial]:
        if self.source == "coco_search18":
            fix = resolve_data_path("coco_search18", "fixations", self.fixations, option="--data.fixations")
            det = resolve_data_path("coco_search18", "detections", self.detections, option="--data.detections")
            raw = ol.coco_search18_object_trials(fix, det, self.radius)
        elif self.source == "amazon":
            fix = resolve_data_path("amazon", "fixations", self.fixations, option="--data.fixations")
            raw = ol.amazon_object_trials(fix)
            amazon_standin_appearance(raw)
        else:
            raise ConfigError(f"source must be 'coco_search18' or 'amazon', got {self.source!r}")
        tasks: dict[int, Task] = {}
        out = []
        for r in raw:
            st = r.stimulus
            if st.target is None or len(r.scanpath) == 0:
                continue
            task = tasks.setdefault(id(st), Task("search", st.target))
            out.append(Trial(st, task, r.scanpath))
        if self.max_trials is not None:
            out = out[: self.max_trials]
        return out

    def setup(self, stage: str | None = None) -> None:
        if self.trials is not None:
            return
        self.trials = self.load_trials()
        if self.split_by == "image":
            groups = [t.stimulus.name for t in self.trials]
        else:
            groups = [f"{t.stimulus.name}|{t.task.name}" for t in self.trials]
        n_folds = self.n_folds if self.fold is not None else 1  # no fold asked: no test split
        tr, va, te = split_groups(groups, n_folds, self.fold or 0, self.val_fraction, self.seed)
        self.train_trials = [self.trials[i] for i in tr]
        self.val_trials = [self.trials[i] for i in va]
        self.test_trials = [self.trials[i] for i in te]
