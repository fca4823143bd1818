"""Every cohort of virtual patients the series uses, in one table, and the check that no patient
plays two roles.

A virtual patient is made from one integer seed (:func:`helpers.simulate.make_case`). A cohort
is a named list of such seeds with a purpose: training, validation (choosing designs and
thresholds), held-out testing, or a demonstration. A model tested on patients it learnt from,
or tuned on, says nothing about new patients, so :func:`check_disjoint` proves that no two
cohorts share a patient, and every function that builds a cohort calls it
(:func:`helpers.simulate.named_cohort`).

A cohort's patient seeds come from ``numpy.random.SeedSequence(seed).generate_state(n)``: the
first ``k`` seeds are the same whatever ``n``, so a smaller run uses a prefix of the cohort.
The registration study is the exception: its patients are the consecutive seeds from
``seed`` on (``consecutive=True``). Which patients are healthy and which subtype the others get
is decided by :func:`helpers.simulate.cohort_plan`. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Disjointness is checked over at least this many patients of each cohort, so that running a
# cohort a little larger (a benchmark's --test option) stays safe.
CHECK_DEPTH = 64


@dataclass(frozen=True)
class Cohort:
    """One cohort: its name, cohort seed, usual size, share of healthy patients and purpose."""

    name: str
    seed: int
    n: int
    healthy_fraction: float
    purpose: str
    consecutive: bool = False  # patient seeds seed, seed + 1, ... instead of drawn ones
    appearance: str = "standard"  # "random": each lesion's look drawn per patient (training)


COHORTS: dict[str, Cohort] = {c.name: c for c in (
    Cohort("stage1 labelled", 4202, 6, 0.5,
           "stage 1's atlases and voxel-classifier training (notebook 04)"),
    Cohort("stage1 validation", 4303, 10, 0.5,
           "choosing stage 1's thresholds (benchmarks/stage1.py)"),
    Cohort("stage1 test", 4404, 20, 0.5,
           "testing stage 1 (notebook 04, benchmarks/stage1.py)"),
    Cohort("training", 5505, 64, 0.5,
           "training stages 2 and 3 (notebooks 05-07), with the lesions of 'stage3 training'; "
           "each lesion's look and each scan's dose drawn at random", appearance="random"),
    Cohort("held-out", 6606, 64, 0.5,
           "testing stages 2 and 3 (notebook 05 uses the first 48, benchmarks/pipeline.py 64)"),
    Cohort("validation", 9909, 64, 0.5,
           "choosing between stage-2 designs (benchmarks/stage2_features.py), never tested on"),
    Cohort("stage3 training", 6161, 64, 0.0,
           "lesions only: stage 3 learns from them (notebook 06), and stages 2 and 3 of the "
           "pipeline; each lesion's look and each scan's dose drawn at random",
           appearance="random"),
    Cohort("stage3 held-out", 6262, 32, 0.0, "lesions only: testing stage 3 (notebook 06)"),
    Cohort("never seen", 7707, 10, 0.5, "notebook 07's patients that no stage has seen"),
    Cohort("reader study", 7171, 20, 0.5,
           "notebook 07's reader study: the fixed patients a student rates against the model "
           "(helpers.pipeline.reader_study), never trained, tuned or tested on"),
    Cohort("registration study", 0, 10, 0.0,
           "notebook 03's comparison of registration methods (every subtype in turn)",
           consecutive=True),
    Cohort("demo", 2024, 12, 0.5, "notebook 02's first cohort, a demonstration"),
    Cohort("foreign", 8808, 64, 0.5,
           "testing only: patients made by a second, independent simulator "
           "(helpers.simulate.foreign), never trained or tuned on"),
    Cohort("foreign validation", 8909, 64, 0.5,
           "choosing designs that must hold on foreign patients (benchmarks/foreign.py); made "
           "like the foreign cohort, never tested on"),
)}


def cohort(name: str) -> Cohort:
    """The :class:`Cohort` called ``name``, or a ValueError listing the names."""
    if name not in COHORTS:
        raise ValueError(f"unknown cohort {name!r}; choose one of {', '.join(COHORTS)}")
    return COHORTS[name]


def patient_seeds(name: str, n: int | None = None) -> list[int]:
    """The first ``n`` patient seeds of cohort ``name`` (default: its usual size)."""
    spec = cohort(name)
    n = spec.n if n is None else int(n)
    if n < 1:
        raise ValueError(f"a cohort needs at least one patient, got n={n}")
    if spec.consecutive:
        return list(range(spec.seed, spec.seed + n))
    return [int(s) for s in np.random.SeedSequence(spec.seed).generate_state(n)]


def check_disjoint(names=None, sizes: dict[str, int] | None = None) -> None:
    """Raise a ValueError if two of the cohorts ``names`` (default: all) share a patient.

    Each cohort is checked over ``max(its size, CHECK_DEPTH)`` patients, or over
    ``sizes[name]`` when that is larger (a cohort about to be built bigger than usual).
    """
    names = list(COHORTS) if names is None else list(names)
    sizes = sizes or {}
    seeds = {name: set(patient_seeds(name, max(cohort(name).n, CHECK_DEPTH,
                                               sizes.get(name, 0)))) for name in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = seeds[a] & seeds[b]
            if shared:
                raise ValueError(f"patients {sorted(shared)[:5]} are in both the {a!r} and the "
                                 f"{b!r} cohorts: a patient must play one role only. Give one "
                                 "of them another cohort seed in helpers/cohorts.py")


def cohort_table():
    """Every cohort as a pandas DataFrame (name, seed, size, healthy share, purpose)."""
    return pd.DataFrame([{"cohort": c.name, "seed": c.seed, "patients": c.n,
                          "healthy share": round(c.healthy_fraction, 2), "purpose": c.purpose}
                         for c in COHORTS.values()]).set_index("cohort")
