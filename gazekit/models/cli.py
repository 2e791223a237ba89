"""``gazekit models``: list the registry and, for trainable models, which weights they would load."""

from __future__ import annotations

import argparse

from gazekit.models.registry import list_models
from gazekit.weights import weights_in_use


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["scanpath", "gaze"], help="only models of this kind")


def run(args: argparse.Namespace) -> int:
    for s in list_models(args.kind):
        state = "available" if s.available else "not installed"
        weights = f" [{weights_in_use(s)}]" if s.trainable else ""
        print(f"{s.name:<12} {s.kind:<9} {state:<14} {s.description}{weights}")
    return 0
