"""Checkers for notebook 07 (the whole pipeline, and what it does not tell us).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
numbers passed in (with :func:`helpers.pipeline.screening.screening_outcome`), never typed in.
PANDA's published real-world sensitivity and specificity are for detecting **any pancreatic
lesion** (cysts included), so the screening exercises count lesions, not cancers.
"""

from __future__ import annotations

import numpy as np

from ..pipeline.reader_compare import SMALL_LESION_MM, small_lesion_mask, subset_auc
from ..pipeline.screening import screening_outcome
from .feedback import close_to, feedback, is_answered, not_answered
from .inputs import some_scores
from .quiz import Question

PPV_TOLERANCE = 5e-4  # a PPV typed to three decimals passes
MIDDLE_TOLERANCE = 1e-4  # the middle of a gap between two scores, computed from the arrays


def check_ppv(answer, sensitivity, specificity, prevalence) -> bool:
    """Exercise 1: the positive predictive value (a fraction) of a lesion-screening test: the
    share of positive results that have a lesion."""
    expected = screening_outcome(sensitivity, specificity, prevalence).ppv
    if not is_answered(answer):
        return not_answered("replace None with a number between 0 and 1 (the share of "
                            "positive results that have a lesion), then run this cell again.")
    if close_to(answer, expected, PPV_TOLERANCE):
        return feedback(True, f"PPV = {expected:.4f}: {100 * expected:.1f} % of the people "
                        f"recalled have a pancreatic lesion, and {100 * (1 - expected):.1f} % "
                        "are false alarms. A positive says 'a lesion is there', not 'cancer': "
                        "the figures count any lesion, cysts included.", "")
    if close_to(answer, 100 * expected, 0.1):
        return feedback(False, "", "that is a percentage; give the PPV as a fraction (0..1).")
    if close_to(answer, sensitivity / (sensitivity + 1 - specificity), 1e-4):
        hint = ("you left out the prevalence: weigh the sensitivity by the share who have a "
                "lesion and the false-positive rate by the share who have none.")
    elif close_to(answer, sensitivity, 1e-4):
        hint = ("that is the sensitivity: P(positive | lesion). The PPV turns it round: "
                "P(lesion | positive).")
    elif close_to(answer, specificity, 1e-4):
        hint = "that is the specificity; the PPV counts true positives among all positives."
    elif close_to(answer, expected, 0.01):
        hint = ("close, but not within rounding: compute it from the formula with the exact "
                "numbers, not from rounded ones.")
    else:
        hint = ("PPV = sens x prev / (sens x prev + (1 - spec) x (1 - prev)): true positives "
                "over all positives.")
    return feedback(False, "", hint)


def check_false_alarms_per_lesion(answer, sensitivity, specificity, prevalence,
                                  screened: int = 100_000) -> bool:
    """Exercise 2: people without a lesion recalled for each lesion found."""
    out = screening_outcome(sensitivity, specificity, prevalence, screened)
    expected = out.false_alarms_per_case_found
    if not is_answered(answer):
        return not_answered("replace None with one number (people without a lesion recalled "
                            "per lesion found), then run this cell again.")
    if close_to(answer, expected, max(5e-4, 1e-3 * expected)):
        return feedback(True, f"{out.false_positives:,.0f} false alarms for "
                        f"{out.true_positives:,.0f} lesions found among {screened:,} people: "
                        f"{expected:.3f} per lesion found.", "")
    if expected and close_to(answer, 1 / expected, 1e-3 / expected):
        hint = ("that is upside down: false alarms (no lesion, positive) over lesions found.")
    elif close_to(answer, out.false_positives, 1):
        hint = (f"that is the number of false alarms among {screened:,} people; divide by the "
                "number of lesions found.")
    elif close_to(answer, out.false_positives / (screened * prevalence), 1e-3):
        hint = ("you divided by every lesion, found or not; divide by the lesions found "
                "(sensitivity x the people who have a lesion).")
    elif close_to(answer, expected, 0.05 * expected):
        hint = ("close, but not within rounding: compute it with the exact numbers, not from "
                "rounded ones.")
    else:
        hint = ("false alarms = (1 - spec) x people without a lesion; lesions found = sens x "
                "people with a lesion; divide the first by the second.")
    return feedback(False, "", hint)


