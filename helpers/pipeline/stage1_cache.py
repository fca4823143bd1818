"""Stage 1's pancreas masks of whole cohorts, cached as one bit per voxel.

Stage 1 takes one or two seconds per scan (a registration per atlas), and three places need
its masks for dozens of patients: the training patients' masks that stage 2 learns inside
(:func:`.training_cache.cached_stage1_masks`), and the masks *as at prediction* of the
validation, held-out and foreign patients that notebook 08's network and contest read
(:func:`prediction_masks`). A mask is 0 or 1 per voxel, so :func:`pack_masks` stores it as
bits (``np.packbits``): 64 patients' masks take about 30 kB. Not for clinical use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .. import cache, cache_layout, workers
from ..simulate import CASE_VERSION
from ..simulate.foreign import FOREIGN_VERSION
from .stage1 import (
    DEFAULT_METHOD,
    PancreasNotFoundError,
    default_atlases,
    segment_pancreas,
    stage1_settings,
)

VERSION = "stage1-masks-v1"  # change when the stored layout changes: old files are ignored


def pack_masks(masks, shapes) -> dict:
    """Arrays storing ``masks`` (bool arrays, or None for "no mask") of ``shapes``:
    ``bits`` (every mask's voxels in a row, 8 per byte), ``shapes`` and ``found``."""
    shapes = np.asarray(shapes, np.int32).reshape(len(masks), -1)
    bits = [(np.zeros(tuple(s), bool) if m is None else np.asarray(m, bool)).ravel()
            for m, s in zip(masks, shapes, strict=True)]
    return {"bits": np.packbits(np.concatenate(bits)), "shapes": shapes,
            "found": np.array([m is not None for m in masks])}


def unpack_masks(stored: dict) -> list:
    """The masks of :func:`pack_masks` (bool arrays; None where there was none)."""
    shapes = stored["shapes"]
    sizes = np.prod(shapes, axis=1)
    bits = np.unpackbits(stored["bits"], count=int(sizes.sum())).astype(bool)
    found = stored.get("found", np.ones(len(shapes), bool))
    return [part.reshape(tuple(shape)) if kept else None for part, shape, kept in
            zip(np.split(bits, np.cumsum(sizes)[:-1]), shapes, found, strict=True)]


def as_image(mask: np.ndarray | None, like: sitk.Image) -> sitk.Image | None:
    """A bool mask as a uint8 image on ``like``'s grid (None stays None)."""
    if mask is None:
        return None
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.CopyInformation(like)
    return image


def stage1_mask_or_none(plain: sitk.Image) -> np.ndarray | None:
    """Stage 1's pancreas mask of a plain scan as a bool array (default settings, as at
    prediction), or None when stage 1 finds no pancreas (:class:`.stage1.PancreasNotFoundError`:
    at prediction that patient gets no lesion and a score of 0)."""
    try:
        return sitk.GetArrayFromImage(segment_pancreas(plain, DEFAULT_METHOD)) > 0
    except PancreasNotFoundError:
        return None


def cache_folder() -> Path:
    """Where these masks are kept: ``<data cache>/pipeline/``."""
    return cache.cache_dir() / cache_layout.PIPELINE


def prediction_masks(cases, progress: bool = False, use_cache: bool = True) -> list:
    """Stage 1's masks of ``cases`` (virtual or foreign patients) made as at prediction
    (:func:`stage1_mask_or_none`: None where stage 1 finds none), built on both cores and
    cached once, keyed by the patients and stage 1's settings."""
    shapes = np.array([sitk.GetArrayViewFromImage(c.plain).shape for c in cases], np.int32)
    key = cache.settings_key({"version": VERSION, "seeds": [int(c.seed) for c in cases],
                              "cases": CASE_VERSION, "foreign": FOREIGN_VERSION,
                              "stage1": stage1_settings(DEFAULT_METHOD)})

    def build():
        default_atlases()  # assembled once here, so that the workers inherit them
        masks = workers.map_ordered(stage1_mask_or_none, [c.plain for c in cases],
                                    desc="stage 1 masks", progress=cache.show_build_progress(
                                        progress))
        return pack_masks(masks, shapes)

    stored = cache.load_or_build(cache_folder() / f"stage1-{key}.npz", key, build,
                                 what="cached stage 1 masks", use_cache=use_cache)
    if not np.array_equal(stored["shapes"], shapes):
        raise ValueError("the cached stage 1 masks are not of these patients")
    return unpack_masks(stored)
