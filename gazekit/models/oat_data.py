"""Tensorisation and DataModules for OAT (object-level scanpaths).

A *trial* is one display (a :class:`~gazekit.types.Stimulus` with ``objects``), the search task, and
(for training/evaluation) one human scanpath whose fixations are mapped onto display objects.

Tensorisation follows the release (``HKUST-NISL/oat_eccv24 @0c48c3e``, ``src/dataBuilders/data_builder.py``
and ``transformerLightning.generate3DInput``):

* encoder tokens per display: the N objects in display order, then the **target token** at index N
  (appearance = the target image, position = (row, col, flag 1)); displays with fewer objects than the
  batch maximum are padded after the target token (masked everywhere);
* each token's position is the triple (row, column, is-target). Objects carry ``attributes['row'/'col']``
  on grid displays; free layouts (COCO detections) get (row, col) by quantising the box centre onto a
  ``grid_rows x grid_cols`` grid over the display (a gazekit choice: the paper used real shelf grids);
* the decoder's BOS is a pseudo-object at the grid centre ``(n_rows // 2, n_cols // 2)`` with a blank
  (all-ones) image, as in the release;
* labels: the fixated object indices, then EOS = N (= pointing at the target token); PAD = ignored.
  A human fixation on the background (object ``-1``) goes to the nearest object centre, as the release
  does for Amazon covers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from gazekit.datasets.base import GazekitDataModule
from gazekit.errors import ConfigError, DataFormatError
from gazekit.training import eval_sampler, process_group, train_sampler
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target, Task, object_index_for_box

__all__ = [
    "CROP_HW",
    "DisplayEncoding",
    "OATBatch",
    "OATTensorizer",
    "Trial",
    "fixations_to_objects",
    "ObjectTrialDataModule",
    "OATSyntheticDataModule",
    "object_grid",
]

#: crops are resized to 93 (wide) x 150 (tall) px RGB in [0, 1], as in the release's CNN input
CROP_HW = (150, 93)


@dataclass
class Trial:
    """One display + task (+ one human scanpath for training/evaluation)."""

    stimulus: Stimulus
    task: Task
    scanpath: Scanpath | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- geometry
def object_grid(
    stimulus: Stimulus, grid_rows: int | None = None, grid_cols: int | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(row, col) per object and the grid size (n_rows, n_cols).

    Objects with integer ``attributes['row']``/``['col']`` keep them (grid displays). Otherwise the box
    centre is quantised onto ``grid_rows x grid_cols`` cells over the display.
    """
    objs = stimulus.objects
    if objs and all("row" in o.attributes and "col" in o.attributes for o in objs):
        rows = np.array([int(o.attributes["row"]) for o in objs], dtype=np.int64)
        cols = np.array([int(o.attributes["col"]) for o in objs], dtype=np.int64)
        n_rows = int(stimulus.meta.get("grid_rows") or stimulus.meta.get("rows") or rows.max() + 1)
        n_cols = int(stimulus.meta.get("grid_cols") or stimulus.meta.get("cols") or cols.max() + 1)
        return rows, cols, n_rows, n_cols
    if grid_rows is None or grid_cols is None:
        raise ConfigError(
            f"stimulus {stimulus.name!r}: objects have no row/col attributes; set grid_rows and grid_cols "
            "to quantise their centres"
        )
    c = np.array([o.center for o in objs], dtype=float).reshape(-1, 2)
    cols = np.clip(np.floor(c[:, 0] / stimulus.width * grid_cols), 0, grid_cols - 1).astype(np.int64)
    rows = np.clip(np.floor(c[:, 1] / stimulus.height * grid_rows), 0, grid_rows - 1).astype(np.int64)
    return rows, cols, int(grid_rows), int(grid_cols)


def _centres_sizes(objs: Sequence[ObjectBox]) -> tuple[np.ndarray, np.ndarray]:
    c = np.array([o.center for o in objs], dtype=float).reshape(-1, 2)
    s = np.array([(max(o.w, 1.0), max(o.h, 1.0)) for o in objs], dtype=float).reshape(-1, 2)
    return c, s


