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
