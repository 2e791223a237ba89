"""Backbone weight resolution (explicit → GAZEKIT_WEIGHTS_DIR → hub cache → error) and loading through the filters."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from gazekit.backbones import loading
from gazekit.backbones.clip import checkpoint_filter_fn as clip_filter
from gazekit.backbones.loading import BACKBONE_WEIGHTS, BUILDERS, load_backbone, resolve_backbone_weights
from gazekit.backbones.vit import vit_tiny_test
from gazekit.errors import BadWeightsError, ConfigError, WeightsNotFoundError


def test_table_schema():
    for name, spec in BACKBONE_WEIGHTS.items():
        assert spec.get("url") or spec.get("urls"), name
        assert spec["filename"] and "sha256" in spec and spec["description"], name
        for u in spec.get("urls") or [spec["url"]]:
            assert u.startswith(("https://", "http://")), name
    assert BACKBONE_WEIGHTS["dinov2_vits14"]["filename"] == "dinov2_vits14_pretrain.pth"


def test_download_registry_sees_the_table():
    download = pytest.importorskip("gazekit.datasets.download")
    reg = download.registry()
    assert {"dinov2_vits14", "clip_vit_b32", "vgg16", "nat_mini"} <= set(reg)


def test_missing_weights_error_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="gazekit download dinov2_vits14"):
        resolve_backbone_weights("dinov2_vits14")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        resolve_backbone_weights("dinov2_vits14", tmp_path / "nope.pth")
    with pytest.raises(ConfigError, match="unknown backbone"):
        resolve_backbone_weights("resnet9000")


def test_resolution_order_and_safetensors_first(monkeypatch, tmp_path):
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    d = tmp_path / "dinov2_vits14"  # where `gazekit download dinov2_vits14 --root <dir>` puts it
    d.mkdir()
    (d / "dinov2_vits14_pretrain.pth").write_bytes(b"x")
    assert resolve_backbone_weights("dinov2_vits14") == d / "dinov2_vits14_pretrain.pth"
    (d / "model.safetensors").write_bytes(b"x")
    assert resolve_backbone_weights("dinov2_vits14") == d / "model.safetensors"
    explicit = tmp_path / "elsewhere.pth"
    explicit.write_bytes(b"x")
    assert resolve_backbone_weights("dinov2_vits14", explicit) == explicit
    assert resolve_backbone_weights("dinov2_vits14", d) == d / "model.safetensors"


def test_load_backbone_maps_official_dinov2_keys(monkeypatch, tmp_path):
    BUILDERS.update(loading._builders())
    monkeypatch.setitem(BUILDERS, "dinov2_vits14", vit_tiny_test)
    src = vit_tiny_test().eval()
    sd = {("patch_embed.proj." + k[12:] if k.startswith("patch_embed.") else k): v for k, v in src.state_dict().items()}
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(sd, path)
    m = load_backbone("dinov2_vits14", path).eval()
    x = torch.randn(1, 3, 56, 42)
    torch.testing.assert_close(m(x), src(x))
    # safetensors, strict failure on a foreign checkpoint
    bad = tmp_path / "bad.safetensors"
    save_file({"foo": torch.zeros(1)}, str(bad))
    with pytest.raises(ConfigError, match="does not fit"):
        load_backbone("dinov2_vits14", bad)
    assert isinstance(load_backbone("dinov2_vits14", pretrained=False), torch.nn.Module)


# ---------------------------------------------------------------------- bad weight files: gazekit errors naming the file
@pytest.fixture
def tiny_dinov2(monkeypatch):
    BUILDERS.update(loading._builders())
    monkeypatch.setitem(BUILDERS, "dinov2_vits14", vit_tiny_test)
    return vit_tiny_test().eval()


def official(m: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A gazekit ViT state dict in the official DINOv2 release's names."""
    return {("patch_embed.proj." + k[12:] if k.startswith("patch_embed.") else k): v for k, v in m.state_dict().items()}


def test_loaded_backbone_is_in_eval_mode(tiny_dinov2, tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in official(tiny_dinov2).items()}, str(path))
    assert not load_backbone("dinov2_vits14", path).training


def test_missing_file_fails_before_the_network_is_built(monkeypatch, tmp_path):
    BUILDERS.update(loading._builders())

    def never(**kw):
        raise AssertionError("built before the file was found")

    monkeypatch.setitem(BUILDERS, "dinov2_vitl14", never)
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="gazekit download dinov2_vitl14"):
        load_backbone("dinov2_vitl14")


def test_another_model_size_is_named_not_a_torch_runtime_error(tiny_dinov2, tmp_path):
    bigger = vit_tiny_test(embed_dim=64, num_heads=2)  # ViT-B weights for a ViT-S, in miniature
    path = tmp_path / "dinov2_vitb14_pretrain.pth"
    torch.save(official(bigger), path)
    with pytest.raises(BadWeightsError, match=r"dinov2_vitb14_pretrain\.pth: .*wrong shape.*another model size") as e:
        load_backbone("dinov2_vits14", path)
    assert "pos_embed (1, 17, 64) (model (1, 17, 32))" in str(e.value)


def test_missing_key_projection_is_named(tiny_dinov2, tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=128, image_size=56, patch_size=14
    )
    sd = transformers.Dinov2Model(cfg).state_dict()
    key = next(k for k in sd if "layer.2." in k and k.endswith(("key.weight", "k_proj.weight")))  # transformers 4 | 5
    del sd[key]
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    with pytest.raises(
        BadWeightsError, match=r"model\.safetensors: encoder layer 2 attention weight: the key projection"
    ):
        load_backbone("dinov2_vits14", path)


def test_missing_clip_value_projection_is_named(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPConfig(
        text_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "image_size": 28,
            "patch_size": 14,
        },
        projection_dim=24,
    )
    sd = transformers.CLIPModel(cfg).state_dict()
    del sd["vision_model.encoder.layers.0.self_attn.v_proj.bias"]
    with pytest.raises(BadWeightsError, match="value projection is missing"):
        clip_filter(sd)


def test_truncated_and_corrupt_safetensors_are_named(tiny_dinov2, tmp_path):
    good = tmp_path / "good.safetensors"
    save_file({k: v.contiguous() for k, v in official(tiny_dinov2).items()}, str(good))
    data = good.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])  # an interrupted download
    with pytest.raises(BadWeightsError, match=r"cut\.safetensors: not a readable safetensors file \(truncated"):
        load_backbone("dinov2_vits14", cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"<html>Access denied</html>")  # an error page saved under the weights' name
    with pytest.raises(BadWeightsError, match=r"junk\.safetensors: not a readable safetensors file"):
        load_backbone("dinov2_vits14", junk)


class Opaque:
    """Anything that is not a tensor: a pickle holding it must not be unpickled."""


def test_pickled_objects_are_refused_without_advising_to_unpickle(tiny_dinov2, tmp_path):
    path = tmp_path / "with_objects.pth"
    torch.save({"model": official(tiny_dinov2), "args": Opaque()}, path)
    with pytest.raises(BadWeightsError, match=r"with_objects\.pth: holds pickled Python objects \(.*Opaque\)") as e:
        load_backbone("dinov2_vits14", path)
    assert "never unpickles" in str(e.value) and "add_safe_globals" not in str(e.value)
    cut = tmp_path / "cut.pth"
    torch.save(official(tiny_dinov2), cut)
    cut.write_bytes(cut.read_bytes()[:300])
    with pytest.raises(BadWeightsError, match=r"cut\.pth: not a loadable weights-only torch checkpoint \(truncated"):
        load_backbone("dinov2_vits14", cut)
