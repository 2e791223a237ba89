"""What the viewer offers for download: predictions as CSV / COCO-Search18 JSON, gaze JSON, PNG overlays."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from gazekit.app.inputs import ImageInput
from gazekit.datasets.coco_search18 import scanpath_to_record
from gazekit.datasets.scanpath_csv import scanpaths_to_csv_text
from gazekit.imageio import encode_png
from gazekit.types import GazeMap, Scanpath


def predictions_csv(scanpaths: Sequence[Scanpath]) -> bytes:
    """Predictions as a gazekit scanpath CSV."""

    return scanpaths_to_csv_text(scanpaths).encode("utf-8")


def predictions_json(scanpaths: Sequence[Scanpath]) -> bytes:
    """Predictions as COCO-Search18 fixation JSON (coordinates in the image frame)."""

    return json.dumps([scanpath_to_record(s) for s in scanpaths], indent=1).encode("utf-8")


def gaze_json(img: ImageInput, gaze_maps: Sequence[GazeMap]) -> bytes:
    """Gaze predictions as JSON: image, size, and per head its box, point and in-frame probability."""
    recs = []
    for gm in gaze_maps:
        rec: dict[str, Any] = {
            "head_box": [round(float(v), 2) for v in gm.head_box],
            "point": [round(float(v), 2) for v in gm.point],
            "inout": round(float(gm.inout), 4),
        }
        if gm.category is not None:
            rec["category"] = gm.category
        recs.append(rec)
    return json.dumps({"image": img.name, "width": img.width, "height": img.height, "people": recs}, indent=1).encode()


def png_bytes(image: np.ndarray) -> bytes:
    """``[H, W, 3]`` uint8 RGB as PNG bytes."""

    return encode_png(np.ascontiguousarray(image))
