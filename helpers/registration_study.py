"""Registration methods compared over many virtual patients (notebook 03, section 9, and
``benchmarks/registration.py``).

Every patient is registered with rigid, affine and B-spline (:func:`compare_methods`, with the
pancreas as region and the contrast-scan lesion excluded from the deformable metric), and
every transform is graded against the known truth with
:func:`helpers.metrics.evaluate_transfer`. Two references are graded too: "none" (the mask
copied as is) and "true transform" (the simulated motion itself, the ceiling that voxels allow).

With the default settings a patient takes about 5 s, too slow to repeat in class for 20 pairs,
so :func:`method_comparison` keeps the table on disk as plain arrays (``.npz``, read with
``allow_pickle=False``), keyed by a SHA-256 of every setting and the simulator's version. The
cache warm-up (``python -m helpers.pipeline_cache warm``) builds notebook 03's table; the
seconds in a cached table are those measured when it was built. Not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings

import numpy as np
import SimpleITK as sitk

from . import metrics, registration, simulate

STUDY_VERSION = "study-v1"  # change with the grading or register()'s defaults: old tables ignored
NOTEBOOK_STUDY = {"cases": 10, "motions": ("typical", "hard"), "first_seed": 0}
TEXT_COLUMNS = ("motion", "method", "subtype")


def compare_methods(fixed, moving, region=None, exclude=None, **settings) -> dict:
    """Rigid, affine and B-spline transforms for one scan pair, each with its seconds.

    The B-spline starts from the affine result (as ``register(kind="bspline")`` would, so the
    result is the same) and its time includes the affine stage; ``region`` and ``exclude`` go
    to the B-spline only. Returns ``{name: (transform, seconds)}``. ``settings`` go to
    :func:`helpers.registration.register` (e.g. ``samples=3000``).
    """
    register = registration.register
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
             "seconds": seconds, **metrics.evaluate_transfer(case, transform)}
            for name, (transform, seconds) in found.items()]


def patient(seed: int, motion: str):
    """The study's patient ``seed``: the subtypes in turn, so every subtype is represented."""
    return simulate.make_case(seed, simulate.SUBTYPES[seed % len(simulate.SUBTYPES)],
                              motion=motion)


def compare_on_cohort(cases: int = 10, motions=("typical", "hard"), first_seed: int = 0,
                      progress: bool = False, **settings):
    """The comparison table (a pandas DataFrame, one row per patient, motion and method),
    computed now (no cache)."""
    import pandas as pd
    from tqdm.auto import tqdm

    seeds = range(first_seed, first_seed + cases)
    jobs = [(motion, seed) for motion in motions for seed in seeds]
    rows = []
    for motion, seed in tqdm(jobs, desc="registering", disable=not progress):
        case = patient(seed, motion)
        rows += grade(case, transforms_for(case, **settings), motion)
    return pd.DataFrame(rows)


def study_key(cases, motions, first_seed, settings) -> str:
    """SHA-256 of every setting of a study and the versions it depends on."""
    text = json.dumps({"version": STUDY_VERSION, "cases_version": simulate.CASE_VERSION,
                       "cases": cases, "motions": list(motions), "first_seed": first_seed,
                       "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load_table(path, key):
    """A comparison table stored by :func:`save_table`, or None (with a warning) for a file
    that is unreadable or from other settings."""
    import pandas as pd

    from .pipeline_cache import read_arrays

    try:
        stored = read_arrays(path, key)
        names = [str(c) for c in stored.pop("columns")]
        return pd.DataFrame(stored)[names]
    except (OSError, ValueError, KeyError, EOFError) as exc:
        warnings.warn(f"ignoring the registration table {path.name} ({exc}); recomputing",
                      stacklevel=3)
        return None


def save_table(path, key, table) -> None:
    """Store a comparison table as plain arrays (text columns as unicode, the rest float)."""
    from .pipeline_cache import write_arrays

    arrays = {c: (np.array(table[c].astype(str).tolist(), dtype=str) if c in TEXT_COLUMNS
                  else table[c].astype(float).to_numpy()) for c in table.columns}
    write_arrays(path, key, columns=np.array(list(table.columns), dtype=str), **arrays)


def method_comparison(cases: int = 10, motions=("typical", "hard"), first_seed: int = 0,
                      progress: bool = False, use_cache: bool = True, **settings):
    """:func:`compare_on_cohort`'s table, from the on-disk cache when present (else computed
    and stored; an unwritable cache only costs the speed-up)."""
    from .pipeline_cache import cache_folder, load_or_build

    key = study_key(cases, tuple(motions), first_seed, settings)
    return load_or_build(cache_folder() / f"registration-{key}.npz", key, load_table,
                         lambda: compare_on_cohort(cases, motions, first_seed, progress,
                                                   **settings),
                         save_table, use_cache)


def summary(table):
    """One line per motion level and method: median and worst lesion Dice, median HD95,
    lesion error and TRE, pancreas Dice, pairs folded, median seconds."""
    import pandas as pd

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
    better" verdict of :func:`helpers.metrics.clearly_better`."""
    import pandas as pd

    methods = methods or [m for m in dict.fromkeys(table["method"]) if m not in ("affine",
                                                                                 "none")]
    parts = []
    for method in methods:
        part = metrics.paired_comparison(table, method, "affine")
        part["clearly better"] = [metrics.clearly_better(r) for _, r in part.iterrows()]
        parts.append(part.assign(method=method).set_index("method", append=True))
    columns = ["pairs", "Dice wins", "Dice losses", "Dice ties", "median Dice gain",
               "median lesion error mm", "affine lesion error mm", "smaller lesion error",
               "clearly better"]
    motions = list(dict.fromkeys(table["motion"]))
    return pd.concat(parts).reindex(motions, level=0)[columns].round(3)

