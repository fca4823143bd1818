"""A second, deliberately different way to make virtual patients: the *foreign* test cohort.

A model that is only ever tested on patients made by the simulator it learnt from may have
learnt the simulator (its lesions' shapes, the way they push the gland aside, their typical
intensity) instead of what a lesion looks like. This module makes test patients another way,
so that such shortcuts show up. It shares no code with the main simulator (:mod:`.case`,
:mod:`.lesions`, :mod:`.lesion_shape`, :mod:`.motion`, :mod:`.phases`; a test checks that it
imports none of them): only the same real native CT and its labels.

How its patients differ from the main simulator's (each choice is this module's own
assumption, none is a sourced fact):

* **anatomy**: a random affine (scaling and a small tilt) of the real scan, resampled by
  SimpleITK, instead of a smooth random warp;
* **lesions**: a smooth ellipsoid or a "peanut" of two overlapping ellipsoids, centred in the
  gland, with **no mass effect**: it changes intensity only and stays inside the gland (grown
  by one voxel), so a lesion wider than the gland fills it rather than bulging out of it. Its
  margin is a cosine ramp 1-4 mm wide, its inside has a slight radial gradient, and the real
  scan's noise level is put back on top;
* **the gland's fat**: each patient draws a fat scale uniformly from 0 (no fat) to 1 (the
  real, fatty gland). A gland voxel's fat fraction comes from its 3-voxel *median* (the main
  simulator uses a Gaussian local mean) between this module's own parenchyma
  (:data:`PARENCHYMA_HU`) and fat (:data:`FAT_HU`) values; all the fine texture is kept;
* **intensity**, relative to that parenchyma, not to the gland's median: cyst 20-50 HU darker
  (water, about 0-20 HU, against a non-fatty gland of 30-40 HU), PDAC 3-10 HU darker, PNET
  0-5 HU brighter, SPT 10-25 HU darker; the lesion replaces parenchyma and fat alike;
* **contrast scan and motion**: a fixed target HU per organ (its own table; only the gland's
  parenchyma enhances, not its fat) and a rigid shift of 2-6 mm between the scans, no
  deformation.

Never used to train or tune anything (the cohort "foreign" of :mod:`helpers.cohorts`). Not for
clinical use.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation
from tqdm.auto import tqdm

from .. import cache, cohorts
from ..data import load_ct, load_labels

JOBS = min(2, os.cpu_count() or 1)  # processes that build a cohort
FOREIGN_VERSION = "foreign-v3"  # change with anything below: old kept patients are not reused
PANCREAS = 7
DIAMETER_MM = (12.0, 30.0)
# The gland as parenchyma plus fat (own round values; fat about -50 to -100 HU on CT).
PARENCHYMA_HU = 35.0
FAT_HU = -95.0
# Plain-scan lesion minus the parenchyma (HU), per subtype: this module's own assumptions.
PLAIN_DELTA_HU = {"cyst": (-50.0, -20.0), "PDAC": (-10.0, -3.0), "PNET": (0.0, 5.0),
                  "SPT": (-25.0, -10.0)}
# Contrast scan (pancreatic phase): target HU per TotalSegmentator label, and each lesion's
# value there relative to the enhanced gland (HU). Own assumptions, rounder than the main table.
CONTRAST_TARGET_HU = {7: 115.0, 5: 80.0, 1: 110.0, 52: 300.0, 63: 120.0, 64: 150.0, 2: 180.0,
                      3: 180.0}
CONTRAST_DELTA_HU = {"cyst": -100.0, "PDAC": -60.0, "PNET": 50.0, "SPT": -40.0}
SHIFT_MM = (2.0, 6.0)
FOREIGN_COHORT = "foreign"


@dataclass
class ForeignCase:
    """One foreign patient, with the fields evaluation reads (as :class:`VirtualCase` names
    them): the plain and contrast scans, lesion and pancreas masks on each grid, the true
    plain -> contrast transform, subtype, nominal diameter and seed; and
    ``plain_delta_hu``, the lesion's planned HU difference to the parenchyma on the plain
    scan; ``gland_fat``, the gland's fat scale (0: no fat, 1: the real fatty gland)."""

    plain: sitk.Image
    contrast: sitk.Image
    lesion_plain: sitk.Image
    lesion_contrast: sitk.Image
    pancreas_plain: sitk.Image
    pancreas_contrast: sitk.Image
    transform: sitk.Transform
    subtype: str | None
    lesion_diameter_mm: float
    plain_delta_hu: float
    noise_hu: float
    seed: int
    phase: str = "pancreatic"
    gland_fat: float = 1.0


@functools.lru_cache(maxsize=1)
def _base():
    ct = load_ct("totalsegmentator_example_ct_sm")
    labels, _ = load_labels("totalsegmentator_example_seg")
    return ct, labels


def _random_affine(ct: sitk.Image, rng) -> sitk.AffineTransform:
    """Scaling of 0.95-1.05 per axis and a tilt of up to 3 degrees, about the scan's centre."""
    centre = ct.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in ct.GetSize()])
    matrix = Rotation.from_euler("xyz", rng.uniform(-3, 3, 3), degrees=True).as_matrix()
    matrix = matrix @ np.diag(rng.uniform(0.95, 1.05, 3))
    affine = sitk.AffineTransform(3)
    affine.SetCenter(centre)
    affine.SetMatrix(matrix.ravel().tolist())
    return affine


