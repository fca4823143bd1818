"""The model's reading of the reader study's patients (notebook 07), cached.

The default pipeline reads each plain scan once (stages 1-3, a few seconds per patient); its
case scores and the centre of each reported lesion are kept in the series' cache
(:func:`helpers.cache.load_or_build`), keyed by the patients and by what decides the model's
answers (its training data's settings, its thresholds and its training patients' out-of-fold
scores), so a changed model is read again. Not for clinical use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import sklearn
from tqdm.auto import tqdm

from .. import cache, cache_layout
from ..simulate import CASE_VERSION
from . import training_cache
from .default import default_pipeline
from .stage1 import stage1_settings

SCORES_VERSION = "reader-study-v1"  # change when what is stored changes: old files are ignored


@dataclass(frozen=True)
class ModelReading:
    """The model's answers on the case list: a case score per patient, the centre (mm) of the
    lesion it reported (NaN where none) and its operating threshold (a score at or above it
    calls a lesion)."""

    scores: np.ndarray
    centres_mm: np.ndarray  # (n, 3)
    threshold: float

    @property
    def calls(self) -> np.ndarray:
        """True where the model calls a lesion (score at or above its threshold)."""
        return self.scores >= self.threshold


def model_fingerprint(model) -> dict:
    """What decides the fitted model's answers, for the cache key: its training table's
    settings, stage 1's settings, its thresholds, a digest of its training patients'
    out-of-fold scores and scikit-learn's version."""
    detector = model.detector
    trained = np.ascontiguousarray(np.asarray(detector.threshold_scores, np.float64))
    training = training_cache.training_key(model, "typical", True)
    return {"training": training_cache.table_key(training),
            "stage1": stage1_settings(model.stage1_method),
            "stage3_outlines": model.stage3_outlines,
            "operating": float(detector.operating_threshold),
            "voxel": float(detector.voxel_threshold),
            "oof": hashlib.sha256(trained.tobytes()).hexdigest(),
            "subtype_rows": {k: int(v) for k, v in model.classifier.training_counts.items()},
            "sklearn": sklearn.__version__}


def reading_key(cases, model) -> str:
    """The cache key of the model's reading of ``cases``."""
    return cache.settings_key({"version": SCORES_VERSION, "cases": CASE_VERSION,
                               "patients": [int(c.seed) for c in cases],
                               "subtypes": [c.subtype or "" for c in cases],
                               "model": model_fingerprint(model)})


def _centre_or_nan_mm(mask: sitk.Image) -> np.ndarray:
    index = np.argwhere(sitk.GetArrayViewFromImage(mask) > 0)
    if len(index) == 0:
        return np.full(3, np.nan)
    centre = index.mean(axis=0)[::-1].tolist()
    return np.asarray(mask.TransformContinuousIndexToPhysicalPoint(centre))


def read_with_model(cases, model, progress: bool = False) -> dict:
    """Run ``model.predict`` on every plain scan: ``{"scores", "centres_mm"}`` arrays."""
    scores, centres = [], []
    for case in tqdm(cases, desc="the model reads", disable=not progress):
        result = model.predict(case.plain)
        scores.append(float(result.score))
        centres.append(_centre_or_nan_mm(result.lesion))
    return {"scores": np.asarray(scores, np.float64), "centres_mm": np.asarray(centres)}


def model_reading(cases, model=None, use_cache: bool = True,
                  progress: bool = False) -> ModelReading:
    """The model's :class:`ModelReading` of ``cases`` (default model: the default pipeline),
    from the cache when it holds this model's reading of these patients, else computed (a
    few seconds per patient) and stored."""
    model = model or default_pipeline()
    key = reading_key(cases, model)
    path = cache.cache_dir() / cache_layout.PIPELINE / f"reader-study-{key}.npz"

    def fits(arrays):
        if arrays["scores"].shape != (len(cases),) or arrays["centres_mm"].shape != (
                len(cases), 3):
            raise ValueError("its arrays do not fit the case list")
        return arrays

    stored = cache.load_or_build(
        path, key, lambda: read_with_model(cases, model, cache.show_build_progress(progress)),
        from_arrays=fits, what="cached reading of the reader study", use_cache=use_cache)
    return ModelReading(np.asarray(stored["scores"], float), np.asarray(stored["centres_mm"]),
                        float(model.detector.operating_threshold))