def fixations_to_objects(scanpath: Scanpath, stimulus: Stimulus) -> np.ndarray:
    """Object index per fixation: ``scanpath.objects`` where given and >= 0, else the object whose box
    contains the fixation (smallest such box), else the nearest object centre (release rule for Amazon)."""
    n = len(scanpath)
    out = np.full(n, -1, dtype=np.int64)
    if scanpath.objects is not None:
        out[:] = scanpath.objects
    objs = stimulus.objects
    if not objs:
        raise DataFormatError(
            f"stimulus {stimulus.name!r} has no objects; OAT predicts over object boxes: give the "
            "display's objects (e.g. COCO-Search18 detections) or use a synthetic gallery display"
        )
    todo = np.nonzero((out < 0) | (out >= len(objs)))[0]
    if len(todo):
        centres, _ = _centres_sizes(objs)
        areas = np.array([o.w * o.h for o in objs])
        for i in todo:
            x, y = scanpath.x[i], scanpath.y[i]
            inside = np.array([bool(o.contains(x, y)) for o in objs])
            if inside.any():
                cand = np.nonzero(inside)[0]
                out[i] = cand[np.argmin(areas[cand])]
            else:
                out[i] = int(np.argmin(((centres - (x, y)) ** 2).sum(1)))
    return out


def crop_resize(image: np.ndarray, box: tuple[float, float, float, float], hw: tuple[int, int] = CROP_HW) -> np.ndarray:
    """Crop an ``(x, y, w, h)`` box (clipped to the image, at least 1 px) and resize to ``hw``: uint8 [3, H, W]."""
    import cv2

    H, W = image.shape[:2]
    x, y, w, h = box
    x0 = int(np.clip(math.floor(x), 0, W - 1))
    y0 = int(np.clip(math.floor(y), 0, H - 1))
    x1 = int(np.clip(math.ceil(x + w), x0 + 1, W))
    y1 = int(np.clip(math.ceil(y + h), y0 + 1, H))
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    interp = cv2.INTER_AREA if (crop.shape[0] > hw[0] or crop.shape[1] > hw[1]) else cv2.INTER_LINEAR
    out = cv2.resize(crop, (hw[1], hw[0]), interpolation=interp)
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def _resize_image(img: np.ndarray, hw: tuple[int, int] = CROP_HW) -> np.ndarray:
    return crop_resize(img, (0.0, 0.0, float(img.shape[1]), float(img.shape[0])), hw)


# --------------------------------------------------------------------------------------------- encodings
@dataclass
class DisplayEncoding:
    """One display (+ target) as arrays; the target token is row ``n_obj`` of ``app``/``pos``.

    Attributes:
        app: ``[N+1, 3, 150, 93]`` uint8 crops (crop mode) or ``[N+1, A]`` float32 vectors (vector mode).
        pos: ``[N+1, 3]`` int64 (row, col, flag); flag is 1 only for the target token.
        bos_pos: ``[3]`` int64 grid-centre pseudo-object.
        target_obj: index of the target's display object (-1 if unknown/absent).
        centres, sizes: ``[N, 2]`` float px, for mapping object fixations back to pixels.
    """

    app: np.ndarray
    pos: np.ndarray
    bos_pos: np.ndarray
    n_obj: int
    target_obj: int
    centres: np.ndarray
    sizes: np.ndarray
    width: int
    height: int
    name: str


@dataclass
class OATBatch:
    """A padded batch. ``S = max N + 1`` encoder tokens; ``L`` decoder steps (BOS + inputs).

    Attributes:
        enc_app: ``[U, S, 3, 150, 93]`` float in [0, 1] (crop) or ``[U, S, A]`` (vector), one row per
            distinct display of the batch; ``app_index [B]`` says which row each sample uses.
        enc_pos: ``[B, S, 3]`` long.
        enc_valid: ``[B, S]`` bool, True for the N objects and the target token.
        n_obj: ``[B]`` long (also the per-sample EOS class).
        target_obj: ``[B]`` long (-1 = none).
        bos_pos: ``[B, 3]`` long.
        labels: ``[B, L]`` long class per step (object, EOS = n_obj, -100 = PAD) or None.
        offsets: ``[B, L, 2]`` float fixation offset from the object centre in box units (NaN = none) or None.
    """

    enc_app: torch.Tensor
    enc_pos: torch.Tensor
    enc_valid: torch.Tensor
    n_obj: torch.Tensor
    target_obj: torch.Tensor
    bos_pos: torch.Tensor
    displays: list[DisplayEncoding]
    labels: torch.Tensor | None = None
    offsets: torch.Tensor | None = None
    app_index: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> OATBatch:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return OATBatch(
            mv(self.enc_app),
            mv(self.enc_pos),
            mv(self.enc_valid),
            mv(self.n_obj),
            mv(self.target_obj),
            mv(self.bos_pos),
            self.displays,
            mv(self.labels),
            mv(self.offsets),
            mv(self.app_index),
        )  # type: ignore[arg-type]


