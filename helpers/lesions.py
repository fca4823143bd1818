"""Pancreatic lesions for virtual patients: shape, growth, appearance and conspicuity.

A lesion is a lobulated blob (an ellipsoid whose outline is dented by a smooth random
function of direction) placed inside the pancreas. The gland in the source scan is only a
few voxels thick, so a lesion larger than it makes room: an *expansile* lesion (PNET, cyst,
SPT) grows from a small copy of itself and pushes the tissue aside with a volume-preserving
"mass effect" warp; an *infiltrative* PDAC mostly replaces what was there. Either way the
lesion lies inside the (enlarged) pancreas. Its attenuation in each phase follows
:data:`APPEARANCE`, relative to the gland around it, with the sources noted; its
:func:`conspicuity` is the contrast-to-noise ratio against that gland. The public
``insert_lesion`` is in :mod:`helpers.simulate`. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

SUBTYPES = ("PDAC", "PNET", "cyst", "SPT")
SUBTYPE_NAMES = {
    "PDAC": "pancreatic ductal adenocarcinoma",
    "PNET": "pancreatic neuroendocrine tumour",
    "cyst": "cystic lesion (serous/mucinous/IPMN-like fluid)",
    "SPT": "solid pseudopapillary tumour",
}
DIAMETER_RANGE_MM = (5.0, 40.0)
MAX_EXPANSION = 4.0  # a lesion may grow from a ball up to 4x smaller in radius

_ASSUMED = "assumption (no checked source)"
_LU = "Lu et al., Radiology 199:697 (1996): tumour-pancreas 67 +/- 19 HU; PMID 17961951: 60 +/- 25"


@dataclass(frozen=True)
class Appearance:
    """How one component of a lesion looks in one phase.

    ``rule``: ``"delta"`` (gland mean in this phase + value), ``"ratio"`` (value x the gland
    mean in this phase), ``"enh_ratio"`` (the lesion's native value + value x the gland's
    enhancement over native) or ``"absolute"`` (HU).
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
        ("delta", -5, "DOMAIN-NOTES: often iso-attenuating on plain CT (-5 HU assumed)"),
        ("delta", -35, _ASSUMED + "; between native and pancreatic phase"),
        ("delta", -65, _LU), ("delta", -40, "DOMAIN-NOTES: portal venous about 39-41 HU"))
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
# How far the outline may be dented inwards (fraction of the radius): infiltrative PDAC is
# the most irregular; PNETs, cysts and encapsulated SPTs are rounder (assumptions).
IRREGULARITY = {"PDAC": 0.45, "PNET": 0.2, "cyst": 0.2, "SPT": 0.12}
# How a lesion makes room. Expansile lesions grow from a small ball of gland and push the
# tissue aside (pressing the gland into a thin rim around them). An infiltrative PDAC mostly
# replaces what was there (gland and nearby fat) and pushes only a little: it grows from a
# region at least this fraction of its own size (assumption).
INFILTRATION = {"PDAC": 0.8}
# Texture inside the lesion (HU sd). Solid parts get the texture of the gland around them
# (None), so that texture alone does not give a lesion away; fluid is smooth (assumptions).
TEXTURE_HU = {"solid": None, "capsule": None, "fluid": 2.0, "cystic": 3.0}


class LesionDoesNotFitError(ValueError):
    """The requested lesion cannot be placed inside this pancreas."""


def appearance_table():
    """The appearance table as a pandas DataFrame."""
    import pandas as pd

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


# ---------------------------------------------------------------------------- placement
def choose_center(pancreas_zyx, spacing_zyx, radius_mm, rng, mass_effect=True, center=None):
    """Pick a lesion centre (voxel index z, y, x) inside the pancreas, and the radius r0 (mm)
    of the ball of gland around it that the lesion grows from.

    Without mass effect the whole lesion ball must fit in the gland. With it, the ball of
    gland may be up to :data:`MAX_EXPANSION` times smaller than the lesion. The lesion must
    also stay inside the image. Raises :class:`LesionDoesNotFitError` otherwise.
    """
    spacing = np.asarray(spacing_zyx, float)
    shape = np.asarray(pancreas_zyx.shape)
    # Distance to the nearest non-gland voxel centre, less half a voxel: the gland edge.
    clearance = ndi.distance_transform_edt(pancreas_zyx, sampling=spacing) - spacing.min() / 2
    margin = np.ceil(radius_mm / spacing).astype(int)
    inside = np.zeros_like(pancreas_zyx, bool)
    inside[tuple(slice(m, n - m) for m, n in zip(margin, shape, strict=True))] = True
    need = radius_mm / MAX_EXPANSION if mass_effect else radius_mm
    best = float(clearance[inside].max(initial=-1.0))
    if center is not None:
        center = tuple(int(v) for v in center)
        if not pancreas_zyx[center]:
            raise LesionDoesNotFitError(f"the lesion centre {center} is not inside the pancreas")
        candidates = np.array([center]) if clearance[center] >= need and inside[center] else []
    else:
        # Prefer the roomier part of the gland, so that the mass effect stays moderate.
        good = inside & (clearance >= max(need, min(radius_mm, 0.7 * best)))
        candidates = np.argwhere(good)
    if len(candidates) == 0:
        largest = 2 * best * (MAX_EXPANSION if mass_effect else 1)
        raise LesionDoesNotFitError(
            f"a {2 * radius_mm:.0f} mm lesion cannot fit this pancreas"
            + (" at that centre" if center is not None else "")
            + f" (largest that fits: about {max(largest, 0):.0f} mm"
            + ("" if mass_effect else ", or allow the mass effect") + "). Choose a smaller "
            "diameter or another centre.")
    chosen = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
    return chosen, float(min(radius_mm, clearance[chosen]))


