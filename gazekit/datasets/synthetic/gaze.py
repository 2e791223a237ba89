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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
import torch

from gazekit.datasets.base import GazekitDataModule
from gazekit.errors import ConfigError
from gazekit.types import GazeAnnotation, ObjectBox

if TYPE_CHECKING:
    import torch

__all__ = [
    "GAZE_CATEGORIES",
    "GAZE_COLOURS",
    "GazeAugment",
    "GazeScene",
    "GazeSceneConfig",
    "clean_head_boxes",
    "gaze_input_tensor",
    "SyntheticGazeDataModule",
    "SyntheticGazeDataset",
    "gaze_sample_to_tensors",
    "head_box_batch",
    "head_gaussian_map",
    "render_face",
    "render_gaze_scene",
    "target_angular_gap",
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
#: hair colours far from every skin tone (the legacy palette's brown and blond sit next to the darker skins,
#: so the hair/face boundary, which carries the facing direction, vanished on some heads)
_HAIR_CONTRAST = ((30, 22, 18), (55, 35, 20), (60, 60, 70), (25, 30, 60))
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
        facing_cue: draw a nose that sticks out of the head's outline along the 2-D gaze direction, so the
            facing direction is in the silhouette and not only in small face features.
        contrast_hair: draw hair only in colours far from every skin tone.
        min_object_gap: degrees; objects are placed so that, seen from every head, any two objects are at
            least this far apart in direction (0 = no constraint). A head turned towards its target then
            points at no other object, so spreading heat over every object no longer lowers the loss.
        head_grid: px; when > 0, head centres are snapped to the centres of a grid of this cell size
            (the model's patch size in scene px), so a face never straddles patch borders differently
            from one scene to the next.

    The defaults of the last four make the facing direction learnable (see docs/models.md, GazeSeg);
    ``legacy()`` gives the earlier scenes (no cue, any hair colour, no gap, no snapping).
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
    facing_cue: bool = True
    contrast_hair: bool = True
    min_object_gap: float = 35.0
    head_grid: int = 0

    @classmethod
    def legacy(cls, **kw: Any) -> GazeSceneConfig:
        """The scenes before the facing-direction changes (the bundled ViTGaze's first recipe drew these)."""
        base = {"facing_cue": False, "contrast_hair": False, "min_object_gap": 0.0, "head_grid": 0}
        return cls(**{**base, **kw})

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
        if not 0.0 <= self.min_object_gap < 120.0:
            raise ConfigError(f"min_object_gap must be in [0, 120) degrees, got {self.min_object_gap}")
        if self.head_grid < 0:
            raise ConfigError(f"head_grid must be >= 0 px, got {self.head_grid}")


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
    facing_cue: bool = False,
) -> tuple[float, float]:
    """Draw a head (shaded sphere with face and hair) in place; return the eye midpoint (x, y) px.

    The face is centred on the 3-D ``direction`` (x right, y down, z towards the camera): with z near 1
    the face is frontal, with z near 0 it is a profile and the hair covers the half turned away.
    ``facing_cue`` adds a nose that sticks out of the outline by up to 0.5 radius along the 2-D direction
    (in proportion to how far the head is turned from the camera).
    """
    h, w = image.shape[:2]
    cx, cy = float(center[0]), float(center[1])
    r = float(radius)
    if facing_cue:
        _draw_nose(image, cx, cy, r, np.asarray(direction, float), skin)
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


def _draw_nose(image: np.ndarray, cx: float, cy: float, r: float, direction: np.ndarray, skin: Sequence[int]) -> None:
    """A skin-coloured wedge from inside the head to ``r·(1 + 0.5·s)`` along the 2-D direction (``s`` = its
    length); drawn before the sphere, so only the part outside the outline stays visible."""
    import cv2

    f = _unit(direction)
    s2 = float(math.hypot(f[0], f[1]))
    if s2 < 0.3:  # facing the camera: the nose points at the viewer and leaves the outline unchanged
        return
    d = np.array([f[0], f[1]]) / s2
    n = np.array([-d[1], d[0]])
    c = np.array([cx, cy])
    poly = np.stack([c + d * r * 0.55 + n * r * 0.3, c + d * r * (1.0 + 0.5 * s2), c + d * r * 0.55 - n * r * 0.3])
    colour = tuple(int(v * 0.85) for v in skin)
    cv2.fillPoly(image, np.round(poly * 16).astype(np.int32)[None], colour, cv2.LINE_AA, 4)


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


def _apart(
    box: tuple[float, float, float, float],
    objects: Sequence[ObjectBox],
    people: Sequence[tuple[float, float, float]],
    min_gap_deg: float,
) -> bool:
    """Whether, seen from every head, the new object's centre is ``min_gap_deg`` or more away in direction
    from every placed object's centre."""
    if min_gap_deg <= 0 or not objects:
        return True
    c = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    gap = math.radians(min_gap_deg)
    return all(
        _angle_between(c - (px, py), np.array(o.center) - (px, py)) >= gap for px, py, _ in people for o in objects
    )


def target_angular_gap(annotation: GazeAnnotation, objects: Sequence[ObjectBox]) -> float:
    """Degrees between the direction from the head centre to the gaze target (mean annotator point) and to
    the nearest other object's centre; ``inf`` with no other object, NaN when the person looks out of frame."""
    t = annotation.meta.get("target_index")
    if annotation.inout != 1 or t is None or len(annotation.gaze_points) == 0:
        return float("nan")
    x1, y1, x2, y2 = annotation.head_box
    h = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    to_target = np.asarray(annotation.gaze_points, float).mean(0) - h
    gaps = [_angle_between(to_target, np.array(o.center) - h) for i, o in enumerate(objects) if i != t]
    return math.degrees(min(gaps)) if gaps else float("inf")


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
            if cfg.head_grid > 0:  # centre of the grid cell (the model's patch) the head falls in
                g = float(cfg.head_grid)
                cx, cy = (math.floor(cx / g) + 0.5) * g, (math.floor(cy / g) + 0.5) * g
                if not (r + 1 <= cx <= W - r - 1 and r + 1 <= cy <= H - 2.0 * r):
                    continue
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
            if not _overlaps(box, placed, 0.02 * s) and _apart(box, objects, people, cfg.min_object_gap):
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
        palette = _HAIR_CONTRAST if cfg.contrast_hair else _HAIR
        hair = palette[int(rng.integers(len(palette)))]
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
        eye = render_face(image, (cx, cy), r, direction, skin, hair, facing_cue=cfg.facing_cue)
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


def gaze_input_tensor(image: np.ndarray, input_size: int) -> torch.Tensor:
    """A user's image ``[H, W]`` / ``[H, W, 3|4]`` (uint8, or float in [0, 1] or [0, 255]) → ``[3, S, S]`` float,
    stretched to ``S = input_size`` and ImageNet-normalised as in training (:func:`gaze_sample_to_tensors`)."""
    import cv2
    import torch

    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.shape[0] == 0 or img.shape[1] == 0:
        raise ConfigError(f"image must be [H, W, 3] RGB, got shape {img.shape}")
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    w = img.shape[1]
    x = cv2.resize(img, (input_size, input_size), interpolation=cv2.INTER_AREA if w > input_size else cv2.INTER_LINEAR)
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1).float().div_(255.0)
    return (t - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


def clean_head_boxes(
    image_shape: Sequence[int], head_boxes: Sequence[Sequence[float]]
) -> list[tuple[float, float, float, float]]:
    """Head boxes (x1, y1, x2, y2 px) sorted and clipped to the image; :class:`ConfigError` for a box that is not
    4 finite numbers or is empty inside the image."""
    h, w = int(image_shape[0]), int(image_shape[1])
    out = []
    for b in head_boxes:
        bb = np.asarray(b, float).reshape(-1)
        if bb.shape != (4,) or not np.all(np.isfinite(bb)):
            raise ConfigError(f"head box must be 4 finite numbers (x1, y1, x2, y2 px), got {b}")
        x1, x2 = sorted(np.clip(bb[[0, 2]], 0, w))
        y1, y2 = sorted(np.clip(bb[[1, 3]], 0, h))
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            raise ConfigError(f"head box {tuple(bb)} is empty inside the {w}x{h} image")
        out.append((float(x1), float(y1), float(x2), float(y2)))
    return out


@dataclass(frozen=True)
class GazeAugment:
    """ViTGaze's training augmentations (``hustvl/ViTGaze data/augmentation.py``), each applied with its
    probability, in the release's order: colour jitter, box jitter, crop, (flip: ``flip_prob`` of
    :func:`gaze_sample_to_tensors`, applied last here), rotation, large-scale jitter. The release's GazeFollow
    recipe uses 0.5 for every one; all are 0 (off) by default.

    Attributes:
        color_jitter: brightness ±0.4, contrast ±0.4, saturation ±0.2, hue ±0.1 (fixed order, not
            torchvision's random order).
        bbox_jitter: grow the head box by k·size per side, k ~ U[0, 0.2) (the release grows x_max/y_max from the
            already grown x_min/y_min; kept).
        crop: a random crop that keeps the head box and the gaze target (the mean annotator point; annotator
            points that fall outside are dropped).
        rotate: rotation by U(−20°, 20°) about the centre on an enlarged canvas (nothing is cut off).
        lsj: large-scale jitter: shrink by U[0.1, 1) and pad the bottom/right with black to the original size.
    """

    color_jitter: float = 0.0
    bbox_jitter: float = 0.0
    crop: float = 0.0
    rotate: float = 0.0
    lsj: float = 0.0

    def __post_init__(self) -> None:
        for k in ("color_jitter", "bbox_jitter", "crop", "rotate", "lsj"):
            if not 0.0 <= getattr(self, k) <= 1.0:
                raise ConfigError(f"augmentation probability {k} must be in [0, 1], got {getattr(self, k)}")

    @property
    def active(self) -> bool:
        return any((self.color_jitter, self.bbox_jitter, self.crop, self.rotate, self.lsj))

    def __call__(
        self,
        image: np.ndarray,
        ann: GazeAnnotation,
        head_map: np.ndarray | None,
        rng: np.random.Generator,
        keep: np.ndarray | None = None,
    ) -> tuple[np.ndarray, GazeAnnotation, np.ndarray | None]:
        """Augmented copies of ``image [H, W, 3]``, the annotation (head box, points, mask, size) and head map.

        ``keep`` ``[K, 2]`` px: points a crop must keep (default: the head box corners and the mean annotator
        point). The number of draws from ``rng`` does not depend on the sample, so frames of a clip given
        equally seeded generators and the same ``keep`` get the same augmentation, as the release's clips do."""
        import cv2

        img = image
        box = np.asarray(ann.head_box, float)
        pts = np.asarray(ann.gaze_points, float).reshape(-1, 2)
        mask = None if ann.target_mask is None else np.asarray(ann.target_mask, np.uint8)
        hm = head_map
        h, w = img.shape[:2]
        if rng.random() < self.color_jitter:
            img = _color_jitter(img, rng)
        if rng.random() < self.bbox_jitter:
            k = rng.random() * 0.2
            box[0] = np.clip(box[0] - k * abs(box[2] - box[0]), 0, w - 1)
            box[1] = np.clip(box[1] - k * abs(box[3] - box[1]), 0, h - 1)
            box[2] = np.clip(box[2] + k * abs(box[2] - box[0]), 0, w - 1)
            box[3] = np.clip(box[3] + k * abs(box[3] - box[1]), 0, h - 1)
        if rng.random() < self.crop:
            if keep is None:
                keep = np.vstack([box.reshape(2, 2), pts.mean(0, keepdims=True)]) if len(pts) else box.reshape(2, 2)
            keep = np.asarray(keep, float).reshape(-1, 2)
            x0, y0 = rng.uniform(0, keep[:, 0].min()), rng.uniform(0, keep[:, 1].min())
            cw = rng.uniform(keep[:, 0].max() - x0, w - x0)
            ch = rng.uniform(keep[:, 1].max() - y0, h - y0)
            x0, y0, cw, ch = (int(round(v)) for v in (x0, y0, cw, ch))
            cw, ch = max(cw, 1), max(ch, 1)
            img, hm = img[y0 : y0 + ch, x0 : x0 + cw], None if hm is None else hm[y0 : y0 + ch, x0 : x0 + cw]
            mask = None if mask is None else mask[y0 : y0 + ch, x0 : x0 + cw]
            box = box - (x0, y0, x0, y0)
            pts = pts - (x0, y0)
            h, w = img.shape[:2]
            pts = pts[(pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] < w) & (pts[:, 1] < h)]
            box = np.clip(box, 0, [w, h, w, h])
        if rng.random() < self.rotate:
            ang = (2 * rng.random() - 1) * 20.0
            m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
            corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
            rc = corners @ m[:, :2].T + m[:, 2]
            nw = int(math.ceil(rc[:, 0].max()) - math.floor(rc[:, 0].min()))
            nh = int(math.ceil(rc[:, 1].max()) - math.floor(rc[:, 1].min()))
            m[:, 2] += ((nw - w) / 2, (nh - h) / 2)
            img = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR)
            hm = None if hm is None else cv2.warpAffine(hm, m, (nw, nh), flags=cv2.INTER_LINEAR)
            mask = None if mask is None else cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_NEAREST)
            bc = np.array([[box[0], box[1]], [box[0], box[3]], [box[2], box[1]], [box[2], box[3]]]) @ m[:, :2].T
            bc += m[:, 2]
            box = np.array(
                [max(bc[:, 0].min(), 0), max(bc[:, 1].min(), 0), min(bc[:, 0].max(), nw), min(bc[:, 1].max(), nh)]
            )
            pts = np.clip(pts @ m[:, :2].T + m[:, 2], 0, [nw - 1e-3, nh - 1e-3]) if len(pts) else pts
            h, w = nh, nw
        if rng.random() < self.lsj:
            sc = 0.1 + rng.random() * 0.9
            nh, nw = max(int(h * sc), 1), max(int(w * sc), 1)

            def shrink(a: np.ndarray, interp: int) -> np.ndarray:
                out = np.zeros((h, w, *a.shape[2:]), a.dtype)
                out[:nh, :nw] = cv2.resize(a, (nw, nh), interpolation=interp).reshape(nh, nw, *a.shape[2:])
                return out

            img = shrink(img, cv2.INTER_LINEAR)
            hm = None if hm is None else shrink(hm, cv2.INTER_LINEAR)
            mask = None if mask is None else shrink(mask, cv2.INTER_NEAREST)
            box, pts = box * sc, pts * sc
        inout = ann.inout if ann.inout != 1 or len(pts) else 0
        new = replace(
            ann,
            width=int(w),
            height=int(h),
            head_box=tuple(float(v) for v in box),
            gaze_points=pts,
            inout=inout,
            target_mask=None if mask is None else mask.astype(bool),
        )
        return np.ascontiguousarray(img), new, hm


