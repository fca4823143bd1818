"""Notebook 07's checkers: right answers pass, typical mistakes get the matching hint."""

from __future__ import annotations

from helpers.exercises import check_choice
from helpers.exercises import nb07 as ex
from helpers.pipeline.screening import screening_outcome

SENS, SPEC, PREV = 0.929, 0.99, 0.001


def test_ppv_checker(capsys):
    right = SENS * PREV / (SENS * PREV + (1 - SPEC) * (1 - PREV))
    assert ex.check_ppv(right, SENS, SPEC, PREV)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_ppv(None, SENS, SPEC, PREV)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_ppv(100 * right, SENS, SPEC, PREV)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_ppv(SENS, SENS, SPEC, PREV)
    assert "sensitivity" in capsys.readouterr().out
    assert not ex.check_ppv(SENS / (SENS + 1 - SPEC), SENS, SPEC, PREV)
    assert "prevalence" in capsys.readouterr().out


def test_false_alarms_checker(capsys):
    out = screening_outcome(SENS, SPEC, PREV)
    right = out.false_positives / out.true_positives
    assert ex.check_false_alarms_per_cancer(right, SENS, SPEC, PREV)
    assert not ex.check_false_alarms_per_cancer(None, SENS, SPEC, PREV)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_cancer(1 / right, SENS, SPEC, PREV)
    assert "upside down" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_cancer(out.false_positives, SENS, SPEC, PREV)
    assert "divide by the number of cancers found" in capsys.readouterr().out
    assert not ex.check_false_alarms_per_cancer(out.false_positives / 100, SENS, SPEC, PREV)
    assert "every cancer, found or not" in capsys.readouterr().out


def test_threshold_checker(capsys):
    healthy, lesion = [0.2, 0.3, 0.45], [0.1, 0.5, 0.7, 0.9]
    assert ex.specificity_at(0.3, healthy) == 1 / 3
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


def test_ppv_checker_names_the_specificity_slip(capsys):
    assert not ex.check_ppv(0.95, 0.8, 0.95, 0.01)
    assert "specificity" in capsys.readouterr().out


def test_quiz(capsys):
    question = ex.QUIZ_FEW_PATIENTS
    assert check_choice(question.answer, question)
    assert not check_choice(None, question)
    assert "Not answered yet" in capsys.readouterr().out
    for letter, slip in question.slips.items():
        assert not check_choice(letter, question)
        assert slip[:30] in capsys.readouterr().out
