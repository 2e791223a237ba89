"""Backbone weight resolution (explicit → GAZEKIT_WEIGHTS_DIR → hub cache → error) and loading through the filters."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from gazekit.backbones import loading
from gazekit.backbones.loading import BACKBONE_WEIGHTS, BUILDERS, load_backbone, resolve_backbone_weights
from gazekit.backbones.vit import vit_tiny_test
from gazekit.errors import ConfigError, WeightsNotFoundError


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
