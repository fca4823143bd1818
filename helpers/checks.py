"""Input checks every public function of the series shares, and the error classes they raise.

A student's mistake should meet a clear message at the function they called, in the words of
the argument they passed: what was wrong, the values seen, and what to do. Every error here
is an :class:`InputError` (a ``ValueError``), so a notebook can catch them all at once.

The checks, called at the top of each public function that takes such input:

* a scan: :func:`check_scan` (a 3-D SimpleITK image, plausible voxels, finite values, in
  Hounsfield units rather than normalised or raw stored values; :class:`NotCTError`), with
  :func:`check_resample_memory` (:class:`ScanTooLargeError`) for the grid a function builds;
* a mask against its scan: :func:`check_mask` (labels, same grid, not empty);
* a pair of masks: :func:`check_mask_pair`;
* a pancreas mask big enough to hold a gland: :func:`check_gland_size` (the rules stage 1
  applies to its own result, :data:`MIN_COVERAGE_MM` and :data:`PLAUSIBLE_ML`);
* the pieces they are made of: :func:`check_labels`, :func:`check_finite`,
  :func:`stored_value_peak` and :func:`check_not_stored_values` (raw stored values, HU + 1024).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

# Two images are on one grid when sizes match and these agree (mm, mm, cosines): far finer
# than a voxel, and loose enough for headers written as float32.
SPACING_TOL_MM, ORIGIN_TOL_MM, DIRECTION_TOL = 1e-3, 1e-2, 1e-4

# What a CT in Hounsfield units looks like: air (about -1000 HU) around or inside the body,
# lots of soft tissue, almost nothing beyond the scanner's range.
AIR_HU, SOFT_TISSUE_HU, CT_RANGE_HU = -500.0, (-200.0, 200.0), 3100.0
# Raw stored values (HU + 1024, the rescale not applied) have no air near -1000 and their
# fat-to-soft-tissue peak (-150..+200 HU) where HU would be about +870..+1230.
STORED_OFFSET, STORED_PEAK = 1024.0, (870.0, 1230.0)
# Voxel sizes of a CT: about 0.3-5 mm, slices up to about 10 mm. Far outside this range the
# header's spacing is wrong (e.g. cm or m taken for mm), and resampling it makes no sense.
VOXEL_MM = (0.05, 20.0)
MAX_GRID_BYTES = 2 * 1024**3  # about 2 GB: more than this for one grid is refused up front
MAX_CHECKED_VOXELS = 4_000_000  # value checks of a larger scan read an even sample this big
# What can hold a pancreas: stage 1's rules for its own result, and for a mask a user gives.
MIN_COVERAGE_MM = 45.0  # head-to-foot; the pancreas alone spans about 50-60 mm here
PLAUSIBLE_ML = (4.0, 250.0)  # wide on purpose: the toy gland is ~17 mL, real adults more


class InputError(ValueError):
    """Bad input to one of the series' functions; the message says what to do."""


class GridMismatchError(InputError):
    """A mask (or label map) is not on the grid of the image it belongs to."""


class NotCTError(InputError):
    """The image is not a 3D CT in Hounsfield units; the message says what was found."""


class EmptyMaskError(InputError):
    """A mask that must mark something is empty."""


class ScanTooLargeError(InputError):
    """The grid a function would build for this scan needs more memory than is safe."""


class ContrastPhaseError(InputError):
    """A contrast-enhanced scan was given to a function made for plain (non-contrast) CT."""


class GlandTooSmallError(InputError):
    """A pancreas mask, or its scan, is too small to hold a pancreas."""


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
            shown = [first, second] if what == "size" else [
                tuple(round(float(v), 4) for v in values) for values in (first, second)]
            return f"{what} {tuple(shown[0])} versus {tuple(shown[1])}"
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


# ------------------------------------------------------------------------- a scan

