"""Checkers for notebook 03 (registration and label transfer).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in, never typed in.
"""

from __future__ import annotations

import time

import numpy as np

from .. import metrics, registration
from ..registration.study import STUDY_SETTINGS
from .feedback import close_to, feedback, is_answered, not_answered
from .inputs import ExerciseInputError, same_shape
from .quiz import Question

SETTING_NAMES = ("samples", "iterations", "grid_spacing_mm", "bins", "margin_mm")
BSPLINE_DEFAULTS = {"samples": 12000, "iterations": 60}  # register()'s, for the B-spline
TARGET_DICE = 0.8
# The speed target is relative, measured in the same kernel: at most this many times the time
# the series' own study settings take on this computer, on the same patient.
SPEED_FACTOR = 1.5
_reference = {}  # id(case) -> (case, seconds of the study settings): timed once per kernel


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
    if not is_answered(answer):
        return not_answered("set my_dice to a number between 0 and 1, then run the check "
                            "again.")
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
    if not is_answered(answer):
        return not_answered("set my_median_tre to a number (in mm), then run the check again.")
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


def _timed_transfer(case, region, settings):
    """(seconds, transferred lesion Dice, folding) of one B-spline registration."""
    start = time.perf_counter()
    transform = registration.register(case.plain, case.contrast, "bspline", region=region,
                                      **settings)
    seconds = time.perf_counter() - start
    moved = registration.warp_mask(case.lesion_contrast, transform, case.plain)
    return seconds, metrics.dice(moved, case.lesion_plain), metrics.folding(transform, case.plain)


def reference_seconds(case, region=None) -> float:
    """Seconds the study settings (:data:`STUDY_SETTINGS`) take on ``case``, measured now in
    this kernel (once per case): the yardstick of exercise 3's speed check."""
    cached = _reference.get(id(case))
    if cached is None or cached[0] is not case:
        cached = (case, _timed_transfer(case, region, STUDY_SETTINGS)[0])
        _reference[id(case)] = cached
    return cached[1]


def _settings_slip(settings) -> str | None:
    """A hint when the settings are not a usable answer, else None (nothing is run)."""
    if not isinstance(settings, dict):
        return "give a dict of settings, e.g. {'samples': ..., 'iterations': ...}."
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        return f"unknown setting(s) {unknown}; use some of {', '.join(SETTING_NAMES)}."
    if all(settings.get(k, v) == v for k, v in BSPLINE_DEFAULTS.items()) and \
            set(settings) <= set(BSPLINE_DEFAULTS):
        return (f"{settings} keeps register's defaults ({BSPLINE_DEFAULTS}). They reach the "
                "Dice but are slow; the exercise asks for settings that are good enough and "
                "lighter: fewer samples and iterations than the defaults.")
    return None


def check_settings(settings, case, region=None, target=TARGET_DICE,
                   speed_factor=SPEED_FACTOR) -> bool:
    """Exercise 3: B-spline settings that carry the lesion with Dice >= ``target`` on
    ``case``, without folding, in at most ``speed_factor`` times the time the study settings
    take on the same patient (measured here, so the check holds on any computer)."""
    if not is_answered(settings):
        return not_answered("set my_settings to a dict, e.g. {'samples': ..., 'iterations': "
                            "...}, then run the check again (it runs your registration).")
    slip = _settings_slip(settings)
    if slip:
        return feedback(False, "", slip)
    try:
        seconds, score, fold = _timed_transfer(case, region, settings)
    except (ValueError, RuntimeError) as exc:
        return feedback(False, "", f"the registration failed: {exc}")
    budget = speed_factor * reference_seconds(case, region)
    summary = (f"Dice {score:.3f}, {seconds:.1f} s (budget {budget:.1f} s on this computer), "
               f"smallest Jacobian {fold.min_jacobian:.2f}")
    if score >= target and fold.ok and seconds <= budget:
        return feedback(True, summary + ".", "")
    if not fold.ok:
        hint = "the deformation folds: use a coarser grid (larger grid_spacing_mm)."
    elif score < target:
        hint = (f"below the target Dice {target}: the optimiser needs more samples and "
                "iterations to find the motion.")
    else:
        hint = "too slow: fewer samples or iterations, or a coarser grid."
    return feedback(False, "", summary + "; " + hint)


QUIZ_LEVELS = Question(
    "metric jump", answer="B",
    why="each resolution level computes the metric on a different (here: sharper) image, so "
        "values are only comparable within one level; the jump marks the start of the next.",
    slips={"A": "a diverging optimiser would keep getting worse; this curve falls again "
                "after the jump. Look at where the jump is: between the two levels.",
           "C": "the optimiser only takes steps that improve the metric within a level; the "
                "jump comes from switching to the full-resolution image, not a worse fit."})

QUIZ_DIRECTION = Question(
    "transform direction", answer="A",
    why="a registration of fixed (plain) and moving (contrast) returns the transform from "
        "fixed points to moving points: what Resample needs to bring the contrast mask onto "
        "the plain grid.",
    slips={"B": "that is the direction we would like to think in, but SimpleITK's transforms "
                "map fixed-image points to moving-image points.",
           "C": "transforms work on physical points in mm, not on voxel indices; the "
                "images' spacing, origin and direction turn indices into points."})
