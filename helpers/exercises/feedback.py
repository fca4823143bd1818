"""Instant feedback for the notebooks' exercises.

Each notebook keeps its own checkers (small functions that call :func:`feedback`) so the
student sees a clear "correct" or a hint right under the exercise. A checker returns
``True``/``False`` and never raises, so a student's unfinished answer does not stop the
notebook; the solutions notebooks (``notebooks/solutions/``) ``assert`` every checker, so CI
proves every solution.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk


def feedback(ok: bool, success: str, hint: str) -> bool:
    """Print a short verdict for the student and return ``ok``."""
    print(("Correct! " + success) if ok else ("Not yet. " + hint))
    return bool(ok)


def as_array(image) -> np.ndarray:
    """A SimpleITK image (or anything array-like) as a NumPy array ``[z, y, x]``."""
    return sitk.GetArrayFromImage(image) if isinstance(image, sitk.Image) else np.asarray(image)


def is_answered(value) -> bool:
    """False for the placeholders students start from (``None`` or ``...``)."""
    return value is not None and value is not Ellipsis


def close_to(value, expected, tol: float) -> bool:
    """True when a number (or array) is within ``tol`` of the expected value."""
    if not is_answered(value):
        return False
    try:  # as_array: np.asarray would read a SimpleITK image pixel by pixel (seconds)
        value = np.asarray(as_array(value), dtype=float)
        expected = np.asarray(as_array(expected), dtype=float)
    except (TypeError, ValueError):
        return False
    if value.shape != expected.shape:
        return False
    return bool(np.all(np.abs(value - expected) <= tol)) and not any(
        math.isnan(v) for v in np.ravel(value))


def not_answered(what_to_do: str) -> bool:
    """Print that the exercise is not answered yet, with what to do; return False.

    What a lesson prints before the student has answered: never an error, never a verdict."""
    print("Not answered yet: " + what_to_do)
    return False
