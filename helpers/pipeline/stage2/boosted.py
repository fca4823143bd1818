"""Stage 2's boosted detector: is there a lesion in this pancreas, and where?

A voxel classifier (:func:`fit_detector`) learns from a training table (:mod:`.table`) and its
probability map becomes a case score and a lesion mask (:class:`Detector`).

* **Voxel model**: scikit-learn's histogram gradient boosting over the features of
  :mod:`.features` (intensity relative to the gland, multiscale smoothing inside the
  gland, texture, shape and position), for every voxel near the pancreas.
* **Case score** (0..1): the highest value of the probability map after a light Gaussian
  smoothing (about 3 mm), so that a cluster of suspicious voxels counts more than one noisy
  voxel.
* **Lesion mask**: the connected region of the probability map above a voxel threshold
  that holds the case's peak, reported only when the score passes the operating threshold.
* **Thresholds** are chosen on the *training* patients only, from out-of-fold
  probability maps (each patient scored by a model that never saw it): the operating
  threshold gives :data:`TARGET_SPECIFICITY` on healthy training patients; the voxel
  threshold maximises the lesion Dice on training lesions.

All arrays are ``[z, y, x]`` on one grid (the 3 mm working grid of :mod:`helpers.pipeline.grid`).
Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_curve
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ... import metrics
from . import features
from .labels import label_mask
from .table import TrainingData

SCORE_SIGMA_VOX = 1.0  # smoothing of the probability map before taking its peak
NEGATIVE_SHARE = 0.35  # keep this share of non-lesion voxels (all lesion voxels): faster fit
TARGET_SPECIFICITY = 0.95  # the operating threshold keeps this on healthy training patients
VOXEL_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6)
# The voxel model's settings (a module constant so that tests can make it smaller).
VOXEL_MODEL = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31,
               "min_samples_leaf": 40, "l2_regularization": 1.0}
# Threads for the boosting model's OpenMP loops. One: on a busy 2-core machine (a classroom
# laptop, CI running other jobs) OpenMP threads that wait for each other made fitting 5-15x
# slower (measured: one fit 16 s with 2 threads versus 3.5 s with 1, at load average 7.7).
VOXEL_THREADS = 1


def one_thread():
    """A context in which OpenMP (the boosting model's loops) uses :data:`VOXEL_THREADS`."""

    return threadpool_limits(limits=VOXEL_THREADS, user_api="openmp")



def fit_voxel_model(x, y, seed: int = 0):
    """Histogram gradient boosting on all lesion voxels and a fixed share of the others
    (deterministic for ``seed``). Raises a clear error when one class is missing."""

    y = np.asarray(y, bool)
    if y.all() or not y.any():
        raise ValueError("the training patients contain only one class of voxels ("
                         + ("no lesion voxels at all: the cohort seems to hold only healthy "
                            "patients" if not y.any() else "only lesion voxels")
                         + "); train on a cohort with both healthy and lesion patients, e.g. "
                         "helpers.simulate.make_cohort(n, seed) with 0 < healthy_fraction < 1")
    keep = y | (np.random.default_rng(seed).random(len(y)) < NEGATIVE_SHARE)
    model = HistGradientBoostingClassifier(**VOXEL_MODEL, early_stopping=False,
                                           random_state=seed)
    with one_thread():
        return model.fit(x[keep], y[keep])


def probability_volume(model, x, coords, shape) -> np.ndarray:
    """A voxel model's P(lesion) for rows ``x`` placed back on a grid of ``shape`` (0 outside
    the region of interest)."""
    out = np.zeros(tuple(int(v) for v in shape), np.float32)
    if len(x):
        with one_thread():
            out[tuple(np.asarray(coords).T)] = model.predict_proba(x)[:, 1]
    return out


def case_score(probability: np.ndarray) -> float:
    """Case-level abnormality score (0..1): the peak of the lightly smoothed map."""
    return float(ndi.gaussian_filter(probability, SCORE_SIGMA_VOX).max())


def map_peak(probability: np.ndarray) -> tuple[int, ...]:
    """The voxel index of the lightly smoothed map's maximum (where :func:`case_score` is)."""
    smooth = ndi.gaussian_filter(probability, SCORE_SIGMA_VOX)
    return tuple(int(v) for v in np.unravel_index(np.argmax(smooth), probability.shape))


def lesion_from_map(probability: np.ndarray, threshold: float, peak=None) -> np.ndarray:
    """The connected region (26-neighbours) above ``threshold`` that holds the smoothed
    map's peak (``peak``: its index, when already known); empty if the peak's voxel itself
    is below threshold."""
    peak = map_peak(probability) if peak is None else tuple(peak)
    labels, _ = ndi.label(probability >= threshold, np.ones((3, 3, 3)))
    return labels == labels[peak] if labels[peak] else np.zeros(probability.shape, bool)


def check_trainable(data: TrainingData, folds: int = 3) -> None:
    """Raise a clear ValueError unless ``data`` holds both healthy and lesion patients, and
    enough of them for ``folds``-fold cross-validation."""
    abnormal = data.abnormal
    if abnormal.all() or not abnormal.any():
        kind = "lesions" if abnormal.all() else "healthy pancreases"
        raise ValueError(f"all {len(abnormal)} training patients have {kind}: a detector needs "
                         "both healthy and lesion patients to learn (and to choose its "
                         "threshold). Use a mixed cohort, e.g. helpers.simulate.make_cohort"
                         "(n, seed) with its default healthy_fraction=0.5.")
    if len(abnormal) < 2 * folds:
        raise ValueError(f"{len(abnormal)} training patients are too few; give at least "
                         f"{2 * folds} (thresholds are chosen by {folds}-fold cross-validation)")


def out_of_fold_maps(data: TrainingData, seed: int = 0, folds: int = 3,
                     progress: bool = False) -> list[np.ndarray]:
    """Every training patient's probability map from a model fitted without it. Patients
    are dealt to ``folds`` groups in turn after sorting by subtype, so every group holds
    every kind of patient (stratified). Checked first with :func:`check_trainable`.
    ``progress``: a bar over the folds (each fit takes a few seconds)."""
    check_trainable(data, folds)
    group = np.empty(len(data.seeds), int)
    group[np.argsort(data.subtypes, kind="stable")] = np.arange(len(data.seeds)) % folds
    maps = [None] * len(data.seeds)
    for k in tqdm(range(folds), desc="out-of-fold fits", disable=not progress):
        train = group[data.case] != k
        model = fit_voxel_model(data.x[train], data.y[train], seed)
        for n in np.flatnonzero(group == k):
            rows = data.case == n
            maps[n] = probability_volume(model, data.x[rows], data.coords[rows],
                                         data.shapes[n])
    return maps


def choose_thresholds(data: TrainingData, maps) -> tuple[float, float]:
    """``(operating, voxel)`` thresholds from out-of-fold maps of *training* patients."""

    scores = np.array([case_score(m) for m in maps])
    fpr, _, cut = roc_curve(data.abnormal, scores)
    operating = float(min(cut[fpr <= 1 - TARGET_SPECIFICITY][-1], 1.0))
    truths, peaks = {}, {}
    for n in np.flatnonzero(data.abnormal):
        truths[n], peaks[n] = label_mask(data, n), map_peak(maps[n])
    best, voxel = -1.0, VOXEL_THRESHOLDS[0]
    for t in VOXEL_THRESHOLDS:
        dices = []
        for n, truth in truths.items():
            found = lesion_from_map(maps[n], t, peaks[n])
            dices.append(metrics.dice(found, truth))  # truth is never empty here
        if np.mean(dices) > best:
            best, voxel = float(np.mean(dices)), t
    return operating, voxel


@dataclass
class Detector:
    """A fitted stage 2: the voxel model and the thresholds chosen on training patients."""

    model: object
    operating_threshold: float
    voxel_threshold: float
    names: list[str] = field(default_factory=features.feature_names)
    # The scores the operating threshold was set on (the name every stage-2 detector uses,
    # helpers.pipeline.detectors): here the training patients' out-of-fold case scores, and
    # their truth (lesion label or not).
    threshold_scores: np.ndarray | None = field(default=None, repr=False)
    threshold_abnormal: np.ndarray | None = field(default=None, repr=False)

    def probability_map(self, hu: np.ndarray, pancreas: np.ndarray) -> np.ndarray:
        """P(lesion) per voxel (0 outside the region of interest around the pancreas)."""
        x, roi = features.voxel_features(hu, pancreas)
        return probability_volume(self.model, x, np.argwhere(roi), hu.shape)

    def detect(self, hu: np.ndarray, pancreas: np.ndarray):
        """``(score, lesion_mask, probability_map)``; the mask is empty below the operating
        threshold."""
        probability = self.probability_map(hu, pancreas)
        score = case_score(probability)
        lesion = (lesion_from_map(probability, self.voxel_threshold)
                  if score >= self.operating_threshold else np.zeros(hu.shape, bool))
        return score, lesion, probability


def fit_detector(data: TrainingData, seed: int = 0, folds: int = 3, maps=None) -> Detector:
    """Fit stage 2 on a :class:`TrainingData` table (thresholds from out-of-fold maps;
    ``maps``: those of :func:`out_of_fold_maps` for ``data``, ``seed`` and ``folds`` when
    already computed)."""
    check_trainable(data, folds)
    maps = out_of_fold_maps(data, seed, folds) if maps is None else maps
    operating, voxel = choose_thresholds(data, maps)
    return Detector(fit_voxel_model(data.x, data.y, seed), operating, voxel,
                    threshold_scores=np.array([case_score(m) for m in maps]),
                    threshold_abnormal=data.abnormal)


def permutation_importances(detector: Detector, data: TrainingData, seed: int = 0,
                            rows: int = 20000):
    """How much the voxel model's ROC AUC drops when each feature is shuffled (scikit-learn's
    ``permutation_importance`` on a fixed sample of rows): a pandas Series, largest first."""

    pick = np.random.default_rng(seed).permutation(len(data.y))[:rows]
    with one_thread():
        found = permutation_importance(detector.model, data.x[pick], data.y[pick],
                                       scoring="roc_auc", n_repeats=3, random_state=seed)
    return pd.Series(found.importances_mean, detector.names).sort_values(ascending=False)
