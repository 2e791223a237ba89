"""Imports every LightningModule / LightningDataModule so LightningCLI can resolve them by class name.

Modules that are not part of this install (optional extras, models still to come) are skipped.
"""

from __future__ import annotations

import importlib

_MODULES = (
    "gazekit.models.oat",
    "gazekit.models.vitgaze",
    "gazekit.models.nevaclip",
    "gazekit.models.eccnet",
    "gazekit.models.gazeseg",
    "gazekit.datasets.synthetic.datamodule",
    "gazekit.datasets.datamodules",
    "gazekit.datasets.asymmetry",
)

for _m in _MODULES:
    try:
        importlib.import_module(_m)
    except ModuleNotFoundError as _e:
        if _e.name is None or not _m.startswith(_e.name):
            raise
