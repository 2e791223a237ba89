"""Registry of model names -> classes and default recipes.

Names are registered up front with the dotted path of their class, so listing models never imports torch
code that is not needed, and a model whose module is missing shows as unavailable instead of breaking.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gazekit.errors import ConfigError, UnknownModelError

__all__ = [
    "ModelSpec",
    "create_model",
    "get_spec",
    "list_models",
    "load_predictor",
    "register",
    "spec_for_class",
    "synthetic_weights_note",
    "weights_source",
]

Kind = Literal["scanpath", "gaze"]


@dataclass(frozen=True)
class ModelSpec:
    """How to build one registered model.

    Attributes:
        name: registry name (``oat``, ``random``...).
        kind: ``scanpath`` (predict_scanpath) or ``gaze`` (predict_gaze).
        target: ``"module.path:ClassName"``.
        description: one line for listings.
        config: default recipe under ``configs/`` (relative to the repo root) if the model trains; the
            missing-weights error names it.
        trainable: whether it needs a checkpoint to be useful.
        tasks: tasks it supports (search / freeview / caption / gaze).
        bundled: checkpoint shipped inside the package (path relative to ``gazekit/``), trained by the
            project on its synthetic data; the model predicts without any download when it exists.
        checkpoint: file name looked up in ``$GAZEKIT_WEIGHTS_DIR``, the hub repo and an explicit folder
            (``.ckpt`` of the same stem too) by :meth:`GazekitModule.load_for_inference`.
        hub_repo: Hugging Face repo of the paper's released weights (read through ``convert_state_dict``).
        paper_checkpoints: file names of the paper's released weights once converted by ``gazekit convert``
            (looked up before ``checkpoint``, so a user who has fetched them gets them instead of the bundled
            synthetic-data weights).
        objects: the model predicts over object boxes (object-level, e.g. OAT): on a photo they come from
            :func:`gazekit.objects.objects_for_image`.
    """

    name: str
    kind: Kind
    target: str
    description: str
    config: str | None = None
    trainable: bool = False
    tasks: tuple[str, ...] = ("search",)
    bundled: str | None = None
    objects: bool = False
    checkpoint: str | None = None
    hub_repo: str | None = None
    paper_checkpoints: tuple[str, ...] = ()

    @property
    def bundled_file(self) -> Path | None:
        """Where the shipped checkpoint belongs (it may be absent from this install)."""
        return None if self.bundled is None else Path(__file__).resolve().parents[1] / self.bundled

    @property
    def bundled_path(self) -> Path | None:
        """The shipped checkpoint, or None when there is none in this install."""
        p = self.bundled_file
        return p if p is not None and p.is_file() else None

    def load_class(self) -> type:
        mod_name, _, cls_name = self.target.partition(":")
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name != mod_name:  # the model's module exists but something it imports is missing: a real error
                raise
            raise UnknownModelError(f"model {self.name!r} is not available in this install ({e})") from None
        return getattr(mod, cls_name)

    @property
    def available(self) -> bool:
        """Whether the model's module is present in this install (found without importing it: importing a
        learned model pulls in torch and Lightning, seconds that ``gazekit models`` must not spend)."""
        mod_name = self.target.partition(":")[0]
        try:
            return importlib.util.find_spec(mod_name) is not None
        except (ImportError, ValueError):
            return False


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add (or replace) a model in the registry."""
    _REGISTRY[spec.name] = spec
    return spec


