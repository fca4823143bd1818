"""The default trained pipeline, with a safe on-disk cache of its training table.

Building the training table is the slow part (virtual patients, and one registration per
lesion patient to transfer its label); fitting scikit-learn models on it takes seconds. So
the cache stores only **arrays** (features, labels, lesion features: ``.npz``, written
atomically, read with ``allow_pickle=False``, never a pickle of a model) under
``<data cache>/pipeline/<key>.npz``, where ``key`` is a SHA-256 of every setting that
changes the table. On load the models are refitted deterministically. A corrupted or
foreign file is ignored with a warning and rebuilt. Not for clinical use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import features, stage2, stage3
from .pipeline_model import Pipeline

CACHE_VERSION = "pipeline-v1"  # change when features or labels change: old files are ignored
# The default training cohort: its own cohort seed (never stage 1's atlases, never a test
# cohort: checked), a third healthy so that stage 3 gets more lesions to learn from.
TRAINING_COHORT = {"n": 48, "seed": 5505, "healthy_fraction": 1 / 3}
HELD_OUT_COHORT = {"n": 64, "seed": 6606, "healthy_fraction": 0.5}  # benchmarks only
TABLE_FIELDS = ("x", "y", "case", "coords", "shapes", "seeds", "subtypes", "diameters_mm")


def cache_folder() -> Path:
    """Where training tables are cached: ``<data cache>/pipeline/``."""
    from . import data

    return data.cache_dir() / "pipeline"


def table_key(settings: dict) -> str:
    """SHA-256 of every setting, the versions and the feature lists."""
    from .virtual_patients import CASE_VERSION

    text = json.dumps({"version": CACHE_VERSION, "cases": CASE_VERSION,
                       "voxel_features": features.feature_names(),
                       "lesion_features": stage3.feature_names(),
                       "register": stage2.REGISTER_OPTIONS, **settings},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save_table(path: Path, key: str, table, lesion_x, lesion_y) -> None:
    """Write the arrays atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, key=np.str_(key), lesion_x=lesion_x,
                                lesion_y=lesion_y, **table.arrays())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_table(path: Path, key: str):
    """``(table, lesion_x, lesion_y)`` from ``path``, or None (with a warning) if the file is
    unreadable, from other settings, or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as stored:  # arrays only, never pickles
            if str(stored["key"]) != key:
                raise ValueError("it was made with other settings")
            table = stage2.TrainingData(*(stored[name] for name in TABLE_FIELDS))
            lesion_x, lesion_y = stored["lesion_x"], stored["lesion_y"]
        n = len(table.y)
        if not (table.x.shape == (n, len(features.feature_names())) and len(table.case) == n
                and len(table.coords) == n and table.case.max() < len(table.seeds)
                and lesion_x.shape == (len(lesion_y), len(stage3.feature_names()))):
            raise ValueError("its arrays do not fit together")
        return table, lesion_x, lesion_y
    except (OSError, ValueError, KeyError, EOFError, TypeError) as exc:
        warnings.warn(f"ignoring the cached training table {path.name} ({exc}); rebuilding "
                      "it", stacklevel=3)
        return None


def training_cohort(n: int | None = None, seed: int | None = None, progress: bool = False):
    """The default training patients (cached on disk by :func:`helpers.simulate.make_cohort`),
    checked to be disjoint from stage 1's labelled, validation and test patients."""
    from . import simulate, stage1

    settings = dict(TRAINING_COHORT, **({"n": n} if n else {}), **(
        {"seed": seed} if seed is not None else {}))
    cases = simulate.make_cohort(settings["n"], settings["seed"],
                                 healthy_fraction=settings["healthy_fraction"],
                                 progress=progress)
    stage1.check_disjoint({"pipeline training": [c.seed for c in cases]})
    return cases


def cached_training_table(pipeline: Pipeline, n: int | None = None, cohort_seed=None,
                          progress: bool = False, use_cache: bool = True):
    """The training table of ``pipeline``'s settings on the default training cohort, from the
    cache when present (else built and stored). Returns ``(table, lesion_x, lesion_y)``."""
    settings = {"cohort": dict(TRAINING_COHORT, **({"n": n} if n else {}), **(
        {"seed": cohort_seed} if cohort_seed is not None else {})),
        "label_source": pipeline.label_source, "image": pipeline.image,
        "training_pancreas": pipeline.training_pancreas,
        "stage1_method": pipeline.stage1_method}
    key = table_key(settings)
    path = cache_folder() / f"{key}.npz"
    if use_cache and path.is_file():
        found = load_table(path, key)
        if found is not None:
            return found
    cases = training_cohort(settings["cohort"]["n"], settings["cohort"]["seed"], progress)
    found = pipeline.training_table(cases, progress)
    if use_cache:
        try:
            save_table(path, key, *found)
        except OSError as exc:
            warnings.warn(f"could not write the pipeline cache in {path.parent} ({exc}); set "
                          "PLAINCT_DATA to a writable folder to keep it between runs",
                          stacklevel=2)
    return found


def make_pipeline(seed: int = 0, progress: bool = False, use_cache: bool = True,
                  **settings) -> Pipeline:
    """A pipeline with ``settings`` (label_source, image, training_pancreas) fitted on the
    default training cohort (table cached, models refitted deterministically)."""
    pipeline = Pipeline(seed=seed, **settings)
    return pipeline.fit_data(*cached_training_table(pipeline, progress=progress,
                                                    use_cache=use_cache))


@functools.lru_cache(maxsize=2)
def default_pipeline(seed: int = 0) -> Pipeline:
    """The default pipeline: registration-transferred labels, plain CT, reference pancreas
    at training, stage 1 at prediction; fitted once per process (see :func:`make_pipeline`)."""
    return make_pipeline(seed)
