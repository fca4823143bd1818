"""Stage 1 of the toy pipeline: find the pancreas on a plain (non-contrast) CT (notebook 04).

PANDA's first stage segments the pancreas so that the later stages only look at a small
region::

    from helpers.pipeline import segment_pancreas
    mask = segment_pancreas(plain_ct)   # SimpleITK uint8 image, 1 = pancreas, input's grid

Two methods a student can follow, both fitted or assembled from virtual patients: multi-atlas
segmentation (:mod:`.atlas`, the default) and a voxel classifier (:mod:`.voxel_classifier`).
Both produce a score per voxel that :func:`clean_mask` turns into a mask with the same
intensity and morphology rules, on the 3 mm working grid of :mod:`helpers.pipeline.grid`.
This module checks the input, picks the method, fits or assembles the default model once per
process, and checks the result. Bad input gets a clear error: :class:`NotCTError` (not a CT in
Hounsfield units, or not 3D) and :class:`PancreasNotFoundError` (the scan does not cover the
upper abdomen, or nothing pancreas-like was found).

Who is who: the *labelled* patients (the atlases of one method, the training data of the
other), *validation* patients (for choosing settings) and held-out *test* patients are the
cohorts "stage1 labelled", "stage1 validation" and "stage1 test" of :mod:`helpers.cohorts`,
checked to share no patient. Not for clinical use.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from ...checks import MIN_COVERAGE_MM, PLAUSIBLE_ML, InputError, check_scan
from ...checks import NotCTError as NotCTError  # re-exported: helpers.pipeline.NotCTError
from ...checks import head_foot_extent_mm as head_foot_extent_mm  # re-exported, used here
from ...simulate import named_cohort
from ..grid import WORK_SPACING_MM, to_input_grid, to_working_grid
from .atlas import Atlas, atlas_votes, atlases_from_cases
from .voxel_classifier import VoxelClassifier, fit_voxel_classifier

METHODS = ("classifier", "atlas")

DEFAULT_METHOD = "atlas"  # notebook 04 compares the two and explains the choice

# Score thresholds. Atlas: at least two of the six atlases. PANDA's stage 1 segments the whole
# pancreas, lesion included; a strict majority (4 of 6) had the best median Dice on validation
# patients but left about a fifth of a lesion at the gland's edge outside the mask (foreign
# validation patients, benchmarks/foreign.py: lesion coverage median 0.81 against 0.93 with 2
# of 6, at a median Dice of 0.87 against 0.83). Classifier: 0.65, by median Dice on ten
# validation patients (it was trained on a balanced sample, so its probabilities run high);
# benchmarks/stage1.py prints the curves.
THRESHOLDS = {"classifier": 0.65, "atlas": 0.3}

N_LABELLED = 6  # virtual patients with a reference pancreas: atlases, or training data

# MIN_COVERAGE_MM and PLAUSIBLE_ML live in helpers.checks: a pancreas mask given to stages 2
# and 3 must meet them too (check_gland_size), so they are stated once, there.
MAX_COVERAGE_MM = 200.0  # the toy models know ~90 mm slabs of upper abdomen, not whole trunks
MIN_WIDTH_MM = 150.0  # left-right and front-back: a whole abdominal cross-section
# Atlases that really matched correlate with the scan around the pancreas (median over the
# atlases 0.78-0.90 on virtual patients); on real pelvis and lower-abdomen slabs they do not
# (medians -0.2 to 0.01). Calibrated on this toy data only.
MIN_ATLAS_SIMILARITY = 0.4
KEEP_FRACTION = 0.2  # keep connected pieces with >= this fraction of the largest piece

TISSUE_HU = (-120.0, 200.0)  # after light smoothing, pancreas (even fatty) lies in here

MIN_PIECE_ML = 0.5  # pieces smaller than this are noise, whatever the rules above say



class PancreasNotFoundError(RuntimeError):
    """No plausible pancreas: the scan misses the upper abdomen, or the result is empty."""



# ------------------------------------------------------------------------- input checks

def check_ct_like(image, name: str = "scan") -> None:
    """Raise :class:`NotCTError` unless ``image`` looks like a 3D CT in Hounsfield units
    (:func:`helpers.checks.check_scan`: a 3-D SimpleITK image, plausible voxels, finite
    values, air at about -1000 HU, mostly soft tissue, not normalised, not raw stored values)."""
    check_scan(image, name)


def check_coverage(image: sitk.Image) -> None:
    """Raise :class:`PancreasNotFoundError` if the scan is too short or too narrow to hold an
    upper abdomen (a pancreas is about 15 cm long and lies across the middle of the body)."""
    extent = head_foot_extent_mm(image)
    if extent < MIN_COVERAGE_MM:
        raise PancreasNotFoundError(
            f"the scan covers only {extent:.0f} mm head-to-foot; stage 1 needs at least "
            f"{MIN_COVERAGE_MM:.0f} mm of upper abdomen to find the pancreas.")
    if extent > MAX_COVERAGE_MM:
        raise PancreasNotFoundError(
            f"the scan covers {extent:.0f} mm head-to-foot; this toy stage 1 was built from "
            f"slabs of about 90 mm of upper abdomen and handles at most {MAX_COVERAGE_MM:.0f} "
            "mm. Crop the scan to the upper abdomen first (e.g. image[:, :, first:last] "
            "around the level of the kidneys' upper halves).")
    direction = np.abs(np.reshape(image.GetDirection(), (3, 3)))
    widths = [image.GetSize()[int(np.argmax(direction[row]))]
              * image.GetSpacing()[int(np.argmax(direction[row]))] for row in (0, 1)]
    if min(widths) < MIN_WIDTH_MM:
        raise PancreasNotFoundError(
            f"the field of view is only {widths[0]:.0f} x {widths[1]:.0f} mm; stage 1 needs a "
            f"whole abdominal cross-section (at least {MIN_WIDTH_MM:.0f} mm each way).")



# ------------------------------------------------------------------------- the mask

def clean_mask(score: np.ndarray, hu: np.ndarray, threshold: float = 0.5,
               spacing_mm=(WORK_SPACING_MM,) * 3, tissue_hu=TISSUE_HU) -> np.ndarray:
    """Turn a score map (atlas votes or probabilities, 0..1) into a plausible pancreas mask.

    1. threshold the score; 2. intensity: drop voxels whose lightly smoothed HU is outside
    :data:`TISSUE_HU` (fat, air, bone: never pancreas, even a fatty one); 3. morphology: keep
    the large connected pieces (26-connected, at least :data:`KEEP_FRACTION` of the largest:
    the gland can show up as two pieces at 3 mm) and fill holes slice by slice.
    """
    smooth = ndi.gaussian_filter(np.asarray(hu, np.float32), 0.7)
    mask = (score >= threshold) & (smooth >= tissue_hu[0]) & (smooth <= tissue_hu[1])
    labels, n = ndi.label(mask, np.ones((3, 3, 3)))
    if n == 0:
        return mask
    sizes = ndi.sum(mask, labels, range(1, n + 1))
    voxel_ml = float(np.prod(spacing_mm)) / 1000
    keep = np.flatnonzero((sizes >= KEEP_FRACTION * sizes.max())
                          & (sizes * voxel_ml >= MIN_PIECE_ML)) + 1
    mask = np.isin(labels, keep)
    return np.stack([ndi.binary_fill_holes(s) for s in mask])





# Stage 1 on the training patients, whose masks stages 2 and 3 learn from: the atlases'
# affine registrations run one coarse level (a quarter of the resolution) instead of two
# (half, then full). On 12 training patients this took 1.3 instead of 2.4 CPU seconds per
# patient, and the masks matched the full registration's (Dice median 0.986, minimum 0.971;
# each lesion as much inside them). At prediction, stage 1 registers at full resolution.
TRAINING_MASK_OPTIONS = {"atlas": {"shrink": (4,)}, "classifier": {}}


def training_mask_settings(method: str = DEFAULT_METHOD) -> dict:
    """:func:`stage1_settings` of the training patients' masks: with their registration
    options (:data:`TRAINING_MASK_OPTIONS`), for the cache keys of data built from them."""
    options = TRAINING_MASK_OPTIONS[method]
    return stage1_settings(method) | ({"training registration": options} if options else {})


def stage1_settings(method: str = DEFAULT_METHOD) -> dict:
    """Everything that decides stage 1's masks, for the cache keys of data built from them."""
    return {"method": method, "threshold": THRESHOLDS[method], "labelled": N_LABELLED,
            "work_spacing_mm": WORK_SPACING_MM, "keep_fraction": KEEP_FRACTION,
            "tissue_hu": TISSUE_HU, "min_piece_ml": MIN_PIECE_ML}


