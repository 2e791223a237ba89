"""The model interfaces every consumer (CLI, app, demo, benchmarks) relies on.

* :class:`ScanpathPredictor`, :class:`GazePredictor`: defined in :mod:`gazekit.models.predictors` (no
  Lightning import, so baseline-only commands start fast) and re-exported here.
* :class:`GazekitModule`: the one LightningModule base class (LightningCLI subclass mode); learned
  models derive from it *and* from one of the predictor interfaces. It owns saving and loading: a model
  writes no loading code of its own (at most :meth:`GazekitModule.convert_state_dict` for a paper's layout).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import lightning.pytorch as pl
import numpy as np
import torch

from gazekit.datasets.synthetic.gaze import head_box_batch
from gazekit.errors import ConfigError
from gazekit.heads import detect_heads
from gazekit.models.predictors import GazePredictor, ScanpathPredictor
from gazekit.models.registry import spec_for_class
from gazekit.training import gather_objects, process_group, restart_train_iterator, rng_state, set_rng_state
from gazekit.weights import WeightsSource, load_into, read_checkpoint, resolve_model_weights, write_checkpoint

__all__ = [
    "GazePredictor",
    "GazekitModule",
    "ScanpathPredictor",
    "forward_on_head_boxes",
    "minmax_heatmaps",
    "warmup_cosine",
]


M = TypeVar("M", bound="GazekitModule")


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class GazekitModule(pl.LightningModule):
    """Base LightningModule of every trainable gazekit model (``--model NAME`` in the CLI picks a subclass).

    Subclasses call ``self.save_hyperparameters()`` with JSON-serialisable arguments: the checkpoint stores
    them and :meth:`from_checkpoint` rebuilds the model from them.
    """

    #: constructor arguments that name external weight files (pretrained backbone, warm start); the
    #: checkpoint already holds those weights, so they are stored and rebuilt as None
    external_weight_args: ClassVar[tuple[str, ...]] = ()

    #: which weights the model holds, set by :meth:`from_checkpoint` / :meth:`load_for_inference`
    #: ("user", "paper", "synthetic-data"); None for a freshly built model
    weights_source: WeightsSource | None = None

    # ------------------------------------------------------------------ saving
    def checkpoint_init_args(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this architecture (external weight files reset to None)."""
        kw = dict(self.hparams)
        kw.update(dict.fromkeys(self.external_weight_args))
        return kw

    def save_checkpoint(
        self, path: str | Path, *, half: bool = False, weights_source: WeightsSource | None = None
    ) -> Path:
        """Write the weights as safetensors with the class and :meth:`checkpoint_init_args` as JSON metadata.

        Args:
            path: output file (``.safetensors``); parent folders are created.
            half: store floating-point tensors as float16 (shipped checkpoints; loading casts back).
            weights_source: record the weights' origin in the file (``gazekit convert`` writes ``"paper"``, so a
                converted release is reported as the paper's weights wherever it is put); None records nothing.
        """
        sd = self.state_dict()
        if half:
            sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        return write_checkpoint(
            path,
            sd,
            target=_class_path(type(self)),
            init_args=self.checkpoint_init_args(),
            weights_source=weights_source,
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a paper's released state dict (no gazekit metadata) onto this model's keys (default: as is)."""
        return state_dict

    @classmethod
    def paper_init_args(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, Any] | None:
        """Constructor arguments that run a paper's released checkpoint as released (value conventions that
        differ from gazekit's defaults), or None when ``state_dict`` is not in the paper's layout (default)."""
        return None

    @classmethod
    def from_checkpoint(cls: type[M], path: str | Path, device: str = "cpu", **overrides: Any) -> M:
        """Rebuild a model from a gazekit safetensors file, a Lightning ``.ckpt`` (weights-only) or a paper's
        released state dict (default architecture + ``overrides``, keys through :meth:`convert_state_dict`).

        Args:
            path: the weight file.
            device: where the model goes (it is returned in eval mode).
            overrides: constructor arguments that replace the stored ones.

        Raises:
            WeightsNotFoundError: ``path`` does not exist.
            GazekitError: the file is unreadable (base class), is another model's checkpoint or does not fit
                (:class:`~gazekit.errors.ConfigError`).
        """
        ck = read_checkpoint(path)
        if ck.target is not None and all(_class_path(c) != ck.target for c in cls.__mro__):
            # GazekitModule.from_checkpoint(path) builds whichever subclass wrote the file
            target = next((c for c in _all_subclasses(cls) if _class_path(c) == ck.target), None)
            if target is None:
                raise ConfigError(f"{path}: holds a {ck.target} checkpoint, not {_class_path(cls)}")
            cls = target
        source: WeightsSource = ck.source or "user"
        if ck.init_args is None:
            paper = cls.paper_init_args(ck.state_dict)
            if paper is not None:
                source = "paper"
            init_args, state = dict(paper or {}), cls.convert_state_dict(ck.state_dict)
        else:
            init_args, state = ck.init_args, ck.state_dict
        params = inspect.signature(cls.__init__).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        # LightningCLI stores "_class_path"/"_instantiator" next to the arguments
        kw = {k: v for k, v in init_args.items() if not k.startswith("_") and (takes_any or k in params)}
        kw.update(dict.fromkeys(cls.external_weight_args))
        kw.update(overrides)
        model = cls(**kw)
        load_into(model, state, path, what=cls.__name__)
        model.weights_source = source
        return model.to(device).eval()

    @classmethod
    def load_for_inference(cls: type[M], weights: str | Path | None = None, device: str = "cpu", **overrides: Any) -> M:
        """Find the weights from the registry's spec and load them (:func:`gazekit.weights.resolve_weights`:
        explicit path → ``$GAZEKIT_WEIGHTS_DIR`` → Hugging Face cache → bundled → an error naming the recipe).

        Sets ``weights_source``: ``"synthetic-data"`` (bundled), ``"paper"`` (hub release, a paper-layout file, or
        a file ``gazekit convert`` wrote) or ``"user"`` (any other file).
        """
        found = resolve_model_weights(spec_for_class(cls), weights)
        model = cls.from_checkpoint(found.path, device, **overrides)
        if found.source != "user":  # hub release or bundled; a user's file keeps what it records about itself
            model.weights_source = found.source
        return model

    # -- multi-process and resumable training (gazekit.training)
    @staticmethod
    def gather_for_metrics(records: list[Any]) -> list[Any]:
        """Per-sample records of every process, in rank order (a collective: every process calls it, also
        with an empty list). Epoch metrics computed on the result are the metrics of the whole split."""
        return gather_objects(records)

    def gathered_arrays(self, records: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
        """Per-batch arrays of every process concatenated per key ([N_total, ...]); None when no process has any."""
        parts = self.gather_for_metrics(records)
        if not parts:
            return None
        return {k: np.concatenate([d[k] for d in parts]) for k in parts[0]}

    #: per-batch metric arrays of the running validation/test epoch; a model that sets it to a list in
    #: ``__init__`` and appends in ``validation_step`` gets :meth:`epoch_metrics` logged at each epoch end
    eval_records: list[dict[str, np.ndarray]] | None = None

    def epoch_metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        """Metrics of a whole split from every process's :attr:`eval_records` concatenated per key."""
        raise NotImplementedError(f"{type(self).__name__} collects eval_records but defines no epoch_metrics")

    def log_epoch_metrics(self, prefix: str) -> None:
        """Log :meth:`epoch_metrics` as ``{prefix}/{name}`` (finite values only) and clear the records.

        A collective: every process calls it, also with no records of its own."""
        if self.eval_records is None:
            return
        arr, self.eval_records = self.gathered_arrays(self.eval_records), []  # every process's samples
        if arr is None:
            return
        m = self.epoch_metrics(arr)
        # the same value on every process; sync_dist keeps Lightning's reduction explicit
        self.log_dict(
            {f"{prefix}/{k}": float(v) for k, v in m.items() if np.isfinite(v)}, prog_bar=True, sync_dist=True
        )

    def on_validation_epoch_end(self) -> None:
        self.log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self.log_epoch_metrics("test")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store every process's random state (dropout, masking), so ``--ckpt_path`` resumes exactly."""
        checkpoint["gazekit_rng"] = gather_objects([rng_state()])

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resume_rng: list[Any] | None = checkpoint.get("gazekit_rng") or []

    def on_train_start(self) -> None:
        """On a resumed fit, right before the first resumed step: reopen the training batches where the
        checkpoint left them and restore the random state it saved (as it was when it was written)."""
        states, self._resume_rng = getattr(self, "_resume_rng", None), None
        if states is None or not self.trainer.fit_loop.restarting:
            return
        restart_train_iterator(self.trainer)
        world, rank = process_group()
        if states and len(states) == world:
            set_rng_state(states[rank])


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for c in cls.__subclasses__():
        out += [c, *_all_subclasses(c)]
    return out


