"""The six visual-search-asymmetry paradigms of eccNET (Gupta et al., NeurIPS 2021) as seeded generators, their
saved layout, and the training diets of eccNET's VGG16 (Lightning DataModules).

**Paradigms.** Twelve conditions (six pairs, 1,272 displays) with the release's geometry
(``extras/experiment_stimuli_generators/*.ipynb``, re-implemented from the specification): 30 px/deg, square
images of ``int(view·30)`` px, a grid of ``int(view/grid·30)`` px cells, one item per chosen cell jittered by
``randint(int((cell° − item°)·30))`` px from the cell's corner, background 255/0/255/27 (orientation/curvature/
intersection/lighting). Each display picks ``set size`` random cells without replacement and puts the target in
one of them. The ground truth is the **whole target cell**; every experiment has one mask per cell
(``gt_mask.npy``). The release's generators are unseeded; here every display is drawn from
``numpy.random.default_rng((seed, condition index, trial))``, so the set is reproducible but not the published
images (those are only in the release's ``dataset_asymmetry.zip``).

Displays and targets carry the release's JPEG artefacts (``cv2.imwrite`` quality 95, read back); they are saved
as lossless PNG of those JPEG-decoded pixels, so a saved and reloaded set is identical to the generated one. One
deliberate deviation: the lighting notebook draws its GT rectangle at the jittered item corner instead of the cell
(a one-line slip; here the GT is the cell, as for the other paradigms).

**Saved layout** (:func:`save_asymmetry` / :func:`load_asymmetry`), mirroring the release::

    ROOT/manifest.json                      seed, conditions, counts
    ROOT/<experiment>/gt_mask.npy           [cells, H, W] uint8 (255 inside the cell)
    ROOT/<experiment>/<condition>/stimuli/<i>.png, target/<i>.png, gt/<i>.png   (i = 1..N, smallest set first)
    ROOT/<experiment>/<condition>/trials.json   per trial: set_size, target_cell, cells, item boxes

**Diets** (:class:`DietDataModule`): classification sets for VGG-shaped feature extractors — the synthetic
search world's objects (shape classes), scikit-learn's bundled digits, and either rotated by 90°.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.synthetic.search import COLOURS, GLYPHS, SHAPES, TEXTURES, render_object
from gazekit.errors import ConfigError, DataFormatError
from gazekit.imageio import read_image
from gazekit.types import ObjectBox, Stimulus, Target, Task

__all__ = [
    "CONDITIONS",
    "DIETS",
    "EXPERIMENTS",
    "HUMAN_RT",
    "PAIRS",
    "AsymmetryDisplay",
    "Condition",
    "DietDataModule",
    "Experiment",
    "cell_masks",
    "DIET_CLASSES",
    "diet_dataset",
    "diet_item",
    "generate_all",
    "generate_condition",
    "load_asymmetry",
    "save_asymmetry",
]

DEG2PX = 30


@dataclass(frozen=True)
class Experiment:
    """One stimulus family of the release (``vs_exp/data_utils.py``).

    Attributes:
        name: folder name (``categorization``, ``curvature``, ``intersection``, ``lightning_dir``).
        view_deg: image side, degrees; grid: cells per side; item_deg: item box side, degrees.
        background: grey level of the background; trials: displays per set size.
        dog: the difference-of-Gaussians sizes ``((k1, σ1), (k2, σ2))`` eccNET uses on this family.
    """

    name: str
    view_deg: float
    grid: int
    item_deg: float
    background: int
    trials: int
    dog: tuple[tuple[int, float], tuple[int, float]]

    @property
    def size(self) -> int:
        return int(self.view_deg * DEG2PX)

    @property
    def cell(self) -> int:
        return int(self.view_deg / self.grid * DEG2PX)

    @property
    def item(self) -> int:
        return int(self.item_deg * DEG2PX)

    @property
    def jitter(self) -> int:
        return int((self.view_deg / self.grid - self.item_deg) * DEG2PX)

    @property
    def cells(self) -> int:
        return self.grid * self.grid

    @property
    def cap(self) -> int:
        """The release's fixation cap ``NumFix`` = cells + 1."""
        return self.cells + 1

    def cell_boxes(self) -> list[tuple[int, int, int, int]]:
        """``(x, y, w, h)`` px of every grid cell, row-major."""
        return [
            ((i % self.grid) * self.cell, (i // self.grid) * self.cell, self.cell, self.cell) for i in range(self.cells)
        ]

    def protocol(self) -> dict[str, Any]:
        """The search protocol of this family (:class:`gazekit.models.eccnet_search.SearchProtocol` as a dict):
        all cells valid with object IOR, a 10 px oracle window, ``'nl'`` weighting, this family's DoG and cap."""
        return {
            "cells": [list(b) for b in self.cell_boxes()],
            "background": self.background,
            "dog": [list(d) for d in self.dog],
            "weighting": "nl",
            "cap": self.cap,
            "ior_size": None,
            "recog_size": 10,
            "test_start": False,
        }


EXPERIMENTS: dict[str, Experiment] = {
    "categorization": Experiment("categorization", 11.3, 4, 2.3, 255, 30, ((3, 1), (5, 3))),
    "curvature": Experiment("curvature", 11.3, 6, 1.6, 0, 30, ((3, 1), (5, 3))),
    "intersection": Experiment("intersection", 20.5, 3, 5.9, 255, 36, ((5, 3), (7, 5))),
    "lightning_dir": Experiment("lightning_dir", 6.6, 4, 1.04, 27, 30, ((3, 0), (5, 1))),
}


@dataclass(frozen=True)
class Condition:
    """One condition: a target among distractors (``name`` as in the release's result files)."""

    name: str
    experiment: str
    folder: str
    set_sizes: tuple[int, ...]
    paradigm: int  # 1..6 as in the paper's Fig. 2
    description: str

    @property
    def exp(self) -> Experiment:
        return EXPERIMENTS[self.experiment]

    @property
    def n_displays(self) -> int:
        return len(self.set_sizes) * self.exp.trials


_ORI = (1, 4, 8, 12)
CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition("curve_in_lines", "curvature", "curve_in_lines", (8, 16, 32), 1, "curve among lines"),
        Condition("line_in_curves", "curvature", "line_in_curves", (8, 16, 32), 1, "line among curves"),
        Condition("top_down", "lightning_dir", "top_down", (1, 6, 12), 2, "lit from above among lit from below"),
        Condition("left_right", "lightning_dir", "left_right", (1, 6, 12), 2, "lit from left among lit from right"),
        Condition("cross", "intersection", "cross", (3, 6, 9), 3, "cross among non-crosses"),
        Condition("non_cross", "intersection", "non_cross", (3, 6, 9), 3, "non-cross among crosses"),
        Condition("Ls", "intersection", "Ls", (3, 6, 9), 4, "L among Ts"),
        Condition("Ts", "intersection", "Ts", (3, 6, 9), 4, "T among Ls"),
        Condition("homo_t0", "categorization", "homo/t0", _ORI, 5, "vertical among 20° tilted"),
        Condition("homo_t20", "categorization", "homo/t20", _ORI, 5, "20° tilted among vertical"),
        Condition("hetero_t0", "categorization", "hetero/t0", _ORI, 6, "vertical among ±40/60/80, ±20"),
        Condition("hetero_t20", "categorization", "hetero/t20", _ORI, 6, "−20° among ±40/60/80, +20, 0"),
    )
}

