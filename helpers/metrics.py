"""How well did a registration work? Overlap, boundary distance, landmark error, folding.

Public API
----------
``dice(a, b)``
    Overlap of two masks, 0 (disjoint) ... 1 (identical).
``hausdorff95(a, b, spacing=None)``
    95th-percentile symmetric surface distance in mm: "how far off is the boundary, ignoring
    the worst 5 %".
``target_registration_error(transform, points_fixed, points_moving)``
    Distance in mm, per landmark, between where the transform sends a fixed-scan landmark and
    where that landmark really is in the moving scan.
``jacobian_determinant(transform, reference)`` and ``folding(transform, reference)``
    Local volume change of a transform; values <= 0 mean space folded over itself
    (physically impossible tissue motion).

Grading a registration on a virtual patient (lesion error, the whole report) is in
:mod:`helpers.registration.grading`.

Masks may be SimpleITK images (spacing is read from them) or numpy arrays (pass ``spacing``
in mm, in the array's axis order). Foreground is every non-zero voxel, or ``label`` if
given. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from .checks import (
    GridMismatchError,
    InputError,
    check_resample_memory,
    grid_difference,
    grid_text,
    same_grid,
)

# A deformable transform's Jacobian holds a displacement field, its gradient and the Jacobian
# matrices, all float64: about this many bytes per voxel of the reference grid at once.
JACOBIAN_BYTES_PER_VOXEL = 250


class MetricInputError(InputError):
    """Bad input to a metric; the message says what was wrong and what to do."""


class MetricGridError(MetricInputError, GridMismatchError):
    """Two masks given to a metric are on different grids."""


def _as_pair(a, b, label=None, spacing=None):
    """Two boolean arrays on one grid and that grid's spacing (array axis order, mm)."""
    if isinstance(a, sitk.Image) != isinstance(b, sitk.Image):
        raise MetricInputError("pass two SimpleITK images or two numpy arrays, not one of each")
    if isinstance(a, sitk.Image):
        if a.GetNumberOfComponentsPerPixel() != 1 or b.GetNumberOfComponentsPerPixel() != 1:
            raise MetricInputError("masks must have one value per voxel (not vector images)")
        difference = grid_difference(a, b)
        if difference:
            raise MetricGridError(
                f"the two masks are on different grids: {difference} ({grid_text(a)} versus "
                f"{grid_text(b)}). Put one onto the other's grid first, e.g. "
                "helpers.registration.warp_mask(mask, transform, reference=other_scan).")
        spacing = a.GetSpacing()[::-1]
        a, b = sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise MetricGridError(f"mask shapes differ: {a.shape} versus {b.shape}; resample one "
                              "onto the other's grid first")
    for m in (a, b):
        if not (np.issubdtype(m.dtype, np.number) or m.dtype == bool):
            raise MetricInputError(f"masks must hold numbers (labels), but one holds "
                                   f"{m.dtype} values")
        if np.issubdtype(m.dtype, np.floating) and not np.isfinite(m).all():
            raise MetricInputError("one mask holds NaN or infinite values; a mask holds labels "
                                   "(0 = background): replace them, or threshold a "
                                   "probability map first (prob > 0.5)")
        if np.issubdtype(m.dtype, np.floating) and not np.array_equal(m, np.round(m)):
            raise MetricInputError("masks must hold labels, but one has fractional values (a "
                                   "probability map?); threshold it first, e.g. prob > 0.5")
    if label is None:
        a, b = a != 0, b != 0
    else:
        a, b = a == label, b == label
    if spacing is None:
        spacing = (1.0,) * a.ndim
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != a.ndim or min(spacing) <= 0:
        raise MetricInputError(f"spacing must give {a.ndim} positive values (mm), got {spacing}")
    return a, b, spacing


def dice(a, b, label: int | None = None) -> float:
    """Dice overlap 2|A∩B| / (|A| + |B|) of two masks on the same grid.

    One empty mask gives 0.0. Two empty masks raise: the Dice is 0/0, undefined (there was
    nothing to transfer, e.g. a healthy case).
    """
    a, b, _ = _as_pair(a, b, label)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        raise MetricInputError("both masks are empty, so the Dice is undefined (0/0); check "
                               "that you passed the right masks (a healthy case has no lesion)")
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def _surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of the mask that touch the background through a face."""
    return mask & ~ndi.binary_erosion(mask, ndi.generate_binary_structure(mask.ndim, 1),
                                      border_value=0)


def surface_distances(a, b, spacing=None, label=None):
    """Distances (mm) from each surface voxel of ``a`` to ``b``'s surface, and back."""
    a, b, spacing = _as_pair(a, b, label, spacing)
    if not a.any() or not b.any():
        raise MetricInputError("a surface distance needs two non-empty masks; one is empty "
                               "(nothing was transferred, or the wrong mask was passed)")
    sa, sb = _surface(a), _surface(b)
    to_b = ndi.distance_transform_edt(~sb, sampling=spacing)
    to_a = ndi.distance_transform_edt(~sa, sampling=spacing)
    return to_b[sa], to_a[sb]


def hausdorff95(a, b, spacing=None, label: int | None = None) -> float:
    """95th-percentile Hausdorff distance (mm): the larger of the two directed 95th percentiles
    of surface-to-surface distances. 0 for identical masks."""
    ab, ba = surface_distances(a, b, spacing, label)
    return float(max(np.percentile(ab, 95), np.percentile(ba, 95)))


