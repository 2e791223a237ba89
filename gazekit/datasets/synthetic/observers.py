"""Simulated observers: a guided-search model that produces human-like scanpaths on the synthetic displays.

The model (after Wolfe's Guided Search, with the eye-movement parts of Zelinsky's TAM kept simple) works
on the display's objects, not on pixels: it knows each object's features and position, and perceives the
similarity of each object to the target through noise that grows with eccentricity.

**Priority.** Before each saccade the observer computes, for every object *i*::

    priority_i = guidance * s~_i                                  (top-down guidance)
               + proximity * log Gamma(a_i; amp_shape, amp_scale)  (saccade-amplitude prior)
               - centre_weight * d_i^2 / (2 * centre_sigma^2)      (centre bias)
               - ior_strength * exp(-k_i / ior_decay)              (inhibition of return)

where ``a_i`` is the distance (deg) from the current fixation to the object's centre, ``d_i`` its distance (deg)
from the display centre, ``k_i`` the number of fixations since object *i* was last fixated (0 for the
object under the eye; no penalty for objects never fixated), and ``s~_i = s_i + N(0, similarity_noise + eccentricity_noise * a_i)`` the perceived
target similarity. ``s_i`` is a weighted feature overlap with the target:
``s_i = sum_f w_f * m_f(i) / sum_f w_f`` over the display's feature dimensions (colour, shape, texture for
shape displays; colour and glyph for glyph displays), with ``m_f = 1`` for the same value, a partial match
for perceptually close values (red/orange, circle/hexagon, E/F, 0/8, ...) and 0 otherwise. The next object
is drawn from ``softmax(priority)``.

**Saccades.** The eye lands at the chosen object's centre plus isotropic Gaussian noise with s.d.
``landing_sd + landing_frac * amplitude`` (deg). With probability ``refixation_prob`` the observer makes a
small corrective saccade within the current object instead.

**Fixations.** Durations are gamma distributed (``duration_mean`` ms, shape ``duration_shape``); the first
fixation is the display centre (COCO-Search18's initial fixation) with mean ``first_duration_mean`` ms,
and the fixation on which the target is recognised lasts ``target_extra`` ms longer.

**Termination.** Fixating the target (the landing point is on the target's box) recognises it with
probability ``1 - miss_rate``; the search then ends with ``found=True`` (the scanpath ends on the target,
as in COCO-Search18). Otherwise the observer quits (``found=False``) when no object it has not recently
inspected looks target-like enough (the largest perceived similarity among objects outside IOR is below
``quit_threshold``), or, with a hazard ``sigmoid((n - patience - patience_per_object * N) / patience_spread)``
after ``n`` fixations on a display of ``N`` objects (bigger displays are searched longer), or at
``max_fixations``. Target-absent displays therefore end by quitting. A target under the initial centre
fixation is recognised (``1 - miss_rate``) and gets one corrective saccade, so scanpaths have >= 2 fixations
unless the display is empty.

Ten subjects differ in every parameter (:func:`subject_params`); :func:`observer_statistics` measures how
human the result looks (numbers in ``docs/models.md``).
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from gazekit.errors import ConfigError
from gazekit.metrics import human_consistency
from gazekit.types import Scanpath, Stimulus, assign_fixations_to_objects

__all__ = [
    "observed_objects",
    "GuidedSearchObserver",
    "ObserverParams",
    "feature_similarity",
    "observer_statistics",
    "simulate",
    "subject_params",
]

# partial matches between perceptually close feature values (symmetric; 1 on the diagonal, 0 elsewhere)
_CLOSE: dict[str, dict[frozenset, float]] = {
    "colour": {
        frozenset(p): v
        for p, v in [
            (("red", "orange"), 0.45),
            (("orange", "yellow"), 0.4),
            (("blue", "purple"), 0.4),
            (("blue", "cyan"), 0.35),
            (("green", "cyan"), 0.3),
            (("yellow", "white"), 0.2),
        ]
    },
    "shape": {
        frozenset(p): v
        for p, v in [
            (("circle", "hexagon"), 0.55),
            (("square", "diamond"), 0.4),
            (("square", "hexagon"), 0.3),
            (("star", "cross"), 0.35),
            (("triangle", "diamond"), 0.25),
            (("triangle", "star"), 0.2),
        ]
    },
    "texture": {
        frozenset(p): v
        for p, v in [(("striped", "dotted"), 0.35), (("solid", "dotted"), 0.3), (("solid", "striped"), 0.2)]
    },
    "glyph": {
        frozenset(p): v
        for p, v in [
            (("E", "F"), 0.6),
            (("K", "X"), 0.45),
            (("M", "N"), 0.5),
            (("N", "H"), 0.35),
            (("V", "X"), 0.3),
            (("T", "L"), 0.3),
            (("Z", "2"), 0.5),
            (("0", "8"), 0.45),
            (("6", "8"), 0.45),
            (("9", "8"), 0.45),
            (("6", "5"), 0.4),
            (("3", "8"), 0.45),
            (("6", "0"), 0.35),
            (("9", "0"), 0.35),
            (("A", "V"), 0.25),
        ]
    },
}


#: a fixation near no box still counts for an object whose centre is within this many of its larger sides
OBJECT_RADIUS = 0.75


def observed_objects(stimulus: Stimulus, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[T]`` object index per fixation (-1 = background) by the observers' rule (``rule="object_size"``)."""
    return assign_fixations_to_objects(x, y, stimulus.objects, rule="object_size", radius=OBJECT_RADIUS)


