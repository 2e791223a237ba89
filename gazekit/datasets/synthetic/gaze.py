"""Synthetic gaze-following scenes: rendered people looking at objects (or out of the frame).

Every scene is a pure function of ``(seed, split, index)`` and a :class:`GazeSceneConfig`, so a data set is
reproducible from three integers and never has to be stored. A scene holds:

* a background (two-tone wall/floor with smooth low-frequency noise),
* ``min_objects..max_objects`` objects: one of :data:`GAZE_CATEGORIES` (shapes) in one of
  :data:`GAZE_COLOURS`, with a pixel mask each,
* ``min_people..max_people`` people: a body (torso + neck) and a head rendered as a shaded sphere whose
  face (eyes, brows, nose, mouth) sits around the 3-D gaze direction and whose hair covers the back and
  the top, so the facing direction is visible from the head pixels alone.

Each person looks either at one of the objects (``inout = 1``) or out of the frame (``inout = 0``):
towards the camera (a near-frontal face) or sideways past the image border with no object in the way.
The ground truth of a person is a :class:`~gazekit.types.GazeAnnotation`: head box (the sphere's box),
eye point, ``n_annotators`` simulated annotator points (Gaussian noise around a point on the target
object, kept inside the object's box enlarged by 10 %), the in/out label, the target object's mask and
its category (the shape name; the colour is in ``meta["target_colour"]``). GazeSeg uses the masks and
categories.

:class:`SyntheticGazeDataModule` turns the scenes into model batches (one sample per person, see
:func:`gaze_sample_to_tensors`), the same layout the GazeFollow DataModule produces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import torch

from gazekit.datasets.base import GazekitDataModule
from gazekit.errors import ConfigError
from gazekit.types import GazeAnnotation, ObjectBox

__all__ = [
    "GAZE_CATEGORIES",
    "GAZE_COLOURS",
    "GazeScene",
    "GazeSceneConfig",
    "SyntheticGazeDataModule",
    "SyntheticGazeDataset",
    "gaze_sample_to_tensors",
    "head_gaussian_map",
    "render_face",
    "render_gaze_scene",
]

#: Object categories (shapes) of the synthetic scenes, in class-index order.
GAZE_CATEGORIES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross")
#: Object colours (RGB); the colour name is an attribute, not part of the category.
GAZE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 205, 40),
    "magenta": (200, 50, 190),
    "cyan": (40, 200, 210),
    "orange": (245, 140, 30),
}
_SKIN = ((241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172))
_HAIR = ((30, 22, 18), (70, 45, 25), (120, 80, 40), (200, 170, 100), (90, 90, 90))
_SHIRT = ((60, 90, 150), (150, 60, 60), (70, 120, 70), (110, 110, 120), (160, 120, 60), (90, 60, 130))
_SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class GazeSceneConfig:
    """How synthetic gaze scenes are drawn (sizes are fractions of ``min(width, height)``).

    Attributes:
        width, height: image size in px.
        min_objects, max_objects: objects per scene.
        min_people, max_people: people per scene.
        p_out: probability that a person looks out of the frame.
        p_out_camera: among out-of-frame people, the share looking towards the camera (frontal face);
            the others look sideways past the border.
        n_annotators: simulated annotator points per in-frame person (GazeFollow test has about 10).
        annotator_noise: annotator spread (std) as a fraction of the target object's size.
        head_radius: (min, max) head sphere radius.
        object_size: (min, max) object size (box side).
        min_tilt, max_tilt: range of the gaze direction's component towards the camera for in-frame
            gaze (0 = pure profile, 1 = looking into the camera).
    """

    width: int = 224
    height: int = 224
    min_objects: int = 2
    max_objects: int = 4
    min_people: int = 1
    max_people: int = 2
    p_out: float = 0.2
    p_out_camera: float = 0.5
    n_annotators: int = 10
    annotator_noise: float = 0.15
    head_radius: tuple[float, float] = (0.06, 0.085)
    object_size: tuple[float, float] = (0.11, 0.18)
    min_tilt: float = 0.15
    max_tilt: float = 0.6

    def __post_init__(self) -> None:
        if self.width < 32 or self.height < 32:
            raise ConfigError(f"scene size must be at least 32x32 px, got {self.width}x{self.height}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ConfigError(f"need 1 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        if not 1 <= self.min_people <= self.max_people:
            raise ConfigError(f"need 1 <= min_people <= max_people, got {self.min_people}, {self.max_people}")
        if not 0.0 <= self.p_out <= 1.0 or not 0.0 <= self.p_out_camera <= 1.0:
            raise ConfigError(f"p_out and p_out_camera must be in [0, 1], got {self.p_out}, {self.p_out_camera}")
        if self.n_annotators < 1:
            raise ConfigError(f"n_annotators must be >= 1, got {self.n_annotators}")
        if not 0.0 < self.head_radius[0] <= self.head_radius[1] <= 0.25:
            raise ConfigError(f"head_radius must satisfy 0 < min <= max <= 0.25, got {self.head_radius}")
        if not 0.0 <= self.min_tilt <= self.max_tilt < 1.0:
            raise ConfigError(f"need 0 <= min_tilt <= max_tilt < 1, got {self.min_tilt}, {self.max_tilt}")


@dataclass
class GazeScene:
    """One rendered scene.

    Attributes:
        image: ``[H, W, 3]`` uint8 RGB.
        annotations: one :class:`GazeAnnotation` per person (``meta`` holds ``person``, ``scene``,
            ``direction`` (3-D unit gaze vector, x right, y down, z towards the camera), ``out_mode``
            (``"camera"``/``"side"``/None), ``target_index``, ``target_colour``).
        objects: the objects as :class:`ObjectBox` (``attributes["colour"]``).
        object_labels: ``[H, W]`` int16, ``i + 1`` where object ``i`` is visible, 0 elsewhere.
        head_map: ``[H, W]`` float32 Gaussian head map of all heads (max 1), the auxiliary target.
    """

    image: np.ndarray
    annotations: list[GazeAnnotation]
    objects: list[ObjectBox]
    object_labels: np.ndarray
    head_map: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- drawing
def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _face_frame(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, right, up) unit vectors of a head looking along ``direction`` (image axes, y down)."""
    f = _unit(np.asarray(direction, float))
    world_up = np.array([0.0, -1.0, 0.0])
    r = np.cross(world_up, f)
    if np.linalg.norm(r) < 1e-6:  # looking straight up or down
        r = np.array([1.0, 0.0, 0.0])
    r = _unit(r)
    u = _unit(np.cross(f, r))
    if u[1] > 0:  # keep "up" pointing up in the image
        r, u = -r, -u
    return f, r, u


