"""OAT: shapes, masking, determinism, overfitting, checkpoints, cached decoding, position matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gazekit.datasets.search_trials import Trial
from gazekit.errors import WeightsNotFoundError
from gazekit.models.oat import (
    OAT,
    optimise_position_matrix,
    pe_width,
    position_matrix_report,
    sinusoid_position_table,
)
from gazekit.models.oat_inputs import OATTensorizer, object_grid
from gazekit.types import ObjectBox, Scanpath, Stimulus, Target, Task

TINY = {
    "d_model": 32,
    "nhead": 2,
    "num_encoder_layers": 1,
    "num_decoder_layers": 1,
    "dim_feedforward": 32,
    "dropout": 0.0,
}


def make_display(seed: int, rows: int = 2, cols: int = 3, size: tuple[int, int] = (120, 80), free: bool = False):
    """A small display: coloured squares on a grid (or free), one of them the target."""
    rng = np.random.default_rng(seed)
    W, H = size
    img = np.full((H, W, 3), 128, np.uint8)
    objs = []
    cw, ch = W / cols, H / rows
    for r in range(rows):
        for c in range(cols):
            x, y = int(c * cw + 2), int(r * ch + 2)
            w, h = int(cw - 4), int(ch - 4)
            col = rng.integers(0, 255, 3)
            img[y : y + h, x : x + w] = col
            attrs = {} if free else {"row": r, "col": c}
            objs.append(ObjectBox(x, y, w, h, category=f"c{int(col[0]) % 3}", attributes=attrs))
    t = int(rng.integers(len(objs)))
    o = objs[t]
    tgt = Target(o.category, o.xywh, img[int(o.y) : int(o.y + o.h), int(o.x) : int(o.x + o.w)].copy())
    return Stimulus(f"d{seed}", W, H, image=img, objects=objs, target=tgt), t


def make_trial(seed: int, seq: list[int], **kw) -> Trial:
    stim, _ = make_display(seed, **kw)
    c = np.array([stim.objects[i].center for i in seq], float)
    xy = np.concatenate([[[stim.width / 2, stim.height / 2]], c])
    sp = Scanpath(xy[:, 0], xy[:, 1], stimulus=stim.name, task=stim.target.category, width=stim.width,
                  height=stim.height, objects=np.array([-1, *seq]))  # fmt: skip
    return Trial(stim, Task("search", stim.target), sp)


def tiny(**kw) -> OAT:
    args = dict(TINY, pe_rows=16, max_len=8, seed=0)
    args.update(kw)
    return OAT(**args)


# --------------------------------------------------------------------------------------------- position codes
def test_position_objective_reached_by_shipped_matrices():
    from gazekit.models.oat import ASSET_DIR

    for rows, width, sigma in [(11, 86, 2.0), (14, 86, 2.0), (16, 86, 2.0), (16, 22, 2.0), (11, 86, 2.5)]:
        W = np.load(ASSET_DIR / f"learned_pe_r{rows}_w{width}_s{sigma:g}.npy")
        assert W.shape == (rows, width)
        rep = position_matrix_report(W, sigma)
        assert rep["max_abs_cos_error"] < 5e-3, rep  # cos(row_i, row_j) ~ exp(-(i-j)^2 / 2 sigma^2)
        assert rep["norm_rel_spread"] < 1e-3, rep  # equal-norm term


def test_position_optimisation_function_reaches_objective():
    W = optimise_position_matrix(6, 12, sigma=2.0, steps=1500, seed=0)
    rep = position_matrix_report(W, 2.0)
    assert rep["max_abs_cos_error"] < 1e-2 and rep["norm_rel_spread"] < 1e-2
    W0 = optimise_position_matrix(6, 12, sigma=2.0, steps=0, seed=0)
    assert position_matrix_report(W0, 2.0)["max_abs_cos_error"] > 0.3
    assert np.array_equal(W, optimise_position_matrix(6, 12, sigma=2.0, steps=1500, seed=0))


def test_position_layout_matches_release():
    assert pe_width(512) == 86  # 3 x 86 = 258, cut to 256
    T = sinusoid_position_table(11, 86)
    assert T.shape == (11, 86) and np.allclose(T[0, 0::2], 0) and np.allclose(T[0, 1::2], 1)
    m = tiny(d_model=512, nhead=4, dim_feedforward=64)
    pos = torch.tensor([[1, 2, 1]])
    code = m.net.position(pos)[0]
    tbl = m.net.pe_table
    assert code.shape == (256,)
    assert torch.equal(code[:86], tbl[1]) and torch.equal(code[86:172], tbl[2]) and torch.equal(code[172:], tbl[1][:84])


# --------------------------------------------------------------------------------------------- tensorisation
def test_grid_and_quantised_rows_cols():
    stim, _ = make_display(0, rows=2, cols=3)
    r, c, nr, nc = object_grid(stim)
    assert (nr, nc) == (2, 3) and r.tolist() == [0, 0, 0, 1, 1, 1] and c.tolist() == [0, 1, 2] * 2
    free, _ = make_display(0, rows=2, cols=3, free=True)
    r2, c2, nr2, nc2 = object_grid(free, 4, 6)
    assert (nr2, nc2) == (4, 6) and r2.tolist() == [1, 1, 1, 3, 3, 3] and c2.tolist() == [1, 3, 5] * 2


def test_batch_shapes_mixed_sizes():
    m = tiny()
    trials = [make_trial(1, [0, 2, 1]), make_trial(2, [3], rows=3, cols=4), make_trial(3, [5, 5, 4, 0, 1])]
    b = m.tensorizer.collate_trials(trials)
    n = [6, 12, 6]
    assert b.enc_app.shape == (3, 13, 3, 150, 93) and b.enc_pos.shape == (3, 13, 3)
    assert b.n_obj.tolist() == n and b.enc_valid.sum(1).tolist() == [7, 13, 7]
    assert b.labels.shape == (3, 6)
    assert b.labels[0].tolist() == [0, 2, 1, 6, -100, -100]  # objects, EOS = N, PAD ignored
    assert b.labels[1].tolist()[:2] == [3, 12]
    for i, k in enumerate(n):  # target token = last real token, flag 1
        assert b.enc_pos[i, k, 2] == 1 and b.enc_pos[i, :k, 2].sum() == 0
    logits, off = m.net(b, m._teacher_inputs(b.labels, b.n_obj))
    assert logits.shape == (3, 6, 14) and off is None
    loss, _ = m.loss(b)
    assert torch.isfinite(loss)


def test_padding_never_chosen_and_eos_not_first():
    m = tiny()
    with torch.no_grad():  # make padding columns and EOS maximally attractive
        for fc in m.net.pointer.encode_fc:
            fc.bias.fill_(3.0)
    trials = [make_trial(1, [0]), make_trial(2, [1], rows=3, cols=4)]
    b = m.tensorizer.collate_trials(trials)
    for greedy in (True, False):
        for seed in range(5):
            seqs = m.decode(b, greedy=greedy, seed=seed, max_len=8)
            for s, n in zip(seqs, b.n_obj.tolist(), strict=True):
                assert all(0 <= x < n for x in s)
    # EOS at step 1 is masked: even a model that prefers EOS emits >= 1 fixation
    eos_bias = m.net.pointer.readout.bias
    with torch.no_grad():
        for fc in m.net.pointer.decode_fc:
            fc.weight.zero_()
            fc.bias.zero_()
        eos_bias.fill_(0.0)
    # all object logits 0 except EOS, which we push up via an EOS-only hook
    orig = m.net.pointer.forward

    def eos_first(dec, mem_proj):
        out = orig(dec, mem_proj)
        out = out.clone()
        out[torch.arange(out.shape[0]), :, b.n_obj] = 50.0
        return out

    m.net.pointer.forward = eos_first
    seqs = m.decode(b, greedy=True, max_len=8)
    assert all(len(s) == 1 for s in seqs)
    m.net.pointer.forward = orig


def test_determinism_per_seed():
    a, b_ = tiny(seed=3), tiny(seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b_.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    assert not torch.equal(tiny(seed=4).net.encoder.layers[0].linear1.weight, a.net.encoder.layers[0].linear1.weight)
    trials = [make_trial(s, [0, 1]) for s in range(4)]
    stims, tasks = [t.stimulus for t in trials], [t.task for t in trials]
    s1 = [sp.objects.tolist() for sp in a.predict_scanpaths(stims, tasks, sample=True, seed=7)]
    s2 = [sp.objects.tolist() for sp in a.predict_scanpaths(stims, tasks, sample=True, seed=7)]
    assert s1 == s2


def test_cached_equals_uncached():
    m = tiny(d_model=64, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=64)
    trials = [make_trial(s, [0], rows=2 + s % 2, cols=3 + s % 3) for s in range(5)]
    b = m.tensorizer.collate_trials(trials)
    for greedy in (True, False):
        a = m.decode(b, greedy=greedy, seed=11, use_cache=True, max_len=10)
        u = m.decode(b, greedy=greedy, seed=11, use_cache=False, max_len=10)
        assert a == u
    # step logits agree too: teacher-forced full pass vs the cache, on a fixed prefix
    from gazekit.models.oat import _decoder_step, _DecoderCache

    net = m.net.eval()
    with torch.no_grad():
        inputs = torch.tensor([[0, 1, 2]] * 5)
        full, _ = net(b, inputs)
        mem, app, bos = net.encode(b)
        cache = _DecoderCache(net, mem, ~b.enc_valid)
        toks = net.add_seq_pe(net.decoder_tokens(app, bos, b, inputs))
        for t in range(4):
            h = _decoder_step(net, toks[:, t : t + 1], cache)
            step = net.pointer(h, cache.mem_proj)[:, 0]
            valid = net.column_valid(b)
            torch.testing.assert_close(step[valid], full[:, t][valid], atol=1e-4, rtol=1e-4)


def test_tiny_model_overfits_exactly():
    torch.manual_seed(0)
    m = tiny(d_model=64, nhead=4, dim_feedforward=64, lr=3e-3)
    seqs = [[0, 3, 4], [5, 1], [2, 2, 0, 1], [4]]
    trials = [make_trial(10 + i, s) for i, s in enumerate(seqs)]
    b = m.tensorizer.collate_trials(trials)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    for _ in range(300):
        opt.zero_grad()
        loss, _ = m.loss(b)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if loss.item() < 1e-3:
            break
    assert m.decode(b, greedy=True) == seqs
    sps = m.predict_scanpaths([t.stimulus for t in trials], [t.task for t in trials])
    for sp, s, t in zip(sps, seqs, trials, strict=True):
        assert sp.objects.tolist() == [-1, *s]  # start (centre) then the objects
        assert np.allclose(sp.xy[1:], [t.stimulus.objects[i].center for i in s])
        assert np.allclose(sp.xy[0], [t.stimulus.width / 2, t.stimulus.height / 2])


def test_vector_appearance_and_offsets():
    m = tiny(appearance="vector", categories=["c0", "c1", "c2"], grid_rows=4, grid_cols=6, pixel_offset=True)
    trials = [make_trial(s, [1, 0], free=True) for s in range(3)]
    b = m.tensorizer.collate_trials(trials)
    assert b.enc_app.shape == (3, 7, m.tensorizer.vector_dim)
    loss, parts = m.loss(b)
    assert "offset" in parts and torch.isfinite(loss)
    sps = m.predict_scanpaths([t.stimulus for t in trials], [t.task for t in trials])
    assert all(len(sp) >= 2 for sp in sps)


def test_target_position_none_hides_location():
    m = OATTensorizer(target_position="none", pe_rows=16)
    t = make_trial(0, [1])
    e = m.encode_display(t.stimulus, t.task)
    assert e.pos[-1].tolist() == [16, 16, 1]
    e2 = OATTensorizer(target_position="object", pe_rows=16).encode_display(t.stimulus, t.task)
    assert e2.pos[-1, :2].tolist() == e2.pos[e2.target_obj, :2].tolist()


# --------------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_roundtrip(tmp_path, monkeypatch):
    m = tiny(seed=5)
    trials = [make_trial(s, [0]) for s in range(3)]
    stims, tasks = [t.stimulus for t in trials], [t.task for t in trials]
    ref = [sp.objects.tolist() for sp in m.predict_scanpaths(stims, tasks)]
    p = m.save_checkpoint(tmp_path / "oat_synthetic.safetensors")
    m2 = OAT.load_for_inference(p)
    assert m2.weights_source == "user"
    assert [sp.objects.tolist() for sp in m2.predict_scanpaths(stims, tasks)] == ref
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    # a Lightning-style .ckpt loads with weights_only=True
    ck = tmp_path / "x.ckpt"
    torch.save({"state_dict": m.state_dict(), "hyper_parameters": dict(m.hparams)}, ck)
    m3 = OAT.load_for_inference(ck)
    assert [sp.objects.tolist() for sp in m3.predict_scanpaths(stims, tasks)] == ref
    # GAZEKIT_WEIGHTS_DIR lookup
    monkeypatch.setenv("GAZEKIT_WEIGHTS_DIR", str(tmp_path))
    m4 = OAT.load_for_inference()
    assert [sp.objects.tolist() for sp in m4.predict_scanpaths(stims, tasks)] == ref
    with pytest.raises(WeightsNotFoundError):
        OAT.load_for_inference(tmp_path / "missing.ckpt")


def test_missing_weights_message(monkeypatch, tmp_path):
    from dataclasses import replace

    from gazekit.models import registry

    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    spec = registry.get_spec("oat")
    monkeypatch.setitem(registry._REGISTRY, "oat", replace(spec, bundled="assets/oat/missing.safetensors"))
    with pytest.raises(WeightsNotFoundError, match="configs/experiments/oat_synthetic.yaml"):
        OAT.load_for_inference()


def test_bundled_checkpoint_predicts(monkeypatch):
    from gazekit.models.oat import ASSET_DIR

    if not (ASSET_DIR / "oat_synthetic.safetensors").is_file():
        pytest.skip("no bundled OAT checkpoint")
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    from gazekit.models.registry import load_predictor

    m = load_predictor("oat")
    assert m.weights_source == "synthetic-data"
    stims = [make_display(s, rows=3, cols=4)[0] for s in range(3)]
    for st in stims:  # synthetic-world style categories
        for o in st.objects:
            o.category = "red circle solid"
        st.objects[0].category = st.target.category = "blue square striped"
    sps = m.predict_scanpaths(stims, [Task("search", s.target) for s in stims])
    for sp, st in zip(sps, stims, strict=True):
        assert sp.objects[0] == -1 and all(0 <= i < len(st.objects) for i in sp.objects[1:])
        assert sp.width == st.width and len(sp) >= 2


def test_trial_batches_skip_lightnings_copy():
    """Lightning's default batch transfer deep-copies dataclasses (trials, their images): it would defeat the
    per-display encoding cache and the one-CNN-pass-per-display batching. Trials reach the model as they are."""
    m = tiny(appearance="crop")
    trials = [make_trial(0, [1, 2]), make_trial(0, [3])]
    trials[1] = Trial(trials[0].stimulus, trials[0].task, trials[1].scanpath)  # two subjects, one display
    moved = m.transfer_batch_to_device(trials, torch.device("cpu"), 0)
    assert moved is trials
    batch = m._as_batch(moved)
    assert batch.enc_app.shape[0] == 1  # one display -> one CNN input row for both trials
    t = torch.zeros(3)
    assert m.transfer_batch_to_device(t, torch.device("cpu"), 0).device.type == "cpu"


def test_bundled_checkpoint_searches_held_out_synthetic_displays(monkeypatch):
    """The shipped model (trained on world seed 0) finds targets on unseen displays far more often than chance."""
    from gazekit.datasets.synthetic.search import build_world
    from gazekit.models.oat import ASSET_DIR
    from gazekit.models.registry import load_predictor

    if not (ASSET_DIR / "oat_synthetic.safetensors").is_file():
        pytest.skip("no bundled OAT checkpoint")
    monkeypatch.delenv("GAZEKIT_WEIGHTS_DIR", raising=False)
    present = [s for s in build_world(16, n_subjects=1, seed=1).stimuli if s.meta["present"]]
    tasks = [Task("search", s.target) for s in present]
    rates = {
        name: np.mean([bool(sp.found) for sp in load_predictor(name).predict_scanpaths(present, tasks, seed=0)])
        for name in ("oat", "random")
    }
    assert rates["oat"] >= 0.6 and rates["oat"] >= rates["random"] + 0.3, rates


def test_object_greedy_baseline_cues():
    """The experiments' greedy on pixel-less displays: appearance vectors when given, else the category."""
    from gazekit.models.oat_experiments import ObjectGreedy

    objs = [ObjectBox(0, 0, 10, 10, "a"), ObjectBox(50, 0, 10, 10, "b"), ObjectBox(0, 50, 10, 10, "b")]
    for o, v in zip(objs, ([1.0, 0.0], [0.0, 1.0], [0.1, 1.0]), strict=True):
        o.attributes["appearance"] = v
    stim = Stimulus("v", 100, 100, objects=objs, target=Target("b", objs[2].xywh), meta={"target_index": 2})
    sp = ObjectGreedy().predict_scanpaths([stim], [Task("search", Target("b"))], seed=0)[0]
    # both "b" objects are equally far from the centre: the category cue alone would take the first one
    assert (sp.x[1], sp.y[1]) == objs[2].center and len(sp) == 2
    plain = Stimulus("c", 100, 100, objects=[ObjectBox(o.x, o.y, o.w, o.h, o.category) for o in objs])
    sp = ObjectGreedy().predict_scanpaths([plain], [Task("search", Target("a"))], seed=0)[0]
    assert (sp.x[-1], sp.y[-1]) == objs[0].center
