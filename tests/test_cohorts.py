"""helpers.cohorts: one table of every cohort, and one check that no patient plays two roles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from helpers import cohorts, simulate


def test_the_real_cohorts_share_no_patient():
    cohorts.check_disjoint()  # every pair, over at least CHECK_DEPTH patients each
    seen = {}
    for name in cohorts.COHORTS:
        for seed in cohorts.patient_seeds(name, cohorts.CHECK_DEPTH):
            assert seen.setdefault(seed, name) == name, (seed, name, seen[seed])


def test_seeds_are_a_prefix_and_match_the_cohort_plan():
    spec = cohorts.cohort("held-out")
    assert cohorts.patient_seeds("held-out", 48) == cohorts.patient_seeds("held-out")[:48]
    plan = simulate.cohort_plan(spec.n, spec.seed, healthy_fraction=spec.healthy_fraction)
    assert [s for s, _ in plan] == cohorts.patient_seeds("held-out")
    assert cohorts.patient_seeds("registration study", 3) == [0, 1, 2]


def test_a_shared_patient_is_refused_before_anything_is_built(monkeypatch):
    built = []
    monkeypatch.setattr(simulate.patients, "make_cohort",
                        lambda *args, **kwargs: built.append(args) or [])
    for other in ("training", "stage3 training", "stage1 labelled", "never seen"):
        clash = replace(cohorts.cohort("held-out"), seed=cohorts.cohort(other).seed)
        monkeypatch.setitem(cohorts.COHORTS, "held-out", clash)
        with pytest.raises(ValueError, match=f"both the .*'{other}'|'{other}' and the"):
            cohorts.check_disjoint()
        with pytest.raises(ValueError, match="one role only"):
            simulate.named_cohort("held-out")
    assert built == []


def test_a_larger_run_than_usual_is_checked_over_its_own_size(monkeypatch):
    far = cohorts.patient_seeds("held-out", 200)[150]  # beyond the default check depth
    monkeypatch.setitem(cohorts.COHORTS, "demo", replace(cohorts.cohort("demo"), seed=far,
                                                         consecutive=True))
    cohorts.check_disjoint()  # the first 64 held-out patients do not meet it
    with pytest.raises(ValueError, match="'held-out' and the 'demo'"):
        cohorts.check_disjoint(sizes={"held-out": 200})


def test_unknown_and_consecutive_cohorts_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown cohort 'nope'"):
        cohorts.cohort("nope")
    with pytest.raises(ValueError, match="consecutive seeds"):
        simulate.named_cohort("registration study")
    with pytest.raises(ValueError, match="at least one patient"):
        cohorts.patient_seeds("training", 0)


def test_the_table_lists_every_cohort_with_its_purpose():
    table = cohorts.cohort_table()
    assert list(table.index) == list(cohorts.COHORTS)
    assert table["purpose"].str.len().min() > 10
    assert np.isclose(table.loc["training", "healthy share"], 0.5)
