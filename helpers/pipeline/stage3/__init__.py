"""Stage 3: which kind of lesion is it? (notebook 06)::

    from helpers.pipeline import default_pipeline
    from helpers.pipeline.stage3 import classify_subtype
    probs = classify_subtype(plain_ct, lesion, default_pipeline().classifier)

* :mod:`.classifier`: the lesion features and the random forest over them;
* :mod:`.rows`: the training rows, in the lesions' label outlines or in stage 2's.

Not for clinical use.
"""

import SimpleITK as sitk

from ..grid import mask_on_working, to_working
from ..stage1 import segment_pancreas
from ..stage_inputs import EmptyLesionError, check_inputs
from .classifier import (
    SubtypeClassifier,
    feature_table,
    fit_subtype_classifier,
    lesion_feature_names,
    lesion_features,
)


def classify_subtype(plain_ct: sitk.Image, lesion_mask: sitk.Image, classifier,
                     pancreas_mask: sitk.Image | None = None) -> dict[str, float]:
    """Stage 3: probabilities over :data:`helpers.simulate.SUBTYPES` for one lesion.

    ``lesion_mask``: on the scan's grid, not empty
    (:class:`helpers.pipeline.stage_inputs.EmptyLesionError` otherwise). ``classifier``: a
    fitted :class:`.classifier.SubtypeClassifier` (the default pipeline's is
    ``helpers.pipeline.default_pipeline().classifier``). The gland's HU level is measured in
    ``pancreas_mask`` (default: stage 1's
    :func:`helpers.pipeline.stage1.segment_pancreas`). The scan and masks are checked first
    as in :func:`helpers.pipeline.stage2.detect_lesion` (an empty pancreas mask is refused
    too).
    """
    check_inputs(plain_ct, pancreas_mask, lesion_mask)
    if pancreas_mask is None:
        pancreas_mask = segment_pancreas(plain_ct)
    hu, lesion, working = to_working(plain_ct, lesion_mask)
    gland = mask_on_working(pancreas_mask, working)  # the CT is resampled once, above
    return classifier.predict_proba(lesion_features(hu, lesion, gland))[0]


__all__ = ["EmptyLesionError", "SubtypeClassifier", "classify_subtype", "feature_table",
           "fit_subtype_classifier", "lesion_feature_names", "lesion_features"]
