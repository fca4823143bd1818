"""The chained pipeline (helpers.pipeline: Pipeline, detect_lesion, classify_subtype) and the
safety of its cache (helpers.pipeline_cache). Toy scans and small models keep it fast."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import small_voxel_model, toy_case, toy_cohort  # noqa: F401 (autouse fixture)

from helpers import features, pipeline, pipeline_cache, stage3
from helpers.simulate import SUBTYPES


def arr(image):
    return sitk.GetArrayFromImage(image)


def same_grid(a, b):
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin())
            and np.allclose(a.GetDirection(), b.GetDirection()))


@pytest.fixture(scope="module")
def toy_pipeline():
    return pipeline.Pipeline(label_source="exact").fit(toy_cohort(12))


# ------------------------------------------------------------------------- the contract
def test_predict_gives_a_result_on_the_input_grid(toy_pipeline):
    case = toy_case(50, "cyst")
    result = toy_pipeline.predict(case.plain, case.pancreas_plain)
    assert isinstance(result, pipeline.PipelineResult)
    for mask in (result.pancreas, result.lesion):
        assert same_grid(mask, case.plain) and mask.GetPixelID() == sitk.sitkUInt8
    assert 0 <= result.score <= 1 and result.found
    assert (arr(result.lesion) & arr(case.lesion_plain)).any()
    assert list(result.subtype_probs) == list(SUBTYPES)
    assert sum(result.subtype_probs.values()) == pytest.approx(1)
    assert result.subtype_probs["cyst"] == max(result.subtype_probs.values())


def test_predict_without_a_mask_runs_stage_1(toy_pipeline, monkeypatch):
    case = toy_case(57, "cyst")
    calls = []

    def stage_1(scan, method="atlas"):
        calls.append(method)
        return case.pancreas_plain

    monkeypatch.setattr(pipeline, "segment_pancreas", stage_1)
    result = toy_pipeline.predict(case.plain)
    assert calls == ["atlas"] and result.found
    np.testing.assert_array_equal(arr(result.pancreas), arr(case.pancreas_plain))


def test_healthy_scan_gives_an_empty_lesion_and_no_subtypes(toy_pipeline):
    case = toy_case(51)
    result = toy_pipeline.predict(case.plain, case.pancreas_plain)
    assert not result.found and result.subtype_probs == {} and arr(result.lesion).sum() == 0


def test_same_seed_same_score(toy_pipeline):
    again = pipeline.Pipeline(label_source="exact").fit(toy_cohort(12))
    case = toy_case(52, "PDAC")
    assert again.predict(case.plain, case.pancreas_plain).score == \
        toy_pipeline.predict(case.plain, case.pancreas_plain).score


def test_detect_lesion_and_classify_subtype_with_explicit_models(toy_pipeline):
    case = toy_case(53, "PDAC")
    score, lesion = pipeline.detect_lesion(case.plain, case.pancreas_plain,
                                           detector=toy_pipeline.detector)
    assert 0 <= score <= 1 and same_grid(lesion, case.plain) and arr(lesion).any()
    probs = pipeline.classify_subtype(case.plain, lesion, toy_pipeline.classifier,
                                      pancreas_mask=case.pancreas_plain)
    assert max(probs, key=probs.get) == "PDAC"


# ------------------------------------------------------------------------- bad input
def test_predict_before_fit_says_what_to_do():
    case = toy_case(54)
    with pytest.raises(pipeline.NotFittedError, match="fit"):
        pipeline.Pipeline().predict(case.plain, case.pancreas_plain)


def test_mask_on_another_grid_is_refused(toy_pipeline):
    case = toy_case(55, "cyst")
    shifted = sitk.Image(case.pancreas_plain)
    shifted.SetSpacing((2.0, 2.0, 2.0))
    with pytest.raises(pipeline.GridMismatchError, match="another grid"):
        toy_pipeline.predict(case.plain, shifted)
    with pytest.raises(pipeline.GridMismatchError, match="another grid"):
        pipeline.detect_lesion(case.plain, case.pancreas_plain[:, :, :10],
                               detector=toy_pipeline.detector)


def test_empty_pancreas_says_no_detection_is_possible(toy_pipeline):
    case = toy_case(56)
    empty = sitk.Image(case.pancreas_plain) * 0
    with pytest.raises(features.EmptyPancreasError, match="no gland to search"):
        toy_pipeline.predict(case.plain, empty)
    with pytest.raises(stage3.EmptyLesionError):
        pipeline.classify_subtype(case.plain, empty, toy_pipeline.classifier,
                                  pancreas_mask=case.pancreas_plain)


def test_single_class_cohort_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="all 4 training patients are healthy"):
        pipeline.Pipeline(label_source="exact").fit([toy_case(i) for i in range(4)])
    with pytest.raises(ValueError, match="label_source"):
        pipeline.Pipeline(label_source="drawn")
    with pytest.raises(ValueError, match="plain, contrast"):
        pipeline.Pipeline(image="mri")


# ------------------------------------------------------------------------- the cache
@pytest.fixture
def toy_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline_cache, "cache_folder", lambda: tmp_path)
    built = []

    def cohort(n=None, seed=None, progress=False, motion="typical"):
        built.append(n)
        return toy_cohort(9)

    monkeypatch.setattr(pipeline_cache, "training_cohort", cohort)
    return tmp_path, built


def test_cache_holds_arrays_only_and_refits_identically(toy_cache):
    folder, built = toy_cache
    first = pipeline_cache.make_pipeline(label_source="exact")
    files = list(folder.glob("*.npz"))
    assert len(files) == 1 and len(built) == 1
    with np.load(files[0], allow_pickle=False) as stored:  # no object arrays in it
        assert {"x", "y", "lesion_x", "key"} <= set(stored.files)
    second = pipeline_cache.make_pipeline(label_source="exact")
    assert len(built) == 1  # read from the cache, not rebuilt
    case = toy_case(60, "cyst")
    assert first.predict(case.plain, case.pancreas_plain).score == \
        second.predict(case.plain, case.pancreas_plain).score


def test_corrupted_cache_is_rebuilt_with_a_warning(toy_cache):
    folder, built = toy_cache
    pipeline_cache.make_pipeline(label_source="exact")
    path = next(folder.glob("*.npz"))
    path.write_bytes(b"not a zip file at all")
    with pytest.warns(UserWarning, match="rebuilding"):
        pipeline_cache.make_pipeline(label_source="exact")
    assert len(built) == 2
    with np.load(path, allow_pickle=False) as stored:
        assert stored["x"].ndim == 2  # a good file again


def test_pickled_cache_is_never_unpickled(toy_cache, tmp_path):
    folder, _ = toy_cache
    path = folder / "evil.npz"
    np.savez(path, key=np.array([{"a": 1}], dtype=object))
    with pytest.warns(UserWarning, match="ignoring"):
        assert pipeline_cache.load_table(path, "anything") is None


def test_motion_gets_its_own_table_and_bad_motion_is_refused(toy_cache):
    folder, built = toy_cache
    pipeline_cache.make_pipeline(label_source="exact")
    pipeline_cache.make_pipeline(label_source="exact", motion="hard")
    assert len(list(folder.glob("*.npz"))) == 2 and len(built) == 2
    with pytest.raises(ValueError, match="typical, hard"):
        pipeline_cache.make_pipeline(label_source="exact", motion="wild")


def test_typical_motion_keeps_the_existing_cache_key(toy_cache, monkeypatch):
    """Adding the motion setting must not invalidate the tables classrooms already hold."""
    keys = []
    monkeypatch.setattr(pipeline_cache, "table_key",
                        lambda settings: keys.append(settings) or "k" * 64)
    pipeline_cache.cached_training_table(pipeline.Pipeline(label_source="exact"))
    pipeline_cache.cached_training_table(pipeline.Pipeline(label_source="exact"),
                                         motion="hard")
    assert "motion" not in keys[0]["cohort"] and keys[1]["cohort"]["motion"] == "hard"


def test_warm_caches_builds_every_table_and_reports(toy_cache, monkeypatch):
    folder, _ = toy_cache
    monkeypatch.setattr(pipeline_cache, "held_out_cohort", lambda n=None, progress=False: [])
    monkeypatch.setattr(pipeline.stage1, "cohort", lambda role, n, progress=False: [])
    monkeypatch.setattr(pipeline_cache.stage3, "lesion_cohort", lambda role, progress=False: [])
    lines = []
    done = pipeline_cache.warm_caches(report=lines.append)
    assert len(list(folder.glob("*.npz"))) == len(pipeline_cache.WARM_TABLES)
    cohorts = 1 + len(pipeline_cache.stage3.COHORTS) + len(
        {pipeline_cache.HELD_OUT_COHORT["n"], pipeline_cache.NOTEBOOK_HELD_OUT})
    assert len(done) == len(pipeline_cache.WARM_TABLES) + cohorts
    assert lines[-1].startswith("done in")
    assert all(seconds >= 0 for _, seconds in done)
