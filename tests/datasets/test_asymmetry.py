"""The six asymmetry paradigms: geometry, counts, cells, targets, determinism, saved layout; the training diets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazekit.datasets.asymmetry import (
    CONDITIONS,
    DIETS,
    EXPERIMENTS,
    HUMAN_RT,
    PAIRS,
    DietDataModule,
    cell_masks,
    diet_dataset,
    diet_item,
    generate_condition,
    load_asymmetry,
    save_asymmetry,
)
from gazekit.errors import ConfigError, DataFormatError

# (image px, cell px, grid, item px, background) from the release's generator constants at 30 px/deg
GEOMETRY = {
    "categorization": (339, 84, 4, 69, 255),
    "curvature": (339, 56, 6, 48, 0),
    "intersection": (615, 205, 3, 177, 255),
    "lightning_dir": (198, 49, 4, 31, 27),
}


def test_release_counts() -> None:
    assert len(CONDITIONS) == 12
    assert sum(c.n_displays for c in CONDITIONS.values()) == 1272
    per = {c: CONDITIONS[c].n_displays for c in CONDITIONS}
    assert per["homo_t0"] == 120 and per["curve_in_lines"] == 90 and per["Ls"] == 108 and per["top_down"] == 90
    assert {EXPERIMENTS[e].cap for e in EXPERIMENTS} == {17, 37, 10}
    for name, (size, cell, grid, item, bg) in GEOMETRY.items():
        e = EXPERIMENTS[name]
        assert (e.size, e.cell, e.grid, e.item, e.background) == (size, cell, grid, item, bg)
    assert sorted(c for p in PAIRS for c in p[1:]) == sorted(CONDITIONS)
    assert all(len(HUMAN_RT[c]) == len(CONDITIONS[c].set_sizes) for c in CONDITIONS)


@pytest.mark.parametrize("cond", list(CONDITIONS))
def test_display_statistics(cond: str) -> None:
    c = CONDITIONS[cond]
    e = c.exp
    size, cell, grid, item, bg = GEOMETRY[c.experiment]
    displays = generate_condition(cond, seed=3, trials=2)
    assert [d.set_size for d in displays] == [s for s in c.set_sizes for _ in range(2)]
    assert [d.trial for d in displays] == list(range(1, len(displays) + 1))
    for d in displays:
        assert d.image.shape == (size, size, 3) and d.image.dtype == np.uint8
        assert d.target.shape == (item, item, 3)
        assert len(d.cells) == len(set(d.cells)) == d.set_size == len(d.boxes)
        assert d.target_cell in d.cells and min(d.cells) >= 0 and max(d.cells) < grid * grid
        for cl, (x, y, w, h) in zip(d.cells, d.boxes, strict=True):  # each item jittered inside its own cell
            cx, cy = (cl % grid) * cell, (cl // grid) * cell
            assert cx <= x <= cx + e.jitter and cy <= y <= cy + e.jitter and w == h == item
        gt = d.gt
        assert gt.sum() == 255 * cell * cell
        x, y, w, h = d.boxes[d.cells.index(d.target_cell)]
        assert gt[y : y + h, x : x + w].all()  # the target lies in the GT cell
        np.testing.assert_allclose(d.image[y : y + h, x : x + w].astype(float), d.target.astype(float), atol=40)
        empty = [i for i in range(grid * grid) if i not in d.cells]
        for i in empty[:3]:  # empty cells are background (up to JPEG ringing near neighbours)
            cx, cy = (i % grid) * cell, (i // grid) * cell
            patch = d.image[cy + 8 : cy + cell - 8, cx + 8 : cx + cell - 8].astype(int)
            assert np.median(np.abs(patch - bg)) <= 2


def test_masks_partition_the_grid() -> None:
    for name, (size, cell, grid, _, _) in GEOMETRY.items():
        m = cell_masks(name)
        assert m.shape == (grid * grid, size, size)
        assert (m.astype(int).sum(0) <= 255).all()
        assert int((m > 0).sum()) == grid * grid * cell * cell
    with pytest.raises(ConfigError):
        cell_masks("nope")


def test_seeded_and_distinct() -> None:
    a = generate_condition("Ls", seed=1, trials=3)
    b = generate_condition("Ls", seed=1, trials=3)
    c = generate_condition("Ls", seed=2, trials=3)
    assert all((x.image == y.image).all() and x.cells == y.cells for x, y in zip(a, b, strict=True))
    assert any(x.cells != y.cells for x, y in zip(a, c, strict=True))
    with pytest.raises(ConfigError):
        generate_condition("Ls", trials=0)
    with pytest.raises(ConfigError):
        generate_condition("Xs")


def test_heterogeneous_distractors_each_type_once_first() -> None:
    for d in generate_condition("hetero_t0", seed=0, trials=4):
        if d.set_size != 8:
            continue
        patches = [d.image[y : y + h, x : x + w] for c, (x, y, w, h) in zip(d.cells, d.boxes, strict=True)]
        tgt = d.cells.index(d.target_cell)
        others = [p for i, p in enumerate(patches) if i != tgt]
        # 7 distractors drawn from 8 types without replacement: no two alike
        diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for i, a in enumerate(others) for b in others[i + 1 :]]
        assert min(diffs) > 5


def test_homogeneous_distractors_are_alike() -> None:
    d = [x for x in generate_condition("homo_t20", seed=0, trials=1) if x.set_size == 12][0]
    tgt = d.cells.index(d.target_cell)
    patches = [d.image[y : y + h, x : x + w].astype(int) for (x, y, w, h) in d.boxes]
    others = [p for i, p in enumerate(patches) if i != tgt]
    assert max(np.abs(others[0] - p).mean() for p in others) < 3
    assert np.abs(others[0] - patches[tgt]).mean() > 5


def test_stimulus_and_protocol() -> None:
    d = generate_condition("curve_in_lines", seed=0, trials=1)[0]
    stim, task = d.to_stimulus()
    assert stim.target is not None and stim.target.box == tuple(float(v) for v in d.cell_box())
    assert task.target is not None and task.target.box is None and task.target.image is d.target
    proto = stim.meta["search_protocol"]
    assert len(proto["cells"]) == 36 and proto["cap"] == 37 and proto["recog_size"] == 10 and proto["background"] == 0
    assert [o.category for o in stim.objects].count("target") == 1


def test_save_and_load_roundtrip(tmp_path) -> None:  # noqa: ANN001
    root = save_asymmetry(tmp_path / "asym", seed=5, trials=1)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["conditions"]["homo_t0"] == 4 and manifest["seed"] == 5
    assert (root / "curvature" / "gt_mask.npy").is_file()
    assert (root / "categorization" / "homo" / "t0" / "stimuli" / "4.png").is_file()
    back = load_asymmetry(root, ["top_down", "Ts"])
    fresh = {c: generate_condition(c, seed=5, trials=1) for c in ("top_down", "Ts")}
    for c in back:
        for x, y in zip(back[c], fresh[c], strict=True):
            assert (x.image == y.image).all() and (x.target == y.target).all()
            assert x.cells == y.cells and x.target_cell == y.target_cell and x.boxes == y.boxes
    with pytest.raises(DataFormatError, match="manifest"):
        load_asymmetry(tmp_path)


def test_diets() -> None:
    for diet in DIETS:
        x, y, names = diet_dataset(diet, 6, size=24, seed=0)
        assert x.shape == (6, 24, 24, 3) and x.dtype == np.uint8 and y.shape == (6,)
        assert y.min() >= 0 and y.max() < len(names)
    a, _, _ = diet_dataset("digits", 4, size=16, seed=1)
    b, _, _ = diet_dataset("digits_rot90", 4, size=16, seed=1)
    assert (np.rot90(a, 1, axes=(1, 2)) == b).all()
    one, lab = diet_item("objects", 3, size=24, seed=0)  # any item alone equals its place in the bulk set
    x, y, _ = diet_dataset("objects", 4, size=24, seed=0)
    assert (x[3] == one).all() and y[3] == lab
    dm = DietDataModule("objects", n_train=8, n_val=4, size=16, batch_size=4)
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (4, 3, 16, 16) and float(xb.max()) <= 1.0 and yb.shape == (4,)
    assert dm.num_classes == len(dm.classes) == 26
    with pytest.raises(ConfigError):
        diet_dataset("imagenet", 3)
    with pytest.raises(ConfigError):
        DietDataModule("nope")
