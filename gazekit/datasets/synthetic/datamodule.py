"""LightningCLI DataModule over the synthetic search world: (display, simulated scanpath) trials.

Generic counterpart of :class:`gazekit.models.oat_data.OATSyntheticDataModule` (which turns the same world
into OAT's object-token trials): any scanpath model can train on these batches. Splits are by display, so no
display is in two splits; everything is a pure function of the init arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gazekit.datasets.base import GazekitDataModule
from gazekit.errors import ConfigError
from gazekit.types import Scanpath, Stimulus

__all__ = ["SyntheticSearchDataModule", "collate_search_trials"]


def collate_search_trials(batch: Sequence[tuple[Stimulus, Scanpath]]) -> dict[str, Any]:
    """``(stimulus, scanpath)`` trials -> a batch that keeps the python objects.

    Returns :func:`~gazekit.datasets.datamodules.collate_scanpaths` of the scanpaths (``xy [B, T, 2]`` px,
    ``duration [B, T]`` ms, ``duration_known [B, T]``, ``lengths [B]``, ``stimulus``/``subject``/``task``
    lists, ``scanpaths``) plus ``stimuli`` (the :class:`~gazekit.types.Stimulus` objects, images in
    memory), ``trials`` (the input pairs), ``fixated [B, T]`` (fixated object, -1 = background/padding),
    ``target_index [B]`` (-1 = target absent) and ``found [B]`` (bool).
    """
    import torch

    from gazekit.datasets.datamodules import collate_scanpaths

    trials = list(batch)
    out = collate_scanpaths([sp for _, sp in trials])
    fixated = torch.full(out["xy"].shape[:2], -1, dtype=torch.long)
    for i, (_, sp) in enumerate(trials):
        if sp.objects is not None and len(sp):
            fixated[i, : len(sp)] = torch.as_tensor(sp.objects, dtype=torch.long)
    out.update(
        stimuli=[st for st, _ in trials],
        trials=trials,
        fixated=fixated,
        target_index=torch.tensor([-1 if st.target_index is None else st.target_index for st, _ in trials]),
        found=torch.tensor([bool(sp.found) for _, sp in trials], dtype=torch.bool),
    )
    return out


class _Trials:
    """A map-style dataset over a list (picklable for loader workers)."""

    def __init__(self, items: list[tuple[Stimulus, Scanpath]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Stimulus, Scanpath]:
        return self.items[i]


class SyntheticSearchDataModule(GazekitDataModule):
    """The synthetic search world as train/val/test loaders of ``(Stimulus, Scanpath)`` trials.

    Args:
        n_displays: displays in the world.
        n_subjects: simulated observers (each searches every display).
        seed: world seed (:func:`~gazekit.datasets.synthetic.search.build_world`) and split seed.
        test_fraction, val_fraction: shares of the displays held out for test and validation.
        batch_size, num_workers: as :class:`~gazekit.datasets.base.GazekitDataModule`.
        root: a folder to cache the world in (COCO-Search18 layout): read when it holds a world built with
            the same arguments, else built and written there. None = build in memory.
        width, height, min_objects, max_objects, layouts, p_target_present, p_glyph: display settings
            (:class:`~gazekit.datasets.synthetic.search.SearchWorldConfig`; ``layouts`` None = both).
    """

    def __init__(
        self,
        n_displays: int = 200,
        n_subjects: int = 10,
        seed: int = 0,
        test_fraction: float = 0.1,
        val_fraction: float = 0.1,
        batch_size: int = 16,
        num_workers: int | None = 0,
        root: str | None = None,
        width: int = 512,
        height: int = 320,
        min_objects: int = 6,
        max_objects: int = 84,
        layouts: list[str] | None = None,
        p_target_present: float = 0.75,
        p_glyph: float = 0.2,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.save_hyperparameters()
        if not (0.0 <= test_fraction < 1.0 and 0.0 <= val_fraction < 1.0 and test_fraction + val_fraction < 1.0):
            raise ConfigError(
                f"need 0 <= test_fraction, val_fraction and test_fraction + val_fraction < 1, got "
                f"{test_fraction}, {val_fraction}"
            )
        self.n_displays, self.n_subjects = int(n_displays), int(n_subjects)
        self.test_fraction, self.val_fraction = float(test_fraction), float(val_fraction)
        self.root = root
        self.config_kwargs: dict[str, Any] = {
            "width": int(width),
            "height": int(height),
            "min_objects": int(min_objects),
            "max_objects": int(max_objects),
            "p_target_present": float(p_target_present),
            "p_glyph": float(p_glyph),
        }
        if layouts:
            self.config_kwargs["layouts"] = tuple(layouts)
        self.world = None
        self.splits: dict[str, list[tuple[Stimulus, Scanpath]]] | None = None

    def config(self):  # noqa: ANN201
        """The :class:`~gazekit.datasets.synthetic.search.SearchWorldConfig` these arguments describe."""
        from gazekit.datasets.synthetic.search import SearchWorldConfig

        return SearchWorldConfig(**self.config_kwargs)

    def _world(self):  # noqa: ANN202
        from gazekit.datasets.synthetic.search import SearchWorld, build_world

        cfg = self.config()
        if self.root is not None and (Path(self.root) / "config.json").is_file():
            w = SearchWorld.load(self.root)
            n_subj = len({sp.subject for sp in w.scanpaths})
            if w.config == cfg and w.seed == self.seed and len(w) == self.n_displays and n_subj == self.n_subjects:
                return w
        w = build_world(self.n_displays, self.n_subjects, self.seed, cfg)
        if self.root is not None:
            w.save(self.root)
        return w

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        self.world = self._world()
        rest, test = self.world.split(self.test_fraction, seed=self.seed)
        val_share = self.val_fraction / (1.0 - self.test_fraction) if self.val_fraction > 0 else 0.0
        train, val = rest.split(val_share, seed=self.seed + 1)
        for sp in val.scanpaths:
            sp.meta["split"] = "val"
        self.splits = {"train": train.trials(), "val": val.trials(), "test": test.trials()}

    def split_dataset(self, split: str) -> Any:
        self.setup()
        assert self.splits is not None
        return _Trials(self.splits[split])

    def collate_fn(self) -> Callable[[Sequence[Any]], Any]:
        return collate_search_trials
