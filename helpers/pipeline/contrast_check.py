"""Is this a plain CT? The blood pool's HU, measured without labels, before stage 1.

The pipeline learnt from plain (non-contrast) CT. On a contrast scan the gland and every
vessel are far brighter, and its scores mean nothing: a lesion found on a patient's plain scan
can go unseen on the same patient's pancreatic-phase scan. Blood tells the phases apart best:
about 45-65 HU on plain CT, while in the late arterial (pancreatic) phase the aorta peaks at
about 290-360 HU and the portal vein reaches about 145 HU (sources in notebooks/references.md).

No label is known at prediction time, so the blood pool is found from the image alone, on
stage 1's 3 mm working grid:

1. boxes of 9 x 9 mm in-plane and 15 mm head-to-foot, fully inside the body and at least
   30 mm from its skin (ribs and costal cartilage lie closer);
2. a box counts as *vessel-like* when it is homogeneous (its SD is at most twice the scan's
   noise, or 30 HU), clearly brighter than its surroundings (the median of a ring 10.5-15 mm
   from it is below half the box's HU, and at least 40 HU below it: a vessel in fat is, a
   piece of bone marrow, which cortex surrounds, is not) and has no much brighter voxel
   nearby (bone cortex within 6 mm);
3. on each slice, the brightest vessel-like box; the blood pool's HU is the median over the
   slices, so a stone or calcification on a few slices does not count.

On plain virtual patients and the real native scan this finds about 45-55 HU (the aorta,
inferior vena cava and similar); on contrast scans the enhanced aorta. A scan whose blood pool
is above :data:`ENHANCED_HU` is refused with :class:`helpers.checks.ContrastPhaseError`.
benchmarks/contrast_check.py measures the false refusals on every cohort's plain scans and the
catch rate on their contrast scans. Limits: a scan too small or too short to measure (fewer
than :data:`MIN_SLICES` slices with a vessel-like box) is not judged; a very wide blood pool
(a chest CT angiogram's heart and aorta) is not vessel-like at this scale and can be missed.
Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from ..checks import ContrastPhaseError
from .grid import body_mask, to_working_grid

# Above this the blood is enhanced: far above native blood (45-65 HU) and the brightest plain
# soft tissue, far below the enhanced aorta of every phase the simulator makes. Chosen on
# virtual patients (plain ones measure about 45-55 HU here): benchmarks/contrast_check.py.
ENHANCED_HU = 110.0
NATIVE_BLOOD_HU = (45.0, 65.0)  # notebooks/references.md: prokop-hu (Prokop's tables)
BOX_VOXELS = (5, 3, 3)  # z, y, x on the 3 mm grid: 15 mm x 9 mm x 9 mm, inside a 15 mm vessel
RING_VOXELS = (3.5, 5.0)  # the surroundings: 10.5-15 mm from the box's centre, in-plane
SKIN_MARGIN_VOXELS = 10  # 30 mm: ribs and costal cartilage lie within it, the aorta never
MIN_BRIGHTER_HU = 40.0  # a vessel is at least this much brighter than its ring...
BRIGHTER_FACTOR = 0.5  # ...and its ring below this fraction of its HU (not bone marrow)
MAX_PEAK_ABOVE_HU = 150.0  # a voxel this much brighter within 6 mm is bone cortex
MIN_SLICES = 3  # fewer slices with a vessel-like box: not measurable, not judged


@dataclass(frozen=True)
class BloodPool:
    """The blood pool measured in a scan: its HU (median over slices), the range of the
    slices' values and how many slices were measured."""

    hu: float
    low: float
    high: float
    slices: int

    @property
    def enhanced(self) -> bool:
        """True when the blood is clearly contrast-enhanced (above :data:`ENHANCED_HU`)."""
        return self.hu > ENHANCED_HU


def _ring(inner: float, outer: float) -> np.ndarray:
    """An in-plane annulus footprint (one slice thick) between two radii in voxels."""
    r = int(np.ceil(outer))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    distance = np.hypot(yy, xx)
    return ((distance >= inner) & (distance <= outer))[None]


