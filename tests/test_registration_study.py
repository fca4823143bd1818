"""helpers.registration.study: the method comparison of notebook 03 and its on-disk cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.registration import study

QUICK = {"samples": 1000, "iterations": 3}  # a smoke-sized registration: seconds, not minutes
METHODS = ["none", "rigid", "affine", "bspline", "true transform"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "cache_folder", lambda: tmp_path)
    return tmp_path


@pytest.fixture
def table(folder):
    return study.method_comparison(cases=1, motions=("hard",), first_seed=1, **QUICK)


def test_every_method_is_graded_and_the_true_transform_is_exact(table):
    assert list(table["method"]) == METHODS
    assert set(table["motion"]) == {"hard"} and set(table["seed"]) == {1}
    truth = table.set_index("method").loc["true transform"]
    assert truth["lesion_error_mm"] == 0.0 and truth["tre_median_mm"] < 1e-6
    copied = table.set_index("method").loc["none"]
    assert copied["lesion_error_mm"] > 2.0  # hard motion moves the lesion by millimetres
    assert (table["lesion_dice"].between(0, 1)).all()


def test_the_table_is_cached_as_plain_arrays_and_read_back(folder, table, monkeypatch):
    files = list(folder.glob("registration-*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as stored:  # would raise on pickled objects
        assert all(stored[name].dtype != object for name in stored.files)

    def no_recompute(*args, **kwargs):
        raise AssertionError("the cached table should have been used")

    monkeypatch.setattr(study, "compare_on_cohort", no_recompute)
    again = study.method_comparison(cases=1, motions=("hard",), first_seed=1, **QUICK)
    pd.testing.assert_frame_equal(again, table, check_dtype=False)


def test_other_settings_get_their_own_entry(folder, table):
    assert study.study_key(1, ("hard",), 1, QUICK) != \
        study.study_key(1, ("hard",), 1, {**QUICK, "samples": 2000})
    assert study.study_key(1, ("hard",), 1, QUICK) != \
        study.study_key(1, ("typical",), 1, QUICK)


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(folder, table):
    path = next(folder.glob("registration-*.npz"))
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="ignoring the registration table"):
        again = study.method_comparison(cases=1, motions=("hard",), first_seed=1, **QUICK)
    assert list(again["method"]) == METHODS
    with np.load(path, allow_pickle=False) as stored:
        assert "lesion_dice" in stored.files


def test_summary_and_pair_by_pair_comparison(table):
    summary = study.method_summary(table)
    assert summary.loc[("hard", "true transform"), "median lesion error mm"] == 0.0
    assert summary.loc[("hard", "none"), "pairs folded"] == 0
    versus = study.versus_affine(table)
    assert {m for _, m in versus.index} == {"rigid", "bspline", "true transform"}
    assert versus.loc[("hard", "true transform"), "pairs"] == 1
    assert versus["clearly better"].dtype == bool


def test_the_study_stays_inside_its_own_cohort():
    assert study.study_seeds() == list(range(10))  # the cohort "registration study"
    assert study.study_seeds(12, 0) == list(range(12))  # the benchmark's larger run
    with pytest.raises(ValueError, match="outside"):
        study.study_seeds(3, 100)
