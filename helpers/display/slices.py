"""Show CT the way radiologists read it: correct orientation, a window in HU, label overlays.

Conventions (radiological display):

* axial: anterior at the top, the patient's right on the image's left;
* coronal: superior at the top, the patient's right on the image's left;
* sagittal: superior at the top, anterior on the image's left.

Every function here is pure (arrays and images in, arrays out) so it can be tested; the
figures of :mod:`.figures` and the viewer of :mod:`.viewer` are thin layers over them.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..geometry import OPPOSITE, direction_letter

PLANES = ("axial", "coronal", "sagittal")


# (width, level) in HU. Soft tissue, liver, bone and lung are common clinical presets;
# "pancreas" is a narrower soft-tissue window used in this series (a convention, not a
# standard) to stretch the small HU differences inside the gland.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (400.0, 40.0),
    "pancreas": (250.0, 40.0),
    "liver": (150.0, 60.0),
    "bone": (1800.0, 400.0),
    "lung": (1500.0, -600.0),
}


# Letters at the (left, right, top, bottom) edges of each plane after orient_slice().
EDGE_LETTERS = {
    "axial": ("R", "L", "A", "P"),
    "coronal": ("R", "L", "S", "I"),
    "sagittal": ("A", "P", "S", "I"),
}


def resolve_window(window: str | tuple[float, float]) -> tuple[float, float]:
    """Turn a preset name or a ``(width, level)`` pair into ``(width, level)`` in HU."""
    if isinstance(window, str):
        if window not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {window!r}; choose one of "
                             f"{', '.join(WINDOW_PRESETS)} or pass (width, level) in HU")
        return WINDOW_PRESETS[window]
    width, level = (float(v) for v in window)
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width} HU")
    return width, level


def window_bounds(window: str | tuple[float, float]) -> tuple[float, float]:
    """The HU range ``(lowest, highest)`` a window maps onto black ... white."""
    width, level = resolve_window(window)
    return level - width / 2, level + width / 2


def apply_window(hu: np.ndarray, window: str | tuple[float, float] = "soft_tissue"):
    """Map HU to display grey levels in [0, 1]: below the window black, above it white."""
    low, high = window_bounds(window)
    return np.clip((np.asarray(hu, dtype=np.float32) - low) / (high - low), 0.0, 1.0)


def to_lps(image: sitk.Image) -> sitk.Image:
    """Reorient (flip/permute axes only, no interpolation) so the direction is LPS.

    After this, index axis x runs to the patient's Left, y to Posterior, z to Superior:
    the layout :func:`orient_slice` expects. Label maps stay exact.
    """
    return sitk.DICOMOrient(image, "LPS")


def orient_slice(volume_zyx: np.ndarray, plane: str, index: int) -> np.ndarray:
    """Cut one display-ready 2D slice from an LPS array laid out ``[z, y, x]``.

    Rows run top to bottom and columns left to right as they should appear on screen.
    """
    if plane == "axial":
        return volume_zyx[index, :, :]
    if plane == "coronal":
        return volume_zyx[::-1, index, :]
    if plane == "sagittal":
        return volume_zyx[::-1, :, index]
    raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")


def plane_axis(plane: str) -> int:
    """The ``[z, y, x]`` array axis that a plane's slice index runs along."""
    return {"axial": 0, "coronal": 1, "sagittal": 2}[plane]


def pixel_aspect(spacing_xyz, plane: str) -> float:
    """Height/width of one displayed pixel, for ``imshow(aspect=...)``."""
    sx, sy, sz = spacing_xyz
    return {"axial": sy / sx, "coronal": sz / sx, "sagittal": sz / sy}[plane]


def extract_slice(image: sitk.Image, plane: str, index: int | None = None):
    """A display-ready slice of any SimpleITK image, and its pixel aspect ratio.

    ``index`` counts along the plane's axis of the LPS-reoriented image (None: middle).
    Returns ``(array2d, aspect)``.
    """
    lps = to_lps(image)
    volume = sitk.GetArrayViewFromImage(lps)
    axis = plane_axis(plane)
    if index is None:
        index = volume.shape[axis] // 2
    if not 0 <= index < volume.shape[axis]:
        raise IndexError(f"{plane} slice {index} is outside 0..{volume.shape[axis] - 1}")
    return np.array(orient_slice(volume, plane, index)), pixel_aspect(lps.GetSpacing(), plane)


