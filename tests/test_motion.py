"""Breathing motion and anatomy warps: sizes, invertibility and the plain -> contrast convention."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import simulate
from helpers.simulate import lesion_shape, motion


@pytest.fixture(scope="module")
def base():
    return simulate.load_base()


def random_points(image, n, seed=0):
    idx = np.random.default_rng(seed).uniform(0, np.array(image.GetSize()[::-1]) - 1, (n, 3))
    return motion.index_to_physical(image, idx)


def test_index_and_physical_conversions_agree_with_simpleitk(base):
    idx = np.array([[3.0, 40.5, 17.25]])
    mine = motion.index_to_physical(base.reference, idx)[0]
    theirs = base.reference.TransformContinuousIndexToPhysicalPoint([17.25, 40.5, 3.0])
    np.testing.assert_allclose(mine, theirs, atol=1e-9)
    np.testing.assert_allclose(motion.physical_to_index(base.reference, mine), idx[0], atol=1e-9)


@pytest.mark.parametrize("level", ["typical", "hard"])
def test_round_trip_through_the_numerical_inverse_is_subvoxel(base, level):
    breathing = motion.make_breathing(base.reference, base.labels,
                                      np.random.default_rng(3), level)
    forward = breathing.transform()
    p = random_points(base.reference, 500)
    q = np.array([forward.TransformPoint(tuple(x)) for x in p])
    back = breathing.inverse_points(q)
    assert np.linalg.norm(back - p, axis=1).max() < 0.75  # mm; a voxel is 3 mm
    inverse = breathing.inverse_transform()  # the SimpleITK form agrees
    again = np.array([inverse.TransformPoint(tuple(x)) for x in q[:50]])
    np.testing.assert_allclose(again, back[:50], atol=0.05)


def test_typical_motion_has_the_documented_size(base):
    for seed in range(4):
        b = motion.make_breathing(base.reference, base.labels, np.random.default_rng(seed))
        shift = np.linalg.norm(b.rigid.GetTranslation())
        assert 2.0 <= shift <= 5.0
        field = sitk.GetArrayFromImage(b.field)
        assert 1.0 < np.abs(field[..., 2]).max() <= 10.0 + 1e-6  # head-to-foot, mm
        assert np.abs(field[..., :2]).max() < np.abs(field[..., 2]).max()
        assert motion._min_jacobian(field, b.field) > 0.5  # folds nothing


def mean_smooth_motion(breathing, labels, ids, reference):
    """Mean length (mm) of the smooth part of the motion over the voxels labelled ``ids``."""
    smooth = sitk.DisplacementFieldTransform(sitk.Image(breathing.field))
    pts = motion.index_to_physical(reference, np.argwhere(np.isin(labels, ids)))[::25]
    return np.mean([np.linalg.norm(np.subtract(smooth.TransformPoint(tuple(p)), p))
                    for p in pts])


def test_organs_slide_while_the_spine_stays(base):
    b = motion.make_breathing(base.reference, base.labels, np.random.default_rng(5))
    weight = motion.moving_weight(base.labels)
    spine = np.isin(base.labels, (30, 31, 32))
    assert weight[base.labels == 7].mean() > 3 * weight[spine].mean()
    def moved(ids):
        return mean_smooth_motion(b, base.labels, ids, base.reference)
    assert moved((5, 7)) > 2 * moved((30, 31, 32))


def test_in_hard_motion_the_pancreas_slides_less_than_the_liver(base):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        shares = motion.sliding_shares(np.random.default_rng(seed))
        low, high = motion.SLIDING_SHARE[7]
        assert low <= shares[7] <= high
        hard = motion.make_breathing(base.reference, base.labels, rng, "hard")
        typical = motion.make_breathing(base.reference, base.labels,
                                        np.random.default_rng(seed), "typical")
        ratio = {name: mean_smooth_motion(b, base.labels, 7, base.reference)
                 / mean_smooth_motion(b, base.labels, 5, base.reference)
                 for name, b in (("hard", hard), ("typical", typical))}
        # Even in typical motion the thin gland, blended with the still fat around it by the
        # smoothing, moves less than the liver; sliding makes it lag clearly further behind.
        assert ratio["hard"] < 0.85 * ratio["typical"]
        assert motion._min_jacobian(sitk.GetArrayFromImage(hard.field), hard.field) > 0.5


def test_typical_motion_draws_no_sliding_shares(base):
    """Only sliding levels draw the extra random number, so typical patients stay as they
    were: the first draw is still the peak head-to-foot size."""
    b = motion.make_breathing(base.reference, base.labels, np.random.default_rng(4), "typical")
    peak = np.random.default_rng(4).uniform(*motion.MOTION_LEVELS["typical"].hf_mm)
    field = sitk.GetArrayFromImage(b.field)
    assert np.abs(field[..., 2]).max() == pytest.approx(peak, rel=1e-5)
    assert not motion.MOTION_LEVELS["typical"].sliding and motion.MOTION_LEVELS["hard"].sliding


def test_transform_follows_simpleitk_resampling_convention(base):
    """Resampling a contrast-space image with T onto the plain grid undoes the motion."""
    b = motion.make_breathing(base.reference, base.labels, np.random.default_rng(2), "hard")
    plain = sitk.GetImageFromArray((base.labels == 5).astype(np.float32))  # the liver
    plain.CopyInformation(base.reference)
    contrast = sitk.Resample(plain, base.reference, b.inverse_transform(), sitk.sitkLinear, 0.0)
    back = sitk.Resample(contrast, base.reference, b.transform(), sitk.sitkLinear, 0.0)
    original, moved, restored = (sitk.GetArrayFromImage(x) >= 0.5 for x in (plain, contrast,
                                                                           back))
    def dice(a, c):
        return 2 * (a & c).sum() / (a.sum() + c.sum())
    assert dice(original, restored) > 0.97 > dice(original, moved) + 0.02


def test_mass_effect_keeps_volume_and_grows_the_lesion_outline():
    shape, center = (41, 41, 41), (20, 20, 20)
    lesion = lesion_shape.LesionShape.random(center, 10.0, "cyst", np.random.default_rng(0))
    pull = lesion_shape.mass_effect_pullback(shape, (1.0, 1.0, 1.0), center, 4.0, lesion)
    grid = np.indices(shape, dtype=float)
    offset = np.moveaxis(grid - 20, 0, -1)
    rho_out = np.linalg.norm(offset, axis=-1)
    rho_src = np.linalg.norm(np.moveaxis(grid + pull - 20, 0, -1), axis=-1)
    surface = lesion.surface_mm(offset)
    assert surface.max() <= 10.0 + 1e-6 and surface.min() < 9.0  # lobulated, within R
    inside = rho_out <= surface  # the lesion comes from its own outline shrunk 2.5x
    np.testing.assert_allclose(rho_src[inside], 0.4 * rho_out[inside], atol=1e-3)
    outside = ~inside & (rho_out <= 30.0)  # within 3 radii, shells keep their volume
    expected = np.cbrt(rho_out[outside] ** 3 - surface[outside] ** 3
                       + (0.4 * surface[outside]) ** 3)
    np.testing.assert_allclose(rho_src[outside], expected, atol=1e-3)
    assert np.abs(rho_src - rho_out)[rho_out > 19].max() < 1.0  # far tissue moves < 1 voxel
    assert not pull[:, rho_out >= 40.0].any()  # and the push has faded out by 4 radii
    fits = lesion_shape.mass_effect_pullback(shape, (1, 1, 1), center, 10.0, lesion)
    assert np.abs(fits).max() < 1e-5  # nothing to push when the lesion fits


def test_anatomy_warp_is_seeded_smooth_and_foldfree(base):
    shape = base.native.shape
    a = motion.anatomy_pullback(shape, (3, 3, 3), base.pancreas_center, np.random.default_rng(1))
    b = motion.anatomy_pullback(shape, (3, 3, 3), base.pancreas_center, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    jac = np.eye(3)[:, :, None, None, None] + np.stack([np.stack(np.gradient(a[i]))
                                                        for i in range(3)])
    det = np.linalg.det(np.moveaxis(jac, (0, 1), (-2, -1)))
    assert det.min() > 0.3
    assert 1.0 < np.abs(a).max() * 3.0 < 20.0  # mm


def test_compose_pullbacks_applies_inner_then_outer():
    shape = (6, 7, 8)
    inner = np.zeros((3, *shape), np.float32)
    inner[2] = 1.0  # look one voxel further along x
    outer = np.zeros((3, *shape), np.float32)
    outer[0] = np.arange(shape[2], dtype=np.float32)[None, None, :] * 0.1  # depends on x
    total = motion.compose_pullbacks(outer, inner)
    x = np.arange(shape[2])
    np.testing.assert_allclose(total[0, 0, 0, :-1], 0.1 * (x[:-1] + 1), atol=1e-6)
    np.testing.assert_allclose(total[2], 1.0)


def test_unknown_motion_level_is_refused():
    with pytest.raises(ValueError, match="valid: none, typical, hard"):
        motion.check_motion("extreme")


def test_infiltrative_pdac_pushes_less_than_an_expansile_lesion():
    shape, center = (41, 41, 41), (20, 20, 20)
    pdac = lesion_shape.LesionShape.random(center, 10.0, "PDAC", np.random.default_rng(0))
    cyst = lesion_shape.LesionShape.random(center, 10.0, "cyst", np.random.default_rng(0))
    assert lesion_shape.source_fraction(pdac, 4.0) == 0.8
    assert lesion_shape.source_fraction(cyst, 4.0) == 0.4
    push = [np.abs(lesion_shape.mass_effect_pullback(shape, (1, 1, 1), center, 4.0, s)).max()
            for s in (pdac, cyst)]
    assert push[0] < 0.5 * push[1]
