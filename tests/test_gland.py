"""The gland as parenchyma plus fat (helpers.simulate.gland): a normal gland at fat scale 0,
the real fatty one at 1, lesions made of tissue, fat that does not enhance."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import simulate
from helpers.simulate import case as case_module
from helpers.simulate import gland


def arr(image):
    return sitk.GetArrayFromImage(image)


def gland_mean(case, scan="plain"):
    mask = arr(getattr(case, f"pancreas_{scan}")).astype(bool)
    mask &= ~arr(getattr(case, f"lesion_{scan}")).astype(bool)
    return float(arr(getattr(case, scan))[mask].mean())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_fat_free_gland_measures_like_normal_parenchyma(seed):
    """Fat scale 0 (the default teaching case): the gland's plain-CT mean is 30-45 HU."""
    case = simulate.make_case(seed)
    assert case.gland_fat == 0.0
    assert 30.0 <= gland_mean(case) <= 45.0


def test_fat_scale_one_is_the_real_gland_voxel_for_voxel():
    """Before noise and without anatomy variation, fat scale 1 leaves the real (denoised)
    gland as it is, and fat scale 0 changes only gland voxels."""
    base = case_module.load_base()
    inside = base.labels == 7
    np.testing.assert_array_equal(gland.at_fat_scale(base.smooth, base.fat, 1.0), base.smooth)
    lean = gland.at_fat_scale(base.smooth, base.fat, 0.0)
    np.testing.assert_array_equal(lean[~inside], base.smooth[~inside])
    assert lean[inside].mean() > base.smooth[inside].mean() + 30
    record = case_module.build_record(4, gland_fat=1.0, noise_hu=base.residual_hu,
                                      vary_anatomy=False, motion_level="none")
    # Whole HU and no added noise (the dose equals what denoising left): within rounding.
    assert np.abs(record["plain"][inside] - base.smooth[inside]).max() <= 0.5


def test_fat_does_not_enhance_in_a_virtual_patient():
    """The same patient at fat scale 1 and 0: the fatty gland gains much less on the contrast
    scan, because only its parenchyma enhances."""
    fatty = simulate.make_case(5, gland_fat=1.0, motion="none")
    lean = simulate.make_case(5, gland_fat=0.0, motion="none")
    gain = {name: gland_mean(c, "contrast") - gland_mean(c) for name, c in
            (("fatty", fatty), ("lean", lean))}
    share = 1 - float(case_module.load_base().fat.fraction[case_module.load_base().labels == 7]
                      .mean())
    assert gain["fatty"] < gain["lean"]
    assert gain["fatty"] == pytest.approx(share * gain["lean"], rel=0.35)


@pytest.mark.parametrize("seed", [6, 7])
def test_a_cyst_is_darker_than_a_normal_gland_and_a_pdac_brighter_than_a_fatty_one(seed):
    """On plain CT: fluid (near water) against parenchyma at about 40 HU is dark; solid
    tumour tissue against the real fatty gland (about -8 HU) is bright."""
    cyst = simulate.make_case(seed, "cyst", gland_fat=0.0, lesion_diameter_mm=25.0)
    pdac = simulate.make_case(seed, "PDAC", gland_fat=1.0, lesion_diameter_mm=25.0)
    assert simulate.case_conspicuity(cyst, "plain")["contrast_hu"] < -10
    assert simulate.case_conspicuity(pdac, "plain")["contrast_hu"] > 10


def test_cohorts_draw_the_fat_scale_across_its_range():
    draws = [gland.draw_gland_fat(np.random.default_rng(s)) for s in range(200)]
    low, high = gland.GLAND_FAT_RANGE
    assert low <= min(draws) < 0.1 and 0.9 < max(draws) <= high
    assert [gland.fat_group(v) for v in (0.0, 0.2, 0.5, 0.8, 1.0)] == [
        "normal", "normal", "intermediate", "fatty", "fatty"]


@pytest.mark.parametrize("bad", [-0.1, 1.5, "fatty", None])
def test_a_bad_fat_scale_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="gland_fat must be"):
        gland.check_gland_fat(bad)
    if bad is not None:  # None means "draw it per seed" for make_case
        with pytest.raises(ValueError, match="gland_fat"):
            simulate.make_case(1, gland_fat=bad)


def test_parenchyma_levels_divide_the_gain_by_the_parenchymal_share():
    levels = gland.parenchyma_levels(np.zeros(10), {"pancreatic": np.full(10, 35.0)},
                                     np.full(10, 0.5))
    assert levels == {"native": gland.PARENCHYMA_HU, "pancreatic": gland.PARENCHYMA_HU + 70.0}
