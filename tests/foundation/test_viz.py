"""Drawing functions: pure (input untouched), RGB uint8 in and out, pixels change where things are drawn."""

from __future__ import annotations

import numpy as np
import pytest

from gazekit import viz
from gazekit.errors import DataFormatError
from gazekit.types import GazeMap, Scanpath, Stimulus, Target


def grey(h: int = 200, w: int = 300) -> np.ndarray:
    return np.full((h, w, 3), 128, np.uint8)


def sp3(**kw) -> Scanpath:
    return Scanpath([150, 60, 240], [100, 40, 160], [230, 100, 600], width=300, height=200, **kw)


def changed(a: np.ndarray, b: np.ndarray, x: float, y: float, r: int = 2) -> bool:
    xi, yi = int(x), int(y)
    return bool(np.any(a[yi - r : yi + r + 1, xi - r : xi + r + 1] != b[yi - r : yi + r + 1, xi - r : xi + r + 1]))


def test_palette():
    assert len(viz.PALETTE) >= 6
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in viz.PALETTE)


def test_draw_scanpath_pure_and_draws_at_fixations():
    img = grey()
    before = img.copy()
    out = viz.draw_scanpath(img, sp3(), color=(255, 0, 0))
    np.testing.assert_array_equal(img, before)  # input untouched
    assert out is not img and out.dtype == np.uint8 and out.shape == img.shape
    for x, y in [(150, 100), (60, 40), (240, 160)]:
        assert changed(out, img, x, y)
    assert not changed(out, img, 290, 10), "far from every fixation and saccade: unchanged"
    # the saccade line between fixations 1 and 2 is drawn
    assert changed(out, img, 105, 70)


def test_draw_scanpath_options():
    img = grey()
    sp = sp3()
    one = viz.draw_scanpath(img, sp, upto=1)
    assert changed(one, img, 150, 100) and not changed(one, img, 60, 40)
    np.testing.assert_array_equal(viz.draw_scanpath(img, sp, upto=0), img)
    # radius by duration: the 600 ms fixation's disc is bigger than the 100 ms one
    big = viz.draw_scanpath(img, sp, numbered=False, alpha=1.0, color=(255, 0, 0))
    d = np.any(big != img, axis=2)
    r_long = d[160, 240:].argmin()  # run of changed pixels to the right of the 600 ms fixation
    r_short = d[40, 60:].argmin()
    assert r_long > r_short
    same = viz.draw_scanpath(img, sp, numbered=False, alpha=1.0, radius_by_duration=False, color=(255, 0, 0))
    d2 = np.any(same != img, axis=2)
    assert abs(int(d2[160, 240:].argmin()) - int(d2[40, 60:].argmin())) <= 2
    # NaN durations, a single fixation, and transparency are fine
    out = viz.draw_scanpath(img, Scanpath([10], [10]), alpha=0.0)
    np.testing.assert_array_equal(out[150:, 150:], img[150:, 150:])
    viz.draw_scanpath(img, Scanpath([10, 20], [10, 20]))


def test_scanpath_in_another_frame_is_mapped():
    img = grey(100, 150)  # half the size of the scanpath's 300x200 frame
    out = viz.draw_scanpath(img, sp3(), numbered=False)
    assert changed(out, img, 120, 80)  # (240, 160) / 2
    assert changed(out, img, 30, 20)
    # a scanpath without a frame is drawn in image pixels as given
    raw = Scanpath([140], [90])
    assert changed(viz.draw_scanpath(img, raw), img, 140, 90)


def test_grey_input_and_bad_input():
    g = np.full((50, 60), 100, np.uint8)
    out = viz.draw_scanpath(g, Scanpath([30], [25]))
    assert out.shape == (50, 60, 3)
    with pytest.raises(DataFormatError):
        viz.draw_scanpath(np.zeros((10, 10, 3), np.float32), Scanpath([1], [1]))
    with pytest.raises(DataFormatError):
        viz.draw_box(np.zeros((10, 10, 5), np.uint8), (1, 1, 2, 2))


def test_draw_scanpaths_uses_palette():
    img = grey()
    a = Scanpath([50], [50], [250])
    b = Scanpath([250], [150], [250])
    out = viz.draw_scanpaths(img, [a, b], numbered=False, alpha=1.0)
    assert tuple(out[50, 50]) == viz.PALETTE[0]
    assert tuple(out[150, 250]) == viz.PALETTE[1]
    out = viz.draw_scanpaths(img, [a, b], colors=[(0, 0, 255)], numbered=False, alpha=1.0)
    assert tuple(out[150, 250]) == (0, 0, 255)


