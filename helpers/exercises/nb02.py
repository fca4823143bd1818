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
from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .quiz import Question

MIN_DICE = 0.9  # overlap with the mask resampled by the true transform (the reference)
# Exercise 1 asks for lesions.conspicuity's value itself: half a hundredth of an HU allows for
# a print rounded to two decimals, not for another patient's (or another size's) contrast.
# With normal glands every PDAC sits near -65 HU in the pancreatic phase, so section 8's table
# held a patient within 0.02 HU of this one (caught by tests/test_exercise_integrity.py).
CONTRAST_TOL_HU = 0.005
POINT_OFFSET_MM = (0.0, 0.0, 6.0)  # exercise 2's point: 6 mm above the pancreas centre


_contrasts = {}  # (id(case), scan) -> (case, contrast_hu): measured once per case and scan


def expected_contrast_hu(case, scan: str = "contrast") -> float:
    """Lesion minus surrounding pancreas (HU) on one scan of a case, via :func:`conspicuity`
    (measured once per case and scan: a checker may be called many times on one patient)."""
    cached = _contrasts.get((id(case), scan))
    if cached is None or cached[0] is not case:
        image, lesion, pancreas = ((case.contrast, case.lesion_contrast, case.pancreas_contrast)
                                   if scan == "contrast" else
                                   (case.plain, case.lesion_plain, case.pancreas_plain))
        measured = conspicuity(as_array(image), as_array(lesion), as_array(pancreas))
        cached = (case, float(measured["contrast_hu"]))
        _contrasts[(id(case), scan)] = cached
    return cached[1]


def _one_number(answer) -> bool:
    """True for a single number (a scalar or a one-element array), checked without copying
    an image or a large array."""
    if isinstance(answer, (sitk.Image, dict, str, bytes)):
        return False
    try:
        return int(np.size(answer)) == 1
    except (TypeError, ValueError):
        return False


def check_tumour_contrast(answer, case) -> bool:
    """Exercise 1: the tumour-to-pancreas contrast (HU) on the contrast scan."""
    if not is_answered(answer):
        return not_answered("set tumour_contrast_hu to a number (in HU), then run the check "
                            "again.")
    if not _one_number(answer):
        return feedback(False, "", "give one number, in HU: the 'contrast_hu' that "
                        "lesions.conspicuity returns for the contrast scan.")
    expected = expected_contrast_hu(case, "contrast")
    if close_to(answer, expected, CONTRAST_TOL_HU):
        return feedback(True, f"the lesion is {expected:+.0f} HU against the gland around it. "
                        "Its value was set about 65 HU below the gland (the sources report "
                        "about 60-70 HU); edge voxels that also hold gland or fat (partial "
                        "volume) pull the measured mean towards zero.", "")
    if close_to(answer, -expected, CONTRAST_TOL_HU):
        hint = "check the sign: lesion minus pancreas, and a PDAC is darker (negative)."
    elif close_to(answer, expected_contrast_hu(case, "plain"), CONTRAST_TOL_HU):
        hint = "that is the plain scan; measure on case.contrast with the contrast-space masks."
    elif close_to(answer, expected, 5.0):
        hint = ("close, but not this lesion's value: measure it on this patient with "
                "lesions.conspicuity and give the number it returns (another patient's or "
                "another size's contrast, from a table, differs).")
    else:
        hint = ("use conspicuity(image, lesion, pancreas) with the three arrays of the "
                "contrast scan (case.contrast, case.lesion_contrast, case.pancreas_contrast) "
                "and read its 'contrast_hu'.")
    return feedback(False, "", hint)


def exercise_point(case) -> tuple[float, float, float]:
    """Exercise 2's plain-scan point (mm): a little above the pancreas centre, rounded to whole
    mm, so it is none of the case's landmarks and must be mapped, not looked up."""
    point = np.round(np.asarray(case.landmarks_plain[0]) + POINT_OFFSET_MM)
    return tuple(float(v) for v in point)


def check_point_in_contrast(answer, case, point_mm) -> bool:
    """Exercise 2: where a plain-scan point lies in the contrast scan (mm)."""
    if not is_answered(answer):
        return not_answered("set point_on_contrast to the point (x, y, z) in mm, then run the "
                            "check again.")
    plain = tuple(float(v) for v in point_mm)
    expected = np.asarray(case.transform.TransformPoint(plain))
    try:
        shape = np.shape(np.asarray(as_array(answer), dtype=float))  # as_array: an image fast
    except (TypeError, ValueError):
        shape = None
    if shape != (3,):
        return feedback(False, "", "give the point as three numbers (x, y, z) in mm: "
                        "case.transform.TransformPoint(point_plain) returns them.")
    if close_to(answer, expected, 0.01):
        moved = np.linalg.norm(expected - np.asarray(plain))
        return feedback(True, f"the point moved {moved:.1f} mm between the two scans.", "")
    landmark = next((k for k, q in enumerate(case.landmarks_contrast)
                     if close_to(answer, q, 0.01)), None)
    if close_to(answer, plain, 0.01):
        hint = "that is the plain-scan point itself: the anatomy moved; apply case.transform."
    elif landmark is not None:
        hint = (f"that is case.landmarks_contrast[{landmark}], where a landmark went, not "
                "this point (it is none of the landmarks). Map the point itself: "
                "case.transform.TransformPoint(point_plain).")
    elif close_to(answer, _backwards(case, plain), 0.5):
        hint = ("you went the wrong way: case.transform maps plain -> contrast, so use "
                "case.transform.TransformPoint(point), not its inverse.")
    else:
        hint = ("pass the point as a tuple of three floats: "
                "case.transform.TransformPoint(point_plain).")
    return feedback(False, "", hint)


