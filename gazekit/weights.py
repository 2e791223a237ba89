"""Finding pretrained weights: explicit path -> ``GAZEKIT_WEIGHTS_DIR`` -> Hugging Face cache -> clear error.

Nothing is downloaded implicitly here: ``gazekit download`` (or ``huggingface-cli download``) fetches;
this module only looks. Loading is safetensors first; any other file goes through
``torch.load(weights_only=True)`` so nothing user-supplied is ever unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gazekit.errors import WeightsNotFoundError

__all__ = ["load_state_dict", "resolve_weights"]


def resolve_weights(
    explicit: str | Path | None,
    filename: str,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    what: str = "weights",
) -> Path:
    """Return the path of a weights file.

    Args:
        explicit: a path given by the user (file, or folder containing ``filename``); wins when set.
        filename: file name looked up in ``GAZEKIT_WEIGHTS_DIR`` and in the hub repo.
        repo_id: Hugging Face repo holding ``filename`` (looked up in the local hub cache only).
        revision: hub revision.
        what: human name for error messages.

    Raises:
        WeightsNotFoundError: naming every place that was searched and how to fetch the file.
    """
    tried: list[str] = []
    if explicit is not None:
        p = Path(explicit).expanduser()
        if p.is_dir():
            p = p / filename
        if p.is_file():
            return p
        raise WeightsNotFoundError(f"{what}: {p} does not exist")
    env = os.environ.get("GAZEKIT_WEIGHTS_DIR")
    if env:
        for cand in (Path(env) / filename, Path(env) / (repo_id or "").replace("/", "--") / filename):
            if cand.is_file():
                return cand
            tried.append(str(cand))
    else:
        tried.append("$GAZEKIT_WEIGHTS_DIR (unset)")
    if repo_id is not None:
        try:
            from huggingface_hub import try_to_load_from_cache

            hit = try_to_load_from_cache(repo_id, filename, revision=revision)
            if isinstance(hit, str):
                return Path(hit)
            tried.append(f"Hugging Face cache {repo_id}/{filename}")
        except ImportError:
            tried.append("Hugging Face cache (huggingface_hub not installed: pip install 'gazekit[hub]')")
    fetch = f"`gazekit download {repo_id}`" if repo_id else "the file"
    raise WeightsNotFoundError(
        f"{what} not found (looked in: {'; '.join(tried)}). Fetch {fetch} or pass an explicit path."
    )


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """Load a state dict from ``.safetensors`` (preferred) or a torch file with ``weights_only=True``."""
    import torch

    p = Path(path)
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    obj = torch.load(str(p), map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise WeightsNotFoundError(f"{p}: expected a state dict, got {type(obj).__name__}")
    return obj
