"""VGG16 in the torchvision layout (``features.N.weight``), with named feature taps for eccNET and IVSN.

eccNET replaces every max-pool by an eccentricity-dependent average pool and reads block-3/4/5 conv outputs;
IVSN reads ``relu5_3`` (search) and ``pool5`` (target). :meth:`VGG16.forward_features` returns any named layers,
and ``pool="avg"`` swaps the five max-pools for 2×2 average pools (eccNET's uniform-pooling ablation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gazekit.errors import ConfigError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LAYER_NAMES", "VGG16", "checkpoint_filter_fn", "preprocess", "vgg16"]

_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Keras/Caffe ``preprocess_input``: BGR order, per-channel mean in 0–255 units, no scaling
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def _layer_names() -> list[str]:
    names, block, conv = [], 1, 1
    for v in _CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


#: name of every module in ``features`` by index (``conv1_1``, ``relu1_1``, …, ``pool5``)
LAYER_NAMES: list[str] = _layer_names()


class VGG16(nn.Module):
    """VGG16 (configuration D) with torchvision's module indices.

    Args:
        num_classes: classifier outputs; 0 drops ``avgpool``/``classifier`` (feature extractor only).
        pool: ``"max"`` (published) or ``"avg"`` for the five pooling layers.
        widths: channels of the five blocks (default 64, 128, 256, 512, 512); narrower values keep the
            layer structure and module indices (a "VGG-shaped" net; the classifier then needs ``widths[4] = 512``).
    """

    def __init__(self, num_classes: int = 0, pool: str = "max", widths: Sequence[int] | None = None) -> None:
        super().__init__()
        if pool not in ("max", "avg"):
            raise ConfigError(f"pool={pool!r}: expected 'max' or 'avg'")
        widths = tuple(int(w) for w in (widths or (64, 128, 256, 512, 512)))
        if len(widths) != 5 or min(widths) < 1:
            raise ConfigError(f"VGG16 widths must be five positive channel counts, got {widths}")
        if num_classes and widths[4] != 512:
            raise ConfigError("the VGG16 classifier needs 512 channels in block 5")
        block, cfg = 0, []
        for v in _CFG:  # same layer sequence, each conv at its block's width
            cfg.append(v if v == "M" else widths[block])
            block += v == "M"
        layers: list[nn.Module] = []
        c = 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.num_classes = num_classes
        if num_classes:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, num_classes),
            )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor, layers: Sequence[str] = ("relu5_3",)) -> dict[str, torch.Tensor]:
        """Run ``features`` up to the deepest requested layer.

        Args:
            x: ``[B, 3, H, W]`` preprocessed images (see :func:`preprocess`).
            layers: names from :data:`LAYER_NAMES` (e.g. ``"relu3_3"``, ``"pool5"``).

        Returns:
            ``{name: [B, C, H / 2^p, W / 2^p]}`` with p the pools passed.
        """
        idx = {}
        for name in layers:
            if name not in LAYER_NAMES:
                raise ConfigError(f"unknown VGG16 layer {name!r}; expected one of {', '.join(LAYER_NAMES)}")
            idx[LAYER_NAMES.index(name)] = name
        out: dict[str, torch.Tensor] = {}
        last = max(idx, default=-1)
        for i, mod in enumerate(self.features):
            if i > last:
                break
            x = mod(x)
            if i in idx:
                out[idx[i]] = x
        return {n: out[n] for n in layers}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → logits ``[B, num_classes]`` (or ``pool5`` features when there is no classifier)."""
        f = self.features(x)
        if not self.num_classes:
            return f
        return self.classifier(torch.flatten(self.avgpool(f), 1))


def preprocess(images: torch.Tensor, mode: str = "torchvision") -> torch.Tensor:
    """RGB ``[B, 3, H, W]`` in [0, 1] → network input.

    ``"torchvision"``: (x − ImageNet mean) / std. ``"caffe"``: BGR, ×255, minus the Caffe mean (Keras
    ``preprocess_input``, which eccNET's Keras VGG16 expects).
    """
    if mode == "torchvision":
        mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (images - mean) / std
    if mode == "caffe":
        return images.flip(1) * 255.0 - images.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    raise ConfigError(f"preprocess mode {mode!r}: expected 'torchvision' or 'caffe'")


def checkpoint_filter_fn(state_dict: dict[str, Any], model: VGG16 | None = None) -> dict[str, Any]:
    """Map a torchvision ``vgg16`` state dict (``features.N.*``, ``classifier.N.*``) onto :class:`VGG16`.

    Keys are already in gazekit's layout; this strips ``module.`` and drops the classifier when the model has none.
    """
    sd = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state_dict.items()}
    if model is not None and not model.num_classes:
        sd = {k: v for k, v in sd.items() if k.startswith("features.")}
    return sd


def vgg16(**kw: Any) -> VGG16:
    """VGG16 feature extractor (``num_classes=1000`` for the ImageNet classifier)."""
    return VGG16(**kw)