def _lesion_weight(shape_zyx, spacing_zyx, centre_zyx, diameter_mm, rng):
    """The lesion's weight per voxel (1 inside, a cosine ramp at the margin, 0 outside) and
    its solid mask (weight >= 0.5): an ellipsoid, or two overlapping ones (a "peanut")."""
    grid = np.indices(shape_zyx, dtype=np.float64)
    offset = (grid - np.reshape(centre_zyx, (3, 1, 1, 1))) * np.reshape(spacing_zyx, (3, 1, 1, 1))
    rotation = Rotation.random(random_state=rng).as_matrix()
    semi = diameter_mm / 2 * np.array([1.0, *rng.uniform(0.6, 0.95, 2)])
    local = np.tensordot(rotation.T, offset, axes=1)
    radius = np.sqrt(((local / semi.reshape(3, 1, 1, 1)) ** 2).sum(0))  # 1 on the surface
    if rng.random() < 0.4:  # a peanut: a second, smaller lobe along the long axis
        shift = np.array([semi[0] * 0.6, 0.0, 0.0]).reshape(3, 1, 1, 1)
        lobe = np.sqrt((((local - shift) / (0.7 * semi.reshape(3, 1, 1, 1))) ** 2).sum(0))
        radius = np.minimum(radius, lobe)
    margin_mm = rng.uniform(1.0, 4.0)
    depth_mm = (1 - radius) * semi.min()  # roughly mm inside the surface
    weight = np.clip(0.5 + depth_mm / margin_mm, 0, 1)
    weight = 0.5 - 0.5 * np.cos(np.pi * weight)
    return weight.astype(np.float32), weight >= 0.5


def _image(array, like, pixel=sitk.sitkFloat32):
    out = sitk.Cast(sitk.GetImageFromArray(array), pixel)
    out.CopyInformation(like)
    return out