def specificity_at(threshold, healthy_scores) -> float:
    """The share of healthy scores below ``threshold`` (a score at or above it is positive)."""
    return float(np.mean(np.asarray(healthy_scores, float) < float(threshold)))


def score_gap(healthy_scores, lesion_scores, target: float = 1.0) -> tuple[float, float]:
    """``(bar, top)``: the thresholds that reach ``target`` specificity on ``healthy_scores``
    and lose no lesion for nothing are those above ``bar`` (the highest healthy score that must
    stay below the threshold; 0 when none must) and at most ``top`` (the lowest lesion score
    above ``bar``; 1, the highest possible score, when no lesion scores above it)."""
    healthy = np.sort(some_scores(healthy_scores, "healthy_scores"))
    lesion = some_scores(lesion_scores, "lesion_scores")
    allowed = int(np.floor(len(healthy) * (1 - target) + 1e-9))  # false alarms allowed
    bar = float(healthy[len(healthy) - allowed - 1]) if allowed < len(healthy) else 0.0
    above = lesion[lesion > bar]
    return bar, float(above.min()) if len(above) else max(1.0, bar)


def check_threshold(answer, healthy_scores, lesion_scores, target: float = 1.0,
                    middle: bool = False) -> bool:
    """Exercise 3: a threshold that reaches ``target`` specificity on ``healthy_scores`` while
    losing no lesion for nothing: above the highest healthy score that must not be flagged and
    at most the lowest lesion score above it (:func:`score_gap`). ``middle=True`` (the
    notebook's exercise) asks for the one threshold halfway across that gap, a margin on both
    sides. Both lists of scores must be non-empty and finite
    (:class:`helpers.exercises.inputs.ExerciseInputError`)."""
    healthy = some_scores(healthy_scores, "healthy_scores")
    lesion = some_scores(lesion_scores, "lesion_scores")
    if not is_answered(answer):
        return not_answered("replace None with one threshold between 0 and 1 (a score), then "
                            "run this cell again.")
    if not close_to(answer, 0.5, 0.5):
        return feedback(False, "", "give one threshold between 0 and 1 (a score).")
    answer = float(answer)
    bar, top = score_gap(healthy, lesion, target)
    half = 0.5 * (bar + top)
    spec = specificity_at(answer, healthy)
    kept, best = int(np.sum(lesion >= answer)), int(np.sum(lesion > bar))
    success = (f"specificity {100 * spec:.0f} % on these {len(healthy)} healthy patients; "
               f"{kept} of {len(lesion)} lesion patients still flagged (sensitivity "
               f"{100 * kept / max(len(lesion), 1):.0f} %).")
    if middle and close_to(answer, half, MIDDLE_TOLERANCE):
        return feedback(True, f"threshold {half:.4f}, halfway across the gap: {success}", "")
    if spec < target - 1e-9:
        flagged = int(np.sum(healthy >= answer))
        extra = (" A score equal to the threshold is flagged (at or above), so the threshold "
                 "must lie strictly above it." if close_to(answer, bar, 1e-9) else "")
        if middle and close_to(answer, 0.5 * (bar + lesion.min()), MIDDLE_TOLERANCE):
            extra = (" You went halfway to the lowest lesion score of all, but it lies below "
                     "the highest healthy one: use the lowest lesion score *above* it.")
        return feedback(False, "", f"at {answer:.3f}, {flagged} healthy patient(s) still score "
                        f"at or above it (specificity {100 * spec:.0f} %). Go above the highest "
                        f"healthy score that must not be flagged.{extra}")
    if kept < best:
        extra = (" That is halfway to the highest lesion score; stop at the lowest one above "
                 "the healthy scores." if middle and close_to(
                     answer, 0.5 * (bar + lesion.max()), MIDDLE_TOLERANCE) else "")
        return feedback(False, "", f"specificity is reached, but only {kept} of {len(lesion)} "
                        f"lesion patients stay at or above {answer:.3f}, where a lower "
                        f"threshold keeps {best}. Do not give away sensitivity for nothing."
                        f"{extra}")
    if not middle:
        return feedback(True, success, "")
    if close_to(answer, half, 5e-3):
        return feedback(False, "", "close: you are in the right gap and near its middle, but "
                        "compute it from the arrays, not from the rounded scores of the table.")
    return feedback(False, "", "every healthy patient is below it and no lesion is lost: the "
                    "right gap. Now place the threshold in its middle: halfway between the "
                    "highest healthy score and the lowest lesion score above it.")


