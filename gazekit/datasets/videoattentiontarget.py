"""VideoAttentionTarget (Chong, Wang, Rehg, Rozga, CVPR 2020): gaze targets in video, one file per head track.

Layout::

    images/<show>/<clip>/<frame>.jpg
    annotations/{train,test}/<show>/<clip>/<person>.txt     one head track per file

Rows: ``frame.jpg,xmin,ymin,xmax,ymax,gazex,gazey``, all in px, no header.

* ``gazex = gazey = -1`` (both negative) means the target is out of frame: ``inout=0``, no gaze point.
* If only one gaze coordinate is negative it is clamped to 0 and the frame counts as in frame.
* Head boxes are smoothed per track by a moving average of 11 frames (as every reference loader does);
  the track is padded with its first/last box at the ends so the length is kept. ``smooth_window=1`` turns
  it off; the raw box stays in ``meta["head_box_raw"]``.
* 5-column files (``frame,xmin,ymin,xmax,ymax``, e.g. the demo clip) carry no gaze label: ``inout=-1``.

Frame size comes from the clip's first image under ``images/`` (all frames of a clip share it) or from
``frame_size``; when neither is available ``width = height = 0`` and ``meta["size_known"] = False``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from gazekit.datasets._common import (
    check_errors_arg,
    csv_rows,
    finite,
    image_size,
    read_text,
    resolve_under,
    safe_relpath,
)
from gazekit.errors import ConfigError, DataFormatError
from gazekit.types import GazeAnnotation

__all__ = [
    "SMOOTH_WINDOW",
    "read_vat_track",
    "read_videoattentiontarget",
    "smooth_boxes",
    "vitgaze_test_chunks",
    "vitgaze_train_chunks",
]

SMOOTH_WINDOW = 11


def smooth_boxes(boxes: np.ndarray, window: int = SMOOTH_WINDOW) -> np.ndarray:
    """Moving average of ``[T, 4]`` boxes over ``window`` frames, edge-padded so the output is ``[T, 4]``."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if window <= 1 or len(b) == 0:
        return b.copy()
    half = window // 2
    padded = np.concatenate([np.repeat(b[:1], half, 0), b, np.repeat(b[-1:], half, 0)])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(4)], axis=1)


def read_vat_track(
    path: str | Path,
    *,
    frame_size: tuple[int, int] | None = None,
    smooth_window: int = SMOOTH_WINDOW,
    every: int = 1,
    meta: dict | None = None,
    errors: str = "raise",
) -> list[GazeAnnotation]:
    """One head track (``<person>.txt``) as per-frame :class:`~gazekit.types.GazeAnnotation` records.

    Args:
        path: the track file.
        frame_size: ``(width, height)`` of the clip's frames (px), if known; head boxes are clipped to it.
        smooth_window: head-box moving-average window (11 in the reference code; 1 = off).
        every: keep every ``every``-th frame after smoothing (Gaze-LLE trains on every 6th).
        meta: extra metadata copied into every record (show, clip, person...).
        errors: ``"raise"`` or ``"skip"`` malformed rows.
    """
    check_errors_arg(errors)
    if every < 1:
        raise ConfigError(f"every must be >= 1, got {every}")
    p = str(path)
    rows = []
    for line, row in csv_rows(read_text(path), p):
        try:
            if len(row) not in (5, 7):
                raise DataFormatError(
                    f"expected 7 columns (frame, xmin, ymin, xmax, ymax, gazex, gazey), got {len(row)}",
                    path=p,
                    line=line,
                )
            frame = safe_relpath(row[0], path=p, line=line, field="frame")
            names = ("xmin", "ymin", "xmax", "ymax", "gazex", "gazey")[: len(row) - 1]
            vals = [finite(v, path=p, line=line, field=n) for v, n in zip(row[1:], names, strict=True)]
            rows.append((line, frame, vals))
        except DataFormatError:
            if errors == "raise":
                raise
    if not rows:
        raise DataFormatError("empty track file", path=p, line=1)
    raw = np.array([v[:4] for _, _, v in rows], dtype=float)
    raw = np.stack([np.minimum(raw[:, 0], raw[:, 2]), np.minimum(raw[:, 1], raw[:, 3]),
                    np.maximum(raw[:, 0], raw[:, 2]), np.maximum(raw[:, 1], raw[:, 3])], axis=1)  # fmt: skip
    boxes = smooth_boxes(raw, smooth_window)
    out = []
    for i in range(0, len(rows), every):
        line, frame, vals = rows[i]
        box = boxes[i]
        if frame_size is not None:
            w, h = frame_size
            box = np.array(
                [min(max(box[0], 0), w), min(max(box[1], 0), h), min(max(box[2], 0), w), min(max(box[3], 0), h)]
            )
        m = dict(meta or {})
        m.update({"frame": frame, "frame_index": i, "line": line, "head_box_raw": tuple(raw[i].tolist())})
        m["size_known"] = frame_size is not None
        if len(vals) == 4:
            inout, gaze = -1, np.zeros((0, 2))
            m["no_gaze_label"] = True
        else:
            gx, gy = vals[4], vals[5]
            if gx < 0 and gy < 0:
                inout, gaze = 0, np.zeros((0, 2))
            else:
                inout, gaze = 1, np.array([[max(gx, 0.0), max(gy, 0.0)]])
        out.append(
            GazeAnnotation(
                image=frame if "image_prefix" not in m else f"{m['image_prefix']}/{frame}",
                width=0 if frame_size is None else int(frame_size[0]),
                height=0 if frame_size is None else int(frame_size[1]),
                head_box=tuple(float(v) for v in box),
                gaze_points=gaze,
                inout=inout,
                meta=m,
            )
        )
    return out


