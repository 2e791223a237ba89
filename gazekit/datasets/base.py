"""The one DataModule base class (LightningCLI subclass mode picks a subclass with ``--data NAME``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

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

        return torch.cuda.is_available()

    # -- loaders: subclasses give the split's dataset (and a collate function); the rest is shared
    def split_dataset(self, split: str) -> Any:
        """The map-style dataset of ``split`` (``train``/``val``/``test``); set up on demand."""
        raise NotImplementedError(f"{type(self).__name__} must implement split_dataset(split)")

    def collate_fn(self) -> Callable[[Sequence[Any]], Any] | None:
        """How samples become a batch (None = torch's default collate)."""
        return None

    def _loader(self, split: str, shuffle: bool) -> Any:

        return DataLoader(
            self.split_dataset(split),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn(),
            pin_memory=self.pin_memory,
            # seeded shuffling: the same recipe and seed give the same batches
            generator=torch.Generator().manual_seed(int(self.seed)) if shuffle else None,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> Any:
        return self._loader("train", True)

    def val_dataloader(self) -> Any:
        return self._loader("val", False)

    def test_dataloader(self) -> Any:
        return self._loader("test", False)

    def predict_dataloader(self) -> Any:
        return self._loader("test", False)
