"""Screening arithmetic: counts add up, PPV follows Bayes' rule, bad fractions are refused."""

from __future__ import annotations

import math

import pytest

from helpers.pipeline.screening import screening_outcome


def test_counts_add_up_and_match_bayes_rule():
    out = screening_outcome(0.9, 0.99, 0.001, screened=100_000)
    assert out.true_positives + out.false_negatives == pytest.approx(100)
    assert out.false_positives + out.true_negatives == pytest.approx(99_900)
    assert out.true_positives == pytest.approx(90)
    assert out.false_positives == pytest.approx(999)
    bayes = 0.9 * 0.001 / (0.9 * 0.001 + 0.01 * 0.999)
    assert out.ppv == pytest.approx(bayes)
    assert out.false_alarms_per_cancer_found == pytest.approx(999 / 90)
    assert out.npv == pytest.approx(99_900 * 0.99 / (99_900 * 0.99 + 10))


def test_higher_specificity_means_fewer_false_alarms_per_cancer():
    loose = screening_outcome(0.929, 0.99, 0.001)
    strict = screening_outcome(0.929, 0.999, 0.001)
    assert strict.false_positives == pytest.approx(loose.false_positives / 10)
    assert strict.ppv > loose.ppv
    row = strict.as_row("strict")
    assert row["cancers found"] == 93 and row["specificity %"] == 99.9


def test_edge_cases():
    nobody_sick = screening_outcome(0.9, 0.9, 0.0, screened=1000)
    assert nobody_sick.ppv == 0.0  # every positive is a false alarm
    assert math.isnan(screening_outcome(0.0, 1.0, 0.5).ppv)  # no positives at all
    assert nobody_sick.false_alarms_per_cancer_found == math.inf
    perfect = screening_outcome(1.0, 1.0, 0.5, screened=10)
    assert perfect.ppv == 1.0 and perfect.npv == 1.0


@pytest.mark.parametrize("kwargs, word", [
    ({"sensitivity": 92.9, "specificity": 0.99, "prevalence": 0.001}, "sensitivity"),
    ({"sensitivity": 0.9, "specificity": -0.1, "prevalence": 0.001}, "specificity"),
    ({"sensitivity": 0.9, "specificity": 0.9, "prevalence": 2}, "prevalence"),
    ({"sensitivity": 0.9, "specificity": 0.9, "prevalence": 0.1, "screened": 0}, "screened"),
])
def test_bad_input_says_what_was_wrong(kwargs, word):
    with pytest.raises(ValueError, match=word):
        screening_outcome(**kwargs)