def _points(points, name: str) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 3:
        raise MetricInputError(f"{name} must be an N x 3 array of physical points (mm), got "
                               f"shape {points.shape}")
    if not np.isfinite(points).all():
        raise MetricInputError(f"{name} contains NaN or infinite coordinates")
    return points


def target_registration_error(transform: sitk.Transform, points_fixed, points_moving):
    """Per-landmark error (mm): |transform(p_fixed) - p_moving| for corresponding points.

    ``transform`` maps fixed (plain) points to moving (contrast) points, as
    :func:`helpers.registration.register` returns it.
    """
    if not isinstance(transform, sitk.Transform):
        raise MetricInputError(f"transform must be a SimpleITK transform, got "
                               f"{type(transform).__name__}")
    fixed = _points(points_fixed, "points_fixed")
    moving = _points(points_moving, "points_moving")
    if fixed.shape != moving.shape:
        raise MetricInputError(f"the landmark lists differ in length ({len(fixed)} versus "
                               f"{len(moving)}); they must correspond one to one")
    mapped = np.array([transform.TransformPoint(tuple(p)) for p in fixed])
    return np.linalg.norm(mapped - moving, axis=1)


def jacobian_determinant(transform: sitk.Transform, reference: sitk.Image) -> sitk.Image:
    """det(d transform / d x) on ``reference``'s grid, in physical coordinates.

    1 = volume kept, 0.5 = compressed to half, > 1 expanded, <= 0 folded. Computed here (not
    with SimpleITK's filter) so that the image's direction cosines are respected: the
    series' CT has flipped x and y axes, which the filter would get wrong.
    """
    if not isinstance(transform, sitk.Transform) or not isinstance(reference, sitk.Image):
        raise MetricInputError("pass a SimpleITK transform and a SimpleITK reference image")
    if reference.GetDimension() != 3 or transform.GetDimension() != 3:
        raise MetricInputError("jacobian_determinant works on 3-D transforms and grids")
    if transform.IsLinear():  # rigid, affine (or a chain of them): one Jacobian everywhere
        origin = np.zeros(3)
        base = np.array(transform.TransformPoint(tuple(origin)))
        columns = [np.array(transform.TransformPoint(tuple(e))) - base for e in np.eye(3)]
        det = np.full(reference.GetSize()[::-1], np.linalg.det(np.column_stack(columns)))
        out = sitk.GetImageFromArray(det.astype(np.float32))
        out.CopyInformation(reference)
        return out
    check_resample_memory(reference, None, "reference", JACOBIAN_BYTES_PER_VOXEL,
                          what="for the Jacobian of a deformable transform on its grid")
    field = sitk.TransformToDisplacementField(
        transform, sitk.sitkVectorFloat64, reference.GetSize(), reference.GetOrigin(),
        reference.GetSpacing(), reference.GetDirection())
    disp = sitk.GetArrayFromImage(field)  # [z, y, x, component xyz]
    if min(disp.shape[:3]) < 2:
        raise MetricInputError("the reference grid needs at least 2 voxels along each axis")
    spacing = np.asarray(reference.GetSpacing())
    direction = np.reshape(reference.GetDirection(), (3, 3))
    grad = np.empty(disp.shape[:3] + (3, 3))  # d u_component / d (index * spacing), xyz order
    for comp in range(3):
        steps = np.gradient(disp[..., comp], *spacing[::-1])
        for axis in range(3):
            grad[..., comp, axis] = steps[2 - axis]
    # Chain rule to physical (not index) coordinates: J = I + G D^T, as one BLAS product.
    j = np.eye(3) + np.tensordot(grad, direction, axes=([-1], [1]))
    det = (j[..., 0, 0] * (j[..., 1, 1] * j[..., 2, 2] - j[..., 1, 2] * j[..., 2, 1])
           - j[..., 0, 1] * (j[..., 1, 0] * j[..., 2, 2] - j[..., 1, 2] * j[..., 2, 0])
           + j[..., 0, 2] * (j[..., 1, 0] * j[..., 2, 1] - j[..., 1, 1] * j[..., 2, 0]))
    out = sitk.GetImageFromArray(det.astype(np.float32))
    out.CopyInformation(reference)
    return out


@dataclass(frozen=True)
class FoldingReport:
    """Summary of a Jacobian-determinant map."""

    min_jacobian: float
    max_jacobian: float
    folded_voxels: int
    folded_fraction: float

    @property
    def ok(self) -> bool:
        """True when no voxel folds (every determinant is positive)."""
        return self.folded_voxels == 0


def folding(transform: sitk.Transform, reference: sitk.Image, mask=None) -> FoldingReport:
    """Check a transform for folding on ``reference``'s grid (optionally inside ``mask``)."""
    det = sitk.GetArrayFromImage(jacobian_determinant(transform, reference))
    if mask is not None:
        if isinstance(mask, sitk.Image):
            if not same_grid(mask, reference):
                raise MetricInputError(f"the mask ({grid_text(mask)}) is not on the reference "
                                       f"grid ({grid_text(reference)}); resample it first")
            mask = sitk.GetArrayViewFromImage(mask)
        inside = np.asarray(mask) != 0
        if inside.shape != det.shape:
            raise MetricInputError(f"mask shape {inside.shape} differs from the grid {det.shape}")
        if not inside.any():
            raise MetricInputError("the mask for the folding check is empty")
        det = det[inside]
    folded = int((det <= 0).sum())
    return FoldingReport(float(det.min()), float(det.max()), folded, folded / det.size)
