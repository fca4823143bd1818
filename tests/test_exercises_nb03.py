"""Notebook 03's checkers: right answers pass, each classic slip gets the hint that names it.

Exercise 3 runs registrations; its speed check is relative to a reference timed in the same
process, so it holds on a slow computer too."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import registration, simulate
from helpers.exercises import check_choice
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
    with pytest.raises(ExerciseInputError):
        ex.check_dice(0.5, truth, moved[:3])
    with pytest.raises(ExerciseInputError):
        ex.check_dice(0.5, 0 * truth, 0 * moved)


@pytest.fixture(scope="module")
def case():
    return simulate.make_case(2, "PDAC", motion="hard", lesion_diameter_mm=25)


def test_median_tre_checker(case, capsys):
    affine = registration.register(case.plain, case.contrast, "affine")
    mapped = np.array([affine.TransformPoint(tuple(p)) for p in case.landmarks_plain])
    errors = np.linalg.norm(mapped - case.landmarks_contrast, axis=1)
    assert ex.check_median_tre(np.median(errors), affine, case)
    assert not ex.check_median_tre(None, affine, case)
    assert "Not answered yet: set my_median_tre" in capsys.readouterr().out
    untouched = np.linalg.norm(case.landmarks_plain - case.landmarks_contrast, axis=1)
    assert not ex.check_median_tre(np.median(untouched), affine, case)
    assert "no transform" in capsys.readouterr().out
    if abs(errors.mean() - np.median(errors)) > 0.01:
        assert not ex.check_median_tre(errors.mean(), affine, case)
        assert "the median" in capsys.readouterr().out


@pytest.fixture(scope="module")
def hard_case():
    return simulate.make_case(7, "SPT", motion="hard", lesion_diameter_mm=30)


def test_settings_checker_refuses_without_running(hard_case, capsys):
    region = hard_case.pancreas_contrast
    assert not ex.check_settings(None, hard_case, region=region)
    assert "Not answered yet: set my_settings" in capsys.readouterr().out
    for defaults in ({}, {"samples": 12000}, {"samples": 12000, "iterations": 60}):
        assert not ex.check_settings(defaults, hard_case, region=region)
        assert "keeps register's defaults" in capsys.readouterr().out
    assert not ex.check_settings({"steps": 3}, hard_case, region=region)
    assert "unknown setting" in capsys.readouterr().out
    assert not ex.check_settings([4000, 30], hard_case, region=region)
    assert "give a dict" in capsys.readouterr().out


def test_settings_checker_runs_and_times_against_a_reference(hard_case, capsys, monkeypatch):
    region = hard_case.pancreas_contrast
    assert ex.check_settings({"samples": 4000, "iterations": 30}, hard_case, region=region)
    assert "budget" in capsys.readouterr().out
    assert ex.reference_seconds(hard_case, region) > 0  # measured once, then reused
    assert not ex.check_settings({"samples": 300, "iterations": 2}, hard_case, region=region)
    assert "below the target Dice" in capsys.readouterr().out
    # A computer where the study settings are far quicker: the same answer is now too slow.
    monkeypatch.setitem(ex._reference, id(hard_case), (hard_case, 1e-3))
    assert not ex.check_settings({"samples": 2000, "iterations": 15}, hard_case,
                                 region=region)
    assert "too slow" in capsys.readouterr().out


@pytest.mark.parametrize("question, right, slips", [
    (ex.QUIZ_LEVELS, "B", {"A": "diverging", "C": "full-resolution"}),
    (ex.QUIZ_DIRECTION, "A", {"B": "fixed-image points to moving-image", "C": "voxel indices"})])
def test_quizzes(question, right, slips, capsys):
    assert check_choice(right, question)
    for letter, slip in slips.items():
        assert not check_choice(letter, question)
        assert slip in capsys.readouterr().out
