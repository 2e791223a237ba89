"""The one DataModule base class (LightningCLI subclass mode picks a subclass with ``--data NAME``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from gazekit.training import ResumableDataLoader, eval_sampler, train_sampler

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
        """The loader of ``split``: this process's shard (:mod:`gazekit.training`), shuffled per epoch from
        ``seed`` when ``shuffle``; training loaders resume mid-epoch."""
        ds = self.split_dataset(split)
        sampler = train_sampler(ds, self.seed) if shuffle else eval_sampler(ds, split)
        return self.make_loader(ds, sampler, resumable=shuffle, collate_fn=self.collate_fn())

    def make_loader(self, dataset: Any, sampler: Any, *, resumable: bool, **kwargs: Any) -> Any:
        """A DataLoader over ``dataset`` with this module's batch size and workers (``kwargs`` override)."""
        kw: dict[str, Any] = {
            "batch_size": self.batch_size,
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory,
            "persistent_workers": self.num_workers > 0,
            # workers' seeds come from this generator, not from the global random state a resume restores
            "generator": torch.Generator().manual_seed(int(self.seed)),
        }
        kw.update(kwargs)
        if resumable:
            return ResumableDataLoader(dataset, sampler=sampler, progress=self._batches_trained, **kw)
        return DataLoader(dataset, sampler=sampler, **kw)

    def _batches_trained(self) -> tuple[int, int]:
        """``(epoch, batches of it already trained on)``: where a resumed training loader starts."""
        trainer = self.trainer
        if trainer is None:
            return 0, 0
        loop = trainer.fit_loop
        return int(loop.epoch_progress.current.processed), int(loop.epoch_loop.batch_progress.current.processed)

    def train_dataloader(self) -> Any:
        return self._loader("train", True)

    def val_dataloader(self) -> Any:
        return self._loader("val", False)

    def test_dataloader(self) -> Any:
        return self._loader("test", False)

    def predict_dataloader(self) -> Any:
        return self._loader("test", False)
