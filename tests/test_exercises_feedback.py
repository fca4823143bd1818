"""What every notebook's checkers share (helpers.exercises.feedback): the printed verdict and the
tolerant comparison of an answer, which never raises on an unfinished one."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from helpers.exercises.feedback import as_array, close_to, feedback, is_answered, not_answered


def test_feedback_prints_the_verdict_and_returns_it(capsys):
    assert feedback(True, "well done.", "look again.") is True
    assert capsys.readouterr().out == "Correct! well done.\n"
    assert feedback(np.bool_(False), "well done.", "look again.") is False
    assert capsys.readouterr().out == "Not yet. look again.\n"
    assert not_answered("fill in the window.") is False
    assert capsys.readouterr().out == "Not answered yet: fill in the window.\n"


def test_the_placeholders_are_not_answers():
    assert not is_answered(None) and not is_answered(...)
    assert is_answered(0) and is_answered("") and is_answered(np.zeros(2))
    assert not close_to(None, 1.0, 0.1) and not close_to(..., 1.0, 0.1)


def test_close_to_compares_numbers_arrays_and_images_within_the_tolerance():
    assert close_to(1.04, 1.0, 0.05) and not close_to(1.06, 1.0, 0.05)
    assert close_to([1.0, 2.0], np.array([1.0, 2.01]), 0.02)
    assert not close_to([1.0, 2.0], [1.0, 2.0, 3.0], 1.0)  # another shape
    assert not close_to(float("nan"), 1.0, np.inf)  # NaN is never close
    assert not close_to("one", 1.0, 0.1) and not close_to({"a": 1}, 1.0, 0.1)
    image = sitk.GetImageFromArray(np.full((2, 3, 4), 5.0))
    assert as_array(image).shape == (2, 3, 4)  # [z, y, x]
    assert close_to(image, np.full((2, 3, 4), 5.0), 0.0)
    np.testing.assert_array_equal(as_array([[1, 2]]), [[1, 2]])
