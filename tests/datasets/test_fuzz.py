"""Fuzz: every reader gets seeded mutations of a valid sample and may only succeed or raise GazekitError.

Bounded: a fixed number of mutations per reader and a per-call alarm, so a hang fails the test instead of
stalling the suite.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio

from gazekit.datasets.capmit1003 import read_capmit1003
from gazekit.datasets.coco_search18 import read_coco_freeview, read_coco_search18, read_coco_search18_json
from gazekit.datasets.eyelink import read_eyelink_asc
from gazekit.datasets.gazefollow import read_gazefollow
from gazekit.datasets.generic_csv import read_generic_csv
from gazekit.datasets.mit1003 import read_mit1003, read_mit1003_json
from gazekit.datasets.oat_shelves import oat_shelf_trials
from gazekit.datasets.object_level import (
    amazon_object_trials,
    coco_annotation_objects,
    coco_search18_object_trials,
    read_detections,
)
from gazekit.datasets.videoattentiontarget import read_vat_track
from gazekit.errors import GazekitError

from .test_eyelink_generic import ASC
from .test_mit1003_capmit import make_capmit_db
from .test_vat_shelves_amazon import SHEET

N_MUTATIONS = int(os.environ.get("GAZEKIT_FUZZ_N", "60"))
PER_CALL_S = 5

_TOKENS = [b"nan", b"NaN", b"-1", b"-1e9", b"1e999", b"Infinity", b"", b"x", b'"', b"[", b"]", b"{", b"}", b",", b"\n",
           b"\t", b"..", b"../../etc/passwd", b"\xff\xfe", b"null", b"true", b"0", b"[]", b"{}", b"-0.0", b" "]  # fmt: skip
_NUM = re.compile(rb"-?\d+(\.\d+)?")


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if not b:
            b += rng.choice(_TOKENS)
            continue
        i = rng.randrange(len(b))
        if op == 0:  # truncate
            del b[i:]
        elif op == 1:  # flip a byte
            b[i] = rng.randrange(256)
        elif op == 2:  # delete a range
            del b[i : i + rng.randint(1, 40)]
        elif op == 3:  # insert a token
            b[i:i] = rng.choice(_TOKENS)
        elif op == 4:  # duplicate a range
            j = min(len(b), i + rng.randint(1, 80))
            b[i:i] = b[i:j]
        else:  # replace a number with a token
            nums = list(_NUM.finditer(bytes(b)))
            if nums:
                m = rng.choice(nums)
                b[m.start() : m.end()] = rng.choice(_TOKENS)
    return bytes(b)


class _Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Hang()


def fuzz(call: Callable[[Path], object], sample: bytes, target: Path, seed: int, n: int = N_MUTATIONS) -> int:
    """Run ``call`` on ``n`` mutations of ``sample`` written to ``target``; return how many were accepted.

    The unmutated sample must read; each test also asserts that some mutation was accepted, so that a
    reader rejecting everything cannot pass."""
    target.write_bytes(sample)
    call(target)
    rng = random.Random(seed + 1000 * int(os.environ.get("GAZEKIT_FUZZ_SEED", "0")))
    ok = 0
    # pytest-timeout may own the same real-time timer: remember it and give it back afterwards
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    t_start = time.monotonic()
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for k in range(n):
            data = mutate(sample, rng)
            target.write_bytes(data)
            signal.setitimer(signal.ITIMER_REAL, PER_CALL_S)
            try:
                call(target)
                ok += 1
            except GazekitError:
                pass
            except _Hang:
                pytest.fail(f"reader hung on mutation {k} (seed {seed}): {data[:200]!r}")
            except Exception as e:  # noqa: BLE001 - this is the point of the test
                pytest.fail(f"{type(e).__name__}: {e} on mutation {k} (seed {seed}): {data[:300]!r}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
        if outer_left > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - t_start), 0.01))
    return ok


@pytest.fixture(scope="module")
def samples(shared_data):
    s = {}
    coco = json.loads((shared_data / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json").read_text())
    s["coco"] = json.dumps(coco[:15], indent=1).encode()
    det_lines = (shared_data / "coco_search18" / "detections" / "cup.csv").read_bytes().splitlines()[:12]
    s["det"] = b"\n".join(det_lines) + b"\n"
    s["gf"] = b"\n".join((shared_data / "gazefollow" / "val_annotations_sample.txt").read_bytes().splitlines()[:25])
    amazon = json.loads((shared_data / "amazon_covers" / "Amazon.json").read_text())
    s["amazon"] = json.dumps(dict(list(amazon.items())[:2])).encode()
    return s


def test_fuzz_coco_readers(samples, tmp_path):
    accepted: list[int] = []
    f = tmp_path / "fix.json"
    accepted.append(fuzz(read_coco_search18_json, samples["coco"], f, 1))
    accepted.append(fuzz(read_coco_search18, samples["coco"], f, 2))
    accepted.append(fuzz(lambda p: read_coco_freeview(p, frame="model"), samples["coco"], f, 3))
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"


def test_fuzz_detections_and_object_trials(samples, shared_data, tmp_path):
    accepted: list[int] = []
    d = tmp_path / "det"
    d.mkdir()
    accepted.append(fuzz(read_detections, samples["det"], d / "cup.csv", 4))
    fix = shared_data / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json"
    good = read_coco_search18_json(fix)[:40]
    accepted.append(fuzz(lambda p: coco_search18_object_trials(good, p.parent), samples["det"], d / "cup.csv", 5, n=30))
    f = tmp_path / "fix.json"
    dets = {("x.jpg", "cup"): []}
    accepted.append(fuzz(lambda p: coco_search18_object_trials(p, dets), samples["coco"], f, 6, n=30))
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"


def test_fuzz_gazefollow(samples, tmp_path):
    accepted: list[int] = []
    accepted.append(fuzz(read_gazefollow, samples["gf"], tmp_path / "gf.txt", 7))
    # the test format: the same rows without the inout column
    test_rows = [r.split(b",") for r in samples["gf"].splitlines()]
    test_format = b"\n".join(b",".join(r[:14] + r[15:]) for r in test_rows)
    accepted.append(fuzz(lambda p: read_gazefollow(p, split="test"), test_format, tmp_path / "gf.txt", 8, n=30))
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"


def test_fuzz_amazon(samples, tmp_path):
    accepted: list[int] = []
    accepted.append(fuzz(amazon_object_trials, samples["amazon"], tmp_path / "Amazon.json", 9))
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"


def test_fuzz_coco_annotations(tmp_path):
    accepted: list[int] = []
    inst = {"images": [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 100, "height": 300}],
            "annotations": [{"image_id": 1, "bbox": [1, 2, 30, 40], "category_id": 3},
                            {"image_id": 2, "bbox": [5, 5, 10, 10], "category_id": 3}],
            "categories": [{"id": 3, "name": "cup"}]}  # fmt: skip
    pairs = [("000000000001.jpg", "cup"), ("000000000002.jpg", "cup")]
    accepted.append(
        fuzz(lambda p: coco_annotation_objects(p, pairs), json.dumps(inst).encode(), tmp_path / "inst.json", 17)
    )
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"


def test_fuzz_text_formats(tmp_path):
    accepted: list[int] = []
    accepted.append(fuzz(read_eyelink_asc, ASC.encode(), tmp_path / "s.asc", 10))
    accepted.append(fuzz(oat_shelf_trials, SHEET.encode(), tmp_path / "q.csv", 11))
    vat = "\n".join(f"{i:05d}.jpg,{100 + i},50,{140 + i},90,300,200" for i in range(8)).encode()
    accepted.append(fuzz(read_vat_track, vat, tmp_path / "p.txt", 12))
    gen = b"img,sub,idx,x,y,dur\na.png,1,0,10,20,100\na.png,1,1,30,40,200\nb.png,2,0,5,5,50\n"
    cols = {"stimulus": "img", "subject": "sub", "index": "idx", "x": "x", "y": "y", "duration": "dur"}
    accepted.append(fuzz(lambda p: read_generic_csv(p, cols), gen, tmp_path / "g.csv", 13))
    mj = json.dumps(
        [{"name": "a.jpeg", "width": 1024, "height": 768, "X": [1, 2], "Y": [3, 4], "T": [100, 200]}]
    ).encode()
    accepted.append(fuzz(read_mit1003_json, mj, tmp_path / "m.json", 14))
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"


def test_fuzz_binary_formats(tmp_path):
    accepted: list[int] = []
    root = tmp_path / "mit"
    (root / "DATA" / "ajs").mkdir(parents=True)
    mat = root / "DATA" / "ajs" / "img1.mat"
    eye = np.concatenate([np.tile([[200.0, 150.0]], (30, 1)), np.tile([[50.0, 60.0]], (30, 1))])
    sio.savemat(mat, {"img1": {"imgName": "img1.jpeg", "DATA": np.array([{"eyeData": eye}], dtype=object)}})
    accepted.append(fuzz(lambda p: read_mit1003(root), mat.read_bytes(), mat, 15, n=40))
    db = make_capmit_db(tmp_path / "c.db")
    sample = db.read_bytes()
    accepted.append(fuzz(read_capmit1003, sample, db, 16, n=40))
    sqlite3.connect(":memory:").close()
    assert sum(accepted) > 0, f"no mutation was accepted ({accepted}): the reader rejects everything"
