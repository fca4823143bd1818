"""Virtual patients from a seed: one (:func:`make_case`), many (:func:`make_cohort`) or a named
cohort of :mod:`helpers.cohorts` (:func:`named_cohort`).

Every case is built by :func:`helpers.simulate.case.build_record` from its parameters, in
about a quarter of a second, and kept in this process's memory (:data:`KEPT`, keyed by every
parameter) for the next time it is asked for: never on disk, where it would take about 1.2 MB
for a tenth of a second saved. Cohorts are built on both cores. Not for clinical use.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm.auto import tqdm

from .. import cache, cohorts
from ..cache import show_build_progress
from . import lesions, motion, phases
from .case import (
    CASE_VERSION,
    CT_SAMPLE,
    LABEL_SAMPLE,
    VirtualCase,
    build_record,
    case_from_record,
    prepare_base,
)
from .gland import check_gland_fat
from .lesions import SUBTYPES, check_subtype, conspicuity
from .motion import Breathing, invert_field

APPEARANCES = ("standard", "random")
# Cases kept in memory per process (about 5.5 MB each), least recently used out first. The
# training patients whose features a notebook recomputes are not kept (training_cache builds
# them with cache=False): kept, they took notebook 08 past its 2 GB memory budget.
KEPT = cache.Memo(128)
# Cohorts are built in this many processes (each case is the same whichever builds it).
COHORT_JOBS = min(2, os.cpu_count() or 1)


def check_args(seed, subtype, phase, motion_level, diameter, noise_hu, appearance="standard",
               gland_fat=None):
    """Raise a ValueError naming the bad argument (and the valid choices) before any work."""
    if gland_fat is not None:
        check_gland_fat(gland_fat)
    if appearance not in APPEARANCES:
        raise ValueError(f"unknown appearance {appearance!r}; choose one of "
                         f"{', '.join(APPEARANCES)}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if subtype is not None:
        lesions.check_subtype(subtype)
    phases.check_phase(phase)
    motion.check_motion(motion_level)
    if diameter is not None:
        if subtype is None:
            raise ValueError("lesion_diameter_mm was given for a healthy case (subtype=None)")
        lesions.check_diameter(diameter)
    if noise_hu is not None and not 0 < noise_hu <= 100:
        raise ValueError(f"noise_hu must be within (0, 100] HU, got {noise_hu}")


def case_conspicuity(case: VirtualCase, scan: str = "contrast", noise_hu=None) -> dict:
    """:func:`conspicuity` of a case's lesion on its ``"plain"`` or ``"contrast"`` scan.

    ``noise_hu`` defaults to the case's simulated noise level, so ``cnr`` is the lesion's
    contrast against the surrounding gland in units of image noise.
    """
    if scan not in ("plain", "contrast"):
        raise ValueError(f"scan must be 'plain' or 'contrast', got {scan!r}")
    arrays = [sitk.GetArrayViewFromImage(getattr(case, f"{name}_{scan}" if name else scan))
              for name in ("", "lesion", "pancreas")]
    return conspicuity(*arrays, noise_hu=case.noise_hu if noise_hu is None else noise_hu,
                       spacing_zyx=case.plain.GetSpacing()[::-1])


def contrast_by_fat(scales=(0.0, 0.25, 0.5, 0.75, 1.0), seeds=(1, 2), subtypes=SUBTYPES,
                    diameter_mm: float = 20.0, cache: bool = True) -> pd.DataFrame:
    """Each subtype's plain-scan contrast against the gland (:func:`case_conspicuity`) in the
    same patients at each fat scale: one row per subtype, fat scale and seed (columns subtype,
    gland_fat, seed, lesion_hu, pancreas_hu, contrast_hu, cnr). Lesions of ``diameter_mm``,
    no breathing motion; cases are kept in memory unless ``cache=False``."""
    rows = []
    for subtype in subtypes:
        for scale in scales:
            for seed in seeds:
                case = make_case(seed, subtype, gland_fat=scale, lesion_diameter_mm=diameter_mm,
                                 motion="none", cache=cache)
                found = case_conspicuity(case, "plain")
                rows.append({"subtype": subtype, "gland_fat": scale, "seed": seed,
                             **{k: found[k] for k in ("lesion_hu", "pancreas_hu",
                                                      "contrast_hu", "cnr")}})
    return pd.DataFrame(rows)


def inverse_transform(case: VirtualCase) -> sitk.Transform:
    """Contrast -> plain physical points: the numerical inverse of ``case.transform``.

    Used to carry points (or, with ``sitk.Resample``, plain-scan images) into the contrast
    scan's space. Accurate to well under a voxel (see tests/test_simulate.py).
    """
    rigid = case.transform.GetNthTransform(0).Downcast()
    field = case.transform.GetNthTransform(1).Downcast().GetDisplacementField()
    breathing = Breathing(field, rigid, invert_field(field))
    return breathing.inverse_transform()


def make_case(seed: int, subtype: str | None = None, *, phase: str = "pancreatic",
              lesion_diameter_mm: float | None = None, motion: str = "typical",
              noise_hu: float | None = None, vary_anatomy: bool = True,
              appearance: str = "standard", gland_fat: float | None = 0.0,
              cache: bool = False) -> VirtualCase:
    """Build one virtual patient, deterministically from ``seed``.

    ``subtype``: one of :data:`SUBTYPES`, or None for a healthy pancreas. ``phase``: the
    contrast scan's phase (:data:`PHASES`). ``lesion_diameter_mm``: nominal longest diameter
    (default: drawn from 5-40 mm). ``motion``: "none", "typical" or "hard" breathing motion
    between the scans. ``noise_hu``: noise standard deviation (default: drawn per seed between
    0.8x and 1.5x the real scan's measured noise). ``vary_anatomy``: warp and scale the real
    anatomy per seed (False: every seed shares the real anatomy). ``appearance``: "standard",
    or "random" to draw the lesion's look per case (mass effect, HU difference to the gland,
    shape, margin, texture, position: :func:`helpers.simulate.lesions.random_appearance`;
    the training cohorts use it). ``gland_fat``: the pancreas's fat scale
    (:mod:`helpers.simulate.gland`): 0, the default, a normal gland (parenchyma about 40 HU
    on plain CT); 1 the real scan's fatty gland as it is; None draws it per seed from
    :data:`helpers.simulate.gland.GLAND_FAT_RANGE`. ``cache``: keep the case in memory
    (:data:`KEPT`) and reuse it when asked again. The same seed always gives the same patient;
    changing only the subtype keeps the anatomy and motion of that seed.
    """
    params = dict(seed=int(seed), subtype=subtype, phase=phase,
                  lesion_diameter_mm=lesion_diameter_mm, motion_level=motion,
                  noise_hu=noise_hu, vary_anatomy=bool(vary_anatomy),
                  **_appearance_param(appearance), gland_fat=_fat_param(gland_fat))
    check_args(seed, subtype, phase, motion, lesion_diameter_mm, noise_hu, appearance,
               gland_fat)
    if not cache:
        return case_from_record(build_record(**params))
    return KEPT.get(case_key(params), lambda: case_from_record(build_record(**params)))


def case_key(params: dict) -> str:
    """One case's key: SHA-256 of every parameter, the simulator's version and the base scan."""
    return cache.settings_key({"version": CASE_VERSION, "ct": CT_SAMPLE, "labels": LABEL_SAMPLE,
                               **params})


def _appearance_param(appearance: str) -> dict:
    # Only a non-standard appearance enters the parameters (and so the cache key): every
    # standard case keeps the key, and the file, it always had.
    return {} if appearance == "standard" else {"appearance": appearance}


def _fat_param(gland_fat):
    return None if gland_fat is None else check_gland_fat(gland_fat)


def cohort_plan(n: int, seed: int, subtypes=SUBTYPES, healthy_fraction: float = 0.5):
    """The (case seed, subtype) pairs of a cohort: ``round(n * healthy_fraction)`` healthy
    cases, the rest shared evenly among ``subtypes``, in a seeded random order."""
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 0 <= healthy_fraction <= 1:
        raise ValueError(f"healthy_fraction must be within 0..1, got {healthy_fraction}")
    for subtype in subtypes:
        check_subtype(subtype)
    n_healthy = round(n * healthy_fraction) if subtypes else n
    kinds = [None] * n_healthy + [subtypes[i % len(subtypes)] for i in range(n - n_healthy)]
    order = np.random.default_rng(np.random.SeedSequence(seed)).permutation(n)
    seeds = np.random.SeedSequence(seed).generate_state(n)
    return [(int(seeds[i]), kinds[order[i]]) for i in range(n)]


def _build_job(params: dict) -> dict:
    return build_record(**params)


def make_cohort(n: int, seed: int, *, subtypes=SUBTYPES, healthy_fraction: float = 0.5,
                phase: str = "pancreatic", motion: str = "typical",
                lesion_diameter_mm: float | None = None, vary_anatomy: bool = True,
                appearance: str = "standard", gland_fat: float | None = None,
                cache: bool = True, progress: bool = True,
                n_jobs: int = 1, seeds=None) -> list[VirtualCase]:
    """Build ``n`` virtual patients, deterministically from ``seed`` (see :func:`cohort_plan`).

    Other arguments are passed to :func:`make_case`; ``gland_fat`` is drawn per patient
    unless given. Cases already kept in memory (:data:`KEPT`, keyed by all their parameters)
    are reused; with ``cache`` the others are kept too, so a second call in this process is
    fast (``cache=False``: nothing new is kept). ``n_jobs`` > 1 builds the missing
    cases in that many processes. Shows a progress bar if ``progress``. ``seeds``: only the
    cohort's patients with these seeds, in cohort order (the rest are not built).
    """
    plan = cohort_plan(n, seed, subtypes, healthy_fraction)
    if seeds is not None:
        wanted = {int(s) for s in seeds}
        missing = wanted - {case_seed for case_seed, _ in plan}
        if missing:
            raise ValueError(f"no patient of this cohort has the seed(s) "
                             f"{', '.join(map(str, sorted(missing)))}")
        plan = [(case_seed, subtype) for case_seed, subtype in plan if case_seed in wanted]
        n = len(plan)
    jobs = []
    for case_seed, subtype in plan:
        check_args(case_seed, subtype, phase, motion,
                   lesion_diameter_mm if subtype else None, None, appearance, gland_fat)
        jobs.append(dict(seed=case_seed, subtype=subtype, phase=phase,
                         lesion_diameter_mm=lesion_diameter_mm if subtype else None,
                         motion_level=motion, noise_hu=None, vary_anatomy=bool(vary_anatomy),
                         **_appearance_param(appearance), gland_fat=_fat_param(gland_fat)))
    keys = [case_key(params) for params in jobs]
    cases = [KEPT.get(key) if key in KEPT else None for key in keys]
    to_build = [i for i, case in enumerate(cases) if case is None]
    bar = tqdm(total=n, initial=n - len(to_build), desc="virtual patients",
               disable=not (progress or (to_build and show_build_progress())))
    if n_jobs > 1 and len(to_build) > 1:
        # Loaded here, the real scan and its enhancement maps are inherited by the workers
        # where processes fork (Linux) instead of being rebuilt in each (about 2 s each).
        prepare_base(phase)
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            records = pool.map(_build_job, [jobs[i] for i in to_build], chunksize=4)
            for i, record in zip(to_build, records, strict=True):
                cases[i] = case_from_record(record)
                bar.update()
    for i in to_build:
        if cases[i] is None:
            cases[i] = case_from_record(build_record(**jobs[i]))
            bar.update()
    bar.close()
    if cache:
        for key, case in zip(keys, cases, strict=True):
            KEPT.put(key, case)
    return cases


def patient_table(cases):
    """One row per case: seed, subtype, nominal diameter and the diameter of a sphere of the
    mask's volume (lobes and dents make it smaller), noise, the gland's fat scale, lesion
    voxels and how far the landmarks moved between the scans (mm)."""
    rows = []
    for case in cases:
        shift = np.linalg.norm(case.landmarks_contrast - case.landmarks_plain, axis=1)
        voxels = int(sitk.GetArrayViewFromImage(case.lesion_plain).sum())
        volume = voxels * float(np.prod(case.plain.GetSpacing()))
        rows.append({"seed": case.seed, "subtype": case.subtype or "healthy",
                     "diameter_mm": round(case.lesion_diameter_mm, 1),
                     "sphere_equiv_mm": round(float(np.cbrt(6 * volume / np.pi)), 1),
                     "noise_hu": round(case.noise_hu, 1), "gland_fat": round(case.gland_fat, 2),
                     "lesion_voxels": voxels,
                     "motion_mean_mm": round(float(shift.mean()), 1),
                     "motion_max_mm": round(float(shift.max()), 1)})
    return pd.DataFrame(rows)


def named_cohort(name: str, n: int | None = None, *, motion: str = "typical",
                 progress: bool = False, n_jobs: int = COHORT_JOBS, cache: bool = True,
                 seeds=None) -> list[VirtualCase]:
    """The virtual patients of cohort ``name`` in :mod:`helpers.cohorts` (its seed and share
    of healthy patients; ``n``: default its usual size), checked first to share no patient
    with any other cohort. ``motion``: the breathing motion between each patient's scans;
    ``cache=False``: build them without keeping them in memory; ``seeds``: only the patients
    with these seeds (see :func:`make_cohort`)."""
    spec = cohorts.cohort(name)
    if spec.consecutive:
        raise ValueError(f"the {name!r} cohort is a list of consecutive seeds, not a drawn "
                         "cohort; build its patients with make_case(seed)")
    n = spec.n if n is None else n
    cohorts.check_disjoint(sizes={name: n})
    return make_cohort(n, spec.seed, healthy_fraction=spec.healthy_fraction, motion=motion,
                       appearance=spec.appearance, cache=cache, progress=progress,
                       n_jobs=n_jobs, seeds=seeds)
