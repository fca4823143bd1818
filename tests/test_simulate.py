"""Virtual patients: determinism, ground truth (masks, transform, landmarks) and the cache."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import simulate
from helpers.data.registry import SAMPLES
from helpers.simulate import case as case_module
from helpers.simulate import patients

FIELDS = ["plain", "contrast", "lesion_plain", "lesion_contrast", "pancreas_plain",
          "pancreas_contrast", "transform", "landmarks_plain", "landmarks_contrast", "subtype",
          "lesion_diameter_mm", "phase", "noise_hu", "seed"]
IMAGES = FIELDS[:6]


def arr(image):
    return sitk.GetArrayFromImage(image)


def dice(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def to_plain_grid(case, mask):
    """Carry a contrast-space mask onto the plain grid with the true transform (linear
    interpolation of the mask, then threshold: fairer to small shapes than nearest)."""
    moved = sitk.Resample(sitk.Cast(mask, sitk.sitkFloat32), case.plain, case.transform,
                          sitk.sitkLinear, 0.0)
    return arr(moved) >= 0.5


@pytest.fixture(scope="module")
def pdac():
    return simulate.make_case(5, "PDAC", lesion_diameter_mm=25.0)


@pytest.fixture(scope="module")
def healthy():
    return simulate.make_case(5)


def test_case_has_exactly_the_agreed_fields(pdac):
    assert [f.name for f in dataclasses.fields(simulate.VirtualCase)] == FIELDS
    assert pdac.subtype == "PDAC" and pdac.phase == "pancreatic" and pdac.seed == 5
    assert pdac.lesion_diameter_mm == 25.0
    for name in IMAGES:
        image = getattr(pdac, name)
        assert image.GetSize() == pdac.plain.GetSize() and image.GetSpacing() == (3.0, 3.0, 3.0)
    assert pdac.plain.GetPixelID() == sitk.sitkFloat32
    assert pdac.lesion_plain.GetPixelID() == sitk.sitkUInt8
    assert pdac.landmarks_plain.shape == pdac.landmarks_contrast.shape
    assert pdac.landmarks_plain.shape[0] >= 15 and pdac.landmarks_plain.shape[1] == 3


def test_same_seed_gives_identical_arrays(pdac):
    again = simulate.make_case(5, "PDAC", lesion_diameter_mm=25.0)
    for name in IMAGES:
        np.testing.assert_array_equal(arr(getattr(pdac, name)), arr(getattr(again, name)))
    np.testing.assert_array_equal(pdac.landmarks_contrast, again.landmarks_contrast)
    assert pdac.noise_hu == again.noise_hu


def test_different_seeds_give_different_patients(healthy):
    other = simulate.make_case(6)
    pancreas_a, pancreas_b = arr(healthy.pancreas_plain), arr(other.pancreas_plain)
    assert dice(pancreas_a, pancreas_b) < 0.9  # the anatomy itself differs, not just noise
    assert healthy.noise_hu != other.noise_hu


def test_changing_only_the_subtype_keeps_the_patient_and_motion(healthy):
    cyst = simulate.make_case(5, "cyst", lesion_diameter_mm=10.0)
    points = healthy.landmarks_plain[:5]
    moved = [np.array([c.transform.TransformPoint(tuple(p)) for p in points])
             for c in (healthy, cyst)]
    np.testing.assert_allclose(moved[0], moved[1], atol=1e-9)
    far = arr(cyst.lesion_plain) == 0
    same = arr(healthy.plain)[far] == arr(cyst.plain)[far]
    assert same.mean() > 0.95  # identical away from the lesion and its small push


def test_healthy_case_has_empty_lesion_masks(healthy):
    assert healthy.subtype is None and healthy.lesion_diameter_mm == 0.0
    assert arr(healthy.lesion_plain).sum() == 0 and arr(healthy.lesion_contrast).sum() == 0
    assert arr(healthy.pancreas_plain).sum() > 300


@pytest.mark.parametrize("subtype", simulate.SUBTYPES)
def test_lesion_lies_inside_the_pancreas_on_both_scans(subtype):
    case = simulate.make_case(21, subtype, lesion_diameter_mm=30.0)
    for lesion, pancreas in ((case.lesion_plain, case.pancreas_plain),
                             (case.lesion_contrast, case.pancreas_contrast)):
        lesion, pancreas = arr(lesion).astype(bool), arr(pancreas).astype(bool)
        assert lesion.sum() > 100  # a 30 mm lesion covers hundreds of 3 mm voxels
        assert not (lesion & ~pancreas).any()
        assert (pancreas & ~lesion).sum() > 200  # gland remains around it


def test_transform_maps_plain_landmarks_onto_contrast_landmarks(pdac):
    mapped = np.array([pdac.transform.TransformPoint(tuple(p)) for p in pdac.landmarks_plain])
    np.testing.assert_allclose(mapped, pdac.landmarks_contrast, atol=1e-6)
    moved = np.linalg.norm(pdac.landmarks_contrast - pdac.landmarks_plain, axis=1)
    assert moved.max() > 2.0  # there is real motion to recover


def test_inverse_maps_contrast_landmarks_back_subvoxel(pdac):
    back = simulate.inverse_transform(pdac)
    points = np.array([back.TransformPoint(tuple(p)) for p in pdac.landmarks_contrast])
    error = np.linalg.norm(points - pdac.landmarks_plain, axis=1)
    assert error.max() < 0.5  # mm; voxels are 3 mm


def test_images_agree_with_the_true_transform(pdac):
    """The drawn contrast scan really is the plain anatomy moved by ``transform``."""
    pancreas_back = to_plain_grid(pdac, pdac.pancreas_contrast)
    lesion_back = to_plain_grid(pdac, pdac.lesion_contrast)
    aligned = dice(pancreas_back, arr(pdac.pancreas_plain))
    assert aligned > 0.9
    assert dice(lesion_back, arr(pdac.lesion_plain)) > 0.8  # ~100 voxels: edges count a lot
    # Without the transform the masks overlap clearly less: the motion is not trivial.
    assert dice(arr(pdac.pancreas_contrast), arr(pdac.pancreas_plain)) < aligned - 0.1
    # Lesion centroids correspond to well under a voxel (3 mm).
    centre_plain = np.argwhere(arr(pdac.lesion_plain)).mean(0)[::-1]
    centre_contrast = np.argwhere(arr(pdac.lesion_contrast)).mean(0)[::-1]
    p = pdac.plain.TransformContinuousIndexToPhysicalPoint(centre_plain.tolist())
    q = pdac.contrast.TransformContinuousIndexToPhysicalPoint(centre_contrast.tolist())
    assert np.linalg.norm(np.subtract(pdac.transform.TransformPoint(p), q)) < 1.5


def test_pdac_is_near_iso_on_plain_and_hypo_in_pancreatic_phase(pdac):
    plain = simulate.conspicuity(arr(pdac.plain), arr(pdac.lesion_plain),
                                 arr(pdac.pancreas_plain))
    contrast = simulate.conspicuity(arr(pdac.contrast), arr(pdac.lesion_contrast),
                                    arr(pdac.pancreas_contrast))
    assert abs(plain["contrast_hu"]) < 20
    assert -90 < contrast["contrast_hu"] < -40  # sources: about -60 to -70 HU
    assert contrast["cnr"] > 2 * plain["cnr"]


def test_noise_matches_the_requested_level():
    case = simulate.make_case(8, noise_hu=15.0, motion="none")
    base = simulate.load_base()
    measured = simulate.measure_noise(arr(case.plain), base.labels)["sd_hu"]
    assert measured == pytest.approx(15.0, rel=0.15)
    assert simulate.load_base().noise_hu == pytest.approx(11.6, abs=1.5)  # the real scan


def test_motion_none_gives_identity_transform():
    case = simulate.make_case(9, motion="none", vary_anatomy=False)
    np.testing.assert_allclose(case.landmarks_contrast, case.landmarks_plain, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=-1), "seed"), (dict(seed=1, subtype="PDAC2"), "valid subtypes: PDAC"),
    (dict(seed=1, phase="venous"), "valid phases: native"),
    (dict(seed=1, motion="wild"), "valid: none"),
    (dict(seed=1, lesion_diameter_mm=10), "healthy"),
    (dict(seed=1, subtype="cyst", lesion_diameter_mm=200), "3-60 mm"),
])
def test_bad_arguments_give_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate.make_case(**kwargs)


def test_cohort_is_deterministic_balanced_and_kept_in_memory_not_on_disk(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    patients.KEPT.clear()
    plan = simulate.cohort_plan(10, 3)
    assert plan == simulate.cohort_plan(10, 3)
    kinds = [s for _, s in plan]
    assert kinds.count(None) == 5 and {k for k in kinds if k} <= set(simulate.SUBTYPES)
    first = simulate.make_cohort(4, 3, progress=False, motion="none")
    assert not any(tmp_path.iterdir())  # rebuilt from the seed where needed, never stored
    table = simulate.patient_table(first)
    assert len(table) == 4 and (table.motion_max_mm == 0).all()  # motion="none"
    lesioned = table[table.subtype != "healthy"]
    assert (lesioned.sphere_equiv_mm <= lesioned.diameter_mm).all()
    assert (table[table.subtype == "healthy"].lesion_voxels == 0).all()
    second = simulate.make_cohort(4, 3, progress=False, motion="none")
    assert all(a is b for a, b in zip(first, second, strict=True))  # kept, not rebuilt
    fresh = simulate.make_case(first[2].seed, first[2].subtype, motion="none", gland_fat=None)
    np.testing.assert_array_equal(arr(first[2].contrast), arr(fresh.contrast))
    np.testing.assert_array_equal(first[2].landmarks_contrast, fresh.landmarks_contrast)


def test_parallel_and_kept_single_cases_match_the_serial_build(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    patients.KEPT.clear()  # both builds below must build, not reuse kept cases
    serial = simulate.make_cohort(2, 11, progress=False, cache=False, motion="none")
    parallel = simulate.make_cohort(2, 11, progress=False, cache=False, motion="none", n_jobs=2)
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(arr(a.plain), arr(b.plain))
        np.testing.assert_array_equal(arr(a.lesion_contrast), arr(b.lesion_contrast))
    first = simulate.make_case(3, "cyst", cache=True)
    assert simulate.make_case(3, "cyst", cache=True) is first  # the kept case
    assert simulate.make_case(3, "cyst") is not first  # cache=False (the default) builds anew
    samples = {f.path for sample in SAMPLES.values() for f in sample.files}
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written <= samples  # at most the real scan the simulator starts from: no patient


def test_an_unkept_cohort_reuses_kept_cases_and_keeps_no_new_one():
    patients.KEPT.clear()
    kept = simulate.make_cohort(2, 21, progress=False, motion="none")
    again = simulate.make_cohort(2, 21, progress=False, motion="none", cache=False)
    assert all(a is b for a, b in zip(kept, again, strict=True))  # reused, not rebuilt
    simulate.make_cohort(1, 22, progress=False, motion="none", cache=False)
    assert len(patients.KEPT) == 2  # the new case was not kept


def test_a_cohort_builds_only_the_seeds_asked_for_as_the_whole_cohort_has_them():
    patients.KEPT.clear()
    plan = simulate.cohort_plan(3, 23)
    wanted = [plan[2][0], plan[0][0]]
    some = simulate.make_cohort(3, 23, progress=False, motion="none", cache=False, seeds=wanted)
    assert [c.seed for c in some] == [plan[0][0], plan[2][0]]  # in cohort order
    assert [c.subtype for c in some] == [plan[0][1], plan[2][1]]
    whole = simulate.make_cohort(3, 23, progress=False, motion="none", cache=False)
    np.testing.assert_array_equal(arr(some[1].plain), arr(whole[2].plain))
    with pytest.raises(ValueError, match="no patient of this cohort has the seed"):
        simulate.make_cohort(3, 23, progress=False, motion="none", seeds=[12345])


def test_a_kept_case_is_not_reused_once_the_simulator_changes(monkeypatch):
    """The key hashes the simulator's version: a new version never returns an old case."""
    first = simulate.make_case(5, cache=True, motion="none")
    monkeypatch.setattr(patients, "CASE_VERSION", patients.CASE_VERSION + "-changed")
    again = simulate.make_case(5, cache=True, motion="none")
    assert again is not first
    np.testing.assert_array_equal(arr(first.plain), arr(again.plain))  # same recipe here