#: the six asymmetry pairs as (hard, easy) by the *human* slopes (eccNET's ``calcAsymScore`` picks H that way)
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("Curvature", "line_in_curves", "curve_in_lines"),
    ("Lighting direction", "left_right", "top_down"),
    ("Intersection", "cross", "non_cross"),
    ("T vs L", "Ls", "Ts"),
    ("Orientation (homogeneous)", "homo_t0", "homo_t20"),
    ("Orientation (heterogeneous)", "hetero_t20", "hetero_t0"),
)

#: mean human RT per set size, ms (``vs_exp/human_rt_data.py``; digitised from the source studies' figures)
HUMAN_RT: dict[str, tuple[float, ...]] = {
    "curve_in_lines": (510.0, 516.4, 529.2),
    "line_in_curves": (565.0, 640.0, 750.0),
    "top_down": (426.7, 432.0, 472.0),
    "left_right": (488.0, 674.7, 754.7),
    "non_cross": (645.0, 780.0, 915.0),
    "cross": (829.0, 1117.0, 1405.0),
    "Ts": (541.0, 583.0, 625.0),
    "Ls": (573.0, 672.0, 771.0),
    "homo_t20": (414.7, 437.9, 441.1, 444.2),
    "homo_t0": (431.6, 547.4, 552.6, 557.9),
    "hetero_t0": (431.6, 568.4, 633.7, 707.4),
    "hetero_t20": (526.3, 831.6, 1084.2, 1326.3),
}


