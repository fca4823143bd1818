"""The machinery behind virtual patients: one case from a seed, as arrays and as images.

``build_record`` makes everything that defines a case as plain NumPy arrays (what the cache
stores); ``case_from_record`` turns them into a :class:`VirtualCase`. The public entry points
are in :mod:`.patients` (``make_case``, ``make_cohort``). Not for clinical use.

Order of the steps for one case (each with its own random stream from the seed, so changing
only the subtype keeps a patient's anatomy and motion):

1. anatomy: scale and smoothly warp the real scan (a pull-back field);
2. lesion: choose a centre in the gland, grow the lesion (mass effect), compute its
   partial-volume occupancy;
3. clean intensities: the denoised real scan with its gland at the patient's fat scale
   (:mod:`.gland`), contrast enhancement for the contrast scan (fat does not enhance), and
   the lesion, tissue with values relative to the gland's parenchyma;
4. breathing motion: the true plain -> contrast transform, and the contrast scan drawn
   through its numerical inverse (the lesion outline evaluated exactly, not resampled);
5. independent noise on each scan at the patient's dose; HU stored as whole numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from ..checks import check_same_grid
from ..data import load_ct, load_labels
from . import gland, grids, lesion_shape, lesions, motion, phases, secondary_signs
from .phases import measure_noise

CT_SAMPLE = "totalsegmentator_example_ct_sm"
LABEL_SAMPLE = "totalsegmentator_example_seg"
DOSE_RANGE = (0.8, 1.5)  # noise_hu is drawn between these multiples of the real scan's noise
# A randomised appearance also varies the dose more widely (an assumption: another scanner,
# protocol or reconstruction kernel), so that image noise is no cue either.
RANDOM_DOSE_RANGE = (0.5, 1.6)
CASE_VERSION = "nb02-v6"  # change when the simulation changes: old cache entries are ignored


@dataclass
class VirtualCase:
    """One virtual patient: a plain and a contrast CT of the same anatomy, with ground truth.

    ``plain`` and ``contrast`` are float32 SimpleITK images in HU; the contrast scan lives in
    its own (moved) space. Masks are uint8 images on each scan's grid; the lesion masks are
    empty for a healthy case. ``transform`` maps a physical point of the plain scan to the same
    anatomical point of the contrast scan (so ``sitk.Resample(case.contrast, case.plain,
    case.transform)`` puts the contrast scan on the plain grid). ``landmarks_contrast[i] =
    transform(landmarks_plain[i])`` (N x 3, mm). ``lesion_diameter_mm`` is the lesion's nominal
    longest diameter (0.0 when healthy); ``noise_hu`` the simulated noise standard deviation.
    The fields above are the agreed ones (other code relies on exactly these). Cases made by
    :func:`case_from_record` also carry an attribute ``duct_plain``, not a field: the dilated
    duct upstream of a PDAC where the simulator drew one (:mod:`.secondary_signs`;
    uint8 on the plain grid, empty otherwise; it is not part of the lesion mask, as a
    radiologist's outline of the tumour would not include it), and ``gland_fat``, the
    gland's fat scale (:mod:`.gland`: 0 a normal gland, 1 the real fatty one).
    """

    plain: sitk.Image
    contrast: sitk.Image
    lesion_plain: sitk.Image
    lesion_contrast: sitk.Image
    pancreas_plain: sitk.Image
    pancreas_contrast: sitk.Image
    transform: sitk.Transform
    landmarks_plain: np.ndarray
    landmarks_contrast: np.ndarray
    subtype: str | None
    lesion_diameter_mm: float
    phase: str
    noise_hu: float
    seed: int


@dataclass(frozen=True)
class Base:
    """The real scan that every virtual patient starts from, prepared once per process."""

    reference: sitk.Image  # geometry only
    native: np.ndarray  # real HU, float32 [z, y, x]
    smooth: np.ndarray  # edge-preserving denoised HU: noise is added back per case
    labels: np.ndarray
    noise_hu: float  # measured noise of the real scan
    residual_hu: float  # noise left after denoising
    pancreas_center: np.ndarray  # voxel index (z, y, x)
    fat: gland.GlandFat  # the real gland read as parenchyma plus fat (of ``smooth``)


@functools.lru_cache(maxsize=2)
def load_base(ct_name: str = CT_SAMPLE, label_name: str = LABEL_SAMPLE) -> Base:
    """Load the real native CT and its labels, measure its noise and denoise it (cached)."""
    ct = load_ct(ct_name)
    labels, _ = load_labels(label_name)
    check_same_grid(labels, ct, "label map", "CT")
    native = sitk.GetArrayFromImage(ct).astype(np.float32)
    lab = sitk.GetArrayFromImage(labels)
    phases.require_label(lab, phases.PANCREAS)
    # Bilateral filtering keeps organ edges but removes most of the noise, so each scan can
    # get its own, independent noise at a chosen dose.
    smooth = sitk.GetArrayFromImage(sitk.Bilateral(ct, 3.0, 20.0)).astype(np.float32)
    for array in (native, smooth, lab):
        array.setflags(write=False)
    return Base(sitk.Image(ct), native, smooth, lab, measure_noise(native, lab)["sd_hu"],
                measure_noise(smooth, lab)["sd_hu"], np.argwhere(lab == 7).mean(0),
                gland.gland_fat(smooth, lab == phases.PANCREAS))


@functools.lru_cache(maxsize=8)
def _components(phase: str, ct_name: str = CT_SAMPLE, label_name: str = LABEL_SAMPLE):
    """The base scan's per-structure enhancement maps for ``phase``, for a fat-free gland
    and for the real fatty one (cached per process): ``(normal, fatty)``."""
    base = load_base(ct_name, label_name)
    if phase == "native":
        return {}, {}
    return tuple(phases.enhancement_components(
        base.native, base.labels, phase, parenchyma=gland.parenchymal_fraction(base.fat, s))
        for s in (0.0, 1.0))


def components_at(phase: str, gland_fat: float) -> dict:
    """The enhancement maps of ``phase`` for a gland at fat scale ``gland_fat``: only the
    pancreas differs, and it is linear in the fat scale (fat does not enhance)."""
    normal, fatty = _components(phase)
    out = dict(normal)
    if "pancreas" in out:
        out["pancreas"] = ((1 - np.float32(gland_fat)) * normal["pancreas"]
                           + np.float32(gland_fat) * fatty["pancreas"])
    return out


def prepare_base(phase: str = "pancreatic") -> None:
    """Load the real scan and its enhancement maps for ``phase`` into this process now, e.g.
    before starting worker processes that will inherit them, with the grids every case uses
    (none depends on the patient)."""
    base = load_base()
    _components(phase)
    grids.voxel_grid(base.native.shape)
    grids.prepare_grids(base.reference, base.pancreas_center)


@dataclass
class _Lesion:
    """What the steps of :func:`build_record` hand on about a case's lesion (none: empty)."""

    subtype: str | None = None
    diameter: float = 0.0
    center: tuple | None = None
    shape: lesion_shape.LesionShape | None = None
    comps: dict = field(default_factory=dict)  # component -> occupancy on the plain grid
    values: dict = field(default_factory=dict)  # component -> phase -> HU
    texture: np.ndarray | None = None
    duct: np.ndarray | None = None  # duct occupancy on the plain grid (None: no duct)
    duct_hu: float = 0.0
    atrophy: np.ndarray | bool = False  # drawn (True), then the voxels it took (plain grid)
    appearance: dict | None = None  # the randomised appearance (None: the standard one)


def build_record(seed: int, subtype=None, phase="pancreatic", lesion_diameter_mm=None,
                 motion_level="typical", noise_hu=None, vary_anatomy=True,
                 appearance: str = "standard", gland_fat: float | None = 0.0) -> dict:
    """Everything that defines one case, as plain numpy arrays (what the cache stores).
    ``appearance="random"``: the lesion's look (:func:`.lesions.random_appearance`) and the
    dose are drawn per case, from a stream of their own. ``gland_fat``: the gland's fat
    scale (:mod:`.gland`; None: drawn per case from its own stream)."""
    base = load_base()
    spacing = np.asarray(base.reference.GetSpacing())[::-1]
    # A stream of its own per step (spawned children depend on their index only, so adding
    # a stream leaves the earlier ones as they were).
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    r_anat, r_lesion, r_motion, r_enh, r_noise, r_land, r_duct, r_look, r_fat, r_sign = streams
    fat = gland.draw_gland_fat(r_fat) if gland_fat is None else gland.check_gland_fat(gland_fat)
    look = (lesions.random_appearance(subtype, r_look)
            if appearance == "random" and subtype is not None else None)
    signs = secondary_signs.draw_signs(subtype, r_sign)
    grid = grids.voxel_grid(base.native.shape)

    # 1. A different patient: scale and warp the real anatomy.
    pull = (motion.anatomy_pullback(base.native.shape, spacing, base.pancreas_center, r_anat)
            if vary_anatomy else np.zeros((3, *base.native.shape), np.float32))
    labels = motion.sample_at(base.labels, np.moveaxis(grid + pull, 0, -1), order=0)
    anatomy_labels = labels.copy()  # the motion depends on these only, not on the lesion
    # 2. The lesion, grown inside the pancreas (pushing the tissue aside when larger).
    lesion, pull = _grow_lesion(base, grid, labels, pull, subtype, lesion_diameter_mm, r_lesion,
                                look, signs["contour"])
    lesion.atrophy = signs["atrophy"]
    src = np.moveaxis(grid + pull, 0, -1)
    # 3. Clean intensities in plain space; lesion values relative to the gland around it.
    smooth = gland.at_fat_scale(base.smooth, base.fat, fat)
    enhanced = smooth + phases.combine_components(components_at(phase, fat), phase, r_enh)
    plain, lesion_mask, pancreas = _plain_scan(base, src, labels, (smooth, enhanced, fat),
                                               lesion, phase, r_lesion, r_duct)
    # 4. Breathing motion, then draw the contrast scan through its inverse.
    pancreas_mm = base.reference.TransformContinuousIndexToPhysicalPoint(
        [float(v) for v in np.argwhere(anatomy_labels == 7).mean(0)[::-1]])
    breathing = motion.make_breathing(base.reference, anatomy_labels, r_motion, motion_level,
                                      pancreas_mm)
    contrast, lesion_c, pancreas_c = _contrast_scan(base, breathing, pull, enhanced, pancreas,
                                                    lesion, phase)
    # 5. Independent noise at this patient's dose, stored as whole HU like real CT.
    if noise_hu is None:  # a randomised appearance draws the dose from a wider range
        dose = (r_look, RANDOM_DOSE_RANGE) if appearance == "random" else (r_noise, DOSE_RANGE)
        noise_hu = float(dose[0].uniform(*dose[1]) * base.noise_hu)
    finish = functools.partial(_finish, add=np.sqrt(max(noise_hu**2 - base.residual_hu**2, 0)),
                               rng=r_noise)
    landmarks = motion.pick_landmarks(base.reference, np.where(lesion_mask, 7, labels), r_land,
                                      extra_zyx=[lesion.center] if lesion.center else [])
    masks = (lesion_mask, lesion_c, pancreas, pancreas_c)
    return {"plain": finish(plain), "contrast": finish(contrast), **_mask_fields(lesion, masks),
            "field": sitk.GetArrayFromImage(breathing.field).astype(np.float32),
            "field_origin": np.array(breathing.field.GetOrigin()),
            "field_spacing": np.array(breathing.field.GetSpacing()),
            "rigid": motion.rigid_params(breathing.rigid), "landmarks_plain": landmarks,
            "subtype": np.str_(subtype or ""), "lesion_diameter_mm": np.float64(lesion.diameter),
            "phase": np.str_(phase), "noise_hu": np.float64(noise_hu), "seed": np.int64(seed),
            "gland_fat": np.float64(fat), "signs": np.array([lesion.duct is not None, bool(
                np.any(lesion.atrophy)), signs["contour"] and subtype is not None])}


def _finish(clean, add, rng):
    """A clean scan with independent noise of ``add`` HU, stored as whole HU like real CT."""
    noisy = clean + phases.correlated_noise(clean.shape, add, rng)
    return np.clip(np.round(noisy), -1024, 3071).astype(np.int16)


def _mask_fields(lesion, masks) -> dict:
    """The record's masks (uint8): lesion and pancreas on each grid, the duct on the plain."""
    lesion_mask, lesion_c, pancreas, pancreas_c = masks
    duct = lesion.duct if lesion.duct is not None else np.zeros(lesion_mask.shape, np.float32)
    return {"lesion_plain": lesion_mask.astype(np.uint8),
            "lesion_contrast": lesion_c.astype(np.uint8),
            "pancreas_plain": pancreas.astype(np.uint8),
            "duct_plain": ((duct >= 0.5) & ~lesion_mask).astype(np.uint8),
            "pancreas_contrast": pancreas_c.astype(np.uint8)}


def _grow_lesion(base, grid, labels, pull, subtype, diameter_mm, rng, look=None, contour=True):
    """Step 2: choose the lesion's size, centre and shape; push the tissue aside when it is
    larger than the gland and ``contour`` (the drawn contour change) is set (``labels`` is
    updated in place; ``look``: a randomised appearance, which scales the push instead and
    may put the lesion anywhere). Returns ``(lesion, pull)``."""
    if subtype is None:
        return _Lesion(), pull
    shape, spacing = base.native.shape, np.asarray(base.reference.GetSpacing())[::-1]
    diameter = float(diameter_mm if diameter_mm is not None
                     else rng.uniform(*lesions.DIAMETER_RANGE_MM))
    look_shape = {} if look is None else {"dent": look["dent"], "axes_low": look["axes_low"]}
    center, r0 = lesion_shape.choose_center(labels == 7, spacing, diameter / 2, rng,
                                            anywhere=bool(look and look["anywhere"]))
    outline = lesion_shape.LesionShape.random(center, diameter / 2, subtype, rng, **look_shape)
    if r0 < diameter / 2 and (contour or look is not None):
        push = lesion_shape.mass_effect_pullback(shape, spacing, center, r0, outline)
        if look is not None:
            push = push * np.float32(look["mass_effect"])
        pull = motion.compose_pullbacks(pull, push)
        box = grids.bounding_box(np.any(push != 0, axis=0))
        labels[box] = motion.sample_at(base.labels, np.moveaxis(grid[(slice(None), *box)]
                                                             + pull[(slice(None), *box)],
                                                             0, -1), order=0)
    _, comps = outline.occupancy(shape, spacing)
    return _Lesion(subtype, diameter, center, outline, lesion_shape.blurred_margin(comps, look),
                   appearance=look), pull


def _plain_scan(base, src, labels, scans, lesion: _Lesion, phase, r_lesion, r_duct):
    """Step 3: the clean plain scan with the lesion (and a PDAC's dilated duct) drawn in,
    values relative to the gland's parenchyma around it (tissue of its own attenuation,
    whatever the fat). ``scans``: the plain and contrast base scans at this patient's fat
    scale, and that scale. Fills ``lesion``'s values, texture and duct. Returns
    ``(plain, lesion_mask, pancreas_mask)``."""
    spacing = np.asarray(base.reference.GetSpacing())[::-1]
    smooth, enhanced, fat = scans
    plain = motion.sample_at(smooth, src)
    # Gland voxels from gland voxels only: interpolating a thin gland against the fat around
    # it would add a partial volume the real scan does not have, and lower a normal gland.
    inside = labels == 7
    plain[inside] = motion.sample_at(smooth, src[inside], order=0)
    occ = sum(lesion.comps.values()) if lesion.comps else np.zeros(labels.shape, np.float32)
    lesion_mask = occ >= 0.5
    pancreas = (labels == 7) | lesion_mask
    if lesion.subtype is None:
        return plain, lesion_mask, pancreas
    ring = lesions.surrounding_gland(labels == 7, lesion_mask, spacing)
    levels = gland.parenchyma_levels(
        plain[ring], {phase: motion.sample_at(enhanced, src[ring])},
        1 - fat * motion.sample_at(base.fat.fraction, src[ring]))
    look = lesion.appearance
    lesion.values = lesions.component_values(lesion.subtype, levels, r_lesion,
                                             None if look is None else look["plain_delta"])
    # Solid parts get the texture of fat-free parenchyma, not of the fat lobules around them.
    parenchyma = motion.sample_at(base.smooth + base.fat.change, src[ring])
    lesion.texture = lesions.lesion_texture(labels.shape, r_lesion, lesion.comps,
                                            float(parenchyma.std()))
    if look is not None:
        lesion.texture = lesion.texture * np.float32(look["texture_scale"])
    duct_draw = secondary_signs.draw_duct(lesion.subtype, r_duct)
    if duct_draw is not None:  # drawn before the tumour, which then covers its end
        lesion.duct = secondary_signs.upstream_duct(
            labels == 7, lesion.center, spacing,
            lambda idx: motion.index_to_physical(base.reference, idx), duct_draw[0])
        lesion.duct_hu = duct_draw[1]
        plain = plain + lesion.duct * (np.float32(lesion.duct_hu) - plain)
    if lesion.atrophy is True:  # the gland upstream loses its outer layer to fat
        duct = lesion.duct if lesion.duct is not None else np.zeros(labels.shape, np.float32)
        lost = secondary_signs.upstream_atrophy(
            labels == 7, lesion.center, spacing,
            lambda idx: motion.index_to_physical(base.reference, idx)) & ~lesion_mask & (
            duct < 0.5)
        lesion.atrophy = lost
        plain[lost] = np.float32(gland.FAT_HU)
        labels[lost] = 0
        pancreas = (labels == 7) | lesion_mask
    plain = lesions.composite(plain, lesion.comps, lesion.values, lesion.texture, "native")
    return plain, lesion_mask, pancreas


def _contrast_scan(base, breathing, pull, enhanced, pancreas, lesion: _Lesion, phase):
    """Step 4: the clean contrast scan, drawn through the inverse of the breathing motion
    (the lesion's outline evaluated exactly there, not resampled). Returns
    ``(contrast, lesion_mask, pancreas_mask)`` on the contrast grid."""
    ref, shape = base.reference, base.native.shape
    where = breathing.inverse_index_map(ref)
    src_c = where + np.stack([motion.sample_at(pull[a], where) for a in range(3)], -1)
    contrast = motion.sample_at(enhanced, src_c)
    gland_c = motion.sample_near(pancreas.astype(np.float32), where, pancreas) >= 0.5
    contrast[gland_c] = motion.sample_at(enhanced, src_c[gland_c], order=0)  # as on the plain scan
    if lesion.duct is not None and lesion.duct.any():
        duct_c = motion.sample_near(lesion.duct, where, lesion.duct > 0)
        contrast = contrast + duct_c * (np.float32(lesion.duct_hu) - contrast)
    if isinstance(lesion.atrophy, np.ndarray) and lesion.atrophy.any():  # fat: no enhancement
        lost = lesion.atrophy.astype(np.float32)
        contrast = contrast + motion.sample_near(lost, where, lesion.atrophy) * (
            np.float32(gland.FAT_HU) - contrast)
    lesion_c = np.zeros(shape, bool)
    if lesion.subtype is not None:
        def to_plain(idx):  # contrast-grid voxel index -> plain-grid voxel index
            pts = breathing.inverse_points(motion.index_to_physical(ref, idx))
            return motion.physical_to_index(ref, pts)

        _, comps_c = lesion.shape.occupancy(shape, np.asarray(ref.GetSpacing())[::-1],
                                            to_lesion_space=to_plain,
                                            center=motion.where_of(breathing, ref, lesion.center))
        comps_c = lesion_shape.blurred_margin(comps_c, lesion.appearance)
        contrast = lesions.composite(contrast, comps_c, lesion.values,
                                     motion.sample_near(lesion.texture, where, lesion.texture != 0),
                                     phase)
        lesion_c = sum(comps_c.values()) >= 0.5
    return contrast, lesion_c, gland_c | lesion_c


def _image(array, ref, pixel=sitk.sitkFloat32):
    image = sitk.Cast(sitk.GetImageFromArray(array), pixel)
    image.CopyInformation(ref)
    return image


def case_from_record(record: dict) -> VirtualCase:
    """Turn a record (from :func:`build_record` or the cache) into a :class:`VirtualCase`."""
    ref = load_base().reference
    geometry = grids.coarse_grid(ref)
    if not np.allclose(geometry.GetOrigin(), record["field_origin"]):
        raise ValueError("this record was made for a different base scan; rebuild it")
    smooth = sitk.GetImageFromArray(np.asarray(record["field"], np.float64), isVector=True)
    smooth.CopyInformation(geometry)
    p = np.asarray(record["rigid"], float)
    rigid = sitk.Euler3DTransform(tuple(p[:3]), *p[3:6], tuple(p[6:9]))
    transform = sitk.CompositeTransform([rigid, sitk.DisplacementFieldTransform(smooth)])
    plain_pts = np.asarray(record["landmarks_plain"], float)
    contrast_pts = np.array([transform.TransformPoint(tuple(p)) for p in plain_pts])
    subtype = str(record["subtype"]) or None
    case = VirtualCase(
        plain=_image(record["plain"], ref), contrast=_image(record["contrast"], ref),
        lesion_plain=_image(record["lesion_plain"], ref, sitk.sitkUInt8),
        lesion_contrast=_image(record["lesion_contrast"], ref, sitk.sitkUInt8),
        pancreas_plain=_image(record["pancreas_plain"], ref, sitk.sitkUInt8),
        pancreas_contrast=_image(record["pancreas_contrast"], ref, sitk.sitkUInt8),
        transform=transform, landmarks_plain=plain_pts, landmarks_contrast=contrast_pts,
        subtype=subtype, lesion_diameter_mm=float(record["lesion_diameter_mm"]),
        phase=str(record["phase"]), noise_hu=float(record["noise_hu"]),
        seed=int(record["seed"]))
    case.duct_plain = _image(record["duct_plain"], ref, sitk.sitkUInt8)
    case.gland_fat = float(record["gland_fat"])
    case.signs = dict(zip(("duct", "atrophy", "contour"), map(bool, record["signs"]),
                          strict=True))
    return case
