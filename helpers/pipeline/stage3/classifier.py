"""Stage 3 of the toy pipeline: which kind of lesion is it?

PANDA's third stage names the lesion's subtype. Here a scikit-learn random forest looks at a
handful of *lesion features* measured inside a lesion mask (:func:`lesion_features`):

* **intensity** relative to the gland around it (median, spread, 10th/90th percentiles) and
  in absolute HU (fluid sits near water, whatever the gland does);
* **texture**: the voxel-to-voxel roughness inside the lesion (fluid is smooth);
* **rim vs core**: a capsule or a solid rim around a fluid core (as in SPT);
* **shape and size**: volume, equivalent diameter, sphericity, elongation and how much of its
  bounding ellipsoid it fills (infiltrative PDAC is irregular; PNETs, cysts, SPTs rounder).

The same features on the contrast scan show why radiologists want contrast: notebook 06
compares the two with :func:`feature_table`. Subtypes are :data:`helpers.simulate.SUBTYPES`.
Stage 3 needs lesions only: it learns and is tested on the lesion-only cohorts "stage3
training" and "stage3 held-out" of :mod:`helpers.cohorts` (``named_cohort("stage3
training")``, disjoint from every other cohort). Figures are in
:mod:`helpers.pipeline.subtype_figures`. Arrays are ``[z, y, x]`` on one grid. Not for
clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage as ndi
from sklearn.ensemble import RandomForestClassifier

from ...simulate import SUBTYPES
from ..stage_inputs import EMPTY_LESION_HINT, EmptyLesionError, gland_reference


def lesion_feature_names() -> list[str]:
    """Names of the entries of :func:`lesion_features`, in order."""
    return ["median HU - gland", "p10 HU - gland", "p90 HU - gland", "sd HU",
            "median HU", "roughness HU", "rim - core HU", "ring - gland HU",
            "volume mL", "equivalent diameter mm", "sphericity", "elongation", "fill"]


def lesion_features(hu: np.ndarray, lesion: np.ndarray, pancreas: np.ndarray,
                    spacing_mm: float = 3.0) -> np.ndarray:
    """The features of :func:`lesion_feature_names` for one lesion (float64 vector).

    ``hu``: the scan (plain or contrast); ``lesion``/``pancreas``: bool masks on its grid.
    The gland's level is the median HU of pancreas voxels outside the lesion (the whole
    mask when the lesion fills it). Raises :class:`EmptyLesionError` for an empty lesion.
    """
    hu = np.asarray(hu, np.float32)
    lesion, pancreas = np.asarray(lesion, bool), np.asarray(pancreas, bool)
    if hu.shape != lesion.shape or hu.shape != pancreas.shape:
        raise ValueError(f"the scan {hu.shape}, lesion {lesion.shape} and pancreas "
                         f"{pancreas.shape} must be on one grid")
    if not lesion.any():
        raise EmptyLesionError(f"the lesion mask is empty: {EMPTY_LESION_HINT}")
    rest = pancreas & ~lesion
    gland = gland_reference(hu, rest if rest.sum() >= 10 else pancreas | lesion)
    inside = hu[lesion]
    p10, median, p90 = np.percentile(inside, [10, 50, 90])
    # Roughness: difference from the mean of the 26 neighbours (noise plus texture).
    neighbours = ndi.uniform_filter(hu, 3) * 27 / 26 - hu / 26
    rough = float(np.std((hu - neighbours)[lesion]))
    core = ndi.binary_erosion(lesion)
    rim = lesion & ~core
    rim_core = float(hu[rim].mean() - hu[core].mean()) if core.any() else 0.0
    ring = ndi.binary_dilation(lesion, iterations=2) & ~lesion & pancreas
    ring_gland = float(hu[ring].mean() - gland) if ring.sum() >= 3 else 0.0
    n = int(lesion.sum())
    volume = n * spacing_mm**3
    diameter = float(np.cbrt(6 * volume / np.pi))
    surface = float(rim.sum()) * spacing_mm**2
    sphericity = float(np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / max(surface, 1e-6))
    where = np.argwhere(lesion) * spacing_mm
    spread = np.sort(np.linalg.eigvalsh(np.cov(where.T) + 1e-6 * np.eye(3)))[::-1] \
        if n > 3 else np.ones(3)
    elongation = float(np.sqrt(spread[0] / max(spread[-1], 1e-6)))
    ellipsoid = 4 / 3 * np.pi * np.prod(np.sqrt(5 * np.maximum(spread, 1e-6)))
    fill = float(min(volume / ellipsoid, 2.0))
    return np.array([median - gland, p10 - gland, p90 - gland, float(inside.std()), median,
                     rough, rim_core, ring_gland, volume / 1000, diameter, sphericity,
                     elongation, fill], np.float64)


@dataclass
class SubtypeClassifier:
    """A fitted stage 3: a random forest over :func:`lesion_features`, and how many training
    lesions of each subtype it learnt from."""

    forest: object
    classes: tuple[str, ...]
    training_counts: dict[str, int] = field(default_factory=dict)

    def predict_proba(self, x: np.ndarray) -> list[dict[str, float]]:
        """One dict subtype -> probability per row of ``x`` (every subtype listed)."""
        x = np.atleast_2d(np.asarray(x, np.float64))
        found = self.forest.predict_proba(x)
        out = []
        for row in found:
            probs = dict.fromkeys(SUBTYPES, 0.0)
            probs.update({c: float(p) for c, p in zip(self.forest.classes_, row, strict=True)})
            out.append(probs)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable subtype per row of ``x``."""
        return self.forest.predict(np.atleast_2d(np.asarray(x, np.float64)))

    def importances(self):
        """The forest's impurity-based feature importances, a pandas Series, largest first."""

        return pd.Series(self.forest.feature_importances_, lesion_feature_names()).sort_values(
            ascending=False)


