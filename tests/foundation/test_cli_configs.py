"""The gazekit command and every YAML recipe in configs/ (each must run with fast_dev_run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gazekit.cli import COMMANDS, LIGHTNING_COMMANDS, cli_main, main
from gazekit.models.registry import get_spec, list_models
from gazekit.models.vitgaze import ViTGaze

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "configs" / "experiments").glob("*.yaml"))
ALL_YAML = sorted((ROOT / "configs").rglob("*.yaml"))


def test_help_lists_every_command(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    for name in [*LIGHTNING_COMMANDS, *COMMANDS]:
        assert name in out
    for required in ("fit", "validate", "test", "predict", "demo", "score", "infer"):
        assert required in out


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["frobnicate"])
    assert ei.value.code == 2
    assert "unknown command" in capsys.readouterr().err


def test_every_command_module_imports():
    import importlib

    for module, _ in COMMANDS.values():
        mod = importlib.import_module(module)
        assert callable(mod.add_arguments) and callable(mod.run)


def test_models_command(capsys):
    main(["models"])
    out = capsys.readouterr().out
    assert "random" in out and "oat" in out
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "[synthetic-data weights (bundled; not trained on real images)]" in rows["oat"]
    assert "[synthetic-data weights" in rows["gazeseg"] and "[" not in rows["random"]


def test_models_command_says_which_weights(capsys, monkeypatch, tmp_path):
    """A converted paper checkpoint or a user's file in $GAZEKIT_WEIGHTS_DIR is reported as such."""
    m = ViTGaze(embed_dim=32, depth=2, num_heads=2, pos_embed_grid=4, input_size=56, attn_layers=[0, 1])
    m.save_checkpoint(tmp_path / "vitgaze_synthetic.safetensors")
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    main(["models", "--kind", "gaze"])
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"[user weights ({tmp_path / 'vitgaze_synthetic.safetensors'})]" in rows["vitgaze"]
    m.save_checkpoint(tmp_path / "vitgaze_videoattentiontarget.safetensors", weights_source="paper")
    main(["models", "--kind", "gaze"])
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"[paper weights ({tmp_path / 'vitgaze_videoattentiontarget.safetensors'})]" in rows["vitgaze"]


def test_registry_specs():
    names = {s.name for s in list_models()}
    assert {"random", "center", "greedy", "oracle", "oat", "vitgaze"} <= names
    with pytest.raises(Exception, match="unknown model"):
        get_spec("nope")
    for s in list_models():
        if s.config is not None and s.available:
            assert (ROOT / s.config).is_file(), f"{s.name}: recipe {s.config} missing"


#: a model and a data section, so that a file holding only one section still makes a whole fit config
BASE = [ROOT / "configs" / "model" / "oat_small.yaml", ROOT / "configs" / "data" / "synthetic_search.yaml"]


def print_config(*configs: Path) -> None:
    """LightningCLI's own parser on ``configs`` (checked against the classes' signatures, nothing built)."""
    args = ["fit", *(a for c in configs for a in ("--config", str(c))), "--print_config"]
    with pytest.raises(SystemExit) as e:
        cli_main(args)
    assert e.value.code in (0, None), f"{configs[-1]} does not parse (exit {e.value.code})"


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(ROOT)))
def test_recipe_parses_with_lightningclis_parser(path, capsys):
    print_config(*BASE, path)
    printed = yaml.safe_load(capsys.readouterr().out)
    for section, body in yaml.safe_load(path.read_text()).items():
        if isinstance(body, dict) and "class_path" in body:
            assert printed[section]["class_path"] == body["class_path"]


def test_misspelt_init_arg_fails(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "configs" / "data" / "synthetic_search.yaml").read_text().replace("n_displays", "n_display"))
    with pytest.raises(SystemExit) as e:
        cli_main(["fit", "--config", str(BASE[0]), "--config", str(bad), "--print_config"])
    assert e.value.code not in (0, None)
    assert "n_display" in capsys.readouterr().err


#: recipes on real data: the data options they take from the command line (relative to $GAZEKIT_SAMPLE_DATA)
REAL_DATA = {
    "oat_coco_search18.yaml": {
        "--data.fixations": "coco_search18/coco_search18_fixations_TP_validation_split1.json",
        "--data.detections": "coco_search18/detections",
    },
    "oat_amazon.yaml": {"--data.fixations": "amazon_covers/Amazon.json"},
}


