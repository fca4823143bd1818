"""Checkers for notebook 01 (CT fundamentals).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and
returns True/False; it never raises on an unfinished answer. Expected values are computed
from the data passed in, never typed in, so the checks follow the data.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..display import apply_window, resolve_window
from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .quiz import Question

FAT_HU = (-190.0, -30.0)  # the usual fat segmentation window
MIN_CONTRAST = 0.3  # grey-level gap between pancreas and fat, as a fraction of black..white
MAX_CLIPPED = 0.2  # at most this fraction of pancreas pixels pure black or pure white


def check_stored_to_hu(answer, stored, slope, intercept) -> bool:
    """Exercise 1: a stored pixel value converted to Hounsfield units."""
    expected = float(stored) * float(slope) + float(intercept)
    if not is_answered(answer):
        return not_answered("set answer_hu to a number (in HU), then run the check again.")
    if close_to(answer, expected, 0.5):
        return feedback(True, f"{stored} x {slope} + ({intercept}) = {expected:.0f} HU.", "")
    if close_to(answer, stored, 0.5):
        hint = "that is the stored value itself; apply RescaleSlope and RescaleIntercept."
    elif close_to(answer, float(stored) * float(slope) - float(intercept), 0.5):
        hint = "check the sign: HU = stored x slope + intercept (the intercept is negative)."
    else:
        hint = "HU = stored value x RescaleSlope + RescaleIntercept."
    return feedback(False, "", hint)


def check_slice_spacing(answer, positions_mm, slice_thickness=None) -> bool:
    """Exercise 2: the distance between slice centres, from the sorted positions."""
    steps = np.diff(np.sort(np.asarray(positions_mm, dtype=float)))
    expected = float(np.median(steps))
    if not is_answered(answer):
        return not_answered("set spacing_mm to a number (in mm), then run the check again.")
    if close_to(answer, expected, 0.01):
        return feedback(True, f"the slices are {expected:.2f} mm apart.", "")
    if slice_thickness is not None and close_to(answer, float(slice_thickness), 0.01) \
            and abs(float(slice_thickness) - expected) > 0.01:
        hint = ("that is SliceThickness, how thick each reconstructed slab is. Slabs may "
                "overlap or leave gaps; the spacing comes from the positions.")
    elif close_to(answer, -expected, 0.01):
        hint = "a spacing is a distance: sort the positions first, or take the absolute value."
    else:
        hint = "sort the positions along the slice normal and take the difference of neighbours."
    return feedback(False, "", hint)


def check_slice_steps(answer, positions_mm, slice_thickness=None) -> bool:
    """Exercise 2: the distances between neighbouring slice centres (mm), from the most
    inferior slice upwards: one step per pair of neighbours, from the sorted positions."""
    positions = np.asarray(positions_mm, dtype=float)
    expected = np.diff(np.sort(positions))
    n = len(expected)
    if not is_answered(answer):
        return not_answered("set steps_mm to the distances between neighbouring slices (in "
                            "mm), then run the check again.")
    try:
        values = np.asarray(as_array(answer), dtype=float)  # as_array: an image fast
    except (TypeError, ValueError):
        return feedback(False, "", f"give {n} numbers (a NumPy array), one per pair of "
                        "neighbouring slices.")
    if values.shape != expected.shape:
        if values.ndim == 0:
            hint = (f"give every step ({n} numbers), not one: the point is to see whether "
                    "they are all equal. np.diff(np.sort(positions)).")
        elif values.shape == positions.shape:
            hint = (f"that has one number per slice ({len(positions)}); the steps between "
                    f"neighbours are one fewer ({n}): np.diff of the sorted positions.")
        else:
            hint = f"give {n} steps, one per pair of neighbouring slices (yours: {values.shape})."
        return feedback(False, "", hint)
    if close_to(values, expected, 0.01):
        spacing = float(np.median(expected))
        same = bool(np.ptp(expected) <= 0.01)
        steps = (f"all {n} steps are {spacing:.2f} mm" if same else
                 f"the steps run from {expected.min():.2f} to {expected.max():.2f} mm "
                 "(unequal: a gap or a missing slice?)")
        thickness = ""
        if slice_thickness is not None:
            t = float(slice_thickness)
            thickness = (f" SliceThickness is {t:g} mm, so " + (
                "neighbouring slices overlap." if t > spacing + 0.01 else
                "there are gaps between the slices." if t < spacing - 0.01 else
                "the slices just touch."))
        return feedback(True, steps + "." + thickness, "")
    if close_to(values, np.diff(positions), 0.01):
        hint = ("those are in file order, where the positions decrease (see the table): sort "
                "them first, np.diff(np.sort(positions)).")
    elif close_to(values, -expected, 0.01):
        hint = "a step up the stack is a positive distance: sort the positions in increasing order."
    elif slice_thickness is not None and close_to(values, np.full(n, float(slice_thickness)),
                                                  0.01):
        hint = ("that is SliceThickness, how thick each reconstructed slab is. Slabs may "
                "overlap or leave gaps; the steps come from the positions.")
    else:
        hint = "sort the positions along the slice normal and take the differences of neighbours."
    return feedback(False, "", hint)


def check_point_to_index(index, hu, image, point_mm) -> bool:
    """Exercise 3: the voxel index (i, j, k) of a physical point, and the HU there."""
    expected = image.TransformPhysicalPointToIndex(tuple(float(v) for v in point_mm))
    expected_hu = float(image.GetPixel(expected))
    if not is_answered(index):
        return not_answered("set target_index to a tuple (i, j, k) and target_hu to a number, "
                            "then run the check again.")
    if not close_to(index, expected, 0):
        if close_to(index, expected[::-1], 0):
            hint = ("you gave (k, j, i), the NumPy order. SimpleITK indices are (i, j, k) = "
                    "(x, y, z): use image.TransformPhysicalPointToIndex(point).")
        else:
            hint = ("use image.TransformPhysicalPointToIndex(point); the point is in LPS mm "
                    "(do not negate x and y).")
        return feedback(False, "", hint)
    if not close_to(hu, expected_hu, 0.5):
        return feedback(False, "", f"the index {tuple(expected)} is right; now read the value "
                        "there: image[index] (SimpleITK order) or array[k, j, i] (NumPy order).")
    return feedback(True, f"voxel {tuple(expected)} holds {expected_hu:.0f} HU.", "")


def window_contrast(window, hu2d, labels2d, label: int = 7, ring_px: int = 4) -> dict:
    """How well a window separates a labelled organ from the fat around it.

    Fat is the pixels within ``ring_px`` of the organ, outside every label, with HU in
    :data:`FAT_HU`. Returns the median grey level (0..1) of each, their difference
    (``contrast``), and the fraction of the organ's pixels clipped to pure black or white.
    """
    organ = np.asarray(labels2d) == label
    if not organ.any():
        raise ValueError(f"label {label} is not on this slice; pick a slice that shows it")
    near = ndimage.binary_dilation(organ, iterations=ring_px) & ~organ & (labels2d == 0)
    fat = near & (hu2d >= FAT_HU[0]) & (hu2d < FAT_HU[1])
    gray = apply_window(hu2d, window)
    organ_gray, fat_gray = float(np.median(gray[organ])), float(np.median(gray[fat]))
    clipped = float(np.mean((gray[organ] <= 0) | (gray[organ] >= 1)))
    return {"organ_gray": organ_gray, "fat_gray": fat_gray,
            "contrast": organ_gray - fat_gray, "clipped": clipped,
            "organ_hu": float(np.median(hu2d[organ])), "fat_hu": float(np.median(hu2d[fat]))}


def check_pancreas_window(window, hu2d, labels2d, label: int = 7) -> bool:
    """Exercise 4: a (width, level) window in which pancreas and nearby fat look different.

    Passes when the median pancreas pixel is at least :data:`MIN_CONTRAST` of the grey
    range brighter than the median fat pixel nearby, with at most :data:`MAX_CLIPPED` of
    the pancreas pixels clipped (clipped pixels hide differences inside the gland).
    """
    if not is_answered(window):
        return not_answered("set my_window to two numbers (width, level) in HU, then run the "
                            "check again.")
    try:
        width, level = resolve_window(window)
    except (TypeError, ValueError):
        return feedback(False, "", "give the window as (width, level) in HU, e.g. (400, 40).")
    m = window_contrast((width, level), hu2d, labels2d, label)
    summary = (f"pancreas grey {m['organ_gray']:.2f}, fat grey {m['fat_gray']:.2f}, "
               f"gap {m['contrast']:.2f}, pancreas clipped {m['clipped']:.0%}")
    if m["contrast"] >= MIN_CONTRAST and m["clipped"] <= MAX_CLIPPED:
        return feedback(True, f"W {width:.0f} / L {level:.0f}: {summary}.", "")
    if m["clipped"] > MAX_CLIPPED:
        hint = "too many pancreas pixels are pure black or white: widen the window."
    elif m["fat_gray"] <= 0 and m["organ_gray"] < 0.5:
        hint = ("the fat is all black and the pancreas still dark: lower the level towards "
                "the middle of the two HU values.")
    else:
        hint = ("narrow the window (smaller width) and put the level between the pancreas "
                "and fat HU values.")
    return feedback(False, "", f"{summary}. Need a gap of at least {MIN_CONTRAST} with at "
                    f"most {MAX_CLIPPED:.0%} clipped; {hint}")


def pancreas_target_point(labels, label: int = 7) -> np.ndarray:
    """A physical point (LPS, whole mm) inside a label, for exercise 3.

    The middle voxel of the label in scan order, so the point is surely inside (a curved
    organ's centroid may not be), rounded to whole mm so it is not a voxel centre.
    """
    inside = np.argwhere(sitk.GetArrayViewFromImage(labels) == label)  # rows are [k, j, i]
    if inside.size == 0:
        raise ValueError(f"label {label} does not occur in this label map")
    k, j, i = (int(v) for v in inside[len(inside) // 2])
    return np.round(labels.TransformIndexToPhysicalPoint((i, j, k)))


QUIZ_INDEX_ORDER = Question(
    "index order", answer="B",
    why="GetArrayFromImage reverses the axes: the array is indexed [k, j, i] = [z, y, x], "
        "while the image itself is indexed (i, j, k) = (x, y, z).",
    slips={"A": "that uses SimpleITK's order on the NumPy array. The array from "
                "GetArrayFromImage is indexed [z, y, x], the reverse.",
           "C": "the image itself is indexed (i, j, k) = (x, y, z), so ct[10, 20, 5] would be "
                "right; ct[5, 20, 10] reverses it.",
           "D": "swapping only two axes is not enough: the whole order is reversed, [k, j, i]."})

QUIZ_WINDOW = Question(
    "window bounds", answer="A",
    why="a window runs from level - width/2 (black) to level + width/2 (white): "
        "40 - 200 = -160 to 40 + 200 = 240 HU.",
    slips={"B": "the level is the centre of the window, not its lower end.",
           "C": "half the width lies on each side of the level (L +/- W/2), not the whole "
                "width.",
           "D": "the window is centred on the level (40 HU); it does not start at 0."})
