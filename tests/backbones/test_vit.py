"""DINOv2-layout ViT: shapes, masks, registers, q/k export, and parity with transformers' Dinov2Model."""

from __future__ import annotations

import pytest
import torch

from gazekit.backbones.vit import VisionTransformer, checkpoint_filter_fn, vit_small_patch14_dinov2, vit_tiny_test
from gazekit.errors import ConfigError


def _official_keys(model: VisionTransformer) -> dict[str, torch.Tensor]:
    """The gazekit state dict renamed to the official DINOv2 key layout (patch_embed.proj.*, mask_token [1, C])."""
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith("patch_embed."):
            k = "patch_embed.proj." + k[len("patch_embed.") :]
        out[k] = v.clone()
    return out


def test_shapes_and_tokens():
    m = vit_tiny_test(num_register_tokens=2).eval()
    x = torch.randn(2, 3, 70, 42)
    gh, gw = m.grid_size(70, 42)
    assert (gh, gw) == (5, 3)
    t = m.forward_features(x)
    assert t.shape == (2, 1 + 2 + gh * gw, 32)
    t2, qk = m.forward_with_attention(x, [1, -1])
    torch.testing.assert_close(t, t2)
    assert len(qk) == 2
    q, k = qk[0]
    assert q.shape == k.shape == (2, 2, 1 + 2 + 15, 16)


def test_qk_reproduce_the_block_attention():
    m = vit_tiny_test().eval()
    x = torch.randn(1, 3, 56, 56)
    _, [(q, k)] = m.forward_with_attention(x, [0])
    blk = m.blocks[0]
    h = blk.norm1(m.prepare_tokens(x))
    q2, k2, v2 = blk.attn.qkv_heads(h)
    torch.testing.assert_close(q, q2)
    torch.testing.assert_close(k, k2)
    p = torch.softmax(q @ k.transpose(-1, -2) * (16**-0.5), -1)
    o = blk.attn.proj((p @ v2).transpose(1, 2).reshape(1, -1, 32))
    torch.testing.assert_close(o, blk.attn(h), atol=1e-6, rtol=1e-5)


