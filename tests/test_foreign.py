"""The foreign simulator (helpers.simulate.foreign) and the randomised lesion appearance of the
training cohorts: what each promises, and that they stay apart."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from helpers import cohorts, simulate
from helpers.simulate import foreign, lesions


def arr(image):
    return sitk.GetArrayFromImage(image)


def test_the_foreign_simulator_shares_no_code_with_the_main_one():
    tree = ast.parse(Path(foreign.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    assert not imported & {"case", "lesions", "lesion_shape", "motion", "phases", "patients",
                           "insert", "secondary_signs"}, imported


@pytest.fixture(scope="module")
def plan():
    return foreign.foreign_plan(12)


def test_the_plan_alternates_healthy_and_lesion_patients(plan):
    assert [s is None for _, s in plan] == [True, False] * 6
    assert [s for _, s in plan if s] == list(foreign.SUBTYPE_CYCLE)
    assert [seed for seed, _ in plan] == cohorts.patient_seeds("foreign", 12)


def test_a_foreign_lesion_changes_intensity_only_inside_the_gland(plan):
    seed, subtype = next((s, t) for s, t in plan if t == "cyst")
    case = foreign.foreign_case(seed, subtype, use_cache=False)
    healthy = foreign.foreign_case(seed, None, use_cache=False)  # same anatomy, no lesion
    lesion, gland = arr(case.lesion_plain) > 0, arr(healthy.pancreas_plain) > 0
    assert lesion.any() and not (lesion & ~ndi.binary_dilation(gland)).any()  # no bulge
    np.testing.assert_array_equal(arr(case.pancreas_plain) > 0, gland | lesion)
    changed = arr(case.plain) != arr(healthy.plain)
    assert not (changed & ~ndi.binary_dilation(lesion, iterations=3)).any()  # no mass effect
    # Relative to the parenchyma, not to the (maybe fatty) gland: fluid is near water.
    difference = arr(case.plain)[ndi.binary_erosion(lesion)].mean() - foreign.PARENCHYMA_HU
    low, high = foreign.PLAIN_DELTA_HU["cyst"]
    assert low - 8 <= difference <= high + 8 and low <= case.plain_delta_hu <= high


def test_foreign_patients_are_deterministic_and_kept_in_memory(plan, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    seed, subtype = plan[1]
    first = foreign.foreign_case(seed, subtype)
    assert foreign.foreign_case(seed, subtype) is first and not any(tmp_path.iterdir())
    cohort = foreign.foreign_cohort(3)  # built on both cores: the same patients
    assert foreign.foreign_case(*plan[2]) is cohort[2]
    np.testing.assert_array_equal(arr(cohort[1].plain), arr(first.plain))
    fresh = foreign.foreign_case(seed, subtype, use_cache=False)
    np.testing.assert_array_equal(arr(first.plain), arr(fresh.plain))
    shifted = np.array(first.transform.TransformPoint((0.0, 0.0, 0.0)))
    assert foreign.SHIFT_MM[0] <= np.linalg.norm(shifted) <= foreign.SHIFT_MM[1]


def test_the_foreign_cohorts_are_in_the_table_and_disjoint():
    assert {"foreign", "foreign validation"} <= set(cohorts.COHORTS)
    cohorts.check_disjoint()
    with pytest.raises(ValueError, match="unknown cohort"):
        foreign.foreign_plan(2, name="foreigner")


# ------------------------------------------------------------------------- randomised appearance
def test_random_appearance_draws_within_its_ranges():
    rng = np.random.default_rng(0)
    looks = [lesions.random_appearance(s, rng) for s in simulate.SUBTYPES * 25]
    assert {look["shape"] for look in looks} == set(lesions.SHAPES)
    assert min(look["mass_effect"] for look in looks) < 0.1 < 0.9 < max(
        look["mass_effect"] for look in looks)
    for subtype, look in zip(simulate.SUBTYPES * 25, looks, strict=True):
        for component, delta in look["plain_delta"].items():
            low, high = lesions.RANDOM_PLAIN_DELTA_HU[(subtype, component)]
            assert low <= delta <= high
    cysts = [look["plain_delta"]["fluid"] for look in looks[2::4]]
    # Fluid near water (0-20 HU) against parenchyma at gland.PARENCHYMA_HU, with some spread.
    assert min(cysts) < -40 and max(cysts) > -20
    with pytest.raises(ValueError, match="unknown lesion subtype"):
        lesions.random_appearance("polyp", rng)


def test_random_appearance_changes_only_the_lesion_and_keeps_the_patient():
    standard = simulate.make_case(21, "cyst", lesion_diameter_mm=20.0)
    varied = simulate.make_case(21, "cyst", lesion_diameter_mm=20.0, appearance="random")
    again = simulate.make_case(21, "cyst", lesion_diameter_mm=20.0, appearance="random")
    np.testing.assert_array_equal(arr(varied.plain), arr(again.plain))  # deterministic
    assert not np.array_equal(arr(varied.lesion_plain), arr(standard.lesion_plain))
    assert varied.noise_hu != standard.noise_hu  # the dose is drawn more widely too
    healthy = simulate.make_case(21, appearance="random")
    np.testing.assert_array_equal(arr(healthy.pancreas_plain),
                                  arr(simulate.make_case(21).pancreas_plain))
    with pytest.raises(ValueError, match="unknown appearance"):
        simulate.make_case(21, "cyst", appearance="wild")


def test_the_training_cohorts_draw_random_looks_and_the_test_cohorts_do_not():
    assert cohorts.cohort("training").appearance == "random"
    assert cohorts.cohort("stage3 training").appearance == "random"
    for name in ("held-out", "validation", "stage3 held-out", "never seen", "stage1 test"):
        assert cohorts.cohort(name).appearance == "standard", name
