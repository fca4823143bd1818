"""Register a contrast CT onto a plain CT, and carry masks across: label transfer.

PANDA's training labels exist because lesion masks drawn on the contrast scan were moved onto
the same patient's plain scan by image registration. This module does that job at teaching
scale with SimpleITK.

Public API
----------
``register(fixed, moving, kind="bspline", ...) -> SimpleITK.Transform``
    Estimate the transform that maps a physical point of ``fixed`` (the plain scan) to the
    same anatomical point of ``moving`` (the contrast scan). ``kind`` is one of :data:`KINDS`.
``warp_mask(mask, transform, reference) -> SimpleITK.Image``
    Carry a label mask from the moving scan onto the reference (plain) grid, label-safely.
``warp_image(image, transform, reference)``
    The same for an intensity image (linear interpolation), e.g. for a checkerboard.
``RegistrationRecorder``
    Collects the metric per iteration and per resolution level of every stage; plots itself.

Choices, and why
----------------
* **Metric: Mattes mutual information.** Contrast changes the HU of enhancing organs (the
  pancreas gains about 100 HU) but not of fat, bone or air, so "same intensity" metrics (mean
  squares, demons) pull enhancing organs out of place. Mutual information only asks that one
  scan's intensities *predict* the other's, which survives the change of phase.
* **Intensities clamped to -200..400 HU** before the metric sees them: with bone (+1500) and
  air (-1000) in range, 32 histogram bins would be 80 HU wide and all soft tissue would share
  two or three bins. Clamping spends the bins where the pancreas is.
* **Multi-resolution.** Each stage starts on a 2x downsampled, smoothed image (big motions,
  few local minima), then refines at full resolution.
* **Fixed number of random samples** (``samples``) rather than a percentage: SimpleITK's
  B-spline metric costs time in proportion to samples x B-spline parameters, so a fixed count
  and a coarse grid keep a pair within seconds on a laptop.
* **B-spline = affine first, then a coarse B-spline grid** (``grid_spacing_mm``) refined once.
  SimpleITK has no bending-energy penalty; the coarse grid and the small iteration budget are
  the regularisation. Check every result for folding with :func:`helpers.metrics.folding`.
* **A region** (e.g. the pancreas drawn on the contrast scan) keeps the B-spline small and
  focused: its cost grows with samples x parameters, and the lesion is what must land well.
  The deformation fades to zero at the region box's faces, so the transform never tears.

Not for clinical use.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .registration_recorder import RegistrationRecorder

KINDS = ("rigid", "affine", "bspline")
INITIALISERS = ("identity", "geometry")
CLAMP_HU = (-200.0, 400.0)
MIN_OVERLAP = 0.2  # fraction of the fixed image that must land inside the moving image
SHRINK = (2, 1)  # every stage: half resolution first, then full


class RegistrationInputError(ValueError):
    """Bad input to a registration helper; the message says what was wrong and what to do."""


# ------------------------------------------------------------------------------- checks
def _check_image(image, name: str, *, scalar: bool = True) -> sitk.Image:
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


def _as_float(image: sitk.Image, name: str) -> sitk.Image:
    """Float32 copy; integer CT (e.g. int16 from DICOM) is converted, never modified in place."""
    image = _check_image(image, name)
    out = sitk.Cast(image, sitk.sitkFloat32)
    values = sitk.GetArrayViewFromImage(out)
    if not np.isfinite(values).all():
        raise RegistrationInputError(f"{name} contains NaN or infinite values; replace them "
                                     "(e.g. with -1000 HU, air) before registering")
    if float(values.max()) == float(values.min()):
        raise RegistrationInputError(f"{name} is constant ({float(values.min())}): there is "
                                     "nothing to align. Did you pass a blank or wrong image?")
    return out


def same_grid(a: sitk.Image, b: sitk.Image, tol: float = 1e-3) -> bool:
    """True when two images share size, spacing, origin and direction (within ``tol``)."""
    return (a.GetSize() == b.GetSize()
            and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
            and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol)
            and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol))


def _check_mask(mask, name: str, *, allow_empty: bool = False) -> sitk.Image:
    mask = _check_image(mask, name)
    if "float" in mask.GetPixelIDTypeAsString():
        values = sitk.GetArrayViewFromImage(mask)
        if not np.array_equal(values, np.round(values)):
            raise RegistrationInputError(
                f"{name} has fractional values (a probability map?), but a label mask is "
                "needed: threshold it first, e.g. sitk.Cast(prob > 0.5, sitk.sitkUInt8)")
        mask = sitk.Cast(mask, sitk.sitkInt32)
    if sitk.GetArrayViewFromImage(mask).min() < 0:
        raise RegistrationInputError(f"{name} has negative labels; labels must be 0 "
                                     "(background) or positive integers")
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


def _check_overlap(fixed, moving, initial) -> None:
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


# ------------------------------------------------------------------------------- register
def _prepare(image: sitk.Image, clamp) -> sitk.Image:
    return image if clamp is None else sitk.Clamp(image, sitk.sitkFloat32, *clamp)


def crop_to_region(image: sitk.Image, region: sitk.Image, margin_mm: float,
                   snap_mm: float = 0.0) -> sitk.Image:
    """The part of ``image`` covering ``region``'s bounding box (any grid) plus ``margin_mm``;
    a face closer than ``snap_mm`` to the image's border is moved onto the border."""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.Cast(region != 0, sitk.sitkUInt8))
    x, y, z, sx, sy, sz = stats.GetBoundingBox(1)
    corners = np.array([region.TransformIndexToPhysicalPoint((x + i * (sx - 1), y + j * (sy - 1),
                                                             z + k * (sz - 1)))
                        for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    idx = np.array([image.TransformPhysicalPointToContinuousIndex(p) for p in corners])
    pad = margin_mm / np.array(image.GetSpacing())
    snap = snap_mm / np.array(image.GetSpacing())
    last = np.array(image.GetSize()) - 1
    lo = np.floor(idx.min(0) - pad)
    hi = np.ceil(idx.max(0) + pad)
    lo = np.where(lo <= snap, 0, lo).astype(int)
    hi = np.where(hi >= last - snap, last, hi).astype(int)
    if np.any(hi < lo):
        raise RegistrationInputError("the region lies outside the fixed image; pass a region "
                                     "(mask) that covers part of the fixed scan")
    return sitk.RegionOfInterest(image, [int(v) for v in hi - lo + 1], [int(v) for v in lo])


def _method(fixed, samples, bins, shrink, seed, mask=None):
    """A Mattes-MI registration method with a fixed sample count per level."""
    if mask is not None and not same_grid(mask, fixed):  # e.g. the body mask of a cropped grid
        mask = sitk.Resample(mask, fixed, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
    where = (sitk.GetArrayViewFromImage(mask).sum() if mask is not None
             else np.prod(fixed.GetSize()))
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentagePerLevel(
        [float(min(1.0, samples * s**3 / max(where, 1))) for s in shrink], seed)
    if mask is not None:
        method.SetMetricFixedMask(mask)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(list(shrink))
    method.SetSmoothingSigmasPerLevel([s / 2 for s in shrink])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return method


def _execute(method, fixed, moving, stage: str) -> None:
    try:
        method.Execute(fixed, moving)
    except RuntimeError as exc:
        if "outside" in str(exc).lower() or "samples" in str(exc).lower():
            raise RegistrationInputError(
                f"the {stage} stage failed: too few sample points landed inside the moving "
                "image (the images drifted apart, or never overlapped enough). Start from a "
                "better initial alignment (initial='geometry' or a transform), use fewer "
                f"iterations or a coarser grid. SimpleITK said: {str(exc).splitlines()[-1]}"
            ) from exc
        raise


def _linear_stage(fixed, moving, kind, initial, samples, bins, iterations, seed, mask,
                  recorder):
    tx = sitk.Euler3DTransform() if kind == "rigid" else sitk.AffineTransform(3)
    if isinstance(initial, str) and initial == "geometry":
        tx = sitk.CenteredTransformInitializer(
            fixed, moving, tx, sitk.CenteredTransformInitializerFilter.GEOMETRY)
    else:
        tx.SetCenter(fixed.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2 for n in fixed.GetSize()]))
    method = _method(fixed, samples, bins, SHRINK, seed, mask)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-3, numberOfIterations=iterations, relaxationFactor=0.5)
    method.SetOptimizerScalesFromPhysicalShift()
    if isinstance(initial, sitk.Transform):
        method.SetMovingInitialTransform(initial)
    method.SetInitialTransform(tx, inPlace=True)
    if recorder is not None:
        recorder.attach(method, kind)
    _execute(method, fixed, moving, kind)
    return sitk.CompositeTransform([initial, tx]) if isinstance(initial, sitk.Transform) else tx


