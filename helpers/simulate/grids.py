"""Voxel and coarse grids of the virtual patients' scans, computed once per process.

The grids depend only on the real scan's geometry, never on the patient, so they are built
once (:func:`prepare_grids`, called by :func:`helpers.simulate.case.prepare_base` before worker
processes start, which then inherit them) and kept read-only. Also the index <-> physical
point conversions they are built with. Not for clinical use.
"""

from __future__ import annotations

import functools

import numpy as np
import SimpleITK as sitk


def index_to_physical(image: sitk.Image, idx_zyx) -> np.ndarray:
    """Physical points (..., 3 as x, y, z mm) of continuous voxel indices given as (z, y, x)."""
    d = np.reshape(image.GetDirection(), (3, 3))
    ijk = np.asarray(idx_zyx, float)[..., ::-1] * np.asarray(image.GetSpacing())
    return ijk @ d.T + np.asarray(image.GetOrigin())


def physical_to_index(image: sitk.Image, points) -> np.ndarray:
    """Continuous voxel indices (..., 3 as z, y, x) of physical points (x, y, z mm)."""
    d = np.reshape(image.GetDirection(), (3, 3))
    ijk = (np.asarray(points, float) - np.asarray(image.GetOrigin())) @ d
    return (ijk / np.asarray(image.GetSpacing()))[..., ::-1]


@functools.lru_cache(maxsize=2)
def centred_grid(shape: tuple, center_zyx: tuple) -> np.ndarray:
    """Voxel indices less ``center_zyx`` (float64, ``(3, *shape)``), kept per process: it
    does not depend on the patient (read-only)."""
    grid = np.indices(shape, dtype=np.float32) - np.reshape(center_zyx, (3, 1, 1, 1))
    grid.setflags(write=False)
    return grid


def geometry_key(image: sitk.Image) -> tuple:
    """An image's grid (size, spacing, origin, direction), hashable: a key for caches."""
    return (image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection())


def image_of(geometry: tuple) -> sitk.Image:
    """A small empty image with this grid (for the index <-> physical conversions)."""
    size, spacing, origin, direction = geometry
    image = sitk.Image([int(n) for n in size], sitk.sitkUInt8)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    return image


@functools.lru_cache(maxsize=4)
def inverse_map_grid(geometry: tuple, factor: int, margin: int):
    """What :meth:`Breathing.inverse_index_map` needs that depends on the grid only, kept
    per process: the physical points of the coarse nodes, and per axis the interpolation's
    lower node, weight and 1 - weight (read-only)."""
    image = image_of(geometry)
    shape = image.GetSize()[::-1]
    nodes = [int(np.ceil((n - 1) / factor)) + 1 + 2 * margin for n in shape]
    idx = np.moveaxis(np.indices(nodes, dtype=float), 0, -1) * factor - margin * factor
    nodes_mm = index_to_physical(image, idx)
    steps = []
    for axis, n in enumerate(shape):
        pos = (np.arange(n) + margin * factor) / factor
        low = np.floor(pos).astype(int)
        w = (pos - low).reshape([-1 if a == axis else 1 for a in range(4)])
        steps.append((low, w, 1 - w))
    for array in (nodes_mm, *(a for step in steps for a in step)):
        array.setflags(write=False)
    return nodes_mm, tuple(steps)


def prepare_grids(image: sitk.Image, center_zyx) -> None:
    """Compute now the per-process grids that the anatomy variation
    (:func:`anatomy_pullback` about ``center_zyx``), the breathing motion and the landmarks
    of patients on ``image``'s grid use (e.g. before starting worker processes)."""
    shape = tuple(image.GetSize()[::-1])
    centred_grid(shape, tuple(float(c) for c in np.ravel(center_zyx)))
    coarse_nodes(geometry_key(image))
    inverse_map_grid(geometry_key(image), 3, 2)
    index_grid(shape)


def coarse_grid(image: sitk.Image, factor=3, margin=2) -> sitk.Image:
    """An empty image covering ``image`` (plus ``margin`` coarse voxels) at ``factor`` x spacing."""
    size = [int(np.ceil((n - 1) / factor)) + 1 + 2 * margin for n in image.GetSize()]
    grid = sitk.Image(size, sitk.sitkVectorFloat64, 3)
    grid.SetSpacing([s * factor for s in image.GetSpacing()])
    grid.SetDirection(image.GetDirection())
    grid.SetOrigin(image.TransformContinuousIndexToPhysicalPoint([-margin * factor] * 3))
    return grid


@functools.lru_cache(maxsize=4)
def coarse_nodes(geometry: tuple) -> np.ndarray:
    """The voxel indices in an image of :func:`coarse_grid`'s nodes, kept per process
    (read-only)."""
    image = image_of(geometry)
    grid = coarse_grid(image)
    shape = grid.GetSize()[::-1]
    phys = index_to_physical(grid, np.moveaxis(np.indices(shape, dtype=float), 0, -1))
    idx = physical_to_index(image, phys)
    idx.setflags(write=False)
    return idx


@functools.lru_cache(maxsize=2)
def index_grid(shape: tuple) -> np.ndarray:
    """Voxel indices (float64, ``(3, *shape)``), kept per process (read-only)."""
    grid = np.indices(shape, dtype=np.float64)
    grid.setflags(write=False)
    return grid


@functools.lru_cache(maxsize=2)
def voxel_grid(shape: tuple) -> np.ndarray:
    """``np.indices(shape, dtype=np.float32)``, kept per process (read-only)."""
    grid = np.indices(shape, dtype=np.float32)
    grid.setflags(write=False)
    return grid


def bounding_box(mask):
    """Index slices of the bounding box of a non-empty boolean array."""
    where = np.argwhere(mask)
    return tuple(slice(a, b + 1) for a, b in zip(where.min(0), where.max(0), strict=True))
