"""ViTGaze: shapes, pooled-attention parity, gradients, overfitting, checkpoints, inference and head detection."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from gazekit.datasets.synthetic.gaze import SyntheticGazeDataset, render_face
from gazekit.errors import ConfigError, GazekitError, WeightsNotFoundError
from gazekit.heads import HeadNotFoundError, detect_heads
from gazekit.models import registry
from gazekit.models import vitgaze as vg
from gazekit.models.vitgaze import PatchPAM, ViTGaze, head_patch_mask, materialised_pooled_attention
from gazekit.types import GazeMap

TINY = {
    "embed_dim": 32,
    "depth": 4,
    "num_heads": 2,
    "patch_size": 14,
    "pos_embed_grid": 4,
    "attn_layers": [0, 1, 3],
    "input_size": 56,
    "mask_prob": 0.0,
}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread) -> None:  # noqa: ANN001
    """Tiny tensors: extra intra-op threads only add synchronisation (10x slower on a loaded 2-core machine)."""


def tiny(**kw) -> ViTGaze:
    torch.manual_seed(0)
    return ViTGaze(**{**TINY, **kw})


def batch_of(n: int, size: int = 56, seed: int = 0) -> dict[str, torch.Tensor]:
    ds = SyntheticGazeDataset(n, seed=seed, input_size=size)
    items = [ds[i] for i in range(min(n, len(ds)))]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


@pytest.mark.parametrize("size", [56, 70, 98, 112])
def test_shapes_at_several_input_sizes(size: int) -> None:
    m = tiny().eval()
    x = torch.randn(2, 3, size, size)
    hb = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.9, 0.8]])
    out = m(x, hb)
    g = size // 14
    assert out["heatmap"].shape == (2, 8 * g, 8 * g)
    assert out["maps"].shape == (2, 3 * 2, g, g)
    assert out["inout"].shape == (2,) and out["head_mask"].shape == (2, g, g)
    assert torch.isfinite(out["heatmap"]).all()


def test_head_patch_mask_and_pam_weights() -> None:
    # box 0.25..0.5 of a 56 px input, enlarged 10 %: x/y 12.6..29.4 px -> px 12..28 -> patches 0..2 of 14 px
    hb = torch.tensor([[0.25, 0.25, 0.5, 0.5]])
    m = head_patch_mask(hb, (56, 56), 14)
    expect = torch.zeros(4, 4, dtype=torch.bool)
    expect[0:3, 0:3] = True
    assert torch.equal(m[0], expect)
    # a degenerate box still covers one patch
    assert head_patch_mask(torch.tensor([[0.6, 0.6, 0.6, 0.6]]), (56, 56), 14).sum() == 1
    pam = PatchPAM(14)
    w, mask, aux = pam(torch.randn(1, 3, 56, 56), hb)
    assert aux.shape == (1, 4, 4)
    assert torch.allclose(w.sum(-1), torch.ones(1))
    assert torch.all(w[~mask] == 0) and torch.all(w[mask] > 0)


def test_kernel_pooling_equals_materialised_attention() -> None:
    m = tiny().eval()
    x = torch.randn(3, 3, 70, 70)
    hb = torch.tensor([[0.1, 0.1, 0.3, 0.4], [0.4, 0.2, 0.7, 0.5], [0.0, 0.6, 0.2, 1.0]])
    w, _, _ = m.pam(x, hb)
    t1, a1 = m.backbone.forward_pooled_attention(x, m.attn_layers, w)
    t2, a2 = materialised_pooled_attention(m.backbone, x, m.attn_layers, w)
    assert torch.allclose(t1, t2) and torch.allclose(a1, a2, atol=1e-6)
    # each pooled map is a convex mix of softmax rows: non-negative, at most 1 in total per map
    assert (a1 >= 0).all() and (a1.sum((-1, -2)) <= 1 + 1e-5).all()
    o1 = m(x, hb)
    m.hparams.use_kernel = False
    o2 = m(x, hb)
    for k in ("heatmap", "inout", "head_mask"):
        assert torch.allclose(o1[k], o2[k], atol=1e-5), k


def test_gradients_reach_the_backbone_and_pam() -> None:
    m = tiny(aux_weight=100.0, mask_prob=1.0)
    m.train()
    b = batch_of(3)
    masks = m._patch_masks(b["images"], b["head_boxes"])
    assert masks is not None and masks.dtype == torch.bool
    loss = m.losses(b, m(b["images"], b["head_boxes"], masks))
    assert set(loss) == {"heatmap", "inout", "aux", "loss"}
    loss["loss"].backward()
    for name in (
        "backbone.patch_embed.weight",
        "backbone.blocks.0.attn.qkv.weight",
        "backbone.pos_embed",
        "pam.embed.weight",
        "pam.aux.weight",  # the auxiliary head-mask branch sits on PatchPAM's features, as released
    ):
        g = dict(m.named_parameters())[name].grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name


@pytest.mark.parametrize("freeze", [True, False])
def test_layerwise_lr_decay_and_weight_decay_as_released(freeze: bool) -> None:
    m = tiny(lr=1e-3, layer_decay=0.5, lr_schedule="constant", weight_decay=0.1, freeze_patch_embed=freeze)
    opt = m.configure_optimizers()
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    named = dict(m.named_parameters())
    lr = lambda n: lr_of[id(named[n])]  # noqa: E731
    assert lr("decoder.out.weight") == pytest.approx(1e-3)
    assert lr("pam.embed.weight") == pytest.approx(1e-3)
    assert lr("backbone.cls_token") == pytest.approx(1e-3)  # not matched by LRDecayRater: layer depth + 1
    assert lr("backbone.blocks.3.attn.qkv.weight") == pytest.approx(1e-3 * 0.5)
    assert lr("backbone.blocks.0.attn.qkv.weight") == pytest.approx(1e-3 * 0.5**4)
    assert lr("backbone.pos_embed") == pytest.approx(1e-3 * 0.5**5)
    assert lr("backbone.patch_embed.weight") == pytest.approx(0.0 if freeze else 1e-3 * 0.5**5)
    # detectron2 weight_decay_norm=0 + pos_embed override; biases and tokens are decayed
    assert wd_of[id(named["backbone.blocks.0.norm1.weight"])] == 0.0
    assert wd_of[id(named["decoder.stages.0.1.weight"])] == 0.0  # BatchNorm
    assert wd_of[id(named["backbone.pos_embed"])] == 0.0
    assert wd_of[id(named["backbone.blocks.0.attn.qkv.bias"])] == pytest.approx(0.1)
    assert wd_of[id(named["backbone.cls_token"])] == pytest.approx(0.1)
    trained = [p for p in m.parameters() if p.requires_grad]
    assert len({id(p) for g in opt.param_groups for p in g["params"]}) == len(trained)
    # the backbone's final norm is never applied (norm_features=False): frozen, so DDP sees no unused parameter
    assert not named["backbone.norm.weight"].requires_grad and len(trained) == len(named) - 2


def test_focal_loss_matches_definition() -> None:
    logits, y = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.0])
    p = torch.sigmoid(logits)
    pt = torch.where(y > 0, p, 1 - p)
    ref = (-torch.log(pt) * (1 - pt) ** 2).mean()
    assert torch.allclose(vg.sigmoid_focal_loss(logits, y), ref)


def test_tiny_model_overfits_a_few_scenes() -> None:
    torch.manual_seed(0)
    m = tiny(lr=3e-3, layer_decay=1.0, lr_schedule="constant", aux_weight=0.0)
    ds = SyntheticGazeDataset(8, seed=3, input_size=56)
    items = [it for it in (ds[i] for i in range(len(ds))) if it["inout"] > 0][:4]  # one clear target each
    b = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    pts = b["gaze_points"]
    target = torch.stack([p[(p >= 0).all(-1)].mean(0) for p in pts])
    from gazekit.datasets.synthetic.gaze import gaussian_heatmap

    b["heatmaps"] = torch.stack([torch.from_numpy(gaussian_heatmap(t[None].numpy())) for t in target])
    opt = m.configure_optimizers()
    m.train()
    first = None
    for _ in range(150):
        loss = m.losses(b, m(b["images"], b["head_boxes"]))["loss"]
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.2 * first
    m.eval()
    with torch.no_grad():
        heat = torch.nn.functional.interpolate(m(b["images"], b["head_boxes"])["heatmap"][:, None], size=(64, 64))
    idx = heat.flatten(1).argmax(1)
    pred = torch.stack([(idx % 64).float() / 64, (idx // 64).float() / 64], 1)
    assert (pred - target).norm(dim=1).max() < 0.1


def test_checkpoint_round_trip_and_weight_resolution(tmp_path, monkeypatch) -> None:
    m = tiny().eval()
    x = torch.randn(1, 3, 56, 56)
    hb = torch.tensor([[0.2, 0.2, 0.4, 0.4]])
    ref = m(x, hb)["heatmap"]
    path = m.save_checkpoint(tmp_path / "vitgaze_synthetic.safetensors")
    m2 = ViTGaze.from_checkpoint(path)
    assert torch.allclose(m2(x, hb)["heatmap"], ref)
    # Lightning-style .ckpt through torch.load(weights_only=True)
    torch.save({"state_dict": m.state_dict(), "hyper_parameters": dict(m.hparams)}, tmp_path / "x.ckpt")
    assert torch.allclose(ViTGaze.from_checkpoint(tmp_path / "x.ckpt")(x, hb)["heatmap"], ref)
    # resolution order: explicit (file or folder) -> GAZEKIT_WEIGHTS_DIR -> bundled asset -> clear error
    assert torch.allclose(ViTGaze.load_for_inference(tmp_path)(x, hb)["heatmap"], ref)
    spec = registry.get_spec("vitgaze")
    monkeypatch.setitem(registry._REGISTRY, "vitgaze", replace(spec, bundled="assets/vitgaze/missing.safetensors"))
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    assert torch.allclose(ViTGaze.load_for_inference()(x, hb)["heatmap"], ref)
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR")
    with pytest.raises(WeightsNotFoundError, match="vitgaze_synthetic.yaml"):
        ViTGaze.load_for_inference()
    with pytest.raises(WeightsNotFoundError):
        ViTGaze.load_for_inference(tmp_path / "missing.safetensors")
    (tmp_path / "plain.safetensors").write_bytes(b"")
    with pytest.raises(GazekitError):
        ViTGaze.from_checkpoint(tmp_path / "plain.safetensors")


def face_image() -> np.ndarray:
    img = np.full((240, 320, 3), 170, np.uint8)
    render_face(img, (110, 120), 40, (0.0, 0.0, 1.0))
    return img


def test_detect_heads_on_a_rendered_face() -> None:
    boxes = detect_heads(face_image())
    assert len(boxes) == 1
    x1, y1, x2, y2 = boxes[0]
    assert x1 < 110 < x2 and y1 < 120 < y2  # the head centre is inside
    assert 60 <= x2 - x1 <= 240


def test_detect_heads_without_a_face_says_so() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)
    with pytest.raises(HeadNotFoundError, match="no face or head found.*pass the head box"):
        detect_heads(noise)


def test_predict_gaze_and_gazes() -> None:
    m = tiny().eval()
    img = face_image()
    g = m.predict_gaze(img, (70, 80, 150, 160))
    assert isinstance(g, GazeMap) and g.heatmap.shape == (64, 64)
    assert 0 <= g.point[0] <= 320 and 0 <= g.point[1] <= 240 and 0 <= g.inout <= 1
    assert g.heatmap.min() >= 0 and g.heatmap.max() <= 1
    many = m.predict_gazes(img, [(70, 80, 150, 160), (10, 10, 40, 40)])
    assert np.allclose(many[0].heatmap, g.heatmap, atol=1e-5)
    auto = m.predict_gazes(img)  # heads detected
    assert len(auto) == 1
    with pytest.raises(GazekitError):
        m.predict_gaze(img, (400, 400, 500, 500))


def test_gazefollow_image_datamodule_on_the_annotation_sample(shared_data, tmp_path) -> None:
    """The released recipes' DataModule on real GazeFollow rows (images stood in by blank JPEGs of any size)."""
    from gazekit.datasets.gaze_following import GazeFollowImageDataModule
    from gazekit.imageio import write_image

    rows = (shared_data / "gazefollow" / "val_annotations_sample.txt").read_text().splitlines()[:6]
    ann = tmp_path / "train_annotations.txt"
    ann.write_text("\n".join(rows) + "\n")
    for r in rows:
        p = tmp_path / r.split(",")[0]
        p.parent.mkdir(parents=True, exist_ok=True)
        write_image(p, np.full((480, 640, 3), 128, np.uint8))
    dm = GazeFollowImageDataModule(
        train_file=str(ann), root=str(tmp_path), input_size=56, val_fraction=0.3, batch_size=2, num_workers=0
    )
    dm.setup("fit")
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 6
    b = next(iter(dm.train_dataloader()))
    assert b["images"].shape == (2, 3, 56, 56) and b["heatmaps"].shape == (2, 64, 64)
    assert b["head_masks"].shape == (2, 1, 56, 56) and float(b["head_masks"].max()) > 0.9
    assert torch.all((b["head_boxes"] >= 0) & (b["head_boxes"] <= 1))
    out = tiny()(b["images"], b["head_boxes"])
    assert out["heatmap"].shape == (2, 32, 32)


