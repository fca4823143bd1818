"""Grade a registration on a virtual patient, where the true motion is known.

:func:`evaluate_transfer` carries the contrast-scan lesion and pancreas onto the plain scan with
a found transform and reports lesion Dice, 95 % Hausdorff distance, the lesion error of
:func:`lesion_error` (sub-voxel, unlike the Dice), pancreas Dice, landmark error and folding,
using the general metrics of :mod:`helpers.metrics`. Not for clinical use.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..metrics import (
    MetricInputError,
    dice,
    folding,
    hausdorff95,
    target_registration_error,
)
from .warp import warp_mask


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
