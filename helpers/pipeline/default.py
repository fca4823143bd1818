"""The default trained pipeline, and stages 2 and 3 one at a time (notebooks 05-07)::

    from helpers.pipeline import default_pipeline, detect_lesion, classify_subtype
    score, lesion = detect_lesion(plain_ct, mask)        # 0..1, lesion mask (maybe empty)
    probs = classify_subtype(plain_ct, lesion)           # {"PDAC": .., "PNET": .., ...}
    result = default_pipeline().predict(plain_ct)        # stages 1 -> 2 -> 3, a PipelineResult

:func:`make_pipeline` fits a :class:`helpers.pipeline.model.Pipeline` of any settings on the
cached training data of :mod:`.training` (models refitted deterministically in seconds);
:func:`default_pipeline` is the one the notebooks use. Not for clinical use.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import SimpleITK as sitk

from . import evaluation, unet
from .grid import as_image, mask_on_working, to_input_grid, to_working
from .model import Pipeline, check_inputs
from .stage1 import segment_pancreas
from .stage2 import check_choice
from .stage3 import lesion_features
from .training import cached_detected_rows, cached_out_of_fold_maps, cached_training_table
from .unet_training import warm_unet

# The default pipeline's stage 3 also learns from stage 2's outlines of the training lesions:
# on the validation cohort's lesions as stage 2 outlined them, balanced accuracy 0.66 -> 0.80
# (3 seeds), at 0.78 -> 0.71 on their exact outlines (benchmarks/stage3_outlines.py; the
# held-out figures are in benchmarks/pipeline.py's output).
DEFAULT_STAGE3_OUTLINES = "labels+stage2"
# The default pipeline's stage 2 trains on the masks stage 1 finds, as it is used when chained.
DEFAULT_TRAINING_PANCREAS = "stage1"
# Stage 2's choices: gradient boosting over hand-made features (notebook 05), or the small
# neural network of notebook 08 (needs the optional extra, requirements-deep.txt).
DETECTORS = ("boosted", "unet")


def make_pipeline(seed: int = 0, progress: bool = False, use_cache: bool = True, *,
                  motion: str = "typical", extra_lesions: bool = True,
                  **settings) -> Pipeline:
    """A pipeline with ``settings`` (label_source, image, training_pancreas, stage3_outlines)
    fitted on the training patients (:func:`.training.training_patients`: the training cohort
    and, unless ``extra_lesions=False``, the lesions of the cohort "stage3 training"; data
    cached, models refitted deterministically). With ``stage3_outlines="labels+stage2"``
    stage 3 also learns those lesions in stage 2's outlines (:func:`cached_detected_rows`).
    ``motion="hard"``: train on the same patients scanned with larger breathing motion."""
    pipeline = Pipeline(seed=seed, **settings)
    table, lesion_x, lesion_y = cached_training_table(pipeline, progress, use_cache, motion,
                                                      extra_lesions)
    maps = cached_out_of_fold_maps(pipeline, table, motion, extra_lesions, use_cache)
    return pipeline.fit_data(table, lesion_x, lesion_y, lambda detector, maps: (
        cached_detected_rows(pipeline, table, detector, maps, extra_lesions, progress,
                             use_cache, motion)), maps=maps)


def default_pipeline(seed: int = 0, detector: str = "boosted") -> Pipeline:
    """The default pipeline: registration-transferred labels, plain CT, stage 1's pancreas
    masks at training as at prediction (a detector trained on reference masks called healthy
    scans abnormal when handed stage 1's: benchmarks/foreign.py), stage 3 also learning every
    training lesion in the outline stage 2 reports for it (what it is handed when chained);
    fitted once per process (see :func:`make_pipeline`).

    ``detector="unet"``: the same stages 1 and 3 with notebook 08's neural network as stage 2
    (:func:`helpers.pipeline.unet_training.warm_unet`: trained on the same registered labels,
    cached); ``predict`` gives the same result fields. Without PyTorch it raises
    :class:`helpers.pipeline.unet.DeepExtraMissing`, naming the command that installs it.
    The network learnt on the **reference** pancreas masks (notebook 08), not on stage 1's:
    chained behind stage 1 it raises false alarms on healthy never-seen patients (notebook 07's
    end-to-end table counts them), the failure the boosted detector showed before it was
    trained on stage 1's masks."""
    check_choice(detector, DETECTORS, "detector")
    if detector == "unet":
        unet.deep()  # fails early, with the install command, when the extra is missing
    return fitted_default(int(seed), detector)


@functools.lru_cache(maxsize=4)
def fitted_default(seed: int, detector: str) -> Pipeline:
    """:func:`default_pipeline`, fitted once per process and per ``(seed, detector)`` (the
    network's pipeline shares the boosted one's stages 1 and 3)."""
    if detector == "unet":
        return dataclasses.replace(fitted_default(seed, "boosted"),
                                   detector=warm_unet(progress=False))
    return make_pipeline(seed, training_pancreas=DEFAULT_TRAINING_PANCREAS,
                         stage3_outlines=DEFAULT_STAGE3_OUTLINES)


default_pipeline.cache_clear = fitted_default.cache_clear  # refit from scratch (benchmarks)


def end_to_end_row(name: str, model: Pipeline, cases, results=None) -> dict:
    """One summary row of a pipeline run end to end (stage 1's own masks) on ``cases``:
    lesions found in place, false alarms among the healthy, lesion Dice of the found ones.
    ``results`` (seed -> :class:`PipelineResult`) reuses predictions already made."""
    results = results or {}
    rows = [evaluation.patient_row(c.seed, results.get(c.seed) or model.predict(c.plain),
                                   c.lesion_plain, c.subtype, c.lesion_diameter_mm)
            for c in cases]
    lesion = [r for r in rows if r["truth"] != "healthy"]
    healthy = [r for r in rows if r["truth"] == "healthy"]
    dice = [r["lesion_dice"] for r in lesion if r["hit"]]
    return {"stage 2": name, "lesions found in place": f"{sum(r['hit'] for r in lesion)} of "
            f"{len(lesion)}", "false alarms": f"{sum(r['found'] for r in healthy)} of "
            f"{len(healthy)}", "median lesion Dice (found)": round(float(
                np.median(dice)), 3) if dice else float("nan")}


def end_to_end_rows(cases, seed: int = 0, boosted_results=None) -> list[dict]:
    """:func:`end_to_end_row` for each stage 2 of :data:`DETECTORS` (notebook 07's table);
    the network's row says how to install PyTorch when it is missing. ``boosted_results``
    (seed -> result) are the default pipeline's predictions, if already made."""
    rows = [end_to_end_row("boosted features (default)", default_pipeline(seed), cases,
                           boosted_results)]
    if unet.available():
        rows.append(end_to_end_row("neural network (notebook 08)",
                                   default_pipeline(seed, "unet"), cases))
    else:
        rows.append({"stage 2": "neural network (notebook 08)",
                     "lesions found in place": f"not run: PyTorch missing "
                     f"({unet.INSTALL_COMMAND})"})
    return rows


def detect_lesion(plain_ct: sitk.Image, pancreas_mask: sitk.Image, detector=None):
    """Stage 2: ``(score, lesion_mask)`` for a plain CT and its pancreas mask.

    ``score`` is the case-level abnormality (0..1); ``lesion_mask`` a uint8 image on the
    input's grid, empty when the score is below the detector's operating threshold (chosen
    on training patients). ``detector``: a fitted :class:`helpers.pipeline.stage2.Detector`
    (default: the default pipeline's). Raises :class:`helpers.checks.NotCTError` for a scan
    that is not a CT in HU (e.g. raw stored values), :class:`helpers.checks.ScanTooLargeError`
    for one whose working grid would not fit in memory,
    :class:`helpers.checks.GridMismatchError` when the mask is on another grid and
    :class:`helpers.pipeline.features.EmptyPancreasError` when it is empty.
    """
    check_inputs(plain_ct, pancreas_mask)
    detector = detector or default_pipeline().detector
    hu, gland, working = to_working(plain_ct, pancreas_mask)
    score, lesion, _ = detector.detect(hu, gland)
    return score, to_input_grid(as_image(lesion, working), plain_ct)


def classify_subtype(plain_ct: sitk.Image, lesion_mask: sitk.Image, classifier=None,
                     pancreas_mask: sitk.Image | None = None) -> dict[str, float]:
    """Stage 3: probabilities over :data:`helpers.simulate.SUBTYPES` for one lesion.

    ``lesion_mask``: on the scan's grid, not empty
    (:class:`helpers.pipeline.stage3.EmptyLesionError` otherwise). The gland's HU level is
    measured in ``pancreas_mask`` (default: stage 1's :func:`segment_pancreas`).
    ``classifier``: a fitted
    :class:`helpers.pipeline.stage3.SubtypeClassifier` (default: the default pipeline's).
    The scan and masks are checked first as in :func:`detect_lesion` (an empty pancreas mask
    is refused too).
    """
    check_inputs(plain_ct, pancreas_mask, lesion_mask)
    if pancreas_mask is None:
        pancreas_mask = segment_pancreas(plain_ct)
    classifier = classifier or default_pipeline().classifier
    hu, lesion, working = to_working(plain_ct, lesion_mask)
    gland = mask_on_working(pancreas_mask, working)  # the CT is resampled once, above
    return classifier.predict_proba(lesion_features(hu, lesion, gland))[0]

