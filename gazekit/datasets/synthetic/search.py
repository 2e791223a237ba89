"""A seeded, procedural visual-search world: displays of simple objects with a target, rendered with OpenCV.

A *display* is a ``width`` x ``height`` image (512x320 px by default, the IRL/HAT frame of COCO-Search18)
holding 6-84 objects on a uniform grey background, in one of two layouts:

* ``"grid"``: ``rows`` x ``cols`` cells (2-8 rows, 2-14 columns, every cell filled, e.g. the 6x14 = 84
  covers of OAT's Amazon data), each object centred in its cell with a small jitter. Objects carry
  ``row`` and ``col`` attributes (0-based, from the top-left).
* ``"free"``: objects at random, non-overlapping positions (at least ``min_gap_px`` apart).

Objects come in two kinds of display:

* *shape* displays: each object has a ``shape`` (circle, square, triangle, diamond, cross, star, hexagon),
  a ``colour`` (8 named colours) and a ``texture`` (solid, striped, dotted, outline). Category string:
  ``"<colour> <shape> <texture>"``, e.g. ``"red circle striped"``.
* *glyph* displays: each object is a letter or digit drawn with ``cv2.putText`` in a colour. Category:
  ``"<colour> letter <L>"`` or ``"<colour> digit <D>"``, e.g. ``"blue letter K"``. Attributes
  ``shape="glyph"``, ``texture="solid"`` and ``glyph`` = the character.

The target is one feature combination; it is present (exactly once) with probability ``p_target_present``.
Distractors are drawn from small per-display *feature pools* that contain the target's own features, so
many distractors share the target's colour, shape, texture or glyph (conjunction search); with probability
``p_popout`` one of the target's features is withheld from all distractors (feature search). Search
difficulty therefore varies from display to display.

Every object is rendered into its own square patch and pasted at integer coordinates; an object's box is its
patch, and the target image (:attr:`Target.image`) is the target's patch rendered alone on the background,
so for a target-present display ``image[y:y+h, x:x+w] == target.image`` exactly.

Everything is a pure function of ``(config, seed)``: the same seed gives the same pixels and objects.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazekit.atomic import atomic_write_text
from gazekit.datasets.coco_search18 import scanpath_to_record
from gazekit.datasets.synthetic.observers import observed_objects, simulate
from gazekit.errors import ConfigError, DataFormatError
from gazekit.imageio import read_image, write_image
from gazekit.io import read_scanpaths
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target

__all__ = [
    "COLOURS",
    "GLYPHS",
    "SHAPES",
    "TEXTURES",
    "SearchWorld",
    "SearchWorldConfig",
    "build_world",
    "render_display",
    "render_object",
]

#: name -> RGB
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (222, 38, 38),
    "green": (36, 168, 64),
    "blue": (44, 84, 222),
    "yellow": (238, 214, 36),
    "orange": (244, 136, 24),
    "purple": (138, 56, 192),
    "cyan": (36, 204, 214),
    "white": (248, 248, 248),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star", "hexagon")
TEXTURES: tuple[str, ...] = ("solid", "striped", "dotted", "outline")
GLYPHS: str = "AEFHKLMNTVXZ0235689"

_SEED_STRIDE = 1_000_000  # display seeds of world ``s`` are s * stride + i


@dataclass
class SearchWorldConfig:
    """How displays are generated (all sizes in display pixels).

    Attributes:
        width, height: display size in px (default 512x320, the COCO-Search18 frame used by IRL/HAT).
        min_objects, max_objects: number of objects per display (inclusive; free layouts draw it uniformly,
            grid layouts draw a rows x cols grid whose product lies in this range).
        layouts: layouts to draw from, uniformly: ``"grid"`` and/or ``"free"``.
        p_target_present: probability that the target is on the display (target-present trial).
        p_glyph: probability that a display is made of glyphs (letters/digits) instead of shapes.
        p_popout: probability that one target feature is absent from every distractor (an easy,
            feature-search display); otherwise the target differs from each distractor by a conjunction.
        max_pool: at most this many values per feature dimension appear on one display (>= 2); small
            pools make distractors share the target's features often.
        shapes, colours, textures, glyphs: the feature values to draw from (colours are names in
            :data:`COLOURS`; glyphs a string of characters).
        background: RGB background colour.
        min_object_px, max_object_px: object (patch) side in px; the side shrinks as displays fill up.
        grid_jitter: jitter of grid objects inside their cell, as a fraction of the free space (0 = none).
        min_gap_px: minimum gap between objects in free layouts.
        px_per_degree: pixels per degree of visual angle; the simulated observers work in degrees.
            9.5 px/deg: COCO-Search18's 1680 px wide display spans about 54 deg, rescaled to 512 px.
    """

    width: int = 512
    height: int = 320
    min_objects: int = 6
    max_objects: int = 84
    layouts: tuple[str, ...] = ("grid", "free")
    p_target_present: float = 0.75
    p_glyph: float = 0.2
    p_popout: float = 0.25
    max_pool: int = 4
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    textures: tuple[str, ...] = TEXTURES
    glyphs: str = GLYPHS
    background: tuple[int, int, int] = (128, 128, 128)
    min_object_px: int = 18
    max_object_px: int = 48
    grid_jitter: float = 0.35
    min_gap_px: int = 4
    px_per_degree: float = 9.5

    def __post_init__(self) -> None:
        self.layouts = tuple(self.layouts)
        self.shapes = tuple(self.shapes)
        self.colours = tuple(self.colours)
        self.textures = tuple(self.textures)
        self.glyphs = str(self.glyphs)
        self.background = tuple(int(v) for v in self.background)  # type: ignore[assignment]

        def bad(msg: str) -> ConfigError:
            return ConfigError(f"SearchWorldConfig: {msg}")

        if self.width < 64 or self.height < 64:
            raise bad(f"display must be at least 64x64 px, got {self.width}x{self.height}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise bad(f"need 1 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        if not self.layouts or any(lay not in ("grid", "free") for lay in self.layouts):
            raise bad(f"layouts must be a non-empty subset of ('grid', 'free'), got {self.layouts}")
        for name in ("p_target_present", "p_glyph", "p_popout", "grid_jitter"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise bad(f"{name} must lie in [0, 1], got {v}")
        if self.max_pool < 2:
            raise bad(f"max_pool must be >= 2, got {self.max_pool}")
        unknown = [s for s in self.shapes if s not in SHAPES]
        if unknown or len(self.shapes) < 2:
            raise bad(f"shapes must be >= 2 of {SHAPES}, got {self.shapes}")
        unknown = [c for c in self.colours if c not in COLOURS]
        if unknown or len(self.colours) < 2:
            raise bad(f"colours must be >= 2 of {tuple(COLOURS)}, got {self.colours}")
        unknown = [t for t in self.textures if t not in TEXTURES]
        if unknown or not self.textures:
            raise bad(f"textures must be a non-empty subset of {TEXTURES}, got {self.textures}")
        if len(set(self.glyphs)) < 2 or not all(ch.isalnum() and ch.isascii() for ch in self.glyphs):
            raise bad(f"glyphs must hold >= 2 distinct ASCII letters/digits, got {self.glyphs!r}")
        if len(self.background) != 3 or not all(0 <= v <= 255 for v in self.background):
            raise bad(f"background must be an RGB triple in 0..255, got {self.background}")
        if not 8 <= self.min_object_px <= self.max_object_px:
            raise bad(f"need 8 <= min_object_px <= max_object_px, got {self.min_object_px}, {self.max_object_px}")
        if self.min_gap_px < 0 or self.px_per_degree <= 0:
            raise bad("min_gap_px must be >= 0 and px_per_degree > 0")
        if "grid" in self.layouts and not _grid_shapes(self):
            raise bad(f"no rows x cols grid fits {self.min_objects}..{self.max_objects} objects")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchWorldConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"SearchWorldConfig: unknown field(s) {unknown}; known: {sorted(names)}")
        return cls(**d)


# ============================================================================================ rendering
def _category(feat: dict[str, Any]) -> str:
    if feat["shape"] == "glyph":
        kind = "digit" if feat["glyph"].isdigit() else "letter"
        return f"{feat['colour']} {kind} {feat['glyph']}"
    return f"{feat['colour']} {feat['shape']} {feat['texture']}"


def _polygon(shape: str, s: int) -> np.ndarray | None:
    """Vertices (x, y) in a s x s patch, at 16x sub-pixel precision (cv2 ``shift=4``)."""
    c = s / 2.0
    r = s / 2.0 - 1.0
    if shape == "triangle":
        pts = [(c, c - r), (c + r * 0.95, c + r * 0.8), (c - r * 0.95, c + r * 0.8)]
    elif shape == "diamond":
        pts = [(c, c - r), (c + r * 0.8, c), (c, c + r), (c - r * 0.8, c)]
    elif shape == "square":
        q = r * 0.82
        pts = [(c - q, c - q), (c + q, c - q), (c + q, c + q), (c - q, c + q)]
    elif shape == "hexagon":
        pts = [(c + r * math.cos(a), c + r * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]]
    elif shape == "star":
        pts = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rr = r if k % 2 == 0 else r * 0.45
            pts.append((c + rr * math.cos(a), c + rr * math.sin(a)))
    elif shape == "cross":
        a, b = r * 0.34, r
        pts = [
            (c - a, c - b), (c + a, c - b), (c + a, c - a), (c + b, c - a), (c + b, c + a), (c + a, c + a),
            (c + a, c + b), (c - a, c + b), (c - a, c + a), (c - b, c + a), (c - b, c - a), (c - a, c - a),
        ]  # fmt: skip
    else:
        return None
    return np.round(np.array(pts) * 16).astype(np.int32)


@lru_cache(maxsize=4096)
def _shape_alpha(shape: str, texture: str, s: int) -> np.ndarray:
    """``[s, s]`` float32 coverage in [0, 1] of a (shape, texture) at side ``s`` (cached; read-only)."""

    mask = np.zeros((s, s), np.uint8)
    thick = -1 if texture != "outline" else max(2, s // 10)
    if shape == "circle":
        c = int(round(s / 2.0 * 16))
        cv2.circle(mask, (c, c), int(round((s / 2.0 - 1.0) * 16)), 255, thick, cv2.LINE_AA, 4)
    else:
        pts = _polygon(shape, s)
        if pts is None:  # pragma: no cover - validated by the config
            raise ConfigError(f"unknown shape {shape!r}")
        if thick < 0:
            cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, 4)
        else:
            cv2.polylines(mask, [pts], True, 255, thick, cv2.LINE_AA, 4)
    alpha = mask.astype(np.float32) / 255.0
    yy, xx = np.mgrid[0:s, 0:s]
    if texture == "striped":
        period = max(4, s // 5)
        alpha *= (((xx + yy) % period) < period / 2).astype(np.float32)
    elif texture == "dotted":
        period = max(5, s // 4)
        d2 = ((xx % period) - period / 2 + 0.5) ** 2 + ((yy % period) - period / 2 + 0.5) ** 2
        alpha *= (d2 > (period * 0.3) ** 2).astype(np.float32)
    alpha.setflags(write=False)
    return alpha


@lru_cache(maxsize=4096)
def _glyph_alpha(ch: str, s: int) -> np.ndarray:

    font = cv2.FONT_HERSHEY_SIMPLEX
    thick = max(2, s // 11)
    (tw, th), base = cv2.getTextSize(ch, font, 1.0, thick)
    scale = 0.8 * s / max(tw, th + base * 0.2)
    thick = max(2, int(round(thick * min(scale, 1.6) / 1.2)))
    (tw, th), base = cv2.getTextSize(ch, font, scale, thick)
    mask = np.zeros((s, s), np.uint8)
    org = (int(round((s - tw) / 2)), int(round((s + th) / 2)))
    cv2.putText(mask, ch, org, font, scale, 255, thick, cv2.LINE_AA)
    alpha = mask.astype(np.float32) / 255.0
    alpha.setflags(write=False)
    return alpha


def render_object(features: dict[str, Any], size: int, background: Sequence[int] = (128, 128, 128)) -> np.ndarray:
    """One object alone on the background: ``[size, size, 3]`` uint8 RGB.

    Args:
        features: ``shape`` (a shape or ``"glyph"``), ``colour`` (a name in :data:`COLOURS`), ``texture``,
            and ``glyph`` (the character, for glyphs).
        size: patch side in px.
        background: RGB background colour.
    """
    if features["shape"] == "glyph":
        alpha = _glyph_alpha(features["glyph"], int(size))
    else:
        alpha = _shape_alpha(features["shape"], features["texture"], int(size))
    bg = np.asarray(background, np.float32)
    col = np.asarray(COLOURS[features["colour"]], np.float32)
    out = bg + alpha[:, :, None] * (col - bg)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ============================================================================================ layouts
def _grid_shapes(cfg: SearchWorldConfig) -> list[tuple[int, int]]:
    out = []
    for rows in range(1, 9):
        for cols in range(1, 15):
            n = rows * cols
            cell_w, cell_h = cfg.width / cols, cfg.height / rows
            fits = min(cell_w, cell_h) >= cfg.min_object_px + 2
            if cfg.min_objects <= n <= cfg.max_objects and 0.5 <= cell_w / cell_h <= 2.5 and fits:
                out.append((rows, cols))
    return out


def _grid_layout(cfg: SearchWorldConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Top-left corners ``[n, 2]`` and sides ``[n]`` of a full rows x cols grid."""
    shapes = _grid_shapes(cfg)
    rows, cols = shapes[int(rng.integers(len(shapes)))]
    cw, ch = cfg.width / cols, cfg.height / rows
    side = int(np.clip(round(min(cw, ch) * 0.72), cfg.min_object_px, cfg.max_object_px))
    side = min(side, int(min(cw, ch)) - 1)
    r, c = np.divmod(np.arange(rows * cols), cols)
    free_x, free_y = (cw - side) / 2.0, (ch - side) / 2.0
    jx = rng.uniform(-1, 1, rows * cols) * free_x * cfg.grid_jitter
    jy = rng.uniform(-1, 1, rows * cols) * free_y * cfg.grid_jitter
    x = np.floor(c * cw + free_x + jx)
    y = np.floor(r * ch + free_y + jy)
    xy = np.stack([np.clip(x, 0, cfg.width - side), np.clip(y, 0, cfg.height - side)], axis=1).astype(int)
    return xy, np.full(rows * cols, side, int), rows, cols