_inverses = {}  # id(case) -> (case, its inverse transform): computed once per case


def _inverse(case):
    """:func:`helpers.simulate.inverse_transform` of ``case``, computed once per case (a
    checker may be called many times on the same patient)."""
    cached = _inverses.get(id(case))
    if cached is None or cached[0] is not case:
        cached = (case, inverse_transform(case))
        _inverses[id(case)] = cached
    return cached[1]


def _backwards(case, point):
    return np.asarray(_inverse(case).TransformPoint(point))


def dice_or_one(a, b) -> float:
    """Dice overlap of two binary masks (1 = identical, 0 = disjoint; two empty masks: 1)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return metrics_dice(a, b) if (a.any() or b.any()) else 1.0


def reference_transfer(case) -> np.ndarray:
    """The lesion mask carried by the true transform, as the exercise asks (the reference)."""
    return as_array(sitk.Resample(case.lesion_contrast, case.plain, case.transform,
                                  sitk.sitkNearestNeighbor, 0)) > 0


def reference_on_contrast(case) -> np.ndarray:
    """The plain-scan lesion mask carried onto the contrast grid by the (numerical) inverse of
    the true transform: exercise 3's reference."""
    return as_array(sitk.Resample(case.lesion_plain, case.contrast, _inverse(case),
                                  sitk.sitkNearestNeighbor, 0)) > 0


def _mask_on_grid(answer, grid, name, variable):
    """A hint when ``answer`` is not a 0/1 mask on ``grid`` (a SimpleITK image), else None."""
    if not isinstance(answer, sitk.Image):
        return ("give a SimpleITK image on the " + name + " grid: the result of "
                "sitk.Resample(...).")
    difference = (f"{answer.GetDimension()}-D, not 3-D" if answer.GetDimension() != 3
                  else grid_difference(answer, grid))
    if difference:  # all four (size, spacing, origin, direction) must match, not two
        return (f"your mask is not on the {name} grid ({difference}): resample onto it by "
                f"passing {variable} as the reference image.")
    return None


def _mask_slip(answer, grid, grid_words, grid_name, truth_mask, truth_hint) -> str | None:
    """The slips both mask exercises share: the wrong grid, the truth mask (``truth_mask()``,
    read only once the grid is right) handed back, and fractional values from linear
    interpolation; None when there is none of them."""
    slip = _mask_on_grid(answer, grid, grid_words, grid_name)
    if slip:
        return slip
    values = as_array(answer)
    if np.array_equal(values > 0.5, as_array(truth_mask()) > 0):
        return truth_hint
    if not np.isin(np.unique(values), (0, 1)).all():
        return ("your mask holds values between 0 and 1: linear interpolation blended the "
                "edges. Use sitk.sitkNearestNeighbor.")
    return None


def check_transferred_mask(answer, case) -> bool:
    """The contrast-scan lesion mask carried onto the plain scan's grid (the direction of
    notebook 02's section 9 and of notebook 03).

    Compared with the same transfer done here (not with the plain-scan truth, which a real
    study does not have): the truth mask itself is recognised and refused."""
    if not is_answered(answer):
        return not_answered("set mask_on_plain to the resampled mask (a SimpleITK image), "
                            "then run the check again.")
    slip = _mask_slip(answer, case.plain, "plain scan's", "case.plain", lambda: case.lesion_plain,
                      "that is case.lesion_plain, the true plain-scan mask itself. A real "
                      "study has no such mask (that is why we transfer): carry "
                      "case.lesion_contrast over with sitk.Resample.")
    if slip:
        return feedback(False, "", slip)
    values = as_array(answer)
    found, truth = values > 0.5, as_array(case.lesion_plain) > 0
    score = dice_or_one(found, reference_transfer(case))
    if score >= MIN_DICE:
        copied = dice_or_one(as_array(case.lesion_contrast), truth)
        return feedback(True, f"the lesion lands where the true motion puts it: Dice "
                        f"{dice_or_one(found, truth):.2f} with the true plain-scan mask (the mask "
                        f"copied without a transform: {copied:.2f}).", "")
    linear = sitk.Resample(case.lesion_contrast, case.plain, case.transform, sitk.sitkLinear, 0)
    if np.array_equal(found, as_array(case.lesion_contrast) > 0):
        hint = ("that is the contrast-scan mask copied as it is; the anatomy moved between "
                "the scans: pass case.transform to sitk.Resample.")
    elif np.array_equal(values, as_array(linear)):
        hint = ("that used linear interpolation, which rounds the blended edge of this "
                "integer mask away. Use sitk.sitkNearestNeighbor.")
    else:
        hint = ("the mask is not where the true motion puts the lesion. sitk.Resample("
                "case.lesion_contrast, case.plain, case.transform, sitk.sitkNearestNeighbor): "
                "the transform maps plain points to contrast points, which is exactly what "
                "Resample needs (not its inverse).")
    return feedback(False, "", hint)


