"""OAT's input encoding: object trials → encoder tokens, decoder inputs and labels (model-specific).

A trial (:class:`gazekit.datasets.search_trials.Trial`) is one display with ``objects``, the search task and
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
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch

from gazekit.datasets.search_trials import Trial
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target, Task, assign_fixations_to_objects, object_index_for_box

__all__ = [
    "CROP_HW",
    "DisplayEncoding",
    "OATBatch",
    "OATTensorizer",
    "crop_resize",
    "fixations_to_objects",
    "object_grid",
]

#: crops are resized to 93 (wide) x 150 (tall) px RGB in [0, 1], as in the release's CNN input
CROP_HW = (150, 93)


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
    contains the fixation (smallest such box), else the nearest object centre (release rule for Amazon:
    :func:`~gazekit.types.assign_fixations_to_objects` with ``rule="radius"``, no radius limit)."""
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
    out[todo] = assign_fixations_to_objects(scanpath.x[todo], scanpath.y[todo], objs, rule="radius")
    return out


def crop_resize(image: np.ndarray, box: tuple[float, float, float, float], hw: tuple[int, int] = CROP_HW) -> np.ndarray:
    """Crop an ``(x, y, w, h)`` box (clipped to the image, at least 1 px) and resize to ``hw``: uint8 [3, H, W]."""
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
