"""CLIP's ResNet image tower (RN50 family) against a functional reference written from the published architecture
(OpenAI ``clip/model.py``: anti-aliased bottlenecks, 3-conv stem, attention pooling through
``F.multi_head_attention_forward``), on tiny random configs; the OpenAI/open_clip key layout; config inference;
the tokenizer read from the weights' folder."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gazekit.backbones.clip import (
    RN50_CONFIG,
    build_clip,
    checkpoint_filter_fn,
    clip_config_from_state_dict,
    clip_rn50,
    clip_rn_tiny_test,
    tokenizer_from_folder,
)
from gazekit.errors import ConfigError, DataFormatError


def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        False, 0.0, 1e-5)  # fmt: skip


def _bottleneck(x, sd, p, stride):
    out = F.relu(_bn(F.conv2d(x, sd[p + ".conv1.weight"]), sd, p + ".bn1"))
    out = F.relu(_bn(F.conv2d(out, sd[p + ".conv2.weight"], padding=1), sd, p + ".bn2"))
    if stride > 1:
        out = F.avg_pool2d(out, stride)
    out = _bn(F.conv2d(out, sd[p + ".conv3.weight"]), sd, p + ".bn3")
    if p + ".downsample.0.weight" in sd:
        idn = F.avg_pool2d(x, stride) if stride > 1 else x
        x = _bn(F.conv2d(idn, sd[p + ".downsample.0.weight"]), sd, p + ".downsample.1")
    return F.relu(out + x)


def _reference_rn(x, sd, layers, heads):
    """OpenAI's ModifiedResNet.forward on a state dict with OpenAI's names (``visual.`` stripped)."""
    x = F.relu(_bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=1), sd, "bn1"))
    x = F.relu(_bn(F.conv2d(x, sd["conv2.weight"], padding=1), sd, "bn2"))
    x = F.relu(_bn(F.conv2d(x, sd["conv3.weight"], padding=1), sd, "bn3"))
    x = F.avg_pool2d(x, 2)
    for i, n in enumerate(layers, start=1):
        for j in range(n):
            x = _bottleneck(x, sd, f"layer{i}.{j}", 2 if (i > 1 and j == 0) else 1)
    # attention pool: (HW+1, N, C) tokens with the mean first, then MHA of the first token over all
    t = x.flatten(2).permute(2, 0, 1)
    t = torch.cat([t.mean(dim=0, keepdim=True), t], dim=0) + sd["attnpool.positional_embedding"][:, None, :]
    out, _ = F.multi_head_attention_forward(
        query=t[:1], key=t, value=t, embed_dim_to_check=t.shape[-1], num_heads=heads,
        q_proj_weight=sd["attnpool.q_proj.weight"], k_proj_weight=sd["attnpool.k_proj.weight"],
        v_proj_weight=sd["attnpool.v_proj.weight"], in_proj_weight=None,
        in_proj_bias=torch.cat([sd["attnpool.q_proj.bias"], sd["attnpool.k_proj.bias"], sd["attnpool.v_proj.bias"]]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
        out_proj_weight=sd["attnpool.c_proj.weight"], out_proj_bias=sd["attnpool.c_proj.bias"],
        use_separate_proj_weight=True, training=False, need_weights=False,
    )  # fmt: skip
    return out[0]


@pytest.mark.parametrize(("layers", "width", "heads", "res"), [((1, 1, 1, 1), 8, 2, 64), ((2, 1, 2, 1), 16, 4, 96)])
def test_rn_tower_matches_the_published_architecture(layers, width, heads, res):
    torch.manual_seed(0)
    cfg = {
        "embed_dim": 20,
        "vision": {"type": "resnet", "layers": list(layers), "width": width, "heads": heads, "image_size": res},
        "text": {"vocab_size": 50, "context_length": 8, "width": 16, "layers": 1, "heads": 2},
    }
    m = build_clip(cfg).eval()
    with torch.no_grad():  # non-trivial BN statistics and weights
        for name, b in m.visual.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(0, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
        for p in m.visual.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    sd = {k[len("visual.") :]: v for k, v in m.state_dict().items() if k.startswith("visual.")}
    x = torch.randn(2, 3, res, res)
    with torch.no_grad():
        torch.testing.assert_close(m.encode_image(x), _reference_rn(x, sd, layers, heads), atol=1e-5, rtol=1e-4)
        # another input size resizes the pooling position grid (open_clip's rule), no crash, right shape
        assert m.encode_image(torch.randn(1, 3, res + 32, res)).shape == (1, 20)


def test_rn50_shapes_and_openai_layout():
    m = clip_rn50()
    assert sum(p.numel() for p in m.visual.parameters()) == 38_316_896  # OpenAI RN50's image tower
    sd = m.state_dict()
    assert clip_config_from_state_dict(sd) == RN50_CONFIG
    for k in ("visual.layer1.0.downsample.0.weight", "visual.attnpool.positional_embedding", "visual.bn3.running_var"):
        assert k in sd


def test_openai_rn_state_dict_loads_and_fills_bn_counters():
    torch.manual_seed(1)
    src = clip_rn_tiny_test()
    sd = src.state_dict()
    openai = {k: v for k, v in sd.items() if k.startswith("visual.") and not k.endswith("num_batches_tracked")}
    for k, v in sd.items():
        if k.startswith("text.blocks."):
            rest = k[len("text.blocks.") :].replace("norm1", "ln_1").replace("norm2", "ln_2")
            rest = rest.replace("attn.qkv.weight", "attn.in_proj_weight").replace("attn.qkv.bias", "attn.in_proj_bias")
            rest = (
                rest.replace("attn.proj", "attn.out_proj")
                .replace("mlp.fc1", "mlp.c_fc")
                .replace("mlp.fc2", "mlp.c_proj")
            )
            openai["transformer.resblocks." + rest] = v
    openai["token_embedding.weight"] = sd["text.token_embedding.weight"]
    openai["positional_embedding"] = sd["text.pos_embed"][0]
    openai["text_projection"] = sd["text.proj.weight"].t()
    openai["ln_final.weight"], openai["ln_final.bias"] = sd["text.norm.weight"], sd["text.norm.bias"]
    openai["logit_scale"] = sd["logit_scale"]
    dst = clip_rn_tiny_test()
    dst.load_state_dict(checkpoint_filter_fn(openai), strict=True)
    x, ids = torch.randn(1, 3, 64, 64), torch.randint(1, 99, (2, 16))
    src.eval(), dst.eval()
    torch.testing.assert_close(dst(x, ids), src(x, ids))


def test_config_errors_and_tokenizer_folder(tmp_path):
    with pytest.raises(ConfigError):
        build_clip({"embed_dim": 8, "vision": {"type": "swin"}, "text": {}})
    with pytest.raises(ConfigError):
        clip_config_from_state_dict({"visual.conv1.weight": torch.zeros(1)})
    with pytest.raises(DataFormatError, match="vocab.json"):
        tokenizer_from_folder(tmp_path)
    (tmp_path / "vocab.json").write_text('{"a": 0, "a</w>": 1, "<|startoftext|>": 2, "<|endoftext|>": 3}')
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    tok = tokenizer_from_folder(tmp_path, context_length=4)
    assert tok("a").tolist() == [[2, 1, 3, 0]]