def render_face(
    image: np.ndarray,
    center: tuple[float, float],
    radius: float,
    direction: Sequence[float],
    skin: Sequence[int] = _SKIN[0],
    hair: Sequence[int] = _HAIR[0],
) -> tuple[float, float]:
    """Draw a head (shaded sphere with face and hair) in place; return the eye midpoint (x, y) px.

    The face is centred on the 3-D ``direction`` (x right, y down, z towards the camera): with z near 1
    the face is frontal, with z near 0 it is a profile and the hair covers the half turned away.
    """
    h, w = image.shape[:2]
    cx, cy = float(center[0]), float(center[1])
    r = float(radius)
    x0, x1 = max(int(math.floor(cx - r - 1)), 0), min(int(math.ceil(cx + r + 1)), w)
    y0, y1 = max(int(math.floor(cy - r - 1)), 0), min(int(math.ceil(cy + r + 1)), h)
    f, rt, up = _face_frame(np.asarray(direction, float))
    if x1 <= x0 or y1 <= y0:
        return cx, cy
    xs = (np.arange(x0, x1) + 0.5 - cx) / r
    ys = (np.arange(y0, y1) + 0.5 - cy) / r
    u, v = np.meshgrid(xs, ys)
    d = np.sqrt(u * u + v * v)
    alpha = np.clip((1.0 - d) * r + 0.5, 0.0, 1.0)[..., None]
    z = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None))
    p = np.stack([u, v, z], -1)
    p = p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-9)

    def near(dir_: np.ndarray, ang: float) -> np.ndarray:
        return p @ _unit(dir_) > math.cos(ang)

    pf, pu = p @ f, p @ up
    skin_c, hair_c = np.array(skin, float), np.array(hair, float)
    col = np.broadcast_to(skin_c, p.shape).copy()
    hair_mask = (pf < -0.05) | ((pu > 0.55) & (pf < 0.75))
    col[hair_mask] = hair_c
    eye_dirs = [f * 0.86 + s * 0.40 * rt + 0.18 * up for s in (-1.0, 1.0)]
    for e in eye_dirs:
        brow = _unit(e + 0.24 * up)
        band = near(brow, 0.24) & (np.abs(p @ up - brow @ up) < 0.06)
        col[band & ~hair_mask] = hair_c * 0.8
        col[near(e, 0.17)] = (245, 245, 245)
        col[near(e, 0.085)] = (25, 20, 20)
    nose = near(_unit(f - 0.08 * up), 0.11)
    col[nose] = skin_c * 0.78
    mouth_dir = _unit(f - 0.46 * up)
    mouth = near(mouth_dir, 0.28) & (np.abs(p @ up - mouth_dir @ up) < 0.05)
    col[mouth] = (150, 40, 45)
    light = _unit(np.array([-0.35, -0.45, 0.8]))
    shade = 0.6 + 0.4 * np.clip(p @ light, 0.0, 1.0)
    col = col * shade[..., None]
    patch = image[y0:y1, x0:x1].astype(float)
    image[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + col * alpha, 0, 255).astype(np.uint8)
    eyes = [(cx + r * e_[0], cy + r * e_[1]) for e_ in (_unit(e) for e in eye_dirs)]
    return (eyes[0][0] + eyes[1][0]) / 2.0, (eyes[0][1] + eyes[1][1]) / 2.0