def fit_subtype_classifier(x: np.ndarray, subtypes, seed: int = 0,
                           n_estimators: int = 300) -> SubtypeClassifier:
    """Fit the forest on lesion features ``x`` and their subtypes (deterministic for
    ``seed``; classes weighted so every subtype counts the same)."""

    subtypes = np.asarray(subtypes, str)
    unknown = sorted(set(subtypes) - set(SUBTYPES))
    if unknown:
        raise ValueError(f"unknown subtypes {unknown}; expected some of {', '.join(SUBTYPES)} "
                         "(healthy patients have no lesion to classify: leave them out)")
    if len(set(subtypes)) < 2:
        raise ValueError(f"only one subtype ({', '.join(sorted(set(subtypes))) or 'none'}) in "
                         "the training lesions: a classifier needs at least two; use a cohort "
                         "with mixed subtypes (helpers.simulate.make_cohort does that)")
    forest = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=2,
                                    class_weight="balanced", random_state=seed, n_jobs=1)
    forest.fit(np.asarray(x, np.float64), subtypes)
    names, counts = np.unique(subtypes, return_counts=True)
    return SubtypeClassifier(forest, tuple(forest.classes_),
                             {str(s): int(c) for s, c in zip(names, counts, strict=True)})


def feature_table(cases, images=("plain", "contrast")):
    """Lesion features of every lesion case on each scan (using the masks drawn on that scan):
    a pandas DataFrame with one row per case and scan, for comparing plain and contrast CT."""

    rows = []
    for case in cases:
        if case.subtype is None:
            continue
        for image in images:
            scan, lesion, gland = (getattr(case, image), getattr(case, f"lesion_{image}"),
                                   getattr(case, f"pancreas_{image}"))
            values = lesion_features(*(sitk.GetArrayFromImage(v) for v in (scan, lesion > 0,
                                                                           gland > 0)))
            rows.append({"seed": case.seed, "subtype": case.subtype, "image": image,
                         **dict(zip(lesion_feature_names(), values, strict=True))})
    return pd.DataFrame(rows)
