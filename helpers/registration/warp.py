"""Carry masks and images from the moving (contrast) scan onto the fixed (plain) scan's grid.

``transform`` always maps a physical point of the fixed scan to the same anatomy in the moving
scan, as :func:`helpers.registration.register` returns it: that is the direction resampling
needs (for each output voxel, where to read). Not for clinical use.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .inputs import RegistrationInputError, check_image, check_registration_mask


def check_transform(transform, reference: sitk.Image) -> None:
    if not isinstance(transform, sitk.Transform):
        raise RegistrationInputError(f"transform must be a SimpleITK transform (what register() "
                                     f"returns), got {type(transform).__name__}")
    if transform.GetDimension() != reference.GetDimension():
        raise RegistrationInputError(f"a {transform.GetDimension()}-D transform cannot map a "
                                     f"{reference.GetDimension()}-D grid")


def warp_mask(mask: sitk.Image, transform: sitk.Transform, reference: sitk.Image, *,
              interpolation: str = "linear", allow_empty: bool = False) -> sitk.Image:
    """Carry a label mask from the moving scan onto ``reference``'s grid through ``transform``.

    ``transform`` maps reference (plain) points to mask (contrast) points, as :func:`register`
    returns. Label-safe: each label is resampled as a 0/1 image with linear interpolation and
    a voxel takes the label covering most of it (at least half), so labels never blend into
    made-up values and edges move by sub-voxel amounts. ``interpolation="nearest"`` gives
    SimpleITK's nearest-neighbour resampling instead, for comparison. Returns uint8 (or the
    mask's own integer type when labels exceed 255).
    """
    mask = check_registration_mask(mask, "mask", allow_empty=allow_empty)
    reference = check_image(reference, "reference", scalar=False)
    check_transform(transform, reference)
    if interpolation not in ("linear", "nearest"):
        raise RegistrationInputError(f"interpolation must be 'linear' or 'nearest', got "
                                     f"{interpolation!r}")
    labels = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(mask)) if v != 0]
    pixel = sitk.sitkUInt8 if max(labels, default=0) <= 255 else mask.GetPixelID()
    if interpolation == "nearest":
        return sitk.Resample(sitk.Cast(mask, pixel), reference, transform,
                             sitk.sitkNearestNeighbor, 0, pixel)
    shape = reference.GetSize()[::-1]
    best, share = np.zeros(shape, np.float32), np.zeros(shape, np.int64)
    for label in labels:
        part = sitk.Resample(sitk.Cast(mask == label, sitk.sitkFloat32), reference, transform,
                             sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        cover = sitk.GetArrayViewFromImage(part)
        wins = (cover > best) & (cover >= 0.5)
        best = np.maximum(best, cover)
        share[wins] = label
    out = sitk.Cast(sitk.GetImageFromArray(share), pixel)
    out.CopyInformation(reference)
    return out


def warp_image(image: sitk.Image, transform: sitk.Transform, reference: sitk.Image,
               default_value: float = -1000.0) -> sitk.Image:
    """Resample an intensity image onto ``reference``'s grid (linear); outside: ``default_value``
    (air, -1000 HU, for CT)."""
    image = check_image(image, "image")
    check_transform(transform, check_image(reference, "reference", scalar=False))
    return sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), reference, transform,
                         sitk.sitkLinear, default_value, sitk.sitkFloat32)

