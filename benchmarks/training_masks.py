"""Stage 1's masks of the training patients, cheaper: what they cost, and what it changes.

Run from the repository root: ``.venv/bin/python benchmarks/training_masks.py [--n 12] [--auc]``.

The default pipeline's stages 2 and 3 learn on stage 1's pancreas masks of their 160 training
patients: six affine atlas registrations per patient, the largest step of the warm-up (issue
31). This prints, on ``--n`` training patients spread over the cohort, for each cheaper
variant: CPU seconds per patient, Dice with the full-resolution masks and the change in lesion
coverage (the share of each lesion inside the mask). The variant in use is
``helpers.pipeline.stage1.TRAINING_MASK_OPTIONS``.

``--auc`` then fits the default pipeline twice, on full-resolution and on the variant's
training masks, and prints AUC (95 % bootstrap interval), operating sensitivity and
specificity on the cohorts "validation" and "foreign validation" (which choices may look at)
and "held-out" and "foreign" (which none may). Stage 1 at prediction is the same for both, so
each patient's stage-1 mask is found once and handed to both pipelines. Not a timed test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import SimpleITK as sitk

from helpers import workers
from helpers.metrics import dice
from helpers.pipeline import evaluation, stage1
from helpers.pipeline.default import (
    DEFAULT_STAGE3_OUTLINES,
    DEFAULT_TRAINING_PANCREAS,
    make_pipeline,
)
from helpers.pipeline.stage1 import segment_pancreas
from helpers.pipeline.stage1.segment import default_atlases
from helpers.pipeline.stage1_cache import stage1_mask_or_none
from helpers.pipeline.training_cache import training_patients
from helpers.simulate.foreign import foreign_cohort
from helpers.simulate.patients import named_cohort

FULL = {}  # the registration's defaults: two levels, half then full resolution
VARIANTS = {"6 atlases, full resolution": dict(FULL),
            "3 atlases, >= 1 vote": {"atlases": 3},
            "4 atlases, >= 2 votes": {"atlases": 4},
            "one level at 1/4 (shrink (4,))": {"shrink": (4,)},
            "two levels, 1/4 then 1/2 (shrink (4, 2))": {"shrink": (4, 2)}}
COHORTS = ("validation", "foreign validation", "held-out", "foreign")


def as_array(mask) -> np.ndarray:
    return sitk.GetArrayFromImage(mask) > 0


def variant_rows(cases) -> None:
    """One line per variant: CPU s per patient, Dice with the first variant's masks (full
    resolution) and the change in lesion coverage."""
    atlases, reference = default_atlases(), None
    for name, options in VARIANTS.items():
        options = dict(options)
        if "atlases" in options:
            options["atlases"] = atlases[:options["atlases"]]
        start = time.process_time()
        found = [as_array(segment_pancreas(case.plain, **options)) for case in cases]
        cpu = (time.process_time() - start) / len(cases)
        reference = reference or found
        dices = [dice(a, r) for a, r in zip(found, reference, strict=True)]
        coverage = []
        for case, a, r in zip(cases, found, reference, strict=True):
            lesion = as_array(case.lesion_plain)
            if lesion.any():
                coverage.append(((a & lesion).sum() - (r & lesion).sum()) / lesion.sum())
        print(f"{name:42s} {cpu:5.2f} CPU s/patient  Dice median {np.median(dices):.3f} "
              f"(min {np.min(dices):.3f})  lesion coverage change median "
              f"{np.median(coverage) if coverage else float('nan'):+.3f}", flush=True)


def scores(model, cases, masks) -> np.ndarray:
    """The pipeline's case scores with the given stage-1 masks (0 where stage 1 failed)."""
    out = []
    for case, mask in zip(cases, masks, strict=True):
        if mask is None:
            out.append(0.0)
            continue
        image = sitk.GetImageFromArray(mask.astype(np.uint8))
        image.CopyInformation(case.plain)
        out.append(model.predict(case.plain, image).score)
    return np.array(out)


def fitted(options: dict):
    stage1.TRAINING_MASK_OPTIONS["atlas"] = options
    start = time.perf_counter()
    model = make_pipeline(0, training_pancreas=DEFAULT_TRAINING_PANCREAS,
                          stage3_outlines=DEFAULT_STAGE3_OUTLINES)
    print(f"default pipeline on training masks {options or 'at full resolution'}: ready in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return model


def auc_rows(variant: dict) -> None:
    models = {"full resolution": fitted(FULL), "variant": fitted(variant)}
    stage1.TRAINING_MASK_OPTIONS["atlas"] = variant
    for name in COHORTS:
        cases = foreign_cohort(64, name=name) if name.startswith("foreign") else named_cohort(name)
        default_atlases()  # assembled here, inherited by the workers
        masks = workers.map_ordered(stage1_mask_or_none, [c.plain for c in cases])
        truth = np.array([c.subtype is not None for c in cases])
        for label, model in models.items():
            s = scores(model, cases, masks)
            low, high = evaluation.auc_interval(truth, s)
            called = s >= model.detector.operating_threshold
            print(f"{name:20s} {label:16s} AUC {evaluation.roc(truth, s)['auc']:.3f} "
                  f"({low:.3f}-{high:.3f})  operating sensitivity "
                  f"{(called & truth).sum() / truth.sum():.3f}, specificity "
                  f"{(~called & ~truth).sum() / (~truth).sum():.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=12, help="training patients compared (12)")
    parser.add_argument("--auc", action="store_true", help="also refit and compare AUCs")
    args = parser.parse_args()
    in_use = dict(stage1.TRAINING_MASK_OPTIONS["atlas"])
    cases = training_patients(keep=False)
    picked = cases[::max(1, len(cases) // args.n)][:args.n]
    print(f"{len(picked)} of the {len(cases)} training patients; in use: {in_use}")
    variant_rows(picked)
    if args.auc:
        auc_rows(in_use)


if __name__ == "__main__":
    main()
