"""attention_pool: Triton (interpreter on CPU) vs the float64 reference, gradients, edge cases, dispatch."""

from __future__ import annotations

import pytest
import torch

from gazekit.errors import ConfigError
from gazekit.kernels import attention_pool
from gazekit.kernels.attn_pool import attention_pool_reference
from tests.kernels._rules import assert_flash_rule
from tests.kernels.conftest import DEVICE

pytestmark = pytest.mark.kernels

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def _inputs(b, h, n, m, d, dtype, w_kind="softmax", seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, h, n, d, generator=g)
    k = torch.randn(b, h, m, d, generator=g)
    if w_kind == "softmax":
        w = torch.softmax(torch.randn(b, n, generator=g) * 2, -1)
    elif w_kind == "onehot":
        w = torch.zeros(b, n)
        w[:, n // 2] = 1.0
    else:  # signed, not normalised
        w = torch.randn(b, n, generator=g)
    dy = torch.randn(b, h, m, generator=g)
    return [x.to(DEVICE) for x in (q, k, w, dy)]


def _run(fn, q, k, w, dy, dtype, scale=None):
    ts = [x.to(dtype).requires_grad_() for x in (q, k, w)]
    y = fn(*ts, scale)
    grads = torch.autograd.grad(y, ts, dy.to(y.dtype))
    return (y, *grads)


CASES = {
    "odd-NneM": (2, 3, 35, 37, 8, "softmax"),
    "N1-M1": (1, 2, 1, 1, 16, "signed"),
    "onehot-D12": (1, 2, 20, 23, 12, "onehot"),
    "multiblock-D16": (1, 1, 130, 19, 16, "signed"),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).split(".")[-1])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_triton_matches_reference(triton_backend, case, dtype):
    b, h, n, m, d, w_kind = CASES[case]
    q, k, w, dy = _inputs(b, h, n, m, d, dtype, w_kind)
    ref = _run(attention_pool_reference, q, k, w, dy, torch.float64)
    same = _run(attention_pool_reference, q, k, w, dy, dtype)
    got = _run(attention_pool, q, k, w, dy, dtype)
    for name, g, s, r in zip(("out", "dq", "dk", "dw"), got, same, ref, strict=True):
        assert g.dtype == s.dtype
        assert_flash_rule(f"{case}:{name}", g, s, r, dtype)


def test_custom_scale_and_strided_inputs(triton_backend):
    q, k, w, dy = _inputs(2, 2, 9, 11, 8, torch.float32)
    qkv = torch.randn(2, 11, 3, 2, 8, device=DEVICE).permute(2, 0, 3, 1, 4)  # ViT layout: non-contiguous views
    q, k = qkv[0][:, :, :9], qkv[1]
    ref = attention_pool_reference(q.double(), k.double(), w.double(), 0.3)
    got = attention_pool(q, k, w, scale=0.3)
    torch.testing.assert_close(got.double(), ref, atol=1e-6, rtol=0)


def test_vitgaze_use_drop_prefix_after_softmax(triton_backend):
    """Patch queries, all tokens as keys, CLS/register columns dropped after the softmax (models.md §4)."""
    b, h, r, gh, gw, d = 2, 3, 1, 3, 4, 8
    t = 1 + r + gh * gw
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(2, b, h, t, d, generator=g).to(DEVICE)
    mask = torch.zeros(b, gh * gw, dtype=torch.bool, device=DEVICE)
    mask[0, [1, 2, 5]] = True
    mask[1, :] = True  # S covers all patches
    score = torch.randn(b, gh * gw, generator=g).to(DEVICE).masked_fill(~mask, -1e9)
    w = torch.softmax(score, -1)
    # naive: full attention (CLS included in the normalisation), drop prefix rows/cols, weight the rows
    p = torch.softmax(q.double() @ k.double().transpose(-1, -2) * d**-0.5, -1)[:, :, 1 + r :, 1 + r :]
    want = torch.einsum("bq,bhqk->bhk", w.double(), p).reshape(b, h, gh, gw)
    got = attention_pool(q[:, :, 1 + r :], k, w)[:, :, 1 + r :].reshape(b, h, gh, gw)
    torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0)


@pytest.mark.parametrize("backend", ["naive", "triton"])
def test_empty_inputs(backend, monkeypatch, request):
    if backend == "triton":
        request.getfixturevalue("triton_backend")
    else:
        monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "naive")
    q = torch.randn(2, 3, 0, 8, device=DEVICE, requires_grad=True)
    k = torch.randn(2, 3, 5, 8, device=DEVICE, requires_grad=True)
    w = torch.zeros(2, 0, device=DEVICE, requires_grad=True)
    y = attention_pool(q, k, w)
    assert y.shape == (2, 3, 5) and float(y.abs().sum()) == 0
    y.sum().backward()
    assert k.grad is not None and float(k.grad.abs().sum()) == 0
    y = attention_pool(torch.randn(1, 1, 4, 8, device=DEVICE), torch.randn(1, 1, 0, 8, device=DEVICE), torch.ones(1, 4))
    assert y.shape == (1, 1, 0)


def test_nan_propagates(triton_backend):
    q, k, w, _ = _inputs(1, 1, 5, 7, 8, torch.float32)
    q[0, 0, 2, 0] = float("nan")
    y = attention_pool(q, k, w)
    assert torch.isnan(y).all()  # a NaN query row spreads over every key through its softmax
    w2 = w.clone()
    w2[0, 2] = 0.0
    q2 = q.clone()
    q2[0, 0, 2] = 0.0
    assert not torch.isnan(attention_pool(q2, k, w2)).any()


def test_dispatch(monkeypatch):
    q, k, w, _ = _inputs(1, 1, 3, 4, 8, torch.float32)
    monkeypatch.delenv("GAZEKIT_ATTN_BACKEND", raising=False)
    torch.testing.assert_close(attention_pool(q, k, w), attention_pool_reference(q, k, w))
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "sdpa")  # no SDPA form: the reference
    torch.testing.assert_close(attention_pool(q, k, w), attention_pool_reference(q, k, w))
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "bogus")
    with pytest.raises(ConfigError, match="GAZEKIT_ATTN_BACKEND"):
        attention_pool(q, k, w)
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "triton")
    with pytest.raises(ConfigError, match="Triton"):
        attention_pool(q.double(), k.double(), w.double())
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "naive")
    with pytest.raises(ConfigError, match="w must be"):
        attention_pool(q, k, w[:, :2])
    with pytest.raises(ConfigError):
        attention_pool(q, k[..., :4], w)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_memory_is_linear_in_n_on_gpu():
    b, h, n, d = 1, 6, 4096, 64
    q = torch.randn(b, h, n, d, device="cuda", dtype=torch.float16)
    k = torch.randn_like(q)
    w = torch.softmax(torch.randn(b, n, device="cuda"), -1)
    from gazekit.kernels.attn_pool.triton import AttentionPoolFunction

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    AttentionPoolFunction.apply(q, k, w, d**-0.5)
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    assert extra < 16 * b * h * n * 4  # O(N) workspace, far below the 4096² map (≈ 400 MB in fp32)
