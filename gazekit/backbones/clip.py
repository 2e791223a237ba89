"""CLIP: image tower (a :class:`~gazekit.backbones.vit.VisionTransformer` in the CLIP layout), text transformer,
and the byte-level BPE tokenizer.

Weights: :func:`checkpoint_filter_fn` maps OpenAI / OpenCLIP state dicts (``visual.conv1``, ``visual.transformer
.resblocks.N.attn.in_proj_weight``, ``token_embedding``, ``text_projection`` …) and transformers ``CLIPModel``
state dicts (``vision_model.*``, ``text_model.*``, ``visual_projection``) onto :class:`CLIP`.

Tokenizer: the vocabulary cannot be shipped or downloaded here; pass the OpenAI merges file
(``bpe_simple_vocab_16e6.txt.gz``, shipped inside the ``open_clip_torch`` / ``clip-anytorch`` wheels) or a Hugging
Face ``vocab.json`` + ``merges.txt`` pair. Deviation: OpenAI runs ``ftfy.fix_text`` first; gazekit uses it only
when ``ftfy`` is installed (it changes only mojibake / unusual Unicode).
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gazekit.backbones.vit import Block, VisionTransformer, concat_qkv
from gazekit.errors import ConfigError, DataFormatError

__all__ = [
    "CLIP",
    "CLIPTokenizer",
    "TextTransformer",
    "checkpoint_filter_fn",
    "clip_tiny_test",
    "clip_vit_b16",
    "clip_vit_b32",
    "clip_vit_l14",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ---------------------------------------------------------------------- text tower
class TextTransformer(nn.Module):
    """CLIP text transformer: causal pre-norm blocks, final LayerNorm, pooled at the end-of-text token.

    Args:
        vocab_size: token vocabulary (49408 for OpenAI CLIP).
        context_length: maximum tokens (77).
        width: channels.
        layers: blocks.
        heads: attention heads.
        embed_dim: output size of ``text_projection``.
        act: MLP activation (``"quick_gelu"`` for OpenAI weights, ``"gelu"`` for most OpenCLIP ones).
        eos_token_id: pool at the first occurrence of this id; None pools at ``argmax(ids)`` (OpenAI: EOT has the
            largest id).
    """

    def __init__(
        self,
        vocab_size: int = 49408,
        context_length: int = 77,
        width: int = 512,
        layers: int = 12,
        heads: int = 8,
        embed_dim: int = 512,
        act: str = "quick_gelu",
        eos_token_id: int | None = None,
    ) -> None:
        super().__init__()
        self.context_length = context_length
        self.eos_token_id = eos_token_id
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Parameter(torch.empty(1, context_length, width))
        self.blocks = nn.ModuleList(
            Block(width, heads, 4.0, True, layerscale_init=None, act=act, norm_eps=1e-5) for _ in range(layers)
        )
        for blk in self.blocks:
            blk.attn.causal = True
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward_features(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]`` (T ≤ context_length) → normalised tokens ``[B, T, width]``."""
        if ids.ndim != 2 or ids.shape[1] > self.context_length:
            raise ConfigError(f"token ids must be [B, T] with T ≤ {self.context_length}, got {tuple(ids.shape)}")
        x = self.token_embedding(ids) + self.pos_embed[:, : ids.shape[1]]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def eot_index(self, ids: torch.Tensor) -> torch.Tensor:
        """Position of the end-of-text token per row ``[B]``."""
        if self.eos_token_id is None:
            return ids.argmax(dim=-1)
        return (ids == self.eos_token_id).int().argmax(dim=-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]`` → text embedding ``[B, embed_dim]`` (not normalised)."""
        x = self.forward_features(ids)
        pooled = x[torch.arange(x.shape[0], device=x.device), self.eot_index(ids)]
        return self.proj(pooled)


class CLIP(nn.Module):
    """Image tower ``visual`` + text tower ``text`` + learned ``logit_scale`` (log of 1/temperature)."""

    def __init__(self, visual: VisionTransformer, text: TextTransformer) -> None:
        super().__init__()
        self.visual = visual
        self.text = text
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))  # log(1 / 0.07)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` (CLIP-normalised) → ``[B, embed_dim]``."""
        return self.visual.forward_head(self.visual.forward_features(images))

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` token ids → ``[B, embed_dim]``."""
        return self.text(ids)

    def forward(self, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Image–text logits ``[B_img, B_txt]`` = exp(logit_scale)·cos."""
        a = nn.functional.normalize(self.encode_image(images), dim=-1)
        b = nn.functional.normalize(self.encode_text(ids), dim=-1)
        return self.logit_scale.exp() * a @ b.t()


def _vision(width: int, layers: int, heads: int, patch: int, grid: int, embed: int, act: str) -> VisionTransformer:
    return VisionTransformer(
        img_size=patch * grid,
        patch_size=patch,
        embed_dim=width,
        depth=layers,
        num_heads=heads,
        layerscale_init=None,
        pos_embed_grid=grid,
        patch_bias=False,
        pre_norm=True,
        act=act,
        norm_eps=1e-5,
        interpolate_offset=0.0,
        proj_dim=embed,
    )


def clip_vit_b32(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP ViT-B/32 (224 px, embed 512)."""
    return CLIP(_vision(768, 12, 12, 32, 7, 512, act), TextTransformer(width=512, layers=12, heads=8, act=act))


def clip_vit_b16(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP ViT-B/16 (224 px, embed 512)."""
    return CLIP(_vision(768, 12, 12, 16, 14, 512, act), TextTransformer(width=512, layers=12, heads=8, act=act))


def clip_vit_l14(act: str = "quick_gelu") -> CLIP:
    """OpenAI CLIP ViT-L/14 (224 px, embed 768)."""
    return CLIP(
        _vision(1024, 24, 16, 14, 16, 768, act), TextTransformer(width=768, layers=12, heads=12, embed_dim=768, act=act)
    )


def clip_tiny_test(vocab_size: int = 100, context_length: int = 16, eos_token_id: int | None = None) -> CLIP:
    """Tiny CLIP for tests: 32-d towers, 2 blocks, 2 heads, 28 px images (patch 14), embed 24."""
    return CLIP(
        _vision(32, 2, 2, 14, 2, 24, "quick_gelu"),
        TextTransformer(vocab_size, context_length, 32, 2, 2, 24, "quick_gelu", eos_token_id),
    )


# ---------------------------------------------------------------------- checkpoint conversion
def _cat_qkv(out: dict[str, Any], prefix: str, parts: dict[str, dict[str, Any]]) -> None:
    for kind, d in parts.items():
        out[f"{prefix}.attn.qkv.{kind}"] = concat_qkv(d, f"{prefix} attention {kind}")


def _from_openai(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    block = {
        "ln_1": "norm1",
        "ln_2": "norm2",
        "attn.in_proj_weight": "attn.qkv.weight",
        "attn.in_proj_bias": "attn.qkv.bias",
        "attn.out_proj": "attn.proj",
        "mlp.c_fc": "mlp.fc1",
        "mlp.c_proj": "mlp.fc2",
    }
    for k, v in sd.items():
        if m := re.match(r"(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$", k):
            tower = "visual" if m.group(1) else "text"
            rest = m.group(3)
            for src, dst in block.items():
                if rest == src or rest.startswith(src + "."):
                    out[f"{tower}.blocks.{m.group(2)}.{dst}{rest[len(src) :]}"] = v
                    break
            continue
        simple = {  # name -> (gazekit name, conversion)
            "visual.conv1.weight": ("visual.patch_embed.weight", lambda t: t),
            "visual.class_embedding": ("visual.cls_token", lambda t: t.reshape(1, 1, -1)),
            "visual.positional_embedding": ("visual.pos_embed", lambda t: t.unsqueeze(0)),
            "visual.proj": ("visual.proj.weight", lambda t: t.t()),  # OpenAI computes x @ proj
            "token_embedding.weight": ("text.token_embedding.weight", lambda t: t),
            "positional_embedding": ("text.pos_embed", lambda t: t.unsqueeze(0)),
            "text_projection": ("text.proj.weight", lambda t: t.t()),
            "logit_scale": ("logit_scale", lambda t: t),
        }
        if k in simple:
            name, conv = simple[k]
            out[name] = conv(v)
        elif m := re.match(r"visual\.(ln_pre|ln_post)\.(weight|bias)$", k):
            out[f"visual.{'norm_pre' if m.group(1) == 'ln_pre' else 'norm'}.{m.group(2)}"] = v
        elif m := re.match(r"ln_final\.(weight|bias)$", k):
            out[f"text.norm.{m.group(1)}"] = v
        # attn_mask buffers, input_resolution, context_length, vocab_size are dropped
    return out


def _from_hf(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    qkv: dict[str, dict[str, dict[str, Any]]] = {}
    layer = {
        "layer_norm1": "norm1",
        "layer_norm2": "norm2",
        "self_attn.out_proj": "attn.proj",
        "mlp.fc1": "mlp.fc1",
        "mlp.fc2": "mlp.fc2",
    }
    for k, v in sd.items():
        if m := re.match(r"(vision|text)_model\.encoder\.layers\.(\d+)\.(.+)$", k):
            tower = "visual" if m.group(1) == "vision" else "text"
            prefix, rest = f"{tower}.blocks.{m.group(2)}", m.group(3)
            if am := re.match(r"self_attn\.(q|k|v)_proj\.(weight|bias)$", rest):
                qkv.setdefault(prefix, {}).setdefault(am.group(2), {})[am.group(1)] = v
                continue
            for src, dst in layer.items():
                if rest.startswith(src + "."):
                    out[f"{prefix}.{dst}{rest[len(src) :]}"] = v
                    break
            continue
        simple = {
            "vision_model.embeddings.class_embedding": ("visual.cls_token", v.reshape(1, 1, -1)),
            "vision_model.embeddings.patch_embedding.weight": ("visual.patch_embed.weight", v),
            "vision_model.embeddings.position_embedding.weight": ("visual.pos_embed", v.unsqueeze(0)),
            "visual_projection.weight": ("visual.proj.weight", v),
            "text_model.embeddings.token_embedding.weight": ("text.token_embedding.weight", v),
            "text_model.embeddings.position_embedding.weight": ("text.pos_embed", v.unsqueeze(0)),
            "text_projection.weight": ("text.proj.weight", v),
            "logit_scale": ("logit_scale", v),
        }
        if k in simple:
            name, val = simple[k]
            out[name] = val
        elif m := re.match(r"vision_model\.(pre_layrnorm|post_layernorm)\.(weight|bias)$", k):
            out[f"visual.{'norm_pre' if m.group(1) == 'pre_layrnorm' else 'norm'}.{m.group(2)}"] = v
        elif m := re.match(r"text_model\.final_layer_norm\.(weight|bias)$", k):
            out[f"text.norm.{m.group(1)}"] = v
    for prefix, parts in qkv.items():
        _cat_qkv(out, prefix, parts)
    return out


def checkpoint_filter_fn(state_dict: dict[str, Any], model: CLIP | None = None) -> dict[str, Any]:
    """Map an OpenAI/OpenCLIP or transformers ``CLIPModel`` state dict onto :class:`CLIP` (layout auto-detected).

    ``model`` is accepted for a uniform signature; a mismatched size surfaces in ``load_state_dict``.
    """
    sd = dict(state_dict)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    if any(k.startswith(("vision_model.", "text_model.")) for k in sd):
        return _from_hf(sd)
    if any(k.startswith("visual.conv1") or k == "token_embedding.weight" for k in sd):
        return _from_openai(sd)
    return sd


# ---------------------------------------------------------------------- tokenizer
@functools.lru_cache(maxsize=1)
def _byte_table() -> dict[int, str]:
    """Reversible byte → printable-character table of GPT-2/CLIP byte-level BPE."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _split_pattern() -> Any:
    specials = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
    try:
        import regex

        return regex.compile(specials + r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", regex.IGNORECASE)
    except ImportError:  # pragma: no cover - regex ships with transformers; stdlib approximation otherwise
        return re.compile(specials + r"|[^\W\d_]+|\d|[^\s\w]+|_", re.IGNORECASE)


class CLIPTokenizer:
    """CLIP's byte-level BPE with ``</w>`` word ends, lower-casing, and ``<|startoftext|>``/``<|endoftext|>``.

    Args:
        merges: ordered merge pairs (rank = position).
        vocab: token → id; None builds OpenAI's layout (256 byte symbols, the same with ``</w>``, one entry per
            merge, then the two special tokens).
        context_length: default padded length of :meth:`__call__`.
    """

    SOT = "<|startoftext|>"
    EOT = "<|endoftext|>"

    def __init__(
        self, merges: Sequence[tuple[str, str]], vocab: dict[str, int] | None = None, context_length: int = 77
    ) -> None:
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        if vocab is None:
            symbols = list(_byte_table().values())
            tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [self.SOT, self.EOT]
            vocab = {t: i for i, t in enumerate(tokens)}
        self.encoder = dict(vocab)
        self.decoder = {i: t for t, i in self.encoder.items()}
        for tok in (self.SOT, self.EOT):
            if tok not in self.encoder:
                raise ConfigError(f"CLIP vocabulary lacks {tok}")
        self.sot_id = self.encoder[self.SOT]
        self.eot_id = self.encoder[self.EOT]
        self.context_length = context_length
        self._pattern = _split_pattern()
        self._cache: dict[str, list[str]] = {self.SOT: [self.SOT], self.EOT: [self.EOT]}

    # -- construction from files
    @classmethod
    def from_openai_bpe(cls, path: str | Path, context_length: int = 77) -> CLIPTokenizer:
        """From OpenAI's ``bpe_simple_vocab_16e6.txt(.gz)``: header line, then merges; CLIP uses the first 48,894."""
        p = Path(path)
        if not p.is_file():
            raise DataFormatError("CLIP BPE merges file not found", path=p)
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        n_merges = 49152 - 256 - 2
        merges = [_parse_merge(line, p, i + 2) for i, line in enumerate(lines[1 : n_merges + 1]) if line.strip()]
        return cls(merges, None, context_length)

    @classmethod
    def from_files(cls, vocab_json: str | Path, merges_txt: str | Path, context_length: int = 77) -> CLIPTokenizer:
        """From a Hugging Face ``vocab.json`` + ``merges.txt`` pair."""
        vp, mp = Path(vocab_json), Path(merges_txt)
        for p in (vp, mp):
            if not p.is_file():
                raise DataFormatError("CLIP tokenizer file not found", path=p)
        try:
            vocab = json.loads(vp.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataFormatError(f"not JSON: {e}", path=vp, line=e.lineno) from e
        merges = []
        for i, line in enumerate(mp.read_text(encoding="utf-8").split("\n"), start=1):
            if line.startswith("#version") or not line.strip():
                continue
            merges.append(_parse_merge(line, mp, i))
        return cls(merges, vocab, context_length)

    # -- encoding
    @staticmethod
    def clean(text: str) -> str:
        try:
            import ftfy

            text = ftfy.fix_text(text)
        except ImportError:
            pass
        text = html.unescape(html.unescape(text))
        return re.sub(r"\s+", " ", text).strip().lower()

    def _bpe(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: self.ranks.get((parts[i], parts[i + 1]), 1 << 62))
            pair = (parts[best], parts[best + 1])
            if pair not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without the start/end tokens."""
        table = _byte_table()
        ids: list[int] = []
        for piece in self._pattern.findall(self.clean(text)):
            word = "".join(table[b] for b in piece.encode("utf-8"))
            for tok in self._bpe(word):
                if tok not in self.encoder:
                    raise ConfigError(f"BPE produced {tok!r}, which is not in the vocabulary (merges/vocab mismatch)")
                ids.append(self.encoder[tok])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Ids → text (``</w>`` becomes a space; special tokens are kept)."""
        inv = {c: b for b, c in _byte_table().items()}
        text = "".join(self.decoder[int(i)] for i in ids)
        out = bytearray()
        for piece in re.split(r"(<\|startoftext\|>|<\|endoftext\|>)", text.replace("</w>", " ")):
            if piece in (self.SOT, self.EOT):
                out += piece.encode()
            else:
                out += bytes(inv.get(c, ord(" ")) for c in piece)
        return out.decode("utf-8", errors="replace").strip()

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None, truncate: bool = True):
        """``[B, context_length]`` int64 ids: SOT, tokens, EOT, zero padding (OpenAI ``clip.tokenize``)."""
        n = context_length or self.context_length
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(texts), n, dtype=torch.long)
        for r, t in enumerate(texts):
            ids = [self.sot_id, *self.encode(t), self.eot_id]
            if len(ids) > n:
                if not truncate:
                    raise ConfigError(f"text {r} has {len(ids)} tokens > context length {n}")
                ids = ids[:n]
                ids[-1] = self.eot_id
            out[r, : len(ids)] = torch.tensor(ids)
        return out


def _parse_merge(line: str, path: Path, lineno: int) -> tuple[str, str]:
    parts = line.split()
    if len(parts) != 2:
        raise DataFormatError(f"expected two space-separated symbols, got {line!r}", path=path, line=lineno)
    return parts[0], parts[1]
