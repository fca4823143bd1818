"""Notebook 03's checkers: right answers pass, each classic slip gets the hint that names it.

Exercise 3 runs registrations; its budget is counted (samples x iterations), never timed, so
its verdict is the same on any computer under any load."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import checks, registration, simulate
from helpers.exercises import nb03 as ex
from helpers.exercises.inputs import ExerciseInputError


def test_dice_checker(capsys):
    truth, moved = ex.dice_example()
    a, b = truth != 0, moved != 0
    assert ex.check_dice(2 * (a & b).sum() / (a.sum() + b.sum()), truth, moved)
    assert not ex.check_dice(None, truth, moved)
    assert "Not answered yet: set my_dice" in capsys.readouterr().out
    assert not ex.check_dice((a & b).sum() / (a | b).sum(), truth, moved)  # Jaccard slip
    assert "Jaccard" in capsys.readouterr().out
    assert not ex.check_dice((a & b).sum(), truth, moved)
    assert "size of the overlap" in capsys.readouterr().out
    assert not ex.check_dice(round(2 * (a & b).sum() / (a.sum() + b.sum()), 3), truth, moved)
    assert "rounded" in capsys.readouterr().out
    with pytest.raises(ExerciseInputError):
        ex.check_dice(0.5, truth, moved[:3])
    with pytest.raises(ExerciseInputError):
        ex.check_dice(0.5, 0 * truth, 0 * moved)


@pytest.fixture(scope="module")
def case():
    return simulate.make_case(2, "PDAC", motion="hard", lesion_diameter_mm=25)


def test_landmark_errors_checker(case, capsys):
    affine = registration.register(case.plain, case.contrast, "affine")
    mapped = np.array([affine.TransformPoint(tuple(p)) for p in case.landmarks_plain])
    errors = np.linalg.norm(mapped - case.landmarks_contrast, axis=1)
    assert np.allclose(ex.landmark_errors(affine, case), errors)
    assert ex.check_landmark_errors(errors, affine, case)
    assert f"median {np.median(errors):.2f} mm" in capsys.readouterr().out
    assert ex.check_landmark_errors(list(errors), affine, case)
    assert not ex.check_landmark_errors(None, affine, case)
    assert "Not answered yet: set my_tre_mm" in capsys.readouterr().out
    untouched = np.linalg.norm(case.landmarks_plain - case.landmarks_contrast, axis=1)
    assert not ex.check_landmark_errors(untouched, affine, case)
    assert "no transform" in capsys.readouterr().out
    assert not ex.check_landmark_errors(mapped - case.landmarks_contrast, affine, case)
    assert "np.linalg.norm" in capsys.readouterr().out
    assert not ex.check_landmark_errors(np.sort(errors)[::-1], affine, case)
    assert "another order" in capsys.readouterr().out
    backwards = np.array([affine.GetInverse().TransformPoint(tuple(q))
                          for q in case.landmarks_contrast])
    assert not ex.check_landmark_errors(
        np.linalg.norm(backwards - case.landmarks_plain, axis=1), affine, case)
    assert "backwards" in capsys.readouterr().out
    # Statistics of the errors (what the lesson's table shows) are not the answer.
    for summary in (np.median(errors), errors.max(), errors.mean(), errors[:3]):
        assert not ex.check_landmark_errors(summary, affine, case)
        assert "one error per landmark" in capsys.readouterr().out
    assert not ex.check_landmark_errors("seven", affine, case)


@pytest.fixture(scope="module")
def hard_case():
    return simulate.make_case(7, "SPT", motion="hard", lesion_diameter_mm=30)


def test_settings_checker_refuses_without_running(hard_case, capsys, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a refused answer must not run a registration")

    monkeypatch.setattr(ex, "transfer_with", must_not_run)
    region = hard_case.pancreas_contrast
    assert not ex.check_settings(None, hard_case, region=region)
    assert "Not answered yet: set my_settings" in capsys.readouterr().out
    from helpers.registration.study import STUDY_SETTINGS
    for over in ({}, {"samples": 12000}, {"samples": 12000, "iterations": 60}, STUDY_SETTINGS,
                 {"samples": ex.WORK_BUDGET, "iterations": 2}):
        assert ex.settings_work(over) > ex.WORK_BUDGET
        assert not ex.check_settings(over, hard_case, region=region)
        assert "over the budget" in capsys.readouterr().out
    assert not ex.check_settings({"iterations": 5}, hard_case, region=region)
    assert "samples 12000: register's defaults" in capsys.readouterr().out
    assert not ex.check_settings({"steps": 3}, hard_case, region=region)
    assert "unknown setting" in capsys.readouterr().out
    assert not ex.check_settings([4000, 30], hard_case, region=region)
    assert "give a dict" in capsys.readouterr().out
    assert not ex.check_settings({"samples": 500.5, "iterations": 20}, hard_case, region=region)
    assert "whole number" in capsys.readouterr().out


def test_settings_checker_counts_work_not_time(hard_case, capsys):
    region = hard_case.pancreas_contrast
    assert ex.settings_work({"samples": 500, "iterations": 20}) <= ex.WORK_BUDGET
    assert ex.check_settings({"samples": 500, "iterations": 20}, hard_case, region=region)
    assert f"of the {ex.WORK_BUDGET:,} budget" in capsys.readouterr().out
    # Within budget but badly split: too few steps, or too few samples.
    assert not ex.check_settings({"samples": 5000, "iterations": 2}, hard_case, region=region)
    assert "too few steps" in capsys.readouterr().out
    assert not ex.check_settings({"samples": 100, "iterations": 100}, hard_case, region=region)
    assert "too noisy" in capsys.readouterr().out


def test_check_dice_refuses_masks_of_different_shapes_and_two_empty_masks(capsys):
    truth, moved = ex.dice_example()
    kept = truth.copy(), moved.copy()
    with pytest.raises(ExerciseInputError) as caught:
        ex.check_dice(0.5, truth, moved[:5])
    message = str(caught.value)
    assert "truth (6, 6), moved (5, 6)" in message and "shapes differ" in message
    assert "arrays of one scan" in message
    empty = np.zeros_like(truth)
    with pytest.raises(ExerciseInputError,
                       match=r"both empty.*undefined.*dice_example\(\)"):
        ex.check_dice(0.0, empty, empty)  # was a ZeroDivisionError
    assert isinstance(caught.value, checks.InputError)
    assert np.array_equal(truth, kept[0]) and np.array_equal(moved, kept[1])
    assert ex.check_dice(2 * 6 / 21, truth, moved)  # the good input still works
    assert capsys.readouterr().out.startswith("Correct!")
