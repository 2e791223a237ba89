"""Simulated guided-search observers: scanpath fields, determinism, model behaviour, human-like statistics.

The ranges in ``test_statistics_within_the_documented_ranges`` are the ones stated in docs/models.md
("Synthetic search world and simulated observers"), measured on the same 300-display world.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gazekit.datasets.synthetic import (
    GuidedSearchObserver,
    ObserverParams,
    SearchWorldConfig,
    build_world,
    observed_objects,
    observer_statistics,
    render_display,
    simulate,
    subject_params,
)
from gazekit.errors import ConfigError


@pytest.fixture(scope="module")
def small_world():
    return build_world(n_displays=30, n_subjects=10, seed=3)


@pytest.fixture(scope="module")
def stats_world():
    return build_world(n_displays=300, n_subjects=10, seed=0)


def test_scanpath_fields(small_world):
    by_name = {s.name: s for s in small_world.stimuli}
    assert len(small_world.scanpaths) == 30 * 10
    assert {sp.subject for sp in small_world.scanpaths} == {str(i) for i in range(1, 11)}
    for sp in small_world.scanpaths:
        st = by_name[sp.stimulus]
        ti = st.target_index
        assert sp.task == st.target.category
        assert sp.condition == ("present" if ti is not None else "absent")
        assert (sp.width, sp.height) == (st.width, st.height)
        assert (sp.x[0], sp.y[0]) == (st.width / 2, st.height / 2)  # first fixation at the display centre
        assert len(sp) >= 2
        assert ((sp.x >= 0) & (sp.x <= st.width) & (sp.y >= 0) & (sp.y <= st.height)).all()
        assert np.isfinite(sp.duration).all() and (sp.duration > 0).all()
        assert np.array_equal(sp.objects, observed_objects(st, sp.x, sp.y))
        assert sp.meta["RT"] == int(sp.duration.sum())
        if ti is None:
            assert sp.found is False and "target_object" not in sp.meta and "bbox" not in sp.meta
        else:
            assert sp.meta["target_object"] == ti
            assert tuple(sp.meta["bbox"]) == st.target.box
            # found <=> the search ended with the eye on the target
            assert sp.found == (sp.objects[-1] == ti)


def test_simulation_is_seeded_and_per_display(small_world):
    stims = small_world.stimuli[:5]
    a = simulate(stims, n_subjects=3, seed=3)
    b = simulate(stims, n_subjects=3, seed=3)
    for pa, pb in zip(a, b, strict=True):
        assert np.array_equal(pa.xy, pb.xy) and np.array_equal(pa.duration, pb.duration)
    # a display's scanpaths do not depend on which other displays are simulated
    alone = simulate(stims[2:3], n_subjects=3, seed=3)
    for pa, pb in zip(alone, a[6:9], strict=True):
        assert np.array_equal(pa.xy, pb.xy)
    other = simulate(stims, n_subjects=3, seed=4)
    assert any(not np.array_equal(pa.xy, pb.xy) for pa, pb in zip(a, other, strict=True))


def test_subject_params():
    ps = subject_params(10, seed=0)
    assert [p.subject for p in ps] == [str(i) for i in range(1, 11)]
    assert ps == subject_params(10, seed=0) and ps != subject_params(10, seed=1)
    for f in ("guidance", "duration_mean", "miss_rate", "ior_decay", "amp_scale"):
        assert len({getattr(p, f) for p in ps}) == 10, f  # subjects differ in every parameter
    with pytest.raises(ConfigError):
        subject_params(0)
    with pytest.raises(ConfigError, match="miss_rate"):
        ObserverParams(miss_rate=1.5)
    with pytest.raises(ConfigError, match="guidance"):
        ObserverParams(guidance=-1.0)
    with pytest.raises(ConfigError, match="max_fixations"):
        ObserverParams(max_fixations=0)


def _run(params: ObserverParams, stims, n_rep: int = 4):
    obs = GuidedSearchObserver(params)
    return [obs.search(s, np.random.default_rng([k, i])) for i, s in enumerate(stims) for k in range(n_rep)]


@pytest.fixture(scope="module")
def present_displays():
    cfg = SearchWorldConfig(p_target_present=1.0, min_objects=20, max_objects=60)
    return [render_display(cfg, 500 + i) for i in range(40)]


def test_guidance_speeds_up_search(present_displays):
    base = ObserverParams()
    strong = _run(base, present_displays)
    blind = _run(dataclasses.replace(base, guidance=0.0), present_displays)
    s1 = observer_statistics(strong, present_displays, agreement=())
    s0 = observer_statistics(blind, present_displays, agreement=())
    assert s1["target_found_curve"][3] > s0["target_found_curve"][3] + 0.2
    assert s1["found_rate_present"] > s0["found_rate_present"]


def test_inhibition_of_return_reduces_revisits(present_displays):
    base = ObserverParams(guidance=4.0)
    with_ior = observer_statistics(_run(base, present_displays), present_displays, agreement=())
    no_ior = observer_statistics(
        _run(dataclasses.replace(base, ior_strength=0.0), present_displays), present_displays, agreement=()
    )
    assert no_ior["revisit_rate"] + no_ior["refixation_rate"] > 2 * (
        with_ior["revisit_rate"] + with_ior["refixation_rate"]
    )


def test_miss_rate_and_durations(present_displays):
    never_miss = _run(ObserverParams(miss_rate=0.0, target_extra=0.0), present_displays)
    by = {s.name: s for s in present_displays}
    for sp in never_miss:  # with no misses, the first fixation on the target ends the search
        hits = np.flatnonzero(sp.objects == by[sp.stimulus].target_index)
        if hits.size:
            assert hits[0] == len(sp) - 1
    always_miss = _run(ObserverParams(miss_rate=1.0), present_displays, n_rep=1)
    assert not any(sp.found for sp in always_miss)
    d = np.concatenate([sp.duration[1:] for sp in never_miss])
    assert 200 < d.mean() < 280  # gamma with mean 240 ms
    assert d.std() / d.mean() == pytest.approx(0.5, abs=0.08)  # shape 4: cv = 1/sqrt(4)


def test_absent_displays_end_by_quitting():
    cfg = SearchWorldConfig(p_target_present=0.0)
    stims = [render_display(cfg, 900 + i) for i in range(20)]
    sps = simulate(stims, n_subjects=10, seed=0)
    assert not any(sp.found for sp in sps)
    lengths = np.array([len(sp) for sp in sps])
    assert lengths.max() <= 24 and lengths.mean() > 5
    big = [len(sp) for sp, st in zip(sps, np.repeat(stims, 10), strict=True) if len(st.objects) >= 40]
    small = [len(sp) for sp, st in zip(sps, np.repeat(stims, 10), strict=True) if len(st.objects) < 20]
    if big and small:
        assert np.mean(big) > np.mean(small)  # bigger displays are searched longer


def test_statistics_within_the_documented_ranges(stats_world):
    st = observer_statistics(stats_world, agreement=("ss", "scanmatch"))
    assert st["n_scanpaths"] == 3000
    assert 4.0 <= st["mean_length_present"] <= 8.0  # COCO-Search18 TP: 3.72
    assert st["mean_length_present"] + 3 <= st["mean_length_absent"] <= 18.0
    assert 0.80 <= st["found_rate_present"] <= 0.95  # COCO-Search18 TP: 0.93
    c = st["target_found_curve"]
    assert all(b >= a for a, b in zip(c, c[1:], strict=False))
    assert c[0] <= 0.03
    assert 0.15 <= c[1] <= 0.45  # COCO-Search18 TP: 0.40
    assert 0.40 <= c[3] <= 0.75  # 0.83
    assert 0.60 <= c[6] <= 0.90  # 0.88
    assert 0.01 <= st["refixation_rate"] <= 0.08
    assert 0.03 <= st["revisit_rate"] <= 0.15
    assert 200 <= st["mean_duration_ms"] <= 280  # 245
    assert 90 <= st["mean_amplitude_px"] <= 170  # 85 px (9 deg) at 512 px
    assert st["first_fixation_agreement"] > 2.5 * st["first_fixation_agreement_chance"]
    assert 0.35 <= st["agreement_ss"] <= 0.55  # human ceiling 0.491
    assert 0.30 <= st["agreement_scanmatch"] <= 0.55  # 0.494
