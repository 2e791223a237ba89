"""Backbones: ViT (DINOv2 / CLIP image-tower layouts), CLIP text tower, NAT/DiNAT, VGG16; weight loading.

Submodules are imported lazily so ``import gazekit.backbones`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["clip", "loading", "nat", "vgg", "vit"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"gazekit.backbones.{name}")
    raise AttributeError(f"module 'gazekit.backbones' has no attribute {name!r}")
