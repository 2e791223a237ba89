"""Drawing the viewer's results on the work copy of an image (:mod:`gazekit.viz`), and the humans' heat map."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from gazekit import viz
from gazekit.app.inputs import ImageInput
from gazekit.app.prediction import map_gaze
from gazekit.types import GazeMap, Scanpath, Target


def fixation_heatmap(scanpaths: Sequence[Scanpath], width: int, height: int, sigma: float | None = None) -> np.ndarray:
    """``[height, width]`` fixation density in [0, 1] (duration-weighted where known, Gaussian blurred)."""

    m = np.zeros((height, width), np.float32)
    for sp in scanpaths:
        w = np.where(np.isfinite(sp.duration), sp.duration, 1.0) if len(sp) else np.zeros(0)
        xi = np.clip(sp.x.astype(int), 0, width - 1)
        yi = np.clip(sp.y.astype(int), 0, height - 1)
        np.add.at(m, (yi, xi), np.maximum(w, 1e-3).astype(np.float32))
    s = sigma if sigma is not None else 0.04 * max(width, height)
    m = cv2.GaussianBlur(m, (0, 0), sigmaX=max(s, 0.5))
    top = float(m.max())
    return m / top if top > 0 else m


def _palette(viz: ModuleType) -> list[Any]:
    pal = list(getattr(viz, "PALETTE", []) or [])
    return pal or [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def render_overlay(
    img: ImageInput,
    scanpath: Scanpath | None,
    *,
    humans: Sequence[Scanpath] = (),
    target: Target | None = None,
    upto: int | None = None,
    heatmap_of: Sequence[Scanpath] = (),
) -> np.ndarray:
    """The work-frame image with an optional heatmap, humans (other colours), the target box and the prediction.

    ``upto`` shows only the first fixations of every scanpath (stepping through).
    """
    canvas = img.work.copy()
    to_work = img.to_work
    wf = img.work_frame
    if heatmap_of:
        hm = fixation_heatmap([to_work.scanpath(s, wf) for s in heatmap_of], int(wf.width), int(wf.height))
        canvas = viz.overlay_heatmap(canvas, hm)
    if target is not None and (target.box is not None or target.image is not None):
        canvas = viz.draw_target(canvas, img.work_stimulus(target))
    pal = _palette(viz)
    for i, h in enumerate(humans):
        hw = to_work.scanpath(h, wf)
        canvas = viz.draw_scanpath(canvas, hw, color=pal[(i + 1) % len(pal)], numbered=False, upto=upto)
    if scanpath is not None:
        canvas = viz.draw_scanpath(
            canvas, to_work.scanpath(scanpath, wf), color=pal[0], numbered=True, radius_by_duration=True, upto=upto
        )
    return np.ascontiguousarray(canvas)


def render_samples(img: ImageInput, scanpaths: Sequence[Scanpath], target: Target | None = None) -> np.ndarray:
    """Several scanpaths side by side, one panel each (work frame)."""
    pal = _palette(viz)
    panels, labels = [], []
    for i, sp in enumerate(scanpaths):
        canvas = img.work.copy()
        if target is not None and (target.box is not None or target.image is not None):
            canvas = viz.draw_target(canvas, img.work_stimulus(target))
        canvas = viz.draw_scanpath(canvas, img.to_work.scanpath(sp, img.work_frame), color=pal[i % len(pal)])
        panels.append(canvas)
        labels.append(f"sample {i + 1}")
    return np.ascontiguousarray(viz.side_by_side(panels, labels))


def render_gaze_overlay(img: ImageInput, gaze_maps: Sequence[GazeMap], selected: int | None = None) -> np.ndarray:
    """The work-frame image with every person's gaze in their own colour and label ``#k`` (the table's), and
    the heatmap of the ``selected`` person only (:func:`gazekit.viz.draw_people`; GazeSeg's target mask with
    its class)."""
    canvas = viz.draw_people(img.work, [map_gaze(gm, img.to_work) for gm in gaze_maps], selected)
    return np.ascontiguousarray(canvas)
