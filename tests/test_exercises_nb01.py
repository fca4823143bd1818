"""Notebook 01's checkers: right answers pass, each classic slip gets the hint that names it."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from helpers.exercises import nb01 as ex


def test_stored_to_hu_checker(capsys):
    assert ex.check_stored_to_hu(1064 * 1.0 - 1024, 1064, 1.0, -1024)
    assert "40 HU" in capsys.readouterr().out
    assert not ex.check_stored_to_hu(None, 1064, 1.0, -1024)
    assert capsys.readouterr().out.startswith("Not answered yet: set answer_hu")
    assert not ex.check_stored_to_hu(1064, 1064, 1.0, -1024)  # HU off by about 1000
    assert "stored value itself" in capsys.readouterr().out
    assert not ex.check_stored_to_hu(1064 + 1024, 1064, 1.0, -1024)
    assert "check the sign" in capsys.readouterr().out


def test_slice_spacing_checker(capsys):
    positions = np.array([10.0, 7.5, 5.0, 2.5, 0.0])  # head to feet, 2.5 mm apart
    assert ex.check_slice_spacing(2.5, positions, slice_thickness=3.0)
    assert not ex.check_slice_spacing(None, positions, 3.0)
    assert capsys.readouterr().out.count("Not answered yet: set spacing_mm") == 1
    assert not ex.check_slice_spacing(3.0, positions, 3.0)  # "slices 3 mm apart"
    assert "SliceThickness" in capsys.readouterr().out
    assert not ex.check_slice_spacing(-2.5, positions, 3.0)
    assert "a spacing is a distance" in capsys.readouterr().out


def test_slice_steps_checker(capsys):
    positions = np.array([10.0, 7.5, 5.0, 2.5, 0.0])  # head to feet, 2.5 mm apart
    steps = np.diff(np.sort(positions))
    assert ex.check_slice_steps(steps, positions, slice_thickness=3.0)
    assert "all 4 steps are 2.50 mm" in capsys.readouterr().out
    assert ex.check_slice_steps(list(steps), positions, 2.5)
    assert "just touch" in capsys.readouterr().out
    assert not ex.check_slice_steps(None, positions, 3.0)
    assert "Not answered yet: set steps_mm" in capsys.readouterr().out
    for slip, hint in ((2.5, "not one"),  # the spacing alone is not the answer
                       (np.diff(positions), "file order"),
                       (np.full(4, 3.0), "SliceThickness"),
                       (positions, "one fewer"),
                       (steps[:2], "give 4 steps"),
                       (steps + 1, "differences of neighbours"),
                       ("two", "4 numbers")):
        assert not ex.check_slice_steps(slip, positions, 3.0)
        assert hint in capsys.readouterr().out, slip
    assert not ex.check_slice_steps(-steps, positions[::-1], 3.0)  # files from feet to head
    assert "positive distance" in capsys.readouterr().out
    gap = np.array([0.0, 2.5, 5.0, 10.0])
    assert ex.check_slice_steps(np.diff(gap), gap, 2.0)
    out = capsys.readouterr().out
    assert "unequal" in out and "gaps" in out


@pytest.fixture(scope="module")
def small_ct():
    hu = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # [k, j, i]
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing((2.0, 2.0, 3.0))
    image.SetOrigin((-5.0, -5.0, 10.0))
    return image


def test_point_to_index_checker(small_ct, capsys):
    point = small_ct.TransformIndexToPhysicalPoint((4, 1, 2))
    right = small_ct.TransformPhysicalPointToIndex(point)
    assert ex.check_point_to_index(right, small_ct[right], small_ct, point)
    assert not ex.check_point_to_index(None, None, small_ct, point)
    assert "Not answered yet: set target_index" in capsys.readouterr().out
    assert not ex.check_point_to_index(right[::-1], small_ct[right], small_ct, point)
    assert "NumPy order" in capsys.readouterr().out  # array[i, j, k] slip
    assert not ex.check_point_to_index(right, -1.0, small_ct, point)
    assert "now read the value" in capsys.readouterr().out


def pancreas_slice():
    """A 2-D slice: a pancreas (label 7, 20 HU) in fat (-100 HU), with a little noise."""
    rng = np.random.default_rng(0)
    hu = np.full((40, 40), -100.0) + rng.normal(0, 5, (40, 40))
    labels = np.zeros((40, 40), np.uint8)
    labels[15:25, 10:30] = 7
    hu[labels == 7] = 20 + rng.normal(0, 5, (labels == 7).sum())
    return hu, labels


def test_pancreas_window_checker(capsys):
    hu, labels = pancreas_slice()
    measured = ex.window_contrast("pancreas", hu, labels)
    organ, fat = measured["organ_hu"], measured["fat_hu"]
    assert ex.check_pancreas_window((2.5 * (organ - fat), (organ + fat) / 2), hu, labels)
    assert not ex.check_pancreas_window(None, hu, labels)
    assert "Not answered yet: set my_window" in capsys.readouterr().out
    assert not ex.check_pancreas_window((10, 20), hu, labels)  # too narrow: gland clipped
    assert "widen the window" in capsys.readouterr().out
    assert not ex.check_pancreas_window((3000, 500), hu, labels)  # bone-like: no contrast
    assert "gap" in capsys.readouterr().out
    assert not ex.check_pancreas_window("wide", hu, labels)
    assert "(width, level)" in capsys.readouterr().out


def test_target_point_is_inside_the_label():
    labels = sitk.GetImageFromArray(np.pad(np.full((2, 3, 3), 7, np.uint8), 2))
    point = ex.pancreas_target_point(labels)
    assert labels[labels.TransformPhysicalPointToIndex(tuple(point))] == 7
    with pytest.raises(ValueError):
        ex.pancreas_target_point(labels, label=9)