def _metric_keep_mask(exclude: sitk.Image, moving: sitk.Image) -> sitk.Image:
    """1 where the moving image may drive the metric: outside ``exclude`` and a 2-voxel rim."""
    exclude = _check_mask(exclude, "exclude", allow_empty=True)
    if not same_grid(exclude, moving):
        raise RegistrationInputError(
            f"the exclude mask must be on the moving scan's grid (size {moving.GetSize()}, "
            f"spacing {moving.GetSpacing()}); it is on size {exclude.GetSize()}, spacing "
            f"{exclude.GetSpacing()}. Draw it on the moving (contrast) scan, or resample it "
            "with warp_mask first")
    grown = sitk.BinaryDilate(sitk.Cast(exclude != 0, sitk.sitkUInt8), [2, 2, 2])
    return sitk.Cast(grown == 0, sitk.sitkUInt8)


def _bspline_stage(fixed, moving, initial, grid_spacing_mm, samples, bins, iterations, seed,
                   mask, recorder, moving_keep=None):
    extent = (np.array(fixed.GetSize()) - 1) * np.array(fixed.GetSpacing())
    # The coarse level uses a grid twice as coarse; SimpleITK refines it for the fine level.
    mesh = [max(1, int(round(e / (2 * grid_spacing_mm)))) for e in extent]
    tx = sitk.BSplineTransformInitializer(fixed, mesh, 3)
    method = _method(fixed, samples, bins, SHRINK, seed, mask)
    if moving_keep is not None:
        method.SetMetricMovingMask(moving_keep)
    # All B-spline parameters are control-point shifts in mm, so equal scales are right; a
    # regular-step optimiser needs no costly scale estimation for thousands of parameters.
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-3, numberOfIterations=iterations, relaxationFactor=0.7,
        gradientMagnitudeTolerance=1e-12)
    method.SetMovingInitialTransform(initial)
    method.SetInitialTransformAsBSpline(tx, inPlace=True, scaleFactors=[1, 2])
    if recorder is not None:
        recorder.attach(method, "bspline")
    _execute(method, fixed, moving, "bspline")
    return tx


