"""Fast smoke checks of the public metrics API (details in the other test modules)."""

import numpy as np
import pytest

from gazekit.errors import ConfigError, DataFormatError
from gazekit.metrics import SCANPATH_METRICS, score_scanpaths
from gazekit.metrics.scanpath import multimatch, scanmatch, sequence_score
from gazekit.types import Scanpath


def _sp(xy, stim="a.jpg", task="cup", subject="1", dur=None):
    xy = np.asarray(xy, float)
    return Scanpath(
        xy[:, 0],
        xy[:, 1],
        dur if dur is not None else np.full(len(xy), 200.0),
        stimulus=stim,
        task=task,
        subject=subject,
        width=640,
        height=480,
    )


def test_identity_scores():
    a = _sp([[10, 10], [200, 100], [300, 400], [500, 50]])
    assert sequence_score([1, 2, 3], [1, 2, 3]) == 1.0
    assert scanmatch(a, a, (640, 480)) == 1.0
    assert all(v == 1.0 for v in multimatch(a, a, (640, 480)).values())


def test_score_scanpaths_names_and_errors():
    a = _sp([[10, 10], [200, 100], [300, 400], [500, 50]])
    b = _sp([[12, 10], [210, 100], [320, 380]], subject="2")
    r = score_scanpaths([a], [b], ["SS", "multimatch", "DTW"])
    assert set(r) == {"ss", "mm_shape", "mm_direction", "mm_length", "mm_position", "mm_duration", "dtw"}
    with pytest.raises(ConfigError, match="valid names"):
        score_scanpaths([a], [b], ["nope"])
    with pytest.raises(DataFormatError, match="no prediction matches"):
        score_scanpaths([_sp([[1, 1]], stim="x.jpg")], [b], ["dtw"])
    with pytest.raises(DataFormatError, match="empty"):
        score_scanpaths([], [b], ["dtw"])
    assert "tfp_auc" in SCANPATH_METRICS
