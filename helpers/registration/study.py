"""Registration methods compared over many virtual patients (notebook 03, section 9, and
``benchmarks/registration.py``).

Every patient is registered with rigid, affine and B-spline (:func:`compare_methods`, with the
pancreas as region and the contrast-scan lesion excluded from the deformable metric), and
every transform is graded against the known truth with
:func:`helpers.registration.grading.evaluate_transfer`. Two references are graded too: "none"
(the mask copied as is) and "true transform" (the simulated motion itself, the ceiling that
voxels allow).

With the default settings a patient takes about 5 s, too slow to repeat in class for 20 pairs,
so :func:`method_comparison` keeps the table in the series' cache (:mod:`helpers.cache`),
keyed by every setting and the simulator's version. Its patients are the cohort "registration
study" of :mod:`helpers.cohorts`. The cache warm-up (:mod:`helpers.pipeline.warmup`) builds
notebook 03's table; the seconds in a cached table are those measured when it was built.
:func:`paired_comparison` and :func:`clearly_better` say whether one method beats another pair
by pair. Not for clinical use.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from .. import cache, cache_layout, cohorts, simulate, workers
from ..metrics import MetricInputError
from .align import register
from .grading import evaluate_transfer

STUDY_VERSION = "study-v1"  # change with the grading or register()'s defaults: old tables ignored
STUDY_COHORT = "registration study"  # in helpers.cohorts: consecutive seeds from 0
STUDY_MOTIONS = ("typical", "hard")
# The table's registrations run fewer iterations, and the B-spline half its samples, than
# register()'s defaults: on the study's 20 pairs this halved the time (one B-spline about 3 s
# instead of 8 s) and left the ranking of the methods as it was (benchmarks/registration.py).
STUDY_SETTINGS = {"samples": 6000, "iterations": 30}
TEXT_COLUMNS = ("motion", "method", "subtype")


def compare_methods(fixed, moving, region=None, exclude=None, **settings) -> dict:
    """Rigid, affine and B-spline transforms for one scan pair, each with its seconds.

    The B-spline starts from the affine result (as ``register(kind="bspline")`` would, so the
    result is the same) and its time includes the affine stage; ``region`` and ``exclude`` go
    to the B-spline only. Returns ``{name: (transform, seconds)}``. ``settings`` go to
    :func:`helpers.registration.register` (e.g. ``samples=3000``).
    """
    found = {}
    for kind in ("rigid", "affine"):
        start = time.perf_counter()
        found[kind] = (register(fixed, moving, kind, **settings), time.perf_counter() - start)
    start = time.perf_counter()
    deformed = register(fixed, moving, "bspline", initial=found["affine"][0], prealign=False,
                        region=region, exclude=exclude, **settings)
    found["bspline"] = (deformed, found["affine"][1] + time.perf_counter() - start)
    return found


def transforms_for(case, **settings) -> dict:
    """``{method: (plain -> contrast transform, seconds)}`` for one virtual patient: "none",
    rigid, affine, B-spline and "true transform". ``settings`` go to
    :func:`helpers.registration.register` (e.g. ``samples=3000``)."""
    found = {"none": (sitk.Transform(3, sitk.sitkIdentity), 0.0)}
    lesion = case.lesion_contrast
    # The radiologist's mask is known on the contrast scan: keep the lesion, which looks
    # different on the two scans, out of the deformable stage's metric.
    exclude = lesion if sitk.GetArrayViewFromImage(lesion).any() else None
    found.update(compare_methods(case.plain, case.contrast, region=case.pancreas_contrast,
                                 exclude=exclude, **settings))
    found["true transform"] = (case.transform, 0.0)
    return found


def grade(case, found: dict, motion: str) -> list[dict]:
    """One row per method of ``found`` (see :func:`transforms_for`) with its grades."""
    return [{"motion": motion, "seed": case.seed, "subtype": str(case.subtype),
             "lesion_diameter_mm": case.lesion_diameter_mm, "method": name,
             "seconds": seconds, **evaluate_transfer(case, transform)}
            for name, (transform, seconds) in found.items()]


def patient(seed: int, motion: str):
    """The study's patient ``seed``: the subtypes in turn, so every subtype is represented."""
    return simulate.make_case(seed, simulate.SUBTYPES[seed % len(simulate.SUBTYPES)],
                              motion=motion)


