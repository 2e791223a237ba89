"""False heads on photos: gazekit's verified face detector vs the unverified cascades it replaced, one run.

    python benchmarks/heads.py --images DIR [--faces faces.json]

``DIR`` holds photos; ``faces.json`` maps a file name to its number of faces (files not listed have none).
Without ``--faces``, scikit-image's data photos are assumed (``astronaut.png`` and ``camera.png`` hold one
face each; every other file none): extract ``skimage/data/*`` from the scikit-image wheel
(``pip download scikit-image --no-deps``) and pass that folder. Only face counts are known, so per photo
found = min(detections, faces) and false = the rest.

The reference ("before") is the previous detector: frontal + profile Haar cascades (scale 1.05, 3
neighbours), no verification, NMS only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gazekit.heads import _gray, detect_faces, face_detector_label  # noqa: E402
from gazekit.imageio import read_image  # noqa: E402
from gazekit.objects import nms  # noqa: E402

SKIMAGE_FACES = {"astronaut.png": 1, "camera.png": 1}


def unverified(image: np.ndarray, min_size: int = 20) -> list:
    """The detector before issue 12: every cascade hit counts, NMS merges overlaps."""
    gray = _gray(image)
    w = gray.shape[1]
    found = []
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"):
        casc = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        views = [(gray, False)] + ([(np.ascontiguousarray(gray[:, ::-1]), True)] if "profile" in name else [])
        for img, mirrored in views:
            for x, y, bw, bh in np.asarray(
                casc.detectMultiScale(img, scaleFactor=1.05, minNeighbors=3, minSize=(min_size, min_size)), float
            ).reshape(-1, 4):
                if mirrored:
                    x = w - x - bw
                found.append((x, y, x + bw, y + bh))
    if not found:
        return []
    b = np.array(found)
    return [b[i] for i in nms(b, (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 0.3, contain=0.6)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--faces", type=Path, default=None)
    args = ap.parse_args()
    truth = json.loads(args.faces.read_text()) if args.faces else SKIMAGE_FACES
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    rows = []
    for p in files:
        img = read_image(p)
        if min(img.shape[:2]) < 100:
            continue
        n = int(truth.get(p.name, 0))
        t0 = time.perf_counter()
        old = len(unverified(img))
        t1 = time.perf_counter()
        new = len(detect_faces(img))
        t2 = time.perf_counter()
        rows.append((p.name, n, old, new, t1 - t0, t2 - t1))
    print(f"# {len(rows)} photos from {args.images}; after: {face_detector_label()}")
    print("| photo | faces | before: found (FP) | after: found (FP) |\n|---|---|---|---|")
    for name, n, old, new, _, _ in rows:
        if old or new or n:
            print(f"| {name} | {n} | {old} ({max(old - n, 0)}) | {new} ({max(new - n, 0)}) |")
    fp_old = sum(max(o - n, 0) for _, n, o, _, _, _ in rows)
    fp_new = sum(max(e - n, 0) for _, n, _, e, _, _ in rows)
    tp_old = sum(min(o, n) for _, n, o, _, _, _ in rows)
    tp_new = sum(min(e, n) for _, n, _, e, _, _ in rows)
    faces = sum(n for _, n, *_ in rows)
    print(f"| **total** | {faces} | {tp_old} found, **{fp_old} false** | {tp_new} found, **{fp_new} false** |")
    t_old = float(np.median([r[4] for r in rows]))
    t_new = float(np.median([r[5] for r in rows]))
    print(f"median time per photo: before {t_old:.2f} s, after {t_new:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
