"""Drawing functions: pure functions of (image, predictions) -> new image, used by the demo, the CLI and the app.

Every function takes an ``[H, W, 3]`` uint8 RGB image (a 2-D grey image is accepted and turned into RGB),
returns a new ``[H', W', 3]`` uint8 RGB image and never modifies its input. Colours are RGB tuples.

Scanpath coordinates are pixels of the stimulus the scanpath was recorded on. When the scanpath knows its
frame (``width``/``height``) and that differs from the image's size, fixations are mapped onto the image
with :meth:`gazekit.types.FrameTransform.resize` (so a 1680x1050 display scanpath lands correctly on a
512x320 thumbnail).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gazekit.errors import DataFormatError
from gazekit.types import Frame, FrameTransform, GazeMap, Scanpath, Stimulus

__all__ = [
    "PALETTE",
    "draw_box",
    "draw_caption",
    "draw_gaze",
    "draw_mask",
    "draw_objects",
    "draw_people",
    "person_color",
    "draw_scanpath",
    "draw_scanpaths",
    "draw_target",
    "overlay_heatmap",
    "person_color",
    "side_by_side",
]

#: Distinct RGB colours (Tableau 10 order, red first), cycled by :func:`draw_scanpaths`.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (228, 26, 28),
    (31, 119, 180),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (23, 190, 207),
    (227, 119, 194),
    (140, 86, 75),
    (188, 189, 34),
    (127, 127, 127),
)

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_REF_DURATION_MS = 250.0


def _rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous RGB uint8 copy of ``image`` (never the input itself)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise DataFormatError(f"image must be uint8 RGB, got dtype {img.dtype}")
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.shape[0] == 0 or img.shape[1] == 0:
        raise DataFormatError(f"image must be [H, W, 3] uint8 RGB, got shape {img.shape}")
    return np.ascontiguousarray(img[:, :, :3]).copy()


def _color(c: Sequence[int]) -> tuple[int, int, int]:
    t = tuple(int(v) for v in c)
    if len(t) != 3:
        raise ValueError(f"colour must be an (r, g, b) triple, got {c}")
    return t  # type: ignore[return-value]


def _scale(img: np.ndarray) -> float:
    """Drawing scale: 1.0 for a 640 px short side."""
    return max(min(img.shape[:2]) / 640.0, 0.35)


def _contrast(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 150 else (255, 255, 255)


def _text(
    img: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    color: tuple[int, int, int],
    *,
    center: bool = False,
    background: tuple[int, int, int] | None = None,
) -> None:
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    x, y = org
    if center:
        x, y = x - tw // 2, y + th // 2
    if background is not None:
        cv2.rectangle(img, (x - 2, y - th - 3), (x + tw + 2, y + base), background, -1)
    cv2.putText(img, text, (x, y), _FONT, scale, color, thick, cv2.LINE_AA)


def _to_image_frame(sp: Scanpath, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    if sp.width is not None and sp.height is not None and (abs(sp.width - w) > 1e-6 or abs(sp.height - h) > 1e-6):
        return FrameTransform.resize(Frame(sp.width, sp.height), Frame(w, h)).points(sp.x, sp.y)
    return np.asarray(sp.x, float), np.asarray(sp.y, float)


def draw_scanpath(
    image: np.ndarray,
    scanpath: Scanpath,
    *,
    color: Sequence[int] = (255, 64, 64),
    numbered: bool = True,
    radius_by_duration: bool = True,
    alpha: float = 0.8,
    upto: int | None = None,
) -> np.ndarray:
    """Draw one scanpath: saccade lines, fixation discs (area proportional to duration), numbers, first marked.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        scanpath: fixations in px of its stimulus (mapped onto ``image`` when the frames differ).
        color: RGB colour of discs and lines.
        numbered: write the 1-based fixation index in each disc.
        radius_by_duration: disc radius grows with sqrt(duration / 250 ms) (clipped to 0.5-2.5x); NaN
            durations get the base radius.
        alpha: opacity of the drawing over the image.
        upto: draw only the first ``upto`` fixations (e.g. to animate).

    Returns:
        A new ``[H, W, 3]`` uint8 RGB image. The first fixation gets a white ring.
    """
    img = _rgb(image)
    col = _color(color)
    n = len(scanpath) if upto is None else max(0, min(int(upto), len(scanpath)))
    if n == 0:
        return img
    x, y = _to_image_frame(scanpath, img)
    x, y = x[:n], y[:n]
    s = _scale(img)
    base_r = 11.0 * s
    if radius_by_duration:
        d = np.asarray(scanpath.duration[:n], float)
        f = np.where(np.isfinite(d), np.sqrt(np.clip(d, 0, None) / _REF_DURATION_MS), 1.0)
        radii = base_r * np.clip(f, 0.5, 2.5)
    else:
        radii = np.full(n, base_r)
    # fixed-point (shift 4) coordinates keep sub-pixel positions in OpenCV's anti-aliased drawing
    sh = 4
    pts = [(round(float(a) * 16), round(float(b) * 16)) for a, b in zip(x, y, strict=True)]
    layer = img.copy()
    lw = max(1, round(2 * s))
    for p, q in zip(pts[:-1], pts[1:], strict=True):
        cv2.line(layer, p, q, col, lw, cv2.LINE_AA, sh)
    outline = _contrast(col)
    for i in range(n):
        r = max(2, round(float(radii[i]) * 16))
        cv2.circle(layer, pts[i], r, col, -1, cv2.LINE_AA, sh)
        cv2.circle(layer, pts[i], r, outline, max(1, round(s)), cv2.LINE_AA, sh)
    if n:
        ring = round((float(radii[0]) + 3 * s) * 16)
        cv2.circle(layer, pts[0], ring, (255, 255, 255), max(2, round(2 * s)), cv2.LINE_AA, sh)
        cv2.circle(layer, pts[0], ring + round(2 * s * 16), (0, 0, 0), max(1, round(s)), cv2.LINE_AA, sh)
    a = float(np.clip(alpha, 0.0, 1.0))
    out = cv2.addWeighted(layer, a, img, 1.0 - a, 0.0)
    if numbered:
        fs = 0.45 * s
        for i in range(n):
            _text(out, str(i + 1), (round(float(x[i])), round(float(y[i]))), fs, outline, center=True)
    return out


def draw_scanpaths(
    image: np.ndarray,
    scanpaths: Sequence[Scanpath],
    colors: Sequence[Sequence[int]] | None = None,
    **kw,
) -> np.ndarray:
    """Draw several scanpaths on one image, each in its own colour (``PALETTE`` cycled by default)."""
    out = _rgb(image)
    for i, sp in enumerate(scanpaths):
        c = colors[i % len(colors)] if colors else PALETTE[i % len(PALETTE)]
        out = draw_scanpath(out, sp, color=c, **kw)
    return out


def draw_box(
    image: np.ndarray,
    box_xywh: Sequence[float],
    color: Sequence[int] = (0, 200, 0),
    label: str | None = None,
    thickness: int | None = None,
) -> np.ndarray:
    """Draw an ``(x, y, w, h)`` box (px of ``image``) with an optional label above it."""
    img = _rgb(image)
    col = _color(color)
    x, y, w, h = (float(v) for v in box_xywh)
    s = _scale(img)
    t = thickness or max(2, round(2 * s))
    cv2.rectangle(img, (round(x), round(y)), (round(x + w), round(y + h)), col, t, cv2.LINE_AA)
    if label:
        fs = 0.5 * s
        (tw, th), _ = cv2.getTextSize(label, _FONT, fs, max(1, round(fs * 2)))
        ty = round(y) - t - 2 if y - th - t - 4 >= 0 else round(y + h) + th + t + 2
        # keep the label inside the image: shift it left when the box sits at the right edge
        tx = int(np.clip(round(x), 2, max(2, img.shape[1] - tw - 3)))
        _text(img, label, (tx, ty), fs, _contrast(col), background=col)
    return img


def draw_target(
    image: np.ndarray, stimulus: Stimulus, *, color: Sequence[int] = (0, 200, 0), inset: bool = True
) -> np.ndarray:
    """Mark a search stimulus's target: its box (when present) and the target image as an inset.

    The box comes from ``stimulus.target.box`` in stimulus px (mapped onto ``image`` when sizes differ).
    The inset (top-left, about 1/6 of the shorter side, framed in ``color``) shows ``stimulus.target.image``;
    target-absent trials show the inset with the word "absent".
    """
    img = _rgb(image)
    tgt = stimulus.target
    if tgt is None:
        return img
    h, w = img.shape[:2]
    tf = FrameTransform.resize(stimulus.frame, Frame(w, h))
    label = f"target: {tgt.category}" if tgt.category else "target"
    if tgt.box is not None:
        img = draw_box(img, tf.box_xywh(tgt.box), color, label)
    if inset and tgt.image is not None and np.asarray(tgt.image).size:
        timg = _rgb(np.asarray(tgt.image))
        side = max(16, min(h, w) // 6)
        k = side / max(timg.shape[:2])
        th_, tw_ = max(1, round(timg.shape[0] * k)), max(1, round(timg.shape[1] * k))
        timg = cv2.resize(timg, (tw_, th_), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_NEAREST)
        pad = max(2, round(3 * _scale(img)))
        th_, tw_ = min(th_, h - 2 * pad), min(tw_, w - 2 * pad)
        if th_ > 0 and tw_ > 0:
            cv2.rectangle(img, (0, 0), (tw_ + 2 * pad - 1, th_ + 2 * pad - 1), _color(color), -1)
            img[pad : pad + th_, pad : pad + tw_] = timg[:th_, :tw_]
            if tgt.box is None:
                _text(
                    img,
                    "absent",
                    (pad, th_ + 2 * pad + round(14 * _scale(img))),
                    0.5 * _scale(img),
                    (255, 255, 255),
                    background=(0, 0, 0),
                )
    return img


def overlay_heatmap(
    image: np.ndarray,
    heatmap: np.ndarray,
    alpha: float = 0.5,
    colormap: int = cv2.COLORMAP_JET,
    *,
    normalize: bool = True,
) -> np.ndarray:
    """Blend a ``[h, w]`` float map over the image (bilinearly resized to it; min-max normalised by default)."""
    img = _rgb(image)
    hm = np.asarray(heatmap, dtype=np.float32)
    if hm.ndim != 2 or hm.size == 0:
        raise DataFormatError(f"heatmap must be a non-empty [h, w] array, got shape {hm.shape}")
    hm = np.nan_to_num(hm, nan=0.0, posinf=0.0, neginf=0.0)
    if normalize:
        lo, hi = float(hm.min()), float(hm.max())
        hm = (hm - lo) / (hi - lo) if hi > lo else np.zeros_like(hm)
    hm = np.clip(hm, 0.0, 1.0)
    hm = cv2.resize(hm, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    colored = cv2.cvtColor(cv2.applyColorMap((hm * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)
    a = float(np.clip(alpha, 0.0, 1.0))
    return cv2.addWeighted(colored, a, img, 1.0 - a, 0.0)


def draw_mask(
    image: np.ndarray, mask: np.ndarray, color: Sequence[int], label: str | None = None, *, alpha: float = 0.5
) -> np.ndarray:
    """A predicted target mask (``[h, w]`` bool, resized to the image when it differs) filled in ``color`` at
    ``alpha``, outlined, with ``label`` (the class) in a box of the same colour above its topmost pixel."""
    img = _rgb(image)
    col = _color(color)
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise DataFormatError(f"mask must be [h, w], got shape {m.shape}")
    if m.shape != img.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    if not m.any():
        return img
    a = float(np.clip(alpha, 0.0, 1.0))
    img[m] = ((1 - a) * img[m] + a * np.array(col)).astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(img, contours, -1, col, max(1, round(2 * _scale(img))), cv2.LINE_AA)
    if label:
        ys, xs = np.nonzero(m)
        top = int(ys.min())
        x = int(xs[ys == top].mean())
        s = 0.5 * _scale(img)
        _text(img, label, (max(x - 10, 2), max(top - 4, 14)), s, _contrast(col), background=col)
    return img


def draw_gaze(
    image: np.ndarray,
    gaze_map: GazeMap,
    color: Sequence[int] = (255, 215, 0),
    *,
    heatmap: bool = True,
    alpha: float = 0.45,
    label: str | None = None,
) -> np.ndarray:
    """Draw a gaze-following prediction: heatmap (optional), target mask with its class (GazeSeg;
    :func:`draw_mask`), head box, a line head -> point, the point.

    The in-frame probability is written next to the head box (with ``label`` when given).
    """
    img = _rgb(image)
    col = _color(color)
    if heatmap and gaze_map.heatmap is not None and np.asarray(gaze_map.heatmap).size:
        img = overlay_heatmap(img, gaze_map.heatmap, alpha=alpha)
    if gaze_map.mask is not None:
        img = draw_mask(img, gaze_map.mask, col, gaze_map.category)
    x1, y1, x2, y2 = (float(v) for v in gaze_map.head_box)
    text = f"{label + ' ' if label else ''}in {gaze_map.inout:.2f}"
    img = draw_box(img, (x1, y1, x2 - x1, y2 - y1), col, text)
    s = _scale(img)
    hc = (round((x1 + x2) / 2), round((y1 + y2) / 2))
    p = (round(float(gaze_map.point[0])), round(float(gaze_map.point[1])))
    cv2.line(img, hc, p, col, max(2, round(2 * s)), cv2.LINE_AA)
    cv2.circle(img, p, max(4, round(7 * s)), col, -1, cv2.LINE_AA)
    cv2.circle(img, p, max(4, round(7 * s)), (0, 0, 0), max(1, round(s)), cv2.LINE_AA)
    return img


def person_color(k: int) -> tuple[int, int, int]:
    """The colour of person ``k`` (0-based, labelled ``#k``), the same in every overlay and table."""
    return PALETTE[int(k) % len(PALETTE)]


def draw_people(image: np.ndarray, gaze_maps: Sequence[GazeMap], selected: int | None = None) -> np.ndarray:
    """Every person's gaze in their own colour (:func:`person_color`) and label ``#k``, with the heatmap of the
    ``selected`` person only (one person: theirs), so stacked full-image heatmaps never darken the photo."""
    if selected is not None and not 0 <= selected < len(gaze_maps):
        raise DataFormatError(f"selected person {selected} is not among the {len(gaze_maps)} people")
    if selected is None and len(gaze_maps) == 1:
        selected = 0
    img = _rgb(image)
    if selected is not None and gaze_maps[selected].heatmap is not None:  # under every mark, tinting none
        img = overlay_heatmap(img, gaze_maps[selected].heatmap, alpha=0.45)
    for k, gm in enumerate(gaze_maps):
        img = draw_gaze(img, gm, person_color(k), heatmap=False, label=f"#{k}")
    return img


def side_by_side(
    images: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    gap: int = 8,
    background: Sequence[int] = (255, 255, 255),
) -> np.ndarray:
    """Place images in a row, scaled to a common height, with an optional label band above each."""
    if not images:
        raise ValueError("side_by_side needs at least one image")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    imgs = [_rgb(im) for im in images]
    H = max(im.shape[0] for im in imgs)
    resized = []
    for im in imgs:
        if im.shape[0] != H:
            k = H / im.shape[0]
            im = cv2.resize(im, (max(1, round(im.shape[1] * k)), H), interpolation=cv2.INTER_LINEAR)
        resized.append(im)
    fs = 0.6 * max(H / 640.0, 0.5)
    band = round(34 * max(H / 640.0, 0.5)) if labels else 0
    W = sum(im.shape[1] for im in resized) + gap * (len(resized) - 1)
    out = np.empty((H + band, W, 3), np.uint8)
    out[:] = np.array(_color(background), np.uint8)
    x = 0
    for i, im in enumerate(resized):
        out[band:, x : x + im.shape[1]] = im
        if labels:
            _text(out, str(labels[i]), (x + 4, band - max(4, band // 4)), fs, (0, 0, 0))
        x += im.shape[1] + gap
    return out


def draw_objects(
    image: np.ndarray, objects: Sequence, color: Sequence[int] = (200, 200, 200), *, labels: bool = True
) -> np.ndarray:
    """Thin boxes of display objects (``ObjectBox``), labelled with their category when it is not ``object``."""
    img = _rgb(image)
    col = _color(color)
    s = _scale(img)
    for o in objects:
        x, y, w, h = (round(float(v)) for v in o.xywh)
        cv2.rectangle(img, (x, y), (x + w, y + h), col, max(1, round(s)), cv2.LINE_AA)
        if labels and o.category != "object":
            _text(img, str(o.category), (x + 2, y + round(14 * s)), 0.4 * s, (0, 0, 0), background=col)
    return img


def draw_caption(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Write ``lines`` (e.g. where the objects came from, which weights) on a dark band at the image bottom."""
    img = _rgb(image)
    if not lines:
        return img
    s = _scale(img)
    fs = 0.45 * s
    step = round(20 * s)
    y = img.shape[0] - step * len(lines) - round(4 * s)
    for line in lines:
        y += step
        _text(img, str(line), (round(6 * s), y), fs, (255, 255, 255), background=(0, 0, 0))
    return img
