"""NAT/DiNAT: published key layout, sizes, and blocks on the Triton kernel equal the reference path."""

from __future__ import annotations

import pytest
import torch

from gazekit.backbones.nat import (
    NATLayer,
    checkpoint_filter_fn,
    dinat_mini,
    nat_base,
    nat_mini,
    nat_tiny,
    nat_tiny_test,
)
from gazekit.kernels._backend import interpreting, triton_available

# names as in SHI-Labs/Neighborhood-Attention-Transformer classification/nat.py (+ natten.py's NeighborhoodAttention)
PUBLISHED_KEYS = [
    "patch_embed.proj.0.weight",
    "patch_embed.proj.0.bias",
    "patch_embed.proj.1.weight",
    "patch_embed.norm.weight",
    "levels.0.blocks.0.norm1.weight",
    "levels.0.blocks.0.attn.qkv.weight",
    "levels.0.blocks.0.attn.qkv.bias",
    "levels.0.blocks.0.attn.rpb",
    "levels.0.blocks.0.attn.proj.weight",
    "levels.0.blocks.0.norm2.bias",
    "levels.0.blocks.0.mlp.fc1.weight",
    "levels.0.blocks.0.mlp.fc2.bias",
    "levels.0.downsample.reduction.weight",
    "levels.0.downsample.norm.weight",
    "levels.3.blocks.4.attn.rpb",
    "norm.weight",
    "head.weight",
]


@pytest.mark.parametrize(("ctor", "millions"), [(nat_mini, 20), (nat_tiny, 28), (nat_base, 90)])
def test_sizes_match_published(ctor, millions):
    with torch.device("meta"):
        m = ctor(num_classes=1000)
    n = sum(p.numel() for p in m.parameters()) / 1e6
    assert abs(n - millions) < 1.0, n


def test_published_key_layout():
    with torch.device("meta"):
        m = nat_mini(num_classes=1000)
        s = nat_base(num_classes=1000)
    keys = set(m.state_dict())
    assert set(PUBLISHED_KEYS) <= keys
    assert m.state_dict()["levels.0.blocks.0.attn.rpb"].shape == (2, 13, 13)
    assert "levels.2.blocks.17.gamma1" in s.state_dict()  # NAT-S/B carry LayerScale
    assert "levels.0.blocks.0.gamma1" not in keys


def test_checkpoint_filter_fn_roundtrip():
    m = nat_tiny_test(num_classes=5)
    ckpt = {"model": {"module." + k: v.clone() for k, v in m.state_dict().items()}}
    m2 = nat_tiny_test(num_classes=5)
    m2.load_state_dict(checkpoint_filter_fn(ckpt, m2))
    headless = nat_tiny_test()
    headless.load_state_dict(checkpoint_filter_fn(ckpt, headless))
    x = torch.randn(1, 3, 48, 40)
    torch.testing.assert_close(m.eval()(x), m2.eval()(x))


def test_shapes_and_small_map_padding(monkeypatch):
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "naive")
    m = nat_tiny_test().eval()
    x = torch.randn(2, 3, 52, 36)  # level maps 13×9 and 7×5
    levels = m.forward_levels(x)
    assert [t.shape for t in levels] == [(2, 16, 13, 9), (2, 32, 7, 5)]
    assert m(x).shape == (2, 32)
    tiny = torch.randn(1, 3, 16, 16)  # 4×4 map: smaller than kernel 3 × dilation 2 → padded
    assert m(tiny).shape == (1, 32)
    with torch.device("meta"):
        dm = dinat_mini()
    assert [b.attn.dilation for b in dm.levels[0].blocks] == [1, 8, 1]


@pytest.mark.kernels
def test_nat_blocks_on_triton_equal_reference_path(monkeypatch):
    if not triton_available() or (not torch.cuda.is_available() and not interpreting()):
        pytest.skip("triton cannot run here")
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    layer = NATLayer(16, 2, kernel_size=3, dilation=2, mlp_ratio=2.0, layer_scale=0.5).to(dev)
    with torch.no_grad():
        layer.attn.rpb.normal_()
    x = torch.randn(2, 7, 9, 16, device=dev, requires_grad=True)
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "naive")
    want = layer(x)
    (gx_want,) = torch.autograd.grad(want.square().sum(), x)
    monkeypatch.setenv("GAZEKIT_ATTN_BACKEND", "triton")
    monkeypatch.setenv("GAZEKIT_TF32", "0")
    got = layer(x)
    (gx,) = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(gx, gx_want, atol=1e-4, rtol=1e-4)
