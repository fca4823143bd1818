"""Unit tests for helpers.registration on a small crop of the real native CT.

Each registration here runs on about 64 x 56 x 30 voxels and takes well under a second.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import nan_slice, raw_values, unchanged

from helpers import metrics, pipeline, registration
from helpers.registration import RegistrationInputError, align

matplotlib.use("Agg")
SHIFT_MM = (3.7, -2.6, 4.4)  # not a whole number of 3 mm voxels


@pytest.fixture(scope="module")
def scan():
    """The real CT cropped around the pancreas, with its pancreas mask (label 7)."""
    from helpers import data

    try:
        ct = data.load_ct("totalsegmentator_example_ct_sm")
        labels, _ = data.load_labels()
    except data.DataError as exc:
        pytest.skip(f"real CT sample not available: {exc}")
    box = dict(size=[64, 56, 30], index=[20, 35, 0])
    crop = sitk.RegionOfInterest(ct, **box)
    pancreas = sitk.Cast(sitk.RegionOfInterest(labels, **box) == 7, sitk.sitkUInt8)
    return crop, pancreas


def shifted(image, shift=SHIFT_MM, default=-1000.0):
    """Moved copy: moving(p - shift) = image(p), so register() should find p -> p - shift."""
    return sitk.Resample(image, image, sitk.TranslationTransform(3, shift), sitk.sitkLinear,
                         default)


def enhanced(image, mask, hu=100.0):
    """A crude 'contrast phase': the masked organ gains ``hu``."""
    return image + sitk.Cast(mask, sitk.sitkFloat32) * hu


def error_at_centre(transform, image, shift=SHIFT_MM):
    centre = np.array(image.TransformContinuousIndexToPhysicalPoint(
        [(n - 1) / 2 for n in image.GetSize()]))
    return np.linalg.norm(np.array(transform.TransformPoint(tuple(centre))) - (centre - shift))


@pytest.mark.parametrize("kind", ["rigid", "affine"])
def test_registering_to_a_shifted_copy_recovers_the_shift(scan, kind):
    ct, _ = scan
    transform = registration.register(ct, shifted(ct), kind)
    assert error_at_centre(transform, ct) < 0.5  # mm, a sixth of a voxel


def test_bspline_recovers_the_shift_across_a_contrast_change(scan):
    ct, pancreas = scan
    moving = shifted(enhanced(ct, pancreas))
    transform = registration.register(ct, moving, "bspline", region=pancreas, samples=3000,
                                      iterations=20)
    assert error_at_centre(transform, ct) < 1.0
    on_moving = sitk.Cast(shifted(sitk.Cast(pancreas, sitk.sitkFloat32), default=0) >= 0.5,
                          sitk.sitkUInt8)
    moved = registration.warp_mask(on_moving, transform, ct)
    assert metrics.dice(moved, pancreas) > 0.8
    assert metrics.folding(transform, ct).ok


def test_exclude_keeps_a_lesion_seen_on_one_scan_only_out_of_the_metric(scan):
    """A blob that enhances only on the moving scan (like a lesion drawn on contrast CT) is
    left out of the B-spline's metric with a 2-voxel rim; the shift is still recovered."""
    ct, pancreas = scan
    where = np.argwhere(sitk.GetArrayViewFromImage(pancreas) > 0)
    blob = np.zeros(sitk.GetArrayViewFromImage(pancreas).shape, np.uint8)
    z, y, x = where[len(where) // 2]
    blob[max(z - 1, 0):z + 2, y - 2:y + 3, x - 2:x + 3] = 1
    lesion = sitk.GetImageFromArray(blob)
    lesion.CopyInformation(ct)
    moving = shifted(enhanced(ct, lesion, hu=-80.0))
    on_moving = sitk.Cast(shifted(sitk.Cast(lesion, sitk.sitkFloat32), default=0) >= 0.5,
                          sitk.sitkUInt8)
    keep = align._metric_keep_mask(on_moving, moving)
    grown = sitk.BinaryDilate(on_moving, [2, 2, 2])
    assert sitk.GetArrayViewFromImage(keep).sum() == keep.GetNumberOfPixels() - int(
        sitk.GetArrayViewFromImage(grown).sum())
    found = registration.register(ct, moving, "bspline", region=pancreas, samples=3000,
                                  iterations=20, exclude=on_moving)
    assert error_at_centre(found, ct) < 1.0
    assert metrics.folding(found, ct).ok


def test_same_seed_same_result_and_integer_input_is_converted(scan):
    ct, _ = scan
    moving = shifted(ct)
    first = registration.register(ct, moving, "rigid", seed=3)
    again = registration.register(sitk.Cast(ct, sitk.sitkInt16), moving, "rigid", seed=3)
    assert np.allclose(first.GetParameters(), again.GetParameters(), atol=1e-3)
    assert ct.GetPixelID() == sitk.sitkFloat32  # the caller's image was not touched


def test_recorder_collects_every_stage_and_level_and_plots(scan):
    ct, pancreas = scan
    recorder = registration.RegistrationRecorder()
    registration.register(ct, shifted(ct), "bspline", region=pancreas, samples=2000,
                          iterations=5, recorder=recorder)
    table = recorder.table()
    assert list(table.columns) == ["stage", "level", "iteration", "metric"]
    assert set(table["stage"]) == {"affine", "bspline"}
    assert set(table["level"]) == {0, 1}
    assert len(recorder) == len(table) and [s["stage"] for s in recorder.stages] == [
        "affine", "bspline"]
    assert (table[table.stage == "bspline"].groupby("level").size() <= 5).all()
    assert recorder.plot().get_xlabel().startswith("optimiser iteration")
    with pytest.raises(ValueError, match="nothing recorded"):
        registration.RegistrationRecorder().plot()


def test_two_recorders_do_not_share_state(scan):
    ct, _ = scan
    one, two = registration.RegistrationRecorder(), registration.RegistrationRecorder()
    registration.register(ct, shifted(ct), "rigid", iterations=3, recorder=one)
    assert len(one) > 0 and len(two) == 0


def test_warp_mask_is_label_safe(scan):
    ct, pancreas = scan
    labels = sitk.Cast(pancreas, sitk.sitkUInt8) * 3 + sitk.Cast(
        sitk.BinaryDilate(pancreas, [1, 1, 1]) - pancreas, sitk.sitkUInt8) * 5
    identity = sitk.Transform(3, sitk.sitkIdentity)
    same = registration.warp_mask(labels, identity, ct)
    assert np.array_equal(sitk.GetArrayFromImage(same), sitk.GetArrayFromImage(labels))
    one_voxel = sitk.TranslationTransform(3, (0.0, 0.0, 3.0))  # 3 mm = one slice
    moved = sitk.GetArrayFromImage(registration.warp_mask(labels, one_voxel, ct))
    assert np.array_equal(moved[:-1], sitk.GetArrayFromImage(labels)[1:])
    half = registration.warp_mask(labels, sitk.TranslationTransform(3, (1.3, -0.7, 1.6)), ct)
    assert set(np.unique(sitk.GetArrayFromImage(half))) <= {0, 3, 5}  # no blended labels
    nearest = registration.warp_mask(labels, one_voxel, ct, interpolation="nearest")
    assert np.array_equal(sitk.GetArrayFromImage(nearest), moved)


def test_fade_out_keeps_the_centre_and_zeroes_the_edges(scan):
    ct, pancreas = scan
    box = registration.crop_to_region(ct, pancreas, 15.0)
    shift = sitk.TranslationTransform(3, (2.0, 0.0, 0.0))
    faded = registration.fade_out(shift, box, ct, fade_mm=9.0)
    far = ct.TransformIndexToPhysicalPoint((0, 0, 0))
    assert np.allclose(faded.TransformPoint(far), far)
    centre = box.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in box.GetSize()])
    assert np.allclose(faded.TransformPoint(centre), np.add(centre, (2.0, 0.0, 0.0)))


