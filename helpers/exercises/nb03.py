"""Checkers for notebook 03 (registration and label transfer).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in, never typed in.
"""

from __future__ import annotations

import numpy as np

from .. import metrics, registration
from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .inputs import ExerciseInputError, same_shape
from .quiz import Question

SETTING_NAMES = ("samples", "iterations", "grid_spacing_mm", "bins", "margin_mm")
BSPLINE_DEFAULTS = {"samples": 12000, "iterations": 60}  # register()'s, for the B-spline
TARGET_DICE = 0.8
# Exercise 1's Dice is computed, not typed: only the exact value (to rounding error) passes.
DICE_TOL = 1e-6
# Exercise 3's budget, in a unit that does not depend on the computer or its load: the
# random samples the metric is evaluated on, times the optimiser's iterations (per level and
# stage). The study settings (helpers.registration.study.STUDY_SETTINGS) spend 6000 x 30.
WORK_BUDGET = 10_000
# Below these, a failed answer gets the hint that names its cause (seen on the exercise's
# patient: 2 iterations per level stop short of the motion; 100 samples give a noisy metric).
FEW_ITERATIONS = 3
FEW_SAMPLES = 150


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
    if close_to(answer, expected, DICE_TOL):
        return feedback(True, f"2 x {both} / ({a.sum()} + {b.sum()}) = {expected:.3f}.", "")
    if close_to(answer, expected, 1e-3):
        hint = ("that is the Dice rounded; store the value NumPy computes, not a rounded "
                "copy of it (a table elsewhere holds many Dice values close to any number).")
    elif close_to(answer, both / int((a | b).sum()), 1e-3):
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


def landmark_errors(transform, case) -> np.ndarray:
    """Target registration error (mm) of each of ``case``'s landmarks under ``transform``."""
    return _tre(transform, case.landmarks_plain, case.landmarks_contrast)


def check_landmark_errors(answer, transform, case) -> bool:
    """Exercise 2: the target registration error (mm) of every landmark, in the landmarks'
    order (one number per landmark), for ``transform`` on a case."""
    errors = landmark_errors(transform, case)
    n = len(errors)
    if not is_answered(answer):
        return not_answered("set my_tre_mm to the errors (in mm), one per landmark, then run "
                            "the check again.")
    try:
        values = np.asarray(as_array(answer), dtype=float)  # as_array: an image fast
    except (TypeError, ValueError):
        return feedback(False, "", f"give {n} numbers (a NumPy array), one error per landmark.")
    if values.shape == (n, 3):
        return feedback(False, "", "those are differences (x, y, z) per landmark; the error "
                        "is their length: np.linalg.norm(..., axis=1).")
    if values.shape != (n,):
        return feedback(False, "", f"give one error per landmark: {n} numbers, in the order "
                        f"of case.landmarks_plain (yours has shape {values.shape}).")
    if close_to(values, errors, 0.01):
        return feedback(True, f"{n} landmarks: median {np.median(errors):.2f} mm, worst "
                        f"{errors.max():.2f} mm (the affine row of the table in section 7 "
                        "should say the same).", "")
    untouched = np.linalg.norm(case.landmarks_plain - case.landmarks_contrast, axis=1)
    mapped_back = np.array([transform.GetInverse().TransformPoint(tuple(float(v) for v in q))
                            for q in case.landmarks_contrast]) \
        if transform.IsLinear() else None
    if close_to(values, untouched, 0.01):
        hint = ("that is how far the landmarks moved between the scans (no transform). Map "
                "each plain landmark with transform.TransformPoint first.")
    elif close_to(np.sort(values), np.sort(errors), 0.01):
        hint = "the right numbers in another order: keep the order of case.landmarks_plain."
    elif mapped_back is not None and close_to(
            values, np.linalg.norm(mapped_back - case.landmarks_plain, axis=1), 0.05):
        hint = ("you mapped the contrast landmarks backwards. The transform maps plain-scan "
                "points to contrast-scan points: transform.TransformPoint(plain landmark), "
                "then the distance to its contrast partner.")
    else:
        hint = ("for each plain landmark p and its partner q on the contrast scan: "
                "|transform.TransformPoint(p) - q|, in the landmarks' order.")
    return feedback(False, "", hint)