def fade_out(transform: sitk.Transform, box: sitk.Image, reference: sitk.Image,
             fade_mm: float) -> sitk.Transform:
    """A displacement-field copy of ``transform`` on ``reference``'s grid that is unchanged
    deep inside ``box`` and fades smoothly to zero displacement at ``box``'s edges.

    A B-spline fitted on a box only is zero outside it: without the fade the transform would
    jump (tear) at the box's faces. Faces on ``reference``'s border are not faded. ``box``
    must be a crop of ``reference`` (same axes).
    """
    field = sitk.TransformToDisplacementField(
        transform, sitk.sitkVectorFloat64, reference.GetSize(), reference.GetOrigin(),
        reference.GetSpacing(), reference.GetDirection())
    start = np.array(reference.TransformPhysicalPointToContinuousIndex(box.GetOrigin()))
    stop = start + np.array(box.GetSize()) - 1
    weight = np.ones(reference.GetSize()[::-1])
    size = np.array(reference.GetSize()) - 1
    for axis in range(3):
        idx = np.arange(reference.GetSize()[axis], dtype=float)
        # A face on the scan's own border needs no fade: there is nothing beyond it to tear.
        low = idx - start[axis] if start[axis] > 0.5 else np.inf
        high = stop[axis] - idx if stop[axis] < size[axis] - 0.5 else np.inf
        inside_mm = np.minimum(low, high) * reference.GetSpacing()[axis]
        ramp = np.clip(inside_mm / fade_mm, 0.0, 1.0) if fade_mm > 0 else (inside_mm >= 0) * 1.0
        ramp = 0.5 - 0.5 * np.cos(np.pi * ramp)
        shape = [1, 1, 1]
        shape[2 - axis] = -1
        weight = weight * ramp.reshape(shape)
    values = sitk.GetArrayFromImage(field) * weight[..., None]
    faded = sitk.GetImageFromArray(values, isVector=True)
    faded.CopyInformation(reference)
    return sitk.DisplacementFieldTransform(faded)


