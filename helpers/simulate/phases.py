"""Contrast phases and CT noise: turn a real native (plain) CT into simulated contrast scans.

Iodinated contrast raises each structure's attenuation by an amount that depends on the
time since injection (the *phase*). :data:`ENHANCEMENT` lists, per structure and phase,
the value used here and where it comes from (listed in ``notebooks/references.md``); rows marked
``assumption`` are this series' choices where no checked source was available.

Two kinds of rule:

* ``("target", v)`` - the structure's mean reaches ``v`` HU (literature gives an absolute value);
* ``("delta", d)`` - every voxel of the structure gains ``d`` HU over native.

Enhancement is spread with *soft* masks (organ labels blurred by a fraction of a voxel), so
boundary voxels get partial enhancement, like partial-volume averaging in a real scan.
Noise is measured in the real scan (:func:`measure_noise`) and simulated at a matched level
(:func:`correlated_noise`). Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage as ndi

from ..checks import check_same_grid
from . import gland

PHASES = ("native", "arterial", "pancreatic", "portal_venous")
PHASE_DESCRIPTIONS = {
    "native": "no contrast: the plain CT (real, from the registry)",
    "arterial": "early arterial: iodine in the arteries, organs barely enhanced yet",
    "pancreatic": "late arterial / pancreatic: the pancreas at its peak enhancement",
    "portal_venous": "portal venous: liver and portal vein bright, pancreas washing out",
}

PANCREAS = 7
PARENCHYMA_LABELS = {"aorta": (52,), "portal_splenic_vein": (64,), "ivc": (63,),
                     "liver": (5,), "pancreas": (7,), "spleen": (1,),
                     "adrenals": (8, 9), "muscle": (86, 87, 88, 89)}
KIDNEYS = (2, 3)
BOWEL = (6, 18, 19, 20)  # stomach, small bowel, duodenum, colon: only the wall enhances

SRC_RADIOPAEDIA = "Radiopaedia 'Late arterial phase'"
SRC_PROKOP = "Prokop HU tables (radclass.mudr.org)"
SRC_KIDNEY = "renal bolus-tracking study, PMID 17367973"
ASSUMED = "assumption (no checked source)"


@dataclass(frozen=True)
class Enhancement:
    """One row of the enhancement table: a structure, a phase, a rule and its source."""

    structure: str
    phase: str
    rule: str  # "target" (mean HU reached) or "delta" (HU added)
    value: float
    source: str


def _rows():
    r = []

    def add(structure, arterial, pancreatic, portal):
        for phase, (rule, value, source) in zip(PHASES[1:], (arterial, pancreatic, portal),
                                                strict=True):
            r.append(Enhancement(structure, phase, rule, value, source))

    add("aorta", ("target", 300, ASSUMED + "; early arterial peak"),
        ("target", 320, SRC_RADIOPAEDIA + ": aorta peaks about 290-360 HU"),
        ("target", 170, ASSUMED + "; textbook 150-200 HU is UNVERIFIED"))
    add("portal_splenic_vein", ("delta", 20, ASSUMED + "; veins not yet opacified"),
        ("target", 145, SRC_RADIOPAEDIA + ": portal vein about 145 +/- 20 HU"),
        ("target", 180, ASSUMED))
    add("ivc", ("delta", 10, ASSUMED), ("delta", 50, ASSUMED), ("target", 150, ASSUMED))
    add("liver", ("delta", 5, ASSUMED),
        ("delta", 25, SRC_RADIOPAEDIA + ": liver +20-30 HU over native"),
        ("target", 100, SRC_PROKOP + ": normal liver > 90 HU in portal venous phase"))
    add("pancreas", ("delta", 30, ASSUMED),
        ("target", 110, "Park et al., Radiology 258:760 (2011); " + SRC_RADIOPAEDIA
         + ": pancreas 100-150 HU, its peak"),
        ("target", 90, ASSUMED + "; lower than pancreatic phase (washes out early)"))
    add("spleen", ("delta", 40, ASSUMED + "; heterogeneous"),
        ("delta", 80, ASSUMED + "; heterogeneous ('moire') in arterial phases"),
        ("target", 120, ASSUMED + "; 110-130 HU is UNVERIFIED"))
    add("kidney_cortex", ("delta", 120, ASSUMED),
        ("delta", 200, SRC_KIDNEY + ": cortex +195-217 HU over native"),
        ("delta", 150, ASSUMED + "; cortex and medulla similar (nephrographic)"))
    add("kidney_medulla", ("delta", 30, ASSUMED),
        ("delta", 70, SRC_KIDNEY + ": cortex-medulla gap 110-140 HU"),
        ("delta", 145, "Abdom Imaging 2010, PMID 19771464: medulla +145 HU (nephrographic)"))
    add("bowel_wall", ("delta", 20, ASSUMED), ("delta", 50, ASSUMED), ("delta", 60, ASSUMED))
    add("adrenals", ("delta", 20, ASSUMED), ("delta", 40, ASSUMED), ("delta", 50, ASSUMED))
    add("muscle", ("delta", 5, ASSUMED), ("delta", 10, ASSUMED),
        ("delta", 15, SRC_PROKOP + ": 'modest enhancement' (value assumed)"))
    return tuple(r)


ENHANCEMENT = _rows()


def enhancement_table():
    """The enhancement table as a pandas DataFrame (structure, phase, rule, HU, source)."""
    return pd.DataFrame([vars(row) for row in ENHANCEMENT]).rename(columns={"value": "HU"})


def check_phase(phase: str) -> str:
    """Return ``phase`` or raise a ValueError listing the valid phases."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; valid phases: {', '.join(PHASES)}")
    return phase


