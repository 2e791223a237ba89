"""Imports every LightningModule / LightningDataModule so LightningCLI can resolve them by class name.

A model or DataModule module that is added to gazekit adds one import here.
"""

from __future__ import annotations

import gazekit.datasets.asymmetry
import gazekit.datasets.gaze_following
import gazekit.datasets.search_trials
import gazekit.datasets.synthetic.clip_pairs
import gazekit.datasets.synthetic.gaze
import gazekit.models.eccnet
import gazekit.models.gazeseg
import gazekit.models.nevaclip
import gazekit.models.oat
import gazekit.models.vitgaze  # noqa: F401