def read_videoattentiontarget(
    root: str | Path,
    split: str = "test",
    *,
    smooth_window: int = SMOOTH_WINDOW,
    every: int = 1,
    frame_size: tuple[int, int] | None = None,
    errors: str = "raise",
) -> list[GazeAnnotation]:
    """Every track of a split (``root/annotations/<split>/<show>/<clip>/<person>.txt``), flattened.

    ``image`` of each record is relative to ``root/images`` (``<show>/<clip>/<frame>``); ``meta`` holds
    ``show``, ``clip``, ``person``, ``track`` (``show/clip/person``) and ``frame_index``.
    """
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    r = Path(root)
    ann = r / "annotations" / split
    if not ann.is_dir():
        raise DataFormatError(f"no annotations/{split} folder", path=r)
    out: list[GazeAnnotation] = []
    for f in sorted(ann.glob("*/*/*.txt")):
        rel = f.relative_to(ann)
        resolve_under(ann, rel.as_posix(), path=str(f))  # a symlinked track may not point outside the root
        show, clip, person = rel.parts[0], rel.parts[1], f.stem
        size = frame_size
        if size is None:
            clip_dir = r / "images" / show / clip
            if clip_dir.is_dir():
                first = next(
                    (g for g in sorted(clip_dir.iterdir()) if g.suffix.lower() in (".jpg", ".jpeg", ".png")), None
                )
                if first is not None:
                    size = image_size(resolve_under(r / "images", f"{show}/{clip}/{first.name}", path=str(f)))
        meta = {"show": show, "clip": clip, "person": person, "track": f"{show}/{clip}/{person}",
                "image_prefix": f"{show}/{clip}", "split": split}  # fmt: skip
        out.extend(
            read_vat_track(f, frame_size=size, smooth_window=smooth_window, every=every, meta=meta, errors=errors)
        )
    return out


def _tracks(annotations: list[GazeAnnotation]) -> list[list[GazeAnnotation]]:
    """Records grouped by ``meta["track"]`` (else the image's folder), each in ``frame_index`` order."""
    tracks: dict[str, list[GazeAnnotation]] = {}
    for a in annotations:
        tracks.setdefault(str(a.meta.get("track", a.image.rsplit("/", 1)[0])), []).append(a)
    return [sorted(recs, key=lambda a: a.meta.get("frame_index", 0)) for recs in tracks.values()]


def _smoothed(part: list[GazeAnnotation], smooth_window: int) -> list[GazeAnnotation]:
    """``part`` with its head boxes smoothed within it, from the raw boxes."""
    raw = np.array([a.meta.get("head_box_raw", a.head_box) for a in part], float)
    boxes = smooth_boxes(raw, smooth_window)
    return [replace(a, head_box=tuple(float(v) for v in b)) for a, b in zip(part, boxes, strict=True)]


def vitgaze_test_chunks(
    annotations: list[GazeAnnotation], seq_len: int = 8, smooth_window: int = SMOOTH_WINDOW
) -> list[list[GazeAnnotation]]:
    """ViTGaze's VAT test set (``data/video_attention_target_video.py``): each track (``meta["track"]``, in
    ``frame_index`` order) is cut into non-overlapping chunks starting at ``range(0, len − seq_len, seq_len)``,
    so the tail and tracks shorter than ``seq_len`` + 1 frames are dropped, and head boxes are smoothed
    **within each chunk** (moving average of ``smooth_window``, edge-padded) from the raw boxes."""
    if seq_len < 1:
        raise ConfigError(f"seq_len must be >= 1, got {seq_len}")
    return [
        _smoothed(recs[start : start + seq_len], smooth_window)
        for recs in _tracks(annotations)
        for start in range(0, len(recs) - seq_len, seq_len)
    ]


def vitgaze_train_chunks(
    annotations: list[GazeAnnotation], seq_len: int = 8, max_len: int = 32, smooth_window: int = SMOOTH_WINDOW
) -> list[list[GazeAnnotation]]:
    """ViTGaze's VAT training clips (stage 3, ``data/video_attention_target_video.py``): a track of at most
    ``max_len`` frames is one chunk when it has at least ``seq_len``; a longer one is cut at
    ``range(0, len − max_len, max_len)`` into ``max_len``-frame chunks, plus its last ``len mod max_len`` frames
    when they are at least ``seq_len``. Head boxes are smoothed within each chunk. A training sample is then a
    random ``seq_len``-frame window of a chunk (:class:`gazekit.datasets.gaze_following.AnnotatedClips`)."""
    if not 1 <= seq_len <= max_len:
        raise ConfigError(f"need 1 <= seq_len <= max_len, got seq_len={seq_len}, max_len={max_len}")
    chunks = []
    for recs in _tracks(annotations):
        n = len(recs)
        if n <= max_len:
            parts = [recs] if n >= seq_len else []
        else:
            parts = [recs[i : i + max_len] for i in range(0, n - max_len, max_len)]
            rest = n % max_len
            if rest >= seq_len:
                parts.append(recs[-rest:])
        chunks.extend(_smoothed(p, smooth_window) for p in parts)
    return chunks
