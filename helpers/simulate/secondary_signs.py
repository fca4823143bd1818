"""Secondary signs of a pancreatic cancer: the dilated duct upstream of a PDAC.

On plain CT a small PDAC is often iso-attenuating (notebook 06), so a reader (or a model)
that looks only for a darker blob misses it. Radiologists also look for what the tumour does
to the gland around it. The best documented of these signs is the **main pancreatic duct**:
a PDAC usually blocks it, and the duct upstream of the tumour (towards the tail, away from
the papilla in the head) fills with pancreatic juice and widens.

Sources (checked for this series; in ``notebooks/references.md`` as duct2023, ahn2009, cutoff2021):

* Main duct dilatation of 3 mm or more in 215 of 281 pathologically proven PDACs (77 %):
  Diagnostics 13(5):963 (2023), doi:10.3390/diagnostics13050963.
* Ahn et al., Eur Radiol 20:2448 (2010), doi:10.1007/s00330-009-1422-6: on CT scans taken
  *before* the cancer was diagnosed, pancreatic duct dilatation had a sensitivity of 50 %
  (specificity 78 %) and distal parenchymal atrophy 45 % (96 %). Earlier, smaller tumours
  may dilate the duct less often than :data:`DUCT_DILATATION` assumes.
* "Abrupt ductal cut-off at the site of the mass", including for iso-attenuating PDAC:
  Diagnostics 11(11):2166 (2021), Table 1, doi:10.3390/diagnostics11112166.

What the simulator does (assumptions are labelled):

* **duct dilatation**: with probability :data:`DUCT_DILATATION`, a PDAC patient gets a
  fluid-filled tube of :data:`DUCT_DIAMETER_MM` along the gland's centre line, from the tumour
  to the tail end, inside the gland. Fluid is non-enhancing, so on the contrast scan the duct
  is a dark line in a bright gland; on plain CT it is darker than a normal gland and denser
  than a very fatty one. The normal duct (under 3 mm) is not drawn: on a 3 mm grid it is
  mostly lost to partial volume;
* **upstream (distal) parenchymal atrophy**: with probability :data:`ATROPHY` (Ahn et al.'s
  sensitivity of the sign, above), the gland upstream of the tumour loses its outer
  :data:`ATROPHY_DEPTH_MM` (an assumption), which becomes fat; its centre line is kept;
* **contour change** (the tumour bulging the gland's outline): with probability
  :data:`CONTOUR_CHANGE` a lesion wider than the gland pushes the tissue aside; otherwise it
  replaces what is there. Ahn et al. recorded contour abnormality but did not find it more
  frequent in cancers than in controls; the value is an assumption.

Not for clinical use.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .lesion_shape import padded_box

# Probability that a PDAC dilates the duct upstream: 215/281 (Diagnostics 2023, above).
DUCT_DILATATION = {"PDAC": 215 / 281}
# Diameter of the dilated duct (mm): 3 mm is where "dilated" starts (same source); the upper
# end is an assumption.
DUCT_DIAMETER_MM = (4.0, 7.0)
# Pancreatic juice: near water, non-enhancing (the fluid convention of helpers.simulate.lesions,
# 0-20 HU, UNVERIFIED as a sourced range). Mean and per-patient sd, HU.
DUCT_FLUID_HU = (10.0, 3.0)
CENTRELINE_STEP_MM = 3.0
# Probability of distal parenchymal atrophy upstream of a PDAC: its sensitivity (45 %) on CT
# taken before diagnosis, Ahn et al. (above; specificity 96 %).
ATROPHY = {"PDAC": 0.45}
ATROPHY_DEPTH_MM = 3.0  # the outer layer lost: one 3 mm voxel (an assumption)
# Probability that a lesion wider than the gland bulges its outline (an assumption, above).
CONTOUR_CHANGE = 0.5


def gland_centreline(pancreas_zyx, index_to_mm, step_mm: float = CENTRELINE_STEP_MM):
    """Points (voxel indices z, y, x) along the middle of the gland, head first.

    The gland's voxels are projected on their longest axis (principal component, in mm) and
    cut into slabs ``step_mm`` thick; each slab's point is its deepest voxel (farthest from
    the gland's edge; ties go to the one nearest the slab's average). Deepest voxels, not
    averages: the gland is thin and curved, and a slab's average can fall outside it. The end
    with the larger patient-left coordinate (LPS x) is the tail, so the line runs from the
    head to the tail. ``index_to_mm``: maps (N, 3) voxel indices (z, y, x) to LPS points
    (N, 3: x, y, z in mm).
    """
    pancreas = np.asarray(pancreas_zyx, bool)
    where = np.argwhere(pancreas)
    if len(where) < 10:
        raise ValueError("the pancreas mask has fewer than 10 voxels: no centre line to follow")
    mm = index_to_mm(where.astype(float))
    centred = mm - mm.mean(0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    if axis[0] < 0:  # point the axis towards the patient's left (LPS +x): the tail
        axis = -axis
    t = centred @ axis
    slab = np.floor((t - t.min()) / step_mm).astype(int)
    # Depth in the gland's box plus one voxel: its nearest non-gland voxel always lies in it.
    box = padded_box(pancreas)
    depth = ndi.distance_transform_edt(pancreas[box])[
        tuple((where - [b.start for b in box]).T)]
    points = []
    for k in np.unique(slab):
        members = np.flatnonzero(slab == k)
        middle = mm[members].mean(0)
        # deepest first, then nearest the slab's average
        order = np.lexsort((np.linalg.norm(mm[members] - middle, axis=1), -depth[members]))
        points.append(where[members[order[0]]])
    return np.asarray(points, float)


def distance_to_polyline(points_mm, line_mm) -> np.ndarray:
    """Distance (mm) from each of ``points_mm`` (N, 3) to the polyline ``line_mm`` (M, 3)."""
    points_mm, line_mm = np.asarray(points_mm, float), np.asarray(line_mm, float)
    if len(line_mm) == 1:
        return np.linalg.norm(points_mm - line_mm[0], axis=1)
    a, b = line_mm[:-1], line_mm[1:]
    ab = b - a
    rel = points_mm[:, None, :] - a[None]
    t = np.clip((rel * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points_mm[:, None, :] - closest, axis=-1).min(1)


def upstream_duct(pancreas_zyx, lesion_center_zyx, spacing_zyx, index_to_mm,
                  diameter_mm: float) -> np.ndarray:
    """Partial-volume occupancy (float32, 0..1) of a duct of ``diameter_mm`` running along the
    gland's centre line from the lesion's centre to the tail end, kept inside the gland.

    The occupancy of a voxel falls linearly from 1 to 0 as its centre goes from half a voxel
    inside the duct wall to half a voxel outside (a cheap partial-volume model). The tumour is
    drawn over the duct afterwards, so the duct seems to end abruptly at the tumour.
    """
    pancreas = np.asarray(pancreas_zyx, bool)
    line = gland_centreline(pancreas, index_to_mm)
    line_mm = index_to_mm(line)
    centre_mm = index_to_mm(np.asarray(lesion_center_zyx, float)[None])
    start = int(np.argmin(np.linalg.norm(line_mm - centre_mm, axis=1)))
    path = np.concatenate([centre_mm, line_mm[start:]])
    voxel = float(np.min(spacing_zyx))
    where = np.argwhere(pancreas)
    distance = distance_to_polyline(index_to_mm(where.astype(float)), path)
    occupancy = np.clip((diameter_mm / 2 - distance) / voxel + 0.5, 0, 1)
    out = np.zeros(pancreas.shape, np.float32)
    out[tuple(where.T)] = occupancy
    return out


def draw_duct(subtype, rng) -> tuple[float, float] | None:
    """``(diameter_mm, fluid_hu)`` of a dilated duct for this patient, or None when there is
    none (every non-PDAC patient; a PDAC patient with probability 1 - DUCT_DILATATION).
    Always the same number of draws for a PDAC, so the draws that follow do not shift."""
    chance = DUCT_DILATATION.get(subtype)
    if chance is None:
        return None
    dilated = rng.random() < chance
    diameter = rng.uniform(*DUCT_DIAMETER_MM)
    fluid = DUCT_FLUID_HU[0] + DUCT_FLUID_HU[1] * rng.standard_normal()
    return (float(diameter), float(fluid)) if dilated else None


def upstream_atrophy(pancreas_zyx, lesion_center_zyx, spacing_zyx, index_to_mm,
                     depth_mm: float = ATROPHY_DEPTH_MM) -> np.ndarray:
    """The gland voxels an upstream atrophy takes away (bool): those on the tail side of the
    lesion's centre (along the gland's long axis, one voxel beyond it) within ``depth_mm`` of
    the gland's surface, except the voxels of its centre line (a thin gland keeps its core)."""
    pancreas = np.asarray(pancreas_zyx, bool)
    where = np.argwhere(pancreas)
    mm = index_to_mm(where.astype(float))
    axis = np.linalg.svd(mm - mm.mean(0), full_matrices=False)[2][0]
    axis = -axis if axis[0] < 0 else axis  # towards the patient's left: the tail
    centre = float(index_to_mm(np.asarray(lesion_center_zyx, float)[None])[0] @ axis)
    upstream = mm @ axis > centre + float(np.max(spacing_zyx))
    depth = ndi.distance_transform_edt(pancreas, sampling=spacing_zyx)[tuple(where.T)]
    line = index_to_mm(gland_centreline(pancreas, index_to_mm))
    core = distance_to_polyline(mm, line) < float(np.min(spacing_zyx))
    out = np.zeros(pancreas.shape, bool)
    out[tuple(where[upstream & (depth <= depth_mm) & ~core].T)] = True
    return out


def draw_signs(subtype, rng) -> dict:
    """This lesion's drawn secondary signs besides the duct: ``{"atrophy": bool,
    "contour": bool}``. Always the same number of draws, so later draws do not shift."""
    atrophy = rng.random() < ATROPHY.get(subtype, 0.0)
    contour = rng.random() < CONTOUR_CHANGE
    return {"atrophy": bool(atrophy and subtype is not None), "contour": bool(contour)}