def test_draw_box_and_target():
    img = grey()
    before = img.copy()
    out = viz.draw_box(img, (20, 30, 50, 40), (0, 255, 0), label="cup")
    np.testing.assert_array_equal(img, before)
    assert tuple(out[30, 45]) == (0, 255, 0) and tuple(out[50, 45]) == (128, 128, 128)
    # a label at the right edge stays in the image
    edge = viz.draw_box(img, (270, 100, 29, 29), label="a long label")
    assert np.any(edge[:, 150:270] != 128)
    timg = np.zeros((20, 20, 3), np.uint8)
    timg[:] = (0, 0, 255)
    stim = Stimulus("s", 300, 200, image=img, target=Target("cup", (200, 100, 40, 40), timg))
    t = viz.draw_target(img, stim)
    assert changed(t, img, 200, 120) and np.any(np.all(t[:60, :60] == (0, 0, 255), axis=2))  # box + inset
    assert tuple(viz.draw_target(img, stim, inset=False)[10, 10]) == (128, 128, 128)
    # on a half-size image the box is mapped
    small = viz.draw_target(grey(100, 150), stim, inset=False)
    assert changed(small, grey(100, 150), 100, 60)
    absent = Stimulus("s", 300, 200, image=img, target=Target("cup", None, timg))
    assert np.any(viz.draw_target(img, absent) != img)
    np.testing.assert_array_equal(viz.draw_target(img, Stimulus("s", 300, 200)), img)


def test_overlay_heatmap():
    img = grey()
    hm = np.zeros((20, 30))
    hm[10, 15] = 1.0
    out = viz.overlay_heatmap(img, hm, alpha=0.5)
    np.testing.assert_array_equal(img, grey())
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out[100, 150], out[5, 5])
    viz.overlay_heatmap(img, np.full((4, 4), np.nan))  # NaN and flat maps are fine
    with pytest.raises(DataFormatError):
        viz.overlay_heatmap(img, np.zeros(5))


def test_draw_gaze():
    img = grey()
    hm = np.zeros((64, 64), np.float32)
    hm[40, 50] = 1
    mask = np.zeros((200, 300), bool)
    mask[150:160, 200:210] = True
    gm = GazeMap(hm, (250.0, 150.0), 0.9, (20, 20, 60, 60), mask=mask)
    out = viz.draw_gaze(img, gm, label="p0")
    np.testing.assert_array_equal(img, grey())
    assert changed(out, img, 250, 150) and changed(out, img, 20, 40)
    viz.draw_gaze(img, GazeMap(hm, (10.0, 10.0), 0.1, (0, 0, 5, 5)), heatmap=False)


def test_side_by_side():
    a, b = grey(100, 150), np.zeros((50, 40, 3), np.uint8)
    out = viz.side_by_side([a, b], ["humans", "model"], gap=4)
    assert out.shape[0] > 100 and out.shape[1] == 150 + 4 + 80
    plain = viz.side_by_side([a, b])
    assert plain.shape == (100, 150 + 8 + 80, 3)
    with pytest.raises(ValueError):
        viz.side_by_side([])
    with pytest.raises(ValueError):
        viz.side_by_side([a], ["x", "y"])


def test_draw_people_one_colour_per_person_and_one_heatmap():
    img = np.full((120, 200, 3), 128, np.uint8)
    hm = np.zeros((8, 8), np.float32)
    hm[0, 0] = 1.0  # top-left hot: the heatmap tints the top-left corner
    people = [GazeMap(hm, (150.0, 90.0), 0.9, (10, 40, 40, 70)), GazeMap(hm, (60.0, 100.0), 0.8, (120, 30, 150, 60))]
    none = viz.draw_people(img, people)
    assert (none[2, 2] == 128).all()  # several people and none selected: no heatmap
    assert not (viz.draw_people(img, people, selected=1)[2, 2] == 128).all()
    assert not (viz.draw_people(img, people[:1])[2, 2] == 128).all()  # one person: theirs
    for k, gm in enumerate(people):  # each gaze point in the person's colour, even under the heatmap
        x, y = (round(v) for v in gm.point)
        assert tuple(viz.draw_people(img, people, selected=0)[y, x]) == viz.person_color(k)
    with pytest.raises(DataFormatError):
        viz.draw_people(img, people, selected=2)
