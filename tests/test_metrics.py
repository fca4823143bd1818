"""Unit tests for helpers.metrics (Dice, HD95, TRE, Jacobian/folding, and their errors) and the
registration grading and pair-by-pair comparison built on them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import checks, metrics, pipeline, registration
from helpers.metrics import MetricInputError
from helpers.registration import study


def image(array, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None):
    out = sitk.GetImageFromArray(np.asarray(array))
    out.SetSpacing(spacing)
    out.SetOrigin(origin)
    if direction is not None:
        out.SetDirection(direction)
    return out


def cube(start_x, size=10, shape=(20, 20, 30)):
    mask = np.zeros(shape, np.uint8)
    mask[5:5 + size, 5:5 + size, start_x:start_x + size] = 1
    return mask


def test_dice_hand_example():
    a = np.array([[1, 1, 0, 0]])
    b = np.array([[0, 1, 1, 1]])
    assert metrics.dice(a, b) == pytest.approx(2 * 1 / (2 + 3))


def test_dice_identical_disjoint_and_one_empty():
    a = cube(5)
    assert metrics.dice(image(a), image(a)) == 1.0
    assert metrics.dice(a, cube(18)) == 0.0
    assert metrics.dice(a, np.zeros_like(a)) == 0.0


def test_dice_of_one_label_in_a_label_map():
    a = np.array([[1, 2, 2, 0]])
    b = np.array([[2, 2, 1, 0]])
    assert metrics.dice(a, b, label=2) == pytest.approx(0.5)
    assert metrics.dice(a, b) == 1.0  # any non-zero label counts as foreground


def test_hausdorff95_of_a_shift_is_the_shift_in_mm():
    a, b = cube(10), cube(12)  # 2 voxels apart along x
    assert metrics.hausdorff95(a, b, spacing=(1.0, 1.0, 1.5)) == pytest.approx(3.0)
    sitk_a, sitk_b = image(a, spacing=(1.5, 1.0, 1.0)), image(b, spacing=(1.5, 1.0, 1.0))
    assert metrics.hausdorff95(sitk_a, sitk_b) == pytest.approx(3.0)
    assert metrics.hausdorff95(a, a) == 0.0


def test_tre_per_landmark():
    fixed = np.array([[0.0, 0.0, 0.0], [10.0, 5.0, -3.0]])
    moving = fixed + [1.0, 2.0, 2.0]
    identity = sitk.Transform(3, sitk.sitkIdentity)
    assert metrics.target_registration_error(identity, fixed, moving) == pytest.approx([3, 3])
    shift = sitk.TranslationTransform(3, (1.0, 2.0, 2.0))
    assert metrics.target_registration_error(shift, fixed, moving) == pytest.approx([0, 0])


def test_jacobian_of_a_scaling_respects_flipped_axes():
    flipped = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)  # like the series' CT
    ref = image(np.zeros((8, 9, 10), np.float32), spacing=(3.0, 3.0, 3.0), direction=flipped)
    stretch = sitk.AffineTransform(3)
    stretch.SetMatrix((1.1, 0, 0, 0, 1, 0, 0, 0, 1))
    det = sitk.GetArrayFromImage(metrics.jacobian_determinant(stretch, ref))
    assert det == pytest.approx(np.full(det.shape, 1.1), abs=1e-6)
    report = metrics.folding(sitk.Transform(3, sitk.sitkIdentity), ref)
    assert report.ok and report.min_jacobian == pytest.approx(1.0)


def test_jacobian_of_a_dense_field_respects_flipped_axes():
    flipped = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
    ref = image(np.zeros((8, 9, 10), np.float32), spacing=(3.0, 2.0, 2.5), direction=flipped)
    points = np.array([[ref.TransformIndexToPhysicalPoint((i, j, k)) for i in range(10)]
                       for k in range(8) for j in range(9)]).reshape(8, 9, 10, 3)
    field = np.zeros_like(points)
    field[..., 0] = 0.1 * points[..., 0]  # stretch physical x by 10 %
    disp = sitk.GetImageFromArray(field, isVector=True)
    disp.CopyInformation(ref)
    transform = sitk.DisplacementFieldTransform(disp)
    assert not transform.IsLinear()  # takes the numerical path, not the linear shortcut
    det = sitk.GetArrayFromImage(metrics.jacobian_determinant(transform, ref))
    assert det == pytest.approx(np.full(det.shape, 1.1), abs=1e-4)


def test_folding_is_detected():
    ref = image(np.zeros((10, 10, 10), np.float32))
    field = np.zeros((10, 10, 10, 3))
    field[:, :, 5:, 0] = -3.0  # the right half jumps left past its neighbours: folds
    disp = sitk.GetImageFromArray(field, isVector=True)
    report = metrics.folding(sitk.DisplacementFieldTransform(disp), ref)
    assert not report.ok and report.folded_voxels > 0 and report.min_jacobian <= 0


def test_evaluate_transfer_of_the_truth_is_perfect():
    lesion, pancreas = image(cube(8)), image(cube(5, size=14))
    points = np.array([[5.0, 6.0, 7.0], [12.0, 10.0, 8.0]])
    case = SimpleNamespace(plain=image(np.zeros((20, 20, 30), np.float32)),
                           lesion_plain=lesion, lesion_contrast=lesion, pancreas_plain=pancreas,
                           pancreas_contrast=pancreas, landmarks_plain=points,
                           landmarks_contrast=points)
    row = registration.evaluate_transfer(case, sitk.Transform(3, sitk.sitkIdentity))
    assert row["lesion_dice"] == 1.0 and row["pancreas_dice"] == 1.0
    assert row["lesion_hd95_mm"] == 0.0 and row["tre_median_mm"] == 0.0
    assert row["folded_voxels"] == 0
    assert "lesion_error_mm" not in row  # no true transform on this case


def test_lesion_error_is_the_distance_to_the_true_motion():
    lesion = image(cube(8))
    truth = sitk.TranslationTransform(3, (1.0, 0.0, 0.0))
    case = SimpleNamespace(lesion_plain=lesion, transform=truth)
    assert registration.lesion_error(case, truth) == pytest.approx(0.0)
    identity = sitk.Transform(3, sitk.sitkIdentity)
    assert registration.lesion_error(case, identity) == pytest.approx(1.0)
    healthy = SimpleNamespace(lesion_plain=image(np.zeros((4, 4, 4), np.uint8)), transform=truth)
    assert registration.lesion_error(healthy, truth) is None


def results_table():
    """Four patients x two levels: 'b' beats 'a' on three, loses one, with smaller errors."""
    import pandas as pd

    rows = []
    for motion in ("typical", "hard"):
        for seed, (da, db) in enumerate([(0.80, 0.85), (0.90, 0.92), (0.70, 0.75), (0.9, 0.88)]):
            rows += [{"motion": motion, "seed": seed, "method": "a", "lesion_dice": da,
                      "lesion_error_mm": 1.0},
                     {"motion": motion, "seed": seed, "method": "b", "lesion_dice": db,
                      "lesion_error_mm": 0.5}]
        rows.append({"motion": motion, "seed": 9, "method": "a", "lesion_dice": None,
                     "lesion_error_mm": None})  # a healthy patient is left out
    return pd.DataFrame(rows)


def test_paired_comparison_counts_wins_and_judges_clearly_better():
    table = study.paired_comparison(results_table(), "b", baseline="a")
    hard = table.loc["hard"]
    assert (hard["pairs"], hard["Dice wins"], hard["Dice losses"], hard["Dice ties"]) == (
        4, 3, 1, 0)
    assert hard["median Dice gain"] == pytest.approx(0.865 - 0.85)
    assert hard["smaller lesion error"] == 4 and study.clearly_better(hard)
    reverse = study.paired_comparison(results_table(), "a", baseline="b").loc["hard"]
    assert not study.clearly_better(reverse)
    with pytest.raises(MetricInputError, match="no rows for method 'c'"):
        study.paired_comparison(results_table(), "c", baseline="a")


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.dice(np.zeros(4), np.zeros(4)), "both masks are empty"),
    (lambda: metrics.dice(image(cube(5)), image(cube(5), spacing=(2, 1, 1))), "different grids"),
    (lambda: metrics.dice(np.ones(3), np.ones(4)), "shapes differ"),
    (lambda: metrics.dice(image(cube(5)), cube(5)), "not one of each"),
    (lambda: metrics.dice(np.array([0.2, 1.0]), np.array([0, 1])), "fractional"),
    (lambda: metrics.hausdorff95(cube(5), np.zeros((20, 20, 30))), "one is empty"),
    (lambda: metrics.hausdorff95(cube(5), cube(6), spacing=(1, 1)), "spacing"),
    (lambda: metrics.target_registration_error(sitk.Transform(), np.zeros((2, 3)),
                                               np.zeros((3, 3))), "differ in length"),
    (lambda: metrics.target_registration_error(sitk.Transform(), np.zeros((2, 2)),
                                               np.zeros((2, 2))), "N x 3"),
    (lambda: metrics.target_registration_error("identity", np.zeros((1, 3)),
                                               np.zeros((1, 3))), "SimpleITK transform"),
    (lambda: metrics.folding(sitk.Transform(3, sitk.sitkIdentity), image(np.zeros((4, 4, 4))),
                             mask=np.zeros((4, 4, 4))), "empty"),
    (lambda: registration.lesion_error(SimpleNamespace(lesion_plain=image(cube(5))), "identity"),
     "SimpleITK transform"),
    (lambda: study.paired_comparison(results_table().drop(columns="seed"), "b"), "seed"),
])
def test_bad_input_gives_a_clear_error(call, message):
    with pytest.raises(MetricInputError, match=message):
        call()


def test_notebook_03_dice_checker_accepts_dice_and_explains_jaccard(capsys):
    from helpers.exercises import nb03 as ex

    truth, moved = ex.dice_example()
    assert ex.check_dice(metrics.dice(truth, moved), truth, moved)
    assert not ex.check_dice(6 / 15, truth, moved)  # intersection over union
    assert "Jaccard" in capsys.readouterr().out
    assert not ex.check_dice(None, truth, moved)


# ------------------------------------------------------- bad input: a clear error (issue 20)

def test_metrics_refuse_nan_and_say_what_differs_between_grids():
    a = np.zeros((4, 4, 4))
    a[1, 1, 1] = np.nan
    with pytest.raises(metrics.MetricInputError, match="NaN"):
        metrics.dice(a, np.ones((4, 4, 4)))
    one = sitk.GetImageFromArray(np.ones((4, 4, 4), np.uint8))
    other = sitk.Image(one)
    other.SetOrigin((0.0, 6.0, 0.0))
    with pytest.raises(checks.GridMismatchError, match=r"different grids: origin"):
        metrics.dice(one, other)
    with pytest.raises(metrics.MetricInputError, match="different grids"):
        metrics.dice(one, other)


def test_metrics_refuse_masks_that_do_not_hold_numbers():
    words = np.full((2, 2), "x")
    with pytest.raises(metrics.MetricInputError, match="must hold numbers.*<U1"):
        metrics.dice(words, np.ones((2, 2)))


def test_the_jacobian_of_a_huge_grid_is_refused_before_the_field_is_built():
    reference = sitk.Image([1000, 1000, 10], sitk.sitkUInt8)  # 10 M voxels: about 2.3 GB
    bspline = sitk.BSplineTransformInitializer(reference, [2, 2, 2])
    with pytest.raises(pipeline.ScanTooLargeError, match="reference.*Jacobian"):
        metrics.folding(bspline, reference)
