"""One fixation → object assignment with three rules, against plain per-fixation references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazekit.errors import DataFormatError
from gazekit.types import ObjectBox, assign_fixations_to_objects, box_iou


def reference(x: float, y: float, objs: list[ObjectBox], rule: str, radius: float) -> int:
    inside = [i for i, o in enumerate(objs) if o.x <= x <= o.x + o.w and o.y <= y <= o.y + o.h]
    dist = [math.hypot(x - (o.x + o.w / 2), y - (o.y + o.h / 2)) for o in objs]
    if inside:
        key = (lambda i: (dist[i], i)) if rule == "object_size" else (lambda i: (objs[i].w * objs[i].h, i))
        return min(inside, key=key)
    if rule == "box" or not objs:
        return -1
    if rule == "radius":
        i = min(range(len(objs)), key=lambda k: (dist[k], k))
        return i if dist[i] <= radius else -1
    near = [i for i in range(len(objs)) if dist[i] <= radius * max(objs[i].w, objs[i].h)]
    return min(near, key=lambda k: (dist[k], k)) if near else -1


@pytest.mark.parametrize(
    "rule,radius", [("box", math.inf), ("radius", 40.0), ("radius", math.inf), ("object_size", 0.75)]
)
def test_rules_match_the_reference(rule: str, radius: float) -> None:
    rng = np.random.default_rng(0)
    objs = [ObjectBox(*rng.uniform(0, 300, 2), *rng.uniform(0, 80, 2)) for _ in range(9)]
    objs.append(ObjectBox(100, 100, 0, 0))  # a degenerate box
    x, y = rng.uniform(-20, 400, 300), rng.uniform(-20, 400, 300)
    x[:3], y[:3] = 100.0, 100.0  # exactly on the degenerate box and edges
    got = assign_fixations_to_objects(x, y, objs, rule=rule, radius=radius)
    assert got.dtype == np.int64 and got.shape == (300,)
    assert got.tolist() == [reference(a, b, objs, rule, radius) for a, b in zip(x, y, strict=True)]


def test_rules_differ_where_they_should() -> None:
    big, small = ObjectBox(0, 0, 100, 100), ObjectBox(60, 60, 10, 10)
    # inside both: smallest box vs nearest centre (the big box's centre (50, 50) is closer to (58, 58))
    assert assign_fixations_to_objects([61], [61], [big, small], rule="radius").tolist() == [1]
    assert assign_fixations_to_objects(
        [58.5], [58.5], [big, ObjectBox(58, 58, 40, 40)], rule="object_size"
    ).tolist() == [0]
    far = ([150.0], [50.0])
    assert assign_fixations_to_objects(*far, [big], rule="box").tolist() == [-1]
    assert assign_fixations_to_objects(*far, [big], rule="radius", radius=99).tolist() == [-1]
    assert assign_fixations_to_objects(*far, [big], rule="radius", radius=100).tolist() == [0]
    assert assign_fixations_to_objects(*far, [big], rule="object_size", radius=1.0).tolist() == [0]


def test_empty_and_bad_input() -> None:
    o = [ObjectBox(0, 0, 1, 1)]
    assert assign_fixations_to_objects([], [], o, rule="box").shape == (0,)
    assert assign_fixations_to_objects([0.5], [0.5], [], rule="radius").tolist() == [-1]
    assert assign_fixations_to_objects([np.nan], [0.5], o, rule="radius").tolist() == [-1]
    with pytest.raises(DataFormatError, match="equal lengths"):
        assign_fixations_to_objects([1, 2], [1], o, rule="box")
    with pytest.raises(DataFormatError, match="radius"):
        assign_fixations_to_objects([1], [1], o, rule="radius", radius=float("nan"))
    with pytest.raises(DataFormatError, match="rule must be"):
        assign_fixations_to_objects([1], [1], o, rule="closest")  # type: ignore[arg-type]


def test_box_iou() -> None:
    assert box_iou((0, 0, 2, 2), (1, 1, 2, 2)) == pytest.approx(1 / 7)
    assert box_iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert box_iou((0, 0, 1, 1), (5, 5, 1, 1)) == 0.0 and box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