def study_seeds(cases: int | None = None, first_seed: int | None = None) -> list[int]:
    """The study's patient seeds: the cohort's (default), or ``cases`` consecutive seeds from
    ``first_seed`` (a benchmark's other choice), which must stay inside the seeds that
    :func:`helpers.cohorts.check_disjoint` checks for this cohort."""
    spec = cohorts.cohort(STUDY_COHORT)
    first = spec.seed if first_seed is None else int(first_seed)
    seeds = list(range(first, first + (spec.n if cases is None else int(cases))))
    checked = set(cohorts.patient_seeds(STUDY_COHORT, cohorts.CHECK_DEPTH))
    if not set(seeds) <= checked:
        raise ValueError(f"the registration study's patients are seeds {min(checked)}-"
                         f"{max(checked)} (cohort {STUDY_COHORT!r} in helpers.cohorts); "
                         f"{sorted(set(seeds) - checked)[:5]} are outside them")
    return seeds


def compare_on_cohort(cases: int | None = None, motions=STUDY_MOTIONS,
                      first_seed: int | None = None, progress: bool = False, **settings):
    """The comparison table (a pandas DataFrame, one row per patient, motion and method),
    computed now (no cache)."""
    seeds = study_seeds(cases, first_seed)
    jobs = [(motion, seed) for motion in motions for seed in seeds]
    simulate.prepare_base()  # once here: forked workers inherit it
    graded = workers.map_ordered(functools.partial(_study_job, settings=settings), jobs,
                                 desc="registering (rigid, affine, B-spline)",
                                 progress=progress)
    return pd.DataFrame([row for rows in graded for row in rows])


def _study_job(job, settings):
    motion, seed = job
    case = patient(seed, motion)
    return grade(case, transforms_for(case, **settings), motion)


def study_key(cases, motions, first_seed, settings) -> str:
    """SHA-256 of every setting of a study and the versions it depends on."""
    return cache.settings_key({"version": STUDY_VERSION, "cases_version": simulate.CASE_VERSION,
                               "cases": cases, "motions": list(motions),
                               "first_seed": first_seed, "settings": settings})


def cache_folder() -> Path:
    """Where study tables are cached: ``<data cache>/pipeline/`` (beside the training data)."""
    return cache.cache_dir() / cache_layout.PIPELINE


def comparison_to_arrays(table) -> dict:
    """A comparison table as plain arrays (text columns as unicode, the rest float)."""
    arrays = {c: (np.array(table[c].astype(str).tolist(), dtype=str) if c in TEXT_COLUMNS
                  else table[c].astype(float).to_numpy()) for c in table.columns}
    return {"columns": np.array(list(table.columns), dtype=str), **arrays}


def comparison_from_arrays(arrays: dict):
    """The comparison table back from :func:`comparison_to_arrays`."""
    names = [str(c) for c in arrays.pop("columns")]
    return pd.DataFrame(arrays)[names]


def method_comparison(cases: int | None = None, motions=STUDY_MOTIONS,
                      first_seed: int | None = None, progress: bool = False,
                      use_cache: bool = True, **settings):
    """:func:`compare_on_cohort`'s table, from the cache when present (else computed and
    stored). Without ``cases`` and ``first_seed``: the cohort "registration study". Without
    ``settings``: :data:`STUDY_SETTINGS`."""
    settings = settings or dict(STUDY_SETTINGS)
    spec = cohorts.cohort(STUDY_COHORT)
    cases = spec.n if cases is None else cases
    first_seed = spec.seed if first_seed is None else first_seed
    key = study_key(cases, tuple(motions), first_seed, settings)
    return cache.load_or_build(
        cache_folder() / f"registration-{key}.npz", key,
        lambda: compare_on_cohort(cases, motions, first_seed,
                                  cache.show_build_progress(progress), **settings),
        comparison_to_arrays, comparison_from_arrays, "registration table", use_cache)


def method_summary(table):
    """One line per motion level and method: median and worst lesion Dice, median HD95,
    lesion error and TRE, pancreas Dice, pairs folded, median seconds."""
    grouped = table.groupby(["motion", "method"], sort=False)
    return pd.DataFrame({
        "median Dice": grouped["lesion_dice"].median(),
        "worst Dice": grouped["lesion_dice"].min(),
        "median HD95 mm": grouped["lesion_hd95_mm"].median(),
        "median lesion error mm": grouped["lesion_error_mm"].median(),
        "median TRE mm": grouped["tre_median_mm"].median(),
        "pancreas Dice": grouped["pancreas_dice"].median(),
        "pairs folded": grouped["folded_voxels"].apply(lambda v: int((v > 0).sum())),
        "median s": grouped["seconds"].median(),
    }).round(3)


