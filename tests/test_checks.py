"""helpers.checks, the input checks every stage shares: what each refuses, in which words
(issue 20). The stages' own use of them is tested with each stage."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import arr, raw_values

from helpers import checks, pipeline


def test_a_grid_too_large_for_a_plausible_scan_says_to_crop_it():
    scan = sitk.Image([100, 100, 100], sitk.sitkInt16)  # 1 mm voxels: a real CT's
    with pytest.raises(checks.ScanTooLargeError) as caught:
        checks.check_resample_memory(scan, 0.1, "scan")  # 1000^3 float32 voxels
    message = str(caught.value)
    assert "would need 3.7 GB of memory on the 0.1 mm grid this step builds" in message
    assert "covers (100, 100, 100) mm: crop it" in message and "nothing was allocated" in message
    checks.check_resample_memory(scan, 1.0, "scan")  # its own voxels: 4 MB, allowed


def test_the_raw_values_hint_fires_with_a_negative_minimum_and_mostly_air():
    stored = np.full((20, 40, 40), -20.0, np.float32)  # air written at -1044 HU, stored -20
    stored[:, 15:25, 15:25] = 1064.0  # a small body of soft tissue (40 HU): 6 % of the voxels
    scan = sitk.GetImageFromArray(stored)
    assert checks.stored_value_peak(stored) is None  # too little body for the peak test
    with pytest.raises(pipeline.NotCTError) as caught:
        checks.check_scan(scan)
    message = str(caught.value)
    assert "values run from -20 to 1064" in message and "nothing is below -500 HU" in message
    assert "raw stored values" in message and "slightly below 0" in message
    assert "RescaleSlope + RescaleIntercept" in message


def test_stored_value_peak_recognises_raw_values_whatever_the_minimum(ct_sm):
    hu = arr(ct_sm)
    assert checks.stored_value_peak(hu) is None  # HU: air present
    assert checks.stored_value_peak(hu[hu > -300]) is None  # HU without air: body only
    for below in (None, -1050.0):  # the minimum 0, or slightly negative
        raw = arr(raw_values(ct_sm, below))
        assert (raw.min() < 0) == (below is not None)
        peak = checks.stored_value_peak(raw)
        assert peak is not None and 870 <= peak <= 1230
