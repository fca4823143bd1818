"""Voxel features for stage 2 (is there a lesion, and where?), computed around the pancreas.

On plain CT a PDAC differs from the gland by only a few HU while the noise is about 12 HU
per voxel, so no single voxel gives it away. The features therefore *pool* evidence:

* **intensity relative to the organ**: HU minus the gland's median HU, so that a fatty
  (dark) gland and a dense one look alike;
* **multiscale smoothing inside the gland**: averages over about 3, 6 and 12 mm that only
  count soft tissue in the region of interest ("normalised convolution"), because the gland
  is a few voxels thick and a plain blur would mostly measure the fat around it;
* **local contrast**: small-scale minus large-scale average (a blob that differs from its
  neighbourhood), and **texture**: the local standard deviation (fluid is smooth);
* **blob or tube**: the eigenvalues of the Hessian (second derivatives) of the gland-only
  averages at about 3 and 6 mm. A bright round blob (a cyst) curves down in all three
  directions, so all three are negative; a bright tube (the dilated duct of
  :mod:`helpers.simulate.secondary_signs`, a vessel) curves down across itself and stays flat along
  its length, so one is near zero; a dark blob has all three positive. They raised the
  case-level AUC a little on patients never tuned on (benchmarks/stage2_features.py); small
  cysts can still score like healthy glands;
* **the same noise at any resolution**: a scan whose noise is below
  :data:`NOISE_FLOOR_HU` (one given on a finer grid, smoothed by the resampling to 3 mm) gets
  white noise added first (:func:`match_noise`);
* **shape**: depth inside the pancreas mask and local thickness (a lesion larger than the
  gland makes it bulge), how much of the neighbourhood is gland, and the voxel's position
  along the gland (where a normal gland is thick or thin).

Everything works on NumPy arrays ``[z, y, x]`` on one grid (the 3 mm working grid of
:mod:`helpers.pipeline.grid`); :func:`voxel_features` returns one row per voxel of the region of
interest. Not for clinical use.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..stage_inputs import EMPTY_PANCREAS_HINT, EmptyPancreasError, gland_reference

SIGMAS_VOX = (1.0, 2.0, 4.0)  # smoothing scales, in (3 mm) voxels
ROI_MARGIN_VOX = 2  # look this far around the pancreas mask: stage 1 may cut a bulging lesion
TISSUE_HU = (-120.0, 250.0)  # soft tissue, even a fatty gland; fat, air and bone are left out
THICKNESS_VOX = 2  # local thickness = the deepest point within this many voxels
# Scales of the blob-or-tube features (voxels). Chosen on training patients' out-of-fold maps
# and a validation cohort, never on held-out patients (benchmarks/stage2_features.py).
HESSIAN_SIGMAS_VOX = (1.0, 2.0)


# Image noise below which stage 2 adds noise before it looks (HU, as :func:`noise_level`
# measures it). A scan given finer than 3 mm is blurred and averaged onto the 3 mm working
# grid, which removes most of its noise; the detector, trained on 3 mm scans, read the
# smoother texture as a lesion. Virtual patients at 3 mm measure about 11-19 HU here (their
# doses), the same scans given at 1.5 or 0.75 mm about 5-7 HU (benchmarks/resolution.py).
NOISE_FLOOR_HU = 10.0
NOISE_SEED = 2028  # the added noise is the same every time: predictions stay deterministic
_SIX_NEIGHBOURS = np.zeros((3, 3, 3), np.float32)
_SIX_NEIGHBOURS[1, 1, 0] = _SIX_NEIGHBOURS[1, 1, 2] = _SIX_NEIGHBOURS[1, 0, 1] = 1 / 6
_SIX_NEIGHBOURS[1, 2, 1] = _SIX_NEIGHBOURS[0, 1, 1] = _SIX_NEIGHBOURS[2, 1, 1] = 1 / 6


def noise_level(hu: np.ndarray) -> float:
    """The scan's voxel-to-voxel noise (HU): the robust spread (median absolute deviation) of
    each soft-tissue voxel minus the mean of its six neighbours, scaled so that white noise
    of standard deviation 1 gives 1. Edges are rare among soft-tissue voxels, so the median
    ignores them. Noise that resampling has smoothed measures low, as it looks to stage 2."""
    hu = np.asarray(hu, np.float32)
    tissue = ndi.binary_erosion((hu > -100) & (hu < 150))
    if tissue.sum() < 100:
        return float("inf")  # too little soft tissue to tell: leave the scan as it is
    residual = (hu - ndi.convolve(hu, _SIX_NEIGHBOURS, mode="nearest"))[tissue]
    mad = np.median(np.abs(residual - np.median(residual)))
    return float(1.4826 * mad / np.sqrt(7 / 6))


def match_noise(hu: np.ndarray, box=None) -> np.ndarray:
    """``hu[box]`` with white noise added when the scan's :func:`noise_level` is below
    :data:`NOISE_FLOOR_HU`, enough to bring it there (always the same noise, seeded by
    :data:`NOISE_SEED`); unchanged otherwise. Stage 2 sees every scan at least this noisy,
    whatever grid it was given on."""
    hu = np.asarray(hu, np.float32)
    part = hu if box is None else hu[box]
    level = noise_level(hu)
    if level >= NOISE_FLOOR_HU:
        return part
    add = np.sqrt(NOISE_FLOOR_HU**2 - level**2)
    noise = np.random.default_rng(NOISE_SEED).standard_normal(part.shape, np.float32)
    return (part + np.float32(add) * noise).astype(np.float32)


# Training only: a share of the training patients is seen blurred in-plane, as resampling a
# finer scan onto the 3 mm working grid blurs it (the width drawn per patient, in voxels).
# Without it a healthy scan given at 1.5 mm was called abnormal: the blur lowers a thin
# gland's edges against the fat around it (benchmarks/resolution.py).
RESAMPLING_SHARE = 0.5
RESAMPLING_SIGMA_VOX = (0.3, 0.8)


def resampling_augment(hu: np.ndarray, seed: int) -> np.ndarray:
    """A training patient's scan as stage 2 learns from it: unchanged, or (for a
    :data:`RESAMPLING_SHARE` of patients, chosen by ``seed``) blurred in-plane by a Gaussian
    of a width drawn from :data:`RESAMPLING_SIGMA_VOX`. The same patient always gets the same."""
    rng = np.random.default_rng([int(seed), 3030])
    if rng.random() >= RESAMPLING_SHARE:
        return hu
    sigma = float(rng.uniform(*RESAMPLING_SIGMA_VOX))
    return ndi.gaussian_filter(np.asarray(hu, np.float32), (0.0, sigma, sigma))


def feature_names() -> list[str]:
    """Names of the columns of :func:`voxel_features`, in order."""
    names = ["HU - gland median"]
    names += [f"mean s={s:g} - gland" for s in SIGMAS_VOX]
    names += [f"local contrast s={SIGMAS_VOX[0]:g}-{SIGMAS_VOX[-1]:g}",
              f"local contrast s=0-{SIGMAS_VOX[1]:g}"]
    names += [f"texture sd s={s:g}" for s in SIGMAS_VOX[:2]]
    names += [f"hessian eig{k} s={s:g}" for s in HESSIAN_SIGMAS_VOX for k in (1, 2, 3)]
    names += ["fat nearby s=1", "gland share s=2", "depth in gland (mm)",
              "local thickness (mm)", "absolute HU s=1", "gland median HU"]
    return names + ["position along gland", "position back->front", "position foot->head"]


def region_of_interest(hu: np.ndarray, pancreas: np.ndarray,
                       margin: int = ROI_MARGIN_VOX) -> np.ndarray:
    """Soft-tissue voxels within ``margin`` voxels of the pancreas mask (bool array)."""
    pancreas = np.asarray(pancreas, bool)
    near = ndi.binary_dilation(pancreas, iterations=margin) if margin else pancreas
    smooth = ndi.gaussian_filter(np.asarray(hu, np.float32), 0.7)
    return near & (((smooth >= TISSUE_HU[0]) & (smooth <= TISSUE_HU[1])) | pancreas)


def masked_mean(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian average of ``values`` counting only voxels where ``weight`` is set
    (normalised convolution); 0 where no weighted voxel is near."""
    weight = weight.astype(np.float32)
    top = ndi.gaussian_filter(values * weight, sigma, truncate=3.0)
    bottom = ndi.gaussian_filter(weight, sigma, truncate=3.0)
    return np.where(bottom > 1e-3, top / np.maximum(bottom, 1e-3), 0).astype(np.float32)