def check_mask_on_contrast(answer, case) -> bool:
    """Exercise 3: the plain-scan lesion mask carried onto the contrast scan's grid.

    The other way round from section 9: Resample asks, for each voxel of the output (contrast)
    grid, where to read in the input (plain) scan, so it needs contrast -> plain, the inverse
    of ``case.transform``. Compared with the same transfer done here by
    :func:`helpers.simulate.inverse_transform`; the contrast-scan truth mask itself is
    recognised and refused."""
    if not is_answered(answer):
        return not_answered("set mask_on_contrast to the resampled mask (a SimpleITK image), "
                            "then run the check again.")
    slip = _mask_slip(answer, case.contrast, "contrast scan's", "case.contrast",
                      lambda: case.lesion_contrast,
                      "that is case.lesion_contrast, the mask drawn on the contrast scan "
                      "itself. The exercise carries the plain-scan mask (case.lesion_plain) "
                      "over with sitk.Resample.")
    if slip:
        return feedback(False, "", slip)
    values = as_array(answer)
    found, truth = values > 0.5, as_array(case.lesion_contrast) > 0
    score = dice_or_one(found, reference_on_contrast(case))
    plain = as_array(case.lesion_plain) > 0
    if score >= MIN_DICE:
        return feedback(True, f"the plain-scan lesion lands on the contrast scan's lesion: "
                        f"Dice {dice_or_one(found, truth):.2f} with the mask drawn on the contrast "
                        f"scan (copied without a transform: {dice_or_one(plain, truth):.2f}).", "")
    forward = as_array(sitk.Resample(case.lesion_plain, case.contrast, case.transform,
                                     sitk.sitkNearestNeighbor, 0)) > 0
    linear = as_array(sitk.Resample(case.lesion_plain, case.contrast, _inverse(case),
                                    sitk.sitkLinear, 0))
    if np.array_equal(found, plain):
        hint = ("that is the plain-scan mask copied as it is; the anatomy moved between the "
                "scans: pass a transform to sitk.Resample.")
    elif np.array_equal(values, linear):
        hint = ("that used linear interpolation, which rounds the blended edge of this "
                "integer mask away. Use sitk.sitkNearestNeighbor.")
    elif dice_or_one(found, forward) >= MIN_DICE:
        hint = ("that used case.transform, which maps plain points to contrast points. Here "
                "the output grid is the contrast scan's, so Resample asks, for each contrast "
                "voxel, where to read in the plain scan: contrast -> plain, the inverse "
                "(section 7 computed it: simulate.inverse_transform(case)).")
    else:
        hint = ("sitk.Resample(case.lesion_plain, case.contrast, <a transform from contrast "
                "points to plain points>, sitk.sitkNearestNeighbor, 0): section 7 computed "
                "that inverse with simulate.inverse_transform(case).")
    return feedback(False, "", hint)


QUIZ_LINEAR_MASK = Question(
    "mask interpolation", answer="B",
    why="linear interpolation averages neighbouring voxels, so the edge of a 0/1 mask gets "
        "values such as 0.3 or 0.7; nearest neighbour keeps it 0/1.",
    slips={"A": "a mask stays 0/1 only with nearest-neighbour interpolation; linear "
                "averages the 0s and 1s along the edge.",
           "C": "Resample accepts any interpolator for any image and raises nothing: that is "
                "why the slip goes unnoticed."})

QUIZ_CONTRAST_SIGN = Question(
    "tumour contrast sign", answer="C",
    why="a PDAC enhances less than the gland, so in the pancreatic phase lesion minus gland "
        "is negative: the tumour is darker.",
    slips={"A": "near zero is the plain scan, where a PDAC has about the gland's density. "
                "With contrast the gland brightens much more than the tumour.",
           "B": "positive would mean the tumour is brighter than the gland (as a "
                "hyper-enhancing PNET is). Lesion minus gland is negative for a PDAC."})
