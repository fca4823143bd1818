"""Notebook 08's figures (helpers.pipeline.stage2.unet_figures): a training crop and the
learning curves, on toy arrays (no PyTorch needed)."""

from __future__ import annotations

import matplotlib
import numpy as np

from helpers.pipeline.stage2 import unet_figures as uf

matplotlib.use("Agg")


def test_the_radiological_view_flips_both_in_plane_axes():
    axial = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(uf.radiological(axial), [[5, 4, 3], [2, 1, 0]])


def test_a_crop_shows_both_channels_and_its_target():
    inputs = np.zeros((2, 6, 8, 8), np.float32)
    inputs[1, :, 2:6, 2:6] = 1.0
    label = np.zeros((6, 8, 8), bool)
    label[4, 3:5, 3:5] = True
    fig = uf.show_crop(inputs, label)
    titles = [ax.get_title() for ax in fig.axes]
    assert "target: the registered lesion label" in titles
    assert fig._suptitle.get_text() == "one training crop, axial slice 4 of 6"
    healthy = uf.show_crop(inputs, np.zeros_like(label), title="healthy")
    assert "target: no lesion (healthy)" in [ax.get_title() for ax in healthy.axes]
    assert healthy._suptitle.get_text() == "healthy"


def test_the_learning_curves_mark_the_epoch_that_was_kept():
    history = {"train_loss": [1.0, 0.8, 0.7], "validation_loss": [1.1, 0.9, 0.95],
               "validation_auc": [0.6, 0.7, 0.65], "best_epoch": 1}
    fig = uf.show_curves(history, live={"train_loss": [1.0], "validation_loss": [1.2]})
    for ax in fig.axes:
        labels = [line.get_label() for line in ax.get_lines()]
        assert "kept: epoch 2" in labels
    assert "training (live run above)" in [line.get_label() for line in fig.axes[0].get_lines()]


def test_the_learning_curves_show_the_validation_dice_when_measured():
    history = {"train_loss": [1.0, 0.8], "validation_loss": [1.1, 0.9],
               "validation_auc": [0.6, 0.7], "validation_dice": [0.0, 0.3], "best_epoch": 1}
    labels = [line.get_label() for line in uf.show_curves(history).axes[1].get_lines()]
    assert "lesion Dice (DiceMetric)" in labels and "AUC of the case score" in labels


def test_every_transform_that_changes_the_picture_is_shown_once_before_and_after():
    import pytest

    pytest.importorskip("torch")
    from helpers.pipeline.stage2 import unet

    shape = tuple(s + 8 for s in unet.CROP_SHAPE)
    hu = np.full((1, *shape), 40.0, np.float32)
    gland, label = np.zeros((1, *shape), np.uint8), np.zeros((1, *shape), np.uint8)
    gland[0, 10:20, 12:28, 14:50] = 1
    label[0, 14:17, 18:21, 30:33] = 1
    steps = uf.transform_steps({"hu": hu, "pancreas": gland, "label": label,
                                "abnormal": np.float32(1)}, unet.DEFAULT_SETTINGS)
    assert [name for name, _ in steps] == ["stored box", *uf.SHOWN]
    assert np.asarray(steps[-1][1]["hu"]).shape == (1, *unet.CROP_SHAPE)
    fig = uf.show_transforms(steps)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes[:len(steps)]] == \
        ["stored box", *uf.SHOWN]
    assert "anterior up" in fig._suptitle.get_text()
