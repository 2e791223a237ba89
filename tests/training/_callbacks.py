"""Callbacks the scaling tests add to a ``gazekit fit`` run by class path (they run inside every process).

* :class:`RecordSamples` writes, per process, which samples each split's batches held, the number of
  training batches, and the logged validation metrics: the tests check disjoint shards and reduced metrics.
* :class:`KillAfterSteps` ends the process at once (``os._exit``: no exception, no cleanup, no checkpoint
  written on the way out), as a crash or a kill would.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch


def _record_key(item: Any) -> str:
    """A list batch's element: a trial (display name, subject, fixations) or any picklable record."""
    stim, sp = getattr(item, "stimulus", None), getattr(item, "scanpath", None)
    if stim is not None and sp is not None:
        fix = hashlib.sha1(sp.x.tobytes() + sp.y.tobytes()).hexdigest()[:12]
        return f"{stim.name}|{sp.subject}|{fix}"
    return hashlib.sha1(pickle.dumps(item)).hexdigest()


def sample_keys(batch: Any) -> list[str]:
    """One key per sample of a batch: a list of records, or a dict or a tuple/list of tensors batched along dim 0
    (torch's default collate of ``(image, label)`` samples)."""
    columns = isinstance(batch, list | tuple) and batch and all(isinstance(v, torch.Tensor) for v in batch)
    if columns and len({v.shape[0] if v.ndim else -1 for v in batch}) == 1 and batch[0].ndim:
        batch = dict(enumerate(batch))
    if isinstance(batch, list):
        return [_record_key(x) for x in batch]
    if isinstance(batch, dict):
        tensors = [v for _, v in sorted(batch.items()) if isinstance(v, torch.Tensor) and v.ndim >= 1]
        n = tensors[0].shape[0]
        rows = [t for t in tensors if t.shape[0] == n]
        return [
            hashlib.sha1(b"".join(t[i].contiguous().cpu().numpy().tobytes() for t in rows)).hexdigest()
            for i in range(n)
        ]
    raise TypeError(f"no sample keys for a batch of type {type(batch).__name__}")


class RecordSamples(pl.Callback):
    """Writes ``<out>/<prefix>rank<r>.json`` in every process: ``train`` (per epoch, the keys of the samples
    trained on), ``train_batches`` (per epoch), ``val`` (the last validation's keys), ``metrics`` (per
    epoch, the logged ``val/*`` values), ``weights`` (a digest of the trained parameters) and, on rank 0,
    ``full_train`` (the whole training split).

    Args:
        out: folder of the records.
        prefix: file name prefix (tells runs apart).
    """

    def __init__(self, out: str, prefix: str = "") -> None:
        self.out, self.prefix = Path(out), prefix
        self.rec: dict[str, Any] = {"train": [], "train_batches": [], "val": [], "metrics": {}}

    def _write(self, trainer: pl.Trainer) -> None:
        self.rec.update(rank=trainer.global_rank, world=trainer.world_size)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"{self.prefix}rank{trainer.global_rank}.json").write_text(json.dumps(self.rec))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank == 0:  # the whole training split, sample by sample, through the loader's collate
            loader = trainer.train_dataloader
            ds = loader.dataset
            self.rec["full_train"] = [sample_keys(loader.collate_fn([ds[i]]))[0] for i in range(len(ds))]

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rec["train"].append([])
        self.rec["train_batches"].append(0)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not self.rec["train"]:  # resumed mid-epoch: no epoch start
            self.on_train_epoch_start(trainer, pl_module)
        self.rec["train"][-1] += sample_keys(batch)
        self.rec["train_batches"][-1] += 1

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.rec["val"] = []

    def on_validation_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if not trainer.sanity_checking:
            self.rec["val"] += sample_keys(batch)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            m = trainer.callback_metrics
            self.rec["metrics"][str(trainer.current_epoch)] = {
                k: float(v) for k, v in m.items() if k.startswith("val/")
            }
            self._write(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the trained weights (buffers aside: BatchNorm statistics are per process): equal on every process
        # only if DDP averaged every gradient (it silently does not when a trainable parameter gets none)
        digest = hashlib.sha1()
        for _, p in sorted(pl_module.named_parameters()):
            digest.update(p.detach().cpu().contiguous().numpy().tobytes())
        self.rec["weights"] = digest.hexdigest()
        self._write(trainer)


class KillAfterSteps(pl.Callback):
    """Ends the process (``os._exit(exit_code)``) once ``steps`` optimiser steps are done."""

    def __init__(self, steps: int, exit_code: int = 17) -> None:
        self.steps, self.exit_code = steps, exit_code

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step >= self.steps:
            os._exit(self.exit_code)


class RecordGradients(pl.Callback):
    """Saves ``<out>/grads_rank<r>.pt``: every parameter's gradient at the first optimiser step, as the optimiser
    gets it (under DDP: averaged over the processes; before gradient clipping)."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if trainer.global_step == 0:
            grads = {k: p.grad.detach().clone() for k, p in pl_module.named_parameters() if p.grad is not None}
            self.out.mkdir(parents=True, exist_ok=True)
            torch.save(grads, self.out / f"grads_rank{trainer.global_rank}.pt")