def build_foreign(seed: int, subtype: str | None) -> dict:
    """The arrays of foreign patient ``seed`` (``subtype`` None: healthy), from which
    :func:`case_from_arrays` makes the case."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8808]))
    ct, labels = _base()
    affine = _random_affine(ct, rng)
    hu = sitk.GetArrayFromImage(sitk.Resample(ct, ct, affine, sitk.sitkLinear, -1024.0))
    lab = sitk.GetArrayFromImage(sitk.Resample(labels, labels, affine, sitk.sitkNearestNeighbor))
    spacing = np.asarray(ct.GetSpacing())[::-1]
    gland = lab == PANCREAS
    residual = hu - ndi.median_filter(hu, 3)
    noise = float(np.std(residual[ndi.binary_erosion(lab == 5, iterations=2)]))
    # The gland's fat, kept at this patient's scale: fat fraction from each voxel's median.
    fat_scale = float(rng.uniform(0.0, 1.0))
    fat = np.clip((PARENCHYMA_HU - ndi.median_filter(hu, 3)) / (PARENCHYMA_HU - FAT_HU), 0, 1)
    fat = np.where(gland, fat, 0.0)
    hu = hu + (1 - fat_scale) * fat * (PARENCHYMA_HU - FAT_HU)
    weight, lesion = np.zeros(hu.shape, np.float32), np.zeros(hu.shape, bool)
    diameter = delta = 0.0
    plain = hu.astype(np.float32)
    if subtype is not None:
        inner = np.argwhere(ndi.binary_erosion(gland))
        centre = inner[rng.integers(len(inner))] if len(inner) else np.argwhere(gland)[0]
        diameter = float(rng.uniform(*DIAMETER_MM))
        weight, lesion = _lesion_weight(hu.shape, spacing, centre, diameter, rng)
        # No mass effect: the lesion sits inside the gland (grown by one voxel for its margin)
        room = ndi.gaussian_filter(ndi.binary_dilation(gland).astype(np.float32), 0.7)
        weight = weight * np.clip(room, 0, 1)
        lesion = weight >= 0.5
        delta = float(rng.uniform(*PLAIN_DELTA_HU[subtype]))
        gradient = 1 + 0.15 * (weight - 1)  # slightly weaker towards the margin
        value = PARENCHYMA_HU + delta * gradient + noise * rng.standard_normal(hu.shape)
        plain = (1 - weight) * plain + weight * value
    pancreas = gland | lesion
    contrast = plain.copy()
    for label, target in CONTRAST_TARGET_HU.items():
        if label == PANCREAS:  # only the parenchyma enhances, from its own value
            parenchyma = gland * (1 - fat_scale * fat) * (1 - weight)
            contrast += ndi.gaussian_filter(parenchyma.astype(np.float32), 0.5) * np.float32(
                target - PARENCHYMA_HU)
        elif (lab == label).any():
            where = ndi.gaussian_filter((lab == label).astype(np.float32), 0.5)
            contrast += where * np.float32(target - float(np.median(hu[lab == label])))
    if subtype is not None:
        # The lesion reaches the enhanced parenchyma's target plus its own contrast delta.
        contrast += weight * np.float32(CONTRAST_TARGET_HU[PANCREAS] + CONTRAST_DELTA_HU[subtype]
                                        - PARENCHYMA_HU - delta)
    shift = rng.standard_normal(3)
    shift *= rng.uniform(*SHIFT_MM) / np.linalg.norm(shift)
    return {"plain": np.round(plain).astype(np.int16), "contrast": np.round(contrast).astype(
        np.int16), "lesion": lesion.astype(np.uint8), "pancreas": pancreas.astype(np.uint8),
        "shift": shift, "subtype": np.str_(subtype or ""), "diameter": np.float64(diameter),
        "delta": np.float64(delta), "noise": np.float64(noise), "seed": np.int64(seed),
        "gland_fat": np.float64(fat_scale)}


def case_from_arrays(arrays: dict) -> ForeignCase:
    """A :class:`ForeignCase` from :func:`build_foreign`'s arrays. The contrast scan is the
    plain grid shifted by ``shift`` (mm): its masks are moved with it."""
    ct, _ = _base()
    shift = [float(v) for v in arrays["shift"]]
    transform = sitk.TranslationTransform(3, shift)
    moved = sitk.Image(ct)
    moved.SetOrigin(tuple(o + s for o, s in zip(ct.GetOrigin(), shift, strict=True)))
    on = {"plain": ct, "contrast": moved}
    return ForeignCase(
        plain=_image(arrays["plain"], ct), contrast=_image(arrays["contrast"], moved),
        lesion_plain=_image(arrays["lesion"], ct, sitk.sitkUInt8),
        lesion_contrast=_image(arrays["lesion"], on["contrast"], sitk.sitkUInt8),
        pancreas_plain=_image(arrays["pancreas"], ct, sitk.sitkUInt8),
        pancreas_contrast=_image(arrays["pancreas"], on["contrast"], sitk.sitkUInt8),
        transform=transform, subtype=str(arrays["subtype"]) or None,
        lesion_diameter_mm=float(arrays["diameter"]), plain_delta_hu=float(arrays["delta"]),
        noise_hu=float(arrays["noise"]), seed=int(arrays["seed"]),
        gland_fat=float(arrays["gland_fat"]))


# Foreign patients kept in memory per process, as virtual patients are (never on disk).
KEPT = cache.Memo(64)


def foreign_key(seed: int, subtype: str | None) -> str:
    """Foreign patient ``seed``'s key: its seed, subtype and this simulator's version."""
    return cache.settings_key({"version": FOREIGN_VERSION, "seed": int(seed), "subtype": subtype})


def foreign_case(seed: int, subtype: str | None, use_cache: bool = True) -> ForeignCase:
    """Foreign patient ``seed`` with a lesion of ``subtype`` (None: healthy), kept in memory
    for the next call unless ``use_cache=False``."""
    if not use_cache:
        return case_from_arrays(build_foreign(seed, subtype))
    return KEPT.get(foreign_key(seed, subtype),
                    lambda: case_from_arrays(build_foreign(seed, subtype)))


def _foreign_job(seed_and_subtype):
    return build_foreign(*seed_and_subtype)


# Lesion subtypes in turn: PDAC and cysts twice as often (the detection target is about them).
SUBTYPE_CYCLE = ("PDAC", "cyst", "PDAC", "cyst", "PNET", "SPT")


def foreign_plan(n: int | None = None, name: str = FOREIGN_COHORT):
    """``(seed, subtype)`` of the first ``n`` patients of cohort ``name`` (default: its size):
    every other patient healthy, the others' subtypes in the turn of :data:`SUBTYPE_CYCLE`."""
    seeds = cohorts.patient_seeds(name, n)
    return [(seed, None if k % 2 == 0 else SUBTYPE_CYCLE[(k // 2) % len(SUBTYPE_CYCLE)])
            for k, seed in enumerate(seeds)]


def foreign_cohort(n: int | None = None, progress: bool = False,
                   name: str = FOREIGN_COHORT) -> list[ForeignCase]:
    """The first ``n`` patients of the cohort ``name`` ("foreign", or "foreign validation"
    for choosing designs), checked to share no patient with any other cohort, kept in memory;
    the missing ones are built on both cores."""
    cohorts.check_disjoint(sizes={name: n or 0})
    plan = foreign_plan(n, name)
    missing = [p for p in plan if foreign_key(*p) not in KEPT]
    shown = progress or (bool(missing) and cache.show_build_progress())
    if len(missing) > 1 and JOBS > 1:
        _base()  # loaded once here; forked workers inherit it
        with ProcessPoolExecutor(max_workers=JOBS) as pool:
            built = pool.map(_foreign_job, missing, chunksize=2)
            for p, arrays in tqdm(zip(missing, built, strict=True), total=len(missing),
                                  desc="foreign patients", disable=not shown):
                KEPT.put(foreign_key(*p), case_from_arrays(arrays))
    return [foreign_case(seed, subtype) for seed, subtype in
            tqdm(plan, desc="foreign patients", disable=not (shown and JOBS == 1))]
