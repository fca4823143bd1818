"""Notebook 08's contest (helpers.pipeline.contest): each registered stage 2 behind the same
stage-1 masks on three cohorts, one row per patient, cached by what decides the fitted
detector; the summary and the winner on each cohort computed from those rows. Toy scale: toy
cases, the reference masks standing in for stage 1's, a dummy detector registered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from test_detectors import BrightSpot
from toy_cases import small_voxel_model, toy_cohort  # noqa: F401 (small_voxel_model: autouse)

from helpers.pipeline import contest, detectors, evaluation


@pytest.fixture
def toy_contest(toy_pipeline, tmp_path, monkeypatch):
    """Six toy patients per cohort (the fourth without a stage-1 mask), a dummy detector
    "bright" with a fingerprint, and a record of how often a pipeline was asked for."""
    calls = []
    cases = toy_cohort(6)
    masks = [sitk.GetArrayFromImage(c.pancreas_plain) > 0 for c in cases]
    masks[3] = None
    fingerprint = {"version": 1}
    monkeypatch.setattr(contest.training_cache, "cache_folder", lambda: tmp_path)
    monkeypatch.setattr(contest, "cohort_cases", lambda cohort, progress=False: cases)
    monkeypatch.setattr(contest, "prediction_masks", lambda cases, progress=False: masks)

    def pipeline_of(seed, name):
        calls.append(name)
        return toy_pipeline if name == "boosted" else pipeline_with(toy_pipeline, BrightSpot())

    monkeypatch.setattr(contest, "default_pipeline", pipeline_of)
    detectors.register("bright", detectors.DetectorEntry(
        "bright spot (test)", build=lambda seed: BrightSpot(),
        fingerprint=lambda seed: dict(fingerprint)))
    try:
        yield {"calls": calls, "cases": cases, "masks": masks, "folder": tmp_path,
               "fingerprint": fingerprint}
    finally:
        detectors.unregister("bright")


def pipeline_with(model, detector):
    import dataclasses
    return dataclasses.replace(model, detector=detector)


def test_one_row_per_patient_searching_the_given_masks(toy_contest, toy_pipeline):
    table = contest.contest_table("held-out", "boosted")
    cases, masks = toy_contest["cases"], toy_contest["masks"]
    assert list(table.columns) == ["subtype", *contest.NUMBERS]
    assert table["seed"].tolist() == [c.seed for c in cases]
    assert table.loc[3, "score"] == 0.0 and not table.loc[3, "found"]  # no mask: nothing found
    reference = evaluation.evaluate(toy_pipeline, cases, pancreas="reference")
    kept = [n for n, m in enumerate(masks) if m is not None]
    np.testing.assert_allclose(table["score"][kept], reference["score"][kept])
    assert table["hit"][kept].tolist() == reference["hit"][kept].tolist()


def test_tables_are_cached_by_cohort_and_fingerprint(toy_contest):
    calls = toy_contest["calls"]
    first = contest.contest_table("foreign", "bright")
    again = contest.contest_table("foreign", "bright")
    assert calls == ["bright"]  # read back: no detector asked for again
    pd.testing.assert_frame_equal(first, again, check_dtype=False)
    contest.contest_table("validation", "bright")
    toy_contest["fingerprint"]["version"] = 2  # another fitted detector: computed anew
    contest.contest_table("foreign", "bright")
    assert calls == ["bright"] * 3
    assert len(list(toy_contest["folder"].glob("contest-*.npz"))) == 3


def test_a_detector_without_a_fingerprint_is_never_cached(toy_contest, monkeypatch):
    monkeypatch.setattr(contest.detectors, "get", lambda name: detectors.DetectorEntry(
        "no fingerprint", build=lambda seed: BrightSpot()))
    contest.contest_table("foreign", "bright")
    contest.contest_table("foreign", "bright")
    assert toy_contest["calls"] == ["bright", "bright"]
    assert not list(toy_contest["folder"].glob("contest-*.npz"))


def test_an_unknown_cohort_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="choose among validation, held-out, foreign"):
        contest.contest_table("test", "boosted")


def rows(scores, abnormal, found=None):
    abnormal = np.asarray(abnormal, bool)
    found = abnormal if found is None else np.asarray(found, bool)
    return pd.DataFrame({"subtype": np.where(abnormal, "cyst", "healthy"),
                         "seed": np.arange(len(scores)), "diameter_mm": 20.0,
                         "abnormal": abnormal, "score": scores, "found": found,
                         "hit": found & abnormal, "false_positive": found & ~abnormal,
                         "lesion_dice": np.where(found & abnormal, 0.5, np.nan),
                         "seconds": 0.1})


def test_summary_and_winner_come_from_the_rows():
    truth = [0, 0, 0, 0, 1, 1, 1, 1]
    perfect = rows([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9], truth)
    muddled = rows([0.1, 0.7, 0.3, 0.8, 0.6, 0.2, 0.9, 0.4], truth,
                   found=[0, 1, 0, 1, 1, 0, 1, 0])
    tables = {("foreign", "a"): muddled, ("foreign", "b"): perfect,
              ("validation", "a"): perfect, ("validation", "b"): muddled}
    summary = contest.contest_summary(tables)
    assert summary.loc[("foreign", "b"), "auc"] == 1.0
    assert summary.loc[("foreign", "a"), "auc"] == pytest.approx(9 / 16)  # pairs in order
    assert summary.loc[("foreign", "a"), "false_alarms"] == 2
    assert summary.loc[("foreign", "a"), "found_in_place"] == 2
    assert summary.loc[("foreign", "a"), "healthy"] == 4
    low, high = evaluation.auc_interval(muddled.abnormal, muddled.score)
    assert (summary.loc[("foreign", "a"), "auc_low"], summary.loc[("foreign", "a"),
            "auc_high"]) == (low, high)
    won = contest.winners(summary)
    assert won.loc["foreign", "higher AUC"] == "b" and won.loc["validation", "higher AUC"] == "a"
    assert won.loc["foreign", "margin"] == pytest.approx(1 - 9 / 16)
    assert won.loc["foreign", "intervals overlap"] == (high >= 1.0)  # b: always exactly 1
    with pytest.raises(ValueError, match="one detector"):
        contest.winners(contest.contest_summary({("foreign", "a"): perfect}))


def test_found_by_size_puts_the_detectors_side_by_side():
    truth = [0, 1, 1]
    tables = {("held-out", "a"): rows([0.1, 0.9, 0.8], truth),
              ("held-out", "b"): rows([0.1, 0.9, 0.8], truth, found=[0, 1, 0])}
    sizes = contest.found_by_size(tables, "held-out")
    assert list(sizes.columns) == ["lesions", "a", "b"]
    assert sizes.loc[sizes["lesions"] > 0, ["lesions", "a", "b"]].values.tolist() == [[2, 2, 1]]
