"""Stage 2's training labels: PANDA's key idea at teaching scale.

The lesion masks a model learns from were drawn on the *contrast* scan, where lesions are
visible, and carried onto the same patient's *plain* scan by registration (notebook 03):
:func:`lesion_labels` makes them (with other label sources to compare), :func:`case_arrays`
gives a patient's scan, pancreas and label as arrays, and :func:`label_dice` measures one set
of labels against another. All arrays are ``[z, y, x]`` on one grid. Not for clinical use.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ... import registration
from ...checks import check_choice

LABEL_SOURCES = ("registered", "exact", "copied")
IMAGES = ("plain", "contrast")
# PANDA-style label transfer: the registration of notebook 03, focused on the pancreas drawn
# on the contrast scan. Affine: on typical motion (the training cohort's) the B-spline is not
# better at moving a lesion (benchmarks/registration.py, B-spline vs affine: lesion Dice
# 0.909 vs 0.901, lesion error 0.57 vs 0.23 mm) and is about twenty times slower; affine keeps
# building a training table well under a minute. On hard motion, where organs slide, the
# B-spline is clearly better (0.888 vs 0.869, 0.88 vs 1.42 mm); notebook 05's hard-motion rows
# keep the affine, so they show what a quick registration still leaves misplaced. (Figures
# measured before PDAC patients got a dilated duct, helpers.simulate.secondary_signs.)
REGISTER_OPTIONS = {"kind": "affine", "samples": 3000, "bins": 32}


def lesion_labels(case, label_source: str = "registered", **register_options) -> sitk.Image:
    """The lesion mask a model is trained on, on the case's *plain* grid.

    ``"registered"`` (PANDA's way): register contrast -> plain with
    :func:`helpers.registration.register` (region: the pancreas drawn on the contrast scan)
    and carry ``case.lesion_contrast`` over with ``warp_mask``. ``"exact"``: the simulator's
    exact plain-scan mask (an upper bound no real dataset has). ``"copied"``: the contrast
    mask resampled onto the plain grid with no registration (identity transform), as if the
    patient had not moved. Healthy cases get an empty mask (nothing to register).
    """
    check_choice(label_source, LABEL_SOURCES, "label_source")
    if label_source == "exact":
        return case.lesion_plain
    if not sitk.GetArrayViewFromImage(case.lesion_contrast).any():
        return sitk.Image(case.lesion_plain)  # healthy: empty on the plain grid
    if label_source == "copied":
        transform = sitk.Transform(3, sitk.sitkIdentity)
    else:
        options = {**REGISTER_OPTIONS, **register_options}
        transform = registration.register(case.plain, case.contrast,
                                          region=case.pancreas_contrast, **options)
    return registration.warp_mask(case.lesion_contrast, transform, case.plain,
                                  allow_empty=True)


def case_arrays(case, label_source: str = "registered", image: str = "plain",
                pancreas: sitk.Image | None = None, **register_options):
    """``(hu, pancreas, lesion)`` arrays of one virtual patient for training or testing.

    ``image="plain"``: the plain scan, ``pancreas`` (default: the reference
    ``case.pancreas_plain``; pass stage 1's mask to train on what stage 1 finds) and the
    lesion from :func:`lesion_labels`. ``image="contrast"``: the contrast scan with the masks
    drawn on it (``label_source`` does not apply: no transfer is needed there).
    """
    hu, gland = scan_arrays(case, image, pancreas)
    lesion = (case.lesion_contrast if image == "contrast"
              else lesion_labels(case, label_source, **register_options))
    return hu, gland, sitk.GetArrayFromImage(lesion) > 0


def scan_arrays(case, image: str = "plain", pancreas: sitk.Image | None = None):
    """``(hu, pancreas)`` arrays of one virtual patient's ``image`` scan, as
    :func:`case_arrays` gives them, without the lesion label (so with no registration)."""
    check_choice(image, IMAGES, "image")
    if image == "contrast":
        scan, gland = case.contrast, case.pancreas_contrast
    else:
        scan, gland = case.plain, case.pancreas_plain if pancreas is None else pancreas
    return sitk.GetArrayFromImage(scan).astype(np.float32), sitk.GetArrayFromImage(gland) > 0


def label_dice(table, reference) -> np.ndarray:
    """Per patient, the Dice between the lesion labels of two :class:`.table.TrainingData`,
    ``table``'s and ``reference``'s (e.g. registered versus exact), counted inside the region of
    interest both tables share (the same patients and pancreas masks, so the same rows). NaN for
    patients with no lesion in either table."""
    if not (np.array_equal(table.seeds, reference.seeds)
            and np.array_equal(table.coords, reference.coords)):
        raise ValueError("the two tables are not of the same patients and regions of interest; "
                         "compare tables of one cohort with the same pancreas masks")
    both = np.bincount(table.case, weights=table.y & reference.y, minlength=len(table.seeds))
    sizes = (np.bincount(table.case, weights=table.y, minlength=len(table.seeds))
             + np.bincount(table.case, weights=reference.y, minlength=len(table.seeds)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, 2 * both / sizes, np.nan)


def label_mask(table, n: int) -> np.ndarray:
    """Patient ``n``'s lesion labels in ``table`` as a bool array on its grid (rows outside
    the region of interest were never stored, so they are False)."""
    mask = np.zeros(tuple(int(v) for v in table.shapes[n]), bool)
    rows = table.case == n
    mask[tuple(table.coords[rows][table.y[rows]].T)] = True
    return mask
