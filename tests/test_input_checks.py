"""Issue 20: every public entry checks its input; no silent wrong answer, no bare traceback.

One test (or a parametrised group) per case of the issue, each asserting the exception class,
the key words of its message and that the input (files, hashed; images, compared) is left
unchanged. Toy scans (tests/toy_cases.py) and small synthetic images keep it fast.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import types
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from test_dicom import copy_series, make_series
from toy_cases import small_voxel_model, toy_case, toy_cohort  # noqa: F401 (autouse fixture)

from helpers import cache, checks, data, dicom, metrics, pipeline, registration
from helpers.data import SAMPLES
from helpers.exercises import inputs as exercise_inputs
from helpers.exercises import nb02, nb03, nb04, nb05, nb07
from helpers.pipeline import evaluation, grid
from helpers.pipeline.stage1 import atlas

SMALL = "totalsegmentator_example_seg"
SMALL_FILE = "totalsegmentator_example_seg.nii.gz"
HOUR = 3600.0


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative name -> hex)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def arr(image):
    return sitk.GetArrayFromImage(image)


def like(array, image):
    out = sitk.GetImageFromArray(np.asarray(array))
    out.CopyInformation(image)
    return out


@pytest.fixture(scope="module")
def toy_pipeline():
    return pipeline.Pipeline(label_source="exact").fit(toy_cohort(12))


@pytest.fixture(scope="module")
def case():
    return toy_case(60, "PDAC")


def raw_values(scan: sitk.Image, below: float | None = None) -> sitk.Image:
    """The scan as raw stored values, HU + 1024 (the rescale not applied), with no value
    under -1024 HU (minimum 0); ``below``: write air as this HU instead (scanners write
    values under -1024; the real CT goes down to -1100), so the minimum is negative."""
    hu = np.maximum(arr(scan).astype(np.float32), -1024.0)
    if below is not None:
        hu[hu < -900] = below
    return like(hu + 1024.0, scan)


def unchanged(*images):
    """A check that the images still hold what they held when this was called."""
    before = [arr(image).copy() for image in images]
    return lambda: all(np.array_equal(arr(i), b, equal_nan=True)
                       for i, b in zip(images, before, strict=True))


# ------------------------------------------------------------------------- 1. DICOM: damaged files

def damage_header(path: Path) -> None:
    """Overwrite the 'DICM' marker: pydicom no longer recognises the file as DICOM."""
    raw = bytearray(path.read_bytes())
    raw[128:132] = b"XXXX"
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def real_series() -> Path:
    try:
        return data.fetch("totalsegmentator_example_ct_dicom")
    except data.DataError as exc:
        pytest.skip(f"real DICOM series not available: {exc}")


@pytest.mark.parametrize("where", [0, 10, 19], ids=["first", "middle", "last"])
def test_a_damaged_header_anywhere_in_the_series_is_named(real_series, tmp_path, where):
    files = copy_series(real_series, tmp_path)  # file-name order is position order here
    damage_header(files[where])
    before = digest(tmp_path)
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert files[where].name in message and caught.value.path == files[where]
    assert "header is damaged" in message and "quietly lack a slice" in message
    assert digest(tmp_path) == before


@pytest.mark.parametrize("damage", ["marker", "truncated to 100 bytes"])
def test_a_damaged_file_without_a_dicom_name_is_found_by_its_uid_or_size(tmp_path, damage):
    for path in make_series(tmp_path):
        path.rename(path.with_suffix(""))  # exports often have no suffix: IM0001, ...
    victim = sorted(tmp_path.iterdir())[-1]
    if damage == "marker":
        damage_header(victim)
        reason = "SeriesInstanceUID"
    else:
        victim.write_bytes(victim.read_bytes()[:100])
        reason = None
    before = digest(tmp_path)
    if reason is None:  # 100 bytes: neither DICOM nor the series' size; skipped, but said
        with pytest.warns(dicom.DicomWarning, match=rf"skipped 1 file.*{victim.name}"):
            assert dicom.read_series(tmp_path).GetSize()[2] == 4
    else:
        with pytest.raises(dicom.CorruptFileError, match=rf"{victim.name} holds the series'"):
            dicom.read_series(tmp_path)
    assert digest(tmp_path) == before


def test_a_file_overwritten_with_garbage_is_named_by_its_suffix_and_size(tmp_path):
    for path in make_series(tmp_path):
        path.rename(path.with_suffix(""))  # no suffix, as many exports
    victim = sorted(tmp_path.iterdir())[-1]
    victim.write_bytes(np.random.default_rng(0).bytes(victim.stat().st_size))  # no UID left
    before = digest(tmp_path)
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{victim.name} has the series' files' suffix (none) and about "
                              "their size")
    assert "cannot be read as DICOM" in message and "Copy it again" in message
    assert digest(tmp_path) == before


def test_other_files_in_the_folder_are_skipped_with_a_warning_naming_them(real_series,
                                                                           tmp_path):
    copy_series(real_series, tmp_path)
    (tmp_path / "notes.txt").write_text("scanned on Tuesday")
    before = digest(tmp_path)
    with pytest.warns(dicom.DicomWarning, match=r"skipped 1 file.*notes\.txt \(not DICOM\)"):
        volume = dicom.read_series(tmp_path)
    assert volume.GetSize() == (512, 512, 20) and digest(tmp_path) == before


# ------------------------------------------------------------------------- 2. DICOM: rescale tags

def test_missing_rescale_tags_are_an_error_unless_assume_hu(tmp_path):
    for path in make_series(tmp_path):
        ds = pydicom.dcmread(path)
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.save_as(path)
    before = digest(tmp_path)
    with pytest.raises(dicom.MissingRescaleError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert "RescaleIntercept / RescaleSlope" in message and "Hounsfield" in message
    assert "assume_hu=True" in message and "lowest stored value" in message
    with pytest.warns(dicom.DicomWarning, match="assumed slope 1 and intercept 0"):
        image = dicom.read_series(tmp_path, assume_hu=True)
    assert image.GetSize() == (128, 128, 5)
    assert digest(tmp_path) == before


# ------------------------------------------------------------------------- 3. measure()

def test_measure_refuses_a_lesion_on_a_coarser_grid(case):
    coarse = sitk.Resample(case.lesion_plain, [n // 2 for n in case.lesion_plain.GetSize()],
                           sitk.Transform(), sitk.sitkNearestNeighbor,
                           case.lesion_plain.GetOrigin(), [6.0] * 3,
                           case.lesion_plain.GetDirection())
    same = unchanged(case.pancreas_plain, coarse)
    with pytest.raises(pipeline.GridMismatchError) as caught:
        pipeline.measure(case.pancreas_plain, case.pancreas_plain, coarse)
    message = str(caught.value)
    assert "lesion is not on the reference's grid: size (18, 15, 8) versus (36, 30, 16)" \
        in message  # whole voxel counts, not (18.0, ...)
    assert "resample" in message and same()


def test_measure_refuses_a_lesion_shifted_6_mm_with_the_same_size(case):
    shifted = sitk.Image(case.lesion_plain)
    shifted.SetOrigin(tuple(np.add(shifted.GetOrigin(), (6.0, 0.0, 0.0))))
    with pytest.raises(pipeline.GridMismatchError, match=r"lesion is not on the reference's "
                                                         r"grid: origin \(16\.0"):
        pipeline.measure(case.pancreas_plain, case.pancreas_plain, shifted)
    row = pipeline.measure(case.pancreas_plain, case.pancreas_plain, case.lesion_plain)
    assert row["lesion_in_mask_pct"] == 100.0 and row["dice"] == 1.0  # the good input


def test_measure_of_an_empty_mask_against_an_empty_reference(case):
    empty = sitk.Image(case.pancreas_plain) * 0
    with pytest.raises(pipeline.EmptyMaskError, match="reference is empty.*undefined"):
        pipeline.measure(empty, empty)
    row = pipeline.measure(empty, case.pancreas_plain)  # an empty result is a miss
    assert row["dice"] == 0.0 and np.isnan(row["hd95_mm"])


def test_measure_refuses_label_maps_and_probability_maps(case):
    labels = case.pancreas_plain + case.lesion_plain  # 0, 1, 2: two structures
    with pytest.raises(checks.InputError, match="mask holds 2 different labels"):
        pipeline.measure(labels, case.pancreas_plain)
    soft = sitk.Cast(case.pancreas_plain, sitk.sitkFloat32) * 0.7
    with pytest.raises(checks.InputError, match="reference has fractional values"):
        pipeline.measure(case.pancreas_plain, soft)


# ------------------------------------------------------------------------- 4. stages 2 and 3

def nan_slice(scan: sitk.Image, k: int = 8) -> sitk.Image:
    hu = arr(scan).astype(np.float32)
    hu[k] = np.nan
    return like(hu, scan)


def test_a_nan_slice_is_refused_with_and_without_a_mask(toy_pipeline, case):
    broken = nan_slice(case.plain)
    same = unchanged(broken, case.pancreas_plain)
    calls = [lambda: toy_pipeline.predict(broken, case.pancreas_plain),
             lambda: pipeline.detect_lesion(broken, case.pancreas_plain,
                                            detector=toy_pipeline.detector),
             lambda: pipeline.classify_subtype(broken, case.lesion_plain,
                                               toy_pipeline.classifier, case.pancreas_plain),
             lambda: pipeline.segment_pancreas(broken)]
    for call in calls:
        with pytest.raises(pipeline.NotCTError) as caught:
            call()
        message = str(caught.value)
        assert "scan holds 1080 NaN or infinite voxel(s)" in message  # 30 x 36 voxels
        assert "slice 8" in message and "nan_to_num" in message
        assert "fixed" not in message  # not an internal argument's name
    assert same()


def test_atlas_votes_names_the_image_not_the_registrations_fixed(case):
    broken = nan_slice(case.plain)
    atlases = atlas.atlases_from_cases([toy_case(61)])

    def no_registration(*args, **kwargs):
        raise AssertionError("registered before the image was checked")

    with pytest.raises(pipeline.NotCTError) as caught:
        atlas.atlas_votes(broken, atlases, register=no_registration)
    message = str(caught.value)
    assert message.startswith("the image holds 1080 NaN") and "nan_to_num" in message
    assert "fixed" not in message  # was "fixed contains NaN": register()'s argument
    with pytest.raises(pipeline.InputError, match="no atlases given.*atlases_from_cases"):
        atlas.atlas_votes(case.plain, [])


def test_patient_row_refuses_a_truth_lesion_on_another_grid(toy_pipeline, case):
    result = toy_pipeline.predict(case.plain, case.pancreas_plain)
    moved = sitk.Image(case.lesion_plain)
    moved.SetOrigin(tuple(np.add(moved.GetOrigin(), (6.0, 0.0, 0.0))))  # same size: was silent
    with pytest.raises(pipeline.GridMismatchError,
                       match="truth_lesion is not on the result's lesion mask's grid: origin"):
        evaluation.patient_row("p", result, moved, "PDAC")
    assert evaluation.patient_row("p", result, case.lesion_plain, "PDAC")["truth"] == "PDAC"


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


def test_a_2d_image_is_refused_before_any_simpleitk_error(toy_pipeline, case):
    flat, mask = case.plain[:, :, 8], case.pancreas_plain[:, :, 8]
    for call in (lambda: toy_pipeline.predict(flat, mask),
                 lambda: pipeline.detect_lesion(flat, mask, detector=toy_pipeline.detector),
                 lambda: pipeline.classify_subtype(flat, mask, toy_pipeline.classifier, mask)):
        with pytest.raises(pipeline.NotCTError, match=r"must be a 3D scan.*size \(36, 30\)"):
            call()


def test_scans_that_are_not_a_ct_image_are_refused_in_the_words_of_the_scan(toy_pipeline,
                                                                           case):
    vector = sitk.Compose(case.plain, case.plain)
    tiny = sitk.Image(case.plain)
    tiny.SetSpacing((0.003, 0.003, 0.003))  # m taken for mm
    for scan, words in ((arr(case.plain), "scan must be a SimpleITK image, got ndarray"),
                        (vector, "scan has several values per voxel"),
                        (tiny, r"scan's voxels are \(0.003, 0.003, 0.003\) mm .*far smaller")):
        with pytest.raises(pipeline.NotCTError, match=words):
            toy_pipeline.predict(scan, case.pancreas_plain)
        with pytest.raises(pipeline.NotCTError, match=words):
            pipeline.detect_lesion(scan, case.pancreas_plain, detector=toy_pipeline.detector)


def test_masks_with_negative_labels_or_several_values_per_voxel(toy_pipeline, case):
    negative = sitk.Cast(case.pancreas_plain, sitk.sitkInt16) * -1
    with pytest.raises(pipeline.InputError, match="pancreas mask has negative labels"):
        pipeline.detect_lesion(case.plain, negative, detector=toy_pipeline.detector)
    vector = sitk.Compose(case.pancreas_plain, case.pancreas_plain)
    with pytest.raises(pipeline.InputError, match="pancreas mask has 2 values per voxel"):
        toy_pipeline.predict(case.plain, vector)


def test_a_grid_too_large_for_a_plausible_scan_says_to_crop_it():
    scan = sitk.Image([100, 100, 100], sitk.sitkInt16)  # 1 mm voxels: a real CT's
    with pytest.raises(checks.ScanTooLargeError) as caught:
        checks.check_resample_memory(scan, 0.1, "scan")  # 1000^3 float32 voxels
    message = str(caught.value)
    assert "would need 3.7 GB of memory on the 0.1 mm grid this step builds" in message
    assert "covers (100, 100, 100) mm: crop it" in message and "nothing was allocated" in message
    checks.check_resample_memory(scan, 1.0, "scan")  # its own voxels: 4 MB, allowed


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


def test_segment_pancreas_on_large_voxels_blames_the_spacing_not_the_framing(case):
    big = sitk.Image(case.plain)
    big.SetSpacing((30.0, 30.0, 30.0))  # fits in memory, but no CT has such voxels
    with pytest.raises(pipeline.NotCTError) as caught:
        pipeline.segment_pancreas(big)
    message = str(caught.value)
    assert "voxels are (30.0, 30.0, 30.0) mm" in message and "SetSpacing" in message
    assert "Cropping would not help" in message and "Crop the scan" not in message


@pytest.mark.parametrize("below", [None, -1050.0], ids=["minimum 0", "minimum negative"])
def test_raw_stored_values_are_refused_by_every_stage(toy_pipeline, case, below):
    raw = raw_values(case.plain, below)
    assert (arr(raw).min() < 0) == (below is not None)
    same = unchanged(raw, case.pancreas_plain, case.lesion_plain)
    calls = [lambda: toy_pipeline.predict(raw, case.pancreas_plain),
             lambda: toy_pipeline.predict(raw),
             lambda: pipeline.detect_lesion(raw, case.pancreas_plain,
                                            detector=toy_pipeline.detector),
             lambda: pipeline.classify_subtype(raw, case.lesion_plain, toy_pipeline.classifier,
                                               case.pancreas_plain),
             lambda: pipeline.segment_pancreas(raw)]
    for call in calls:
        with pytest.raises(pipeline.NotCTError) as caught:
            call()
        message = str(caught.value)
        assert "raw stored values" in message and "HU + 1024" in message
        assert "no air near -1000 HU" in message and "RescaleSlope" in message
    assert same()


def test_the_raw_values_hint_fires_with_a_negative_minimum_and_mostly_air():
    stored = np.full((20, 40, 40), -20.0, np.float32)  # air written at -1044 HU, stored -20
    stored[:, 15:25, 15:25] = 1064.0  # a small body of soft tissue (40 HU): 6 % of the voxels
    scan = sitk.GetImageFromArray(stored)
    assert checks.stored_value_peak(stored) is None  # too little body for the peak test
    with pytest.raises(pipeline.NotCTError) as caught:
        checks.check_scan(scan)
    message = str(caught.value)
    assert "values run from -20 to 1064" in message and "nothing is below -500 HU" in message
    assert "raw stored values" in message and "slightly below 0" in message
    assert "RescaleSlope + RescaleIntercept" in message


def test_an_8_bit_display_image_and_an_unknown_method_are_named(case):
    display = sitk.Cast(sitk.RescaleIntensity(case.plain, 0, 255), sitk.sitkUInt8)
    with pytest.raises(pipeline.NotCTError) as caught:
        pipeline.segment_pancreas(display)
    message = str(caught.value)
    assert "values run from 0 to 255 in 8-bit voxels" in message
    assert "display image" in message and "lost the Hounsfield units" in message
    assert "helpers.data.load_ct" in message
    with pytest.raises(pipeline.InputError, match="unknown method 'magic'; choose one of"):
        pipeline.segment_pancreas(case.plain, "magic")


def test_the_real_ct_in_raw_stored_values_is_refused_by_stage_1(ct_sm):
    for below in (None, -1050.0):
        with pytest.raises(pipeline.NotCTError, match="raw stored values"):
            pipeline.segment_pancreas(raw_values(ct_sm, below))


def test_the_good_scan_still_gives_the_same_answer(toy_pipeline, case):
    first = toy_pipeline.predict(case.plain, case.pancreas_plain)
    score, lesion = pipeline.detect_lesion(case.plain, case.pancreas_plain,
                                           detector=toy_pipeline.detector)
    assert score == first.score
    np.testing.assert_array_equal(arr(lesion), arr(first.lesion))


def test_masks_that_are_not_binary_masks_of_this_scan(toy_pipeline, case):
    with pytest.raises(pipeline.GridMismatchError, match="pancreas mask must be a SimpleITK"):
        toy_pipeline.predict(case.plain, arr(case.pancreas_plain))
    labels = case.pancreas_plain + case.lesion_plain
    with pytest.raises(pipeline.InputError, match="pancreas mask holds 2 different labels"):
        pipeline.detect_lesion(case.plain, labels, detector=toy_pipeline.detector)
    soft = sitk.Cast(case.lesion_plain, sitk.sitkFloat32) * 0.4
    with pytest.raises(pipeline.InputError, match="lesion mask has fractional values"):
        pipeline.classify_subtype(case.plain, soft, toy_pipeline.classifier,
                                  case.pancreas_plain)
    empty = sitk.Image(case.pancreas_plain) * 0
    with pytest.raises(pipeline.EmptyPancreasError, match="pancreas mask is empty.*no gland"):
        pipeline.classify_subtype(case.plain, case.lesion_plain, toy_pipeline.classifier,
                                  empty)
    with pytest.raises(pipeline.EmptyLesionError, match="lesion mask is empty"):
        pipeline.classify_subtype(case.plain, empty, toy_pipeline.classifier,
                                  case.pancreas_plain)


# ------------------------------------------------------------------------- 4. register()

@pytest.fixture(scope="module")
def crop(ct_sm):
    return sitk.RegionOfInterest(ct_sm, [64, 56, 30], [20, 35, 0])


def shifted(image, mm=(6.0, 0.0, 0.0), default=-1024.0):
    return sitk.Resample(image, image, sitk.TranslationTransform(3, mm), sitk.sitkLinear,
                         default)


def test_register_refuses_raw_stored_values_and_says_how_to_skip_the_check(crop):
    moving = shifted(crop)
    raw = raw_values(crop)
    same = unchanged(raw, moving)
    for call, word in ((lambda: registration.register(raw, moving, "rigid"), "fixed image"),
                       (lambda: registration.register(crop, shifted(raw, default=0.0),
                                                      "rigid"), "moving image")):
        with pytest.raises(registration.RegistrationNotCTError) as caught:
            call()
        assert isinstance(caught.value, pipeline.NotCTError)
        assert isinstance(caught.value, registration.RegistrationInputError)
        message = str(caught.value)
        assert f"the {word}'s values" in message and "raw stored values" in message
        assert "clamp_hu=None" in message
    assert same()
    # The good pair recovers the 6 mm shift; raw values need clamp_hu=None (no CT window).
    good = registration.register(crop, moving, "rigid")
    assert np.allclose(good.GetParameters()[3:], (-6.0, 0.0, 0.0), atol=0.3)
    skipped = registration.register(raw, shifted(raw, default=0.0), "rigid", clamp_hu=None)
    assert np.allclose(skipped.GetParameters()[3:], (-6.0, 0.0, 0.0), atol=0.3)


def test_register_names_the_argument_the_user_passed(crop):
    with pytest.raises(registration.RegistrationInputError,
                       match=r"^the moving image holds 3584 NaN .*slice 3.*nan_to_num"):
        registration.register(crop, nan_slice(crop, 3))
    bad_mask = sitk.Cast(sitk.Image(crop.GetSize(), sitk.sitkUInt8), sitk.sitkFloat32)
    bad_mask.CopyInformation(crop)
    bad_mask[5, 5, 5] = float("nan")
    with pytest.raises(registration.RegistrationInputError, match="mask holds NaN"):
        registration.warp_mask(bad_mask, sitk.Transform(3, sitk.sitkIdentity), crop)


def test_a_bspline_field_too_large_for_memory_is_refused_first():
    fixed = sitk.Image([2000, 1000, 10], sitk.sitkFloat32)  # 20 M voxels, 2.2 GB of field
    fixed[0, 0, 0] = 1.0
    region = sitk.Image(fixed.GetSize(), sitk.sitkUInt8)
    region.CopyInformation(fixed)
    region[5, 5, 5] = 1
    with pytest.raises(pipeline.ScanTooLargeError, match=r"fixed image \(\(2000, 1000, 10\) "
                                                         r"voxels of \(1\.0, 1\.0, 1\.0\) mm\)"):
        registration.register(fixed, fixed, "bspline", region=region, clamp_hu=None)


# ------------------------------------------------------------------------- metrics

def test_metrics_refuse_nan_and_say_what_differs_between_grids():
    a = np.zeros((4, 4, 4))
    a[1, 1, 1] = np.nan
    with pytest.raises(metrics.MetricInputError, match="NaN"):
        metrics.dice(a, np.ones((4, 4, 4)))
    one = sitk.GetImageFromArray(np.ones((4, 4, 4), np.uint8))
    other = sitk.Image(one)
    other.SetOrigin((0.0, 6.0, 0.0))
    with pytest.raises(checks.GridMismatchError, match=r"different grids: origin"):
        metrics.dice(one, other)
    with pytest.raises(metrics.MetricInputError, match="different grids"):
        metrics.dice(one, other)


def test_metrics_refuse_masks_that_do_not_hold_numbers():
    words = np.full((2, 2), "x")
    with pytest.raises(metrics.MetricInputError, match="must hold numbers.*<U1"):
        metrics.dice(words, np.ones((2, 2)))


def test_the_jacobian_of_a_huge_grid_is_refused_before_the_field_is_built():
    reference = sitk.Image([1000, 1000, 10], sitk.sitkUInt8)  # 10 M voxels: about 2.3 GB
    bspline = sitk.BSplineTransformInitializer(reference, [2, 2, 2])
    with pytest.raises(pipeline.ScanTooLargeError, match="reference.*Jacobian"):
        metrics.folding(bspline, reference)


# ------------------------------------------------------------------------- exercise checkers

def test_check_dice_refuses_masks_of_different_shapes_and_two_empty_masks(capsys):
    truth, moved = nb03.dice_example()
    kept = truth.copy(), moved.copy()
    with pytest.raises(exercise_inputs.ExerciseInputError) as caught:
        nb03.check_dice(0.5, truth, moved[:5])
    message = str(caught.value)
    assert "truth (6, 6), moved (5, 6)" in message and "shapes differ" in message
    assert "arrays of one scan" in message
    empty = np.zeros_like(truth)
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match=r"both empty.*undefined.*dice_example\(\)"):
        nb03.check_dice(0.0, empty, empty)  # was a ZeroDivisionError
    assert isinstance(caught.value, checks.InputError)
    assert np.array_equal(truth, kept[0]) and np.array_equal(moved, kept[1])
    assert nb03.check_dice(2 * 6 / 21, truth, moved)  # the good input still works
    assert capsys.readouterr().out.startswith("Correct!")


def test_check_majority_vote_refuses_an_empty_list_and_masks_of_other_shapes():
    masks = [np.ones((3, 4, 5), bool), np.zeros((3, 4, 5), bool), np.ones((3, 4, 6), bool)]
    with pytest.raises(exercise_inputs.ExerciseInputError) as caught:
        nb04.check_majority_vote(None, masks)
    assert "atlas_masks[2] (3, 4, 6)" in str(caught.value)
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match=r"atlas_masks is empty.*found\.masks"):
        nb04.check_majority_vote(None, [])
    assert nb04.check_majority_vote(np.ones((3, 4, 5), bool), masks[:2] + masks[:1])


def test_check_threshold_refuses_arrays_of_another_grid_and_an_empty_reference(case):
    hu = arr(case.plain)
    probability = np.zeros(hu.shape, np.float32)
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match=rf"probability \(10, {hu.shape[1]}, {hu.shape[2]}\)"):
        nb04.check_threshold(0.5, probability[:10], hu, case.pancreas_plain)
    empty = sitk.Image(case.pancreas_plain) * 0
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match="reference is empty.*no threshold can be scored"):
        nb04.check_threshold(0.5, probability, hu, empty)


def test_check_volume_refuses_masks_on_different_grids_and_an_empty_reference(case):
    mask = case.pancreas_plain
    shifted_mask = sitk.Image(mask)
    shifted_mask.SetOrigin(tuple(np.add(mask.GetOrigin(), (0.0, 6.0, 0.0))))
    same = unchanged(mask, shifted_mask)
    with pytest.raises(checks.GridMismatchError) as caught:  # was a silent wrong verdict
        nb04.check_volume(1.0, 0.0, shifted_mask, mask)
    message = str(caught.value)
    assert "mask is not on the reference's grid: origin" in message and "resample" in message
    empty = sitk.Image(mask) * 0
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match="reference is empty.*volume error is relative"):
        nb04.check_volume(0.0, 0.0, mask, empty)  # was a ZeroDivisionError
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match="mask must be a SimpleITK image.*got ndarray"):
        nb04.check_volume(0.0, 0.0, arr(mask), mask)
    labels = mask + case.lesion_plain
    with pytest.raises(checks.InputError, match="mask holds 2 different labels"):
        nb04.check_volume(0.0, 0.0, labels, mask)
    ml, pct = nb04.expected_volumes(mask, mask)
    assert nb04.check_volume(ml, pct, mask, mask) and same()


def test_check_transferred_mask_names_what_differs_in_the_grid(capsys):
    case = types.SimpleNamespace(plain=sitk.Image([8, 8, 8], sitk.sitkFloat32))
    answer = sitk.Image([8, 8, 8], sitk.sitkUInt8)
    answer.SetSpacing((1.0, 1.0, 2.0))  # size and origin agree: this was let through
    assert not nb02.check_transferred_mask(answer, case)
    out = capsys.readouterr().out
    assert "not on the plain scan's grid (spacing (1.0, 1.0, 2.0) versus (1.0, 1.0, 1.0))" in out
    assert "case.plain as the reference" in out
    assert not nb02.check_transferred_mask(answer[:, :, 0], case)  # 2-D: a hint, no traceback
    assert "2-D, not 3-D" in capsys.readouterr().out


def test_score_checkers_refuse_mismatched_or_one_sided_data():
    scores, abnormal = [0.1, 0.2, 0.8, 0.9], [False, False, True, True]
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match="scores has 3 value.*abnormal has 4.*same table"):
        nb05.check_threshold_for_specificity(0.5, scores[:3], abnormal)
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match="no patient without among the 2.*whole training table"):
        nb05.check_threshold_for_specificity(0.5, scores[2:], abnormal[2:])  # was a NaN specificity
    with pytest.raises(exercise_inputs.ExerciseInputError, match="1 NaN or infinite"):
        nb05.check_threshold_for_specificity(0.5, [0.1, np.nan, 0.8, 0.9], abnormal)
    with pytest.raises(exercise_inputs.ExerciseInputError,
                       match="healthy_scores must hold at least one score.*got 0"):
        nb07.check_threshold(0.5, [], [0.9])  # was a silent "Correct!" on nothing
    assert nb05.check_threshold_for_specificity(0.5, scores, abnormal)
    assert nb07.check_threshold(0.21, [0.1, 0.2], [0.8])


# ------------------------------------------------------------------------- 5. the shared checks

def test_stored_value_peak_recognises_raw_values_whatever_the_minimum(ct_sm):
    hu = arr(ct_sm)
    assert checks.stored_value_peak(hu) is None  # HU: air present
    assert checks.stored_value_peak(hu[hu > -300]) is None  # HU without air: body only
    for below in (None, -1050.0):  # the minimum 0, or slightly negative
        raw = arr(raw_values(ct_sm, below))
        assert (raw.min() < 0) == (below is not None)
        peak = checks.stored_value_peak(raw)
        assert peak is not None and 870 <= peak <= 1230


# ------------------------------------------------------------------------- 6. the cache

@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A user's own PLAINCT_DATA folder, empty; no downloads."""
    folder = tmp_path / "my-data"
    folder.mkdir()
    monkeypatch.setenv("PLAINCT_DATA", str(folder))
    monkeypatch.setenv("PLAINCT_OFFLINE", "1")
    return folder


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))
    return path


