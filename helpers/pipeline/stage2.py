"""Stage 2 of the toy pipeline: is there a lesion in this pancreas, and where?

PANDA's key idea, at teaching scale: the lesion masks a model learns from were drawn on the
*contrast* scan, where lesions are visible, and carried onto the same patient's *plain*
scan by registration (notebook 03). This module makes those training labels
(:func:`lesion_labels`, with other label sources for comparison), turns virtual patients
into a training table (:func:`training_data`), fits a voxel classifier
(:func:`fit_detector`) and turns its probability map into a case score and a lesion mask
(:class:`Detector`).

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

All arrays are ``[z, y, x]`` on one grid (the 3 mm working grid of :mod:`.grid`).
Not for clinical use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage as ndi
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_curve
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import metrics, registration, workers
from . import features

LABEL_SOURCES = ("registered", "exact", "copied")
IMAGES = ("plain", "contrast")
SCORE_SIGMA_VOX = 1.0  # smoothing of the probability map before taking its peak
NEGATIVE_SHARE = 0.35  # keep this share of non-lesion voxels (all lesion voxels): faster fit
TARGET_SPECIFICITY = 0.95  # the operating threshold keeps this on healthy training patients
VOXEL_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6)
# PANDA-style label transfer: the registration of notebook 03, focused on the pancreas drawn
# on the contrast scan. Affine: on typical motion (the training cohort's) the B-spline is not
# better at moving a lesion (benchmarks/registration.py, B-spline vs affine: lesion Dice
# 0.909 vs 0.901, lesion error 0.57 vs 0.23 mm) and is about twenty times slower; affine keeps
# building a training table well under a minute. On hard motion, where organs slide, the
# B-spline is clearly better (0.888 vs 0.869, 0.88 vs 1.42 mm); notebook 05's hard-motion rows
# keep the affine, so they show what a quick registration still leaves misplaced. (Figures
# measured before PDAC patients got a dilated duct, helpers.simulate.secondary_signs.)
REGISTER_OPTIONS = {"kind": "affine", "samples": 3000, "bins": 32}
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


# ------------------------------------------------------------------------- labels
def check_choice(value: str, choices, name: str) -> str:
    """Return ``value`` or raise a ValueError that lists the valid choices."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


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


# ------------------------------------------------------------------------- training table
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


def table_from_arrays(items, seeds, subtypes, diameters) -> TrainingData:
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
    table = table_from_arrays(items, [c.seed for c in cases],
                              [c.subtype or "" for c in cases],
                              [c.lesion_diameter_mm for c in cases])
    return table, items


# ------------------------------------------------------------------------- model
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
    # The training patients' out-of-fold case scores and truth (the thresholds came from them).
    training_scores: np.ndarray | None = field(default=None, repr=False)
    training_abnormal: np.ndarray | None = field(default=None, repr=False)

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
                    training_scores=np.array([case_score(m) for m in maps]),
                    training_abnormal=data.abnormal)


def permutation_importances(detector: Detector, data: TrainingData, seed: int = 0,
                            rows: int = 20000):
    """How much the voxel model's ROC AUC drops when each feature is shuffled (scikit-learn's
    ``permutation_importance`` on a fixed sample of rows): a pandas Series, largest first."""

    pick = np.random.default_rng(seed).permutation(len(data.y))[:rows]
    with one_thread():
        found = permutation_importance(detector.model, data.x[pick], data.y[pick],
                                       scoring="roc_auc", n_repeats=3, random_state=seed)
    return pd.Series(found.importances_mean, detector.names).sort_values(ascending=False)


def label_dice(table: TrainingData, reference: TrainingData) -> np.ndarray:
    """Per patient, the Dice between ``table``'s lesion labels and ``reference``'s (e.g.
    registered versus exact), counted inside the region of interest both tables share (the
    same patients and pancreas masks, so the same rows). NaN for patients with no lesion in
    either table."""
    if not (np.array_equal(table.seeds, reference.seeds)
            and np.array_equal(table.coords, reference.coords)):
        raise ValueError("the two tables are not of the same patients and regions of interest; "
                         "compare tables of one cohort with the same pancreas masks")
    both = np.bincount(table.case, weights=table.y & reference.y, minlength=len(table.seeds))
    sizes = (np.bincount(table.case, weights=table.y, minlength=len(table.seeds))
             + np.bincount(table.case, weights=reference.y, minlength=len(table.seeds)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, 2 * both / sizes, np.nan)


def label_mask(table: TrainingData, n: int) -> np.ndarray:
    """Patient ``n``'s lesion labels in ``table`` as a bool array on its grid (rows outside
    the region of interest were never stored, so they are False)."""
    mask = np.zeros(tuple(int(v) for v in table.shapes[n]), bool)
    rows = table.case == n
    mask[tuple(table.coords[rows][table.y[rows]].T)] = True
    return mask