def require_label(labels_zyx: np.ndarray, label: int, name: str = "pancreas") -> None:
    """Raise a ValueError when ``label`` does not occur in the label array."""
    if not np.any(labels_zyx == label):
        present = ", ".join(str(v) for v in np.unique(labels_zyx)[:20])
        raise ValueError(f"label {label} ({name}) is not present in the label map (ids found: "
                         f"{present}...). Pass the label map that belongs to this CT, or the "
                         f"right id for the {name}.")


# ---------------------------------------------------------------------------- noise
def measure_noise(ct_zyx: np.ndarray, labels_zyx: np.ndarray, ids=(5, 1, 52),
                  erode: int = 2, sigma: float = 2.0) -> dict:
    """Measure image noise (HU) inside homogeneous organs, after removing slow variation.

    Each organ is eroded by ``erode`` voxels (no boundary voxels), its smooth signal is
    estimated by a normalised Gaussian filter (``sigma`` voxels) and subtracted; the residual's
    standard deviation is the noise. Also returns the residual's correlation between
    neighbouring voxels along z, y, x (0 for white noise). Returns
    ``{"sd_hu": median over organs, "per_label": {id: sd}, "lag1": (cz, cy, cx)}``.
    """
    ct_zyx = np.asarray(ct_zyx, dtype=np.float64)
    per_label, residuals, masks = {}, [], []
    for label in ids:
        mask = ndi.binary_erosion(labels_zyx == label, iterations=erode)
        if mask.sum() < 50:
            continue
        weight = ndi.gaussian_filter(mask.astype(float), sigma)
        smooth = ndi.gaussian_filter(ct_zyx * mask, sigma) / np.maximum(weight, 1e-6)
        resid = np.where(mask, ct_zyx - smooth, 0.0)
        per_label[int(label)] = float(resid[mask].std())
        residuals.append(resid)
        masks.append(mask)
    if not per_label:
        raise ValueError(f"none of the labels {ids} has enough voxels to measure noise")
    lag1 = []
    for axis in range(3):
        num = den_a = den_b = 0.0
        for resid, mask in zip(residuals, masks, strict=True):
            both = mask & np.roll(mask, 1, axis)
            a, b = resid[both], np.roll(resid, 1, axis)[both]
            num += float((a * b).sum())
            den_a += float((a * a).sum())
            den_b += float((b * b).sum())
        lag1.append(num / np.sqrt(den_a * den_b))
    return {"sd_hu": float(np.median(list(per_label.values()))), "per_label": per_label,
            "lag1": tuple(lag1)}


