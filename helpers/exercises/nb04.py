"""Checkers for notebook 04 (stage 1: finding the pancreas on plain CT).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in, never typed in, so the checks follow the data.
"""

from __future__ import annotations

import numpy as np

from ..metrics import dice
from ..pipeline.stage1 import THRESHOLDS, clean_mask
from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .inputs import mask_and_reference, mask_list, not_empty, same_shape
from .quiz import Question

DICE_TIE = 1e-9  # thresholds whose Dice equals the best one (to rounding) are all best
CANDIDATES = tuple(round(0.30 + 0.05 * k, 2) for k in range(12))  # 0.30, 0.35 ... 0.85


def check_majority_vote(answer, atlas_masks) -> bool:
    """Exercise 1: fuse the warped atlas masks by majority vote (more than half the atlases).
    ``atlas_masks`` must hold at least one mask, all of one shape
    (:class:`helpers.exercises.inputs.ExerciseInputError` otherwise)."""
    stack = mask_list(atlas_masks, "atlas_masks")
    expected = stack.mean(0) > 0.5
    if not is_answered(answer):
        return not_answered("replace None with a boolean array: True where more than half of "
                            "the atlases say 'pancreas', then run this cell again.")
    answer = np.asarray(answer)
    if answer.shape != expected.shape:
        return feedback(False, "", f"your array has shape {answer.shape}; the fused mask must "
                        f"have the scan's shape {expected.shape}. Average over axis 0 (the "
                        "atlases), not over the image axes.")
    answer = answer.astype(bool)
    if np.array_equal(answer, expected):
        return feedback(True, f"{int(expected.sum())} voxels are pancreas for at least "
                        f"{len(stack) // 2 + 1} of {len(stack)} atlases. One atlas's mistake is "
                        "outvoted by the others.", "")
    if np.array_equal(answer, stack.any(0)):
        hint = ("that is the union: every voxel any atlas claims. Each atlas's mistakes are "
                "all kept. Count the votes instead.")
    elif np.array_equal(answer, stack.all(0)):
        hint = "that is the intersection (all atlases agree): far too strict. Count the votes."
    elif np.array_equal(answer, stack.mean(0) >= 0.5):
        hint = (f"almost: with {len(stack)} atlases a tie (exactly half) is possible, and a tie "
                "is not a majority. Use > 0.5.")
    else:
        hint = "average the stacked masks over the atlas axis and keep voxels above 0.5."
    return feedback(False, "", hint)


def votes_needed(n_atlases: int, threshold: float) -> int:
    """The fewest atlases whose share reaches ``threshold`` (the pipeline keeps a voxel whose
    vote share is at least the threshold)."""
    return int(np.ceil(round(float(threshold) * n_atlases, 9)))


