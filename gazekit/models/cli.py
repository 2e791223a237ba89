"""``gazekit models``: list the registry and, for trainable models, which weights they would load."""

from __future__ import annotations

import argparse

from gazekit.errors import GazekitError, WeightsNotFoundError
from gazekit.models.registry import ModelSpec, list_models
from gazekit.weights import resolve_model_weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["scanpath", "gaze"], help="only models of this kind")


def weights_in_use(spec: ModelSpec) -> str:
    """Which weights ``load_predictor(spec.name)`` would load (synthetic-data, paper or user, and the file), or
    what is missing; found without importing torch."""
    try:
        found = resolve_model_weights(spec)
    except WeightsNotFoundError:
        how = f"train with `gazekit fit -c {spec.config}` or" if spec.config else ""
        return f"needs weights ({how} pass --weights FILE)".replace("( ", "(")
    except GazekitError as e:  # a file that is there but unreadable
        return f"unusable weights: {e}"
    if found.source == "synthetic-data":
        return "synthetic-data weights (bundled; not trained on real images)"
    return f"{found.source} weights ({found.path})"


def run(args: argparse.Namespace) -> int:
    for s in list_models(args.kind):
        state = "available" if s.available else "not installed"
        weights = f" [{weights_in_use(s)}]" if s.trainable else ""
        print(f"{s.name:<12} {s.kind:<9} {state:<14} {s.description}{weights}")
    return 0
