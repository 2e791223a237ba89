"""What multi-process and resumable training needs: disjoint shards, cross-process gathering, a loader that
resumes mid-epoch, and the random state of every process in the checkpoint.

Lightning's DDP/FSDP strategies run one process per device. Left alone, Lightning swaps in a
``DistributedSampler`` that pads the evaluation splits with repeated samples (a metric over them is then not
the metric over the split) and wraps custom samplers in a wrapper that reshuffles their output (which would
undo OAT's display grouping). gazekit's DataModules give every process its own disjoint shard instead; the
samplers are ``DistributedSampler`` subclasses, so Lightning keeps them:

* training (:func:`train_sampler`): a shuffle seeded by ``(seed, epoch)`` (Lightning calls ``set_epoch``), the
  tail dropped so that every process takes the same number of steps (DDP all-reduces gradients at each step);
* evaluation (:func:`eval_sampler`): strided shards without repeats, sizes differing by at most one. This is
  safe under DDP because buffers are broadcast only on the first no-grad forward of an evaluation loop, which
  every process runs as long as each holds a sample (checked).

Epoch metrics that do not decompose into per-batch means (AUC, the behavioural delta) are computed on the
samples of every process: :func:`gather_objects` concatenates each process's per-sample records in rank order.

A run killed mid-epoch resumes exactly (``gazekit fit ... --ckpt_path last``): the shuffles depend only on
``(seed, epoch)``, :class:`ResumableDataLoader` skips the batches the checkpoint had already trained on, and
:func:`rng_state` / :func:`set_rng_state` carry each process's global random state (dropout, masking) in the
checkpoint. Loader workers draw their seeds from the loader's own generator, so exactness across a resume
holds for ``num_workers=0`` or for datasets whose randomness is seeded by the sample index (all of gazekit's).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, DistributedSampler

from gazekit.errors import ConfigError

__all__ = [
    "EpochIndexSampler",
    "ResumableDataLoader",
    "epoch_index",
    "eval_sampler",
    "gather_objects",
    "process_group",
    "restart_train_iterator",
    "rng_state",
    "set_rng_state",
    "train_sampler",
]


def process_group() -> tuple[int, int]:
    """``(world size, rank)`` of the default process group; ``(1, 0)`` in a single process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def train_sampler(dataset: Sized, seed: int) -> DistributedSampler:
    """This process's shard of a training split, reshuffled each epoch from ``(seed, epoch)`` alone.

    Used in a single process too (one shard), so that the order of epoch ``e`` does not depend on how many
    epochs this process has run: a resumed run sees the same batches as an uninterrupted one. Outside
    Lightning, call ``sampler.set_epoch(e)`` before each epoch."""
    world, rank = process_group()
    # drop_last: equal shards, no sample on two processes (at most world - 1 samples rest each epoch)
    cls = EpochIndexSampler if getattr(dataset, "epoch_seeded", False) else DistributedSampler
    return cls(dataset, num_replicas=world, rank=rank, shuffle=True, seed=int(seed), drop_last=True)


class EpochIndexSampler(DistributedSampler):
    """:func:`train_sampler`'s shard for a dataset whose random augmentations are drawn anew at every epoch:
    it yields ``(epoch, index)`` pairs, and the dataset seeds a sample's draws from ``(seed, epoch, index)``.

    The epoch travels with the index because loader workers hold their own copy of the dataset (persistent
    workers never see an attribute set later), and because a resumed run must draw what an uninterrupted one
    drew. Datasets opt in with a class attribute ``epoch_seeded = True`` and accept both an ``int`` index
    (epoch 0) and a pair (:func:`epoch_index`)."""

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = int(self.epoch)
        return ((epoch, int(i)) for i in super().__iter__())


def epoch_index(index: int | tuple[int, int]) -> tuple[int, int]:
    """``(epoch, index)`` of what a sampler gave a dataset: an :class:`EpochIndexSampler` pair or a plain index
    (evaluation, or a direct ``dataset[i]``: epoch 0)."""
    if isinstance(index, tuple):
        return int(index[0]), int(index[1])
    return 0, int(index)


