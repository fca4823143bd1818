"""Stage 1's masks of whole cohorts, cached as bits (helpers.pipeline.stage1_cache), at toy
scale with stage 1 stubbed."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import shifted_stage1, toy_cohort

from helpers.pipeline import stage1_cache


@pytest.fixture
def stubbed_stage1(tmp_path, monkeypatch):
    monkeypatch.setattr(stage1_cache, "cache_folder", lambda: tmp_path)
    monkeypatch.setattr(stage1_cache, "segment_pancreas", shifted_stage1)
    monkeypatch.setattr(stage1_cache, "default_atlases", lambda: None)
    return tmp_path


def test_masks_of_other_shapes_and_none_round_trip_through_bits():
    rng = np.random.default_rng(0)
    masks = [rng.random((3, 4, 5)) > 0.5, None, rng.random((2, 7, 3)) > 0.2]
    shapes = [(3, 4, 5), (6, 1, 2), (2, 7, 3)]
    stored = stage1_cache.pack_masks(masks, shapes)
    assert stored["bits"].dtype == np.uint8 and stored["bits"].size == -(-(60 + 12 + 42) // 8)
    back = stage1_cache.unpack_masks(stored)
    assert back[1] is None
    assert np.array_equal(back[0], masks[0]) and np.array_equal(back[2], masks[2])
    assert back[2].dtype == bool and back[2].shape == (2, 7, 3)


def test_files_without_a_found_array_read_every_mask():  # written before "found" was stored
    stored = stage1_cache.pack_masks([np.ones((2, 2, 2), bool)], [(2, 2, 2)])
    del stored["found"]
    assert stage1_cache.unpack_masks(stored)[0].all()


def test_as_image_keeps_the_scans_grid_and_none():
    case = toy_cohort(1)[0]
    mask = sitk.GetArrayFromImage(case.pancreas_plain) > 0
    out = stage1_cache.as_image(mask, case.plain)
    assert out.GetSpacing() == case.plain.GetSpacing()
    assert out.GetOrigin() == case.plain.GetOrigin()
    assert np.array_equal(sitk.GetArrayFromImage(out) > 0, mask)
    assert stage1_cache.as_image(None, case.plain) is None


def test_prediction_masks_are_cached_as_bits_with_none_where_stage1_missed(stubbed_stage1,
                                                                           monkeypatch):
    cases = toy_cohort(5)
    cases[3].plain.SetOrigin((99.0, 0.0, 0.0))  # stage 1 finds no pancreas in this one
    masks = stage1_cache.prediction_masks(cases)
    assert masks[3] is None and all(m is not None for n, m in enumerate(masks) if n != 3)
    assert np.array_equal(masks[0], sitk.GetArrayFromImage(shifted_stage1(cases[0].plain)) > 0)
    stored = list(stubbed_stage1.glob("stage1-*.npz"))
    assert len(stored) == 1 and stored[0].stat().st_size < 2000  # one bit per voxel
    monkeypatch.setattr(stage1_cache, "segment_pancreas", None)  # read back: stage 1 not run
    again = stage1_cache.prediction_masks(cases)
    assert again[3] is None
    assert all(np.array_equal(a, b) for a, b in zip(masks, again, strict=True) if a is not None)
