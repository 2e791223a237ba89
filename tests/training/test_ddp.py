"""Distributed data parallel training on CPU (gloo) through the LightningCLI entry, for every trainable model.

Each run trains a model's tiny recipe (``configs/experiments/<name>_tiny.yaml``) on two processes and checks:
both processes train on disjoint shards of the training split at every epoch and validate on disjoint shards
that together are the validation split; they end with the same weights (every gradient averaged); OAT's
trials of one display stay on one process (its display cache); the logged validation metrics are the same on
both processes and equal those of one process validating the whole split with the same weights; and exactly
one checkpoint is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gazekit.models.registry import get_spec
from tests.training._runs import (
    NOT_YET_COVERED,
    callback_arg,
    fit_forked,
    fit_subprocess,
    read_records,
    record_arg,
    tiny_recipe,
    trainable_models,
)


def _recipe_or_skip(name: str) -> Path:
    if not get_spec(name).available:
        pytest.skip(f"{name} is not in this install")
    recipe = tiny_recipe(name)
    if not recipe.is_file():
        if name not in NOT_YET_COVERED:
            pytest.fail(f"{name} has no {recipe.name} and is not listed in NOT_YET_COVERED")
        pytest.skip(f"not yet covered: {NOT_YET_COVERED[name]}")
    return recipe


def test_every_trainable_model_is_covered_or_listed():
    for name in trainable_models():
        if get_spec(name).available:
            assert tiny_recipe(name).is_file() or name in NOT_YET_COVERED, (
                f"{name} trains but has no configs/experiments/{name}_tiny.yaml for the DDP and resume tests; "
                "add one (a few seconds of CPU) or list it in tests/training/_runs.py NOT_YET_COVERED with why"
            )


def check_ddp_run(recipe: Path, root: Path, rec: Path) -> None:
    """The assertions shared by the forked and the subprocess runs (see the module docstring)."""
    ckpts = sorted(root.rglob("*.ckpt"))
    assert len(ckpts) == 1, ckpts
    r = read_records(rec)
    assert [x["rank"] for x in r] == [0, 1] and all(x["world"] == 2 for x in r)
    assert r[0]["weights"] == r[1]["weights"], "the processes' weights diverged: gradients were not all averaged"
    full = set(r[0]["full_train"])
    assert len(r[0]["train"]) == len(r[1]["train"]) >= 2  # epochs
    for a, b, na, nb in zip(r[0]["train"], r[1]["train"], r[0]["train_batches"], r[1]["train_batches"], strict=True):
        assert na == nb > 0  # the same number of steps: gradients are all-reduced at each one
        assert len(set(a)) == len(a) and len(set(b)) == len(b)
        assert not set(a) & set(b), "a training sample on both processes"
        assert set(a) | set(b) <= full
        assert len(a) + len(b) >= len(full) // 2
        if all("|" in k for k in a + b):  # trials (display|subject|fixations): displays never straddle processes
            assert not {k.split("|")[0] for k in a} & {k.split("|")[0] for k in b}
    assert set(r[0]["val"]).isdisjoint(r[1]["val"])

    # the same weights validated by one process on the whole split
    epoch = int(torch.load(ckpts[0], map_location="cpu", weights_only=True)["epoch"])
    argv = ["validate", "-c", str(recipe), f"--ckpt_path={ckpts[0]}", f"--trainer.default_root_dir={root / 'one'}"]
    assert fit_forked([*argv, record_arg(rec, "single_")]) == 0
    (single,) = read_records(rec, "single_")
    assert sorted(r[0]["val"] + r[1]["val"]) == sorted(single["val"])
    m0, m1 = r[0]["metrics"][str(epoch)], r[1]["metrics"][str(epoch)]
    (one,) = single["metrics"].values()
    assert m0 == m1 and set(m0) == set(one) and len(one) >= 2
    for k, v in one.items():
        if k != "val/loss":  # a loss averaged per batch depends on how samples are batched; the rest must match
            assert m0[k] == pytest.approx(v, rel=1e-5, abs=1e-7), k


def test_ddp_two_forked_processes_oat(tmp_path):
    """Fast smoke (default suite): OAT, the model with custom batch handling, on ``ddp_fork``."""
    recipe = _recipe_or_skip("oat")
    root, rec = tmp_path / "run", tmp_path / "rec"
    argv = ["fit", "-c", str(recipe), "--trainer.strategy=ddp_fork", "--trainer.devices=2"]
    argv += ["--trainer.accelerator=cpu", f"--trainer.default_root_dir={root}", record_arg(rec)]
    assert fit_forked(argv) == 0
    check_ddp_run(recipe, root, rec)


@pytest.mark.slow
@pytest.mark.parametrize("name", trainable_models())
def test_ddp_gazekit_fit_two_processes(name, tmp_path):
    """The user's command: ``gazekit fit -c ... --trainer.strategy=ddp --trainer.devices=2`` (gloo)."""
    recipe = _recipe_or_skip(name)
    root, rec = tmp_path / "run", tmp_path / "rec"
    argv = ["fit", "-c", str(recipe), "--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu"]
    res = fit_subprocess([*argv, f"--trainer.default_root_dir={root}", record_arg(rec)])
    assert res.returncode == 0, res.stderr[-4000:]
    check_ddp_run(recipe, root, rec)


@pytest.mark.slow
def test_nevaclip_gathered_negatives_give_the_gradient_of_the_concatenated_batch(tmp_path):
    """NevaClip's contrastive loss under DDP with every process's pairs as negatives (``gather_negatives``, the
    default): the first step's averaged gradient over two processes of 4 pairs equals one process's on the same
    8 pairs. With local negatives only it does not. The image tower is a ViT here: the recipe's ResNet tower has
    BatchNorm, whose batch statistics are per process unless synchronised, which PyTorch does only on GPUs."""
    recipe = _recipe_or_skip("nevaclip")
    clip = {
        "embed_dim": 16,
        "vision": {"type": "vit", "width": 16, "layers": 1, "heads": 2, "patch": 16, "image_size": 64},
        "text": {"vocab_size": 611, "context_length": 16, "width": 16, "layers": 1, "heads": 2},
    }
    base = ["fit", "-c", str(recipe), "--trainer.max_steps=1", "--trainer.accelerator=cpu"]
    base.append("--model.init_args.clip=" + json.dumps(clip))
    grads = {}
    for name, extra in {
        "single": ["--data.init_args.batch_size=8"],
        "gathered": ["--trainer.strategy=ddp_fork", "--trainer.devices=2"],
        "local": ["--trainer.strategy=ddp_fork", "--trainer.devices=2", "--model.init_args.gather_negatives=false"],
    }.items():
        out = tmp_path / name
        cb = callback_arg("tests.training._callbacks.RecordGradients", out=str(out))
        assert fit_forked([*base, *extra, f"--trainer.default_root_dir={out}", cb]) == 0, name
        grads[name] = [torch.load(f, weights_only=True) for f in sorted(out.glob("grads_rank*.pt"))]
    assert len(grads["single"]) == 1 and len(grads["gathered"]) == len(grads["local"]) == 2
    one = grads["single"][0]
    for g in grads["gathered"]:
        assert g.keys() == one.keys()
        for k, v in one.items():
            torch.testing.assert_close(g[k], v, rtol=1e-4, atol=1e-6, msg=k)
    local = grads["local"][0]
    assert any(not torch.allclose(local[k], v, rtol=1e-3, atol=1e-5) for k, v in one.items())
