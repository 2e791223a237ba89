"""benchmarks/attention.py imports, refuses to benchmark without CUDA, and runs its CPU smoke path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "attention.py"


def _load():
    spec = importlib.util.spec_from_file_location("gazekit_bench_attention", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_exits_cleanly_without_cuda(capsys):
    assert _load().main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_cpu_smoke(tmp_path):
    out = tmp_path / "rows.json"
    # reference/SDPA paths only, to keep it fast (the kernels have their own tests)
    assert _load().main(["--cpu-smoke", "--no-triton", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    impls = {(r["op"], r["impl"]) for r in rows}
    assert {("na2d", "reference-na"), ("na2d", "dense-sdpa"), ("attn_pool", "materialised")} <= impls
