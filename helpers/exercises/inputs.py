"""Checks of the data a notebook hands to an exercise checker, as opposed to the answer.

A checker never raises on the student's answer: a wrong or unfinished answer gets a hint. The
other arguments (the masks, scans and arrays the notebook passes along) are checked here
first, so a wrong one meets a clear :class:`ExerciseInputError` (an
:class:`helpers.checks.InputError`) that names the argument, rather than a
``ZeroDivisionError`` or a verdict computed from masks that do not belong together.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..checks import InputError, check_mask_pair
from .feedback import as_array


class ExerciseInputError(InputError):
    """Data passed to an exercise checker (not the answer) is unusable; the message says why."""


def same_shape(arrays: dict[str, object]) -> dict[str, np.ndarray]:
    """The named arrays (or images) as NumPy arrays, refused unless they share one shape:
    a voxel of one must be the same voxel of the others."""
    found = {name: as_array(value) for name, value in arrays.items()}
    shapes = {name: a.shape for name, a in found.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ExerciseInputError(
            f"these must cover the same voxels, but their shapes differ: {listed}. Pass the "
            "arrays of one scan (all on its grid), as the exercise cell does.")
    return found


def not_empty(array, name: str, why: str) -> None:
    """Raise unless ``array`` marks at least one voxel; ``why`` says what would be undefined."""
    if not np.any(as_array(array)):
        raise ExerciseInputError(f"{name} is empty (no voxel is set): {why}. Pass a mask that "
                                 "marks the structure, as the exercise cell does.")


def mask_and_reference(mask, reference, names=("mask", "reference")) -> None:
    """Raise unless two SimpleITK masks are binary, on one grid, with a non-empty reference
    (a volume error relative to an empty reference is undefined)."""
    for value, name in zip((mask, reference), names, strict=True):
        if not isinstance(value, sitk.Image):
            raise ExerciseInputError(
                f"{name} must be a SimpleITK image (its spacing gives the voxel volume), got "
                f"{type(value).__name__}. For an array on the scan's grid use "
                "grid.as_image(array, scan) or sitk.GetImageFromArray(array) with "
                "CopyInformation(scan).")
    check_mask_pair(mask, reference, names)
    not_empty(reference, names[1], "the volume error is relative to its volume")


def mask_list(masks, name: str) -> np.ndarray:
    """A list of masks as one boolean stack, refused when it is empty or the masks are not
    all on one grid (the same shape)."""
    masks = list(masks) if masks is not None else []
    if not masks:
        raise ExerciseInputError(f"{name} is empty: there is nothing to vote on. Pass the "
                                 "warped atlas masks (found.masks).")
    arrays = same_shape({f"{name}[{k}]": m for k, m in enumerate(masks)})
    return np.asarray([a != 0 for a in arrays.values()])


def scores_and_labels(scores, abnormal) -> tuple[np.ndarray, np.ndarray]:
    """Case scores and their truth (True = has a lesion) as arrays, refused unless they are
    one per patient, finite, and both groups are present (else a rate would be 0 / 0)."""
    try:
        scores = np.asarray(scores, float).ravel()
        abnormal = np.asarray(abnormal, bool).ravel()
    except (TypeError, ValueError) as exc:
        raise ExerciseInputError(f"scores must be numbers and abnormal True/False, one per "
                                 f"patient ({exc}). Pass the table's columns.") from exc
    if scores.size != abnormal.size:
        raise ExerciseInputError(f"scores has {scores.size} value(s) but abnormal has "
                                 f"{abnormal.size}: give one score and one truth per patient, "
                                 "from the same table (e.g. table.score, table.abnormal).")
    if not np.isfinite(scores).all():
        raise ExerciseInputError(f"scores holds {int((~np.isfinite(scores)).sum())} NaN or "
                                 "infinite value(s): every patient needs a score.")
    for group, present in (("with a lesion", abnormal.any()), ("without", (~abnormal).any())):
        if not present:
            raise ExerciseInputError(f"no patient {group} among the {abnormal.size}: "
                                     "sensitivity and specificity both need some. Pass the "
                                     "whole training table.")
    return scores, abnormal


def some_scores(values, name: str) -> np.ndarray:
    """Finite scores as an array, refused when there are none."""
    values = np.asarray(values, float).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ExerciseInputError(f"{name} must hold at least one score and no NaN, got "
                                 f"{values.size} value(s). Pass the scores from the notebook.")
    return values
