"""The machinery behind virtual patients: one case from a seed, as arrays and as images.

``build_record`` makes everything that defines a case as plain NumPy arrays (what the cache
stores); ``case_from_record`` turns them into a :class:`VirtualCase`. The public entry points
are in :mod:`.patients` (``make_case``, ``make_cohort``). Not for clinical use.

Order of the steps for one case (each with its own random stream from the seed, so changing
only the subtype keeps a patient's anatomy and motion):

1. anatomy: scale and smoothly warp the real scan (a pull-back field);
2. lesion: choose a centre in the gland, grow the lesion (mass effect), compute its
   partial-volume occupancy;
3. clean intensities: the denoised real scan, plus contrast enhancement for the contrast
   scan, plus the lesion with values relative to the gland around it;
4. breathing motion: the true plain -> contrast transform, and the contrast scan drawn
   through its numerical inverse (the lesion outline evaluated exactly, not resampled);
5. independent noise on each scan at the patient's dose; HU stored as whole numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from ..checks import check_same_grid
from ..data import load_ct, load_labels
from . import grids, lesion_shape, lesions, motion, phases, secondary_signs
from .phases import measure_noise

CT_SAMPLE = "totalsegmentator_example_ct_sm"
LABEL_SAMPLE = "totalsegmentator_example_seg"
DOSE_RANGE = (0.8, 1.5)  # noise_hu is drawn between these multiples of the real scan's noise
# A randomised appearance also varies the dose more widely (an assumption: another scanner,
# protocol or reconstruction kernel), so that image noise is no cue either.
RANDOM_DOSE_RANGE = (0.5, 1.6)
CASE_VERSION = "nb02-v5"  # change when the simulation changes: old cache entries are ignored


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
    uint8 on the plain grid, empty otherwise). It is not part of the lesion mask, as a
    radiologist's outline of the tumour would not include it.
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
                measure_noise(smooth, lab)["sd_hu"], np.argwhere(lab == 7).mean(0))


@functools.lru_cache(maxsize=8)
def _components(phase: str, ct_name: str = CT_SAMPLE, label_name: str = LABEL_SAMPLE):
    """The base scan's per-structure enhancement maps for ``phase`` (cached per process)."""
    base = load_base(ct_name, label_name)
    if phase == "native":
        return {}
    return phases.enhancement_components(base.native, base.labels, phase)


def prepare_base(phase: str = "pancreatic") -> None:
    """Load the real scan and its enhancement maps for ``phase`` into this process now, e.g.
    before starting worker processes that will inherit them, with the grids every case uses
    (none depends on the patient)."""
    base = load_base()
    _components(phase)
    grids.voxel_grid(base.native.shape)
    grids.prepare_grids(base.reference, base.pancreas_center)


APPEARANCES = ("standard", "random")