def noise_sigma_for_lag1(rho: float) -> float:
    """Gaussian kernel width (voxels) that gives white noise a neighbour correlation ``rho``.

    Solved for the discrete kernel :func:`scipy.ndimage.gaussian_filter1d` uses; a measured
    correlation of about zero means (almost) white noise, and gives 0.
    """
    if rho <= 0.02:
        return 0.0
    rho = min(rho, 0.95)

    def lag1(sigma):
        impulse = np.zeros(81)
        impulse[40] = 1.0
        kernel = ndi.gaussian_filter1d(impulse, sigma)
        return float((kernel[1:] * kernel[:-1]).sum() / (kernel**2).sum())

    low, high = 0.05, 10.0
    for _ in range(50):  # bisection: lag1 grows with sigma
        mid = (low + high) / 2
        low, high = (mid, high) if lag1(mid) < rho else (low, mid)
    return (low + high) / 2


def correlated_noise(shape, sd_hu: float, rng: np.random.Generator,
                     sigma_vox=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Gaussian noise with standard deviation ``sd_hu`` and neighbour correlation set by
    ``sigma_vox`` (Gaussian kernel width per axis, voxels; zeros give white noise)."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    if any(s > 0 for s in sigma_vox):
        noise = ndi.gaussian_filter(noise, sigma_vox)
        noise /= noise.std()
    return noise * np.float32(sd_hu)


# ---------------------------------------------------------------------------- enhancement
def structure_masks(labels_zyx: np.ndarray) -> dict[str, np.ndarray]:
    """Binary masks of the structures in :data:`ENHANCEMENT` (kidneys split cortex/medulla,
    bowel reduced to its wall)."""
    masks = {name: np.isin(labels_zyx, ids) for name, ids in PARENCHYMA_LABELS.items()}
    kidney = np.isin(labels_zyx, KIDNEYS)
    depth = ndi.distance_transform_edt(kidney)
    masks["kidney_cortex"] = kidney & (depth <= 1.5)  # outer ~4.5 mm at 3 mm voxels
    masks["kidney_medulla"] = kidney & (depth > 1.5)
    bowel = np.isin(labels_zyx, BOWEL)
    masks["bowel_wall"] = bowel & (ndi.distance_transform_edt(bowel) <= 1.0)
    return masks


def soft_mask(mask: np.ndarray, sigma_vox: float = 0.6) -> np.ndarray:
    """A mask (binary, or fractions) blurred to fractions in [0, 1]: partial volume at its
    boundary."""
    return ndi.gaussian_filter(mask.astype(np.float32), sigma_vox)


def gland_parenchyma(native_zyx, pancreas_zyx, denoise_sigma_vox: float = 0.7) -> np.ndarray:
    """Each voxel's parenchymal fraction (1 - fat fraction, :func:`.gland.fat_fraction`) in a
    noisy native scan, read after a light Gaussian denoising (noise would read as fat)."""
    smooth = ndi.gaussian_filter(np.asarray(native_zyx, np.float32), denoise_sigma_vox)
    return 1.0 - gland.fat_fraction(smooth, pancreas_zyx)


def enhancement_components(native_zyx, labels_zyx, phase, blur_vox=0.6, air_hu=-100.0,
                           wall_hu=40.0, parenchyma=None) -> dict[str, np.ndarray]:
    """Per-structure enhancement maps (HU added) for one phase, before any random gain.

    Returns ``{structure: float32 array}``. ``target`` rules are converted to an added HU
    using the structure's mean in *this* native scan (measure, then simulate). Bowel wall
    enhancement is scaled by its tissue fraction (gas in the lumen does not enhance).
    The pancreas is parenchyma plus fat (:mod:`.gland`): its rule is the *parenchyma's*
    (a target is reached from :data:`.gland.PARENCHYMA_HU`), and each voxel enhances by
    its parenchymal fraction ``parenchyma`` (an array; default: read from this native scan,
    :func:`gland_parenchyma`), because fat does not enhance.
    """
    check_phase(phase)
    native_zyx = np.asarray(native_zyx, dtype=np.float32)
    masks = structure_masks(labels_zyx)
    if parenchyma is None:
        parenchyma = gland_parenchyma(native_zyx, masks["pancreas"])
    out = {}
    for row in ENHANCEMENT:
        if row.phase != phase or not masks[row.structure].any():
            continue
        mask = masks[row.structure]
        if row.structure == "pancreas":
            added = row.value - gland.PARENCHYMA_HU if row.rule == "target" else row.value
            out["pancreas"] = soft_mask(mask * np.asarray(parenchyma, np.float32),
                                        blur_vox) * np.float32(added)
            continue
        soft = soft_mask(mask, blur_vox)
        if row.rule == "target":
            # Reach the target mean inside the label, given that soft edges enhance less.
            added = (row.value - float(native_zyx[mask].mean())) / float(soft[mask].mean())
        else:
            added = row.value
        comp = soft * np.float32(added)
        if row.structure == "bowel_wall":
            comp *= np.clip((native_zyx - air_hu) / (wall_hu - air_hu), 0, 1)
        out[row.structure] = comp
    # Blurred edges of neighbours spill a little into each structure: correct targets once.
    total = native_zyx + sum(out.values())
    for row in ENHANCEMENT:
        if (row.phase == phase and row.rule == "target" and row.structure in out
                and row.structure != "pancreas"):  # the gland's target is its parenchyma's
            mask = masks[row.structure]
            soft = soft_mask(mask, blur_vox)
            error = row.value - float(total[mask].mean())
            out[row.structure] += soft * np.float32(error / float(soft[mask].mean()))
    return out


def combine_components(components: dict, phase: str, rng=None, gain_sd=0.05, bolus_sd=0.07,
                       spleen_texture=0.3) -> np.ndarray:
    """Sum enhancement components with random bolus and per-organ gains.

    The bolus gain (one factor per scan, sd ``bolus_sd``) mimics differences in injection and
    cardiac output; each structure also gets its own gain (sd ``gain_sd``); in the arterial
    phases the spleen gets a smooth heterogeneous pattern. All assumptions of this series.
    With ``rng=None`` every gain is 1 and the spleen is uniform.
    """
    shape = next(iter(components.values())).shape if components else ()
    total = np.zeros(shape, np.float32)
    bolus = 1.0 if rng is None else max(0.5, 1 + bolus_sd * rng.standard_normal())
    for name, comp in components.items():
        gain = 1.0 if rng is None else max(0.5, 1 + gain_sd * rng.standard_normal())
        if name == "spleen" and phase != "portal_venous" and rng is not None:
            pattern = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.5)
            comp = comp * (1 + spleen_texture * pattern / pattern.std())
        total += comp * np.float32(bolus * gain)
    return total


