"""Notebook 07's end-to-end summary (helpers.pipeline.end_to_end)."""

from __future__ import annotations

import pytest
from toy_cases import arr, small_voxel_model, toy_case  # noqa: F401 (small_voxel_model: autouse)

from helpers import pipeline
from helpers.pipeline import end_to_end
from helpers.pipeline.stage2 import unet


def test_end_to_end_rows_count_hits_and_false_alarms_and_name_the_missing_extra(
        toy_pipeline, monkeypatch):
    cases = [toy_case(70 + i, kind) for i, kind in enumerate((None, "cyst", "PDAC", None))]
    predictions = {c.seed: toy_pipeline.predict(c.plain, c.pancreas_plain) for c in cases}
    monkeypatch.setattr(end_to_end, "default_pipeline", lambda seed=0, detector="boosted": (
        toy_pipeline))
    monkeypatch.setattr(unet, "available", lambda: False)
    lesions = [c for c in cases if c.subtype]
    hits = sum(bool((arr(predictions[c.seed].lesion) & arr(c.lesion_plain)).any())
               for c in lesions)
    alarms = sum(predictions[c.seed].found for c in cases if not c.subtype)
    # the boosted row reuses the predictions given: predicting again would fail here
    monkeypatch.setattr(toy_pipeline, "predict", lambda *a, **k: pytest.fail("predicted again"))
    boosted, network = pipeline.end_to_end_rows(cases, boosted_results=predictions)
    assert boosted["lesions found in place"] == f"{hits} of {len(lesions)}"
    assert boosted["false alarms"] == f"{alarms} of 2"
    assert hits >= 1 and 0 < boosted["median lesion Dice (found)"] <= 1
    assert network["stage 2"].startswith("neural network")
    assert "python3 run.py lab --deep" in network["lesions found in place"]