def _values(image: sitk.Image) -> np.ndarray:
    """The voxel values as a flat array, an even sample of them for a very large image."""
    flat = sitk.GetArrayViewFromImage(image).reshape(-1)
    step = -(-flat.size // MAX_CHECKED_VOXELS)
    return flat[::step] if step > 1 else flat


def check_scan_image(image, name: str = "scan", error=NotCTError) -> sitk.Image:
    """Raise ``error`` unless ``image`` is a 3-D SimpleITK image with one value per voxel."""
    if not isinstance(image, sitk.Image):
        raise error(f"the {name} must be a SimpleITK image, got {type(image).__name__}. A NumPy "
                    "array has no voxel spacing or orientation: load the scan with "
                    "helpers.data.load_ct or SimpleITK.ReadImage instead.")
    if image.GetDimension() != 3 or min(image.GetSize()) < 2:
        raise error(f"the {name} must be a 3D scan; this image has size {image.GetSize()}. "
                    "Pass the whole volume, not one slice of it.")
    if image.GetNumberOfComponentsPerPixel() != 1 or "complex" in \
            image.GetPixelIDTypeAsString():
        raise error(f"the {name} has several values per voxel (colour, vector or complex); "
                    "a CT has one Hounsfield value per voxel.")
    return image


def check_voxel_size(image: sitk.Image, name: str = "scan", error=NotCTError) -> None:
    """Raise ``error`` when the voxel spacing is far outside any CT's (a wrong header)."""
    spacing = tuple(round(float(s), 4) for s in image.GetSpacing())
    low, high = VOXEL_MM
    if min(spacing) >= low and max(spacing) <= high:
        return
    what = "larger" if max(spacing) > high else "smaller"
    raise error(
        f"the {name}'s voxels are {spacing} mm (size {image.GetSize()}): far {what} than a "
        f"CT's (about 0.3-5 mm, slices up to about 10 mm; at most {high:g} mm here). The "
        "spacing in its header is probably wrong (cm or m taken for mm?): check "
        "image.GetSpacing() and set the right one with image.SetSpacing((x, y, z)) in mm. "
        "Cropping would not help: the voxel size is the problem.")


def resampled_size(image: sitk.Image, spacing_mm: float) -> tuple[int, ...]:
    """The size of ``image``'s field of view on a grid of ``spacing_mm`` voxels."""
    return tuple(max(1, int(round(n * s / spacing_mm)))
                 for n, s in zip(image.GetSize(), image.GetSpacing(), strict=True))


def check_resample_memory(image: sitk.Image, spacing_mm: float | None, name: str = "scan",
                          bytes_per_voxel: float = 4, limit: int = MAX_GRID_BYTES,
                          what: str | None = None) -> None:
    """Raise :class:`ScanTooLargeError` before a grid of ``image``'s field of view with
    ``spacing_mm`` voxels (None: the image's own grid) would take more than ``limit`` bytes
    at ``bytes_per_voxel`` (4: one float32 image). ``what`` names that grid's job."""
    size = image.GetSize() if spacing_mm is None else resampled_size(image, spacing_mm)
    needed = float(np.prod(size, dtype=np.float64)) * bytes_per_voxel
    if needed <= limit:
        return
    spacing = tuple(round(float(s), 4) for s in image.GetSpacing())
    if max(spacing) > VOXEL_MM[1] or min(spacing) < VOXEL_MM[0]:
        advice = (f"Voxels of {spacing} mm are not a CT's (about 0.3-10 mm): the spacing in "
                  "its header is probably wrong (cm taken for mm?). Check image.GetSpacing()"
                  " and set the right one with image.SetSpacing((x, y, z)) in mm.")
    else:
        extent = tuple(round(n * s) for n, s in zip(image.GetSize(), spacing, strict=True))
        advice = (f"The {name} covers {extent} mm: crop it to the region you need first "
                  "(e.g. image[x0:x1, y0:y1, z0:z1])"
                  + (" or resample it to coarser voxels." if spacing_mm is None else "."))
    what = what or f"on the {spacing_mm:g} mm grid this step builds (size {size})"
    raise ScanTooLargeError(
        f"the {name} ({image.GetSize()} voxels of {spacing} mm) would need "
        f"{needed / 1024**3:.1f} GB of memory {what}, more than the "
        f"{limit / 1024**3:.0f} GB allowed; nothing was allocated. {advice}")


def check_finite(image: sitk.Image, name: str = "scan", error=NotCTError) -> None:
    """Raise ``error`` if the image holds NaN or infinite voxels (saying where)."""
    if "float" not in image.GetPixelIDTypeAsString():
        return
    bad = ~np.isfinite(sitk.GetArrayViewFromImage(image))
    if not bad.any():
        return
    slices = np.flatnonzero(bad.any(axis=(1, 2)))
    raise error(
        f"the {name} holds {int(bad.sum())} NaN or infinite voxel(s), in {slices.size} of its "
        f"{bad.shape[0]} slices (first: slice {int(slices[0])}, the image's z index): a CT has "
        "a finite value in every voxel. Replace them first, e.g. with air: array = "
        "np.nan_to_num(sitk.GetArrayFromImage(image), nan=-1024.0, posinf=-1024.0, "
        "neginf=-1024.0), then clean = sitk.GetImageFromArray(array) and "
        "clean.CopyInformation(image).")


def stored_value_peak(values: np.ndarray) -> float | None:
    """The soft-tissue peak of an image in raw stored values (HU + 1024), or None.

    Stored values are recognised by two signs, whatever the minimum (HU + 1024 is slightly
    negative where a scanner writes HU below -1024): no air near -1000 (the 1st percentile is
    above -500) and a peak of the histogram, among the values of fat and soft tissue after
    the offset, in :data:`STORED_PEAK` holding at least a fifth of all voxels.
    """
    values = np.asarray(values).reshape(-1)
    if values.size == 0 or float(np.percentile(values, 1)) <= AIR_HU:
        return None
    low, high = STORED_PEAK[0] - 270.0, STORED_PEAK[1] + 370.0  # fat to bone, shifted
    body = values[(values >= low) & (values <= high)]
    if body.size < 0.2 * values.size:
        return None
    counts, edges = np.histogram(body, bins=int((high - low) // 20), range=(low, high))
    peak = float(edges[int(np.argmax(counts))] + 10.0)
    return peak if STORED_PEAK[0] <= peak <= STORED_PEAK[1] else None


def check_not_stored_values(image: sitk.Image, name: str = "scan", error=NotCTError,
                            advice: str = "") -> None:
    """Raise ``error`` if the image looks like raw stored values (HU + 1024)."""
    values = _values(image)
    peak = stored_value_peak(values)
    if peak is None:
        return
    raise error(
        f"the {name}'s values run from {float(values.min()):g} to {float(values.max()):g}, with "
        f"no air near -1000 HU and a soft-tissue peak at about {peak:.0f}: these look like raw "
        f"stored values (HU + {STORED_OFFSET:.0f}, the rescale not applied), not Hounsfield "
        "units. Convert with HU = stored x RescaleSlope + RescaleIntercept (usually: "
        "subtract 1024), or read the DICOM files with helpers.dicom.read_series, which does "
        f"it.{advice}")


def check_hu_values(image: sitk.Image, name: str = "scan", error=NotCTError) -> None:
    """Raise ``error`` unless the values look like a CT in Hounsfield units.

    A CT in HU has air (about -1000 HU) around or inside the body, lots of soft tissue
    (-200..200 HU) and almost nothing above about 3000 HU. A 0..1 image (normalised) or raw
    stored values (HU + 1024, rescale not applied) fail with an explanation.
    """
    values = _values(image)
    lowest, highest = float(values.min()), float(values.max())
    found = f"the {name}'s values run from {lowest:g} to {highest:g}"
    if lowest >= -1.0 and highest <= 1.0 + 1e-6:
        raise error(f"{found}: this looks like a normalised (0..1) image, not Hounsfield "
                    "units. Pass the CT in HU (helpers.data.load_ct returns HU).")
    if image.GetPixelID() in (sitk.sitkUInt8, sitk.sitkInt8) and lowest >= 0:
        raise error(f"{found} in 8-bit voxels: this looks like a display image (a windowed "
                    "export or screenshot, 0..255 grey levels), which has lost the Hounsfield "
                    "units. Pass the CT itself (helpers.data.load_ct or the DICOM files).")
    check_not_stored_values(image, name, error)
    low, high = (float(v) for v in np.percentile(values, [1, 99.5]))
    if low > AIR_HU:
        # Not only when the minimum is >= 0: HU + 1024 dips below 0 where the scanner wrote
        # values under -1024 HU, and a scan mostly of air escapes stored_value_peak.
        raise error(f"{found}, and almost nothing is below {AIR_HU:g} HU: a CT in HU has "
                    f"air at about -1000 HU around the patient. These may be raw stored values "
                    f"(e.g. 0..4095, HU + {STORED_OFFSET:.0f}, slightly below 0 where the "
                    "scanner wrote values under -1024 HU): convert with HU = stored x "
                    "RescaleSlope + RescaleIntercept, or read the DICOM files with "
                    "helpers.dicom.read_series, which does it.")
    soft = np.mean((values >= SOFT_TISSUE_HU[0]) & (values <= SOFT_TISSUE_HU[1]))
    if high > CT_RANGE_HU or lowest < -CT_RANGE_HU or soft < 0.05:
        raise error(f"{found} ({100 * soft:.0f} % of voxels in soft tissue, "
                    f"-200..200 HU): not the range of a CT in Hounsfield units "
                    "(about -1024..3071 HU, mostly soft tissue in an abdomen).")


def check_scan(image, name: str = "scan", *, resample_mm: float | None = None) -> sitk.Image:
    """Raise :class:`NotCTError` unless ``image`` is a 3D CT in Hounsfield units, and
    :class:`ScanTooLargeError` when ``resample_mm`` is given and resampling the scan onto that
    grid would need more than about 2 GB. Checked in this order, before any work: a 3-D
    SimpleITK image with one value per voxel; memory; plausible voxel sizes; finite values;
    HU (not normalised, not raw stored values, air present, a CT's range)."""
    check_scan_image(image, name)
    if resample_mm is not None:
        check_resample_memory(image, resample_mm, name)
    check_voxel_size(image, name)
    check_finite(image, name)
    check_hu_values(image, name)
    return image


# ------------------------------------------------------------------------- masks

def check_labels(mask, name: str = "mask", error=InputError, *,
                 single: bool = False) -> sitk.Image:
    """Raise ``error`` unless ``mask`` is a SimpleITK label image: one value per voxel, no
    NaN, no fractions (a probability map), no negative labels, and with ``single`` only one
    label (0 and one other value, as a binary mask; not a label map of many structures)."""
    if not isinstance(mask, sitk.Image):
        raise error(f"the {name} must be a SimpleITK image, got {type(mask).__name__}. For a "
                    "NumPy array use sitk.GetImageFromArray(array.astype(np.uint8)) and copy "
                    "the scan's grid with image.CopyInformation(scan).")
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise error(f"the {name} has {mask.GetNumberOfComponentsPerPixel()} values per voxel; "
                    "a mask has one label per voxel.")
    values = sitk.GetArrayViewFromImage(mask)
    if "float" in mask.GetPixelIDTypeAsString():
        if not np.isfinite(values).all():
            raise error(f"the {name} holds NaN or infinite values; a mask holds labels (0 = "
                        f"background). Replace them, e.g. sitk.Cast({name} > 0.5, "
                        "sitk.sitkUInt8) if it was a probability map.")
        if not np.array_equal(values, np.round(values)):
            raise error(f"the {name} has fractional values (a probability map?), but a label "
                        "mask is needed: threshold it first, e.g. sitk.Cast(prob > 0.5, "
                        "sitk.sitkUInt8)")
    if values.size and values.min() < 0:
        raise error(f"the {name} has negative labels; labels must be 0 (background) or "
                    "positive integers")
    if single:
        labels = np.unique(values)
        labels = labels[labels != 0]
        if labels.size > 1:
            shown = ", ".join(f"{v:g}" for v in labels[:8]) + (" ..." if labels.size > 8 else "")
            raise error(f"the {name} holds {labels.size} different labels ({shown}): it looks "
                        "like a label map of several structures, but one mask is needed. "
                        f"Pick the structure, e.g. sitk.Cast(labels == 7, sitk.sitkUInt8) for "
                        "TotalSegmentator's pancreas.")
    return mask


def check_mask(mask, scan: sitk.Image, name: str = "mask", scan_name: str = "scan", *,
               empty_error=EmptyMaskError, empty_hint: str = "") -> sitk.Image:
    """Raise unless ``mask`` is a binary label mask on ``scan``'s grid
    (:class:`GridMismatchError`; other problems :class:`InputError`) that marks something
    (``empty_error``, with ``empty_hint`` after the message; None allows an empty mask)."""
    check_same_grid(mask, scan, name, scan_name)
    check_labels(mask, name, single=True)
    if empty_error is not None and not sitk.GetArrayViewFromImage(mask).any():
        raise empty_error(f"the {name} is empty (no voxel is set){': ' if empty_hint else '.'}"
                          f"{empty_hint}")
    return mask


def check_mask_pair(first, second, names=("mask", "reference"), *,
                    single: bool = True) -> None:
    """Raise unless two masks are label images (see :func:`check_labels`) on one grid
    (:class:`GridMismatchError`, naming what differs)."""
    for mask, name in zip((first, second), names, strict=True):
        check_labels(mask, name, single=single)
    check_same_grid(first, second, *names)


def head_foot_extent_mm(image: sitk.Image) -> float:
    """How far the scan reaches head-to-foot, in mm (any orientation)."""
    direction = np.reshape(image.GetDirection(), (3, 3))
    axis = int(np.argmax(np.abs(direction[2])))  # the index axis closest to superior
    return float(image.GetSize()[axis] * image.GetSpacing()[axis])


def check_gland_size(mask: sitk.Image, scan: sitk.Image, name: str = "pancreas mask") -> None:
    """Raise :class:`GlandTooSmallError` unless ``mask`` (a binary mask on ``scan``'s grid,
    checked first with :func:`check_mask`) marks at least ``PLAUSIBLE_ML[0]`` mL on a scan
    of at least :data:`MIN_COVERAGE_MM` head-to-foot: the rules stage 1 applies to its own
    result, so that a mask too small to be a gland is never scored."""
    voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))
    spacing = mask.GetSpacing()
    volume = voxels * float(np.prod(spacing)) / 1000
    extent = head_foot_extent_mm(scan)
    if volume >= PLAUSIBLE_ML[0] and extent >= MIN_COVERAGE_MM:
        return
    raise GlandTooSmallError(
        f"the {name} marks {volume:.1f} mL ({voxels} voxels of "
        f"{' x '.join(f'{s:.1f}' for s in spacing)} mm) on a scan covering {extent:.0f} mm "
        f"head-to-foot: too small to hold a pancreas. A pancreas mask must mark at least "
        f"{PLAUSIBLE_ML[0]:g} mL on a scan of at least {MIN_COVERAGE_MM:.0f} mm head-to-foot "
        "(the rules stage 1 applies to its own result; a virtual patient's gland is about "
        "17 mL). Pass the mask of the whole gland on a scan of the upper abdomen, e.g. stage "
        "1's: helpers.pipeline.segment_pancreas(scan).")


def check_choice(value: str, choices, name: str) -> str:
    """Return ``value`` or raise a ValueError that lists the valid ``choices`` of ``name``."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value
