"""Test-wide settings: offline hubs, Triton's interpreter on machines without CUDA, the real sample files.

Tests that read real eye-tracking samples find them through ``GAZEKIT_SAMPLE_DATA``: a folder laid out as
``coco_search18/`` (TP validation fixations + ``detections/``), ``gazefollow/`` and ``amazon_covers/``.
``.ci/run`` sets it; without it those tests skip and say why.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GAZEKIT_NO_PROGRESS", "1")

import torch  # noqa: E402

if not torch.cuda.is_available():
    # must be set before triton is first imported
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

SAMPLE_DATA_ENV = "GAZEKIT_SAMPLE_DATA"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real eye-tracking samples named by ``$GAZEKIT_SAMPLE_DATA`` (skips when unset)."""
    value = os.environ.get(SAMPLE_DATA_ENV)
    if not value:
        pytest.skip(f"${SAMPLE_DATA_ENV} is unset: it names the folder of real sample files these tests read")
    path = Path(value).expanduser()
    if not path.is_dir():
        pytest.fail(f"${SAMPLE_DATA_ENV}={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def coco_search18_val(shared_data: Path) -> Path:
    return shared_data / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json"
