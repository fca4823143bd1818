"""Where a lesion goes and what shape it has: placement, growth (mass effect) and outline.

A lesion is a lobulated blob (an ellipsoid whose outline is dented by a smooth random
function of direction) placed inside the pancreas. The gland in the source scan is only a
few voxels thick, so a lesion larger than it makes room: an *expansile* lesion (PNET, cyst,
SPT) grows from a small copy of itself and pushes the tissue aside with a volume-preserving
"mass effect" warp; an *infiltrative* PDAC mostly replaces what was there. Either way the
lesion lies inside the (enlarged) pancreas. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

from .grids import bounding_box
from .lesions import LesionDoesNotFitError

MAX_EXPANSION = 4.0  # a lesion may grow from a ball up to 4x smaller in radius

# How far the outline may be dented inwards (fraction of the radius): infiltrative PDAC is
# the most irregular; PNETs, cysts and encapsulated SPTs are rounder (assumptions).
IRREGULARITY = {"PDAC": 0.45, "PNET": 0.2, "cyst": 0.2, "SPT": 0.12}
# How a lesion makes room. Expansile lesions grow from a small ball of gland and push the
# tissue aside (pressing the gland into a thin rim around them). An infiltrative PDAC mostly
# replaces what was there (gland and nearby fat) and pushes only a little: it grows from a
# region at least this fraction of its own size (assumption).
INFILTRATION = {"PDAC": 0.8}



# ---------------------------------------------------------------------------- placement
def choose_center(pancreas_zyx, spacing_zyx, radius_mm, rng, mass_effect=True, center=None,
                  anywhere: bool = False):
    """Pick a lesion centre (voxel index z, y, x) inside the pancreas, and the radius r0 (mm)
    of the ball of gland around it that the lesion grows from.

    Without mass effect the whole lesion ball must fit in the gland. With it, the ball of
    gland may be up to :data:`MAX_EXPANSION` times smaller than the lesion. The lesion must
    also stay inside the image. Raises :class:`LesionDoesNotFitError` otherwise.
    ``anywhere``: any gland voxel away from the image's border will do, the gland's edge
    included (for a lesion that may reach out of the gland: the randomised appearance).
    """
    spacing = np.asarray(spacing_zyx, float)
    pancreas_zyx = np.asarray(pancreas_zyx, bool)
    shape = np.asarray(pancreas_zyx.shape)
    # Everything below happens in the gland's bounding box plus one voxel (the whole image
    # when there is no gland): the nearest non-gland voxel of a gland voxel always lies in
    # it, so the distances, and the candidates in their order, are those of the whole image.
    box = padded_box(pancreas_zyx)
    offset = np.array([b.start for b in box])
    gland = pancreas_zyx[box]
    # Distance to the nearest non-gland voxel centre, less half a voxel: the gland edge.
    clearance = ndi.distance_transform_edt(gland, sampling=spacing) - spacing.min() / 2
    margin = np.ceil(radius_mm / spacing).astype(int)
    inside = np.zeros_like(pancreas_zyx, bool)
    inside[tuple(slice(m, n - m) for m, n in zip(margin, shape, strict=True))] = True
    inside = inside[box]
    need = radius_mm / MAX_EXPANSION if mass_effect else radius_mm
    # Outside the box every voxel is background, at -spacing/2 < -1.0: never the maximum.
    best = float(clearance[inside].max(initial=-1.0))
    if center is not None:
        center = tuple(int(v) for v in center)
        if not pancreas_zyx[center]:
            raise LesionDoesNotFitError(f"the lesion centre {center} is not inside the pancreas")
        local = tuple(np.subtract(center, offset))
        candidates = np.array([local]) if clearance[local] >= need and inside[local] else []
    elif anywhere:
        candidates = np.argwhere(inside & gland)
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
    local = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
    chosen = tuple(int(v) for v in np.add(local, offset))
    return chosen, float(min(radius_mm, clearance[local]))


def padded_box(mask) -> tuple:
    """Slices of the bounding box of ``mask`` grown by one voxel (clipped to the array), or
    of the whole array when ``mask`` is empty."""
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if not len(hit):
            return tuple(slice(0, n) for n in mask.shape)
        box.append(slice(max(int(hit[0]) - 1, 0), min(int(hit[-1]) + 2, mask.shape[axis])))
    return tuple(box)


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
    def random(cls, center_zyx, radius_mm, subtype, rng, n_waves=6, dent=None, axes_low=0.75):
        """A random outline; ``dent`` (default: the subtype's :data:`IRREGULARITY`) and
        ``axes_low`` (the flattest relative semi-axis) for the randomised appearance; the
        same number of draws from ``rng`` whatever they are."""
        axes = (1.0, *rng.uniform(axes_low, 1.0, 2))
        rot = Rotation.random(random_state=rng).as_matrix()
        direction = rng.standard_normal((n_waves, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        waves = direction * rng.uniform(0.5, 1.0, (n_waves, 1))
        return cls(tuple(center_zyx), float(radius_mm), axes, rot, waves,
                   rng.uniform(0, 2 * np.pi, n_waves),
                   IRREGULARITY[subtype] if dent is None else float(dent), subtype)

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

    def _level_near(self, offset_mm):
        """:meth:`level`, bit for bit, where it decides anything (it is what
        :meth:`occupancy` uses): ``r`` where the point is no farther from the centre than
        ``radius_mm`` (the outline never reaches farther), +inf beyond (where ``r`` > 1);
        ``inner`` where ``r`` <= 1 (0 elsewhere), and only for an SPT. The cosines, the
        costly part, are taken only there; everything else is computed as :meth:`level`
        does, on the same arrays (the matrix products too, whose rounding may depend on
        their shapes)."""
        offset_mm = np.asarray(offset_mm, float)
        if not (0 <= self.dent <= 1 and max(self.axes) <= 1):  # the bound below needs these
            r, inner = self.level(offset_mm)
            return r, (inner if self.subtype == "SPT" else np.zeros_like(r))
        norm = np.linalg.norm(offset_mm, axis=-1, keepdims=True)
        unit = np.where(norm > 1e-9, offset_mm / np.maximum(norm, 1e-9), [1.0, 0.0, 0.0])
        stretch = np.linalg.norm(unit @ self.rotation / np.asarray(self.axes), axis=-1)
        waves = 2 * np.pi * unit @ self.waves.T  # as in _wave
        distance = np.linalg.norm(offset_mm, axis=-1)
        # surface_mm <= radius_mm (stretch >= 1, dent x lobes in 0..1), up to rounding
        near = distance <= self.radius_mm * (1 + 1e-6)
        wave = np.sqrt(2.0 / len(self.phases)) * np.cos(waves[near] + self.phases).sum(-1)
        lobes = 0.5 * (1 + np.tanh(1.5 * wave))
        r = np.full(distance.shape, np.inf)
        r[near] = distance[near] / (self.radius_mm * (1 - self.dent * lobes) / stretch[near])
        inner = np.zeros(distance.shape)
        if self.subtype == "SPT":
            inside = r <= 1
            phases = self.phases[::-1]
            inner_waves = 2 * np.pi * (offset_mm / self.radius_mm) @ (self.waves[::-1] * 2.5).T
            inner[inside] = (np.sqrt(2.0 / len(phases))
                             * np.cos(inner_waves[inside] + phases).sum(-1))
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
        r, inner = self._level_near((pts - np.asarray(self.center_zyx)) * spacing)
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


def blurred_margin(comps: dict, look) -> dict:
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
                    for b, n in zip(bounding_box(support), support.shape, strict=True))
        for name, frac in comps.items():
            out = np.zeros(frac.shape, np.float32)
            out[box] = ndi.gaussian_filter(frac[box], sigma).astype(np.float32)
            blurred[name] = out
    else:
        blurred = {name: ndi.gaussian_filter(frac, sigma).astype(np.float32)
                   for name, frac in comps.items()}
    return blurred if sum(blurred.values()).max() >= 0.5 else comps
