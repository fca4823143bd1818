"""Notebook 08's checkers: right answers pass, typical mistakes get the matching hint. The
checkers need no PyTorch: they work on shapes, settings and scores."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from helpers.exercises import nb08 as ex
from helpers.pipeline.stage2.unet import CROP_SHAPE

CHANNELS, STRIDES = (8, 16, 32), (2, 2)
BOX = tuple(s + 4 for s in CROP_SHAPE)  # a stored box: the crop plus 2 voxels on every side


def test_bottleneck_shape_checker(capsys):
    right = ex.bottleneck_shape(2, CHANNELS, STRIDES, BOX)
    assert right == (2, 32, *(s // 4 for s in BOX))
    assert ex.check_bottleneck_shape(right, 2, CHANNELS, STRIDES, BOX)
    assert "Correct" in capsys.readouterr().out
    assert ex.check_bottleneck_shape(list(right), 2, CHANNELS, STRIDES, BOX)  # a list is fine
    assert not ex.check_bottleneck_shape(None, 2, CHANNELS, STRIDES, BOX)
    assert "tuple of five" in capsys.readouterr().out
    assert not ex.check_bottleneck_shape("shape", 2, CHANNELS, STRIDES, BOX)
    assert "five whole numbers" in capsys.readouterr().out
    assert not ex.check_bottleneck_shape(right[1:], 2, CHANNELS, STRIDES, BOX)
    assert "a 3-D batch has five" in capsys.readouterr().out
    assert not ex.check_bottleneck_shape((4, *right[1:]), 2, CHANNELS, STRIDES, BOX)
    assert "the batch" in capsys.readouterr().out
    assert not ex.check_bottleneck_shape((2, 8, *right[2:]), 2, CHANNELS, STRIDES, BOX)
    assert "last (largest) channel count" in capsys.readouterr().out
    assert not ex.check_bottleneck_shape((2, 32, *BOX), 2, CHANNELS, STRIDES, BOX)
    assert "halves" in capsys.readouterr().out
    crop_answer = ex.bottleneck_shape(2, CHANNELS, STRIDES, CROP_SHAPE)
    assert not ex.check_bottleneck_shape(crop_answer, 2, CHANNELS, STRIDES, BOX)
    assert "bottleneck of the" in capsys.readouterr().out
    assert not ex.check_bottleneck_shape((2, 32, *(s // 2 for s in BOX)), 2, CHANNELS, STRIDES,
                                         BOX)
    assert "product of the strides" in capsys.readouterr().out


def test_bottleneck_shape_checker_gives_a_hint_for_what_is_not_a_shape(capsys):
    right = ex.bottleneck_shape(2, CHANNELS, STRIDES, BOX)
    assert ex.check_bottleneck_shape(np.array(right), 2, CHANNELS, STRIDES, BOX)
    capsys.readouterr()
    for answer in ((*right, 1), (2, 32, "z", 4, 4), (2, 32, float("nan"), 4, 4),
                   sitk.Image([2, 2, 2], sitk.sitkUInt8)):
        assert not ex.check_bottleneck_shape(answer, 2, CHANNELS, STRIDES, BOX)
        assert "five whole numbers" in capsys.readouterr().out, answer


def test_bottleneck_shape_checker_refuses_the_shapes_the_notebook_prints(capsys):
    """The cell prints the boxes' shape, and an earlier one the shapes of a forward pass on
    four crops (two input channels, one voxel logit, one patient logit): none is the answer."""
    printed = {(2, 2, *BOX): "last (largest) channel count",
               (4, 2, *CROP_SHAPE): "the batch", (4, 1, *CROP_SHAPE): "the batch",
               (4, 1): "a 3-D batch has five"}
    for shape, hint in printed.items():
        assert not ex.check_bottleneck_shape(shape, 2, CHANNELS, STRIDES, BOX)
        assert hint in capsys.readouterr().out, shape


def test_head_parameters_checker(capsys):
    assert ex.head_parameters(CHANNELS) == 33
    assert ex.check_head_parameters(33, CHANNELS, 33)
    assert "Correct" in capsys.readouterr().out
    assert ex.check_head_parameters(33, CHANNELS)  # without PyTorch's count
    assert not ex.check_head_parameters(None, CHANNELS, 33)
    assert "one whole number" in capsys.readouterr().out
    assert not ex.check_head_parameters(32, CHANNELS, 33)
    assert "bias" in capsys.readouterr().out
    assert not ex.check_head_parameters(64, CHANNELS, 33)
    assert "one number per channel" in capsys.readouterr().out
    assert not ex.check_head_parameters(1000, CHANNELS, 33)
    assert "max-pooling has no parameters" in capsys.readouterr().out


def test_head_parameters_checker_takes_pytorchs_count_and_only_a_whole_count(capsys):
    assert ex.check_head_parameters(34, CHANNELS, measured=34)  # PyTorch's count wins
    assert "34 parameters" in capsys.readouterr().out
    assert not ex.check_head_parameters(33, CHANNELS, measured=34)
    assert "bias" in capsys.readouterr().out
    assert not ex.check_head_parameters(33.4, CHANNELS, 33)  # a count is exact
    assert "max-pooling has no parameters" in capsys.readouterr().out
    assert not ex.check_head_parameters(120_000, CHANNELS, 33)  # the whole network's, printed
    assert "max-pooling has no parameters" in capsys.readouterr().out
    assert not ex.check_head_parameters(..., CHANNELS, 33)
    assert "one whole number" in capsys.readouterr().out


def test_rates_call_a_score_at_the_threshold_abnormal():
    scores, abnormal = [0.1, 0.5, 0.9, 0.3], [False, True, True, False]
    assert ex.rates(scores, abnormal, 0.5) == (1.0, 1.0)
    assert ex.rates(scores, abnormal, 0.3) == (1.0, 0.5)  # 0.3 itself is called abnormal
    assert ex.rates(scores, abnormal, 0.6) == (0.5, 1.0)


# 20 healthy and 10 lesion validation patients: 95 % specificity allows one false alarm.
HEALTHY = np.linspace(0.05, 0.6, 20)  # the two highest: 0.6 and 0.571...
LESION = np.array([0.1, 0.3, 0.5, 0.58, 0.65, 0.7, 0.8, 0.85, 0.9, 0.95])
SCORES = np.concatenate([HEALTHY, LESION])
ABNORMAL = np.concatenate([np.zeros(20, bool), np.ones(10, bool)])


def test_validation_gap_follows_the_target():
    bar, top = ex.validation_gap(SCORES, ABNORMAL, 0.95)
    assert bar == HEALTHY[-2] and top == 0.58
    assert ex.validation_gap(SCORES, ABNORMAL, 1.0) == (0.6, 0.65)


def test_validation_threshold_checker(capsys):
    bar, top = ex.validation_gap(SCORES, ABNORMAL, 0.95)
    middle = (bar + top) / 2
    assert ex.check_validation_threshold(middle, SCORES, ABNORMAL, 0.95)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_validation_threshold(None, SCORES, ABNORMAL, 0.95)
    assert "replace None" in capsys.readouterr().out
    assert not ex.check_validation_threshold(57.6, SCORES, ABNORMAL, 0.95)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_validation_threshold(top, SCORES, ABNORMAL, 0.95)  # the detector's rule
    assert "middle" in capsys.readouterr().out
    assert not ex.check_validation_threshold(middle + 0.002, SCORES, ABNORMAL, 0.95)
    assert "close" in capsys.readouterr().out
    assert not ex.check_validation_threshold(0.5, SCORES, ABNORMAL, 0.95)
    assert "below 0.95" in capsys.readouterr().out
    assert not ex.check_validation_threshold(0.62, SCORES, ABNORMAL, 0.95)
    assert "stricter than needed" in capsys.readouterr().out
    assert not ex.check_validation_threshold(0.625, SCORES, ABNORMAL, 0.95)  # no false alarm
    assert "allows no false alarm" in capsys.readouterr().out


def test_validation_threshold_checker_refuses_the_healthy_scores_the_notebook_prints(capsys):
    """The cell prints the four highest healthy scores to three decimals: each is a threshold
    with too many false alarms or needlessly strict, never the middle of the gap."""
    for printed in np.round(np.sort(HEALTHY)[-4:], 3):
        assert not ex.check_validation_threshold(printed, SCORES, ABNORMAL, 0.95)
        out = capsys.readouterr().out
        assert "below 0.95" in out or "stricter than needed" in out, printed
    assert not ex.check_validation_threshold(float("nan"), SCORES, ABNORMAL, 0.95)
    assert "replace None" in capsys.readouterr().out

