"""Notebook 00's checkers: right answers pass, typical slips get the matching hint."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from helpers.exercises import check_choice
from helpers.exercises import nb00 as ex


def small_scan():
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[1:3, 1:3, 1:4] = 7  # 12 pancreas voxels
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing((2.0, 2.0, 5.0))  # 20 mm³ per voxel
    return labels, image


def test_pancreas_volume_checker(capsys):
    labels, image = small_scan()
    assert ex.check_pancreas_volume(12 * 20 / 1000, labels, image.GetSpacing())
    assert "12 voxels x 20 mm³" in capsys.readouterr().out
    assert not ex.check_pancreas_volume(None, labels, image.GetSpacing())
    assert capsys.readouterr().out.startswith("Not answered yet: set pancreas_ml")
    assert not ex.check_pancreas_volume(12, labels, image.GetSpacing())
    assert "number of voxels" in capsys.readouterr().out
    assert not ex.check_pancreas_volume(240, labels, image.GetSpacing())
    assert "divide by 1000" in capsys.readouterr().out


def test_scan_length_checker(capsys):
    _, image = small_scan()  # 4 slices of 5 mm = 2 cm; 6 columns of 2 mm = 1.2 cm wide
    assert ex.scan_length_cm(image) == 2.0
    assert ex.check_scan_length(2.0, image)
    assert not ex.check_scan_length(None, image)
    assert "Not answered yet: set scan_cm" in capsys.readouterr().out
    assert not ex.check_scan_length(4, image)
    assert "number of slices" in capsys.readouterr().out
    assert not ex.check_scan_length(20, image)
    assert "millimetres" in capsys.readouterr().out
    assert not ex.check_scan_length(1.2, image)
    assert "left-right width" in capsys.readouterr().out
    assert not ex.check_scan_length("two", image)


def test_orientation_quiz(capsys):
    assert check_choice("A", ex.QUIZ_ORIENTATION)
    for wrong, slip in (("B", "facing away"), ("C", "anterior"), ("D", "reorient")):
        assert not check_choice(wrong, ex.QUIZ_ORIENTATION)
        assert slip in capsys.readouterr().out