def check_result(mask_zyx: np.ndarray, spacing_mm) -> float:
    """The mask's volume in mL; :class:`PancreasNotFoundError` if empty or implausible."""
    volume = float(mask_zyx.sum()) * float(np.prod(spacing_mm)) / 1000
    where = ("Does the scan cover the upper abdomen (liver, spleen and both kidneys in view) "
             "and is it framed like the training scans (about 90 mm around the pancreas)?")
    if volume == 0:
        raise PancreasNotFoundError(f"stage 1 found no pancreas-like tissue (empty result). "
                                    f"{where}")
    if not PLAUSIBLE_ML[0] <= volume <= PLAUSIBLE_ML[1]:
        raise PancreasNotFoundError(
            f"stage 1 found {volume:.1f} mL of pancreas-like tissue, outside the plausible "
            f"{PLAUSIBLE_ML[0]:g}-{PLAUSIBLE_ML[1]:g} mL: the pancreas was not found. {where}")
    return volume


# ------------------------------------------------------------------------- default models
@functools.lru_cache(maxsize=2)
def default_classifier(n: int = N_LABELLED, seed: int = 0) -> VoxelClassifier:
    """The voxel classifier fitted on the ``n`` labelled patients (once per process)."""
    return fit_voxel_classifier(named_cohort("stage1 labelled", n), seed=seed)