# build_record's output for cases that cover its paths (healthy; PDAC with the dilated duct and
# hard, sliding motion; randomised SPT and cyst with blurred margins and mass effect; the native
# and arterial phases; no motion; a fixed anatomy; a given noise level), as digests computed
# with the simulator before it was made faster (commit ed554fb). Making it faster must leave
# every array identical, bit for bit: a change of output is a new CASE_VERSION, not a speed-up.
# Each digest is the first 16 hex digits of SHA-256 over the array's dtype, shape and bytes.
# The bytes depend on the pinned numpy, scipy and SimpleITK (requirements.txt) and on the CPU's
# vector instructions (numpy's float64 cos and tanh differ with AVX-512), so the test runs only
# where those match the machine the digests were computed on.
REFERENCE_PLATFORM = {"numpy": "2.4.6", "scipy": "1.17.1", "SimpleITK": "2.5.7",
                      "AVX512F": False}
RECORD_DIGESTS = [
    (dict(seed=976257832), {
        "plain": "9ecb680069e11e43", "contrast": "9898c12f02ebd61d",
        "lesion_plain": "942297934a990286", "lesion_contrast": "942297934a990286",
        "pancreas_plain": "df97b1a54429fb31", "duct_plain": "942297934a990286",
        "pancreas_contrast": "f77cb3d8c1debc6c", "field": "2917fcbae9b10501",
        "field_origin": "eb450c90e3f95c4c", "field_spacing": "2b68e58f0fa699ef",
        "rigid": "db4da767c2e78ee3", "landmarks_plain": "086f160e5404c988",
        "subtype": "3c6c901e3726670c", "lesion_diameter_mm": "7f772bdf682f6906",
        "phase": "73d532bd5c3a4340", "noise_hu": "38a67618b7020677", "seed": "f02f48acdab1e6d4",
    }),
    (dict(seed=2, subtype="PDAC", motion_level="hard", lesion_diameter_mm=25), {
        "plain": "375ceff6ea81c7ae", "contrast": "fc227369e6ca29d2",
        "lesion_plain": "471f10be44e64e51", "lesion_contrast": "0b1ed3c2863eabb9",
        "pancreas_plain": "bd5d7c94ede73960", "duct_plain": "fc243c314ccac948",
        "pancreas_contrast": "98c5cf6964e64caa", "field": "bb7e8f297da96bcd",
        "field_origin": "eb450c90e3f95c4c", "field_spacing": "2b68e58f0fa699ef",
        "rigid": "c7f4b17e6e22422a", "landmarks_plain": "345c41142b45824d",
        "subtype": "1e8431bd7298975a", "lesion_diameter_mm": "a9644e8c5da3c9f2",
        "phase": "73d532bd5c3a4340", "noise_hu": "66dce3afe659c19f", "seed": "4f10b8495fcada0f",
    }),
    (dict(seed=1910981188, subtype="SPT", appearance="random"), {
        "plain": "eaf0c1dc86cc18b5", "contrast": "fa6133360396edc7",
        "lesion_plain": "b32174679de6a076", "lesion_contrast": "02e06483a02fa299",
        "pancreas_plain": "cea07e3f670d3aa2", "duct_plain": "942297934a990286",
        "pancreas_contrast": "b6a08df1bf6f68f6", "field": "fea44c4d8befd3a7",
        "field_origin": "eb450c90e3f95c4c", "field_spacing": "2b68e58f0fa699ef",
        "rigid": "76726bd912742bb3", "landmarks_plain": "e92c1e61d7a4c044",
        "subtype": "942428b9d6174b13", "lesion_diameter_mm": "f32d0aa5b6f55d52",
        "phase": "73d532bd5c3a4340", "noise_hu": "fcf4ae5f21dd5eba", "seed": "02343fb23e27885d",
    }),
    (dict(seed=44, subtype="cyst", appearance="random", motion_level="hard", phase="arterial"), {
        "plain": "844cd79d95a4066e", "contrast": "c77fd026512b41a8",
        "lesion_plain": "1c4911b4aedf83f2", "lesion_contrast": "57261eb97e586a2b",
        "pancreas_plain": "b86cca9aa59a12bc", "duct_plain": "942297934a990286",
        "pancreas_contrast": "6c1920a9031bd246", "field": "8d9bbdd136a82440",
        "field_origin": "eb450c90e3f95c4c", "field_spacing": "2b68e58f0fa699ef",
        "rigid": "364d7284d58780db", "landmarks_plain": "2ea985da233829fd",
        "subtype": "ae6760ed715d0958", "lesion_diameter_mm": "edc635d9f06cfda5",
        "phase": "57c5b542f925ecd2", "noise_hu": "6f83e77648d4e22a", "seed": "ce6d5942956fe9a3",
    }),
    (dict(seed=13, subtype="PDAC", phase="native", vary_anatomy=False), {
        "plain": "6c155e2991e2e12a", "contrast": "acfcace90450f22c",
        "lesion_plain": "d7f224c25b4904db", "lesion_contrast": "2898470877c8e3c0",
        "pancreas_plain": "e564f9544a6cb84c", "duct_plain": "5bb9b3ec8af5ee73",
        "pancreas_contrast": "e3e25dbde8010a56", "field": "d4d0a5d14a39d5b7",
        "field_origin": "eb450c90e3f95c4c", "field_spacing": "2b68e58f0fa699ef",
        "rigid": "754b427cab2a931e", "landmarks_plain": "4a80446d10eae5da",
        "subtype": "1e8431bd7298975a", "lesion_diameter_mm": "9c9eac8e14bcd81a",
        "phase": "1a4b79484a2af798", "noise_hu": "cc6948bf483e9d89", "seed": "a643b7e460075322",
    }),
    (dict(seed=8, noise_hu=15.0, motion_level="none"), {
        "plain": "3613a1470f3a1e23", "contrast": "a8f75a76d0a1e725",
        "lesion_plain": "942297934a990286", "lesion_contrast": "942297934a990286",
        "pancreas_plain": "4dabddff403492a8", "duct_plain": "942297934a990286",
        "pancreas_contrast": "4dabddff403492a8", "field": "7cbb4289c090b5a0",
        "field_origin": "eb450c90e3f95c4c", "field_spacing": "2b68e58f0fa699ef",
        "rigid": "3e9710826dfe62aa", "landmarks_plain": "0d2abebc642d6cb8",
        "subtype": "3c6c901e3726670c", "lesion_diameter_mm": "7f772bdf682f6906",
        "phase": "73d532bd5c3a4340", "noise_hu": "286c02bc689e646f", "seed": "b951758047328527",
    }),
]


def platform_now() -> dict:
    import scipy
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - another numpy layout: not the reference one
        features = {"AVX512F": None}
    return {"numpy": np.__version__, "scipy": scipy.__version__,
            "SimpleITK": sitk.__version__, "AVX512F": bool(features.get("AVX512F"))}


def record_digests(record: dict) -> dict:
    digests = {}
    for key, value in record.items():
        array = np.ascontiguousarray(value)
        head = f"{array.dtype.str}{array.shape}".encode()
        digests[key] = hashlib.sha256(head + array.tobytes()).hexdigest()[:16]
    return digests


@pytest.mark.parametrize("params, expected", RECORD_DIGESTS,
                         ids=[str(i) for i in range(len(RECORD_DIGESTS))])
def test_build_record_is_bit_identical_to_the_reference(params, expected):
    if platform_now() != REFERENCE_PLATFORM:
        pytest.skip(f"reference digests were computed with {REFERENCE_PLATFORM}, "
                    f"this is {platform_now()}")
    got = record_digests(case_module.build_record(**params))
    changed = sorted(key for key in expected if got.get(key) != expected[key])
    assert not changed and set(got) == set(expected), f"arrays that changed: {changed}"