# ============================================================================================ items
def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    """cv2 rotation about the patch centre (positive = counter-clockwise), zero border."""
    s = img.shape[0]
    m = cv2.getRotationMatrix2D((s / 2, s / 2), angle, 1)
    return cv2.warpAffine(img, m, (s, s))


def _curvature_items() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(curves, lines): white on black, 48 px, four orientations each."""
    d, s = DEG2PX, int(1.6 * DEG2PX)
    radius, seg, weight = 1.0, 1.3, 1 / 6
    arc = np.zeros((s, s), np.uint8)
    centre = (int(1.6 * d / 2), int((1.6 - (radius * math.cos(seg / 2) + radius)) * d / 2))
    half = seg / (4 * math.pi)
    cv2.ellipse(
        arc,
        centre,
        (int(radius * d), int(radius * d)),
        0,
        int((0.25 - half) * 360),
        int((0.25 + half) * 360),
        255,
        int(weight * d),
    )
    line = np.zeros((s, s), np.uint8)
    lh, lw = 1 / 6 + 1 / 30, 1.2
    line[int((1.6 - lh) * d / 2) : int((1.6 + lh) * d / 2), int((1.6 - lw) * d / 2) : int((1.6 + lw) * d / 2)] = 255
    angles = (-45, -90, -135, 180)
    return [_rotate(arc, a) for a in angles], [_rotate(line, a) for a in angles]


def _lighting_items() -> dict[str, np.ndarray]:
    """31 px discs with a 15-step ramp on grey 27: ``below`` (bright at the bottom) and its flips/transposes."""
    s = int(1.04 * DEG2PX)
    ramp = np.zeros((s, s), np.uint8)
    step = int(s / 15)
    for i in range(0, s, step):
        ramp[i:, :] = 17 * (i // step)
    yy, xx = np.mgrid[0:s, 0:s]
    c = s // 2
    disc = (yy - c) ** 2 + (xx - c) ** 2 < c * c
    below = np.where(disc, ramp, 27).astype(np.uint8)
    return {"below": below, "above": cv2.flip(below, 0), "right": below.T.copy(), "left": cv2.flip(below.T, 1)}


def _four(core: np.ndarray) -> list[np.ndarray]:
    """Add the 0.4° white border and return the four flips/transposes the intersection generator uses."""
    d, lh, border = DEG2PX, 5.5, 0.4
    out = np.full((int((lh + border) * d), int((lh + border) * d)), 255, np.uint8)
    o = int(border / 2 * d)
    out[o : o + int(lh * d), o : o + int(lh * d)] = core
    return [out, cv2.flip(out, 0), out.T.copy(), cv2.flip(out.T, 1)]


def _intersection_items() -> dict[str, list[np.ndarray]]:
    """Crosses, non-crosses, Ls and Ts: black 0.55° strokes in a 5.5° box, white background."""
    d, lh, lw, wt = DEG2PX, 5.5, 5.5, 0.55
    n = int(lh * d)
    vbar = slice(int((lw - wt) * d / 2), int((lw + wt) * d / 2))
    cross = np.full((n, n), 255, np.uint8)
    cross[:, vbar] = 0
    cross[int(3 * wt * d) : int(4 * wt * d), :] = 0
    non = np.full((n, n), 255, np.uint8)
    non[:, vbar] = 0
    non[int(3 * wt * d) : int(4 * wt * d), : int(lw * d / 2)] = 0
    non[int(6 * wt * d) : int(7 * wt * d), int(lw * d / 2) :] = 0
    ell = np.full((n, n), 255, np.uint8)
    ell[:, : int(wt * d)] = 0
    ell[int((lh - wt) * d) : int(lh * d), :] = 0
    tee = np.full((n, n), 255, np.uint8)
    tee[:, vbar] = 0
    tee[: int(wt * d), :] = 0
    return {"cross": _four(cross), "non_cross": _four(non), "L": _four(ell), "T": _four(tee)}


def _bar(angle: float) -> np.ndarray:
    """A 2°×0.3° black bar in a 2.3° white patch rotated by ``angle`` (cv2 sign)."""
    d, h, w = DEG2PX, 2.0, 0.3
    s = int((h + w) * d)
    img = np.zeros((s, s), np.uint8)
    img[int(w * d / 2) : int((2 * h + w) * d / 2), int(h * d / 2) : int((h + 2 * w) * d / 2)] = 255
    return 255 - _rotate(img, angle)


_ITEMS: dict[str, Any] = {}


def _items(condition: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(target variants, distractor variants) of a condition, grey uint8 patches."""
    if not _ITEMS:
        curves, lines = _curvature_items()
        light = _lighting_items()
        inter = _intersection_items()
        t0, t20 = _bar(0), _bar(-20)
        others = [_bar(a) for a in (-80, -60, -40, 20, 40, 60, 80)]
        _ITEMS.update(
            {
                "curve_in_lines": ([*curves], [*lines]),
                "line_in_curves": ([*lines], [*curves]),
                "top_down": ([light["above"]], [light["below"]]),
                "left_right": ([light["left"]], [light["right"]]),
                "cross": (inter["cross"], inter["non_cross"]),
                "non_cross": (inter["non_cross"], inter["cross"]),
                "Ls": (inter["L"], inter["T"]),
                "Ts": (inter["T"], inter["L"]),
                "homo_t0": ([t0], 8 * [t20]),  # 8 copies: the release draws homogeneous distractors like hetero
                "homo_t20": ([t20], 8 * [t0]),
                "hetero_t0": ([t0], [*others, t20]),
                "hetero_t20": ([t20], [*others, t0]),
            }
        )
    return _ITEMS[condition]


