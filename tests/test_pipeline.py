"""The chained pipeline (helpers.pipeline: Pipeline, detect_lesion, classify_subtype) and the
safety of its training data's cache (helpers.pipeline.training). Toy scans and small models keep
it fast."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import (  # noqa: F401 (small_voxel_model: an autouse fixture)
    nan_slice,
    raw_values,
    small_voxel_model,
    toy_case,
    toy_cohort,
    unchanged,
)

from helpers import checks, pipeline
from helpers.pipeline import (
    chain,
    default,
    end_to_end,
    evaluation,
    grid,
    stage2,
    stage3,
    training_cache,
    warmup,
)
from helpers.simulate import SUBTYPES, named_cohort


def arr(image):
    return sitk.GetArrayFromImage(image)


def same_grid(a, b):
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin())
            and np.allclose(a.GetDirection(), b.GetDirection()))


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

    monkeypatch.setattr(chain, "segment_pancreas", stage_1)
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
    with pytest.raises(pipeline.GridMismatchError, match="pancreas mask is not on the scan's"):
        toy_pipeline.predict(case.plain, shifted)
    with pytest.raises(pipeline.GridMismatchError, match="not on the scan's grid: size"):
        pipeline.detect_lesion(case.plain, case.pancreas_plain[:, :, :10],
                               detector=toy_pipeline.detector)


def test_empty_pancreas_says_no_detection_is_possible(toy_pipeline):
    case = toy_case(56)
    empty = sitk.Image(case.pancreas_plain) * 0
    with pytest.raises(stage2.EmptyPancreasError, match="no gland to search"):
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


def test_measure_refuses_a_lesion_on_a_coarser_grid(toy_pdac):
    coarse = sitk.Resample(toy_pdac.lesion_plain, [n // 2 for n in toy_pdac.lesion_plain.GetSize()],
                           sitk.Transform(), sitk.sitkNearestNeighbor,
                           toy_pdac.lesion_plain.GetOrigin(), [6.0] * 3,
                           toy_pdac.lesion_plain.GetDirection())
    same = unchanged(toy_pdac.pancreas_plain, coarse)
    with pytest.raises(pipeline.GridMismatchError) as caught:
        pipeline.measure(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain, coarse)
    message = str(caught.value)
    assert "lesion is not on the reference's grid: size (18, 15, 8) versus (36, 30, 16)" \
        in message  # whole voxel counts, not (18.0, ...)
    assert "resample" in message and same()


def test_measure_refuses_a_lesion_shifted_6_mm_with_the_same_size(toy_pdac):
    shifted = sitk.Image(toy_pdac.lesion_plain)
    shifted.SetOrigin(tuple(np.add(shifted.GetOrigin(), (6.0, 0.0, 0.0))))
    with pytest.raises(pipeline.GridMismatchError, match=r"lesion is not on the reference's "
                                                         r"grid: origin \(16\.0"):
        pipeline.measure(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain, shifted)
    row = pipeline.measure(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain, toy_pdac.lesion_plain)
    assert row["lesion_in_mask_pct"] == 100.0 and row["dice"] == 1.0  # the good input


def test_measure_of_an_empty_mask_against_an_empty_reference(toy_pdac):
    empty = sitk.Image(toy_pdac.pancreas_plain) * 0
    with pytest.raises(pipeline.EmptyMaskError, match="reference is empty.*undefined"):
        pipeline.measure(empty, empty)
    row = pipeline.measure(empty, toy_pdac.pancreas_plain)  # an empty result is a miss
    assert row["dice"] == 0.0 and np.isnan(row["hd95_mm"])


def test_measure_refuses_label_maps_and_probability_maps(toy_pdac):
    labels = toy_pdac.pancreas_plain + toy_pdac.lesion_plain  # 0, 1, 2: two structures
    with pytest.raises(checks.InputError, match="mask holds 2 different labels"):
        pipeline.measure(labels, toy_pdac.pancreas_plain)
    soft = sitk.Cast(toy_pdac.pancreas_plain, sitk.sitkFloat32) * 0.7
    with pytest.raises(checks.InputError, match="reference has fractional values"):
        pipeline.measure(toy_pdac.pancreas_plain, soft)


def test_a_nan_slice_is_refused_with_and_without_a_mask(toy_pipeline, toy_pdac):
    broken = nan_slice(toy_pdac.plain)
    same = unchanged(broken, toy_pdac.pancreas_plain)
    calls = [lambda: toy_pipeline.predict(broken, toy_pdac.pancreas_plain),
             lambda: pipeline.detect_lesion(broken, toy_pdac.pancreas_plain,
                                            detector=toy_pipeline.detector),
             lambda: pipeline.classify_subtype(broken, toy_pdac.lesion_plain,
                                               toy_pipeline.classifier, toy_pdac.pancreas_plain),
             lambda: pipeline.segment_pancreas(broken)]
    for call in calls:
        with pytest.raises(pipeline.NotCTError) as caught:
            call()
        message = str(caught.value)
        assert "scan holds 1080 NaN or infinite voxel(s)" in message  # 30 x 36 voxels
        assert "slice 8" in message and "nan_to_num" in message
        assert "fixed" not in message  # not an internal argument's name
    assert same()


def test_patient_row_refuses_a_truth_lesion_on_another_grid(toy_pipeline, toy_pdac):
    result = toy_pipeline.predict(toy_pdac.plain, toy_pdac.pancreas_plain)
    moved = sitk.Image(toy_pdac.lesion_plain)
    moved.SetOrigin(tuple(np.add(moved.GetOrigin(), (6.0, 0.0, 0.0))))  # same size: was silent
    with pytest.raises(pipeline.GridMismatchError,
                       match="truth_lesion is not on the result's lesion mask's grid: origin"):
        evaluation.patient_row("p", result, moved, "PDAC")
    assert evaluation.patient_row("p", result, toy_pdac.lesion_plain, "PDAC")["truth"] == "PDAC"


def test_a_pancreas_mask_too_small_to_hold_a_gland_is_refused_by_every_stage(toy_pipeline):
    """Issue 33: an 8 x 8 x 8 scan with a 2 x 2 x 2 voxel mask (0.2 mL) was scored 0.555."""
    array = np.full((8, 8, 8), -1000.0, np.float32)
    array[:, 2:, :] = 40.0 + np.random.default_rng(0).normal(0, 8, (8, 6, 8))
    scan = sitk.GetImageFromArray(array)
    scan.SetSpacing((3.0, 3.0, 3.0))
    tiny = np.zeros((8, 8, 8), np.uint8)
    tiny[3:5, 3:5, 3:5] = 1
    mask = sitk.GetImageFromArray(tiny)
    mask.CopyInformation(scan)
    calls = [lambda: toy_pipeline.predict(scan, mask),
             lambda: pipeline.detect_lesion(scan, mask, detector=toy_pipeline.detector),
             lambda: pipeline.classify_subtype(scan, mask, toy_pipeline.classifier,
                                               pancreas_mask=mask)]
    for call in calls:
        with pytest.raises(pipeline.GlandTooSmallError) as caught:
            call()
        assert str(caught.value).startswith(
            "the pancreas mask marks 0.2 mL (8 voxels of 3.0 x 3.0 x 3.0 mm) on a scan "
            "covering 24 mm head-to-foot: too small to hold a pancreas. A pancreas mask must "
            f"mark at least {checks.PLAUSIBLE_ML[0]:g} mL on a scan of at least "
            f"{checks.MIN_COVERAGE_MM:.0f} mm head-to-foot")
        assert "segment_pancreas(scan)" in str(caught.value)
    # The rules are stage 1's own, stated once.
    from helpers.pipeline import stage1
    assert stage1.PLAUSIBLE_ML is checks.PLAUSIBLE_ML
    assert stage1.MIN_COVERAGE_MM == checks.MIN_COVERAGE_MM


def test_a_2d_image_is_refused_before_any_simpleitk_error(toy_pipeline, toy_pdac):
    flat, mask = toy_pdac.plain[:, :, 8], toy_pdac.pancreas_plain[:, :, 8]
    for call in (lambda: toy_pipeline.predict(flat, mask),
                 lambda: pipeline.detect_lesion(flat, mask, detector=toy_pipeline.detector),
                 lambda: pipeline.classify_subtype(flat, mask, toy_pipeline.classifier, mask)):
        with pytest.raises(pipeline.NotCTError, match=r"must be a 3D scan.*size \(36, 30\)"):
            call()


def test_scans_that_are_not_a_ct_image_are_refused_in_the_words_of_the_scan(toy_pipeline,
                                                                           toy_pdac):
    vector = sitk.Compose(toy_pdac.plain, toy_pdac.plain)
    tiny = sitk.Image(toy_pdac.plain)
    tiny.SetSpacing((0.003, 0.003, 0.003))  # m taken for mm
    for scan, words in ((arr(toy_pdac.plain), "scan must be a SimpleITK image, got ndarray"),
                        (vector, "scan has several values per voxel"),
                        (tiny, r"scan's voxels are \(0.003, 0.003, 0.003\) mm .*far smaller")):
        with pytest.raises(pipeline.NotCTError, match=words):
            toy_pipeline.predict(scan, toy_pdac.pancreas_plain)
        with pytest.raises(pipeline.NotCTError, match=words):
            pipeline.detect_lesion(scan, toy_pdac.pancreas_plain, detector=toy_pipeline.detector)


def test_masks_with_negative_labels_or_several_values_per_voxel(toy_pipeline, toy_pdac):
    negative = sitk.Cast(toy_pdac.pancreas_plain, sitk.sitkInt16) * -1
    with pytest.raises(pipeline.InputError, match="pancreas mask has negative labels"):
        pipeline.detect_lesion(toy_pdac.plain, negative, detector=toy_pipeline.detector)
    vector = sitk.Compose(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain)
    with pytest.raises(pipeline.InputError, match="pancreas mask has 2 values per voxel"):
        toy_pipeline.predict(toy_pdac.plain, vector)


def huge_voxels(spacing=60.0):
    """A scan (and mask) of the real CT's size, 122 x 101 x 30, with 60 mm voxels: 11 GB on
    the 3 mm working grid. Nothing in it matters: it must be refused before any work."""
    scan = sitk.Image([122, 101, 30], sitk.sitkFloat32)
    scan.SetSpacing((spacing,) * 3)
    mask = sitk.Image([122, 101, 30], sitk.sitkUInt8)
    mask.CopyInformation(scan)
    return scan, mask


def test_60_mm_voxels_are_refused_before_anything_is_allocated(toy_pipeline, monkeypatch):
    scan, mask = huge_voxels()

    def no_resampling(*args, **kwargs):
        raise AssertionError("resampled before the memory check")

    monkeypatch.setattr(sitk, "Resample", no_resampling)
    monkeypatch.setattr(sitk, "DICOMOrient", no_resampling)
    for call in (lambda: toy_pipeline.predict(scan, mask),
                 lambda: pipeline.detect_lesion(scan, mask, detector=toy_pipeline.detector),
                 lambda: pipeline.classify_subtype(scan, mask, toy_pipeline.classifier, mask),
                 lambda: pipeline.segment_pancreas(scan),
                 lambda: grid.to_working_grid(scan)):
        with pytest.raises(pipeline.ScanTooLargeError) as caught:
            call()
        message = str(caught.value)
        assert "(122, 101, 30) voxels of (60.0, 60.0, 60.0) mm" in message
        assert "11.0 GB" in message and "nothing was allocated" in message
        assert "SetSpacing" in message and "crop" not in message.lower()


@pytest.mark.parametrize("below", [None, -1050.0], ids=["minimum 0", "minimum negative"])
def test_raw_stored_values_are_refused_by_every_stage(toy_pipeline, toy_pdac, below):
    raw = raw_values(toy_pdac.plain, below)
    assert (arr(raw).min() < 0) == (below is not None)
    same = unchanged(raw, toy_pdac.pancreas_plain, toy_pdac.lesion_plain)
    calls = [lambda: toy_pipeline.predict(raw, toy_pdac.pancreas_plain),
             lambda: toy_pipeline.predict(raw),
             lambda: pipeline.detect_lesion(raw, toy_pdac.pancreas_plain,
                                            detector=toy_pipeline.detector),
             lambda: pipeline.classify_subtype(raw, toy_pdac.lesion_plain, toy_pipeline.classifier,
                                               toy_pdac.pancreas_plain),
             lambda: pipeline.segment_pancreas(raw)]
    for call in calls:
        with pytest.raises(pipeline.NotCTError) as caught:
            call()
        message = str(caught.value)
        assert "raw stored values" in message and "HU + 1024" in message
        assert "no air near -1000 HU" in message and "RescaleSlope" in message
    assert same()


def test_the_good_scan_still_gives_the_same_answer(toy_pipeline, toy_pdac):
    first = toy_pipeline.predict(toy_pdac.plain, toy_pdac.pancreas_plain)
    score, lesion = pipeline.detect_lesion(toy_pdac.plain, toy_pdac.pancreas_plain,
                                           detector=toy_pipeline.detector)
    assert score == first.score
    np.testing.assert_array_equal(arr(lesion), arr(first.lesion))


def test_masks_that_are_not_binary_masks_of_this_scan(toy_pipeline, toy_pdac):
    with pytest.raises(pipeline.GridMismatchError, match="pancreas mask must be a SimpleITK"):
        toy_pipeline.predict(toy_pdac.plain, arr(toy_pdac.pancreas_plain))
    labels = toy_pdac.pancreas_plain + toy_pdac.lesion_plain
    with pytest.raises(pipeline.InputError, match="pancreas mask holds 2 different labels"):
        pipeline.detect_lesion(toy_pdac.plain, labels, detector=toy_pipeline.detector)
    soft = sitk.Cast(toy_pdac.lesion_plain, sitk.sitkFloat32) * 0.4
    with pytest.raises(pipeline.InputError, match="lesion mask has fractional values"):
        pipeline.classify_subtype(toy_pdac.plain, soft, toy_pipeline.classifier,
                                  toy_pdac.pancreas_plain)
    empty = sitk.Image(toy_pdac.pancreas_plain) * 0
    with pytest.raises(pipeline.EmptyPancreasError, match="pancreas mask is empty.*no gland"):
        pipeline.classify_subtype(toy_pdac.plain, toy_pdac.lesion_plain, toy_pipeline.classifier,
                                  empty)
    with pytest.raises(pipeline.EmptyLesionError, match="lesion mask is empty"):
        pipeline.classify_subtype(toy_pdac.plain, empty, toy_pipeline.classifier,
                                  toy_pdac.pancreas_plain)


# ------------------------------------------------------------------------- the cache
@pytest.fixture
def toy_cache(tmp_path, monkeypatch):
    """The cache in a temporary folder; toy cohorts stand in for the training cohort (9
    patients, 6 with a lesion) and for stage 3's extra lesion-only cohort (6 lesions). Returns
    the folder and a record of which cohort was built, once per build."""
    monkeypatch.setattr(training_cache, "cache_folder", lambda: tmp_path)
    built = SimpleNamespace(tables=[], extras=[])

    def cohort(name, n=None, *, motion="typical", progress=False, n_jobs=1, cache=True):
        if name == training_cache.TRAINING:
            built.tables.append(motion)
            return toy_cohort(9)
        assert name == training_cache.EXTRA_LESIONS
        built.extras.append(motion)
        return [c for c in toy_cohort(9, start=100) if c.subtype]

    monkeypatch.setattr(training_cache, "named_cohort", cohort)
    training_cache._unkept_cohort.cache_clear()  # hard-motion patients are kept per process
    yield tmp_path, built
    training_cache._unkept_cohort.cache_clear()


def stored_names(path):
    with np.load(path, allow_pickle=False) as stored:  # no object arrays in it
        return set(stored.files)


def kinds(folder) -> list[str]:
    """What each cached file in ``folder`` holds, sorted: "table" (a training table), "maps"
    (out-of-fold maps), "rows" (stage 3's rows in stage 2's outlines), "masks" (stage 1's)."""
    found = []
    for path in folder.glob("*.npz"):
        names = stored_names(path)
        found.append("table" if "y" in names else "maps" if "values" in names else
                     "masks" if "masks" in names else "rows")
    return sorted(found)


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

    def stage_1(scan, method="atlas"):
        calls.append(method)
        return sitk.Cast(scan > -1000, sitk.sitkUInt8)  # a stand-in: not the reference mask

    monkeypatch.setattr(chain, "segment_pancreas", stage_1)
    unfit = pipeline.Pipeline(label_source="exact", training_pancreas="stage1")
    reference, _, _ = training_cache.cached_training_table(pipeline.Pipeline(label_source="exact"))
    table, _, _ = training_cache.cached_training_table(unfit)
    assert len(calls) == 15 and len(table.y) > len(reference.y)  # a larger region of interest
    training_cache.cached_training_table(unfit, motion="hard")  # another table, the same masks
    assert len(calls) == 15 and len(list(folder.glob("*.npz"))) == 4


def test_warm_caches_builds_every_table_and_reports(toy_cache, monkeypatch):
    folder, built = toy_cache
    monkeypatch.setattr(warmup, "named_cohort", lambda name, n=None, **options: [])
    monkeypatch.setattr(warmup.foreign, "foreign_cohort", lambda n=None, progress=False: [])
    monkeypatch.setattr(warmup.unet, "available", lambda: False)  # the network: its own test
    monkeypatch.setattr(warmup.reader_study, "reading_cases", lambda progress=False: [])
    read = []
    monkeypatch.setattr(warmup.reader_model, "model_reading",
                        lambda cases, progress=False: read.append(cases))
    monkeypatch.setattr(chain, "segment_pancreas",
                        lambda scan, method="atlas": sitk.Cast(scan > -1000, sitk.sitkUInt8))
    studies = []
    monkeypatch.setattr(warmup.study, "method_comparison",
                        lambda **settings: studies.append(settings))
    lines = []
    done = warmup.warm_caches(report=lines.append)
    found = kinds(folder)
    # every notebook pipeline: its table and its out-of-fold maps; the default pipeline also
    # its stage 1 masks and its rows in stage 2's outlines; and the two hard-motion tables
    pipelines = len(warmup.NOTEBOOK_PIPELINES)
    assert found.count("table") == pipelines + len(warmup.HARD_MOTION_LABELS)
    assert found.count("maps") == pipelines
    assert found.count("masks") == found.count("rows") == 1
    assert built.extras.count("hard") == 0  # the hard-motion labels: the training cohort only
    assert studies == [{"progress": False}]  # the study's own cohort
    assert read == [[]]  # notebook 07's reader study: the model reads its patients once
    assert len(done) == (2 + 2 + 3 + pipelines + 1
                         + len(warmup.HARD_MOTION_LABELS))
    assert lines[-1].startswith("done in")
    assert all(seconds >= 0 for _, seconds in done)


# ------------------------------------------------------------------------- stage 3's extra lesions
def test_the_warm_up_trains_the_network_only_where_the_extra_is_installed(monkeypatch):
    named = {}
    for installed in (False, True):
        monkeypatch.setattr(warmup.unet, "available", lambda installed=installed: installed)
        named[installed] = [name for name, _ in warmup.warmup_steps(progress=False)]
    network = [name for name in named[True] if "network" in name]
    assert len(network) == 1 and "notebook 08" in network[0]
    assert named[False] == [name for name in named[True] if name not in network]


def test_stages_2_and_3_learn_from_the_extra_lesions(toy_cache):
    _, built = toy_cache
    own = default.make_pipeline(label_source="exact", extra_lesions=False)
    both = default.make_pipeline(label_source="exact")
    own_lesions = sum(c.subtype is not None for c in toy_cohort(9))
    assert sum(own.classifier.training_counts.values()) == own_lesions == 6
    assert sum(both.classifier.training_counts.values()) == own_lesions + 6
    assert built.extras == ["typical"]  # only the pipeline that wanted them built them
    case = toy_case(61, "PDAC")
    assert not np.array_equal(arr(both.predict(case.plain, case.pancreas_plain).probability),
                              arr(own.predict(case.plain, case.pancreas_plain).probability))


def test_stage3_can_also_learn_from_stage2s_outlines(toy_cache):
    """With stage3_outlines="labels+stage2", stage 3 gets one more row per training lesion
    that stage 2 outlines in place (out-of-fold); stage 2 itself is unchanged."""
    folder, built = toy_cache
    labels = default.make_pipeline(label_source="exact")
    both = default.make_pipeline(label_source="exact", stage3_outlines="labels+stage2")
    assert kinds(folder) == ["maps", "rows", "table"]
    extra = sum(both.classifier.training_counts.values()) - sum(
        labels.classifier.training_counts.values())
    assert 0 < extra <= 12  # at most one per lesion: 6 training and 6 extra lesions
    assert both.detector.operating_threshold == labels.detector.operating_threshold
    again = default.make_pipeline(label_source="exact", stage3_outlines="labels+stage2")
    assert len(built.tables) == 2  # the table once, the outline rows once: then the cache
    assert again.classifier.training_counts == both.classifier.training_counts
    # the same kind of rows when fitted straight from the patients
    direct = pipeline.Pipeline(label_source="exact", stage3_outlines="labels+stage2")
    direct.fit(toy_cohort(9))
    assert sum(direct.classifier.training_counts.values()) >= 6


def test_outline_rows_come_only_from_outlines_that_touch_the_lesion():
    fitted = pipeline.Pipeline(label_source="exact").fit(toy_cohort(9))
    items = [stage2.labels.case_arrays(case, "exact") for case in toy_cohort(9, start=100)]
    subtypes = [c.subtype or "" for c in toy_cohort(9, start=100)]
    threshold = fitted.detector.voxel_threshold
    maps = [fitted.detector.probability_map(hu, gland) if subtype else None
            for (hu, gland, _), subtype in zip(items, subtypes, strict=True)]
    x, y = stage3.rows.detected_lesion_rows(items, subtypes, maps, threshold)
    assert x.shape == (len(y), len(stage3.lesion_feature_names())) and "" not in set(y)
    assert 0 < len(y) <= sum(map(bool, subtypes))
    # a label moved away from what stage 2 outlined, or no label at all: no row
    moved = [(hu, gland, np.roll(label, 12, axis=2)) for hu, gland, label in items]
    empty = [(hu, gland, np.zeros_like(label)) for hu, gland, label in items]
    for labels in (moved, empty):
        assert len(stage3.rows.detected_lesion_rows(labels, subtypes, maps, threshold)[1]) == 0


def test_fitting_stage_by_stage_is_fitting_the_chain():
    """fit_stage2 then fit_stage3 on the data fit would build: the same models, so the same
    prediction (the caches of make_pipeline fit this way, with their data passed in)."""
    with pytest.raises(ValueError, match="stage3_outlines"):
        pipeline.Pipeline(stage3_outlines="stage 2 only")
    whole = pipeline.Pipeline(label_source="exact").fit(toy_cohort(9))
    staged = pipeline.Pipeline(label_source="exact")
    table, x, y = staged.training_table(toy_cohort(9))
    staged.fit_stage2(table).fit_stage3(x, y)
    case = toy_case(61, "PDAC")
    first, second = (m.predict(case.plain, case.pancreas_plain) for m in (whole, staged))
    assert first.score == second.score and first.subtype_probs == second.subtype_probs


# ------------------------------------------------------- notebook 07's end-to-end summary
def test_end_to_end_rows_count_hits_and_false_alarms_and_name_the_missing_extra(
        toy_pipeline, monkeypatch):
    cases = [toy_case(70 + i, kind) for i, kind in enumerate((None, "cyst", "PDAC", None))]
    predictions = {c.seed: toy_pipeline.predict(c.plain, c.pancreas_plain) for c in cases}
    monkeypatch.setattr(end_to_end, "default_pipeline", lambda seed=0, detector="boosted": (
        toy_pipeline))
    monkeypatch.setattr(end_to_end.unet, "available", lambda: False)
    lesions = [c for c in cases if c.subtype]
    hits = sum(bool((arr(predictions[c.seed].lesion) & arr(c.lesion_plain)).any())
               for c in lesions)
    alarms = sum(predictions[c.seed].found for c in cases if not c.subtype)
    # the boosted row reuses the predictions given: predicting again would fail here
    monkeypatch.setattr(toy_pipeline, "predict", lambda *a, **k: pytest.fail("predicted again"))
    boosted, network = pipeline.end_to_end_rows(cases, boosted_results=predictions)
    assert boosted["lesions found in place"] == f"{hits} of {len(lesions)}"
    assert boosted["false alarms"] == f"{alarms} of 2"
    assert hits >= 1 and 0 < boosted["median lesion Dice (found)"] <= 1
    assert network["stage 2"].startswith("neural network")
    assert "python3 run.py lab --deep" in network["lesions found in place"]


def test_a_healthy_scan_is_called_healthy_at_3_1_5_and_0_75_mm():
    """The same held-out healthy patient given on finer in-plane grids (same anatomy,
    resampled): the call does not change (benchmarks/resolution.py measures a cohort)."""
    from helpers.pipeline import grid

    case = next(c for c in named_cohort("held-out", 8) if c.subtype is None)
    model = default.default_pipeline()
    calls = [model.predict(case.plain if mm == 3.0 else grid.resample_in_plane(case.plain, mm))
             for mm in (3.0, 1.5, 0.75)]
    assert [c.found for c in calls] == [False, False, False], [c.score for c in calls]
