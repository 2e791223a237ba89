"""GazeSeg: cascade shapes, FoV cone, masking of missing masks, tiny overfit, checkpoints, inference, NAT weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from gazekit.backbones.nat import nat_mini
from gazekit.datasets.synthetic.gaze import GAZE_CATEGORIES, GazeSceneConfig, SyntheticGazeDataset, render_gaze_scene
from gazekit.errors import ConfigError, WeightsNotFoundError
from gazekit.models.gazeseg import GazeSeg, dice_loss, fov_cone, gaze_direction_targets, head_crop, mask_glimpse
from gazekit.types import GazeMap

TINY = {
    "embed_dim": 16,
    "depths": [1, 1, 1],
    "num_heads": [2, 2, 4],
    "kernel_size": 3,
    "dilations": [[2], [1], [1]],
    "input_size": 64,
    "dim": 32,
    "decoder_depth": 1,
    "decoder_heads": 2,
    "heatmap_size": 32,
    "head_crop": 8,
}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread) -> None:  # noqa: ANN001
    """Tiny tensors (see tests/models/test_vitgaze.py)."""


def _batch(n: int = 4, size: int = 64, out: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    cfg = GazeSceneConfig(width=128, height=128, head_radius=(0.1, 0.13), p_out=0.0, max_people=1)
    ds = SyntheticGazeDataset(n, cfg, seed=seed, input_size=size, output_size=out)
    return default_collate([ds[i] for i in range(n)])


@pytest.mark.parametrize("size", [64, 72, 96])
def test_cascade_shapes(size: int) -> None:
    torch.manual_seed(0)
    m = GazeSeg(**{**TINY, "input_size": size}).eval()
    x = torch.randn(3, 3, size, size)
    hb = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.5, 0.2, 0.7, 0.45], [0.0, 0.0, 1.0, 1.0]])
    out = m(x, hb)
    g = TINY["heatmap_size"]
    assert out["direction"].shape == (3, 2)
    assert torch.allclose(out["direction"].norm(dim=-1), torch.ones(3), atol=1e-5)
    for k in ("fov", "heatmap", "mask"):
        assert out[k].shape == (3, g, g), k
        assert torch.isfinite(out[k]).all()
    assert out["inout"].shape == (3,)
    assert out["class_logits"].shape == (3, len(GAZE_CATEGORIES))
    assert (out["fov"] >= 0).all() and (out["fov"] <= 1).all()


def test_fov_cone_matches_a_loop_and_points_along_the_direction() -> None:
    head = torch.tensor([[0.3, 0.6]])
    d = torch.tensor([[math.cos(0.4), math.sin(0.4)]])
    got = fov_cone(head, d, 16, 3.0)[0].numpy()
    want = np.zeros((16, 16))
    for r in range(16):
        for c in range(16):
            v = np.array([(c + 0.5) / 16 - 0.3, (r + 0.5) / 16 - 0.6])
            cos = v @ d[0].numpy() / max(np.linalg.norm(v), 1e-6)
            want[r, c] = max(cos, 0.0) ** 3
    np.testing.assert_allclose(got, want, atol=1e-5)
    r, c = np.unravel_index(np.argmax(got), got.shape)
    ang = math.atan2((r + 0.5) / 16 - 0.6, (c + 0.5) / 16 - 0.3)
    assert abs(ang - 0.4) < 0.2


def test_head_crop_samples_the_box() -> None:
    x = torch.arange(2 * 3 * 20 * 20, dtype=torch.float32).reshape(2, 3, 20, 20)
    c = head_crop(x, torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.5, 0.25, 0.7, 0.45]]), 4)
    assert c.shape == (2, 3, 4, 4)
    # full box, 4 samples over 20 px: sample centres 2.5, 7.5, ... px = the centres of pixels 2, 7, ...
    assert torch.equal(c[0, 0, :, 1], x[0, 0, [2, 7, 12, 17], 7])
    assert torch.isclose(c[1, 1, 0, 0], x[1, 1, 5, 10])  # box (10..14, 5..9) px, first centre (10.5, 5.5)


def test_direction_targets_and_dice() -> None:
    b = {
        "gaze_points": torch.tensor([[[0.8, 0.5], [0.8, 0.5]], [[-1, -1], [-1, -1]]]),
        "head_boxes": torch.tensor([[0.1, 0.4, 0.3, 0.6], [0.1, 0.4, 0.3, 0.6]]),
        "imsize": torch.tensor([[200.0, 100.0], [200.0, 100.0]]),
        "inout": torch.tensor([1.0, 0.0]),
    }
    d, ok = gaze_direction_targets(b)
    assert ok.tolist() == [True, False]
    assert torch.allclose(d[0], torch.tensor([1.0, 0.0]), atol=1e-6)
    logits = torch.tensor([[[20.0, -20.0]], [[-20.0, -20.0]]])
    t = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]]])
    assert torch.allclose(dice_loss(logits, t), torch.zeros(2), atol=1e-4)
    assert dice_loss(-logits, t)[0] > 0.6


def test_missing_masks_switch_the_mask_and_class_losses_off() -> None:
    torch.manual_seed(0)
    m = GazeSeg(**TINY)
    b = _batch(4)
    assert b["has_mask"].sum() > 0
    out = m(b["images"], b["head_boxes"])
    full = m.losses(b, out)
    assert full["mask_bce"] > 0 and full["mask_dice"] > 0 and full["class"] > 0
    off = dict(b, has_mask=torch.zeros(4), target_masks=torch.rand(4, 32, 32), category=torch.zeros(4).long())
    lo = m.losses(off, out)
    for k in ("mask_bce", "mask_dice", "class"):
        assert lo[k] == 0, k
    assert torch.isclose(lo["heatmap"], full["heatmap"])  # heatmap and direction losses stay on
    m.zero_grad()
    lo["loss"].backward()
    assert m.mask_hyper[0].weight.grad is None or m.mask_hyper[0].weight.grad.abs().sum() == 0
    assert m.direction_head[0].weight.grad.abs().sum() > 0
    # one sample without a mask: changing its mask target changes nothing
    part = dict(b, has_mask=torch.tensor([1.0, 1.0, 1.0, 0.0]) * b["has_mask"])
    tm = part["target_masks"].clone()
    tm[3] = 1 - tm[3]
    a1 = m.losses(part, out)
    a2 = m.losses(dict(part, target_masks=tm), out)
    assert torch.isclose(a1["mask_bce"], a2["mask_bce"]) and torch.isclose(a1["mask_dice"], a2["mask_dice"])
    # no batch keys for masks at all (a loader without them): losses still defined
    plain = {k: v for k, v in b.items() if k not in ("target_masks", "has_mask", "category")}
    assert m.losses(plain, out)["mask_bce"] == 0


def test_mask_glimpse_centres_on_the_predicted_object_and_scales_with_it() -> None:
    img = torch.zeros(2, 3, 64, 64)
    img[:, :, 40:48, 8:16] = 1.0  # an 8-px square: centre (12, 44) px
    logits = torch.full((2, 16, 16), -12.0)
    logits[0, 10:12, 2:4] = 12.0  # predicted on the square (cells of 4 px)
    logits[1, 2:10, 6:14] = 12.0  # a large object elsewhere
    g = mask_glimpse(img, logits.requires_grad_(), 16)
    assert g.shape == (2, 3, 16, 16) and not g.requires_grad  # the class loss never moves the mask
    # sample 0: side 1.5 * sqrt(4/256) = 0.1875 of 64 px = 12 px around (12, 44): the square fills the middle
    assert float(g[0, 0, 8, 8]) == 1.0 and float(g[0, 0, 0, 0]) == 0.0
    assert float(g[0].mean()) == pytest.approx((8 / 12) ** 2, abs=0.1)
    assert float(g[1].max()) == 0.0  # the window follows the predicted object, not the pixels
    one = mask_glimpse(img[:1], torch.zeros(1, 1, 1), 4)  # a 1-cell map: centred, the widest window
    assert one.shape == (1, 3, 4, 4)


def test_tiny_overfit() -> None:
    torch.manual_seed(0)
    m = GazeSeg(**{**TINY, "direction_weight": 5.0, "input_size": 48, "heatmap_size": 16})
    b = _batch(3, size=48, out=16)
    opt = torch.optim.AdamW(m.parameters(), lr=4e-3)
    first = None
    for _ in range(40):
        out = m(b["images"], b["head_boxes"])
        loss = m.losses(b, out)
        first = first or {k: float(v.detach()) for k, v in loss.items()}
        opt.zero_grad()
        loss["loss"].backward()
        opt.step()
    last = {k: float(v) for k, v in m.losses(b, m(b["images"], b["head_boxes"])).items()}
    assert last["loss"] < 0.3 * first["loss"]
    assert last["mask_dice"] < first["mask_dice"] - 0.2
    assert last["class"] < 0.5 * first["class"]
    assert last["direction"] < 0.3 * first["direction"] + 1e-3


def test_bad_configs() -> None:
    with pytest.raises(ConfigError):
        GazeSeg(**{**TINY, "heatmap_size": 33})
    with pytest.raises(ConfigError):
        GazeSeg(**TINY, pretrained=True)
    with pytest.raises(ConfigError):
        GazeSeg(**{**TINY, "categories": []})
    with pytest.raises(ConfigError, match="class_glimpse"):
        GazeSeg(**{**TINY, "class_glimpse": 10})


def test_predict_gaze_on_scenes_and_odd_images() -> None:
    torch.manual_seed(0)
    m = GazeSeg(**TINY).eval()
    sc = render_gaze_scene(0, seed=0, split="test")
    g = m.predict_gaze(sc.image, sc.annotations[0].head_box)
    assert isinstance(g, GazeMap)
    assert g.heatmap.shape == (32, 32) and g.heatmap.min() >= 0 and g.heatmap.max() <= 1
    assert g.mask.shape == sc.image.shape[:2] and g.mask.dtype == bool
    assert g.category in GAZE_CATEGORIES and len(g.meta["top5"]) == 5
    assert abs(sum(p for _, p in g.meta["top5"])) <= 1 + 1e-6
    gray = (np.random.default_rng(0).random((50, 70)) * 255).astype(np.uint8)
    maps = m.predict_gazes(gray, [(10, 5, 30, 25), (40, 10, 60, 30)])
    assert len(maps) == 2 and maps[1].mask.shape == (50, 70)
    assert m.predict_gazes(gray, []) == []
    with pytest.raises(ConfigError):
        m.predict_gaze(gray, (100, 100, 120, 120))
    with pytest.raises(ConfigError):
        m.predict_gaze(gray, (1, 2, float("nan"), 4))


def test_nat_weights_resolver_with_a_tiny_model_in_the_published_layout(monkeypatch, tmp_path) -> None:
    """Fast form of the test below: the resolver and key mapping of ``nat_mini`` on a 2-level NAT of the same
    module names (the builder is swapped, the file and its layout are the release's)."""
    from gazekit.backbones import loading
    from gazekit.backbones.nat import nat_tiny_test

    torch.manual_seed(2)
    ref = nat_tiny_test(num_classes=10)
    torch.save({"model": ref.state_dict()}, tmp_path / "nat_mini.pth")
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    if not loading.BUILDERS:
        loading.BUILDERS.update(loading._builders())
    monkeypatch.setitem(loading.BUILDERS, "nat_mini", nat_tiny_test)
    m = GazeSeg(backbone="nat_mini", pretrained=True, dim=16, decoder_depth=1, input_size=64, heatmap_size=16)
    for k, v in ref.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(m.backbone.state_dict()[k], v), k
    assert m(torch.randn(1, 3, 64, 64), torch.tensor([[0.2, 0.2, 0.4, 0.4]]))["mask"].shape == (1, 16, 16)


@pytest.mark.slow
def test_nat_backbone_loads_published_weights_through_the_resolver(monkeypatch, tmp_path) -> None:
    """A random NAT-Mini checkpoint in the published layout (``{"model": state_dict}`` with the classifier head,
    file name of the release) is found in $GAZEKIT_WEIGHTS_DIR and loaded into GazeSeg's encoder."""
    torch.manual_seed(1)
    ref = nat_mini(num_classes=1000)
    torch.save({"model": ref.state_dict()}, tmp_path / "nat_mini.pth")
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    m = GazeSeg(backbone="nat_mini", pretrained=True, dim=32, decoder_depth=1, input_size=64)
    got = m.backbone.state_dict()
    for k, v in ref.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(got[k], v), k
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsNotFoundError, match="gazekit download nat_mini"):
        GazeSeg(backbone="nat_mini", pretrained=True)


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    m = GazeSeg(**TINY).eval()
    p = m.save_checkpoint(tmp_path / "gs.safetensors")
    m2 = GazeSeg.from_checkpoint(p).eval()
    x = torch.randn(2, 3, 64, 64)
    hb = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.5, 0.2, 0.7, 0.45]])
    a, b = m(x, hb), m2(x, hb)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert list(m2.hparams.categories) == list(GAZE_CATEGORIES)
    h = GazeSeg.from_checkpoint(m.save_checkpoint(tmp_path / "gs16.safetensors", half=True)).eval()
    assert torch.allclose(h(x, hb)["heatmap"], a["heatmap"], atol=0.05)