def _color_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    x = image.astype(np.float32)
    x = x * rng.uniform(0.6, 1.4)  # brightness
    gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - gray.mean()) * rng.uniform(0.6, 1.4) + gray.mean()  # contrast
    gray = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    x = (x - gray) * rng.uniform(0.8, 1.2) + gray  # saturation
    hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(round(rng.uniform(-0.1, 0.1) * 180))) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def head_box_batch(
    image: np.ndarray, head_boxes: Sequence[Sequence[float]], input_size: int, device: Any = "cpu"
) -> tuple[list[tuple[float, float, float, float]], torch.Tensor, torch.Tensor]:
    """What a gaze model runs on for one image and several people: the cleaned px boxes
    (:func:`clean_head_boxes`), the image tensor repeated per box ``[B, 3, S, S]`` and the boxes normalised to
    [0, 1] ``[B, 4]``. With no boxes the tensors are empty."""
    import torch

    h, w = np.asarray(image).shape[:2]
    boxes = clean_head_boxes((h, w), head_boxes)
    x = gaze_input_tensor(image, input_size).to(device)[None].expand(len(boxes), -1, -1, -1)
    hb = torch.tensor([[b[0] / w, b[1] / h, b[2] / w, b[3] / h] for b in boxes], dtype=torch.float32)
    return boxes, x, hb.reshape(-1, 4).to(device)


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
    categories: Sequence[str] = GAZE_CATEGORIES,
) -> dict[str, Any]:
    """One model sample (the batch layout shared by every gaze-following DataModule).

    Returns a dict of tensors:
        ``images`` ``[3, S, S]`` float (ImageNet-normalised, image stretched to S = ``input_size``),
        ``head_boxes`` ``[4]`` (x1, y1, x2, y2) in [0, 1] of the image (not enlarged: the model enlarges),
        ``heatmaps`` ``[out, out]`` Gaussian target (σ 3, peak 1) at the training point,
        ``inout`` ``[]`` float 1/0,
        ``head_masks`` ``[1, S, S]`` Gaussian head map of all heads (zeros when not given),
        ``gaze_points`` ``[max_points, 2]`` annotator points in [0, 1], padded with -1,
        ``imsize`` ``[2]`` (W, H) of the original image,
        ``target_masks`` ``[out, out]`` share of each cell covered by the looked-at object (zeros without a mask),
        ``has_mask`` ``[]`` float 1 when the annotation carries a target mask (GazeFollow/VAT: 0, so mask and
        class losses are switched off for them),
        ``category`` ``[]`` long index of the target category in ``categories`` (−1 when unknown/absent).
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
    tmask = np.zeros((output_size, output_size), np.float32)
    has_mask = inside and annotation.target_mask is not None
    if has_mask:
        tmask = cv2.resize(
            np.asarray(annotation.target_mask, np.float32), (output_size, output_size), interpolation=cv2.INTER_AREA
        )
        if flip:
            tmask = np.ascontiguousarray(tmask[:, ::-1])
    cat = annotation.target_category
    cat_idx = list(categories).index(cat) if inside and cat is not None and cat in categories else -1
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
        "target_masks": torch.from_numpy(tmask),
        "has_mask": torch.tensor(1.0 if has_mask else 0.0),
        "category": torch.tensor(cat_idx, dtype=torch.long),
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
        augment: GazeAugment | None = None,
    ) -> None:
        if n_scenes < 1:
            raise ConfigError(f"n_scenes must be >= 1, got {n_scenes}")
        self.config = config or GazeSceneConfig()
        self.seed, self.split, self.n_scenes = int(seed), split, int(n_scenes)
        self.input_size = input_size
        self.output_size = output_size
        self.flip_prob = flip_prob
        self.augment = augment
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
        rng = np.random.default_rng([self.seed, 7, s, i])
        if self.flip_prob > 0:
            flip = bool(rng.random() < self.flip_prob)
        head_map = self.scene(s).head_map
        if self.augment is not None and self.augment.active:
            image, ann, head_map = self.augment(image, ann, head_map, rng)
        return gaze_sample_to_tensors(
            image,
            ann,
            input_size=self.input_size,
            head_map=head_map,
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
        head_radius, min_tilt, max_tilt, facing_cue, contrast_hair, min_object_gap, head_grid: see
        :class:`GazeSceneConfig` (``head_radius`` = (min, max) fraction of the image side; ``head_grid`` in
        scene px, e.g. 28 = a 14-px patch at half the scene size).
        flip_prob: probability of a horizontal flip of a training sample.
        color_jitter, bbox_jitter, crop_prob, rotate_prob, lsj_prob: the release's other augmentations
            (:class:`GazeAugment`; 0 = off, the release's GazeFollow recipe uses 0.5 each).
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
        min_tilt: float = 0.15,
        max_tilt: float = 0.6,
        facing_cue: bool = True,
        contrast_hair: bool = True,
        min_object_gap: float = 35.0,
        head_grid: int = 0,
        flip_prob: float = 0.5,
        color_jitter: float = 0.0,
        bbox_jitter: float = 0.0,
        crop_prob: float = 0.0,
        rotate_prob: float = 0.0,
        lsj_prob: float = 0.0,
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
            min_tilt=min_tilt,
            max_tilt=max_tilt,
            facing_cue=facing_cue,
            contrast_hair=contrast_hair,
            min_object_gap=min_object_gap,
            head_grid=head_grid,
        )
        self.augment = GazeAugment(color_jitter, bbox_jitter, crop_prob, rotate_prob, lsj_prob)
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
                augment=self.augment if split == "train" else None,
            )
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val") if stage in (None, "fit") else ("val",) if stage == "validate" else ("test",):
            self.split_dataset(split)
