"""The shared multiple-choice checker: right letter passes, each wrong one names its slip."""

from __future__ import annotations

import pytest

from helpers.exercises import Question, check_answer

QUESTION = Question("demo", answer="B", why="B is right because of the reason.",
                    slips={"A": "A forgets the offset.", "C": "C mixes up the units."})


def test_right_letter_passes_in_any_case_and_spacing(capsys):
    for answer in ("B", "b", " B ", "(b)"):
        assert check_answer(answer, QUESTION)
        out = capsys.readouterr().out
        assert out.startswith("Correct!") and "because of the reason" in out


@pytest.mark.parametrize("answer, slip", [("A", "forgets the offset"), ("c", "mixes up")])
def test_wrong_letter_names_its_slip_and_hides_the_answer(capsys, answer, slip):
    assert not check_answer(answer, QUESTION)
    out = capsys.readouterr().out
    assert slip in out and "Correct" not in out and "because of the reason" not in out


@pytest.mark.parametrize("placeholder", [None, ...])
def test_placeholder_is_not_answered_yet(capsys, placeholder):
    assert not check_answer(placeholder, QUESTION)
    out = capsys.readouterr().out
    assert out.startswith("Not answered yet") and '"A", "B", "C"' in out


@pytest.mark.parametrize("answer", ["D", "AB", 2, "", "answer"])
def test_not_an_option_is_refused_with_a_hint(capsys, answer):
    assert not check_answer(answer, QUESTION)
    assert "not one of the options" in capsys.readouterr().out


def test_questions_are_well_formed():
    assert QUESTION.letters == ["A", "B", "C"]
    with pytest.raises(ValueError):
        Question("bad", answer="A", why="", slips={"A": "same letter"})
    with pytest.raises(ValueError):
        Question("bad", answer="A", why="", slips={})
    with pytest.raises(ValueError):
        Question("bad", answer="a", why="", slips={"B": "x"})


def every_notebook_question():
    """Every concept question of the lessons: the QUIZ_* of each checker module nb00-nb08."""
    import importlib

    found = []
    for number in range(9):
        module = importlib.import_module(f"helpers.exercises.nb{number:02d}")
        found += [(f"nb{number:02d}.{name}", value) for name, value in vars(module).items()
                  if name.startswith("QUIZ_") and isinstance(value, Question)]
    return found


@pytest.mark.parametrize("name, question", every_notebook_question(),
                         ids=[name for name, _ in every_notebook_question()])
def test_every_lesson_question_passes_its_answer_and_names_each_slip(name, question, capsys):
    assert check_answer(question.answer, question)
    assert not check_answer(None, question)
    assert "Not answered yet" in capsys.readouterr().out
    for letter, slip in question.slips.items():
        assert not check_answer(letter, question)
        assert slip[:30] in capsys.readouterr().out


# Each lesson question's right letter and, for each wrong letter, words its hint must contain:
# written here from the lesson, not read from the question, so that a changed answer or a hint
# that no longer names the slip fails.
LESSON_ANSWERS = [
    ("nb00", "QUIZ_ORIENTATION", "A", {"B": "facing away", "C": "anterior", "D": "reorient"}),
    ("nb01", "QUIZ_INDEX_ORDER", "B", {"A": "reverse", "C": "ct[10, 20, 5] would be right",
                                       "D": "whole order"}),
    ("nb01", "QUIZ_WINDOW", "A", {"B": "centre", "C": "each side", "D": "start at 0"}),
    ("nb02", "QUIZ_LINEAR_MASK", "B", {"A": "nearest-neighbour", "C": "raises nothing"}),
    ("nb02", "QUIZ_CONTRAST_SIGN", "C", {"A": "plain scan", "B": "brighter"}),
    ("nb03", "QUIZ_LEVELS", "B", {"A": "diverging", "C": "full-resolution"}),
    ("nb03", "QUIZ_DIRECTION", "A", {"B": "fixed-image points to moving-image",
                                     "C": "voxel indices"}),
    ("nb04", "QUIZ_CHOOSE_ON", "B", {"A": "leaks their answers", "C": "too confident",
                                     "D": "no longer on untouched data"}),
    ("nb05", "QUIZ_AUC", "B", {"A": "accuracy", "C": "one threshold", "D": "lesion Dice"}),
    ("nb05", "QUIZ_LABELS", "C", {"A": "more visible", "B": "where on the plain scan",
                                  "D": "trained and tested on plain CT"}),
    ("nb06", "QUIZ_RECALL", "A", {"B": "precision", "C": "accuracy",
                                  "D": "not a recall"}),
    ("nb07", "QUIZ_FEW_PATIENTS", "C", {"A": "far lower true rate", "B": "20,530 patients",
                                        "D": "not the threshold"}),
    ("nb08", "QUIZ_EPOCH_KEPT", "B", {"A": "with any labels", "C": "which patients",
                                      "D": "wide, not biased"}),
]


@pytest.mark.parametrize("notebook, name, right, slips", LESSON_ANSWERS,
                         ids=[f"{nb}.{name}" for nb, name, _, _ in LESSON_ANSWERS])
def test_lesson_question_takes_the_lessons_answer_and_names_each_slip(notebook, name, right,
                                                                      slips, capsys):
    import importlib

    question = getattr(importlib.import_module(f"helpers.exercises.{notebook}"), name)
    assert check_answer(right, question)
    assert capsys.readouterr().out.startswith("Correct!")
    assert sorted(slips) == sorted(set(question.letters) - {right})  # every wrong letter
    for letter, words in slips.items():
        assert not check_answer(letter, question)
        assert words in capsys.readouterr().out, letter


def test_every_lesson_question_has_its_answer_written_above():
    assert sorted(name for name, _ in every_notebook_question()) == sorted(
        f"{nb}.{name}" for nb, name, _, _ in LESSON_ANSWERS)
