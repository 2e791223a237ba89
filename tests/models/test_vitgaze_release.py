"""hustvl/ViTGaze's released checkpoints (``{"model": state_dict}``, 206 keys) load into gazekit's ViTGaze.

The reference below is written from the release's module structure (GazeAttentionMapper: a detectron2-style
ViT with ``patch_embed.proj``, a CLS token without position embedding and size-rule bicubic interpolation;
PatchPAM with ``patch_embed.patch_embed`` / ``embed`` / ``aux_embed``; an UpSampleConv regressor
``decoder.{upsample,conv,bn,relu}{i}`` + ``decoder.conv``; a SimpleMlp classifier ``linear0``/``linear1``)
and the release's data code (head box widened 0.1·w left/top, then 0.1 × the widened size right/bottom,
clamped to the image, rasterised at the input size and max-pooled). A tiny configuration with random values
in that layout must load with every key used, and both must compute the same heatmap and in/out score.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gazekit.cli import main
from gazekit.errors import BadWeightsError, ConfigError
from gazekit.models.registry import get_spec
from gazekit.models.vitgaze import ViTGaze, head_patch_mask
from gazekit.weights import read_safetensors_metadata, resolve_model_weights

DIM, DEPTH, HEADS, PATCH, GRID, HIDDEN = 32, 12, 2, 14, 4, 8
OUT_ATTN = (2, 5, 8, 11)
DEC = (len(OUT_ATTN) * HEADS, 6, 4, 1)


class RefBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(DIM, 3 * DIM)
        self.attn.proj = nn.Linear(DIM, DIM)
        self.ls1 = nn.Module()
        self.ls1.gamma = nn.Parameter(torch.ones(DIM))
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(DIM, 4 * DIM)
        self.mlp.fc2 = nn.Linear(4 * DIM, DIM)
        self.ls2 = nn.Module()
        self.ls2.gamma = nn.Parameter(torch.ones(DIM))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        qkv = self.attn.qkv(self.norm1(x)).view(b, n, 3, HEADS, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q * (DIM // HEADS) ** -0.5) @ k.transpose(-1, -2)).softmax(-1)  # [B, heads, T, T]
        y = self.attn.proj((a @ v).transpose(1, 2).reshape(b, n, DIM))
        x = x + y * self.ls1.gamma
        h = self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))
        return x + h * self.ls2.gamma, a[:, :, 1:, 1:]  # patch-to-patch attention (the CLS row/column dropped)


class RefBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + GRID * GRID, DIM))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.mask_token = nn.Parameter(torch.zeros(1, DIM))
        self.blocks = nn.ModuleList(RefBlock() for _ in range(DEPTH))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.patch_embed.proj(x).permute(0, 2, 3, 1)  # B H W C
        b, h, w, _ = x.shape
        pe = self.pos_embed[:, 1:].reshape(1, GRID, GRID, DIM).permute(0, 3, 1, 2)
        if (h, w) != (GRID, GRID):
            pe = F.interpolate(pe, size=(h, w), mode="bicubic", align_corners=False)
        x = (x + pe.permute(0, 2, 3, 1)).reshape(b, h * w, DIM)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], 1)  # the CLS token gets no position embedding
        maps = []
        for i, blk in enumerate(self.blocks):
            x, a = blk(x)
            if i in OUT_ATTN:
                maps.append(a)
        attn = torch.cat(maps, 1).reshape(b, -1, h * w, h, w)
        feat = x[:, 1:].reshape(b, h, w, DIM).permute(0, 3, 1, 2)
        return attn, feat


class RefModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = RefBackbone()
        self.pam = nn.Module()
        self.pam.patch_embed = nn.Sequential(
            OrderedDict([("patch_embed", nn.Conv2d(3, HIDDEN, PATCH, PATCH)), ("act_layer", nn.ReLU())])
        )
        self.pam.embed = nn.Conv2d(HIDDEN, 1, 1)
        self.pam.aux_embed = nn.Conv2d(HIDDEN, 1, 1)
        layers: list[tuple[str, nn.Module]] = []
        for i, (a, c) in enumerate(zip(DEC[:-1], DEC[1:], strict=True), start=1):
            layers += [
                (f"upsample{i}", nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)),
                (f"conv{i}", nn.Conv2d(a, c, 3, 1, 1)),
                (f"bn{i}", nn.BatchNorm2d(c)),
                (f"relu{i}", nn.ReLU()),
            ]
        layers.append(("conv", nn.Conv2d(1, 1, 1)))
        self.regressor = nn.Module()
        self.regressor.decoder = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Module()
        self.classifier.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("dropout0", nn.Dropout(0.0)),
                    ("linear0", nn.Linear(DIM, DIM)),
                    ("relu", nn.ReLU()),
                    ("dropout1", nn.Dropout(0.0)),
                    ("linear1", nn.Linear(DIM, 1)),
                ]
            )
        )

    def forward(self, images: torch.Tensor, head_channels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        masks = F.max_pool2d(head_channels, PATCH, PATCH)
        e = self.pam.patch_embed(images)
        w = (self.pam.embed(e) * masks).masked_fill(masks <= 0, -1e9)
        w = F.softmax(w.flatten(1), 1).view(*w.shape)  # [B, 1, gh, gw]
        attn, feat = self.backbone(images)
        head_feat = (w * feat).sum((2, 3))
        b, c = attn.shape[:2]
        pooled = (attn * w.reshape(b, 1, -1, 1, 1)).sum(2)
        return self.regressor.decoder(pooled)[:, 0], self.classifier.classifier(head_feat)[:, 0].sigmoid()


def release_head_channel(box: tuple[float, float, float, float], width: int, height: int, res: int) -> torch.Tensor:
    """The release's data code: widen (left/top first, clamped), normalise, rasterise with int corners."""
    x_min, y_min, x_max, y_max = box
    k = 0.1
    x_min = max(x_min - k * abs(x_max - x_min), 0)
    y_min = max(y_min - k * abs(y_max - y_min), 0)
    x_max = min(x_max + k * abs(x_max - x_min), width - 1)
    y_max = min(y_max + k * abs(y_max - y_min), height - 1)
    hb = (np.array([x_min / width, y_min / height, x_max / width, y_max / height]) * res).astype(int)
    hb = np.clip(hb, 0, res - 1)
    assert hb[0] < hb[2] and hb[1] < hb[3]  # the boxes below are never degenerate
    ch = torch.zeros(res, res)
    ch[hb[1] : hb[3], hb[0] : hb[2]] = 1
    return ch