def _free_layout(cfg: SearchWorldConfig, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping random squares: top-left corners ``[n, 2]`` and sides ``[n]``."""
    base = float(np.clip(math.sqrt(cfg.width * cfg.height / n) * 0.5, cfg.min_object_px, cfg.max_object_px))
    gap = cfg.min_gap_px
    for _attempt in range(12):
        sides = np.clip(np.round(base * rng.uniform(0.85, 1.15, n)), cfg.min_object_px, cfg.max_object_px)
        sides = sides.astype(int)
        placed = np.zeros((n, 4))  # x1, y1, x2, y2
        ok = True
        for i in range(n):
            s = sides[i]
            found = False
            for _round in range(8):
                cand_x = rng.integers(0, cfg.width - s + 1, 48)
                cand_y = rng.integers(0, cfg.height - s + 1, 48)
                if i == 0:
                    j = 0
                    found = True
                else:
                    p = placed[:i]
                    sep = (
                        (cand_x[:, None] >= p[None, :, 2] + gap)
                        | (cand_x[:, None] + s + gap <= p[None, :, 0])
                        | (cand_y[:, None] >= p[None, :, 3] + gap)
                        | (cand_y[:, None] + s + gap <= p[None, :, 1])
                    ).all(axis=1)
                    if sep.any():
                        j = int(np.argmax(sep))
                        found = True
                if found:
                    placed[i] = (cand_x[j], cand_y[j], cand_x[j] + s, cand_y[j] + s)
                    break
            if not found:
                ok = False
                break
        if ok:
            return placed[:, :2].astype(int), sides
        base = max(cfg.min_object_px, base * 0.9)
        gap = max(1, gap - 1)
    raise ConfigError(  # pragma: no cover - only for configs that cram too many objects into a display
        f"could not place {n} non-overlapping objects on a {cfg.width}x{cfg.height} display"
    )


# ============================================================================================ features
def _feature_dims(kind: str) -> tuple[str, ...]:
    return ("colour", "glyph") if kind == "glyphs" else ("colour", "shape", "texture")


def _values(cfg: SearchWorldConfig, dim: str) -> list[str]:
    return {"colour": list(cfg.colours), "shape": list(cfg.shapes), "texture": list(cfg.textures)}.get(
        dim, list(dict.fromkeys(cfg.glyphs))
    )


def _features(cfg: SearchWorldConfig, rng: np.random.Generator, kind: str, n: int, present: bool):
    """Target features and ``n`` object feature dicts (the target at a random index if ``present``)."""
    dims = _feature_dims(kind)
    target = {d: _values(cfg, d)[int(rng.integers(len(_values(cfg, d))))] for d in dims}
    pools: dict[str, list[str]] = {}
    for d in dims:
        others = [v for v in _values(cfg, d) if v != target[d]]
        k = int(rng.integers(1, min(cfg.max_pool, len(others) + 1) + 1))  # pool size incl. the target value
        pools[d] = [target[d], *rng.choice(others, size=k - 1, replace=False).tolist()]
    popout = bool(rng.random() < cfg.p_popout)
    if popout:
        d = dims[int(rng.integers(len(dims)))]
        if len(pools[d]) == 1:
            pools[d].append([v for v in _values(cfg, d) if v != target[d]][int(rng.integers(len(_values(cfg, d)) - 1))])
        pools[d] = pools[d][1:]
    combos = [()]
    for d in dims:
        combos = [(*c, v) for c in combos for v in pools[d]]
    tkey = tuple(target[d] for d in dims)
    combos = [c for c in combos if c != tkey]
    if not combos:  # every pool was {target value}: let one dimension vary
        d_i = int(rng.integers(len(dims)))
        vals = [v for v in _values(cfg, dims[d_i]) if v != tkey[d_i]]
        combos = [tuple(vals[int(rng.integers(len(vals)))] if i == d_i else tkey[i] for i in range(len(dims)))]
    picks = rng.integers(len(combos), size=n)
    objs = [dict(zip(dims, combos[int(p)], strict=True)) for p in picks]
    t_index = int(rng.integers(n)) if present else None
    if t_index is not None:
        objs[t_index] = dict(target)

    def full(f: dict[str, str]) -> dict[str, Any]:
        if kind == "glyphs":
            return {"shape": "glyph", "colour": f["colour"], "texture": "solid", "glyph": f["glyph"]}
        return {"shape": f["shape"], "colour": f["colour"], "texture": f["texture"], "glyph": None}

    return full(target), [full(o) for o in objs], t_index, popout


def render_display(config: SearchWorldConfig, seed: int) -> Stimulus:
    """Render one search display (a pure function of ``config`` and ``seed``).

    Returns:
        A :class:`~gazekit.types.Stimulus` named ``synth_{seed:06d}.png`` with ``image`` ``[H, W, 3]`` uint8
        RGB, ``objects`` (boxes = each object's patch, ``category`` and ``attributes`` shape, colour,
        texture, glyph, plus row, col for grid layouts), ``target`` (category, box or None when absent,
        and the target rendered alone as ``image``) and ``meta`` (layout, kind, present, rows, cols, seed,
        n_objects, target_index, popout, px_per_degree).
    """
    if int(seed) < 0:
        raise ConfigError(f"display seed must be >= 0, got {seed}")
    cfg = config
    rng = np.random.default_rng([int(seed), 0x5EA2C4])
    layout = cfg.layouts[int(rng.integers(len(cfg.layouts)))]
    kind = "glyphs" if rng.random() < cfg.p_glyph else "shapes"
    present = bool(rng.random() < cfg.p_target_present)
    rows = cols = None
    if layout == "grid":
        xy, sides, rows, cols = _grid_layout(cfg, rng)
    else:
        n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        xy, sides = _free_layout(cfg, rng, n)
    n = len(sides)
    target_feat, feats, t_index, popout = _features(cfg, rng, kind, n, present)

    image = np.empty((cfg.height, cfg.width, 3), np.uint8)
    image[:] = np.asarray(cfg.background, np.uint8)
    objects: list[ObjectBox] = []
    for i in range(n):
        x0, y0, s = int(xy[i, 0]), int(xy[i, 1]), int(sides[i])
        image[y0 : y0 + s, x0 : x0 + s] = render_object(feats[i], s, cfg.background)
        attrs: dict[str, Any] = dict(feats[i])
        if rows is not None:
            attrs["row"], attrs["col"] = divmod(i, cols)
        objects.append(ObjectBox(x0, y0, s, s, category=_category(feats[i]), attributes=attrs))
    if t_index is not None:
        side = int(sides[t_index])
        box = objects[t_index].xywh
    else:
        side = int(np.median(sides))
        box = None
    target = Target(_category(target_feat), box, render_object(target_feat, side, cfg.background))
    meta = {
        "layout": layout,
        "kind": kind,
        "present": present,
        "rows": rows,
        "cols": cols,
        "seed": int(seed),
        "n_objects": n,
        "target_index": t_index,
        "popout": popout,
        "target_features": dict(target_feat),
        "px_per_degree": float(cfg.px_per_degree),
    }
    return Stimulus(f"synth_{int(seed):06d}.png", cfg.width, cfg.height, image=image, objects=objects,
                    target=target, meta=meta)  # fmt: skip


# ============================================================================================ fixated objects
# ============================================================================================ the world
@dataclass
class SearchWorld:
    """A set of rendered displays and the simulated observers' scanpaths on them.

    Attributes:
        stimuli: the displays (images in memory).
        scanpaths: one scanpath per (display, subject), coordinates in display px (``width``/``height`` set).
        config: the generator settings.
        seed: the world seed (display ``i`` has seed ``seed * 1_000_000 + i``).
    """

    stimuli: list[Stimulus]
    scanpaths: list[Scanpath]
    config: SearchWorldConfig = field(default_factory=SearchWorldConfig)
    seed: int = 0

    def __len__(self) -> int:
        return len(self.stimuli)

    def stimulus(self, name: str) -> Stimulus:
        """The display called ``name`` (KeyError if absent)."""
        for s in self.stimuli:
            if s.name == name:
                return s
        raise KeyError(name)

    def trials(self) -> list[tuple[Stimulus, Scanpath]]:
        """``(stimulus, scanpath)`` for every scanpath, in scanpath order."""
        by_name = {s.name: s for s in self.stimuli}
        return [(by_name[sp.stimulus], sp) for sp in self.scanpaths if sp.stimulus in by_name]

    def subset(self, names: Sequence[str], split: str | None = None) -> SearchWorld:
        """The displays in ``names`` (in this world's order) and their scanpaths; ``split`` relabels them."""
        keep = set(names)
        sps = []
        for sp in self.scanpaths:
            if sp.stimulus in keep:
                sp = dataclasses.replace(sp, meta=dict(sp.meta))
                if split is not None:
                    sp.meta["split"] = split
                sps.append(sp)
        return SearchWorld([s for s in self.stimuli if s.name in keep], sps, self.config, self.seed)

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple[SearchWorld, SearchWorld]:
        """Split by display into (train, test) worlds; scanpaths' ``meta["split"]`` becomes train / test."""
        if not 0.0 <= test_fraction <= 1.0:
            raise ConfigError(f"test_fraction must lie in [0, 1], got {test_fraction}")
        names = [s.name for s in self.stimuli]
        n_test = int(round(test_fraction * len(names)))
        if 0 < test_fraction < 1 and len(names) >= 2:
            n_test = min(max(n_test, 1), len(names) - 1)
        order = np.random.default_rng([int(seed), 0x5B17]).permutation(len(names))
        test = {names[i] for i in order[:n_test]}
        train_names = [n for n in names if n not in test]
        return self.subset(train_names, "train"), self.subset(sorted(test, key=names.index), "test")

    # ------------------------------------------------------------------------------------ files
    def save(self, root: str | Path) -> None:
        """Write the world in the COCO-Search18 layout.

        ``root/images/<name>.png`` (displays), ``root/targets/<name>.png`` (target images),
        ``root/fixations.json`` (COCO-Search18 fixation records: name, subject, task, condition, bbox,
        X, Y, T, length, correct, RT, split), ``root/objects.json`` (per display: size, boxes, categories and
        attributes of every object, target, meta) and ``root/config.json`` (generator settings, seed).
        """

        root = Path(root)
        if root.exists() and not root.is_dir():
            raise DataFormatError("cannot write a synthetic world here: not a folder", path=root)
        for sub in ("images", "targets"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        images = []
        for s in self.stimuli:
            write_image(root / "images" / s.name, s.load_image())
            t = s.target
            if t is not None and t.image is not None:
                write_image(root / "targets" / s.name, t.image)
            images.append(
                {
                    "name": s.name,
                    "width": s.width,
                    "height": s.height,
                    "objects": [
                        {"bbox": list(o.xywh), "category": o.category, "attributes": o.attributes} for o in s.objects
                    ],
                    "target": None
                    if t is None
                    else {
                        "category": t.category,
                        "bbox": None if t.box is None else list(t.box),
                        "image": None if t.image is None else f"targets/{s.name}",
                    },
                    "meta": s.meta,
                }
            )
        records = []
        for sp in self.scanpaths:
            rec = scanpath_to_record(sp)
            rec.setdefault("split", "train")
            records.append(rec)
        atomic_write_text(root / "fixations.json", json.dumps(records))
        atomic_write_text(root / "objects.json", json.dumps({"format": "gazekit-synthetic-search/1", "images": images}))
        cfg = {"format": "gazekit-synthetic-search/1", "seed": int(self.seed), "config": self.config.to_dict()}
        atomic_write_text(root / "config.json", json.dumps(cfg, indent=2))

    @classmethod
    def load(cls, root: str | Path) -> SearchWorld:
        """Read a world written by :meth:`save` (fixations through :func:`gazekit.io.read_scanpaths`).

        Raises:
            DataFormatError: ``root`` is not a folder, a file is missing or corrupt, or files disagree
                (a scanpath on an unknown display, an image of the wrong size).
        """

        root = Path(root)
        if not root.is_dir():
            raise DataFormatError("not a synthetic search world folder (expected config.json, objects.json, "
                                  "fixations.json, images/, targets/)", path=root)  # fmt: skip
        cfg_path = root / "config.json"
        cfg_doc = _read_json(cfg_path)
        if not isinstance(cfg_doc, dict) or not isinstance(cfg_doc.get("config"), dict):
            raise DataFormatError("expected an object with a 'config' object", path=cfg_path, field="config")
        try:
            config = SearchWorldConfig.from_dict(cfg_doc["config"])
            seed = int(cfg_doc.get("seed", 0))
        except (ConfigError, TypeError, ValueError) as e:
            raise DataFormatError(f"bad generator settings ({e})", path=cfg_path, field="config") from None

        obj_path = root / "objects.json"
        doc = _read_json(obj_path)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
            raise DataFormatError("expected an object with an 'images' list", path=obj_path, field="images")
        stimuli = []
        for i, rec in enumerate(doc["images"]):
            stimuli.append(_stimulus_from_record(rec, root, obj_path, i, read_image))
        by_name = {s.name: s for s in stimuli}
        if len(by_name) != len(stimuli):
            raise DataFormatError("duplicate image names", path=obj_path, field="name")

        fix_path = root / "fixations.json"
        scanpaths = read_scanpaths(fix_path)
        for k, sp in enumerate(scanpaths):
            stim = by_name.get(sp.stimulus)
            if stim is None:
                raise DataFormatError(f"scanpath on unknown image {sp.stimulus!r} (not in objects.json)",
                                      path=fix_path, record=k, field="name")  # fmt: skip
            # COCO-Search18 records are in display px; this world's display is the stimulus itself.
            sp.width, sp.height = float(stim.width), float(stim.height)
            sp.meta.pop("record", None)
            sp.objects = observed_objects(stim, sp.x, sp.y)
            ti = stim.target_index
            if ti is not None:
                sp.meta["target_object"] = int(ti)
        return cls(stimuli, scanpaths, config, seed)


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataFormatError("file not found", path=path) from None
    except json.JSONDecodeError as e:
        raise DataFormatError(f"invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})", path=path,
                              line=e.lineno) from None  # fmt: skip
    except UnicodeDecodeError as e:
        raise DataFormatError(f"not UTF-8 text ({e.reason})", path=path) from None
    except OSError as e:
        raise DataFormatError(f"cannot read ({e.strerror})", path=path) from None


def _stimulus_from_record(rec: Any, root: Path, path: Path, i: int, read_image) -> Stimulus:  # noqa: ANN001
    def err(msg: str, fld: str | None = None) -> DataFormatError:
        return DataFormatError(msg, path=path, record=i, field=fld)

    if not isinstance(rec, dict):
        raise err(f"expected an object, got {type(rec).__name__}")
    name = rec.get("name")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise err(f"image name must be a bare file name, got {name!r}", "name")
    try:
        width, height = int(rec["width"]), int(rec["height"])
    except (KeyError, TypeError, ValueError):
        raise err("width and height must be integers", "width/height") from None
    raw_objects = rec.get("objects")
    if not isinstance(raw_objects, list):
        raise err("objects must be a list", "objects")
    objects = []
    for j, o in enumerate(raw_objects):
        if not isinstance(o, dict) or not isinstance(o.get("bbox"), list) or len(o["bbox"]) != 4:
            raise err(f"object {j}: expected {{'bbox': [x, y, w, h], 'category': ...}}", "objects")
        attrs = o.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise err(f"object {j}: attributes must be an object", "objects")
        try:
            objects.append(ObjectBox(*(float(v) for v in o["bbox"]), category=str(o.get("category", "object")),
                                     attributes=attrs))  # fmt: skip
        except (TypeError, ValueError, DataFormatError) as e:
            raise err(f"object {j}: bad box ({e})", "objects") from None
    target = None
    t = rec.get("target")
    if t is not None:
        if not isinstance(t, dict):
            raise err("target must be an object or null", "target")
        timg = None
        if t.get("image"):
            rel = str(t["image"])
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise err(f"target image must be a path inside the world folder, got {rel!r}", "target")
            timg = read_image(root / rel)
        try:
            target = Target(t.get("category"), None if t.get("bbox") is None else tuple(t["bbox"]), timg)
        except (TypeError, ValueError) as e:
            raise err(f"bad target ({e})", "target") from None
    meta = rec.get("meta") or {}
    if not isinstance(meta, dict):
        raise err("meta must be an object", "meta")
    image = read_image(root / "images" / name)
    try:
        return Stimulus(name, width, height, image=image, path=str(root / "images" / name), objects=objects,
                        target=target, meta=meta)  # fmt: skip
    except DataFormatError as e:
        raise DataFormatError(str(e), path=root / "images" / name) from None


def build_world(
    n_displays: int = 200, n_subjects: int = 10, seed: int = 0, config: SearchWorldConfig | None = None
) -> SearchWorld:
    """Render ``n_displays`` displays and simulate ``n_subjects`` observers searching each of them.

    Display ``i`` has seed ``seed * 1_000_000 + i`` (name ``synth_<display seed>.png``); the observers are
    seeded from ``seed`` too, so the whole world is a pure function of the arguments.
    """
    if n_displays < 0 or n_displays >= _SEED_STRIDE:
        raise ConfigError(f"n_displays must lie in [0, {_SEED_STRIDE}), got {n_displays}")
    if n_subjects < 1:
        raise ConfigError(f"n_subjects must be >= 1, got {n_subjects}")
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    config = config or SearchWorldConfig()
    stimuli = [render_display(config, seed * _SEED_STRIDE + i) for i in range(n_displays)]
    scanpaths = simulate(stimuli, n_subjects=n_subjects, seed=seed)
    return SearchWorld(stimuli, scanpaths, config, seed)
