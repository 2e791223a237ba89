"""Eccentricity pooling: the one-pass integral-image op against the release's ring-by-ring reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gazekit.errors import ConfigError, DataFormatError
from gazekit.kernels.ecc_pool import EccPoolSpec, ecc_pool, ecc_pool_reference, window_map
from gazekit.kernels.ecc_pool.reference import ring_layout, same_pool

LAYER_SPECS = [
    EccPoolSpec(slope=s, deg2px=d) for s, d in zip((0, 0, 0.07, 0.16, 0.32), (30, 15, 8, 4, 2), strict=False)
]


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 7, 5), (1, 2, 33, 33), (1, 4, 50, 61), (2, 1, 101, 100)])
@pytest.mark.parametrize("spec", LAYER_SPECS, ids=lambda s: f"slope{s.slope}")
def test_matches_reference(shape: tuple[int, ...], spec: EccPoolSpec) -> None:
    torch.manual_seed(0)
    x = torch.randn(shape)
    ref = ecc_pool_reference(x, spec)
    out = ecc_pool(x, spec)
    side = max(shape[-2:])
    assert out.shape == (*shape[:2], (side + 1) // 2, (side + 1) // 2)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_rings_partition_and_grow() -> None:
    out, rings = ring_layout(200, LAYER_SPECS[4])
    total = np.zeros((out, out), int)
    for mask, _ in rings:
        total += mask
    assert (total == 1).all()  # the fovea, the 1-degree rings and the rest cover every output pixel once
    sizes = [rf for _, rf in rings]
    assert sizes[0] == 2 and sizes == sorted(sizes) and sizes[-1] > 10
    _, rf = window_map(200, LAYER_SPECS[4])
    assert rf[out // 2, out // 2] == 2 and rf[0, 0] == sizes[-1]


def test_uniform_window_is_plain_pool_and_fovea_covering_map() -> None:
    x = torch.randn(1, 2, 40, 40)
    spec = EccPoolSpec(slope=0.32, deg2px=30)  # fovea radius 60 px > the map: one window everywhere
    assert len(ring_layout(40, spec)[1]) == 1
    torch.testing.assert_close(ecc_pool(x, spec), same_pool(x, 2, 2, "avg"))


def test_constant_map_stays_constant() -> None:
    x = torch.full((1, 1, 64, 64), 3.5)
    np.testing.assert_allclose(ecc_pool(x, LAYER_SPECS[4]).numpy(), 3.5, rtol=1e-6)


def test_nan_stays_local_like_reference() -> None:
    x = torch.randn(1, 1, 41, 41)
    x[0, 0, 2, 3] = float("nan")
    out, ref = ecc_pool(x, LAYER_SPECS[4]), ecc_pool_reference(x, LAYER_SPECS[4])
    assert torch.isnan(out).sum() == torch.isnan(ref).sum() > 0
    assert not torch.isnan(out[0, 0, 10:, 10:]).any()


def test_max_pool_variant_and_bad_input() -> None:
    x = torch.randn(1, 2, 30, 30)
    spec = EccPoolSpec(slope=0.16, deg2px=4, pool="max")
    torch.testing.assert_close(ecc_pool(x, spec), ecc_pool_reference(x, spec))
    with pytest.raises(DataFormatError, match="B, C, H, W"):
        ecc_pool(torch.randn(3, 4, 5), LAYER_SPECS[0])
    with pytest.raises(DataFormatError, match="empty"):
        ecc_pool(torch.randn(1, 1, 0, 4), LAYER_SPECS[0])
    with pytest.raises(ConfigError):
        EccPoolSpec(pool="median")
    with pytest.raises(ConfigError):
        EccPoolSpec(deg2px=0)