def feature_similarity(dim: str, a: Any, b: Any) -> float:
    """Perceptual match of two values of one feature dimension: 1 same, a partial value if close, else 0."""
    if a == b:
        return 1.0
    return _CLOSE.get(dim, {}).get(frozenset((a, b)), 0.0)


@dataclass
class ObserverParams:
    """One simulated subject. Distances are in degrees of visual angle, durations in ms.

    Attributes:
        subject: subject label ("1".."10").
        w_colour, w_shape, w_texture, w_glyph: relative weight of each feature dimension in the target
            similarity (unitless; normalised over the dimensions a display has).
        guidance: gain of perceived similarity in the priority (log-odds per unit similarity).
        similarity_noise: s.d. of the perceived-similarity noise at the fovea (similarity units).
        eccentricity_noise: extra noise s.d. per degree of distance from the current fixation.
        centre_weight, centre_sigma: centre bias, ``-centre_weight * d^2 / (2 centre_sigma^2)`` (d in deg).
        amp_shape, amp_scale: gamma distribution of saccade amplitudes (shape; scale in deg; mean = product).
        proximity: weight of the amplitude log-density in the priority (1 = the full log-likelihood).
        landing_sd, landing_frac: landing noise s.d. = ``landing_sd`` deg + ``landing_frac`` x amplitude.
        ior_strength, ior_decay: inhibition of return, a priority penalty decaying as
            ``exp(-fixations since the visit / ior_decay)``.
        refixation_prob: probability of a corrective refixation on the current object.
        duration_mean, duration_shape: gamma fixation durations (mean ms; shape).
        first_duration_mean: mean duration of the initial centre fixation (ms).
        target_extra: extra duration of the fixation on which the target is recognised (ms).
        miss_rate: probability of not recognising the target while fixating it.
        quit_threshold: quit when no object outside IOR has perceived similarity above this.
        patience, patience_per_object, patience_spread: quitting hazard
            ``sigmoid((n - patience - patience_per_object * N) / patience_spread)`` after ``n`` fixations on a
            display of ``N`` objects (fixations).
        max_fixations: hard cap on the scanpath length, the initial fixation included.
    """

    subject: str = "1"
    w_colour: float = 1.3
    w_shape: float = 0.9
    w_texture: float = 0.5
    w_glyph: float = 1.2
    guidance: float = 13.0
    similarity_noise: float = 0.1
    eccentricity_noise: float = 0.012
    centre_weight: float = 0.4
    centre_sigma: float = 15.0
    amp_shape: float = 2.2
    amp_scale: float = 2.9
    proximity: float = 1.6
    landing_sd: float = 0.28
    landing_frac: float = 0.03
    ior_strength: float = 6.0
    ior_decay: float = 5.0
    refixation_prob: float = 0.03
    duration_mean: float = 240.0
    duration_shape: float = 4.0
    first_duration_mean: float = 220.0
    target_extra: float = 100.0
    miss_rate: float = 0.07
    quit_threshold: float = 0.48
    patience: float = 7.0
    patience_per_object: float = 0.16
    patience_spread: float = 1.0
    max_fixations: int = 24

    def __post_init__(self) -> None:
        self.subject = str(self.subject)
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float | int) and not isinstance(v, bool) and (not math.isfinite(v) or v < 0):
                raise ConfigError(f"ObserverParams.{f.name} must be finite and >= 0, got {v}")
        if self.amp_shape <= 0 or self.amp_scale <= 0 or self.duration_shape <= 0 or self.duration_mean <= 0:
            raise ConfigError("amp_shape, amp_scale, duration_shape and duration_mean must be > 0")
        if self.ior_decay <= 0 or self.patience_spread <= 0 or self.centre_sigma <= 0:
            raise ConfigError("ior_decay, patience_spread and centre_sigma must be > 0")
        if not 0 <= self.miss_rate <= 1 or not 0 <= self.refixation_prob <= 1:
            raise ConfigError("miss_rate and refixation_prob must lie in [0, 1]")
        if self.max_fixations < 1:
            raise ConfigError(f"max_fixations must be >= 1, got {self.max_fixations}")


