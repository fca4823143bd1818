"""The default trained pipeline, with a safe on-disk cache of its training data.

Stage 2 learns from the training cohort (:data:`TRAINING_COHORT`); stage 3 learns from that
cohort's lesions **plus** those of stage 3's lesion-only training cohort
(:data:`EXTRA_LESION_COHORT`, the one notebook 06 trains on), measured the same way (same
label source, image, training pancreas and motion), so it sees about three times as many
lesions. The default pipeline's stage 3 also learns every one of those lesions as stage 2
outlines it (:func:`cached_detected_rows`), since that outline is what it is handed when the
stages are chained. Building this data is the slow part (virtual patients, and one registration per
lesion patient to transfer its label); fitting scikit-learn models on it takes seconds. So
the cache stores only **arrays** (features, labels, lesion features: ``.npz``, written
atomically, read with ``allow_pickle=False``, never a pickle of a model) under
``<data cache>/pipeline/<key>.npz``, where ``key`` is a SHA-256 of every setting that
changes the arrays: one file for the training table, one for the extra lesion rows, one for
the rows in stage 2's outlines (keyed also by what decides stage 2's fit). On load
the models are refitted deterministically. A corrupted or foreign file is ignored with a
warning and rebuilt. Not for clinical use.
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

from . import features, registration_study, stage2, stage3
from .pipeline_model import Pipeline

CACHE_VERSION = "pipeline-v1"  # change when features or labels change: old files are ignored
# The default training cohort: its own cohort seed (never stage 1's atlases, never a test
# cohort: checked), a third healthy so that stage 3 gets more lesions to learn from.
TRAINING_COHORT = {"n": 48, "seed": 5505, "healthy_fraction": 1 / 3}
HELD_OUT_COHORT = {"n": 64, "seed": 6606, "healthy_fraction": 0.5}  # benchmarks/pipeline.py
# Patients for choosing between model designs (benchmarks/stage2_features.py), never tested on.
VALIDATION_COHORT = {"n": 64, "seed": 9909, "healthy_fraction": 0.5}
NOTEBOOK_HELD_OUT = 48  # notebook 05 tests on 48 held-out patients (same cohort seed): faster
MOTION_LEVELS = ("typical", "hard")  # breathing motion between the two scans of a patient
# Virtual patients are built in this many processes when not cached yet (each case is the same
# whichever process builds it); two keeps a 2-core laptop responsive.
COHORT_JOBS = min(2, os.cpu_count() or 1)
TABLE_FIELDS = ("x", "y", "case", "coords", "shapes", "seeds", "subtypes", "diameters_mm")
# Stage 3 also learns from this lesion-only cohort of helpers.stage3.COHORTS (each subtype in
# equal numbers; checked disjoint from every held-out and test cohort); stage 2 does not.
EXTRA_LESION_COHORT = "training"
# The default pipeline's stage 3 also learns from stage 2's outlines of the training lesions:
# on the validation cohort's lesions as stage 2 outlined them, balanced accuracy 0.66 -> 0.80
# (3 seeds), at 0.78 -> 0.71 on their exact outlines (benchmarks/stage3_outlines.py; the
# held-out figures are in benchmarks/pipeline.py's output).
DEFAULT_STAGE3_OUTLINES = "labels+stage2"


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


def pipeline_settings(pipeline: Pipeline) -> dict:
    """The settings of ``pipeline`` that change what its training data holds."""
    return {"label_source": pipeline.label_source, "image": pipeline.image,
            "training_pancreas": pipeline.training_pancreas,
            "stage1_method": pipeline.stage1_method}


def write_arrays(path: Path, key: str, **arrays) -> None:
    """Write ``key`` and the arrays to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, key=np.str_(key), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_arrays(path: Path, key: str, names=None) -> dict:
    """The arrays ``names`` (default: all but the key) of a file written by
    :func:`write_arrays` for ``key``, read with ``allow_pickle=False`` (never unpickles).
    Raises ValueError for a file of other settings (and OSError, KeyError, ... for an
    unreadable one)."""
    with np.load(path, allow_pickle=False) as stored:
        if str(stored["key"]) != key:
            raise ValueError("it was made with other settings")
        names = [n for n in stored.files if n != "key"] if names is None else names
        return {name: stored[name] for name in names}


