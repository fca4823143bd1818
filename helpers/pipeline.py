"""Public entry points of the toy three-stage pipeline (PANDA's idea at teaching scale).

Stage 1, finding the pancreas on a plain CT (notebook 04)::

    from helpers.pipeline import segment_pancreas
    mask = segment_pancreas(plain_ct)   # SimpleITK uint8 image, 1 = pancreas, input's grid

Stages 2 and 3 and the chained pipeline (notebooks 05 and 06)::

    from helpers.pipeline import default_pipeline, detect_lesion, classify_subtype
    score, lesion = detect_lesion(plain_ct, mask)        # 0..1, lesion mask (maybe empty)
    probs = classify_subtype(plain_ct, lesion)           # {"PDAC": .., "PNET": .., ...}
    result = default_pipeline().predict(plain_ct)        # stages 1 -> 2 -> 3, a PipelineResult

(:mod:`helpers.stage2`, :mod:`helpers.stage3`, :mod:`helpers.pipeline_model`,
:mod:`helpers.pipeline_cache`; evaluation in :mod:`helpers.pipeline_eval`.)

Stage 1's work is done in :mod:`helpers.stage1`; this module checks the input, picks the
method, fits or assembles the default model once per process, and checks the result. Bad input gets
a clear error: :class:`NotCTError` (not a CT in Hounsfield units, or not 3D) and
:class:`PancreasNotFoundError` (the scan does not cover the upper abdomen, or nothing
pancreas-like was found). Not for clinical use.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from . import stage1

METHODS = ("classifier", "atlas")
DEFAULT_METHOD = "atlas"  # notebook 04 compares the two and explains the choice
# Score thresholds, both chosen by median Dice on ten validation patients (never test patients;
# benchmarks/stage1.py prints the curves). Atlas: a strict majority, more than half the atlases
# (4 of 6; counting a 3-3 tie as pancreas over-segmented by about 9 %). Classifier: 0.65 (it
# was trained on a balanced sample, so its probabilities run high).
THRESHOLDS = {"classifier": 0.65, "atlas": 0.51}
N_LABELLED = 6  # virtual patients with a reference pancreas: atlases, or training data
AIR_HU, SOFT_TISSUE_HU = -500.0, (-200.0, 200.0)
MIN_COVERAGE_MM = 45.0  # head-to-foot; the pancreas alone spans about 50-60 mm here
MAX_COVERAGE_MM = 200.0  # the toy models know ~90 mm slabs of upper abdomen, not whole trunks
MIN_WIDTH_MM = 150.0  # left-right and front-back: a whole abdominal cross-section
PLAUSIBLE_ML = (4.0, 250.0)  # wide on purpose: the toy gland is ~17 mL, real adults more
# Atlases that really matched correlate with the scan around the pancreas (median over the
# atlases 0.78-0.90 on virtual patients); on real pelvis and lower-abdomen slabs they do not
# (medians -0.2 to 0.01). Calibrated on this toy data only.
MIN_ATLAS_SIMILARITY = 0.4


class NotCTError(ValueError):
    """The image is not a 3D CT in Hounsfield units; the message says what was found."""


class PancreasNotFoundError(RuntimeError):
    """No plausible pancreas: the scan misses the upper abdomen, or the result is empty."""


# ------------------------------------------------------------------------- input checks
def check_ct_like(image) -> None:
    """Raise :class:`NotCTError` unless ``image`` looks like a 3D CT in Hounsfield units.

    A CT in HU has air (about -1000 HU) around or inside the body, lots of soft tissue
    (-200..200 HU) and almost nothing above about 3000 HU. A 0..1 image (normalised) or a
    0..4095 image (raw stored values, rescale not applied) fails with an explanation.
    """
    if not isinstance(image, sitk.Image):
        raise NotCTError(f"expected a SimpleITK image, got {type(image).__name__}. A NumPy array "
                         "has no voxel spacing or orientation: load the scan with "
                         "helpers.data.load_ct or SimpleITK.ReadImage instead.")
    if image.GetDimension() != 3 or min(image.GetSize()) < 2:
        raise NotCTError(f"stage 1 needs a 3D scan; this image has size {image.GetSize()}.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise NotCTError("this image has several values per voxel (colour or vector); a CT has "
                         "one Hounsfield value per voxel.")
    hu = sitk.GetArrayViewFromImage(image)
    low, high = (float(v) for v in np.percentile(hu, [1, 99.5]))
    found = f"values run from {float(hu.min()):g} to {float(hu.max()):g}"
    if hu.min() >= -1.0 and hu.max() <= 1.0 + 1e-6:
        raise NotCTError(f"{found}: this looks like a normalised (0..1) image, not Hounsfield "
                         "units. Pass the CT in HU (helpers.data.load_ct returns HU).")
    if low > AIR_HU:
        hint = (" No negative values at all: these look like raw stored values (e.g. 0..4095); "
                "convert with HU = stored x RescaleSlope + RescaleIntercept."
                if hu.min() >= 0 else "")
        raise NotCTError(f"{found}, and almost nothing is below {AIR_HU:g} HU: a CT in HU has "
                         f"air at about -1000 HU around the patient.{hint}")
    soft = np.mean((hu >= SOFT_TISSUE_HU[0]) & (hu <= SOFT_TISSUE_HU[1]))
    if high > 3100 or hu.min() < -3100 or soft < 0.05:
        raise NotCTError(f"{found} ({100 * soft:.0f} % of voxels in soft tissue, "
                         f"-200..200 HU): not the range of a CT in Hounsfield units "
                         "(about -1024..3071 HU, mostly soft tissue in an abdomen).")


def head_foot_extent_mm(image: sitk.Image) -> float:
    """How far the scan reaches head-to-foot, in mm (any orientation)."""
    direction = np.reshape(image.GetDirection(), (3, 3))
    axis = int(np.argmax(np.abs(direction[2])))  # the index axis closest to superior
    return float(image.GetSize()[axis] * image.GetSpacing()[axis])


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


# ------------------------------------------------------------------------- default models
@functools.lru_cache(maxsize=2)
def default_classifier(n: int = N_LABELLED, seed: int = 0) -> stage1.VoxelClassifier:
    """The voxel classifier fitted on the ``n`` labelled patients (once per process)."""
    return stage1.fit_voxel_classifier(stage1.cohort("labelled", n), seed=seed)


@functools.lru_cache(maxsize=2)
def default_atlases(n: int = N_LABELLED) -> tuple[stage1.Atlas, ...]:
    """The ``n`` labelled patients as atlases (built once per process, cached on disk)."""
    return tuple(stage1.atlases_from_cases(stage1.cohort("labelled", n)))


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


def run_stage1(plain_ct: sitk.Image, method: str = DEFAULT_METHOD, *, classifier=None,
               atlases=None, threshold: float | None = None, **options) -> Stage1Result:
    """Stage 1 with everything kept: see :func:`segment_pancreas` for the arguments.

    ``options`` go to :func:`helpers.stage1.atlas_votes` and on to notebook 03's
    :func:`helpers.registration.register` (e.g. ``samples=2000``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    check_ct_like(plain_ct)
    check_coverage(plain_ct)
    start = time.perf_counter()
    working = stage1.to_working_grid(plain_ct)
    hu = sitk.GetArrayFromImage(working)
    if method == "classifier":
        model = classifier or default_classifier()
        score = model.probability(hu)
    else:
        found = stage1.atlas_votes(working, atlases or default_atlases(), **options)
        score, similarity = found.votes, float(np.median(found.similarity))
        if similarity < MIN_ATLAS_SIMILARITY:
            raise PancreasNotFoundError(
                "the atlases could not be matched to this scan: around where the pancreas "
                f"should be, they correlate about {similarity:.1f} with it (matched scans: over "
                f"{MIN_ATLAS_SIMILARITY}). Does the scan show the upper abdomen (liver, spleen, "
                "kidneys)? The pancreas was not found.")
    threshold = THRESHOLDS[method] if threshold is None else float(threshold)
    mask = stage1.clean_mask(score, hu, threshold, working.GetSpacing()[::-1])
    volume = check_result(mask, working.GetSpacing())
    mask_image = sitk.GetImageFromArray(mask.astype(np.uint8))
    mask_image.CopyInformation(working)
    score_image = sitk.GetImageFromArray(score.astype(np.float32))
    score_image.CopyInformation(working)
    return Stage1Result(stage1.to_input_grid(mask_image, plain_ct), score_image, working,
                        method, threshold, volume, time.perf_counter() - start)


def segment_pancreas(plain_ct: sitk.Image, method: str = DEFAULT_METHOD, **options) -> sitk.Image:
    """Segment the pancreas on a plain (non-contrast) CT: a binary mask on the input's grid.

    ``plain_ct``: a 3D SimpleITK image in Hounsfield units covering the upper abdomen (any
    orientation and voxel size; it is reoriented and resampled to 3 mm internally, never
    modified). ``method``: ``"atlas"`` (default: six labelled virtual patients registered
    affinely with notebook 03's helpers, strict majority vote) or ``"classifier"`` (the random
    forest of :mod:`helpers.stage1`). ``atlases=`` / ``classifier=`` replace the default
    model (assembled or fitted once per process from virtual patients); ``threshold=`` the
    score threshold; other keywords go to the registration. Returns a uint8 image (1 =
    pancreas, 0 = not) with the input's size, spacing, origin and direction.

    Raises :class:`NotCTError` for an image that is not a 3D CT in HU, and
    :class:`PancreasNotFoundError` when the scan does not cover the upper abdomen or no
    plausible pancreas was found (rather than returning a meaningless mask).
    """
    return run_stage1(plain_ct, method, **options).mask


# ------------------------------------------------------------------------- evaluation
SEARCH_MARGIN_MM = 10.0  # later stages look at the mask's bounding box plus this margin


def measure(mask: sitk.Image, reference: sitk.Image, lesion: sitk.Image | None = None) -> dict:
    """How good is a stage-1 mask? Dice, 95th-percentile Hausdorff (mm), volumes (mL), signed
    volume error (%; negative = too small), and, when a ``lesion`` mask is given, how much
    of the lesion lies inside the mask and inside the search box (the mask's bounding box
    plus :data:`SEARCH_MARGIN_MM`) that a later stage would look at. An empty mask gets
    Dice 0 and HD95 NaN. All images on one grid.
    """
    from . import metrics

    voxel_ml = float(np.prod(reference.GetSpacing())) / 1000
    found_a = sitk.GetArrayViewFromImage(mask) != 0
    found, truth = int(found_a.sum()), int(np.count_nonzero(sitk.GetArrayViewFromImage(reference)))
    empty = found == 0
    row = {"dice": 0.0 if empty else metrics.dice(mask, reference),
           "hd95_mm": np.nan if empty else metrics.hausdorff95(mask, reference),
           "volume_ml": found * voxel_ml, "reference_ml": truth * voxel_ml,
           "volume_error_pct": 100 * (found - truth) / truth}
    lesion_a = None if lesion is None else sitk.GetArrayViewFromImage(lesion) != 0
    if lesion_a is not None and lesion_a.any():
        box = np.zeros_like(found_a)
        if not empty:
            pad = np.ceil(SEARCH_MARGIN_MM / np.asarray(reference.GetSpacing()[::-1])).astype(int)
            where = np.argwhere(found_a)
            lo, hi = np.maximum(where.min(0) - pad, 0), where.max(0) + pad + 1
            box[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
        row["lesion_in_mask_pct"] = 100 * float(found_a[lesion_a].mean())
        row["lesion_in_box_pct"] = 100 * float(box[lesion_a].mean())
    return row


def evaluate(segment, cases, method: str, keep: dict | None = None) -> list[dict]:
    """Run ``segment(plain_ct) -> mask`` on every case and :func:`measure` it (one dict per
    case, with the seconds it took). A :class:`PancreasNotFoundError` counts as a miss (an
    empty mask), not a crash. ``keep``: a dict that receives each mask under its case seed.
    """
    rows = []
    for case in cases:
        start = time.perf_counter()
        try:
            mask = segment(case.plain)
        except PancreasNotFoundError:
            mask = sitk.Image(case.pancreas_plain.GetSize(), sitk.sitkUInt8)
            mask.CopyInformation(case.pancreas_plain)
        seconds = time.perf_counter() - start
        if keep is not None:
            keep[case.seed] = mask
        rows.append({"method": method, "seed": case.seed, "subtype": case.subtype or "healthy",
                     "lesion_mm": round(case.lesion_diameter_mm),
                     **measure(mask, case.pancreas_plain, case.lesion_plain),
                     "seconds": seconds})
    return rows


def summarise(table):
    """Per method: cases, median and worst Dice, median HD95, median |volume error|, the
    worst lesion coverage by the search box, and median seconds per case."""
    if "lesion_in_box_pct" not in table:
        table = table.assign(lesion_in_box_pct=np.nan)
    grouped = table.groupby("method", sort=False)
    return grouped.agg(cases=("dice", "size"), median_dice=("dice", "median"),
                       worst_dice=("dice", "min"), median_hd95_mm=("hd95_mm", "median"),
                       median_abs_volume_error_pct=("volume_error_pct",
                                                    lambda v: v.abs().median()),
                       worst_lesion_in_box_pct=("lesion_in_box_pct", "min"),
                       median_seconds=("seconds", "median")).round(3)


def plot_evaluation(table, metrics=(("dice", "Dice (1 = perfect)"),
                                    ("hd95_mm", "95th-percentile Hausdorff (mm)"),
                                    ("volume_error_pct", "volume error (%)")), figsize=(13, 4)):
    """One panel per metric: every case as a dot, per method, with the median as a bar."""
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize, layout="constrained")
    for ax, (column, label) in zip(axes, metrics, strict=True):
        for n, method in enumerate(methods):
            values = table.loc[table["method"] == method, column].to_numpy(float)
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
            ax.plot(n + np.asarray(jitter), values, "o", alpha=0.7, label=None)
            ax.hlines(np.nanmedian(values), n - 0.3, n + 0.3, color="black", lw=2)
        ax.set_xticks(range(len(methods)), [m.replace(" (", "\n(") for m in methods],
                      fontsize=9)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    if any(column == "volume_error_pct" for column, _ in metrics):
        axes[[c for c, _ in metrics].index("volume_error_pct")].axhline(0, color="0.5", lw=1)
    axes[0].set_title("each dot is one held-out patient; bar = median", loc="left", fontsize=10)
    return fig


# ------------------------------------------------------------------------- stages 2 and 3
def detect_lesion(plain_ct: sitk.Image, pancreas_mask: sitk.Image, detector=None):
    """Stage 2: ``(score, lesion_mask)`` for a plain CT and its pancreas mask.

    ``score`` is the case-level abnormality (0..1); ``lesion_mask`` a uint8 image on the
    input's grid, empty when the score is below the detector's operating threshold (chosen
    on training patients). ``detector``: a fitted :class:`helpers.stage2.Detector`
    (default: the default pipeline's). Raises :class:`GridMismatchError` when the mask is on
    another grid and :class:`helpers.features.EmptyPancreasError` when it is empty.
    """
    check_same_grid(pancreas_mask, plain_ct)
    detector = detector or default_pipeline().detector
    hu, gland, working = to_working(plain_ct, pancreas_mask)
    score, lesion, _ = detector.detect(hu, gland)
    return score, stage1.to_input_grid(stage1.as_image(lesion, working), plain_ct)


def classify_subtype(plain_ct: sitk.Image, lesion_mask: sitk.Image, classifier=None,
                     pancreas_mask: sitk.Image | None = None) -> dict[str, float]:
    """Stage 3: probabilities over :data:`helpers.simulate.SUBTYPES` for one lesion.

    ``lesion_mask``: on the scan's grid, not empty (:class:`helpers.stage3.EmptyLesionError`
    otherwise). The gland's HU level is measured in ``pancreas_mask`` (default: stage 1's
    :func:`segment_pancreas`). ``classifier``: a fitted
    :class:`helpers.stage3.SubtypeClassifier` (default: the default pipeline's).
    """
    from . import stage3

    check_same_grid(lesion_mask, plain_ct, "lesion mask")
    if pancreas_mask is None:
        pancreas_mask = segment_pancreas(plain_ct)
    check_same_grid(pancreas_mask, plain_ct)
    classifier = classifier or default_pipeline().classifier
    hu, lesion, working = to_working(plain_ct, lesion_mask)
    gland = mask_on_working(pancreas_mask, working)  # the CT is resampled once, above
    return classifier.predict_proba(stage3.lesion_features(hu, lesion, gland))[0]


# The chained pipeline lives in its own modules; re-exported so notebooks import it from here.
from .pipeline_cache import default_pipeline, make_pipeline  # noqa: E402, F401
from .pipeline_model import (  # noqa: E402, F401
    GridMismatchError,
    NotFittedError,
    Pipeline,
    PipelineResult,
    check_same_grid,
    mask_on_working,
    to_working,
)