def _fit(path: Path, tmp_path: Path, *extra: str):  # noqa: ANN202 - LightningCLI
    return cli_main(
        [
            "fit",
            "--config",
            str(path),
            "--trainer.fast_dev_run=2",
            "--trainer.accelerator=cpu",
            "--trainer.devices=1",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            *extra,
        ]
    )


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_recipe_runs_fast_dev_run(path, tmp_path, request):
    extra: list[str] = []
    if path.name in REAL_DATA:  # the user's loop: data locations from the command line
        root = request.getfixturevalue("shared_data")
        extra = [f"{k}={root / v}" for k, v in REAL_DATA[path.name].items()]
    _fit(path, tmp_path, *extra)


def _text_files() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*")
        if p.is_file()
        and ".git" not in p.parts
        and ".venv" not in p.parts
        and p.suffix in (".py", ".yaml", ".yml", ".md", ".toml", ".cfg", ".txt")
    ]


def test_no_file_names_a_folder_outside_the_repo():
    bad = "../" + "shared"
    assert [str(p.relative_to(ROOT)) for p in _text_files() if bad in p.read_text(errors="ignore")] == []


def test_no_merge_conflict_markers():
    marker = re.compile(r"^(<{7}|>{7})( |$)", re.M)  # built so that this file does not match itself
    assert [str(p.relative_to(ROOT)) for p in _text_files() if marker.search(p.read_text(errors="ignore"))] == []


@pytest.mark.parametrize("name", sorted(REAL_DATA))
def test_real_data_recipe_without_data_names_what_is_missing(name, tmp_path, monkeypatch):
    from gazekit.errors import DataMissingError

    for var in ("GAZEKIT_COCO_SEARCH18", "GAZEKIT_AMAZON_COVERS"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(
        DataMissingError, match=r"--data\.fixations .*GAZEKIT_(COCO_SEARCH18|AMAZON_COVERS).*get the data"
    ):
        _fit(ROOT / "configs" / "experiments" / name, tmp_path)
    with pytest.raises(DataMissingError, match="no such file"):
        _fit(ROOT / "configs" / "experiments" / name, tmp_path, f"--data.fixations={tmp_path / 'nope.json'}")


def _ckpt(root: Path) -> Path:
    found = sorted(root.rglob("*.ckpt"))
    assert found, f"no checkpoint under {root}"
    return found[0]


def test_predict_with_ckpt_path_writes_scanpaths(tmp_path):
    """`gazekit predict -c RECIPE --ckpt_path CKPT` writes a predictions file (it used to write nothing)."""
    from gazekit.io import read_scanpaths

    recipe = ROOT / "configs" / "experiments" / "oat_synthetic.yaml"
    common = ["--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.enable_progress_bar=false"]
    cli_main(["fit", "--config", str(recipe), *common, f"--trainer.default_root_dir={tmp_path / 'fit'}",
              "--trainer.max_steps=1", "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1",
              "--data.n_displays=24"])  # fmt: skip
    out = tmp_path / "pred"
    cli_main(["predict", "--config", str(recipe), *common, f"--trainer.default_root_dir={out}",
              "--trainer.limit_predict_batches=1", "--data.n_displays=24", f"--ckpt_path={_ckpt(tmp_path / 'fit')}",
              "--trainer.logger=false"])  # fmt: skip
    sps = read_scanpaths(out / "predictions.csv")
    assert sps and all(s.width == 512 and len(s) >= 1 for s in sps)


def test_predict_writes_gaze_json(tmp_path):
    import json

    recipe = ROOT / "configs" / "experiments" / "vitgaze_synthetic.yaml"
    out = tmp_path / "pred"
    cli_main(["predict", "--config", str(recipe), "--trainer.accelerator=cpu", "--trainer.devices=1",
              f"--trainer.default_root_dir={out}", "--trainer.limit_predict_batches=1", "--trainer.logger=false",
              "--trainer.enable_progress_bar=false"])  # fmt: skip
    recs = json.loads((out / "predictions.json").read_text())
    assert recs and {"index", "head_box", "gaze_point", "inout"} <= set(recs[0])


def test_object_recipes_train_on_the_whole_file_unless_a_fold_is_asked(shared_data, monkeypatch):
    from gazekit.datasets.search_trials import ObjectTrialDataModule

    monkeypatch.setenv("GAZEKIT_AMAZON_COVERS", str(shared_data / "amazon_covers"))
    whole = ObjectTrialDataModule(source="amazon")  # the location from the environment variable
    whole.setup()
    assert whole.test_trials == [] and len(whole.train_trials) + len(whole.val_trials) == len(whole.trials)
    fold = ObjectTrialDataModule(source="amazon", fold=0)
    fold.setup()
    assert 0 < len(fold.test_trials) < len(fold.trials)
