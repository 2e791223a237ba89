"""The model interfaces every consumer (CLI, app, demo, benchmarks) relies on.

* :class:`ScanpathPredictor`, :class:`GazePredictor`: defined in :mod:`gazekit.models.predictors` (no
  Lightning import, so baseline-only commands start fast) and re-exported here.
* :class:`GazekitModule`: the one LightningModule base class (LightningCLI subclass mode); learned
  models derive from it *and* from one of the predictor interfaces.
"""

from __future__ import annotations

from typing import ClassVar

import lightning.pytorch as pl

from gazekit.models.predictors import GazePredictor, ScanpathPredictor

__all__ = ["GazePredictor", "GazekitModule", "ScanpathPredictor"]


class GazekitModule(pl.LightningModule):
    """Base LightningModule of every trainable gazekit model (``--model NAME`` in the CLI picks a subclass)."""

    #: registry name of the model (set by subclasses)
    model_name: ClassVar[str] = ""
