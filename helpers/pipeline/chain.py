"""The chained toy pipeline: stage 1 (pancreas) -> stage 2 (lesion?) -> stage 3 (subtype).

Import it from :mod:`helpers.pipeline`::

    from helpers.pipeline import default_pipeline
    result = default_pipeline().predict(plain_ct)     # PipelineResult
    result.score, result.subtype_probs                 # 0..1, {"PDAC": ..., ...}

``Pipeline(label_source=..., image=...)`` is fitted on virtual patients with
:meth:`Pipeline.fit` (or stage by stage, :meth:`Pipeline.fit_stage2` and
:meth:`Pipeline.fit_stage3`, on data already built, e.g. from the cache of
:mod:`.training_cache`; with ``stage3_outlines="labels+stage2"`` stage 3 also learns the
training lesions as stage 2 outlines them, :func:`.stage3.rows.detected_lesion_rows`).
Training uses the **reference** pancreas by default (``training_pancreas="stage1"`` trains on
stage 1's masks instead); prediction finds the pancreas with stage 1
(:func:`helpers.pipeline.stage1.segment_pancreas`) unless a mask is given. Not for clinical use.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from .. import workers
from ..checks import check_choice
from .contrast_check import check_plain_ct
from .grid import as_image, to_input_grid, to_working
from .stage1 import TRAINING_MASK_OPTIONS, default_atlases, segment_pancreas
from .stage2 import boosted
from .stage2.labels import IMAGES, LABEL_SOURCES
from .stage2.table import TrainingData, training_data
from .stage3 import SubtypeClassifier, fit_subtype_classifier, lesion_features
from .stage3.rows import detected_lesion_rows, lesion_training_rows
from .stage_inputs import check_inputs

TRAINING_PANCREAS = ("reference", "stage1")
# What stage 3 learns from: the lesions' label outlines only, or also the outlines stage 2
# reports for them, which is what stage 3 is handed when the stages are chained (stage 2's
# outlines run larger or smaller than the lesion, and that shifts every lesion feature).
STAGE3_OUTLINES = ("labels", "labels+stage2")


class NotFittedError(RuntimeError):
    """The pipeline was asked to predict before it was fitted."""


@dataclass
class PipelineResult:
    """What the pipeline found in one scan; masks on the input scan's grid (uint8)."""

    pancreas: sitk.Image
    lesion: sitk.Image  # empty when no lesion was found
    score: float  # case-level abnormality, 0..1
    subtype_probs: dict[str, float]  # empty when no lesion was found
    probability: sitk.Image | None = None  # stage 2's P(lesion) map on the 3 mm working grid
    seconds: float = 0.0
    # What the result cannot be trusted for, e.g. a contrast scan run with allow_contrast=True.
    warnings: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """True when stage 2 reported a lesion (score at or above the operating threshold)."""
        return bool(sitk.GetArrayViewFromImage(self.lesion).any())


def _stage1_mask(plain, method):
    return segment_pancreas(plain, method, **TRAINING_MASK_OPTIONS[method])


