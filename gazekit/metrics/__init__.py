"""Metrics: scanpath similarity, visual search, saliency maps and gaze following (see docs/metrics.md).

Submodules: :mod:`~gazekit.metrics.scanpath`, :mod:`~gazekit.metrics.search`,
:mod:`~gazekit.metrics.saliency`, :mod:`~gazekit.metrics.following`; by-name scoring in
:mod:`~gazekit.metrics.api` and the distribution protocol in :mod:`~gazekit.metrics.distribution`
(re-exported here).
"""

from gazekit.metrics.api import (
    METRICS,
    SCANPATH_METRICS,
    MetricSpec,
    MetricSummary,
    ScoreOptions,
    human_consistency,
    resolve_metrics,
    score_scanpaths,
)
from gazekit.metrics.distribution import score_distribution

__all__ = [
    "METRICS",
    "SCANPATH_METRICS",
    "MetricSpec",
    "MetricSummary",
    "ScoreOptions",
    "human_consistency",
    "resolve_metrics",
    "score_distribution",
    "score_scanpaths",
]
