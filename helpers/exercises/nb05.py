"""Checkers for notebook 05 (stage 2: finding a lesion on plain CT).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in, never typed in, so the checks follow the data.
"""

from __future__ import annotations

import numpy as np

from .feedback import close_to, feedback, is_answered, not_answered
from .feedback import close_to as _near  # cross-checks in hints: each answer is judged in turn
from .inputs import scores_and_labels
from .quiz import Question

EXACT = 1e-6  # computed answers must match to this: a value typed from a printout is rounded


def rates(scores, abnormal, threshold: float) -> tuple[float, float]:
    """``(sensitivity, specificity)`` when a case is called abnormal at ``score >= threshold``."""
    scores, abnormal = np.asarray(scores, float), np.asarray(abnormal, bool)
    called = scores >= threshold
    return float(called[abnormal].mean()), float((~called[~abnormal]).mean())


def best_threshold(scores, abnormal, specificity: float = 0.95) -> tuple[float, float, float]:
    """The most sensitive rule that keeps ``specificity``: ``(highest healthy score that must
    stay below the threshold, best sensitivity, the smallest such threshold among the
    scores)``. Any threshold above the first value and at most the third is equally good."""
    scores, abnormal = np.asarray(scores, float), np.asarray(abnormal, bool)
    healthy = np.sort(scores[~abnormal])[::-1]
    allowed = int(np.floor((1 - specificity) * len(healthy) + 1e-9))  # false alarms allowed
    bar = float(healthy[allowed]) if allowed < len(healthy) else -np.inf
    above = scores[abnormal][scores[abnormal] > bar]
    lowest = float(above.min()) if len(above) else float(np.nextafter(bar, np.inf))
    return bar, float(len(above) / abnormal.sum()), lowest


def check_threshold_for_specificity(answer, scores, abnormal, specificity: float = 0.95,
                                    among_scores: bool = False) -> bool:
    """Exercise 1: the threshold with the best sensitivity whose specificity on these (training)
    patients is at least ``specificity``. ``among_scores``: the threshold must also be one of
    the ``scores`` themselves (as scikit-learn's ``roc_curve`` picks them), so that a value
    typed from a rounded printout does not pass. ``scores`` and ``abnormal`` must be one per
    patient, with both groups present (:class:`helpers.exercises.inputs.ExerciseInputError`)."""
    scores, abnormal = scores_and_labels(scores, abnormal)
    if not is_answered(answer):
        return not_answered("replace None with one number: the threshold (a case is called "
                            "abnormal when its score is at least the threshold), then run this "
                            "cell again.")
    if not close_to(answer, 0.0, np.inf):
        return feedback(False, "", "give one number: the threshold (a case is called abnormal "
                        "when its score is at least the threshold).")
    answer = float(answer)
    bar, best_sens, _ = best_threshold(scores, abnormal, specificity)
    n_healthy = int((~np.asarray(abnormal, bool)).sum())
    if answer > 1 and close_to(answer / 100, 0.5, 0.5):
        return feedback(False, "", f"{answer:g} looks like a percentage; the scores run from "
                        "0 to 1, so the threshold does too.")
    sens, spec = rates(scores, abnormal, answer)
    alarms = round((1 - spec) * n_healthy)
    if spec < specificity - 1e-9:
        return feedback(False, "", f"at {answer:.3f}, {alarms} of the {n_healthy} patients "
                        f"without a lesion score at least the threshold: specificity "
                        f"{spec:.3f}, below the {specificity:.2f} asked for. Raise the threshold "
                        f"above the healthy score {bar:.3f}. (With {n_healthy} patients "
                        f"without a lesion, each false alarm costs {1 / n_healthy:.3f} of "
                        "specificity.)")
    if sens < best_sens - 1e-9:
        return feedback(False, "", f"specificity {spec:.3f} is fine, but sensitivity is only "
                        f"{sens:.3f}: the threshold is stricter than needed. Any value just above "
                        f"the healthy score {bar:.3f} keeps the specificity and finds more "
                        f"lesions (sensitivity {best_sens:.3f}).")
    if among_scores and not np.any(np.abs(np.asarray(scores, float) - answer) <= 1e-9):
        return feedback(False, "", f"that threshold works (specificity {spec:.3f}, sensitivity "
                        f"{sens:.3f}), but give it as one of the training scores, computed in "
                        "code: the lowest lesion score above the highest healthy score that must "
                        "stay below the threshold (not a number typed from a printout).")
    return feedback(True, f"threshold {answer:.3f}: specificity {spec:.3f} ({alarms} false "
                    f"alarm(s) among the {n_healthy} patients without a lesion), sensitivity "
                    f"{sens:.3f} on the training patients. Chosen on training data only; the "
                    "held-out patients will say whether it holds.", "")