def subject_params(n_subjects: int = 10, seed: int = 0) -> list[ObserverParams]:
    """``n_subjects`` observers with parameters drawn (seeded) around the population values."""
    if n_subjects < 1:
        raise ConfigError(f"n_subjects must be >= 1, got {n_subjects}")
    rng = np.random.default_rng([int(seed), 0x0B5E])
    out = []
    for j in range(n_subjects):
        u = rng.uniform
        amp_shape = u(1.8, 2.8)
        amp_mean = u(5.5, 7.5)  # deg
        out.append(
            ObserverParams(
                subject=str(j + 1),
                w_colour=u(1.0, 1.6),
                w_shape=u(0.6, 1.1),
                w_texture=u(0.3, 0.7),
                w_glyph=u(1.0, 1.5),
                guidance=u(11.0, 15.0),
                similarity_noise=u(0.07, 0.13),
                eccentricity_noise=u(0.008, 0.015),
                centre_weight=u(0.2, 0.6),
                centre_sigma=15.0,
                amp_shape=amp_shape,
                amp_scale=amp_mean / amp_shape,
                proximity=u(1.3, 1.9),
                landing_sd=u(0.2, 0.35),
                landing_frac=u(0.02, 0.04),
                ior_strength=u(5.0, 8.0),
                ior_decay=u(3.0, 8.0),
                refixation_prob=u(0.01, 0.05),
                duration_mean=u(200.0, 280.0),
                duration_shape=u(3.0, 5.0),
                first_duration_mean=u(180.0, 260.0),
                target_extra=u(60.0, 150.0),
                miss_rate=u(0.03, 0.12),
                quit_threshold=u(0.4, 0.55),
                patience=u(6.0, 8.0),
                patience_per_object=u(0.14, 0.18),
                patience_spread=1.0,
                max_fixations=24,
            )
        )
    return out


