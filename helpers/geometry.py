"""Where is each voxel in the patient? Origin, spacing, direction, and resampling.

A CT volume is an array plus a map into the patient: the physical point (mm) of voxel
index ``(i, j, k)`` is ``origin + direction @ (spacing * (i, j, k))``. SimpleITK, ITK and
DICOM give points in LPS (x to the patient's Left, y to Posterior, z to Superior);
NIfTI tools such as nibabel and 3D Slicer usually show RAS, the same point with x and y
negated. Index order is ``(i, j, k) = (x, y, z)`` in SimpleITK and the reverse,
``[k, j, i]``, in the NumPy array from ``GetArrayFromImage``.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

_TOWARDS = (("L", "R"), ("P", "A"), ("S", "I"))  # (+axis, -axis) letters in LPS
OPPOSITE = {"L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"}


def direction_letter(vector) -> str:
    """The anatomical letter a direction (LPS) points towards, by its largest component."""
    vector = np.asarray(vector, dtype=float)
    axis = int(np.argmax(np.abs(vector)))
    return _TOWARDS[axis][0 if vector[axis] > 0 else 1]


def direction_matrix(image: sitk.Image) -> np.ndarray:
    """The 3x3 direction matrix; column ``n`` is the direction of index axis ``n``."""
    dim = image.GetDimension()
    return np.array(image.GetDirection()).reshape(dim, dim)


def index_to_point(image: sitk.Image, index) -> np.ndarray:
    """Physical point (mm, LPS) of a voxel index ``(i, j, k)``, by the textbook formula.

    Equals ``image.TransformContinuousIndexToPhysicalPoint(index)``; written out so the
    formula is visible.
    """
    index = np.asarray(index, dtype=float)
    spacing = np.array(image.GetSpacing())
    return np.array(image.GetOrigin()) + direction_matrix(image) @ (spacing * index)


def point_to_index(image: sitk.Image, point_mm) -> tuple[int, ...]:
    """The voxel index ``(i, j, k)`` nearest to a physical point (mm, LPS).

    Raises ``IndexError`` (with the numbers) when the point lies outside the image.
    """
    point = np.asarray(point_mm, dtype=float)
    spacing = np.array(image.GetSpacing())
    continuous = np.linalg.solve(direction_matrix(image), point - np.array(image.GetOrigin()))
    index = tuple(int(v) for v in np.round(continuous / spacing))
    size = image.GetSize()
    if any(not 0 <= i < n for i, n in zip(index, size, strict=True)):
        raise IndexError(f"the point {tuple(point.round(2))} mm is outside the image: it would "
                         f"be index {index}, but the size is {size}. Is it in RAS instead of "
                         "LPS (x and y negated), or from another image's frame?")
    return index


def hu_at_point(image: sitk.Image, point_mm) -> float:
    """The voxel value (HU for a CT) at the voxel nearest to a physical point."""
    return float(image.GetPixel(point_to_index(image, point_mm)))


def ras_to_lps(point) -> np.ndarray:
    """Convert a point between RAS and LPS (x and y change sign; z stays)."""
    return np.asarray(point, dtype=float) * np.array([-1.0, -1.0, 1.0])


lps_to_ras = ras_to_lps  # the same flip in both directions


def orientation_code(image: sitk.Image) -> str:
    """Three letters: where index axes i, j, k point, e.g. ``"LPS"`` or ``"RAS"``."""
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())


def axis_letters(image: sitk.Image) -> tuple[str, str, str]:
    """The anatomical direction each index axis runs towards (its largest component)."""
    return tuple(direction_letter(column) for column in direction_matrix(image).T)


def describe_geometry(image: sitk.Image) -> str:
    """Size, spacing, origin, direction and orientation code, one per line."""
    matrix = direction_matrix(image)
    rows = "\n".join(f"    [{' '.join(f'{v:5.2f}' for v in row)}]" for row in matrix)
    return (f"size (i, j, k)   : {image.GetSize()} voxels\n"
            f"spacing          : {tuple(round(s, 4) for s in image.GetSpacing())} mm\n"
            f"origin           : {tuple(round(o, 2) for o in image.GetOrigin())} mm (LPS)\n"
            f"orientation code : {orientation_code(image)} (i, j, k run towards these)\n"
            f"direction (columns = i, j, k axes):\n{rows}")


def resample_isotropic(image: sitk.Image, spacing_mm: float | None = None, *,
                       is_label: bool = False, interpolator=None) -> sitk.Image:
    """Resample to cubic voxels of ``spacing_mm`` (default: the smallest current spacing).

    The grid keeps its origin and direction and covers the same extent. CT (HU) uses
    linear interpolation and fills outside with -1024 HU (air); label maps
    (``is_label=True``) use nearest neighbour and fill with 0, because averaging label
    ids invents labels that were never drawn (between 0 and 7 lie 1 to 6). Pass
    ``interpolator`` (e.g. ``sitk.sitkBSpline``) to override.
    """
    old = np.array(image.GetSpacing())
    new = float(spacing_mm) if spacing_mm is not None else float(old.min())
    if new <= 0:
        raise ValueError(f"spacing must be positive, got {spacing_mm} mm")
    size = [max(1, int(round(n * s / new))) for n, s in zip(image.GetSize(), old, strict=True)]
    if interpolator is None:
        interpolator = sitk.sitkNearestNeighbor if is_label else sitk.sitkLinear
    return sitk.Resample(image, size, sitk.Transform(), interpolator, image.GetOrigin(),
                         (new,) * image.GetDimension(), image.GetDirection(),
                         0 if is_label else -1024, image.GetPixelID())


def find_slab_offset(slab: sitk.Image, volume: sitk.Image) -> int | None:
    """The k at which ``slab``'s voxels equal ``volume[:, :, k:k + n]`` exactly, else None.

    Compares voxel values only, ignoring both headers: that is the point, since it
    reveals where a cropped image really came from.
    """
    small, big = sitk.GetArrayViewFromImage(slab), sitk.GetArrayViewFromImage(volume)
    if small.shape[1:] != big.shape[1:] or small.shape[0] > big.shape[0]:
        return None
    for k in range(big.shape[0] - small.shape[0] + 1):
        if np.array_equal(big[k], small[0]) and np.array_equal(big[k:k + small.shape[0]], small):
            return k
    return None


def header_slab_offset(slab: sitk.Image, volume: sitk.Image) -> float:
    """Where the headers say ``slab`` starts inside ``volume``, in slices along k."""
    return volume.TransformPhysicalPointToContinuousIndex(slab.GetOrigin())[2]