QUIZ_FEW_PATIENTS = Question(
    "a rate on a few patients", answer="C",
    why="with a handful of healthy patients, every one of them is a large step of specificity; "
        "the 95 % interval is wide and includes much lower values.",
    slips={"A": "a few patients cannot show that; a rate of 100 % on five patients is "
                "compatible with a far lower true rate.",
           "B": "PANDA's 99.9 % rests on 20,530 patients; a handful of patients cannot be "
                "compared with it in either direction.",
           "D": "the number of patients, not the threshold, is what limits this claim."})


AUC_TOLERANCE = 5e-4  # an AUC typed to three decimals passes


def check_small_lesion_auc(answer, comparison) -> bool:
    """Exercise 5: the ROC AUC of the student's own ratings on the small lesions only (nominal
    diameter below :data:`helpers.pipeline.reader_compare.SMALL_LESION_MM`) against every
    healthy patient. ``comparison``: the lesson's :class:`~helpers.pipeline.reader_compare.
    Comparison` (None until every patient is rated). The value is shown nowhere."""
    if comparison is None:
        return not_answered("rate every patient in the reader first (Exercise 4); this "
                            "exercise is about your own ratings.")
    if not is_answered(answer):
        return not_answered("replace None with your AUC on the small lesions (a number "
                            "between 0 and 1), then run this cell again.")
    keep = small_lesion_mask(comparison)
    expected = subset_auc(comparison, keep)
    if close_to(answer, expected, AUC_TOLERANCE):
        model = subset_auc(comparison, keep, comparison.model.scores)
        return feedback(True, f"on the {int((keep & comparison.truth).sum())} lesions under "
                        f"{SMALL_LESION_MM:.0f} mm your AUC is {expected:.3f}, against "
                        f"{subset_auc(comparison, keep | True):.3f} on every lesion; the "
                        f"model's is {model:.3f} there. With this few lesions, one rating more "
                        "or less moves it a lot.", "")
    return feedback(False, "", _small_auc_hint(answer, comparison, keep, expected))


def _small_auc_hint(answer, comparison, keep, expected) -> str:
    """The likely slip behind a wrong small-lesion AUC."""
    if close_to(answer, 100 * expected, 0.05):
        return "that is a percentage; give the AUC as a fraction (0..1)."
    if close_to(answer, subset_auc(comparison, keep | True), AUC_TOLERANCE):
        return ("that is your AUC on every patient; keep the healthy patients and only the "
                f"lesions under {SMALL_LESION_MM:.0f} mm (lesion_diameter_mm).")
    if close_to(answer, subset_auc(comparison, keep, comparison.model.scores), AUC_TOLERANCE):
        return "that is the model's AUC on those patients; use your own ratings."
    if close_to(answer, 1 - expected, AUC_TOLERANCE):
        return ("upside down: a higher rating means 'more likely a lesion', so pass the "
                "ratings as scores and the lesion patients as the positive class.")
    large = ~comparison.truth | ~keep
    if close_to(answer, subset_auc(comparison, large), AUC_TOLERANCE):
        return (f"that is your AUC on the large lesions; keep those under "
                f"{SMALL_LESION_MM:.0f} mm.")
    return (f"keep every healthy patient and the lesion patients whose lesion_diameter_mm is "
            f"under {SMALL_LESION_MM:.0f}, then compute the ROC AUC of your ratings on them "
            "(evaluation.roc(truth, ratings)['auc']).")
