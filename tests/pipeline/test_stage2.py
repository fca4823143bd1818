"""Stage 2 (helpers.pipeline.stage2: features, labels, table, boosted) and evaluation helpers.

Tiny synthetic scans (tests/toy_cases.py) keep these fast; quality is measured by
benchmarks/pipeline.py, not here.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import small_voxel_model, toy_case, toy_cohort  # noqa: F401 (autouse fixture)

from helpers.pipeline import evaluation, stage2
from helpers.pipeline.stage2 import features


def arrays(case):
    return (sitk.GetArrayFromImage(case.plain), sitk.GetArrayFromImage(case.pancreas_plain) > 0,
            sitk.GetArrayFromImage(case.lesion_plain) > 0)


@pytest.fixture(scope="module")
def detector():
    table, _ = stage2.table.training_data(toy_cohort(12), "exact")
    return stage2.boosted.fit_detector(table, seed=0)


# ------------------------------------------------------------------------- features
def test_voxel_features_one_row_per_roi_voxel_with_named_columns():
    hu, gland, _ = arrays(toy_case(1, "cyst"))
    x, roi = features.voxel_features(hu, gland)
    assert x.dtype == np.float32 and x.shape == (roi.sum(), len(features.feature_names()))
    assert roi[gland].all()  # the whole gland is searched, plus a margin
    assert np.isfinite(x).all()


def test_intensity_features_are_relative_to_the_gland(monkeypatch):
    """A uniformly denser scan (another gland level) gives the same relative features (with
    no noise added: the shift moves which voxels count as soft tissue for the noise level)."""
    monkeypatch.setattr(features, "NOISE_FLOOR_HU", 0.0)
    hu, gland, _ = arrays(toy_case(2, "cyst"))
    names = features.feature_names()
    a, _ = features.voxel_features(hu, gland)
    b, _ = features.voxel_features(hu + 20, gland)
    for name in ("HU - gland median", "mean s=1 - gland", "local contrast s=1-4"):
        k = names.index(name)
        np.testing.assert_allclose(a[:, k], b[:, k], atol=1e-3)
    assert np.allclose(b[:, names.index("gland median HU")] - a[:, names.index(
        "gland median HU")], 20)


def test_noise_level_reads_white_noise_and_ignores_anatomy():
    rng = np.random.default_rng(0)
    flat = np.full((20, 40, 40), 40.0, np.float32)
    flat[:, :20] = -60.0  # an edge between two soft tissues: the median ignores it
    noisy = flat + rng.normal(0, 12.0, flat.shape).astype(np.float32)
    assert features.noise_level(noisy) == pytest.approx(12.0, rel=0.1)
    assert features.noise_level(np.full((5, 5, 5), -1000.0)) == float("inf")  # no soft tissue


def test_match_noise_raises_a_smooth_scan_to_the_floor_and_leaves_a_noisy_one():
    """A scan smoothed by resampling (a finer grid brought to 3 mm) gets noise added up to
    NOISE_FLOOR_HU, always the same; a scan already that noisy is returned unchanged."""
    rng = np.random.default_rng(1)
    noisy = (40 + rng.normal(0, 1.5 * features.NOISE_FLOOR_HU, (20, 40, 40))).astype(np.float32)
    assert np.array_equal(features.match_noise(noisy), noisy)
    smooth = (40 + rng.normal(0, 3.0, (20, 40, 40))).astype(np.float32)
    raised = features.match_noise(smooth)
    assert features.noise_level(raised) == pytest.approx(features.NOISE_FLOOR_HU, rel=0.1)
    np.testing.assert_array_equal(raised, features.match_noise(smooth))  # deterministic
    box = (slice(2, 10), slice(5, 25), slice(0, 40))
    assert features.match_noise(smooth, box).shape == smooth[box].shape


def test_masked_mean_ignores_voxels_outside_the_weight():
    values = np.zeros((9, 9, 9), np.float32)
    values[:, :, 5:] = -100  # "fat" next to the "gland"
    weight = np.zeros_like(values, bool)
    weight[:, :, :5] = True
    out = features.masked_mean(values, weight, 2.0)
    assert np.allclose(out[weight], 0)  # fat never leaks into the gland's average


def test_bright_lesion_scores_higher_in_its_own_region():
    hu, gland, lesion = arrays(toy_case(3, "cyst"))
    x, roi = features.voxel_features(hu, gland)
    k = features.feature_names().index("mean s=1 - gland")
    assert x[lesion[roi], k].mean() > x[~lesion[roi], k].mean() + 15


def test_hessian_eigenvalues_tell_a_blob_from_a_tube():
    """A bright ball curves down in all three directions, a bright tube in two (flat along
    its length), a dark ball curves up in all three; eigenvalues come in ascending order."""
    from scipy import ndimage as ndi

    z, y, x = np.indices((21, 21, 21)) - 10
    centre = np.zeros((21, 21, 21), bool)
    centre[10, 10, 10] = True
    ball = ndi.gaussian_filter(((z**2 + y**2 + x**2) <= 9).astype(np.float32) * 30, 1.5)
    tube = ndi.gaussian_filter(((y**2 + x**2) <= 4).astype(np.float32) * 30, 1.5)
    bright_ball = features.hessian_eigenvalues(ball, centre)[0]
    bright_tube = features.hessian_eigenvalues(tube, centre)[0]
    dark_ball = features.hessian_eigenvalues(-ball, centre)[0]
    assert np.all(np.diff(bright_ball) >= 0)
    assert bright_ball.max() < -0.5
    assert bright_tube[:2].max() < -0.5 and abs(bright_tube[2]) < 0.05  # flat along z
    assert dark_ball.min() > 0.5


def test_hessian_features_see_a_small_bright_cyst_as_a_blob():
    hu, gland, lesion = arrays(toy_case(3, "cyst"))
    x, roi = features.voxel_features(hu, gland)
    names = features.feature_names()
    top = x[:, names.index("hessian eig3 s=1")]  # the largest: negative only for a bright blob
    assert np.median(top[lesion[roi]]) < 0 < np.median(top[~lesion[roi]])


def test_empty_or_mismatched_pancreas_gives_clear_errors():
    hu, gland, _ = arrays(toy_case(4))
    with pytest.raises(features.EmptyPancreasError, match="empty"):
        features.voxel_features(hu, np.zeros_like(gland))
    with pytest.raises(ValueError, match="same grid"):
        features.voxel_features(hu, gland[:-1])


# ------------------------------------------------------------------------- labels, model
def test_label_sources_exact_and_copied():
    case = toy_case(5, "cyst")
    assert stage2.labels.lesion_labels(case, "exact") is case.lesion_plain
    copied = stage2.labels.lesion_labels(case, "copied")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(copied),
                                  sitk.GetArrayFromImage(case.lesion_plain))
    with pytest.raises(ValueError, match="registered, exact, copied"):
        stage2.labels.lesion_labels(case, "manual")


def test_detector_separates_toy_lesions_and_finds_them(detector):
    healthy, cyst, pdac = toy_case(100), toy_case(101, "cyst"), toy_case(102, "PDAC")
    scores = {}
    for name, case in (("healthy", healthy), ("cyst", cyst), ("pdac", pdac)):
        hu, gland, truth = arrays(case)
        score, found, probability = detector.detect(hu, gland)
        assert 0 <= score <= 1 and probability.shape == hu.shape
        scores[name] = score
        if truth.any():
            assert (found & truth).sum() > 0.5 * truth.sum()
        else:
            assert not found.any()
    assert scores["cyst"] > scores["healthy"] and scores["pdac"] > scores["healthy"]
    assert 0 < detector.operating_threshold <= 1


def test_single_class_cohort_is_refused():
    table, _ = stage2.table.training_data([toy_case(i) for i in range(6)], "exact")
    with pytest.raises(ValueError, match="healthy"):
        stage2.boosted.fit_detector(table)


def test_permutation_importances_name_every_feature(detector):
    table, _ = stage2.table.training_data(toy_cohort(6, 200), "exact")
    found = stage2.boosted.permutation_importances(detector, table, rows=3000)
    assert set(found.index) == set(features.feature_names())


# ------------------------------------------------------------------------- evaluation
def test_roc_and_sensitivity_at_specificity():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1], bool)
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.4, 0.5, 0.9, 0.95])
    assert evaluation.roc(labels, scores)["auc"] == pytest.approx(14 / 16)
    assert evaluation.sensitivity_at_specificity(labels, scores, 0.95) == pytest.approx(0.5)
    assert evaluation.sensitivity_at_specificity(labels, scores, 0.75) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="both"):
        evaluation.roc(labels[:4], scores[:4])


def test_subtype_report_and_size_sensitivity():
    import pandas as pd

    confusion, balanced = evaluation.subtype_report(["PDAC", "PDAC", "cyst", "SPT"],
                                                       ["PDAC", "cyst", "cyst", "SPT"])
    assert confusion.loc["PDAC", "cyst"] == 1 and balanced == pytest.approx((0.5 + 1 + 1) / 3)
    table = pd.DataFrame({"abnormal": [True, True, True, False], "hit": [True, False, True,
                                                                         False],
                          "diameter_mm": [7.0, 8.0, 35.0, 0.0]})
    sizes = evaluation.size_sensitivity(table)
    assert sizes["lesions"].sum() == 3 and sizes["sensitivity"].iloc[0] == 0.5


def test_detector_keeps_its_out_of_fold_training_scores(detector):
    assert detector.threshold_scores.shape == detector.threshold_abnormal.shape == (12,)
    healthy = detector.threshold_scores[~detector.threshold_abnormal]
    assert detector.operating_threshold > healthy.max() - 1e-9 or healthy.size >= 20


def test_label_mask_and_label_dice():
    cases = toy_cohort(6)
    exact, _ = stage2.table.training_data(cases, "exact")
    assert stage2.labels.label_dice(exact, exact)[exact.abnormal] == pytest.approx(1.0)
    assert np.isnan(stage2.labels.label_dice(exact, exact)[~exact.abnormal]).all()
    n = int(np.flatnonzero(exact.abnormal)[0])
    mask = stage2.labels.label_mask(exact, n)
    np.testing.assert_array_equal(mask, sitk.GetArrayFromImage(cases[n].lesion_plain) > 0)
    shifted = stage2.table.TrainingData(**{**exact.arrays(), "y": np.roll(exact.y, 1)})
    assert (stage2.labels.label_dice(shifted, exact)[exact.abnormal] < 1).all()
    other, _ = stage2.table.training_data(cases[:4], "exact")
    with pytest.raises(ValueError, match="not of the same patients"):
        stage2.labels.label_dice(other, exact)


def test_auc_interval_and_auc_by_size():
    import pandas as pd

    labels = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    scores = np.r_[np.linspace(0.3, 1, 20), np.linspace(0, 0.7, 20)]
    low, high = evaluation.auc_interval(labels, scores, n_boot=500)
    auc = evaluation.roc(labels, scores)["auc"]
    assert low < auc < high and 0.5 < low and high <= 1
    assert evaluation.auc_interval(labels, scores, n_boot=500) == (low, high)  # seeded
    perfect = evaluation.auc_interval(labels, np.r_[np.ones(20), np.zeros(20)], n_boot=50)
    assert perfect == (1.0, 1.0)
    table = pd.DataFrame({"abnormal": labels, "score": scores,
                          "diameter_mm": np.r_[np.linspace(5, 40, 20), np.zeros(20)]})
    by_size = evaluation.auc_by_size(table)
    assert list(by_size.index) == ["0-20 mm (9 lesions)", "20-40 mm (11 lesions)"]
    assert by_size.iloc[0] < by_size.iloc[1]


def test_notebook_05_computes_the_number_of_voxel_features_instead_of_typing_it():
    """The caveats of notebook 05 print how many hand-made features the detector has."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "notebooks" / "05_stage2_lesion_detection.ipynb"
            ).read_text()
    assert not re.findall(r"\d+ hand-made features", text)
    assert "hand-made voxel features" in text  # printed with the computed count


def test_out_of_fold_maps_refuse_a_one_class_or_tiny_table_clearly():
    """fit_data computes these maps before fit_detector, so they must check the table too."""
    lesions_only, _ = stage2.table.training_data([c for c in toy_cohort(9) if c.subtype], "exact")
    with pytest.raises(ValueError, match="both healthy and lesion patients"):
        stage2.boosted.out_of_fold_maps(lesions_only)
    tiny, _ = stage2.table.training_data(toy_cohort(4), "exact")
    with pytest.raises(ValueError, match="too few"):
        stage2.boosted.out_of_fold_maps(tiny)