def check_args(seed, subtype, phase, motion_level, diameter, noise_hu, appearance="standard"):
    """Raise a ValueError naming the bad argument (and the valid choices) before any work."""
    if appearance not in APPEARANCES:
        raise ValueError(f"unknown appearance {appearance!r}; choose one of "
                         f"{', '.join(APPEARANCES)}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if subtype is not None:
        lesions.check_subtype(subtype)
    phases.check_phase(phase)
    motion.check_motion(motion_level)
    if diameter is not None:
        if subtype is None:
            raise ValueError("lesion_diameter_mm was given for a healthy case (subtype=None)")
        lesions.check_diameter(diameter)
    if noise_hu is not None and not 0 < noise_hu <= 100:
        raise ValueError(f"noise_hu must be within (0, 100] HU, got {noise_hu}")


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
    appearance: dict | None = None  # the randomised appearance (None: the standard one)


def build_record(seed: int, subtype=None, phase="pancreatic", lesion_diameter_mm=None,
                 motion_level="typical", noise_hu=None, vary_anatomy=True,
                 appearance: str = "standard") -> dict:
    """Everything that defines one case, as plain numpy arrays (what the cache stores).
    ``appearance="random"``: the lesion's look (:func:`.lesions.random_appearance`) and the
    dose are drawn per case, from a stream of their own."""
    base = load_base()
    spacing = np.asarray(base.reference.GetSpacing())[::-1]
    # A stream of its own per step (spawned children depend on their index only, so adding
    # the duct's stream left every earlier case as it was).
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    r_anat, r_lesion, r_motion, r_enh, r_noise, r_land, r_duct, r_look = streams
    look = (lesions.random_appearance(subtype, r_look)
            if appearance == "random" and subtype is not None else None)
    grid = grids.voxel_grid(base.native.shape)

    # 1. A different patient: scale and warp the real anatomy.
    pull = (motion.anatomy_pullback(base.native.shape, spacing, base.pancreas_center, r_anat)
            if vary_anatomy else np.zeros((3, *base.native.shape), np.float32))
    labels = motion.sample(base.labels, np.moveaxis(grid + pull, 0, -1), order=0)
    anatomy_labels = labels.copy()  # the motion depends on these only, not on the lesion
    # 2. The lesion, grown inside the pancreas (pushing the tissue aside when larger).
    lesion, pull = _grow_lesion(base, grid, labels, pull, subtype, lesion_diameter_mm, r_lesion,
                                look)
    src = np.moveaxis(grid + pull, 0, -1)
    # 3. Clean intensities in plain space; lesion values relative to the gland around it.
    enhanced = base.smooth + phases.combine_components(_components(phase), phase, r_enh)
    plain, lesion_mask, pancreas = _plain_scan(base, src, labels, enhanced, lesion, phase,
                                               r_lesion, r_duct)
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
    add = np.sqrt(max(noise_hu**2 - base.residual_hu**2, 0.0))

    def finish(clean):
        noisy = clean + phases.correlated_noise(base.native.shape, add, r_noise)
        return np.clip(np.round(noisy), -1024, 3071).astype(np.int16)

    landmarks = motion.pick_landmarks(base.reference, np.where(lesion_mask, 7, labels), r_land,
                                      extra_zyx=[lesion.center] if lesion.center else [])
    duct = lesion.duct if lesion.duct is not None else np.zeros(base.native.shape, np.float32)
    return {"plain": finish(plain), "contrast": finish(contrast),
            "lesion_plain": lesion_mask.astype(np.uint8), "lesion_contrast": lesion_c.astype(
                np.uint8), "pancreas_plain": pancreas.astype(np.uint8),
            "duct_plain": ((duct >= 0.5) & ~lesion_mask).astype(np.uint8),
            "pancreas_contrast": pancreas_c.astype(np.uint8),
            "field": sitk.GetArrayFromImage(breathing.field).astype(np.float32),
            "field_origin": np.array(breathing.field.GetOrigin()),
            "field_spacing": np.array(breathing.field.GetSpacing()),
            "rigid": _rigid_params(breathing.rigid), "landmarks_plain": landmarks,
            "subtype": np.str_(subtype or ""), "lesion_diameter_mm": np.float64(lesion.diameter),
            "phase": np.str_(phase), "noise_hu": np.float64(noise_hu), "seed": np.int64(seed)}


def _grow_lesion(base, grid, labels, pull, subtype, diameter_mm, rng, look=None):
    """Step 2: choose the lesion's size, centre and shape; push the tissue aside when it is
    larger than the gland (``labels`` is updated in place; ``look``: a randomised appearance,
    which scales the push and may put the lesion anywhere). Returns ``(lesion, pull)``."""
    if subtype is None:
        return _Lesion(), pull
    shape, spacing = base.native.shape, np.asarray(base.reference.GetSpacing())[::-1]
    diameter = float(diameter_mm if diameter_mm is not None
                     else rng.uniform(*lesions.DIAMETER_RANGE_MM))
    look_shape = {} if look is None else {"dent": look["dent"], "axes_low": look["axes_low"]}
    center, r0 = lesion_shape.choose_center(labels == 7, spacing, diameter / 2, rng,
                                            anywhere=bool(look and look["anywhere"]))
    outline = lesion_shape.LesionShape.random(center, diameter / 2, subtype, rng, **look_shape)
    if r0 < diameter / 2:
        push = lesion_shape.mass_effect_pullback(shape, spacing, center, r0, outline)
        if look is not None:
            push = push * np.float32(look["mass_effect"])
        pull = motion.compose_pullbacks(pull, push)
        box = grids.bounding_box(np.any(push != 0, axis=0))
        labels[box] = motion.sample(base.labels, np.moveaxis(grid[(slice(None), *box)]
                                                             + pull[(slice(None), *box)],
                                                             0, -1), order=0)
    _, comps = outline.occupancy(shape, spacing)
    return _Lesion(subtype, diameter, center, outline, _blurred(comps, look), appearance=look), pull


def _blurred(comps: dict, look) -> dict:
    """A randomised appearance's ill-defined margin: each component's occupancy blurred (not
    for a lesion so small that blurring would leave no voxel at least half covered)."""
    if look is None or look["margin_sigma_vox"] <= 0:
        return comps
    sigma = look["margin_sigma_vox"]
    # The occupancy is zero outside the lesion's box: filtering that box grown by the
    # kernel's radius gives the same numbers, and exact zeros beyond it.
    support = np.logical_or.reduce([frac != 0 for frac in comps.values()])
    blurred = {}
    if support.any():
        reach = int(4.0 * sigma + 0.5) + 1  # gaussian_filter's radius (truncate=4), plus one
        box = tuple(slice(max(b.start - reach, 0), min(b.stop + reach, n))
                    for b, n in zip(grids.bounding_box(support), support.shape, strict=True))
        for name, frac in comps.items():
            out = np.zeros(frac.shape, np.float32)
            out[box] = ndi.gaussian_filter(frac[box], sigma).astype(np.float32)
            blurred[name] = out
    else:
        blurred = {name: ndi.gaussian_filter(frac, sigma).astype(np.float32)
                   for name, frac in comps.items()}
    return blurred if sum(blurred.values()).max() >= 0.5 else comps


def _plain_scan(base, src, labels, enhanced, lesion: _Lesion, phase, r_lesion, r_duct):
    """Step 3: the clean plain scan with the lesion (and a PDAC's dilated duct) drawn in,
    values relative to the gland around it. Fills ``lesion``'s values, texture and duct.
    Returns ``(plain, lesion_mask, pancreas_mask)``."""
    spacing = np.asarray(base.reference.GetSpacing())[::-1]
    plain = motion.sample(base.smooth, src)
    occ = sum(lesion.comps.values()) if lesion.comps else np.zeros(labels.shape, np.float32)
    lesion_mask = occ >= 0.5
    pancreas = (labels == 7) | lesion_mask
    if lesion.subtype is None:
        return plain, lesion_mask, pancreas
    ring = lesions.surrounding_gland(labels == 7, lesion_mask, spacing)
    gland = {"native": float(plain[ring].mean()),
             phase: float(motion.sample(enhanced, src[ring]).mean())}
    look = lesion.appearance
    lesion.values = lesions.component_values(lesion.subtype, gland, r_lesion,
                                             None if look is None else look["plain_delta"])
    lesion.texture = lesions.lesion_texture(labels.shape, r_lesion, lesion.comps,
                                            lesions.gland_texture_sd(plain, ring))
    if look is not None:
        lesion.texture = lesion.texture * np.float32(look["texture_scale"])
    duct_draw = secondary_signs.draw_duct(lesion.subtype, r_duct)
    if duct_draw is not None:  # drawn before the tumour, which then covers its end
        lesion.duct = secondary_signs.upstream_duct(
            labels == 7, lesion.center, spacing,
            lambda idx: motion.index_to_physical(base.reference, idx), duct_draw[0])
        lesion.duct_hu = duct_draw[1]
        plain = plain + lesion.duct * (np.float32(lesion.duct_hu) - plain)
    plain = lesions.composite(plain, lesion.comps, lesion.values, lesion.texture, "native")
    return plain, lesion_mask, pancreas


def _contrast_scan(base, breathing, pull, enhanced, pancreas, lesion: _Lesion, phase):
    """Step 4: the clean contrast scan, drawn through the inverse of the breathing motion
    (the lesion's outline evaluated exactly there, not resampled). Returns
    ``(contrast, lesion_mask, pancreas_mask)`` on the contrast grid."""
    ref, shape = base.reference, base.native.shape
    where = breathing.inverse_index_map(ref)
    src_c = where + np.stack([motion.sample(pull[a], where) for a in range(3)], -1)
    contrast = motion.sample(enhanced, src_c)
    if lesion.duct is not None and lesion.duct.any():
        duct_c = _sample_near(lesion.duct, where, lesion.duct > 0)
        contrast = contrast + duct_c * (np.float32(lesion.duct_hu) - contrast)
    lesion_c = np.zeros(shape, bool)
    if lesion.subtype is not None:
        def to_plain(idx):  # contrast-grid voxel index -> plain-grid voxel index
            pts = breathing.inverse_points(motion.index_to_physical(ref, idx))
            return motion.physical_to_index(ref, pts)

        _, comps_c = lesion.shape.occupancy(shape, np.asarray(ref.GetSpacing())[::-1],
                                            to_lesion_space=to_plain,
                                            center=where_of(breathing, ref, lesion.center))
        comps_c = _blurred(comps_c, lesion.appearance)
        contrast = lesions.composite(contrast, comps_c, lesion.values,
                                     _sample_near(lesion.texture, where, lesion.texture != 0),
                                     phase)
        lesion_c = sum(comps_c.values()) >= 0.5
    pancreas_c = (_sample_near(pancreas.astype(np.float32), where, pancreas) >= 0.5) | lesion_c
    return contrast, lesion_c, pancreas_c


def _sample_near(volume, where, support):
    """``motion.sample(volume, where)``, computed only where ``where`` falls within one voxel
    of the bounding box of ``support`` (zero elsewhere): much faster for small objects."""
    out = np.zeros(where.shape[:-1], np.float32)
    if not support.any():
        return out
    box = grids.bounding_box(support)
    near = np.ones(where.shape[:-1], bool)
    for axis, b in enumerate(box):  # lo - 1 <= where <= hi, axis by axis
        component = where[..., axis]
        near &= component >= b.start - 1
        near &= component <= b.stop
    out[near] = motion.sample(volume, where[near])
    return out


def where_of(breathing, ref, center_zyx):
    """Voxel index (z, y, x) in the contrast scan of a plain-scan voxel index."""
    point = ref.TransformContinuousIndexToPhysicalPoint([float(v) for v in center_zyx[::-1]])
    moved = breathing.transform().TransformPoint(point)
    return np.clip(motion.physical_to_index(ref, np.asarray(moved)), 0,
                   np.array(ref.GetSize()[::-1]) - 1)


def _rigid_params(rigid: sitk.Euler3DTransform) -> np.ndarray:
    return np.array([*rigid.GetCenter(), rigid.GetAngleX(), rigid.GetAngleY(),
                     rigid.GetAngleZ(), *rigid.GetTranslation()], dtype=np.float64)


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
    return case
