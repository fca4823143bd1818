"""Stage 1 (helpers.pipeline.stage1, .atlas, .voxel_classifier): finding the pancreas on plain CT.

Small models keep these tests fast (a forest of a few trees on two patients, two atlases);
the quality targets are measured by benchmarks/stage1.py, not here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import nan_slice, raw_values, toy_case

from helpers import cohorts, data, pipeline
from helpers.metrics import dice
from helpers.pipeline import evaluation, grid, stage1
from helpers.pipeline.stage1 import atlas, voxel_classifier
from helpers.simulate import named_cohort


def arr(image):
    return sitk.GetArrayFromImage(image)


@pytest.fixture(scope="module")
def held_out():
    return named_cohort("stage1 test", 1)[0]


@pytest.fixture(scope="module")
def small_forest():
    # Four patients: the stage-1 cohorts' glands run from normal to fatty, and a forest that saw
    # two of them may miss a third. Quality is measured by benchmarks/stage1.py, not here.
    return voxel_classifier.fit_voxel_classifier(
        named_cohort("stage1 labelled", 4), n_estimators=12,
                                                 max_depth=10)


@pytest.fixture(scope="module")
def full_ct():
    try:
        return data.load_ct("totalsegmentator_example_ct")
    except data.DataError as exc:
        pytest.skip(f"real CT not available: {exc}")


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin())
            and np.allclose(a.GetDirection(), b.GetDirection()))


# ------------------------------------------------------------------------- the contract
def test_segment_pancreas_gives_a_binary_mask_on_the_input_grid(held_out, small_forest):
    before = arr(held_out.plain).copy()
    mask = pipeline.segment_pancreas(held_out.plain, "classifier", classifier=small_forest)
    assert isinstance(mask, sitk.Image) and mask.GetPixelID() == sitk.sitkUInt8
    assert same_grid(mask, held_out.plain)
    assert set(np.unique(arr(mask))) == {0, 1}
    assert dice(arr(mask), arr(held_out.pancreas_plain)) > 0.5  # a small, quick forest
    np.testing.assert_array_equal(arr(held_out.plain), before)  # input never modified


def test_any_orientation_and_voxel_size_is_accepted(held_out, two_atlases):
    """An LPS scan with 2 mm voxels gets its mask on its own grid, in the right place (the
    atlas method: the voxel classifier reads texture, which resampling smooths)."""
    lps = sitk.DICOMOrient(held_out.plain, "LPS")
    size = [int(n * 1.5) for n in lps.GetSize()]
    fine = sitk.Resample(lps, size, sitk.Transform(), sitk.sitkLinear, lps.GetOrigin(),
                         [2.0] * 3, lps.GetDirection(), -1024.0)
    mask = pipeline.segment_pancreas(fine, "atlas", atlases=two_atlases)
    assert same_grid(mask, fine)
    back = sitk.Resample(mask, held_out.plain, sitk.Transform(), sitk.sitkNearestNeighbor)
    assert dice(arr(back), arr(held_out.pancreas_plain)) > 0.45


def test_run_stage1_keeps_score_volume_and_time(held_out, small_forest):
    result = pipeline.run_stage1(held_out.plain, "classifier", classifier=small_forest)
    score = arr(result.score)
    assert score.min() >= 0 and score.max() <= 1 and score.max() > 0.5
    voxels = arr(result.mask).sum()
    assert result.volume_ml == pytest.approx(voxels * 27 / 1000, rel=1e-6)
    assert result.seconds > 0 and result.method == "classifier"


# ------------------------------------------------------------------------- bad input
def test_a_normalised_image_is_refused(held_out):
    with pytest.raises(pipeline.NotCTError, match=r"normalised \(0..1\)"):
        pipeline.segment_pancreas(sitk.RescaleIntensity(held_out.plain, 0.0, 1.0))


def test_raw_stored_values_are_refused_with_the_rescale_hint(held_out):
    stored = sitk.Cast(sitk.Clamp(held_out.plain + 1024.0, lowerBound=0.0, upperBound=4095.0),
                       sitk.sitkUInt16)
    with pytest.raises(pipeline.NotCTError, match="RescaleSlope"):
        pipeline.segment_pancreas(stored)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((30, 100, 100)), "SimpleITK image"),
    (sitk.Image([64, 64], sitk.sitkFloat32), "3D scan"),
    (sitk.Image([64, 64, 20], sitk.sitkVectorFloat32, 3), "several values per voxel"),
])
def test_other_non_ct_input_gets_a_clear_error(bad, message):
    with pytest.raises(pipeline.NotCTError, match=message):
        pipeline.segment_pancreas(bad)


def test_unknown_method_lists_the_valid_ones(held_out):
    with pytest.raises(ValueError, match="classifier, atlas"):
        pipeline.segment_pancreas(held_out.plain, "unet")


def test_a_thin_slab_is_refused_before_any_work(held_out):
    with pytest.raises(pipeline.PancreasNotFoundError, match="only 30 mm head-to-foot"):
        pipeline.segment_pancreas(held_out.plain[:, :, 10:20])


@pytest.fixture(scope="module")
def two_atlases():
    return atlas.atlases_from_cases(named_cohort("stage1 labelled", 2))


def test_a_pelvis_scan_says_the_pancreas_was_not_found(full_ct, small_forest, two_atlases):
    """The real scan's lowest 30 slices (pelvis, 90 mm): CT-like, but no pancreas there.
    Both methods must say so rather than return a mask of something else."""
    pelvis = full_ct[:, :, 0:30]
    stage1.check_ct_like(pelvis)  # it is a perfectly good CT ...
    with pytest.raises(pipeline.PancreasNotFoundError, match="upper abdomen"):
        pipeline.segment_pancreas(pelvis, "classifier", classifier=small_forest)
    with pytest.raises(pipeline.PancreasNotFoundError, match="atlases could not be matched"):
        pipeline.segment_pancreas(pelvis, "atlas", atlases=two_atlases)


def test_a_whole_trunk_scan_is_refused_with_a_cropping_hint(full_ct):
    with pytest.raises(pipeline.PancreasNotFoundError, match="covers 336 mm.*Crop the scan"):
        pipeline.segment_pancreas(full_ct)


def test_an_empty_result_is_an_error_not_an_empty_mask(small_forest):
    """A water cylinder in air: a valid CT of nothing, so the segmentation comes out empty."""
    z, y, x = np.indices((30, 101, 122))
    phantom = np.where((y - 50) ** 2 + (x - 61) ** 2 < 45 ** 2, 0.0, -1000.0)
    image = sitk.GetImageFromArray(phantom.astype(np.float32))
    image.SetSpacing((3.0, 3.0, 3.0))
    with pytest.raises(pipeline.PancreasNotFoundError, match="empty result"):
        pipeline.segment_pancreas(image, "classifier", classifier=small_forest)
    with pytest.raises(pipeline.PancreasNotFoundError, match="empty result"):
        stage1.check_result(np.zeros((4, 4, 4), bool), (3.0, 3.0, 3.0))
    with pytest.raises(pipeline.PancreasNotFoundError, match="outside the plausible"):
        stage1.check_result(np.ones((2, 2, 2), bool), (3.0, 3.0, 3.0))


def test_atlas_votes_names_the_image_not_the_registrations_fixed(toy_pdac):
    broken = nan_slice(toy_pdac.plain)
    atlases = atlas.atlases_from_cases([toy_case(61)])

    def no_registration(*args, **kwargs):
        raise AssertionError("registered before the image was checked")

    with pytest.raises(pipeline.NotCTError) as caught:
        atlas.atlas_votes(broken, atlases, register=no_registration)
    message = str(caught.value)
    assert message.startswith("the image holds 1080 NaN") and "nan_to_num" in message
    assert "fixed" not in message  # was "fixed contains NaN": register()'s argument
    with pytest.raises(pipeline.InputError, match="no atlases given.*atlases_from_cases"):
        atlas.atlas_votes(toy_pdac.plain, [])


def test_segment_pancreas_on_large_voxels_blames_the_spacing_not_the_framing(toy_pdac):
    big = sitk.Image(toy_pdac.plain)
    big.SetSpacing((30.0, 30.0, 30.0))  # fits in memory, but no CT has such voxels
    with pytest.raises(pipeline.NotCTError) as caught:
        pipeline.segment_pancreas(big)
    message = str(caught.value)
    assert "voxels are (30.0, 30.0, 30.0) mm" in message and "SetSpacing" in message
    assert "Cropping would not help" in message and "Crop the scan" not in message


def test_an_8_bit_display_image_and_an_unknown_method_are_named(toy_pdac):
    display = sitk.Cast(sitk.RescaleIntensity(toy_pdac.plain, 0, 255), sitk.sitkUInt8)
    with pytest.raises(pipeline.NotCTError) as caught:
        pipeline.segment_pancreas(display)
    message = str(caught.value)
    assert "values run from 0 to 255 in 8-bit voxels" in message
    assert "display image" in message and "lost the Hounsfield units" in message
    assert "helpers.data.load_ct" in message
    with pytest.raises(pipeline.InputError, match="unknown method 'magic'; choose one of"):
        pipeline.segment_pancreas(toy_pdac.plain, "magic")


def test_the_real_ct_in_raw_stored_values_is_refused_by_stage_1(ct_sm):
    for below in (None, -1050.0):
        with pytest.raises(pipeline.NotCTError, match="raw stored values"):
            pipeline.segment_pancreas(raw_values(ct_sm, below))


# ------------------------------------------------------------------------- building blocks
def test_clean_mask_applies_the_intensity_and_morphology_rules():
    hu = np.full((12, 40, 40), 40.0, np.float32)
    score = np.zeros_like(hu)
    score[2:10, 5:20, 5:20] = 0.9  # the big piece, with a hole in one slice
    score[5, 10:13, 10:13] = 0.1
    score[2:10, 25:32, 25:32] = 0.9  # a second piece, about 20 % of the first: kept
    score[1, 36, 36] = 0.9  # one stray voxel: dropped
    hu[:, 0:24, 15:24] = -150.0  # fat over one end of the big piece: that end is dropped
    mask = stage1.clean_mask(score, hu, 0.5)
    assert mask[5, 11, 11]  # hole filled
    assert mask[4, 28, 28]  # second piece kept
    assert not mask[1, 36, 36]
    assert not mask[6, 10, 17]  # fat (rule applies to lightly smoothed HU)
    assert mask[6, 10, 8]


def test_working_grid_round_trip_is_exact_for_3mm_input(held_out):
    working = grid.to_working_grid(held_out.pancreas_plain)
    back = grid.to_input_grid(working, held_out.pancreas_plain)
    np.testing.assert_array_equal(arr(back), arr(held_out.pancreas_plain))


def test_feature_names_match_the_feature_columns(held_out):
    features = voxel_classifier.feature_maps(arr(held_out.plain))
    assert features.shape == (*arr(held_out.plain).shape, len(voxel_classifier.feature_map_names()))
    position = features[..., -3:]
    assert position.min() < 0.05 and position.max() > 0.95  # body box spans 0..1


def test_position_features_point_the_way_their_names_say(held_out):
    """Whatever the input's orientation, the working grid runs left->right, back->front and
    foot->head (LPS: x falls, y falls, z rises as the feature grows)."""
    working = grid.to_working_grid(sitk.DICOMOrient(held_out.plain, "LPS"))
    features = voxel_classifier.feature_maps(arr(working))
    for column, axis, sign in ((-3, 0, -1), (-2, 1, -1), (-1, 2, +1)):
        values = features[..., column]
        low = working.TransformIndexToPhysicalPoint(
            [int(v) for v in np.unravel_index(np.argmin(values), values.shape)[::-1]])
        high = working.TransformIndexToPhysicalPoint(
            [int(v) for v in np.unravel_index(np.argmax(values), values.shape)[::-1]])
        assert sign * (high[axis] - low[axis]) > 0, voxel_classifier.feature_map_names()[column]


def test_classifier_fit_is_deterministic(held_out, small_forest):
    again = voxel_classifier.fit_voxel_classifier(
        named_cohort("stage1 labelled", 4), n_estimators=12,
                                                  max_depth=10)
    hu = arr(held_out.plain)[10:14]
    np.testing.assert_array_equal(small_forest.probability(hu), again.probability(hu))


def test_held_out_patients_were_never_atlases_or_training_data(monkeypatch):
    test_seeds = {c.seed for c in named_cohort("stage1 test", 3)}
    assert not test_seeds & set(cohorts.patient_seeds("stage1 labelled"))
    same = replace(cohorts.cohort("stage1 test"), seed=cohorts.cohort("stage1 labelled").seed)
    monkeypatch.setitem(cohorts.COHORTS, "stage1 test", same)
    with pytest.raises(ValueError, match="both the 'stage1 labelled' and the 'stage1 test'"):
        named_cohort("stage1 test", 3)


def test_atlas_votes_count_the_atlases(held_out):
    """With an identity 'registration' the votes are the mean of the atlas masks."""
    cases = named_cohort("stage1 labelled", 3)
    atlases = atlas.atlases_from_cases(cases)

    def identity(fixed, moving, kind, initial):
        assert isinstance(initial, sitk.Transform)  # every atlas starts body-centre aligned
        return sitk.Transform(3, sitk.sitkIdentity)

    def warp(mask, transform, reference):
        return sitk.Resample(mask, reference, transform, sitk.sitkNearestNeighbor)

    result = atlas.atlas_votes(held_out.plain, atlases, register=identity, warp=warp)
    expected = np.mean([arr(c.pancreas_plain) > 0 for c in cases], axis=0)
    np.testing.assert_allclose(result.votes, expected)
    assert len(result.masks) == len(result.transforms) == 3
    with pytest.raises(ValueError, match="no atlases"):
        atlas.atlas_votes(held_out.plain, [], register=identity, warp=warp)


def test_initial_alignment_puts_body_centres_together(held_out):
    one = atlas.atlases_from_cases(named_cohort("stage1 labelled", 1))[0]
    moved = sitk.Image(held_out.plain)
    moved.SetOrigin(np.add(moved.GetOrigin(), (40.0, -25.0, 60.0)))  # another table position
    shift = atlas.initial_alignment(moved, one)
    centre = atlas.body_centroid_mm(moved)
    landed = np.array(shift.TransformPoint(tuple(centre)))
    np.testing.assert_allclose(landed, one.centre_mm, atol=1e-6)


def test_multi_atlas_finds_the_pancreas_after_a_change_of_table_position(held_out,
                                                                         two_atlases):
    """Real notebook-03 registration with two atlases; the scan's header origin moved by
    centimetres (as for another patient on another day) must not matter."""
    moved = sitk.Image(held_out.plain)
    moved.SetOrigin(np.add(moved.GetOrigin(), (40.0, -25.0, 60.0)))
    result = pipeline.run_stage1(moved, "atlas", atlases=two_atlases)
    assert same_grid(result.mask, moved) and result.method == "atlas"
    # Two atlases only (the default uses six): in place, if coarser than the default.
    assert dice(arr(result.mask), arr(held_out.pancreas_plain)) > 0.45
    assert set(np.unique(arr(result.score))) <= {0.0, 0.5, 1.0}  # votes of two atlases


def test_atlas_similarity_is_high_for_a_matching_scan(held_out, two_atlases):
    found = atlas.atlas_votes(held_out.plain, two_atlases)
    assert min(found.similarity) > stage1.MIN_ATLAS_SIMILARITY
    hu = arr(held_out.plain)
    region = arr(held_out.pancreas_plain) > 0
    assert atlas.local_correlation(hu, hu, region) == pytest.approx(1.0)
    assert atlas.local_correlation(hu, -hu, region) == pytest.approx(-1.0)


def test_measure_reports_dice_hd95_volume_error_and_lesion_coverage():
    case = named_cohort("stage1 test", 4)[-1]
    if case.subtype is None:  # the plan alternates; pick a lesion case either way
        case = next(c for c in named_cohort("stage1 test", 4) if c.subtype)
    truth, lesion = case.pancreas_plain, case.lesion_plain
    same = pipeline.measure(truth, truth, lesion)
    assert same["dice"] == 1.0 and same["hd95_mm"] == 0.0 and same["volume_error_pct"] == 0.0
    assert same["lesion_in_mask_pct"] == 100.0 and same["lesion_in_box_pct"] == 100.0
    shrunk = sitk.BinaryErode(truth, [1, 1, 1])
    scores = pipeline.measure(shrunk, truth, lesion)
    assert 0 < scores["dice"] < 1 and scores["hd95_mm"] >= 3.0  # one 3 mm voxel layer
    assert scores["volume_error_pct"] < 0
    assert scores["lesion_in_mask_pct"] < 100.0 and scores["lesion_in_box_pct"] == 100.0
    empty = pipeline.measure(truth * 0, truth, lesion)
    assert empty["dice"] == 0.0 and np.isnan(empty["hd95_mm"])
    assert empty["volume_error_pct"] == -100.0 and empty["lesion_in_box_pct"] == 0.0


def test_evaluate_counts_a_not_found_as_a_miss(held_out):
    def refuse(plain):
        raise pipeline.PancreasNotFoundError("nothing here")

    kept = {}
    rows = evaluation.evaluate_stage1(refuse, [held_out], "refuses", keep=kept)
    assert rows[0]["dice"] == 0.0 and rows[0]["method"] == "refuses"
    assert arr(kept[held_out.seed]).sum() == 0
    table = evaluation.summarise_stage1(__import__("pandas").DataFrame(rows))
    assert table.loc["refuses", "median_dice"] == 0.0


def test_reframe_keeps_voxels_but_changes_the_framing(held_out):
    moved = stage1.reframe_case(held_out)
    size = held_out.plain.GetSize()
    assert moved.plain.GetSize() == (size[0] - 12, size[1], size[2] - 6)
    np.testing.assert_array_equal(arr(moved.pancreas_plain),
                                  arr(held_out.pancreas_plain)[:size[2] - 6, :, 12:])
    assert not np.allclose(moved.plain.GetOrigin(), held_out.plain.GetOrigin())


# ------------------------------------------------------------------------- exercise checkers
def test_majority_vote_checker_accepts_the_rule_and_explains_common_slips(capsys):
    from helpers.exercises import nb04 as ex

    rng = np.random.default_rng(0)
    masks = [rng.random((4, 5, 6)) > 0.5 for _ in range(4)]  # 4 atlases: ties happen
    votes = np.mean(masks, axis=0)
    assert (votes == 0.5).any()  # the test needs ties
    assert ex.check_majority_vote(votes > 0.5, masks)
    assert not ex.check_majority_vote(None, masks)
    assert not ex.check_majority_vote(np.any(masks, axis=0), masks)
    assert "union" in capsys.readouterr().out
    assert not ex.check_majority_vote(votes >= 0.5, masks)
    assert "tie" in capsys.readouterr().out
    assert not ex.check_majority_vote(votes[0], masks)
    assert "shape" in capsys.readouterr().out


def test_threshold_checker_accepts_the_best_grid_threshold(capsys):
    from helpers.exercises import nb04 as ex

    truth = np.zeros((10, 30, 30), bool)
    truth[3:7, 8:20, 8:20] = True
    hu = np.full(truth.shape, 30.0, np.float32)
    # A blurred probability: the right threshold recovers the box, a low one bloats it.
    from scipy import ndimage

    prob = ndimage.gaussian_filter(truth.astype(np.float32), 1.5)
    reference = sitk.GetImageFromArray(truth.astype(np.uint8))
    scores = ex.threshold_scores(prob, hu, reference)
    best = max(scores, key=scores.get)
    assert ex.check_threshold(best, prob, hu, reference)
    worst = min(scores, key=scores.get)
    assert scores[worst] < scores[best] - 0.01
    assert not ex.check_threshold(worst, prob, hu, reference)
    assert not ex.check_threshold(None, prob, hu, reference)
    assert not ex.check_threshold(7, prob, hu, reference)


def test_volume_checker_knows_units_and_signs(held_out, capsys):
    from helpers.exercises import nb04 as ex

    truth = held_out.pancreas_plain
    mask = sitk.BinaryErode(truth, [1, 1, 1])
    ml, pct = ex.expected_volumes(mask, truth)
    voxels = int(arr(mask).sum())
    assert ml == pytest.approx(voxels * 27 / 1000) and pct < 0
    assert ex.check_volume(ml, pct, mask, truth)
    assert not ex.check_volume(voxels, pct, mask, truth)
    assert "count of voxels" in capsys.readouterr().out
    assert not ex.check_volume(ml * 1000, pct, mask, truth)
    assert "mm³" in capsys.readouterr().out
    assert not ex.check_volume(ml, -pct, mask, truth)
    assert "sign" in capsys.readouterr().out
