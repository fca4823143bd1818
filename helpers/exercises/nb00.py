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


def check_pancreas_volume(answer, label_array, spacing) -> bool:
    """Exercise 1: the pancreas label's volume in millilitres (1 mL = 1000 mm³)."""
    voxels = int((as_array(label_array) == PANCREAS_LABEL).sum())
    voxel_mm3 = float(np.prod(spacing))
    expected = voxels * voxel_mm3 / 1000
    if not is_answered(answer):
        return not_answered("set pancreas_ml to a number (in mL), then run this cell again.")
    if close_to(answer, expected, tol=0.5):
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


def check_scan_length(answer, image: sitk.Image) -> bool:
    """Exercise 2: how many centimetres of the body the scan covers from head to foot."""
    slices, step = image.GetSize()[2], image.GetSpacing()[2]
    expected = scan_length_cm(image)
    if not is_answered(answer):
        return not_answered("set scan_cm to a number (in cm), then run this cell again.")
    if close_to(answer, expected, tol=0.05):
        return feedback(True, f"{slices} slices x {step:g} mm = {expected:.1f} cm: a slab of the "
                        "upper abdomen, not the whole trunk.", "")
    if close_to(answer, slices, 0.5):
        hint = f"{slices} is the number of slices; multiply by the slice spacing ({step:g} mm)."
    elif close_to(answer, expected * 10, 0.5):
        hint = "that is in millimetres; divide by 10 to get centimetres."
    elif close_to(answer, image.GetSize()[0] * image.GetSpacing()[0] / 10, 0.05):
        hint = ("that is the left-right width. Head to foot is the third axis: "
                "ct.GetSize()[2] and ct.GetSpacing()[2].")
    else:
        hint = ("number of slices (ct.GetSize()[2]) times the slice spacing in mm "
                "(ct.GetSpacing()[2]), divided by 10.")
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
