"""What stages 2 and 3 check in their inputs (helpers.pipeline.stage_inputs.check_inputs, with
helpers.checks), through every stage's entry point: bad scans and masks are refused before any
work, in the words of the caller's arguments, and the inputs are left unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import (  # noqa: F401 (small_voxel_model: an autouse fixture)
    arr,
    nan_slice,
    raw_values,
    small_voxel_model,
    toy_case,
    unchanged,
)

from helpers import checks, pipeline
from helpers.pipeline import grid, stage2, stage3, stage_inputs


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


def test_the_gland_reference_is_the_median_inside_the_mask():
    hu = np.array([[0.0, 10.0, 20.0, 90.0, 1000.0]])
    gland = np.array([[1, 1, 1, 1, 0]])
    assert stage_inputs.gland_reference(hu, gland) == 15.0  # the outside voxel is left out
    hu[0, 3] = 500.0  # a bright lesion in a minority of the gland: the median barely moves
    assert stage_inputs.gland_reference(hu, gland) == 15.0
    with pytest.raises(pipeline.EmptyPancreasError, match="pancreas mask is empty"):
        stage_inputs.gland_reference(hu, np.zeros_like(gland))