def test_checkerboard_and_blend():
    a, b = np.zeros((4, 4)), np.ones((4, 4))
    board = registration.checkerboard(a, b, tile=2)
    assert board[0, 0] == 0 and board[0, 3] == 1 and board[3, 3] == 0
    assert registration.blend(a, b).shape == (4, 4, 3)


def far_away(image):
    moved = sitk.Image(image)
    moved.SetOrigin(np.add(image.GetOrigin(), (0.0, 0.0, 1000.0)))
    return moved


def test_non_overlapping_images_explain_and_centre_alignment_fixes_it(scan):
    ct, _ = scan
    with pytest.raises(RegistrationInputError, match=r"overlap.*initial='geometry'"):
        registration.register(ct, far_away(ct), "rigid")
    transform = registration.register(ct, far_away(ct), "rigid", initial="geometry",
                                      iterations=5)
    centre = ct.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in ct.GetSize()])
    assert np.allclose(transform.TransformPoint(centre), np.add(centre, (0, 0, 1000)), atol=1)


def test_one_coarse_affine_level_still_recovers_the_shift(scan):
    """``shrink=(4,)``, what stage 1 uses for the training patients' masks: one level at a
    quarter of the resolution instead of half, then full."""
    ct, _ = scan
    transform = registration.register(ct, shifted(ct), "affine", shrink=(4,))
    assert error_at_centre(transform, ct) < 1.0  # mm, a third of a voxel (0.2 with (2, 1))


