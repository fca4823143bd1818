"""Notebook 07's patient figure (helpers.pipeline.detection_figures), and the patient row
it shows (helpers.pipeline.evaluation.patient_row, on the same toy patient)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk

from helpers.pipeline import detection_figures as pf
from helpers.pipeline import evaluation
from helpers.pipeline.chain import PipelineResult

matplotlib.use("Agg")


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
    row = evaluation.patient_row(1, result, lesion, "PDAC", 12.4)
    assert row["outcome"] == "true positive" and row["predicted"] == "PDAC"
    assert row["lesion_dice"] == pytest.approx(0.5) and row["diameter_mm"] == 12
    unknown = evaluation.patient_row("real", result)
    assert unknown["truth"].startswith("unknown") and unknown["outcome"] == "no truth"
    assert math.isnan(evaluation.lesion_dice(np.ones(3), np.zeros(3)))


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


def test_case_details_name_the_gland_fat_and_the_drawn_signs():
    from types import SimpleNamespace

    from helpers.pipeline.detection_figures import case_details

    case = SimpleNamespace(gland_fat=0.9, subtype="PDAC",
                           signs={"duct": True, "atrophy": False, "contour": True})
    assert case_details(case) == ("gland fat scale 0.90 (fatty); secondary signs: duct, "
                                  "contour")
    healthy = SimpleNamespace(gland_fat=0.1, subtype=None, signs={})
    assert case_details(healthy) == "gland fat scale 0.10 (normal)"
    assert case_details(SimpleNamespace()) == ""