# ============================================================================================ displays
@dataclass
class AsymmetryDisplay:
    """One search display.

    Attributes:
        image: ``[S, S, 3]`` uint8 RGB (grey levels, three equal channels).
        target: ``[t, t, 3]`` uint8 RGB, the target as shown to the searcher.
        condition: condition name; set_size: items on the display; trial: 1-based index in its condition.
        target_cell: index of the target's cell (row-major); cells: the occupied cells (target included).
        boxes: ``[(x, y, w, h)]`` px of each item, in the order of ``cells``.
    """

    image: np.ndarray
    target: np.ndarray
    condition: str
    set_size: int
    trial: int
    target_cell: int
    cells: list[int]
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)

    @property
    def experiment(self) -> Experiment:
        return CONDITIONS[self.condition].exp

    def cell_box(self, cell: int | None = None) -> tuple[int, int, int, int]:
        """``(x, y, w, h)`` px of a grid cell (default: the target's)."""
        return self.experiment.cell_boxes()[self.target_cell if cell is None else int(cell)]

    @property
    def gt(self) -> np.ndarray:
        """``[S, S]`` uint8 ground truth: 255 over the whole target cell."""
        e = self.experiment
        g = np.zeros((e.size, e.size), np.uint8)
        x, y, w, h = self.cell_box()
        g[y : y + h, x : x + w] = 255
        return g

    def to_stimulus(self) -> tuple[Stimulus, Task]:
        """The display as a gazekit :class:`Stimulus` (items as objects, target cell as the GT box) and the
        search :class:`Task` (the target image; no location)."""
        e = self.experiment
        objects = [
            ObjectBox(*b, category="target" if c == self.target_cell else "distractor")
            for c, b in zip(self.cells, self.boxes, strict=True)
        ]
        meta = {
            "condition": self.condition,
            "set_size": self.set_size,
            "experiment": e.name,
            "search_protocol": e.protocol(),
        }
        stim = Stimulus(
            name=f"{self.condition}/{self.trial}",
            width=e.size,
            height=e.size,
            image=self.image,
            objects=objects,
            target=Target(self.condition, tuple(float(v) for v in self.cell_box()), self.target),
            meta=meta,
        )
        return stim, Task.search(self.condition, None, self.target)


