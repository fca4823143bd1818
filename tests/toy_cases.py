"""Tiny deterministic stand-ins for virtual patients, for fast stage 2/3 tests.

A 16 x 30 x 36 grid (3 mm): fat around a soft-tissue "gland" (an ellipsoid at -10 HU) and,
for a lesion case, a ball inside it that is brighter (cyst-like, +35 HU) or darker
(PDAC-like, -35 HU) than the gland. Plain and contrast scans are the same here.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from helpers.pipeline import stage2

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