def release_checkpoint(seed: int = 0) -> tuple[RefModel, dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    ref = RefModel().eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(torch.randn_like(p) * (0.5 if "gamma" in name else 0.2))
        for name, b in ref.named_buffers():
            if "running_mean" in name:
                b.copy_(torch.randn_like(b) * 0.1)
            elif "running_var" in name:
                b.copy_(torch.rand_like(b) + 0.5)
    return ref, ref.state_dict()


def test_release_layout_has_the_releases_206_keys():
    _, sd = release_checkpoint()
    assert len(sd) == 206  # 173 backbone + 6 PatchPAM + 23 decoder + 4 classifier, as in the released files
    assert {k.split(".")[0] for k in sd} == {"backbone", "pam", "regressor", "classifier"}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> tuple[RefModel, object]:
    ref, sd = release_checkpoint()
    path = tmp_path_factory.mktemp("release") / "model_final.pth"
    torch.save({"model": sd, "iteration": 3}, path)  # detectron2's checkpointer layout
    return ref, path


def test_every_released_key_is_used_and_values_are_kept(released):
    ref, path = released
    sd = ref.state_dict()
    converted = ViTGaze.convert_state_dict(dict(sd))
    m = ViTGaze.from_checkpoint(path)
    own = m.state_dict()
    # one converted key per released key, each a tensor of the model, loaded unchanged
    assert len(converted) == len(sd) + 2  # + the unused final LayerNorm filled with the identity
    assert set(converted) == set(own)  # every released key lands on a distinct model tensor, and all are filled
    for k, v in converted.items():
        assert torch.equal(own[k], v.to(own[k].dtype)), k
    assert torch.equal(own["backbone.norm.weight"], torch.ones(DIM))
    hp = m.hparams
    assert (hp.embed_dim, hp.depth, hp.num_heads, hp.pos_embed_grid, hp.input_size) == (DIM, DEPTH, HEADS, GRID, 56)
    assert list(hp.attn_layers) == list(OUT_ATTN) and list(hp.decoder_channels) == list(DEC[1:])
    assert hp.cls_pos_embed is False and hp.interpolate_offset == 0.0 and hp.head_enlarge_sequential
    assert m.weights_source == "paper" and not m.training


@pytest.mark.parametrize("use_kernel", [True, False])
@pytest.mark.parametrize("size", [56, 70])  # native 4×4 grid, and 5×5 (interpolated without DINOv2's offset)
def test_forward_matches_the_release(released, size, use_kernel):
    ref, path = released
    m = ViTGaze.from_checkpoint(path, use_kernel=use_kernel, input_size=size)
    width, height = 640, 480
    boxes = [(200.0, 100.0, 280.0, 190.0), (0.0, 30.0, 90.0, 150.0), (500.0, 300.0, 600.0, 420.0)]
    torch.manual_seed(1)
    images = torch.randn(len(boxes), 3, size, size)
    channels = torch.stack([release_head_channel(b, width, height, size) for b in boxes])[:, None]
    with torch.no_grad():
        want_heat, want_inout = ref(images, channels)
        out = m(images, torch.tensor([[b[0] / width, b[1] / height, b[2] / width, b[3] / height] for b in boxes]))
    g = size // PATCH
    assert out["heatmap"].shape == (len(boxes), 8 * g, 8 * g)
    torch.testing.assert_close(out["heatmap"], want_heat, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(torch.sigmoid(out["inout"]), want_inout, atol=2e-6, rtol=1e-5)


def test_release_conventions_change_the_output(released):
    """The three conventions matter: with gazekit's defaults the same tensors give other interaction maps."""
    _, path = released
    x = torch.randn(1, 3, 70, 70)
    # at 70 px the far edge lands in column 42 (next patch) only when widened by 0.11·w: 0.615 vs 0.61 × 70
    box = torch.tensor([[0.06, 0.2, 0.56, 0.4]])
    with torch.no_grad():
        base = ViTGaze.from_checkpoint(path, input_size=70)(x, box)["maps"]
        for change in ({"cls_pos_embed": True}, {"interpolate_offset": 0.1}, {"head_enlarge_sequential": False}):
            other = ViTGaze.from_checkpoint(path, input_size=70, **change)(x, box)["maps"]
            assert (base - other).abs().max() > 1e-6, change  # the same settings give exactly 0


def test_sequential_widening_is_point_one_one_on_the_far_side():
    box = torch.tensor([[0.4, 0.4, 0.6, 0.6]])  # 0.2 wide: far side at 0.6 + 0.022 (release) vs 0.6 + 0.02
    seq = head_patch_mask(box, (1005, 1005), 1, 0.1, sequential=True)[0]
    sym = head_patch_mask(box, (1005, 1005), 1, 0.1)[0]
    assert seq[500].nonzero().max().item() == 624 and sym[500].nonzero().max().item() == 622  # 0.622, 0.62 × 1005
    assert seq[500].nonzero().min().item() == sym[500].nonzero().min().item() == 381  # 0.38 × 1005
    edge = torch.tensor([[0.02, 0.4, 0.22, 0.6]])  # the near side is clamped at 0 first, then the far side widens
    seq = head_patch_mask(edge, (1005, 1005), 1, 0.1, sequential=True)[0]
    assert seq[500].nonzero().min().item() == 0 and seq[500].nonzero().max().item() == 242  # 0.22 + 0.022


def test_a_released_file_missing_a_tensor_names_it(tmp_path):
    _, sd = release_checkpoint()
    del sd["backbone.blocks.3.attn.qkv.weight"]
    path = tmp_path / "cut.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(BadWeightsError, match=r"cut\.pth.*missing.*blocks\.3\.attn\.qkv\.weight"):
        ViTGaze.from_checkpoint(path)
    _, sd = release_checkpoint()
    sd["backbone.norm.weight"] = torch.ones(7)  # a final norm of another width: wrong shape, named
    torch.save({"model": sd}, path)
    with pytest.raises(BadWeightsError, match=r"wrong shape.*backbone\.norm\.weight \(7,\)"):
        ViTGaze.from_checkpoint(path)


def test_convert_command_writes_paper_weights_that_resolve_first(released, tmp_path, monkeypatch, capsys):
    ref, path = released
    out = tmp_path / "w" / "vitgaze_gazefollow.safetensors"
    main(["convert", "vitgaze", str(path), "--out", str(out)])
    assert "paper weights" in capsys.readouterr().out
    assert '"weights_source": "paper"' in read_safetensors_metadata(out)["gazekit"]
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(out.parent))
    found = resolve_model_weights(get_spec("vitgaze"))
    assert found.path == out and found.source == "paper"
    m = ViTGaze.load_for_inference()  # the converted release wins over the bundled synthetic-data weights
    assert m.weights_source == "paper" and m.hparams.cls_pos_embed is False
    x, box = torch.randn(1, 3, 56, 56), torch.tensor([[0.3, 0.2, 0.45, 0.4]])
    with torch.no_grad():
        want = ViTGaze.from_checkpoint(path)(x, box)["heatmap"]
        torch.testing.assert_close(m(x, box)["heatmap"], want)
    # a gazekit checkpoint is not a release: convert refuses and says what to do
    with pytest.raises(SystemExit):
        main(["convert", "vitgaze", str(out), "--out", str(tmp_path / "again.safetensors")])
    assert "needs no conversion" in capsys.readouterr().err


def test_predict_gaze_with_converted_weights_on_a_photo_sized_image(released):
    _, path = released
    m = ViTGaze.from_checkpoint(path)
    img = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)
    g = m.predict_gaze(img, (200, 100, 280, 190))
    assert g.heatmap.shape == (64, 64) and 0 <= g.inout <= 1 and math.isfinite(g.point[0])


def test_non_release_layouts_pass_through():
    sd = {"backbone.patch_embed.weight": torch.zeros(1)}
    assert ViTGaze.convert_state_dict(sd) is sd and ViTGaze.paper_init_args(sd) is None
    with pytest.raises(ConfigError):
        ViTGaze.paper_init_args({"regressor.decoder.conv1.weight": torch.zeros(1)})
