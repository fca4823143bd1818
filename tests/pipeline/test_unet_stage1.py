"""The network trains on what it will be given: crops centred on stage 1's pancreas masks
(helpers.pipeline.unet_cache, issue 32 item 2), at toy scale with stage 1 stubbed."""

from __future__ import annotations

import dataclasses

import numpy as np
import SimpleITK as sitk
from toy_cases import image, toy_cohort

from helpers.pipeline import unet_cache
from helpers.pipeline.stage1 import PancreasNotFoundError
from helpers.pipeline.stage2 import unet


def shifted_stage1(plain):
    """A stand-in for stage 1: the toy case's gland, two voxels off to one side and without its
    tail (a stage-1 mask is never the reference), and no pancreas in a scan marked by its
    origin."""
    if plain.GetOrigin()[0] == 99.0:
        raise PancreasNotFoundError("no pancreas here")
    hu = sitk.GetArrayFromImage(plain)
    gland = np.roll(hu > -40, 2, axis=2)
    gland[:3] = False
    gland[:, :, 26:] = False
    out = image(gland.astype(np.uint8))
    out.CopyInformation(plain)
    return out


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