class OATTensorizer:
    """Turns stimuli/tasks/scanpaths into :class:`OATBatch` tensors (display encodings are cached).

    Args:
        appearance: ``crop`` (object crops from the image, 93x150 px) or ``vector`` (per-object vectors).
        categories: vocabulary of the vector mode's one-hot category feature.
        category_words: the vocabulary holds words and the feature is the multi-hot of the category's
            words (the synthetic world's "<colour> <shape> <texture>" categories) instead of a one-hot.
        grid_rows, grid_cols: quantisation grid for displays without row/col attributes.
        target_position: ``object`` (release: the target token carries the target object's row/col)
            or ``none`` (row/col slots are zero; only the flag is set) when the location must not leak.
        start_fixation: human scanpaths begin with the initial (centre) fixation, which the BOS stands
            for; it is dropped from the labels.
        max_len: at most this many object fixations per label sequence (EOS follows).
        pe_rows: the position table size; indices >= pe_rows select zero rows.
    """

    def __init__(
        self,
        appearance: Literal["crop", "vector"] = "crop",
        categories: Sequence[str] | None = None,
        category_words: bool = False,
        grid_rows: int | None = None,
        grid_cols: int | None = None,
        target_position: Literal["object", "none"] = "object",
        start_fixation: bool = True,
        max_len: int = 16,
        pe_rows: int = 16,
        cache_size: int = 4096,
    ) -> None:
        if appearance not in ("crop", "vector"):
            raise ConfigError(f"appearance must be 'crop' or 'vector', got {appearance!r}")
        if target_position not in ("object", "none"):
            raise ConfigError(f"target_position must be 'object' or 'none', got {target_position!r}")
        self.appearance = appearance
        self.categories = list(categories or [])
        self.category_words = bool(category_words)
        self._cat_index = {(c.lower() if category_words else c): i for i, c in enumerate(self.categories)}
        self.grid_rows, self.grid_cols = grid_rows, grid_cols
        self.target_position = target_position
        self.start_fixation = start_fixation
        self.max_len = max_len
        self.pe_rows = pe_rows
        self._cache: OrderedDict[tuple, DisplayEncoding] = OrderedDict()
        self._cache_size = cache_size

    # ----------------------------------------------------------------------------------- appearance
    @property
    def vector_dim(self) -> int:
        """Vector-mode feature size: one-hot category (+1 unknown) + box (cx, cy, w, h) + confidence."""
        return len(self.categories) + 1 + 4 + 1

    def _vector(self, category: str | None, box: tuple[float, float, float, float] | None, conf: float, W: int, H: int):
        v = np.zeros(self.vector_dim, dtype=np.float32)
        if self.category_words:  # multi-hot of the category's words ("red circle striped")
            hits = [self._cat_index[w] for w in (category or "").lower().split() if w in self._cat_index]
            v[hits if hits else [len(self.categories)]] = 1.0
        else:
            v[self._cat_index.get(category or "", len(self.categories))] = 1.0
        if box is not None:
            x, y, w, h = box
            k = len(self.categories) + 1
            v[k : k + 4] = ((x + w / 2) / W, (y + h / 2) / H, w / W, h / H)
        v[-1] = conf
        return v

    def _target_object(self, stimulus: Stimulus, target: Target | None) -> int:
        box = target.box if target is not None and target.box is not None else None
        if box is None and stimulus.target is not None:
            box = stimulus.target.box
        if box is None:
            return -1
        idx = object_index_for_box(stimulus.objects, box)
        return -1 if idx is None else int(idx)

    def encode_display(self, stimulus: Stimulus, task: Task) -> DisplayEncoding:
        """Encode one display + target (cached by stimulus object identity and target)."""
        target = task.target if task is not None else None
        tkey = None if target is None else (target.category, target.box, id(target.image))
        key = (id(stimulus), stimulus.name, tkey)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        enc = self._encode(stimulus, target)
        self._cache[key] = enc
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return enc

    def _encode(self, stimulus: Stimulus, target: Target | None) -> DisplayEncoding:
        objs = stimulus.objects
        if not objs:
            raise DataFormatError(
                f"stimulus {stimulus.name!r} has no objects; OAT predicts over object boxes: give the "
                "display's objects (e.g. COCO-Search18 detections) or use a synthetic gallery display"
            )
        n = len(objs)
        rows, cols, n_rows, n_cols = object_grid(stimulus, self.grid_rows, self.grid_cols)
        if max(n_rows, n_cols) > self.pe_rows:
            raise ConfigError(
                f"stimulus {stimulus.name!r}: a {n_rows}x{n_cols} grid needs pe_rows >= {max(n_rows, n_cols)}"
            )
        t_obj = self._target_object(stimulus, target)
        pos = np.zeros((n + 1, 3), dtype=np.int64)
        pos[:n, 0], pos[:n, 1] = rows, cols
        if self.target_position == "object" and t_obj >= 0:
            pos[n, 0], pos[n, 1] = rows[t_obj], cols[t_obj]
        else:  # zero rows of the table: no location
            pos[n, 0] = pos[n, 1] = self.pe_rows
        pos[n, 2] = 1
        bos = np.array([n_rows // 2, n_cols // 2, 0], dtype=np.int64)
        W, H = stimulus.width, stimulus.height
        if self.appearance == "crop":
            img = stimulus.load_image()
            app = np.zeros((n + 1, 3, *CROP_HW), dtype=np.uint8)
            for i, o in enumerate(objs):
                app[i] = crop_resize(img, o.xywh)
            if target is not None and target.image is not None:
                app[n] = _resize_image(np.asarray(target.image, dtype=np.uint8))
            elif t_obj >= 0:
                app[n] = app[t_obj]
            else:
                raise DataFormatError(
                    f"stimulus {stimulus.name!r}: crop appearance needs a target image or a target box on an object"
                )
        else:
            vecs = []
            for o in objs:
                given = o.attributes.get("appearance")
                vecs.append(
                    np.asarray(given, np.float32)
                    if given is not None
                    else self._vector(o.category, o.xywh, o.confidence, W, H)
                )
            tgiven = None if target is None else getattr(target, "appearance", None)
            if tgiven is not None:
                tv = np.asarray(tgiven, np.float32)
            elif objs[0].attributes.get("appearance") is not None:
                tv = vecs[t_obj] if t_obj >= 0 else np.zeros_like(vecs[0])
            else:
                tbox = objs[t_obj].xywh if (self.target_position == "object" and t_obj >= 0) else None
                tv = self._vector(None if target is None else target.category, tbox, 1.0, W, H)
            app = np.stack(vecs + [tv]).astype(np.float32)
        centres, sizes = _centres_sizes(objs)
        return DisplayEncoding(app, pos, bos, n, t_obj, centres, sizes, W, H, stimulus.name)

    # ----------------------------------------------------------------------------------- labels
    def labels_for(self, scanpath: Scanpath, stimulus: Stimulus, enc: DisplayEncoding) -> tuple[np.ndarray, np.ndarray]:
        """(labels ``[T+1]`` = object indices then EOS, offsets ``[T+1, 2]`` in box units, NaN for EOS)."""
        objs = fixations_to_objects(scanpath, stimulus)
        xy = scanpath.xy
        if self.start_fixation and len(objs):
            objs, xy = objs[1:], xy[1:]
        objs, xy = objs[: self.max_len], xy[: self.max_len]
        labels = np.concatenate([objs, [enc.n_obj]]).astype(np.int64)
        off = np.full((len(labels), 2), np.nan, dtype=np.float32)
        if len(objs):
            off[:-1] = np.clip((xy - enc.centres[objs]) / enc.sizes[objs], -1.0, 1.0)
        return labels, off

    # ----------------------------------------------------------------------------------- batching
    def collate_displays(self, encs: Sequence[DisplayEncoding]) -> OATBatch:
        B = len(encs)
        S = max(e.n_obj for e in encs) + 1
        # appearance inputs once per distinct display (trials of one display share them)
        first: dict[int, int] = {}
        uniq = torch.tensor([first.setdefault(id(e), len(first)) for e in encs], dtype=torch.long)
        distinct = list({id(e): e for e in encs}.values())
        U = len(distinct)
        if self.appearance == "crop":
            app = torch.zeros((U, S, 3, *CROP_HW), dtype=torch.float32)
        else:
            A = encs[0].app.shape[1]
            app = torch.zeros((U, S, A), dtype=torch.float32)
        for u, e in enumerate(distinct):
            a = torch.from_numpy(e.app)
            app[u, : e.n_obj + 1] = a.float() / 255.0 if self.appearance == "crop" else a
        pos = torch.zeros((B, S, 3), dtype=torch.long)
        valid = torch.zeros((B, S), dtype=torch.bool)
        for b, e in enumerate(encs):
            k = e.n_obj + 1
            pos[b, :k] = torch.from_numpy(e.pos)
            valid[b, :k] = True
        n_obj = torch.tensor([e.n_obj for e in encs], dtype=torch.long)
        t_obj = torch.tensor([e.target_obj for e in encs], dtype=torch.long)
        bos = torch.from_numpy(np.stack([e.bos_pos for e in encs]))
        return OATBatch(app, pos, valid, n_obj, t_obj, bos, list(encs), app_index=uniq)

    def collate_trials(self, trials: Sequence[Trial]) -> OATBatch:
        encs = [self.encode_display(t.stimulus, t.task) for t in trials]
        batch = self.collate_displays(encs)
        if all(t.scanpath is not None for t in trials):
            labs = [self.labels_for(t.scanpath, t.stimulus, e) for t, e in zip(trials, encs, strict=True)]
            L = max(len(lab) for lab, _ in labs)
            labels = torch.full((len(trials), L), -100, dtype=torch.long)
            offsets = torch.full((len(trials), L, 2), float("nan"))
            for b, (lab, off) in enumerate(labs):
                labels[b, : len(lab)] = torch.from_numpy(lab)
                offsets[b, : len(lab)] = torch.from_numpy(off)
            batch.labels, batch.offsets = labels, offsets
        return batch


def collate_list(items: list) -> list:
    """DataLoader collate that keeps trials as a list (the model tensorises them)."""
    return list(items)


# ============================================================================================ DataModules
def _resolve(path: str | None) -> str | None:
    """A data path as given, or relative to the repository root (configs name ``../shared/data/...``)."""
    if path is None:
        return None
    from pathlib import Path

    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return str(p)
    alt = Path(__file__).resolve().parents[2] / p
    return str(alt) if alt.exists() else str(p)


def _split_groups(groups: Sequence[str], n_folds: int, fold: int, val_fraction: float, seed: int):
    """Cross-validation by group: (train, val, test) index lists. ``fold`` selects the test fold; val is a
    seeded ``val_fraction`` of the remaining groups (used for early stopping). ``n_folds <= 1``: no test."""
    uniq = sorted(set(groups))
    rng = np.random.default_rng([int(seed), 0x0A7])
    order = [uniq[i] for i in rng.permutation(len(uniq))]
    if n_folds > 1:
        if not 0 <= fold < n_folds:
            raise ConfigError(f"fold must lie in [0, {n_folds}), got {fold}")
        test = set(order[fold::n_folds])
    else:
        test = set()
    rest = [g for g in order if g not in test]
    n_val = max(1, int(round(val_fraction * len(rest)))) if val_fraction > 0 and len(rest) > 1 else 0
    val = set(rest[:n_val])
    idx = {"train": [], "val": [], "test": []}
    for i, g in enumerate(groups):
        idx["test" if g in test else "val" if g in val else "train"].append(i)
    return idx["train"], idx["val"], idx["test"]


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
        from gazekit.datasets.synthetic.search import SearchWorldConfig, build_world

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
    import zlib

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
        fixations: COCO-Search18 fixation JSON, or Amazon.json.
        detections: COCO-Search18 detections folder.
        radius: fixation -> object radius (px) of the loader (background fixations later go to the nearest
            object, as OAT does).
        split_by: ``image`` (cross-validation by image/collage) or ``image_task`` (by image-target pair).
        n_folds, fold: the held-out test fold (``n_folds <= 1``: no test split).
        val_fraction: share of the remaining images used for validation (early stopping).
        max_trials: keep at most this many trials (for quick runs; None = all).
    """

    def __init__(
        self,
        source: Literal["coco_search18", "amazon"] = "coco_search18",
        fixations: str = "../shared/data/coco_search18/coco_search18_fixations_TP_validation_split1.json",
        detections: str | None = "../shared/data/coco_search18/detections",
        radius: float = 50.0,
        split_by: Literal["image", "image_task"] = "image",
        n_folds: int = 5,
        fold: int = 0,
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
        from gazekit.datasets import object_level as ol

        if self.source == "coco_search18":
            raw = ol.coco_search18_object_trials(_resolve(self.fixations), _resolve(self.detections), self.radius)
        elif self.source == "amazon":
            raw = ol.amazon_object_trials(_resolve(self.fixations))
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
        tr, va, te = _split_groups(groups, self.n_folds, self.fold, self.val_fraction, self.seed)
        self.train_trials = [self.trials[i] for i in tr]
        self.val_trials = [self.trials[i] for i in va]
        self.test_trials = [self.trials[i] for i in te]
