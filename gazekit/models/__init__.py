"""Models: one LightningModule per paper plus baselines, all behind the predictor interfaces.

``GazekitModule`` (Lightning) is imported on first use only, so listing models and running baselines stay
fast.
"""

from typing import Any

from gazekit.models.predictors import GazePredictor, ScanpathPredictor
from gazekit.models.registry import ModelSpec, create_model, get_spec, list_models, load_predictor, register

__all__ = [
    "GazePredictor",
    "GazekitModule",
    "ModelSpec",
    "ScanpathPredictor",
    "create_model",
    "get_spec",
    "list_models",
    "load_predictor",
    "register",
]


def __getattr__(name: str) -> Any:
    # Lightning takes seconds to import; only code that trains or loads a learned model pays for it
    if name == "GazekitModule":
        from gazekit.models.base import GazekitModule

        return GazekitModule
    raise AttributeError(f"module 'gazekit.models' has no attribute {name!r}")
