"""Scanpath baselines that every evaluation reports beside the learned models.

All five are plain Python (numpy + OpenCV), need no weights, and follow the same conventions:

* **First fixation at the display centre** (as in COCO-Search18, where the trial starts on a central
  fixation cross). It counts as fixation 1 in every length and step count.
* **Deterministic per seed.** ``predict_scanpath(stimulus, task, seed=s)`` returns the same scanpath for
  the same ``s``. With ``seed=None`` the seed is derived from the constructor's ``seed`` and the stimulus
  name, so repeated calls agree and different stimuli still get different random draws.
* **Durations** come from one human-like model (:class:`DurationModel`): with ``sample=False`` every
  fixation lasts the model's mean (230 ms); with ``sample=True`` durations are drawn from a gamma
  distribution (shape 5, mean 230 ms, clipped to 80-1000 ms), roughly the shape of human fixation
  durations in visual search. Greedy search additionally samples its fixation order when ``sample=True``.
* **Objects.** When the stimulus has objects, ``Scanpath.objects`` holds the index of the fixated object
  per fixation (-1 = background: the smallest box containing the fixation, else -1).
* **found** is ground truth, not the model's claim: whether some fixation lands in the target box, when
  the box is known (``task.target.box`` or ``stimulus.target.box``); ``False`` on trials known to be
  target-absent; ``None`` otherwise. A known box is also copied to ``meta["bbox"]`` (with
  ``meta["target_object"]`` on object displays), where :func:`gazekit.metrics.score_scanpaths` looks for it.
  ``meta["stopped"]`` says why the model stopped (``"match"``, ``"target"``, ``"max_len"``, ``"exhausted"``,
  ``"fixed_length"``, ``"absent"``).
* **condition** is ``stimulus.meta["condition"]`` when set, else for search ``"present"``/``"absent"`` from
  ``stimulus.meta["present"]`` (synthetic displays) or ``"present"`` when a target box is known, so the
  target-found curve uses target-present trials only, as for humans.

The baselines:

* :class:`RandomScanpath` (``random``): chance. Random display objects without repetition when the stimulus
  has objects, uniform random pixels otherwise; fixed length.
* :class:`CenterBias` (``center``): fixations drawn from an isotropic Gaussian around the display centre
  (sigma = 0.2 of each side), snapped to the nearest not-yet-fixated object when there are objects.
* :class:`TargetSimilarityGreedy` (``greedy``): appearance-guided search with inhibition of return. Each
  candidate region (object boxes, or sliding windows when the stimulus has no objects) is scored by its
  similarity to the target image (colour-histogram intersection and normalised template correlation);
  candidates are fixated in decreasing priority with permanent inhibition of return; the search stops when a
  fixated candidate's similarity reaches ``threshold`` (the model believes it found the target) or after
  ``max_len`` fixations. It never sees the target's location.
* :class:`OracleDetector` (``oracle``): a perfect detector. Centre, then the target's centre, then stop;
  target absent (no target box anywhere): the centre fixation only.
* :class:`TargetDwell` (``target-dwell``): knows only where the target is. Centre, then the target's
  centre ``k`` times, ``k`` = the training humans' median on-target fixations (``TargetDwell.fit``); with
  ``sample=True`` ``k`` is drawn from the humans' counts. Any model told the target's location is
  compared with it (and with ``oracle``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.models.predictors import ScanpathPredictor
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target, Task, assign_fixations_to_objects, object_index_for_box

__all__ = [
    "CenterBias",
    "DurationModel",
    "OracleDetector",
    "RandomScanpath",
    "TargetDwell",
    "TargetSimilarityGreedy",
    "category_similarity",
    "on_target_counts",
    "target_similarity",
]


# --------------------------------------------------------------------------------------------- shared helpers
@dataclass(frozen=True)
class DurationModel:
    """Human-like fixation durations: the mean when not sampling, else gamma(shape, mean/shape) clipped."""

    mean_ms: float = 230.0
    shape: float = 5.0
    min_ms: float = 80.0
    max_ms: float = 1000.0

    def __call__(self, n: int, rng: np.random.Generator, sample: bool) -> np.ndarray:
        if not sample:
            return np.full(n, float(self.mean_ms))
        d = rng.gamma(self.shape, self.mean_ms / self.shape, size=n)
        return np.clip(d, self.min_ms, self.max_ms)


def category_similarity(objects: Sequence[ObjectBox], category: str) -> np.ndarray:
    """``[K]`` cue of a category search: an open-vocabulary detector's score for the category when the object
    carries one (``attributes["scores"]``), else the object's confidence if its category matches (case- and
    space-insensitive), else 0."""
    cat = category.strip().lower()
    out = []
    for o in objects:
        scores = o.attributes.get("scores")
        if isinstance(scores, dict) and cat in scores:
            out.append(float(scores[cat]))
        else:
            out.append(o.confidence if o.category.strip().lower() == cat else 0.0)
    return np.array(out, dtype=float)


def _categorised(objects: Sequence[ObjectBox]) -> bool:
    """Whether objects carry categories (class-agnostic proposals are all ``"object"``)."""
    return any(o.category.strip().lower() != "object" for o in objects)


def _objects_at(stimulus: Stimulus, x: Sequence[float], y: Sequence[float]) -> list[int]:
    """Smallest object box containing each point, or -1 (``rule="box"``)."""
    return assign_fixations_to_objects(x, y, stimulus.objects, rule="box").tolist()


def _in_box(box: Sequence[float] | None, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if box is None:
        return np.zeros(np.shape(x), dtype=bool)
    bx, by, bw, bh = box
    return (x >= bx) & (x <= bx + bw) & (y >= by) & (y <= by + bh)


def _target_box(stimulus: Stimulus, task: Task) -> tuple[float, float, float, float] | None:
    """The ground-truth target box: the task's if given, else the stimulus's (None = absent/unknown)."""
    if task.target is not None and task.target.box is not None:
        return task.target.box
    if stimulus.target is not None and stimulus.target.box is not None:
        return stimulus.target.box
    return None


def _condition(stimulus: Stimulus, task: Task, box: Sequence[float] | None) -> str | None:
    """The trial condition: ``stimulus.meta["condition"]``, else (search) present/absent from
    ``meta["present"]`` (the synthetic world) or from a known target box; None when unknown."""
    cond = stimulus.meta.get("condition")
    if cond is not None:
        return str(cond)
    if task.kind != "search":
        return None
    present = stimulus.meta.get("present")
    if isinstance(present, bool):
        return "present" if present else "absent"
    return "present" if box is not None else None


def _clip_xy(x: np.ndarray, y: np.ndarray, stimulus: Stimulus) -> tuple[np.ndarray, np.ndarray]:
    return np.clip(x, 0.0, float(stimulus.width)), np.clip(y, 0.0, float(stimulus.height))


class _Baseline(ScanpathPredictor):
    """Common machinery: seeding, the centre start, durations, object indices, ``found``."""

    name: ClassVar[str] = ""

    def __init__(self, seed: int = 0, durations: DurationModel | None = None) -> None:
        self.seed = int(seed)
        self.durations = durations or DurationModel()

    # -- seeding
    def _rng(self, stimulus: Stimulus, seed: int | None) -> np.random.Generator:
        if seed is None:
            seed = zlib.crc32(f"{self.seed}:{stimulus.name}".encode()) & 0x7FFFFFFF
        return np.random.default_rng(int(seed))

    def predict_scanpaths(
        self,
        stimuli: Sequence[Stimulus],
        tasks: Sequence[Task],
        *,
        sample: bool = False,
        seed: int | None = None,
    ) -> list[Scanpath]:
        """Batched prediction; with ``seed=None`` every item is seeded from its stimulus name (reproducible)."""
        if seed is None:
            return [self.predict_scanpath(s, t, sample=sample) for s, t in zip(stimuli, tasks, strict=True)]
        return super().predict_scanpaths(stimuli, tasks, sample=sample, seed=seed)

    def _check_task(self, task: Task | str) -> Task:
        task = Task.coerce(task)
        if task.kind not in self.supported_tasks:
            raise ConfigError(
                f"model {self.name!r} supports {', '.join(self.supported_tasks)} tasks, not {task.kind!r}"
                + ("; give a target (category, box or image)" if "search" in self.supported_tasks else "")
            )
        return task

    # -- output
    def _finish(
        self,
        stimulus: Stimulus,
        task: Task,
        x: Sequence[float],
        y: Sequence[float],
        rng: np.random.Generator,
        sample: bool,
        stopped: str,
        objects: Sequence[int] | None = None,
    ) -> Scanpath:
        x, y = _clip_xy(np.asarray(x, float), np.asarray(y, float), stimulus)
        n = x.shape[0]
        obj = None
        if stimulus.objects:
            if objects is None:
                objects = _objects_at(stimulus, x, y)
            obj = np.asarray(objects, dtype=np.int64)
        box = _target_box(stimulus, task) if task.kind == "search" else None
        condition = _condition(stimulus, task, box)
        found = bool(np.any(_in_box(box, x, y))) if box is not None else None
        if found is None and task.kind == "search" and condition == "absent":
            found = False  # nothing to find on a target-absent trial
        meta: dict = {"model": self.name, "stopped": stopped}
        if box is not None:  # ground truth for the search metrics (score_scanpaths reads meta["bbox"])
            meta["bbox"] = [float(v) for v in box]
            if stimulus.target_index is not None:
                meta["target_object"] = int(stimulus.target_index)
        return Scanpath(
            x=x,
            y=y,
            duration=self.durations(n, rng, sample),
            stimulus=stimulus.name,
            subject=self.name,
            task=task.name,
            condition=condition,
            found=found,
            width=float(stimulus.width),
            height=float(stimulus.height),
            objects=obj,
            meta=meta,
        )


# --------------------------------------------------------------------------------------------- random / centre
class RandomScanpath(_Baseline):
    """Chance: random objects (without repetition) or uniform random pixels, after the centre fixation.

    Args:
        length: number of fixations including the initial centre fixation.
        seed: default seed (combined with the stimulus name when ``predict_scanpath`` gets no seed).
    """

    name = "random"
    supported_tasks = ("search", "freeview", "caption")

    def __init__(self, length: int = 7, seed: int = 0, durations: DurationModel | None = None) -> None:
        super().__init__(seed, durations)
        if length < 1:
            raise ConfigError(f"length must be >= 1, got {length}")
        self.length = int(length)

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        task = self._check_task(task)
        rng = self._rng(stimulus, seed)
        cx, cy = stimulus.width / 2.0, stimulus.height / 2.0
        k = self.length - 1
        if stimulus.objects:
            idx = rng.permutation(len(stimulus.objects))[:k]
            # after every object was visited once, keep choosing uniformly (no longer without repetition)
            if idx.shape[0] < k:
                idx = np.concatenate([idx, rng.integers(0, len(stimulus.objects), k - idx.shape[0])])
            xs = [cx] + [stimulus.objects[i].center[0] for i in idx]
            ys = [cy] + [stimulus.objects[i].center[1] for i in idx]
            objs = [*_objects_at(stimulus, [cx], [cy]), *idx.tolist()]
        else:
            xs = [cx, *rng.uniform(0, stimulus.width, k).tolist()]
            ys = [cy, *rng.uniform(0, stimulus.height, k).tolist()]
            objs = None
        return self._finish(stimulus, task, xs, ys, rng, sample, "fixed_length", objs)


class CenterBias(_Baseline):
    """Fixations from a centre-bias prior: an isotropic Gaussian at the display centre.

    Args:
        length: number of fixations including the initial centre fixation.
        sigma: standard deviation as a fraction of the display width (x) and height (y).
        snap_to_objects: with objects, fixate the not-yet-fixated object nearest to each drawn point.
        seed: default seed.
    """

    name = "center"
    supported_tasks = ("search", "freeview", "caption")

    def __init__(
        self,
        length: int = 7,
        sigma: float = 0.2,
        snap_to_objects: bool = True,
        seed: int = 0,
        durations: DurationModel | None = None,
    ) -> None:
        super().__init__(seed, durations)
        if length < 1 or sigma <= 0:
            raise ConfigError(f"need length >= 1 and sigma > 0, got length={length}, sigma={sigma}")
        self.length, self.sigma, self.snap = int(length), float(sigma), bool(snap_to_objects)

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        task = self._check_task(task)
        rng = self._rng(stimulus, seed)
        w, h = float(stimulus.width), float(stimulus.height)
        k = self.length - 1
        px = np.clip(rng.normal(w / 2, self.sigma * w, k), 0, w)
        py = np.clip(rng.normal(h / 2, self.sigma * h, k), 0, h)
        xs, ys = [w / 2], [h / 2]
        objs = None
        if self.snap and stimulus.objects:
            centers = np.array([o.center for o in stimulus.objects])
            visited = np.zeros(len(centers), dtype=bool)
            objs = _objects_at(stimulus, [w / 2], [h / 2])
            for qx, qy in zip(px, py, strict=True):
                if visited.all():
                    visited[:] = False
                d = np.hypot(centers[:, 0] - qx, centers[:, 1] - qy)
                d[visited] = np.inf
                i = int(np.argmin(d))
                visited[i] = True
                xs.append(centers[i, 0])
                ys.append(centers[i, 1])
                objs.append(i)
        else:
            xs += px.tolist()
            ys += py.tolist()
        return self._finish(stimulus, task, xs, ys, rng, sample, "fixed_length", objs)


# --------------------------------------------------------------------------------------------- similarity
_TEMPLATE_SIZE = 32
_HIST_BINS = 8


def _features(patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normalised RGB histogram [bins^3], zero-mean unit-norm 32x32x3 template) of an RGB uint8 patch."""
    hist = cv2.calcHist([patch], [0, 1, 2], None, [_HIST_BINS] * 3, [0, 256] * 3).ravel()
    hist /= max(float(hist.sum()), 1.0)
    t = cv2.resize(patch, (_TEMPLATE_SIZE, _TEMPLATE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    t -= t.mean()
    norm = float(np.linalg.norm(t))
    return hist, (t / norm if norm > 1e-6 else t)


def _similarities(target: np.ndarray, patches: Sequence[np.ndarray], hist_weight: float) -> np.ndarray:
    th, tt = _features(target)
    out = np.zeros(len(patches))
    for i, p in enumerate(patches):
        if p.size == 0:
            continue
        ph, pt = _features(p)
        hist = float(np.minimum(th, ph).sum())  # intersection in [0, 1]
        corr = float(tt @ pt)  # Pearson correlation in [-1, 1] (0 for flat patches)
        out[i] = hist_weight * hist + (1.0 - hist_weight) * max(corr, 0.0)
    return out


def target_similarity(target: np.ndarray, patches: Sequence[np.ndarray], hist_weight: float = 0.5) -> np.ndarray:
    """Similarity in [0, 1] of each RGB patch to the target image.

    ``hist_weight * histogram intersection (8x8x8 RGB bins) + (1 - hist_weight) * max(0, correlation)``,
    the correlation being Pearson's r between both images resized to 32x32 RGB (template matching that
    ignores size). An identical patch scores 1.
    """
    return _similarities(np.asarray(target), [np.asarray(p) for p in patches], hist_weight)


def _crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    x, y, w, h = box
    h_img, w_img = image.shape[:2]
    x0, y0 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
    x1, y1 = min(w_img, int(np.ceil(x + w))), min(h_img, int(np.ceil(y + h)))
    return image[y0:y1, x0:x1]


class TargetSimilarityGreedy(_Baseline):
    """Greedy search by target similarity with inhibition of return (the target's location is never used).

    Candidates are the stimulus's objects, or (no objects) sliding windows the size of the target image /
    target box (``1/8`` of the shorter image side when neither is given), stride half a window. Each
    candidate's similarity to the target comes from, in order of preference:

    1. the target image (``task.target.image``): :func:`target_similarity` on the candidate's crop;
    2. the target box (``task.target.box``, e.g. ``gazekit infer --target-box``) used as an example: the crop
       of the box is the template, so the search looks for things that look like it;
    3. the category only, with categorised objects (a boxes file, a detector): the detector's score for that
       category (``attributes["scores"]``) or the object's confidence if its category matches, else 0;
    4. nothing usable (category only, and no objects or only class-agnostic ones such as the OpenCV
       proposer's, category ``"object"``): bottom-up distinctiveness, 1 minus the histogram intersection of
       a candidate with the whole image. The baseline then degrades to a saliency search, never claims a
       match (it runs to ``max_len``), and says so in ``meta["note"]``.

    Priority = similarity + ``proximity_weight * exp(-distance / (0.25 * diagonal))``, a small preference for
    nearby candidates. Fixated candidates are inhibited for the rest of the trial (windows within one
    window size of a fixation too). The search stops when the fixated candidate's similarity is at least
    ``threshold`` (``meta["stopped"] = "match"``), after ``max_len`` fixations (centre included), or when
    no candidate is left. With ``sample=True`` the next candidate is drawn from a softmax over priorities
    with ``temperature`` instead of taken greedily.
    """

    name = "greedy"
    supported_tasks = ("search",)

    def __init__(
        self,
        max_len: int = 12,
        threshold: float = 0.9,
        hist_weight: float = 0.5,
        proximity_weight: float = 0.05,
        temperature: float = 0.05,
        max_work_side: int = 640,
        seed: int = 0,
        durations: DurationModel | None = None,
    ) -> None:
        super().__init__(seed, durations)
        if max_len < 1:
            raise ConfigError(f"max_len must be >= 1, got {max_len}")
        if not 0.0 <= hist_weight <= 1.0:
            raise ConfigError(f"hist_weight must be in [0, 1], got {hist_weight}")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        self.max_len, self.threshold, self.hist_weight = int(max_len), float(threshold), float(hist_weight)
        self.proximity_weight, self.temperature = float(proximity_weight), float(temperature)
        self.max_work_side = int(max_work_side)

    # -- candidates and their similarity
    def _template(self, image: np.ndarray, target: Target | None) -> np.ndarray | None:
        if target is None:
            return None
        if target.image is not None:
            t = np.asarray(target.image)
            if t.ndim == 3 and t.shape[2] == 3 and t.size:
                return t.astype(np.uint8, copy=False)
        if target.box is not None:
            crop = _crop(image, target.box)
            if crop.size:
                return crop
        return None

    def _windows(self, stimulus: Stimulus, tmpl: np.ndarray | None, target: Target | None) -> np.ndarray:
        w, h = stimulus.width, stimulus.height
        if target is not None and target.box is not None and target.box[2] >= 2 and target.box[3] >= 2:
            ww, wh = target.box[2], target.box[3]
        elif tmpl is not None:
            ww, wh = float(tmpl.shape[1]), float(tmpl.shape[0])
        else:
            ww = wh = min(w, h) / 8.0
        ww, wh = float(np.clip(ww, 4, w / 2)), float(np.clip(wh, 4, h / 2))
        xs = np.arange(0.0, max(w - ww, 0.0) + 1e-6, ww / 2)
        ys = np.arange(0.0, max(h - wh, 0.0) + 1e-6, wh / 2)
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, ww), np.full(gx.size, wh)], axis=1)

    def candidate_scores(self, stimulus: Stimulus, task: Task) -> tuple[np.ndarray, np.ndarray, str]:
        """``([K, 4] boxes xywh, [K] similarity in [0, 1], cue)`` of the search candidates; cue names what was used."""
        target = task.target
        if stimulus.image is None and stimulus.path is None and stimulus.objects:
            return self._scores_without_pixels(stimulus, target)
        image = stimulus.load_image()
        tmpl = self._template(image, target)
        if stimulus.objects:
            boxes = np.array([o.xywh for o in stimulus.objects], dtype=float)
        else:
            boxes = self._windows(stimulus, tmpl, target)
        # work at a bounded resolution: similarity of 32x32 templates does not need more
        scale = min(1.0, self.max_work_side / max(stimulus.width, stimulus.height))
        work = image
        if scale < 1.0:
            work = cv2.resize(
                image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))), cv2.INTER_AREA
            )

        def crops() -> list[np.ndarray]:
            return [_crop(work, b * scale) for b in boxes]

        if tmpl is not None:
            return boxes, _similarities(tmpl, crops(), self.hist_weight), "appearance"
        if target is not None and target.category and _categorised(stimulus.objects):
            return boxes, category_similarity(stimulus.objects, target.category), "category"
        whole, _ = _features(work)
        sim = np.array([1.0 - float(np.minimum(whole, _features(c)[0]).sum()) if c.size else 0.0 for c in crops()])
        return boxes, sim, "distinctiveness"

    @staticmethod
    def _scores_without_pixels(stimulus: Stimulus, target: Target | None) -> tuple[np.ndarray, np.ndarray, str]:
        """Object-only displays (detections, no image): the category cue. Without a category, the category of
        the object under the target box serves as the example (as the crop under the box does with pixels);
        the box's location itself is never used."""
        boxes = np.array([o.xywh for o in stimulus.objects], dtype=float)
        cat = (target.category or "").strip() if target is not None else ""
        if not cat and target is not None and target.box is not None:
            under = object_index_for_box(stimulus.objects, target.box)
            cat = "" if under is None else stimulus.objects[under].category
        if not cat:
            raise DataFormatError(
                f"stimulus {stimulus.name!r} has objects but no pixels; greedy search then needs a target "
                "category (or a target box on one of the objects)",
                field="target",
            )
        return boxes, category_similarity(stimulus.objects, cat), "category"

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        task = self._check_task(task)
        rng = self._rng(stimulus, seed)
        boxes, sim, cue = self.candidate_scores(stimulus, task)
        centers = boxes[:, :2] + boxes[:, 2:] / 2
        diag = float(np.hypot(stimulus.width, stimulus.height))
        cx, cy = stimulus.width / 2.0, stimulus.height / 2.0
        xs, ys = [cx], [cy]
        objs = _objects_at(stimulus, [cx], [cy]) if stimulus.objects else None
        alive = np.ones(len(boxes), dtype=bool)
        windows = not stimulus.objects
        stopped = "max_len"
        # the centre fixation inhibits what it covers (a window around it, the object under it)
        if windows:
            alive &= ~self._covered(boxes, centers, cx, cy)
        elif objs and objs[0] >= 0:
            alive[objs[0]] = False
            if sim[objs[0]] >= self.threshold and cue != "distinctiveness":  # target already under the centre
                stopped = "match"
                alive[:] = False
        while len(xs) < self.max_len and stopped != "match":
            if not alive.any():
                stopped = "exhausted"
                break
            d = np.hypot(centers[:, 0] - xs[-1], centers[:, 1] - ys[-1])
            prio = sim + self.proximity_weight * np.exp(-d / (0.25 * diag))
            prio = np.where(alive, prio, -np.inf)
            if sample:
                z = (prio[alive] - prio[alive].max()) / self.temperature
                p = np.exp(z) / np.exp(z).sum()
                i = int(np.flatnonzero(alive)[rng.choice(int(alive.sum()), p=p)])
            else:
                i = int(np.argmax(prio))
            fx, fy = centers[i]
            xs.append(float(fx))
            ys.append(float(fy))
            if objs is not None:
                objs.append(i)
            alive[i] = False
            if windows:
                alive &= ~self._covered(boxes, centers, fx, fy)
            if sim[i] >= self.threshold and cue != "distinctiveness":  # saliency is no evidence of the target
                stopped = "match"
                break
        sp = self._finish(stimulus, task, xs, ys, rng, sample, stopped, objs)
        sp.meta["cue"] = cue
        if cue == "distinctiveness" and task.target is not None and task.target.category:
            sp.meta["note"] = (
                f"the target category {task.target.category!r} could not be used: no target image or box, and "
                "no categorised objects (give --objects, or detector weights via `gazekit download owlv2`); "
                "the search followed bottom-up distinctiveness and claims no match"
            )
        return sp

    @staticmethod
    def _covered(boxes: np.ndarray, centers: np.ndarray, x: float, y: float) -> np.ndarray:
        """Windows whose centre lies within one window size of ``(x, y)`` (inhibition of return)."""
        return (np.abs(centers[:, 0] - x) < boxes[:, 2]) & (np.abs(centers[:, 1] - y) < boxes[:, 3])


