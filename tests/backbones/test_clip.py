"""CLIP: parity with transformers' CLIPModel, OpenAI key layout, and the BPE tokenizer on a tiny vocabulary."""

from __future__ import annotations

import json

import pytest
import torch

from gazekit.backbones.clip import CLIPTokenizer, checkpoint_filter_fn, clip_tiny_test
from gazekit.errors import DataFormatError


def _hf_tiny(eos_token_id: int):
    transformers = pytest.importorskip("transformers")
    text = {
        "vocab_size": 100,
        "hidden_size": 32,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 16,
        "eos_token_id": eos_token_id,
        "bos_token_id": 98,
        "pad_token_id": 0,
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 28,
        "patch_size": 14,
    }
    cfg = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    hf = transformers.CLIPModel(cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return hf


def _ids(eot: int):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 90, (3, 16), generator=g)
    for r, n in enumerate([5, 16, 9]):
        ids[r, 0] = 98
        ids[r, n - 1] = eot
        ids[r, n:] = 0
    return ids


@pytest.mark.parametrize("eos", [2, 99], ids=["argmax-pooling", "eos-id-pooling"])
def test_parity_with_transformers_clip(eos):
    hf = _hf_tiny(eos)
    m = clip_tiny_test(eos_token_id=None if eos == 2 else 99).eval()
    missing, unexpected = m.load_state_dict(checkpoint_filter_fn(hf.state_dict(), m), strict=False)
    assert missing == ["visual.mask_token"] and not unexpected, (missing, unexpected)  # CLIP has no mask token
    x = torch.randn(2, 3, 28, 28)
    ids = _ids(99)
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=x)
        vis = hf.vision_model(pixel_values=x)
        tokens = m.visual.forward_features(x)
        torch.testing.assert_close(tokens, hf.vision_model.post_layernorm(vis.last_hidden_state), atol=1e-5, rtol=1e-5)
        norm = torch.nn.functional.normalize  # CLIPModel returns unit-length embeddings
        torch.testing.assert_close(m.encode_image(x), hf.visual_projection(vis.pooler_output), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(norm(m.encode_image(x), dim=-1), out.image_embeds, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(norm(m.encode_text(ids), dim=-1), out.text_embeds, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(m(x, ids), out.logits_per_image, atol=1e-5, rtol=1e-5)
        # interpolated position embedding (size rule) at a larger, non-square input
        x2 = torch.randn(1, 3, 42, 56)
        want = hf.vision_model(pixel_values=x2, interpolate_pos_encoding=True).pooler_output
        torch.testing.assert_close(m.visual.forward_features(x2)[:, 0], want, atol=1e-5, rtol=1e-5)


def _to_openai(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """gazekit CLIP keys → OpenAI ``clip`` keys (the inverse of the filter), written independently for the test."""
    out = {}
    blk = {
        "norm1": "ln_1",
        "norm2": "ln_2",
        "attn.qkv.weight": "attn.in_proj_weight",
        "attn.qkv.bias": "attn.in_proj_bias",
        "attn.proj": "attn.out_proj",
        "mlp.fc1": "mlp.c_fc",
        "mlp.fc2": "mlp.c_proj",
    }
    for k, v in sd.items():
        tower, _, rest = k.partition(".")
        if rest.startswith("blocks."):
            _, i, tail = rest.split(".", 2)
            for a, b in blk.items():
                if tail.startswith(a):
                    tail = b + tail[len(a) :]
                    break
            out[("visual." if tower == "visual" else "") + f"transformer.resblocks.{i}.{tail}"] = v
        elif k == "visual.patch_embed.weight":
            out["visual.conv1.weight"] = v
        elif k == "visual.cls_token":
            out["visual.class_embedding"] = v.reshape(-1)
        elif k == "visual.pos_embed":
            out["visual.positional_embedding"] = v[0]
        elif k == "visual.proj.weight":
            out["visual.proj"] = v.t()
        elif k.startswith("visual.norm_pre."):
            out["visual.ln_pre." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("visual.norm."):
            out["visual.ln_post." + k.rsplit(".", 1)[1]] = v
        elif k == "text.token_embedding.weight":
            out["token_embedding.weight"] = v
        elif k == "text.pos_embed":
            out["positional_embedding"] = v[0]
        elif k == "text.proj.weight":
            out["text_projection"] = v.t()
        elif k.startswith("text.norm."):
            out["ln_final." + k.rsplit(".", 1)[1]] = v
        elif k == "logit_scale":
            out[k] = v
        elif k == "visual.mask_token":
            continue
    out["attn_mask"] = torch.zeros(16, 16)
    return out


def test_openai_layout_roundtrip():
    m = clip_tiny_test().eval()
    sd = _to_openai(m.state_dict())
    m2 = clip_tiny_test().eval()
    missing, unexpected = m2.load_state_dict(checkpoint_filter_fn(sd, m2), strict=False)
    assert missing == ["visual.mask_token"] and not unexpected
    x, ids = torch.randn(1, 3, 28, 28), _ids(99)
    torch.testing.assert_close(m(x, ids), m2(x, ids))


MERGES = [("t", "h"), ("th", "e</w>"), ("c", "a"), ("ca", "t</w>"), ("a", "t</w>"), ("o", "n</w>"), ("s", "i")]


@pytest.fixture
def tiny_vocab_files(tmp_path):
    tok = CLIPTokenizer(MERGES)
    (tmp_path / "vocab.json").write_text(json.dumps(tok.encoder), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in MERGES) + "\n")
    return tmp_path


def test_tokenizer_bpe_and_padding(tiny_vocab_files):
    tok = CLIPTokenizer.from_files(tiny_vocab_files / "vocab.json", tiny_vocab_files / "merges.txt", context_length=12)
    assert len(tok.encoder) == 512 + len(MERGES) + 2
    ids = tok.encode("The  cat sat on THE mat!")
    words = [tok.decoder[i] for i in ids]
    assert words == ["the</w>", "cat</w>", "s", "at</w>", "on</w>", "the</w>", "m", "at</w>", "!</w>"]
    assert tok.decode(ids) == "the cat sat on the mat !"
    batch = tok(["the cat", "sit on the cat " * 5])
    assert batch.shape == (2, 12)
    assert batch[0, :4].tolist() == [tok.sot_id, tok.encoder["the</w>"], tok.encoder["cat</w>"], tok.eot_id]
    assert batch[0, 4:].eq(0).all() and batch[1, -1] == tok.eot_id
    assert int(batch.argmax(-1)[0]) == 3  # EOT has the largest id: argmax pooling finds it


def test_tokenizer_matches_transformers(tiny_vocab_files):
    transformers = pytest.importorskip("transformers")
    try:
        hf = transformers.CLIPTokenizer(
            vocab=str(tiny_vocab_files / "vocab.json"), merges=str(tiny_vocab_files / "merges.txt")
        )
    except Exception as e:  # pragma: no cover - constructor signature differs across transformers majors
        pytest.skip(f"transformers CLIPTokenizer cannot be built from files here: {e}")
    tok = CLIPTokenizer.from_files(tiny_vocab_files / "vocab.json", tiny_vocab_files / "merges.txt")
    for text in ["the cat", "A cat, on the mat; 42 cats!", "naïve café — théâtre", "it's they'll"]:
        want = hf(text)["input_ids"]
        got = [tok.sot_id, *tok.encode(text), tok.eot_id]
        assert got == want, text


def test_openai_merges_file_and_errors(tmp_path):
    import gzip

    p = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write("bpe_simple_vocab_16e6.txt#version: 0.2\n" + "\n".join(" ".join(m) for m in MERGES) + "\n")
    tok = CLIPTokenizer.from_openai_bpe(p)
    assert tok.encode("the cat") == [tok.encoder["the</w>"], tok.encoder["cat</w>"]]
    with pytest.raises(DataFormatError, match="not found"):
        CLIPTokenizer.from_openai_bpe(tmp_path / "missing.txt.gz")
    bad = tmp_path / "merges.txt"
    bad.write_text("#version: 0.2\nt h x\n")
    (tmp_path / "v.json").write_text("{}")
    with pytest.raises(DataFormatError, match="line 2"):
        CLIPTokenizer.from_files(tmp_path / "v.json", bad)