def test_decoder_starts_with_a_positive_output_scale() -> None:
    d = vg.UpSampleConv([6, 4, 1])
    assert float(d.out.weight.detach()) == 1.0 and d(torch.randn(2, 6, 4, 4)).shape == (2, 1, 16, 16)


def test_bundled_checkpoint_loads_through_the_registry() -> None:
    if registry.get_spec("vitgaze").bundled_path is None:
        pytest.skip("no bundled ViTGaze checkpoint in this checkout")
    from gazekit.datasets.synthetic.gaze import render_gaze_scene
    from gazekit.models.registry import load_predictor

    m = load_predictor("vitgaze")
    assert isinstance(m, ViTGaze) and not m.training
    sc = render_gaze_scene(0, seed=0, split="test")
    maps = m.predict_gazes(sc.image, [a.head_box for a in sc.annotations])
    assert len(maps) == len(sc.annotations) and all(g.heatmap.shape == (64, 64) for g in maps)


def test_block_scene_masks_follow_the_release_rules() -> None:
    torch.manual_seed(0)
    head = torch.zeros(6, 16, 16, dtype=torch.bool)
    head[:, 2:5, 3:6] = True
    m = vg.block_scene_masks(head, prob=1.0, max_ratio=0.5)
    assert m.shape == (6, 16, 16) and not (m & head).any()
    n = m.flatten(1).sum(1)
    assert (n > 0).all() and (n <= 0.5 * 256).all()
    assert not vg.block_scene_masks(head, prob=0.0, max_ratio=0.5).any()
    model = tiny(mask_mode="block", mask_prob=1.0).train()
    pm = model._patch_masks(torch.randn(2, 3, 56, 56), torch.tensor([[0.1, 0.1, 0.3, 0.3]] * 2))
    assert pm.shape == (2, 16) and pm.dtype == torch.bool
    with pytest.raises(ConfigError):
        tiny(mask_mode="stripes")