def eval_sampler(dataset: Sized, split: str) -> DistributedSampler | None:
    """This process's shard of an evaluation split (every sample exactly once over all processes); None
    in a single process (the loader then reads the split in order)."""
    world, rank = process_group()
    if world == 1:
        return None
    n = len(dataset)
    if 0 < n < world:
        raise ConfigError(
            f"the {split} split has {n} sample(s) for {world} processes: each process needs at least one "
            "(use fewer devices or a larger split)"
        )
    return UnrepeatedDistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)


def gather_objects(items: list[Any]) -> list[Any]:
    """Every process's ``items`` concatenated in rank order (``items`` itself in a single process).

    A collective: every process must call it, also those with nothing to contribute."""
    world, _ = process_group()
    if world == 1:
        return items
    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` that Lightning resumes mid-epoch (it saves ``state_dict()`` in the checkpoint).

    The state is the epoch and the number of its batches that training had finished when the checkpoint was
    written (``progress()``). After ``load_state_dict``, iterators opened while the sampler is at that epoch
    skip that many batches, until :meth:`resume_done`; the sampler must give the same order again (seeded by
    epoch, as :func:`train_sampler`).

    Args:
        progress: returns ``(epoch, batches of it trained on)``.
        *args, **kwargs: as ``torch.utils.data.DataLoader``.
    """

    def __init__(self, *args: Any, progress: Callable[[], tuple[int, int]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress
        self._resume: tuple[int, int] | None = None

    def state_dict(self) -> dict[str, int]:
        epoch, done = self.progress() if self.progress is not None else (0, 0)
        return {"epoch": int(epoch), "batches_done": int(done)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = (int(state.get("epoch", 0)), int(state.get("batches_done", 0)))

    def resume_done(self) -> None:
        """The resumed epoch's iterator is open: later iterators start at their epoch's first batch."""
        self._resume = None

    def __iter__(self) -> Iterator[Any]:
        it = super().__iter__()
        if self._resume is not None:
            epoch, skip = self._resume
            # a checkpoint at the end of an epoch resumes at the next epoch's start
            if getattr(self.sampler, "epoch", epoch) == epoch and 0 < skip < len(self):
                for _ in range(skip):
                    next(it)
        return it


def restart_train_iterator(trainer: Any) -> None:
    """On a resumed fit, start the training batches again where the checkpoint left them.

    Lightning opens the training loader's iterator (and fetches its first batch) before the run's first
    epoch, with the sampler still at epoch 0, and, when ``configure_optimizers`` asks for
    ``estimated_stepping_batches``, even before it has read the loader states of the checkpoint; it then
    keeps that iterator. Called right before the first resumed step (``on_train_start``), this applies the
    pending loader states, sets the samplers to the epoch being resumed and opens a fresh iterator, which
    skips the batches already trained on (:class:`ResumableDataLoader`); later epochs start afresh."""
    loop = trainer.fit_loop
    loader, fetcher = getattr(loop, "_combined_loader", None), getattr(loop, "_data_fetcher", None)
    if loader is None or fetcher is None:
        return
    loop._load_combined_loader_states()  # no-op when Lightning already applied them
    epoch = loop.epoch_progress.current.processed  # what Lightning passes to set_epoch for this epoch
    for dl in loader.flattened:
        for s in (getattr(dl, "sampler", None), getattr(dl, "batch_sampler", None)):
            if callable(getattr(s, "set_epoch", None)):
                s.set_epoch(epoch)
    iter(fetcher)
    for dl in loader.flattened:
        if isinstance(dl, ResumableDataLoader):
            dl.resume_done()


def rng_state() -> dict[str, Any]:
    """The global random state of torch (CPU and CUDA), NumPy and Python, as tensors and plain values (a
    checkpoint that holds it still loads with ``torch.load(weights_only=True)``)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [
            str(name),
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            float(gauss),
        ],
        "python": [int(version), torch.tensor(state, dtype=torch.int64), py_gauss],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state from :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(int(x) for x in py_state.tolist()), py_gauss))