def _similarities(stimulus: Stimulus, p: ObserverParams) -> np.ndarray:
    """``[N]`` target similarity of every object for observer ``p``."""
    tf = stimulus.meta.get("target_features")
    if tf is None and stimulus.target is not None and stimulus.target_index is not None:
        tf = stimulus.objects[stimulus.target_index].attributes
    if tf is None and stimulus.target is not None and stimulus.target.category:
        tf = _features_from_category(stimulus.target.category)
    if not tf:
        return np.zeros(len(stimulus.objects))
    dims = ("colour", "glyph") if tf.get("shape") == "glyph" else ("colour", "shape", "texture")
    w = {"colour": p.w_colour, "shape": p.w_shape, "texture": p.w_texture, "glyph": p.w_glyph}
    total = sum(w[d] for d in dims) or 1.0
    out = np.zeros(len(stimulus.objects))
    for i, o in enumerate(stimulus.objects):
        a = o.attributes
        out[i] = sum(w[d] * feature_similarity(d, a.get(d), tf.get(d)) for d in dims) / total
    return out


def _features_from_category(cat: str) -> dict[str, Any] | None:
    parts = cat.split()
    if len(parts) == 3 and parts[1] in ("letter", "digit"):
        return {"shape": "glyph", "colour": parts[0], "texture": "solid", "glyph": parts[2]}
    if len(parts) == 3:
        return {"colour": parts[0], "shape": parts[1], "texture": parts[2], "glyph": None}
    return None


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class GuidedSearchObserver:
    """The guided-search observer described in this module's docstring, for one subject."""

    def __init__(self, params: ObserverParams) -> None:
        self.params = params

    def search(self, stimulus: Stimulus, rng: np.random.Generator) -> Scanpath:
        """Search ``stimulus`` for its target; returns the scanpath (display px, ms) with ``found`` set.

        ``objects`` holds the fixated object per fixation (:func:`observed_objects`).
        """
        p = self.params
        ppd = float(stimulus.meta.get("px_per_degree", 9.5))
        w, h = stimulus.width, stimulus.height
        n = len(stimulus.objects)
        boxes = np.array([o.xywh for o in stimulus.objects], float).reshape(n, 4)
        cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
        sides = np.maximum(boxes[:, 2], boxes[:, 3])
        sim = _similarities(stimulus, p)
        t_index = stimulus.target_index
        present = t_index is not None
        d_centre = np.hypot(cx - w / 2, cy - h / 2) / ppd
        static = -p.centre_weight * d_centre**2 / (2 * p.centre_sigma**2)
        last_visit = np.full(n, -np.inf)

        def dur(mean: float) -> float:
            return float(rng.gamma(p.duration_shape, mean / p.duration_shape))

        xs, ys, ds = [w / 2.0], [h / 2.0], [dur(p.first_duration_mean)]
        cur = int(observed_objects(stimulus, np.array(xs), np.array(ys))[0])
        found = False
        if cur >= 0:
            last_visit[cur] = 0
        # a target under the initial (centre) fixation is recognised like any other fixated target; the
        # observer then makes one corrective saccade onto it (COCO-Search18 scanpaths have >= 2 fixations)
        seen_at_start = present and cur == t_index and rng.random() >= p.miss_rate
        patience = p.patience + p.patience_per_object * n
        while n > 0 and len(xs) < p.max_fixations:
            t = len(xs)  # index of the fixation about to be made
            fx, fy = xs[-1], ys[-1]
            amp = np.hypot(cx - fx, cy - fy) / ppd
            noise_sd = p.similarity_noise + p.eccentricity_noise * amp
            perceived = sim + rng.normal(0.0, 1.0, n) * noise_sd
            ior = np.where(np.isfinite(last_visit), p.ior_strength * np.exp(-(t - 1 - last_visit) / p.ior_decay), 0.0)
            # quitting: nothing uninspected looks like the target, or impatience (or the cap, via the loop)
            if t > 1:
                fresh = ior < 1.0
                best = perceived[fresh].max() if fresh.any() else -np.inf
                if best < p.quit_threshold or rng.random() < _sigmoid((t - patience) / p.patience_spread):
                    break
            onto_seen, seen_at_start = seen_at_start, False
            if onto_seen or (cur >= 0 and t > 1 and rng.random() < p.refixation_prob):
                choice = cur
                sd = 0.15 * sides[cur]
                nx, ny = cx[cur] + rng.normal(0, sd), cy[cur] + rng.normal(0, sd)
            else:
                a = np.maximum(amp, 0.25)
                log_amp = (p.amp_shape - 1) * np.log(a) - a / p.amp_scale
                prio = p.guidance * perceived + p.proximity * log_amp + static - ior
                prio = prio - prio.max()
                prob = np.exp(prio)
                prob /= prob.sum()
                choice = int(rng.choice(n, p=prob))
                sd = (p.landing_sd + p.landing_frac * amp[choice]) * ppd
                nx, ny = cx[choice] + rng.normal(0, sd), cy[choice] + rng.normal(0, sd)
            nx, ny = float(np.clip(nx, 0.5, w - 0.5)), float(np.clip(ny, 0.5, h - 0.5))
            landed = int(observed_objects(stimulus, np.array([nx]), np.array([ny]))[0])
            xs.append(nx)
            ys.append(ny)
            cur = landed
            if landed >= 0:
                last_visit[landed] = t
            if present and landed == t_index and (onto_seen or rng.random() >= p.miss_rate):
                ds.append(dur(p.duration_mean) + p.target_extra)
                found = True
                break
            ds.append(dur(p.duration_mean))
        x = np.round(np.array(xs), 2)
        y = np.round(np.array(ys), 2)
        d = np.round(np.array(ds))
        meta: dict[str, Any] = {"RT": int(d.sum())}
        if present and stimulus.target is not None and stimulus.target.box is not None:
            meta["bbox"] = [float(v) for v in stimulus.target.box]
            meta["target_object"] = int(t_index)
        return Scanpath(
            x,
            y,
            d,
            stimulus=stimulus.name,
            subject=p.subject,
            task=None if stimulus.target is None else stimulus.target.category,
            condition="present" if present else "absent",
            found=found,
            width=float(w),
            height=float(h),
            objects=observed_objects(stimulus, x, y),
            meta=meta,
        )


