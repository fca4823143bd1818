"""Stage 3's training rows: lesion features measured in the outlines stage 3 learns from.

Either the lesions' label outlines (:func:`lesion_training_rows`) or the outlines stage 2
reports for them (:func:`detected_lesion_rows`), which is what stage 3 is handed when the
stages are chained: stage 2's outlines run larger or smaller than the lesion, and that shifts
every lesion feature. Not for clinical use.
"""

from __future__ import annotations

import numpy as np

from ..stage2.boosted import lesion_from_map
from .classifier import lesion_feature_names, lesion_features


def as_lesion_rows(rows, names):
    """Stage 3's ``(x, subtypes)`` arrays from lists of feature vectors and subtype names."""
    return (np.asarray(rows, np.float64).reshape(-1, len(lesion_feature_names())),
            np.asarray(names, str))


def lesion_training_rows(items, subtypes):
    """Stage 3's training rows: lesion features for every case whose label mask is not
    empty. ``items``: ``(hu, pancreas, lesion)`` triples (any iterable, one per case).
    Returns ``(x, subtypes)``."""
    rows, names = [], []
    for (hu, gland, lesion), subtype in zip(items, subtypes, strict=True):
        if subtype and lesion.any():
            rows.append(lesion_features(hu, lesion, gland))
            names.append(subtype)
    return as_lesion_rows(rows, names)


def detected_lesion_rows(items, subtypes, maps, voxel_threshold: float):
    """Stage 3's training rows measured inside the outline **stage 2 reports** for each
    lesion patient, as the chained pipeline would hand it to stage 3: the connected region of
    its probability map above ``voxel_threshold`` around the map's peak, whatever the case
    score. A patient counts only when that outline overlaps its lesion label (a region found
    elsewhere is not this lesion). ``items``: one ``(hu, pancreas, label)`` triple per patient
    and ``maps`` its probability map (None is allowed for healthy patients: they are skipped),
    e.g. the out-of-fold maps of stage 2's own training patients, or a fitted detector's
    ``probability_map`` for patients it never trained on. Returns ``(x, subtypes)``."""
    rows, names = [], []
    for item, probability, subtype in zip(items, maps, subtypes, strict=True):
        if not subtype:
            continue
        hu, gland, label = item
        found = lesion_from_map(probability, voxel_threshold)
        if (found & label).any():
            rows.append(lesion_features(hu, found, gland))
            names.append(subtype)
    return as_lesion_rows(rows, names)