def enhancement_map(native_zyx, labels_zyx, phase, rng=None) -> np.ndarray:
    """Total HU added by contrast in ``phase`` (see :func:`combine_components`)."""
    if check_phase(phase) == "native":
        return np.zeros(np.shape(native_zyx), np.float32)
    return combine_components(enhancement_components(native_zyx, labels_zyx, phase), phase, rng)


def simulate_phase(native_ct: sitk.Image, labels: sitk.Image, phase: str,
                   rng: np.random.Generator | int | None = None,
                   noise_hu: float | None = None) -> sitk.Image:
    """Simulate one contrast phase of a real native CT.

    ``native_ct`` is a plain CT in HU; ``labels`` its TotalSegmentator label map on the same
    grid (pancreas 7 required); ``phase`` one of :data:`PHASES`; ``rng`` a
    ``numpy.random.Generator`` or seed (random bolus/organ gains, spleen pattern, noise).
    The native scan's own noise is kept, so the output's noise matches the real scan.
    ``noise_hu``, if given, adds independent noise so the total reaches that level (HU,
    it must not be below the scan's measured noise). Returns a float32 SimpleITK image on
    the same grid. Not for clinical use.
    """
    check_phase(phase)
    check_same_grid(labels, native_ct, "label map", "CT")
    rng = None if rng is None else np.random.default_rng(rng)
    native = sitk.GetArrayFromImage(native_ct).astype(np.float32)
    lab = sitk.GetArrayFromImage(labels)
    require_label(lab, PANCREAS)
    out = native + enhancement_map(native, lab, phase, rng)
    if noise_hu is not None:
        have = measure_noise(native, lab)["sd_hu"]
        if noise_hu < have:
            raise ValueError(f"noise_hu={noise_hu} is below this scan's own noise ({have:.1f} "
                             "HU); noise can be added, not removed. Use a larger value or None.")
        if rng is None:
            raise ValueError("adding noise needs a seed: pass rng (an int or a Generator)")
        out += correlated_noise(out.shape, np.sqrt(noise_hu**2 - have**2), rng)
    image = sitk.GetImageFromArray(out.astype(np.float32))
    image.CopyInformation(native_ct)
    return image