def load_or_build(path: Path, key: str, load, build, save, use_cache: bool = True):
    """``load(path, key)`` when ``path`` exists and that gives something (loaders return None,
    with a warning, for an unusable file); else ``build()``, stored with
    ``save(path, key, result)``. An unwritable cache only costs the speed-up (a warning);
    ``use_cache=False`` neither reads nor writes."""
    if use_cache and path.is_file():
        found = load(path, key)
        if found is not None:
            return found
    found = build()
    if use_cache:
        try:
            save(path, key, found)
        except OSError as exc:
            warnings.warn(f"could not write the cache in {path.parent} ({exc}); set "
                          "PLAINCT_DATA to a writable folder to keep it between runs",
                          stacklevel=3)
    return found


def save_table(path: Path, key: str, found) -> None:
    """Write ``(table, lesion_x, lesion_y)`` (a training table and its lesion rows)
    atomically."""
    table, lesion_x, lesion_y = found
    write_arrays(path, key, lesion_x=lesion_x, lesion_y=lesion_y, **table.arrays())


def load_table(path: Path, key: str):
    """``(table, lesion_x, lesion_y)`` from ``path``, or None (with a warning) if the file is
    unreadable, from other settings, or inconsistent."""
    try:
        stored = read_arrays(path, key, TABLE_FIELDS + ("lesion_x", "lesion_y"))
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


def training_cohort(n: int | None = None, seed: int | None = None, progress: bool = False,
                    motion: str = "typical"):
    """The default training patients (cached on disk by :func:`helpers.simulate.make_cohort`),
    checked to be disjoint from stage 1's labelled, validation and test patients.
    ``motion="hard"``: the same patients (same anatomy and lesions) with larger breathing
    motion between their plain and contrast scans."""
    from . import simulate, stage1

    stage2.check_choice(motion, MOTION_LEVELS, "motion")
    settings = dict(TRAINING_COHORT, **({"n": n} if n else {}), **(
        {"seed": seed} if seed is not None else {}))
    cases = simulate.make_cohort(settings["n"], settings["seed"],
                                 healthy_fraction=settings["healthy_fraction"],
                                 motion=motion, progress=progress, n_jobs=COHORT_JOBS)
    stage1.check_disjoint({"pipeline training": [c.seed for c in cases]})
    return cases


def held_out_cohort(n: int | None = None, progress: bool = False):
    """Held-out test patients (half healthy; their own cohort seed, cached on disk), checked
    to share no patient with the training cohort or with stage 1's cohorts. ``n``: default
    ``HELD_OUT_COHORT["n"]`` (the benchmark's 64; notebook 05 uses :data:`NOTEBOOK_HELD_OUT`)."""
    return checked_cohort(dict(HELD_OUT_COHORT, **({"n": n} if n else {})), "held-out",
                          progress)


def validation_cohort(progress: bool = False):
    """Validation patients (:data:`VALIDATION_COHORT`) for choosing between model designs
    (benchmarks/stage2_features.py), so that the held-out patients stay unseen; checked to
    share no patient with the training, held-out or stage 1 cohorts."""
    from . import simulate

    cases = checked_cohort(VALIDATION_COHORT, "validation", progress)
    held = {s for s, _ in simulate.cohort_plan(HELD_OUT_COHORT["n"], HELD_OUT_COHORT["seed"])}
    if held & {c.seed for c in cases}:
        raise ValueError("validation patients are also held-out patients; pick another "
                         "validation cohort seed")
    return cases


def checked_cohort(settings: dict, role: str, progress: bool = False):
    """A cohort of ``settings`` (``n``, ``seed``, ``healthy_fraction``; cached on disk),
    checked to share no patient with stage 1's cohorts or with any patient stages 2 and 3
    learn from; ``role`` names it in the error."""
    from . import simulate, stage1

    cases = simulate.make_cohort(settings["n"], settings["seed"],
                                 healthy_fraction=settings["healthy_fraction"],
                                 progress=progress, n_jobs=COHORT_JOBS)
    seeds = [c.seed for c in cases]
    stage1.check_disjoint({role: seeds})
    trained = {s for s, _ in simulate.cohort_plan(TRAINING_COHORT["n"], TRAINING_COHORT["seed"])}
    trained |= set(stage3.cohort_seeds(EXTRA_LESION_COHORT))  # stage 3 learns from them too
    if trained & set(seeds):
        raise ValueError(f"{role} patients {sorted(trained & set(seeds))} are also training "
                         f"patients; pick another {role} cohort seed")
    return cases