# --------------------------------------------------------------------------------------------- location-only
def _located_target(stimulus: Stimulus, task: Task) -> tuple[float, float, float, float] | None:
    """The target box a location-only predictor is told: the task's or stimulus's box, else (objects with
    categories) the object of the target category nearest the centre; None = absent."""
    box = _target_box(stimulus, task)
    if box is None and stimulus.objects and task.target is not None and task.target.category:
        cx, cy = stimulus.width / 2.0, stimulus.height / 2.0
        cat = task.target.category.strip().lower()
        hits = [o for o in stimulus.objects if o.category.strip().lower() == cat]
        if hits:
            box = min(hits, key=lambda o: np.hypot(o.center[0] - cx, o.center[1] - cy)).xywh
    return box


def on_target_counts(scanpaths: Sequence[Scanpath], skip_first: bool = True) -> np.ndarray:
    """``[n]`` number of fixations on the target of each scanpath, the first (start) fixation left out
    when ``skip_first``: fixations on the target object when the scanpath has object indices and
    ``meta["target_object"]`` (the object-level view's fixation -> object rule), else fixations inside the
    target box ``meta["bbox"]``; scanpaths with neither are skipped."""
    out = []
    for sp in scanpaths:
        meta = sp.meta if isinstance(sp.meta, dict) else {}
        k = 1 if skip_first and len(sp) else 0
        t_obj, box = meta.get("target_object"), meta.get("bbox")
        if sp.objects is not None and t_obj is not None and int(t_obj) >= 0:
            out.append(int((np.asarray(sp.objects[k:]) == int(t_obj)).sum()))
        elif box is not None:
            out.append(int(_in_box(box, sp.x[k:], sp.y[k:]).sum()))
    return np.asarray(out, dtype=np.int64)