def hessian_eigenvalues(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of the Hessian of ``image`` at the voxels where ``where`` is
    True: an array ``(n, 3)``, in image units per voxel squared.

    Second derivatives by central differences (``np.gradient`` twice), so ``image`` should
    already be smooth at the scale of interest. Negative eigenvalues: the image curves down
    (a bright ridge or peak) in that direction; positive: a dark valley or pit.
    """
    first = np.gradient(np.asarray(image, np.float32))
    hessian = np.empty((int(where.sum()), 3, 3), np.float32)
    for a in range(3):
        second = np.gradient(first[a])
        for b in range(a, 3):
            hessian[:, a, b] = hessian[:, b, a] = second[b][where]
    return np.linalg.eigvalsh(hessian)


def _box(mask: np.ndarray, pad: int):
    where = np.argwhere(mask)
    lo = np.maximum(where.min(0) - pad, 0)
    hi = np.minimum(where.max(0) + pad + 1, mask.shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def voxel_features(hu: np.ndarray, pancreas: np.ndarray, spacing_mm: float = 3.0):
    """Features of every voxel in the region of interest around ``pancreas``.

    ``hu``: HU array ``[z, y, x]``; ``pancreas``: bool array on the same grid (reference or
    stage-1 mask); ``spacing_mm``: voxel size (isotropic working grid). Returns
    ``(features, roi)``: a float32 array ``(n_roi_voxels, n_features)`` (columns:
    :func:`feature_names`) and the bool region-of-interest mask whose ``True`` voxels the rows
    follow in C order. Work happens in the pancreas's bounding box only (fast, small).
    """
    hu = np.asarray(hu, np.float32)
    pancreas = np.asarray(pancreas, bool)
    if hu.shape != pancreas.shape:
        raise ValueError(f"the CT {hu.shape} and the pancreas mask {pancreas.shape} must be "
                         "on the same grid")
    if not pancreas.any():
        raise EmptyPancreasError(f"the pancreas mask is empty: {EMPTY_PANCREAS_HINT}")
    box = _box(pancreas, ROI_MARGIN_VOX + int(3 * SIGMAS_VOX[-1]))
    h, p = match_noise(hu, box), pancreas[box]
    reference = gland_reference(h, p)
    roi = region_of_interest(h, p)
    tissue = roi | p
    columns = [h - reference]
    means = {s: masked_mean(h, tissue, s) for s in SIGMAS_VOX}
    columns += [means[s] - reference for s in SIGMAS_VOX]
    columns += [means[SIGMAS_VOX[0]] - means[SIGMAS_VOX[-1]], h - means[SIGMAS_VOX[1]]]
    for s in SIGMAS_VOX[:2]:
        second = masked_mean(h * h, tissue, s)
        columns.append(np.sqrt(np.maximum(second - means[s] ** 2, 0)))
    for s in HESSIAN_SIGMAS_VOX:
        smooth = means[s] if s in means else masked_mean(h, tissue, s)
        eigen = np.zeros(h.shape + (3,), np.float32)
        eigen[roi] = hessian_eigenvalues(smooth, roi)
        columns += [eigen[..., k] for k in range(3)]
    near = ndi.binary_dilation(p, iterations=ROI_MARGIN_VOX + 2)
    columns.append(masked_mean((h < TISSUE_HU[0] / 2).astype(np.float32), near, 1.0))
    columns.append(ndi.gaussian_filter(p.astype(np.float32), 2.0))
    depth = ndi.distance_transform_edt(p) * spacing_mm
    columns += [depth, ndi.maximum_filter(depth, size=2 * THICKNESS_VOX + 1)]
    columns += [means[SIGMAS_VOX[0]], np.full(h.shape, reference, np.float32)]
    # Position inside the gland's bounding box (0..1): the gland is thick at the head and
    # thin in the tail, so "thick" means something different at each end.
    where = np.argwhere(p)
    lo, hi = where.min(0), where.max(0)
    grid = np.indices(h.shape, dtype=np.float32)
    columns += [(grid[a] - lo[a]) / max(hi[a] - lo[a], 1) for a in (2, 1, 0)]
    features = np.stack([c[roi] for c in columns], -1).astype(np.float32)
    full = np.zeros(pancreas.shape, bool)
    full[box] = roi
    return features, full
