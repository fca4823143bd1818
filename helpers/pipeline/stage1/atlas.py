"""Stage 1, method A: multi-atlas segmentation of the pancreas (notebook 04).

Several labelled virtual patients ("atlases") are registered to the new scan with notebook
03's :func:`helpers.registration.register`, their pancreas masks carried over with
:func:`helpers.registration.warp_mask`, and the masks vote. :func:`local_correlation` tells
whether the atlases really matched the scan. Not for clinical use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from ... import registration
from ...checks import InputError, check_scan
from ..grid import body_mask


def body_centroid_mm(image: sitk.Image) -> np.ndarray:
    """Physical centre (mm) of the patient's body in a scan (see :func:`body_mask`)."""
    body = body_mask(sitk.GetArrayViewFromImage(image))
    if not body.any():
        raise ValueError("no body found in the image (nothing above -500 HU)")
    zyx = np.argwhere(body).mean(0)
    return np.array(image.TransformContinuousIndexToPhysicalPoint([float(v) for v in zyx[::-1]]))


@dataclass
class Atlas:
    """One labelled scan: a plain CT, its pancreas mask on the same grid, its body centre."""

    image: sitk.Image
    mask: sitk.Image
    name: str = ""
    centre_mm: np.ndarray | None = None

    def __post_init__(self):
        if self.centre_mm is None:
            self.centre_mm = body_centroid_mm(self.image)


def atlases_from_cases(cases) -> list[Atlas]:
    """Atlases from virtual patients (their plain scan and reference pancreas)."""
    return [Atlas(c.plain, c.pancreas_plain, f"seed {c.seed}") for c in cases]


def initial_alignment(image: sitk.Image, atlas: Atlas, centre_mm=None) -> sitk.Transform:
    """A shift that puts the atlas's body centre on the scan's body centre.

    Two patients' scanner coordinates mean nothing to each other (table height, field of
    view), so registration starts from the bodies' centres rather than from the header.
    """
    centre = body_centroid_mm(image) if centre_mm is None else centre_mm
    return sitk.TranslationTransform(3, [float(v) for v in atlas.centre_mm - centre])


@dataclass
class AtlasVotes:
    """What :func:`atlas_votes` produced, all on the target scan's grid."""

    votes: np.ndarray  # fraction of atlases that call each voxel pancreas (0..1)
    masks: list  # each atlas's warped pancreas (bool arrays)
    transforms: list  # target point -> atlas point, one per atlas
    similarity: list  # per atlas: correlation with the scan around the fused pancreas
    seconds: float


def local_correlation(a: np.ndarray, b: np.ndarray, region: np.ndarray,
                      clamp_hu=(-200.0, 400.0)) -> float:
    """Pearson correlation of two HU arrays inside ``region`` (after clamping to soft tissue):
    about 1 where a registered atlas looks like the scan, about 0 where it does not."""
    x, y = (np.clip(v[region], *clamp_hu).astype(np.float64) for v in (a, b))
    x, y = x - x.mean(), y - y.mean()
    spread = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / spread) if spread > 0 else 0.0


def atlas_votes(image: sitk.Image, atlases, kind: str = "affine", register=None, warp=None,
                **options) -> AtlasVotes:
    """Register every atlas to ``image``, carry its pancreas over, and count the votes.

    A strict majority vote is ``votes > 0.5``. Each registration starts from
    :func:`initial_alignment`. ``register`` and ``warp`` default to notebook 03's
    :func:`helpers.registration.register` and ``warp_mask``; ``options`` go to ``register``
    (e.g. ``samples=``, ``iterations=``). ``similarity`` tells whether the atlases really
    matched: their :func:`local_correlation` with the scan within 15 mm of the fused pancreas.
    ``image`` is checked first like any scan (:func:`helpers.checks.check_scan`), so that a
    problem is named as "the image", not as an argument of the registrations inside.
    """
    register = register or registration.register
    warp = warp or registration.warp_mask
    check_scan(image, "image")
    if not atlases:
        raise InputError("no atlases given; pass at least one labelled scan (e.g. "
                         "atlases_from_cases(cases), or stage1.default_atlases())")
    start = time.perf_counter()
    centre = body_centroid_mm(image)
    masks, transforms = [], []
    for atlas in atlases:
        transform = register(image, atlas.image, kind=kind,
                             initial=initial_alignment(image, atlas, centre), **options)
        masks.append(sitk.GetArrayFromImage(warp(atlas.mask, transform, image)) > 0)
        transforms.append(transform)
    votes = np.mean(masks, axis=0, dtype=np.float32)
    core = votes > 0.5 if (votes > 0.5).any() else votes > 0
    region = ndi.binary_dilation(core, iterations=5) if core.any() else np.ones_like(core)
    hu = sitk.GetArrayViewFromImage(image)
    similarity = [local_correlation(hu, sitk.GetArrayViewFromImage(
        registration.warp_image(atlas.image, transform, image)), region)
        for atlas, transform in zip(atlases, transforms, strict=True)]
    return AtlasVotes(votes, masks, transforms, similarity, time.perf_counter() - start)