def test_killed_fetches_leave_nothing_behind_for_long(own_cache, mirror, monkeypatch):
    monkeypatch.setenv("PLAINCT_MIRROR", str(mirror))
    stale_file = own_cache / f".{SMALL_FILE}.k3x9_q2z.part"  # a killed copy's temporary
    stale_file.write_bytes(b"half a file")
    aged(stale_file, 2 * HOUR)
    stale_dir = own_cache / f".{SMALL_FILE}.ab12cd34.part"  # a killed download's folder
    stale_dir.mkdir()
    (stale_dir / "tmpq1w2e3r4").write_bytes(b"half a download")
    aged(stale_dir, 2 * HOUR)
    probe = own_cache / ".write-test-zz99yy88"
    probe.write_bytes(b"")
    aged(probe, 2 * HOUR)
    running = own_cache / ".other.nii.gz.fresh123.part"  # another fetch, still running
    running.write_bytes(b"being written")
    mine = [own_cache / "results.part", own_cache / ".notes.abcdefgh.txt"]  # the user's
    for path in mine:
        path.write_text("my own work")
        aged(path, 2 * HOUR)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mine + [running]}
    data.fetch(SMALL)
    left = {p.name for p in own_cache.iterdir()}
    assert left == {SMALL_FILE, running.name} | {p.name for p in mine}
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in mine + [running]}


