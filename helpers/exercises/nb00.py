"""Checkers for notebook 00 (setup and data tour).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
image passed in, never typed in.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .quiz import Question

PANCREAS_LABEL = 7
# Exercise 1's answer is computed exactly: a rounded print (one decimal) passes, a nearby
# whole number on screen (a label id, a count) does not.
VOLUME_TOL_ML = 0.05


def check_pancreas_volume(answer, label_array, spacing) -> bool:
    """Exercise 1: the pancreas label's volume in millilitres (1 mL = 1000 mm³)."""
    voxels = int((as_array(label_array) == PANCREAS_LABEL).sum())
    voxel_mm3 = float(np.prod(spacing))
    expected = voxels * voxel_mm3 / 1000
    if not is_answered(answer):
        return not_answered("set pancreas_ml to a number (in mL), then run this cell again.")
    if close_to(answer, expected, tol=VOLUME_TOL_ML):
        return feedback(True, f"{voxels} voxels x {voxel_mm3:g} mm³ = {expected:.1f} mL.", "")
    if close_to(answer, voxels, 0.5):
        hint = (f"{voxels} is the number of voxels; multiply by the volume of one voxel "
                f"({voxel_mm3:g} mm³), then divide by 1000 to get mL.")
    elif close_to(answer, voxels * voxel_mm3, 0.5):
        hint = "that is the volume in mm³; divide by 1000 to get millilitres."
    else:
        hint = ("count the voxels with label 7, multiply by the volume of one voxel "
                "(mm³, the product of the three spacings), then divide by 1000.")
    return feedback(False, "", hint)


def scan_length_cm(image: sitk.Image) -> float:
    """Head-to-foot distance covered by the scan's voxels, in cm (slices x slice spacing)."""
    return image.GetSize()[2] * image.GetSpacing()[2] / 10


def pancreas_slices(label_array) -> np.ndarray:
    """Indices of the axial slices (first NumPy axis, z) that hold any pancreas voxel."""
    return np.flatnonzero((as_array(label_array) == PANCREAS_LABEL).any(axis=(1, 2)))


def pancreas_length_cm(label_array, spacing) -> float:
    """Head-to-foot extent of the pancreas label in cm: slices that hold it x slice spacing
    (``spacing`` in SimpleITK's (x, y, z) order)."""
    return len(pancreas_slices(label_array)) * float(spacing[2]) / 10


def check_pancreas_length(answer, label_array, spacing) -> bool:
    """Exercise 2: how many centimetres the pancreas label reaches from head to foot.

    ``label_array`` is NumPy-ordered ``[z, y, x]``; ``spacing`` is SimpleITK's ``(x, y, z)``."""
    labels = as_array(label_array)
    slices = pancreas_slices(labels)
    step = float(spacing[2])
    expected = pancreas_length_cm(labels, spacing)
    if not is_answered(answer):
        return not_answered("set pancreas_cm to a number (in cm), then run this cell again.")
    if not len(slices):
        return feedback(False, "", "this label map holds no pancreas (label 7).")
    if close_to(answer, expected, tol=0.05):
        return feedback(True, f"{len(slices)} slices (from slice {slices[0]} to {slices[-1]}) x "
                        f"{step:g} mm = {expected:.1f} cm.", "")
    mask = labels == PANCREAS_LABEL
    other_axes = {len(np.flatnonzero(mask.any(axis=axes))) * float(spacing[2 - axis]) / 10
                  for axis, axes in ((1, (0, 2)), (2, (0, 1)))}
    if close_to(answer, len(slices), 0.5):
        hint = (f"{len(slices)} is the number of slices that hold pancreas; multiply by the "
                f"slice spacing ({step:g} mm) and divide by 10.")
    elif close_to(answer, expected * 10, 0.5):
        hint = "that is in millimetres; divide by 10 to get centimetres."
    elif close_to(answer, (slices[-1] - slices[0]) * step / 10, 0.05):
        hint = ("last slice minus first slice counts the gaps between them, one fewer than "
                "the slices: count the slices that hold pancreas.")
    elif close_to(answer, labels.shape[0] * step / 10, 0.05):
        hint = ("that is the whole scan, head to foot. Count only the slices that hold "
                "pancreas (label 7).")
    elif any(close_to(answer, other, 0.05) for other in other_axes):
        hint = ("that is the extent across the body (left-right or front-back). In "
                "label_array the slices (head to foot) are the FIRST axis: [z, y, x].")
    else:
        hint = ("find which slices hold any voxel with label 7 "
                "((label_array == 7).any(axis=(1, 2)) gives one True/False per slice), count "
                "them, multiply by the slice spacing ct.GetSpacing()[2] in mm, divide by 10.")
    return feedback(False, "", hint)


QUIZ_ORIENTATION = Question(
    "orientation", answer="A",
    why="radiological images show the patient as seen from the feet, lying on their back: the "
        "patient's right (where the liver is) is on the image's left.",
    slips={"B": "that is how you would see a person facing away from you. Axial CT is shown "
                "as seen from the patient's feet, so left and right swap.",
           "C": "the top of an axial image is the front of the body (anterior), not a side.",
           "D": "the display convention is fixed, whatever order the file stores its voxels "
                "in: the series' figures (helpers.display) always reorient to it."})
