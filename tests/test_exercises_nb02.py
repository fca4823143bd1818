"""Notebook 02's checkers: right answers pass, typical mistakes get the matching hint."""

from __future__ import annotations

import types

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import simulate
from helpers.exercises import nb02 as ex
from helpers.simulate import lesions


@pytest.fixture(scope="module")
def case():
    return simulate.make_case(7, "PDAC", lesion_diameter_mm=25)


def test_tumour_contrast_checker(case, capsys):
    arrays = [sitk.GetArrayFromImage(x)
              for x in (case.contrast, case.lesion_contrast, case.pancreas_contrast)]
    right = lesions.conspicuity(*arrays)["contrast_hu"]
    assert right < -30
    assert ex.check_tumour_contrast(right, case)
    assert not ex.check_tumour_contrast(-right, case)
    assert "check the sign" in capsys.readouterr().out
    assert not ex.check_tumour_contrast(ex.expected_contrast_hu(case, "plain"), case)
    assert "that is the plain scan" in capsys.readouterr().out
    assert ex.check_tumour_contrast(round(right, 2), case)  # a print to 0.01 HU still counts
    assert not ex.check_tumour_contrast(right + 0.02, case)  # a near neighbour in a table
    # Another patient's (or size's) contrast, as a table shows it, is not this lesion's.
    assert not ex.check_tumour_contrast(right - 0.75, case)
    assert "not this lesion's value" in capsys.readouterr().out
    for not_a_number in (arrays[0], case.contrast, [right, right], "minus fifty"):
        assert not ex.check_tumour_contrast(not_a_number, case)
        assert "give one number" in capsys.readouterr().out


def test_tumour_contrast_placeholder(case, capsys):
    assert not ex.check_tumour_contrast(None, case)
    assert capsys.readouterr().out.startswith("Not answered yet: set tumour_contrast_hu")


def test_point_checker(case, capsys):
    point = ex.exercise_point(case)
    assert not any(np.allclose(point, p, atol=0.5) for p in case.landmarks_plain)
    assert ex.check_point_in_contrast(case.transform.TransformPoint(point), case, point)
    assert not ex.check_point_in_contrast(None, case, point)
    assert "Not answered yet: set point_on_contrast" in capsys.readouterr().out
    assert not ex.check_point_in_contrast(point, case, point)
    assert "plain-scan point itself" in capsys.readouterr().out
    assert not ex.check_point_in_contrast(case.landmarks_contrast[0], case, point)
    assert "case.landmarks_contrast[0]" in capsys.readouterr().out
    backwards = simulate.inverse_transform(case).TransformPoint(point)
    assert not ex.check_point_in_contrast(backwards, case, point)
    assert "wrong way" in capsys.readouterr().out
    for not_a_point in (3.0, point[:2], "x"):
        assert not ex.check_point_in_contrast(not_a_point, case, point)
        assert "three numbers" in capsys.readouterr().out


def test_transferred_mask_checker(case, capsys):
    right = sitk.Resample(case.lesion_contrast, case.plain, case.transform,
                          sitk.sitkNearestNeighbor, 0)
    assert ex.check_transferred_mask(right, case)
    capsys.readouterr()
    assert not ex.check_transferred_mask(case.lesion_plain, case)  # the truth itself
    assert "case.lesion_plain, the true plain-scan mask" in capsys.readouterr().out
    assert not ex.check_transferred_mask(sitk.Image(case.lesion_contrast), case)
    assert "copied as it is" in capsys.readouterr().out
    wrong = sitk.Resample(case.lesion_contrast, case.plain, simulate.inverse_transform(case),
                          sitk.sitkNearestNeighbor, 0)
    assert not ex.check_transferred_mask(wrong, case)
    assert "not its inverse" in capsys.readouterr().out
    blended = sitk.Resample(sitk.Cast(case.lesion_contrast, sitk.sitkFloat32), case.plain,
                            case.transform, sitk.sitkLinear, 0)
    assert not ex.check_transferred_mask(blended, case)
    assert "between 0 and 1" in capsys.readouterr().out
    assert not ex.check_transferred_mask(None, case)
    assert "Not answered yet: set mask_on_plain" in capsys.readouterr().out
    assert not ex.check_transferred_mask(case.lesion_contrast[:, :, :10], case)
    assert "plain scan's grid" in capsys.readouterr().out


def test_mask_on_contrast_checker(case, capsys):
    inverse = simulate.inverse_transform(case)
    right = sitk.Resample(case.lesion_plain, case.contrast, inverse, sitk.sitkNearestNeighbor, 0)
    assert ex.check_mask_on_contrast(right, case)
    assert "Dice" in capsys.readouterr().out
    assert not ex.check_mask_on_contrast(None, case)
    assert "Not answered yet: set mask_on_contrast" in capsys.readouterr().out
    assert not ex.check_mask_on_contrast(sitk.Image(case.lesion_contrast), case)  # the truth
    assert "case.lesion_contrast, the mask drawn on the contrast scan" in capsys.readouterr().out
    assert not ex.check_mask_on_contrast(sitk.Image(case.lesion_plain), case)
    assert "copied as it is" in capsys.readouterr().out
    forward = sitk.Resample(case.lesion_plain, case.contrast, case.transform,
                            sitk.sitkNearestNeighbor, 0)
    assert not ex.check_mask_on_contrast(forward, case)
    assert "the inverse" in capsys.readouterr().out
    # Section 9's transfer (contrast mask onto the plain grid) is the other exercise's answer.
    other_way = sitk.Resample(case.lesion_contrast, case.plain, case.transform,
                              sitk.sitkNearestNeighbor, 0)
    assert not ex.check_mask_on_contrast(other_way, case)
    capsys.readouterr()
    linear = sitk.Resample(case.lesion_plain, case.contrast, inverse, sitk.sitkLinear, 0)
    assert not ex.check_mask_on_contrast(linear, case)
    assert "linear interpolation" in capsys.readouterr().out
    blended = sitk.Resample(sitk.Cast(case.lesion_plain, sitk.sitkFloat32), case.contrast,
                            inverse, sitk.sitkLinear, 0)
    assert not ex.check_mask_on_contrast(blended, case)
    assert "between 0 and 1" in capsys.readouterr().out
    assert not ex.check_mask_on_contrast(case.lesion_plain[:, :, :10], case)
    assert "contrast scan's grid" in capsys.readouterr().out
    assert not ex.check_mask_on_contrast(inverse, case)
    assert "give a SimpleITK image" in capsys.readouterr().out


def test_dice_or_one():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    assert ex.dice_or_one(a, a) == 1.0 and ex.dice_or_one(a, ~a) == 0.0
    assert ex.dice_or_one(~a & a, ~a & a) == 1.0  # two empty masks: 1, not metrics.dice's rule


def test_check_transferred_mask_names_what_differs_in_the_grid(capsys):
    case = types.SimpleNamespace(plain=sitk.Image([8, 8, 8], sitk.sitkFloat32))
    answer = sitk.Image([8, 8, 8], sitk.sitkUInt8)
    answer.SetSpacing((1.0, 1.0, 2.0))  # size and origin agree: this was let through
    assert not ex.check_transferred_mask(answer, case)
    out = capsys.readouterr().out
    assert "not on the plain scan's grid (spacing (1.0, 1.0, 2.0) versus (1.0, 1.0, 1.0))" in out
    assert "case.plain as the reference" in out
    assert not ex.check_transferred_mask(answer[:, :, 0], case)  # 2-D: a hint, no traceback
    assert "2-D, not 3-D" in capsys.readouterr().out
