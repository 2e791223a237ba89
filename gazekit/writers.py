"""``gazekit predict``'s output: a Lightning prediction writer for scanpaths and gaze.

``gazekit predict -c RECIPE --ckpt_path CKPT`` runs the recipe's DataModule ``predict_dataloader`` (its test
split) through the model's ``predict_step`` and :class:`PredictionWriter` writes, when the loop ends:

* scanpath models (``predict_step`` returns :class:`~gazekit.types.Scanpath` lists): ``predictions.csv``
  (gazekit CSV) or ``predictions.json`` (COCO-Search18 JSON), chosen by ``format``;
* gaze models (``predict_step`` returns dicts with ``head_box``, ``gaze_point``, ``inout`` per person):
  ``predictions.json``, one record per person in loader order (``index``).

The folder is ``output_dir`` (default: the trainer's ``default_root_dir``). The CLI adds this writer to every
``predict`` run that does not configure one (``--trainer.callbacks`` can set ``output_dir``/``format``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.callbacks import BasePredictionWriter

from gazekit.atomic import atomic_write_text
from gazekit.errors import ConfigError
from gazekit.io import write_scanpaths
from gazekit.types import Scanpath

__all__ = ["PredictionWriter"]


class PredictionWriter(BasePredictionWriter):
    """Collect ``predict_step`` outputs and write one predictions file at the end of the loop.

    Args:
        output_dir: folder of the file (None: the trainer's ``default_root_dir``).
        format: ``csv`` (gazekit scanpath CSV) or ``json`` (COCO-Search18 JSON); gaze is always JSON.
    """

    def __init__(self, output_dir: str | None = None, format: Literal["csv", "json"] = "csv") -> None:  # noqa: A002
        super().__init__(write_interval="epoch")
        if format not in ("csv", "json"):
            raise ConfigError(f"PredictionWriter format must be 'csv' or 'json', got {format!r}")
        self.output_dir, self.format = output_dir, format
        self.written: Path | None = None

    def write_on_epoch_end(self, trainer: Any, pl_module: Any, predictions: Any, batch_indices: Any) -> None:
        items: list[Any] = []
        for batch in predictions:
            if batch and isinstance(batch[0], list):  # several dataloaders
                for b in batch:
                    items.extend(b)
            else:
                items.extend(batch or [])
        out = Path(self.output_dir or trainer.default_root_dir)
        if not items:
            raise ConfigError("gazekit predict: the model predicted nothing (is the DataModule's test split empty?)")
        if all(isinstance(i, Scanpath) for i in items):
            self.written = out / f"predictions.{self.format}"
            write_scanpaths(self.written, items)
        elif all(isinstance(i, dict) and {"head_box", "gaze_point", "inout"} <= set(i) for i in items):
            self.written = out / "predictions.json"
            recs = [{"index": k, **i} for k, i in enumerate(items)]
            atomic_write_text(self.written, json.dumps(recs, indent=1) + "\n")
        else:
            kinds = sorted({type(i).__name__ for i in items})
            raise ConfigError(
                f"gazekit predict: {type(pl_module).__name__}.predict_step returned {kinds}; the writer takes "
                "Scanpath lists (scanpath models) or dicts with head_box, gaze_point, inout (gaze models)"
            )
        print(f"gazekit predict: wrote {len(items)} prediction(s) to {self.written}", flush=True)