def vector_image(image):
    return sitk.Compose(image, image, image)


@pytest.mark.parametrize("call, message", [
    (lambda ct, m: registration.register(ct, ct, "elastic"), "unknown kind"),
    (lambda ct, m: registration.register(ct, ct, initial="moments"), "initial must be"),
    (lambda ct, m: registration.register(sitk.GetArrayFromImage(ct), ct), "SimpleITK.Image"),
    (lambda ct, m: registration.register(vector_image(ct), ct), "values per voxel"),
    (lambda ct, m: registration.register(ct[:, :, 5], ct), "3-D"),
    (lambda ct, m: registration.register(ct * 0, ct), "constant"),
    (lambda ct, m: registration.register(ct, ct, samples=0), "samples must be positive"),
    (lambda ct, m: registration.register(ct, ct, shrink=()), "shrink must be a non-empty"),
    (lambda ct, m: registration.register(ct, ct, shrink=(2, 0)), r"got \(2, 0\)"),
    (lambda ct, m: registration.register(ct, ct, region=m * 0), "empty"),
    (lambda ct, m: registration.register(ct, ct, region=sitk.Expand(m, [2, 2, 2])),
     "neither image's grid"),
    (lambda ct, m: registration.register(ct, ct, "bspline", region=m,
                                         exclude=sitk.Expand(m, [2, 2, 2])),
     "exclude mask must be on the moving scan's grid"),
    (lambda ct, m: registration.warp_mask(m * 0, sitk.Transform(3, sitk.sitkIdentity), ct),
     "empty"),
    (lambda ct, m: registration.warp_mask(sitk.Cast(m, sitk.sitkFloat32) * 0.5,
                                          sitk.Transform(3, sitk.sitkIdentity), ct),
     "fractional"),
    (lambda ct, m: registration.warp_mask(m, "identity", ct), "SimpleITK transform"),
    (lambda ct, m: registration.warp_mask(m, sitk.Transform(2, sitk.sitkIdentity), ct),
     "2-D transform"),
])
def test_bad_input_gives_a_clear_error(scan, call, message):
    ct, pancreas = scan
    with pytest.raises(RegistrationInputError, match=message):
        call(ct, pancreas)


def test_nan_in_an_image_is_reported(scan):
    ct, _ = scan
    broken = sitk.Image(ct)
    broken[3, 3, 3] = float("nan")
    with pytest.raises(RegistrationInputError, match="NaN"):
        registration.register(broken, ct)
    assert warp_is_allowed_on_empty_when_asked(ct)


def warp_is_allowed_on_empty_when_asked(ct):
    empty = sitk.Image(ct.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(ct)
    out = registration.warp_mask(empty, sitk.Transform(3, sitk.sitkIdentity), ct,
                                 allow_empty=True)
    return not sitk.GetArrayViewFromImage(out).any()


# ------------------------------------------------------- bad input: a clear error (issue 20)

@pytest.fixture(scope="module")
def crop(ct_sm):
    """A 64 x 56 x 30 crop of the real CT around the pancreas, in HU."""
    return sitk.RegionOfInterest(ct_sm, [64, 56, 30], [20, 35, 0])


def shifted_6_mm(image, mm=(6.0, 0.0, 0.0), default=-1024.0):
    return sitk.Resample(image, image, sitk.TranslationTransform(3, mm), sitk.sitkLinear,
                         default)


def test_register_refuses_raw_stored_values_and_says_how_to_skip_the_check(crop):
    moving = shifted_6_mm(crop)
    raw = raw_values(crop)
    same = unchanged(raw, moving)
    for call, word in ((lambda: registration.register(raw, moving, "rigid"), "fixed image"),
                       (lambda: registration.register(crop, shifted_6_mm(raw, default=0.0),
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
    skipped = registration.register(raw, shifted_6_mm(raw, default=0.0), "rigid", clamp_hu=None)
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
