"""The one place that finds and reads weight files (learned models and backbones alike).

Search order of :func:`resolve_weights`:

1. an explicit path (a file, or a folder holding one of the file names) — the user's weights;
2. ``$GAZEKIT_WEIGHTS_DIR``: ``<dir>/<file>``, ``<dir>/<name>/<file>`` (where ``gazekit download NAME --root
   <dir>`` puts it) and ``<dir>/<org>--<repo>/<file>``;
3. the Hugging Face hub cache (``repo_id``; looked up, never downloaded);
4. the checkpoint bundled in ``gazekit/assets/`` (trained by the project on synthetic data);
5. otherwise :class:`~gazekit.errors.WeightsNotFoundError` naming every place tried and how to get the file.

Nothing is downloaded here (``gazekit download`` or ``huggingface-cli download`` fetch) and nothing is
unpickled: safetensors, or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from gazekit.errors import GazekitError, WeightsNotFoundError

__all__ = [
    "Checkpoint",
    "ResolvedWeights",
    "WeightsSource",
    "load_state_dict",
    "read_checkpoint",
    "resolve_weights",
    "write_checkpoint",
]

#: where a model's weights came from: the user's file, the paper's release, or the project's synthetic training
WeightsSource = Literal["user", "paper", "synthetic-data"]


@dataclass(frozen=True)
class ResolvedWeights:
    """A weight file found by :func:`resolve_weights` and which kind of weights it holds."""

    path: Path
    source: WeightsSource


def resolve_weights(
    explicit: str | Path | None,
    filenames: Sequence[str],
    *,
    name: str,
    repo_id: str | None = None,
    revision: str | None = None,
    bundled: Path | None = None,
    how_to_get: str = "",
) -> ResolvedWeights:
    """Find a weight file (search order in the module docstring).

    Args:
        explicit: a path given by the user (file, or folder holding one of ``filenames``); wins when set.
        filenames: file names to look for, best first (e.g. ``.safetensors`` before ``.pth``).
        name: model or backbone name (error messages; ``$GAZEKIT_WEIGHTS_DIR/<name>/`` sub-folder).
        repo_id: Hugging Face repo of the published weights (looked up in the local hub cache only).
        revision: hub revision.
        bundled: the checkpoint shipped with gazekit, if any.
        how_to_get: sentence appended to the error: the recipe that trains the weights or the download command.

    Raises:
        WeightsNotFoundError: naming every place searched and ``how_to_get``.
    """
    if not filenames:
        raise GazekitError(f"{name}: no weight file name to look for")
    tried: list[str] = []
    if explicit is not None:
        p = Path(explicit).expanduser()
        for cand in [p] if p.is_file() or not p.is_dir() else [p / n for n in filenames]:
            if cand.is_file():
                return ResolvedWeights(cand, "user")
            tried.append(str(cand))
        raise WeightsNotFoundError(f"{name} weights: {', '.join(tried)} does not exist")
    repo_dir = (repo_id or "").replace("/", "--")
    env = os.environ.get("GAZEKIT_WEIGHTS_DIR")
    if env:
        for n in filenames:
            cands = [(Path(env) / n, "user"), (Path(env) / name / n, "user")]
            if repo_dir:
                cands.append((Path(env) / repo_dir / n, "paper"))
            for cand, source in cands:
                if cand.is_file():
                    return ResolvedWeights(cand, source)  # type: ignore[arg-type]
                tried.append(str(cand))
    else:
        tried.append("$GAZEKIT_WEIGHTS_DIR (unset)")
    if repo_id is not None:
        try:
            from huggingface_hub import try_to_load_from_cache  # optional extra: gazekit[hub]
        except ImportError:
            tried.append("Hugging Face cache (huggingface_hub not installed: pip install 'gazekit[hub]')")
        else:
            for n in filenames:
                hit = try_to_load_from_cache(repo_id, n, revision=revision)
                if isinstance(hit, str):
                    return ResolvedWeights(Path(hit), "paper")
                tried.append(f"Hugging Face cache {repo_id}/{n}")
    if bundled is not None:
        if bundled.is_file():
            return ResolvedWeights(bundled, "synthetic-data")
        tried.append(str(bundled))
    raise WeightsNotFoundError(f"{name} weights not found (looked in: {'; '.join(tried)}). {how_to_get}".rstrip())


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """A plain state dict from ``.safetensors`` or a torch file (``weights_only=True``; Lightning's
    ``state_dict`` and a release's ``model`` entry are unwrapped)."""
    return read_checkpoint(path).state_dict


@dataclass
class Checkpoint:
    """The contents of a weight file.

    Attributes:
        state_dict: parameter name → tensor.
        init_args: constructor arguments stored with the weights (gazekit safetensors metadata or a
            Lightning ``hyper_parameters`` entry); None for a bare state dict such as a paper's release.
        target: ``"module:Class"`` that wrote a gazekit checkpoint (None when unknown).
    """

    state_dict: dict[str, Any]
    init_args: dict[str, Any] | None = None
    target: str | None = None


#: safetensors metadata key of gazekit checkpoints: JSON ``{"class": "module:Class", "init_args": {...}}``
METADATA_KEY = "gazekit"


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a gazekit safetensors file, a Lightning ``.ckpt`` or a bare (paper) state dict.

    Raises:
        WeightsNotFoundError: the file does not exist.
        GazekitError: it is not a readable weights file.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsNotFoundError(f"checkpoint {p} does not exist")
    if p.suffix == ".safetensors":
        try:
            with safe_open(str(p), "pt") as f:
                meta = f.metadata() or {}
            state = load_file(str(p))
        except (SafetensorError, OSError) as e:
            raise GazekitError(f"{p}: not a readable safetensors file ({e})") from None
        init_args, target = None, None
        if METADATA_KEY in meta:
            info = json.loads(meta[METADATA_KEY])
            init_args, target = info.get("init_args"), info.get("class")  # ViTGaze's first files have no "class"
        elif "hparams" in meta:  # the format OAT wrote before gazekit had one checkpoint path ("gazekit-oat-1")
            init_args = json.loads(meta["hparams"])
        return Checkpoint(state, init_args, target)
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses pickled objects; corrupt files fail here too
        raise GazekitError(f"{p}: not a loadable weights-only torch checkpoint ({e})") from None
    if not isinstance(obj, dict):
        raise GazekitError(f"{p}: expected a state dict, got {type(obj).__name__}")
    if isinstance(obj.get("state_dict"), dict):  # Lightning
        hp = obj.get("hyper_parameters")
        return Checkpoint(obj["state_dict"], dict(hp) if isinstance(hp, dict) else None)
    if isinstance(obj.get("model"), dict):  # common release layout {"model": state_dict, ...}
        return Checkpoint(obj["model"])
    return Checkpoint(obj)


def write_checkpoint(
    path: str | Path, state_dict: dict[str, torch.Tensor], *, target: str, init_args: dict[str, Any]
) -> Path:
    """Write ``state_dict`` as safetensors with the constructor arguments as JSON metadata.

    Raises:
        GazekitError: ``init_args`` is not JSON-serialisable (``save_hyperparameters`` must see plain values).
    """
    try:
        info = json.dumps({"class": target, "init_args": init_args})
    except TypeError as e:
        raise GazekitError(f"{target}: hyper-parameters must be JSON-serialisable to be saved ({e})") from None
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, str(p), metadata={METADATA_KEY: info})
    return p
