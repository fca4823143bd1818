"""Registration: carry a lesion mask from the contrast scan onto the plain scan (notebook 03).

``register(fixed, moving, kind)`` finds the transform, ``warp_mask`` carries a mask with it,
``RegistrationRecorder`` records the metric per iteration, and ``evaluate_transfer`` grades
the result on a virtual patient whose true motion is known. Modules, from the bottom up:

* :mod:`.inputs`: checks of what is passed in, :class:`RegistrationInputError`;
* :mod:`.recorder`: the metric-versus-iteration recorder;
* :mod:`.warp`: carrying masks and images across;
* :mod:`.align`: the registration itself (rigid, affine, B-spline);
* :mod:`.grading`: lesion error and the full report on a virtual patient;
* :mod:`.figures`: checkerboards, blends and transferred-mask panels;
* :mod:`.study`: every method compared over a cohort, and "clearly better".
"""

from .align import CLAMP_HU, KINDS, crop_to_region, fade_out, register
from .figures import (
    alignment_slice,
    blend,
    checkerboard,
    crop_around,
    show_alignment,
    show_transfer,
)
from .grading import evaluate_transfer, lesion_error
from .inputs import RegistrationInputError, RegistrationNotCTError, overlap_fraction
from .recorder import RegistrationRecorder
from .warp import warp_image, warp_mask

__all__ = ["CLAMP_HU", "KINDS", "RegistrationInputError", "RegistrationNotCTError",
           "RegistrationRecorder",
           "alignment_slice", "blend", "checkerboard", "crop_around", "crop_to_region",
           "evaluate_transfer", "fade_out", "lesion_error", "overlap_fraction", "register",
           "show_alignment", "show_transfer", "warp_image", "warp_mask"]
