"""Lightning DataModules over the real-data readers, with the splits the literature uses.

Splits (all deterministic per ``seed``: the same seed gives the same split on every machine):

* ``"official"``: the split written in the data (COCO-Search18 split1 ``split`` field; GazeFollow train/test
  files). COCO-Search18 ``valid`` becomes ``val``.
* ``"image"``: by stimulus, so no image is in two splits (ScanDiff/TPP-Gaze style 70/15/15 etc.).
* ``"subject"``: by observer, so no observer is in two splits.
* ``"random"``: trials shuffled, as OAT's random split (80/10/10 by default).
* ``"leave_one_out"``: OAT's leave-one-layout/target-out: the trials of ``holdout_layout`` x
  ``holdout_target`` are the test set; ``val`` is drawn (by image) from the rest.

Batches: :func:`collate_scanpaths` (padded ``[B, T, 2]`` px, ``[B, T]`` ms, lengths ``[B]``, plus metadata lists),
:func:`collate_object_trials` (adds padded object boxes ``[B, N, 4]`` xywh px, fixated object ``[B, T]``
with -1 padding/background, target index ``[B]``), :func:`collate_gaze` (padded normalised gaze
``[B, 20, 2]`` with -1, head boxes ``[B, 4]`` px, in/out ``[B]``, and the annotations).
Workers default to :func:`~gazekit.datasets.base.default_num_workers`; pin-memory follows CUDA availability.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from gazekit.datasets.base import GazekitDataModule
from gazekit.errors import ConfigError

__all__ = [
    "GazeFollowDataModule",
    "ObjectSearchDataModule",
    "ScanpathDataModule",
    "collate_gaze",
    "collate_object_trials",
    "collate_scanpaths",
    "leave_one_out",
    "split_by_key",
]

SPLITS = ("train", "val", "test")


def split_by_key(
    items: Sequence[Any],
    key: Callable[[Any], Hashable],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, list[Any]]:
    """Split ``items`` into train/val/test so that all items sharing ``key(item)`` land in the same split.

    Keys are sorted (by their string form) before a seeded permutation, so the result depends only on the
    items and ``seed``. ``fractions`` are of keys, not items; they are normalised to sum to 1.
    """
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or np.any(fr < 0) or fr.sum() <= 0:
        raise ConfigError(f"fractions must be three non-negative numbers, got {list(fractions)}")
    fr = fr / fr.sum()
    keys = sorted({key(it) for it in items}, key=str)
    order = np.random.default_rng(seed).permutation(len(keys))
    n = len(keys)
    n_train = int(round(fr[0] * n))
    n_val = int(round(fr[1] * n))
    if fr[2] > 0 and n_train + n_val >= n and n >= 3:
        n_train = max(1, n - n_val - 1)
    where = {}
    for rank, i in enumerate(order.tolist()):
        where[keys[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    out: dict[str, list[Any]] = {s: [] for s in SPLITS}
    for it in items:
        out[where[key(it)]].append(it)
    return out


def leave_one_out(
    items: Sequence[Any],
    layout_of: Callable[[Any], Hashable],
    target_of: Callable[[Any], Hashable],
    holdout_layout: Hashable,
    holdout_target: Hashable | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, list[Any]]:
    """OAT's protocol: trials of (``holdout_layout``, ``holdout_target``) are the test set (any target when
    ``holdout_target`` is None); ``val_fraction`` of the remaining layouts (by layout) is validation."""
    test = [
        it
        for it in items
        if layout_of(it) == holdout_layout and (holdout_target is None or target_of(it) == holdout_target)
    ]
    if not test:
        raise ConfigError(f"no trial has layout {holdout_layout!r} and target {holdout_target!r}")
    test_ids = {id(it) for it in test}
    rest = [it for it in items if id(it) not in test_ids and layout_of(it) != holdout_layout]
    parts = split_by_key(rest, layout_of, (1.0 - val_fraction, val_fraction, 0.0), seed)
    return {"train": parts["train"], "val": parts["val"], "test": test}


# --------------------------------------------------------------------------------------------- collation
def collate_scanpaths(batch: Sequence[Any]) -> dict[str, Any]:
    """Scanpaths -> padded tensors: ``xy [B, T, 2]`` px (0-padded), ``duration [B, T]`` ms (NaN -> 0,
    ``duration_known [B, T]``), ``lengths [B]``, and ``stimulus``/``subject``/``task``/``scanpaths`` lists."""
    import torch

    sps = list(batch)
    t = max((len(s) for s in sps), default=0)
    xy = torch.zeros(len(sps), t, 2)
    dur = torch.zeros(len(sps), t)
    known = torch.zeros(len(sps), t, dtype=torch.bool)
    for i, s in enumerate(sps):
        n = len(s)
        xy[i, :n] = torch.as_tensor(s.xy, dtype=torch.float32)
        d = torch.as_tensor(s.duration, dtype=torch.float32)
        known[i, :n] = ~torch.isnan(d)
        dur[i, :n] = torch.nan_to_num(d, nan=0.0)
    return {
        "xy": xy,
        "duration": dur,
        "duration_known": known,
        "lengths": torch.tensor([len(s) for s in sps], dtype=torch.long),
        "stimulus": [s.stimulus for s in sps],
        "subject": [s.subject for s in sps],
        "task": [s.task for s in sps],
        "scanpaths": sps,
    }


def collate_object_trials(batch: Sequence[Any]) -> dict[str, Any]:
    """Object trials -> :func:`collate_scanpaths` of their scanpaths plus ``boxes [B, N, 4]`` (xywh px),
    ``n_objects [B]``, ``fixated [B, T]`` (-1 = background/padding), ``target_index [B]`` (-1 = absent),
    ``categories`` (lists) and ``trials``."""
    import torch

    trials = list(batch)
    out = collate_scanpaths([tr.scanpath for tr in trials])
    n = max((len(tr.stimulus.objects) for tr in trials), default=0)
    boxes = torch.zeros(len(trials), n, 4)
    fixated = torch.full(out["xy"].shape[:2], -1, dtype=torch.long)
    for i, tr in enumerate(trials):
        objs = tr.stimulus.objects
        if objs:
            boxes[i, : len(objs)] = torch.tensor([o.xywh for o in objs], dtype=torch.float32)
        if tr.scanpath.objects is not None:
            fixated[i, : len(tr.scanpath)] = torch.as_tensor(tr.scanpath.objects, dtype=torch.long)
    out.update(
        boxes=boxes,
        n_objects=torch.tensor([len(tr.stimulus.objects) for tr in trials], dtype=torch.long),
        fixated=fixated,
        target_index=torch.tensor([-1 if tr.target_index is None else tr.target_index for tr in trials]),
        categories=[[o.category for o in tr.stimulus.objects] for tr in trials],
        trials=trials,
    )
    return out


def collate_gaze(batch: Sequence[Any]) -> dict[str, Any]:
    """Gaze annotations -> ``gaze_norm [B, 20, 2]`` (normalised, -1 padded), ``head_box [B, 4]`` px,
    ``inout [B]`` and the ``annotations`` list (images are left to the model's transform)."""
    import torch

    from gazekit.datasets.gazefollow import pad_gaze_points

    anns = list(batch)
    g = (
        np.stack([pad_gaze_points(a.meta.get("gaze_norm", a.gaze_points)) for a in anns])
        if anns
        else np.zeros((0, 20, 2))
    )
    return {
        "gaze_norm": torch.as_tensor(g, dtype=torch.float32),
        "head_box": torch.tensor([a.head_box for a in anns], dtype=torch.float32).reshape(-1, 4),
        "inout": torch.tensor([a.inout for a in anns], dtype=torch.long),
        "annotations": anns,
    }


class _ListDataset:
    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


class _SplitDataModule(GazekitDataModule):
    """Shared plumbing: ``self.splits`` filled by ``_load()``, loaders over lists with a collate function."""

    collate: Callable[[Sequence[Any]], Any] = staticmethod(collate_scanpaths)

    def __init__(self, batch_size: int = 16, num_workers: int | None = None, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.splits: dict[str, list[Any]] | None = None

    def _load(self) -> dict[str, list[Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self.splits = self._load()

    def split_dataset(self, split: str) -> Any:
        self.setup()
        assert self.splits is not None
        return _ListDataset(self.splits[split])

    def collate_fn(self) -> Callable[[Sequence[Any]], Any]:
        return type(self).collate


def _split(items: list[Any], split_by: str, fractions: Sequence[float], seed: int) -> dict[str, list[Any]]:
    if split_by == "image":
        return split_by_key(items, lambda s: s.stimulus, fractions, seed)
    if split_by == "subject":
        return split_by_key(items, lambda s: str(s.subject), fractions, seed)
    if split_by == "random":
        idx = split_by_key(list(range(len(items))), lambda i: i, fractions, seed)
        return {k: [items[i] for i in v] for k, v in idx.items()}
    if split_by == "official":
        out: dict[str, list[Any]] = {s: [] for s in SPLITS}
        for s in items:
            sp = s.meta.get("split")
            sp = {"valid": "val", "validation": "val"}.get(sp, sp)
            if sp not in out:
                raise ConfigError(f"split_by='official' needs a train/valid/test split field, found {sp!r}")
            out[sp].append(s)
        return out
    raise ConfigError(f"split_by must be official, image, subject or random, got {split_by!r}")


_SCANPATH_READERS = {
    "coco_search18": "gazekit.datasets.coco_search18:read_coco_search18",
    "coco_freeview": "gazekit.datasets.coco_search18:read_coco_freeview",
    "mit1003": "gazekit.datasets.mit1003:read_mit1003",
    "mit1003_json": "gazekit.datasets.mit1003:read_mit1003_json",
    "capmit1003": "gazekit.datasets.capmit1003:read_capmit1003",
    "amazon_covers": "gazekit.datasets.amazon:read_amazon_covers",
    "eyelink": "gazekit.datasets.eyelink:read_eyelink_asc",
    "generic_csv": "gazekit.datasets.generic_csv:read_generic_csv",
    "scanpaths": "gazekit.io:read_scanpaths",
}


def _reader(spec: str) -> Callable[..., Any]:
    import importlib

    mod, fn = spec.split(":")
    return getattr(importlib.import_module(mod), fn)


class ScanpathDataModule(_SplitDataModule):
    """Human scanpaths from any supported format, split by image, subject, official field or at random.

    Args:
        dataset: one of coco_search18, coco_freeview, mit1003, mit1003_json, capmit1003, amazon_covers, eyelink,
            generic_csv, scanpaths (gazekit CSV / COCO-Search18 JSON).
        paths: file(s) or folder(s) given to the reader (their scanpaths are concatenated).
        split_by: official | image | subject | random.
        fractions: train/val/test fractions (of images, subjects or trials).
        reader_kwargs: extra keyword arguments of the reader (e.g. ``{"frame": "model"}``).
    """

    def __init__(
        self,
        dataset: str = "coco_search18",
        paths: str | list[str] = "",
        split_by: str = "image",
        fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
        reader_kwargs: dict[str, Any] | None = None,
        batch_size: int = 16,
        num_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if dataset not in _SCANPATH_READERS:
            raise ConfigError(f"unknown dataset {dataset!r}; expected one of {', '.join(_SCANPATH_READERS)}")
        self.dataset, self.paths = dataset, [paths] if isinstance(paths, str) else list(paths)
        self.split_by, self.fractions, self.reader_kwargs = split_by, tuple(fractions), dict(reader_kwargs or {})

    def _load(self) -> dict[str, list[Any]]:
        read = _reader(_SCANPATH_READERS[self.dataset])
        items = [sp for p in self.paths for sp in read(p, **self.reader_kwargs)]
        return _split(items, self.split_by, self.fractions, self.seed)


class ObjectSearchDataModule(_SplitDataModule):
    """Object-level search trials (COCO-Search18 + detections, Amazon covers, OAT shelves).

    Args:
        dataset: coco_search18 (``paths`` = fixation JSON(s), ``detections`` = folder), amazon_covers, oat_shelves.
        split_by: random (OAT), image, subject or leave_one_out (``holdout_layout``/``holdout_target``).
    """

    collate = staticmethod(collate_object_trials)

    def __init__(
        self,
        dataset: str = "amazon_covers",
        paths: str | list[str] = "",
        detections: str | None = None,
        split_by: str = "random",
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        holdout_layout: str | None = None,
        holdout_target: str | None = None,
        radius: float | None = None,
        batch_size: int = 16,
        num_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if dataset not in ("coco_search18", "amazon_covers", "oat_shelves"):
            raise ConfigError(f"dataset must be coco_search18, amazon_covers or oat_shelves, got {dataset!r}")
        if dataset == "coco_search18" and not detections:
            raise ConfigError("coco_search18 object trials need detections=<folder of <task>.csv>")
        if split_by == "leave_one_out" and holdout_layout is None:
            raise ConfigError("split_by='leave_one_out' needs holdout_layout (and usually holdout_target)")
        self.dataset, self.paths = dataset, [paths] if isinstance(paths, str) else list(paths)
        self.detections, self.split_by, self.fractions = detections, split_by, tuple(fractions)
        self.holdout_layout, self.holdout_target, self.radius = holdout_layout, holdout_target, radius

    def _load(self) -> dict[str, list[Any]]:
        from gazekit.datasets import object_level as ol

        trials: list[Any] = []
        for p in self.paths:
            if self.dataset == "coco_search18":
                kw = {} if self.radius is None else {"radius": self.radius}
                trials += ol.coco_search18_object_trials(p, self.detections, **kw)
            elif self.dataset == "amazon_covers":
                trials += ol.amazon_object_trials(p)
            else:
                from gazekit.datasets.oat_shelves import oat_shelf_trials

                trials += oat_shelf_trials(p)
        if self.split_by == "leave_one_out":
            return leave_one_out(
                trials,
                lambda t: t.stimulus.meta.get("layout", t.stimulus.name),
                lambda t: t.stimulus.target.category if t.stimulus.target else None,
                self.holdout_layout,
                self.holdout_target,
                self.fractions[1] / max(1e-9, self.fractions[0] + self.fractions[1]),
                self.seed,
            )
        if self.split_by == "image":
            return split_by_key(trials, lambda t: t.stimulus.name, self.fractions, self.seed)
        if self.split_by == "subject":
            return split_by_key(trials, lambda t: str(t.scanpath.subject), self.fractions, self.seed)
        if self.split_by == "random":
            idx = split_by_key(list(range(len(trials))), lambda i: i, self.fractions, self.seed)
            return {k: [trials[i] for i in v] for k, v in idx.items()}
        raise ConfigError(f"split_by must be random, image, subject or leave_one_out, got {self.split_by!r}")


class GazeFollowDataModule(_SplitDataModule):
    """GazeFollow: ``train_file`` split by image into train/val (``val_fraction``), ``test_file`` = test.

    Images are read by the model's own transform from ``image_root``/``annotation.image``; without
    ``image_root`` annotations stay normalised (see :func:`gazekit.datasets.gazefollow.read_gazefollow`).
    """

    collate = staticmethod(collate_gaze)

    def __init__(
        self,
        train_file: str = "",
        test_file: str | None = None,
        image_root: str | None = None,
        val_fraction: float = 0.1,
        batch_size: int = 16,
        num_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.train_file, self.test_file, self.image_root, self.val_fraction = (
            train_file,
            test_file,
            image_root,
            val_fraction,
        )

    def _load(self) -> dict[str, list[Any]]:
        from gazekit.datasets.gazefollow import read_gazefollow

        train = read_gazefollow(self.train_file, image_root=self.image_root, split="train")
        parts = split_by_key(train, lambda a: a.image, (1.0 - self.val_fraction, self.val_fraction, 0.0), self.seed)
        test = read_gazefollow(self.test_file, image_root=self.image_root, split="test") if self.test_file else []
        return {"train": parts["train"], "val": parts["val"], "test": test}
