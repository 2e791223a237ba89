"""Models: one LightningModule per paper plus baselines, all behind the predictor interfaces."""

from gazekit.models.base import GazekitModule, GazePredictor, ScanpathPredictor
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
