"""The training data of the default pipeline, kept in the series' cache.

Stages 2 and 3 learn from the cohort "training" of :mod:`helpers.cohorts` **plus** the
lesion-only cohort "stage3 training" (the one notebook 06 trains on), measured the same way
(same label source, image, training pancreas and motion): about three times as many lesions
as the training cohort holds. Both cohorts draw each lesion's look at random (mass effect, HU
difference to the gland, shape, margin, texture, position), so that no single cue of the
simulator gives a lesion away. The default pipeline's stage 3 also learns every one of those
lesions as stage 2 outlines it (:func:`cached_detected_rows`), since that outline is what it
is handed when the stages are chained. Building this data is the slow part (virtual
patients, and one registration per lesion patient to transfer its label); fitting
scikit-learn models on it takes seconds. So the cache (:mod:`helpers.cache`) stores only
**arrays** (labels, voxel positions, lesion features; never a pickle of a model) under
``<data cache>/pipeline/<key>.npz``, where ``key`` is a SHA-256 of every setting that changes
the arrays: one file for the training table and one for the rows in stage 2's outlines (keyed
also by what decides stage 2's fit). The voxel features are not stored: they take a few
seconds to recompute from the cached patients and would be nine tenths of the file (about
20 MB per table). On load the models are refitted deterministically (:mod:`.default`). Not for
clinical use.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import sklearn

from .. import cache, cache_layout, cohorts, workers
from ..checks import check_choice
from ..simulate import CASE_VERSION, named_cohort
from .chain import Pipeline
from .stage1 import training_mask_settings
from .stage1_cache import as_image, pack_masks, unpack_masks
from .stage2 import boosted, features
from .stage2.labels import REGISTER_OPTIONS, label_mask, scan_arrays
from .stage2.table import TrainingData
from .stage3 import lesion_feature_names
from .stage3.rows import detected_lesion_rows

CACHE_VERSION = "pipeline-v3"  # change when features or labels change: old files are ignored
TRAINING = "training"  # the cohort stages 2 and 3 learn from (helpers.cohorts)
NOTEBOOK_HELD_OUT = 48  # notebook 05 tests on the first 48 held-out patients: faster
MOTION_LEVELS = ("typical", "hard")  # breathing motion between the two scans of a patient
# Virtual patients are built in this many processes when not cached yet (each case is the same
# whichever process builds it); two keeps a 2-core laptop responsive.
COHORT_JOBS = min(2, os.cpu_count() or 1)
LABEL_FIELDS = ("y", "case", "coords", "shapes", "seeds", "subtypes", "diameters_mm")
# Stages 2 and 3 also learn from the lesions of stage 3's own training cohort.
EXTRA_LESIONS = "stage3 training"


def cache_folder() -> Path:
    """Where training tables are cached: ``<data cache>/pipeline/``."""
    return cache.cache_dir() / cache_layout.PIPELINE


def table_key(settings: dict) -> str:
    """SHA-256 of every setting, the versions and the feature lists."""
    return cache.settings_key({"version": CACHE_VERSION, "cases": CASE_VERSION,
                               "voxel_features": features.feature_names(),
                               "lesion_features": lesion_feature_names(),
                               "register": REGISTER_OPTIONS, **settings})


def cohort_settings(name: str) -> dict:
    """A cohort's seed, size, healthy share and (when not the standard one) the lesions'
    appearance, as they enter the cache keys."""
    spec = cohorts.cohort(name)
    settings = {"n": spec.n, "seed": spec.seed, "healthy_fraction": spec.healthy_fraction}
    return settings if spec.appearance == "standard" else {**settings,
                                                            "appearance": spec.appearance}


def pipeline_settings(pipeline: Pipeline) -> dict:
    """The settings of ``pipeline`` that change what its training data holds (with stage 1's
    own settings when training sees stage 1's masks)."""
    settings = {"label_source": pipeline.label_source, "image": pipeline.image,
                "training_pancreas": pipeline.training_pancreas,
                "stage1_method": pipeline.stage1_method}
    if pipeline.uses_stage1_masks:
        settings["stage1"] = training_mask_settings(pipeline.stage1_method)
    return settings


# ------------------------------------------------------------------------- the patients
def training_patients(progress: bool = False, motion: str = "typical",
                      extra_lesions: bool = True, keep: bool = True):
    """Everyone stages 2 and 3 learn from: the training cohort, then (``extra_lesions``) the
    lesion-only patients of "stage3 training" (both cached on disk, checked to share no
    patient with any other cohort). Measured on validation patients, the extra lesions raised
    stage 2's AUC most where lesions look unlike the simulator's usual ones
    (benchmarks/foreign.py). ``motion="hard"``: the same patients (same anatomy and lesions)
    with larger breathing motion between their plain and contrast scans. ``keep=False``: do
    not keep them in memory for the next call (:data:`helpers.simulate.patients.KEPT`)."""
    check_choice(motion, MOTION_LEVELS, "motion")
    cases = (named_cohort(TRAINING, progress=progress, n_jobs=COHORT_JOBS, cache=keep)
             if motion == "typical" else _unkept_cohort(motion, progress))
    return cases + (named_cohort(EXTRA_LESIONS, motion=motion, progress=progress,
                                 n_jobs=COHORT_JOBS, cache=keep) if extra_lesions else [])


@functools.lru_cache(maxsize=1)
def _unkept_cohort(motion: str, progress: bool):
    # Hard-motion patients are only needed to build their training tables (which keep their
    # labels); on disk they would add about 80 MB to the cache. Kept in memory meanwhile, so
    # that the tables of two label sources build them once.
    return named_cohort(TRAINING, motion=motion, progress=progress, n_jobs=COHORT_JOBS,
                        cache=False)


def training_key(pipeline: Pipeline, motion: str, extra_lesions: bool) -> dict:
    """The settings of a training table: its patients and ``pipeline``'s label settings."""
    cohort = cohort_settings(TRAINING)
    if motion != "typical":  # only then: the keys of the typical tables stay as they were
        cohort["motion"] = motion
    patients = {"cohort": cohort, **pipeline_settings(pipeline)}
    if extra_lesions:
        patients["extra lesions"] = cohort_settings(EXTRA_LESIONS)
    return patients


# ------------------------------------------------------------------------- the cached arrays
def table_to_arrays(found) -> dict:
    """``(table, lesion_x, lesion_y)`` (a training table and its lesion rows) as arrays,
    without the voxel features (:func:`voxel_features_of` recomputes them)."""
    table, lesion_x, lesion_y = found
    return {"lesion_x": lesion_x, "lesion_y": lesion_y,
            **{name: getattr(table, name) for name in LABEL_FIELDS}}


def labels_from_arrays(stored: dict) -> dict:
    """The stored arrays of :func:`table_to_arrays`, checked; a ValueError when they do not
    fit together."""
    rows_from_arrays(stored)
    n = len(stored["y"])
    if not (len(stored["case"]) == n and stored["coords"].shape == (n, 3)
            and (n == 0 or stored["case"].max() < len(stored["seeds"]))):
        raise ValueError("its arrays do not fit together")
    return stored


# Features recomputed in this process, by the settings they depend on: notebook 05 loads the
# same patients' features for three label sources, and computes them once.
_FEATURES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def features_key(pipeline: Pipeline, seeds, motion: str = "typical") -> tuple:
    """What the voxel features of a training table depend on. A plain scan is the same at
    every motion level, so plain features are those of the typical-motion patients."""
    settings = pipeline_settings(pipeline)
    return (pipeline.image, str(settings.get("stage1")), settings["training_pancreas"],
            "typical" if pipeline.image == "plain" else motion, tuple(int(s) for s in seeds))


def voxel_features_of(pipeline: Pipeline, seeds, motion: str = "typical",
                      extra_lesions: bool = True, progress: bool = False):
    """``(x, coords)``: the voxel features and positions of the training patients (seeds
    ``seeds``) for ``pipeline``'s image and training pancreas, in a training table's row
    order, recomputed from the cached patients."""
    key = features_key(pipeline, seeds, motion)
    # Not kept: once their features are computed (and kept below) a notebook needs the 128
    # patients no more, and keeping them took notebook 08 past its 2 GB memory budget.
    cases = training_patients(progress, key[3], extra_lesions, keep=False)
    if [int(c.seed) for c in cases] != list(key[-1]):
        raise ValueError("the training table is not of the training patients")
    masks = cached_stage1_masks(pipeline, cases, progress) or [None] * len(cases)
    xs, coords = [], []
    for case, gland in zip(cases, masks, strict=True):
        hu, pancreas = scan_arrays(case, pipeline.image, gland)
        x, roi = features.voxel_features(features.resampling_augment(hu, case.seed), pancreas)
        xs.append(x)
        coords.append(np.argwhere(roi).astype(np.int16))
    del cases, masks
    found = remember_features(key, np.concatenate(xs), np.concatenate(coords))
    workers.release_memory()
    return found


def remember_features(key: tuple, x: np.ndarray, coords: np.ndarray):
    """Keep one set of features in this process (about 30 MB) and return it."""
    _FEATURES.clear()
    _FEATURES[key] = (x, coords)
    return x, coords


def with_features(stored: dict, pipeline: Pipeline, motion: str, extra_lesions: bool,
                  progress: bool = False):
    """``(table, lesion_x, lesion_y)`` from the stored labels and the patients' features
    (this process's copy when it fits the stored voxel positions, else recomputed)."""
    key = features_key(pipeline, stored["seeds"], motion)
    x, coords = _FEATURES.get(key, (None, None))
    if coords is None or not np.array_equal(coords, stored["coords"]):
        x, coords = voxel_features_of(pipeline, stored["seeds"], motion, extra_lesions,
                                      progress)
    if not np.array_equal(coords, stored["coords"]):
        raise ValueError("the cached training table does not fit the patients' features; "
                         "delete the caches with `python3 run.py clean --yes` and run it again")
    table = TrainingData(x, *(stored[name] for name in LABEL_FIELDS))
    return (table, *rows_from_arrays(stored))


def rows_to_arrays(found) -> dict:
    """Stage 3's ``(lesion_x, lesion_y)`` as arrays."""
    return {"lesion_x": found[0], "lesion_y": found[1]}


def rows_from_arrays(stored: dict):
    """``(lesion_x, lesion_y)`` back from :func:`rows_to_arrays`; a ValueError when they do
    not fit together."""
    lesion_x, lesion_y = stored["lesion_x"], stored["lesion_y"]
    if not (lesion_x.shape == (len(lesion_y), len(lesion_feature_names()))
            and lesion_y.dtype.kind == "U"):
        raise ValueError("its lesion rows do not fit together")
    return lesion_x, lesion_y


def cached_stage1_masks(pipeline: Pipeline, cases, progress: bool = False):
    """Stage 1's pancreas masks of ``cases`` (their plain scans), when ``pipeline`` trains on
    them (else None), cached once for every table that needs them: a plain scan is the same
    at every motion level and for every label source."""
    if not pipeline.uses_stage1_masks:
        return None
    key = table_key({"stage 1 masks": [int(c.seed) for c in cases], "stored as": "bits",
                     "subtypes": [c.subtype or "" for c in cases],
                     "stage1": training_mask_settings(pipeline.stage1_method)})

    def build():  # one bit per voxel: the masks of 160 patients in about 0.2 MB
        masks = pipeline.training_pancreas_masks(cases, cache.show_build_progress(progress))
        arrays = [sitk.GetArrayFromImage(m) > 0 for m in masks]
        return pack_masks(arrays, [a.shape for a in arrays])

    stored = cache.load_or_build(cache_folder() / f"{key}.npz", key, build,
                                 what="cached stage 1 masks")
    return [as_image(mask, case.plain) for case, mask in
            zip(cases, unpack_masks(stored), strict=True)]


def cached_training_table(pipeline: Pipeline, progress: bool = False, use_cache: bool = True,
                          motion: str = "typical", extra_lesions: bool = True):
    """The training table of ``pipeline``'s settings on :func:`training_patients` (with
    ``motion`` between each patient's two scans), from the cache when present (else built and
    stored). Returns ``(table, lesion_x, lesion_y)``: the voxel table and stage 3's rows."""
    check_choice(motion, MOTION_LEVELS, "motion")
    key = table_key(training_key(pipeline, motion, extra_lesions))
    built = []

    def build():
        shown = cache.show_build_progress(progress)
        cases = training_patients(shown, motion, extra_lesions)
        built.append(pipeline.training_table(cases, shown,
                                             cached_stage1_masks(pipeline, cases, shown)))
        table = built[0][0]
        remember_features(features_key(pipeline, table.seeds, motion), table.x, table.coords)
        return built[0]

    stored = cache.load_or_build(cache_folder() / f"{key}.npz", key, build, table_to_arrays,
                                 labels_from_arrays, "cached training table", use_cache)
    return built[0] if built else with_features(stored, pipeline, motion, extra_lesions,
                                                progress)


def cached_training_labels(pipeline: Pipeline, progress: bool = False) -> dict:
    """The label arrays (:data:`LABEL_FIELDS`) of ``pipeline``'s cached training table
    (typical motion, with the extra lesions), read without recomputing its voxel features;
    when it is not cached yet, :func:`cached_training_table` builds and stores it."""
    key = table_key(training_key(pipeline, "typical", True))
    try:
        stored = labels_from_arrays(cache.read_arrays(cache_folder() / f"{key}.npz", key))
    except (*cache.UNREADABLE, cache.DamagedCacheFile, cache.OtherSettingsError):
        table = cached_training_table(pipeline, progress)[0]  # also sets a damaged file aside
        return {name: getattr(table, name) for name in LABEL_FIELDS}
    return {name: stored[name] for name in LABEL_FIELDS}


def detector_settings(seed: int) -> dict:
    """Everything besides the training table that decides the fitted stage 2 (so also the
    outlines it reports)."""
    return {"seed": seed, "voxel_model": boosted.VOXEL_MODEL,
            "negative_share": boosted.NEGATIVE_SHARE, "thresholds": boosted.VOXEL_THRESHOLDS,
            "specificity": boosted.TARGET_SPECIFICITY, "score_sigma": boosted.SCORE_SIGMA_VOX,
            "scikit-learn": sklearn.__version__}


def cached_out_of_fold_maps(pipeline: Pipeline, table, motion: str = "typical",
                            extra_lesions: bool = True, use_cache: bool = True):
    """The training patients' out-of-fold probability maps
    (:func:`.stage2.boosted.out_of_fold_maps`:
    three of the four fits that refitting a pipeline costs), cached as one value per row of
    ``table``, keyed like the table and by what decides stage 2's fit."""
    key = table_key({"out-of-fold maps": training_key(pipeline, motion, extra_lesions),
                     "detector": detector_settings(pipeline.seed)})

    def build():
        maps = boosted.out_of_fold_maps(table, pipeline.seed,
                                       progress=cache.show_build_progress())
        values = np.empty(len(table.y), np.float32)
        for n, volume in enumerate(maps):
            rows = table.case == n
            values[rows] = volume[tuple(table.coords[rows].T)]
        return {"values": values}

    def check(stored):
        if stored["values"].shape != (len(table.y),):
            raise ValueError("its maps are not of this table")
        return stored

    values = cache.load_or_build(cache_folder() / f"{key}.npz", key, build, from_arrays=check,
                                 what="cached out-of-fold maps", use_cache=use_cache)["values"]
    maps = []
    for n, shape in enumerate(table.shapes):
        volume = np.zeros(tuple(int(v) for v in shape), np.float32)
        rows = table.case == n
        volume[tuple(table.coords[rows].T)] = values[rows]
        maps.append(volume)
    return maps


def cached_detected_rows(pipeline: Pipeline, table, voxel_threshold: float, maps,
                         extra_lesions: bool = True,
                         progress: bool = False, use_cache: bool = True,
                         motion: str = "typical"):
    """Stage 3's rows measured in the outlines stage 2 reports
    (:func:`.stage3.rows.detected_lesion_rows`) for every training lesion, from the
    out-of-fold ``maps`` of the training patients (labels from ``table``, the cached training
    table; the fitted detector's ``voxel_threshold`` outlines them). Cached like the table,
    keyed also by the settings that decide the detector (:func:`detector_settings`)."""
    key = table_key({"stage 2 outlines": training_key(pipeline, motion, extra_lesions),
                     "detector": detector_settings(pipeline.seed)})

    def build():
        cases = training_patients(progress, motion, extra_lesions)
        if [c.seed for c in cases] != table.seeds.tolist():
            raise ValueError("the training table is not of the training patients")
        masks = cached_stage1_masks(pipeline, cases, progress) or [None] * len(cases)
        items = ((*scan_arrays(case, pipeline.image, gland), label_mask(table, n))
                 if case.subtype else None
                 for n, (case, gland) in enumerate(zip(cases, masks, strict=True)))
        return detected_lesion_rows(items, table.subtypes, maps, voxel_threshold)

    return cache.load_or_build(cache_folder() / f"{key}.npz", key, build, rows_to_arrays,
                               rows_from_arrays, "cached lesion rows", use_cache)
