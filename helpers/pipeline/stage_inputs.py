"""What stages 2 and 3 check and measure in their inputs before any work.

:func:`check_inputs` refuses a scan or mask that would give a silent wrong answer, in the
words of the caller's arguments; :func:`gland_reference` is the gland's HU level, which both
stages' features are measured against. Not for clinical use.
"""

from __future__ import annotations

import numpy as np

from ..checks import EmptyMaskError, check_gland_size, check_mask, check_scan
from .grid import WORK_SPACING_MM


class EmptyPancreasError(EmptyMaskError):
    """The pancreas mask is empty, so there is nowhere to look for a lesion."""


class EmptyLesionError(EmptyMaskError):
    """The lesion mask is empty: there is nothing to classify."""


EMPTY_PANCREAS_HINT = ("there is no gland to search for a lesion. Check stage 1's result "
                       "(segment_pancreas) or pass a non-empty mask on the scan's grid.")
EMPTY_LESION_HINT = ("there is no lesion to classify. Run stage 2 first (detect_lesion) and "
                     "classify only when it found something.")


def check_inputs(scan, pancreas=None, lesion=None, pancreas_name: str = "pancreas mask",
                 lesion_name: str = "lesion mask") -> None:
    """The checks stages 2 and 3 make before any work, in the words of their arguments: the
    scan is a 3D CT in HU whose working grid fits in memory
    (:func:`helpers.checks.check_scan`), and each mask given is a binary mask on the scan's
    grid that is not empty (:class:`EmptyPancreasError`,
    :class:`EmptyLesionError`); a pancreas mask must be large enough to hold a
    gland, by stage 1's own rules (:func:`helpers.checks.check_gland_size`,
    :class:`helpers.checks.GlandTooSmallError`)."""
    check_scan(scan, "scan", resample_mm=WORK_SPACING_MM)
    if lesion is not None:
        check_mask(lesion, scan, lesion_name, empty_error=EmptyLesionError,
                   empty_hint=EMPTY_LESION_HINT)
    if pancreas is not None:
        check_mask(pancreas, scan, pancreas_name, empty_error=EmptyPancreasError,
                   empty_hint=EMPTY_PANCREAS_HINT)
        check_gland_size(pancreas, scan, pancreas_name)


def gland_reference(hu: np.ndarray, pancreas: np.ndarray) -> float:
    """The gland's typical HU: the median inside the pancreas mask (robust to a lesion that
    fills a minority of it). Raises :class:`EmptyPancreasError` for an empty
    mask."""
    pancreas = np.asarray(pancreas, bool)
    if not pancreas.any():
        raise EmptyPancreasError(f"the pancreas mask is empty: {EMPTY_PANCREAS_HINT}")
    return float(np.median(np.asarray(hu)[pancreas]))
