"""Virtual patients: real native CT + simulated contrast, lesions and breathing motion.

No public, offline dataset has one patient scanned plain *and* with contrast, with lesion
masks. So this module builds **virtual patients** from the real native CT in the registry
(``totalsegmentator_example_ct_sm`` and its TotalSegmentator labels), with exact ground truth.

Public API
----------
``simulate_phase(native_ct, labels, phase, rng)``
    One contrast phase (:data:`PHASES`) of a real native CT.
``insert_lesion(images, labels, subtype, rng, ...)``
    Put a lesion of a subtype in :data:`SUBTYPES` into the pancreas; returns the exact mask.
``make_case(seed, subtype=None, ...) -> VirtualCase``
    One virtual patient: a plain scan and a contrast scan (moved by breathing), masks on
    each grid, the true plain -> contrast transform and corresponding landmarks.
``make_cohort(n, seed, ...) -> list[VirtualCase]``
    Many patients, with a progress bar and a deterministic on-disk cache.
``inverse_transform(case)``, ``case_conspicuity(case, scan)``, ``cohort_table(cases)``
    The numerical contrast -> plain transform; a lesion's CNR; a summary table.

The parts live in :mod:`helpers.phases` (contrast, noise), :mod:`helpers.lesions` (shape,
appearance, conspicuity), :mod:`helpers.motion` (anatomy variation, breathing) and
:mod:`helpers.virtual_patients` (one case from a seed).

What is real: the native CT's anatomy, texture and noise level. What is simulated: the
anatomy variation, the contrast enhancement, the lesions, the noise and the motion.
Not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from . import lesions, motion, phases
from .lesions import (  # noqa: F401 - public re-exports
    APPEARANCE,
    SUBTYPES,
    LesionDoesNotFitError,
    appearance_table,
    conspicuity,
)
from .motion import MOTION_LEVELS  # noqa: F401
from .phases import (  # noqa: F401
    ENHANCEMENT,
    PHASES,
    enhancement_table,
    measure_noise,
    simulate_phase,
)
from .virtual_patients import (  # noqa: F401
    CASE_VERSION,
    CT_SAMPLE,
    LABEL_SAMPLE,
    VirtualCase,
    build_record,
    case_from_record,
    check_args,
    load_base,
)


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
        phases.check_same_grid(image, labels)
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
    center = None
    if center_mm is not None:
        center = tuple(np.round(motion.physical_to_index(ref, center_mm)).astype(int))
        if not all(0 <= c < n for c, n in zip(center, lab.shape, strict=True)):
            raise lesions.LesionDoesNotFitError(
                f"the centre {tuple(center_mm)} mm is outside the image")
    if noise_hu is None:
        noise_hu = phases.measure_noise(arrays["native"], lab)["sd_hu"]
    center, r0 = lesions.choose_center(lab == 7, spacing, diameter / 2, rng, mass_effect, center)
    shape = lesions.LesionShape.random(center, diameter / 2, subtype, rng)
    if r0 < diameter / 2:
        push = lesions.mass_effect_pullback(lab.shape, spacing, center, r0, shape)
        src = np.moveaxis(np.indices(lab.shape, dtype=np.float32) + push, 0, -1)
        lab = motion.sample(lab, src, order=0)
        # Linear interpolation averages noise away; add back what it removed (white noise).
        frac = src - np.floor(src)
        kept = np.prod((1 - frac) ** 2 + frac**2, axis=-1)
        restore = np.sqrt(np.clip(1 - kept, 0, 1)) * np.float32(noise_hu)
        arrays = {p: motion.sample(a, src) + restore * rng.standard_normal(a.shape, np.float32)
                  for p, a in arrays.items()}
    occ, comps = shape.occupancy(lab.shape, spacing)
    ring = lesions.surrounding_gland(lab == 7, occ >= 0.5, spacing)
    gland = {p: float(a[ring].mean()) for p, a in arrays.items()}
    values = lesions.component_values(subtype, gland, rng)
    texture = lesions.lesion_texture(lab.shape, rng, comps,
                                     lesions.gland_texture_sd(arrays["native"], ring, noise_hu))
    texture += occ * rng.standard_normal(lab.shape, np.float32) * np.float32(noise_hu)
    mask = occ >= 0.5
    lab = np.where(mask, np.uint8(7), lab).astype(np.uint8)
    out = {}
    for phase, array in arrays.items():
        out[phase] = sitk.GetImageFromArray(lesions.composite(array, comps, values, texture, phase))
        out[phase].CopyInformation(ref)
    new_labels = sitk.GetImageFromArray(lab)
    new_labels.CopyInformation(ref)
    mask_img = sitk.GetImageFromArray(mask.astype(np.uint8))
    mask_img.CopyInformation(ref)
    center_mm = ref.TransformContinuousIndexToPhysicalPoint([float(v) for v in center[::-1]])
    return InsertedLesion(out, new_labels, mask_img, occ, center_mm, diameter, subtype, values)


def case_conspicuity(case: VirtualCase, scan: str = "contrast", noise_hu=None) -> dict:
    """:func:`conspicuity` of a case's lesion on its ``"plain"`` or ``"contrast"`` scan.

    ``noise_hu`` defaults to the case's simulated noise level, so ``cnr`` is the lesion's
    contrast against the surrounding gland in units of image noise.
    """
    if scan not in ("plain", "contrast"):
        raise ValueError(f"scan must be 'plain' or 'contrast', got {scan!r}")
    arrays = [sitk.GetArrayViewFromImage(getattr(case, f"{name}_{scan}" if name else scan))
              for name in ("", "lesion", "pancreas")]
    return conspicuity(*arrays, noise_hu=case.noise_hu if noise_hu is None else noise_hu,
                       spacing_zyx=case.plain.GetSpacing()[::-1])


def inverse_transform(case: VirtualCase) -> sitk.Transform:
    """Contrast -> plain physical points: the numerical inverse of ``case.transform``.

    Used to carry points (or, with ``sitk.Resample``, plain-scan images) into the contrast
    scan's space. Accurate to well under a voxel (see tests/test_simulate.py).
    """
    rigid = case.transform.GetNthTransform(0).Downcast()
    field = case.transform.GetNthTransform(1).Downcast().GetDisplacementField()
    breathing = motion.Breathing(field, rigid, motion.invert_field(field))
    return breathing.inverse_transform()


def make_case(seed: int, subtype: str | None = None, *, phase: str = "pancreatic",
              lesion_diameter_mm: float | None = None, motion: str = "typical",
              noise_hu: float | None = None, vary_anatomy: bool = True,
              cache: bool = False) -> VirtualCase:
    """Build one virtual patient, deterministically from ``seed``.

    ``subtype``: one of :data:`SUBTYPES`, or None for a healthy pancreas. ``phase``: the
    contrast scan's phase (:data:`PHASES`). ``lesion_diameter_mm``: nominal longest diameter
    (default: drawn from 5-40 mm). ``motion``: "none", "typical" or "hard" breathing motion
    between the scans. ``noise_hu``: noise standard deviation (default: drawn per seed between
    0.8x and 1.5x the real scan's measured noise). ``vary_anatomy``: warp and scale the real
    anatomy per seed (False: every seed shares the real anatomy). ``cache``: reuse/store the
    case on disk (see :func:`make_cohort`). The same seed always gives the same patient;
    changing only the subtype keeps the anatomy and motion of that seed.
    """
    params = dict(seed=int(seed), subtype=subtype, phase=phase,
                  lesion_diameter_mm=lesion_diameter_mm, motion_level=motion,
                  noise_hu=noise_hu, vary_anatomy=bool(vary_anatomy))
    check_args(seed, subtype, phase, motion, lesion_diameter_mm, noise_hu)
    return case_from_record(cached_record(params) if cache else build_record(**params))


# ---------------------------------------------------------------------------- cache, cohort
def cache_folder() -> Path:
    """Where cases are cached: ``<data cache>/virtual_patients/<CASE_VERSION>/``."""
    from . import data

    return data.cache_dir() / "virtual_patients" / CASE_VERSION


def case_key(params: dict) -> str:
    """A file name for one case: SHA-256 of every parameter, the version and the base scan."""
    text = json.dumps({"version": CASE_VERSION, "ct": CT_SAMPLE, "labels": LABEL_SAMPLE,
                       **params}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _load_record(path: Path, key: str) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as stored:  # arrays only, never pickles
            record = {name: stored[name] for name in stored.files}
        if str(record.pop("key")) == key:
            return record
    except (OSError, ValueError, KeyError, EOFError) as exc:
        warnings.warn(f"ignoring an unreadable cached case {path.name} ({exc}); rebuilding it",
                      stacklevel=3)
    return None


def _write_npz(handle, arrays: dict) -> None:
    """Like ``np.savez_compressed`` but with fast (level 1) compression; ``np.load`` reads it."""
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def cached_record(params: dict) -> dict:
    """The record for ``params`` from the on-disk cache, building and storing it if needed.

    Files are written atomically (a temporary file renamed into place), so an interrupted
    run never leaves a half-written case; an unwritable cache only costs the speed-up.
    """
    key = case_key(params)
    path = cache_folder() / f"{key}.npz"
    if path.is_file():
        record = _load_record(path, key)
        if record is not None:
            return record
    record = build_record(**params)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            _write_npz(handle, {"key": np.str_(key), **record})
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"could not write the case cache in {path.parent} ({exc}); set "
                      "PLAINCT_DATA to a writable folder to keep cases between runs", stacklevel=2)
    return record


def cohort_plan(n: int, seed: int, subtypes=SUBTYPES, healthy_fraction: float = 0.5):
    """The (case seed, subtype) pairs of a cohort: ``round(n * healthy_fraction)`` healthy
    cases, the rest shared evenly among ``subtypes``, in a seeded random order."""
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 0 <= healthy_fraction <= 1:
        raise ValueError(f"healthy_fraction must be within 0..1, got {healthy_fraction}")
    for subtype in subtypes:
        lesions.check_subtype(subtype)
    n_healthy = round(n * healthy_fraction) if subtypes else n
    kinds = [None] * n_healthy + [subtypes[i % len(subtypes)] for i in range(n - n_healthy)]
    order = np.random.default_rng(np.random.SeedSequence(seed)).permutation(n)
    seeds = np.random.SeedSequence(seed).generate_state(n)
    return [(int(seeds[i]), kinds[order[i]]) for i in range(n)]


def _record_job(params: dict, cache: bool) -> dict:
    return cached_record(params) if cache else build_record(**params)


def make_cohort(n: int, seed: int, *, subtypes=SUBTYPES, healthy_fraction: float = 0.5,
                phase: str = "pancreatic", motion: str = "typical",
                lesion_diameter_mm: float | None = None, vary_anatomy: bool = True,
                cache: bool = True, progress: bool = True, n_jobs: int = 1) -> list[VirtualCase]:
    """Build ``n`` virtual patients, deterministically from ``seed`` (see :func:`cohort_plan`).

    Other arguments are passed to :func:`make_case`. With ``cache`` every case is kept on disk
    under :func:`cache_folder` (keyed by all its parameters), so a second call is fast.
    ``n_jobs`` > 1 builds cases in that many processes. Shows a progress bar if ``progress``.
    """
    from tqdm.auto import tqdm

    plan = cohort_plan(n, seed, subtypes, healthy_fraction)
    jobs = []
    for case_seed, subtype in plan:
        check_args(case_seed, subtype, phase, motion,
                    lesion_diameter_mm if subtype else None, None)
        jobs.append(dict(seed=case_seed, subtype=subtype, phase=phase,
                         lesion_diameter_mm=lesion_diameter_mm if subtype else None,
                         motion_level=motion, noise_hu=None, vary_anatomy=bool(vary_anatomy)))
    bar = tqdm(total=n, desc="virtual patients", disable=not progress)
    records = [None] * n
    # Only cases not on disk yet go to worker processes: reading a cached case is faster
    # than shipping it back from another process.
    to_build = [i for i, params in enumerate(jobs)
                if not (cache and (cache_folder() / f"{case_key(params)}.npz").is_file())]
    if n_jobs > 1 and len(to_build) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            built = pool.map(_record_job, [jobs[i] for i in to_build], [cache] * len(to_build))
            for i, record in zip(to_build, built, strict=True):
                records[i] = record
                bar.update()
    for i, params in enumerate(jobs):
        if records[i] is None:
            records[i] = _record_job(params, cache)
            bar.update()
    bar.close()
    return [case_from_record(r) for r in records]


def cohort_table(cases):
    """One row per case: seed, subtype, nominal diameter and the diameter of a sphere of the
    mask's volume (lobes and dents make it smaller), noise, lesion voxels and how far the
    landmarks moved between the scans (mm)."""
    import pandas as pd

    rows = []
    for case in cases:
        shift = np.linalg.norm(case.landmarks_contrast - case.landmarks_plain, axis=1)
        voxels = int(sitk.GetArrayViewFromImage(case.lesion_plain).sum())
        volume = voxels * float(np.prod(case.plain.GetSpacing()))
        rows.append({"seed": case.seed, "subtype": case.subtype or "healthy",
                     "diameter_mm": round(case.lesion_diameter_mm, 1),
                     "sphere_equiv_mm": round(float(np.cbrt(6 * volume / np.pi)), 1),
                     "noise_hu": round(case.noise_hu, 1), "lesion_voxels": voxels,
                     "motion_mean_mm": round(float(shift.mean()), 1),
                     "motion_max_mm": round(float(shift.max()), 1)})
    return pd.DataFrame(rows)
