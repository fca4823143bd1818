"""Checkers for notebook 02 (contrast versus plain CT, virtual patients).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
case passed in, never typed in, so the checks follow the data.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..checks import grid_difference
from ..metrics import dice as metrics_dice
from ..simulate import conspicuity, inverse_transform
from .feedback import as_array, close_to, feedback, is_answered

MIN_DICE = 0.75  # a transferred ~100-voxel lesion mask; sub-voxel errors cost a lot of Dice


def expected_contrast_hu(case, scan: str = "contrast") -> float:
    """Lesion minus surrounding pancreas (HU) on one scan of a case, via :func:`conspicuity`."""
    image, lesion, pancreas = ((case.contrast, case.lesion_contrast, case.pancreas_contrast)
                               if scan == "contrast" else
                               (case.plain, case.lesion_plain, case.pancreas_plain))
    return float(conspicuity(as_array(image), as_array(lesion), as_array(pancreas))["contrast_hu"])


def check_tumour_contrast(answer, case) -> bool:
    """Exercise 1: the tumour-to-pancreas contrast (HU) on the contrast scan."""
    expected = expected_contrast_hu(case, "contrast")
    if close_to(answer, expected, 1.0):
        return feedback(True, f"the lesion is {expected:+.0f} HU against the gland around it. "
                        "Its value was set about 65 HU below the gland (the sources report "
                        "about 60-70 HU); edge voxels that also hold gland or fat (partial "
                        "volume) pull the measured mean towards zero.", "")
    if close_to(answer, -expected, 1.0):
        hint = "check the sign: lesion minus pancreas, and a PDAC is darker (negative)."
    elif close_to(answer, expected_contrast_hu(case, "plain"), 1.0):
        hint = "that is the plain scan; measure on case.contrast with the contrast-space masks."
    elif is_answered(answer):
        hint = ("use conspicuity(image, lesion, pancreas) with the three arrays of the "
                "contrast scan (case.contrast, case.lesion_contrast, case.pancreas_contrast) "
                "and read its 'contrast_hu'.")
    else:
        hint = "replace None with your number."
    return feedback(False, "", hint)


def check_landmark_in_contrast(answer, case, i: int = 0) -> bool:
    """Exercise 2: where plain-scan landmark ``i`` lies in the contrast scan (mm)."""
    plain = tuple(float(v) for v in case.landmarks_plain[i])
    expected = np.asarray(case.transform.TransformPoint(plain))
    if close_to(answer, expected, 0.01):
        moved = np.linalg.norm(expected - np.asarray(plain))
        return feedback(True, f"the point moved {moved:.1f} mm between the two scans.", "")
    if not is_answered(answer):
        hint = "replace None with the point (x, y, z) in mm."
    elif close_to(answer, plain, 0.01):
        hint = "that is the plain-scan point itself: the anatomy moved; apply case.transform."
    elif close_to(answer, _backwards(case, plain), 0.5):
        hint = ("you went the wrong way: case.transform maps plain -> contrast, so use "
                "case.transform.TransformPoint(point), not its inverse.")
    else:
        hint = ("pass the point as a tuple of three floats: "
                "case.transform.TransformPoint(tuple(case.landmarks_plain[0])).")
    return feedback(False, "", hint)


def _backwards(case, point):
    return np.asarray(inverse_transform(case).TransformPoint(point))


def dice(a, b) -> float:
    """Dice overlap of two binary masks (1 = identical, 0 = disjoint; two empty masks: 1)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return metrics_dice(a, b) if (a.any() or b.any()) else 1.0


def check_transferred_mask(answer, case) -> bool:
    """Exercise 3: the contrast-scan lesion mask carried onto the plain scan's grid."""
    if not isinstance(answer, sitk.Image):
        return feedback(False, "", "give a SimpleITK image on the plain grid: the result of "
                        "sitk.Resample(...).")
    difference = (f"{answer.GetDimension()}-D, not 3-D" if answer.GetDimension() != 3
                  else grid_difference(answer, case.plain))
    if difference:  # all four (size, spacing, origin, direction) must match, not two
        return feedback(False, "", f"your mask is not on the plain scan's grid ({difference}"
                        "): resample onto it by passing case.plain as the reference image.")
    truth = as_array(case.lesion_plain)
    found = as_array(answer) > 0.5
    score = dice(found, truth)
    if score >= MIN_DICE:
        untouched = dice(as_array(case.lesion_contrast), truth)
        return feedback(True, f"Dice {score:.2f} with the true plain-scan mask (the mask "
                        f"without registration scores {untouched:.2f}).", "")
    hint = (f"Dice is {score:.2f}, need {MIN_DICE}. sitk.Resample(case.lesion_contrast, "
            "case.plain, case.transform, sitk.sitkNearestNeighbor): the transform maps plain "
            "points to contrast points, which is exactly what Resample needs.")
    return feedback(False, "", hint)