def cached_training_table(pipeline: Pipeline, n: int | None = None, cohort_seed=None,
                          progress: bool = False, use_cache: bool = True,
                          motion: str = "typical"):
    """The training table of ``pipeline``'s settings on the default training cohort (with
    ``motion`` between each patient's two scans), from the cache when present (else built and
    stored). Returns ``(table, lesion_x, lesion_y)``."""
    stage2.check_choice(motion, MOTION_LEVELS, "motion")
    cohort = dict(TRAINING_COHORT, **({"n": n} if n else {}), **(
        {"seed": cohort_seed} if cohort_seed is not None else {}))
    if motion != "typical":  # only then: the keys of the typical tables stay as they were
        cohort["motion"] = motion
    settings = {"cohort": cohort, **pipeline_settings(pipeline)}
    key = table_key(settings)

    def build():
        cases = training_cohort(settings["cohort"]["n"], settings["cohort"]["seed"], progress,
                                **({"motion": motion} if motion != "typical" else {}))
        return pipeline.training_table(cases, progress)

    return load_or_build(cache_folder() / f"{key}.npz", key, load_table, build, save_table,
                         use_cache)


# ------------------------------------------------------------------------- stage 3's extra lesions
def check_extra_lesions_disjoint() -> None:
    """Raise a ValueError if a patient of :data:`EXTRA_LESION_COHORT` is also a held-out or
    test patient anywhere (stage 3's held-out lesions, the pipeline's held-out cohort of the
    benchmark and notebook 05, notebook 07's never-seen patients, stage 1's cohorts) or a
    pipeline training patient (its lesion would count twice). Uses
    :func:`helpers.stage3.check_stage3_disjoint` on every stage-3 cohort."""
    stage3.check_stage3_disjoint({role: spec["n"] for role, spec in stage3.COHORTS.items()})


def extra_lesion_cohort(progress: bool = False, motion: str = "typical"):
    """The lesion-only patients stage 3 learns from besides the training cohort's
    (:data:`EXTRA_LESION_COHORT`, cached on disk), with ``motion`` between their two scans;
    checked by :func:`check_extra_lesions_disjoint`."""
    stage2.check_choice(motion, MOTION_LEVELS, "motion")
    check_extra_lesions_disjoint()
    return stage3.lesion_cohort(EXTRA_LESION_COHORT, progress=progress, motion=motion)


def load_lesion_rows(path: Path, key: str):
    """``(lesion_x, lesion_y)`` from ``path``, or None (with a warning) if the file is
    unreadable, from other settings, or inconsistent."""
    try:
        stored = read_arrays(path, key, ("lesion_x", "lesion_y"))
        lesion_x, lesion_y = stored["lesion_x"], stored["lesion_y"]
        if not (lesion_x.shape == (len(lesion_y), len(stage3.feature_names()))
                and lesion_y.dtype.kind == "U"):
            raise ValueError("its arrays do not fit together")
        return lesion_x, lesion_y
    except (OSError, ValueError, KeyError, EOFError, TypeError) as exc:
        warnings.warn(f"ignoring the cached lesion rows {path.name} ({exc}); rebuilding them",
                      stacklevel=3)
        return None


def cached_extra_lesion_rows(pipeline: Pipeline, progress: bool = False,
                             use_cache: bool = True, motion: str = "typical"):
    """Stage 3's extra training rows ``(lesion_x, lesion_y)``: the lesions of
    :data:`EXTRA_LESION_COHORT` measured as ``pipeline``'s own (:meth:`Pipeline.lesion_rows`:
    same label source, image, training pancreas; ``motion`` between the scans). From the
    cache when present, else built and stored (arrays only, a file of its own)."""
    stage2.check_choice(motion, MOTION_LEVELS, "motion")
    check_extra_lesions_disjoint()
    cohort = {"role": EXTRA_LESION_COHORT, **stage3.COHORTS[EXTRA_LESION_COHORT],
              "motion": motion}
    key = table_key({"extra lesions": cohort, **pipeline_settings(pipeline)})

    def build():
        return pipeline.lesion_rows(extra_lesion_cohort(progress, motion), progress)

    def save(path, key, found):
        write_arrays(path, key, lesion_x=found[0], lesion_y=found[1])

    return load_or_build(cache_folder() / f"{key}.npz", key, load_lesion_rows, build, save,
                         use_cache)


