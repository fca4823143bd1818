"""Pancreatic lesions for virtual patients: subtypes, appearance per phase, and conspicuity.

Where a lesion goes and its shape are in :mod:`.lesion_shape`. Its attenuation in each phase follows
:data:`APPEARANCE`, with the sources noted: relative to the gland's **parenchyma** (not to
the gland's mean, which fat lowers: :mod:`.gland`), or absolute for fluid. A lesion replaces
parenchyma and fat alike, so how it stands out on plain CT follows from the fat around it:
a cyst is darker than a normal gland and brighter than a fatty one. Its
:func:`conspicuity` is the contrast-to-noise ratio against the gland around it, as imaged.
The public ``insert_lesion`` is in :mod:`.insert`. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

SUBTYPES = ("PDAC", "PNET", "cyst", "SPT")
SUBTYPE_NAMES = {
    "PDAC": "pancreatic ductal adenocarcinoma",
    "PNET": "pancreatic neuroendocrine tumour",
    "cyst": "cystic lesion (serous/mucinous/IPMN-like fluid)",
    "SPT": "solid pseudopapillary tumour",
}
DIAMETER_RANGE_MM = (5.0, 40.0)


_ASSUMED = "assumption (no checked source)"
_LU = "Lu et al., Radiology 199:697 (1996): tumour-pancreas 67 +/- 19 HU; PMID 17961951: 60 +/- 25"


@dataclass(frozen=True)
class Appearance:
    """How one component of a lesion looks in one phase.

    ``rule``: ``"delta"`` (the parenchyma's HU in this phase + value), ``"ratio"`` (value x
    the parenchyma's HU in this phase), ``"enh_ratio"`` (the lesion's native value + value x the
    parenchyma's enhancement over native) or ``"absolute"`` (HU).
    ``jitter`` is the per-lesion standard deviation (HU) around the value.
    """

    subtype: str
    component: str
    phase: str
    rule: str
    value: float
    jitter: float
    source: str


def _appearance():
    rows = []

    def add(subtype, component, jitter, native, arterial, pancreatic, portal):
        for phase, spec in zip(("native", "arterial", "pancreatic", "portal_venous"),
                               (native, arterial, pancreatic, portal), strict=True):
            rows.append(Appearance(subtype, component, phase, *spec[:2], jitter, spec[2]))

    add("PDAC", "solid", 5.0,
        ("delta", -5, _ASSUMED + "; PDAC is often iso-attenuating on plain CT (-5 HU)"),
        ("delta", -35, _ASSUMED + "; between native and pancreatic phase"),
        ("delta", -65, _LU), ("delta", -40,
         "[lu1996] [prokesch2002] (PDAC contrast studies; which one gives the portal venous "
         "39-41 HU: unchecked)"))
    add("PNET", "solid", 5.0, ("delta", -5, _ASSUMED),
        ("ratio", 1.5, "Belousova 2016 (PMC5552195): arterial ratio to gland 1.53, grade 1"),
        ("ratio", 1.5, "HPB 2014 (PMID 23991643): hyper-enhancing in 68 % (ratio as arterial)"),
        ("ratio", 1.1, _ASSUMED))
    fluid = ("absolute", 10, "near water, non-enhancing; 0-20 HU is a convention (UNVERIFIED)")
    add("cyst", "fluid", 3.0, fluid, fluid, fluid, fluid)
    spt = "Pancreas 39:486 (2010): solid part enhances progressively, stays below gland"
    add("SPT", "solid", 5.0, ("delta", 0, _ASSUMED), ("enh_ratio", 0.4, spt + " (0.4 assumed)"),
        ("enh_ratio", 0.5, spt + " (0.5 assumed)"), ("enh_ratio", 0.8, spt + " (0.8 assumed)"))
    cystic = ("absolute", 20, _ASSUMED + "; fluid/old haemorrhage")
    add("SPT", "cystic", 3.0, cystic, cystic, cystic, cystic)
    add("SPT", "capsule", 5.0, ("delta", 0, _ASSUMED), ("enh_ratio", 1.0, _ASSUMED),
        ("enh_ratio", 1.0, _ASSUMED), ("enh_ratio", 1.0, "encapsulated (Pancreas 39:486)"))
    return tuple(rows)


APPEARANCE = _appearance()

# Texture inside the lesion (HU sd). Solid parts get the texture of the gland around them
# (None), so that texture alone does not give a lesion away; fluid is smooth (assumptions).
TEXTURE_HU = {"solid": None, "capsule": None, "fluid": 2.0, "cystic": 3.0}

# Randomised appearance (the training cohorts; see random_appearance). Each lesion gets its own
# plain-scan HU difference to the gland's *parenchyma* (gland.PARENCHYMA_HU, 40 HU), drawn
# from these ranges, wider than the table's jitter so that a model cannot rely on one typical
# value: PDAC is iso to slightly hypo on plain CT (notebook 06's sources); fluid is near water
# (0-20 HU, a convention, unverified), so -45..-15 puts it at -5..25 HU; an SPT's old
# haemorrhage may be a little denser. The exact bounds are assumptions. How the lesion stands
# out against the gland then follows from the gland's fat (a patient's fat scale), not from
# these numbers.
RANDOM_PLAIN_DELTA_HU = {("PDAC", "solid"): (-20.0, 5.0), ("PNET", "solid"): (-15.0, 10.0),
                         ("cyst", "fluid"): (-45.0, -15.0), ("SPT", "solid"): (-20.0, 5.0),
                         ("SPT", "cystic"): (-40.0, -10.0), ("SPT", "capsule"): (-10.0, 10.0)}
SHAPES = ("ellipsoid", "lobulated", "irregular")


class LesionDoesNotFitError(ValueError):
    """The requested lesion cannot be placed inside this pancreas."""


def appearance_table():
    """The appearance table as a pandas DataFrame."""
    return pd.DataFrame([vars(row) for row in APPEARANCE])


def check_subtype(subtype: str) -> str:
    """Return ``subtype`` or raise a ValueError listing the valid ones."""
    if subtype not in SUBTYPES:
        raise ValueError(f"unknown lesion subtype {subtype!r}; valid subtypes: "
                         f"{', '.join(SUBTYPES)} (or None for a healthy pancreas)")
    return subtype


def check_diameter(diameter_mm: float) -> float:
    """Return the diameter as a float, or raise a ValueError outside 3-60 mm."""
    diameter_mm = float(diameter_mm)
    if not 3.0 <= diameter_mm <= 60.0:
        raise ValueError(f"lesion diameter {diameter_mm} mm is outside 3-60 mm (this series "
                         f"uses {DIAMETER_RANGE_MM[0]:.0f}-{DIAMETER_RANGE_MM[1]:.0f} mm)")
    return diameter_mm



# ---------------------------------------------------------------------------- appearance
def component_values(subtype, gland_hu: dict, rng,
                     plain_delta: dict | None = None) -> dict[str, dict[str, float]]:
    """Mean HU of each lesion component in each phase of ``gland_hu`` (phase -> the
    parenchyma's HU near the lesion, :func:`.gland.parenchyma_levels`).

    ``gland_hu`` must include "native". One random draw per component and phase
    (the table's ``jitter``), so that lesions of one subtype differ. ``plain_delta``
    (component -> HU, from :func:`random_appearance`) replaces a component's native value by
    the parenchyma's native HU plus that difference; a non-enhancing ("absolute") component then
    keeps that value in every phase.
    """
    check_subtype(subtype)
    if "native" not in gland_hu:
        raise ValueError("lesion values need the gland's native mean: include the native scan")
    out: dict[str, dict[str, float]] = {}
    rows = [r for r in APPEARANCE if r.subtype == subtype]
    for component in dict.fromkeys(r.component for r in rows):
        table = {r.phase: r for r in rows if r.component == component}
        draws = {p: r.value * (1 + 0.1 * rng.standard_normal()) if "ratio" in r.rule
                 else r.value + r.jitter * rng.standard_normal() for p, r in table.items()}
        native = _value(table["native"], draws["native"], gland_hu, None)
        if plain_delta is not None:
            native = float(gland_hu["native"] + plain_delta[component])
            out[component] = {p: native if table[p].rule == "absolute"
                              else _value(table[p], draws[p], gland_hu, native)
                              for p in gland_hu}
            continue
        out[component] = {p: _value(table[p], draws[p], gland_hu, native) for p in gland_hu}
    return out


def _value(row, draw, gland_hu, native):
    if row.rule == "absolute":
        return float(draw)
    if row.rule == "delta":
        return float(gland_hu[row.phase] + draw)
    if row.rule == "ratio":
        return float(draw * gland_hu[row.phase])
    return float(native + draw * (gland_hu[row.phase] - gland_hu["native"]))


def lesion_texture(shape, rng, components, gland_sd, sigma_vox=0.8) -> np.ndarray:
    """Smooth random texture (HU) inside the lesion: sd from :data:`TEXTURE_HU` per
    component, ``gland_sd`` (the gland's own texture) for solid parts. Only the lesion's
    box (plus a margin) is drawn; the random numbers depend on the box's size only."""
    occ = sum(components.values())
    out = np.zeros(shape, np.float32)
    where = np.argwhere(occ > 0)
    if not len(where):
        return out
    lo = np.maximum(where.min(0) - 3, 0)
    hi = np.minimum(where.max(0) + 4, shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    field = ndi.gaussian_filter(rng.standard_normal(tuple(hi - lo)).astype(np.float32),
                                sigma_vox)
    field /= max(float(field.std()), 1e-6)
    sd = sum((gland_sd if TEXTURE_HU[name] is None else TEXTURE_HU[name]) * frac[box]
             for name, frac in components.items())
    out[box] = np.where(occ[box] > 0, field * sd / np.maximum(occ[box], 1e-6), 0)
    return out


def gland_texture_sd(clean_native, ring, noise_hu=0.0) -> float:
    """The gland's texture (HU sd) in a ring around a lesion, less the image noise."""
    return float(np.sqrt(max(float(clean_native[ring].var()) - noise_hu**2, 0.0)))


def composite(image, components, values, texture, phase):
    """Blend the lesion into one phase image: (1 - occupancy) x tissue + lesion."""
    occ = sum(components.values())
    lesion = sum(frac * np.float32(values[name][phase]) for name, frac in components.items())
    return (1 - occ) * image + lesion + texture


def surrounding_gland(pancreas, lesion, spacing_zyx=(3.0, 3.0, 3.0), ring_mm=10.0,
                      gap_mm=None):
    """The gland around a lesion: pancreas voxels more than ``gap_mm`` (default 1.5 voxels,
    so the voxels that share the lesion's edge are left out) and at most ``ring_mm`` from
    it; the whole rest of the gland when that ring has fewer than 5 voxels. Both the lesion
    values (set relative to this ring) and :func:`conspicuity` use it."""
    pancreas, lesion = np.asarray(pancreas, bool), np.asarray(lesion, bool)
    if not lesion.any():
        raise ValueError("the lesion mask is empty: conspicuity needs a lesion")
    spacing = np.asarray(spacing_zyx, float)
    where = np.argwhere(lesion)
    pad = np.ceil(ring_mm / spacing).astype(int) + 1
    lo = np.maximum(where.min(0) - pad, 0)
    hi = np.minimum(where.max(0) + pad + 1, lesion.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    gap = 1.5 * spacing.max() if gap_mm is None else gap_mm
    dist = ndi.distance_transform_edt(~lesion[box], sampling=spacing)
    ring = np.zeros(lesion.shape, bool)
    ring[box] = (dist > gap) & (dist <= ring_mm) & pancreas[box]
    return ring if ring.sum() >= 5 else pancreas & ~lesion


def conspicuity(image_zyx, lesion_zyx, pancreas_zyx, noise_hu=None,
                spacing_zyx=(3.0, 3.0, 3.0), ring_mm=10.0) -> dict:
    """Contrast-to-noise ratio (CNR) of a lesion against the pancreas around it.

    The background is the gland within ``ring_mm`` of the lesion (lesion excluded).
    ``cnr`` = |mean(lesion) - mean(background)| / ``noise_hu`` (the image noise, e.g. measured
    in a homogeneous organ); without ``noise_hu`` the background's own standard deviation is
    used. ``cnr_texture`` always divides by that standard deviation, which also counts the
    gland's texture (fat lobules, partial volume). Returns lesion_hu, pancreas_hu,
    contrast_hu (lesion minus pancreas), sd_hu (background), cnr and cnr_texture.
    """
    lesion = np.asarray(lesion_zyx, bool)
    pancreas = np.asarray(pancreas_zyx, bool)
    if lesion.shape != pancreas.shape or lesion.shape != np.shape(image_zyx):
        raise ValueError(f"image {np.shape(image_zyx)}, lesion {lesion.shape} and pancreas "
                         f"{pancreas.shape} must have the same shape")
    ring = surrounding_gland(pancreas, lesion, spacing_zyx, ring_mm)
    if ring.sum() < 5:
        raise ValueError("too little pancreas around the lesion to measure a background")
    image = np.asarray(image_zyx, float)
    lesion_hu, background = image[lesion].mean(), image[ring].mean()
    sd = image[ring].std()
    contrast = lesion_hu - background
    return {"lesion_hu": lesion_hu, "pancreas_hu": background, "contrast_hu": contrast,
            "sd_hu": sd, "cnr": abs(contrast) / (noise_hu if noise_hu else sd),
            "cnr_texture": abs(contrast) / sd}


def random_appearance(subtype: str, rng) -> dict:
    """One lesion's randomised appearance (training cohorts), drawn from ``rng``:

    * ``mass_effect``: 0 (none: the lesion replaces what is there, reaching out of a thin
      gland) to 1 (today's full push, pressing the gland aside);
    * ``anywhere``: centre on any gland voxel, edge included (else the roomier part);
    * ``shape``: one of :data:`SHAPES`, with ``dent`` (how deep the lobes' dents go) and
      ``axes_low`` (how flat the ellipsoid may be);
    * ``margin_sigma_vox``: blur of the margin (0: sharp, 1.2 voxels: ill-defined);
    * ``texture_scale``: 0.5-2 times the usual inner texture;
    * ``plain_delta``: per component, the plain-scan HU difference to the gland
      (:data:`RANDOM_PLAIN_DELTA_HU`).

    All ranges are this series' assumptions: the point is variety, so that no single cue
    (a bulge, a typical HU, a round outline) gives a lesion away.
    """
    check_subtype(subtype)
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    dent = {"ellipsoid": 0.0, "lobulated": None, "irregular": float(rng.uniform(0.45, 0.6))}
    components = [c for (s, c) in RANDOM_PLAIN_DELTA_HU if s == subtype]
    return {"mass_effect": float(rng.uniform(0.0, 1.0)), "anywhere": bool(rng.random() < 0.5),
            "shape": shape, "dent": dent[shape], "axes_low": float(rng.uniform(0.55, 0.9)),
            "margin_sigma_vox": float(rng.uniform(0.0, 1.2)),
            "texture_scale": float(rng.uniform(0.5, 2.0)),
            "plain_delta": {c: float(rng.uniform(*RANDOM_PLAIN_DELTA_HU[(subtype, c)]))
                            for c in components}}
