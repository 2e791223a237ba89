"""The synthetic visual-search world (gazekit's embedded default): seeded displays and simulated observers.

* :mod:`~gazekit.datasets.synthetic.search`: :class:`SearchWorldConfig`, :func:`render_display`,
  :class:`SearchWorld` (split, trials, save/load in the COCO-Search18 layout) and :func:`build_world`.
* :mod:`~gazekit.datasets.synthetic.observers`: the guided-search observer model, its per-subject
  parameters, :func:`simulate` and :func:`observer_statistics`.
* Its DataModule is :class:`gazekit.datasets.search_trials.OATSyntheticDataModule`.
* :mod:`~gazekit.datasets.synthetic.gaze`: the synthetic gaze-following world (people, faces and objects
  with known gaze targets), :func:`render_gaze_scene` and :class:`SyntheticGazeDataModule` (imported from
  that module: it needs torch).
"""

from gazekit.datasets.synthetic.observers import (
    GuidedSearchObserver,
    ObserverParams,
    observed_objects,
    observer_statistics,
    simulate,
    subject_params,
)
from gazekit.datasets.synthetic.search import (
    SearchWorld,
    SearchWorldConfig,
    build_world,
    render_display,
    render_object,
)

__all__ = [
    "GuidedSearchObserver",
    "ObserverParams",
    "SearchWorld",
    "SearchWorldConfig",
    "build_world",
    "observed_objects",
    "observer_statistics",
    "render_display",
    "render_object",
    "simulate",
    "subject_params",
]
