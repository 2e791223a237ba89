"""NevaClip: the release's steps pinned on tiny inputs (fovea, mask, perceived image, restart, memory), the batched
optimisation against the one-image release loop, image geometry, and prediction through the registry / CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gazekit.backbones.clip import clip_rn_tiny_test
from gazekit.datasets.synthetic.clip_pairs import write_vocabulary
from gazekit.errors import ConfigError, DataFormatError, WeightsNotFoundError
from gazekit.models.nevaclip import (
    NevaClip,
    clip_loss,
    coordinate_grid,
    fovea,
    gaussian_kernel,
    optimise_scanpaths,
    p_to_pixels,
    perceive,
    periphery_residual,
    pixels_to_p,
    prepare_image,
    release_loop,
)
from gazekit.models.registry import get_spec, load_predictor
from gazekit.types import Stimulus, Task

TINY = {
    "embed_dim": 24,
    "vision": {"type": "resnet", "layers": [1, 1, 1, 1], "width": 8, "heads": 2, "image_size": 64},
    "text": {"vocab_size": 611, "context_length": 16, "width": 32, "layers": 1, "heads": 2},
}


def test_fovea_formula_and_axis_order():
    g = coordinate_grid(5, "xy")  # nodes -1, -0.5, 0, 0.5, 1
    p = torch.tensor([[0.5, -0.5]])
    f = fovea(p, g, sigma=0.2)[0, 0]
    # 'xy': p[0] is the column. Peak at column 3, row 1; value at (row 2, col 0): d^2 = 1.5^2 + 0.5^2
    assert f[1, 3] == 1.0 and torch.argmax(f) == 1 * 5 + 3
    assert math.isclose(float(f[2, 0]), math.exp(-(1.5**2 + 0.5**2) / 0.2), rel_tol=1e-6)
    fij = fovea(p, coordinate_grid(5, "ij"), sigma=0.2)[0, 0]
    assert torch.argmax(fij) == 3 * 5 + 1  # the release's 'ij': p[0] runs along rows
    assert math.isclose(float(fovea(p, g, 0.2, amplitude=0.5)[0, 0, 1, 3]), 0.5)


def test_mask_and_perceived_image_against_a_plain_2d_blur():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 48, 48)
    k1 = gaussian_kernel(41, 10.0)
    assert math.isclose(float(k1.sum()), 1.0, rel_tol=1e-6) and int(k1.argmax()) == 20
    w = (k1[:, None] * k1[None, :]).expand(3, 1, 41, 41)
    ref = F.conv2d(F.pad(x, (20,) * 4, mode="reflect"), w, groups=3) - x  # the release: one 2-D depthwise conv
    r = periphery_residual(x, 41, 10.0)
    torch.testing.assert_close(r, ref, atol=1e-5, rtol=1e-5)
    g = coordinate_grid(48, "xy")
    fov = fovea(torch.tensor([[0.0, 0.0]]), g, 0.2)
    mem = fovea(torch.tensor([[-1.0, -1.0]]), g, 0.2)
    mask = torch.clamp(1 - (mem + fov), 0, 1)
    out = perceive(x, r, mem, fov)
    torch.testing.assert_close(out, x + r * mask)
    # sharp at the fovea and at the remembered place, blurred far from both
    assert torch.equal(mask[0, 0, 0, 0], torch.tensor(0.0)) and float(mask[0, 0, 23, 23]) < 0.01
    assert float(mask[0, 0, 0, 47]) > 0.99
    torch.testing.assert_close(out[..., 0, 47], (x + r)[..., 0, 47], atol=2e-2, rtol=0)
    with pytest.raises(ConfigError):
        periphery_residual(torch.zeros(1, 3, 16, 16), 41, 10.0)  # reflection pad needs images > 20 px


class _Scripted:
    """An 'encoder' whose losses follow a script (zero gradient, so p moves only by restarts); records inputs."""

    def __init__(self, losses):
        self.losses, self.calls, self.inputs = list(losses), 0, []

    def __call__(self, img):
        self.inputs.append(img.detach().clone())
        c = 1.0 - self.losses[self.calls % len(self.losses)]
        self.calls += 1
        emb = torch.tensor([[c, math.sqrt(max(0.0, 1 - c * c))]]).expand(img.shape[0], 2)
        return emb + 0.0 * img.sum()


@pytest.mark.parametrize("record", ["evaluated", "stepped"])
def test_one_restart_and_memory(record):
    x, target = torch.randn(1, 3, 48, 48), torch.tensor([[1.0, 0.0]])
    draws = torch.rand(1, 2, 4, 2, generator=torch.Generator().manual_seed(3)) * 2 - 1
    # fixation 0: improves, improves, worse (-> restart to draws[0, 0, 2]), improves at the restart position
    enc = _Scripted([0.5, 0.3, 0.4, 0.2] * 2)
    res = optimise_scanpaths(enc, x, target, draws, length=2, steps=4, record=record, kernel_size=5, blur_sigma=2.0)
    assert res.restarts[0].tolist() == [1, 1]
    torch.testing.assert_close(res.positions[0, 0], draws[0, 0, 2])  # zero gradient: stepped == evaluated
    torch.testing.assert_close(res.losses[0], torch.tensor([0.2, 0.2]))
    # memory: fixation 1 starts at the centre with the first fixation's fovea remembered (forgetting 0)
    g = coordinate_grid(48, "xy")
    r = periphery_residual(x, 5, 2.0)
    want = perceive(x, r, fovea(res.positions[:, 0], g), fovea(torch.zeros(1, 2), g))
    torch.testing.assert_close(enc.inputs[4], want)
    # forgetting 0.5 keeps half of the older fovea
    enc2 = _Scripted([0.5, 0.3, 0.4, 0.2] * 3)
    res2 = optimise_scanpaths(enc2, x, target, draws[:, :1].repeat(1, 3, 1, 1), length=3, steps=4, forgetting=0.5,
                              kernel_size=5, blur_sigma=2.0)  # fmt: skip
    m = 0.5 * fovea(res2.positions[:, 0], g) + fovea(res2.positions[:, 1], g)
    torch.testing.assert_close(enc2.inputs[8], perceive(x, r, m, fovea(torch.zeros(1, 2), g)))


def test_stepped_record_is_one_step_after_the_evaluated_position():
    torch.manual_seed(0)
    m = clip_rn_tiny_test().eval().requires_grad_(False)
    x, t = torch.randn(2, 3, 64, 64), torch.randn(2, 24)
    d = torch.zeros(2, 1, 1, 2)
    a = optimise_scanpaths(m.encode_image, x, t, d, length=1, steps=1, record="evaluated")
    b = optimise_scanpaths(m.encode_image, x, t, d, length=1, steps=1, record="stepped")
    assert torch.equal(a.positions, torch.zeros(2, 1, 2))  # the first evaluated position is the centre
    assert torch.allclose(b.positions.abs(), torch.full((2, 1, 2), 0.1))  # one signed step of lr 0.1


@pytest.mark.parametrize("restarts", [True, False])
def test_batched_equals_the_release_loop(restarts):
    torch.manual_seed(0)
    m = clip_rn_tiny_test().eval().requires_grad_(False)
    x, t = torch.randn(3, 3, 64, 64), torch.randn(3, 24)
    d = torch.rand(3, 3, 4, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ref = release_loop(m.encode_image, x, t, d, length=3, steps=4, restarts=restarts)
    res = optimise_scanpaths(
        m.encode_image, x, t, d, length=3, steps=4, axis_order="ij", record="stepped", restarts=restarts
    )
    torch.testing.assert_close(res.positions, ref, atol=0, rtol=0)
    if restarts:
        assert int(res.restarts.sum()) > 0  # the comparison exercised the restart branch


def test_clamp_box_keeps_p_inside_the_content():
    torch.manual_seed(0)
    m = clip_rn_tiny_test().eval().requires_grad_(False)
    x, t = torch.randn(2, 3, 64, 64), torch.randn(2, 24)
    d = torch.rand(2, 4, 6, 2, generator=torch.Generator().manual_seed(2)) * 2 - 1
    box = torch.tensor([[-1.0, -0.4, 1.0, 0.4]]).expand(2, 4)
    res = optimise_scanpaths(m.encode_image, x, t, d, length=4, steps=6, box=box)
    assert (res.positions[..., 1].abs() <= 0.4 + 1e-6).all()


def test_letterbox_and_crop_geometry():
    img = np.zeros((300, 400, 3), np.uint8)
    img[:, :50] = 255  # a white band the centre crop cuts away
    t, tf, content = prepare_image(img, 64, "letterbox")
    assert t.shape == (3, 64, 64) and content == (0.0, 8.0, 64.0, 56.0)
    x, y = tf.inverse().points(np.array([32.0]), np.array([32.0]))
    np.testing.assert_allclose([x[0], y[0]], [200.0, 150.0])
    tc, tfc, _ = prepare_image(img, 64, "crop")
    assert float(tc[0].max()) < 2.0 and float(t[0].max()) > 1.9  # the band is visible only in the letterbox
    # shorter side 300 -> 64: 85x64, crop offset round(10.5) = 10 px, i.e. 10 / (85 / 400) original px
    np.testing.assert_allclose(tfc.inverse().points(np.array([0.0]), np.array([0.0])), [[10 * 400 / 85], [0.0]])
    p = np.array([[0.3, -0.7]])
    for order in ("xy", "ij"):
        np.testing.assert_allclose(pixels_to_p(*p_to_pixels(p, 64, order), 64, order), p)
    with pytest.raises(DataFormatError):
        prepare_image(np.zeros((10, 10), np.uint8))


@pytest.fixture
def tiny_weights(tmp_path):
    torch.manual_seed(0)
    model = NevaClip(TINY, image_size=64, blur_kernel=21, blur_sigma=5.0, steps=3, length=4)
    write_vocabulary(tmp_path)
    model.save_checkpoint(tmp_path / "nevaclip_synthetic.safetensors")
    return tmp_path


def test_predicts_through_the_registry_on_any_photo_size(tiny_weights):
    assert get_spec("nevaclip").tasks == ("caption", "freeview", "search")
    m = load_predictor("nevaclip", weights=tiny_weights)
    assert m.weights_source == "user" and m.hparams.length == 4
    rng = np.random.default_rng(0)
    photo = Stimulus("p.png", 333, 150, image=rng.integers(0, 255, (150, 333, 3), dtype=np.uint8))
    for task in (Task("caption", caption="red circle"), Task.freeview(), Task.search(category="blue star")):
        sp = m.predict_scanpath(photo, task, seed=1)
        assert len(sp) == 4 and sp.width == 333 and np.isnan(sp.duration).all()
        assert ((sp.x >= 0) & (sp.x <= 333) & (sp.y >= 0) & (sp.y <= 150)).all()  # letterbox: inside the photo
        assert sp.meta["weights"] == "user" and sp.condition == task.kind
    a = m.predict_scanpath(photo, "red circle", seed=1)
    assert np.array_equal(a.xy, m.predict_scanpath(photo, "red circle", seed=1).xy)
    batch = m.predict_scanpaths([photo, photo], ["red circle", "red circle"], seed=1, batch_size=1)
    assert np.array_equal(batch[0].xy, a.xy)  # rows of a batch are independent of the batch size
    with pytest.raises(ConfigError, match="category"):
        m.predict_scanpath(photo, Task.search(box=(1, 1, 5, 5)))


def test_release_settings_and_start_fixation(tiny_weights):
    m = load_predictor("nevaclip", weights=tiny_weights, preprocess="crop", axis_order="ij", record="stepped",
                       clamp=False, start_fixation=True)  # fmt: skip
    st = Stimulus("p.png", 128, 64, image=np.full((64, 128, 3), 90, np.uint8))
    sp = m.predict_scanpath(st, "red circle")
    assert len(sp) == 5 and (sp.x[0], sp.y[0]) == (64.0, 32.0)  # fixation 0 is the centre start


def test_weights_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsNotFoundError):
        load_predictor("nevaclip", weights=tmp_path / "missing.safetensors")
    model = NevaClip(TINY, image_size=64, blur_kernel=21, blur_sigma=5.0)
    model.save_checkpoint(tmp_path / "w.safetensors")
    # a gazekit checkpoint without a vocabulary beside it was trained on the bundled synthetic vocabulary
    assert load_predictor("nevaclip", weights=tmp_path / "w.safetensors").tokenizer is not None
    from safetensors.torch import save_file

    bare = {k[5:]: v.contiguous() for k, v in model.state_dict().items() if k.startswith("clip.")}
    save_file(bare, str(tmp_path / "open_clip_model.safetensors"))
    with pytest.raises(DataFormatError, match="vocab.json"):
        load_predictor("nevaclip", weights=tmp_path)  # published CLIP weights need their own vocabulary
    with pytest.raises(ConfigError, match="tokenizer"):
        model.predict_scanpath(Stimulus("a", 64, 64, image=np.zeros((64, 64, 3), np.uint8)), "x")


def test_published_clip_layout_loads_with_its_vocabulary(tmp_path):
    """An open_clip RN state dict (OpenAI key names) + vocab.json/merges.txt in one folder, as on the hub."""
    from safetensors.torch import save_file

    from gazekit.backbones.clip import build_clip

    clip = build_clip(
        {**TINY, "vision": {**TINY["vision"], "heads": 4}, "text": {**TINY["text"], "width": 64, "heads": 1}}
    )  # OpenAI: 64 channels per head
    sd = {k: v.contiguous() for k, v in clip.state_dict().items() if not k.endswith("num_batches_tracked")}
    sd = {("transformer.resblocks." + k[12:] if k.startswith("text.blocks.") else k): v for k, v in sd.items()}
    openai = {}
    for k, v in sd.items():  # gazekit text keys -> OpenAI names (the visual RN keys are OpenAI's already)
        k = (
            k.replace(".norm1.", ".ln_1.")
            .replace(".norm2.", ".ln_2.")
            .replace(".attn.qkv.weight", ".attn.in_proj_weight")
        )
        k = k.replace(".attn.qkv.bias", ".attn.in_proj_bias").replace(".attn.proj.", ".attn.out_proj.")
        k = k.replace(".mlp.fc1.", ".mlp.c_fc.").replace(".mlp.fc2.", ".mlp.c_proj.")
        k = {"text.token_embedding.weight": "token_embedding.weight", "text.norm.weight": "ln_final.weight",
             "text.norm.bias": "ln_final.bias"}.get(k, k)  # fmt: skip
        if k == "text.pos_embed":
            k, v = "positional_embedding", v[0]
        if k == "text.proj.weight":
            k, v = "text_projection", v.t().contiguous()
        openai[k] = v
    save_file(openai, str(tmp_path / "open_clip_model.safetensors"))
    write_vocabulary(tmp_path)
    m = load_predictor("nevaclip", weights=tmp_path, steps=1, length=2)
    assert m.weights_source == "paper" and m.hparams.image_size == 64
    ids = m.tokenizer(["red circle"], context_length=16)
    torch.testing.assert_close(m.clip.encode_text(ids), clip.encode_text(ids))
    img = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(m.clip.encode_image(img), clip.eval().encode_image(img))


def test_infer_cli_with_caption(tiny_weights, tmp_path, capsys, monkeypatch):
    from gazekit.cli import main

    monkeypatch.setenv("GAZEKIT_NO_PROGRESS", "0")
    from gazekit.imageio import write_image

    img = tmp_path / "photo.png"
    write_image(img, np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8))
    out = tmp_path / "out"
    args = ["infer", "--model", "nevaclip", "--weights", str(tiny_weights), "--caption", "red circle striped"]
    main([*args, str(img), "--out", str(out)])
    assert (out / "photo.csv").is_file() and (out / "photo_overlay.png").is_file()
    assert "user weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["infer", "--model", "nevaclip", "--weights", str(tiny_weights), "--task", "caption", str(img)])
    assert "--task caption needs --caption" in capsys.readouterr().err


@pytest.mark.slow
def test_infer_cli_bundled_weights_on_a_gallery_display(tmp_path, capsys, monkeypatch):
    from gazekit.cli import main
    from gazekit.datasets.synthetic.search import SearchWorldConfig, render_display
    from gazekit.imageio import write_image

    monkeypatch.setenv("GAZEKIT_NO_PROGRESS", "0")
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    cfg = SearchWorldConfig(width=256, height=160, min_objects=6, max_objects=12, min_object_px=24, max_object_px=40)
    display = render_display(cfg, 3)
    write_image(tmp_path / "display.png", display.image)
    main(["infer", "--model", "nevaclip", "--caption", display.target.category, str(tmp_path / "display.png"),
          "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert "synthetic-data weights" in err and "11 fixation" not in err and "10 fixation(s)" in err
    # the display PNG carries no synthetic-world metadata, so the real-image note is printed too
    assert "not on real images" in err


def _pairs(n: int, captions: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(n, 8, generator=g), dim=-1).requires_grad_()
    b = F.normalize(torch.randn(n, 8, generator=g), dim=-1).requires_grad_()
    ids = torch.randint(0, captions, (n, 1), generator=g).repeat(1, 4)  # token ids: equal rows = equal captions
    return a, b, ids


def test_clip_loss_is_the_symmetric_infonce_of_the_caption_labels():
    a, b, ids = _pairs(7, 3)
    s = torch.tensor(10.0)
    loss, acc = clip_loss(a, b, ids, a, b, ids, s)
    # plain reference: the image->text row softmax and the text->image column softmax of one logit matrix
    logits = s * a @ b.t()
    same = (ids[:, :1] == ids[:, :1].t()).float()
    ref = 0.0
    for i in range(7):
        pos = same[i] / same[i].sum()
        ref += -(pos * logits[i].log_softmax(0)).sum() / 14 - (pos * logits[:, i].log_softmax(0)).sum() / 14
    torch.testing.assert_close(loss, ref)
    assert float(acc) == pytest.approx(float(same[torch.arange(7), logits.argmax(1)].mean()))


@pytest.mark.parametrize("world", [2, 3])
def test_gathered_clip_loss_over_shards_equals_the_concatenated_batch(world):
    """What DDP with gathered negatives computes: each process's loss (own rows, every process's columns),
    averaged; its value and gradients equal one process's on the concatenated batch. Local negatives do not."""
    a, b, ids = _pairs(4 * world, 3, seed=world)
    s = torch.tensor(7.0)
    full, _ = clip_loss(a, b, ids, a, b, ids, s)
    ga, gb = torch.autograd.grad(full, (a, b))
    rows = [slice(4 * r, 4 * r + 4) for r in range(world)]
    shards = sum(clip_loss(a[r], b[r], ids[r], a, b, ids, s)[0] for r in rows) / world
    torch.testing.assert_close(shards, full)
    for x, y in zip(torch.autograd.grad(shards, (a, b)), (ga, gb), strict=True):
        torch.testing.assert_close(x, y)
    local = sum(clip_loss(a[r], b[r], ids[r], a[r], b[r], ids[r], s)[0] for r in rows) / world
    assert abs(float(local.detach()) - float(full.detach())) > 1e-3


