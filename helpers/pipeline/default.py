"""The default trained pipeline (notebooks 05-08)::

    from helpers.pipeline import default_pipeline
    result = default_pipeline().predict(plain_ct)        # stages 1 -> 2 -> 3, a PipelineResult

:func:`make_pipeline` fits a :class:`helpers.pipeline.chain.Pipeline` of any settings on the
cached training data of :mod:`.training_cache` (models refitted deterministically in seconds);
:func:`default_pipeline` is the one the notebooks use. Not for clinical use.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from . import detectors
from .chain import Pipeline
from .training_cache import (
    cached_detected_rows,
    cached_out_of_fold_maps,
    cached_training_table,
    detector_settings,
    table_key,
    training_key,
)

# The default pipeline's stage 3 also learns from stage 2's outlines of the training lesions:
# on the validation cohort's lesions as stage 2 outlined them, balanced accuracy 0.66 -> 0.80
# (3 seeds), at 0.78 -> 0.71 on their exact outlines (benchmarks/stage3_outlines.py; the
# held-out figures are in benchmarks/pipeline.py's output).
DEFAULT_STAGE3_OUTLINES = "labels+stage2"
# The default pipeline's stage 2 trains on the masks stage 1 finds, as it is used when chained.
DEFAULT_TRAINING_PANCREAS = "stage1"
# The settings the default pipeline is fitted with (make_pipeline's keywords).
DEFAULT_SETTINGS = {"training_pancreas": DEFAULT_TRAINING_PANCREAS,
                    "stage3_outlines": DEFAULT_STAGE3_OUTLINES}
# Stage 2's choices (gradient boosting over hand-made features, notebook 05; the small neural
# network of notebook 08, ...) are the registry of helpers.pipeline.detectors.


def make_pipeline(seed: int = 0, progress: bool = False, use_cache: bool = True, *,
                  motion: str = "typical", extra_lesions: bool = True,
                  **settings) -> Pipeline:
    """A pipeline with ``settings`` (label_source, image, training_pancreas, stage3_outlines)
    fitted on the training patients (:func:`.training_cache.training_patients`: the training cohort
    and, unless ``extra_lesions=False``, the lesions of the cohort "stage3 training"; data
    cached, models refitted deterministically). With ``stage3_outlines="labels+stage2"``
    stage 3 also learns those lesions in stage 2's outlines (:func:`cached_detected_rows`).
    ``motion="hard"``: train on the same patients scanned with larger breathing motion."""
    pipeline = Pipeline(seed=seed, **settings)
    table, lesion_x, lesion_y = cached_training_table(pipeline, progress, use_cache, motion,
                                                      extra_lesions)
    maps = cached_out_of_fold_maps(pipeline, table, motion, extra_lesions, use_cache)
    pipeline.fit_stage2(table, maps)
    if pipeline.stage3_outlines == "labels+stage2":
        more_x, more_y = cached_detected_rows(pipeline, table,
                                              pipeline.detector.voxel_threshold, maps,
                                              extra_lesions, progress, use_cache, motion)
        lesion_x = np.concatenate([lesion_x, more_x])
        lesion_y = np.concatenate([lesion_y, more_y])
    return pipeline.fit_stage3(lesion_x, lesion_y)


def default_pipeline(seed: int = 0, detector: str = detectors.DEFAULT) -> Pipeline:
    """The default pipeline: registration-transferred labels, plain CT, stage 1's pancreas
    masks at training as at prediction (a detector trained on reference masks called healthy
    scans abnormal when handed stage 1's: benchmarks/foreign.py), stage 3 also learning every
    training lesion in the outline stage 2 reports for it (what it is handed when chained);
    fitted once per process (see :func:`make_pipeline`).

    ``detector``: a name of the stage-2 registry (:func:`.detectors.detector_names`; an
    unknown one is refused with the list). ``"boosted"`` (the default) is the pipeline's own
    stage 2; any other gives the same stages 1 and 3 with that detector as stage 2
    (``predict`` gives the same result fields). ``detector="unet"``: notebook 08's neural
    network (:func:`helpers.pipeline.unet_cache.warm_unet`: trained on the same registered
    labels, cached); without PyTorch it raises
    :class:`helpers.pipeline.stage2.unet.DeepExtraMissing`, naming the command that installs it,
    before anything is fitted. Like the boosted detector, the network learnt inside stage 1's
    masks of its training patients (``UNetSettings.training_pancreas``), the masks it is
    given when chained; notebook 07's end-to-end table and notebook 08's contest
    (:mod:`.contest`) count the false alarms of each behind stage 1."""
    detectors.require(detector)  # fails early, naming what to install, when it cannot run
    return fitted_default(int(seed), detector)


@functools.lru_cache(maxsize=4)
def fitted_default(seed: int, detector: str) -> Pipeline:
    """:func:`default_pipeline`, fitted once per process and per ``(seed, detector)``. The
    default detector is fitted with stages 1 and 3 by :func:`make_pipeline`; every other is
    its registry entry's ``build(seed)`` in place of it (sharing the default's stages 1 and
    3)."""
    build = detectors.get(detector).build
    if build is None:  # the default pipeline's own stage 2 (detectors.DEFAULT)
        return make_pipeline(seed, **DEFAULT_SETTINGS)
    return dataclasses.replace(fitted_default(seed, detectors.DEFAULT), detector=build(seed))


def default_detector_fingerprint(seed: int = 0) -> dict:
    """What decides the default pipeline's own stage 2 (:data:`DEFAULT_SETTINGS`, fitted by
    :func:`make_pipeline`): its training table's key and its fit settings, for caches of
    results computed with it (:mod:`.contest`)."""
    pipeline = Pipeline(seed=seed, **DEFAULT_SETTINGS)
    return {"training": table_key(training_key(pipeline, "typical", True)),
            "fit": detector_settings(seed)}


default_pipeline.cache_clear = fitted_default.cache_clear  # refit from scratch (benchmarks)
