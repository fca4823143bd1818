"""Lesion insertion: exact masks inside the pancreas, subtype appearance, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import data, simulate
from helpers.simulate import gland, lesion_shape, lesions, phases


@pytest.fixture(scope="module")
def scans():
    """The real scan with its gland made fat-free (the sources describe lesions against
    normal parenchyma), and its simulated pancreatic phase."""
    ct = data.load_ct("totalsegmentator_example_ct_sm")
    labels, _ = data.load_labels()
    native = sitk.GetArrayFromImage(ct).astype(np.float32)
    lean = gland.at_fat_scale(native, gland.gland_fat(native, arr(labels) == 7), 0.0)
    normal = sitk.GetImageFromArray(lean)
    normal.CopyInformation(ct)
    pancreatic = phases.simulate_phase(normal, labels, "pancreatic", rng=0)
    return {"native": normal, "pancreatic": pancreatic}, labels


def test_on_the_real_fatty_gland_a_pdac_is_brighter_and_a_cyst_too():
    """A lesion is tissue of its own attenuation: against the real scan's fatty gland (about
    -8 HU) a solid PDAC and even fluid are denser than the gland around them."""
    ct = data.load_ct("totalsegmentator_example_ct_sm")
    labels, _ = data.load_labels()
    for subtype, low in (("PDAC", 20), ("cyst", 5)):
        out = simulate.insert_lesion(ct, labels, subtype, rng=5, diameter_mm=30.0)
        found = simulate.conspicuity(arr(out.images["native"]), arr(out.mask),
                                     arr(out.labels) == 7)
        assert found["contrast_hu"] > low, subtype


def arr(image):
    return sitk.GetArrayFromImage(image)


def test_subtypes_and_appearance_table_are_complete():
    assert simulate.SUBTYPES == ("PDAC", "PNET", "cyst", "SPT")
    table = lesions.appearance_table()
    for subtype in simulate.SUBTYPES:
        rows = table[table.subtype == subtype]
        assert set(rows.phase) == set(phases.PHASES) and rows.source.str.len().min() > 5


def test_insert_lesion_returns_an_exact_mask_inside_the_pancreas(scans):
    images, labels = scans
    before = {p: arr(im).copy() for p, im in images.items()}
    out = simulate.insert_lesion(images, labels, "PDAC", rng=4, diameter_mm=30.0)
    mask = arr(out.mask).astype(bool)
    assert mask.sum() > 150
    np.testing.assert_array_equal(mask, out.occupancy >= 0.5)  # the mask is the ground truth
    assert (arr(out.labels)[mask] == 7).all()  # the (pushed-aside) gland contains it
    assert ((arr(out.labels) == 7) & ~mask).sum() > 300
    for phase in images:  # the inputs were not modified
        np.testing.assert_array_equal(arr(images[phase]), before[phase])


def test_pdac_values_follow_the_sources(scans):
    images, labels = scans
    out = simulate.insert_lesion(images, labels, "PDAC", rng=5, diameter_mm=30.0)
    pancreas = arr(out.labels) == 7
    measured = {p: simulate.conspicuity(arr(im), arr(out.mask), pancreas)
                for p, im in out.images.items()}
    assert abs(measured["native"]["contrast_hu"]) < 15  # near iso on plain CT
    assert -85 < measured["pancreatic"]["contrast_hu"] < -40  # sources: about -60 to -70
    assert out.values["solid"]["pancreatic"] < out.values["solid"]["native"] + 100


@pytest.mark.parametrize("subtype, low, high", [("PNET", 20, 150), ("cyst", -160, -50)])
def test_pnet_is_bright_and_cyst_dark_in_the_pancreatic_phase(scans, subtype, low, high):
    images, labels = scans
    out = simulate.insert_lesion(images, labels, subtype, rng=6, diameter_mm=30.0)
    found = simulate.conspicuity(arr(out.images["pancreatic"]), arr(out.mask),
                                 arr(out.labels) == 7)
    assert low < found["contrast_hu"] < high


def test_lesion_shape_is_irregular_not_a_sphere():
    rng = np.random.default_rng(1)
    shape = lesion_shape.LesionShape.random((20, 20, 20), 15.0, "PDAC", rng)
    occ, _ = shape.occupancy((40, 40, 40), (1.0, 1.0, 1.0))
    volume = occ.sum()
    assert volume < 0.85 * 4 / 3 * np.pi * 15.0**3  # dented and elongated, not a ball
    surface = np.argwhere((occ >= 0.5) ^ np.roll(occ >= 0.5, 1, axis=0))
    radii = np.linalg.norm(surface - 20, axis=1)
    assert radii.std() > 1.0


def test_a_tiny_lesion_still_has_its_centre_voxel():
    shape = lesion_shape.LesionShape.random((5, 5, 5), 2.5, "PNET", np.random.default_rng(2))
    occ, comps = shape.occupancy((11, 11, 11), (3.0, 3.0, 3.0))
    assert occ[5, 5, 5] >= 0.5 and (occ >= 0.5).sum() >= 1
    np.testing.assert_allclose(sum(comps.values()), occ, atol=1e-6)


def test_too_big_or_misplaced_lesions_are_refused(scans):
    images, labels = scans
    with pytest.raises(lesions.LesionDoesNotFitError, match="cannot fit this pancreas"):
        simulate.insert_lesion(images, labels, "cyst", rng=0, diameter_mm=30, mass_effect=False)
    with pytest.raises(lesions.LesionDoesNotFitError, match="largest that fits"):
        simulate.insert_lesion(images, labels, "cyst", rng=0, diameter_mm=60)
    with pytest.raises(lesions.LesionDoesNotFitError, match="not inside the pancreas"):
        simulate.insert_lesion(images, labels, "cyst", rng=0, diameter_mm=10,
                               center_mm=images["native"].GetOrigin())
    with pytest.raises(ValueError, match="3-60 mm"):
        simulate.insert_lesion(images, labels, "cyst", rng=0, diameter_mm=1)


def test_bad_subtype_phase_grid_and_missing_native_are_refused(scans):
    images, labels = scans
    with pytest.raises(ValueError, match="valid subtypes: PDAC, PNET, cyst, SPT"):
        simulate.insert_lesion(images, labels, "adenoma", rng=0)
    with pytest.raises(ValueError, match="include the 'native' scan"):
        simulate.insert_lesion({"pancreatic": images["pancreatic"]}, labels, "PDAC", rng=0)
    with pytest.raises(ValueError, match="valid phases"):
        simulate.insert_lesion({"native": images["native"], "late": images["native"]}, labels,
                               "PDAC", rng=0)
    with pytest.raises(ValueError, match="not on the CT's grid"):
        simulate.insert_lesion(images, labels[:, :, 2:], "PDAC", rng=0)
    with pytest.raises(ValueError, match="label 7 .pancreas. is not present"):
        simulate.insert_lesion(images, sitk.ChangeLabel(labels, {7: 0}), "PDAC", rng=0)


def test_conspicuity_matches_a_hand_computation():
    image = np.zeros((10, 10, 10))
    lesion = np.zeros_like(image, bool)
    lesion[4:6, 4:6, 4:6] = True
    pancreas = np.ones_like(lesion)
    image[lesion] = -60.0
    image[~lesion] = np.where(np.indices(image.shape).sum(0)[~lesion] % 2, 10.0, -10.0)
    found = lesions.conspicuity(image, lesion, pancreas, noise_hu=12.0, ring_mm=3.0)
    ring = image[~lesion & (np.abs(np.indices(image.shape) - 4.5).max(0) <= 3.5)]
    assert found["contrast_hu"] == pytest.approx(-60 - ring.mean(), abs=1e-9)
    assert found["cnr"] == pytest.approx(abs(found["contrast_hu"]) / 12.0)
    assert found["cnr_texture"] == pytest.approx(abs(found["contrast_hu"]) / found["sd_hu"])
    with pytest.raises(ValueError, match="empty"):
        lesions.conspicuity(image, np.zeros_like(lesion), pancreas)