@functools.lru_cache(maxsize=2)
def default_atlases(n: int = N_LABELLED) -> tuple[Atlas, ...]:
    """The ``n`` labelled patients as atlases (built once per process, cached on disk)."""
    return tuple(atlases_from_cases(named_cohort("stage1 labelled", n)))



# ------------------------------------------------------------------------- stage 1

@dataclass
class Stage1Result:
    """What stage 1 produced: the mask on the input's grid plus what led to it."""

    mask: sitk.Image  # uint8 on the input's grid
    score: sitk.Image  # votes or probability (0..1) on the working grid
    working: sitk.Image  # the scan on the 3 mm working grid
    method: str
    threshold: float
    volume_ml: float
    seconds: float


def run_stage1(plain_ct: sitk.Image, method: str = DEFAULT_METHOD, *, classifier=None,
               atlases=None, threshold: float | None = None, **options) -> Stage1Result:
    """Stage 1 with everything kept: see :func:`segment_pancreas` for the arguments.

    ``options`` go to :func:`helpers.pipeline.stage1.atlas.atlas_votes` and on to notebook 03's
    :func:`helpers.registration.register` (e.g. ``samples=2000``).
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    check_scan(plain_ct, "scan", resample_mm=WORK_SPACING_MM)  # before any allocation
    check_coverage(plain_ct)
    start = time.perf_counter()
    working = to_working_grid(plain_ct)
    hu = sitk.GetArrayFromImage(working)
    if method == "classifier":
        model = classifier or default_classifier()
        score = model.probability(hu)
    else:
        found = atlas_votes(working, atlases or default_atlases(), **options)
        score, similarity = found.votes, float(np.median(found.similarity))
        if similarity < MIN_ATLAS_SIMILARITY:
            raise PancreasNotFoundError(
                "the atlases could not be matched to this scan: around where the pancreas "
                f"should be, they correlate about {similarity:.1f} with it (matched scans: over "
                f"{MIN_ATLAS_SIMILARITY}). Does the scan show the upper abdomen (liver, spleen, "
                "kidneys)? The pancreas was not found.")
    threshold = THRESHOLDS[method] if threshold is None else float(threshold)
    mask = clean_mask(score, hu, threshold, working.GetSpacing()[::-1])
    volume = check_result(mask, working.GetSpacing())
    mask_image = sitk.GetImageFromArray(mask.astype(np.uint8))
    mask_image.CopyInformation(working)
    score_image = sitk.GetImageFromArray(score.astype(np.float32))
    score_image.CopyInformation(working)
    return Stage1Result(to_input_grid(mask_image, plain_ct), score_image, working,
                        method, threshold, volume, time.perf_counter() - start)


def segment_pancreas(plain_ct: sitk.Image, method: str = DEFAULT_METHOD, **options) -> sitk.Image:
    """Segment the pancreas on a plain (non-contrast) CT: a binary mask on the input's grid.

    ``plain_ct``: a 3D SimpleITK image in Hounsfield units covering the upper abdomen (any
    orientation and voxel size; it is reoriented and resampled to 3 mm internally, never
    modified). ``method``: ``"atlas"`` (default: six labelled virtual patients registered
    affinely with notebook 03's helpers; a voxel is pancreas when at least two of them say so)
    or ``"classifier"`` (the random forest of :mod:`.voxel_classifier`). ``atlases=`` /
    ``classifier=`` replace the default model (assembled or fitted once per process from
    virtual patients); ``threshold=`` the score threshold; other keywords go to the
    registration. Returns a uint8 image (1 = pancreas, 0 = not) with the input's size,
    spacing, origin and direction.

    Raises :class:`NotCTError` for an image that is not a 3D CT in HU (including raw stored
    values, NaN voxels and voxel sizes no CT has), :class:`helpers.checks.ScanTooLargeError`
    when its 3 mm working grid would need more than about 2 GB (refused before anything is
    allocated), and :class:`PancreasNotFoundError` when the scan does not cover the upper
    abdomen or no plausible pancreas was found (rather than returning a meaningless mask).
    """
    return run_stage1(plain_ct, method, **options).mask



# ------------------------------------------------------------------------- test variants

def reframe(image: sitk.Image, top: int = 6, side: int = 12,
            shift_mm=(40.0, -25.0, 60.0)) -> sitk.Image:
    """The same scan framed like another patient's: ``top`` slices fewer at the head end,
    ``side`` columns fewer at the first x index (the patient's left flank on the virtual
    patients' grid), and the header origin moved by ``shift_mm`` (another table position).

    Apply it to a scan and to its reference mask alike. Anatomy and voxels are unchanged:
    only the framing a method might have memorised differs.
    """
    size = image.GetSize()
    out = image[side:, :, :size[2] - top]
    out.SetOrigin(tuple(float(v) for v in np.add(out.GetOrigin(), shift_mm)))
    return out


def reframe_case(case):
    """A virtual patient's plain scan, reference pancreas and lesion, all :func:`reframe`-d
    (a light stand-in for the case with the fields evaluation needs)."""

    return SimpleNamespace(plain=reframe(case.plain), pancreas_plain=reframe(
        case.pancreas_plain), lesion_plain=reframe(case.lesion_plain), seed=case.seed,
        subtype=case.subtype, lesion_diameter_mm=case.lesion_diameter_mm)

