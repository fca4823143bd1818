"""helpers.geometry: index <-> point, LPS/RAS, resampling, and the cropped-header pitfall."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import data, display, geometry


def oblique_image() -> sitk.Image:
    image = sitk.Image(7, 5, 4, sitk.sitkFloat32)
    image.SetOrigin((12.0, -30.0, 4.5))
    image.SetSpacing((0.8, 1.1, 2.5))
    rotation = sitk.VersorTransform((0.3, 0.2, 1.0), 0.7).GetMatrix()
    image.SetDirection(rotation)
    return image


@pytest.mark.parametrize("index", [(0, 0, 0), (3, 2, 1), (6, 4, 3), (2.5, 1.25, 0.5)])
def test_index_to_point_formula_matches_simpleitk(index):
    image = oblique_image()
    np.testing.assert_allclose(geometry.index_to_point(image, index),
                               image.TransformContinuousIndexToPhysicalPoint(index), atol=1e-9)


def test_point_to_index_round_trip_on_real_ct(ct_sm):
    for ijk in [(0, 0, 0), (60, 50, 15), (121, 100, 29)]:
        point = geometry.index_to_point(ct_sm, ijk)
        assert geometry.point_to_index(ct_sm, point) == ijk
        assert geometry.point_to_index(ct_sm, point) == ct_sm.TransformPhysicalPointToIndex(point)
        assert geometry.hu_at_point(ct_sm, point) == ct_sm.GetPixel(ijk)


def test_point_outside_the_image_gets_a_hint(ct_sm):
    inside = geometry.index_to_point(ct_sm, (10, 20, 5))
    with pytest.raises(IndexError, match="RAS instead of LPS"):
        geometry.point_to_index(ct_sm, geometry.ras_to_lps(inside))


def test_ras_lps_flip_x_and_y_only():
    point = np.array([10.0, -20.0, 30.0])
    np.testing.assert_array_equal(geometry.ras_to_lps(point), [-10.0, 20.0, 30.0])
    np.testing.assert_array_equal(geometry.lps_to_ras(geometry.ras_to_lps(point)), point)


def test_orientation_of_the_real_nifti(ct_sm):
    # NIfTI written from RAS arrays: index i runs to the patient's right, j to anterior.
    assert geometry.orientation_code(ct_sm) == "RAS"
    assert geometry.axis_letters(ct_sm) == ("R", "A", "S")
    assert geometry.orientation_code(display.to_lps(ct_sm)) == "LPS"
    text = geometry.describe_geometry(ct_sm)
    assert "(122, 101, 30)" in text and "RAS" in text


def test_resample_isotropic_hu_linear_keeps_extent():
    image = sitk.GetImageFromArray(np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2))
    image.SetSpacing((1.0, 1.0, 3.0))
    image.SetOrigin((5.0, 6.0, 7.0))
    out = geometry.resample_isotropic(image)
    assert out.GetSpacing() == (1.0, 1.0, 1.0) and out.GetSize() == (2, 3, 12)
    assert out.GetOrigin() == image.GetOrigin()
    values = sitk.GetArrayViewFromImage(out)
    # One third of the way from slice 0 to slice 1 (values 0 and 6 there): linear gives 2.
    assert values[1, 0, 0] == pytest.approx(2.0)
    assert values[3, 0, 0] == pytest.approx(6.0)


def test_resampled_labels_keep_their_ids_but_linear_invents_new_ones():
    array = np.zeros((6, 6, 6), dtype=np.uint8)
    array[2:4, 2:4, 2:4] = 7  # e.g. a pancreas next to background
    labels = sitk.GetImageFromArray(array)
    labels.SetSpacing((3.0, 3.0, 3.0))
    nearest = geometry.resample_isotropic(labels, 1.0, is_label=True)
    assert set(np.unique(sitk.GetArrayViewFromImage(nearest))) == {0, 7}
    assert nearest.GetPixelID() == sitk.sitkUInt8
    linear = geometry.resample_isotropic(labels, 1.0, is_label=True,
                                         interpolator=sitk.sitkLinear)
    invented = set(np.unique(sitk.GetArrayViewFromImage(linear))) - {0, 7}
    assert invented and invented <= set(range(1, 7))


def test_resample_rejects_nonpositive_spacing():
    with pytest.raises(ValueError, match="positive"):
        geometry.resample_isotropic(oblique_image(), 0)


def test_cropped_ct_keeps_the_full_scans_origin(ct_sm, ct_full):
    """The header pitfall taught in notebook 01, checked on the real files."""
    assert geometry.find_slab_offset(ct_sm, ct_full) == 82
    assert geometry.header_slab_offset(ct_sm, ct_full) == pytest.approx(0.0)
    assert ct_sm.GetOrigin() == ct_full.GetOrigin()


def test_find_slab_offset_none_when_absent(ct_sm):
    shifted = sitk.GetArrayFromImage(ct_sm) + 1
    assert geometry.find_slab_offset(sitk.GetImageFromArray(shifted), ct_sm) is None


def test_point_to_index_checker_and_target(ct_sm, capsys):
    from helpers.exercises import nb01 as ex

    labels, _ = data.load_labels("totalsegmentator_example_seg")
    target = ex.pancreas_target_point(labels)
    index = ct_sm.TransformPhysicalPointToIndex(tuple(float(v) for v in target))
    assert labels[index] == 7  # the target really lies in the pancreas
    assert ex.check_point_to_index(index, ct_sm[index], ct_sm, target)
    assert not ex.check_point_to_index(index[::-1], ct_sm[index], ct_sm, target)
    assert "NumPy order" in capsys.readouterr().out
    assert not ex.check_point_to_index(index, ct_sm[index] + 50, ct_sm, target)
    assert "now read the value" in capsys.readouterr().out
    assert not ex.check_point_to_index(None, None, ct_sm, target)