def confusion_rates(matrix) -> tuple[float, float]:
    """``(sensitivity, specificity)`` from scikit-learn's 2 x 2 confusion matrix
    ``[[TN, FP], [FN, TP]]`` (rows: truth, columns: prediction)."""
    (tn, fp), (fn, tp) = np.asarray(matrix, float)
    return tp / (tp + fn), tn / (tn + fp)


def check_sensitivity_specificity(sensitivity, specificity, matrix) -> bool:
    """Exercise 2: sensitivity and specificity (fractions 0..1) from a confusion matrix."""
    matrix = np.asarray(matrix, float)
    if matrix.shape != (2, 2):
        return feedback(False, "", "pass the 2 x 2 confusion matrix from the notebook.")
    (tn, fp), (fn, tp) = matrix
    sens, spec = confusion_rates(matrix)
    if not (is_answered(sensitivity) and is_answered(specificity)):
        return not_answered("replace both Nones with fractions (0..1) computed from the matrix, "
                            "then run this cell again.")
    if _near(sensitivity, sens, 1e-3) and _near(specificity, spec, 1e-3) and not (
            _near(sensitivity, sens, EXACT) and _near(specificity, spec, EXACT)):
        return feedback(False, "", "nearly: those look rounded. Compute both fractions from the "
                        "four numbers in code (e.g. tp / (tp + fn)) instead of typing them.")
    if _near(sensitivity, 100 * sens, 0.05) and _near(specificity, 100 * spec, 0.05):
        return feedback(False, "", "right values, but in percent; give fractions between 0 "
                        "and 1.")
    if _near(sensitivity, spec, 1e-3) and _near(specificity, sens, 1e-3) and \
            abs(sens - spec) > 1e-3:
        return feedback(False, "", "you swapped them: sensitivity is about the patients who "
                        "have a lesion (bottom row), specificity about the healthy ones (top row).")
    if not close_to(sensitivity, sens, EXACT):
        ppv = tp / (tp + fp) if tp + fp else np.nan
        if close_to(sensitivity, ppv, 1e-3):
            hint = ("that is TP / (TP + FP), the precision (positive predictive value): "
                    "it divides by a column. Sensitivity divides by a row: all patients who "
                    "truly have a lesion, TP + FN.")
        elif close_to(sensitivity, tp / matrix.sum(), 1e-3):
            hint = "divide TP by the patients with a lesion (TP + FN), not by everyone."
        else:
            hint = ("scikit-learn's matrix has the truth in rows and the prediction in "
                    "columns: [[TN, FP], [FN, TP]]. Sensitivity = TP / (TP + FN).")
        return feedback(False, "", hint)
    if not close_to(specificity, spec, EXACT):
        npv = tn / (tn + fn) if tn + fn else np.nan
        hint = ("that divides by a column (TN + FN); specificity divides by the healthy row: "
                "TN / (TN + FP)." if close_to(specificity, npv, 1e-3)
                else "specificity = TN / (TN + FP): the healthy patients called healthy.")
        return feedback(False, "", f"sensitivity is right ({sens:.3f}); {hint}")
    return feedback(True, f"sensitivity {sens:.3f} ({int(tp)} of {int(tp + fn)} lesion "
                    f"patients called abnormal), specificity {spec:.3f} ({int(tn)} of "
                    f"{int(tn + fp)} healthy patients called normal).", "")


QUIZ_AUC = Question(
    "what an AUC means", answer="B",
    why="the AUC ranks cases: it is the chance that a random lesion patient scores higher than "
        "a random healthy one. It needs no threshold.",
    slips={"A": "that is accuracy, which needs a threshold; the AUC summarises every threshold "
                "at once.",
           "C": "sensitivity is read at one threshold (the operating point); the AUC does not "
                "fix one.",
           "D": "outlining is measured by the lesion Dice; the AUC only looks at case scores."})

QUIZ_LABELS = Question(
    "why register the labels", answer="C",
    why="the patient moves between the two scans, so the mask drawn on the contrast scan sits "
        "on the wrong voxels of the plain scan until registration moves it.",
    slips={"A": "registration does not make the lesion more visible; the plain scan stays as "
                "it is. It moves the mask.",
           "B": "the label comes from the contrast scan either way; registration decides "
                "where on the plain scan it lands.",
           "D": "the detector is trained and tested on plain CT; the contrast scan only "
                "supplies the label."})
