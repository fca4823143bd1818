"""The location-known intensity oracle of benchmarks/detection_ceiling.py, on toy arrays."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "detection_ceiling.py"
spec = importlib.util.spec_from_file_location("detection_ceiling", PATH)
ceiling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ceiling)


def gland(shape=(12, 20, 20)):
    z, y, x = np.indices(shape)
    return ((z - 6) / 5) ** 2 + ((y - 10) / 8) ** 2 + ((x - 10) / 8) ** 2 <= 1


def test_z_is_large_for_a_bright_ball_and_small_for_noise():
    rng = np.random.default_rng(0)
    pancreas = gland()
    hu = rng.normal(30, 10, pancreas.shape).astype(np.float32)
    z, y, x = np.indices(pancreas.shape)
    ball = ((z - 6) ** 2 + (y - 10) ** 2 + (x - 10) ** 2 <= 4) & pancreas
    assert ceiling.intensity_z(hu, ball, pancreas) < 4  # same HU: noise only
    brighter = hu + 20 * ball
    assert ceiling.intensity_z(brighter, ball, pancreas) > 10
    darker = hu - 20 * ball  # the oracle is two-sided
    assert ceiling.intensity_z(darker, ball, pancreas) > 10
    assert np.isnan(ceiling.intensity_z(hu, np.zeros_like(ball), pancreas))


def test_random_region_is_compact_inside_the_gland_and_seeded():
    pancreas = gland()
    region = ceiling.random_region(pancreas, 30, np.random.default_rng(1), (3.0, 3.0, 3.0))
    assert region.sum() == 30 and not (region & ~pancreas).any()
    where = np.argwhere(region)
    assert np.ptp(where, axis=0).max() <= 6  # a blob, not scattered voxels
    again = ceiling.random_region(pancreas, 30, np.random.default_rng(1), (3.0, 3.0, 3.0))
    np.testing.assert_array_equal(region, again)
    whole = ceiling.random_region(pancreas, 10**6, np.random.default_rng(1))
    assert whole.sum() == pancreas.sum() // 2  # leaves a rest to compare with


def test_lesion_like_regions_sit_deeper_than_regions_anywhere():
    from scipy import ndimage as ndi

    pancreas = gland()
    depth = ndi.distance_transform_edt(pancreas)
    mean_depth = {placement: np.mean([
        depth[ceiling.random_region(pancreas, 8, np.random.default_rng(s), (3.0, 3.0, 3.0),
                                    placement)].mean() for s in range(20)])
        for placement in ceiling.PLACEMENTS}
    assert mean_depth["lesion-like"] > mean_depth["anywhere"]
    with pytest.raises(ValueError, match="unknown placement"):
        ceiling.random_region(pancreas, 8, np.random.default_rng(0), placement="edge")


def test_oracle_auc_separates_visible_lesions_from_healthy_glands():
    rng = np.random.default_rng(2)
    pancreas = gland()
    healthy = [(s, rng.normal(30, 10, pancreas.shape).astype(np.float32), pancreas,
                (3.0, 3.0, 3.0)) for s in range(8)]
    auc, healthy_z = ceiling.oracle_auc(np.full(5, 50.0), np.full(5, 20), healthy, 0, "all")
    assert auc == pytest.approx(1.0) and len(healthy_z) == 8
    same, _ = ceiling.oracle_auc(np.full(5, 50.0), np.full(5, 20), healthy, 0, "all")
    assert same == auc


def test_size_band():
    edges = (5, 10, 15, 20, 30, 40)
    assert ceiling.size_band(5, edges) == "5-10 mm"
    assert ceiling.size_band(10, edges) == "5-10 mm"
    assert ceiling.size_band(10.5, edges) == "10-15 mm"
    assert ceiling.size_band(40, edges) == "30-40 mm"
    assert ceiling.size_band(45, edges) == "other"
