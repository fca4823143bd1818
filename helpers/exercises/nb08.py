"""Checkers for notebook 08 (stage 2 with a small neural network).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from what
is passed in (the crop shape, the network's settings, the scores), never typed in.
"""

from __future__ import annotations

import numpy as np

from ..pipeline.stage2.unet import CROP_SHAPE
from .feedback import close_to, feedback, is_answered
from .nb05 import rates
from .nb07 import MIDDLE_TOLERANCE, score_gap
from .quiz import Question


def bottleneck_shape(batch: int, channels, strides, crop_shape) -> tuple[int, ...]:
    """The shape of a U-Net's bottleneck output: the last channel count, each spatial size
    divided by the product of the strides."""
    factor = int(np.prod(strides))
    return (int(batch), int(channels[-1]), *(int(s) // factor for s in crop_shape))


def check_bottleneck_shape(answer, batch: int, channels, strides, crop_shape) -> bool:
    """Exercise 1: the bottleneck's output shape ``(batch, channels, z, y, x)``."""
    expected = bottleneck_shape(batch, channels, strides, crop_shape)
    if not is_answered(answer):
        return feedback(False, "", "replace None with a tuple of five whole numbers: (batch, "
                        "channels, z, y, x).")
    if not isinstance(answer, (tuple, list, np.ndarray)) or np.size(answer) > 5:
        # anything else (a SimpleITK image would be read pixel by pixel) is not a shape
        return feedback(False, "", "give a tuple of five whole numbers, e.g. (1, 2, 3, 4, 5).")
    try:
        answer = tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        return feedback(False, "", "give a tuple of five whole numbers, e.g. (1, 2, 3, 4, 5).")
    if len(answer) != 5:
        return feedback(False, "", f"{len(answer)} numbers; a 3-D batch has five: batch, "
                        "channels and the three spatial sizes [z, y, x].")
    if answer[0] != expected[0]:
        return feedback(False, "", f"the first number is the batch: {expected[0]} crops.")
    if answer[1] != expected[1]:
        return feedback(False, "", f"the bottleneck has the last (largest) channel count of "
                        f"channels={tuple(channels)}, not {answer[1]}.")
    if answer[2:] == tuple(crop_shape):
        return feedback(False, "", "those are the input's own sizes; every stride of 2 halves "
                        "each spatial size on the way down.")
    if (tuple(crop_shape) != tuple(CROP_SHAPE)
            and answer[2:] == bottleneck_shape(batch, channels, strides, CROP_SHAPE)[2:]):
        return feedback(False, "", f"that is the bottleneck of the {CROP_SHAPE} crop; the "
                        f"input here is {tuple(crop_shape)}: halve its own sizes.")
    if answer[2:] != expected[2:]:
        return feedback(False, "", f"divide each crop size {tuple(crop_shape)} by the product "
                        f"of the strides {tuple(strides)}.")
    return feedback(True, f"{expected}: each of the {len(strides)} stride-2 steps halves the "
                    f"grid, so one bottleneck voxel summarises {int(np.prod(strides))} x 3 mm = "
                    f"{3 * int(np.prod(strides))} mm of the input in each direction.", "")


def head_parameters(channels) -> int:
    """A linear layer from the bottleneck's channels to one logit: weights plus one bias."""
    return int(channels[-1]) + 1


def check_head_parameters(answer, channels, measured: int | None = None) -> bool:
    """Exercise 2: how many parameters the classification head (max-pool, flatten, one
    linear layer to one logit) has. ``measured``: the count PyTorch reports, when known."""
    expected = head_parameters(channels) if measured is None else int(measured)
    if not is_answered(answer) or not close_to(answer, 0, 1e12):
        return feedback(False, "", "replace None with one whole number.")
    if close_to(answer, expected - 1, 0.1):
        return feedback(False, "", "almost: a linear layer also has a bias, one per output.")
    if close_to(answer, 2 * int(channels[-1]), 0.1):
        return feedback(False, "", "the max-pool keeps one number per channel; each is "
                        "multiplied by one weight, and there is one output.")
    if not close_to(answer, expected, 0):  # a count: exactly, not a nearby measured value
        return feedback(False, "", f"max-pooling has no parameters; the linear layer maps "
                        f"{int(channels[-1])} channel maxima to 1 logit: one weight per input "
                        "plus a bias.")
    return feedback(True, f"{expected} parameters: the head is tiny; almost everything the "
                    "network knows sits in the U-Net's convolutions.", "")


def validation_gap(scores, abnormal, specificity: float = 0.95) -> tuple[float, float]:
    """``(bar, top)`` of :func:`helpers.exercises.nb07.score_gap` for the validation scores:
    every threshold above ``bar`` and at most ``top`` keeps ``specificity`` with the best
    sensitivity; ``top`` is the rule the detector used for its own threshold."""
    scores, abnormal = np.asarray(scores, float), np.asarray(abnormal, bool)
    return score_gap(scores[~abnormal], scores[abnormal], specificity)


def check_validation_threshold(answer, scores, abnormal, specificity: float = 0.95) -> bool:
    """Exercise 3: the operating threshold from the *validation* scores, in the middle of the
    gap of thresholds that keep ``specificity`` with the best sensitivity there (between the
    highest healthy score that must stay below it and the lowest lesion score above that)."""
    scores, abnormal = np.asarray(scores, float), np.asarray(abnormal, bool)
    if not is_answered(answer) or not close_to(answer, 0.0, np.inf):
        return feedback(False, "", "replace None with one number: the threshold (a case is "
                        "called abnormal when its score is at least the threshold).")
    answer = float(answer)
    if answer > 1 and close_to(answer / 100, 0.5, 0.5):
        return feedback(False, "", f"{answer:g} looks like a percentage; the scores run from "
                        "0 to 1, so the threshold does too.")
    bar, top = validation_gap(scores, abnormal, specificity)
    middle = 0.5 * (bar + top)
    n_healthy = int((~abnormal).sum())
    allowed = int(np.floor(n_healthy * (1 - specificity) + 1e-9))
    sens, spec = rates(scores, abnormal, answer)
    best_sens, _ = rates(scores, abnormal, top)
    alarms = round((1 - spec) * n_healthy)
    if close_to(answer, middle, MIDDLE_TOLERANCE):
        return feedback(True, f"threshold {answer:.4f}: specificity {spec:.3f} ({alarms} false "
                        f"alarm(s) among {n_healthy} healthy validation patients), sensitivity "
                        f"{sens:.3f} there, with a margin on both sides. Chosen on validation "
                        "patients only; the held-out patients will say whether it holds.", "")
    strict_bar, strict_top = validation_gap(scores, abnormal, 1.0)
    if allowed and close_to(answer, 0.5 * (strict_bar + strict_top), MIDDLE_TOLERANCE):
        return feedback(False, "", f"that gap allows no false alarm at all. {specificity:.0%} "
                        f"specificity among {n_healthy} healthy patients allows {allowed}: the "
                        f"healthy score that must stay below the threshold is the one "
                        f"with {allowed} healthy score(s) above it, not the highest.")
    if spec < specificity - 1e-9:
        return feedback(False, "", f"at {answer:.3f}, {alarms} of the {n_healthy} healthy "
                        f"validation patients score at least the threshold: specificity "
                        f"{spec:.3f}, below {specificity:.2f}. Go above the healthy score "
                        f"{bar:.3f}.")
    if sens < best_sens - 1e-9:
        return feedback(False, "", f"specificity {spec:.3f} is fine, but sensitivity is only "
                        f"{sens:.3f}: stricter than needed. Just above the healthy score "
                        f"{bar:.3f} finds more (sensitivity {best_sens:.3f}).")
    if close_to(answer, middle, 5e-3):
        return feedback(False, "", "close: the right gap and near its middle, but compute it "
                        "from the scores themselves, not from rounded ones.")
    return feedback(False, "", f"specificity {spec:.3f} and sensitivity {sens:.3f}: the right "
                    "gap. Now place the threshold in its middle, halfway between the healthy "
                    f"score {bar:.3f} and the lowest lesion score above it.")


QUIZ_EPOCH_KEPT = Question(
    "the epoch kept", answer="B",
    why="the epoch was picked because its validation AUC was the best of all the epochs tried "
        "on those same patients, so that AUC is the winner of many tries and flatters the "
        "network; only patients used for no choice at all (the held-out cohort) give a fair "
        "figure.",
    slips={"A": "the labels differ, but that is not why the number is optimistic: a figure "
                "chosen as the best of many on the same patients would be optimistic with any "
                "labels.",
           "C": "the AUC is a fine measure of ranking for any model; the problem is which "
                "patients it was measured on, and that they chose the epoch.",
           "D": "size makes an interval wide, not biased; even a large validation cohort that "
                "chose the epoch gives an optimistic figure for that epoch.",
           })
