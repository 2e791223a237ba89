"""OAT: Object-level Attention Transformer (Fang, Yu, Zhang, van der Lans, Shi, ECCV 2024; arXiv 2407.13335).

Predicts a visual-search scanpath as a sequence of fixated display *objects* and when the search stops.
Faithful to the release ``HKUST-NISL/oat_eccv24 @0c48c3e`` (``src/model/models.py``,
``transformerLightning.py``, ``positionalEncodingLearned.py``); see docs/models.md for what deviates.

Shapes: B displays, N objects (per display; padded to the batch max), S = N_max + 1 encoder tokens
(objects, then the target token at index N of each display), L decoder steps, d = ``d_model``.

* token = [appearance d/2 ‖ position d/2]; appearance = the release's crop CNN on 93x150 crops, or a
  linear map of a given per-object vector; position = cat(T[row], T[col], T[flag])[:d/2] with T the
  offline-optimised distance-preserving matrix (:func:`optimise_position_matrix`) or a 3-D sinusoid.
* 4+4 layer post-norm transformer (d 512, 4 heads, FFN 512, dropout 0.1), ``batch_first``.
* decoder input = BOS (grid-centre pseudo-object) + fixated objects' tokens (flag 1 on the target object)
  + 1-D sinusoidal sequence PE.
* pointer head (``CA_version=3``): per head, scaled dot product of the projected decoder state with every
  projected encoder token, a constant 0 logit for PAD appended, heads merged by a linear readout.
  Classes: 0..N-1 objects, N = EOS (the target token), N+1 = PAD (column ``S`` of the logits).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gazekit.datasets.search_trials import Trial
from gazekit.errors import ConfigError
from gazekit.metrics.search import delta_for_object_sequences
from gazekit.models.base import GazekitModule, ScanpathPredictor
from gazekit.models.oat_inputs import DisplayEncoding, OATBatch, OATTensorizer
from gazekit.types import Scanpath, Stimulus, Task

__all__ = [
    "OAT",
    "OATNetwork",
    "load_position_matrix",
    "optimise_position_matrix",
    "position_matrix_report",
    "sinusoid_position_table",
]

ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "oat"
NEG = -1e9  # masked logit (finite so masked rows never produce NaN)


# ============================================================================================ position codes
def _target_kernel(n: int, sigma: float, dtype=torch.float64) -> Tensor:
    i = torch.arange(n, dtype=dtype)
    return torch.exp(-((i[:, None] - i[None, :]) ** 2) / (2.0 * sigma**2))


def optimise_position_matrix(
    num_rows: int,
    width: int = 86,
    sigma: float = 2.0,
    steps: int = 10000,
    lr: float = 0.01,
    mag_weight: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """The release's offline position-matrix optimisation (``positionalEncodingLearned.py``), vectorised.

    Minimises ``[Σ_ij (cos(W_i, W_j) − exp(−(i−j)²/2σ²))² + mag_weight · mean_i (‖W_i‖ − mean‖W‖)²] / (n(n−1))``
    with Adam (lr 0.01, 10,000 steps, ``W ~ N(0, 1)`` seeded), as the release does with per-pair loops.

    Returns:
        ``[num_rows, width]`` float32 matrix.
    """
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(num_rows, width, generator=g, dtype=torch.float64).requires_grad_(True)
    target = _target_kernel(num_rows, sigma)
    opt = torch.optim.Adam([W], lr=lr)
    denom = num_rows * (num_rows - 1) if num_rows > 1 else 1
    for _ in range(steps):
        opt.zero_grad()
        Wn = F.normalize(W, dim=1)
        sim = Wn @ Wn.T
        norms = W.norm(dim=1)
        loss = (((sim - target) ** 2).sum() + mag_weight * ((norms - norms.mean()) ** 2).mean()) / denom
        loss.backward()
        opt.step()
    return W.detach().float().numpy()


def position_matrix_report(W: np.ndarray, sigma: float, atol: float = 1e-3) -> dict[str, float]:
    """How well ``W`` meets the objective: max |cos − target|, pass rate at ``atol`` (release's check), norm spread."""
    Wt = torch.as_tensor(np.asarray(W), dtype=torch.float64)
    Wn = F.normalize(Wt, dim=1)
    err = (Wn @ Wn.T - _target_kernel(Wt.shape[0], sigma)).abs()
    norms = Wt.norm(dim=1)
    return {
        "max_abs_cos_error": float(err.max()),
        "pass_rate": float((err <= atol).double().mean()),
        "norm_rel_spread": float((norms.max() - norms.min()) / norms.mean()),
    }


def pe_width(d_model: int) -> int:
    """Width of each of the three position slots: ceil((d/2)/6)·2 (= 86 for d = 512, as in the release)."""
    return int(math.ceil((d_model // 2) / 6) * 2)


def _asset_name(rows: int, width: int, sigma: float) -> str:
    return f"learned_pe_r{rows}_w{width}_s{sigma:g}.npy"


def load_position_matrix(rows: int, width: int, sigma: float = 2.0) -> np.ndarray:
    """The shipped matrix ``gazekit/assets/oat/learned_pe_r{rows}_w{width}_s{sigma}.npy``; computed (seed 0,
    the release's recipe) when that size is not shipped."""
    p = ASSET_DIR / _asset_name(rows, width, sigma)
    if p.is_file():
        W = np.load(p, allow_pickle=False)
        if W.shape == (rows, width):
            return W.astype(np.float32)
    key = (rows, width, float(sigma))
    if key not in _COMPUTED_PE:
        warnings.warn(f"OAT: no shipped position matrix {p.name}; optimising it now (seed 0)", stacklevel=2)
        _COMPUTED_PE[key] = optimise_position_matrix(rows, width, sigma)
    return _COMPUTED_PE[key].copy()


_COMPUTED_PE: dict[tuple[int, int, float], np.ndarray] = {}


def sinusoid_position_table(n: int, width: int) -> np.ndarray:
    """The release's 3-D sinusoid per axis (``PositionalEncoding3D``, 'original'): interleaved sin/cos,
    ``inv_freq = 1 / 10000^(2k/width)``; ``[n, width]``."""
    inv = 1.0 / (10000 ** (np.arange(0, width, 2, dtype=np.float64) / width))
    ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]
    return np.stack([np.sin(ang), np.cos(ang)], axis=-1).reshape(n, -1)[:, :width].astype(np.float32)


def sequence_pe(length: int, d: int) -> Tensor:
    """1-D sinusoidal sequence PE of the decoder (release ``PositionalEncoding``): ``[length, d]``."""
    den = torch.exp(-torch.arange(0, d, 2, dtype=torch.float32) * math.log(10000.0) / d)
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    pe = torch.zeros(length, d)
    pe[:, 0::2] = torch.sin(pos * den)
    pe[:, 1::2] = torch.cos(pos * den)
    return pe


# ============================================================================================ network
class CropCNN(nn.Module):
    """The release's ``CNNEmbedding`` (spp = 0): conv5x5 3→16, ReLU, maxpool5 → conv3x3 16→32, ReLU, maxpool3 →
    flatten (32·9·5 = 1440 for 150x93 crops) → FC."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.cnn1 = nn.Sequential(nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(5))
        self.cnn2 = nn.Sequential(nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(3))
        self.fc = nn.Linear(1440, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``[..., 3, 150, 93]`` in [0, 1] → ``[..., out_dim]``."""
        lead = x.shape[:-3]
        y = self.cnn2(self.cnn1(x.reshape(-1, *x.shape[-3:])))
        return self.fc(y.flatten(1)).reshape(*lead, -1)


class PointerHead(nn.Module):
    """``CA_version = 3`` object attention: heads of scaled dot products over encoder tokens + a 0 PAD logit."""

    def __init__(self, d_model: int, heads: int = 2, d_k: int = 512) -> None:
        super().__init__()
        self.heads, self.d_k = heads, d_k
        self.encode_fc = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(heads))
        self.decode_fc = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(heads))
        self.readout = nn.Linear(heads, 1) if heads > 1 else None

    def project_memory(self, memory: Tensor) -> Tensor:
        """``[B, S, d]`` → ``[B, heads, S, d]`` (cacheable across decoding steps)."""
        return torch.stack([fc(memory) for fc in self.encode_fc], dim=1)

    def forward(self, dec: Tensor, mem_proj: Tensor) -> Tensor:
        """``dec [B, L, d]``, ``mem_proj [B, heads, S, d]`` → logits ``[B, L, S + 1]`` (last column = PAD)."""
        q = torch.stack([fc(dec) for fc in self.decode_fc], dim=1)  # B, h, L, d
        att = q @ mem_proj.transpose(-1, -2)  # B, h, L, S
        att = torch.cat([att, att.new_zeros(*att.shape[:-1], 1)], dim=-1) / (self.d_k**0.5)
        att = att.permute(0, 2, 3, 1)  # B, L, S+1, h
        return self.readout(att).squeeze(-1) if self.readout is not None else att.squeeze(-1)


class OATNetwork(nn.Module):
    """The OAT network (no Lightning): token embedding, encoder-decoder transformer and pointer head."""

    def __init__(
        self,
        appearance: Literal["crop", "vector"] = "crop",
        appearance_dim: int = 0,
        position_encoding: Literal["learned", "sinusoidal"] = "learned",
        pe_rows: int = 16,
        pe_sigma: float = 2.0,
        d_model: int = 512,
        nhead: int = 4,
        num_encoder_layers: int = 4,
        num_decoder_layers: int = 4,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        ca_heads: int = 2,
        ca_dk: int = 512,
        pixel_offset: bool = False,
        max_seq: int = 256,
    ) -> None:
        super().__init__()
        if d_model % 2 or d_model % nhead:
            raise ConfigError(f"d_model must be even and divisible by nhead, got {d_model}/{nhead}")
        self.d_model, self.half = d_model, d_model // 2
        self.appearance = appearance
        if appearance == "crop":
            self.app = CropCNN(self.half)
        elif appearance == "vector":
            if appearance_dim <= 0:
                raise ConfigError("appearance='vector' needs appearance_dim > 0")
            self.app = nn.Linear(appearance_dim, self.half)
        else:
            raise ConfigError(f"appearance must be 'crop' or 'vector', got {appearance!r}")
        w = pe_width(d_model)
        if position_encoding == "learned":
            table = load_position_matrix(pe_rows, w, pe_sigma)
        elif position_encoding == "sinusoidal":
            table = sinusoid_position_table(pe_rows, w)
        else:
            raise ConfigError(f"position_encoding must be 'learned' or 'sinusoidal', got {position_encoding!r}")
        # + zero rows (the release appends 4): indices >= pe_rows carry no position
        table = np.concatenate([table, np.zeros((4, w), np.float32)])
        self.register_buffer("pe_table", torch.from_numpy(table))
        self.register_buffer("seq_pe", sequence_pe(max_seq, d_model), persistent=False)
        enc_layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        dec_layer = nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(enc_layer, num_encoder_layers, enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(dec_layer, num_decoder_layers)
        self.seq_dropout = nn.Dropout(dropout)
        self.pointer = PointerHead(d_model, ca_heads, ca_dk)
        self.offset_head = nn.Linear(d_model, 2) if pixel_offset else None
        self.nhead = nhead
        for p in self.parameters():  # release: xavier_uniform_ on every matrix
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    # ----------------------------------------------------------------------------------- tokens
    def position(self, pos: Tensor) -> Tensor:
        """``[..., 3]`` long (row, col, flag) → ``[..., d/2]``."""
        idx = pos.clamp(0, self.pe_table.shape[0] - 1)
        return torch.cat([self.pe_table[idx[..., 0]], self.pe_table[idx[..., 1]], self.pe_table[idx[..., 2]]], -1)[
            ..., : self.half
        ]

    def blank_appearance(self, batch: int, like: Tensor) -> Tensor:
        """Appearance embedding of the BOS pseudo-object (a blank all-ones crop / all-zero vector): ``[B, d/2]``."""
        if self.appearance == "crop":
            x = torch.ones((1, *like.shape[-3:]), dtype=like.dtype, device=like.device)
        else:
            x = torch.zeros((1, like.shape[-1]), dtype=like.dtype, device=like.device)
        return self.app(x).expand(batch, -1)

    def embed(self, batch: OATBatch) -> tuple[Tensor, Tensor]:
        """Appearance embeddings ``[B, S, d/2]`` of every encoder token and the BOS ``[B, d/2]``."""
        B, S = batch.enc_valid.shape
        U = batch.enc_app.shape[0]
        idx = batch.app_index if batch.app_index is not None else torch.arange(B, device=batch.enc_valid.device)
        if self.appearance == "crop":
            # only real tokens of each distinct display go through the CNN
            uvalid = torch.zeros(U, S, dtype=torch.bool, device=batch.enc_valid.device)
            uvalid[idx] = batch.enc_valid
            emb = batch.enc_app.new_zeros(U, S, self.half)
            emb[uvalid] = self.app(batch.enc_app[uvalid]).to(emb.dtype)
        else:
            emb = self.app(batch.enc_app)
        return emb[idx], self.blank_appearance(B, batch.enc_app)

    def decoder_tokens(self, app_emb: Tensor, bos_app: Tensor, batch: OATBatch, inputs: Tensor) -> Tensor:
        """Decoder input tokens (without sequence PE) for ``inputs [B, T]`` object indices (prefixed by BOS):
        ``[B, T + 1, d]``. Index values >= N are never inputs (EOS ends a sequence)."""
        B, T = inputs.shape
        idx = inputs.clamp(min=0)
        app = torch.gather(app_emb, 1, idx[..., None].expand(B, T, app_emb.shape[-1]))
        pos = torch.gather(batch.enc_pos, 1, idx[..., None].expand(B, T, 3)).clone()
        pos[..., 2] = (inputs == batch.target_obj[:, None]).long()
        tok = torch.cat([app, self.position(pos)], -1)
        bos = torch.cat([bos_app, self.position(batch.bos_pos)], -1)[:, None]
        return torch.cat([bos, tok], 1)

    def add_seq_pe(self, tokens: Tensor, start: int = 0) -> Tensor:
        return self.seq_dropout(tokens + self.seq_pe[start : start + tokens.shape[1]])

    # ----------------------------------------------------------------------------------- full passes
    def encode(self, batch: OATBatch) -> tuple[Tensor, Tensor, Tensor]:
        """→ (memory ``[B, S, d]``, appearance embeddings ``[B, S, d/2]``, BOS appearance ``[B, d/2]``)."""
        app_emb, bos_app = self.embed(batch)
        src = torch.cat([app_emb, self.position(batch.enc_pos)], -1)
        memory = self.encoder(src, src_key_padding_mask=~batch.enc_valid)
        return memory, app_emb, bos_app

    def decode_full(self, memory: Tensor, batch: OATBatch, tokens: Tensor) -> Tensor:
        """Decoder over a whole prefix (causal): ``tokens [B, L, d]`` (with sequence PE) → ``[B, L, d]``."""
        L = tokens.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(L, device=tokens.device, dtype=tokens.dtype)
        return self.decoder(
            tokens, memory, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=~batch.enc_valid
        )

    def forward(self, batch: OATBatch, inputs: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits ``[B, T + 1, S + 1]`` for decoder inputs BOS + ``inputs [B, T]``.

        Columns of padding tokens are set to a large negative value (never chosen); column S is PAD."""
        memory, app_emb, bos_app = self.encode(batch)
        dec = self.decode_full(memory, batch, self.add_seq_pe(self.decoder_tokens(app_emb, bos_app, batch, inputs)))
        logits = self.pointer(dec, self.pointer.project_memory(memory))
        logits = logits.masked_fill(~self.column_valid(batch)[:, None, :], NEG)
        off = torch.tanh(self.offset_head(dec)) if self.offset_head is not None else None
        return logits, off

    @staticmethod
    def column_valid(batch: OATBatch) -> Tensor:
        """``[B, S + 1]``: real objects, the target token (EOS) and the PAD column."""
        return torch.cat([batch.enc_valid, batch.enc_valid.new_ones(batch.enc_valid.shape[0], 1)], 1)


# ============================================================================================ cached decoding
class _DecoderCache:
    """Encoder memory + per-layer cross-attention K/V (computed once) and self-attention K/V (grown per step)."""

    def __init__(self, net: OATNetwork, memory: Tensor, key_pad: Tensor) -> None:
        self.memory, self.key_pad = memory, key_pad
        self.cross: list[tuple[Tensor, Tensor]] = []
        self.self_kv: list[tuple[Tensor, Tensor] | None] = []
        B, S, d = memory.shape
        h = net.nhead
        for layer in net.decoder.layers:
            mha = layer.multihead_attn
            Wk, Wv = mha.in_proj_weight[d : 2 * d], mha.in_proj_weight[2 * d :]
            bk, bv = mha.in_proj_bias[d : 2 * d], mha.in_proj_bias[2 * d :]
            k = F.linear(memory, Wk, bk).view(B, S, h, d // h).transpose(1, 2)
            v = F.linear(memory, Wv, bv).view(B, S, h, d // h).transpose(1, 2)
            self.cross.append((k, v))
            self.self_kv.append(None)
        self.mem_proj = net.pointer.project_memory(memory)
        # additive mask for cross-attention: padded encoder tokens get -inf
        self.cross_mask = torch.zeros(B, 1, 1, S, dtype=memory.dtype, device=memory.device).masked_fill(
            key_pad[:, None, None, :], float("-inf")
        )


def _attend(mha: nn.MultiheadAttention, q_in: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    B, T, d = q_in.shape
    h = mha.num_heads
    q = F.linear(q_in, mha.in_proj_weight[:d], mha.in_proj_bias[:d]).view(B, T, h, d // h).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return mha.out_proj(out.transpose(1, 2).reshape(B, T, d))


def _decoder_step(net: OATNetwork, x: Tensor, cache: _DecoderCache) -> Tensor:
    """One new decoder token ``x [B, 1, d]`` through every (post-norm) layer, extending the self-attn cache."""
    B, _, d = x.shape
    h = net.nhead
    for i, layer in enumerate(net.decoder.layers):
        sa = layer.self_attn
        kv = F.linear(x, sa.in_proj_weight[d:], sa.in_proj_bias[d:])
        k = kv[..., :d].view(B, 1, h, d // h).transpose(1, 2)
        v = kv[..., d:].view(B, 1, h, d // h).transpose(1, 2)
        prev = cache.self_kv[i]
        if prev is not None:
            k, v = torch.cat([prev[0], k], 2), torch.cat([prev[1], v], 2)
        cache.self_kv[i] = (k, v)
        x = layer.norm1(x + _attend(sa, x, k, v, None))
        ck, cv = cache.cross[i]
        x = layer.norm2(x + _attend(layer.multihead_attn, x, ck, cv, cache.cross_mask))
        x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
    return x


# ============================================================================================ Lightning module
class OAT(GazekitModule, ScanpathPredictor):
    """OAT as a LightningModule and a :class:`ScanpathPredictor`.

    Args:
        appearance: ``crop`` (crop CNN on the display image) or ``vector`` (given per-object vectors;
            COCO-Search18 object level: category one-hot + box + confidence).
        categories: vector-mode category vocabulary (its one-hot is the learned category embedding).
        category_words: ``categories`` are words; the feature is the multi-hot of a category's words.
        appearance_dim: vector size when objects carry ``attributes['appearance']`` (0 = from ``categories``).
        position_encoding: ``learned`` (shipped optimised matrices) or ``sinusoidal`` (3-D sinusoid).
        pe_rows: position-table rows (≥ the grid's rows and columns); pe_sigma: its σ.
        d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout: transformer.
        ca_heads, ca_dk: pointer head (``CA_head``, ``CA_dk``).
        max_len: most object fixations decoded (EOS after); also the label truncation.
        grid_rows, grid_cols: quantisation grid for displays without row/col attributes.
        target_position: ``object`` (release) or ``none`` (the target token carries no location).
        start_fixation: human scanpaths start with the initial centre fixation (BOS); predicted pixel
            scanpaths then start with the display centre too.
        pixel_offset: learn a per-fixation offset from the object centre (else fixations = object centres).
        offset_weight: weight of the offset loss.
        lr: Adam learning rate (constant, as StepLR γ = 1 in the release).
        val_max_batches: validation decodes at most this many batches (None = all).
        seed: weight-initialisation seed.
    """

    supported_tasks = ("search",)

    def __init__(
        self,
        appearance: Literal["crop", "vector"] = "crop",
        categories: list[str] | None = None,
        category_words: bool = False,
        appearance_dim: int = 0,
        position_encoding: Literal["learned", "sinusoidal"] = "learned",
        pe_rows: int = 16,
        pe_sigma: float = 2.0,
        d_model: int = 512,
        nhead: int = 4,
        num_encoder_layers: int = 4,
        num_decoder_layers: int = 4,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        ca_heads: int = 2,
        ca_dk: int = 512,
        max_len: int = 16,
        grid_rows: int | None = None,
        grid_cols: int | None = None,
        target_position: Literal["object", "none"] = "object",
        start_fixation: bool = True,
        pixel_offset: bool = False,
        offset_weight: float = 1.0,
        lr: float = 1e-4,
        val_max_batches: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.tensorizer = OATTensorizer(
            appearance,
            categories,
            category_words,
            grid_rows,
            grid_cols,
            target_position,
            start_fixation,
            max_len,
            pe_rows,
        )
        adim = appearance_dim or (self.tensorizer.vector_dim if appearance == "vector" else 0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = OATNetwork(
                appearance,
                adim,
                position_encoding,
                pe_rows,
                pe_sigma,
                d_model,
                nhead,
                num_encoder_layers,
                num_decoder_layers,
                dim_feedforward,
                dropout,
                ca_heads,
                ca_dk,
                pixel_offset,
                max_seq=max(256, max_len + 2),
            )
        self.max_len = max_len
        self._val_pred: list[list[int]] = []
        self._val_human: list[list[int]] = []
        self._val_target: list[int] = []
        self._val_keys: list[str] = []

    # ----------------------------------------------------------------------------------- batches
    def _as_batch(self, batch: Any) -> OATBatch:
        if isinstance(batch, OATBatch):
            return batch.to(self.device)
        return self.tensorizer.collate_trials(batch).to(self.device)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Lists of trials stay as they are: ``_as_batch`` tensorises them on the model's device. Lightning's
        default would deep-copy every trial (images included) at each step, which defeats the per-display
        encoding cache and the one-CNN-pass-per-display batching (10x slower training with crops)."""
        if isinstance(batch, list):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    @staticmethod
    def _teacher_inputs(labels: Tensor, n_obj: Tensor) -> Tensor:
        """Decoder inputs after BOS: labels shifted right (the final EOS is never an input)."""
        inp = labels[:, :-1].clone()
        inp[(inp < 0) | (inp >= n_obj[:, None])] = 0  # PAD/EOS positions: any valid index (outputs ignored)
        return inp

    def loss(self, batch: OATBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """Teacher-forced cross-entropy over N+2 classes (PAD ignored) [+ offset loss]."""
        assert batch.labels is not None
        logits, off = self.net(batch, self._teacher_inputs(batch.labels, batch.n_obj))
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.labels.reshape(-1), ignore_index=-100)
        parts = {"ce": ce}
        total = ce
        if off is not None and batch.offsets is not None:
            m = torch.isfinite(batch.offsets).all(-1)
            if m.any():
                lo = F.mse_loss(off[m], batch.offsets[m])
                parts["offset"] = lo
                total = total + self.hparams.offset_weight * lo
        return total, parts

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        b = self._as_batch(batch)
        loss, parts = self.loss(b)
        bs = b.n_obj.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        for k, v in parts.items():
            self.log(f"train/{k}", v, batch_size=bs)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    # ----------------------------------------------------------------------------------- validation
    def on_validation_epoch_start(self) -> None:
        self._val_pred, self._val_human, self._val_target, self._val_keys = [], [], [], []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        b = self._as_batch(batch)
        loss, _ = self.loss(b)
        bs = b.n_obj.shape[0]
        self.log("val/loss", loss, prog_bar=True, batch_size=bs, sync_dist=True)
        vmax = self.hparams.val_max_batches
        if vmax is not None and batch_idx >= vmax:
            return
        seqs = self.decode(b, greedy=True)
        for i, s in enumerate(seqs):
            lab = b.labels[i].tolist()
            n = int(b.n_obj[i])
            self._val_human.append([x for x in lab if 0 <= x < n])
            self._val_pred.append(s)
            self._val_target.append(int(b.target_obj[i]))
            self._val_keys.append(b.displays[i].name)

    def _epoch_delta(self) -> float | None:
        """The behavioural delta over the decoded trials of every process (None when there are none)."""
        rows = self.gather_for_metrics(
            list(zip(self._val_pred, self._val_human, self._val_target, self._val_keys, strict=True))
        )
        if not rows:
            return None
        pred, human, target, keys = (list(c) for c in zip(*rows, strict=True))
        return float(delta_for_object_sequences(pred, human, target, keys))

    def on_validation_epoch_end(self) -> None:
        d = self._epoch_delta()
        if d is not None:
            self.log("val/delta", d, prog_bar=True, sync_dist=True)  # the same value on every process

    def on_test_epoch_start(self) -> None:
        self.on_validation_epoch_start()

    def test_step(self, batch: Any, batch_idx: int) -> None:
        b = self._as_batch(batch)
        loss, _ = self.loss(b)
        self.log("test/loss", loss, batch_size=b.n_obj.shape[0], sync_dist=True)
        for i, s in enumerate(self.decode(b, greedy=True)):
            n = int(b.n_obj[i])
            self._val_human.append([x for x in b.labels[i].tolist() if 0 <= x < n])
            self._val_pred.append(s)
            self._val_target.append(int(b.target_obj[i]))
            self._val_keys.append(b.displays[i].name)

    def on_test_epoch_end(self) -> None:
        d = self._epoch_delta()
        if d is not None:
            self.log("test/delta", d, sync_dist=True)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> list[Scanpath]:
        """Greedy pixel scanpaths for a batch of trials (``gazekit predict``)."""
        trials = list(batch)
        return self.predict_scanpaths([t.stimulus for t in trials], [t.task for t in trials])

    # ----------------------------------------------------------------------------------- decoding
    @torch.no_grad()
    def decode(
        self,
        batch: OATBatch,
        *,
        greedy: bool = True,
        seed: int | None = None,
        use_cache: bool = True,
        max_len: int | None = None,
        min_len: int = 1,
        return_offsets: bool = False,
    ) -> list[list[int]] | tuple[list[list[int]], list[np.ndarray]]:
        """Decode object sequences (EOS excluded) for every display of ``batch``.

        Greedy = argmax; otherwise multinomial samples (seeded). EOS is masked for the first ``min_len``
        steps (1 = the release: not at step 1), PAD always, padding objects always; after ``max_len``
        object fixations EOS is forced. ``use_cache`` runs the encoder once and one decoder token per step with
        per-layer key/value caches; ``use_cache=False`` re-runs the encoder and the whole decoder prefix
        every step, as the release does. Both give identical sequences.
        """
        net = self.net
        was_training = net.training
        net.eval()
        try:
            return self._decode(batch, greedy, seed, use_cache, max_len or self.max_len, min_len, return_offsets)
        finally:
            net.train(was_training)

    def _decode(self, batch, greedy, seed, use_cache, max_len, min_len, return_offsets):
        net = self.net
        B = batch.n_obj.shape[0]
        dev = batch.enc_app.device
        gen = None
        if not greedy:
            gen = torch.Generator(device=dev)
            gen.manual_seed(int(seed) if seed is not None else int(torch.seed() % 2**31))
        colv = net.column_valid(batch)
        eos = batch.n_obj
        ar = torch.arange(B, device=dev)
        seqs = torch.zeros(B, 0, dtype=torch.long, device=dev)
        offs: list[Tensor] = []
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        out_len = torch.full((B,), -1, dtype=torch.long, device=dev)
        memory, app_emb, bos_app = net.encode(batch)
        cache = _DecoderCache(net, memory, ~batch.enc_valid) if use_cache else None
        if cache is not None:
            x = net.add_seq_pe(net.decoder_tokens(app_emb, bos_app, batch, seqs), 0)
        for step in range(max_len + 1):
            if use_cache:
                h = _decoder_step(net, x, cache)[:, -1:]
                logits = net.pointer(h, cache.mem_proj)[:, 0]
            else:
                memory, app_emb, bos_app = net.encode(batch)  # the release recomputes everything per step
                toks = net.add_seq_pe(net.decoder_tokens(app_emb, bos_app, batch, seqs))
                h = net.decode_full(memory, batch, toks)[:, -1:]
                logits = net.pointer(h, net.pointer.project_memory(memory))[:, 0]
            valid = colv.clone()
            valid[:, -1] = False  # PAD is never predicted
            if step < min_len:
                valid[ar, eos] = False  # EOS masked at the first step (release)
            if step == max_len:  # length cap reached: stop
                valid[:, :-1] = False
                valid[ar, eos] = True
            logits = logits.masked_fill(~valid, float("-inf"))
            if greedy:
                nxt = logits.argmax(-1)
            else:
                nxt = torch.multinomial(F.softmax(logits, -1), 1, generator=gen)[:, 0]
            if net.offset_head is not None:
                offs.append(torch.tanh(net.offset_head(h[:, 0])))
            stop = (nxt == eos) & ~done
            out_len[stop] = step
            done |= stop
            if bool(done.all()):
                break
            nxt = torch.where(done, torch.zeros_like(nxt), nxt)  # finished rows keep decoding a dummy token
            seqs = torch.cat([seqs, nxt[:, None]], 1)
            if use_cache:
                x = net.add_seq_pe(net.decoder_tokens(app_emb, bos_app, batch, nxt[:, None])[:, 1:], step + 1)
        result = [seqs[b, : int(out_len[b])].tolist() for b in range(B)]
        if return_offsets:
            off_arr = torch.stack(offs, 1).cpu().numpy() if offs else np.zeros((B, 0, 2))
            return result, [off_arr[b, : len(result[b])] for b in range(B)]
        return result

    # ----------------------------------------------------------------------------------- predictor API
    def to_scanpath(
        self, enc: DisplayEncoding, seq: Sequence[int], task: Task, offsets: np.ndarray | None = None
    ) -> Scanpath:
        """Map an object sequence to a pixel scanpath (object centres, or centre + learned offset); the
        display centre comes first when ``start_fixation`` (as in COCO-Search18 data)."""
        idx = np.asarray(seq, dtype=np.int64)
        xy = enc.centres[idx] if len(idx) else np.zeros((0, 2))
        if offsets is not None and len(idx):
            xy = xy + offsets[: len(idx)] * enc.sizes[idx]
            xy[:, 0] = np.clip(xy[:, 0], 0, enc.width)
            xy[:, 1] = np.clip(xy[:, 1], 0, enc.height)
        objs = idx
        if self.hparams.start_fixation:
            xy = np.concatenate([[[enc.width / 2.0, enc.height / 2.0]], xy])
            objs = np.concatenate([[-1], idx])
        found = bool(enc.target_obj >= 0 and enc.target_obj in set(idx.tolist()))
        return Scanpath(
            xy[:, 0],
            xy[:, 1],
            stimulus=enc.name,
            task=task.name,
            condition="present" if enc.target_obj >= 0 else None,
            found=found,
            width=enc.width,
            height=enc.height,
            objects=objs.astype(np.int64),
            meta={"model": "oat"},
        )

    @torch.no_grad()
    def predict_scanpaths(
        self,
        stimuli: Sequence[Stimulus],
        tasks: Sequence[Task],
        *,
        sample: bool = False,
        seed: int | None = None,
        batch_size: int = 64,
    ) -> list[Scanpath]:
        """Batched prediction (greedy, or sampled with ``seed``); displays may differ in object count."""
        stimuli, tasks = list(stimuli), [Task.coerce(t) for t in tasks]
        if len(stimuli) != len(tasks):
            raise ConfigError(f"got {len(stimuli)} stimuli but {len(tasks)} tasks")
        out: list[Scanpath] = []
        for s in range(0, len(stimuli), batch_size):
            trials = [
                Trial(st, tk) for st, tk in zip(stimuli[s : s + batch_size], tasks[s : s + batch_size], strict=True)
            ]
            batch = self.tensorizer.collate_trials(trials).to(self.device)
            seqs, offs = self.decode(
                batch, greedy=not sample, seed=None if seed is None else seed + s, return_offsets=True
            )
            use_off = self.net.offset_head is not None
            for enc, sq, off, t in zip(batch.displays, seqs, offs, trials, strict=True):
                out.append(self.to_scanpath(enc, sq, t.task, off if use_off else None))
        return out
