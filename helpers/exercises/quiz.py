"""Quick multiple-choice concept questions with instant feedback.

A lesson's markdown cell asks the question and lists the options by letter (A, B, C, ...);
the checker module of that notebook holds a :class:`Question` with the right letter, why it is
right, and one line per wrong option that names the slip behind it. The student sets
``answer = "B"`` (any case, spaces ignored) and runs::

    from helpers.exercises import nb01 as ex
    ex.check_answer(answer, ex.QUIZ_WINDOW)

The verdict never gives the right letter away: a wrong choice gets the explanation of its own
slip, an unset answer gets "Not answered yet" and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .feedback import feedback, is_answered, not_answered


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: ``answer`` is the right letter, ``why`` says why it is
    right, ``slips`` maps every wrong letter to a one-line explanation of its mistake."""

    name: str
    answer: str
    why: str
    slips: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        letters = [self.answer, *self.slips]
        if any(len(x) != 1 or not x.isalpha() or not x.isupper() for x in letters):
            raise ValueError(f"{self.name}: options must be single capital letters, got {letters}")
        if self.answer in self.slips or len(set(letters)) < 2:
            raise ValueError(f"{self.name}: give one right letter and at least one wrong one, "
                             "each wrong one with the slip it stands for")

    @property
    def letters(self) -> list[str]:
        """All the option letters, in order (e.g. ``["A", "B", "C"]``)."""
        return sorted([self.answer, *self.slips])


def _letter(answer) -> str | None:
    """The student's choice as one capital letter, or None when it is not a letter."""
    if not isinstance(answer, str):
        return None
    letter = answer.strip().strip("()").upper()
    return letter if len(letter) == 1 and letter.isalpha() else None


def check_answer(answer, question: Question) -> bool:
    """Check a letter against ``question``: print the verdict (and the slip if wrong)."""
    options = ", ".join(f'"{x}"' for x in question.letters)
    if not is_answered(answer):
        return not_answered(f"set answer to the letter of your choice (one of {options}), "
                            "then run this cell again.")
    letter = _letter(answer)
    if letter is None or letter not in question.letters:
        return feedback(False, "", f"{answer!r} is not one of the options: answer with one "
                        f"letter in quotes, one of {options}.")
    if letter == question.answer:
        return feedback(True, question.why, "")
    return feedback(False, "", f"{letter}: {question.slips[letter]} Think again and try "
                    "another letter.")
