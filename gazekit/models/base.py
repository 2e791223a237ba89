"""The model interfaces every consumer (CLI, app, demo, benchmarks) relies on.

* :class:`ScanpathPredictor`: ``predict_scanpath(stimulus, task) -> Scanpath`` and a batched form.
* :class:`GazePredictor`: ``predict_gaze(image, head_box) -> GazeMap``.
* :class:`GazekitModule`: the one LightningModule base class (LightningCLI subclass mode); learned
  models derive from it *and* from one of the predictor interfaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import lightning.pytorch as pl
import numpy as np

from gazekit.training import gather_objects, process_group, restart_train_iterator, rng_state, set_rng_state
from gazekit.types import GazeMap, Scanpath, Stimulus, Task

__all__ = ["GazePredictor", "GazekitModule", "ScanpathPredictor"]


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
        rng = np.random.default_rng(seed)
        return [
            self.predict_scanpath(s, t, sample=sample, seed=int(rng.integers(2**31)))
            for s, t in zip(stimuli, tasks, strict=True)
        ]


class GazePredictor:
    """Anything that predicts where a person in an image looks."""

    def predict_gaze(self, image: np.ndarray, head_box: tuple[float, float, float, float]) -> GazeMap:
        """Predict the gaze of the person whose head is in ``head_box`` (x1, y1, x2, y2 px) in ``image`` [H, W, 3]."""
        raise NotImplementedError


class GazekitModule(pl.LightningModule):
    """Base LightningModule of every trainable gazekit model (``--model NAME`` in the CLI picks a subclass)."""

    #: registry name of the model (set by subclasses)
    model_name: ClassVar[str] = ""

    # -- multi-process and resumable training (gazekit.training)
    @staticmethod
    def gather_for_metrics(records: list[Any]) -> list[Any]:
        """Per-sample records of every process, in rank order (a collective: every process calls it, also
        with an empty list). Epoch metrics computed on the result are the metrics of the whole split."""
        return gather_objects(records)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store every process's random state (dropout, masking), so ``--ckpt_path`` resumes exactly."""
        checkpoint["gazekit_rng"] = gather_objects([rng_state()])

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resume_rng: list[Any] | None = checkpoint.get("gazekit_rng") or []

    def on_train_start(self) -> None:
        """On a resumed fit, right before the first resumed step: reopen the training batches where the
        checkpoint left them and restore the random state it saved (as it was when it was written)."""
        states, self._resume_rng = getattr(self, "_resume_rng", None), None
        if states is None or not self.trainer.fit_loop.restarting:
            return
        restart_train_iterator(self.trainer)
        world, rank = process_group()
        if states and len(states) == world:
            set_rng_state(states[rank])