def _stimulus_key(stimulus: Stimulus) -> int:
    return zlib.crc32(stimulus.name.encode("utf-8"))


def simulate(
    stimuli: Sequence[Stimulus], n_subjects: int = 10, seed: int = 0, params: Sequence[ObserverParams] | None = None
) -> list[Scanpath]:
    """Every subject searches every display (display-major order).

    Each (display, subject) pair has its own random stream, seeded by ``seed``, the display name and the
    subject, so a scanpath does not depend on which other displays are simulated.

    Returns:
        Scanpaths with ``subject`` "1".."n", ``task`` = target category, ``condition`` present/absent,
        ``found``, ``width``/``height`` = the display size, ``objects`` = fixated object index (-1 = none)
        and ``meta`` ``bbox`` (target box, present trials) and ``RT`` (ms).
    """
    subjects = list(params) if params is not None else subject_params(n_subjects, seed)
    observers = [GuidedSearchObserver(p) for p in subjects]
    out = []
    for s in stimuli:
        key = _stimulus_key(s)
        for j, obs in enumerate(observers):
            out.append(obs.search(s, np.random.default_rng([int(seed), key, j, 0x51])))
    return out


# ============================================================================================ statistics
def observer_statistics(
    world_or_scanpaths: Any,
    stimuli: Sequence[Stimulus] | None = None,
    max_k: int = 6,
    agreement: Sequence[str] = ("ss", "scanmatch"),
) -> dict[str, Any]:
    """How human do the scanpaths look? (Works for any scanpaths on displays with objects.)

    Args:
        world_or_scanpaths: a :class:`~gazekit.datasets.synthetic.search.SearchWorld` or a list of scanpaths.
        stimuli: the displays (needed with a list of scanpaths).
        max_k: length of the target-found curve.

    Returns:
        ``n_scanpaths``; ``mean_length`` (all, ``_present``, ``_absent``; fixations incl. the initial one);
        ``found_rate_present``; ``target_found_curve``: ``[max_k + 1]`` share of target-present scanpaths
        whose target was fixated by fixation index k (0 = the initial fixation); ``refixation_rate``:
        share of saccades (fixations k >= 1) landing on the object fixated just before; ``revisit_rate``:
        share landing on an object fixated earlier but not just before; ``first_fixation_agreement``: for
        each display, the share of subject pairs whose first saccade went to the same object (mean over
        displays), and ``first_fixation_agreement_chance`` (the same with 1/n_objects);
        ``mean_duration_ms``, ``mean_amplitude_px``; ``agreement_<metric>`` for every metric in
        ``agreement``: the leave-one-subject-out inter-subject agreement of the target-present scanpaths
        (:func:`gazekit.metrics.human_consistency`, the protocol of the COCO-Search18 human ceilings).
    """
    if stimuli is None:
        stimuli = world_or_scanpaths.stimuli
        scanpaths = world_or_scanpaths.scanpaths
    else:
        scanpaths = list(
            world_or_scanpaths.scanpaths if hasattr(world_or_scanpaths, "scanpaths") else world_or_scanpaths
        )
    by_name = {s.name: s for s in stimuli}
    lengths, lengths_p, lengths_a, found_p, first_on_target = [], [], [], [], []
    refix = revisit = saccades = 0
    durations, amplitudes = [], []
    first_obj: dict[str, list[int]] = {}
    for sp in scanpaths:
        stim = by_name.get(sp.stimulus)
        if stim is None:
            continue
        objs = sp.objects if sp.objects is not None else observed_objects(stim, sp.x, sp.y)
        lengths.append(len(sp))
        present = stim.target_index is not None
        if present:
            lengths_p.append(len(sp))
            found_p.append(bool(sp.found))
            hits = np.flatnonzero(objs == stim.target_index)
            first_on_target.append(int(hits[0]) if hits.size else 10**9)
        else:
            lengths_a.append(len(sp))
        seen: set[int] = set()
        for k, o in enumerate(objs.tolist()):
            if k >= 1:
                saccades += 1
                if o >= 0 and o == objs[k - 1]:
                    refix += 1
                elif o >= 0 and o in seen:
                    revisit += 1
            if o >= 0:
                seen.add(o)
        if len(objs) > 1:
            first_obj.setdefault(sp.stimulus, []).append(int(objs[1]))
        durations.extend(sp.duration[np.isfinite(sp.duration)].tolist())
        amplitudes.extend(np.hypot(np.diff(sp.x), np.diff(sp.y)).tolist())
    agree, chance = [], []
    for name, firsts in first_obj.items():
        if len(firsts) < 2:
            continue
        pairs = list(combinations(firsts, 2))
        agree.append(np.mean([a == b and a >= 0 for a, b in pairs]))
        chance.append(1.0 / max(1, len(by_name[name].objects)))
    fot = np.array(first_on_target)
    curve = [float(np.mean(fot <= k)) if fot.size else float("nan") for k in range(max_k + 1)]

    def mean(v: list) -> float:
        return float(np.mean(v)) if len(v) else float("nan")

    stats: dict[str, Any] = {
        "n_scanpaths": len(lengths),
        "mean_length": mean(lengths),
        "mean_length_present": mean(lengths_p),
        "mean_length_absent": mean(lengths_a),
        "median_length_present": float(np.median(lengths_p)) if lengths_p else float("nan"),
        "found_rate_present": mean(found_p),
        "target_found_curve": curve,
        "refixation_rate": refix / saccades if saccades else float("nan"),
        "revisit_rate": revisit / saccades if saccades else float("nan"),
        "first_fixation_agreement": mean(agree),
        "first_fixation_agreement_chance": mean(chance),
        "mean_duration_ms": mean(durations),
        "mean_amplitude_px": mean(amplitudes),
    }
    if agreement:
        present = [sp for sp in scanpaths if sp.stimulus in by_name and by_name[sp.stimulus].target_index is not None]
        if present:
            res = human_consistency(present, list(agreement))
            for name in agreement:
                stats[f"agreement_{name}"] = float(res[name].mean)
    return stats
