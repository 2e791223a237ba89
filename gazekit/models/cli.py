"""``gazekit models``: list the registry."""

from __future__ import annotations

import argparse

from gazekit.models.registry import list_models


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["scanpath", "gaze"], help="only models of this kind")


def run(args: argparse.Namespace) -> int:
    for s in list_models(args.kind):
        state = "available" if s.available else "not installed"
        train = ""
        if s.trainable:
            train = " [trainable; ships synthetic-data weights]" if s.bundled_path else " [trainable; needs weights]"
        print(f"{s.name:<12} {s.kind:<9} {state:<14} {s.description}{train}")
    return 0