for _spec in (
    ModelSpec(
        "random",
        "scanpath",
        "gazekit.models.baselines:RandomScanpath",
        "uniform random fixations (chance)",
        tasks=("search", "freeview", "caption"),
    ),
    ModelSpec(
        "center",
        "scanpath",
        "gazekit.models.baselines:CenterBias",
        "fixations drawn from a centre-bias prior",
        tasks=("search", "freeview", "caption"),
    ),
    ModelSpec(
        "greedy",
        "scanpath",
        "gazekit.models.baselines:TargetSimilarityGreedy",
        "greedy search by target similarity with inhibition of return",
    ),
    ModelSpec(
        "oracle",
        "scanpath",
        "gazekit.models.baselines:OracleDetector",
        "perfect detector: centre, then straight to the target",
    ),
    ModelSpec(
        "target-dwell",
        "scanpath",
        "gazekit.models.baselines:TargetDwell",
        "location only: centre, then the target k times (k from humans; sample=True draws k)",
    ),
    ModelSpec(
        "oat",
        "scanpath",
        "gazekit.models.oat:OAT",
        "Object-level Attention Transformer (Fang et al., ECCV 2024)",
        config="configs/experiments/oat_synthetic.yaml",
        trainable=True,
        bundled="assets/oat/oat_synthetic.safetensors",
        objects=True,
        checkpoint="oat_synthetic.safetensors",
    ),
    ModelSpec(
        "nevaclip",
        "scanpath",
        "gazekit.models.nevaclip:NevaClip",
        "zero-shot caption-driven scanpaths from CLIP (Zanca et al., 2023)",
        config="configs/experiments/nevaclip_synthetic.yaml",
        trainable=True,
        tasks=("caption", "freeview", "search"),
        bundled="assets/nevaclip/nevaclip_synthetic.safetensors",
        checkpoint="nevaclip_synthetic.safetensors",
    ),
    ModelSpec(
        "eccnet",
        "scanpath",
        "gazekit.models.eccnet:EccNet",
        "eccentricity-dependent search net (Gupta et al., 2021)",
        config="configs/experiments/eccnet_objects.yaml",
        trainable=True,
        bundled="assets/eccnet/eccnet_objects.safetensors",
    ),
    ModelSpec(
        "ivsn",
        "scanpath",
        "gazekit.models.eccnet:IVSN",
        "invariant visual search net (Zhang et al., 2018)",
        config="configs/experiments/eccnet_objects.yaml",
        trainable=True,
        bundled="assets/eccnet/eccnet_objects.safetensors",
    ),
    ModelSpec(
        "chance",
        "scanpath",
        "gazekit.models.eccnet_search:ChanceSearch",
        "asymmetry baseline: a random unvisited cell per step (eccNET's chance)",
    ),
    ModelSpec(
        "pixelMatch",
        "scanpath",
        "gazekit.models.eccnet_search:PixelMatch",
        "asymmetry baseline: raw-pixel template matching with IOR (eccNET's pixelMatch)",
    ),
    ModelSpec(
        "vitgaze",
        "gaze",
        "gazekit.models.vitgaze:ViTGaze",
        "gaze following from ViT attention (Song et al., 2024)",
        config="configs/experiments/vitgaze_synthetic.yaml",
        trainable=True,
        tasks=("gaze",),
        bundled="assets/vitgaze/vitgaze_synthetic.safetensors",
        checkpoint="vitgaze_synthetic.safetensors",
        paper_checkpoints=("vitgaze_gazefollow.safetensors", "vitgaze_videoattentiontarget.safetensors"),
    ),
    ModelSpec(
        "gazeseg",
        "gaze",
        "gazekit.models.gazeseg:GazeSeg",
        "gaze following with target masks and classes (Liu et al., 2024; reconstructed on NAT)",
        config="configs/experiments/gazeseg_synthetic.yaml",
        trainable=True,
        tasks=("gaze",),
        bundled="assets/gazeseg/gazeseg_synthetic.safetensors",
        checkpoint="gazeseg_synthetic.safetensors",
    ),
    ModelSpec(
        "center-gaze",
        "gaze",
        "gazekit.models.gaze_baselines:CenterGazePrior",
        "gaze-following centre prior",
        tasks=("gaze",),
    ),
    ModelSpec(
        "head-cone",
        "gaze",
        "gazekit.models.gaze_baselines:HeadDirectionCone",
        "gaze-following cone along the head's facing direction",
        tasks=("gaze",),
    ),
):
    register(_spec)


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def spec_for_class(cls: type) -> ModelSpec:
    """The registered spec whose ``target`` is ``cls`` or its nearest registered base class."""
    targets = {s.target: s for s in _REGISTRY.values()}
    for c in cls.__mro__:
        spec = targets.get(f"{c.__module__}:{c.__qualname__}")
        if spec is not None:
            return spec
    raise UnknownModelError(f"{cls.__qualname__} is not registered: add a ModelSpec in gazekit/models/registry.py")


def list_models(kind: Kind | None = None, available_only: bool = False) -> list[ModelSpec]:
    """Registered models, optionally of one kind and only those importable in this install."""
    specs = [s for s in _REGISTRY.values() if kind is None or s.kind == kind]
    return [s for s in specs if s.available] if available_only else specs


def create_model(name: str, **kwargs: Any) -> Any:
    """Instantiate a registered model with constructor arguments (untrained for learned models)."""
    return get_spec(name).load_class()(**kwargs)


def load_predictor(name: str, weights: str | Path | None = None, device: str = "cpu", **kwargs: Any) -> Any:
    """A ready-to-predict model: baselines are built directly, learned models load ``weights``.

    Learned models (:class:`~gazekit.models.base.GazekitModule`) load through ``load_for_inference``, which
    resolves the checkpoint from this spec (explicit path, ``GAZEKIT_WEIGHTS_DIR``, the Hugging Face cache, or
    the bundled checkpoint) and raises :class:`~gazekit.errors.WeightsNotFoundError` naming what to get.
    """
    spec = get_spec(name)
    cls = spec.load_class()
    loader = getattr(cls, "load_for_inference", None)
    if loader is not None:
        return loader(weights=weights, device=device, **kwargs)
    if weights is not None:
        raise ConfigError(f"model {name!r} takes no weights")
    return cls(**kwargs)


def weights_source(spec: ModelSpec, model: Any, weights: str | Path | None) -> str | None:
    """``"user"``, ``"paper"`` or ``"synthetic-data"`` for a loaded learned model; None for baselines.

    The model's own ``weights_source`` (set by the checkpoint resolver) wins; otherwise an explicit path is the
    user's and the bundled checkpoint is the project's synthetic-data one.
    """
    src = getattr(model, "weights_source", None)
    if src:
        return str(src)
    if not hasattr(type(model), "load_for_inference"):
        return None
    if weights is not None:
        return "user"
    return "synthetic-data" if spec.bundled_path is not None else None


def synthetic_weights_note(spec: ModelSpec, source: str | None) -> str | None:
    """The sentence every output carries when a model with synthetic-data weights predicts on a real image."""
    if source != "synthetic-data":
        return None
    return (
        f"{spec.name} uses its synthetic-data weights (trained only on gazekit's synthetic "
        f"{'scenes' if spec.kind == 'gaze' else 'displays'}): this prediction is not trained on real images"
    )
