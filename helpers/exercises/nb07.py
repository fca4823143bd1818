"""Checkers for notebook 07 (the whole pipeline, and what it does not tell us).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
numbers passed in (with :func:`helpers.pipeline.screening.screening_outcome`), never typed in.
"""

from __future__ import annotations

import numpy as np

from ..pipeline.screening import screening_outcome
from .feedback import close_to, feedback, is_answered, not_answered
from .inputs import some_scores
from .quiz import Question


def check_ppv(answer, sensitivity, specificity, prevalence) -> bool:
    """Exercise 1: the positive predictive value (a fraction) of a screening test."""
    expected = screening_outcome(sensitivity, specificity, prevalence).ppv
    if not is_answered(answer):
        return not_answered("replace None with a number between 0 and 1 (the share of "
                            "positive results that are real cancers), then run this cell again.")
    if close_to(answer, expected, 1e-3):
        return feedback(True, f"PPV = {expected:.4f}: only {100 * expected:.1f} % of the people "
                        "recalled have cancer, although the test is very specific.", "")
    if close_to(answer, 100 * expected, 0.1):
        return feedback(False, "", "that is a percentage; give the PPV as a fraction (0..1).")
    if close_to(answer, sensitivity / (sensitivity + 1 - specificity), 1e-3):
        hint = ("you left out the prevalence: weigh the sensitivity by the share who are ill and "
                "the false-positive rate by the share who are healthy.")
    elif close_to(answer, sensitivity, 1e-3):
        hint = ("that is the sensitivity: P(positive | cancer). The PPV turns it round: "
                "P(cancer | positive).")
    elif close_to(answer, specificity, 1e-3):
        hint = "that is the specificity; the PPV counts true positives among all positives."
    else:
        hint = ("PPV = sens x prev / (sens x prev + (1 - spec) x (1 - prev)): true positives "
                "over all positives.")
    return feedback(False, "", hint)


def check_false_alarms_per_cancer(answer, sensitivity, specificity, prevalence,
                                  screened: int = 100_000) -> bool:
    """Exercise 2: healthy people recalled for each cancer found."""
    out = screening_outcome(sensitivity, specificity, prevalence, screened)
    expected = out.false_alarms_per_cancer_found
    if not is_answered(answer):
        return not_answered("replace None with one number (healthy people recalled per cancer "
                            "found), then run this cell again.")
    if close_to(answer, expected, max(0.05, 0.005 * expected)):
        return feedback(True, f"{out.false_positives:,.0f} false alarms for "
                        f"{out.true_positives:,.0f} cancers found: {expected:.1f} per cancer "
                        "found.", "")
    if expected and close_to(answer, 1 / expected, 1e-3):
        hint = "that is upside down: false alarms (healthy, positive) over cancers found."
    elif close_to(answer, out.false_positives, 1):
        hint = (f"that is the number of false alarms among {screened:,} people; divide by the "
                "number of cancers found.")
    elif close_to(answer, out.false_positives / (screened * prevalence), 0.05):
        hint = ("you divided by every cancer, found or not; divide by the cancers found "
                "(sensitivity x the people who have cancer).")
    else:
        hint = ("false alarms = (1 - spec) x healthy people; cancers found = sens x people with "
                "cancer; divide the first by the second.")
    return feedback(False, "", hint)


def specificity_at(threshold, healthy_scores) -> float:
    """The share of healthy scores below ``threshold`` (a score at or above it is positive)."""
    return float(np.mean(np.asarray(healthy_scores, float) < float(threshold)))


def check_threshold(answer, healthy_scores, lesion_scores, target: float = 1.0) -> bool:
    """Exercise 3: the threshold that reaches ``target`` specificity on ``healthy_scores``
    while losing no lesion that the lowest such threshold keeps. Both lists of scores must
    be non-empty and finite (:class:`helpers.exercises.inputs.ExerciseInputError`)."""
    healthy = np.sort(some_scores(healthy_scores, "healthy_scores"))
    lesion = some_scores(lesion_scores, "lesion_scores")
    if not is_answered(answer):
        return not_answered("replace None with one threshold between 0 and 1 (a score), then "
                            "run this cell again.")
    if not close_to(answer, 0.5, 0.5):
        return feedback(False, "", "give one threshold between 0 and 1 (a score).")
    answer = float(answer)
    allowed_fp = int(np.floor(len(healthy) * (1 - target) + 1e-9))
    # the threshold must lie strictly above this healthy score (none: any threshold will do)
    lowest = healthy[len(healthy) - allowed_fp - 1] if allowed_fp < len(healthy) else -np.inf
    spec = specificity_at(answer, healthy)
    if spec < target - 1e-9:
        flagged = int(np.sum(healthy >= answer))
        return feedback(False, "", f"at {answer:.3f}, {flagged} healthy patient(s) still score "
                        f"at or above it (specificity {100 * spec:.0f} %). Go just above the "
                        "highest healthy score that must not be flagged.")
    kept = int(np.sum(lesion >= answer))
    best = int(np.sum(lesion > lowest))
    if kept < best:
        return feedback(False, "", f"specificity is reached, but only {kept} of {len(lesion)} "
                        f"lesion patients stay above {answer:.3f}; a lower threshold (just above "
                        f"{lowest:.3f}) keeps {best}. Do not give away sensitivity for nothing.")
    return feedback(True, f"specificity {100 * spec:.0f} % on these {len(healthy)} healthy "
                    f"patients; {kept} of {len(lesion)} lesion patients still flagged "
                    f"(sensitivity {100 * kept / max(len(lesion), 1):.0f} %).", "")


QUIZ_FEW_PATIENTS = Question(
    "a rate on a few patients", answer="C",
    why="with a handful of healthy patients, every one of them is a large step of specificity; "
        "the 95 % interval is wide and includes much lower values.",
    slips={"A": "a few patients cannot show that; a rate of 100 % on five patients is "
                "compatible with a far lower true rate.",
           "B": "PANDA's 99.9 % rests on 20,530 patients; a handful of patients cannot be "
                "compared with it in either direction.",
           "D": "the number of patients, not the threshold, is what limits this claim."})
