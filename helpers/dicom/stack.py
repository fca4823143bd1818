"""Put the slices of one series in order and derive the volume's geometry from the headers.

Slices are ordered by their position along the slice normal (never by file name or
InstanceNumber) and checked for repeats, gaps, unequal steps, mixed sizes or orientations and
shear (gantry tilt), each with its own error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .errors import (
    DuplicateSliceError,
    InconsistentSeriesError,
    MissingSliceError,
    UnequalSpacingError,
)
from .series import file_name


@dataclass(frozen=True)
class SliceStack:
    """Slices in order along their normal, with the geometry of the volume they make."""

    datasets: list
    positions: np.ndarray  # mm along the slice normal, ascending
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]  # x (along a row), y (down a column), z (normal)
    direction: tuple[float, ...]  # 3x3 row-major, columns: row, column, normal directions


def header_vector(ds, keyword: str, length: int) -> np.ndarray:
    value = ds.get(keyword)
    if value is None or len(value) != length:
        raise InconsistentSeriesError(
            f"{file_name(ds)} has no valid {keyword} (found {value!r}), so it cannot be placed in "
            "space. Slices without geometry cannot form a volume; check the export settings.")
    return np.array([float(v) for v in value])


def sort_slices(datasets, tolerance: float = 0.01) -> SliceStack:
    """Order slices by position along the slice normal and derive the volume's geometry.

    The normal is row direction x column direction (from ImageOrientationPatient), so this
    works for axial, coronal, sagittal and oblique stacks alike. Raises when slices differ
    in size, pixel spacing or orientation, when the stack is sheared (gantry tilt), or via
    :func:`check_spacing` when positions repeat, have a gap or are unequally spaced.
    """
    first = datasets[0]
    orientation = header_vector(first, "ImageOrientationPatient", 6)
    row, col = orientation[:3], orientation[3:]
    if abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(col) - 1) > 1e-3 \
            or abs(row @ col) > 1e-3:
        raise InconsistentSeriesError(f"{file_name(first)}: ImageOrientationPatient {orientation} "
                                      "is not two perpendicular unit vectors.")
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)  # DS values carry rounding
    reference = (first.Rows, first.Columns, tuple(header_vector(first, "PixelSpacing", 2)))
    for ds in datasets[1:]:
        if (ds.Rows, ds.Columns, tuple(header_vector(ds, "PixelSpacing", 2))) != reference:
            raise InconsistentSeriesError(
                f"{file_name(ds)} has size {ds.Rows}x{ds.Columns} and pixel spacing "
                f"{list(ds.PixelSpacing)} but {file_name(first)} has {reference[0]}x{reference[1]} "
                f"and {list(reference[2])}: they are not one volume (a scout or a "
                "reformat mixed in?). Move the odd file out or pass series_uid.")
        if not np.allclose(header_vector(ds, "ImageOrientationPatient", 6), orientation, atol=1e-4):
            raise InconsistentSeriesError(
                f"{file_name(ds)} is oriented {list(ds.ImageOrientationPatient)} but "
                f"{file_name(first)} is oriented {list(orientation)}: slices of one volume share "
                "one orientation. Move the odd file out or pass series_uid.")
    corners = np.array([header_vector(ds, "ImagePositionPatient", 3) for ds in datasets])
    order = np.argsort(corners @ normal, kind="stable")
    datasets = [datasets[i] for i in order]
    corners, positions = corners[order], (corners @ normal)[order]
    names = [file_name(ds) for ds in datasets]
    dz = check_spacing(positions, names, tolerance)
    if dz is None:  # a single slice: the header's nominal spacing is all there is
        dz = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    steps = np.diff(corners, axis=0)
    sideways = np.linalg.norm(steps - np.outer(steps @ normal, normal), axis=1)
    if sideways.size and sideways.max() > tolerance * dz:
        tilt = np.degrees(np.arctan2(sideways.max(), dz))
        raise InconsistentSeriesError(
            f"the slices are sheared: each one is shifted up to {sideways.max():.2f} mm "
            f"sideways (about {tilt:.1f} degrees, e.g. a gantry tilt). A regular grid cannot "
            "hold this without resampling; read it with SimpleITK and resample, or ask for "
            "an untilted reconstruction.")
    pixel_spacing = reference[2]  # DICOM order: (between rows, between columns)
    matrix = np.column_stack([row, col, normal])
    return SliceStack(datasets, positions, tuple(corners[0]),
                      (pixel_spacing[1], pixel_spacing[0], dz), tuple(matrix.ravel()))


def check_spacing(positions, names=None, tolerance: float = 0.01) -> float | None:
    """The slice spacing in mm from sorted positions; raises on repeats, gaps, unequal steps.

    ``tolerance`` is relative to the spacing (1 % by default). Returns None for one slice.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.size < 2:
        return None
    names = names or [f"slice {i}" for i in range(positions.size)]
    steps = np.diff(positions)

    def where(i):
        return (f"{names[i]} ({positions[i]:.2f} mm) and {names[i + 1]} "
                f"({positions[i + 1]:.2f} mm)")

    same = np.flatnonzero(steps < 1e-3)
    if same.size:
        raise DuplicateSliceError(
            f"two files at the same position: {where(same[0])}. The folder holds a slice "
            "twice, or two series share one SeriesInstanceUID (e.g. two reconstructions). "
            "Remove the duplicates or separate the series.")
    spacing = float(np.median(steps))
    tol = max(tolerance * spacing, 1e-4)
    odd = np.flatnonzero(np.abs(steps - spacing) > tol)
    if odd.size == 0:
        return spacing
    ratios = steps[odd] / spacing
    if np.all((ratios > 1.5) & (np.abs(ratios - np.round(ratios)) * spacing <= tol)):
        gaps = "; ".join(f"between {where(i)}: {steps[i]:.2f} mm, about {round(r) - 1} "
                         "slice(s) missing" for i, r in zip(odd, ratios, strict=True))
        raise MissingSliceError(
            f"slices are {spacing:.2f} mm apart, but there is a gap {gaps}. Copy the missing "
            "file(s) again from the source; a volume with a hole would put every slice "
            "beyond it at the wrong place.")
    found = Counter(np.round(steps, 2).tolist())
    listing = ", ".join(f"{s:.2f} mm ({n}x)" for s, n in sorted(found.items()))
    raise UnequalSpacingError(
        f"the slices are not equally spaced: steps of {listing}; it first changes between "
        f"{where(odd[0])}. A regular grid cannot represent this. Read the parts with equal "
        "spacing separately, or resample (e.g. SimpleITK reads it with a warning).")

