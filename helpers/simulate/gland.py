"""The pancreas as parenchyma plus fat: from a normal gland to the real scan's fatty one.

The series' one real anatomy (TotalSegmentator's native example) has a heavily fat-replaced
pancreas: its mean is about -8 HU on plain CT, where a normal gland measures about 30-40 HU
(notebook 02 cites the sources). Left as it is, every virtual patient would have severe
pancreatic steatosis. So each voxel of the real gland is read as a mix of two tissues:

* parenchyma at :data:`PARENCHYMA_HU` (a normal gland, top of the 30-40 HU range), and
* fat at :data:`FAT_HU` (fat measures about -50 to -100 HU).

A voxel's **fat fraction** ``f`` comes from its (denoised) HU: ``f = (P - HU) / (P - F)``,
clipped to 0..1. The gland's *local* mean (a Gaussian average inside the gland,
:data:`LOCAL_SIGMA_VOX` voxels wide) gives the fat to take away; what is left, the voxel minus
that local mean, is the gland's fine texture.

A patient's **fat scale** ``s`` (0..1) keeps ``s`` times the real fat: at ``s = 1`` the gland
is the real scan's, voxel for voxel; at ``s = 0`` every voxel is parenchyma (the local mean
moved to ``P``), with :data:`TEXTURE_KEPT` of the real fine texture (the rest of it is fat
lobules, an assumption). Fat does not enhance, parenchyma does: contrast raises a voxel by
the parenchyma's enhancement times its parenchymal fraction ``1 - s f`` (:mod:`.phases`).
A lesion replaces parenchyma and fat alike with tissue of its own attenuation
(:mod:`.lesions`). Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

# Normal pancreatic parenchyma on plain CT: about 30-40 HU (prokop-hu in
# notebooks/references.md); the top of the range, as the issue that asked for this module states.
PARENCHYMA_HU = 40.0
# Fat: about -50 to -100 HU on CT (same table); -100 for pure fat.
FAT_HU = -100.0
LOCAL_SIGMA_VOX = 1.0  # the "local mean" of a voxel: a 3 mm Gaussian at 3 mm voxels
# Share of the real gland's fine texture a fat-free gland keeps (an assumption: in this
# fatty gland most of it is fat lobules against parenchyma).
TEXTURE_KEPT = 0.5
# Every cohort draws each patient's fat scale uniformly from this range (an assumption: a
# spread for training and testing, not the population's distribution; steatosis is seen on
# about 30 % of plain CTs, notebook 02 cites the study).
GLAND_FAT_RANGE = (0.0, 1.0)
# Groups the benchmarks report separately.
NORMAL_MAX, FATTY_MIN = 0.2, 0.8
REAL_GLAND = 1.0  # the real scan's own gland: the one named fatty case


@dataclass(frozen=True)
class GlandFat:
    """The real gland read as parenchyma plus fat (arrays on the scan's grid, 0 outside the
    gland): ``fraction`` is each voxel's fat fraction ``f``; ``change`` the HU a voxel gains
    when all its fat is taken away (fat scale 0)."""

    fraction: np.ndarray
    change: np.ndarray


def check_gland_fat(value) -> float:
    """Return the fat scale as a float, or raise a ValueError naming the valid range."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"gland_fat must be a number from 0 (a normal gland) to 1 (the real, "
                         f"fatty gland), got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"gland_fat must be within 0 (a normal gland) .. 1 (the real, fatty "
                         f"gland), got {value}")
    return value


def draw_gland_fat(rng) -> float:
    """One patient's fat scale, uniform over :data:`GLAND_FAT_RANGE`."""
    return float(rng.uniform(*GLAND_FAT_RANGE))


def fat_group(scale: float) -> str:
    """"normal" (fat scale at most :data:`NORMAL_MAX`), "fatty" (at least :data:`FATTY_MIN`)
    or "intermediate": the groups the benchmarks report."""
    return "normal" if scale <= NORMAL_MAX else "fatty" if scale >= FATTY_MIN else "intermediate"


def local_mean(hu_zyx, gland_zyx, sigma_vox: float = LOCAL_SIGMA_VOX) -> np.ndarray:
    """The gland's local mean HU at each gland voxel: a Gaussian average over gland voxels
    only (so the fat around the gland does not leak in); 0 outside the gland."""
    gland = np.asarray(gland_zyx, bool)
    hu = np.asarray(hu_zyx, np.float64)
    weight = ndi.gaussian_filter(gland.astype(np.float64), sigma_vox)
    mean = ndi.gaussian_filter(np.where(gland, hu, 0.0), sigma_vox) / np.maximum(weight, 1e-6)
    return np.where(gland, mean, 0.0)


def _fraction(hu) -> np.ndarray:
    return np.clip((PARENCHYMA_HU - np.asarray(hu, np.float64)) / (PARENCHYMA_HU - FAT_HU),
                   0.0, 1.0)


def fat_fraction(hu_zyx, gland_zyx) -> np.ndarray:
    """Each gland voxel's fat fraction (0..1) from its HU (pass a denoised scan: noise would
    read as fat); 0 outside the gland."""
    return np.where(np.asarray(gland_zyx, bool), _fraction(hu_zyx), 0.0).astype(np.float32)


def gland_fat(hu_zyx, gland_zyx) -> GlandFat:
    """Read a real gland as parenchyma plus fat (see the module's docstring)."""
    gland = np.asarray(gland_zyx, bool)
    mean = local_mean(hu_zyx, gland)
    texture = np.where(gland, np.asarray(hu_zyx, np.float64) - mean, 0.0)
    change = _fraction(mean) * (PARENCHYMA_HU - FAT_HU) - (1.0 - TEXTURE_KEPT) * texture
    return GlandFat(fat_fraction(hu_zyx, gland), np.where(gland, change, 0.0).astype(np.float32))


def at_fat_scale(hu_zyx, fat: GlandFat, scale: float) -> np.ndarray:
    """The scan with its gland at fat scale ``scale`` (1: unchanged; 0: no fat)."""
    scale = check_gland_fat(scale)
    return (np.asarray(hu_zyx, np.float32) + np.float32(1.0 - scale) * fat.change).astype(
        np.float32)


def parenchymal_fraction(fat: GlandFat, scale: float) -> np.ndarray:
    """Each voxel's share of parenchyma at fat scale ``scale``: ``1 - scale * f`` (1 outside
    the gland). Only this share enhances with contrast."""
    return (1.0 - np.float32(check_gland_fat(scale)) * fat.fraction).astype(np.float32)


def parenchyma_levels(native_ring, phase_rings: dict, parenchyma_ring) -> dict:
    """The parenchyma's HU per phase near a lesion, from the gland voxels around it.

    ``native_ring``: their plain-scan HU; ``phase_rings``: phase -> their HU in that phase;
    ``parenchyma_ring``: their parenchymal fractions. The plain value is
    :data:`PARENCHYMA_HU`; in a contrast phase it is raised by the ring's mean enhancement
    divided by its mean parenchymal fraction (fat does not enhance). Lesion values are set
    relative to these levels, so a lesion is tissue of its own attenuation whatever the fat."""
    share = max(float(np.mean(parenchyma_ring)), 0.1)  # an almost all-fat ring: do not blow up
    native = np.asarray(native_ring, np.float64)
    levels = {"native": PARENCHYMA_HU}
    for phase, values in phase_rings.items():
        if phase != "native":
            gain = float(np.mean(np.asarray(values, np.float64) - native)) / share
            levels[phase] = PARENCHYMA_HU + gain
    return levels
