"""Notebook 00's checkers: right answers pass, typical slips get the matching hint."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

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
    assert ex.check_pancreas_volume(0.2, labels, image.GetSpacing())  # 0.24 rounded
    assert not ex.check_pancreas_volume(0.0, labels, image.GetSpacing())  # a whole number near it


def pancreas_slab():
    labels = np.zeros((10, 8, 12), np.uint8)  # [z, y, x]
    labels[3:7, 2:4, 1:9] = 7  # slices 3-6: 4 slices; 2 rows; 8 columns
    return labels, (2.0, 2.5, 5.0)  # (x, y, z) in mm


def test_pancreas_length_checker(capsys):
    labels, spacing = pancreas_slab()  # 4 slices of 5 mm = 2 cm
    assert list(ex.pancreas_slices(labels)) == [3, 4, 5, 6]
    assert ex.pancreas_length_cm(labels, spacing) == 2.0
    assert ex.check_pancreas_length(2.0, labels, spacing)
    assert "4 slices (from slice 3 to 6)" in capsys.readouterr().out
    assert not ex.check_pancreas_length(None, labels, spacing)
    assert "Not answered yet: set pancreas_cm" in capsys.readouterr().out
    for slip, hint in ((4, "number of slices"), (20, "millimetres"),
                       (1.5, "counts the gaps"),  # (6 - 3) x 5 mm
                       (5.0, "whole scan"),  # 10 slices x 5 mm
                       (1.6, "across the body"),  # 8 columns x 2 mm
                       (0.5, "across the body"),  # 2 rows x 2.5 mm
                       (3.3, "(label_array == 7).any")):
        assert not ex.check_pancreas_length(slip, labels, spacing)
        assert hint in capsys.readouterr().out, slip
    assert not ex.check_pancreas_length("two", labels, spacing)
    assert ex.scan_length_cm(sitk.GetImageFromArray(labels)) == 1.0  # 10 slices x 1 mm
