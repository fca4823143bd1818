"""Insert a lesion into a real scan's pancreas (notebook 02), one or several phases at once.

The lesion's shape comes from :mod:`.lesion_shape`, its values per phase from :mod:`.lesions`
(relative to the parenchyma of the gland around it, :mod:`.gland`, so it needs the native
scan). Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..checks import check_same_grid
from . import gland, lesion_shape, lesions, motion, phases


@dataclass
class InsertedLesion:
    """What :func:`insert_lesion` returns: the new images, labels and the exact lesion mask."""

    images: dict  # phase -> SimpleITK image (HU)
    labels: object  # SimpleITK label map, lesion voxels labelled pancreas (7)
    mask: object  # SimpleITK uint8 image: voxels at least half covered by the lesion
    occupancy: np.ndarray  # [z, y, x] fraction of each voxel covered by the lesion
    center_mm: tuple
    diameter_mm: float
    subtype: str
    values: dict  # component -> phase -> mean HU used


def insert_lesion(images, labels, subtype: str, rng, diameter_mm: float | None = None,
                  center_mm=None, mass_effect: bool = True, noise_hu: float | None = None):
    """Insert a lesion of ``subtype`` into the pancreas (label 7) of one or more scans.

    ``images``: a SimpleITK image (taken as the native scan) or a dict phase -> image on the
    labels' grid; it must include "native", because lesion values are set relative to the
    gland (see :data:`APPEARANCE`). ``rng``: seed or Generator. ``diameter_mm``: nominal
    longest diameter (default: drawn from 5-40 mm). ``center_mm``: a physical point inside
    the pancreas (default: random). ``mass_effect``: let a lesion larger than the gland push
    the tissue aside (otherwise it must fit as is). ``noise_hu``: noise given to the lesion
    so it matches the scan (default: measured in the native scan). The inputs are not
    modified. Returns an :class:`InsertedLesion`; raises :class:`LesionDoesNotFitError` when it
    cannot fit. Lesion values follow :data:`APPEARANCE`.
    """
    if not isinstance(images, dict):
        images = {"native": images}
    for phase, image in images.items():
        phases.check_phase(phase)
        check_same_grid(labels, image, "label map", "CT")
    if "native" not in images:
        raise ValueError("images must include the 'native' scan (lesion values are relative "
                         f"to the gland's native value); got phases {sorted(images)}")
    lesions.check_subtype(subtype)
    rng = np.random.default_rng(rng)
    ref = images["native"]
    lab = sitk.GetArrayFromImage(labels)
    phases.require_label(lab, 7)
    arrays = {p: sitk.GetArrayFromImage(im).astype(np.float32) for p, im in images.items()}
    spacing = np.asarray(ref.GetSpacing())[::-1]
    diameter = lesions.check_diameter(diameter_mm if diameter_mm is not None
                              else rng.uniform(*lesions.DIAMETER_RANGE_MM))
    center = _centre_index(ref, center_mm, lab.shape)
    if noise_hu is None:
        noise_hu = phases.measure_noise(arrays["native"], lab)["sd_hu"]
    center, r0 = lesion_shape.choose_center(lab == 7, spacing, diameter / 2, rng, mass_effect,
                                            center)
    shape = lesion_shape.LesionShape.random(center, diameter / 2, subtype, rng)
    if r0 < diameter / 2:
        push = lesion_shape.mass_effect_pullback(lab.shape, spacing, center, r0, shape)
        lab, arrays = _push_aside(lab, arrays, push, noise_hu, rng)
    occ, comps = shape.occupancy(lab.shape, spacing)
    ring = lesions.surrounding_gland(lab == 7, occ >= 0.5, spacing)
    # Values relative to the parenchyma (the gland's fat read from the native scan), and
    # the texture of fat-free parenchyma: the lesion is tissue, whatever the fat around it.
    fat = gland.gland_fat(arrays["native"], lab == 7)
    levels = gland.parenchyma_levels(arrays["native"][ring], {p: a[ring] for p, a in
                                                              arrays.items()},
                                     1 - fat.fraction[ring])
    values = lesions.component_values(subtype, levels, rng)
    texture = lesions.lesion_texture(lab.shape, rng, comps, lesions.gland_texture_sd(
        arrays["native"] + fat.change, ring, noise_hu))
    texture += occ * rng.standard_normal(lab.shape, np.float32) * np.float32(noise_hu)
    mask = occ >= 0.5
    lab = np.where(mask, np.uint8(7), lab).astype(np.uint8)
    out = {phase: _image(lesions.composite(array, comps, values, texture, phase), ref)
           for phase, array in arrays.items()}
    new_labels, mask_img = _image(lab, ref), _image(mask.astype(np.uint8), ref)
    center_mm = ref.TransformContinuousIndexToPhysicalPoint([float(v) for v in center[::-1]])
    return InsertedLesion(out, new_labels, mask_img, occ, center_mm, diameter, subtype, values)


def _centre_index(ref, center_mm, shape):
    """The voxel index of a requested centre (None: none requested), inside the image."""
    if center_mm is None:
        return None
    center = tuple(np.round(motion.physical_to_index(ref, center_mm)).astype(int))
    if not all(0 <= c < n for c, n in zip(center, shape, strict=True)):
        raise lesions.LesionDoesNotFitError(f"the centre {tuple(center_mm)} mm is outside "
                                            "the image")
    return center


def _push_aside(labels, arrays, push, noise_hu, rng):
    """Labels and every phase image pulled through the mass-effect warp ``push``."""
    src = np.moveaxis(np.indices(labels.shape, dtype=np.float32) + push, 0, -1)
    labels = motion.sample_at(labels, src, order=0)
    # Linear interpolation averages noise away; add back what it removed (white noise).
    frac = src - np.floor(src)
    kept = np.prod((1 - frac) ** 2 + frac**2, axis=-1)
    restore = np.sqrt(np.clip(1 - kept, 0, 1)) * np.float32(noise_hu)
    return labels, {p: motion.sample_at(a, src) + restore * rng.standard_normal(a.shape, np.float32)
                    for p, a in arrays.items()}


def _image(array, ref):
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(ref)
    return image