def test_masks_replace_patches():
    m = vit_tiny_test().eval()
    with torch.no_grad():
        m.mask_token.normal_()
    x = torch.randn(2, 3, 56, 56)
    masks = torch.zeros(2, 16, dtype=torch.bool)
    masks[0, :8] = True
    a = m.forward_features(x, masks=masks)
    b = m.forward_features(x)
    assert not torch.allclose(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    # a fully masked image does not depend on its pixels
    full = torch.ones(2, 16, dtype=torch.bool)
    torch.testing.assert_close(m.forward_features(x, full)[0], m.forward_features(torch.randn_like(x), full)[0])
    with pytest.raises(ConfigError):
        m.forward_features(x, masks=torch.zeros(2, 5, dtype=torch.bool))


def test_pos_embed_interpolation_matches_dinov2_rule():
    m = vit_tiny_test()
    pe = m.interpolate_pos_embed(4, 4)
    assert pe is m.pos_embed
    pe = m.interpolate_pos_embed(6, 3)
    assert pe.shape == (1, 1 + 18, 32)
    grid = m.pos_embed[:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    want = torch.nn.functional.interpolate(grid, scale_factor=(6.1 / 4, 3.1 / 4), mode="bicubic")
    torch.testing.assert_close(pe[:, 1:], want.permute(0, 2, 3, 1).reshape(1, 18, 32))


def test_official_checkpoint_layout_roundtrip():
    m = vit_tiny_test(num_register_tokens=1)
    sd = _official_keys(m)
    sd["mask_token"] = sd["mask_token"].reshape(1, -1)
    sd["head.weight"] = torch.zeros(1)  # heads are dropped
    m2 = vit_tiny_test(num_register_tokens=1)
    m2.load_state_dict(checkpoint_filter_fn(sd, m2))
    x = torch.randn(1, 3, 42, 56)
    torch.testing.assert_close(m.eval()(x), m2.eval()(x))
    with pytest.raises(ConfigError, match="pos_embed_grid=4"):
        checkpoint_filter_fn(sd, vit_tiny_test(pos_embed_grid=5))


def test_small_has_dinov2_parameter_count():
    with torch.device("meta"):
        m = vit_small_patch14_dinov2()
    n = sum(p.numel() for p in m.parameters())
    assert 21.9e6 < n < 22.2e6  # ViTGaze's backbone: 22.06 M


@pytest.mark.parametrize("size", [(56, 56), (70, 42)], ids=["native-grid", "interpolated-nonsquare"])
def test_parity_with_transformers_dinov2(size):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.Dinov2Config(
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=128,
        image_size=56,
        patch_size=14,
        layerscale_value=0.5,
        attn_implementation="eager",
    )
    hf = transformers.Dinov2Model(cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    m = vit_tiny_test(depth=3, interpolate_offset=0.0).eval()
    missing, unexpected = m.load_state_dict(checkpoint_filter_fn(hf.state_dict(), m), strict=False)
    assert not unexpected and not missing
    x = torch.randn(2, 3, *size)
    masks = torch.rand(2, (size[0] // 14) * (size[1] // 14)) < 0.3
    with torch.no_grad():
        want = hf(pixel_values=x, bool_masked_pos=masks).last_hidden_state
        got = m.forward_features(x, masks=masks)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_legacy_hub_dinov2_key_names():
    """Checkpoints on the hub (facebook/dinov2-*) use attention.attention.{query,key,value} / attention.output.dense."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, image_size=56, patch_size=14
    )
    sd = transformers.Dinov2Model(cfg).state_dict()
    ren = {
        "q_proj": "attention.query",
        "k_proj": "attention.key",
        "v_proj": "attention.value",
        "o_proj": "output.dense",
    }
    legacy = {}
    for k, v in sd.items():
        for a, b in ren.items():
            k = k.replace(f"attention.{a}.", f"attention.{b}.")
        legacy["dinov2." + k] = v
    m = vit_tiny_test(depth=2)
    a = checkpoint_filter_fn(sd, m)
    b = checkpoint_filter_fn(legacy, m)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    m.load_state_dict(a)


def test_forward_pooled_attention_matches_naive_maps():
    m = vit_tiny_test(num_register_tokens=1).eval()
    x = torch.randn(2, 3, 42, 56)
    gh, gw = m.grid_size(42, 56)
    w = torch.softmax(torch.randn(2, gh * gw), -1)
    with torch.no_grad():
        tokens, maps = m.forward_pooled_attention(x, [0, 3], w)
        _, qks = m.forward_with_attention(x, [0, 3])
    assert maps.shape == (2, 2 * 2, gh, gw)
    want = []
    for q, k in qks:
        a = torch.softmax(q @ k.transpose(-1, -2) * 16**-0.5, -1)[:, :, 2:, 2:]  # drop CLS + register after softmax
        want.append(torch.einsum("bn,bhnm->bhm", w, a))
    torch.testing.assert_close(maps, torch.cat(want, 1).reshape(2, 4, gh, gw), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(tokens, m.forward_features(x))
    with pytest.raises(ConfigError, match="weights"):
        m.forward_pooled_attention(x, [0], w[:, :3])


@pytest.mark.parametrize("size", [(56, 56), (70, 42)], ids=["native-grid", "interpolated-nonsquare"])
def test_parity_with_transformers_dinov2_registers(size):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.Dinov2WithRegistersConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        image_size=56,
        patch_size=14,
        num_register_tokens=3,
        layerscale_value=0.5,
    )
    cfg._attn_implementation = "eager"
    hf = transformers.Dinov2WithRegistersModel(cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    m = vit_tiny_test(depth=2, num_register_tokens=3, interpolate_offset=0.0, interpolate_antialias=True).eval()
    m.load_state_dict(checkpoint_filter_fn(hf.state_dict(), m))
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        torch.testing.assert_close(m(x), hf(pixel_values=x).last_hidden_state, atol=1e-5, rtol=1e-5)
    with torch.device("meta"):
        reg = vit_small_patch14_dinov2(num_register_tokens=4)
    assert reg.interpolate_antialias and reg.interpolate_offset == 0.0
