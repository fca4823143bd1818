"""Stage 1: find the pancreas on a plain CT (notebook 04)::

    from helpers.pipeline.stage1 import segment_pancreas
    mask = segment_pancreas(plain_ct)   # SimpleITK uint8 image, 1 = pancreas, input's grid

* :mod:`.atlas`: multi-atlas segmentation (the default method);
* :mod:`.voxel_classifier`: a random forest over scikit-image's voxel features;
* :mod:`.segment`: the input checks, the default models and the shared clean-up.

Not for clinical use.
"""

from ...checks import MIN_COVERAGE_MM, PLAUSIBLE_ML, NotCTError
from .segment import (
    DEFAULT_METHOD,
    METHODS,
    MIN_ATLAS_SIMILARITY,
    N_LABELLED,
    THRESHOLDS,
    TRAINING_MASK_OPTIONS,
    PancreasNotFoundError,
    Stage1Result,
    check_coverage,
    check_ct_like,
    check_result,
    clean_mask,
    default_atlases,
    default_classifier,
    reframe,
    reframe_case,
    run_stage1,
    segment_pancreas,
    stage1_settings,
    training_mask_settings,
)

__all__ = ["DEFAULT_METHOD", "METHODS", "MIN_ATLAS_SIMILARITY", "MIN_COVERAGE_MM",
           "N_LABELLED", "NotCTError", "PLAUSIBLE_ML", "PancreasNotFoundError", "Stage1Result",
           "THRESHOLDS", "TRAINING_MASK_OPTIONS", "check_coverage", "check_ct_like",
           "check_result", "clean_mask", "default_atlases", "default_classifier", "reframe",
           "reframe_case", "run_stage1", "segment_pancreas", "stage1_settings",
           "training_mask_settings"]