def detector_settings(seed: int) -> dict:
    """Everything besides the training table that decides the fitted stage 2 (so also the
    outlines it reports)."""
    import sklearn

    return {"seed": seed, "voxel_model": stage2.VOXEL_MODEL,
            "negative_share": stage2.NEGATIVE_SHARE, "thresholds": stage2.VOXEL_THRESHOLDS,
            "specificity": stage2.TARGET_SPECIFICITY, "score_sigma": stage2.SCORE_SIGMA_VOX,
            "scikit-learn": sklearn.__version__}


def cached_detected_rows(pipeline: Pipeline, table, detector, maps, extra_lesions: bool = True,
                         progress: bool = False, use_cache: bool = True,
                         motion: str = "typical"):
    """Stage 3's rows measured in the outlines stage 2 reports
    (:func:`helpers.pipeline_model.detected_lesion_rows`): the training cohort's lesions from
    their out-of-fold ``maps`` (labels from ``table``, the cached training table), then, with
    ``extra_lesions``, the lesions of :data:`EXTRA_LESION_COHORT` from ``detector``, which
    never trained on them. Cached like the other rows, keyed by the settings that decide the
    detector (:func:`detector_settings`)."""
    from .pipeline_model import detected_lesion_rows

    cohort = dict(TRAINING_COHORT, motion=motion, extra=extra_lesions and EXTRA_LESION_COHORT)
    key = table_key({"stage 2 outlines": cohort, "detector": detector_settings(pipeline.seed),
                     **pipeline_settings(pipeline)})

    def build():
        cases = training_cohort(progress=progress, motion=motion)
        if [c.seed for c in cases] != table.seeds.tolist():
            raise ValueError("the training table is not of the training cohort's patients")
        masks = pipeline.training_pancreas_masks(cases) or [None] * len(cases)
        items = ((*stage2.scan_arrays(case, pipeline.image, gland), stage2.label_mask(table, n))
                 if case.subtype else None
                 for n, (case, gland) in enumerate(zip(cases, masks, strict=True)))
        x, y = detected_lesion_rows(detector, items, table.subtypes, maps)
        if extra_lesions:
            extra = [c for c in extra_lesion_cohort(progress, motion) if c.subtype]
            more_x, more_y = detected_lesion_rows(detector, pipeline.lesion_items(extra),
                                                  [c.subtype for c in extra])
            x, y = np.concatenate([x, more_x]), np.concatenate([y, more_y])
        return x, y

    def save(path, key, found):
        write_arrays(path, key, lesion_x=found[0], lesion_y=found[1])

    return load_or_build(cache_folder() / f"{key}.npz", key, load_lesion_rows, build, save,
                         use_cache)


def make_pipeline(seed: int = 0, progress: bool = False, use_cache: bool = True, *,
                  motion: str = "typical", extra_lesions: bool = True,
                  **settings) -> Pipeline:
    """A pipeline with ``settings`` (label_source, image, training_pancreas) fitted on the
    default training cohort (data cached, models refitted deterministically); stage 3 also
    on the lesions of :data:`EXTRA_LESION_COHORT` unless ``extra_lesions=False``, and with
    ``stage3_outlines="labels+stage2"`` also on those lesions measured in stage 2's outlines
    (:func:`cached_detected_rows`). ``motion="hard"``: train on the same patients scanned
    with larger breathing motion."""
    pipeline = Pipeline(seed=seed, **settings)
    table, lesion_x, lesion_y = cached_training_table(pipeline, progress=progress,
                                                      use_cache=use_cache, motion=motion)
    if extra_lesions:
        more_x, more_y = cached_extra_lesion_rows(pipeline, progress, use_cache, motion)
        lesion_x, lesion_y = np.concatenate([lesion_x, more_x]), np.concatenate([lesion_y,
                                                                                 more_y])
    return pipeline.fit_data(table, lesion_x, lesion_y, lambda detector, maps: (
        cached_detected_rows(pipeline, table, detector, maps, extra_lesions, progress,
                             use_cache, motion)))