def settings_work(settings) -> int:
    """The work a registration with ``settings`` may spend: random samples x iterations
    per level (register's B-spline defaults for any that are left out)."""
    full = {**BSPLINE_DEFAULTS, **settings}
    return int(full["samples"] * full["iterations"])


def _settings_slip(settings, budget=WORK_BUDGET) -> str | None:
    """A hint when the settings are not a usable answer, else None (nothing is run)."""
    if not isinstance(settings, dict):
        return "give a dict of settings, e.g. {'samples': ..., 'iterations': ...}."
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        return f"unknown setting(s) {unknown}; use some of {', '.join(SETTING_NAMES)}."
    for name in ("samples", "iterations"):
        value = settings.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            return f"{name} must be a whole number of at least 1, got {value!r}."
    work = settings_work(settings)
    if work > budget:
        left_out = [k for k in BSPLINE_DEFAULTS if k not in settings]
        defaults = (f" ({', '.join(f'{k} {BSPLINE_DEFAULTS[k]}' for k in left_out)}: "
                    "register's defaults for what you left out)") if left_out else ""
        return (f"samples x iterations = {work:,}{defaults}, over the budget of "
                f"{budget:,}: use fewer samples, fewer iterations, or both.")
    return None


def transfer_with(case, region, settings) -> tuple[float, object, int]:
    """(transferred lesion Dice, folding check, iterations run in all) of one B-spline
    registration of ``case`` with ``settings``."""
    recorder = registration.RegistrationRecorder()
    transform = registration.register(case.plain, case.contrast, "bspline", region=region,
                                      recorder=recorder, **settings)
    moved = registration.warp_mask(case.lesion_contrast, transform, case.plain)
    ran = sum(int(stage["iterations"]) for stage in recorder.stages)
    return metrics.dice(moved, case.lesion_plain), metrics.folding(transform, case.plain), ran


def check_settings(settings, case, region=None, target=TARGET_DICE,
                   budget=WORK_BUDGET) -> bool:
    """Exercise 3: B-spline settings that carry the lesion with Dice >= ``target`` on
    ``case``, without folding, within a work budget: samples x iterations <= ``budget``.

    The budget is counted, not timed, so the verdict is the same on any computer under any
    load; settings over budget are refused without running anything."""
    if not is_answered(settings):
        return not_answered("set my_settings to a dict, e.g. {'samples': ..., 'iterations': "
                            "...}, then run the check again (it runs your registration).")
    slip = _settings_slip(settings, budget)
    if slip:
        return feedback(False, "", slip)
    try:
        score, fold, ran = transfer_with(case, region, settings)
    except (ValueError, RuntimeError) as exc:
        return feedback(False, "", f"the registration failed: {exc}")
    full = {**BSPLINE_DEFAULTS, **settings}
    summary = (f"Dice {score:.3f} with {full['samples']} samples x {full['iterations']} "
               f"iterations = {settings_work(settings):,} of the {budget:,} budget ({ran} "
               f"iterations run in all stages and levels), smallest Jacobian "
               f"{fold.min_jacobian:.2f}")
    if score >= target and fold.ok:
        return feedback(True, summary + ".", "")
    if not fold.ok:
        hint = "the deformation folds: use a coarser grid (larger grid_spacing_mm)."
    elif full["iterations"] <= FEW_ITERATIONS:
        hint = (f"below the target Dice {target}: {full['iterations']} iterations per level "
                "are too few steps to follow the motion. Spend more of the budget on "
                "iterations and less on samples.")
    elif full["samples"] <= FEW_SAMPLES:
        hint = (f"below the target Dice {target}: with {full['samples']} samples the mutual "
                "information is too noisy to show the way. Spend more of the budget on "
                "samples and less on iterations.")
    else:
        hint = (f"below the target Dice {target}: try another split of the budget between "
                "samples (a steadier metric) and iterations (more steps).")
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
