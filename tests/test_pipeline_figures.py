"""Notebook 07's helpers: outcomes, rows, intervals, never-seen checks and the figure."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk

from helpers import pipeline_cache, simulate, stage3
from helpers import pipeline_figures as pf
from helpers.pipeline_model import PipelineResult

matplotlib.use("Agg")


def test_outcome_names_every_case():
    assert pf.outcome(True, True, True) == "true positive"
    assert pf.outcome(True, True, False) == "found elsewhere"
    assert pf.outcome(True, False, False) == "missed"
    assert pf.outcome(False, True, False) == "false alarm"
    assert pf.outcome(False, False, False) == "true negative"
    assert set(pf.OUTCOMES) == {pf.outcome(*f) for f in [(True, True, True), (True, True, False),
                                                         (True, False, False), (False, True, False),
                                                         (False, False, False)]}


def test_wilson_interval():
    low, high = pf.wilson_interval(4, 4)
    assert high == 1.0 and 0.4 < low < 0.6  # 4 of 4 is compatible with about 50 %
    low, high = pf.wilson_interval(0, 5)
    assert low == 0.0 and 0.4 < high < 0.5
    assert pf.wilson_interval(50, 100) == pytest.approx((0.404, 0.596), abs=1e-3)
    with pytest.raises(ValueError):
        pf.wilson_interval(3, 2)


def test_never_seen_check_catches_training_patients():
    trained = simulate.cohort_plan(pipeline_cache.TRAINING_COHORT["n"],
                                   pipeline_cache.TRAINING_COHORT["seed"])[0][0]
    with pytest.raises(ValueError, match="pipeline training"):
        pf.check_never_seen([trained])
    new = [s for s, _ in simulate.cohort_plan(10, pf.NEVER_SEEN_COHORT)]
    pf.check_never_seen(new)
    # stage 3 of the default pipeline also learns from stage 3's training lesions
    with pytest.raises(ValueError, match="stage-3 training"):
        pf.check_never_seen(stage3.cohort_seeds("training")[:1])


def _image(array):
    image = sitk.GetImageFromArray(np.asarray(array))
    image.SetSpacing((3.0, 3.0, 3.0))
    return image


@pytest.fixture()
def toy():
    hu = np.full((8, 40, 40), -100.0, np.float32)
    hu[:, :4] = -1000.0
    gland = np.zeros(hu.shape, np.uint8)
    gland[2:6, 15:25, 10:30] = 1
    lesion = np.zeros(hu.shape, np.uint8)
    lesion[3:5, 18:22, 12:16] = 1
    reported = np.zeros(hu.shape, np.uint8)
    reported[3:5, 18:22, 14:18] = 1
    prob = (reported * 0.8).astype(np.float32)
    result = PipelineResult(_image(gland), _image(reported), 0.8, {"PDAC": 0.7, "PNET": 0.1,
                                                                   "cyst": 0.1, "SPT": 0.1},
                            _image(prob))
    return _image(hu), result, _image(lesion), _image(gland)


def test_patient_row_and_dice(toy):
    scan, result, lesion, gland = toy
    row = pf.patient_row(1, result, lesion, "PDAC", 12.4)
    assert row["outcome"] == "true positive" and row["predicted"] == "PDAC"
    assert row["lesion_dice"] == pytest.approx(0.5) and row["diameter_mm"] == 12
    unknown = pf.patient_row("real", result)
    assert unknown["truth"].startswith("unknown") and unknown["outcome"] == "no truth"
    assert math.isnan(pf.lesion_dice(np.ones(3), np.zeros(3)))


def test_show_patient_draws_four_panels(toy):
    scan, result, lesion, gland = toy
    fig = pf.show_patient(scan, result, lesion, gland, "PDAC", title="toy")
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("(a)") for t in titles) and any("truth: PDAC" in t for t in titles)
    empty = PipelineResult(gland, _image(np.zeros((8, 40, 40), np.uint8)),
                           0.1, {}, None)
    fig = pf.show_patient(scan, empty)  # unknown truth, nothing reported, no map
    assert any("unknown" in ax.get_title() for ax in fig.axes)
    matplotlib.pyplot.close("all")
