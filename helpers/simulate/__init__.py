"""Virtual patients: real native CT + simulated contrast, lesions and breathing motion.

No public, offline dataset has one patient scanned plain *and* with contrast, with lesion
masks. So this package builds **virtual patients** from the real native CT in the registry
(``totalsegmentator_example_ct_sm`` and its TotalSegmentator labels), with exact ground truth.

Public API
----------
``simulate_phase(native_ct, labels, phase, rng)``
    One contrast phase (:data:`PHASES`) of a real native CT.
``insert_lesion(images, labels, subtype, rng, ...)``
    Put a lesion of a subtype in :data:`SUBTYPES` into the pancreas; returns the exact mask.
``make_case(seed, subtype=None, ...) -> VirtualCase``
    One virtual patient: a plain scan and a contrast scan (moved by breathing), masks on
    each grid, the true plain -> contrast transform and corresponding landmarks.
``make_cohort(n, seed, ...)``, ``named_cohort(name, n=None)`` -> list[VirtualCase]
    Many patients, built on both cores and kept in memory for reuse; a named cohort is
    one of :mod:`helpers.cohorts`, checked to share no patient with any other.
``inverse_transform(case)``, ``case_conspicuity(case, scan)``, ``patient_table(cases)``
    The numerical contrast -> plain transform; a lesion's CNR; a summary table.
``contrast_by_fat(scales, seeds)``
    Each subtype's plain-scan contrast against the gland as the gland's fat changes.

Modules, from the bottom up: :mod:`.gland` (the pancreas as parenchyma plus fat, a fat
scale per patient), :mod:`.phases` (contrast enhancement, noise), :mod:`.lesions`
(subtypes, appearance, conspicuity), :mod:`.lesion_shape` (placement, outline, mass effect),
:mod:`.motion` (anatomy variation, breathing), :mod:`.secondary_signs` (the dilated duct,
upstream atrophy, contour change),
:mod:`.case` (one case from a seed), :mod:`.insert` (a lesion into any scan) and
:mod:`.patients` (cases and cohorts, cached).

What is real: the native CT's anatomy, texture and noise level, and (at fat scale 1) its
fatty gland. What is simulated: the gland's fat content, the anatomy variation, the contrast
enhancement, the lesions, the noise and the motion.
Not for clinical use.
"""

from . import gland
from .case import CASE_VERSION, CT_SAMPLE, LABEL_SAMPLE, VirtualCase, load_base, prepare_base
from .insert import InsertedLesion, insert_lesion
from .lesion_shape import LesionShape, choose_center
from .lesions import (
    APPEARANCE,
    SUBTYPE_NAMES,
    SUBTYPES,
    LesionDoesNotFitError,
    appearance_table,
    conspicuity,
)
from .motion import MOTION_LEVELS
from .patients import (
    case_conspicuity,
    cohort_plan,
    contrast_by_fat,
    inverse_transform,
    make_case,
    make_cohort,
    named_cohort,
    patient_table,
)
from .phases import ENHANCEMENT, PHASES, enhancement_table, measure_noise, simulate_phase

__all__ = ["APPEARANCE", "CASE_VERSION", "CT_SAMPLE", "ENHANCEMENT", "LABEL_SAMPLE", "gland",
           "MOTION_LEVELS", "PHASES", "SUBTYPES", "SUBTYPE_NAMES", "InsertedLesion",
           "LesionDoesNotFitError", "LesionShape", "VirtualCase", "appearance_table",
           "case_conspicuity", "choose_center", "contrast_by_fat", "cohort_plan", "patient_table",
           "conspicuity",
           "enhancement_table", "insert_lesion", "inverse_transform", "load_base", "prepare_base",
           "make_case", "make_cohort", "measure_noise", "named_cohort", "simulate_phase"]
