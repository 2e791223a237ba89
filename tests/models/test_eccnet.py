"""eccNET / IVSN: features and maps, the search loop on gallery displays and photos, weights, the baselines and
the asymmetry experiment."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gazekit.datasets.asymmetry import CONDITIONS, generate_condition
from gazekit.errors import ConfigError
from gazekit.models import registry
from gazekit.models.eccnet import IVSN, VARIANTS, EccNet
from gazekit.models.eccnet_experiment import asymmetry_scores, human_rt
from gazekit.models.eccnet_experiment import run as run_asymmetry
from gazekit.models.eccnet_search import (
    ChanceSearch,
    PixelMatch,
    SearchProtocol,
    run_search,
    same_correlate,
)
from gazekit.types import Stimulus, Task

TINY = [4, 4, 8, 8, 8]


@pytest.fixture(scope="module")
def lighting() -> list:
    return generate_condition("top_down", seed=0, trials=1)


def _photo(seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    rng = np.random.default_rng(seed)
    img = rng.integers(90, 160, (120, 150, 3)).astype(np.uint8)
    img[70:90, 100:125] = (250, 30, 30)  # a red patch: the target
    return img, (100, 70, 25, 20)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_feature_strides(variant: str) -> None:
    m = EccNet(variant=variant, widths=TINY).eval()
    with torch.no_grad():
        s = m.features(torch.randn(1, 3, 160, 160))
        t = m.features(torch.randn(1, 3, 64, 64), target=True)
    assert [tuple(f.shape[-2:]) for f in s] == [(10, 10)] * 3  # 1/16
    assert [tuple(f.shape[-2:]) for f in t] == [(2, 2)] * 3  # one stage deeper: 1/32
    assert [f.shape[1] for f in s] == [8, 8, 8]


def test_eccentricity_changes_periphery_only_and_map_peaks_on_target() -> None:
    torch.manual_seed(0)
    ecc, noecc = EccNet(variant="eccnet", widths=TINY).eval(), EccNet(variant="eccnet", widths=TINY).eval()
    noecc.variant = VARIANTS["eccnet"].__class__(False, "avg", (1, 1, 1))
    noecc.load_state_dict(ecc.state_dict())
    x = torch.randn(1, 3, 320, 320)
    with torch.no_grad():
        a, b = ecc.features(x)[2], noecc.features(x)[2]
    c = a.shape[-1] // 2
    assert not torch.allclose(a, b)
    assert torch.allclose(a[..., c - 1 : c + 1, c - 1 : c + 1], b[..., c - 1 : c + 1, c - 1 : c + 1], atol=1e-4)


@pytest.mark.parametrize("variant", ["eccnet", "ivsn", "ivsn_original"])
def test_gallery_display_search(lighting: list, variant: str) -> None:
    torch.manual_seed(0)
    m = EccNet(variant=variant, widths=TINY).eval()
    d = lighting[-1]  # set size 12
    stim, task = d.to_stimulus()
    sp = m.predict_scanpath(stim, task)
    assert (sp.x[0], sp.y[0]) == (99, 99)  # the image centre
    cells = stim.meta["search_protocol"]["cells"]
    visited = [
        next(i for i, (x, y, w, h) in enumerate(cells) if x <= fx < x + w and y <= fy < y + h)
        for fx, fy in zip(sp.x[1:], sp.y[1:], strict=True)
    ]
    assert len(set(visited)) == len(visited)  # object IOR: a cell is never revisited
    assert sp.found is True and sp.meta["n_fix"] == len(sp) - 1 <= 17
    assert visited[-1] == d.target_cell and sp.meta["weights"] == "untrained"
    assert np.isnan(sp.duration).all()


def test_photo_with_target_crop_and_box() -> None:
    img, box = _photo()
    m = EccNet(widths=TINY, max_fixations=6).eval()
    stim = Stimulus("photo", img.shape[1], img.shape[0], image=img)
    crop = img[box[1] : box[1] + box[3], box[0] : box[0] + box[2]]
    sp = m.predict_scanpath(stim, Task.search(image=crop))
    assert sp.found is None and len(sp) == 7 and (sp.x >= 0).all() and (sp.x <= 150).all()
    sp2 = m.predict_scanpath(stim, Task.search(box=box))  # the box gives the crop and the oracle
    assert sp2.found in (True, False) and sp2.meta["bbox"] == list(map(float, box))
    with pytest.raises(ConfigError, match="target \\*image\\*"):
        m.predict_scanpath(stim, Task.search("cup"))
    with pytest.raises(ConfigError):
        m.predict_scanpath(stim, Task.freeview())


def test_photo_downscaled_and_ivsn_original_frame() -> None:
    img, box = _photo()
    stim = Stimulus("photo", img.shape[1], img.shape[0], image=img)
    m = EccNet(widths=TINY, max_fixations=3, photo_max_side=75).eval()
    sp = m.predict_scanpath(stim, Task.search(box=box))
    assert sp.meta["search_scale"] == pytest.approx(0.5) and sp.x.max() <= 150
    o = IVSN(variant="ivsn_original", widths=TINY).eval()
    sp = o.predict_scanpath(stim, Task.search(box=box))
    assert sp.x.max() <= 150 and sp.y.max() <= 120 and len(sp) <= 81


def test_search_loop_oracle_and_ior() -> None:
    img = np.zeros((40, 40, 3), np.uint8)
    cells = ((0.0, 0.0, 20.0, 20.0), (20.0, 0.0, 20.0, 20.0), (0.0, 20.0, 20.0, 20.0), (20.0, 20.0, 20.0, 20.0))
    proto = SearchProtocol(cells=cells, cap=5, recog_size=4)
    prefs = np.zeros((40, 40))
    prefs[5, 5], prefs[5, 30], prefs[30, 5], prefs[30, 30] = 4, 3, 2, 1
    res = run_search(img, lambda r, f: prefs, proto, (20, 20, 20, 20), (5, 5))
    assert res.xy.tolist() == [[20, 20], [5, 5], [30, 5], [5, 30], [30, 30]] and res.found and res.n_fix == 4
    res = run_search(
        img, lambda r, f: prefs, SearchProtocol(cells=cells, cap=2, recog_size=4), (20, 20, 20, 20), (5, 5)
    )
    assert res.found is False and res.n_fix == 2
    start = SearchProtocol(cells=cells, cap=5, recog_size=4, test_start=True)
    assert run_search(img, lambda r, f: prefs, start, (20, 20, 20, 20), (5, 5)).n_fix == 0


def test_same_correlate_matches_definition() -> None:
    rng = np.random.default_rng(0)
    img, k = rng.normal(size=(9, 8, 2)).astype(np.float32), rng.normal(size=(4, 3, 2)).astype(np.float32)
    pad = np.pad(img, ((1, 2), (1, 1), (0, 0)))
    ref = np.array([[(pad[y : y + 4, x : x + 3] * k).sum() for x in range(8)] for y in range(9)])
    np.testing.assert_allclose(same_correlate(img, k), ref, rtol=1e-4, atol=1e-4)


def test_baselines_through_registry(lighting: list) -> None:
    stim, task = lighting[-1].to_stimulus()
    for name, cls in (("chance", ChanceSearch), ("pixelMatch", PixelMatch)):
        p = registry.load_predictor(name)
        assert isinstance(p, cls)
        a, b = p.predict_scanpath(stim, task), p.predict_scanpath(stim, task)
        assert np.array_equal(a.x, b.x) and a.found is True
    assert registry.load_predictor("pixelMatch").predict_scanpath(stim, task).meta["n_fix"] <= 1


def test_imagenet_layout_through_resolver(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A checkpoint in torchvision's published VGG16 layout (random values) loads through the one resolver."""
    ref = EccNet(widths=TINY)
    sd = {k.removeprefix("vgg."): v.clone() for k, v in ref.state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(2, 2)  # the ImageNet head is present in the file and ignored
    (tmp_path / "vgg16").mkdir()
    torch.save(sd, tmp_path / "vgg16" / "vgg16-397923af.pth")
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    m = registry.load_predictor("eccnet", widths=TINY)
    assert m.weights_source == "paper" and m.hparams.variant == "eccnet"
    torch.testing.assert_close(m.vgg.features[0].weight, ref.vgg.features[0].weight)
    iv = registry.load_predictor("ivsn", widths=TINY)
    assert iv.hparams.variant == "ivsn" and isinstance(iv, IVSN)
    with pytest.raises(ConfigError, match="torchvision"):
        EccNet.convert_state_dict({"blocks.0.weight": torch.zeros(1)})


def test_bundled_weights_and_checkpoint_roundtrip(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    spec = registry.get_spec("eccnet")
    if spec.bundled_path is None:
        pytest.skip("no bundled eccNET checkpoint in this install")
    m = registry.load_predictor("eccnet")
    assert m.weights_source == "synthetic-data" and m.hparams.widths == [8, 16, 32, 64, 64]
    p = m.save_checkpoint(tmp_path / "e.safetensors")
    back = EccNet.from_checkpoint(p, variant="noecc")
    assert back.hparams.variant == "noecc" and back.weights_source == "user"
    torch.testing.assert_close(back.vgg.features[2].weight, m.vgg.features[2].weight)


def test_diet_training_step() -> None:
    m = EccNet(widths=TINY, num_classes=3)
    x, y = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    loss = m.training_step((x, y), 0)
    loss.backward()
    assert torch.isfinite(loss) and m.vgg.features[0].weight.grad is not None
    with pytest.raises(ConfigError, match="num_classes"):
        EccNet(widths=TINY)(x)
    with pytest.raises(ConfigError):
        EccNet(variant="nope")


def test_diet_validation_metrics_are_per_sample_over_the_split() -> None:
    """val/acc, val/top5, val/nll come from per-sample records at the epoch's end: the same however the split is
    batched (and so sharded over processes), and equal to a plain computation on the whole split."""
    torch.manual_seed(0)
    m = EccNet(widths=TINY, num_classes=7).eval()
    x, y = torch.rand(9, 3, 32, 32), torch.tensor([0, 1, 2, 3, 4, 5, 6, 0, 1])
    got = []
    for cuts in ([0, 9], [0, 1, 5, 9]):
        with torch.no_grad():
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=False):
                m.validation_step((x[lo:hi], y[lo:hi]), 0)
        got.append(m.epoch_metrics(m.gathered_arrays(m.eval_records)))
        m.eval_records = []
    with torch.no_grad():
        logits = m(x)
    rank = (logits > logits[torch.arange(9), y][:, None]).sum(1)  # classes scored above the true one
    ref = {
        "acc": float((rank == 0).float().mean()),
        "top5": float((rank < 5).float().mean()),
        "nll": float(F.cross_entropy(logits, y)),
    }
    for g in got:
        assert g.keys() == ref.keys()
        for k, v in ref.items():
            assert g[k] == pytest.approx(v, rel=1e-5), k


def test_asymmetry_scores_reproduce_human_index() -> None:
    h = asymmetry_scores(human_rt())
    assert h["mean_ai"] == pytest.approx(0.564, abs=5e-3)  # the paper's human mean AI
    assert h["slopes"]["cross"] == pytest.approx(96.0, abs=0.1) and h["r_human"] == pytest.approx(1.0)
    flat = {c: dict.fromkeys(CONDITIONS[c].set_sizes, 500.0) for c in CONDITIONS}
    assert asymmetry_scores(flat)["mean_ai"] == 0.0


def test_asymmetry_command_baselines(tmp_path) -> None:  # noqa: ANN001
    ns = argparse.Namespace(
        model=None,
        weights=None,
        variants="default",
        out=str(tmp_path),
        data=None,
        seed=0,
        trials=1,
        no_baselines=False,
        only_baselines=True,
        combine=None,
        tag=None,
    )
    assert run_asymmetry(ns) == 0
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 6 and "pixelMatch" in html and "0.513" in html
    assert (tmp_path / "trials.csv").read_text().count(
        "\n"
    ) == 1 + 2 * 40  # 3 set sizes x 8 conditions + 4 x 4, one trial each
    ns2 = argparse.Namespace(**{**vars(ns), "combine": [str(tmp_path)], "out": str(tmp_path / "merged")})
    assert run_asymmetry(ns2) == 0
    assert (tmp_path / "merged" / "report.html").read_text().count("<svg") == 6