def warmup_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float, min_lr_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step LR factor: linear warm-up over ``round(total · warmup_fraction)`` steps, then cosine from 1 to
    ``min_lr_ratio`` at ``total_steps`` (ViTGaze's schedule; GazeSeg uses it too)."""
    total = max(int(total_steps), 1)
    warm = max(int(round(total * warmup_fraction)), 0)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        t = min((step - warm) / max(total - warm, 1), 1.0)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def minmax_heatmaps(heat: torch.Tensor) -> np.ndarray:
    """``[B, h, w]`` raw maps → float numpy scaled to [0, 1] per map (keeps the ranking and the argmax)."""
    lo = heat.flatten(1).min(1).values[:, None, None]
    hi = heat.flatten(1).max(1).values[:, None, None]
    return ((heat - lo) / (hi - lo).clamp_min(1e-12)).float().cpu().numpy()


@torch.no_grad()
def forward_on_head_boxes(
    model: torch.nn.Module, image: np.ndarray, head_boxes: Sequence[Sequence[float]] | None, input_size: int
) -> tuple[list[tuple[float, float, float, float]], dict[str, torch.Tensor] | None]:
    """Run a gaze model (``model(images, head_boxes)``) in eval mode on every person of one image: the cleaned px
    boxes and the outputs (None without boxes). ``head_boxes=None`` detects heads (:func:`gazekit.heads.detect_heads`)."""
    device = next(model.parameters()).device
    boxes, x, hb = head_box_batch(image, detect_heads(image) if head_boxes is None else head_boxes, input_size, device)
    if not boxes:
        return boxes, None
    was = model.training
    model.eval()
    try:
        return boxes, model(x, hb)
    finally:
        model.train(was)
