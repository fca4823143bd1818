"""Contrast phases and noise on the real native CT: table values reached, errors clear."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from helpers import data, simulate
from helpers.simulate import gland, phases


@pytest.fixture(scope="module")
def real():
    ct = data.load_ct("totalsegmentator_example_ct_sm")
    labels, _ = data.load_labels()
    return ct, labels


def mean_in(image, labels, ids):
    return float(sitk.GetArrayFromImage(image)[np.isin(sitk.GetArrayFromImage(labels), ids)]
                 .mean())


def test_every_row_has_a_known_structure_phase_rule_and_source():
    assert phases.PHASES == ("native", "arterial", "pancreatic", "portal_venous")
    for row in phases.ENHANCEMENT:
        assert row.phase in phases.PHASES[1:] and row.rule in ("target", "delta")
        assert row.source.strip()
    table = phases.enhancement_table()
    assert len(table) == len(phases.ENHANCEMENT) and "source" in table.columns


def test_native_phase_returns_the_scan_unchanged(real):
    ct, labels = real
    out = phases.simulate_phase(ct, labels, "native", rng=1)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), sitk.GetArrayFromImage(ct))
    assert out.GetOrigin() == ct.GetOrigin() and out.GetDirection() == ct.GetDirection()


def test_target_rules_reach_the_literature_means(real):
    """With nominal gains (rng=None) each 'target' structure's mean lands on its value."""
    ct, labels = real
    for phase in ("pancreatic", "portal_venous"):
        image = phases.simulate_phase(ct, labels, phase, rng=None)
        for row in phases.ENHANCEMENT:
            if row.phase == phase and row.rule == "target" and row.structure != "pancreas":
                ids = phases.PARENCHYMA_LABELS[row.structure]
                assert mean_in(image, labels, ids) == pytest.approx(row.value, abs=1.0)


def test_fat_does_not_enhance_and_the_parenchyma_reaches_its_target(real):
    """The pancreas's target is its parenchyma's (from gland.PARENCHYMA_HU); in the real fatty
    gland, fat voxels keep their HU and fat-free ones gain what the parenchyma gains."""
    ct, labels = real
    native = sitk.GetArrayFromImage(ct).astype(np.float32)
    lab = sitk.GetArrayFromImage(labels)
    inner = ndi.binary_erosion(lab == 7)  # away from the soft edge of the enhancement
    frac = 1 - phases.gland_parenchyma(native, lab == 7)
    row = next(r for r in phases.ENHANCEMENT if r.structure == "pancreas"
               and r.phase == "pancreatic")
    gain = sitk.GetArrayFromImage(phases.simulate_phase(ct, labels, "pancreatic")) - native
    full = row.value - gland.PARENCHYMA_HU
    high, low = np.percentile(frac[inner], [75, 25])
    fatty, lean = inner & (frac >= high), inner & (frac <= low)
    assert high - low > 0.1
    assert gain[fatty].mean() < gain[lean].mean() - 0.1 * full
    # Each voxel gains its parenchymal share of the parenchyma's gain (soft edges aside).
    assert np.abs(gain[inner] - (1 - frac[inner]) * full).mean() < 0.1 * full


def test_pancreatic_phase_ordering_is_physiological(real):
    ct, labels = real
    art = phases.simulate_phase(ct, labels, "pancreatic", rng=3)
    native_liver = mean_in(ct, labels, (5,))
    assert mean_in(art, labels, (52,)) > 250  # aorta bright
    # The gland's parenchyma outshines the liver (its fat, a third of this gland, does not).
    parenchyma = phases.gland_parenchyma(sitk.GetArrayFromImage(ct), sitk.GetArrayFromImage(
        labels) == 7)
    gland_gain = mean_in(art, labels, (7,)) - mean_in(ct, labels, (7,))
    share = float(parenchyma[sitk.GetArrayFromImage(labels) == 7].mean())
    assert gland_gain / share > mean_in(art, labels, (5,)) - mean_in(ct, labels, (5,))
    assert 10 < mean_in(art, labels, (5,)) - native_liver < 45  # liver +20-30 (+ gains)
    fat = (sitk.GetArrayFromImage(labels) == 0) & (sitk.GetArrayFromImage(ct) < -60)
    diff = sitk.GetArrayFromImage(art) - sitk.GetArrayFromImage(ct)
    assert np.median(np.abs(diff[fat])) < 1.0  # fat does not enhance


def test_random_gains_are_seeded(real):
    ct, labels = real
    a = sitk.GetArrayFromImage(phases.simulate_phase(ct, labels, "arterial", rng=7))
    b = sitk.GetArrayFromImage(phases.simulate_phase(ct, labels, "arterial", rng=7))
    c = sitk.GetArrayFromImage(phases.simulate_phase(ct, labels, "arterial", rng=8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1.0


def test_noise_is_measured_and_added_to_the_requested_level(real):
    ct, labels = real
    lab = sitk.GetArrayFromImage(labels)
    found = phases.measure_noise(sitk.GetArrayFromImage(ct), lab)
    assert 8 < found["sd_hu"] < 16 and all(abs(c) < 0.3 for c in found["lag1"])
    noisy = phases.simulate_phase(ct, labels, "portal_venous", rng=2, noise_hu=20.0)
    assert phases.measure_noise(sitk.GetArrayFromImage(noisy), lab)["sd_hu"] == pytest.approx(
        20.0, rel=0.1)
    with pytest.raises(ValueError, match="below this scan's own noise"):
        phases.simulate_phase(ct, labels, "portal_venous", rng=2, noise_hu=2.0)


def test_correlated_noise_has_the_requested_sd_and_correlation():
    rng = np.random.default_rng(0)
    white = phases.correlated_noise((20, 60, 60), 12.0, rng)
    assert white.std() == pytest.approx(12.0, rel=0.02)
    sigma = phases.noise_sigma_for_lag1(0.4)
    smooth = phases.correlated_noise((20, 60, 60), 12.0, rng, (0, sigma, sigma))
    lag = np.corrcoef(smooth[:, :, 1:].ravel(), smooth[:, :, :-1].ravel())[0, 1]
    assert smooth.std() == pytest.approx(12.0, rel=0.02) and lag == pytest.approx(0.4, abs=0.05)


def test_labels_on_another_grid_are_refused(real):
    ct, labels = real
    shifted = sitk.Image(labels)
    shifted.SetOrigin(tuple(o + 3.0 for o in labels.GetOrigin()))
    with pytest.raises(ValueError, match="not on the CT's grid: origin"):
        phases.simulate_phase(ct, shifted, "arterial", rng=0)
    smaller = labels[:, :, :10]
    with pytest.raises(ValueError, match="size"):
        phases.simulate_phase(ct, smaller, "arterial", rng=0)


def test_missing_pancreas_and_unknown_phase_are_refused(real):
    ct, labels = real
    no_pancreas = sitk.ChangeLabel(labels, {7: 0})
    with pytest.raises(ValueError, match="label 7 .pancreas. is not present"):
        phases.simulate_phase(ct, no_pancreas, "arterial", rng=0)
    with pytest.raises(ValueError, match="valid phases: native, arterial, pancreatic"):
        phases.simulate_phase(ct, labels, "delayed", rng=0)
    assert simulate.simulate_phase is phases.simulate_phase  # public home of the function
