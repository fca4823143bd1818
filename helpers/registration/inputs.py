"""Checks of what is passed to the registration helpers, with messages that say what to do.

Every problem raises :class:`RegistrationInputError` (an :class:`helpers.checks.InputError`):
not a SimpleITK image, not 3-D, several values per voxel, NaN or constant intensities, a mask
with NaN, fractions or negative labels, or two scans that hardly overlap in physical space.
A CT in raw stored values (HU + 1024) given to ``register`` with its CT window ``clamp_hu``
raises :class:`RegistrationNotCTError`, which is also a :class:`helpers.checks.NotCTError`.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..checks import (
    InputError,
    NotCTError,
    check_finite,
    check_labels,
    check_not_stored_values,
)

MIN_OVERLAP = 0.2  # fraction of the fixed image that must land inside the moving image


class RegistrationInputError(InputError):
    """Bad input to a registration helper; the message says what was wrong and what to do."""


class RegistrationNotCTError(RegistrationInputError, NotCTError):
    """An image given to ``register`` with a CT window (``clamp_hu``) is not in HU."""


def check_image(image, name: str, *, scalar: bool = True) -> sitk.Image:
    if not isinstance(image, sitk.Image):
        raise RegistrationInputError(
            f"{name} must be a SimpleITK.Image, got {type(image).__name__}. For a numpy array "
            "use sitk.GetImageFromArray(array) and copy spacing/origin/direction from the scan "
            "it came from (image.CopyInformation(scan)).")
    if image.GetDimension() != 3:
        raise RegistrationInputError(f"{name} must be a 3-D image, got {image.GetDimension()}-D")
    if scalar and image.GetNumberOfComponentsPerPixel() != 1:
        raise RegistrationInputError(
            f"{name} has {image.GetNumberOfComponentsPerPixel()} values per voxel (a vector or "
            "colour image); registration needs one intensity per voxel. Pick a channel with "
            "sitk.VectorIndexSelectionCast(image, 0) or convert it to grey first.")
    if "complex" in image.GetPixelIDTypeAsString():
        raise RegistrationInputError(f"{name} is complex-valued; pass its magnitude instead")
    return image


def as_float(image: sitk.Image, name: str) -> sitk.Image:
    """Float32 copy; integer CT (e.g. int16 from DICOM) is converted, never modified in place."""
    image = check_image(image, name)
    out = sitk.Cast(image, sitk.sitkFloat32)
    # the shared check says how many, in which slice, and how to replace them
    check_finite(out, f"{name} image", RegistrationInputError)
    values = sitk.GetArrayViewFromImage(out)
    if float(values.max()) == float(values.min()):
        raise RegistrationInputError(f"{name} is constant ({float(values.min())}): there is "
                                     "nothing to align. Did you pass a blank or wrong image?")
    return out


def check_hu(image: sitk.Image, name: str, clamp_hu) -> None:
    """With a CT window ``clamp_hu``, refuse an image in raw stored values (HU + 1024): the
    window would clamp it to a nearly blank image and the result would be quietly wrong."""
    if clamp_hu is None:
        return
    check_not_stored_values(image, name, RegistrationNotCTError, advice=(
        f" register clamps both images to the CT window clamp_hu={tuple(clamp_hu)} HU, which "
        "would flatten these values. For an image that is not a CT (e.g. MR), pass "
        "clamp_hu=None: that skips this check and the clamping."))


def check_registration_mask(mask, name: str, *, allow_empty: bool = False) -> sitk.Image:
    mask = check_labels(check_image(mask, name), name, RegistrationInputError)
    if "float" in mask.GetPixelIDTypeAsString():
        mask = sitk.Cast(mask, sitk.sitkInt32)
    if not allow_empty and not sitk.GetArrayViewFromImage(mask).any():
        raise RegistrationInputError(
            f"{name} is empty (no foreground voxel): there is nothing to carry or measure. "
            "For a healthy case skip the transfer, or pass allow_empty=True.")
    return mask


def _box(image: sitk.Image):
    """Physical corners (8 x 3 mm) of an image's voxel-centre box."""
    size = np.array(image.GetSize()) - 1
    corners = [[float(i * size[0]), float(j * size[1]), float(k * size[2])] for i in (0, 1)
               for j in (0, 1) for k in (0, 1)]
    return np.array([image.TransformContinuousIndexToPhysicalPoint(c) for c in corners])


def overlap_fraction(fixed: sitk.Image, moving: sitk.Image, transform=None, n: int = 8):
    """Share of an ``n``^3 grid of fixed-image points that ``transform`` maps into ``moving``."""
    transform = transform or sitk.Transform(3, sitk.sitkIdentity)
    axes = [np.linspace(0, s - 1, n) for s in fixed.GetSize()]
    inside, size = 0, np.array(moving.GetSize())
    for i in axes[0]:
        for j in axes[1]:
            for k in axes[2]:
                p = transform.TransformPoint(fixed.TransformContinuousIndexToPhysicalPoint(
                    (float(i), float(j), float(k))))
                idx = np.array(moving.TransformPhysicalPointToContinuousIndex(p))
                inside += bool(np.all(idx >= -0.5) and np.all(idx <= size - 0.5))
    return inside / n**3


def check_overlap(fixed, moving, initial) -> None:
    share = overlap_fraction(fixed, moving, initial)
    if share < MIN_OVERLAP:
        spans = [f"{name} spans " + " x ".join(
            f"{lo:.0f}..{hi:.0f}" for lo, hi in zip(box.min(0), box.max(0), strict=True)) + " mm"
            for name, box in (("fixed", _box(fixed)), ("moving", _box(moving)))]
        raise RegistrationInputError(
            f"the images hardly overlap in physical space: only {share:.0%} of the fixed image "
            f"falls inside the moving one ({spans[0]}; {spans[1]}). Their coordinate systems "
            "probably differ (e.g. a different origin in the header). Start by aligning their "
            "centres: register(..., initial='geometry'), or pass an initial transform.")

