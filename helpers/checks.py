"""Input checks every public function of the series shares, and the error classes they raise.

A student's mistake should meet a clear message at the function they called, in the words of
the argument they passed: what was wrong, the values seen, and what to do. Every error here
is an :class:`InputError` (a ``ValueError``), so a notebook can catch them all at once.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

# Two images are on one grid when sizes match and these agree (mm, mm, cosines): far finer
# than a voxel, and loose enough for headers written as float32.
SPACING_TOL_MM, ORIGIN_TOL_MM, DIRECTION_TOL = 1e-3, 1e-2, 1e-4


class InputError(ValueError):
    """Bad input to one of the series' functions; the message says what to do."""


class GridMismatchError(InputError):
    """A mask (or label map) is not on the grid of the image it belongs to."""


def grid_text(image: sitk.Image) -> str:
    """Size, spacing and origin of an image, for error messages."""
    return (f"size {image.GetSize()}, spacing {tuple(round(s, 3) for s in image.GetSpacing())}"
            f", origin {tuple(round(o, 1) for o in image.GetOrigin())}")


def grid_difference(a: sitk.Image, b: sitk.Image) -> str | None:
    """What differs between two images' grids ("size", "spacing", "origin" or "direction",
    with both values), or None when they share one grid."""
    checks = [("size", a.GetSize(), b.GetSize(), 0.0),
              ("spacing", a.GetSpacing(), b.GetSpacing(), SPACING_TOL_MM),
              ("origin", a.GetOrigin(), b.GetOrigin(), ORIGIN_TOL_MM),
              ("direction", a.GetDirection(), b.GetDirection(), DIRECTION_TOL)]
    for what, first, second, tol in checks:
        if len(first) != len(second) or np.max(np.abs(np.subtract(first, second))) > tol:
            return (f"{what} {tuple(round(float(v), 4) for v in first)} versus "
                    f"{tuple(round(float(v), 4) for v in second)}")
    return None


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """True when two images share size, spacing, origin and direction."""
    return grid_difference(a, b) is None


def check_same_grid(mask: sitk.Image, image: sitk.Image, name: str = "mask",
                    image_name: str = "scan") -> None:
    """Raise :class:`GridMismatchError` unless ``mask`` lies on ``image``'s voxel grid.

    ``name`` and ``image_name`` are the words the caller's user knows them by (e.g. "label
    map" and "CT").
    """
    if not isinstance(mask, sitk.Image):
        raise GridMismatchError(f"the {name} must be a SimpleITK image on the {image_name}'s "
                                f"grid, got {type(mask).__name__}")
    difference = grid_difference(mask, image)
    if difference:
        raise GridMismatchError(
            f"the {name} is not on the {image_name}'s grid: {difference} ({name}: "
            f"{grid_text(mask)}; {image_name}: {grid_text(image)}). Pass the {name} made for "
            f"this {image_name}, or resample it onto the {image_name}'s grid first "
            "(sitk.Resample(mask, scan, sitk.Transform(), sitk.sitkNearestNeighbor)).")
