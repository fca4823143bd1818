"""Tiny deterministic stand-ins for virtual patients, for fast stage 2/3 tests.

A 16 x 30 x 36 grid (3 mm): fat around a soft-tissue "gland" (an ellipsoid at -10 HU) and,
for a lesion case, a ball inside it that is brighter (cyst-like, +35 HU) or darker
(PDAC-like, -35 HU) than the gland. Plain and contrast scans are the same here.

Also the small helpers the bad-input tests (issue 20) of several modules share: an input's
fingerprint before and after a refused call, and a scan turned into a typical wrong input; and
what the pipeline's cached training files hold (the tests of tests/pipeline/ that use the
toy_cache fixture of tests/pipeline/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from helpers.pipeline import stage2
from helpers.pipeline.stage1 import PancreasNotFoundError

SHAPE = (16, 30, 36)
DELTA = {"cyst": 35.0, "PDAC": -35.0}


def image(array, pixel=None):
    out = sitk.GetImageFromArray(array)
    out.SetSpacing((3.0, 3.0, 3.0))
    out.SetOrigin((10.0, -20.0, 5.0))
    return out if pixel is None else sitk.Cast(out, pixel)


def toy_case(seed: int, subtype: str | None = None, radius: float = 3.0):
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(SHAPE, dtype=np.float32)
    gland = ((z - 8) / 4.5) ** 2 + ((y - 15) / 5) ** 2 + ((x - 18) / 11) ** 2 <= 1
    hu = np.where(gland, -10.0, -100.0).astype(np.float32)
    hu[:3] = -1000.0  # some air, so it looks like a CT
    lesion = np.zeros(SHAPE, bool)
    if subtype is not None:
        cx = 18 + rng.integers(-5, 6)
        lesion = ((z - 8) ** 2 + (y - 15) ** 2 + (x - cx) ** 2 <= radius**2) & gland
        hu[lesion] += DELTA[subtype]
    hu += rng.normal(0, 8, SHAPE).astype(np.float32)
    plain = image(hu)
    masks = {name: image(m.astype(np.uint8)) for name, m in (("lesion", lesion),
                                                             ("gland", gland))}
    return SimpleNamespace(plain=plain, contrast=sitk.Image(plain),
                           lesion_plain=masks["lesion"], lesion_contrast=masks["lesion"],
                           pancreas_plain=masks["gland"], pancreas_contrast=masks["gland"],
                           subtype=subtype, seed=seed,
                           lesion_diameter_mm=0.0 if subtype is None else 6.0 * radius)


def toy_cohort(n: int, start: int = 0):
    """``n`` toy cases: healthy, cyst and PDAC in turn."""
    kinds = (None, "cyst", "PDAC")
    return [toy_case(start + i, kinds[i % 3]) for i in range(n)]


@pytest.fixture(scope="module", autouse=True)
def small_voxel_model():
    """A small boosting model for the importing test module: toy scans need no more, and the
    tests stay fast. (Import it into a test module to apply it there.)"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(stage2.boosted.VOXEL_MODEL, "max_iter", 20)
        yield


# ---------------------------------------------------- bad input: wrong scans, unchanged inputs

HOUR = 3600.0


def arr(image):
    return sitk.GetArrayFromImage(image)


def like(array, image):
    out = sitk.GetImageFromArray(np.asarray(array))
    out.CopyInformation(image)
    return out


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative name -> hex)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def unchanged(*images):
    """A check that the images still hold what they held when this was called."""
    before = [arr(image).copy() for image in images]
    return lambda: all(np.array_equal(arr(i), b, equal_nan=True)
                       for i, b in zip(images, before, strict=True))


def raw_values(scan: sitk.Image, below: float | None = None) -> sitk.Image:
    """The scan as raw stored values, HU + 1024 (the rescale not applied), with no value
    under -1024 HU (minimum 0); ``below``: write air as this HU instead (scanners write
    values under -1024; the real CT goes down to -1100), so the minimum is negative."""
    hu = np.maximum(arr(scan).astype(np.float32), -1024.0)
    if below is not None:
        hu[hu < -900] = below
    return like(hu + 1024.0, scan)


def nan_slice(scan: sitk.Image, k: int = 8) -> sitk.Image:
    hu = arr(scan).astype(np.float32)
    hu[k] = np.nan
    return like(hu, scan)


def aged(path: Path, seconds: float) -> Path:
    """``path`` (and all under it) last modified ``seconds`` ago: a leftover of a killed run."""
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))
    return path


# ---------------------------------------------------- the pipeline's cached training files

def stored_names(path):
    with np.load(path, allow_pickle=False) as stored:  # no object arrays in it
        return set(stored.files)


def kinds(folder) -> list[str]:
    """What each cached file in ``folder`` holds, sorted: "table" (a training table), "maps"
    (out-of-fold maps), "rows" (stage 3's rows in stage 2's outlines), "masks" (stage 1's)."""
    found = []
    for path in folder.glob("*.npz"):
        names = stored_names(path)
        found.append("table" if "y" in names else "maps" if "values" in names else
                     "masks" if "bits" in names else "rows")
    return sorted(found)


def shifted_stage1(plain, method=None):
    """A stand-in for stage 1: the toy case's gland, two voxels off to one side and without its
    tail (a stage-1 mask is never the reference), and no pancreas in a scan marked by its
    origin."""
    if plain.GetOrigin()[0] == 99.0:
        raise PancreasNotFoundError("no pancreas here")
    hu = sitk.GetArrayFromImage(plain)
    gland = np.roll(hu > -40, 2, axis=2)
    gland[:3] = False
    gland[:, :, 26:] = False
    out = image(gland.astype(np.uint8))
    out.CopyInformation(plain)
    return out