def test_the_array_cache_cleans_up_its_stale_temporary_files(tmp_path):
    stale = tmp_path / ".thing.npz.a1b2c3d4.part"
    stale.write_bytes(b"killed")
    aged(stale, 2 * HOUR)
    fresh = tmp_path / ".thing.npz.e5f6g7h8.part"
    fresh.write_bytes(b"being written right now")
    cache.load_or_build(tmp_path / "thing.npz", "k", lambda: {"x": np.ones(2)})
    assert {p.name for p in tmp_path.iterdir()} == {"thing.npz", fresh.name}
    assert cache.clean_stale_parts(tmp_path, max_age_s=0.0) == [fresh]


def test_a_corrupted_file_with_no_replacement_is_kept_aside_not_deleted(own_cache,
                                                                       monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    damaged = own_cache / SMALL_FILE
    damaged.write_bytes(b"my only copy, a little damaged")
    before = hashlib.sha256(damaged.read_bytes()).hexdigest()
    with pytest.warns(UserWarning, match="does not match its SHA-256"), \
            pytest.raises(data.DataError) as caught:
        data.fetch(SMALL)
    (aside,) = own_cache.glob(f"{SMALL_FILE}.corrupt-*")
    message = str(caught.value)
    assert "was not deleted: it was kept aside as" in message and str(aside) in message
    assert "python3 run.py prefetch" in message  # the data fix, in the project's words
    assert hashlib.sha256(aside.read_bytes()).hexdigest() == before
    assert not damaged.exists()  # never used again under its real name


def test_a_corrupted_file_is_replaced_when_a_good_copy_can_be_had(own_cache, mirror,
                                                                  monkeypatch):
    monkeypatch.setenv("PLAINCT_MIRROR", str(mirror))
    (own_cache / SMALL_FILE).write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="a good copy will replace it"):
        path = data.fetch(SMALL)
    assert data.sha256_of(path) == SAMPLES[SMALL].files[0].sha256
    assert [p.name for p in own_cache.iterdir()] == [SMALL_FILE]


