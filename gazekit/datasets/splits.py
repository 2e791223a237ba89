"""Deterministic splits (the same seed gives the same split on every machine)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from gazekit.errors import ConfigError

__all__ = ["SPLITS", "split_by_key", "split_groups"]

SPLITS = ("train", "val", "test")


def split_by_key(
    items: Sequence[Any],
    key: Callable[[Any], Hashable],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, list[Any]]:
    """Split ``items`` into train/val/test so that all items sharing ``key(item)`` land in the same split.

    Keys are sorted (by their string form) before a seeded permutation, so the result depends only on the
    items and ``seed``. ``fractions`` are of keys, not items; they are normalised to sum to 1.
    """
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or np.any(fr < 0) or fr.sum() <= 0:
        raise ConfigError(f"fractions must be three non-negative numbers, got {list(fractions)}")
    fr = fr / fr.sum()
    keys = sorted({key(it) for it in items}, key=str)
    order = np.random.default_rng(seed).permutation(len(keys))
    n = len(keys)
    n_train = int(round(fr[0] * n))
    n_val = int(round(fr[1] * n))
    if fr[2] > 0 and n_train + n_val >= n and n >= 3:
        n_train = max(1, n - n_val - 1)
    where = {}
    for rank, i in enumerate(order.tolist()):
        where[keys[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    out: dict[str, list[Any]] = {s: [] for s in SPLITS}
    for it in items:
        out[where[key(it)]].append(it)
    return out


def split_groups(
    groups: Sequence[str], n_folds: int, fold: int, val_fraction: float, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """Cross-validation by group: (train, val, test) index lists. ``fold`` selects the test fold; val is a
    seeded ``val_fraction`` of the remaining groups (used for early stopping). ``n_folds <= 1``: no test."""
    uniq = sorted(set(groups))
    rng = np.random.default_rng([int(seed), 0x0A7])
    order = [uniq[i] for i in rng.permutation(len(uniq))]
    if n_folds > 1:
        if not 0 <= fold < n_folds:
            raise ConfigError(f"fold must lie in [0, {n_folds}), got {fold}")
        test = set(order[fold::n_folds])
    else:
        test = set()
    rest = [g for g in order if g not in test]
    n_val = max(1, int(round(val_fraction * len(rest)))) if val_fraction > 0 and len(rest) > 1 else 0
    val = set(rest[:n_val])
    idx: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i, g in enumerate(groups):
        idx["test" if g in test else "val" if g in val else "train"].append(i)
    return idx["train"], idx["val"], idx["test"]
