"""Smooth deformations for virtual patients: anatomy variation and breathing motion.

Two different jobs:

* **anatomy variation** makes each virtual patient different: a random scaling plus a
  smooth random warp of the real scan (a *pull-back* field on the voxel grid);
* **breathing motion** moves the anatomy between the plain and the contrast scan of one
  patient. It is the ground truth that registration must recover, so it is an exact
  SimpleITK transform ``T`` mapping a physical point of the plain scan to the same
  anatomical point of the contrast scan: ``T = rigid o (identity + smooth field)``. The
  field lives on a coarse grid (it is smooth); drawing the contrast scan needs ``T``'s
  inverse, computed numerically (SimpleITK's ``InvertDisplacementFieldImageFilter``).

Magnitudes follow notebooks/references.md ([mao2025], [mori2009]): repeated breath-holds move
liver/pancreas targets about 2 mm (up to 8 mm head-to-foot); free breathing about 10 mm; so
"typical" uses a 2-5 mm rigid offset plus up to ~10 mm smooth head-to-foot deformation, "hard"
about double.
In "hard" motion the organs also *slide* past each other: free breathing moves the pancreas
about 9.6 mm while the liver can move up to 30 mm, so each organ moves its own
share of the liver's displacement (:data:`SLIDING_SHARE`). Within the pancreas the motion is
then no longer what a single affine transform of the whole abdomen can describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from . import grids

# Index <-> physical point conversions stay reachable as motion.* (notebook 02 uses them).
from .grids import index_to_physical, physical_to_index  # noqa: F401

# Organs that slide with breathing (weight 1), kidneys less; spine, muscles, aorta stay.
MOVING = {5: 1.0, 1: 1.0, 7: 1.0, 6: 1.0, 4: 1.0, 18: 1.0, 19: 1.0, 20: 1.0, 64: 1.0,
          63: 0.8, 8: 0.8, 9: 0.8, 2: 0.6, 3: 0.6, 10: 1.0, 11: 1.0, 13: 1.0, 14: 1.0}


# In sliding motion, the share of the liver's displacement each organ gets, drawn per patient
# from these ranges. The pancreas's share follows mori2009 (references.md: about 9.6 mm
# free-breathing motion against up to 30 mm for the liver: about a third); the others are
# assumptions.
SLIDING_SHARE = {5: (1.0, 1.0), 1: (0.8, 1.0), 6: (0.6, 1.0), 7: (0.2, 0.5), 2: (0.3, 0.6),
                 3: (0.3, 0.6)}  # liver, spleen, stomach, pancreas, kidneys


@dataclass(frozen=True)
class MotionLevel:
    """Ranges (mm, degrees) for one motion setting."""

    rigid_mm: tuple[float, float]
    rotation_deg: float
    hf_mm: tuple[float, float]  # peak smooth head-to-foot displacement
    sliding: bool = False  # organs move different shares of it (SLIDING_SHARE)


MOTION_LEVELS = {
    "none": MotionLevel((0.0, 0.0), 0.0, (0.0, 0.0)),
    "typical": MotionLevel((2.0, 5.0), 1.0, (3.0, 10.0)),
    "hard": MotionLevel((5.0, 10.0), 3.0, (10.0, 20.0), sliding=True),
}


def check_motion(motion: str) -> MotionLevel:
    """The :class:`MotionLevel` called ``motion``, or a ValueError listing the valid names."""
    if motion not in MOTION_LEVELS:
        raise ValueError(f"unknown motion {motion!r}; valid: {', '.join(MOTION_LEVELS)}")
    return MOTION_LEVELS[motion]


def sample_at(volume, idx_zyx, order=1):
    """Sample a volume at continuous indices (..., 3 as z, y, x); edges are extended."""
    idx = np.asarray(idx_zyx, np.float32)
    volume = np.asarray(volume)
    if order == 0 and volume.ndim == 3 and volume.dtype.kind in "ui" and volume.itemsize <= 4:
        return _nearest(volume, idx)
    return ndi.map_coordinates(volume, np.moveaxis(idx, -1, 0), order=order, mode="nearest")


def _nearest(volume, idx):
    """``map_coordinates(volume, idx, order=0, mode="nearest")`` for whole numbers, in numpy:
    the same voxel (``floor(index + 0.5)`` in double precision, clipped to the volume), in a
    third of the time."""
    flat = np.zeros(idx.shape[:-1], np.intp)
    for axis, n in enumerate(volume.shape):
        near = np.floor(idx[..., axis].astype(np.float64) + 0.5)
        if np.isnan(near).any():  # scipy's answer there is 0: leave such cases to it
            return ndi.map_coordinates(volume, np.moveaxis(idx, -1, 0), order=0, mode="nearest")
        np.clip(near, 0, n - 1, out=near)
        flat *= n
        flat += near.astype(np.intp)
    return np.ascontiguousarray(volume).ravel().take(flat)


def smooth_noise(shape, rng, sigma, down=4):
    """A smooth random field (max |value| = 1), made on a grid ``down`` times coarser."""
    coarse = [max(3, int(np.ceil(n / down)) + 1) for n in shape]
    field = ndi.gaussian_filter(rng.standard_normal(coarse), sigma / down, mode="reflect")
    full = ndi.zoom(field, [n / c for n, c in zip(shape, coarse, strict=True)], order=1)
    return (full / np.abs(full).max()).astype(np.float32)


# ---------------------------------------------------------------------------- anatomy
def anatomy_pullback(shape, spacing_zyx, center_zyx, rng, scale=0.06, warp_mm=6.0,
                     smooth_vox=6.0):
    """Pull-back displacement (voxels, ``(3, *shape)``) that varies a patient's anatomy.

    Output voxel x takes its value from the real scan at x + d(x): a scaling about
    ``center_zyx`` by 1 +/- ``scale`` per axis, plus a smooth random warp of up to ``warp_mm``.
    """
    spacing = np.asarray(spacing_zyx, np.float32).reshape(3, 1, 1, 1)
    factors = rng.uniform(1 - scale, 1 + scale, 3).astype(np.float32).reshape(3, 1, 1, 1)
    grid = grids.centred_grid(tuple(int(n) for n in shape),
                         tuple(float(c) for c in np.ravel(center_zyx)))
    disp = grid * (1 / factors - 1)
    for axis in range(3):
        disp[axis] += smooth_noise(shape, rng, smooth_vox) * np.float32(
            warp_mm * rng.uniform(0.5, 1.0)) / spacing[axis]
    return disp


def compose_pullbacks(outer, inner):
    """d such that x + d(x) = y + outer(y) with y = x + inner(x): apply ``inner``'s lookup first,
    then ``outer``'s (both voxel pull-back fields on the same grid). Only the box where
    ``inner`` is non-zero needs interpolating; elsewhere the result is ``outer``."""
    total = outer.copy()
    active = np.any(inner != 0, axis=0)
    if not active.any():
        return total
    where = np.argwhere(active)
    box = tuple(slice(a, b + 1) for a, b in zip(where.min(0), where.max(0), strict=True))
    offset = np.asarray([s.start for s in box], np.float32).reshape(3, 1, 1, 1)
    local = inner[(slice(None), *box)]
    pos = np.indices(local.shape[1:], dtype=np.float32) + offset + local
    total[(slice(None), *box)] = local + np.stack(
        [ndi.map_coordinates(outer[a], pos, order=1, mode="nearest") for a in range(3)])
    return total


# ---------------------------------------------------------------------------- breathing
@dataclass
class Breathing:
    """Breathing motion between the plain and contrast scans of one virtual patient.

    ``field`` is a coarse vector image (mm): the smooth part D(p) = p + field(p). ``rigid``
    is applied after it. :meth:`transform` gives the exact ground truth T = rigid o D;
    :meth:`inverse_points` evaluates T^-1 numerically.
    """

    field: sitk.Image
    rigid: sitk.Euler3DTransform
    inverse_field: sitk.Image

    def transform(self) -> sitk.Transform:
        """Plain -> contrast physical points (a new SimpleITK CompositeTransform)."""
        smooth = sitk.DisplacementFieldTransform(sitk.Image(self.field))
        return sitk.CompositeTransform([sitk.Euler3DTransform(self.rigid), smooth])

    def inverse_transform(self) -> sitk.Transform:
        """Contrast -> plain physical points (numerical inverse of :meth:`transform`)."""
        smooth = sitk.DisplacementFieldTransform(sitk.Image(self.inverse_field))
        return sitk.CompositeTransform([smooth, self.rigid.GetInverse()])

    def inverse_points(self, points) -> np.ndarray:
        """T^-1 of physical points (..., 3), vectorised: rigid inverse, then field inverse."""
        pts = np.asarray(points, float)
        m = np.reshape(self.rigid.GetMatrix(), (3, 3))
        c = np.asarray(self.rigid.GetCenter())
        t = np.asarray(self.rigid.GetTranslation())
        y = (pts - c - t) @ m + c  # rigid: q = m (y - c) + c + t, and m is orthonormal
        inv = sitk.GetArrayViewFromImage(self.inverse_field)
        idx = grids.physical_to_index(self.inverse_field, y)
        return y + np.stack([sample_at(inv[..., a], idx) for a in range(3)], -1)


    def inverse_index_map(self, image: sitk.Image, factor=3, margin=2) -> np.ndarray:
        """For every voxel of ``image`` (the contrast grid), the continuous voxel index
        (z, y, x) in the plain grid of the same anatomical point: T^-1 on the whole grid.

        T^-1 is evaluated exactly at the nodes of the coarse grid (every ``factor``-th voxel,
        see :func:`coarse_grid`) and interpolated linearly in between; it is smooth, so this
        is as good as evaluating it everywhere, and several times faster.
        """
        nodes_mm, steps = grids.inverse_map_grid(grids.geometry_key(image), factor, margin)
        coarse = grids.physical_to_index(image, self.inverse_points(nodes_mm))
        for axis, (low, w, one_minus_w) in enumerate(steps):
            # (coarse[low] * (1 - w) + coarse[low + 1] * w), without the temporaries
            below = np.take(coarse, low, axis)
            below *= one_minus_w
            above = np.take(coarse, low + 1, axis)
            above *= w
            below += above
            coarse = below
        return coarse.astype(np.float32)


def moving_weight(labels_zyx, sigma_vox=4.0, shares=None) -> np.ndarray:
    """How much each voxel slides with breathing (0 spine/muscle ... 1 liver, bowel).

    ``shares``: label -> weight, replacing :data:`MOVING`'s value for those labels (sliding
    organs, see :func:`sliding_shares`)."""
    weights = np.zeros(256, np.float32)
    for label, w in {**MOVING, **(shares or {})}.items():
        weights[label] = w
    smooth = ndi.gaussian_filter(weights[labels_zyx], sigma_vox)
    return smooth / max(float(smooth.max()), 1e-6)


def sliding_shares(rng) -> dict:
    """Per-organ shares of the liver's displacement (label -> share), drawn from
    :data:`SLIDING_SHARE` with a generator seeded from ``rng`` (one draw from ``rng``)."""
    own = np.random.default_rng(rng.integers(1 << 31))
    return {label: float(own.uniform(lo, hi)) for label, (lo, hi) in SLIDING_SHARE.items()}


def make_breathing(image: sitk.Image, labels_zyx, rng, motion="typical", center_mm=None,
                   min_jacobian=0.5) -> Breathing:
    """Random breathing motion for a plain scan ``image`` whose labels are ``labels_zyx``.

    The smooth part moves organs mostly head-to-foot, weighted by :func:`moving_weight` so
    the spine stays nearly still (and, for a sliding level, each organ by its own share of the
    liver's motion), with peak size drawn from the level's ``hf_mm``; the rigid
    part shifts by a random vector of length in ``rigid_mm`` and rotates by up to
    ``rotation_deg`` about ``center_mm`` (default: the image centre). The deformation is
    scaled down if needed so its Jacobian determinant stays above ``min_jacobian``.
    """
    level = check_motion(motion)
    shares = sliding_shares(rng) if level.sliding else None
    grid = grids.coarse_grid(image)
    shape = grid.GetSize()[::-1]
    nodes = grids.coarse_nodes(grids.geometry_key(image))
    weight = sample_at(moving_weight(labels_zyx, shares=shares), nodes)
    peak = rng.uniform(*level.hf_mm)
    direction = np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.35, 0.35),
                          rng.choice([-1.0, 1.0])])
    field = np.zeros((*shape, 3))
    for axis in range(3):
        bump = 1 + 0.3 * smooth_noise(shape, rng, 3.0, down=2)
        field[..., axis] = direction[axis] * weight * bump
    field *= peak / np.abs(field[..., 2]).max()
    if peak > 0:
        while _min_jacobian(field, grid) < min_jacobian:
            field *= 0.9
    # Stored as float32 (the cache does too), so fresh and cached cases are identical.
    field_img = sitk.GetImageFromArray(field.astype(np.float32).astype(np.float64), isVector=True)
    field_img.CopyInformation(grid)

    center = (image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()])
              if center_mm is None else tuple(center_mm))
    shift = rng.standard_normal(3)
    shift *= rng.uniform(*level.rigid_mm) / np.linalg.norm(shift)
    angles = np.deg2rad(rng.uniform(-level.rotation_deg, level.rotation_deg, 3))
    rigid = sitk.Euler3DTransform(center, *angles, tuple(shift))
    return Breathing(field_img, rigid, invert_field(field_img))


def _min_jacobian(field_zyx3, grid: sitk.Image):
    """Smallest Jacobian determinant of p -> p + field(p) on the field's grid."""
    spacing = np.asarray(grid.GetSpacing())
    direction = np.reshape(grid.GetDirection(), (3, 3))
    per_index = np.zeros((*field_zyx3.shape[:3], 3, 3))  # d field / d (index x spacing)
    for comp in range(3):
        grads = np.gradient(field_zyx3[..., comp], *spacing[::-1])  # along z, y, x
        for axis_xyz in range(3):
            per_index[..., comp, axis_xyz] = grads[2 - axis_xyz]
    jac = np.eye(3) + per_index @ direction.T  # chain rule to physical coordinates
    return float(np.linalg.det(jac).min())


def invert_field(field: sitk.Image, iterations=20, tolerance_mm=1e-2) -> sitk.Image:
    """Numerical inverse of a displacement field (SimpleITK's fixed-point inversion).

    A few iterations reach a round trip far below a voxel (tests/test_motion.py); more
    only cost time, as the remaining error comes from interpolating the field.
    """
    inverter = sitk.InvertDisplacementFieldImageFilter()
    inverter.SetMaximumNumberOfIterations(iterations)
    inverter.SetMaxErrorToleranceThreshold(tolerance_mm)
    inverter.SetMeanErrorToleranceThreshold(tolerance_mm / 10)
    inverter.EnforceBoundaryConditionOff()
    return inverter.Execute(field)


# ---------------------------------------------------------------------------- landmarks
LANDMARK_STRUCTURES = {"pancreas": (7,), "liver": (5,), "spleen": (1,), "kidney_right": (2,),
                       "kidney_left": (3,), "stomach": (6,), "portal_splenic_vein": (64,)}


def pick_landmarks(image: sitk.Image, labels_zyx, rng, extra_zyx=(), n_pancreas=6, n_organs=8):
    """Physical landmarks (N x 3 mm) in a plain scan: organ centroids, any ``extra_zyx``
    points (e.g. the lesion centre), random points in the pancreas and in moving organs."""
    labels_zyx = np.asarray(labels_zyx)
    points = _centroids(labels_zyx, LANDMARK_STRUCTURES.values())
    points += [np.asarray(p, float) for p in extra_zyx]
    for ids, n in (((7,), n_pancreas), ((5, 1, 2, 3, 6), n_organs)):
        where = np.flatnonzero(np.isin(labels_zyx, ids))  # argwhere's order, as flat indices
        if len(where):
            pick = where[rng.choice(len(where), size=min(n, len(where)), replace=False)]
            chosen = np.stack(np.unravel_index(pick, labels_zyx.shape), -1)
            points += list(chosen + rng.uniform(-0.4, 0.4, chosen.shape))
    return grids.index_to_physical(image, np.array(points))


def _centroids(labels_zyx, structures) -> list:
    """``np.argwhere(np.isin(labels_zyx, ids)).mean(0)`` for each ``ids`` in ``structures``
    that is present, bit for bit (a mean of whole numbers: their sum is exact in float64,
    in any order), from one count and one index sum per label."""
    flat = labels_zyx.ravel()
    if flat.dtype.kind not in "ub" or not flat.size:
        return [np.argwhere(np.isin(labels_zyx, ids)).mean(0)
                for ids in structures if np.isin(labels_zyx, ids).any()]
    counts = np.bincount(flat)
    sums = [np.bincount(flat, weights=axis_index.ravel(), minlength=len(counts))
            for axis_index in grids.index_grid(labels_zyx.shape)]
    points = []
    for ids in structures:
        ids = [i for i in ids if i < len(counts)]
        n = int(counts[ids].sum())
        if n:
            total = np.array([float(s[ids].sum()) for s in sums])
            points.append(total / n)
    return points


def sample_near(volume, where, support):
    """``sample_at(volume, where)``, computed only where ``where`` falls within one voxel
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
    out[near] = sample_at(volume, where[near])
    return out


def where_of(breathing, ref, center_zyx):
    """Voxel index (z, y, x) in the contrast scan of a plain-scan voxel index."""
    point = ref.TransformContinuousIndexToPhysicalPoint([float(v) for v in center_zyx[::-1]])
    moved = breathing.transform().TransformPoint(point)
    return np.clip(physical_to_index(ref, np.asarray(moved)), 0,
                   np.array(ref.GetSize()[::-1]) - 1)


def rigid_params(rigid: sitk.Euler3DTransform) -> np.ndarray:
    """A rigid transform as 9 numbers (centre, angles, translation): what the cache stores."""
    return np.array([*rigid.GetCenter(), rigid.GetAngleX(), rigid.GetAngleY(),
                     rigid.GetAngleZ(), *rigid.GetTranslation()], dtype=np.float64)
