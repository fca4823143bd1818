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
``lesion_error(case, transform)``
    On a virtual patient (known truth): mean distance in mm between where ``transform`` and
    the true motion send the lesion's voxels. Unlike Dice it is not rounded to whole voxels.
``paired_comparison(table, method, baseline)`` and ``clearly_better(...)``
    Pair-by-pair wins and losses of one registration method against another, and the
    series' definition of "clearly better" (issue 5).

Masks may be SimpleITK images (spacing is read from them) or numpy arrays (pass ``spacing``
in mm, in the array's axis order). Foreground is every non-zero voxel, or ``label`` if
given. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi


class MetricInputError(ValueError):
    """Bad input to a metric; the message says what was wrong and what to do."""


def _grid_text(image: sitk.Image) -> str:
    return (f"size {image.GetSize()}, spacing {tuple(round(s, 3) for s in image.GetSpacing())}"
            f", origin {tuple(round(o, 1) for o in image.GetOrigin())}")


def _as_pair(a, b, label=None, spacing=None):
    """Two boolean arrays on one grid and that grid's spacing (array axis order, mm)."""
    if isinstance(a, sitk.Image) != isinstance(b, sitk.Image):
        raise MetricInputError("pass two SimpleITK images or two numpy arrays, not one of each")
    if isinstance(a, sitk.Image):
        from .registration import same_grid

        if a.GetNumberOfComponentsPerPixel() != 1 or b.GetNumberOfComponentsPerPixel() != 1:
            raise MetricInputError("masks must have one value per voxel (not vector images)")
        if not same_grid(a, b):
            raise MetricInputError(
                f"the two masks are on different grids ({_grid_text(a)} versus {_grid_text(b)}). "
                "Put one onto the other's grid first, e.g. helpers.registration.warp_mask("
                "mask, transform, reference=other_scan).")
        spacing = a.GetSpacing()[::-1]
        a, b = sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise MetricInputError(f"mask shapes differ: {a.shape} versus {b.shape}; resample one "
                               "onto the other's grid first")
    for m in (a, b):
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
            from .registration import same_grid

            if not same_grid(mask, reference):
                raise MetricInputError(f"the mask ({_grid_text(mask)}) is not on the reference "
                                       f"grid ({_grid_text(reference)}); resample it first")
            mask = sitk.GetArrayViewFromImage(mask)
        inside = np.asarray(mask) != 0
        if inside.shape != det.shape:
            raise MetricInputError(f"mask shape {inside.shape} differs from the grid {det.shape}")
        if not inside.any():
            raise MetricInputError("the mask for the folding check is empty")
        det = det[inside]
    folded = int((det <= 0).sum())
    return FoldingReport(float(det.min()), float(det.max()), folded, folded / det.size)


def lesion_error(case, transform: sitk.Transform):
    """Mean distance (mm) between ``transform`` and the true motion over the lesion's voxels.

    ``case`` needs ``lesion_plain`` and the true plain -> contrast ``transform`` (a virtual
    patient). Every voxel of the true plain-scan lesion is mapped by both transforms; the
    result is the mean distance between the two images of each voxel. None for a healthy
    case. A 3 mm voxel grid cannot show errors well below a voxel in the Dice; this can.
    """
    if not isinstance(transform, sitk.Transform):
        raise MetricInputError(f"transform must be a SimpleITK transform, got "
                               f"{type(transform).__name__}")
    mask = sitk.GetArrayViewFromImage(case.lesion_plain)
    if not mask.any():
        return None
    points = [case.lesion_plain.TransformIndexToPhysicalPoint([int(v) for v in idx[::-1]])
              for idx in np.argwhere(mask)]
    found = np.array([transform.TransformPoint(p) for p in points])
    truth = np.array([case.transform.TransformPoint(p) for p in points])
    return float(np.linalg.norm(found - truth, axis=1).mean())


def evaluate_transfer(case, transform: sitk.Transform) -> dict:
    """Grade a plain -> contrast ``transform`` on a virtual patient with known ground truth.

    ``case`` is a :class:`helpers.simulate.VirtualCase`. Returns a dict: lesion Dice and 95 %
    Hausdorff distance (None for a healthy case), the lesion error of :func:`lesion_error`
    (when ``case`` carries its true ``transform``), pancreas Dice, median and largest
    landmark error (mm), and the folding check (smallest Jacobian determinant, folded voxels).
    """
    from .registration import warp_mask

    row = {"lesion_dice": None, "lesion_hd95_mm": None}
    if sitk.GetArrayViewFromImage(case.lesion_contrast).any():
        moved = warp_mask(case.lesion_contrast, transform, case.plain)
        row["lesion_dice"] = dice(moved, case.lesion_plain)
        if sitk.GetArrayViewFromImage(moved).any():
            row["lesion_hd95_mm"] = hausdorff95(moved, case.lesion_plain)
    if getattr(case, "transform", None) is not None:
        row["lesion_error_mm"] = lesion_error(case, transform)
    pancreas = warp_mask(case.pancreas_contrast, transform, case.plain)
    row["pancreas_dice"] = dice(pancreas, case.pancreas_plain)
    errors = target_registration_error(transform, case.landmarks_plain, case.landmarks_contrast)
    row["tre_median_mm"] = float(np.median(errors))
    row["tre_max_mm"] = float(errors.max())
    fold = folding(transform, case.plain)
    row["min_jacobian"] = fold.min_jacobian
    row["folded_voxels"] = fold.folded_voxels
    return row


# ------------------------------------------------------------------------------- comparing
CLEARLY_BETTER = {"min_dice_gain": 0.01, "win_ratio": 2.0}


def paired_comparison(table, method: str, baseline: str = "affine", by: str = "motion"):
    """Pair-by-pair comparison of ``method`` with ``baseline`` on the same patients.

    ``table`` is a pandas DataFrame with one row per patient and method (columns ``method``,
    ``seed``, ``lesion_dice``, ``lesion_error_mm`` and ``by``), as the benchmark and notebook
    03 build it. Returns one row per value of ``by``: pairs, Dice wins / losses / ties
    (``method`` higher / lower / equal), the difference of the median Dice, the medians of the
    lesion error for both methods, and in how many pairs ``method``'s lesion error is smaller.
    Healthy patients (no lesion) are left out.
    """
    import pandas as pd

    missing = {"method", "seed", "lesion_dice", by} - set(table.columns)
    if missing:
        raise MetricInputError(f"the table lacks the column(s) {sorted(missing)}; build it "
                               "with one row per patient and method from evaluate_transfer")
    for name in (method, baseline):
        if name not in set(table["method"]):
            raise MetricInputError(f"no rows for method {name!r}; the table has "
                                   f"{sorted(set(table['method']))}")
    rows = {}
    for level, part in table[table["lesion_dice"].notna()].groupby(by, sort=False):
        pivot = part.pivot_table(index="seed", columns="method", aggfunc="first",
                                 values=[c for c in ("lesion_dice", "lesion_error_mm")
                                         if c in part.columns])
        dice_m, dice_b = pivot["lesion_dice"][method], pivot["lesion_dice"][baseline]
        wins, losses = int((dice_m > dice_b + 1e-9).sum()), int((dice_m < dice_b - 1e-9).sum())
        row = {"pairs": len(pivot), "Dice wins": wins, "Dice losses": losses,
               "Dice ties": len(pivot) - wins - losses,
               "median Dice gain": float(dice_m.median() - dice_b.median())}
        if "lesion_error_mm" in pivot:
            err_m, err_b = pivot["lesion_error_mm"][method], pivot["lesion_error_mm"][baseline]
            row.update({"median lesion error mm": float(err_m.median()),
                        f"{baseline} lesion error mm": float(err_b.median()),
                        "smaller lesion error": int((err_m < err_b).sum())})
        rows[level] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def clearly_better(row) -> bool:
    """The series' "clearly better than the baseline" for one row of :func:`paired_comparison`.

    All of: a median lesion Dice at least ``CLEARLY_BETTER["min_dice_gain"]`` (0.01) higher;
    at least ``CLEARLY_BETTER["win_ratio"]`` (2) times as many Dice wins as losses, pair by
    pair; and, where the lesion error is known, a smaller median lesion error.
    """
    ok = (row["median Dice gain"] >= CLEARLY_BETTER["min_dice_gain"] - 1e-12
          and row["Dice wins"] >= CLEARLY_BETTER["win_ratio"] * max(row["Dice losses"], 1))
    if "median lesion error mm" in row:
        baseline = [k for k in row.keys() if k.endswith(" lesion error mm")
                    and k != "median lesion error mm"]
        ok = ok and all(row["median lesion error mm"] < row[k] for k in baseline)
    return bool(ok)
