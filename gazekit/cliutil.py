"""Small helpers shared by gazekit's own subcommands: range-checked numeric options, frames, devices.

Nothing here imports torch or Lightning at module level: ``gazekit --help``, ``models``, ``score`` and
baseline ``infer`` must start in well under a second.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from gazekit.errors import ConfigError

__all__ = ["bounded_float", "bounded_int", "check_device", "parse_frame"]


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type`` for an integer in ``[lo, hi]``; ``1e3`` is accepted when it is a whole number.

    The message names the accepted range, so ``--max-step 1e21`` or ``-5`` is a usage error, never a
    traceback or gigabytes of memory.
    """

    def parse(text: str) -> int:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number in [{lo}, {hi}], got {text!r}") from None
        if not math.isfinite(v) or v != int(v):
            raise argparse.ArgumentTypeError(f"expected a whole number in [{lo}, {hi}], got {text!r}")
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must lie in [{lo}, {hi}], got {text}")
        return int(v)

    parse.__name__ = "int"  # argparse shows the type name in "invalid int value"
    return parse


def bounded_float(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse ``type`` for a finite float in ``[lo, hi]``."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in [{lo:g}, {hi:g}], got {text!r}") from None
        if not math.isfinite(v) or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be a finite number in [{lo:g}, {hi:g}], got {text}")
        return v

    parse.__name__ = "float"
    return parse


#: the largest frame side accepted from the command line (px); eye-tracking displays are far smaller
MAX_FRAME_SIDE = 100_000


def parse_frame(text: str, option: str = "--human-frame") -> tuple[float, float]:
    """``"1680x1050"`` (also ``1680,1050``) -> ``(1680.0, 1050.0)``; ConfigError naming ``option`` otherwise."""
    parts = str(text).lower().replace(",", "x").replace("*", "x").split("x")
    try:
        w, h = (float(v) for v in parts)
    except ValueError:
        raise ConfigError(f"{option} must be WIDTHxHEIGHT in px, e.g. 1680x1050; got {text!r}") from None
    if not (math.isfinite(w) and math.isfinite(h)) or not (0 < w <= MAX_FRAME_SIDE and 0 < h <= MAX_FRAME_SIDE):
        raise ConfigError(f"{option}: width and height must lie in (0, {MAX_FRAME_SIDE}] px, got {text!r}")
    return w, h


def check_device(device: str) -> str:
    """Validate a torch device string before any model is built; ConfigError says what this install has.

    Imports torch (only commands that load a learned model call this).
    """
    import torch

    d = str(device).strip().lower()
    try:
        dev = torch.device(d)
    except RuntimeError:
        raise ConfigError(f"--device: unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"--device {device}: CUDA is not available ({why}); use --device cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ConfigError(f"--device {device}: there are {n} CUDA device(s) (cuda:0..cuda:{n - 1})")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {device}: Apple MPS is not available here; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device: unsupported device type {dev.type!r}; use cpu, cuda, cuda:N or mps")
    return d
