"""Notebook 04's checkers: the worked solution passes, each classic slip fails with a hint
that names it, and a placeholder gets "Not answered yet"."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import arr, unchanged

from helpers import checks
from helpers.exercises import nb04 as ex
from helpers.exercises.inputs import ExerciseInputError
from helpers.metrics import dice
from helpers.pipeline import stage1


@pytest.fixture
def masks():
    rng = np.random.default_rng(4)
    return [rng.random((4, 6, 6)) > 0.5 for _ in range(6)]


def test_majority_vote(masks, capsys):
    assert ex.check_majority_vote(np.mean(masks, axis=0) > 0.5, masks)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_majority_vote(None, masks)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_majority_vote(np.any(masks, axis=0), masks)
    assert "union" in capsys.readouterr().out
    assert not ex.check_majority_vote(np.all(masks, axis=0), masks)
    assert "intersection" in capsys.readouterr().out
    ties = np.mean(masks, axis=0) >= 0.5
    assert not np.array_equal(ties, np.mean(masks, axis=0) > 0.5)
    assert not ex.check_majority_vote(ties, masks)
    assert "tie" in capsys.readouterr().out
    assert not ex.check_majority_vote(np.mean(masks, axis=(1, 2)) > 0.5, masks)
    assert "shape" in capsys.readouterr().out


def test_atlas_vote_follows_the_pipelines_threshold(masks, capsys):
    threshold = stage1.THRESHOLDS["atlas"]
    share = np.mean(masks, axis=0)
    assert ex.check_atlas_vote(share >= threshold, masks, threshold)
    assert "Correct" in capsys.readouterr().out
    assert ex.check_atlas_vote(share >= threshold, masks)  # the pipeline's threshold by default
    capsys.readouterr()
    assert ex.votes_needed(6, 0.3) == 2 and ex.votes_needed(6, 0.5) == 3
    assert ex.votes_needed(5, 0.4) == 2  # a share that is exactly reachable counts (>=)
    assert not ex.check_atlas_vote(None, masks, threshold)
    assert "Not answered yet" in capsys.readouterr().out
    assert not np.array_equal(share > 0.5, share >= threshold)
    assert not ex.check_atlas_vote(share > 0.5, masks, threshold)
    assert "majority" in capsys.readouterr().out
    assert not ex.check_atlas_vote(share >= 0.5, masks, threshold)
    assert "majority" in capsys.readouterr().out
    assert not ex.check_atlas_vote(np.any(masks, axis=0), masks, threshold)
    assert "union" in capsys.readouterr().out
    assert not ex.check_atlas_vote(np.all(masks, axis=0), masks, threshold)
    assert "intersection" in capsys.readouterr().out
    assert not ex.check_atlas_vote(np.mean(masks, axis=(1, 2)) > threshold, masks, threshold)
    assert "shape" in capsys.readouterr().out
    assert not ex.check_atlas_vote("all", masks, threshold)  # never raises


def test_atlas_vote_counts_ties_at_the_threshold(capsys):
    rng = np.random.default_rng(1)
    masks = [rng.random((4, 6, 6)) > 0.5 for _ in range(5)]
    share = np.mean(masks, axis=0)
    assert (share == 0.4).any()  # two of five: exactly the threshold
    assert ex.check_atlas_vote(share >= 0.4, masks, 0.4)
    assert "at least 2 of 5" in capsys.readouterr().out
    assert not ex.check_atlas_vote(np.sum(masks, axis=0) >= 3, masks, 0.4)
    assert "majority" in capsys.readouterr().out
    assert not ex.check_atlas_vote(np.sum(masks, axis=0) >= 1, masks, 0.4)
    assert "union" in capsys.readouterr().out


@pytest.fixture(scope="module")
def validation():
    """A ball-shaped gland in soft tissue, and a probability that falls off with distance
    (noisy), so that the Dice after clean-up depends on the threshold."""
    z, y, x = np.mgrid[:14, :30, :30]
    distance = np.sqrt(((z - 7) / 4) ** 2 + ((y - 15) / 7) ** 2 + ((x - 15) / 7) ** 2)
    reference = (distance < 1).astype(np.uint8)
    rng = np.random.default_rng(0)
    probability = np.clip(1.15 - 0.55 * distance + rng.normal(0, 0.04, distance.shape), 0, 1)
    hu = np.full(distance.shape, 40.0)
    return probability, hu, reference


def test_threshold_solution_passes_and_neighbours_fail(validation, capsys):
    probability, hu, reference = validation
    scores = {t: dice(stage1.clean_mask(probability, hu, t), reference) for t in ex.CANDIDATES}
    best = max(scores, key=scores.get)
    assert ex.check_threshold(best, probability, hu, reference)
    assert "Correct" in capsys.readouterr().out
    default = stage1.THRESHOLDS["classifier"]
    near = next(round(best + d, 2) for d in (-0.05, 0.05) if round(best + d, 2) != default)
    assert scores[near] < scores[best], "the fixture must make the neighbour worse"
    assert scores[best] - scores[near] < 0.1  # near, but wrong: it must still fail
    assert not ex.check_threshold(near, probability, hu, reference)
    assert "neighbouring candidate" in capsys.readouterr().out
    assert default != best
    assert not ex.check_threshold(default, probability, hu, reference)
    assert "pipeline's default" in capsys.readouterr().out


def test_threshold_slips(validation, capsys):
    probability, hu, reference = validation
    scores = ex.threshold_scores(probability, hu, reference)
    worst = min(scores, key=scores.get)
    assert not ex.check_threshold(None, probability, hu, reference)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_threshold(worst, probability, hu, reference)
    assert "worst" in capsys.readouterr().out
    assert not ex.check_threshold(65, probability, hu, reference)
    assert "between 0 and 1" in capsys.readouterr().out
    assert not ex.check_threshold(0.333, probability, hu, reference)
    assert "not one of ex.CANDIDATES" in capsys.readouterr().out
    assert not ex.check_threshold("high", probability, hu, reference)  # never raises


def test_threshold_and_dice_needs_the_measured_dice(validation, capsys):
    probability, hu, reference = validation
    scores = ex.threshold_scores(probability, hu, reference)
    best = max(scores, key=scores.get)
    assert ex.check_threshold_and_dice(best, scores[best], probability, hu, reference)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_threshold_and_dice(None, None, probability, hu, reference)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_threshold_and_dice(best, None, probability, hu, reference)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_threshold_and_dice(best, scores[best] + 3e-4, probability, hu,
                                           reference)
    assert "rounded" in capsys.readouterr().out
    assert not ex.check_threshold_and_dice(best, 100 * scores[best], probability, hu, reference)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_threshold_and_dice(best, 0.1, probability, hu, reference)
    assert "keep the largest" in capsys.readouterr().out
    worst = min(scores, key=scores.get)
    assert not ex.check_threshold_and_dice(worst, scores[worst], probability, hu, reference)
    assert "worst" in capsys.readouterr().out  # the Dice of one's own threshold: the slip named
    assert not ex.check_threshold_and_dice(worst, scores[best], probability, hu, reference)
    out = capsys.readouterr().out
    assert "the threshold is not" in out and "worst" in out
    assert not ex.check_threshold_and_dice("high", 0.5, probability, hu, reference)  # no raise


@pytest.fixture
def volumes():
    array = np.zeros((5, 8, 8), np.uint8)
    array[1:4, 2:6, 2:6] = 1  # reference: 48 voxels
    found = array.copy()
    found[1, 2:6, 2:6] = 0  # found: 32 voxels, too small
    images = []
    for a in (found, array):
        image = sitk.GetImageFromArray(a)
        image.SetSpacing((3.0, 3.0, 3.0))
        images.append(image)
    return images


def test_volume(volumes, capsys):
    found, reference = volumes
    ml = 32 * 0.027
    pct = 100 * (32 - 48) / 48
    assert ex.check_volume(ml, pct, found, reference)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_volume(None, None, found, reference)
    assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_volume(32, pct, found, reference)
    assert "count of voxels" in capsys.readouterr().out
    assert not ex.check_volume(ml * 1000, pct, found, reference)
    assert "mm³" in capsys.readouterr().out
    assert not ex.check_volume(48 * 0.027, pct, found, reference)
    assert "reference's volume" in capsys.readouterr().out
    assert not ex.check_volume(ml, -pct, found, reference)
    assert "sign" in capsys.readouterr().out
    assert not ex.check_volume(ml, pct / 100, found, reference)
    assert "percent" in capsys.readouterr().out


def test_check_majority_vote_refuses_an_empty_list_and_masks_of_other_shapes():
    masks = [np.ones((3, 4, 5), bool), np.zeros((3, 4, 5), bool), np.ones((3, 4, 6), bool)]
    with pytest.raises(ExerciseInputError) as caught:
        ex.check_majority_vote(None, masks)
    assert "atlas_masks[2] (3, 4, 6)" in str(caught.value)
    with pytest.raises(ExerciseInputError,
                       match=r"atlas_masks is empty.*found\.masks"):
        ex.check_majority_vote(None, [])
    assert ex.check_majority_vote(np.ones((3, 4, 5), bool), masks[:2] + masks[:1])


def test_check_threshold_refuses_arrays_of_another_grid_and_an_empty_reference(toy_pdac):
    hu = arr(toy_pdac.plain)
    probability = np.zeros(hu.shape, np.float32)
    with pytest.raises(ExerciseInputError,
                       match=rf"probability \(10, {hu.shape[1]}, {hu.shape[2]}\)"):
        ex.check_threshold(0.5, probability[:10], hu, toy_pdac.pancreas_plain)
    empty = sitk.Image(toy_pdac.pancreas_plain) * 0
    with pytest.raises(ExerciseInputError,
                       match="reference is empty.*no threshold can be scored"):
        ex.check_threshold(0.5, probability, hu, empty)


def test_check_volume_refuses_masks_on_different_grids_and_an_empty_reference(toy_pdac):
    mask = toy_pdac.pancreas_plain
    shifted_mask = sitk.Image(mask)
    shifted_mask.SetOrigin(tuple(np.add(mask.GetOrigin(), (0.0, 6.0, 0.0))))
    same = unchanged(mask, shifted_mask)
    with pytest.raises(checks.GridMismatchError) as caught:  # was a silent wrong verdict
        ex.check_volume(1.0, 0.0, shifted_mask, mask)
    message = str(caught.value)
    assert "mask is not on the reference's grid: origin" in message and "resample" in message
    empty = sitk.Image(mask) * 0
    with pytest.raises(ExerciseInputError,
                       match="reference is empty.*volume error is relative"):
        ex.check_volume(0.0, 0.0, mask, empty)  # was a ZeroDivisionError
    with pytest.raises(ExerciseInputError,
                       match="mask must be a SimpleITK image.*got ndarray"):
        ex.check_volume(0.0, 0.0, arr(mask), mask)
    labels = mask + toy_pdac.lesion_plain
    with pytest.raises(checks.InputError, match="mask holds 2 different labels"):
        ex.check_volume(0.0, 0.0, labels, mask)
    ml, pct = ex.expected_volumes(mask, mask)
    assert ex.check_volume(ml, pct, mask, mask) and same()