def _shape_points(shape: str, cx: float, cy: float, s: float, rot: float) -> np.ndarray:
    """Polygon vertices (x, y) of a shape of size ``s`` centred at (cx, cy)."""
    if shape == "square":
        ang = np.array([45, 135, 225, 315]) * math.pi / 180 + rot
        rad = np.full(4, s / 2 * math.sqrt(2) * 0.92)
    elif shape == "diamond":
        ang = np.array([0, 90, 180, 270]) * math.pi / 180 + rot
        rad = np.array([s / 2, s / 2 * 0.7, s / 2, s / 2 * 0.7])
    elif shape == "triangle":
        ang = np.array([-90, 30, 150]) * math.pi / 180 + rot
        rad = np.full(3, s / 2)
    elif shape == "star":
        ang = (np.arange(10) * 36 - 90) * math.pi / 180 + rot
        rad = np.where(np.arange(10) % 2 == 0, s / 2, s / 4.5)
    elif shape == "cross":
        a, b = s / 2, s / 6
        pts = np.array(
            [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)]
        )
        c, sn = math.cos(rot), math.sin(rot)
        return np.stack([cx + pts[:, 0] * c - pts[:, 1] * sn, cy + pts[:, 0] * sn + pts[:, 1] * c], 1)
    else:  # pragma: no cover - guarded by the callers
        raise ConfigError(f"unknown shape {shape!r}")
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)


