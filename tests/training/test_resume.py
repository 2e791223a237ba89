"""A run killed mid-epoch and resumed with ``--ckpt_path last`` ends with the weights of an uninterrupted run.

Each model's tiny recipe trains three times on CPU with deterministic settings (the recipe's
``seed_everything``, ``deterministic: true``, no loader workers) and a ModelCheckpoint that keeps
``last.ckpt``: once straight through; once killed (``os._exit``) two steps after a checkpoint written one
step into the second epoch; and once more from that checkpoint. The resumed run
must skip the batches the checkpoint had already trained on, see the same order afterwards and draw the same random
numbers (dropout, masking): every weight and optimiser tensor must be equal, not close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

from tests.training._runs import callback_arg, fit_forked, fit_subprocess, trainable_models
from tests.training.test_ddp import _recipe_or_skip


def _tensors(obj: object, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list | tuple) else []
    out: dict[str, torch.Tensor] = {}
    for k, v in items:
        out.update(_tensors(v, f"{prefix}/{k}"))
    return out


def check_resume(recipe: Path, tmp: Path, run: Callable[[list[str]], int], options: Sequence[str] = ()) -> None:
    """``options``: more command-line arguments for all three runs."""

    def argv(root: Path, every: int, *extra: str) -> list[str]:
        ckpt = callback_arg(
            "lightning.pytorch.callbacks.ModelCheckpoint",
            dirpath=str(root / "resume"),
            save_last=True,
            every_n_train_steps=every,
        )
        return ["fit", "-c", str(recipe), f"--trainer.default_root_dir={root}", ckpt, *options, *extra]

    assert run(argv(tmp / "straight", 10_000)) == 0
    a = torch.load(tmp / "straight" / "resume" / "last.ckpt", map_location="cpu", weights_only=True)
    per_epoch = a["global_step"] // a["epoch"]  # "epoch" of the final checkpoint: epochs completed
    # the last checkpoint one step into the second epoch (a resume must also restore the epoch's order),
    # the kill two steps later, before the end of the run
    every, kill_at = per_epoch + 1, per_epoch + 3
    assert a["epoch"] >= 2 and kill_at < a["global_step"], "the tiny recipe needs 2 epochs of >= 3 steps"
    kill = callback_arg("tests.training._callbacks.KillAfterSteps", steps=kill_at)
    assert run(argv(tmp / "killed", every, kill)) == 17  # the kill, not a clean exit
    last = tmp / "killed" / "resume" / "last.ckpt"
    killed = torch.load(last, map_location="cpu", weights_only=True)
    assert killed["global_step"] == every and killed["epoch"] == 1
    assert killed["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"] == 1  # mid-epoch
    assert run(argv(tmp / "killed", every, "--ckpt_path=last")) == 0

    b = torch.load(last, map_location="cpu", weights_only=True)
    assert a["global_step"] == b["global_step"] > every
    for part in ("state_dict", "optimizer_states"):
        ta, tb = _tensors(a[part]), _tensors(b[part])
        assert ta.keys() == tb.keys() and ta
        unequal = [k for k in ta if not torch.equal(ta[k], tb[k])]
        assert not unequal, f"{part}: {len(unequal)} of {len(ta)} tensors differ, e.g. {unequal[:3]}"
    # the killed run's weights were really behind: the check above compares trained-on weights
    assert any(not torch.equal(v, a["state_dict"][k]) for k, v in killed["state_dict"].items())


def _run_subprocess(argv: list[str]) -> int:
    """``python -m gazekit <argv>``; its stderr is shown when it fails otherwise than by the test's kill."""
    res = fit_subprocess(argv)
    if res.returncode not in (0, 17):
        print(res.stderr[-4000:])
    return res.returncode


def test_resume_after_kill_matches_uninterrupted_oat(tmp_path):
    """Fast (default suite): OAT's display-grouped trial batches, each run in a forked child."""
    check_resume(_recipe_or_skip("oat"), tmp_path, fit_forked)


@pytest.mark.slow
@pytest.mark.parametrize("name", trainable_models())
def test_resume_gazekit_fit_after_kill(name, tmp_path):
    """The user's commands, ``gazekit fit ...`` and ``gazekit fit ... --ckpt_path last``, per model."""

    check_resume(_recipe_or_skip(name), tmp_path, _run_subprocess)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vitgaze", "gazeseg"])
def test_resume_with_a_loader_worker(name, tmp_path):
    """The same with a data-loading worker process: the workers' seeds come from the loader's own generator
    and the synthetic scenes' draws from their index, so a resumed run still ends with equal weights."""

    check_resume(_recipe_or_skip(name), tmp_path, _run_subprocess, ["--data.init_args.num_workers=1"])
