"""Checkers for notebook 03 (registration and label transfer).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in, never typed in.
"""

from __future__ import annotations

import time

import numpy as np

from .. import metrics, registration
from .feedback import close_to, feedback, is_answered
from .inputs import ExerciseInputError, same_shape

SETTING_NAMES = ("samples", "iterations", "grid_spacing_mm", "bins", "margin_mm")
TARGET_DICE = 0.8
TIME_LIMIT_S = 10.0


def dice_example():
    """Two small 2-D masks for computing a Dice by hand: (true, transferred)."""
    truth = np.zeros((6, 6), np.uint8)
    truth[1:4, 1:5] = 1  # 12 pixels
    moved = np.zeros((6, 6), np.uint8)
    moved[2:5, 2:5] = 1  # 9 pixels, 6 of them shared
    return truth, moved


def check_dice(answer, truth, moved) -> bool:
    """Exercise 1: Dice = 2 |A and B| / (|A| + |B|) of two small masks.

    Raises :class:`helpers.exercises.inputs.ExerciseInputError` when ``truth`` and ``moved``
    differ in shape, or are both empty (Dice would be 0 / 0)."""
    arrays = same_shape({"truth": truth, "moved": moved})
    a, b = arrays["truth"] != 0, arrays["moved"] != 0
    if not (a | b).any():
        raise ExerciseInputError("truth and moved are both empty (no voxel is set): Dice = "
                                 "2 x 0 / (0 + 0) is undefined. Pass the two masks of the "
                                 "exercise: truth, moved = ex.dice_example().")
    both, total = int((a & b).sum()), int(a.sum() + b.sum())
    expected = 2 * both / total
    if close_to(answer, expected, 1e-3):
        return feedback(True, f"2 x {both} / ({a.sum()} + {b.sum()}) = {expected:.3f}.", "")
    if close_to(answer, both / int((a | b).sum()), 1e-3):
        hint = ("that is the Jaccard index (intersection over union). Dice divides twice "
                "the intersection by the sum of the two mask sizes.")
    elif close_to(answer, both, 0.5):
        hint = "that is the size of the overlap; divide 2 x overlap by |A| + |B|."
    else:
        hint = "count the shared pixels (a & b).sum(), then 2 x shared / (a.sum() + b.sum())."
    return feedback(False, "", hint)


def _tre(transform, fixed, moving):
    mapped = np.array([transform.TransformPoint(tuple(float(v) for v in p)) for p in fixed])
    return np.linalg.norm(mapped - np.asarray(moving), axis=1)


def check_median_tre(answer, transform, case) -> bool:
    """Exercise 2: the median target registration error (mm) of ``transform`` on a case."""
    errors = _tre(transform, case.landmarks_plain, case.landmarks_contrast)
    expected = float(np.median(errors))
    if close_to(answer, expected, 0.01):
        return feedback(True, f"median TRE {expected:.2f} mm over {len(errors)} landmarks "
                        f"(worst {errors.max():.2f} mm).", "")
    untouched = np.linalg.norm(case.landmarks_plain - case.landmarks_contrast, axis=1)
    if close_to(answer, float(np.median(untouched)), 0.01):
        hint = ("that is how far the landmarks moved between the scans (no transform). Map "
                "each plain landmark with transform.TransformPoint first.")
    elif close_to(answer, float(errors.mean()), 0.01):
        hint = "that is the mean; the exercise asks for the median (np.median)."
    else:
        hint = ("for each plain landmark p and its partner q on the contrast scan: "
                "|transform.TransformPoint(p) - q|, then the median of those distances.")
    return feedback(False, "", hint)


def check_settings(settings, case, region=None, target=TARGET_DICE,
                   time_limit_s=TIME_LIMIT_S) -> bool:
    """Exercise 3: B-spline settings that carry the lesion with Dice >= ``target`` on
    ``case``, without folding, within ``time_limit_s`` seconds. Runs the registration."""
    if not is_answered(settings) or not isinstance(settings, dict):
        return feedback(False, "", "give a dict, e.g. {'samples': 1000, 'iterations': 10}.")
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        return feedback(False, "", f"unknown setting(s) {unknown}; use some of "
                        f"{', '.join(SETTING_NAMES)}.")
    start = time.perf_counter()
    try:
        transform = registration.register(case.plain, case.contrast, "bspline",
                                          region=region, **settings)
    except (ValueError, RuntimeError) as exc:
        return feedback(False, "", f"the registration failed: {exc}")
    seconds = time.perf_counter() - start
    moved = registration.warp_mask(case.lesion_contrast, transform, case.plain)
    score = metrics.dice(moved, case.lesion_plain)
    fold = metrics.folding(transform, case.plain)
    summary = f"Dice {score:.3f}, {seconds:.1f} s, smallest Jacobian {fold.min_jacobian:.2f}"
    if score >= target and fold.ok and seconds <= time_limit_s:
        return feedback(True, summary + ".", "")
    if not fold.ok:
        hint = "the deformation folds: use a coarser grid (larger grid_spacing_mm)."
    elif seconds > time_limit_s:
        hint = "too slow: fewer samples or iterations, or a coarser grid."
    else:
        hint = (f"below the target Dice {target}: the optimiser needs more samples and "
                "iterations to find the motion.")
    return feedback(False, "", summary + "; " + hint)
