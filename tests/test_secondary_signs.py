"""The dilated duct upstream of a PDAC (helpers.simulate.secondary_signs) and its place in virtual
patients."""

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from helpers import simulate
from helpers.simulate import secondary_signs


def lps_of_index(idx):
    """A grid with 3 mm voxels whose x index runs towards the patient's left (LPS +x)."""
    return np.asarray(idx, float)[..., ::-1] * 3.0


def bent_gland():
    """A thin L-shaped gland: along x at z=5 (x 4..27), then up in z at x=4 (z 5..14)."""
    gland = np.zeros((20, 12, 32), bool)
    gland[4:7, 5:8, 4:28] = True
    gland[4:15, 5:8, 3:6] = True
    return gland


def test_centreline_runs_head_to_tail_inside_the_gland():
    gland = bent_gland()
    line = secondary_signs.gland_centreline(gland, lps_of_index)
    assert gland[tuple(line.astype(int).T)].all()  # deepest voxels: never outside
    # the tail is the end with the larger LPS x, i.e. the larger x index on this grid
    assert line[-1, 2] > line[0, 2]
    assert line[-1, 2] >= 25


def test_centreline_flips_with_the_grid_direction():
    gland = bent_gland()
    def mirrored(idx):  # x index now runs towards the patient's right
        return lps_of_index(idx) * np.array([-1.0, 1.0, 1.0])
    line = secondary_signs.gland_centreline(gland, mirrored)
    assert line[-1, 2] < line[0, 2]


def test_centreline_needs_a_gland():
    with pytest.raises(ValueError, match="fewer than 10 voxels"):
        secondary_signs.gland_centreline(np.zeros((5, 5, 5), bool), lps_of_index)


def test_distance_to_polyline_matches_hand_geometry():
    line = np.array([[0.0, 0, 0], [10, 0, 0], [10, 10, 0]])
    points = np.array([[5.0, 3, 0], [12, 5, 0], [-4, 0, 3], [10, 10, 0]])
    np.testing.assert_allclose(secondary_signs.distance_to_polyline(points, line),
                               [3.0, 2.0, 5.0, 0.0])


def test_upstream_duct_lies_in_the_gland_from_the_lesion_to_the_tail():
    gland = np.zeros((9, 9, 40), bool)
    gland[3:6, 3:6, 2:38] = True
    duct = secondary_signs.upstream_duct(gland, (4, 4, 15), (3.0, 3.0, 3.0), lps_of_index, 6.0)
    assert duct.dtype == np.float32 and 0 <= duct.min() and duct.max() <= 1
    assert not duct[~gland].any()
    along = duct[4, 4]
    assert along[16:37].min() == 1.0  # the full duct runs on to the tail end
    assert along[:14].max() == 0.0  # nothing on the head side of the tumour
    # about 6 mm wide: the centre row full, the next rows partly filled
    assert 0 < duct[4, 3, 25] < 1 and duct[4, 4, 25] == 1


def test_only_pdac_draws_a_duct_at_the_sourced_rate():
    rng = np.random.default_rng(0)
    assert secondary_signs.draw_duct("PNET", rng) is None
    assert secondary_signs.draw_duct(None, rng) is None
    draws = [secondary_signs.draw_duct("PDAC", np.random.default_rng(s)) for s in range(400)]
    share = np.mean([d is not None for d in draws])
    assert abs(share - 215 / 281) < 0.06
    low, high = secondary_signs.DUCT_DIAMETER_MM
    assert all(low <= d[0] <= high for d in draws if d is not None)


def find_pdac_with_duct(start=0):
    for seed in range(start, start + 20):
        draw = secondary_signs.draw_duct("PDAC", np.random.default_rng(
            np.random.SeedSequence(seed).spawn(7)[6]))
        if draw is not None:
            return seed
    raise AssertionError("no PDAC patient with a duct in 20 seeds")


def test_a_pdac_patient_gets_a_duct_that_shows_on_the_contrast_scan():
    seed = find_pdac_with_duct()
    case = simulate.make_case(seed, "PDAC", lesion_diameter_mm=15, cache=False)
    duct = sitk.GetArrayFromImage(case.duct_plain) > 0
    lesion = sitk.GetArrayFromImage(case.lesion_plain) > 0
    gland = sitk.GetArrayFromImage(case.pancreas_plain) > 0
    assert duct.sum() >= 10
    assert not (duct & lesion).any()  # the lesion outline does not include the duct
    assert gland[duct].all()
    # on the contrast scan (moved onto the plain grid) the fluid is darker than the enhancing
    # gland (partial volume on the 3 mm grid and the resampling soften the difference)
    moved = sitk.GetArrayFromImage(sitk.Resample(case.contrast, case.plain, case.transform))
    rest = gland & ~duct & ~lesion
    assert np.median(moved[duct]) < np.median(moved[rest]) - 15
    # on plain CT the difference is small: this real gland is fatty (about -8 HU)
    plain = sitk.GetArrayFromImage(case.plain)
    assert abs(np.median(plain[duct]) - np.median(plain[rest])) < 40


def test_other_subtypes_and_healthy_patients_have_no_duct():
    for subtype in (None, "cyst"):
        case = simulate.make_case(3, subtype, cache=False)
        assert not sitk.GetArrayFromImage(case.duct_plain).any()


def test_upstream_atrophy_takes_the_tails_outer_layer_and_keeps_its_core():
    """On the real gland, with a tumour centred in its middle: only tail-side voxels within
    ATROPHY_DEPTH_MM of the surface go, the head side and the centre line stay."""
    base = simulate.case.load_base()
    pancreas = base.labels == 7
    spacing = np.asarray(base.reference.GetSpacing())[::-1]
    to_mm = lambda idx: simulate.motion.index_to_physical(base.reference, idx)  # noqa: E731
    where = np.argwhere(pancreas)
    centre = where[len(where) // 2]
    lost = secondary_signs.upstream_atrophy(pancreas, centre, spacing, to_mm)
    assert lost.any() and not (lost & ~pancreas).any()
    depth = ndi.distance_transform_edt(pancreas, sampling=spacing)
    assert depth[lost].max() <= secondary_signs.ATROPHY_DEPTH_MM
    mm = to_mm(np.argwhere(lost).astype(float))
    x_centre = to_mm(centre[None].astype(float))[0, 0]
    assert np.median(mm[:, 0]) > x_centre  # the tail is towards the patient's left (+x)
    line = secondary_signs.gland_centreline(pancreas, to_mm).round().astype(int)
    assert not lost[tuple(line.T)].any()
    assert 0.05 < lost.sum() / pancreas.sum() < 0.6


def test_drawn_signs_are_recorded_with_each_case():
    from helpers.simulate.case import build_record

    drawn = [build_record(seed, "PDAC")["signs"] for seed in range(8)]
    assert all(len(flags) == 3 for flags in drawn)
    assert any(flags[1] for flags in drawn) and not all(flags[1] for flags in drawn)
    assert not build_record(0)["signs"].any()  # a healthy patient has none
