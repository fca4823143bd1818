"""Checkers for notebook 04 (stage 1: finding the pancreas on plain CT).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in, never typed in, so the checks follow the data.
"""

from __future__ import annotations

import numpy as np

from ..metrics import dice
from ..pipeline.stage1 import clean_mask
from .feedback import as_array, close_to, feedback, is_answered
from .inputs import mask_and_reference, mask_list, not_empty, same_shape

DICE_SLACK = 0.005  # a threshold whose Dice is this close to the best one counts as best
CANDIDATES = tuple(round(0.30 + 0.05 * k, 2) for k in range(12))  # 0.30, 0.35 ... 0.85


def check_majority_vote(answer, atlas_masks) -> bool:
    """Exercise 1: fuse the warped atlas masks by majority vote (more than half the atlases).
    ``atlas_masks`` must hold at least one mask, all of one shape
    (:class:`helpers.exercises.inputs.ExerciseInputError` otherwise)."""
    stack = mask_list(atlas_masks, "atlas_masks")
    expected = stack.mean(0) > 0.5
    if not is_answered(answer):
        return feedback(False, "", "replace None with a boolean array: True where more than "
                        "half of the atlases say 'pancreas'.")
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


def threshold_scores(probability, hu, reference, candidates=CANDIDATES):
    """Dice after :func:`helpers.pipeline.stage1.clean_mask` per candidate threshold (a dict)."""
    truth = as_array(reference) > 0
    return {round(float(t), 2): dice(clean_mask(probability, hu, float(t)), truth)
            for t in candidates}


def check_threshold(answer, probability, hu, reference) -> bool:
    """Exercise 2: the probability threshold with the best Dice on the validation patient.
    ``probability``, ``hu`` and ``reference`` must be of one scan (one shape), the reference
    not empty (:class:`helpers.exercises.inputs.ExerciseInputError` otherwise)."""
    same_shape({"probability": probability, "hu": hu, "reference": reference})
    not_empty(reference, "reference", "no threshold can be scored against it")
    scores = threshold_scores(probability, hu, reference)
    best_t = max(scores, key=scores.get)
    if not is_answered(answer) or not close_to(answer, 0.5, 0.5):
        return feedback(False, "", "give one threshold between 0 and 1 (a probability).")
    mine = dice(clean_mask(probability, hu, float(answer)), as_array(reference) > 0)
    if mine >= scores[best_t] - DICE_SLACK:
        return feedback(True, f"threshold {float(answer):.2f} gives Dice {mine:.3f} on the "
                        f"validation patient (best on the grid: {best_t:.2f} -> "
                        f"{scores[best_t]:.3f}). Chosen on validation data, so the test patients "
                        "stay untouched.", "")
    return feedback(False, "", f"threshold {float(answer):.2f} gives Dice {mine:.3f}; some "
                    f"threshold does better ({scores[best_t]:.3f}). Loop over candidates, clean "
                    "each mask with stage1.clean_mask and keep the best Dice.")


def expected_volumes(mask, reference) -> tuple[float, float]:
    """(mask volume in mL, signed volume error in % of the reference)."""
    voxel_ml = float(np.prod(reference.GetSpacing())) / 1000
    found = int(np.count_nonzero(as_array(mask)))
    truth = int(np.count_nonzero(as_array(reference)))
    return found * voxel_ml, 100 * (found - truth) / truth


def check_volume(volume_ml, error_pct, mask, reference) -> bool:
    """Exercise 3: a mask's volume in millilitres and its signed error against the reference.
    ``mask`` and ``reference`` must be binary SimpleITK masks on one grid, the reference not
    empty (:class:`helpers.checks.InputError`, naming what is wrong, otherwise)."""
    mask_and_reference(mask, reference)
    expected_ml, expected_pct = expected_volumes(mask, reference)
    voxels = int(np.count_nonzero(as_array(mask)))
    if not close_to(volume_ml, expected_ml, 0.05):
        if close_to(volume_ml, voxels, 0.5):
            hint = "that is a count of voxels; multiply by one voxel's volume (3 x 3 x 3 mm)."
        elif close_to(volume_ml, expected_ml * 1000, 50):
            hint = "that is in mm³; 1 mL = 1 cm³ = 1000 mm³."
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
