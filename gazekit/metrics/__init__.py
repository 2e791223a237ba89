"""Metrics: scanpath similarity, visual search, saliency maps and gaze following (see docs/metrics.md).

Submodules: :mod:`~gazekit.metrics.scanpath`, :mod:`~gazekit.metrics.search`,
:mod:`~gazekit.metrics.saliency`, :mod:`~gazekit.metrics.following`; by-name scoring in
:mod:`~gazekit.metrics.api` (re-exported here).
"""

from gazekit.metrics.api import SCANPATH_METRICS, MetricSummary, human_consistency, resolve_metrics, score_scanpaths

__all__ = ["SCANPATH_METRICS", "MetricSummary", "human_consistency", "resolve_metrics", "score_scanpaths"]
