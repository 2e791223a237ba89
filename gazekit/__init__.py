"""gazekit: models of where people look, their training, and the metrics that score them."""

from gazekit.errors import GazekitError

__version__ = "0.1.0"
__all__ = ["GazekitError", "__version__"]
