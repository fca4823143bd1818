"""Notebook 07's checkers: right answers pass, typical mistakes get the matching hint."""

from __future__ import annotations

import pytest

from helpers.exercises import nb07 as ex
from helpers.exercises.inputs import ExerciseInputError
from helpers.pipeline.screening import screening_outcome

SENS, SPEC, PREV = 0.929, 0.99, 0.026  # PANDA's lesion sensitivity; an assumed lesion prevalence


def test_ppv_checker(capsys):
    right = SENS * PREV / (SENS * PREV + (1 - SPEC) * (1 - PREV))
    assert ex.check_ppv(right, SENS, SPEC, PREV)
    out = capsys.readouterr().out
    assert "Correct" in out and "lesion" in out and "cancer" not in out.replace("'cancer'", "")
    assert ex.check_ppv(round(right, 3), SENS, SPEC, PREV)  # typed to three decimals
    assert not ex.check_ppv(None, SENS, SPEC, PREV)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_ppv(100 * right, SENS, SPEC, PREV)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_ppv(SENS, SENS, SPEC, PREV)
    assert "sensitivity" in capsys.readouterr().out
    assert not ex.check_ppv(SENS / (SENS + 1 - SPEC), SENS, SPEC, PREV)
    assert "prevalence" in capsys.readouterr().out
    assert not ex.check_ppv(right + 0.004, SENS, SPEC, PREV)
    assert "close" in capsys.readouterr().out


def test_false_alarms_per_lesion_checker(capsys):
    out = screening_outcome(SENS, SPEC, PREV)
    right = out.false_positives / out.true_positives
    assert ex.check_false_alarms_per_lesion(right, SENS, SPEC, PREV)
    assert "per lesion found" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_lesion(None, SENS, SPEC, PREV)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_lesion(1 / right, SENS, SPEC, PREV)
    assert "upside down" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_lesion(out.false_positives, SENS, SPEC, PREV)
    assert "divide by the number of lesions found" in capsys.readouterr().out
    every = out.false_positives / (100_000 * PREV)
    assert not ex.check_false_alarms_per_lesion(every, SENS, SPEC, PREV)
    assert "every lesion, found or not" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_lesion(1.02 * right, SENS, SPEC, PREV)
    assert "close" in capsys.readouterr().out


def test_screening_rows_name_what_is_counted():
    row = screening_outcome(SENS, 0.999, PREV).as_row("PANDA", condition="lesion")
    assert {"lesions found", "lesions missed", "false alarms per lesion found"} <= set(row)
    assert not any("cancer" in key for key in row)


def test_threshold_checker(capsys):
    healthy, lesion = [0.2, 0.3, 0.45], [0.1, 0.5, 0.7, 0.9]
    assert ex.specificity_at(0.3, healthy) == 1 / 3
    assert ex.score_gap(healthy, lesion) == (0.45, 0.5)
    assert ex.check_threshold(0.46, healthy, lesion)
    assert ex.check_threshold(0.5, healthy, lesion)  # 0.5 still keeps the 0.5 lesion (>=)
    assert not ex.check_threshold(0.45, healthy, lesion)
    assert "still score" in capsys.readouterr().out
    assert not ex.check_threshold(0.6, healthy, lesion)
    assert "for nothing" in capsys.readouterr().out
    assert not ex.check_threshold(None, healthy, lesion)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_threshold(5, healthy, lesion)
    # a lower target allows one false alarm among three healthy patients
    assert ex.check_threshold(0.31, healthy, lesion, target=2 / 3)
    assert ex.check_threshold(0.0, healthy, lesion, target=0.0)


def test_threshold_checker_in_the_middle_of_the_gap(capsys):
    healthy, lesion = [0.2, 0.3, 0.45], [0.1, 0.5, 0.7, 0.9]
    assert ex.check_threshold(0.475, healthy, lesion, middle=True)
    assert "halfway" in capsys.readouterr().out
    assert not ex.check_threshold(0.46, healthy, lesion, middle=True)  # in the gap, not halfway
    assert "middle" in capsys.readouterr().out
    assert not ex.check_threshold(0.476, healthy, lesion, middle=True)  # from rounded scores
    assert "close" in capsys.readouterr().out
    assert not ex.check_threshold(0.45, healthy, lesion, middle=True)
    assert "strictly above" in capsys.readouterr().out
    assert not ex.check_threshold(0.275, healthy, lesion, middle=True)  # to the lowest lesion
    assert "*above* it" in capsys.readouterr().out
    assert not ex.check_threshold(0.675, healthy, lesion, middle=True)  # to the highest lesion
    assert "highest lesion score" in capsys.readouterr().out
    # no lesion above every healthy score: the gap runs up to 1, the highest possible score
    assert ex.check_threshold(0.75, [0.5], [0.1, 0.2], middle=True)
    # one false alarm allowed: the gap starts above the second-highest healthy score
    assert ex.check_threshold(0.4, healthy, lesion, target=2 / 3, middle=True)


def test_ppv_checker_names_the_specificity_slip(capsys):
    assert not ex.check_ppv(0.95, 0.8, 0.95, 0.01)
    assert "specificity" in capsys.readouterr().out



def test_threshold_checker_refuses_an_empty_list_of_healthy_scores():
    with pytest.raises(ExerciseInputError,
                       match="healthy_scores must hold at least one score.*got 0"):
        ex.check_threshold(0.5, [], [0.9])  # was a silent "Correct!" on nothing
    assert ex.check_threshold(0.21, [0.1, 0.2], [0.8])