@functools.lru_cache(maxsize=2)
def default_pipeline(seed: int = 0) -> Pipeline:
    """The default pipeline: registration-transferred labels, plain CT, reference pancreas
    at training, stage 1 at prediction; stage 3 also learns from stage 3's training cohort,
    and from every training lesion measured in the outline stage 2 reports for it (what it
    is handed when chained); fitted once per process (see :func:`make_pipeline`)."""
    return make_pipeline(seed, stage3_outlines=DEFAULT_STAGE3_OUTLINES)


# ------------------------------------------------------------------------- warm-up
# Every training table the notebooks refit from (05: the four label sources / images and the
# hard-motion pair; 06: contrast; 07: the default). The plain scan of a patient is the same at
# every motion level (only the contrast scan moves), so "exact" needs no hard-motion table.
WARM_TABLES = (("registered", "plain", "typical"), ("exact", "plain", "typical"),
               ("copied", "plain", "typical"), ("registered", "contrast", "typical"),
               ("registered", "plain", "hard"), ("copied", "plain", "hard"))


def warm_caches(progress: bool = False, report=print) -> list[tuple[str, float]]:
    """Build (or check) every cache notebooks 03-07 and the benchmark read: notebook 03's
    registration table (:func:`helpers.registration_study.method_comparison`), stage 1's
    labelled patients, notebook 06's lesion-only cohorts, the held-out cohorts (the
    benchmark's and notebook 05's), for each of :data:`WARM_TABLES` the training table
    and stage 3's extra lesion rows (:func:`cached_extra_lesion_rows`), and the default
    pipeline's rows in stage 2's outlines (:func:`cached_detected_rows`). Reports
    each item and its seconds through ``report`` and returns ``[(item, seconds), ...]``.
    Slow only the first time (simulating a patient takes about a second, an affine label
    transfer well under one; about 5-6 minutes in all on 2 cores, of which notebook 03's 20
    B-spline registrations take about 2 and stage 3's extra lesion rows, with the hard-motion
    copies of their patients, 1-1.5); afterwards seconds.
    Run it as ``python -m helpers.pipeline_cache warm``.
    """
    import time

    from . import stage1
    from .pipeline import N_LABELLED

    done = []

    def step(name, build):
        start = time.perf_counter()
        build()
        done.append((name, time.perf_counter() - start))
        report(f"  {name}: {done[-1][1]:.1f} s")

    report(f"warming the pipeline caches in {cache_folder().parent}")
    step("notebook 03's registration table (20 patients)",
         lambda: registration_study.method_comparison(**registration_study.NOTEBOOK_STUDY,
                                                      progress=progress))
    step(f"stage 1 labelled patients ({N_LABELLED})",
         lambda: stage1.cohort("labelled", N_LABELLED, progress=progress))
    for role in stage3.COHORTS:  # notebook 06's lesion-only patients
        step(f"stage 3 {role} lesion patients ({stage3.COHORTS[role]['n']})",
             lambda role=role: stage3.lesion_cohort(role, progress=progress))
    for n in sorted({HELD_OUT_COHORT["n"], NOTEBOOK_HELD_OUT}):
        step(f"held-out patients ({n})", lambda n=n: held_out_cohort(n, progress))
    for label_source, image, motion in WARM_TABLES:
        pipeline = Pipeline(label_source=label_source, image=image)
        name = (f"training table: {image} CT, {label_source} labels, {motion} motion"
                if image == "plain" else f"training table: {image} CT, {motion} motion")
        step(name, lambda p=pipeline, m=motion: cached_training_table(p, progress=progress,
                                                                      motion=m))
        step(name.replace("training table", "stage 3's extra lesion rows"),
             lambda p=pipeline, m=motion: cached_extra_lesion_rows(p, progress, motion=m))
    step("stage 3's rows in stage 2's outlines (the default pipeline)",
         lambda: make_pipeline(progress=progress, stage3_outlines=DEFAULT_STAGE3_OUTLINES))
    report(f"done in {sum(s for _, s in done):.1f} s")
    return done


def main(argv=None) -> int:
    """Command line: ``python -m helpers.pipeline_cache warm [--progress]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline_cache",
                                     description="Build the pipeline's caches ahead of time.")
    parser.add_argument("command", choices=["warm"], help="warm: build every cache now")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args(argv)
    if args.command == "warm":
        warm_caches(progress=args.progress)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