_MASKS: dict[str, np.ndarray] = {}


def cell_masks(experiment: str) -> np.ndarray:
    """``[cells, S, S]`` uint8: 255 inside each grid cell (row-major), the release's ``gt_mask.npy``."""
    if experiment not in EXPERIMENTS:
        raise ConfigError(f"unknown asymmetry experiment {experiment!r}; expected one of {', '.join(EXPERIMENTS)}")
    if experiment not in _MASKS:
        e = EXPERIMENTS[experiment]
        m = np.zeros((e.cells, e.size, e.size), np.uint8)
        for i, (x, y, w, h) in enumerate(e.cell_boxes()):
            m[i, y : y + h, x : x + w] = 255
        m.setflags(write=False)
        _MASKS[experiment] = m
    return _MASKS[experiment]


def _distractor_order(cond: str, n_dis: int, n_types: int, rng: np.random.Generator) -> list[int]:
    """Which distractor variant goes where, per the release: cycling for curvature, uniform for intersection,
    each type once before any repeats for orientation."""
    if cond.startswith(("homo", "hetero")):
        if n_dis > n_types:
            ids = np.concatenate([rng.permutation(n_types), rng.choice(n_types, n_dis - n_types, replace=False)])
        else:
            ids = rng.choice(n_types, n_dis, replace=False)
        return [int(v) for v in rng.permutation(ids)]
    return [int(v) for v in rng.integers(n_types, size=n_dis)]


def _as_saved(grey: np.ndarray) -> np.ndarray:
    """Grey patch → RGB as the release stores it: a JPEG written by ``cv2.imwrite`` (quality 95) and read back."""
    ok, buf = cv2.imencode(".jpg", grey)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 greys
        raise DataFormatError("JPEG encoding failed")
    return np.repeat(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)[:, :, None], 3, axis=2)


def _display(cond: Condition, set_size: int, trial: int, rng: np.random.Generator) -> AsymmetryDisplay:
    e = cond.exp
    targets, distractors = _items(cond.name)
    img = np.full((e.size, e.size), e.background, np.uint8)
    cells = [int(c) for c in rng.choice(e.cells, set_size, replace=False)]
    t_pos = int(rng.integers(set_size))
    dis_ids = _distractor_order(cond.name, set_size - 1, len(distractors), rng)
    boxes: list[tuple[int, int, int, int]] = []
    target = targets[0]
    j = 0
    for i, cell in enumerate(cells):
        y = (cell // e.grid) * e.cell + (int(rng.integers(e.jitter)) if e.jitter > 0 else 0)
        x = (cell % e.grid) * e.cell + (int(rng.integers(e.jitter)) if e.jitter > 0 else 0)
        if cond.experiment == "curvature":  # items cycle through the four orientations in drawing order
            patch = (targets if i == t_pos else distractors)[i % 4]
        elif i == t_pos:
            patch = targets[int(rng.integers(len(targets)))]
        else:
            patch = distractors[dis_ids[j]]
            j += 1
        if i == t_pos:
            target = patch
        h, w = patch.shape
        img[y : y + h, x : x + w] = patch
        boxes.append((x, y, w, h))
    return AsymmetryDisplay(
        image=_as_saved(img),
        target=_as_saved(target),
        condition=cond.name,
        set_size=set_size,
        trial=trial,
        target_cell=cells[t_pos],
        cells=cells,
        boxes=boxes,
    )


def generate_condition(condition: str, seed: int = 0, trials: int | None = None) -> list[AsymmetryDisplay]:
    """All displays of one condition, smallest set size first (``trials`` per set size; default as released)."""
    if condition not in CONDITIONS:
        raise ConfigError(f"unknown asymmetry condition {condition!r}; expected one of {', '.join(CONDITIONS)}")
    cond = CONDITIONS[condition]
    n = cond.exp.trials if trials is None else int(trials)
    if n < 1:
        raise ConfigError(f"trials per set size must be >= 1, got {trials}")
    ci = list(CONDITIONS).index(condition)
    out = []
    for si, s in enumerate(cond.set_sizes):
        for t in range(n):
            rng = np.random.default_rng((int(seed), ci, si, t))
            out.append(_display(cond, s, si * n + t + 1, rng))
    return out


def generate_all(seed: int = 0, trials: int | None = None) -> dict[str, list[AsymmetryDisplay]]:
    """Every condition (1,272 displays with the release's trial counts)."""
    return {c: generate_condition(c, seed, trials) for c in CONDITIONS}


# ============================================================================================ saved layout
def _write_png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img if img.ndim == 2 else img[:, :, ::-1]):
        raise DataFormatError("could not write image", path=str(path))