@dataclass
class Pipeline:
    """Stages 1-3 chained. ``label_source``: see :func:`.stage2.labels.lesion_labels`;
    ``image``: train (and predict) on "plain" or "contrast" CT; ``training_pancreas``:
    "reference" masks or "stage1" masks at training time; ``seed``: all randomness;
    ``stage3_outlines``: stage 3 learns from the lesions' label outlines ("labels") or also
    from the outlines stage 2 reports for them ("labels+stage2", see
    :func:`detected_lesion_rows`; out-of-fold for stage 2's own training patients)."""

    label_source: str = "registered"
    image: str = "plain"
    training_pancreas: str = "reference"
    seed: int = 0
    stage3_outlines: str = "labels"
    stage1_method: str = "atlas"
    # any stage-2 detector (helpers.pipeline.detectors.StageTwoDetector); fit: the boosted one
    detector: boosted.Detector | None = None
    classifier: SubtypeClassifier | None = None
    fit_seconds: float = field(default=0.0, repr=False)

    def __post_init__(self):
        check_choice(self.label_source, LABEL_SOURCES, "label_source")
        check_choice(self.image, IMAGES, "image")
        check_choice(self.training_pancreas, TRAINING_PANCREAS, "training_pancreas")
        check_choice(self.stage3_outlines, STAGE3_OUTLINES, "stage3_outlines")

    # ------------------------------------------------------------------ training
    def training_pancreas_masks(self, cases, progress: bool = False):
        """The plain-grid pancreas masks training uses for ``cases``: stage 1's for
        ``training_pancreas="stage1"`` on plain CT, else None (the reference masks)."""
        if self.uses_stage1_masks:
            default_atlases()  # assembled once here, so that the workers inherit them
            return workers.map_ordered(functools.partial(_stage1_mask, method=self.stage1_method),
                                       [c.plain for c in cases], desc="stage 1 masks",
                                       progress=progress)
        return None

    @property
    def uses_stage1_masks(self) -> bool:
        """True when training sees stage 1's pancreas masks instead of the reference ones."""
        return self.training_pancreas == "stage1" and self.image == "plain"

    def training_table(self, cases, progress: bool = False, masks=None):
        """``(TrainingData, lesion_x, lesion_subtypes)`` for ``cases`` with this pipeline's
        label source, image and training pancreas (the slow part: registration). ``masks``:
        the training pancreas masks when already known (else :meth:`training_pancreas_masks`)."""
        table, lesion_x, lesion_y, _ = self.training_data(cases, progress, masks)
        return table, lesion_x, lesion_y

    def training_data(self, cases, progress: bool = False, masks=None):
        """:meth:`training_table` plus the ``(hu, pancreas, label)`` arrays of every case."""
        cases = list(cases)
        check_mixed(cases)
        if masks is None:
            masks = self.training_pancreas_masks(cases, progress)
        table, items = training_data(cases, self.label_source, self.image, masks,
                                            progress)
        lesion_x, lesion_y = lesion_training_rows(items, table.subtypes)
        return table, lesion_x, lesion_y, items

    def fit(self, cases, progress: bool = False) -> Pipeline:
        """Fit stages 2 and 3 on virtual patients (stage 1 is the default of
        :mod:`helpers.pipeline.stage1`, fitted on its own labelled patients). Returns
        ``self``."""
        table, lesion_x, lesion_y, items = self.training_data(cases, progress)
        maps = boosted.out_of_fold_maps(table, self.seed)
        self.fit_stage2(table, maps)
        if self.stage3_outlines == "labels+stage2":
            more_x, more_y = detected_lesion_rows(items, table.subtypes, maps,
                                                  self.detector.voxel_threshold)
            lesion_x, lesion_y = (np.concatenate([lesion_x, more_x]),
                                  np.concatenate([lesion_y, more_y]))
        return self.fit_stage3(lesion_x, lesion_y)

    def fit_stage2(self, table: TrainingData, maps=None) -> Pipeline:
        """Fit stage 2 on ``table`` (deterministic). ``maps``: the training patients'
        out-of-fold probability maps when already known
        (:func:`.stage2.boosted.out_of_fold_maps` for this table and seed: they choose the
        thresholds, and the outlines stage 3 may learn from)."""
        start = time.perf_counter()
        maps = boosted.out_of_fold_maps(table, self.seed) if maps is None else maps
        self.detector = boosted.fit_detector(table, self.seed, maps=maps)
        self.fit_seconds += time.perf_counter() - start
        return self

    def fit_stage3(self, lesion_x, lesion_subtypes) -> Pipeline:
        """Fit stage 3 on lesion rows (:meth:`training_table`'s, plus, for
        ``stage3_outlines="labels+stage2"``, those measured in stage 2's outlines:
        :func:`.stage3.rows.detected_lesion_rows`); deterministic."""
        start = time.perf_counter()
        self.classifier = fit_subtype_classifier(lesion_x, lesion_subtypes, self.seed)
        self.fit_seconds += time.perf_counter() - start
        return self

    # ------------------------------------------------------------------ prediction
    def check_fitted(self) -> None:
        if self.detector is None or self.classifier is None:
            raise NotFittedError("this Pipeline has not been fitted yet: call "
                                 ".fit(cases) with virtual patients first, or use "
                                 "helpers.pipeline.default_pipeline() for a trained one")

    def predict_arrays(self, hu: np.ndarray, pancreas: np.ndarray):
        """Stages 2-3 on working-grid arrays: ``(score, lesion, subtype_probs, probability)``."""
        self.check_fitted()
        score, lesion, probability = self.detector.detect(hu, pancreas)
        probs = {}
        if lesion.any():
            probs = self.classifier.predict_proba(lesion_features(hu, lesion, pancreas))[0]
        return score, lesion, probs, probability

    def predict(self, scan: sitk.Image, pancreas: sitk.Image | None = None, *,
                allow_contrast: bool = False) -> PipelineResult:
        """Run the chain on one scan (a plain CT, or a contrast CT for ``image="contrast"``).

        ``pancreas``: a mask on the scan's grid to use instead of stage 1 (e.g. the reference,
        to study stage 2 alone). Raises :class:`NotFittedError` before :meth:`fit`,
        :class:`helpers.checks.NotCTError` for a scan that is not a CT in HU (also raw stored
        values, with or without a mask), :class:`helpers.checks.ScanTooLargeError` for one
        whose working grid would not fit in memory,
        :class:`helpers.checks.GridMismatchError` for a mask on another grid,
        :class:`helpers.pipeline.stage_inputs.EmptyPancreasError` for an empty mask and
        :class:`helpers.checks.GlandTooSmallError` for one too small to hold a gland. A
        pipeline of plain CT raises :class:`helpers.checks.ContrastPhaseError` for a scan
        whose blood is contrast-enhanced (:mod:`.contrast_check`), before stage 1;
        ``allow_contrast=True`` runs it anyway and records the warning in
        ``result.warnings``.
        """
        self.check_fitted()
        check_inputs(scan, pancreas)
        start = time.perf_counter()
        notes = []
        if self.image == "plain":  # a pipeline of contrast CT is meant for contrast scans
            note = check_plain_ct(scan, allow_contrast=allow_contrast)
            notes += [note] if note else []
        if pancreas is None:
            pancreas = segment_pancreas(scan, self.stage1_method)
        hu, gland, working = to_working(scan, pancreas)
        score, lesion, probs, probability = self.predict_arrays(hu, gland)
        lesion_image = to_input_grid(as_image(lesion, working), scan)
        return PipelineResult(sitk.Cast(pancreas > 0, sitk.sitkUInt8), lesion_image, score,
                              probs, as_image(probability, working),
                              time.perf_counter() - start, notes)


def check_mixed(cases) -> None:
    """Raise a clear error unless the cohort holds both healthy and lesion patients."""
    if not cases:
        raise ValueError("no training patients given; pass virtual patients, e.g. "
                         "helpers.simulate.make_cohort(40, seed=1)")
    kinds = {c.subtype is None for c in cases}
    if len(kinds) < 2:
        what = "healthy" if kinds == {True} else "lesion"
        raise ValueError(f"all {len(cases)} training patients are {what} cases: stage 2 needs "
                         "both healthy and lesion patients to learn what is abnormal. Use a "
                         "mixed cohort, e.g. helpers.simulate.make_cohort(n, seed) (half "
                         "healthy by default).")
