"""Notebook 06's checkers: right answers pass, typical slips get the matching hint, and an
unfinished answer (None) never raises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.exercises import nb06 as ex
from helpers.simulate import SUBTYPES


@pytest.fixture
def confusion():
    counts = [[10, 4, 0, 1],   # PDAC: 15 lesions
              [3, 3, 0, 0],    # PNET: 6
              [0, 0, 12, 0],   # cyst: 12
              [1, 1, 2, 4]]    # SPT: 8
    return pd.DataFrame(counts, index=pd.Index(SUBTYPES, name="true"),
                        columns=pd.Index(SUBTYPES, name="predicted"))


def test_recall_checker(confusion, capsys):
    right = confusion.to_numpy().diagonal() / confusion.sum(axis=1).to_numpy()
    assert ex.check_recall(right, confusion)
    assert ex.check_recall(dict(zip(SUBTYPES, right, strict=True)), confusion)
    assert ex.check_recall(pd.Series(right[::-1], SUBTYPES[::-1]), confusion)  # any key order
    assert not ex.check_recall(None, confusion)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_recall(100 * right, confusion)
    assert "percentages" in capsys.readouterr().out
    precision = confusion.to_numpy().diagonal() / confusion.sum(axis=0).to_numpy()
    assert not ex.check_recall(precision, confusion)
    assert "precision" in capsys.readouterr().out
    assert not ex.check_recall(confusion.to_numpy().diagonal(), confusion)
    assert "counts on the diagonal" in capsys.readouterr().out
    assert not ex.check_recall([0.5, 0.5], confusion)
    assert not ex.check_recall({"PDAC": 1.0}, confusion)
    assert not ex.check_recall("lots", confusion)
    assert "give 4 numbers" in capsys.readouterr().out


def test_balanced_accuracy_checker(confusion, capsys):
    right = np.mean(confusion.to_numpy().diagonal() / confusion.sum(axis=1).to_numpy())
    from sklearn.metrics import balanced_accuracy_score

    true = np.repeat(SUBTYPES, confusion.sum(axis=1))
    predicted = np.concatenate([np.repeat(SUBTYPES, row) for row in confusion.to_numpy()])
    assert right == pytest.approx(balanced_accuracy_score(true, predicted))
    assert ex.check_balanced_accuracy(right, confusion)
    assert not ex.check_balanced_accuracy(round(right, 2), confusion)
    assert "rounded" in capsys.readouterr().out
    assert not ex.check_balanced_accuracy(None, confusion)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_balanced_accuracy("lots", confusion)  # never raises
    accuracy = np.trace(confusion.to_numpy()) / confusion.to_numpy().sum()
    assert abs(accuracy - right) > 0.01
    assert not ex.check_balanced_accuracy(accuracy, confusion)
    assert "plain accuracy" in capsys.readouterr().out
    assert not ex.check_balanced_accuracy(100 * right, confusion)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_balanced_accuracy([right, right], confusion)


@pytest.fixture
def fill_table():
    """Lesions on both scans; on plain CT cysts sit clear of the rest (contrast: PNET)."""
    rng = np.random.default_rng(0)
    rows = []
    for image, centres in (("plain", (-5, -5, 25, 5)), ("contrast", (-40, 60, 0, -10))):
        for subtype, centre in zip(SUBTYPES, centres, strict=True):
            for value in centre + rng.normal(0, 3, 10):
                rows.append({"subtype": subtype, "image": image, "median HU": value})
    return pd.DataFrame(rows)


def test_separated_subtype_needs_the_name_and_the_gap(fill_table, capsys):
    scores = ex.separation(fill_table, "median HU")
    assert max(scores, key=scores.get) == "cyst" and scores["cyst"] == pytest.approx(1.0)
    plain = fill_table[fill_table.image == "plain"]
    gap = (plain[plain.subtype == "cyst"]["median HU"].median()
           - plain[plain.subtype != "cyst"]["median HU"].median())
    assert ex.check_separated_subtype("cyst", gap, fill_table, "median HU")
    assert "Correct" in capsys.readouterr().out
    assert ex.check_separated_subtype(" Cyst ", gap, fill_table, "median HU")


def test_separated_subtype_rejects_guesses_and_slips(fill_table, capsys):
    gap = ex.median_gap(fill_table, "median HU", "cyst")
    assert not ex.check_separated_subtype(None, None, fill_table, "median HU")
    out = capsys.readouterr().out
    assert "Not answered yet" in out and 'e.g. "' not in out  # the hint names no answer
    assert not ex.check_separated_subtype("cyst", None, fill_table, "median HU")  # a guess
    assert "Not answered yet" in capsys.readouterr().out
    for guess in ("cyst", "PDAC", "PNET", "SPT"):  # a name with a made-up number never passes
        assert not ex.check_separated_subtype(guess, 0.5, fill_table, "median HU")
    capsys.readouterr()
    assert not ex.check_separated_subtype("PNET", gap, fill_table, "median HU")
    out = capsys.readouterr().out
    assert "is not the subtype" in out and "cyst" not in out  # the hint names no answer
    assert not ex.check_separated_subtype("cyst", -gap, fill_table, "median HU")
    assert "sign" in capsys.readouterr().out
    contrast_gap = ex.median_gap(fill_table, "median HU", "cyst", "contrast")
    assert not ex.check_separated_subtype("cyst", contrast_gap, fill_table, "median HU")
    assert "contrast CT" in capsys.readouterr().out
    assert not ex.check_separated_subtype("cyst", round(gap, 2) + 0.001, fill_table, "median HU")
    assert "rounded" in capsys.readouterr().out
    assert not ex.check_separated_subtype("IPMN", gap, fill_table, "median HU")
    assert "not a subtype" in capsys.readouterr().out
    assert not ex.check_separated_subtype(3, gap, fill_table, "median HU")  # never raises



def test_separated_subtype_compares_with_another_table(fill_table, capsys):
    gap = ex.median_gap(fill_table, "median HU", "cyst")
    other = fill_table.assign(**{"median HU": fill_table["median HU"].sample(
        frac=1, random_state=0).to_numpy()})  # the same lesions, the feature shuffled
    assert ex.check_separated_subtype("cyst", gap, fill_table, "median HU", compare=other)
    out = capsys.readouterr().out
    assert "Correct" in out and "On the compared lesions" in out
