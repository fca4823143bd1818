"""The toy three-stage pipeline (PANDA's idea at teaching scale), notebooks 04-08::

    from helpers.pipeline import default_pipeline
    from helpers.pipeline.stage1 import segment_pancreas
    from helpers.pipeline.stage2 import detect_lesion
    from helpers.pipeline.stage3 import classify_subtype
    model = default_pipeline()                                      # all three, fitted
    mask = segment_pancreas(plain_ct)                               # stage 1: the pancreas
    score, lesion = detect_lesion(plain_ct, mask, model.detector)   # stage 2: 0..1, a mask
    probs = classify_subtype(plain_ct, lesion, model.classifier)    # stage 3: {"PDAC": ..}
    result = model.predict(plain_ct)                                # chained: PipelineResult

Folders and modules, from the bottom up (:data:`LAYERS`; each imports only from its own
layer or those below it, which ``tests/test_structure.py`` checks):

1. :mod:`.grid` (the 3 mm working grid every stage runs on), :mod:`.stage_inputs` (what
   stages 2 and 3 check and measure in their inputs), :mod:`.contrast_check` (is the scan
   plain CT? checked before stage 1);
2. :mod:`.stage1`: the pancreas (``segment_pancreas``);
3. :mod:`.stage2`: the lesion (``detect_lesion``): labels, features, the boosted detector and
   the small neural network of notebook 08;
4. :mod:`.stage3`: the subtype (``classify_subtype``);
5. :mod:`.chain`: the chained :class:`Pipeline`;
6. :mod:`.stage1_cache`: stage 1's masks of whole cohorts, cached as bits;
   :mod:`.training_cache`: the pipeline's training data, cached; :mod:`.unet_cache`: the
   network's;
7. :mod:`.detectors`: stage 2's seam, the interface every stage-2 detector has
   (``StageTwoDetector``) and the registry of those the default pipeline can use (a new
   detector: one module in :mod:`.stage2` and one entry there);
8. :mod:`.default`: the default pipeline; :mod:`.evaluation`: Dice, ROC, AUC, per-size
   sensitivity, one row per patient; :mod:`.screening`: sensitivity and specificity in a
   screened population;
9. :mod:`.end_to_end` (notebook 07's table), :mod:`.contest` (notebook 08's: each stage 2
   behind stage 1 on three cohorts), the figures (:mod:`.outline_figures`,
   :mod:`.detection_figures`, :mod:`.subtype_figures`) and notebook 07's reader study
   (:mod:`.reader_study`, :mod:`.reader_model`, :mod:`.reader_compare`,
   :mod:`.reader_figures`, :mod:`.reader_widget`);
10. :mod:`.warmup`: builds every slow cache ahead of time.

Not for clinical use.
"""

from ..checks import (
    ContrastPhaseError,
    EmptyMaskError,
    GlandTooSmallError,
    GridMismatchError,
    InputError,
    NotCTError,
    ScanTooLargeError,
)
from .chain import NotFittedError, Pipeline, PipelineResult
from .contrast_check import measure_blood_pool
from .default import DEFAULT_STAGE3_OUTLINES, default_pipeline, make_pipeline
from .end_to_end import end_to_end_rows
from .evaluation import measure
from .stage1 import PancreasNotFoundError, run_stage1, segment_pancreas
from .stage2 import detect_lesion
from .stage3 import classify_subtype
from .stage_inputs import EmptyLesionError, EmptyPancreasError

LAYERS = (
    ("grid", "stage_inputs", "contrast_check"),
    ("stage1",),
    ("stage2",),
    ("stage3",),
    ("chain",),
    ("stage1_cache", "training_cache", "unet_cache"),
    ("detectors",),
    ("default", "evaluation", "screening"),
    ("end_to_end", "contest", "outline_figures", "detection_figures", "subtype_figures",
     "reader_study", "reader_model", "reader_compare", "reader_figures", "reader_widget"),
    ("warmup",),
)

__all__ = ["ContrastPhaseError", "DEFAULT_STAGE3_OUTLINES", "EmptyLesionError",
           "EmptyMaskError", "EmptyPancreasError", "GlandTooSmallError", "GridMismatchError",
           "InputError", "LAYERS", "NotCTError", "NotFittedError", "PancreasNotFoundError",
           "Pipeline", "PipelineResult", "ScanTooLargeError", "classify_subtype",
           "default_pipeline", "detect_lesion", "end_to_end_rows", "make_pipeline", "measure",
           "measure_blood_pool", "run_stage1", "segment_pancreas"]
