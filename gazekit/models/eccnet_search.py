"""The search loop eccNET, IVSN and the asymmetry baselines share (``vs_model/__init__.py`` of the release), and
the two weight-free baselines of the asymmetry experiment, ``chance`` and ``pixelMatch``.

One search (:func:`run_search`) on an image ``[H, W, 3]``:

* the first fixation is the image centre ``(W // 2, H // 2)``;
* each step asks a priority function for a map over the image (eccNET recomputes it from a crop centred on the
  current fixation; IVSN-original and pixelMatch return one static map), keeps the valid, not yet inhibited
  pixels, shifts the map to ≥ 0 and takes the arg-max (winner-take-all);
* **grid displays** (:attr:`SearchProtocol.cells` set, the asymmetry paradigms): the whole cell under the new
  fixation is inhibited and re-rendered in the background colour; the valid area is the union of all cells; the
  target is found when a ``recog_size``² window at the fixation touches the target cell (the oracle), the
  centre start is not tested (eccNET) or is (the release's chance/pixelMatch, ``test_start``);
* **photos** (no cells): found is tested at every fixation including the start (when a target box is known),
  then an ``ior_size``² square about the fixation is zeroed in the map (not re-rendered), as for Waldo and
  NaturalDesign.

The search stops when found or after ``cap`` saccades. ``n_fix`` is the number of saccades after the start
(the release's found column); an unfound search has ``found=False`` (the RT mapping then uses the set size).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import cv2
import numpy as np

from gazekit.errors import ConfigError, DataFormatError
from gazekit.models.base import ScanpathPredictor
from gazekit.types import Scanpath, Stimulus, Task

__all__ = [
    "PHOTO_PROTOCOL",
    "ChanceSearch",
    "PixelMatch",
    "SearchProtocol",
    "SearchResult",
    "protocol_for",
    "run_search",
    "search_scanpath",
    "target_image",
]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SearchProtocol:
    """How one display is searched (the release's per-experiment ``exp_info``).

    Attributes:
        cells: grid cells ``(x, y, w, h)`` px (object IOR, valid area); None = a photo (square IOR).
        background: grey level painted over inhibited cells and used to pad crops.
        dog: difference-of-Gaussians ``((k1, σ1), (k2, σ2))`` applied 3× to eccNET's map.
        weighting: ``"nl"`` (each layer weighted by its map's raw maximum) or ``"l"`` (equal).
        cap: most saccades after the start (``NumFix``).
        ior_size: side of the inhibited square on photos, px (None: twice the target's larger side).
        recog_size: side of the oracle window, px (10 on grid displays; None: ``ior_size``).
        test_start: whether the centre start may already find the target.
    """

    cells: tuple[Box, ...] | None = None
    background: int = 0
    dog: tuple[tuple[int, float], tuple[int, float]] = ((3, 0.0), (5, 1.0))
    weighting: str = "l"
    cap: int = 20
    ior_size: int | None = None
    recog_size: int | None = None
    test_start: bool = False

    def __post_init__(self) -> None:
        if self.weighting not in ("nl", "l"):
            raise ConfigError(f"search weighting {self.weighting!r}: expected 'nl' or 'l'")
        if self.cap < 1:
            raise ConfigError(f"search cap must be >= 1, got {self.cap}")
        for k, _ in self.dog:
            if k < 1 or k % 2 == 0:
                raise ConfigError(f"difference-of-Gaussians sizes must be odd and >= 1, got {self.dog}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": None if self.cells is None else [list(c) for c in self.cells],
            "background": self.background,
            "dog": [list(d) for d in self.dog],
            "weighting": self.weighting,
            "cap": self.cap,
            "ior_size": self.ior_size,
            "recog_size": self.recog_size,
            "test_start": self.test_start,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchProtocol:
        try:
            cells = d.get("cells")
            return cls(
                cells=None if cells is None else tuple(tuple(float(v) for v in c) for c in cells),  # type: ignore[misc]
                background=int(d.get("background", 0)),
                dog=tuple((int(k), float(s)) for k, s in d.get("dog", ((3, 0.0), (5, 1.0)))),  # type: ignore[arg-type]
                weighting=str(d.get("weighting", "l")),
                cap=int(d.get("cap", 20)),
                ior_size=None if d.get("ior_size") is None else int(d["ior_size"]),
                recog_size=None if d.get("recog_size") is None else int(d["recog_size"]),
                test_start=bool(d.get("test_start", False)),
            )
        except (TypeError, ValueError, AttributeError) as e:
            raise DataFormatError(f"stimulus meta['search_protocol'] is malformed ({e})") from None


#: photos (the release's natural-image settings: equal layer weights, DoG [[3,0],[5,1]], black padding)
PHOTO_PROTOCOL = SearchProtocol()


def protocol_for(stimulus: Stimulus, cap: int | None = None) -> SearchProtocol:
    """The stimulus's own protocol (``meta["search_protocol"]``, set by the asymmetry displays) or the photo one;
    ``cap`` replaces the photo cap."""
    d = stimulus.meta.get("search_protocol") if isinstance(stimulus.meta, dict) else None
    if d is None:
        return PHOTO_PROTOCOL if cap is None else replace(PHOTO_PROTOCOL, cap=int(cap))
    return d if isinstance(d, SearchProtocol) else SearchProtocol.from_dict(d)


def target_image(stimulus: Stimulus, task: Task, image: np.ndarray) -> np.ndarray:
    """The target as the searcher sees it: the task's image, else the crop of its box on the image.

    Raises:
        ConfigError: a search without a target image or box (a category name alone cannot be matched).
    """
    t = task.target
    if t is not None and t.image is not None:
        img = np.asarray(t.image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or min(img.shape[:2]) < 1:
            raise DataFormatError(f"target image must be [h, w, 3] uint8 RGB, got {img.shape} {img.dtype}")
        return img
    if t is not None and t.box is not None:
        x, y, w, h = t.box
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(image.shape[1], int(round(x + w))), min(image.shape[0], int(round(y + h)))
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise DataFormatError(f"target box {t.box} does not overlap the {image.shape[1]}x{image.shape[0]} image")
        return np.ascontiguousarray(image[y0:y1, x0:x1])
    raise ConfigError(
        "this model searches for a target *image*: give a target crop (`gazekit infer --target-image FILE`, the "
        "viewer's target crop, or Task.search(image=...)) or a box on the image to cut it from (`--target-box "
        "x,y,w,h`, or Task.search(box=(x, y, w, h))); a category name alone is not enough"
    )


def _gt_box(stimulus: Stimulus, task: Task) -> Box | None:
    if task.target is not None and task.target.box is not None:
        return task.target.box
    if stimulus.target is not None and stimulus.target.box is not None:
        return stimulus.target.box
    return None


@dataclass
class SearchResult:
    """Fixations ``[n + 1, 2]`` (x, y px, the start first), whether and when the target was found."""

    xy: np.ndarray
    found: bool | None
    n_fix: int
    maps: list[np.ndarray] = field(default_factory=list)


PriorityFn = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


def _window_hits(gt: np.ndarray, x: int, y: int, size: int) -> bool:
    """Whether any GT pixel lies in the ``size``² window at (x, y) (the release's ``recog``)."""
    h = size // 2
    y0, x0 = max(0, y - h), max(0, x - h)
    return bool(gt[y0 : max(0, y - h + size), x0 : max(0, x - h + size)].any())


def run_search(
    image: np.ndarray,
    priority: PriorityFn,
    protocol: SearchProtocol,
    gt_box: Box | None,
    target_shape: tuple[int, int],
    keep_maps: bool = False,
) -> SearchResult:
    """One search with the shared loop (see the module docstring).

    Args:
        image: ``[H, W, 3]`` uint8.
        priority: ``(rendered image, (x, y) fixation) -> [H, W]`` map (higher = look there).
        protocol: the display's :class:`SearchProtocol`.
        gt_box: the target's box (the whole cell on grid displays) for the oracle; None = never found.
        target_shape: ``(h, w)`` of the target image (default IOR size on photos).
        keep_maps: also return each step's masked map.
    """
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise DataFormatError(f"search image must be [H, W, 3], got {image.shape}")
    H, W = image.shape[:2]
    gt = np.zeros((H, W), bool)
    if gt_box is not None:
        x, y, w, h = (int(round(v)) for v in gt_box)
        gt[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = True
    cells = protocol.cells
    grid = cells is not None
    valid = np.zeros((H, W), bool) if grid else np.ones((H, W), bool)
    cell_id = np.full((H, W), -1, np.int64)
    if grid:
        for i, (cx, cy, cw, ch) in enumerate(cells):  # type: ignore[arg-type]
            sl = (slice(int(cy), int(cy + ch)), slice(int(cx), int(cx + cw)))
            valid[sl] = True
            cell_id[sl] = i
    ior = protocol.ior_size or 2 * max(target_shape)
    recog = protocol.recog_size or ior
    alive = np.ones((H, W), bool)
    rendered = image.copy()
    fx, fy = W // 2, H // 2
    xy = [(fx, fy)]
    found: bool | None = None if gt_box is None else False
    maps: list[np.ndarray] = []
    for step in range(protocol.cap):
        if not grid:  # photos: test the current fixation (the start included), then inhibit a square about it
            if gt_box is not None and _window_hits(gt, fx, fy, recog):
                found = True
                break
            h = ior // 2
            alive[max(0, fy - h) : max(0, fy + h), max(0, fx - h) : max(0, fx + h)] = False
        elif protocol.test_start and step == 0 and gt_box is not None and _window_hits(gt, fx, fy, recog):
            found = True
            break
        m = np.asarray(priority(rendered, (fx, fy)), dtype=np.float64)
        if m.shape != (H, W):
            raise DataFormatError(f"priority map is {m.shape}, expected {(H, W)}")
        m = np.nan_to_num(m, nan=0.0, posinf=0.0, neginf=0.0)
        keep = valid & alive
        if not keep.any():
            break
        m = np.where(keep, m - m.min(), -1.0)  # -1: a flat map still picks a valid pixel (the release may not)
        if keep_maps:
            maps.append(m.astype(np.float32))
        fy, fx = (int(v) for v in np.unravel_index(int(np.argmax(m)), m.shape))
        xy.append((fx, fy))
        if grid:
            c = cell_id[fy, fx]
            if c >= 0:
                sl = cell_id == c
                alive[sl] = False
                rendered[sl] = protocol.background
            if gt_box is not None and _window_hits(gt, fx, fy, recog):
                found = True
                break
    n_fix = len(xy) - 1
    return SearchResult(np.asarray(xy, dtype=float), found, n_fix, maps)


def search_scanpath(
    model_name: str,
    stimulus: Stimulus,
    task: Task,
    result: SearchResult,
    protocol: SearchProtocol,
    extra: dict[str, Any] | None = None,
) -> Scanpath:
    """A :class:`Scanpath` (no durations: these models have none) with the search's outcome in ``meta``."""
    box = _gt_box(stimulus, task)
    meta: dict[str, Any] = {
        "model": model_name,
        "n_fix": result.n_fix,
        "stopped": "found" if result.found else ("cap" if result.n_fix >= protocol.cap else "exhausted"),
        **(extra or {}),
    }
    if box is not None:
        meta["bbox"] = [float(v) for v in box]
    for k in ("set_size", "condition"):
        if k in stimulus.meta:
            meta[k] = stimulus.meta[k]
    return Scanpath(
        x=result.xy[:, 0],
        y=result.xy[:, 1],
        duration=np.full(len(result.xy), np.nan),
        stimulus=stimulus.name,
        task=task.name,
        condition="present" if box is not None else None,
        found=result.found,
        width=stimulus.width,
        height=stimulus.height,
        meta=meta,
    )


class _WeightFree(ScanpathPredictor):
    """Common part of the two asymmetry baselines (seeding from the stimulus name, the shared loop)."""

    name: ClassVar[str] = ""

    def __init__(self, seed: int = 0, max_fixations: int = 20) -> None:
        self.seed, self.max_fixations = int(seed), int(max_fixations)
        self.weights_source = "none"

    def _rng(self, stimulus: Stimulus, seed: int | None) -> np.random.Generator:
        if seed is None:
            seed = zlib.crc32(f"{self.seed}:{stimulus.name}".encode()) & 0x7FFFFFFF
        return np.random.default_rng(int(seed))

    def _priority(
        self, image: np.ndarray, target: np.ndarray, rng: np.random.Generator, protocol: SearchProtocol
    ) -> PriorityFn:
        raise NotImplementedError

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task | str, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        task = Task.coerce(task)
        if task.kind != "search":
            raise ConfigError(f"{self.name} is a visual-search model: give a search task with a target image or box")
        image = stimulus.load_image()
        target = target_image(stimulus, task, image)
        base = protocol_for(stimulus, self.max_fixations)
        protocol = replace(base, test_start=True) if base.cells is not None else base  # as the release's scripts
        prio = self._priority(image, target, self._rng(stimulus, seed), protocol)
        res = run_search(image, prio, protocol, _gt_box(stimulus, task), target.shape[:2])
        return search_scanpath(self.name, stimulus, task, res, protocol, {"weights": "none"})


class ChanceSearch(_WeightFree):
    """``chance``: a uniformly random not-yet-inhibited cell (pixel on photos) at every step, with the shared
    IOR and oracle. The release draws random pixels and rejects those that are both outside every unvisited cell
    and on pure background (``vs_exp/chance``), which can land between cells; here only unvisited cells count."""

    name = "chance"

    def _priority(
        self, image: np.ndarray, target: np.ndarray, rng: np.random.Generator, protocol: SearchProtocol
    ) -> PriorityFn:
        def prio(rendered: np.ndarray, fix: tuple[int, int]) -> np.ndarray:
            return rng.random(rendered.shape[:2]) + 1.0  # +1: every valid pixel beats the masked-out zeros

        return prio


def caffe_pixels(image: np.ndarray) -> np.ndarray:
    """RGB uint8 → Keras ``preprocess_input`` pixels (BGR, minus the Caffe mean), float32."""
    return image[:, :, ::-1].astype(np.float32) - np.array([103.939, 116.779, 123.68], np.float32)


def same_correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Keras ``Conv2D(1, kernel.shape, padding='same')`` without bias: ``[H, W, C] ⋆ [h, w, C] → [H, W]``."""
    kh, kw = kernel.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = cv2.copyMakeBorder(image, top, kh - 1 - top, left, kw - 1 - left, cv2.BORDER_CONSTANT, value=0)
    out = np.zeros(image.shape[:2], np.float64)
    for c in range(image.shape[2]):
        out += cv2.matchTemplate(padded[:, :, c : c + 1], kernel[:, :, c : c + 1], cv2.TM_CCORR).astype(np.float64)
    return out


class PixelMatch(_WeightFree):
    """``pixelMatch``: the target's raw (Caffe-preprocessed) pixels as a correlation kernel over the display's,
    a 7×7 σ 3 Gaussian blur, one static map, winner-take-all with the shared cell IOR and oracle
    (``vs_exp/pixelMatch``). No weights: it knows exactly what the models are told (the target image)."""

    name = "pixelMatch"

    def _priority(
        self, image: np.ndarray, target: np.ndarray, rng: np.random.Generator, protocol: SearchProtocol
    ) -> PriorityFn:
        act = cv2.GaussianBlur(same_correlate(caffe_pixels(image), caffe_pixels(target)), (7, 7), 3)

        def prio(rendered: np.ndarray, fix: tuple[int, int]) -> np.ndarray:
            return act

        return prio
