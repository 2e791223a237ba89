"""The predictor interfaces every consumer (CLI, app, demo, benchmarks) relies on, without Lightning.

* :class:`ScanpathPredictor`: ``predict_scanpath(stimulus, task) -> Scanpath`` and a batched form.
* :class:`GazePredictor`: ``predict_gaze(image, head_box) -> GazeMap``.

Baselines derive from these alone, so commands that use only baselines never import Lightning (start-up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from gazekit.types import GazeMap, Scanpath, Stimulus, Task

__all__ = ["GazePredictor", "ScanpathPredictor", "sample_scanpaths"]


class ScanpathPredictor:
    """Anything that predicts scanpaths: baselines (plain Python) and learned models alike."""

    #: tasks the model understands ("search", "freeview", "caption")
    supported_tasks: ClassVar[tuple[str, ...]] = ("search",)

    def predict_scanpath(
        self, stimulus: Stimulus, task: Task, *, sample: bool = False, seed: int | None = None
    ) -> Scanpath:
        """Predict one scanpath (px of ``stimulus``; durations in ms, NaN if the model has none).

        Args:
            stimulus: the image/display (objects are used by object-level models).
            task: what the viewer is asked to do (search target, free viewing, caption).
            sample: draw a stochastic scanpath instead of the most likely one.
            seed: random seed for sampling (deterministic output per seed).
        """
        return self.predict_scanpaths([stimulus], [task], sample=sample, seed=seed)[0]

    def predict_scanpaths(
        self,
        stimuli: Sequence[Stimulus],
        tasks: Sequence[Task],
        *,
        sample: bool = False,
        seed: int | None = None,
    ) -> list[Scanpath]:
        """Batched prediction; the default loops over :meth:`predict_scanpath` (models override one of them)."""
        if type(self).predict_scanpath is ScanpathPredictor.predict_scanpath:
            raise NotImplementedError(f"{type(self).__name__} must override predict_scanpath or predict_scanpaths")
        if seed is None and not sample:
            # the model's own per-stimulus default: a most-likely prediction is the same in every run (a seed
            # drawn here from fresh entropy made the intrinsically random baselines differ run to run)
            return [self.predict_scanpath(s, t, sample=False) for s, t in zip(stimuli, tasks, strict=True)]
        rng = np.random.default_rng(seed)
        return [
            self.predict_scanpath(s, t, sample=sample, seed=int(rng.integers(2**31)))
            for s, t in zip(stimuli, tasks, strict=True)
        ]


def sample_scanpaths(
    model: ScanpathPredictor, stimuli: Sequence[Stimulus], tasks: Sequence[Task], n: int, seed: int = 0
) -> list[Scanpath]:
    """``n`` sampled scanpaths per (stimulus, task), display-major (all samples of ``stimuli[0]`` first).

    One batched call with each display repeated ``n`` times in a row, so a batched model encodes a display
    once per batch instead of once per sample (OAT's crop CNN: about ``n`` times faster than ``n`` calls)."""
    reps = [(s, t) for s, t in zip(stimuli, tasks, strict=True) for _ in range(int(n))]
    return model.predict_scanpaths([r[0] for r in reps], [r[1] for r in reps], sample=True, seed=seed)


class GazePredictor:
    """Anything that predicts where a person in an image looks."""

    def predict_gaze(self, image: np.ndarray, head_box: tuple[float, float, float, float]) -> GazeMap:
        """Predict the gaze of the person whose head is in ``head_box`` (x1, y1, x2, y2 px) in ``image`` [H, W, 3]."""
        raise NotImplementedError
