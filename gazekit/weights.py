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
import pickle
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gazekit.errors import BadWeightsError, GazekitError, WeightsNotFoundError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "Checkpoint",
    "ResolvedWeights",
    "WeightsSource",
    "load_into",
    "load_state_dict",
    "read_checkpoint",
    "read_safetensors_metadata",
    "resolve_weights",
    "weights_in_use",
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


def resolve_model_weights(spec: Any, weights: str | Path | None = None) -> ResolvedWeights:
    """Find a registered model's checkpoint (``spec``: a :class:`~gazekit.models.registry.ModelSpec`).

    File names, best first: the converted paper checkpoints (``spec.paper_checkpoints``), then
    ``spec.checkpoint`` and its ``.ckpt`` twin. A gazekit safetensors file that records its origin (``gazekit
    convert`` writes ``"paper"``) keeps it; otherwise the place decides (:func:`resolve_weights`).

    Raises:
        WeightsNotFoundError: naming the recipe that trains the weights and where the paper's weights come from.
    """
    name = spec.checkpoint or f"{spec.name}.safetensors"
    paper = tuple(getattr(spec, "paper_checkpoints", ()) or ())
    names = list(dict.fromkeys([*paper, name, f"{Path(name).stem}.ckpt"]))
    how = (
        f"Train them with `gazekit fit -c {spec.config}` and pass the checkpoint, or put {name} in "
        "$GAZEKIT_WEIGHTS_DIR."
        if spec.config
        else f"Put {name} in $GAZEKIT_WEIGHTS_DIR or pass its path."
    )
    if paper:
        how += (
            f" The paper's weights: `gazekit download {spec.name}_<dataset>` says where to get them and "
            f"`gazekit convert {spec.name} FILE --out $GAZEKIT_WEIGHTS_DIR/{paper[0]}` converts them."
        )
    if spec.hub_repo:
        how += f" The paper's weights: `huggingface-cli download {spec.hub_repo} {name}`."
    found = resolve_weights(
        weights, names, name=spec.name, repo_id=spec.hub_repo, bundled=spec.bundled_file, how_to_get=how
    )
    if found.source == "user":
        declared = declared_source(found.path)
        if declared is not None:
            return ResolvedWeights(found.path, declared)
    return found


def weights_in_use(spec: Any) -> str:
    """Which weights ``load_predictor(spec.name)`` would load (synthetic-data, paper or user, and the file), or
    what is missing; found without importing torch."""
    try:
        found = resolve_model_weights(spec)
    except WeightsNotFoundError:
        how = f"train with `gazekit fit -c {spec.config}` or" if spec.config else ""
        return f"needs weights ({how} pass --weights FILE)".replace("( ", "(")
    except GazekitError as e:  # a file that is there but unreadable
        return f"unusable weights: {e}"
    if found.source == "synthetic-data":
        return "synthetic-data weights (bundled; not trained on real images)"
    return f"{found.source} weights ({found.path})"


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
        source: the weights' origin recorded in a gazekit checkpoint (``gazekit convert`` writes ``"paper"``);
            None when the file does not say.
    """

    state_dict: dict[str, Any]
    init_args: dict[str, Any] | None = None
    target: str | None = None
    source: WeightsSource | None = None


#: safetensors metadata key of gazekit checkpoints: JSON ``{"class": "module:Class", "init_args": {...}}``
METADATA_KEY = "gazekit"


def read_safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file, read from its JSON header alone (no tensor is loaded).

    Raises:
        BadWeightsError: the file is shorter than its header says or the header is not JSON.
    """
    p = Path(path)
    with p.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise BadWeightsError(f"{p}: not a readable safetensors file (only {len(head)} bytes)")
        (n,) = struct.unpack("<Q", head)
        size = p.stat().st_size
        if n > size - 8:
            raise BadWeightsError(
                f"{p}: not a readable safetensors file (truncated, or another format: its header claims {n} "
                f"bytes of a {size}-byte file)"
            )
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadWeightsError(f"{p}: not a readable safetensors file (corrupt header: {e})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def declared_source(path: str | Path) -> WeightsSource | None:
    """The weights' origin a gazekit safetensors file records (``gazekit convert`` writes ``"paper"``), else None."""
    if Path(path).suffix != ".safetensors":
        return None
    info = read_safetensors_metadata(path).get(METADATA_KEY)
    src = json.loads(info).get("weights_source") if info else None
    return src if src in ("user", "paper", "synthetic-data") else None


def _torch_load(p: Path) -> Any:
    """``torch.load(weights_only=True)`` with gazekit's messages for the ways a weight file goes wrong."""
    # torch here, not at the top: `gazekit models` resolves weights without it (-X importtime on the shared
    # 2-core machine: gazekit.weights 0.02-0.15 s, torch 8 s)
    import torch

    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        found = re.search(r"GLOBAL ([\w.]+)", msg) or re.search(r"allowlist this global.*?\[([\w.]+)\]", msg)
        if found or "Unsupported global" in msg or "not an allowed global" in msg:
            what = found.group(1) if found else "a Python object"
            raise BadWeightsError(
                f"{p}: holds pickled Python objects ({what}), not only tensors; gazekit never unpickles objects "
                "because that can run arbitrary code. If you trust the file, re-save just its tensors (e.g. "
                "`torch.save(torch.load(f, weights_only=False)['model'], 'weights.pth')`) and load that."
            ) from None
        detail = msg.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0][:160]
        raise BadWeightsError(
            f"{p}: not a loadable weights-only torch checkpoint (corrupt, or another format: {detail})"
        ) from None
    except RuntimeError as e:  # torch's zip reader: truncated downloads land here
        first = str(e).splitlines()[0][:160]
        raise BadWeightsError(
            f"{p}: not a loadable weights-only torch checkpoint (truncated or corrupt: {first})"
        ) from None
    except (EOFError, OSError, ValueError) as e:
        raise BadWeightsError(f"{p}: not a loadable weights-only torch checkpoint ({e})") from None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a gazekit safetensors file, a Lightning ``.ckpt`` or a bare (paper) state dict.

    Raises:
        WeightsNotFoundError: the file does not exist.
        BadWeightsError: it is truncated, corrupt, not a weights file or holds pickled objects.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsNotFoundError(f"checkpoint {p} does not exist")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        meta = read_safetensors_metadata(p)  # names truncation precisely before the Rust reader does
        try:
            state = load_file(str(p))
        except (SafetensorError, OSError) as e:
            raise BadWeightsError(f"{p}: not a readable safetensors file (truncated or corrupt: {e})") from None
        init_args, target, source = None, None, None
        if METADATA_KEY in meta:
            info = json.loads(meta[METADATA_KEY])
            init_args, target = info.get("init_args"), info.get("class")  # ViTGaze's first files have no "class"
            source = declared_source(p)
        elif "hparams" in meta:  # the format OAT wrote before gazekit had one checkpoint path ("gazekit-oat-1")
            init_args = json.loads(meta["hparams"])
        return Checkpoint(state, init_args, target, source)
    obj = _torch_load(p)
    if not isinstance(obj, dict):
        raise BadWeightsError(f"{p}: expected a state dict, got {type(obj).__name__}")
    if isinstance(obj.get("state_dict"), dict):  # Lightning
        hp = obj.get("hyper_parameters")
        return Checkpoint(obj["state_dict"], dict(hp) if isinstance(hp, dict) else None)
    if isinstance(obj.get("model"), dict):  # common release layout {"model": state_dict, ...} (detectron2 too)
        return Checkpoint(obj["model"])
    return Checkpoint(obj)


