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
    assert "replace None" in capsys.readouterr().out
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
    assert not ex.check_balanced_accuracy(None, confusion)
    assert not ex.check_balanced_accuracy("lots", confusion)  # never raises
    accuracy = np.trace(confusion.to_numpy()) / confusion.to_numpy().sum()
    assert abs(accuracy - right) > 0.01
    assert not ex.check_balanced_accuracy(accuracy, confusion)
    assert "plain accuracy" in capsys.readouterr().out
    assert not ex.check_balanced_accuracy(100 * right, confusion)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_balanced_accuracy([right, right], confusion)


def test_separated_subtype_checker(capsys):
    rng = np.random.default_rng(0)
    rows = []
    for subtype, plain in zip(SUBTYPES, (-5, -5, 25, 5), strict=True):
        for value in plain + rng.normal(0, 3, 10):
            rows.append({"subtype": subtype, "image": "plain", "median HU": value})
    table = pd.DataFrame(rows)
    scores = ex.separation(table, "median HU")
    assert max(scores, key=scores.get) == "cyst" and scores["cyst"] == pytest.approx(1.0)
    assert ex.check_separated_subtype("cyst", table, "median HU")
    assert ex.check_separated_subtype(" Cyst ", table, "median HU")
    assert not ex.check_separated_subtype(None, table, "median HU")
    assert "replace None" in capsys.readouterr().out
    assert not ex.check_separated_subtype("PNET", table, "median HU")
    assert "overlaps" in capsys.readouterr().out
    assert not ex.check_separated_subtype("IPMN", table, "median HU")
    assert "not a subtype" in capsys.readouterr().out
    assert not ex.check_separated_subtype(3, table, "median HU")
