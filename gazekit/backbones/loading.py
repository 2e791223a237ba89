"""Pretrained backbone weights: where they come from, where gazekit looks, and how they are mapped.

``BACKBONE_WEIGHTS`` is the table ``gazekit download`` reads (name → ``repo_id``, ``filename``, ``url``,
``sha256``, …). :func:`load_backbone` / :func:`resolve_backbone_weights` find the file through gazekit's one
resolver, :func:`gazekit.weights.resolve_weights` (explicit path → ``$GAZEKIT_WEIGHTS_DIR`` → Hugging Face
cache → :class:`~gazekit.errors.WeightsNotFoundError` naming the ``gazekit download`` command);
``.safetensors`` names are tried first.

Nothing is unpickled: safetensors, or ``torch.load(weights_only=True)`` (:func:`gazekit.weights.load_state_dict`).
SHA-256 sums are ``None`` where no published sum is known (the download is then verified by size only).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from gazekit.backbones import clip, nat, vgg, vit
from gazekit.errors import BadWeightsError, ConfigError
from gazekit.weights import load_into, load_state_dict, resolve_weights

__all__ = ["BACKBONE_WEIGHTS", "BUILDERS", "load_backbone", "resolve_backbone_weights"]

_DINO = "https://dl.fbaipublicfiles.com/dinov2"
_HF = "https://huggingface.co"
_NAT = "http://ix.cs.uoregon.edu/~alih/nat/checkpoints/CLS"
_DINAT = "https://shilab.cs.uoregon.edu/projects/dinat/checkpoints/imagenet1k"


def _dino(size: str, hf: str, reg: bool = False) -> dict[str, Any]:
    stem = f"dinov2_vit{size}14{'_reg4' if reg else ''}_pretrain.pth"
    return {
        "family": "dinov2",
        "repo_id": hf,
        "hub_filename": "model.safetensors",
        "filename": stem,
        "url": f"{_DINO}/dinov2_vit{size}14/{stem}",
        "sha256": None,
        "homepage": "https://github.com/facebookresearch/dinov2",
        "description": f"DINOv2 ViT-{size.upper()}/14{' + 4 registers' if reg else ''} (Apache-2.0)",
    }


def _clip(repo: str, desc: str) -> dict[str, Any]:
    return {
        "family": "clip",
        "repo_id": repo,
        "hub_filename": "model.safetensors",
        "filename": "model.safetensors",
        "url": f"{_HF}/{repo}/resolve/main/model.safetensors",
        "sha256": None,
        "homepage": f"{_HF}/{repo}",
        "description": f"OpenAI CLIP {desc} (transformers layout, safetensors)",
    }


def _nat(url: str, desc: str) -> dict[str, Any]:
    return {
        "family": "nat",
        "repo_id": None,
        "filename": url.rsplit("/", 1)[1],
        "url": url,
        "sha256": None,
        "homepage": "https://github.com/SHI-Labs/Neighborhood-Attention-Transformer",
        "description": f"{desc} ImageNet-1k classification checkpoint",
    }


#: name → weight-file record (read by ``gazekit download``)
BACKBONE_WEIGHTS: dict[str, dict[str, Any]] = {
    "dinov2_vits14": _dino("s", "facebook/dinov2-small"),
    "dinov2_vitb14": _dino("b", "facebook/dinov2-base"),
    "dinov2_vitl14": _dino("l", "facebook/dinov2-large"),
    "dinov2_vits14_reg": _dino("s", "facebook/dinov2-with-registers-small", reg=True),
    "clip_vit_b32": _clip("openai/clip-vit-base-patch32", "ViT-B/32"),
    "clip_vit_b16": _clip("openai/clip-vit-base-patch16", "ViT-B/16"),
    "clip_vit_l14": _clip("openai/clip-vit-large-patch14", "ViT-L/14"),
    "clip_rn50": {  # NevaClip's default backbone; open_clip's hub copy of OpenAI's RN50 (OpenAI key names)
        "family": "clip",
        "repo_id": "timm/resnet50_clip.openai",
        "hub_filename": "open_clip_model.safetensors",
        "filename": "open_clip_model.safetensors",
        "urls": [
            f"{_HF}/timm/resnet50_clip.openai/resolve/main/open_clip_model.safetensors",
            f"{_HF}/timm/resnet50_clip.openai/resolve/main/vocab.json",
            f"{_HF}/timm/resnet50_clip.openai/resolve/main/merges.txt",
        ],
        "sha256": None,
        "homepage": f"{_HF}/timm/resnet50_clip.openai",
        "description": "OpenAI CLIP RN50 (open_clip layout, safetensors) with its BPE vocabulary",
    },
    "clip_tokenizer": {
        "family": "clip_tokenizer",
        "repo_id": "openai/clip-vit-base-patch32",
        "filename": "vocab.json",
        "urls": [
            f"{_HF}/openai/clip-vit-base-patch32/resolve/main/vocab.json",
            f"{_HF}/openai/clip-vit-base-patch32/resolve/main/merges.txt",
        ],
        "sha256": None,
        "homepage": f"{_HF}/openai/clip-vit-base-patch32",
        "description": "CLIP BPE vocabulary (vocab.json + merges.txt)",
    },
    "vgg16": {
        "family": "vgg",
        "repo_id": None,
        "filename": "vgg16-397923af.pth",
        "url": "https://download.pytorch.org/models/vgg16-397923af.pth",
        "sha256": None,  # torchvision names carry only the first 8 hex digits of the SHA-256 (397923af)
        "sha256_prefix": "397923af",
        "homepage": "https://pytorch.org/vision/stable/models/generated/torchvision.models.vgg16.html",
        "description": "torchvision VGG16 ImageNet-1k (BSD-3-Clause)",
    },
    "nat_mini": _nat(f"{_NAT}/nat_mini.pth", "NAT-Mini"),
    "nat_tiny": _nat(f"{_NAT}/nat_tiny.pth", "NAT-Tiny"),
    "nat_small": _nat(f"{_NAT}/nat_small.pth", "NAT-Small"),
    "nat_base": _nat(f"{_NAT}/nat_base.pth", "NAT-Base"),
    "dinat_mini": _nat(f"{_DINAT}/dinat_mini_in1k_224.pth", "DiNAT-Mini"),
    "dinat_tiny": _nat(f"{_DINAT}/dinat_tiny_in1k_224.pth", "DiNAT-Tiny"),
    "dinat_small": _nat(f"{_DINAT}/dinat_small_in1k_224.pth", "DiNAT-Small"),
    "dinat_base": _nat(f"{_DINAT}/dinat_base_in1k_224.pth", "DiNAT-Base"),
}


def _builders() -> dict[str, Callable[..., nn.Module]]:

    return {
        "dinov2_vits14": vit.vit_small_patch14_dinov2,
        "dinov2_vitb14": vit.vit_base_patch14_dinov2,
        "dinov2_vitl14": vit.vit_large_patch14_dinov2,
        "dinov2_vits14_reg": lambda **kw: vit.vit_small_patch14_dinov2(num_register_tokens=4, **kw),
        "clip_vit_b32": clip.clip_vit_b32,
        "clip_vit_b16": clip.clip_vit_b16,
        "clip_vit_l14": clip.clip_vit_l14,
        "clip_rn50": clip.clip_rn50,
        "vgg16": vgg.vgg16,
        **{n: getattr(nat, n) for n in BACKBONE_WEIGHTS if n.startswith(("nat_", "dinat_"))},
    }


#: name → constructor (lazy: filled on first use of :func:`load_backbone`)
BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def _filter(family: str) -> Callable[..., dict[str, Any]]:

    return {
        "dinov2": vit.checkpoint_filter_fn,
        "clip": clip.checkpoint_filter_fn,
        "nat": nat.checkpoint_filter_fn,
        "vgg": vgg.checkpoint_filter_fn,
    }[family]


def _entry(name: str) -> dict[str, Any]:
    if name not in BACKBONE_WEIGHTS:
        raise ConfigError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONE_WEIGHTS))}")
    return BACKBONE_WEIGHTS[name]


def resolve_backbone_weights(name: str, weights: str | Path | None = None) -> Path:
    """Path of backbone ``name``'s weight file (search order: :mod:`gazekit.weights`; no bundled copies).

    Raises:
        WeightsNotFoundError: listing every location tried and how to fetch the file.
    """
    spec = _entry(name)
    names = [n for n in (spec.get("hub_filename"), spec["filename"]) if n]
    names = sorted(dict.fromkeys(names), key=lambda n: not n.endswith(".safetensors"))
    repo = spec.get("repo_id")
    how = (
        f"Fetch them with `gazekit download {name} --root $GAZEKIT_WEIGHTS_DIR`"
        + (f" or `huggingface-cli download {repo}`" if repo else "")
        + ", or pass an explicit path."
    )
    return resolve_weights(weights, names, name=name, repo_id=repo, how_to_get=how).path


def load_backbone(
    name: str, weights: str | Path | None = None, *, pretrained: bool = True, strict: bool = True, **kwargs: Any
) -> nn.Module:
    """Build backbone ``name`` and load its published weights; returned in eval mode.

    The weight file is looked for before the network is built, so a missing file fails at once.

    Args:
        name: a key of :data:`BACKBONE_WEIGHTS` with a model (e.g. ``"dinov2_vits14"``, ``"clip_vit_b32"``,
            ``"nat_mini"``, ``"vgg16"``).
        weights: explicit weight file or folder; None searches ``GAZEKIT_WEIGHTS_DIR`` and the hub cache.
        pretrained: False returns the randomly initialised model (tests, training from scratch).
        strict: fail on missing/unexpected keys (parameters that a family never ships, such as CLIP's
            ``visual.mask_token`` or a DINOv2 mask token in HF exports, are always allowed to be missing).
        kwargs: constructor arguments (e.g. ``final_norm=False``, ``num_classes=1000``).

    Raises:
        WeightsNotFoundError: the file is not in any searched place.
        BadWeightsError: the file is truncated or corrupt, holds pickled objects, lacks a tensor (e.g. a
            layer's key projection) or holds tensors of another shape (another model size); the message names
            the file.
    """
    spec = _entry(name)
    if not BUILDERS:
        BUILDERS.update(_builders())
    if name not in BUILDERS:
        raise ConfigError(f"{name!r} is a weight file, not a backbone")
    path = resolve_backbone_weights(name, weights) if pretrained else None
    model = BUILDERS[name](**kwargs)
    if path is None:
        return model.eval()
    raw = load_state_dict(path)
    try:
        sd = _filter(spec["family"])(raw, model)
    except ConfigError as e:  # the filters know the layer, not the file
        raise BadWeightsError(f"{path}: {e}") from None
    load_into(model, sd, path, what=name, optional=("visual.mask_token", "mask_token"), strict=strict)
    return model.eval()
