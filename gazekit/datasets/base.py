"""The one DataModule base class (LightningCLI subclass mode picks a subclass with ``--data NAME``)."""

from __future__ import annotations

import os

import lightning.pytorch as pl

__all__ = ["GazekitDataModule", "default_num_workers"]


def default_num_workers() -> int:
    """Loader workers: the cores minus one, at most 4, 0 on a single core (workers cost a process each)."""
    n = os.cpu_count() or 1
    return 0 if n <= 2 else min(4, n - 1)


class GazekitDataModule(pl.LightningDataModule):
    """Base of every gazekit DataModule.

    Args:
        batch_size: samples per batch.
        num_workers: DataLoader workers (None = :func:`default_num_workers`).
        seed: seed of every random choice the module makes (splits, synthetic data).
    """

    def __init__(self, batch_size: int = 16, num_workers: int | None = None, seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.seed = seed

    @property
    def pin_memory(self) -> bool:
        import torch

        return torch.cuda.is_available()
