"""The ``gazekit`` command: LightningCLI's fit/validate/test/predict plus gazekit's own subcommands.

Own subcommands live in their modules, each exposing ``add_arguments(parser)`` and ``run(args) -> int``;
they are imported only when used, so ``gazekit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from gazekit.errors import GazekitError

__all__ = ["cli_main", "main"]

LIGHTNING_COMMANDS = {
    "fit": "train a model from a YAML recipe (configs/)",
    "validate": "run the validation loop",
    "test": "run the test loop",
    "predict": "run the prediction loop over a DataModule",
}

#: name -> (module, one-line help)
COMMANDS = {
    "demo": ("gazekit.demo", "the embedded default: synthetic world, models, scores, HTML report"),
    "infer": ("gazekit.infer", "predict scanpaths / gaze for your image file(s); writes CSV/JSON and overlays"),
    "score": ("gazekit.metrics.cli", "score predicted scanpaths against human scanpaths"),
    "download": ("gazekit.datasets.download", "download a dataset or pretrained weights (verified, resumable)"),
    "convert": ("gazekit.convert", "convert a paper's released checkpoint into a gazekit safetensors file"),
    "models": ("gazekit.models.cli", "list registered models and whether they are available"),
    "app": ("gazekit.app.launcher", "start the Streamlit viewer"),
    "asymmetry": ("gazekit.models.eccnet_experiment", "eccNET's visual-search-asymmetry experiment (six paradigms)"),
}


def _usage() -> str:
    lines = ["usage: gazekit <command> [options]", "", "Training (LightningCLI; `gazekit fit --help`):"]
    lines += [f"  {k:<10} {v}" for k, v in LIGHTNING_COMMANDS.items()]
    lines += ["", "gazekit commands (`gazekit <command> --help`):"]
    lines += [f"  {k:<10} {v[1]}" for k, v in COMMANDS.items()]
    return "\n".join(lines)


def cli_main(args: Sequence[str] | None = None, run: bool = True):  # noqa: ANN201 - returns LightningCLI
    """Run LightningCLI in subclass mode over gazekit's model and data bases; returns the CLI (for tests)."""
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    from lightning.pytorch.cli import LightningCLI

    from gazekit.datasets.base import GazekitDataModule
    from gazekit.models.base import GazekitModule

    importlib.import_module("gazekit.lightning_registry")  # makes every model and DataModule importable by name
    argv = list(args) if args is not None else sys.argv[1:]
    if argv and argv[0] == "predict" and not any("PredictionWriter" in a for a in argv):
        # predictions are written, never only returned: gazekit's writer unless the recipe names one
        argv = [*argv, "--trainer.callbacks+=gazekit.writers.PredictionWriter"]
    return LightningCLI(
        GazekitModule,
        GazekitDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=argv,
        run=run,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (returns None so the console wrapper exits 0 on success)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    if argv[0] in ("-V", "--version"):
        from gazekit import __version__

        print(f"gazekit {__version__}")
        return
    cmd = argv[0]
    if cmd in LIGHTNING_COMMANDS:
        try:
            cli_main(argv)
        except GazekitError as e:
            print(f"gazekit {cmd}: error: {e}", file=sys.stderr)
            sys.exit(2)
        return
    if cmd not in COMMANDS:
        print(f"gazekit: unknown command {cmd!r}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)
    module, help_text = COMMANDS[cmd]
    mod = importlib.import_module(module)
    parser = argparse.ArgumentParser(prog=f"gazekit {cmd}", description=help_text)
    mod.add_arguments(parser)
    ns = parser.parse_args(argv[1:])
    try:
        code = mod.run(ns)
    except GazekitError as e:
        print(f"gazekit {cmd}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    if code:
        sys.exit(int(code))


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
