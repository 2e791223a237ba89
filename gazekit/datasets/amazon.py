"""Amazon book-cover search (Sattar, Müller, Fritz, Bulling, CVPR 2015; re-annotated by Stauden, Barz, Sonntag,
KI 2018): the STI ``Amazon.json``.

A JSON object keyed by collage file name (``1.jpg`` ... ``100.jpg``); each value has ``fixations``
{participant id -> [[x, y], ...]} (integer collage px, **no durations**), ``ground_truth`` (a list holding
one {xmin, xmax, ymin, ymax} box of the target cover), ``size`` {width, height} and ``target`` (the target
cover's image name).

:func:`read_amazon_covers` gives pixel-level scanpaths; the object-level view on OAT's 6 x 14 grid of 84
covers is :func:`gazekit.datasets.object_level.amazon_object_trials` (re-exported here).
"""

from __future__ import annotations

from pathlib import Path

from gazekit.datasets.object_level import AMAZON_GRID, amazon_object_trials
from gazekit.types import Scanpath

__all__ = ["AMAZON_GRID", "amazon_object_trials", "read_amazon_covers"]


def read_amazon_covers(path: str | Path | dict) -> list[Scanpath]:
    """One scanpath per collage and participant: collage px, durations NaN, ``task`` = target name
    (``target_0``), ``condition="present"``, ``meta["bbox"]`` = the target cover's (x, y, w, h)."""
    out = []
    for t in amazon_object_trials(path):
        sp = t.scanpath
        sp.meta["bbox"] = list(t.stimulus.target.box)
        sp.meta["target_image"] = t.stimulus.meta["target_image"]
        sp.objects = None
        out.append(sp)
    return out