def point_to_slice_indices(image: sitk.Image, point_mm) -> dict[str, int]:
    """Slice index per plane (in the LPS-reoriented image) through a physical point in mm."""
    i, j, k = to_lps(image).TransformPhysicalPointToIndex(tuple(float(v) for v in point_mm))
    return {"axial": k, "coronal": j, "sagittal": i}


def display_to_index(shape_zyx, plane: str, slice_index: int, row: int, col: int):
    """The LPS voxel index ``(i, j, k)`` shown at ``(row, col)`` of an oriented slice.

    The exact inverse of :func:`orient_slice` for an LPS volume of ``shape_zyx``.
    """
    nz = shape_zyx[0]
    if plane == "axial":
        return col, row, slice_index
    if plane == "coronal":
        return col, slice_index, nz - 1 - row
    if plane == "sagittal":
        return slice_index, col, nz - 1 - row
    raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")


def index_to_display(shape_zyx, plane: str, ijk) -> tuple[int, int, int]:
    """``(slice_index, row, col)`` at which an LPS voxel ``(i, j, k)`` appears in a plane."""
    i, j, k = (int(v) for v in ijk)
    nz = shape_zyx[0]
    if plane == "axial":
        return k, j, i
    if plane == "coronal":
        return j, nz - 1 - k, i
    if plane == "sagittal":
        return i, nz - 1 - k, j
    raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")


def label_centroid_mm(labels: sitk.Image, label: int):
    """Physical centre (mm, LPS) of one label, e.g. the pancreas (7)."""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.Cast(labels, sitk.sitkUInt8) if labels.GetPixelID() != sitk.sitkUInt8
                  else labels)
    if label not in stats.GetLabels():
        raise ValueError(f"label {label} is not present in this label map")
    return np.array(stats.GetCentroid(label))


# Bands for the HU-scale figure. Air (-1000 HU) and water (0 HU) define the scale; the fat
# band is the usual fat segmentation window; the others are broad, approximate ranges
# (real tissues overlap, and partial volume blurs every boundary). Colours: Okabe-Ito.
TISSUE_BANDS: tuple[tuple[str, float, float, str], ...] = (
    ("air and lung", -1100.0, -500.0, "#0072B2"),
    ("fat", -190.0, -30.0, "#E69F00"),
    ("water and soft tissue", -30.0, 100.0, "#009E73"),
    ("bone, or vessels with iodine contrast", 100.0, 3100.0, "#CC79A7"),
)


def tissue_class_map(hu: np.ndarray, bands=TISSUE_BANDS) -> np.ndarray:
    """Class number per pixel: ``n`` (1-based) for the band that holds it, 0 for none."""
    hu = np.asarray(hu)
    classes = np.zeros(hu.shape, dtype=np.uint8)
    for n, (_, low, high, _) in enumerate(bands, start=1):
        classes[(hu >= low) & (hu < high)] = n
    return classes


def edge_letters_from_directions(row_dir, col_dir) -> tuple[str, str, str, str]:
    """``(left, right, top, bottom)`` letters for a slice shown with ``imshow``.

    ``row_dir`` is the patient direction (LPS) in which the column index grows (along a
    row, to the right on screen); ``col_dir`` the one in which the row index grows (down
    the screen): e.g. the two halves of DICOM's ImageOrientationPatient.
    """
    right, bottom = direction_letter(row_dir), direction_letter(col_dir)
    return OPPOSITE[right], right, OPPOSITE[bottom], bottom


def raw_edge_letters(image: sitk.Image) -> tuple[str, str, str, str]:
    """Letters at the edges of ``plt.imshow(GetArrayFromImage(image)[k])``, no reorienting."""
    matrix = np.array(image.GetDirection()).reshape(3, 3)
    return edge_letters_from_directions(matrix[:, 0], matrix[:, 1])

