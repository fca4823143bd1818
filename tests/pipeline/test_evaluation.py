"""The pipeline's evaluation (helpers.pipeline.evaluation): measure and patient_row refuse
masks on another grid, label maps and probability maps, and say what an empty mask means;
each case's outcome and the Wilson interval (the patient row on a toy patient:
test_detection_figures.py)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import small_voxel_model, unchanged  # noqa: F401 (small_voxel_model: autouse)

from helpers import checks, pipeline
from helpers.pipeline import evaluation


def test_measure_refuses_a_lesion_on_a_coarser_grid(toy_pdac):
    coarse = sitk.Resample(toy_pdac.lesion_plain, [n // 2 for n in toy_pdac.lesion_plain.GetSize()],
                           sitk.Transform(), sitk.sitkNearestNeighbor,
                           toy_pdac.lesion_plain.GetOrigin(), [6.0] * 3,
                           toy_pdac.lesion_plain.GetDirection())
    same = unchanged(toy_pdac.pancreas_plain, coarse)
    with pytest.raises(pipeline.GridMismatchError) as caught:
        pipeline.measure(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain, coarse)
    message = str(caught.value)
    assert "lesion is not on the reference's grid: size (18, 15, 8) versus (36, 30, 16)" \
        in message  # whole voxel counts, not (18.0, ...)
    assert "resample" in message and same()


def test_measure_refuses_a_lesion_shifted_6_mm_with_the_same_size(toy_pdac):
    shifted = sitk.Image(toy_pdac.lesion_plain)
    shifted.SetOrigin(tuple(np.add(shifted.GetOrigin(), (6.0, 0.0, 0.0))))
    with pytest.raises(pipeline.GridMismatchError, match=r"lesion is not on the reference's "
                                                         r"grid: origin \(16\.0"):
        pipeline.measure(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain, shifted)
    row = pipeline.measure(toy_pdac.pancreas_plain, toy_pdac.pancreas_plain, toy_pdac.lesion_plain)
    assert row["lesion_in_mask_pct"] == 100.0 and row["dice"] == 1.0  # the good input


def test_measure_of_an_empty_mask_against_an_empty_reference(toy_pdac):
    empty = sitk.Image(toy_pdac.pancreas_plain) * 0
    with pytest.raises(pipeline.EmptyMaskError, match="reference is empty.*undefined"):
        pipeline.measure(empty, empty)
    row = pipeline.measure(empty, toy_pdac.pancreas_plain)  # an empty result is a miss
    assert row["dice"] == 0.0 and np.isnan(row["hd95_mm"])


def test_measure_refuses_label_maps_and_probability_maps(toy_pdac):
    labels = toy_pdac.pancreas_plain + toy_pdac.lesion_plain  # 0, 1, 2: two structures
    with pytest.raises(checks.InputError, match="mask holds 2 different labels"):
        pipeline.measure(labels, toy_pdac.pancreas_plain)
    soft = sitk.Cast(toy_pdac.pancreas_plain, sitk.sitkFloat32) * 0.7
    with pytest.raises(checks.InputError, match="reference has fractional values"):
        pipeline.measure(toy_pdac.pancreas_plain, soft)


def test_patient_row_refuses_a_truth_lesion_on_another_grid(toy_pipeline, toy_pdac):
    result = toy_pipeline.predict(toy_pdac.plain, toy_pdac.pancreas_plain)
    moved = sitk.Image(toy_pdac.lesion_plain)
    moved.SetOrigin(tuple(np.add(moved.GetOrigin(), (6.0, 0.0, 0.0))))  # same size: was silent
    with pytest.raises(pipeline.GridMismatchError,
                       match="truth_lesion is not on the result's lesion mask's grid: origin"):
        evaluation.patient_row("p", result, moved, "PDAC")
    assert evaluation.patient_row("p", result, toy_pdac.lesion_plain, "PDAC")["truth"] == "PDAC"


# ------------------------------------------------------------------------- notebook 07's counts
def test_outcome_names_every_case():
    assert evaluation.outcome(True, True, True) == "true positive"
    assert evaluation.outcome(True, True, False) == "found elsewhere"
    assert evaluation.outcome(True, False, False) == "missed"
    assert evaluation.outcome(False, True, False) == "false alarm"
    assert evaluation.outcome(False, False, False) == "true negative"
    flags = [(True, True, True), (True, True, False), (True, False, False), (False, True, False),
             (False, False, False)]
    assert set(evaluation.OUTCOMES) == {evaluation.outcome(*f) for f in flags}


def test_wilson_interval():
    low, high = evaluation.wilson_interval(4, 4)
    assert high == 1.0 and 0.4 < low < 0.6  # 4 of 4 is compatible with about 50 %
    low, high = evaluation.wilson_interval(0, 5)
    assert low == 0.0 and 0.4 < high < 0.5
    assert evaluation.wilson_interval(50, 100) == pytest.approx((0.404, 0.596), abs=1e-3)
    with pytest.raises(ValueError):
        evaluation.wilson_interval(3, 2)
