"""Kernel tests run Triton in its interpreter on CPU (TRITON_INTERPRET=1 is set in tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch

from gazekit.kernels._backend import interpreting, triton_available

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def triton_backend(monkeypatch):
    """Force the Triton backend (skips when triton cannot run here)."""
    if not triton_available():
        pytest.skip("triton is not installed")
    if DEVICE == "cpu" and not interpreting():
        pytest.skip("TRITON_INTERPRET=1 was not set before triton was imported")
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "triton")
    monkeypatch.setenv("GAZEKIT_TF32", "0")
    return DEVICE


@pytest.fixture
def naive_backend(monkeypatch):
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "naive")
