"""The safety of the pipeline's cached training data (helpers.pipeline.training_cache): arrays
only, never a pickle; rebuilt with a warning when damaged; one table per setting that changes
it. The toy_cache fixture (conftest.py) keeps it fast."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import (  # noqa: F401 (small_voxel_model: an autouse fixture)
    kinds,
    small_voxel_model,
    stored_names,
    toy_case,
)

from helpers import pipeline
from helpers.pipeline import chain, default, stage1, training_cache


def test_cache_holds_arrays_only_and_refits_identically(toy_cache):
    folder, built = toy_cache
    first = default.make_pipeline(label_source="exact")
    assert kinds(folder) == ["maps", "table"]  # one table: training and extra lesion patients
    assert len(built.tables) == 1 and len(built.extras) == 1
    (path,) = (p for p in folder.glob("*.npz") if "y" in stored_names(p))
    assert {"y", "coords", "lesion_x", "lesion_y", "key"} <= stored_names(path)
    assert "x" not in stored_names(path)  # the features are recomputed, not stored
    second = default.make_pipeline(label_source="exact")
    assert len(built.tables) == 1 and len(built.extras) == 1  # read from the cache
    case = toy_case(60, "cyst")
    assert first.predict(case.plain, case.pancreas_plain).score == \
        second.predict(case.plain, case.pancreas_plain).score
    assert first.predict(case.plain, case.pancreas_plain).subtype_probs == \
        second.predict(case.plain, case.pancreas_plain).subtype_probs


def test_a_reloaded_table_recomputes_exactly_the_features_it_was_built_with(toy_cache):
    folder, built = toy_cache
    unfit = pipeline.Pipeline(label_source="exact")
    first, lesion_x, _ = training_cache.cached_training_table(unfit)
    training_cache._FEATURES.clear()  # as in a new process
    again, lesion_x_again, _ = training_cache.cached_training_table(unfit)
    assert len(built.tables) == 2  # read from the cache, the patients loaded for features
    np.testing.assert_array_equal(again.x, first.x)
    np.testing.assert_array_equal(again.y, first.y)
    np.testing.assert_array_equal(lesion_x_again, lesion_x)
    stored = dict(np.load(next(folder.glob("*.npz")), allow_pickle=False))
    stored["coords"] = stored["coords"][::-1]  # positions of other patients
    training_cache._FEATURES.clear()
    with pytest.raises(ValueError, match="run.py clean"):
        training_cache.with_features(stored, unfit, "typical", True)


def test_corrupted_cache_is_rebuilt_with_a_warning(toy_cache):
    folder, built = toy_cache
    default.make_pipeline(label_source="exact", stage3_outlines="labels+stage2")
    files = list(folder.glob("*.npz"))
    assert kinds(folder) == ["maps", "rows", "table"]  # the rows in stage 2's outlines too
    for path in files:
        path.write_bytes(b"not a zip file at all")
    with pytest.warns(UserWarning, match="rebuilding") as warned:
        default.make_pipeline(label_source="exact", stage3_outlines="labels+stage2")
    messages = " ".join(str(w.message) for w in warned)
    assert "cached training table" in messages and "cached lesion rows" in messages
    assert "cached out-of-fold maps" in messages
    assert len(built.tables) == 4  # the table, then the outline rows, then both again
    assert kinds(folder) == ["maps", "rows", "table"]  # good files again


def test_pickled_cache_is_never_unpickled(toy_cache):
    folder, built = toy_cache
    training_cache.cached_training_table(pipeline.Pipeline(label_source="exact"))
    (path,) = folder.glob("*.npz")
    np.savez(path, key=np.array([{"a": 1}], dtype=object))  # what a pickle would need
    with pytest.warns(UserWarning, match="ignoring the cached training table"):
        table, _, _ = training_cache.cached_training_table(pipeline.Pipeline(label_source="exact"))
    assert len(built.tables) == 2 and len(table.seeds) == 15  # rebuilt, never unpickled


def test_motion_gets_its_own_table_and_bad_motion_is_refused(toy_cache):
    folder, built = toy_cache
    default.make_pipeline(label_source="exact")
    default.make_pipeline(label_source="exact", motion="hard")
    assert kinds(folder) == ["maps", "maps", "table", "table"]
    assert built.tables == built.extras == ["typical", "hard"]
    with pytest.raises(ValueError, match="typical, hard"):
        default.make_pipeline(label_source="exact", motion="wild")


def test_typical_motion_keeps_the_existing_cache_key(toy_cache, monkeypatch):
    """Adding the motion setting must not invalidate the tables classrooms already hold."""
    keys = []
    monkeypatch.setattr(training_cache, "table_key",
                        lambda settings: keys.append(settings) or "k" * 64)
    training_cache.cached_training_table(pipeline.Pipeline(label_source="exact"))
    training_cache.cached_training_table(pipeline.Pipeline(label_source="exact"), motion="hard")
    assert "motion" not in keys[0]["cohort"] and keys[1]["cohort"]["motion"] == "hard"
    assert keys[0]["cohort"]["appearance"] == "random"  # the training cohort's lesions vary


def test_stage1_masks_are_computed_once_for_every_table_that_needs_them(toy_cache,
                                                                        monkeypatch):
    folder, built = toy_cache
    calls = []

    def stage_1(scan, method="atlas", **options):
        calls.append(method)
        assert options == stage1.TRAINING_MASK_OPTIONS["atlas"]  # the coarser registration
        return sitk.Cast(scan > -1000, sitk.sitkUInt8)  # a stand-in: not the reference mask

    monkeypatch.setattr(chain, "segment_pancreas", stage_1)
    unfit = pipeline.Pipeline(label_source="exact", training_pancreas="stage1")
    reference, _, _ = training_cache.cached_training_table(pipeline.Pipeline(label_source="exact"))
    table, _, _ = training_cache.cached_training_table(unfit)
    assert len(calls) == 15 and len(table.y) > len(reference.y)  # a larger region of interest
    training_cache.cached_training_table(unfit, motion="hard")  # another table, the same masks
    assert len(calls) == 15 and len(list(folder.glob("*.npz"))) == 4


def test_the_training_masks_registration_options_are_part_of_every_key_built_on_them(
        monkeypatch):
    """Masks found with another registration are other masks: the stage-1 masks' key and the
    key of every table trained on them change with the options; a table on reference masks
    keeps its key."""
    on_stage1 = pipeline.Pipeline(training_pancreas="stage1")
    on_reference = pipeline.Pipeline()
    before = [training_cache.table_key(training_cache.training_key(p, "typical", True))
              for p in (on_stage1, on_reference)]
    assert stage1.training_mask_settings("atlas")["training registration"] == \
        stage1.TRAINING_MASK_OPTIONS["atlas"]
    monkeypatch.setitem(stage1.TRAINING_MASK_OPTIONS, "atlas", {"shrink": (2, 1)})
    after = [training_cache.table_key(training_cache.training_key(p, "typical", True))
             for p in (on_stage1, on_reference)]
    assert after[0] != before[0] and after[1] == before[1]
    assert "training registration" not in stage1.training_mask_settings("classifier")


def test_a_stored_table_is_not_read_once_the_simulator_changes(toy_cache, monkeypatch):
    """Its key hashes the simulator's version: a new version builds (and stores) anew."""
    folder, built = toy_cache
    exact = pipeline.Pipeline(label_source="exact")
    training_cache.cached_training_table(exact)
    training_cache.cached_training_table(exact)
    assert len(built.tables) == 1  # the second call read the stored table
    monkeypatch.setattr(training_cache, "CASE_VERSION", training_cache.CASE_VERSION + "-new")
    training_cache.cached_training_table(exact)
    assert len(built.tables) == 2 and kinds(folder) == ["table", "table"]


def test_training_labels_are_read_without_features_and_built_once_when_missing(toy_cache,
                                                                               monkeypatch):
    folder, built = toy_cache
    unfit = pipeline.Pipeline(label_source="exact")
    labels = training_cache.cached_training_labels(unfit)  # not cached yet: the table is built
    assert len(built.tables) == 1 and set(labels) == set(training_cache.LABEL_FIELDS)
    table = training_cache.cached_training_table(unfit)[0]
    np.testing.assert_array_equal(labels["y"], table.y)
    np.testing.assert_array_equal(labels["coords"], table.coords)
    monkeypatch.setattr(training_cache, "voxel_features_of", None)  # features: never needed
    again = training_cache.cached_training_labels(unfit)
    assert len(built.tables) == 1  # read back from the one stored file
    for name in training_cache.LABEL_FIELDS:
        np.testing.assert_array_equal(again[name], labels[name])