def source_fraction(lesion: LesionShape, r0_mm: float) -> float:
    """How much smaller than the lesion is the region it grows from (1: no push at all)."""
    return max(r0_mm / lesion.radius_mm, INFILTRATION.get(lesion.subtype, 0.0))


def mass_effect_pullback(shape, spacing_zyx, center, r0_mm, lesion: LesionShape, reach=4.0):
    """Displacement (voxels, shape ``(3, *shape)``) that grows a copy of the lesion's shape,
    shrunk by :func:`source_fraction`, into the lesion itself, pushing the tissue outside
    it away while keeping its volume (incompressible tissue, shell by shell along each
    direction). It is a pull-back: output voxel x takes its value from x + d(x). Zero when
    the lesion fits without pushing (r0 equals its radius).

    Because the push follows the lesion's own outline, the gland is pressed against the
    lesion rather than stretched into the gaps between its lobes. The push fades smoothly
    to zero between ``reach - 1`` and ``reach`` lesion radii (far away it is sub-millimetre
    anyway), so only a box around the lesion is computed.
    """
    fraction = np.float32(source_fraction(lesion, r0_mm))
    out = np.zeros((3, *shape), np.float32)
    if fraction >= 1:
        return out
    spacing = np.asarray(spacing_zyx, np.float32)
    half = np.ceil(reach * lesion.radius_mm / spacing).astype(int)
    lo = np.maximum(np.asarray(center) - half, 0)
    hi = np.minimum(np.asarray(center) + half + 1, shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    grid = np.indices(tuple(hi - lo), dtype=np.float32) + lo.reshape(3, 1, 1, 1)
    offset_mm = (grid - np.reshape(center, (3, 1, 1, 1))) * spacing.reshape(3, 1, 1, 1)
    rho = np.sqrt((offset_mm**2).sum(0))
    surface = lesion.surface_mm(np.moveaxis(offset_mm, 0, -1)).astype(np.float32)
    source = surface * fraction
    outer = np.cbrt(np.maximum(rho**3 - surface**3 + source**3, 0)) / np.maximum(rho, 1e-6)
    ratio = np.where(rho <= surface, fraction, outer)
    fade = np.clip(reach - rho / lesion.radius_mm, 0, 1)
    fade = fade * fade * (3 - 2 * fade)  # smoothstep: no kink where the push ends
    out[(slice(None), *box)] = (ratio - 1) * fade * offset_mm / spacing.reshape(3, 1, 1, 1)
    return out


# ---------------------------------------------------------------------------- shape
@dataclass(frozen=True)
class LesionShape:
    """A random irregular lesion: an ellipsoid (relative semi-axes, rotation) with lobes.

    The outline is star-shaped: along each direction u from the centre the lesion reaches
    ``surface_mm(u) = radius * (1 - dent * h(u)) / |ellipsoid norm of u|``, where h is a smooth
    random function of direction in 0..1 (the dents between lobes). So the lesion's longest
    radius is at most ``radius_mm``, its nominal half diameter.
    """

    center_zyx: tuple  # voxel index of the centre
    radius_mm: float
    axes: tuple  # relative semi-axes (1 = radius_mm)
    rotation: np.ndarray  # 3x3
    waves: np.ndarray  # (K, 3) wave vectors on the unit sphere, cycles per unit
    phases: np.ndarray  # (K,)
    dent: float
    subtype: str

    @classmethod
    def random(cls, center_zyx, radius_mm, subtype, rng, n_waves=6):
        axes = (1.0, *rng.uniform(0.75, 1.0, 2))
        rot = Rotation.random(random_state=rng).as_matrix()
        direction = rng.standard_normal((n_waves, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        waves = direction * rng.uniform(0.5, 1.0, (n_waves, 1))
        return cls(tuple(center_zyx), float(radius_mm), axes, rot, waves,
                   rng.uniform(0, 2 * np.pi, n_waves), IRREGULARITY[subtype], subtype)

    def _wave(self, points, waves, phases):
        arg = 2 * np.pi * points @ waves.T + phases
        return np.sqrt(2.0 / len(phases)) * np.cos(arg).sum(-1)

    def surface_mm(self, offset_mm) -> np.ndarray:
        """Distance (mm) from the centre to the outline, along the directions of the
        offsets (..., 3 in mm)."""
        offset_mm = np.asarray(offset_mm, float)
        norm = np.linalg.norm(offset_mm, axis=-1, keepdims=True)
        # The centre has no direction: any will do, it is inside whatever the outline.
        unit = np.where(norm > 1e-9, offset_mm / np.maximum(norm, 1e-9), [1.0, 0.0, 0.0])
        stretch = np.linalg.norm(unit @ self.rotation / np.asarray(self.axes), axis=-1)
        lobes = 0.5 * (1 + np.tanh(1.5 * self._wave(unit, self.waves, self.phases)))
        return self.radius_mm * (1 - self.dent * lobes) / stretch

    def level(self, offset_mm):
        """(r, inner) at offsets (..., 3 in mm): r = distance / surface distance, so the
        lesion is where r <= 1; ``inner`` is a smooth random field that splits an SPT."""
        offset_mm = np.asarray(offset_mm, float)
        r = np.linalg.norm(offset_mm, axis=-1) / self.surface_mm(offset_mm)
        inner = self._wave(offset_mm / self.radius_mm, self.waves[::-1] * 2.5, self.phases[::-1])
        return r, inner

    def occupancy(self, shape, spacing_zyx, subsample=3, to_lesion_space=None, center=None):
        """Fraction of each voxel covered by the lesion, per component (partial volume).

        Returns ``(occupancy, components)``: a float32 array in [0, 1] and a dict of
        component name -> float32 fraction (they sum to ``occupancy``). Only a box around
        the lesion is computed; the voxel at its centre always counts as lesion.
        ``to_lesion_space`` maps continuous voxel indices (..., 3 as z, y, x) of this grid to
        the grid the lesion was defined on (e.g. undoing motion), and ``center`` is then the
        lesion's centre voxel on this grid: the shape is evaluated exactly, not resampled.
        """
        spacing = np.asarray(spacing_zyx, float)
        center = np.asarray(self.center_zyx if center is None else center, float)
        half = np.ceil(self.radius_mm / spacing).astype(int) + (1 if to_lesion_space is None
                                                                else 3)
        mid = np.round(center).astype(int)
        lo = np.clip(mid - half, 0, shape)
        hi = np.clip(mid + half + 1, 0, shape)
        sub = (np.arange(subsample) + 0.5) / subsample - 0.5
        axes = [np.add.outer(np.arange(a, b), sub).ravel() for a, b in zip(lo, hi, strict=True)]
        pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
        if to_lesion_space is not None:
            pts = to_lesion_space(pts)
        r, inner = self.level((pts - np.asarray(self.center_zyx)) * spacing)
        inside = r <= 1
        parts = {"fluid" if self.subtype == "cyst" else "solid": inside}
        if self.subtype == "SPT":
            capsule = inside & (r > 0.8)
            cystic = inside & ~capsule & (inner > 0.3)
            parts = {"solid": inside & ~capsule & ~cystic, "cystic": cystic, "capsule": capsule}
        box = tuple(hi - lo)
        sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        comps = {}
        for name, part in parts.items():
            frac = part.reshape(box[0], subsample, box[1], subsample, box[2], subsample)
            full = np.zeros(shape, np.float32)
            full[sl] = frac.mean(axis=(1, 3, 5))
            comps[name] = full
        occ = sum(comps.values())
        if occ[tuple(mid)] < 0.5:  # tiny lesions: the centre voxel still counts
            first = next(iter(comps))
            comps[first][tuple(mid)] += 1.0 - occ[tuple(mid)]
            occ[tuple(mid)] = 1.0
        return occ.astype(np.float32), comps


# ---------------------------------------------------------------------------- appearance
def component_values(subtype, gland_hu: dict, rng) -> dict[str, dict[str, float]]:
    """Mean HU of each lesion component in each phase of ``gland_hu`` (phase -> gland mean).

    ``gland_hu`` must include "native". One random draw per component and phase
    (the table's ``jitter``), so that lesions of one subtype differ.
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