class _LocationOnly(_Baseline):
    """Baselines told where the target is (``oracle``, ``target-dwell``): the centre fixation, then
    :meth:`_towards` the target; without a target location the centre fixation alone (target absent)."""

    supported_tasks = ("search",)

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        task = self._check_task(task)
        rng = self._rng(stimulus, seed)
        centre = (stimulus.width / 2.0, stimulus.height / 2.0)
        box = _located_target(stimulus, task)
        if box is None:
            return self._finish(stimulus, task, [centre[0]], [centre[1]], rng, sample, "absent")
        return self._towards(stimulus, task, box, centre, rng, sample)

    def _towards(
        self,
        stimulus: Stimulus,
        task: Task,
        box: tuple[float, float, float, float],
        centre: tuple[float, float],
        rng: np.random.Generator,
        sample: bool,
    ) -> Scanpath:
        raise NotImplementedError


class TargetDwell(_LocationOnly):
    """A location-only predictor: the centre fixation, then the target's centre ``k`` times.

    ``k`` is what people do once they know where the target is: with ``sample=False`` it is ``k`` (the
    median number of on-target fixations of the training humans, at least 1, see :meth:`fit`); with
    ``sample=True`` it is drawn from ``k_counts`` (the training humans' on-target counts, zeros included,
    so a sampled scanpath may be the centre alone). The target's location comes from the same place as
    :class:`OracleDetector`'s; without one the scanpath is the centre fixation (target absent).
    The default (``k=2``, counts ``None`` = always ``k``) is used when nothing was fitted.
    """

    name = "target-dwell"

    def __init__(
        self,
        k: int = 2,
        k_counts: Sequence[int] | None = None,
        seed: int = 0,
        durations: DurationModel | None = None,
    ) -> None:
        super().__init__(seed, durations)
        if int(k) < 0:
            raise ConfigError(f"target-dwell: k must be >= 0, got {k}")
        self.k = int(k)
        counts = None if k_counts is None else np.asarray(list(k_counts), dtype=np.int64)
        if counts is not None and (counts.size == 0 or counts.min() < 0):
            raise ConfigError("target-dwell: k_counts must be a non-empty list of counts >= 0")
        self.k_counts = counts

    @classmethod
    def fit(cls, humans: Sequence[Scanpath], *, seed: int = 0, skip_first: bool = True) -> TargetDwell:
        """``k`` = median on-target fixations of ``humans`` (rounded, at least 1); ``k_counts`` = all counts.

        Raises:
            DataFormatError: no human scanpath carries a target (object or box).
        """
        counts = on_target_counts(humans, skip_first)
        if counts.size == 0:
            raise DataFormatError("target-dwell.fit: no human scanpath has a target (meta['target_object'] or 'bbox')")
        return cls(max(1, int(round(float(np.median(counts))))), counts, seed=seed)

    def _towards(self, stimulus, task, box, centre, rng, sample) -> Scanpath:  # noqa: ANN001
        cx, cy = centre
        k = int(rng.choice(self.k_counts)) if sample and self.k_counts is not None else self.k
        tx, ty = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
        objs = None
        if stimulus.objects and stimulus.target_index is not None:
            objs = _objects_at(stimulus, [cx], [cy]) + [int(stimulus.target_index)] * k
        sp = self._finish(stimulus, task, [cx] + [tx] * k, [cy] + [ty] * k, rng, sample, "fixed_length", objs)
        if sp.found is None:  # location came from the object categories
            sp.found = k > 0
        sp.meta["k"] = k
        return sp


# --------------------------------------------------------------------------------------------- oracle
class OracleDetector(_LocationOnly):
    """A perfect detector: the centre fixation, then the target's centre, then stop.

    The target's location comes from ``task.target.box``, else ``stimulus.target.box``, else (objects with
    categories) the object of the target category nearest the centre. Without any of these the target is
    taken to be absent: a perfect detector sees at once that it is not there, so the scanpath is the centre
    fixation only (``meta["stopped"] = "absent"``). When the centre already lies on the target, the
    scanpath is the centre fixation alone.
    """

    name = "oracle"

    def _towards(self, stimulus, task, box, centre, rng, sample) -> Scanpath:  # noqa: ANN001
        cx, cy = centre
        if bool(_in_box(box, np.array(cx), np.array(cy))):
            sp = self._finish(stimulus, task, [cx], [cy], rng, sample, "target")
        else:
            tx, ty = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
            sp = self._finish(stimulus, task, [cx, tx], [cy, ty], rng, sample, "target")
        if sp.found is None:  # location came from the object categories
            sp.found = True
        return sp