@pytest.mark.parametrize("where", [3, -1], ids=["middle", "last"])
def test_a_corrupted_slice_of_the_cached_series_is_kept_aside_and_never_silently_missing(
        own_cache, real_series, monkeypatch, where):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    folder = own_cache / real_series.name
    shutil.copytree(real_series, folder)
    victim = sorted(folder.iterdir())[where]
    victim.write_bytes(victim.read_bytes()[:-10])
    damaged = hashlib.sha256(victim.read_bytes()).hexdigest()
    with pytest.warns(UserWarning), pytest.raises(data.DataError, match="kept aside"):
        data.fetch("totalsegmentator_example_ct_dicom")
    (aside,) = folder.glob(f".{victim.name}.corrupt-*")  # hidden, renamed, not deleted
    assert hashlib.sha256(aside.read_bytes()).hexdigest() == damaged and not victim.exists()
    before = digest(folder)
    # Read directly, the series would be one slice short (at the end, with no gap to see):
    # the kept-aside file is named instead.
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(folder)
    message = str(caught.value)
    assert message.startswith(f"{victim.name} of this series was damaged and is kept aside as "
                              f"{aside.name}")
    assert "series lacks it" in message and "python3 run.py prefetch" in message
    assert caught.value.path == aside and digest(folder) == before
    shutil.copy(real_series / victim.name, victim)  # a good copy is back: the series reads
    assert dicom.read_series(folder).GetSize() == (512, 512, 20) and aside.exists()


def test_a_corrupted_file_that_cannot_be_renamed_is_left_in_place(own_cache, monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    damaged = own_cache / SMALL_FILE
    damaged.write_bytes(b"damaged, on a read-only disk")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.warns(UserWarning), pytest.raises(data.DataError) as caught:
        data.fetch(SMALL)
    assert "could not be kept aside (Permission denied)" in str(caught.value)
    assert "left in place" in str(caught.value)
    assert damaged.read_bytes() == b"damaged, on a read-only disk"
