"""The toy three-stage pipeline (PANDA's idea at teaching scale), notebooks 04-07::

    from helpers.pipeline import segment_pancreas, detect_lesion, classify_subtype
    mask = segment_pancreas(plain_ct)                    # stage 1: the pancreas
    score, lesion = detect_lesion(plain_ct, mask)        # stage 2: 0..1, lesion mask
    probs = classify_subtype(plain_ct, lesion)           # stage 3: {"PDAC": .., ...}
    result = default_pipeline().predict(plain_ct)        # all three, a PipelineResult

Modules, from the bottom up (each imports only those above it in this list):

* :mod:`.grid`: the 3 mm working grid every stage runs on;
* :mod:`.atlas`, :mod:`.voxel_classifier`: stage 1's two methods;
* :mod:`.stage1`: stage 1's input checks, default models and ``segment_pancreas``;
* :mod:`.contrast_check`: is the scan plain CT? Its blood pool's HU, checked before stage 1;
* :mod:`.features`, :mod:`.stage2`: stage 2's voxel features, labels and detector;
* :mod:`.stage3`: stage 3's lesion features and subtype classifier;
* :mod:`.model`: the chained :class:`Pipeline`;
* :mod:`.training`: its training data, cached; :mod:`.default`: the default pipeline;
* :mod:`.evaluation`: Dice, ROC, AUC, per-size sensitivity, one row per patient;
* :mod:`.screening`: what sensitivity and specificity mean for a screened population;
* :mod:`.stage_figures`, :mod:`.patient_figures`: figures;
* :mod:`.reader_study`, :mod:`.reader_model`, :mod:`.reader_compare`, :mod:`.reader_figures`,
  :mod:`.reader_widget`: notebook 07's reader study (a student's ratings against the model's
  scores on the same never-seen patients);
* :mod:`.unet`, :mod:`.unet_data`, :mod:`.unet_training`, :mod:`.unet_figures`: stage 2 as a
  small neural network (notebook 08; PyTorch and MONAI are an optional extra, imported on first
  use, so nothing here needs them): ``default_pipeline(detector="unet")``;
* :mod:`.warmup`: builds every slow cache ahead of time.

Not for clinical use.
"""

from ..checks import (
    ContrastPhaseError,
    EmptyMaskError,
    GlandTooSmallError,
    GridMismatchError,
    InputError,
    ScanTooLargeError,
)
from .contrast_check import measure_blood_pool
from .default import (
    DEFAULT_STAGE3_OUTLINES,
    classify_subtype,
    default_pipeline,
    detect_lesion,
    end_to_end_rows,
    make_pipeline,
)
from .evaluation import measure
from .features import EmptyPancreasError
from .model import NotFittedError, Pipeline, PipelineResult
from .stage1 import NotCTError, PancreasNotFoundError, run_stage1, segment_pancreas
from .stage3 import EmptyLesionError

__all__ = ["ContrastPhaseError", "DEFAULT_STAGE3_OUTLINES", "EmptyLesionError",
           "EmptyMaskError", "EmptyPancreasError", "GlandTooSmallError", "GridMismatchError",
           "InputError", "NotCTError",
           "NotFittedError", "PancreasNotFoundError", "Pipeline", "PipelineResult",
           "ScanTooLargeError", "classify_subtype", "default_pipeline",
           "detect_lesion", "end_to_end_rows", "make_pipeline", "measure",
           "measure_blood_pool", "run_stage1", "segment_pancreas"]
