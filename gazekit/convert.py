"""``gazekit convert MODEL SRC --out DST``: a paper's released checkpoint → a gazekit safetensors file.

The release's file is read weights-only (nothing is unpickled), mapped through the model's
``convert_state_dict`` with the constructor arguments of :meth:`~gazekit.models.base.GazekitModule.paper_init_args`
(the release's value conventions), loaded strictly (every released tensor used or named), and written with
those arguments and ``weights_source = "paper"`` in the metadata, so it loads anywhere as the paper's weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gazekit.errors import ConfigError
from gazekit.models.registry import get_spec
from gazekit.weights import read_checkpoint

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name, e.g. vitgaze")
    parser.add_argument("src", type=Path, help="the paper's released checkpoint (.pth/.pt/.bin/.safetensors)")
    parser.add_argument("--out", type=Path, required=True, help="gazekit .safetensors file to write")
    parser.add_argument("--half", action="store_true", help="store float16 tensors (half the size)")


def run(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    if not spec.trainable:
        raise ConfigError(f"model {spec.name!r} has no weights to convert")
    if args.out.suffix != ".safetensors":
        raise ConfigError(f"--out {args.out}: must end in .safetensors")
    cls = spec.load_class()
    paper = cls.paper_init_args(read_checkpoint(args.src).state_dict)
    if paper is None:
        raise ConfigError(
            f"{args.src}: not in {spec.name}'s released key layout; a gazekit or Lightning checkpoint needs no "
            f"conversion (pass it with --weights)"
        )
    model = cls.from_checkpoint(args.src)
    out = model.save_checkpoint(args.out, half=args.half, weights_source="paper")
    n = sum(t.numel() for t in model.state_dict().values())
    conv = ", ".join(f"{k}={paper[k]}" for k in sorted(paper))
    print(f"{out}: {spec.name} paper weights, {n:,} values; run as released with {conv}")
    return 0
