"""The one checkpoint path: GazekitModule save/load, the resolver's every branch, Lightning .ckpt, errors."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub.constants
import lightning.pytorch as pl
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from gazekit.backbones.loading import resolve_backbone_weights
from gazekit.errors import ConfigError, GazekitError, UnknownModelError, WeightsNotFoundError
from gazekit.models import registry
from gazekit.models.base import GazekitModule
from gazekit.weights import read_checkpoint, resolve_weights


class TinyNet(GazekitModule):
    """A registered two-layer model (module-level so that its class path resolves)."""

    external_weight_args = ("warm_start",)

    def __init__(self, width: int = 4, betas: tuple[float, float] = (0.9, 0.99), warm_start: str | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 1))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # the "paper's" layout names the layers fc1/fc2
        names = {"fc1": "body.0", "fc2": "body.2"}
        out = {}
        for k, v in state_dict.items():
            head, _, rest = k.partition(".")
            out[f"{names.get(head, head)}.{rest}" if rest else k] = v
        return out


class OtherNet(GazekitModule):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)


X = torch.randn(5, 3)


@pytest.fixture()
def tiny_spec(monkeypatch, tmp_path):
    """TinyNet registered as ``tiny`` with a bundled file location under tmp_path (absent until written)."""
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    spec = registry.ModelSpec(
        "tiny",
        "scanpath",
        f"{__name__}:TinyNet",
        "test model",
        config="configs/experiments/tiny.yaml",
        trainable=True,
        checkpoint="tiny_synthetic.safetensors",
        hub_repo="org/tiny-release",
        # bundled paths are relative to gazekit/: point at tmp_path through an absolute path
        bundled=str(tmp_path / "assets" / "tiny_synthetic.safetensors"),
    )
    monkeypatch.setitem(registry._REGISTRY, "tiny", spec)
    return spec


def model(seed: int = 0, width: int = 4) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(width=width).eval()


def same(a: nn.Module, b: nn.Module) -> bool:
    return torch.equal(a(X), b(X))


def test_round_trip_safetensors_keeps_class_and_arguments(tmp_path) -> None:
    m = model(width=6)
    p = m.save_checkpoint(tmp_path / "a" / "m.safetensors")
    with safe_open(str(p), "pt") as f:
        info = json.loads(f.metadata()["gazekit"])
    assert info["class"] == f"{__name__}:TinyNet"
    assert info["init_args"] == {"width": 6, "betas": [0.9, 0.99], "warm_start": None}
    m2 = TinyNet.from_checkpoint(p)
    assert same(m, m2) and m2.hparams.width == 6 and not m2.training and m2.weights_source == "user"
    # the base class builds whichever subclass wrote the file
    assert type(GazekitModule.from_checkpoint(p)) is TinyNet
    # overrides replace stored arguments (a different width no longer fits the weights)
    with pytest.raises(ConfigError, match="does not fit TinyNet"):
        TinyNet.from_checkpoint(p, width=5)


def test_half_checkpoint_loads_back_in_float32(tmp_path) -> None:
    m = model()
    p = m.save_checkpoint(tmp_path / "h.safetensors", half=True)
    sd = read_checkpoint(p).state_dict
    assert sd["body.0.weight"].dtype == torch.float16 and sd["steps"].dtype == torch.int64
    m2 = TinyNet.from_checkpoint(p)
    assert m2.body[0].weight.dtype == torch.float32
    assert torch.allclose(m(X), m2(X), atol=1e-2) and not same(m, m2)


def test_external_weight_files_are_not_stored(tmp_path) -> None:
    m = TinyNet(warm_start="/somewhere/else.safetensors")
    p = m.save_checkpoint(tmp_path / "w.safetensors")
    assert read_checkpoint(p).init_args["warm_start"] is None


def test_lightning_ckpt_from_a_trainer(tmp_path) -> None:
    """A real Trainer checkpoint (LightningCLI stores the same hyper_parameters) loads weights-only."""
    m = model()
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_epochs=0)
    trainer.strategy.connect(m)
    trainer.save_checkpoint(tmp_path / "t.ckpt")
    ck = torch.load(tmp_path / "t.ckpt", weights_only=True)
    ck["hyper_parameters"]["_class_path"] = f"{__name__}.TinyNet"  # what LightningCLI adds
    torch.save(ck, tmp_path / "t.ckpt")
    assert same(m, TinyNet.from_checkpoint(tmp_path / "t.ckpt"))


def test_paper_layout_goes_through_convert_state_dict(tmp_path) -> None:
    m = model()
    release = {k.replace("body.0", "fc1").replace("body.2", "fc2"): v for k, v in m.state_dict().items()}
    torch.save({"model": release, "epoch": 3}, tmp_path / "release.pth")
    assert same(m, TinyNet.from_checkpoint(tmp_path / "release.pth"))
    save_file(release, str(tmp_path / "release.safetensors"))
    assert same(m, TinyNet.from_checkpoint(tmp_path / "release.safetensors"))
    # a layout the hook does not know fails naming the keys
    torch.save({"other.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match=r"missing \['steps', 'body.0.weight'.*unexpected \['other.weight'\]"):
        TinyNet.from_checkpoint(tmp_path / "bad.pth")


def test_load_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match="nope.safetensors does not exist"):
        TinyNet.from_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(GazekitError, match="empty.safetensors: not a readable safetensors file"):
        TinyNet.from_checkpoint(tmp_path / "empty.safetensors")
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip")
    with pytest.raises(GazekitError, match="junk.ckpt: not a loadable weights-only"):
        TinyNet.from_checkpoint(tmp_path / "junk.ckpt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(GazekitError, match="expected a state dict, got list"):
        TinyNet.from_checkpoint(tmp_path / "list.pt")
    p = OtherNet().save_checkpoint(tmp_path / "other.safetensors")
    with pytest.raises(ConfigError, match="OtherNet checkpoint, not"):
        TinyNet.from_checkpoint(p)


def test_hyper_parameters_must_be_json(tmp_path) -> None:
    m = model()
    m.hparams["width"] = object()
    with pytest.raises(GazekitError, match="JSON-serialisable"):
        m.save_checkpoint(tmp_path / "x.safetensors")


# --------------------------------------------------------------------------------------------- resolution
def test_explicit_path_file_folder_and_ckpt(tiny_spec, tmp_path) -> None:
    m = model(1)
    m.save_checkpoint(tmp_path / "user" / "mine.safetensors")
    got = TinyNet.load_for_inference(tmp_path / "user" / "mine.safetensors")
    assert same(m, got) and got.weights_source == "user"
    with pytest.raises(WeightsNotFoundError, match="tiny_synthetic.safetensors.*does not exist"):
        TinyNet.load_for_inference(tmp_path / "user")  # folder without the spec's file name
    torch.save(
        {"state_dict": m.state_dict(), "hyper_parameters": dict(m.hparams)}, tmp_path / "user" / "tiny_synthetic.ckpt"
    )
    assert same(m, TinyNet.load_for_inference(tmp_path / "user"))  # folder: .ckpt of the spec's stem
    with pytest.raises(WeightsNotFoundError, match="missing.ckpt does not exist"):
        TinyNet.load_for_inference(tmp_path / "missing.ckpt")


def test_search_order_env_then_hub_then_bundled(tiny_spec, tmp_path, monkeypatch) -> None:
    bundled, env_m, sub_m, hub_m = (model(s) for s in range(4))
    bundled.save_checkpoint(tiny_spec.bundled_file)
    # hub cache layout: models--org--name/snapshots/<rev>/<file> and refs/main
    repo = tmp_path / "hf" / "models--org--tiny-release"
    hub_m.save_checkpoint(repo / "snapshots" / "abc123" / "tiny_synthetic.safetensors")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    env = tmp_path / "weights"
    env_m.save_checkpoint(env / "tiny_synthetic.safetensors")
    sub_m.save_checkpoint(env / "org--tiny-release" / "tiny_synthetic.safetensors")
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(env))

    got = registry.load_predictor("tiny")
    assert same(env_m, got) and got.weights_source == "user"
    (env / "tiny_synthetic.safetensors").unlink()
    got = TinyNet.load_for_inference()
    assert same(sub_m, got) and got.weights_source == "paper"  # the hub repo's folder under the weights dir
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR")
    got = TinyNet.load_for_inference()
    assert same(hub_m, got) and got.weights_source == "paper"
    (repo / "refs" / "main").unlink()
    got = TinyNet.load_for_inference()
    assert same(bundled, got) and got.weights_source == "synthetic-data"
    tiny_spec.bundled_file.unlink()
    with pytest.raises(WeightsNotFoundError) as e:
        TinyNet.load_for_inference()
    msg = str(e.value)
    for part in (
        "$GAZEKIT_WEIGHTS_DIR (unset)",
        "Hugging Face cache org/tiny-release/tiny_synthetic.safetensors",
        str(tiny_spec.bundled_file),
        "gazekit fit -c configs/experiments/tiny.yaml",
        "huggingface-cli download org/tiny-release tiny_synthetic.safetensors",
    ):
        assert part in msg, (part, msg)


def test_weights_dir_model_subfolder_and_ckpt_name(tiny_spec, tmp_path, monkeypatch) -> None:
    m = model(7)
    (tmp_path / "w" / "tiny").mkdir(parents=True)
    torch.save(
        {"state_dict": m.state_dict(), "hyper_parameters": dict(m.hparams)},
        tmp_path / "w" / "tiny" / "tiny_synthetic.ckpt",
    )
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path / "w"))
    assert same(m, TinyNet.load_for_inference())


def test_unregistered_module_says_so() -> None:
    with pytest.raises(UnknownModelError, match="OtherNet is not registered"):
        OtherNet.load_for_inference()


def test_backbones_use_the_same_resolver(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "vgg16").mkdir()
    (tmp_path / "vgg16" / "vgg16-397923af.pth").write_bytes(b"x")
    assert resolve_backbone_weights("vgg16") == tmp_path / "vgg16" / "vgg16-397923af.pth"
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR")
    with pytest.raises(WeightsNotFoundError, match="gazekit download vgg16 --root"):
        resolve_backbone_weights("vgg16")


def test_resolver_needs_a_file_name() -> None:
    with pytest.raises(GazekitError, match="no weight file name"):
        resolve_weights(None, [], name="x")


def test_shipped_checkpoints_load_in_their_original_formats() -> None:
    """The assets were written before the one checkpoint path (OAT: ``hparams`` metadata; ViTGaze: ``gazekit``
    metadata without a class); both still load, bit for bit."""
    for name in ("oat", "vitgaze"):
        spec = registry.get_spec(name)
        if spec.bundled_path is None:
            pytest.skip(f"no bundled {name} checkpoint")
        ck = read_checkpoint(spec.bundled_path)
        assert ck.init_args is not None
        m = spec.load_class().load_for_inference()
        assert m.weights_source == "synthetic-data"
        sd = m.state_dict()
        for k, v in ck.state_dict.items():
            assert torch.equal(sd[k].to(v.dtype), v), k
        assert Path(spec.bundled_path).name == spec.checkpoint
