"""The default pipeline (helpers.pipeline.default): what stages 2 and 3 learn from (the extra
lesions, stage 2's outlines), and its call on finer grids."""

from __future__ import annotations

import numpy as np
import pytest
from toy_cases import (  # noqa: F401 (small_voxel_model: an autouse fixture)
    arr,
    kinds,
    small_voxel_model,
    toy_case,
    toy_cohort,
)

from helpers import pipeline
from helpers.pipeline import default
from helpers.simulate import named_cohort


# ------------------------------------------------------------------------- stage 3's extra lesions
def test_stages_2_and_3_learn_from_the_extra_lesions(toy_cache):
    _, built = toy_cache
    own = default.make_pipeline(label_source="exact", extra_lesions=False)
    both = default.make_pipeline(label_source="exact")
    own_lesions = sum(c.subtype is not None for c in toy_cohort(9))
    assert sum(own.classifier.training_counts.values()) == own_lesions == 6
    assert sum(both.classifier.training_counts.values()) == own_lesions + 6
    assert built.extras == ["typical"]  # only the pipeline that wanted them built them
    case = toy_case(61, "PDAC")
    assert not np.array_equal(arr(both.predict(case.plain, case.pancreas_plain).probability),
                              arr(own.predict(case.plain, case.pancreas_plain).probability))


def test_stage3_can_also_learn_from_stage2s_outlines(toy_cache):
    """With stage3_outlines="labels+stage2", stage 3 gets one more row per training lesion
    that stage 2 outlines in place (out-of-fold); stage 2 itself is unchanged."""
    folder, built = toy_cache
    labels = default.make_pipeline(label_source="exact")
    both = default.make_pipeline(label_source="exact", stage3_outlines="labels+stage2")
    assert kinds(folder) == ["maps", "rows", "table"]
    extra = sum(both.classifier.training_counts.values()) - sum(
        labels.classifier.training_counts.values())
    assert 0 < extra <= 12  # at most one per lesion: 6 training and 6 extra lesions
    assert both.detector.operating_threshold == labels.detector.operating_threshold
    again = default.make_pipeline(label_source="exact", stage3_outlines="labels+stage2")
    assert len(built.tables) == 2  # the table once, the outline rows once: then the cache
    assert again.classifier.training_counts == both.classifier.training_counts
    # the same kind of rows when fitted straight from the patients
    direct = pipeline.Pipeline(label_source="exact", stage3_outlines="labels+stage2")
    direct.fit(toy_cohort(9))
    assert sum(direct.classifier.training_counts.values()) >= 6


# ------------------------------------------------------------------------- finer grids
@pytest.mark.slow  # the default pipeline, fitted in this process from its cached data
def test_a_healthy_scan_is_called_healthy_at_3_1_5_and_0_75_mm():
    """The same held-out healthy patient given on finer in-plane grids (same anatomy,
    resampled): the call does not change (benchmarks/resolution.py measures a cohort)."""
    from helpers.pipeline import grid

    case = next(c for c in named_cohort("held-out", 8) if c.subtype is None)
    model = default.default_pipeline()
    calls = [model.predict(case.plain if mm == 3.0 else grid.resample_in_plane(case.plain, mm))
             for mm in (3.0, 1.5, 0.75)]
    assert [c.found for c in calls] == [False, False, False], [c.score for c in calls]
