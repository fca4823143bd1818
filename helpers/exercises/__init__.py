"""Exercises: instant feedback for each notebook's exercises (one checker module per notebook).

:mod:`.feedback` holds what every checker shares (the printed verdict, tolerant comparisons);
``nb00`` ... ``nb07`` hold the checkers of each notebook::

    from helpers.exercises import nb02 as ex
    ex.check_window(answer)
"""

from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .quiz import Question, check_answer

__all__ = ["Question", "as_array", "check_answer", "close_to", "feedback", "is_answered",
           "not_answered"]