def save_asymmetry(root: str | Path, seed: int = 0, trials: int | None = None) -> Path:
    """Write every condition in the documented layout under ``root``; returns ``root``."""
    root = Path(root)
    data = generate_all(seed, trials)
    for name in EXPERIMENTS:
        (root / name).mkdir(parents=True, exist_ok=True)
        np.save(root / name / "gt_mask.npy", cell_masks(name))
    counts = {}
    for cname, displays in data.items():
        cond = CONDITIONS[cname]
        d = root / cond.experiment / cond.folder
        for disp in displays:
            _write_png(d / "stimuli" / f"{disp.trial}.png", disp.image)
            _write_png(d / "target" / f"{disp.trial}.png", disp.target)
            _write_png(d / "gt" / f"{disp.trial}.png", disp.gt)  # binary masks stay lossless
        trials_meta = [
            {"trial": x.trial, "set_size": x.set_size, "target_cell": x.target_cell, "cells": x.cells, "boxes": x.boxes}
            for x in displays
        ]
        (d / "trials.json").write_text(json.dumps(trials_meta))
        counts[cname] = len(displays)
    manifest = {"seed": int(seed), "trials": trials, "deg2px": DEG2PX, "conditions": counts}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root


def load_asymmetry(root: str | Path, conditions: Sequence[str] | None = None) -> dict[str, list[AsymmetryDisplay]]:
    """Read displays written by :func:`save_asymmetry` (or the same layout from elsewhere)."""
    root = Path(root)
    if not (root / "manifest.json").is_file():
        raise DataFormatError("not an asymmetry set (no manifest.json; write one with save_asymmetry)", path=str(root))
    out: dict[str, list[AsymmetryDisplay]] = {}
    for cname in conditions or list(CONDITIONS):
        if cname not in CONDITIONS:
            raise ConfigError(f"unknown asymmetry condition {cname!r}")
        d = root / CONDITIONS[cname].experiment / CONDITIONS[cname].folder
        meta_path = d / "trials.json"
        try:
            trials = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise DataFormatError(f"unreadable trials.json ({e})", path=str(meta_path)) from None
        rows = []
        for t in trials:
            i = int(t["trial"])
            rows.append(
                AsymmetryDisplay(
                    image=read_image(d / "stimuli" / f"{i}.png"),
                    target=read_image(d / "target" / f"{i}.png"),
                    condition=cname,
                    set_size=int(t["set_size"]),
                    trial=i,
                    target_cell=int(t["target_cell"]),
                    cells=[int(c) for c in t["cells"]],
                    boxes=[tuple(int(v) for v in b) for b in t["boxes"]],
                )
            )
        out[cname] = rows
    return out


# ============================================================================================ training diets
DIETS = ("objects", "digits", "objects_rot90", "digits_rot90")