def _draw_object(image: np.ndarray, labels: np.ndarray, label: int, shape: str, box: tuple, colour, rot: float) -> None:

    x, y, s, _ = box
    cx, cy = x + s / 2, y + s / 2
    dark = tuple(int(c * 0.55) for c in colour)
    sh = 4  # fixed-point bits for sub-pixel drawing
    if shape == "circle":
        c = (int(round(cx * 2**sh)), int(round(cy * 2**sh)))
        rad = int(round(s / 2 * 2**sh))
        cv2.circle(image, c, rad, tuple(int(v) for v in colour), -1, cv2.LINE_AA, sh)
        cv2.circle(image, c, rad, dark, 1, cv2.LINE_AA, sh)
        cv2.circle(labels, c, rad, label, -1, cv2.LINE_8, sh)
        return
    pts = np.round(_shape_points(shape, cx, cy, s, rot) * 2**sh).astype(np.int32)[None]
    cv2.fillPoly(image, pts, tuple(int(v) for v in colour), cv2.LINE_AA, sh)
    cv2.polylines(image, pts, True, dark, 1, cv2.LINE_AA, sh)
    cv2.fillPoly(labels, pts, label, cv2.LINE_8, sh)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:

    wall = rng.uniform(90, 215, 3)
    floor = np.clip(wall * rng.uniform(0.55, 0.85) + rng.uniform(-25, 25, 3), 0, 255)
    horizon = int(h * rng.uniform(0.45, 0.8))
    img = np.empty((h, w, 3), np.float32)
    img[:horizon] = wall
    img[horizon:] = floor
    noise = cv2.resize(rng.normal(0, 14, (5, 5, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img += noise
    # float32 pixel noise: the background is the costliest part of a scene, and data loading feeds CPU training
    img += rng.standard_normal((h, w, 3), dtype=np.float32) * 3.0
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_body(image: np.ndarray, cx: float, cy: float, r: float, shirt, skin) -> None:

    sh = 4
    neck = np.array(
        [
            (cx - 0.3 * r, cy + 0.6 * r),
            (cx + 0.3 * r, cy + 0.6 * r),
            (cx + 0.3 * r, cy + 1.25 * r),
            (cx - 0.3 * r, cy + 1.25 * r),
        ]
    )
    torso = np.array(
        [
            (cx - 0.7 * r, cy + 1.1 * r),
            (cx + 0.7 * r, cy + 1.1 * r),
            (cx + 1.25 * r, cy + 1.5 * r),
            (cx + 1.15 * r, cy + 4.0 * r),
            (cx - 1.15 * r, cy + 4.0 * r),
            (cx - 1.25 * r, cy + 1.5 * r),
        ]
    )
    for poly, c in ((neck, skin), (torso, shirt)):
        cv2.fillPoly(image, np.round(poly * 2**sh).astype(np.int32)[None], tuple(int(v) for v in c), cv2.LINE_AA, sh)


def head_gaussian_map(head_boxes: Sequence[Sequence[float]], width: int, height: int) -> np.ndarray:
    """``[H, W]`` float32 sum of head Gaussians exp(-dx^2/(w^2/3) - dy^2/(h^2/3)), divided by its max.

    This is ViTGaze's auxiliary head-mask target (``scripts/gen_gazefollow_head_masks.py``).
    """
    xs = np.arange(width, dtype=float)
    ys = np.arange(height, dtype=float)
    out = np.zeros((height, width), np.float64)
    for b in head_boxes:
        x1, x2 = sorted((float(b[0]), float(b[2])))
        y1, y2 = sorted((float(b[1]), float(b[3])))
        sx2 = max((x2 - x1) ** 2, 1.0) / 3.0
        sy2 = max((y2 - y1) ** 2, 1.0) / 3.0
        gx = np.exp(-((xs - (x1 + x2) / 2) ** 2) / sx2)
        gy = np.exp(-((ys - (y1 + y2) / 2) ** 2) / sy2)
        out += gy[:, None] * gx[None, :]
    m = out.max()
    return (out / m if m > 0 else out).astype(np.float32)


# --------------------------------------------------------------------------------------------- layout
def _overlaps(
    box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]], pad: float
) -> bool:
    x1, y1, x2, y2 = box
    return any(not (x2 + pad <= b[0] or b[2] + pad <= x1 or y2 + pad <= b[1] or b[3] + pad <= y1) for b in boxes)


def _angle_between(a: np.ndarray, b: np.ndarray) -> float:
    return math.acos(float(np.clip(np.dot(_unit(a), _unit(b)), -1.0, 1.0)))


def _scene_rng(seed: int, split: str, index: int, stream: int = 0) -> np.random.Generator:
    if split not in _SPLITS:
        raise ConfigError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    return np.random.default_rng([int(seed), _SPLITS[split], int(index), stream])


def scene_people_count(config: GazeSceneConfig, seed: int, split: str, index: int) -> int:
    """Number of people in a scene, without rendering it."""
    return int(_scene_rng(seed, split, index, 1).integers(config.min_people, config.max_people + 1))


def render_gaze_scene(
    index: int, config: GazeSceneConfig | None = None, seed: int = 0, split: str = "train"
) -> GazeScene:
    """Render scene ``index`` of ``split`` (train/val/test draw from disjoint random streams)."""
    cfg = config or GazeSceneConfig()
    rng = _scene_rng(seed, split, index)
    W, H = cfg.width, cfg.height
    s = float(min(W, H))
    n_people = scene_people_count(cfg, seed, split, index)
    n_obj = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    image = _background(rng, H, W)
    labels = np.zeros((H, W), np.int16)

    # --- people: head sphere + body (body may leave the image at the bottom)
    placed: list[tuple[float, float, float, float]] = []
    people: list[tuple[float, float, float]] = []
    for _ in range(n_people):
        for _try in range(60):
            r = rng.uniform(*cfg.head_radius) * s
            cx = rng.uniform(r + 2, W - r - 2)
            cy = rng.uniform(r + 2, H - 2.5 * r)
            box = (cx - 1.3 * r, cy - r, cx + 1.3 * r, min(cy + 4.0 * r, H))
            if not _overlaps(box, placed, 0.15 * s * 0.3):
                placed.append(box)
                people.append((cx, cy, r))
                break
    # --- objects
    objects: list[ObjectBox] = []
    obj_meta: list[tuple[str, str, float]] = []
    for _ in range(n_obj):
        for _try in range(80):
            sz = rng.uniform(*cfg.object_size) * s
            x, y = rng.uniform(1, W - sz - 1), rng.uniform(1, H - sz - 1)
            box = (x, y, x + sz, y + sz)
            if not _overlaps(box, placed, 0.02 * s):
                placed.append(box)
                shape = GAZE_CATEGORIES[int(rng.integers(len(GAZE_CATEGORIES)))]
                colour = list(GAZE_COLOURS)[int(rng.integers(len(GAZE_COLOURS)))]
                objects.append(ObjectBox(x, y, sz, sz, category=shape, attributes={"colour": colour}))
                obj_meta.append((shape, colour, float(rng.uniform(-0.4, 0.4))))
                break
    for i, (o, (shape, colour, rot)) in enumerate(zip(objects, obj_meta, strict=True)):
        _draw_object(image, labels, i + 1, shape, (o.x, o.y, o.w, o.h), GAZE_COLOURS[colour], rot)
    visible = [int(np.count_nonzero(labels == i + 1)) for i in range(len(objects))]

    # --- gaze of each person
    annotations: list[GazeAnnotation] = []
    head_boxes = []
    for pi, (cx, cy, r) in enumerate(people):
        skin = _SKIN[int(rng.integers(len(_SKIN)))]
        hair = _HAIR[int(rng.integers(len(_HAIR)))]
        shirt = _SHIRT[int(rng.integers(len(_SHIRT)))]
        candidates = [i for i in range(len(objects)) if visible[i] > 0]
        out = (not candidates) or rng.random() < cfg.p_out
        out_mode = None
        target = None
        if out:
            out_mode = "camera" if rng.random() < cfg.p_out_camera else "side"
            if out_mode == "side":
                ok = False
                for _try in range(40):
                    ang = rng.uniform(0, 2 * math.pi)
                    d2 = np.array([math.cos(ang), math.sin(ang)])
                    clear = all(_angle_between(d2, np.array(o.center) - (cx, cy)) > math.radians(40) for o in objects)
                    if clear:
                        ok = True
                        break
                out_mode = "side" if ok else "camera"
            if out_mode == "camera":
                tilt = rng.uniform(0.88, 0.99)
                ang = rng.uniform(0, 2 * math.pi)
                d2 = np.array([math.cos(ang), math.sin(ang)])
            else:
                tilt = rng.uniform(cfg.min_tilt, cfg.max_tilt)
        else:
            target = int(candidates[int(rng.integers(len(candidates)))])
            o = objects[target]
            ys_, xs_ = np.nonzero(labels == target + 1)
            # a point on the object (its pixel centroid, jittered inside the object)
            k = int(rng.integers(len(xs_)))
            tx = 0.7 * (xs_.mean() + 0.5) + 0.3 * (xs_[k] + 0.5)
            ty = 0.7 * (ys_.mean() + 0.5) + 0.3 * (ys_[k] + 0.5)
            d2 = np.array([tx - cx, ty - cy])
            tilt = rng.uniform(cfg.min_tilt, cfg.max_tilt)
        d2 = _unit(d2)
        direction = np.array([d2[0] * math.sqrt(1 - tilt**2), d2[1] * math.sqrt(1 - tilt**2), tilt])
        _draw_body(image, cx, cy, r, shirt, skin)
        eye = render_face(image, (cx, cy), r, direction, skin, hair)
        head_box = (max(cx - r, 0.0), max(cy - r, 0.0), min(cx + r, W), min(cy + r, H))
        head_boxes.append(head_box)
        if target is None:
            pts = np.zeros((0, 2))
            mask = None
            cat = None
            colour = None
        else:
            o = objects[target]
            sd = cfg.annotator_noise * o.w
            pts = rng.normal((tx, ty), sd, (cfg.n_annotators, 2))
            m = 0.1 * o.w
            pts[:, 0] = np.clip(pts[:, 0], max(o.x - m, 0), min(o.x + o.w + m, W - 1e-3))
            pts[:, 1] = np.clip(pts[:, 1], max(o.y - m, 0), min(o.y + o.h + m, H - 1e-3))
            mask = labels == target + 1
            cat = o.category
            colour = o.attributes["colour"]
        annotations.append(
            GazeAnnotation(
                image=f"synthetic_gaze/{split}/{seed}/{index:06d}.png",
                width=W,
                height=H,
                head_box=head_box,
                gaze_points=pts,
                inout=0 if target is None else 1,
                eye=(float(eye[0]), float(eye[1])),
                target_mask=mask,
                target_category=cat,
                meta={
                    "scene": int(index),
                    "split": split,
                    "seed": int(seed),
                    "person": pi,
                    "direction": tuple(float(v) for v in direction),
                    "out_mode": out_mode,
                    "target_index": target,
                    "target_colour": colour,
                },
            )
        )
    # later people are drawn over earlier objects only where they overlap (they do not: layout is disjoint)
    for i in range(len(objects)):
        objects[i].attributes["visible_px"] = visible[i]
    return GazeScene(
        image=image,
        annotations=annotations,
        objects=objects,
        object_labels=labels,
        head_map=head_gaussian_map(head_boxes, W, H),
        meta={"seed": int(seed), "split": split, "index": int(index)},
    )


# --------------------------------------------------------------------------------------------- tensors
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def gaussian_heatmap(points_xy: np.ndarray, size: int = 64, sigma: float = 3.0) -> np.ndarray:
    """``[size, size]`` float32: sum of ``draw_labelmap`` Gaussians (peak 1, 6σ+1 window, int-truncated
    upper-left corner) at ``points_xy`` given in [0, 1] coordinates, as in ViTGaze/Chong et al."""
    out = np.zeros((size, size), np.float64)
    win = int(6 * sigma + 1)
    g1 = np.arange(win, dtype=float)
    g = np.exp(-((g1[None, :] - win // 2) ** 2 + (g1[:, None] - win // 2) ** 2) / (2 * sigma**2))
    for x, y in np.asarray(points_xy, float).reshape(-1, 2):
        px, py = x * size, y * size
        ul = (int(px - 3 * sigma), int(py - 3 * sigma))
        br = (ul[0] + win, ul[1] + win)
        if ul[0] >= size or ul[1] >= size or br[0] < 0 or br[1] < 0:
            continue
        gx = (max(0, -ul[0]), min(br[0], size) - ul[0])
        gy = (max(0, -ul[1]), min(br[1], size) - ul[1])
        ix = (max(0, ul[0]), min(br[0], size))
        iy = (max(0, ul[1]), min(br[1], size))
        out[iy[0] : iy[1], ix[0] : ix[1]] += g[gy[0] : gy[1], gx[0] : gx[1]]
    return out.astype(np.float32)


def gaze_sample_to_tensors(
    image: np.ndarray,
    annotation: GazeAnnotation,
    *,
    input_size: int,
    head_map: np.ndarray | None = None,
    output_size: int = 64,
    max_points: int = 20,
    flip: bool = False,
    train_target: Literal["mean", "first"] = "mean",
) -> dict[str, Any]:
    """One model sample (the batch layout shared by every gaze-following DataModule).

    Returns a dict of tensors:
        ``images`` ``[3, S, S]`` float (ImageNet-normalised, image stretched to S = ``input_size``),
        ``head_boxes`` ``[4]`` (x1, y1, x2, y2) in [0, 1] of the image (not enlarged: the model enlarges),
        ``heatmaps`` ``[out, out]`` Gaussian target (σ 3, peak 1) at the training point,
        ``inout`` ``[]`` float 1/0,
        ``head_masks`` ``[1, S, S]`` Gaussian head map of all heads (zeros when not given),
        ``gaze_points`` ``[max_points, 2]`` annotator points in [0, 1], padded with -1,
        ``imsize`` ``[2]`` (W, H) of the original image.
    ``flip`` mirrors the image and every coordinate horizontally (augmentation).
    """

    h, w = image.shape[:2]
    img = cv2.resize(
        image, (input_size, input_size), interpolation=cv2.INTER_AREA if w > input_size else cv2.INTER_LINEAR
    )
    x1, y1, x2, y2 = annotation.head_box
    box = np.array([x1 / w, y1 / h, x2 / w, y2 / h], np.float32)
    pts = np.asarray(annotation.gaze_points, float).reshape(-1, 2) / (w, h)
    hm_img = None
    if head_map is not None:
        hm_img = cv2.resize(head_map.astype(np.float32), (input_size, input_size), interpolation=cv2.INTER_LINEAR)
    if flip:
        img = img[:, ::-1]
        box = np.array([1 - box[2], box[1], 1 - box[0], box[3]], np.float32)
        pts = pts.copy()
        pts[:, 0] = 1 - pts[:, 0]
        if hm_img is not None:
            hm_img = hm_img[:, ::-1]
    inside = annotation.inout == 1 and len(pts) > 0
    if inside:
        tgt = pts.mean(0) if train_target == "mean" else pts[0]
        heat = gaussian_heatmap(tgt[None], output_size)
    else:
        heat = np.zeros((output_size, output_size), np.float32)
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    gp = np.full((max_points, 2), -1.0, np.float32)
    gp[: min(len(pts), max_points)] = pts[:max_points]
    return {
        "images": (t - mean) / std,
        "head_boxes": torch.from_numpy(box),
        "heatmaps": torch.from_numpy(heat),
        "inout": torch.tensor(1.0 if inside else 0.0),
        "head_masks": torch.zeros(1, input_size, input_size)
        if hm_img is None
        else torch.from_numpy(np.ascontiguousarray(hm_img))[None],
        "gaze_points": torch.from_numpy(gp),
        "imsize": torch.tensor([w, h], dtype=torch.float32),
    }


class SyntheticGazeDataset:
    """A map-style dataset over the people of ``n_scenes`` synthetic scenes (one item per person).

    Items are rendered on access (deterministic per index); ``scene(i)`` gives the full scene.
    """

    def __init__(
        self,
        n_scenes: int,
        config: GazeSceneConfig | None = None,
        seed: int = 0,
        split: str = "train",
        input_size: int | None = None,
        output_size: int = 64,
        flip_prob: float = 0.0,
    ) -> None:
        if n_scenes < 1:
            raise ConfigError(f"n_scenes must be >= 1, got {n_scenes}")
        self.config = config or GazeSceneConfig()
        self.seed, self.split, self.n_scenes = int(seed), split, int(n_scenes)
        self.input_size = input_size
        self.output_size = output_size
        self.flip_prob = flip_prob
        self.index = [
            (s, p) for s in range(self.n_scenes) for p in range(scene_people_count(self.config, seed, split, s))
        ]
        self._cache: tuple[int, GazeScene] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def scene(self, scene_index: int) -> GazeScene:
        if self._cache is not None and self._cache[0] == scene_index:
            return self._cache[1]
        sc = render_gaze_scene(scene_index, self.config, self.seed, self.split)
        self._cache = (scene_index, sc)
        return sc

    def record(self, i: int) -> tuple[np.ndarray, GazeAnnotation]:
        """(image, annotation) of item ``i`` (the annotation of one person)."""
        s, p = self.index[i]
        sc = self.scene(s)
        if p >= len(sc.annotations):  # a person that found no room in the layout: use the last one
            p = len(sc.annotations) - 1
        return sc.image, sc.annotations[p]

    def annotations(self) -> list[GazeAnnotation]:
        return [self.record(i)[1] for i in range(len(self))]

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self.input_size is None:
            raise ConfigError("SyntheticGazeDataset needs input_size to produce tensors; use record(i) for raw data")
        s, _ = self.index[i]
        image, ann = self.record(i)
        flip = False
        if self.flip_prob > 0:
            flip = bool(np.random.default_rng([self.seed, 7, s, i]).random() < self.flip_prob)
        return gaze_sample_to_tensors(
            image,
            ann,
            input_size=self.input_size,
            head_map=self.scene(s).head_map,
            output_size=self.output_size,
            max_points=max(20, self.config.n_annotators),
            flip=flip,
        )


# --------------------------------------------------------------------------------------------- DataModule
class SyntheticGazeDataModule(GazekitDataModule):
    """Synthetic gaze-following scenes as a LightningDataModule (batches: :func:`gaze_sample_to_tensors`).

    Args:
        n_train, n_val, n_test: number of scenes per split (each holds 1..max_people samples).
        image_size: rendered scene size (square) in px.
        input_size: model input size in px (the scene is resized to it).
        output_size: heatmap target size (64 as in GazeFollow).
        min_objects, max_objects, min_people, max_people, p_out, n_annotators, annotator_noise,
        head_radius: see :class:`GazeSceneConfig` (``head_radius`` = (min, max) fraction of the image side).
        flip_prob: probability of a horizontal flip of a training sample.
        batch_size, num_workers, seed: see :class:`~gazekit.datasets.base.GazekitDataModule`.
    """

    def __init__(
        self,
        n_train: int = 4000,
        n_val: int = 200,
        n_test: int = 400,
        image_size: int = 224,
        input_size: int = 224,
        output_size: int = 64,
        min_objects: int = 2,
        max_objects: int = 4,
        min_people: int = 1,
        max_people: int = 2,
        p_out: float = 0.2,
        n_annotators: int = 10,
        annotator_noise: float = 0.15,
        head_radius: tuple[float, float] = (0.06, 0.085),
        flip_prob: float = 0.5,
        batch_size: int = 32,
        num_workers: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.save_hyperparameters()
        self.n_train, self.n_val, self.n_test = n_train, n_val, n_test
        self.input_size, self.output_size, self.flip_prob = input_size, output_size, flip_prob
        self.scene_config = GazeSceneConfig(
            width=image_size,
            height=image_size,
            min_objects=min_objects,
            max_objects=max_objects,
            min_people=min_people,
            max_people=max_people,
            p_out=p_out,
            n_annotators=n_annotators,
            annotator_noise=annotator_noise,
            head_radius=(float(head_radius[0]), float(head_radius[1])),
        )
        self.datasets: dict[str, SyntheticGazeDataset] = {}

    def split_dataset(self, split: str) -> SyntheticGazeDataset:
        if split not in self.datasets:
            n = {"train": self.n_train, "val": self.n_val, "test": self.n_test}[split]
            self.datasets[split] = SyntheticGazeDataset(
                n,
                self.scene_config,
                self.seed,
                split,
                input_size=self.input_size,
                output_size=self.output_size,
                flip_prob=self.flip_prob if split == "train" else 0.0,
            )
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val") if stage in (None, "fit") else ("val",) if stage == "validate" else ("test",):
            self.split_dataset(split)
