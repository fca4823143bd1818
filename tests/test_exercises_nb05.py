"""Notebook 05's checkers: right answers pass, typical mistakes get the matching hint, and an
unfinished answer (None) never raises."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.exercises import nb05 as ex
from helpers.exercises.inputs import ExerciseInputError

SCORES = np.array([0.05, 0.10, 0.20, 0.30, 0.45, 0.60,  # healthy
                   0.15, 0.40, 0.50, 0.70, 0.90, 0.95])  # lesion
ABNORMAL = np.array([False] * 6 + [True] * 6)


def test_threshold_checker_accepts_the_best_rule():
    bar, sens, lowest = ex.best_threshold(SCORES, ABNORMAL, 0.95)
    assert bar == 0.60 and sens == 0.5 and lowest == 0.70  # 6 healthy: no false alarm allowed
    assert ex.check_threshold_for_specificity(0.70, SCORES, ABNORMAL)
    assert ex.check_threshold_for_specificity(0.65, SCORES, ABNORMAL)
    assert ex.check_threshold_for_specificity(np.float32(0.61), SCORES, ABNORMAL)


def test_threshold_checker_hints(capsys):
    assert not ex.check_threshold_for_specificity(None, SCORES, ABNORMAL)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_threshold_for_specificity("high", SCORES, ABNORMAL)
    assert not ex.check_threshold_for_specificity(0.5, SCORES, ABNORMAL)
    assert "Raise the threshold above the healthy score 0.600" in capsys.readouterr().out
    assert not ex.check_threshold_for_specificity(0.60, SCORES, ABNORMAL)  # >= calls it abnormal
    assert not ex.check_threshold_for_specificity(0.92, SCORES, ABNORMAL)
    assert "stricter than needed" in capsys.readouterr().out
    assert not ex.check_threshold_for_specificity(70, SCORES, ABNORMAL)
    assert "percentage" in capsys.readouterr().out


def test_threshold_checker_allows_false_alarms_when_specificity_permits():
    healthy = np.linspace(0, 0.5, 20)  # 20 healthy: 95 % allows one false alarm
    scores = np.concatenate([healthy, [0.3, 0.48, 0.6]])
    abnormal = np.r_[np.zeros(20, bool), np.ones(3, bool)]
    bar, sens, _ = ex.best_threshold(scores, abnormal, 0.95)
    assert np.isclose(bar, healthy[-2]) and np.isclose(sens, 2 / 3)
    assert ex.check_threshold_for_specificity(0.48, scores, abnormal)
    assert not ex.check_threshold_for_specificity(0.49, scores, abnormal)


MATRIX = np.array([[20, 4], [6, 18]])  # [[TN, FP], [FN, TP]]


def test_confusion_checker_accepts_the_right_rates():
    assert ex.check_sensitivity_specificity(18 / 24, 20 / 24, MATRIX)


def test_confusion_checker_hints(capsys):
    assert not ex.check_sensitivity_specificity(None, None, MATRIX)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_sensitivity_specificity(18 / 24, None, MATRIX)
    assert not ex.check_sensitivity_specificity(20 / 24, 18 / 24, MATRIX)
    assert "swapped" in capsys.readouterr().out
    assert not ex.check_sensitivity_specificity(18 / 22, 20 / 24, MATRIX)
    assert "precision" in capsys.readouterr().out
    assert not ex.check_sensitivity_specificity(75.0, 20 / 24 * 100, MATRIX)
    assert "percent" in capsys.readouterr().out
    assert not ex.check_sensitivity_specificity(18 / 24, 20 / 26, MATRIX)
    assert "sensitivity is right" in capsys.readouterr().out
    assert not ex.check_sensitivity_specificity(18 / 48, 20 / 24, MATRIX)
    assert "not by everyone" in capsys.readouterr().out
    assert not ex.check_sensitivity_specificity(0.5, 0.5, [[1, 2, 3]])



def test_threshold_among_the_scores_refuses_a_typed_value(capsys):
    bar, _, lowest = ex.best_threshold(SCORES, ABNORMAL, 0.95)
    assert ex.check_threshold_for_specificity(lowest, SCORES, ABNORMAL, 0.95, among_scores=True)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_threshold_for_specificity(0.65, SCORES, ABNORMAL, 0.95, among_scores=True)
    assert "one of the training scores" in capsys.readouterr().out
    assert not ex.check_threshold_for_specificity(0.60, SCORES, ABNORMAL, 0.95, among_scores=True)
    assert "below the 0.95" in capsys.readouterr().out  # a score, but too low: still the hint
    scores = np.r_[np.linspace(0, 0.5, 20), 0.3, 0.48, 0.6]
    abnormal = np.r_[np.zeros(20, bool), np.ones(3, bool)]
    _, _, lowest90 = ex.best_threshold(scores, abnormal, 0.90)
    assert ex.check_threshold_for_specificity(lowest90, scores, abnormal, 0.90, among_scores=True)
    assert not ex.check_threshold_for_specificity(round(lowest90, 3) + 1e-4, scores, abnormal,
                                                  0.90, among_scores=True)


def test_confusion_checker_refuses_rounded_rates(capsys):
    assert not ex.check_sensitivity_specificity(0.75, 0.833, MATRIX)  # 20/24 typed, rounded
    assert "rounded" in capsys.readouterr().out
    assert ex.check_sensitivity_specificity(0.75, 20 / 24, MATRIX)


def test_threshold_for_specificity_refuses_mismatched_or_one_sided_data():
    scores, abnormal = [0.1, 0.2, 0.8, 0.9], [False, False, True, True]
    with pytest.raises(ExerciseInputError, match="scores has 3 value.*abnormal has 4.*same table"):
        ex.check_threshold_for_specificity(0.5, scores[:3], abnormal)
    with pytest.raises(ExerciseInputError,
                       match="no patient without among the 2.*whole training table"):
        ex.check_threshold_for_specificity(0.5, scores[2:], abnormal[2:])  # was a NaN specificity
    with pytest.raises(ExerciseInputError, match="1 NaN or infinite"):
        ex.check_threshold_for_specificity(0.5, [0.1, np.nan, 0.8, 0.9], abnormal)
    assert ex.check_threshold_for_specificity(0.5, scores, abnormal)