def _object_item(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """One object of the synthetic search world (shape or glyph; random colour, texture, size, position and
    background), labelled by shape or glyph (:data:`DIET_CLASSES`)."""
    label = int(rng.integers(len(_OBJECT_CLASSES)))
    name = _OBJECT_CLASSES[label]
    s = int(rng.integers(size // 2, size + 1))
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    feat = {
        "shape": name if name in SHAPES else "glyph",
        "glyph": name,
        "colour": _COLOUR_NAMES[int(rng.integers(len(_COLOUR_NAMES)))],
        "texture": TEXTURES[int(rng.integers(len(TEXTURES)))],
    }
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = bg
    oy, ox = (int(v) for v in rng.integers(0, size - s + 1, 2))
    canvas[oy : oy + s, ox : ox + s] = render_object(feat, s, bg)
    return canvas, label


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    # measured: importing scikit-learn costs ~1 s, and only the digits diet needs it
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


def _digit_item(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """One of scikit-learn's bundled 8×8 digits, upscaled to ``size`` px, grey on black (the paper's MNIST diet's
    small kin)."""
    images, targets = _digits()
    k = int(rng.integers(len(images)))
    g = cv2.resize((images[k] * 16).clip(0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
    return np.repeat(g[:, :, None], 3, axis=2), int(targets[k])


_OBJECT_CLASSES = (*SHAPES, *GLYPHS)
_COLOUR_NAMES = tuple(COLOURS)
DIET_CLASSES: dict[str, tuple[str, ...]] = {
    "objects": _OBJECT_CLASSES,
    "digits": tuple(str(c) for c in range(10)),
}


def diet_item(diet: str, index: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, int]:
    """Image ``index`` of a diet: ``([size, size, 3] uint8, label)``, drawn from ``default_rng((seed, index))`` so
    any item can be made alone (the DataModule renders lazily)."""
    if diet not in DIETS:
        raise ConfigError(f"unknown diet {diet!r}; expected one of {', '.join(DIETS)}")
    if size < 8:
        raise ConfigError(f"diet images need size >= 8, got {size}")
    rng = np.random.default_rng((int(seed), int(index)))
    img, label = (_object_item if diet.startswith("objects") else _digit_item)(rng, int(size))
    if diet.endswith("_rot90"):  # the paper's Rot90 diet: every training image turned by 90°
        img = np.ascontiguousarray(np.rot90(img, 1, axes=(0, 1)))
    return img, label


def diet_dataset(diet: str, n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images [n, size, size, 3] uint8, labels [n] int64, class names)`` of a training diet (:data:`DIETS`)."""
    if n < 1:
        raise ConfigError(f"diet needs n >= 1, got n={n}")
    items = [diet_item(diet, i, size, seed) for i in range(n)]
    x = np.stack([im for im, _ in items])
    y = np.array([lab for _, lab in items], dtype=np.int64)
    return x, y, list(DIET_CLASSES[diet.removesuffix("_rot90")])


class _LazyDiet:
    def __init__(self, diet: str, n: int, size: int, seed: int) -> None:
        self.diet, self.n, self.size, self.seed = diet, n, size, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        img, label = diet_item(self.diet, i, self.size, self.seed)
        return torch.from_numpy(img).permute(2, 0, 1).float() / 255.0, label


class DietDataModule(GazekitDataModule):
    """A training diet for eccNET's VGG feature extractor: ``(image [3, s, s] in [0, 1], class)`` batches.

    Args:
        diet: one of :data:`DIETS`.
        n_train, n_val: images per split (item i drawn from ``(seed, i)`` and ``(seed + 1, i)``, rendered lazily).
        size: image side, px.
        batch_size, num_workers, seed: as :class:`~gazekit.datasets.base.GazekitDataModule`.
    """

    def __init__(
        self,
        diet: str = "objects",
        n_train: int = 6000,
        n_val: int = 600,
        size: int = 32,
        batch_size: int = 64,
        num_workers: int | None = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if diet not in DIETS:
            raise ConfigError(f"DietDataModule.diet={diet!r}: expected one of {', '.join(DIETS)}")
        self.diet, self.n_train, self.n_val, self.size = diet, int(n_train), int(n_val), int(size)
        self.classes = list(DIET_CLASSES[diet.removesuffix("_rot90")])
        val = _LazyDiet(diet, self.n_val, self.size, seed + 1)
        self._splits = {"train": _LazyDiet(diet, self.n_train, self.size, seed), "val": val, "test": val}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split_dataset(self, split: str) -> Any:
        if split not in self._splits:
            raise ConfigError(f"DietDataModule has no split {split!r}")
        return self._splits[split]
