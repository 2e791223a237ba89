"""neighborhood_attention_2d: window rule, Triton (interpreter on CPU) vs the float64 reference, FlexAttention."""

from __future__ import annotations

import pytest
import torch

from gazekit.errors import ConfigError
from gazekit.kernels import neighborhood_attention_2d
from gazekit.kernels.neighborhood import na2d_dense_mask, na2d_reference, na2d_sdpa
from gazekit.kernels.neighborhood.reference import neighborhood_index
from tests.kernels._rules import assert_flash_rule
from tests.kernels.conftest import DEVICE

pytestmark = pytest.mark.kernels


def _natten_window_start(index: int, length: int, kernel: int, dilation: int) -> int:
    """NATTEN ≤ 0.17 naive-kernel rule, written out branch by branch (independent of the closed form)."""
    r = kernel // 2
    if dilation <= 1:
        start = max(index - r, 0)
        if index + r >= length:
            start += length - index - r - 1
        return start
    ni = index - r * dilation
    if ni < 0:
        return index % dilation
    if index + r * dilation >= length:
        imodd = index % dilation
        a = (length // dilation) * dilation
        b = length - a
        if imodd < b:
            return length - b + imodd - 2 * r * dilation
        return a + imodd - kernel * dilation
    return ni


def _natten_pb_start(index: int, length: int, kernel: int, dilation: int) -> int:
    r = kernel // 2
    if dilation <= 1:
        return r + (r - index if index < r else 0) + (length - index - 1 - r if index + r >= length else 0)
    if index - r * dilation < 0:
        return kernel - 1 - (index // dilation)
    if index + r * dilation >= length:
        return (length - index - 1) // dilation
    return r


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_window_rule_matches_natten(kernel, dilation):
    for length in range(kernel * dilation, kernel * dilation + 8):
        idx, rho = neighborhood_index(length, kernel, dilation)
        for i in range(length):
            s = _natten_window_start(i, length, kernel, dilation)
            assert idx[i].tolist() == [s + dilation * t for t in range(kernel)], (length, i)
            assert i in idx[i].tolist()
            assert int(rho[i, 0]) == _natten_pb_start(i, length, kernel, dilation), (length, i)


def test_every_query_has_full_window_on_nonsquare_map():
    """attention-gym's generate_natten gives 20–35 neighbours here (kernels.md §2); the NATTEN rule gives 35."""
    mask = torch.isfinite(na2d_dense_mask(12, 20, (5, 7)))[0]
    assert (mask.sum(-1) == 35).all()


def _inputs(b, h, w, nh, d, ks, rpb, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v, do = (torch.randn(b, h, w, nh, d, generator=g).to(DEVICE) for _ in range(4))
    bias = torch.randn(nh, 2 * ks[0] - 1, 2 * ks[1] - 1, generator=g).to(DEVICE) if rpb else None
    return q, k, v, bias, do


def _run(fn, q, k, v, bias, do, ks, dil, dtype):
    ts = [x.to(dtype).requires_grad_() for x in (q, k, v)]
    b = bias.to(dtype).requires_grad_() if bias is not None else None
    o = fn(*ts, ks, dil, b)
    grads = torch.autograd.grad(o, ts + ([b] if b is not None else []), do.to(dtype))
    return (o, *grads)


CASES = {
    "5x7-k3x5-rpb": ((1, 5, 7, 2, 8), (3, 5), (1, 1), True),
    "9x13-k3x5-d2-rpb": ((2, 9, 13, 1, 8), (3, 5), (2, 2), True),
    "12x20-k5x7": ((1, 12, 20, 1, 16), (5, 7), (1, 1), False),
    "20x11-k5x3-d3x2-rpb": ((1, 20, 11, 2, 12), (5, 3), (3, 2), True),
    "18x19-k7-d2-rpb": ((1, 18, 19, 1, 16), (7, 7), (2, 2), True),  # 2×2 tiles in both directions
    "13x15-k13x11-rpb": ((1, 13, 15, 1, 8), (13, 11), (1, 1), True),
}
DEFAULT = [
    ("5x7-k3x5-rpb", torch.float32),
    ("9x13-k3x5-d2-rpb", torch.float32),
    ("12x20-k5x7", torch.float32),
    ("20x11-k5x3-d3x2-rpb", torch.float32),
    ("18x19-k7-d2-rpb", torch.float32),
    ("13x15-k13x11-rpb", torch.float32),
    ("5x7-k3x5-rpb", torch.float16),
    ("9x13-k3x5-d2-rpb", torch.float16),
    ("5x7-k3x5-rpb", torch.bfloat16),
    ("9x13-k3x5-d2-rpb", torch.bfloat16),
]
SWEEP = [(c, dt) for c in CASES for dt in (torch.float16, torch.bfloat16) if (c, dt) not in DEFAULT]


def _check(case, dtype):
    shape, ks, dil, rpb = CASES[case]
    q, k, v, bias, do = _inputs(*shape, ks, rpb)
    ref = _run(na2d_reference, q, k, v, bias, do, ks, dil, torch.float64)
    same = _run(na2d_reference, q, k, v, bias, do, ks, dil, dtype)
    got = _run(neighborhood_attention_2d, q, k, v, bias, do, ks, dil, dtype)
    for name, g, s, r in zip(("out", "dq", "dk", "dv", "drpb"), got, same, ref, strict=False):
        assert g.dtype == dtype
        assert_flash_rule(f"{case}:{name}", g, s, r, dtype)


@pytest.mark.parametrize(("case", "dtype"), DEFAULT, ids=[f"{c}-{str(d)[6:]}" for c, d in DEFAULT])
def test_triton_matches_reference(triton_backend, case, dtype):
    _check(case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "dtype"), SWEEP, ids=[f"{c}-{str(d)[6:]}" for c, d in SWEEP])
def test_triton_matches_reference_sweep(triton_backend, case, dtype):
    _check(case, dtype)


def test_sdpa_backend_and_scale(monkeypatch):
    q, k, v, bias, _ = _inputs(2, 9, 6, 3, 8, (3, 3), True)
    want = na2d_reference(q.double(), k.double(), v.double(), (3, 3), (3, 2), bias.double(), scale=0.7)
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "sdpa")
    got = neighborhood_attention_2d(q, k, v, 3, (3, 2), rpb=bias, scale=0.7)
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=0)


