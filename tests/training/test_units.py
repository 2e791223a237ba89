"""gazekit.training's parts without processes: shard samplers, the resumable loader, the random state."""

from __future__ import annotations

import io
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gazekit import training
from gazekit.datasets.search_trials import DisplayGroupedSampler
from gazekit.errors import ConfigError


def _trials(sizes: list[int]) -> list[SimpleNamespace]:
    """Trials of displays with the given numbers of trials (the sampler groups by ``id(stimulus)``)."""
    out = []
    for n in sizes:
        stim = SimpleNamespace()
        out += [SimpleNamespace(stimulus=stim) for _ in range(n)]
    return out


def _legacy_order(trials, seed: int, epoch: int) -> list[int]:
    """The one-process order as the sampler always gave it: displays shuffled, then each one's trials."""
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(trials):
        groups.setdefault(id(t.stimulus), []).append(i)
    rng = np.random.default_rng([seed, epoch])
    gl = list(groups.values())
    return [g[j] for gi in rng.permutation(len(gl)) for g in [gl[gi]] for j in rng.permutation(len(g))]


def test_display_grouped_sampler_one_process_keeps_its_order_per_epoch():
    trials = _trials([3, 1, 4, 2, 5])
    s = DisplayGroupedSampler(trials, seed=7, num_replicas=1, rank=0)
    for epoch in (0, 1, 2):
        s.set_epoch(epoch)
        assert list(s) == _legacy_order(trials, 7, epoch) and len(s) == len(trials)
    s.set_epoch(0)
    assert list(s) != _legacy_order(trials, 7, 1)


@pytest.mark.parametrize("world", [2, 3])
def test_display_grouped_sampler_shards_whole_displays_equally(world):
    sizes = [3, 1, 4, 2, 5, 3, 3, 2]
    trials = _trials(sizes)
    display = {i: id(t.stimulus) for i, t in enumerate(trials)}
    for epoch in (0, 1):
        shards = []
        for rank in range(world):
            s = DisplayGroupedSampler(trials, seed=0, num_replicas=world, rank=rank)
            s.set_epoch(epoch)
            shards.append(list(s))
        assert len({len(x) for x in shards}) == 1  # the same number of steps on every process
        flat = [i for x in shards for i in x]
        assert len(flat) == len(set(flat))  # disjoint
        assert len(flat) >= len(trials) - (world - 1) * max(sizes)
        owners: dict[int, set[int]] = {}
        for r, x in enumerate(shards):
            for i in x:
                owners.setdefault(display[i], set()).add(r)
        assert all(len(o) == 1 for o in owners.values())  # a display's trials on one process


def test_eval_sampler_needs_a_sample_per_process(monkeypatch):
    assert training.eval_sampler(list(range(5)), "val") is None  # one process: read in order
    monkeypatch.setattr(training, "process_group", lambda: (4, 1))
    s = training.eval_sampler(list(range(10)), "val")
    assert list(s) == [1, 5, 9]  # strided, no repeats
    with pytest.raises(ConfigError, match="val split has 3 sample"):
        training.eval_sampler(list(range(3)), "val")


def test_train_sampler_drops_the_tail_and_depends_on_epoch_only(monkeypatch):
    monkeypatch.setattr(training, "process_group", lambda: (3, 0))
    shards = []
    for rank in range(3):
        monkeypatch.setattr(training, "process_group", lambda r=rank: (3, r))
        s = training.train_sampler(list(range(10)), seed=5)
        s.set_epoch(2)
        shards.append(list(s))
    assert [len(x) for x in shards] == [3, 3, 3] and len({i for x in shards for i in x}) == 9
    monkeypatch.setattr(training, "process_group", lambda: (1, 0))
    a, b = training.train_sampler(range(10), 5), training.train_sampler(range(10), 5)  # type: ignore[arg-type]
    list(a)  # iterating does not advance the order: only set_epoch does
    assert list(a) == list(b)


def test_resumable_loader_skips_only_in_the_resumed_epoch():
    s = training.train_sampler(list(range(12)), seed=1)
    progress = {"v": (1, 2)}
    dl = training.ResumableDataLoader(list(range(12)), batch_size=3, sampler=s, progress=lambda: progress["v"])
    assert dl.state_dict() == {"epoch": 1, "batches_done": 2}
    s.set_epoch(1)
    full = [b.tolist() for b in dl]
    dl.load_state_dict({"epoch": 1, "batches_done": 2})
    s.set_epoch(0)
    assert len(list(dl)) == 4  # another epoch: nothing skipped
    s.set_epoch(1)
    assert [b.tolist() for b in dl] == full[2:]
    assert [b.tolist() for b in dl] == full[2:]  # until the resumed iterator is declared open
    dl.resume_done()
    assert [b.tolist() for b in dl] == full
    dl.load_state_dict({"epoch": 1, "batches_done": 4})  # a checkpoint at the epoch's end
    assert [b.tolist() for b in dl] == full


def test_rng_state_round_trip_survives_weights_only_load():
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    state = training.rng_state()
    buf = io.BytesIO()
    torch.save({"gazekit_rng": [state]}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["gazekit_rng"][0]
    expect = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    training.set_rng_state(loaded)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expect[0]) and np.array_equal(got[1], expect[1]) and got[2] == expect[2]


def test_gather_objects_in_one_process_is_the_identity():
    items = [1, "a", {"x": 2}]
    assert training.gather_objects(items) is items
