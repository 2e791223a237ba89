"""Image–caption pairs from the synthetic search world, for training NevaClip's small CLIP contrastively.

Every pair is an image at NevaClip's input geometry (the display letterboxed to ``image_size``) and the category
words of one object (``"red circle striped"``, ``"blue letter k"``):

* ``crop``: the display with only that object left on the blank background, at its own place and scale;
* ``fovea``: the whole display as NevaClip perceives it with the fovea on that object (periphery blurred with the
  release's kernel, memory empty) — the view the scanpath optimisation compares with the caption;
* ``whole``: the clear whole display, paired with its target's category (target-present displays only).

The displays are rendered from seeds ``(seed + 100) * 1_000_000 + i`` (train) and ``+ 500_000 + i`` (val), so
they never coincide with a :func:`~gazekit.datasets.synthetic.search.build_world` evaluation world of seed < 100.

The vocabulary (:func:`write_vocabulary`) is a byte-level BPE whose merges spell every feature word, written as
``vocab.json`` + ``merges.txt`` beside the weights (the CLIP tokenizer reads it from there).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gazekit.backbones.clip import CLIPTokenizer, tokenizer_from_folder
from gazekit.datasets.base import GazekitDataModule
from gazekit.datasets.synthetic.search import COLOURS, GLYPHS, SHAPES, TEXTURES, SearchWorldConfig, render_display
from gazekit.errors import ConfigError
from gazekit.models.nevaclip import ASSET_DIR, coordinate_grid, fovea, perceive, periphery_residual, prepare_image

__all__ = ["KINDS", "ClipPairsDataModule", "category_words", "write_vocabulary"]

KINDS = ("crop", "fovea", "whole")
_SPLIT_OFFSET = {"train": 0, "val": 500_000}


def category_words() -> list[str]:
    """Every word a synthetic category can contain (colours, shapes, textures, ``letter``/``digit``, glyphs)."""
    glyphs = sorted({c.lower() for c in GLYPHS})
    return [*COLOURS, *SHAPES, *TEXTURES, "letter", "digit", *glyphs]


def _merges(words: Sequence[str]) -> list[tuple[str, str]]:
    """BPE merges under which every word is one ``word</w>`` token: start from left-to-right merges, then, while a
    word still splits (an earlier merge took a pair it needed), append merges joining its parts left to right."""
    out: dict[tuple[str, str], None] = {}
    for w in words:
        parts = [*w[:-1], w[-1] + "</w>"]
        acc = parts[0]
        for nxt in parts[1:]:
            out[(acc, nxt)] = None
            acc += nxt
    for _ in range(len(words)):
        tok = CLIPTokenizer(list(out))
        split = [tok._bpe(w[:-1] + w[-1]) for w in words]
        split = [p for p in split if len(p) > 1]
        if not split:
            break
        for parts in split:
            acc = parts[0]
            for nxt in parts[1:]:
                out.setdefault((acc, nxt), None)
                acc += nxt
    return list(out)


def write_vocabulary(folder: str | Path) -> Path:
    """Write ``vocab.json`` + ``merges.txt`` (OpenAI's layout: bytes, bytes + ``</w>``, merges, specials)."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    merges = _merges(category_words())
    tok = CLIPTokenizer(merges)
    (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", "utf-8")
    (d / "vocab.json").write_text(json.dumps(tok.encoder, ensure_ascii=False), "utf-8")
    return d


class _Pairs:
    """Map-style dataset of pairs; item ``i`` is a pure function of ``(seed, split, i)``."""

    def __init__(self, dm: ClipPairsDataModule, split: str, n: int, n_displays: int) -> None:
        self.dm, self.split, self.n, self.n_displays = dm, split, n, n_displays
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.n

    def display(self, j: int) -> Any:
        if j not in self._cache:
            if len(self._cache) >= self.n_displays:
                self._cache.clear()
            seed = (self.dm.seed + 100) * 1_000_000 + _SPLIT_OFFSET[self.split] + j
            self._cache[j] = render_display(self.dm.world_config, seed)
        return self._cache[j]

    def __getitem__(self, i: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.dm.seed, _SPLIT_OFFSET[self.split], int(i)])
        st = self.display(int(rng.integers(self.n_displays)))
        kind = KINDS[int(rng.choice(len(KINDS), p=self.dm.kind_probs))]
        ti = st.meta.get("target_index")
        if kind == "whole" and ti is None:
            kind = "fovea"
        k = int(ti) if kind == "whole" else int(rng.integers(len(st.objects)))
        obj = st.objects[k]
        image = st.image
        if kind == "crop":
            bg = np.asarray(self.dm.world_config.background, np.uint8)
            image = np.empty_like(st.image)
            image[:] = bg
            x0, y0, w, h = (int(v) for v in obj.xywh)
            image[y0 : y0 + h, x0 : x0 + w] = st.image[y0 : y0 + h, x0 : x0 + w]
        t, tf, _ = prepare_image(image, self.dm.image_size, "letterbox")
        cx, cy = tf.points(np.array([obj.center[0]]), np.array([obj.center[1]]))
        s = self.dm.image_size
        p = np.array([(cx[0] - 0.5) / (s - 1) * 2 - 1, (cy[0] - 0.5) / (s - 1) * 2 - 1], np.float32)
        return {"image": t, "fovea": kind == "fovea", "p": torch.from_numpy(p), "caption": obj.category.lower()}


class ClipPairsDataModule(GazekitDataModule):
    """Contrastive image–caption pairs from the synthetic search world (see the module docstring).

    Args:
        n_train, n_val: pairs per epoch.
        n_train_displays, n_val_displays: distinct displays the pairs are drawn from.
        image_size: NevaClip's input side.
        kind_probs: probabilities of ``crop``, ``fovea``, ``whole`` pairs.
        foveation_sigma, blur_kernel, blur_sigma: the NevaClip periphery used for ``fovea`` pairs.
        vocab_dir: folder with ``vocab.json`` + ``merges.txt`` (default: the bundled NevaClip vocabulary).
        context_length: token ids per caption.
        world: :class:`~gazekit.datasets.synthetic.search.SearchWorldConfig` fields.
    """

    def __init__(
        self,
        n_train: int = 12000,
        n_val: int = 512,
        n_train_displays: int = 600,
        n_val_displays: int = 60,
        image_size: int = 224,
        kind_probs: Sequence[float] = (0.35, 0.5, 0.15),
        foveation_sigma: float = 0.2,
        blur_kernel: int = 41,
        blur_sigma: float = 10.0,
        vocab_dir: str | None = None,
        context_length: int = 16,
        world: dict[str, Any] | None = None,
        batch_size: int = 32,
        num_workers: int | None = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.save_hyperparameters()
        probs = np.asarray(kind_probs, float)
        if probs.shape != (3,) or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
            raise ConfigError(f"kind_probs must be 3 non-negative numbers summing to 1, got {list(kind_probs)}")
        if min(n_train, n_val, n_train_displays, n_val_displays) < 1:
            raise ConfigError("n_train, n_val, n_train_displays and n_val_displays must be >= 1")
        self.kind_probs = probs / probs.sum()
        self.image_size = int(image_size)
        self.world_config = SearchWorldConfig(**(world or {}))
        self.fov = (float(foveation_sigma), int(blur_kernel), float(blur_sigma))
        self.tokenizer = tokenizer_from_folder(vocab_dir or ASSET_DIR, context_length)
        self.context_length = int(context_length)
        self.sizes = {"train": (n_train, n_train_displays), "val": (n_val, n_val_displays)}
        self._sets: dict[str, _Pairs] = {}

    def split_dataset(self, split: str) -> Any:
        if split not in self.sizes:
            raise ConfigError(f"ClipPairsDataModule has train and val splits, not {split!r}")
        if split not in self._sets:
            self._sets[split] = _Pairs(self, split, *self.sizes[split])
        return self._sets[split]

    def collate(self, items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Stack images, foveate the ``fovea`` pairs (batched blur), tokenise captions (equal captions, equal ids: the
        positives of the contrastive loss, within a batch and across processes)."""
        x = torch.stack([it["image"] for it in items])
        fov_rows = [i for i, it in enumerate(items) if it["fovea"]]
        if fov_rows:
            sigma, k, bs = self.fov
            xf = x[fov_rows]
            grid = coordinate_grid(self.image_size, "xy")
            p = torch.stack([items[i]["p"] for i in fov_rows])
            zero = torch.zeros(len(fov_rows), 1, self.image_size, self.image_size)
            x[fov_rows] = perceive(xf, periphery_residual(xf, k, bs), zero, fovea(p, grid, sigma))
        caps = [it["caption"] for it in items]
        return {"images": x, "ids": self.tokenizer(caps, context_length=self.context_length)}

    def collate_fn(self) -> Callable[[Sequence[Any]], Any]:
        return self.collate
