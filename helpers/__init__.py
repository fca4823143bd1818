"""Shared helpers for the plain-CT cancer-detection teaching series. Not for clinical use.

The package follows the data's way through the course. Each layer imports only from the
layers below it, never up (``tests/test_structure.py`` checks this, and that there is no
import cycle):

===================  =====================================================================
layer                what it does
===================  =====================================================================
``exercises``        instant feedback for each notebook's exercises (``nb00`` ... ``nb08``)
``pipeline``         PANDA's three stages at toy scale: pancreas, lesion, subtype; training
                     data, evaluation, figures (notebooks 04-07); stage 2 as a neural
                     network (notebook 08, optional PyTorch extra)
``registration``     carrying a lesion mask from the contrast scan onto the plain scan,
                     grading it, comparing methods (notebook 03)
``simulate``         virtual patients: contrast phases, lesions, breathing motion, cohorts
                     (notebook 02)
``data``, ``dicom``  data in: the sample registry and safe fetching; reading DICOM series
                     (notebooks 00-01)
shared base          ``display`` (orientation, windows, figures, the viewer), ``geometry``,
                     ``metrics``, ``checks`` (input checks and error classes), ``cache``
                     (the one on-disk cache), ``cohorts`` (the one cohort table), ``course``
                     (the course map), ``workers`` (independent jobs on both cores)
===================  =====================================================================

Where a new helper goes: into the lowest layer whose names it needs, in the module of its job
(a figure of stage 2 into ``pipeline/detection_figures.py``, a new check into ``checks.py``).
Subpackages are imported on demand (``from helpers import data``), so ``python -m helpers.data``
runs cleanly.
"""

__version__ = "0.1.0"

# From the bottom up; a module may import from its own layer (no cycles) and from lower ones.
LAYERS = (
    ("base", ("cache", "cache_layout", "checks", "cohorts", "course", "geometry", "metrics",
              "display", "workers")),
    ("data in", ("data", "dicom")),
    ("virtual patients", ("simulate",)),
    ("registration", ("registration",)),
    ("pipeline", ("pipeline",)),
    ("exercises", ("exercises",)),
)
