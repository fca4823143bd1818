"""The network trains on what it will be given: crops centred on stage 1's pancreas masks
(helpers.pipeline.unet_cache, issue 32 item 2), at toy scale with stage 1 stubbed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import shifted_stage1, toy_cohort

from helpers.pipeline import unet_cache
from helpers.pipeline.stage2 import unet, unet_training

needs_torch = pytest.mark.skipif(not unet.available(), reason="PyTorch/MONAI not installed "
                                 f"(optional extra): {unet.INSTALL_COMMAND}")
TINY = unet.UNetSettings(channels=(4, 8, 16), epochs=14, batch_size=4, learning_rate=1e-2)


def test_the_crops_key_names_the_mask_source_and_stage1s_settings():
    stage1, reference = unet.DEFAULT_SETTINGS, dataclasses.replace(unet.DEFAULT_SETTINGS,
                                                                   training_pancreas="reference")
    assert stage1.training_pancreas == "stage1"  # the default: what it is given at prediction
    for role in ("training", "validation"):
        assert unet_cache.crops_key(role, stage1) != unet_cache.crops_key(role, reference)
        assert unet_cache.crops_key(role, stage1)["masks"]["pancreas"] == "stage1"
    # the training patients' masks come from the coarser registration, the validation ones not
    assert (unet_cache.crops_key("training", stage1)["masks"]
            != unet_cache.crops_key("validation", stage1)["masks"])


def test_the_crops_are_centred_on_stage1s_mask_and_carry_it_as_the_second_channel():
    case = toy_cohort(2)[1]
    hu, reference = unet_cache.scan_arrays(case)
    stage1 = sitk.GetArrayFromImage(shifted_stage1(case.plain)) > 0
    label = sitk.GetArrayFromImage(case.lesion_plain) > 0
    crops = unet_cache.crop_arrays([unet_cache.with_mask(case, stage1, label)], margin=2)
    shape = tuple(s + 4 for s in unet.CROP_SHAPE)
    expected = unet.crop(stage1.astype(np.uint8), unet.crop_centre(stage1), shape, 0)
    assert np.array_equal(crops["pancreas"][0, 0], expected)
    assert not np.array_equal(crops["pancreas"][0, 0], unet.crop(
        reference.astype(np.uint8), unet.crop_centre(reference), shape, 0))
    assert crops["y"][0, 0].sum() == label.sum() and crops["abnormal"].tolist() == [True]


def stage1_like_crops(n: int, seed: int) -> dict:
    """Stored boxes of a toy task (raw HU, as unet_cache.crop_arrays keeps them) whose pancreas
    channel is a stage-1-like mask: the toy gland (rows 10-25) two rows off (12-27). Every
    second patient has a bright 4-voxel lesion inside both."""
    rng = np.random.default_rng(seed)
    shape = tuple(s + 2 * TINY.shift_vox for s in unet.CROP_SHAPE)
    hu = rng.normal(40, 20, (n, 1, *shape)).astype(np.float32)
    pancreas = np.zeros((n, 1, *shape), np.uint8)
    pancreas[:, 0, 8:20, 12:28, 12:44] = 1
    y = np.zeros((n, 1, *shape), np.uint8)
    for i in range(0, n, 2):
        z, r, c = 10 + rng.integers(0, 6), 13 + rng.integers(0, 6), 16 + rng.integers(0, 20)
        hu[i, 0, z:z + 4, r:r + 4, c:c + 4] += 160.0
        y[i, 0, z:z + 4, r:r + 4, c:c + 4] = 1
    return {"hu": hu, "pancreas": pancreas, "y": y, "abnormal": y.reshape(n, -1).any(1)}


@needs_torch
@pytest.mark.slow  # a tiny network trained for 14 epochs: about 15 s on 2 cores
def test_trained_on_stage1_like_masks_it_finds_new_lesions_and_raises_no_false_alarm():
    detector = unet_training.train_detector(stage1_like_crops(12, 0), stage1_like_crops(8, 1),
                                            TINY, progress=False)
    new = stage1_like_crops(12, 2)  # never seen, behind the same kind of mask
    found = [detector.detect(new["hu"][n, 0], new["pancreas"][n, 0] > 0) for n in range(12)]
    scores = np.array([score for score, _, _ in found])
    lesion, healthy = new["abnormal"], ~new["abnormal"]
    # it does find lesions (so "no false alarm" is not the silence of a network that finds
    # nothing): every lesion scores above every healthy patient, and its map reaches the voxel
    # threshold inside every true lesion
    assert scores[lesion].min() > scores[healthy].max()
    assert all(probability[new["y"][n, 0] > 0].max() >= detector.voxel_threshold
               for n, (_, _, probability) in enumerate(found) if lesion[n])
    # and no healthy patient reaches the threshold chosen on the validation patients
    assert scores[healthy].max() < detector.operating_threshold
    assert not any(mask.any() for n, (_, mask, _) in enumerate(found) if healthy[n])