def check_atlas_vote(answer, atlas_masks, threshold=None) -> bool:
    """Exercise 1: fuse the warped atlas masks with the pipeline's vote rule: a voxel is
    pancreas when the share of atlases voting for it is at least ``threshold`` (default the
    pipeline's ``stage1.THRESHOLDS["atlas"]``; :func:`helpers.pipeline.stage1.clean_mask`
    keeps ``score >= threshold``). ``atlas_masks`` must hold at least one mask, all of one
    shape (:class:`helpers.exercises.inputs.ExerciseInputError` otherwise)."""
    masks = list(atlas_masks) if atlas_masks is not None else []
    shape = np.shape(as_array(masks[0])) if masks else None
    if is_answered(answer):
        answer = as_array(answer)  # a SimpleITK image read as an array, not pixel by pixel
    if is_answered(answer) and masks and np.shape(answer) != shape:
        mask_list(masks, "atlas_masks")  # refuses bad inputs before any hint
        return feedback(False, "", f"your array has shape {np.shape(answer)}; the fused mask "
                        f"must have the scan's shape {shape}. Average over axis 0 (the "
                        "atlases), not over the image axes.")
    stack = mask_list(masks, "atlas_masks")
    threshold = THRESHOLDS["atlas"] if threshold is None else float(threshold)
    n = len(stack)
    votes = stack.sum(0)
    needed = votes_needed(n, threshold)
    expected = votes >= needed
    if not is_answered(answer):
        return not_answered("replace None with a boolean array: True where the share of atlases "
                            "saying 'pancreas' reaches stage1.THRESHOLDS['atlas'], then run this "
                            "cell again.")
    try:
        answer = np.asarray(answer).astype(bool)
    except (TypeError, ValueError):
        return feedback(False, "", "give a boolean array (True = pancreas).")
    if np.array_equal(answer, expected):
        majority = int((votes > n / 2).sum())
        why = (" The pipeline accepts a larger mask so that a lesion at the gland's edge stays "
               "inside it." if needed <= n // 2 else "")
        return feedback(True, f"{int(expected.sum())} voxels have at least {needed} of {n} "
                        f"atlases' votes (a share of at least {threshold:g}); a majority vote "
                        f"would keep {majority}.{why}", "")
    if np.array_equal(answer, votes > n / 2) or np.array_equal(answer, votes >= n / 2):
        hint = ("that is a majority vote (more than half, or half). The pipeline keeps a voxel "
                "when fewer atlases agree: read the threshold from stage1.THRESHOLDS['atlas'].")
    elif np.array_equal(answer, stack.any(0)):
        hint = ("that is the union: every voxel any atlas claims. Each atlas's mistakes are "
                "all kept. Count the votes instead.")
    elif np.array_equal(answer, stack.all(0)):
        hint = "that is the intersection (all atlases agree): far too strict. Count the votes."
    elif np.array_equal(answer, votes >= needed + 1):
        hint = (f"one vote too strict: that keeps voxels with at least {needed + 1} votes. "
                "Keep voxels whose *share* of votes is at least the threshold (>=).")
    elif needed > 1 and np.array_equal(answer, votes >= needed - 1):
        hint = (f"one vote too lenient: that keeps voxels with {needed - 1} votes, whose share "
                "is below the threshold.")
    else:
        hint = ("average the stacked masks over the atlas axis (the share of 'pancreas' votes) "
                "and keep voxels where it is at least stage1.THRESHOLDS['atlas'].")
    return feedback(False, "", hint)


_LAST_SCORES: dict = {}  # the last inputs scored and their scores (a checker is called often)


def threshold_scores(probability, hu, reference, candidates=CANDIDATES):
    """Dice after :func:`helpers.pipeline.stage1.clean_mask` per candidate threshold (a dict).
    The last result is kept, keyed by the inputs' identity and a checksum of their values, so
    that calling a checker again on the same scan does not redo the twelve clean-ups."""
    truth = as_array(reference) > 0
    probability, hu = np.asarray(probability), np.asarray(hu)
    key = (id(probability), id(hu), tuple(candidates), float(np.sum(probability, dtype=float)),
           float(np.sum(hu, dtype=float)), int(np.count_nonzero(truth)), truth.shape)
    if _LAST_SCORES.get("key") != key:
        _LAST_SCORES.update(key=key, scores={
            round(float(t), 2): dice(clean_mask(probability, hu, float(t)), truth)
            for t in candidates})
    return dict(_LAST_SCORES["scores"])


def check_threshold(answer, probability, hu, reference) -> bool:
    """The probability threshold with the best Dice on the validation patient (one answer;
    notebook 04's Exercise 2 uses :func:`check_threshold_and_dice`). ``probability``, ``hu``
    and ``reference`` must be of one scan (one shape), the reference not empty
    (:class:`helpers.exercises.inputs.ExerciseInputError` otherwise)."""
    same_shape({"probability": probability, "hu": hu, "reference": reference})
    not_empty(reference, "reference", "no threshold can be scored against it")
    if not is_answered(answer):
        return not_answered("replace None with the candidate threshold (from ex.CANDIDATES) "
                            "whose cleaned mask has the best Dice, then run this cell again.")
    ok, message = _threshold_verdict(answer, threshold_scores(probability, hu, reference))
    return feedback(ok, message if ok else "", "" if ok else message)


def _threshold_verdict(answer, scores: dict) -> tuple[bool, str]:
    """(is ``answer`` a best candidate, the praise or the hint)."""
    if not close_to(answer, 0.5, 0.5):
        return False, "give one threshold between 0 and 1 (a probability)."
    best = max(scores.values())
    answer = round(float(answer), 2)
    if answer not in scores:
        return False, (f"{answer:.2f} is not one of ex.CANDIDATES; score each candidate and "
                       "keep the one with the best Dice.")
    if scores[answer] >= best - DICE_TIE:
        return True, (f"threshold {answer:.2f} gives the best Dice on the validation patient "
                      f"({best:.3f}). Chosen on validation data, so the test patients stay "
                      "untouched.")
    return False, _threshold_slip(answer, scores)


def check_threshold_and_dice(threshold, best_dice, probability, hu, reference) -> bool:
    """Exercise 2: the candidate threshold with the best Dice after clean-up on the validation
    patient, and that Dice, as the student's code computed it (a typed, rounded value is
    refused with a hint: the Dice must come from the measurement). Same inputs as
    :func:`check_threshold`. The Dice is judged first, then the threshold."""
    same_shape({"probability": probability, "hu": hu, "reference": reference})
    not_empty(reference, "reference", "no threshold can be scored against it")
    if not (is_answered(threshold) and is_answered(best_dice)):
        return not_answered("replace both Nones: the candidate threshold (from ex.CANDIDATES) "
                            "whose cleaned mask has the best Dice, and that Dice, then run this "
                            "cell again.")
    scores = threshold_scores(probability, hu, reference)
    best = max(scores.values())
    if not close_to(best_dice, best, 1e-6):
        return feedback(False, "", _dice_slip(best_dice, threshold, scores))
    ok, message = _threshold_verdict(threshold, scores)
    if not ok:
        return feedback(False, "", f"the Dice is the best one; the threshold is not. {message}")
    return feedback(True, message, "")


def _dice_slip(best_dice, threshold, scores: dict) -> str:
    """Why a Dice answer is not the best candidate's, as far as we can tell (compares the
    threshold answer without close_to: only the Dice is judged here)."""
    best = max(scores.values())
    try:
        mine = scores.get(round(float(threshold), 2))
        value = float(best_dice)
    except (TypeError, ValueError):
        return "give the best Dice as one number between 0 and 1, computed in code."
    if mine is not None and abs(value - mine) <= 1e-6 and mine < best - DICE_TIE:
        return ("that is the Dice of your threshold, but another candidate does better. "
                + _threshold_slip(round(float(threshold), 2), scores))
    if abs(value - best) <= 5e-4:
        return ("the Dice looks rounded: pass the value your code computed (for example "
                "dice_at[threshold]), not a number typed from a printout.")
    if abs(value - 100 * best) <= 0.1:
        return "the Dice is a percentage here; Dice runs from 0 to 1."
    return ("give the best Dice over ex.CANDIDATES: for each threshold, "
            "metrics.dice(stage1.clean_mask(prob_v, hu_v, threshold), reference), and keep the "
            "largest, with its threshold.")


def _threshold_slip(answer: float, scores: dict) -> str:
    """Why a candidate threshold that is not the best was chosen, as far as we can tell."""
    best_t = max(scores, key=scores.get)
    mine = f"threshold {answer:.2f} gives Dice {scores[answer]:.3f}, the best gives " \
           f"{scores[best_t]:.3f}"
    if scores[answer] <= min(scores.values()) + DICE_TIE:
        return f"{mine}: that is the *worst* candidate. Keep the maximum Dice, not the minimum."
    if answer == THRESHOLDS["classifier"]:
        return (f"{mine}: that is the pipeline's default, chosen on other validation patients. "
                "Score every candidate on this patient.")
    if abs(answer - best_t) < 0.051:
        return (f"{mine}: close, but a neighbouring candidate does better. Read the Dice of "
                "every candidate, not the curve by eye.")
    return f"{mine}. Loop over ex.CANDIDATES, clean each mask and keep the best Dice."


def expected_volumes(mask, reference) -> tuple[float, float]:
    """(mask volume in mL, signed volume error in % of the reference)."""
    voxel_ml = float(np.prod(reference.GetSpacing())) / 1000
    found = int(np.count_nonzero(as_array(mask)))
    truth = int(np.count_nonzero(as_array(reference)))
    return found * voxel_ml, 100 * (found - truth) / truth


def _reference_ml(reference) -> float:
    voxel_ml = float(np.prod(reference.GetSpacing())) / 1000
    return int(np.count_nonzero(as_array(reference))) * voxel_ml


def check_volume(volume_ml, error_pct, mask, reference) -> bool:
    """Exercise 3: a mask's volume in millilitres and its signed error against the reference.
    ``mask`` and ``reference`` must be binary SimpleITK masks on one grid, the reference not
    empty (:class:`helpers.checks.InputError`, naming what is wrong, otherwise)."""
    mask_and_reference(mask, reference)
    expected_ml, expected_pct = expected_volumes(mask, reference)
    voxels = int(np.count_nonzero(as_array(mask)))
    if not (is_answered(volume_ml) and is_answered(error_pct)):
        return not_answered("replace both Nones: the mask's volume in mL and its signed error "
                            "in %, then run this cell again.")
    if not close_to(volume_ml, expected_ml, 0.05):
        if close_to(volume_ml, voxels, 0.5):
            hint = "that is a count of voxels; multiply by one voxel's volume (3 x 3 x 3 mm)."
        elif close_to(volume_ml, expected_ml * 1000, 50):
            hint = "that is in mm³; 1 mL = 1 cm³ = 1000 mm³."
        elif close_to(volume_ml, _reference_ml(reference), 0.05):
            hint = "that is the reference's volume; measure the found mask."
        else:
            hint = "volume = voxels x (product of the spacing in mm) / 1000 mL."
        return feedback(False, "", hint)
    if not close_to(error_pct, expected_pct, 0.1):
        hint = ("check the sign: error = (found - reference) / reference x 100, negative "
                "when the mask is too small." if close_to(error_pct, -expected_pct, 0.1)
                else "error = (found - reference) / reference x 100, in percent.")
        return feedback(False, "", f"the volume is right ({expected_ml:.1f} mL); {hint}")
    return feedback(True, f"{expected_ml:.1f} mL, {expected_pct:+.1f} % against the reference.",
                    "")


QUIZ_CHOOSE_ON = Question(
    "where to choose a threshold", answer="B",
    why="settings are chosen on validation data; the test patients are kept for the final, "
        "unbiased measurement.",
    slips={"A": "choosing on the test patients leaks their answers into the method: the test "
                "Dice would then be optimistic, and nothing untouched would be left to measure.",
           "C": "on its own training patients the forest has seen every label: its "
                "probabilities there are too confident, so the threshold would not suit new "
                "scans.",
           "D": "pooling includes the test patients, so the final measurement is no longer on "
                "untouched data."})