def vessel_like_boxes(hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, vessel_like)``: each box's mean HU and whether it is vessel-like (see the
    module's steps 1-2), for a working-grid HU array ``[z, y, x]``."""
    hu = np.asarray(hu, np.float32)
    mean = ndi.uniform_filter(hu, BOX_VOXELS)
    sd = np.sqrt(np.maximum(ndi.uniform_filter(hu * hu, BOX_VOXELS) - mean * mean, 0.0))
    margin = np.ones((1, 2 * SKIN_MARGIN_VOXELS + 1, 2 * SKIN_MARGIN_VOXELS + 1), bool)
    inside = ndi.binary_erosion(body_mask(hu), margin)
    soft = inside & (mean > -50) & (mean < 100)
    if not soft.any():
        return mean, np.zeros(hu.shape, bool)
    # The quietest fifth of soft-tissue boxes shows the noise alone (no edges in them).
    noise = float(np.percentile(sd[soft], 20))
    ring = ndi.percentile_filter(ndi.uniform_filter1d(hu, BOX_VOXELS[0], axis=0), 50,
                                 footprint=_ring(*RING_VOXELS))
    peak = ndi.maximum_filter(hu, size=(5, 5, 5))
    vessel = (inside & (sd < max(2.0 * noise, 30.0)) & (mean > 0)
              & (mean - ring > np.maximum(MIN_BRIGHTER_HU, BRIGHTER_FACTOR * mean))
              & (peak - mean < MAX_PEAK_ABOVE_HU))
    return mean, vessel


def measure_blood_pool(scan: sitk.Image) -> BloodPool | None:
    """The blood pool of a CT in HU (any orientation and voxel size), or None when fewer
    than :data:`MIN_SLICES` slices show a vessel-like box (too small a scan to judge)."""
    hu = sitk.GetArrayFromImage(to_working_grid(scan))
    if min(hu.shape[1:]) <= 2 * SKIN_MARGIN_VOXELS or hu.shape[0] < BOX_VOXELS[0]:
        return None
    mean, vessel = vessel_like_boxes(hu)
    half = BOX_VOXELS[0] // 2  # end slices: their boxes reach past the scan
    per_slice = [float(mean[z][vessel[z]].max()) for z in range(half, hu.shape[0] - half)
                 if vessel[z].any()]
    if len(per_slice) < MIN_SLICES:
        return None
    low, high = np.percentile(per_slice, [10, 90])
    return BloodPool(float(np.median(per_slice)), float(low), float(high), len(per_slice))


def contrast_message(pool: BloodPool, name: str = "scan") -> str:
    """What to say about a contrast-enhanced scan: the values seen, what the pipeline reads
    and how to proceed."""
    return (
        f"the {name} looks contrast-enhanced: its blood pool (the brightest vessel-like "
        f"structure inside the body, on {pool.slices} slices) measures {pool.hu:.0f} HU "
        f"(median; {pool.low:.0f}-{pool.high:.0f} HU over the slices), where blood on plain CT "
        f"is about {NATIVE_BLOOD_HU[0]:.0f}-{NATIVE_BLOOD_HU[1]:.0f} HU; above "
        f"{ENHANCED_HU:.0f} HU counts as enhanced. This pipeline reads plain (non-contrast) CT: "
        "it learnt from plain scans, and on a contrast scan its scores mean nothing (a lesion "
        "can vanish against the enhanced gland). Pass the plain scan (for a virtual patient: "
        "case.plain, not case.contrast). To run it anyway, call predict(scan, "
        "allow_contrast=True): the result then carries this warning in result.warnings.")


def check_plain_ct(scan: sitk.Image, name: str = "scan", *,
                   allow_contrast: bool = False) -> str | None:
    """Raise :class:`helpers.checks.ContrastPhaseError` when ``scan``'s blood pool is
    clearly enhanced (:func:`measure_blood_pool`). With ``allow_contrast=True`` return the
    message as a warning instead. None for a plain scan or one too small to judge."""
    pool = measure_blood_pool(scan)
    if pool is None or not pool.enhanced:
        return None
    message = contrast_message(pool, name)
    if not allow_contrast:
        raise ContrastPhaseError(message)
    return "warning: " + message
