"""Stage 3 (helpers.pipeline.stage3): lesion features, the rows of the lesions stage 2 outlines
and the subtype classifier, on toy lesions."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import small_voxel_model, toy_case, toy_cohort  # noqa: F401 (autouse fixture)

from helpers import pipeline
from helpers.pipeline import stage2, stage3
from helpers.simulate import SUBTYPES


def lesion_rows(seeds, subtype):
    rows = []
    for seed in seeds:
        case = toy_case(seed, subtype)
        rows.append(stage3.lesion_features(*(sitk.GetArrayFromImage(v) > 0 if v is not
                                              case.plain else sitk.GetArrayFromImage(v)
                                              for v in (case.plain, case.lesion_plain,
                                                        case.pancreas_plain))))
    return rows


def test_lesion_features_measure_intensity_and_size():
    bright, dark = lesion_rows([1], "cyst")[0], lesion_rows([1], "PDAC")[0]
    names = stage3.lesion_feature_names()
    assert len(bright) == len(names)
    k = names.index("median HU - gland")
    assert bright[k] > 20 and dark[k] < -20
    assert bright[names.index("volume mL")] > 0 and 0 < bright[names.index("sphericity")] <= 1.5


def test_empty_lesion_is_refused():
    case = toy_case(2)
    hu = sitk.GetArrayFromImage(case.plain)
    with pytest.raises(stage3.EmptyLesionError, match="empty"):
        stage3.lesion_features(hu, np.zeros(hu.shape, bool), hu > -50)


def test_classifier_learns_toy_subtypes_and_lists_every_subtype():
    x = lesion_rows(range(10, 16), "cyst") + lesion_rows(range(20, 26), "PDAC")
    y = ["cyst"] * 6 + ["PDAC"] * 6
    model = stage3.fit_subtype_classifier(np.array(x), y, seed=0)
    probs = model.predict_proba(np.array(lesion_rows([40], "cyst") + lesion_rows([41], "PDAC")))
    assert list(probs[0]) == list(SUBTYPES) and sum(probs[0].values()) == pytest.approx(1)
    assert probs[0]["cyst"] > 0.5 and probs[1]["PDAC"] > 0.5
    assert model.training_counts == {"PDAC": 6, "cyst": 6}
    again = stage3.fit_subtype_classifier(np.array(x), y, seed=0)
    assert again.predict_proba(np.array(x[:1]))[0] == model.predict_proba(np.array(x[:1]))[0]


def test_classifier_needs_two_known_subtypes():
    x = np.zeros((4, len(stage3.lesion_feature_names())))
    with pytest.raises(ValueError, match="only one subtype"):
        stage3.fit_subtype_classifier(x, ["cyst"] * 4)
    with pytest.raises(ValueError, match="unknown subtypes"):
        stage3.fit_subtype_classifier(x, ["cyst", "PDAC", "healthy", "cyst"])


def test_lesion_cohorts_are_lesion_only_and_balanced():
    from helpers import cohorts, simulate

    for name in ("stage3 training", "stage3 held-out"):
        spec = cohorts.cohort(name)
        plan = simulate.cohort_plan(spec.n, spec.seed, healthy_fraction=spec.healthy_fraction)
        subtypes = [t for _, t in plan]
        assert None not in subtypes and {subtypes.count(s) for s in SUBTYPES} == {spec.n // 4}


def test_outline_rows_come_only_from_outlines_that_touch_the_lesion():
    fitted = pipeline.Pipeline(label_source="exact").fit(toy_cohort(9))
    items = [stage2.labels.case_arrays(case, "exact") for case in toy_cohort(9, start=100)]
    subtypes = [c.subtype or "" for c in toy_cohort(9, start=100)]
    threshold = fitted.detector.voxel_threshold
    maps = [fitted.detector.probability_map(hu, gland) if subtype else None
            for (hu, gland, _), subtype in zip(items, subtypes, strict=True)]
    x, y = stage3.rows.detected_lesion_rows(items, subtypes, maps, threshold)
    assert x.shape == (len(y), len(stage3.lesion_feature_names())) and "" not in set(y)
    assert 0 < len(y) <= sum(map(bool, subtypes))
    # a label moved away from what stage 2 outlined, or no label at all: no row
    moved = [(hu, gland, np.roll(label, 12, axis=2)) for hu, gland, label in items]
    empty = [(hu, gland, np.zeros_like(label)) for hu, gland, label in items]
    for labels in (moved, empty):
        assert len(stage3.rows.detected_lesion_rows(labels, subtypes, maps, threshold)[1]) == 0