def register(fixed: sitk.Image, moving: sitk.Image, kind: str = "bspline", *,
             initial="identity", region: sitk.Image | None = None, margin_mm: float = 30.0,
             grid_spacing_mm: float = 40.0, samples: int | None = None,
             iterations: int | None = None, bins: int = 48, clamp_hu=CLAMP_HU, seed: int = 1,
             prealign: bool = True, exclude: sitk.Image | None = None,
             recorder: RegistrationRecorder | None = None) -> sitk.Transform:
    """Find T mapping a physical point of ``fixed`` to the same anatomy in ``moving``.

    ``fixed`` is the plain scan, ``moving`` the contrast scan (any grids, in HU; integer
    images are converted to float). With T, ``warp_mask(mask_on_moving, T, fixed)`` carries
    a mask onto the plain scan. ``kind``: "rigid" (6 parameters), "affine" (12) or "bspline"
    (affine, then a smooth deformation on a grid of about ``grid_spacing_mm`` control-point
    spacing). ``initial``: "identity" (trust the scanner's coordinates, right for two scans
    of one session), "geometry" (first align the image centres) or a SimpleITK transform.
    ``region``: a mask on either scan (e.g. the pancreas drawn on the contrast scan); the
    deformable stage (or, for rigid/affine, the whole registration) then works only on its
    bounding box plus ``margin_mm``, which is faster and focuses on what matters; the
    deformation fades to zero over the outer half of the margin, so outside the box a
    B-spline result is its affine part, with no tear at the box's faces. ``samples``: random
    voxels the metric uses per level (default 6000 linear, 12000 B-spline); ``bins``: histogram
    bins of the mutual information; ``iterations``: per level (default 100 linear, 60
    B-spline); ``clamp_hu``: intensity window
    given to the metric (None: no clamping, for non-CT images); ``seed`` fixes the random
    samples, so results repeat. ``prealign=False`` (B-spline only) skips the affine stage and
    starts from ``initial``, e.g. an affine result you already have. ``exclude``: a mask on
    the moving scan of what looks different in the two scans, e.g. the lesion drawn on the
    contrast scan; the deformable stage's metric ignores it (plus a 2-voxel rim), so the
    deformation around it follows the surrounding anatomy instead of trying to make an
    enhancing lesion match an iso-attenuating one ("cost-function masking"). Rigid and
    affine stages use the whole region: a few parameters cannot be pulled off by a lesion.
    ``recorder`` collects the metric per iteration. Without ``region`` a B-spline covers the
    whole image: slower.
    """
    if kind not in KINDS:
        raise RegistrationInputError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not (isinstance(initial, sitk.Transform) or initial in INITIALISERS):
        raise RegistrationInputError(f"initial must be one of {', '.join(INITIALISERS)} or a "
                                     f"SimpleITK transform, got {initial!r}")
    for name, value in (("samples", samples), ("grid_spacing_mm", grid_spacing_mm),
                        ("bins", bins)):
        if value is not None and not value > 0:
            raise RegistrationInputError(f"{name} must be positive, got {value}")
    if iterations is not None and not iterations >= 1:
        raise RegistrationInputError(f"iterations must be at least 1, got {iterations}")
    if margin_mm < 0:
        raise RegistrationInputError(f"margin_mm must be >= 0, got {margin_mm}")
    fixed = _prepare(_as_float(fixed, "fixed"), clamp_hu)
    moving = _prepare(_as_float(moving, "moving"), clamp_hu)
    if region is not None:
        region = _check_mask(region, "region")
        if not (same_grid(region, fixed) or same_grid(region, moving)):
            raise RegistrationInputError(
                "the region mask is on neither image's grid (size "
                f"{region.GetSize()}, spacing {region.GetSpacing()}, origin "
                f"{tuple(round(v, 1) for v in region.GetOrigin())}): pass a mask drawn on the "
                "fixed or the moving scan, or resample it onto one of them first")
    start = initial if isinstance(initial, sitk.Transform) else None
    if isinstance(initial, str) and initial == "geometry":
        start = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                  sitk.CenteredTransformInitializerFilter.GEOMETRY)
    _check_overlap(fixed, moving, start)
    keep = None if exclude is None else _metric_keep_mask(exclude, moving)

    # Air (and lung) carry no information about soft-tissue motion: sample the body only.
    body = None
    if clamp_hu is not None:
        body = sitk.Cast(sitk.BinaryDilate(fixed > clamp_hu[0], [1, 1, 1]), sitk.sitkUInt8)
        if sitk.GetArrayViewFromImage(body).mean() < 0.05:
            body = None
    if kind == "bspline" and not prealign:
        transform = start or sitk.Transform(3, sitk.sitkIdentity)
    else:
        linear_fixed = fixed
        if region is not None and kind != "bspline":
            linear_fixed = crop_to_region(fixed, region, margin_mm)
        transform = _linear_stage(linear_fixed, moving, "affine" if kind == "bspline" else kind,
                                  initial, samples or 6000, bins, iterations or 100, seed,
                                  body, recorder)
    if kind != "bspline":
        return transform
    box = fixed if region is None else crop_to_region(fixed, region, margin_mm, margin_mm / 2)
    deformation = _bspline_stage(box, moving, transform, grid_spacing_mm, samples or 12000,
                                 bins, iterations or 60, seed, body, recorder, keep)
    if region is not None:
        deformation = fade_out(deformation, box, fixed, margin_mm / 2)
    return sitk.CompositeTransform([transform, deformation])


# ------------------------------------------------------------------------------- warping
def _check_transform(transform, reference: sitk.Image) -> None:
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
    mask = _check_mask(mask, "mask", allow_empty=allow_empty)
    reference = _check_image(reference, "reference", scalar=False)
    _check_transform(transform, reference)
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
    image = _check_image(image, "image")
    _check_transform(transform, _check_image(reference, "reference", scalar=False))
    return sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), reference, transform,
                         sitk.sitkLinear, default_value, sitk.sitkFloat32)


# Views live in their own module; re-exported so notebooks can call registration.show_*.
from .registration_views import (  # noqa: E402, F401
    alignment_slice,
    blend,
    checkerboard,
    crop_around,
    show_alignment,
    show_transfer,
)
