"""Stage 2: is there a lesion in this pancreas, and where? (notebooks 05 and 08)::

    from helpers.pipeline import default_pipeline
    from helpers.pipeline.stage2 import detect_lesion
    score, lesion = detect_lesion(plain_ct, mask, default_pipeline().detector)

* :mod:`.labels`: the training labels, drawn on the contrast scan and carried onto the plain
  scan by registration (PANDA's key idea);
* :mod:`.features`: the voxel features around the pancreas;
* :mod:`.table`: training patients as one table of voxels;
* :mod:`.boosted`: the gradient-boosted voxel model, its thresholds and :class:`Detector`;
* :mod:`.unet`, :mod:`.unet_training`, :mod:`.unet_figures`: the same stage as a small neural
  network (notebook 08; PyTorch and MONAI are an optional extra, imported on first use).

Not for clinical use.
"""

import SimpleITK as sitk

from ..grid import as_image, to_input_grid, to_working
from ..stage_inputs import EmptyPancreasError, check_inputs
from .boosted import Detector, fit_detector
from .labels import IMAGES, LABEL_SOURCES, lesion_labels
from .table import TrainingData, training_data


def detect_lesion(plain_ct: sitk.Image, pancreas_mask: sitk.Image, detector, *,
                  with_map: bool = False):
    """Stage 2: ``(score, lesion_mask)`` for a plain CT and its pancreas mask (with
    ``with_map``: and the P(lesion) map, an image on the 3 mm working grid).

    ``score`` is the case-level abnormality (0..1); ``lesion_mask`` a uint8 image on the
    input's grid, empty when the score is below the detector's operating threshold (chosen
    on training patients). ``detector``: a fitted :class:`.boosted.Detector` (the default
    pipeline's is ``helpers.pipeline.default_pipeline().detector``) or the network's
    :class:`.unet.UNetDetector`. Raises :class:`helpers.checks.NotCTError` for a scan that is
    not a CT in HU (e.g. raw stored values), :class:`helpers.checks.ScanTooLargeError` for
    one whose working grid would not fit in memory, :class:`helpers.checks.GridMismatchError`
    when the mask is on another grid and
    :class:`helpers.pipeline.stage_inputs.EmptyPancreasError` when it is empty.
    """
    check_inputs(plain_ct, pancreas_mask)
    hu, gland, working = to_working(plain_ct, pancreas_mask)
    score, lesion, probability = detector.detect(hu, gland)
    lesion = to_input_grid(as_image(lesion, working), plain_ct)
    return (score, lesion, as_image(probability, working)) if with_map else (score, lesion)


__all__ = ["IMAGES", "LABEL_SOURCES", "Detector", "EmptyPancreasError", "TrainingData",
           "detect_lesion",
           "fit_detector", "lesion_labels", "training_data"]
