"""Notebook 02's checkers: right answers pass, typical mistakes get the matching hint."""

from __future__ import annotations

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
    assert not ex.check_tumour_contrast(None, case)
    assert not ex.check_tumour_contrast(-right, case)
    assert "check the sign" in capsys.readouterr().out
    assert not ex.check_tumour_contrast(ex.expected_contrast_hu(case, "plain"), case)
    assert "that is the plain scan" in capsys.readouterr().out


def test_landmark_checker(case, capsys):
    point = tuple(case.landmarks_plain[0])
    assert ex.check_landmark_in_contrast(case.transform.TransformPoint(point), case, 0)
    assert ex.check_landmark_in_contrast(case.landmarks_contrast[0], case, 0)
    assert not ex.check_landmark_in_contrast(None, case, 0)
    assert not ex.check_landmark_in_contrast(point, case, 0)
    assert "plain-scan point itself" in capsys.readouterr().out
    backwards = simulate.inverse_transform(case).TransformPoint(point)
    assert not ex.check_landmark_in_contrast(backwards, case, 0)
    assert "wrong way" in capsys.readouterr().out


def test_transferred_mask_checker(case, capsys):
    right = sitk.Resample(case.lesion_contrast, case.plain, case.transform,
                          sitk.sitkNearestNeighbor, 0)
    assert ex.check_transferred_mask(right, case)
    wrong = sitk.Resample(case.lesion_contrast, case.plain, simulate.inverse_transform(case),
                          sitk.sitkNearestNeighbor, 0)
    assert ex.dice(sitk.GetArrayFromImage(wrong), sitk.GetArrayFromImage(case.lesion_plain)) \
        < ex.MIN_DICE
    assert not ex.check_transferred_mask(wrong, case)
    assert not ex.check_transferred_mask(None, case)
    assert not ex.check_transferred_mask(case.lesion_contrast[:, :, :10], case)
    assert "plain scan's grid" in capsys.readouterr().out


def test_dice():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    assert ex.dice(a, a) == 1.0 and ex.dice(a, ~a) == 0.0 and ex.dice(~a & a, ~a & a) == 1.0