def versus_affine(table, methods=None):
    """Every method (or ``methods``) against the affine, pair by pair, with the "clearly
    better" verdict of :func:`clearly_better`."""
    methods = methods or [m for m in dict.fromkeys(table["method"]) if m not in ("affine",
                                                                                 "none")]
    parts = []
    for method in methods:
        part = paired_comparison(table, method, "affine")
        part["clearly better"] = [clearly_better(r) for _, r in part.iterrows()]
        parts.append(part.assign(method=method).set_index("method", append=True))
    columns = ["pairs", "Dice wins", "Dice losses", "Dice ties", "median Dice gain",
               "median lesion error mm", "affine lesion error mm", "smaller lesion error",
               "clearly better"]
    motions = list(dict.fromkeys(table["motion"]))
    return pd.concat(parts).reindex(motions, level=0)[columns].round(3)


# ------------------------------------------------------------------------------- comparing
CLEARLY_BETTER = {"min_dice_gain": 0.01, "win_ratio": 2.0}


def paired_comparison(table, method: str, baseline: str = "affine", by: str = "motion"):
    """Pair-by-pair comparison of ``method`` with ``baseline`` on the same patients.

    ``table`` is a pandas DataFrame with one row per patient and method (columns ``method``,
    ``seed``, ``lesion_dice``, ``lesion_error_mm`` and ``by``), as the benchmark and notebook
    03 build it. Returns one row per value of ``by``: pairs, Dice wins / losses / ties
    (``method`` higher / lower / equal), the difference of the median Dice, the medians of the
    lesion error for both methods, and in how many pairs ``method``'s lesion error is smaller.
    Healthy patients (no lesion) are left out.
    """
    missing = {"method", "seed", "lesion_dice", by} - set(table.columns)
    if missing:
        raise MetricInputError(f"the table lacks the column(s) {sorted(missing)}; build it "
                               "with one row per patient and method from evaluate_transfer")
    for name in (method, baseline):
        if name not in set(table["method"]):
            raise MetricInputError(f"no rows for method {name!r}; the table has "
                                   f"{sorted(set(table['method']))}")
    rows = {}
    for level, part in table[table["lesion_dice"].notna()].groupby(by, sort=False):
        pivot = part.pivot_table(index="seed", columns="method", aggfunc="first",
                                 values=[c for c in ("lesion_dice", "lesion_error_mm")
                                         if c in part.columns])
        dice_m, dice_b = pivot["lesion_dice"][method], pivot["lesion_dice"][baseline]
        wins, losses = int((dice_m > dice_b + 1e-9).sum()), int((dice_m < dice_b - 1e-9).sum())
        row = {"pairs": len(pivot), "Dice wins": wins, "Dice losses": losses,
               "Dice ties": len(pivot) - wins - losses,
               "median Dice gain": float(dice_m.median() - dice_b.median())}
        if "lesion_error_mm" in pivot:
            err_m, err_b = pivot["lesion_error_mm"][method], pivot["lesion_error_mm"][baseline]
            row.update({"median lesion error mm": float(err_m.median()),
                        f"{baseline} lesion error mm": float(err_b.median()),
                        "smaller lesion error": int((err_m < err_b).sum())})
        rows[level] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def clearly_better(row) -> bool:
    """The series' "clearly better than the baseline" for one row of :func:`paired_comparison`.

    All of: a median lesion Dice at least ``CLEARLY_BETTER["min_dice_gain"]`` (0.01) higher;
    at least ``CLEARLY_BETTER["win_ratio"]`` (2) times as many Dice wins as losses, pair by
    pair; and, where the lesion error is known, a smaller median lesion error.
    """
    ok = (row["median Dice gain"] >= CLEARLY_BETTER["min_dice_gain"] - 1e-12
          and row["Dice wins"] >= CLEARLY_BETTER["win_ratio"] * max(row["Dice losses"], 1))
    if "median lesion error mm" in row:
        baseline = [k for k in row.keys() if k.endswith(" lesion error mm")
                    and k != "median lesion error mm"]
        ok = ok and all(row["median lesion error mm"] < row[k] for k in baseline)
    return bool(ok)