def test_flex_attention_mask_agrees():
    """Kernel 1's definition against FlexAttention with a NATTEN-rule mask_mod and an RPB score_mod."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    except ImportError:
        pytest.skip("torch has no flex_attention")
    b, h, w, nh, d, ks, dil = 1, 12, 20, 2, 16, (5, 7), (2, 1)
    q, k, v, bias, _ = _inputs(b, h, w, nh, d, ks, True)

    def start(x, length, kernel, dd):
        g = x % dd
        lg = (length - g + dd - 1) // dd
        return g + dd * torch.clamp(torch.clamp(x // dd - kernel // 2, min=0), max=lg - kernel)

    def inside(qx, kx, length, kernel, dd):
        off = kx - start(qx, length, kernel, dd)
        return (off >= 0) & (off <= (kernel - 1) * dd) & (off % dd == 0)

    def mask_mod(b_, h_, qi, ki):
        return inside(qi // w, ki // w, h, ks[0], dil[0]) & inside(qi % w, ki % w, w, ks[1], dil[1])

    def score_mod(score, b_, h_, qi, ki):
        rh = (ki // w - qi // w) // dil[0] + ks[0] - 1
        rw = (ki % w - qi % w) // dil[1] + ks[1] - 1
        # score_mod also runs on masked-out pairs: clamp their (unused) table indices into range
        return score + bias[h_, rh.clamp(0, 2 * ks[0] - 2), rw.clamp(0, 2 * ks[1] - 2)]

    try:
        bm = create_block_mask(mask_mod, b, nh, h * w, h * w, device=DEVICE)
        qf, kf, vf = (t.reshape(b, h * w, nh, d).transpose(1, 2) for t in (q, k, v))
        o = flex_attention(qf, kf, vf, score_mod=score_mod, block_mask=bm)
    except Exception as e:  # pragma: no cover - depends on the torch build
        pytest.skip(f"flex_attention does not run here: {type(e).__name__}: {e}")
    got = o.transpose(1, 2).reshape(b, h, w, nh, d)
    torch.testing.assert_close(got, na2d_reference(q, k, v, ks, dil, bias), atol=2e-5, rtol=0)
    torch.testing.assert_close(na2d_sdpa(q, k, v, ks, dil, bias), got, atol=2e-5, rtol=0)


def test_nan_stays_local(triton_backend):
    """A NaN key poisons exactly the queries whose window holds it (and nothing else)."""
    q, k, v, bias, _ = _inputs(1, 9, 8, 1, 8, (3, 3), True)
    k[0, 0, 0, 0, 0] = float("nan")
    got = neighborhood_attention_2d(q, k, v, 3, rpb=bias)
    bad = torch.isnan(got[0, :, :, 0]).any(-1)
    want = torch.zeros(9, 8, dtype=torch.bool)
    want[:2, :2] = True  # queries (i, j) with i, j ≤ 1 have (0, 0) in their clamped 3×3 window
    assert torch.equal(bad.cpu(), want)


def test_empty_batch(triton_backend):
    q = torch.randn(0, 5, 7, 2, 8, device=DEVICE, requires_grad=True)
    o = neighborhood_attention_2d(q, q, q, 3)
    assert o.shape == q.shape
    o.sum().backward()


def test_bad_arguments():
    q = torch.randn(1, 5, 7, 2, 8)
    with pytest.raises(ConfigError, match="odd"):
        neighborhood_attention_2d(q, q, q, 4)
    with pytest.raises(ConfigError, match="kernel 3 × dilation 2"):
        neighborhood_attention_2d(q, q, q, 3, dilation=2)
    with pytest.raises(ConfigError, match="rpb"):
        neighborhood_attention_2d(q, q, q, 3, rpb=torch.zeros(2, 3, 3))
    with pytest.raises(ConfigError, match="shape"):
        neighborhood_attention_2d(q, q[..., :4], q, 3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_deterministic_on_gpu(triton_backend):
    q, k, v, bias, do = _inputs(2, 32, 48, 4, 32, (7, 7), True)
    runs = [_run(neighborhood_attention_2d, q, k, v, bias, do, (7, 7), (2, 1), torch.float16) for _ in range(2)]
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)