def load_into(
    model: nn.Module,
    state_dict: Mapping[str, Any],
    path: str | Path,
    *,
    what: str,
    optional: Iterable[str] = (),
    strict: bool = True,
) -> None:
    """Load ``state_dict`` into ``model``, refusing with a message that names ``path`` and what is wrong.

    Floating-point tensors are cast to the model's dtype (fp16 shipped checkpoints). Shapes are compared
    before loading, so a checkpoint of another model size is reported as such, not as torch's ``RuntimeError``.

    Args:
        model: the built network.
        state_dict: tensors already mapped to ``model``'s keys.
        path: the file they came from (messages).
        what: the model's name in messages (``"dinov2_vits14"``, ``"ViTGaze(embed_dim=384, …)"``).
        optional: keys the model may keep at their initial value (parameters a layout never ships).
        strict: fail on missing/unexpected keys.

    Raises:
        BadWeightsError: a tensor of the wrong shape, or (``strict``) missing / unexpected tensors.
    """
    ref = model.state_dict()
    bad = [
        f"{k} {tuple(v.shape)} (model {tuple(ref[k].shape)})"
        for k, v in state_dict.items()
        if k in ref and hasattr(v, "shape") and tuple(v.shape) != tuple(ref[k].shape)
    ]
    if bad:
        raise BadWeightsError(
            f"{path}: checkpoint does not fit {what}: {len(bad)} tensor(s) of the wrong shape (a checkpoint of "
            f"another model size or architecture): {'; '.join(bad[:4])}{' …' if len(bad) > 4 else ''}"
        )
    state = {k: v.to(ref[k].dtype) if k in ref and v.is_floating_point() else v for k, v in state_dict.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    skip = set(optional)
    missing = [k for k in missing if k not in skip]
    if strict and (missing or unexpected):
        raise BadWeightsError(
            f"{path}: checkpoint does not fit {what}: missing {missing[:6]}{'…' if len(missing) > 6 else ''}, "
            f"unexpected {unexpected[:6]}{'…' if len(unexpected) > 6 else ''}"
        )


def write_checkpoint(
    path: str | Path,
    state_dict: dict[str, torch.Tensor],
    *,
    target: str,
    init_args: dict[str, Any],
    weights_source: WeightsSource | None = None,
) -> Path:
    """Write ``state_dict`` as safetensors with the constructor arguments (and, when given, the weights' origin,
    e.g. ``"paper"`` for a converted release) as JSON metadata.

    Raises:
        GazekitError: ``init_args`` is not JSON-serialisable (``save_hyperparameters`` must see plain values).
    """
    try:
        record: dict[str, Any] = {"class": target, "init_args": init_args}
        if weights_source is not None:
            record["weights_source"] = weights_source
        info = json.dumps(record)
    except TypeError as e:
        raise GazekitError(f"{target}: hyper-parameters must be JSON-serialisable to be saved ({e})") from None
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, str(p), metadata={METADATA_KEY: info})
    return p
