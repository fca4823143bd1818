"""Notebook 08's contest: each stage-2 detector of the registry behind stage 1, on the
validation, held-out and foreign patients, one row per patient (``benchmarks/deep_stage2.py``
prints it in full, with the reference pancreas too)::

    from helpers.pipeline import contest
    tables = contest.contest_tables()            # {(cohort, detector): one row per patient}
    summary = contest.contest_summary(tables)    # AUC (95 % interval), false alarms, ...
    contest.winners(summary)                     # the higher AUC on each cohort

Stage 1 runs once per patient (:func:`.stage1_cache.prediction_masks`, cached) and every
detector searches the same mask; a patient stage 1 finds no pancreas in scores 0 and is found
nowhere, as in the chained pipeline. The network chose its epoch and operating threshold on
the cohort "validation"; the boosted detector chose its threshold on its training patients;
the held-out and foreign patients made no choice for either. Running every detector on 192
patients takes minutes, so the tables are cached (``<data cache>/pipeline/contest-*.npz``),
keyed by the cohort, stage 1's settings and what decides the fitted detector; the warm-up
builds them. Not for clinical use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import cache
from ..simulate import CASE_VERSION, foreign, named_cohort
from . import detectors, evaluation, training_cache
from .chain import Pipeline
from .default import default_detector_fingerprint, default_pipeline
from .stage1 import DEFAULT_METHOD, PancreasNotFoundError, stage1_settings
from .stage1_cache import as_image, prediction_masks

VERSION = "contest-v1"  # change with the columns or how a row is measured: old files ignored
COHORTS = ("validation", "held-out", "foreign")  # foreign: made by another simulator
NUMBERS = ("seed", "diameter_mm", "abnormal", "score", "found", "hit", "false_positive",
           "lesion_dice", "seconds")  # the columns kept of evaluation.evaluate's table


class GivenMasks:
    """A fitted pipeline whose ``predict`` searches stage 1's masks made beforehand (one per
    scan, by the scan's identity) instead of running stage 1 again; None: none found."""

    def __init__(self, model: Pipeline, masks: dict):
        self.model, self.masks, self.image = model, masks, "plain"

    def predict(self, scan, pancreas=None):
        mask = self.masks[id(scan)]
        if mask is None:
            raise PancreasNotFoundError("stage 1 found no pancreas")
        return self.model.predict(scan, mask)


def cohort_cases(cohort: str, progress: bool = False, seeds=None) -> list:
    """The patients of ``cohort`` (one of :data:`COHORTS`); ``seeds``: only those (a virtual
    cohort builds no other; the foreign cohort is built whole)."""
    if cohort == "foreign":
        cases = foreign.foreign_cohort(progress=progress)
        return cases if seeds is None else [c for c in cases if c.seed in set(seeds)]
    return named_cohort(cohort, progress=progress, n_jobs=training_cache.COHORT_JOBS,
                        seeds=seeds)


def behind_stage1(model: Pipeline, cases, masks) -> pd.DataFrame:
    """:func:`.evaluation.evaluate`'s numbers for ``model`` searching ``masks`` (stage 1's,
    bool arrays or None, one per case)."""
    given = GivenMasks(model, {id(c.plain): as_image(m, c.plain)
                               for c, m in zip(cases, masks, strict=True)})
    return evaluation.evaluate(given, cases, pancreas="stage1")[["subtype", *NUMBERS]]


def fingerprint(detector: str, seed: int = 0) -> dict | None:
    """What decides the fitted ``detector`` of ``default_pipeline(seed, detector)``: for the
    default one its training data and fit settings, for another its registry entry's
    ``fingerprint`` (None when it has none: its results are then not cached)."""
    if detector == detectors.DEFAULT:
        return default_detector_fingerprint(seed)
    made = detectors.get(detector).fingerprint
    return None if made is None else made(seed)


def table_to_arrays(table: pd.DataFrame) -> dict:
    return {"subtype": table["subtype"].to_numpy(str),
            **{name: table[name].to_numpy() for name in NUMBERS}}


def table_from_arrays(stored: dict) -> pd.DataFrame:
    if any(len(stored[name]) != len(stored["subtype"]) for name in NUMBERS):
        raise ValueError("its columns are not of one length")
    return pd.DataFrame({"subtype": stored["subtype"].astype(str),
                         **{name: stored[name] for name in NUMBERS}})


