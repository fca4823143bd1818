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

from ..checks import check_resample_memory, same_grid
from .inputs import (
    RegistrationInputError,
    as_float,
    check_hu,
    check_overlap,
    check_registration_mask,
)
from .recorder import RegistrationRecorder

KINDS = ("rigid", "affine", "bspline")
INITIALISERS = ("identity", "geometry")
CLAMP_HU = (-200.0, 400.0)
SHRINK = (2, 1)  # every stage: half resolution first, then full
# fade_out's displacement field on the fixed grid, with its copies (float64 vectors).
FADE_BYTES_PER_VOXEL = 110


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
                  recorder, shrink=SHRINK):
    tx = sitk.Euler3DTransform() if kind == "rigid" else sitk.AffineTransform(3)
    if isinstance(initial, str) and initial == "geometry":
        tx = sitk.CenteredTransformInitializer(
            fixed, moving, tx, sitk.CenteredTransformInitializerFilter.GEOMETRY)
    else:
        tx.SetCenter(fixed.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2 for n in fixed.GetSize()]))
    method = _method(fixed, samples, bins, shrink, seed, mask)
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
    exclude = check_registration_mask(exclude, "exclude", allow_empty=True)
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
             recorder: RegistrationRecorder | None = None, shrink=SHRINK) -> sitk.Transform:
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
    given to the metric (None: no clamping, for non-CT images; with a window set, an image
    in raw stored values, HU + 1024, is refused with
    :class:`helpers.registration.RegistrationNotCTError`); ``seed`` fixes the random
    samples, so results repeat. ``prealign=False`` (B-spline only) skips the affine stage and
    starts from ``initial``, e.g. an affine result you already have. ``exclude``: a mask on
    the moving scan of what looks different in the two scans, e.g. the lesion drawn on the
    contrast scan; the deformable stage's metric ignores it (plus a 2-voxel rim), so the
    deformation around it follows the surrounding anatomy instead of trying to make an
    enhancing lesion match an iso-attenuating one ("cost-function masking"). Rigid and
    affine stages use the whole region: a few parameters cannot be pulled off by a lesion.
    ``recorder`` collects the metric per iteration. Without ``region`` a B-spline covers the
    whole image: slower. ``shrink``: the rigid/affine stage's levels (default (2, 1): half
    resolution, then full; (4,): one coarse level, about twice as fast).
    """
    _check_settings(kind, initial, samples, grid_spacing_mm, bins, iterations, margin_mm, shrink)
    fixed, moving, region = _checked_images(fixed, moving, kind, region, clamp_hu)
    start = _start(initial, fixed, moving)
    check_overlap(fixed, moving, start)
    keep = None if exclude is None else _metric_keep_mask(exclude, moving)

    body = _body_mask(fixed, clamp_hu)
    if kind == "bspline" and not prealign:
        transform = start or sitk.Transform(3, sitk.sitkIdentity)
    else:
        linear_fixed = fixed
        if region is not None and kind != "bspline":
            linear_fixed = crop_to_region(fixed, region, margin_mm)
        transform = _linear_stage(linear_fixed, moving, "affine" if kind == "bspline" else kind,
                                  initial, samples or 6000, bins, iterations or 100, seed,
                                  body, recorder, shrink)
    if kind != "bspline":
        return transform
    box = fixed if region is None else crop_to_region(fixed, region, margin_mm, margin_mm / 2)
    deformation = _bspline_stage(box, moving, transform, grid_spacing_mm, samples or 12000,
                                 bins, iterations or 60, seed, body, recorder, keep)
    if region is not None:
        deformation = fade_out(deformation, box, fixed, margin_mm / 2)
    return sitk.CompositeTransform([transform, deformation])


def _check_settings(kind, initial, samples, grid_spacing_mm, bins, iterations, margin_mm,
                    shrink=SHRINK):
    """Refuse unknown choices and non-positive numbers before any work is done."""
    if not (isinstance(shrink, tuple | list) and shrink
            and all(isinstance(f, int) and f >= 1 for f in shrink)):
        raise RegistrationInputError(f"shrink must be a non-empty tuple of whole numbers >= 1 "
                                     f"(one per level, coarse first, e.g. (2, 1)), got {shrink!r}")
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


def _checked_images(fixed, moving, kind, region, clamp_hu):
    """``(fixed, moving, region)`` checked, as float32, clamped to ``clamp_hu``: images that
    are 3-D, finite, not constant and (with a CT window) not raw stored values; a region on
    one of their grids; and, for a B-spline in a region, a displacement field that fits in
    memory on the fixed grid (``fade_out`` builds it)."""
    fixed, moving = as_float(fixed, "fixed"), as_float(moving, "moving")
    check_hu(fixed, "fixed image", clamp_hu)
    check_hu(moving, "moving image", clamp_hu)
    fixed, moving = _prepare(fixed, clamp_hu), _prepare(moving, clamp_hu)
    region = None if region is None else _check_region(region, fixed, moving)
    if kind == "bspline" and region is not None:
        check_resample_memory(fixed, None, "fixed image", FADE_BYTES_PER_VOXEL,
                              what="for the B-spline's displacement field on its grid")
    return fixed, moving, region


def _check_region(region, fixed, moving) -> sitk.Image:
    """The region mask, checked to be a label mask on the fixed or the moving scan's grid."""
    region = check_registration_mask(region, "region")
    if not (same_grid(region, fixed) or same_grid(region, moving)):
        raise RegistrationInputError(
            "the region mask is on neither image's grid (size "
            f"{region.GetSize()}, spacing {region.GetSpacing()}, origin "
            f"{tuple(round(v, 1) for v in region.GetOrigin())}): pass a mask drawn on the "
            "fixed or the moving scan, or resample it onto one of them first")
    return region


def _body_mask(fixed, clamp_hu):
    """Where the metric samples: the body (air and lung carry no information about soft-tissue
    motion); None when there is too little of it or no clamping (a non-CT image)."""
    if clamp_hu is None:
        return None
    body = sitk.Cast(sitk.BinaryDilate(fixed > clamp_hu[0], [1, 1, 1]), sitk.sitkUInt8)
    return None if sitk.GetArrayViewFromImage(body).mean() < 0.05 else body


def _start(initial, fixed, moving):
    """Where the search starts: a given transform, the aligned image centres ("geometry"), or
    None (the scanner's own coordinates, "identity")."""
    if isinstance(initial, str) and initial == "geometry":
        return sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                 sitk.CenteredTransformInitializerFilter.GEOMETRY)
    return initial if isinstance(initial, sitk.Transform) else None
