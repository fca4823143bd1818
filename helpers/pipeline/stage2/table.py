"""Stage 2's training table: every voxel near the pancreas of every training patient.

:func:`training_data` turns virtual patients into a :class:`TrainingData` table (voxel
features of :mod:`.features`, labels of :mod:`.labels`), one worker process per patient.
Only arrays, so that the table can be cached without a pickle. Not for clinical use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ... import workers
from . import features
from .labels import case_arrays


@dataclass
class TrainingData:
    """Every region-of-interest voxel of every training patient, as plain arrays.

    ``x``/``y``: voxel features and lesion labels; ``case``: which patient each row is from;
    ``coords``: each row's voxel index ``(z, y, x)``; ``shapes``: each patient's grid shape;
    ``seeds``, ``subtypes`` ("" for healthy), ``diameters_mm``: per patient. Only arrays, so
    it can be stored with ``np.savez`` and read back with ``allow_pickle=False``.
    """

    x: np.ndarray
    y: np.ndarray
    case: np.ndarray
    coords: np.ndarray
    shapes: np.ndarray
    seeds: np.ndarray
    subtypes: np.ndarray
    diameters_mm: np.ndarray

    @property
    def abnormal(self) -> np.ndarray:
        """Per patient: True when the (label-source) lesion mask is not empty."""
        return np.bincount(self.case, weights=self.y, minlength=len(self.seeds)) > 0

    def head(self, n: int) -> TrainingData:
        """The table of the first ``n`` patients only."""
        rows = self.case < n
        return TrainingData(self.x[rows], self.y[rows], self.case[rows], self.coords[rows],
                            self.shapes[:n], self.seeds[:n], self.subtypes[:n],
                            self.diameters_mm[:n])

    def arrays(self) -> dict:
        """The fields as a dict of arrays (for ``np.savez``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def table_from_items(items, seeds, subtypes, diameters) -> TrainingData:
    """A :class:`TrainingData` from ``(hu, pancreas, lesion)`` triples, one per patient."""
    xs, ys, idx, coords, shapes = [], [], [], [], []
    for n, (hu, pancreas, lesion) in enumerate(items):
        x, roi = features.voxel_features(hu, pancreas)
        xs.append(x)
        ys.append(lesion[roi])
        idx.append(np.full(len(x), n, np.int32))
        coords.append(np.argwhere(roi).astype(np.int16))
        shapes.append(hu.shape)
    return TrainingData(np.concatenate(xs), np.concatenate(ys), np.concatenate(idx),
                        np.concatenate(coords), np.asarray(shapes, np.int32),
                        np.asarray(seeds, np.int64), np.asarray(subtypes, str),
                        np.asarray(diameters, np.float64))


def _case_job(case_and_mask, label_source, image, register_options):
    case, gland = case_and_mask
    hu, pancreas, lesion = case_arrays(case, label_source, image, gland, **register_options)
    return features.resampling_augment(hu, case.seed), pancreas, lesion


def training_data(cases, label_source: str = "registered", image: str = "plain",
                  pancreas_masks=None, progress: bool = False, **register_options):
    """Turn virtual patients into a :class:`TrainingData` table and the lesion triples.

    ``pancreas_masks``: optional list of plain-grid pancreas masks (e.g. stage 1's), one per
    case; default the reference masks. Some patients' scans are blurred first, as resampling
    blurs a finer scan (:func:`.features.resampling_augment`). Returns ``(table, items)``
    where ``items`` are the ``(hu, pancreas, lesion)`` arrays per case (stage 3 measures its
    lesions from them). The cases' arrays (one registration each for registered labels) are
    made in worker processes (:func:`helpers.workers.map_ordered`).
    """
    masks = [None] * len(cases) if pancreas_masks is None else list(pancreas_masks)
    job = functools.partial(_case_job, label_source=label_source, image=image,
                            register_options=register_options)
    items = workers.map_ordered(job, list(zip(cases, masks, strict=True)),
                                desc="training patients", progress=progress)
    table = table_from_items(items, [c.seed for c in cases],
                              [c.subtype or "" for c in cases],
                              [c.lesion_diameter_mm for c in cases])
    return table, items