def test_zero_shot_validation_metrics_do_not_depend_on_batching(tiny_weights):
    m = NevaClip.from_checkpoint(tiny_weights / "nevaclip_synthetic.safetensors").eval()
    torch.manual_seed(0)
    images = torch.randn(6, 3, 64, 64)
    ids = m.tokenizer(["red circle", "blue square", "red circle", "green letter k", "blue square", "red circle"],
                      context_length=16)  # fmt: skip
    metrics = []
    for cuts in ([0, 6], [0, 1, 4, 6]):
        with torch.no_grad():
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=False):
                m.validation_step({"images": images[lo:hi], "ids": ids[lo:hi]}, 0)
        metrics.append(m.epoch_metrics(m.gathered_arrays(m.eval_records)))
        m.eval_records = []
    assert metrics[0].keys() == metrics[1].keys() == {"acc", "top5", "nll", "classes"}
    for k, v in metrics[0].items():
        assert metrics[1][k] == pytest.approx(v, rel=1e-5), k
    # plain reference: every image against the three distinct captions
    with torch.no_grad():
        img = F.normalize(m.clip.encode_image(images), dim=-1)
        uniq = ["red circle", "blue square", "green letter k"]  # the metrics do not depend on the classes' order
        txt = F.normalize(m.encode_text(uniq), dim=-1)
        logits = m.clip.logit_scale.exp() * img @ txt.t()
    label = torch.tensor([0, 1, 0, 2, 1, 0])
    assert metrics[0]["classes"] == 3 and metrics[0]["top5"] == 1.0
    assert metrics[0]["acc"] == pytest.approx(float((logits.argmax(1) == label).float().mean()))
    assert metrics[0]["nll"] == pytest.approx(float(F.cross_entropy(logits, label)), rel=1e-5)
