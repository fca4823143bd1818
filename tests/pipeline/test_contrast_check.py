"""Is the scan plain CT? helpers.pipeline.contrast_check (issue 33): plain scans pass, contrast
scans are refused before stage 1 with the values seen, and allow_contrast=True runs anyway with
a warning in the result. benchmarks/contrast_check.py measures the rates over every cohort."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import small_voxel_model  # noqa: F401 (autouse fixture)

from helpers import checks, data, pipeline
from helpers.pipeline import contrast_check
from helpers.simulate import make_case
from helpers.simulate.foreign import foreign_case

CONTRAST_PHASES = ("arterial", "pancreatic", "portal_venous")


@pytest.fixture(scope="module")
def patients():
    """One virtual patient with a PDAC, its contrast scan in each phase (one plain scan)."""
    return {phase: make_case(7, "PDAC", phase=phase) for phase in CONTRAST_PHASES}


@pytest.mark.parametrize("name", ["totalsegmentator_example_ct_sm",
                                  "totalsegmentator_example_ct"])
def test_the_real_native_scans_are_plain(mirror, name):
    pool = contrast_check.measure_blood_pool(data.load_ct(name))
    assert pool is not None and not pool.enhanced
    assert 35 < pool.hu < 70  # the blood of a plain CT (45-65 HU), give or take noise
    assert contrast_check.check_plain_ct(data.load_ct(name)) is None


def test_virtual_and_foreign_plain_scans_pass_and_every_contrast_phase_is_caught(patients):
    plain = patients["pancreatic"].plain
    assert not contrast_check.measure_blood_pool(plain).enhanced
    for phase, case in patients.items():
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(case.plain),
                                      sitk.GetArrayViewFromImage(plain))  # one plain scan
        with pytest.raises(checks.ContrastPhaseError) as caught:
            contrast_check.check_plain_ct(case.contrast)
        pool = contrast_check.measure_blood_pool(case.contrast)
        assert pool.hu > contrast_check.ENHANCED_HU, phase
        message = str(caught.value)
        assert f"measures {pool.hu:.0f} HU" in message and "45-65 HU" in message
        assert "reads plain (non-contrast) CT" in message and "allow_contrast=True" in message
    foreign = foreign_case(3, "PDAC", use_cache=False)
    assert contrast_check.check_plain_ct(foreign.plain) is None
    assert contrast_check.measure_blood_pool(foreign.contrast).enhanced


def test_predict_refuses_a_contrast_scan_before_stage_1_unless_allowed(toy_pipeline, patients):
    case = patients["pancreatic"]
    assert issubclass(checks.ContrastPhaseError, checks.InputError)
    with pytest.raises(pipeline.ContrastPhaseError, match="looks contrast-enhanced"):
        toy_pipeline.predict(case.contrast)  # no mask: refused before stage 1 would run
    with pytest.raises(pipeline.ContrastPhaseError):
        toy_pipeline.predict(case.contrast, case.pancreas_contrast)
    result = toy_pipeline.predict(case.contrast, case.pancreas_contrast, allow_contrast=True)
    (warning,) = result.warnings
    assert warning.startswith("warning: the scan looks contrast-enhanced")
    assert toy_pipeline.predict(case.plain, case.pancreas_plain).warnings == []
    # A pipeline trained on contrast CT is meant for contrast scans: not refused.
    for_contrast = dataclasses.replace(toy_pipeline, image="contrast")
    assert for_contrast.predict(case.contrast, case.pancreas_contrast).warnings == []


def test_a_scan_too_small_to_measure_is_not_judged():
    array = np.full((8, 8, 8), -1000.0, np.float32)
    array[:, 2:, :] = 300.0  # bright, but no body to find a vessel in
    scan = sitk.GetImageFromArray(array)
    scan.SetSpacing((3.0, 3.0, 3.0))
    assert contrast_check.measure_blood_pool(scan) is None
    assert contrast_check.check_plain_ct(scan) is None
