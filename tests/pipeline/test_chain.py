"""The chained pipeline (helpers.pipeline.chain: Pipeline, PipelineResult): fitting, at once
or stage by stage, and predicting; stages 2 and 3 called with its fitted models. Toy scans and
small models keep it fast."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import (  # noqa: F401 (small_voxel_model: an autouse fixture)
    arr,
    small_voxel_model,
    toy_case,
    toy_cohort,
)

from helpers import pipeline
from helpers.pipeline import chain
from helpers.simulate import SUBTYPES


def same_grid(a, b):
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin())
            and np.allclose(a.GetDirection(), b.GetDirection()))


# ------------------------------------------------------------------------- the contract
def test_predict_gives_a_result_on_the_input_grid(toy_pipeline):
    case = toy_case(50, "cyst")
    result = toy_pipeline.predict(case.plain, case.pancreas_plain)
    assert isinstance(result, pipeline.PipelineResult)
    for mask in (result.pancreas, result.lesion):
        assert same_grid(mask, case.plain) and mask.GetPixelID() == sitk.sitkUInt8
    assert 0 <= result.score <= 1 and result.found
    assert (arr(result.lesion) & arr(case.lesion_plain)).any()
    assert list(result.subtype_probs) == list(SUBTYPES)
    assert sum(result.subtype_probs.values()) == pytest.approx(1)
    assert result.subtype_probs["cyst"] == max(result.subtype_probs.values())


def test_predict_without_a_mask_runs_stage_1(toy_pipeline, monkeypatch):
    case = toy_case(57, "cyst")
    calls = []

    def stage_1(scan, method="atlas", **options):
        calls.append((method, options))
        return case.pancreas_plain

    monkeypatch.setattr(chain, "segment_pancreas", stage_1)
    result = toy_pipeline.predict(case.plain)
    assert calls == [("atlas", {})] and result.found  # at full resolution, not the training's
    np.testing.assert_array_equal(arr(result.pancreas), arr(case.pancreas_plain))


def test_healthy_scan_gives_an_empty_lesion_and_no_subtypes(toy_pipeline):
    case = toy_case(51)
    result = toy_pipeline.predict(case.plain, case.pancreas_plain)
    assert not result.found and result.subtype_probs == {} and arr(result.lesion).sum() == 0


def test_same_seed_same_score(toy_pipeline):
    again = pipeline.Pipeline(label_source="exact").fit(toy_cohort(12))
    case = toy_case(52, "PDAC")
    assert again.predict(case.plain, case.pancreas_plain).score == \
        toy_pipeline.predict(case.plain, case.pancreas_plain).score


def test_detect_lesion_and_classify_subtype_with_explicit_models(toy_pipeline):
    case = toy_case(53, "PDAC")
    score, lesion = pipeline.detect_lesion(case.plain, case.pancreas_plain,
                                           detector=toy_pipeline.detector)
    assert 0 <= score <= 1 and same_grid(lesion, case.plain) and arr(lesion).any()
    probs = pipeline.classify_subtype(case.plain, lesion, toy_pipeline.classifier,
                                      pancreas_mask=case.pancreas_plain)
    assert max(probs, key=probs.get) == "PDAC"


def test_detect_lesion_with_its_map_gives_what_predict_gives(toy_pipeline):
    case = toy_case(53, "PDAC")
    score, lesion, probability = pipeline.detect_lesion(
        case.plain, case.pancreas_plain, toy_pipeline.detector, with_map=True)
    chained = toy_pipeline.predict(case.plain, case.pancreas_plain)
    assert score == chained.score and np.array_equal(arr(lesion), arr(chained.lesion))
    assert np.array_equal(arr(probability), arr(chained.probability))
    assert probability.GetSpacing() == chained.probability.GetSpacing()


# ------------------------------------------------------------------------- fitting
def test_predict_before_fit_says_what_to_do():
    case = toy_case(54)
    with pytest.raises(pipeline.NotFittedError, match="fit"):
        pipeline.Pipeline().predict(case.plain, case.pancreas_plain)


def test_single_class_cohort_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="all 4 training patients are healthy"):
        pipeline.Pipeline(label_source="exact").fit([toy_case(i) for i in range(4)])
    with pytest.raises(ValueError, match="label_source"):
        pipeline.Pipeline(label_source="drawn")
    with pytest.raises(ValueError, match="plain, contrast"):
        pipeline.Pipeline(image="mri")


def test_fitting_stage_by_stage_is_fitting_the_chain():
    """fit_stage2 then fit_stage3 on the data fit would build: the same models, so the same
    prediction (the caches of make_pipeline fit this way, with their data passed in)."""
    with pytest.raises(ValueError, match="stage3_outlines"):
        pipeline.Pipeline(stage3_outlines="stage 2 only")
    whole = pipeline.Pipeline(label_source="exact").fit(toy_cohort(9))
    staged = pipeline.Pipeline(label_source="exact")
    table, x, y = staged.training_table(toy_cohort(9))
    staged.fit_stage2(table).fit_stage3(x, y)
    case = toy_case(61, "PDAC")
    first, second = (m.predict(case.plain, case.pancreas_plain) for m in (whole, staged))
    assert first.score == second.score and first.subtype_probs == second.subtype_probs
