"""Test-wide settings: offline hubs, Triton's interpreter on machines without CUDA, shared data paths."""

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

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real eye-tracking samples in ../shared/data (skips when the checkout has none)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present next to this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def coco_search18_val(shared_data: Path) -> Path:
    return shared_data / "coco_search18" / "coco_search18_fixations_TP_validation_split1.json"
