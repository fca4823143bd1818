"""The working grid every stage runs on: 3 mm voxels in the virtual patients' orientation.

A scan of any orientation and voxel size is reoriented (axes permuted and flipped, no
interpolation) and resampled to 3 mm (:func:`to_working_grid`); masks found there are carried
back onto the input's grid (:func:`to_input_grid`). Arrays are ``[z, y, x]``. The input is
never modified. Not for clinical use.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from ..checks import check_resample_memory
from ..simulate import load_base

WORK_SPACING_MM = 3.0


def reference_orientation() -> str:
    """SimpleITK orientation code of the virtual patients' grid (the working grid's)."""
    direction = load_base().reference.GetDirection()
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(direction)


def to_working_grid(image: sitk.Image) -> sitk.Image:
    """The image reoriented like the atlases and resampled to 3 mm voxels (float32 HU).

    Reorienting only permutes/flips axes; resampling happens only when the spacing differs
    from :data:`WORK_SPACING_MM`: block averaging when it divides 3 mm on every axis (1.5,
    0.75, 1 mm), else a light Gaussian blur and linear interpolation. The input is never
    modified. A grid that would need more than about 2 GB is refused first
    (:class:`helpers.checks.ScanTooLargeError`).
    """
    check_resample_memory(image, WORK_SPACING_MM, "image")
    image = sitk.DICOMOrient(sitk.Cast(image, sitk.sitkFloat32), reference_orientation())
    spacing = np.asarray(image.GetSpacing())
    if np.allclose(spacing, WORK_SPACING_MM, atol=1e-3):
        return image
    factors = WORK_SPACING_MM / spacing
    if np.allclose(factors, np.round(factors), atol=1e-3) and np.all(np.round(factors) >= 1):
        # Whole multiples of 3 mm: average each block of fine voxels, as a 3 mm voxel of the
        # same scanner would; no further blur (a thin gland would lose HU to the fat).
        return sitk.BinShrink(image, [int(round(f)) for f in factors])
    if np.any(spacing < WORK_SPACING_MM):  # blur before shrinking, so noise does not alias
        sigma = 0.5 * np.sqrt(np.maximum(WORK_SPACING_MM**2 - spacing**2, 0.0)) + 1e-3
        image = sitk.SmoothingRecursiveGaussian(image, [float(v) for v in sigma])
    size = [max(1, int(round(n * s / WORK_SPACING_MM)))
            for n, s in zip(image.GetSize(), spacing, strict=True)]
    origin = image.TransformContinuousIndexToPhysicalPoint(
        [(WORK_SPACING_MM / s - 1) / 2 for s in spacing])  # keep the field of view centred
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, origin,
                         [WORK_SPACING_MM] * 3, image.GetDirection(), -1024.0, sitk.sitkFloat32)


def resample_in_plane(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """``image`` on a grid of ``spacing_mm`` in-plane (x, y), same slices and field of view,
    linear interpolation: the same anatomy as a finer (or coarser) scan would frame it. Used
    to test that a call does not depend on the grid a scan comes on."""
    old = image.GetSpacing()
    new = (spacing_mm, spacing_mm, old[2])
    size = [int(round(n * s / t)) for n, s, t in zip(image.GetSize(), old, new, strict=True)]
    origin = image.TransformContinuousIndexToPhysicalPoint(
        [(t / s - 1) / 2 for s, t in zip(old, new, strict=True)])
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, origin, new,
                         image.GetDirection(), -1024.0, sitk.sitkFloat32)


def to_input_grid(mask_work: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """A working-grid mask carried back onto the input's grid (uint8, 0/1).

    Linear interpolation of the 0/1 mask then a 0.5 threshold, so a finer input grid gets a
    smooth outline rather than 3 mm staircase blocks.
    """
    moved = sitk.Resample(sitk.Cast(mask_work, sitk.sitkFloat32), reference, sitk.Transform(),
                          sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.Cast(moved >= 0.5, sitk.sitkUInt8)


def body_mask(hu: np.ndarray) -> np.ndarray:
    """The patient's body: the largest connected region above -500 HU, holes filled per slice
    (so air in the bowel counts as inside the body, air around the patient does not)."""
    solid = hu > -500
    labels, n = ndi.label(solid)
    if n == 0:
        return solid
    sizes = ndi.sum(solid, labels, range(1, n + 1))
    body = labels == 1 + int(np.argmax(sizes))
    return np.stack([ndi.binary_fill_holes(s) for s in body])


def as_image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    """A NumPy array ``[z, y, x]`` as a SimpleITK image on ``like``'s grid (bool -> uint8)."""
    array = np.asarray(array)
    image = sitk.GetImageFromArray(array.astype(np.uint8) if array.dtype == bool else array)
    image.CopyInformation(like)
    return image



def to_working(scan: sitk.Image, mask: sitk.Image | None = None):
    """The scan (HU array) and optionally a mask (bool array) on stage 1's 3 mm working grid,
    plus the working-grid image (for carrying results back)."""
    working = to_working_grid(scan)
    hu = sitk.GetArrayFromImage(working)
    return hu, (None if mask is None else mask_on_working(mask, working)), working


def mask_on_working(mask: sitk.Image, working: sitk.Image) -> np.ndarray:
    """A mask on the scan's grid as a bool array on the working grid (nearest neighbour)."""
    moved = sitk.Resample(sitk.Cast(mask > 0, sitk.sitkUInt8), working, sitk.Transform(),
                          sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(moved) > 0