def contest_table(cohort: str, detector: str, seed: int = 0, progress: bool = False,
                  use_cache: bool = True) -> pd.DataFrame:
    """One row per patient of ``cohort`` for ``default_pipeline(seed, detector)``'s stage 2
    behind stage 1 (columns ``subtype`` and :data:`NUMBERS`), from the cache when present."""
    cohort = cohorts_checked([cohort])[0]
    fitted = fingerprint(detector, seed)
    key = cache.settings_key({"version": VERSION, "cohort": cohort,
                              "patients": training_cache.cohort_settings(cohort),
                              "cases": CASE_VERSION, "foreign": foreign.FOREIGN_VERSION,
                              "stage1": stage1_settings(DEFAULT_METHOD), "detector": detector,
                              "fitted": fitted})

    def build():
        cases = cohort_cases(cohort, progress)
        return behind_stage1(default_pipeline(seed, detector), cases,
                             prediction_masks(cases, progress))

    return cache.load_or_build(training_cache.cache_folder() / f"contest-{key}.npz", key,
                               build, table_to_arrays, table_from_arrays, "cached contest",
                               use_cache and fitted is not None)


def cohorts_checked(cohorts) -> list[str]:
    unknown = [c for c in cohorts if c not in COHORTS]
    if unknown:
        raise ValueError(f"no contest cohort named {', '.join(map(repr, unknown))}; "
                         f"choose among {', '.join(COHORTS)}")
    return list(cohorts)


def contest_tables(cohorts=COHORTS, names=None, seed: int = 0, progress: bool = False,
                   use_cache: bool = True) -> dict:
    """``{(cohort, detector name): contest_table(...)}`` for every cohort of ``cohorts`` and
    every detector of ``names`` (default: each registered detector that can run here)."""
    names = [n for n in detectors.detector_names() if detectors.get(n).available()] \
        if names is None else list(names)
    return {(cohort, name): contest_table(cohort, name, seed, progress, use_cache)
            for cohort in cohorts_checked(cohorts) for name in names}


def contest_summary(tables: dict) -> pd.DataFrame:
    """One row per (cohort, detector): patients, lesions, AUC with its 95 % bootstrap interval
    (:func:`.evaluation.auc_interval`), sensitivity at 95 % specificity, lesions found in place,
    false alarms among the healthy, median lesion Dice of the found lesions and median
    seconds per patient."""
    rows = {}
    for (cohort, name), table in tables.items():
        s = evaluation.summary(table)
        low, high = evaluation.auc_interval(table["abnormal"], table["score"])
        healthy = table[~table["abnormal"]]
        rows[(cohort, name)] = {
            "patients": s["cases"], "lesions": s["lesion_cases"], "auc": s["auc"],
            "auc_low": low, "auc_high": high, "sens_at_95_spec": s["sens_at_95_spec"],
            "found_in_place": int(table.loc[table["abnormal"], "hit"].sum()),
            "false_alarms": int(healthy["found"].sum()), "healthy": len(healthy),
            "lesion_dice_found": s["median_lesion_dice_found"],
            "seconds": s["median_seconds"]}
    summary = pd.DataFrame(rows).T
    summary.index.names = ["cohort", "detector"]
    counts = ["patients", "lesions", "found_in_place", "false_alarms", "healthy"]
    return summary.astype({name: np.int64 if name in counts else float for name in summary})


def winners(summary: pd.DataFrame) -> pd.DataFrame:
    """Per cohort of :func:`contest_summary`: the detector with the higher AUC, its margin over
    the next, and whether their 95 % intervals overlap (then the order is not a ranking)."""
    rows = {}
    for cohort, part in summary.groupby(level="cohort", sort=False):
        part = part.droplevel("cohort").sort_values("auc", ascending=False)
        if len(part) < 2:
            raise ValueError(f"the cohort {cohort!r} has one detector: nothing to compare")
        first, second = part.iloc[0], part.iloc[1]
        rows[cohort] = {"higher AUC": part.index[0], "auc": first["auc"],
                        "next": part.index[1], "next auc": second["auc"],
                        "margin": first["auc"] - second["auc"],
                        "intervals overlap": bool(first["auc_low"] <= second["auc_high"]
                                                  and second["auc_low"] <= first["auc_high"])}
    return pd.DataFrame(rows).T.infer_objects()


def warm_contest(progress: bool = False) -> dict:
    """The warm-up's step: every contest table of every detector that can run here."""
    return contest_tables(progress=progress)


def found_by_size(tables: dict, cohort: str) -> pd.DataFrame:
    """Lesions found in place per size band on ``cohort``, one column per detector (the
    ``lesions`` column first)."""
    parts = {name: evaluation.size_sensitivity(t) for (c, name), t in tables.items()
             if c == cohort}
    if not parts:
        raise ValueError(f"no table of the cohort {cohort!r}")
    out = pd.concat({name: s["found"] for name, s in parts.items()}, axis=1)
    out.insert(0, "lesions", next(iter(parts.values()))["lesions"])
    return out.astype(np.int64)
